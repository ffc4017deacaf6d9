"""Hook implementations of the ``json`` plugin (extraction only, every source)."""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version

from pyfalco import hookimpl
from pyfalco.api import FieldTable, PluginInfo

from . import COMPAT_VERSION, FIELDS, PLUGIN_NAME

#: init_config as upstream: only ``useAsync`` (a Go optimisation, accepted and ignored);
#: unknown keys are accepted, as upstream's generated schema allows them.
INIT_SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "properties": {
        "useAsync": {
            "type": "boolean",
            "title": "Use async extraction",
            "description": "Accepted for compatibility with the Go plugin; no effect here.",
            "default": True,
        }
    },
    "additionalProperties": True,
}


def _version() -> str:
    try:
        return version("pyfalco-plugin-json")
    except PackageNotFoundError:
        return "0.0.0"


@hookimpl
def pyfalco_register_plugins(register: Callable[[PluginInfo], None]) -> None:
    register(
        PluginInfo(
            name=PLUGIN_NAME,
            version=_version(),
            description="Extracts values from event payloads formatted as JSON",
            contact="https://github.com/pyfalco/pyfalco",
            id=0,
            compat_version=COMPAT_VERSION,
            init_schema=INIT_SCHEMA,
        )
    )


@hookimpl
def pyfalco_register_fields(register: Callable[[FieldTable], None]) -> None:
    # No sources: compatible with every source, as the upstream plugin.
    register(FieldTable(plugin=PLUGIN_NAME, fields=FIELDS))
