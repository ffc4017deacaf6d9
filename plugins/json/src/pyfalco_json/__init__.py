"""pyfalco plugin ``json``: JSON-pointer extraction for events of any source.

Public API: :data:`FIELDS` (the ``json.*`` fields with their ``jevt.*`` aliases),
:func:`parse_pointer` and :func:`render_value`. The plugin itself is in :mod:`pyfalco_json.plugin`.
"""

from __future__ import annotations

from .fields import FIELDS, parse_pointer, render_value

PLUGIN_NAME = "json"
#: The upstream json plugin version whose behaviour this package matches.
COMPAT_VERSION = "0.7.4"

__all__ = ["FIELDS", "PLUGIN_NAME", "COMPAT_VERSION", "parse_pointer", "render_value"]
