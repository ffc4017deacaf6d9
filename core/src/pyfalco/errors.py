"""Errors with Falco's wording. ``str(err)`` is what the user sees after ``Error: ``."""

from __future__ import annotations


class PyfalcoError(Exception):
    """Base of every error the app reports to the user without a traceback."""


class PluginError(PyfalcoError):
    """A plugin could not be discovered, registered, configured or opened."""


class ConfigError(PyfalcoError):
    """The configuration is invalid (with file:line where known)."""
