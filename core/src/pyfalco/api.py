"""Plugin-facing types: what a plugin hands the core at start-up, and what flows per event.

Everything here is plain data or a small protocol. The core collects these objects through the
hooks of :mod:`pyfalco.hookspecs` once, validates them at registration, and from then on calls
only the plain callables they carry (``SourceSpec.open``, ``FieldSpec.extract``, ...): no pluggy
call ever happens per event.

Vocabulary follows Falco's plugin API (``plugins.md`` §1): a *plugin* is an identity (name, id,
version) with capabilities; an *event source* is a stream of events of one format
(``syscall``, ``k8s_audit``); an *extractor* provides fields for one or more sources.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

#: Version of this contract (semver). A plugin states the version it was written against in
#: ``PluginInfo.required_api_version``; the core accepts it when the majors agree and the core's
#: version is >= the required one (Falco's rule for plugin API versions).
PLUGIN_API_VERSION = "1.0.0"

#: The source served by the syscall family (replay, eBPF, gVisor). Reserved: a PluginInfo
#: with an ``id`` must not claim it (Falco: "plugin can't implement the reserved event source").
SYSCALL_SOURCE = "syscall"


class FieldType(enum.StrEnum):
    """Types of extracted values. The first seven are the plugin API's; the rest are libsinsp's
    types used by syscall fields. The rule compiler derives operator checks and literal parsing
    from them (``rule-language.md`` §3.3, §3.5).

    Python value returned by an extractor for each type:
    string/fspath/fsrelpath/charbuf -> str; bytebuf -> bytes; all integer-like types (uint64,
    int64, reltime, abstime (ns since epoch), port, fd, pid, ...) -> int; bool -> bool;
    double -> float; ipaddr/ipv4addr/ipv6addr -> ipaddress.IPv4Address/IPv6Address;
    ipnet/ipv4net/ipv6net -> ipaddress.IPv4Network/IPv6Network.
    """

    STRING = "string"
    UINT64 = "uint64"
    BOOL = "bool"
    RELTIME = "reltime"
    ABSTIME = "abstime"
    IPADDR = "ipaddr"
    IPNET = "ipnet"
    # libsinsp types (syscall fields)
    CHARBUF = "charbuf"
    FSPATH = "fspath"
    FSRELPATH = "fsrelpath"
    BYTEBUF = "bytebuf"
    INT8 = "int8"
    INT16 = "int16"
    INT32 = "int32"
    INT64 = "int64"
    UINT8 = "uint8"
    UINT16 = "uint16"
    UINT32 = "uint32"
    ERRNO = "errno"
    FD = "fd"
    PID = "pid"
    UID = "uid"
    GID = "gid"
    PORT = "port"
    L4PROTO = "l4proto"
    MODE = "mode"
    FLAGS8 = "flags8"
    FLAGS16 = "flags16"
    FLAGS32 = "flags32"
    ENUMFLAGS8 = "enumflags8"
    ENUMFLAGS16 = "enumflags16"
    ENUMFLAGS32 = "enumflags32"
    SYSCALLID = "syscallid"
    SIGTYPE = "sigtype"
    DOUBLE = "double"
    IPV4ADDR = "ipv4addr"
    IPV6ADDR = "ipv6addr"
    IPV4NET = "ipv4net"
    IPV6NET = "ipv6net"
    SOCKADDR = "sockaddr"
    SOCKTUPLE = "socktuple"
    SOCKFAMILY = "sockfamily"
    #: evt.rawarg.*: typed per parameter at compile time
    DYN = "dyn"


#: The types a plugin field may use in Falco's plugin API (``plugins.md`` §1.5).
PLUGIN_FIELD_TYPES = frozenset(
    {FieldType.STRING, FieldType.UINT64, FieldType.BOOL, FieldType.RELTIME,
     FieldType.ABSTIME, FieldType.IPADDR, FieldType.IPNET}
)


class Event:
    """One event of one source.

    Sources create events (or subclasses: the syscall plugin adds parameters and thread state).
    The engine stamps ``num`` (per-source sequence, from 1) when it is 0 and ``ts`` with the
    current time when it is 0. ``type`` is the event type name used for rule indexing: syscall
    events use their event name (``"openat"``); plugin events keep ``"pluginevent"`` as Falco
    does. ``data`` is the raw payload as the source delivered it (bytes for plugin events).

    ``cache`` is a per-event scratch dict that extractors may use to parse once per event (Falco's
    plugins cache per event number); ``json()`` is that cache for the common case of JSON
    payloads, and a source that already parsed the payload can hand the object in as ``obj``.
    """

    __slots__ = ("num", "ts", "source", "type", "data", "plugin_id", "cache", "_obj")

    def __init__(
        self,
        data: Any = b"",
        *,
        ts: int = 0,
        source: str = "",
        type: str = "pluginevent",
        num: int = 0,
        plugin_id: int = 0,
        obj: Any = None,
    ) -> None:
        self.num = num
        self.ts = ts
        self.source = source
        self.type = type
        self.data = data
        self.plugin_id = plugin_id
        self.cache: dict[Any, Any] | None = None
        self._obj = obj

    _MISSING: Any = object()

    def json(self) -> Any:
        """The payload parsed as JSON, parsed at most once per event; ``None`` if it is not JSON."""
        obj = self._obj
        if obj is None:
            try:
                import orjson  # local: a hot path would bind it at module level in the extractor

                obj = orjson.loads(self.data)
            except Exception:
                obj = Event._MISSING
            self._obj = obj
        return None if obj is Event._MISSING else obj

    #: :meth:`json_member`: the payload is a JSON object without that member.
    JSON_ABSENT: Any = type("JsonAbsent", (), {"__repr__": lambda self: "JSON_ABSENT"})()
    #: :meth:`json_member`: the payload is not a JSON object (an array, a scalar, not JSON).
    JSON_NOT_OBJECT: Any = type("JsonNotObject", (), {"__repr__": lambda self: "JSON_NOT_OBJECT"})()

    def json_member(self, key: str) -> Any:
        """The member ``key`` of the payload's top-level JSON object, :data:`JSON_ABSENT` when
        it has none, :data:`JSON_NOT_OBJECT` when the payload is no JSON object.

        The json fields' fast path (``json.value[/stage]``). A source that parses only some
        members of its payloads (k8saudit) overrides it, so that reading one of those members
        does not parse the whole payload; the answer must equal ``json().get(key)``."""
        obj = self.json()
        if type(obj) is dict:
            return obj.get(key, Event.JSON_ABSENT)
        return Event.JSON_NOT_OBJECT

    def json_shape(self) -> str | None:
        """``"object"``, ``"array"`` or None (any other JSON value, or not JSON): what the json
        fields check before giving a value. Overridden with :meth:`json_member`."""
        obj = self.json()
        if type(obj) is dict:
            return "object"
        if type(obj) is list:
            return "array"
        return None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.source}#{self.num} {self.type} ts={self.ts}>"


@dataclass(frozen=True)
class FieldArg:
    """What a field accepts between brackets (``ka.req.pod.containers.image[0]``,
    ``json.value[/user/name]``). ``required``: the field is unusable without one. With ``index``
    the text must be a non-negative integer; with ``key`` any text; with both, a non-numeric
    argument is a key (Falco's rule)."""

    required: bool = False
    index: bool = False
    key: bool = False


#: An extractor for a field without argument: ``fn(event) -> value`` (``None`` = no value).
Extractor = Callable[[Event], Any]


@dataclass(frozen=True)
class FieldSpec:
    """One field of an extractor's table.

    ``extract`` is called as ``extract(event)`` for a field without ``arg`` and as
    ``extract(event, arg)`` (arg: ``int`` for an index, ``str`` for a key, ``None`` when the
    optional argument is absent) for a field with one. It returns the value, a list of values for
    ``is_list`` fields, or ``None`` when the field has no value for this event (Falco's "no
    value": every comparison is false, outputs print ``<NA>``). Raising is treated as no value and
    counted.

    ``bind``, when given, is used instead at rule-compile time: ``bind(arg)`` returns a
    one-argument extractor with the argument pre-processed (a JSON pointer parsed once, say).
    """

    name: str
    type: FieldType
    desc: str
    extract: Callable[..., Any]
    is_list: bool = False
    arg: FieldArg | None = None
    bind: Callable[[Any], Extractor] | None = None
    display: str = ""
    #: ``"hidden"``, ``"info"``, ``"conversation"`` as in Falco; ``"add_output"`` marks a field
    #: suggested for automatic output appending (Falco's ``addOutput``).
    properties: frozenset[str] = frozenset()
    #: Other names that resolve to this field (``jevt.value`` for ``json.value``).
    aliases: tuple[str, ...] = ()

    def binder(self, arg: Any = None) -> Extractor:
        """The one-argument extractor for this field with ``arg`` bound (compile time only)."""
        if self.bind is not None:
            return self.bind(arg)
        if self.arg is None:
            return self.extract
        fn, a = self.extract, arg
        return lambda evt: fn(evt, a)


@dataclass(frozen=True)
class PluginInfo:
    """A plugin's identity: what ``--list-plugins`` shows and what rules files require.

    ``compat_version`` is the upstream Falco plugin version whose behaviour this plugin matches
    (``k8saudit`` 0.18.0, ``json`` 0.7.0, ...): ``required_plugin_versions`` of rules files is
    checked against it, apart from the Python package's own ``version``.
    """

    name: str
    version: str
    description: str = ""
    contact: str = ""
    #: Falco registry id; 0 for plugins without a specific source of their own.
    id: int = 0
    compat_version: str | None = None
    required_api_version: str = PLUGIN_API_VERSION
    #: JSON Schema (draft 2020-12 or older with ``$schema``) for ``init_config``; ``None`` = any.
    init_schema: Mapping[str, Any] | None = None
    #: Called once at start-up with the validated ``init_config`` (a dict; ``{}`` when absent),
    #: before any source opens or field is extracted. Raise to refuse the config.
    init: Callable[[dict[str, Any]], None] | None = None
    #: Called once at teardown.
    destroy: Callable[[], None] | None = None
    #: Optional counters of a plugin without a source instance (an extractor's lookups, drops):
    #: shown in metrics like ``HasCounters`` of an instance, prefixed with the plugin name.
    counters: Callable[[], Mapping[str, int]] | None = None

    @property
    def required_version(self) -> str:
        """The version compared with rules files' ``required_plugin_versions``."""
        return self.compat_version or self.version


@dataclass(frozen=True)
class OpenParam:
    """A suggestion for ``open_params`` (Falco's ``list_open_params``)."""

    value: str
    desc: str = ""
    separator: str = ""


class SourceInstance(Protocol):
    """An open event stream, driven by the core from the source's own thread.

    ``next_batch()`` returns a sequence of events; an empty sequence means "nothing now, call
    again" (Falco's TIMEOUT) and must come back within about 100 ms so the thread can notice a
    shutdown; ``None`` means the stream ended (EOF) and it is not called again. Raising ends the
    source with that error: the core stops every source and exits 1 with the message.
    """

    def next_batch(self) -> Sequence[Event] | None: ...

    def close(self) -> None: ...


@runtime_checkable
class HasProgress(Protocol):
    """Optional on a SourceInstance reading a finite input: percent done (0-100)."""

    def progress(self) -> float: ...


@runtime_checkable
class HasCounters(Protocol):
    """Optional on a SourceInstance: counters shown in stats and metrics (``{"drops": 3}``).

    Names are snake_case; the core prefixes them with the source name. Anything the instance
    dropped (oversize, malformed, queue full) must appear here: nothing is lost silently.
    """

    def counters(self) -> Mapping[str, int]: ...


@dataclass
class OpenContext:
    """What ``SourceSpec.open`` / ``EngineKindSpec.open`` receive."""

    #: The plugin's validated init_config (``{}`` when absent).
    init_config: dict[str, Any]
    #: ``open_params`` of the plugin's falco.yaml entry, whitespace-trimmed ("" when absent).
    open_params: str = ""
    #: For engine kinds: the ``engine.<kind>`` section of the config (``{}`` when absent).
    engine_config: dict[str, Any] = field(default_factory=dict)
    #: The whole effective configuration, read-only by convention.
    config: Mapping[str, Any] = field(default_factory=dict)
    #: Event types the loaded rules of this source can match (``None`` = all): the syscall
    #: drivers enable only these plus their state set (Falco's interesting sets).
    event_types: frozenset[str] | None = None
    #: Set by the core when the process is stopping.
    stopping: Any = None
    #: For sources that raise Falco internal alerts (the syscall drivers' ``syscall_event_drops``
    #: ``alert`` action): ``internal_alert(message, priority, output_fields, rule)``, routed like
    #: the app's other internal messages; ``None`` when the app does not provide it (the source
    #: then logs the message).
    internal_alert: Callable[[str, Any, dict[str, Any], str], None] | None = None


@dataclass(frozen=True)
class SourceSpec:
    """An event source a plugin can open (Falco's event-sourcing capability)."""

    plugin: str
    event_source: str
    open: Callable[[OpenContext], SourceInstance]
    open_params: Sequence[OpenParam] = ()
    #: Text form of an event for ``evt.plugininfo`` (Falco's ``event_to_string``).
    event_to_string: Callable[[Event], str] | None = None


@dataclass(frozen=True)
class FieldTable:
    """Fields a plugin extracts. ``sources`` empty means every source (Falco: an extractor
    without ``get_extract_event_sources``); a sourcing plugin's own source is always included."""

    plugin: str
    fields: Sequence[FieldSpec]
    sources: Sequence[str] = ()


@dataclass(frozen=True)
class ParserSpec:
    """A state parser (Falco's parsing capability): ``parse(event)`` runs on every event of
    ``sources`` before rules are evaluated, in registration order."""

    plugin: str
    parse: Callable[[Event], None]
    sources: Sequence[str] = ()


@dataclass(frozen=True)
class EngineKindSpec:
    """A value of ``engine.kind`` and how to open the syscall source with it.

    ``open(ctx)`` gets ``ctx.engine_config`` = the ``engine.<name>`` section. ``replay`` kinds
    read a finite input and, as in Falco, run every loaded source from one loop.
    """

    name: str
    plugin: str
    open: Callable[[OpenContext], SourceInstance]
    description: str = ""
    aliases: tuple[str, ...] = ()
    #: The source this engine serves.
    event_source: str = SYSCALL_SOURCE
    #: True for capture replay (source selection is ignored, the run ends at EOF).
    replay: bool = False
    #: JSON Schema for ``engine.<name>``; ``None`` = not validated.
    config_schema: Mapping[str, Any] | None = None
    #: Optional ``--<name>-generate-config[=ARG]`` support: returns the text to print
    #: (the gvisor engine prints runsc's session config, as Falco's --gvisor-generate-config).
    generate_config: Callable[[str | None], str] | None = None


@dataclass(frozen=True)
class RulesFileSpec:
    """A default rules file shipped as package data (``pyfalco_<plugin>/rules/*.yaml``).

    When it is loaded (by default, beside ``rules_files``, or only on request) is the core's
    decision, documented in the core README; the plugin only declares the file."""

    plugin: str
    path: Path
