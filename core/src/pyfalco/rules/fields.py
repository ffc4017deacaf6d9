"""The field catalog: per source, field name -> FieldSpec, built from the plugins' tables plus
the core's base ``evt.*`` fields valid for every source (``engine-api``).

Field properties the rule compiler understands (``FieldSpec.properties``), besides Falco's
``hidden``/``info``/``conversation``/``add_output``:

* ``match_any``: used without argument, ``extract`` returns a sequence of candidates and a check
  holds when **any** candidate satisfies it (``proc.aname``, ``proc.apid``: every ancestor).
* ``match_endpoints``: ``extract`` returns the (client, server) pair; ``=``/``in``/``<``... hold
  when either side does, ``!=`` only when both differ (``fd.ip``, ``fd.port``, ``fd.net``).
* ``filter_only``: cannot be printed in an output (``fd.ip``): Falco's "is filter only" error.
* ``no_transform``: transformers are rejected (``field 'X' does not support transformers``).
* ``no_rhs``: cannot be used as a right-hand side field.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..api import Event, FieldArg, FieldSpec, FieldTable, FieldType
from ..errors import PluginError

if TYPE_CHECKING:
    from ..plugins import Registry

MATCH_ANY = "match_any"
MATCH_ENDPOINTS = "match_endpoints"
FILTER_ONLY = "filter_only"
NO_TRANSFORM = "no_transform"
NO_RHS = "no_rhs"

BASE_PLUGIN = "core"

_HOSTNAME = socket.gethostname()


def _time_str(ts: int, seconds: bool = False) -> str:
    """Falco's ``evt.time``: local wall-clock ``HH:MM:SS.nnnnnnnnn``."""
    lt = time.localtime(ts // 1_000_000_000)
    base = time.strftime("%H:%M:%S", lt)
    return base if seconds else f"{base}.{ts % 1_000_000_000:09d}"


def _datetime_str(ts: int, seconds: bool = False) -> str:
    lt = time.localtime(ts // 1_000_000_000)
    base = time.strftime("%Y-%m-%d %H:%M:%S", lt)
    return base if seconds else f"{base}.{ts % 1_000_000_000:09d}"


def iso8601(ts: int) -> str:
    """``evt.time.iso8601`` as Falco renders it: UTC, nanoseconds, a ``+0000`` offset (not ``Z``:
    libs formats it with strftime's ``%z``; spec/falco-core.md §7.3)."""
    dt = datetime.fromtimestamp(ts // 1_000_000_000, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts % 1_000_000_000:09d}+0000"


def _plugininfo(evt: Event) -> Any:
    render = _EVENT_TO_STRING.get(evt.source)
    if render is None:
        return None
    try:
        return render(evt)
    except Exception:
        return None


#: source -> SourceSpec.event_to_string, filled by FieldCatalog.from_registry.
_EVENT_TO_STRING: dict[str, Any] = {}
#: plugin_id -> plugin name, for evt.pluginname.
_PLUGIN_NAMES: dict[int, str] = {}


def _f(name: str, type_: FieldType, desc: str, fn: Any, **kw: Any) -> FieldSpec:
    return FieldSpec(name=name, type=type_, desc=desc, extract=fn, **kw)


BASE_FIELDS: tuple[FieldSpec, ...] = (
    _f("evt.num", FieldType.UINT64, "event number.", lambda e: e.num),
    _f("evt.time", FieldType.CHARBUF,
       "event timestamp as a time string that includes the nanosecond part.",
       lambda e: _time_str(e.ts)),
    _f("evt.time.s", FieldType.CHARBUF, "event timestamp as a time string with no nanoseconds.",
       lambda e: _time_str(e.ts, True)),
    _f("evt.time.iso8601", FieldType.CHARBUF,
       "event timestamp in ISO 8601 format, including nanoseconds and time zone offset (in UTC).",
       lambda e: iso8601(e.ts)),
    _f("evt.datetime", FieldType.CHARBUF,
       "event timestamp as a time string that includes the date.",
       lambda e: _datetime_str(e.ts)),
    _f("evt.datetime.s", FieldType.CHARBUF,
       "event timestamp as a datetime string with no nanoseconds.",
       lambda e: _datetime_str(e.ts, True)),
    _f("evt.rawtime", FieldType.ABSTIME, "absolute event timestamp, i.e. nanoseconds from epoch.",
       lambda e: e.ts),
    _f("evt.rawtime.s", FieldType.ABSTIME, "integer part of the event timestamp (e.g. seconds "
       "since epoch).", lambda e: e.ts // 1_000_000_000),
    _f("evt.rawtime.ns", FieldType.ABSTIME, "fractional part of the absolute event timestamp.",
       lambda e: e.ts % 1_000_000_000),
    _f("evt.source", FieldType.CHARBUF, "the name of the source that produced the event.",
       lambda e: e.source),
    _f("evt.type", FieldType.CHARBUF, "The name of the event (e.g. 'open').", lambda e: e.type),
    _f("evt.pluginname", FieldType.CHARBUF,
       "if the event comes from a plugin-defined event source, the name of the plugin that "
       "generated it.", lambda e: _PLUGIN_NAMES.get(e.plugin_id)),
    _f("evt.plugininfo", FieldType.CHARBUF,
       "if the event comes from a plugin-defined event source, a summary of the event as "
       "formatted by the plugin.", _plugininfo),
    _f("evt.hostname", FieldType.CHARBUF, "The hostname of the underlying host.",
       lambda e: _HOSTNAME),
    _f("evt.is_async", FieldType.BOOL,
       "'true' for asynchronous events, 'false' otherwise.",
       lambda e: e.type == "asyncevent"),
    _f("evt.asynctype", FieldType.CHARBUF,
       "If the event is asynchronous, the type of the event (e.g. 'container').",
       lambda e: (e.cache or {}).get("asynctype") if e.type == "asyncevent" else None),
)
BASE_FIELD_NAMES = frozenset(f.name for f in BASE_FIELDS)


@dataclass
class SourceFields:
    """The fields usable in rules of one source."""

    source: str
    by_name: dict[str, FieldSpec] = field(default_factory=dict)
    #: field name -> plugin that provides it (for overlap messages and -l listings).
    owner: dict[str, str] = field(default_factory=dict)

    def get(self, name: str) -> FieldSpec | None:
        return self.by_name.get(name)

    def lookup(self, name: str) -> tuple[FieldSpec, str | None] | None:
        """Resolve ``name`` with Falco's dotted-argument forms: an exact name, else the longest
        registered prefix ``p`` such that ``name == p + "." + rest`` and the field takes a key
        argument (``evt.arg.flags`` -> ``evt.arg`` with key ``flags``)."""
        spec = self.by_name.get(name)
        if spec is not None:
            return spec, None
        head = name
        while "." in head:
            head, _, _ = head.rpartition(".")
            spec = self.by_name.get(head)
            if spec is not None and spec.arg is not None and spec.arg.key:
                return spec, name[len(head) + 1:]
        return None


class FieldCatalog:
    """Per source: field name -> FieldSpec."""

    def __init__(self) -> None:
        self._sources: dict[str, SourceFields] = {}
        self._global_tables: list[FieldTable] = []

    @property
    def sources(self) -> list[str]:
        return list(self._sources)

    def add_source(self, source: str) -> SourceFields:
        sf = self._sources.get(source)
        if sf is None:
            sf = SourceFields(source)
            for spec in BASE_FIELDS:
                sf.by_name[spec.name] = spec
                sf.owner[spec.name] = BASE_PLUGIN
            for table in self._global_tables:
                self._add_table_to(sf, table)
            self._sources[source] = sf
        return sf

    def add_table(self, table: FieldTable, own_sources: Iterable[str] = ()) -> None:
        """Add a plugin's table; ``sources`` empty = every source (also those added later)."""
        targets = list(dict.fromkeys([*table.sources, *own_sources]))
        if not table.sources:
            self._global_tables.append(table)
            targets = list(dict.fromkeys([*self._sources, *own_sources]))
        for src in targets:
            self._add_table_to(self.add_source(src), table)

    @staticmethod
    def _add_table_to(sf: SourceFields, table: FieldTable) -> None:
        for spec in table.fields:
            for name in (spec.name, *spec.aliases):
                old = sf.by_name.get(name)
                if old is not None and old is not spec:
                    # Falco: two extractors of one name for one source are an overlap. The very
                    # same spec object re-registered (a family re-exporting a table) is not.
                    raise PluginError(
                        f"Plugin '{table.plugin}' supports extraction of field '{name}' that is "
                        f"overlapping for source '{sf.source}'"
                    )
                sf.by_name[name] = spec
                sf.owner.setdefault(name, table.plugin)

    def fields(self, source: str) -> SourceFields | None:
        return self._sources.get(source)

    def __contains__(self, source: str) -> bool:
        return source in self._sources

    @classmethod
    def from_tables(
        cls, tables: Iterable[FieldTable], sources: Iterable[str] = ("syscall",),
        own_sources: Mapping[str, Iterable[str]] | None = None,
    ) -> FieldCatalog:
        """A catalog for tests and tools: the given sources plus every table's."""
        cat = cls()
        for s in sources:
            cat.add_source(s)
        own_sources = own_sources or {}
        for t in tables:
            cat.add_table(t, own_sources.get(t.plugin, ()))
        return cat

    @classmethod
    def from_registry(cls, registry: Registry, plugins: Iterable[str] | None = None
                      ) -> FieldCatalog:
        """The catalog of ``registry``, optionally restricted to the plugins named in
        ``plugins`` (those actually loaded). Sources: every registered source of those plugins."""
        keep = None if plugins is None else set(plugins)
        cat = cls()
        own: dict[str, list[str]] = {}
        for spec in registry.sources:
            if keep is not None and spec.plugin not in keep:
                continue
            cat.add_source(spec.event_source)
            own.setdefault(spec.plugin, []).append(spec.event_source)
            if spec.event_to_string is not None:
                _EVENT_TO_STRING.setdefault(spec.event_source, spec.event_to_string)
        for kind in registry.engine_kinds.values():
            if keep is None or kind.plugin in keep:
                cat.add_source(kind.event_source)
        for name, info in registry.plugins.items():
            if info.id:
                _PLUGIN_NAMES[info.id] = name
        for table in registry.field_tables:
            if keep is not None and table.plugin not in keep:
                continue
            cat.add_table(table, own.get(table.plugin, ()))
        return cat


__all__ = [
    "BASE_FIELDS", "FieldArg", "FieldCatalog", "SourceFields", "iso8601",
    "MATCH_ANY", "MATCH_ENDPOINTS", "FILTER_ONLY", "NO_TRANSFORM", "NO_RHS",
]
