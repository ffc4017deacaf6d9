"""Plugin discovery and registration.

``get_plugin_manager()`` builds a pluggy manager with the contract's specs and, unless told not
to, every installed plugin found through the ``pyfalco.plugins`` entry-point group.
``collect(pm)`` then calls each registration hook once and returns a validated
:class:`Registry` of plain objects: the rest of the app never touches pluggy again.

Environment knobs: ``PYFALCO_DISABLE_PLUGIN_AUTOLOAD=1`` loads no entry points;
``PYFALCO_TRACE_PLUGINS=1`` logs every hook call.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import pluggy

from . import hookspecs
from .api import (
    PLUGIN_API_VERSION,
    SYSCALL_SOURCE,
    EngineKindSpec,
    FieldSpec,
    FieldTable,
    FieldType,
    ParserSpec,
    PluginInfo,
    RulesFileSpec,
    SourceSpec,
)
from .errors import PluginError

log = logging.getLogger("pyfalco.plugins")

ENTRY_POINT_GROUP = "pyfalco.plugins"
RESERVED_SOURCES = frozenset({SYSCALL_SOURCE, "internal", "plugins"})
_SOURCE_NAME = re.compile(r"^[a-z]+[a-z0-9_]*$")
_FIELD_NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9_]*(\.[a-zA-Z0-9_]+)*$")


@dataclass(frozen=True)
class DiscoveryFailure:
    """An installed plugin that could not be imported: reported, not fatal."""

    entry_point: str
    distribution: str
    reason: str


def get_plugin_manager(
    *, autoload: bool | None = None, plugins: Iterable[object] = ()
) -> tuple[pluggy.PluginManager, list[DiscoveryFailure]]:
    """A plugin manager with the contract's specs, installed plugins and ``plugins``."""
    pm = pluggy.PluginManager("pyfalco")
    pm.add_hookspecs(hookspecs)
    failures: list[DiscoveryFailure] = []
    if autoload is None:
        autoload = not os.environ.get("PYFALCO_DISABLE_PLUGIN_AUTOLOAD")
    if autoload:
        for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            failure = _load_entry_point(pm, ep)
            if failure:
                failures.append(failure)
    for plugin in plugins:
        pm.register(plugin)
    pm.check_pending()
    if os.environ.get("PYFALCO_TRACE_PLUGINS"):
        pm.trace.root.setwriter(lambda msg: log.debug("%s", msg.rstrip()))
        pm.enable_tracing()
    return pm, failures


def _load_entry_point(pm: pluggy.PluginManager, ep: EntryPoint) -> DiscoveryFailure | None:
    dist = ep.dist.name if ep.dist is not None else "?"
    if pm.get_plugin(ep.name) is not None or pm.is_blocked(ep.name):
        return None
    try:
        module = ep.load()
    except Exception as exc:  # any import-time failure of a third-party package
        reason = f"{type(exc).__name__}: {exc}"
        log.warning("Cannot load plugin package %s (entry point %r): %s", dist, ep.name, reason)
        return DiscoveryFailure(ep.name, dist, reason)
    pm.register(module, name=ep.name)
    return None


@dataclass
class Registry:
    """Everything the installed plugins declared, validated. Order = registration order, which
    follows the entry points' names (deterministic) and then explicitly given plugins."""

    plugins: dict[str, PluginInfo] = field(default_factory=dict)
    sources: list[SourceSpec] = field(default_factory=list)
    field_tables: list[FieldTable] = field(default_factory=list)
    parsers: list[ParserSpec] = field(default_factory=list)
    engine_kinds: dict[str, EngineKindSpec] = field(default_factory=dict)
    rules_files: list[RulesFileSpec] = field(default_factory=list)
    #: Distribution name of each plugin, for messages ("pip install ...").
    distributions: dict[str, str] = field(default_factory=dict)
    failures: list[DiscoveryFailure] = field(default_factory=list)

    def sources_of(self, plugin: str) -> list[SourceSpec]:
        return [s for s in self.sources if s.plugin == plugin]

    def engine_kind(self, name: str) -> EngineKindSpec | None:
        spec = self.engine_kinds.get(name)
        if spec is None:
            for k in self.engine_kinds.values():
                if name in k.aliases:
                    return k
        return spec


def collect(pm: pluggy.PluginManager, failures: list[DiscoveryFailure] | None = None) -> Registry:
    """Call every registration hook once and validate the result (``PluginError`` on the first
    contract violation, naming the plugin)."""
    reg = Registry(failures=list(failures or ()))
    dist_of = {
        name: dist.project_name
        for plugin, dist in pm.list_plugin_distinfo()
        if (name := pm.get_name(plugin))
    }

    def add_plugin(info: PluginInfo) -> None:
        _check_plugin(info, reg)
        reg.plugins[info.name] = info

    _call_in_registration_order(pm.hook.pyfalco_register_plugins, add_plugin)
    for ep_name, dist in dist_of.items():
        reg.distributions.setdefault(ep_name, dist)

    def owner(kind: str, plugin: str) -> PluginInfo:
        info = reg.plugins.get(plugin)
        if info is None:
            raise PluginError(f"{kind} registered for unknown plugin '{plugin}'")
        return info

    def add_source(spec: SourceSpec) -> None:
        info = owner("event source", spec.plugin)
        if spec.event_source in RESERVED_SOURCES and info.id != 0:
            raise PluginError(
                f"plugin {info.name}: plugin can't implement the reserved event source "
                f"'{spec.event_source}'"
            )
        if not _SOURCE_NAME.match(spec.event_source):
            raise PluginError(
                f"plugin {info.name}: invalid event source name '{spec.event_source}'"
            )
        reg.sources.append(spec)

    def add_fields(table: FieldTable) -> None:
        info = owner("field table", table.plugin)
        _check_fields(info, table)
        reg.field_tables.append(table)

    def add_parser(spec: ParserSpec) -> None:
        owner("parser", spec.plugin)
        reg.parsers.append(spec)

    def add_engine_kind(spec: EngineKindSpec) -> None:
        owner("engine kind", spec.plugin)
        for name in (spec.name, *spec.aliases):
            if name in reg.engine_kinds or reg.engine_kind(name) is not None:
                raise PluginError(f"engine kind '{name}' registered twice")
        reg.engine_kinds[spec.name] = spec

    def add_rules(spec: RulesFileSpec) -> None:
        owner("rules file", spec.plugin)
        if not spec.path.is_file():
            raise PluginError(f"plugin {spec.plugin}: default rules file {spec.path} not found")
        reg.rules_files.append(spec)

    _call_in_registration_order(pm.hook.pyfalco_register_sources, add_source)
    _call_in_registration_order(pm.hook.pyfalco_register_fields, add_fields)
    _call_in_registration_order(pm.hook.pyfalco_register_parsers, add_parser)
    _call_in_registration_order(pm.hook.pyfalco_register_engine_kinds, add_engine_kind)
    _call_in_registration_order(pm.hook.pyfalco_register_rules, add_rules)
    return reg


def _call_in_registration_order(hook: Any, register: Any) -> None:
    """Call every implementation of ``hook`` in plugin registration order (pluggy itself calls
    the most recently registered first), so the Registry follows the documented order."""
    for impl in hook.get_hookimpls():
        impl.function(register=register)


def api_version_error(required: str, framework: str = PLUGIN_API_VERSION) -> str | None:
    """Falco's semver check of a plugin's required API version; ``None`` when compatible."""
    try:
        req = tuple(int(x) for x in required.split("."))
        fw = tuple(int(x) for x in framework.split("."))
        if len(req) != 3:
            raise ValueError
    except ValueError:
        return f"plugin provided an invalid required API version: '{required}'"
    why = None
    if req[0] != fw[0]:
        why = "major versions disagree"
    elif fw[1] < req[1]:
        why = "framework's minor is less than the requested one"
    elif fw[1] == req[1] and fw[2] < req[2]:
        why = "framework's patch is less than the requested one"
    if why:
        return (
            f"plugin required API version '{required}' not compatible with the framework's "
            f"API version '{framework}': {why}"
        )
    return None


def _check_plugin(info: PluginInfo, reg: Registry) -> None:
    if info.name in reg.plugins:
        raise PluginError(f"found another plugin with name {info.name}. Aborting.")
    if info.id and any(p.id == info.id for p in reg.plugins.values()):
        raise PluginError(f"found another plugin with ID {info.id}. Aborting.")
    err = api_version_error(info.required_api_version)
    if err:
        raise PluginError(f"plugin {info.name}: {err}")
    if info.init_schema is not None:
        import jsonschema

        try:
            cls = jsonschema.validators.validator_for(info.init_schema)
            cls.check_schema(info.init_schema)
        except jsonschema.SchemaError as exc:
            raise PluginError(
                f"plugin {info.name}: invalid init_config schema: {exc.message}"
            ) from None


def _check_fields(info: PluginInfo, table: FieldTable) -> None:
    if not table.fields:
        raise PluginError(
            f"plugin {info.name}: plugins with extraction capability must export at least one field"
        )
    seen: set[str] = set()
    for f in table.fields:
        if not isinstance(f, FieldSpec):
            raise PluginError(f"plugin {info.name}: field table entry {f!r} is not a FieldSpec")
        if not f.name or not _FIELD_NAME.match(f.name):
            raise PluginError(f"plugin {info.name}: invalid field name '{f.name}'")
        if not f.desc:
            raise PluginError(f"plugin {info.name}: field {f.name} has no desc")
        if not isinstance(f.type, FieldType):
            raise PluginError(f"plugin {info.name}: invalid field type {f.type}")
        if f.arg is not None and f.arg.required and not (f.arg.index or f.arg.key):
            raise PluginError(
                f"plugin {info.name}: field {f.name}: arg has isRequired true, but none of "
                "isKey nor isIndex is true"
            )
        for name in (f.name, *f.aliases):
            if name in seen:
                raise PluginError(f"plugin {info.name}: field '{name}' declared twice")
            seen.add(name)
