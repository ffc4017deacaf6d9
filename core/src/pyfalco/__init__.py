"""pyfalco: a runtime-security engine that evaluates event streams against Falco rules.

The public facade for plugin authors is :data:`hookimpl` plus the types of :mod:`pyfalco.api`.
"""

from __future__ import annotations

from .hookspecs import hookimpl

__all__ = ["hookimpl", "__version__"]


def __getattr__(name: str) -> str:
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("pyfalco-core")
        except PackageNotFoundError:  # running from a source tree
            return "0.0.0+unknown"
    raise AttributeError(name)
