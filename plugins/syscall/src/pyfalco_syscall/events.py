"""The syscall event model: the event table as objects, and :class:`SyscallEvent`.

Every producer (capture replay, the eBPF driver, gVisor) builds :class:`SyscallEvent` objects and
hands them to the core; the state parser (:mod:`pyfalco_syscall.state`) and the fields read them.

An event is identified by its libs event id (``etype``): even ids are enter events (``>``), odd ids
exit events (``<``). Parameters are addressed by name. Following current libs (>= 0.22), an exit
event carries the parameters of its enter event too (its *merged* schema: the exit's own parameters
then the enter-only ones, in the order modern drivers append them). A producer either fills every
parameter of the exit itself, or attaches the enter event (``enter=``) and the missing parameters
are read from it by name (what libs' scap converter does for old captures, spec/scap.md §5.2).

Values are typed (see :data:`PT_PYTHON`); an empty parameter is ``None``. Parameters from a capture
stay as raw bytes until a parser or field asks for them: most events of a capture are never
decoded beyond their header.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pyfalco.api import SYSCALL_SOURCE, Event

from ._event_table import EVENTS, FLAG_TABLES, PPM_SC_NAMES

# --- parameter types (PT_*), print formats (PF_*), categories (EC_*), flags (EF_*) -------------
PT_NONE, PT_INT8, PT_INT16, PT_INT32, PT_INT64 = 0, 1, 2, 3, 4
PT_UINT8, PT_UINT16, PT_UINT32, PT_UINT64 = 5, 6, 7, 8
PT_CHARBUF, PT_BYTEBUF, PT_ERRNO, PT_SOCKADDR, PT_SOCKTUPLE = 9, 10, 11, 12, 13
PT_FD, PT_PID, PT_FDLIST, PT_FSPATH, PT_SYSCALLID, PT_SIGTYPE = 14, 15, 16, 17, 18, 19
PT_RELTIME, PT_ABSTIME, PT_PORT, PT_L4PROTO, PT_SOCKFAMILY = 20, 21, 22, 23, 24
PT_BOOL, PT_IPV4ADDR, PT_DYN, PT_FLAGS8, PT_FLAGS16, PT_FLAGS32 = 25, 26, 27, 28, 29, 30
PT_UID, PT_GID, PT_DOUBLE, PT_SIGSET = 31, 32, 33, 34
PT_CHARBUFARRAY, PT_CHARBUF_PAIR_ARRAY = 35, 36
PT_IPV4NET, PT_IPV6ADDR, PT_IPV6NET, PT_IPADDR, PT_IPNET = 37, 38, 39, 40, 41
PT_MODE, PT_FSRELPATH, PT_ENUMFLAGS8, PT_ENUMFLAGS16, PT_ENUMFLAGS32 = 42, 43, 44, 45, 46

PF_NA, PF_DEC, PF_HEX, PF_10_PADDED_DEC, PF_ID, PF_DIR, PF_OCT = 0, 1, 2, 3, 4, 5, 6

EC_UNKNOWN, EC_OTHER, EC_FILE, EC_NET, EC_IPC, EC_MEMORY, EC_PROCESS = 0, 1, 2, 3, 4, 5, 6
EC_SLEEP, EC_SYSTEM, EC_SIGNAL, EC_USER, EC_TIME, EC_PROCESSING = 7, 8, 9, 10, 11, 12
EC_IO_READ, EC_IO_WRITE, EC_IO_OTHER, EC_WAIT, EC_SCHEDULER, EC_INTERNAL = 32, 33, 34, 64, 128, 256
EC_SYSCALL, EC_TRACEPOINT, EC_PLUGIN, EC_METAEVENT = 512, 1024, 2048, 4096
EC_SOURCE_MASK = EC_SYSCALL | EC_TRACEPOINT | EC_PLUGIN | EC_METAEVENT

EF_CREATES_FD, EF_DESTROYS_FD, EF_USES_FD, EF_READS_FROM_FD, EF_WRITES_TO_FD = 1, 2, 4, 8, 16
EF_MODIFIES_STATE, EF_UNUSED, EF_WAITS, EF_SKIPPARSERESET, EF_OLD_VERSION = 32, 64, 128, 256, 512
EF_LARGE_PAYLOAD = 2048

#: ``evt.category`` names of the low category part.
CATEGORY_NAMES = {
    EC_UNKNOWN: "unknown", EC_OTHER: "other", EC_FILE: "file", EC_NET: "net", EC_IPC: "IPC",
    EC_MEMORY: "memory", EC_PROCESS: "process", EC_SLEEP: "sleep", EC_SYSTEM: "system",
    EC_SIGNAL: "signal", EC_USER: "user", EC_TIME: "time", EC_PROCESSING: "processing",
    EC_IO_READ: "IO_read", EC_IO_WRITE: "IO_write", EC_IO_OTHER: "IO_other", EC_WAIT: "wait",
    EC_SCHEDULER: "scheduler", EC_INTERNAL: "internal",
}

#: Python type of a decoded parameter value, per PT type (documentation and producer contract).
PT_PYTHON = {
    "integers (INT*, UINT*, ERRNO, FD, PID, SYSCALLID, SIGTYPE, RELTIME, ABSTIME, PORT, "
    "L4PROTO, SOCKFAMILY, FLAGS*, ENUMFLAGS*, UID, GID, MODE, SIGSET, BOOL)": "int",
    "CHARBUF, FSPATH, FSRELPATH": "str",
    "BYTEBUF": "bytes",
    "SOCKADDR": "(family, ip: bytes, port) for inet/inet6; (family, path: str) for unix; "
    "(family,) otherwise",
    "SOCKTUPLE": "(family, sip: bytes, sport, dip: bytes, dport) for inet/inet6; "
    "(family, src: int, dst: int, path: str) for unix",
    "FDLIST": "tuple of (fd, events)",
    "DYN": "(index, value: int)",
    "IPV4ADDR, IPV6ADDR": "bytes (network order)",
    "DOUBLE": "float",
}

#: Socket families as libs encodes them (PPM_AF_*).
AF_UNIX, AF_INET, AF_INET6, AF_NETLINK = 1, 2, 10, 16

_INT_WIDTH = {
    PT_INT8: (1, True), PT_INT16: (2, True), PT_INT32: (4, True), PT_INT64: (8, True),
    PT_UINT8: (1, False), PT_UINT16: (2, False), PT_UINT32: (4, False), PT_UINT64: (8, False),
    PT_ERRNO: (8, True), PT_FD: (8, True), PT_PID: (8, True), PT_SYSCALLID: (2, False),
    PT_SIGTYPE: (1, False), PT_RELTIME: (8, False), PT_ABSTIME: (8, False), PT_PORT: (2, False),
    PT_L4PROTO: (1, False), PT_SOCKFAMILY: (1, False), PT_BOOL: (4, False),
    PT_FLAGS8: (1, False), PT_FLAGS16: (2, False), PT_FLAGS32: (4, False), PT_UID: (4, False),
    PT_GID: (4, False), PT_SIGSET: (4, False), PT_MODE: (4, False), PT_ENUMFLAGS8: (1, False),
    PT_ENUMFLAGS16: (2, False), PT_ENUMFLAGS32: (4, False),
}
STRING_TYPES = frozenset({PT_CHARBUF, PT_FSPATH, PT_FSRELPATH})
FLAG_TYPES = frozenset({PT_FLAGS8, PT_FLAGS16, PT_FLAGS32, PT_MODE})
ENUM_TYPES = frozenset({PT_ENUMFLAGS8, PT_ENUMFLAGS16, PT_ENUMFLAGS32})
SIGNED_TYPES = frozenset(t for t, (_, s) in _INT_WIDTH.items() if s)


class ParamInfo:
    """One parameter of an event schema."""

    __slots__ = ("name", "type", "fmt", "info")

    def __init__(self, name: str, type: int, fmt: int, info: Any) -> None:
        self.name, self.type, self.fmt, self.info = name, type, fmt, info

    def __repr__(self) -> str:
        return f"ParamInfo({self.name!r}, {self.type}, {self.fmt}, {self.info!r})"


class EventInfo:
    """One entry of the event table, with the derived facts every consumer needs."""

    __slots__ = (
        "id", "enum", "name", "category", "flags", "params", "wire_params", "index", "is_exit",
        "dir", "has_return", "large", "unused", "old", "uses_fd", "fd_events", "internal",
        "modifies_state", "low_category", "is_syscall",
    )

    def __init__(self, eid: int, enum: str, name: str, category: int, flags: int,
                 params: tuple[ParamInfo, ...], wire_params: int) -> None:
        self.id, self.enum, self.name = eid, enum, name
        self.category, self.flags = category, flags
        self.params = params  # merged schema for exits
        self.wire_params = wire_params  # parameters of the table entry itself
        self.index = {p.name: i for i, p in enumerate(params)}
        self.is_exit = bool(eid & 1)
        self.dir = "<" if self.is_exit else ">"
        self.low_category = category & ~EC_SOURCE_MASK
        self.is_syscall = bool(category & EC_SYSCALL)
        # spec/scap.md §6.2: return value = param 0 of syscall exits, generic exits excluded.
        self.has_return = self.is_syscall and self.is_exit and wire_params >= 1 and eid != 1
        self.large = bool(flags & EF_LARGE_PAYLOAD)
        self.unused = bool(flags & EF_UNUSED)
        self.old = bool(flags & EF_OLD_VERSION)
        self.uses_fd = bool(flags & EF_USES_FD)
        self.fd_events = bool(flags & (EF_CREATES_FD | EF_DESTROYS_FD | EF_USES_FD))
        self.internal = self.low_category == EC_INTERNAL
        self.modifies_state = bool(flags & EF_MODIFIES_STATE)

    def __repr__(self) -> str:
        return f"<EventInfo {self.id} {self.enum} {self.dir}{self.name}>"


#: Corrections from spec/scap.md §6.5 (modern libs) applied over the generated table: the modern
#: execve/execveat exits name parameter 17 ``vpgid`` and append ``pgid`` and ``gid``.
_MODERN_EXIT_TAIL: dict[str, tuple[dict[int, str], tuple[tuple[str, int, int, Any], ...]]] = {
    "PPME_SYSCALL_EXECVE_19_X": ({17: "vpgid"}, (("pgid", PT_PID, PF_DEC, None),
                                                 ("gid", PT_GID, PF_DEC, None))),
    "PPME_SYSCALL_EXECVEAT_X": ({17: "vpgid"}, (("pgid", PT_PID, PF_DEC, None),
                                                ("gid", PT_GID, PF_DEC, None))),
}


def _build_table() -> tuple[EventInfo, ...]:
    infos: list[EventInfo] = []
    for eid, (enum, name, category, flags, params) in enumerate(EVENTS):
        plist = [ParamInfo(*p) for p in params]
        if enum in _MODERN_EXIT_TAIL:
            renames, tail = _MODERN_EXIT_TAIL[enum]
            for idx, new in renames.items():
                plist[idx] = ParamInfo(new, plist[idx].type, plist[idx].fmt, plist[idx].info)
            plist.extend(ParamInfo(*p) for p in tail)
        wire = len(plist)
        if eid & 1 and not flags & EF_UNUSED and eid - 1 >= 0:
            seen = {p.name for p in plist}
            for p in EVENTS[eid - 1][4]:
                if p[0] not in seen:
                    plist.append(ParamInfo(*p))
                    seen.add(p[0])
        infos.append(EventInfo(eid, enum, name, category, flags, tuple(plist), wire))
    return tuple(infos)


#: The event table, indexed by event id.
EVENT_TABLE: tuple[EventInfo, ...] = _build_table()
#: Number of known event types; ids >= this are skipped by readers (spec/scap.md §1.2).
PPM_EVENT_MAX = len(EVENT_TABLE)
#: ``PPME_X`` enum name (without ``PPME_``) -> id.
EVENT_IDS: dict[str, int] = {e.enum.removeprefix("PPME_"): e.id for e in EVENT_TABLE}


def _current_ids() -> dict[tuple[str, str], int]:
    current: dict[tuple[str, str], int] = {}
    for e in EVENT_TABLE:
        if e.unused or e.old or e.name == "NA" or e.id in (0, 1):
            continue
        current[(e.name, e.dir)] = e.id  # later (newer) versions win
    return current


_CURRENT = _current_ids()


def event_id(name: str, direction: str = "<") -> int:
    """The id of the current (newest) version of event ``name`` (``"openat"``) in ``direction``
    (``"<"`` exit, ``">"`` enter). Generic syscalls use ``GENERIC_E``/``GENERIC_X`` (0/1)."""
    try:
        return _CURRENT[(name, direction)]
    except KeyError:
        raise KeyError(f"no current event {direction}{name} in the event table") from None


#: Names of the events rules may index on (every non-old, used event name) plus ppm_sc names.
ALL_EVENT_NAMES = frozenset(n for (n, _d) in _CURRENT) | frozenset(PPM_SC_NAMES.values())

GENERIC_E, GENERIC_X = 0, 1
PROCEXIT_E = EVENT_IDS["PROCEXIT_1_E"]
PROCINFO_E = EVENT_IDS["PROCINFO_E"]
CONTAINER_JSON_2_E = EVENT_IDS["CONTAINER_JSON_2_E"]


# --- decoding --------------------------------------------------------------------------------
def _cstr(b: bytes) -> str | None:
    if b.endswith(b"\0"):
        b = b[:-1]
    if b == b"(NULL)":
        return None
    return b.decode("utf-8", "replace")


def _sockaddr(b: bytes) -> tuple:
    fam = b[0]
    if fam == AF_INET and len(b) >= 7:
        return (fam, b[1:5], int.from_bytes(b[5:7], "little"))
    if fam == AF_INET6 and len(b) >= 19:
        return (fam, b[1:17], int.from_bytes(b[17:19], "little"))
    if fam == AF_UNIX:
        return (fam, _cstr(b[1:]) or "")
    return (fam,)


def _socktuple(b: bytes) -> tuple:
    fam = b[0]
    if fam == AF_INET and len(b) >= 13:
        return (fam, b[1:5], int.from_bytes(b[5:7], "little"), b[7:11],
                int.from_bytes(b[11:13], "little"))
    if fam == AF_INET6 and len(b) >= 37:
        return (fam, b[1:17], int.from_bytes(b[17:19], "little"), b[19:35],
                int.from_bytes(b[35:37], "little"))
    if fam == AF_UNIX and len(b) >= 17:
        return (fam, int.from_bytes(b[1:9], "little"), int.from_bytes(b[9:17], "little"),
                _cstr(b[17:]) or "")
    return (fam,)


def _fdlist(b: bytes) -> tuple:
    n = int.from_bytes(b[0:2], "little")
    out = []
    off = 2
    for _ in range(n):
        if off + 10 > len(b):
            break
        out.append((int.from_bytes(b[off:off + 8], "little", signed=True),
                    int.from_bytes(b[off + 8:off + 10], "little")))
        off += 10
    return tuple(out)


def decode_param(ptype: int, b: bytes) -> Any:
    """Decode one wire parameter; ``None`` for an empty one (spec/scap.md §3.2)."""
    if not b:
        return None
    w = _INT_WIDTH.get(ptype)
    if w is not None:
        return int.from_bytes(b, "little", signed=w[1])
    if ptype in STRING_TYPES:
        return _cstr(b)
    if ptype == PT_BYTEBUF:
        return bytes(b)
    if ptype == PT_SOCKTUPLE:
        return _socktuple(b)
    if ptype == PT_SOCKADDR:
        return _sockaddr(b)
    if ptype == PT_FDLIST:
        return _fdlist(b)
    if ptype == PT_DYN:
        return (b[0], int.from_bytes(b[1:], "little", signed=True))
    if ptype == PT_DOUBLE:
        import struct

        return struct.unpack("<d", b[:8])[0]
    return bytes(b)


def encode_param(ptype: int, value: Any) -> bytes:
    """Encode a typed value for the wire (the writer's half of :func:`decode_param`)."""
    if value is None:
        return b""
    w = _INT_WIDTH.get(ptype)
    if w is not None:
        n, signed = w
        v = int(value)
        if not signed and v < 0:
            v &= (1 << (8 * n)) - 1
        return v.to_bytes(n, "little", signed=signed)
    if ptype in STRING_TYPES:
        return value.encode("utf-8", "surrogateescape") + b"\0"
    if ptype == PT_BYTEBUF:
        return bytes(value)
    if ptype == PT_SOCKTUPLE:
        fam = value[0]
        if fam in (AF_INET, AF_INET6):
            return (bytes([fam]) + value[1] + value[2].to_bytes(2, "little") + value[3]
                    + value[4].to_bytes(2, "little"))
        if fam == AF_UNIX:
            return (bytes([fam]) + value[1].to_bytes(8, "little") + value[2].to_bytes(8, "little")
                    + value[3].encode() + b"\0")
        return bytes([fam])
    if ptype == PT_SOCKADDR:
        fam = value[0]
        if fam in (AF_INET, AF_INET6):
            return bytes([fam]) + value[1] + value[2].to_bytes(2, "little")
        if fam == AF_UNIX:
            return bytes([fam]) + value[1].encode() + b"\0"
        return bytes([fam])
    if ptype == PT_FDLIST:
        out = len(value).to_bytes(2, "little")
        for fd, ev in value:
            out += fd.to_bytes(8, "little", signed=True) + ev.to_bytes(2, "little")
        return out
    if ptype == PT_DYN:
        idx, v = value
        return bytes([idx]) + int(v).to_bytes(8, "little", signed=True)
    if ptype == PT_DOUBLE:
        import struct

        return struct.pack("<d", value)
    return bytes(value)


def ip_of(raw: bytes) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """The address object of a network-order IPv4/IPv6 byte string."""
    return ipaddress.ip_address(raw)


def flag_names(table: str, value: int) -> str:
    """libs' rendering of a FLAGS value: matching names joined by ``|`` in table order, matched
    bits removed; a zero-valued name matches only 0 (spec/scap.md §6.4)."""
    entries = FLAG_TABLES.get(table)
    if not entries:
        return ""
    out = []
    rem = value
    for name, v in entries:
        if v == 0:
            if value == 0:
                out.append(name)
            continue
        if rem & v == v:
            out.append(name)
            rem &= ~v
    return "|".join(out)


def enum_name(table: str, value: int) -> str:
    for name, v in FLAG_TABLES.get(table, ()):
        if v == value:
            return name
    return ""


class SyscallEvent(Event):
    """An event of the ``syscall`` source.

    Beyond :class:`pyfalco.api.Event`: ``etype`` (event id), ``info`` (:class:`EventInfo`),
    ``tid``, ``cpu``, ``dflags`` (capture dump flags) and parameters by name
    (:meth:`param`, :attr:`params`). The state parser sets ``thread`` (the
    :class:`~pyfalco_syscall.state.ThreadInfo` of ``tid``), ``fd_num`` and ``errorcode``.

    Build one with typed values::

        SyscallEvent(event_id("openat"), ts=..., tid=1234,
                     params={"fd": 3, "dirfd": -100, "name": "/etc/shadow", "flags": 1, ...})

    or, as readers do, with ``raw=`` (one ``bytes`` per wire parameter, decoded on demand).
    """

    __slots__ = ("etype", "info", "tid", "cpu", "dflags", "_raw", "_src", "_vals", "enter",
                 "thread",
                 "fd_num", "_fdinfo", "errorcode", "parsed", "st")

    def __init__(
        self,
        etype: int,
        *,
        ts: int = 0,
        tid: int = 0,
        params: Mapping[str, Any] | None = None,
        raw: Sequence[bytes] | None = None,
        cpu: int = 0,
        dflags: int = 0,
        enter: SyscallEvent | None = None,
        num: int = 0,
    ) -> None:
        info = EVENT_TABLE[etype]
        self.num = num
        self.ts = ts
        self.source = SYSCALL_SOURCE
        self.data = b""
        self.plugin_id = 0
        self.cache = None
        self._obj = None
        self.etype = etype
        self.info = info
        self.tid = tid
        self.cpu = cpu
        self.dflags = dflags
        self._raw = raw
        #: (buffer, offset of the first parameter, lengths): parameters not split yet
        self._src: tuple[bytes, int, tuple[int, ...]] | None = None
        # the params dict is taken over, not copied (producers build one per event)
        self._vals: dict[str, Any] = params if type(params) is dict else (
            dict(params) if params else {})
        self.enter = enter
        self.thread: Any = None
        self.fd_num = -1
        self._fdinfo: Any = None
        self.errorcode = 0
        self.parsed = False
        #: The SyscallState that parsed the event (fields resolve users, parents... in it).
        self.st: Any = None
        if etype <= 1:
            self.type = self._generic_name()
        else:
            self.type = info.name

    def _generic_name(self) -> str:
        code = self.param("ID")
        name = PPM_SC_NAMES.get(code or 0)
        if (not code) and self.param("nativeID") is not None:
            name = None  # native numbers are architecture-specific: keep <unknown>
        return name if name and code else "<unknown>"

    # --- parameters ----------------------------------------------------------------------------
    def param(self, name: str, default: Any = None) -> Any:
        """The typed value of parameter ``name`` (``default`` when absent or empty)."""
        vals = self._vals
        if name in vals:
            v = vals[name]
            if v is None:
                return default
            if type(v) is bytes:
                idx = self.info.index.get(name)
                if idx is not None and self.info.params[idx].type in (PT_SOCKTUPLE, PT_SOCKADDR):
                    v = decode_param(self.info.params[idx].type, v)  # wire bytes accepted
                    vals[name] = v
            return v
        v = None
        idx = self.info.index.get(name)
        if idx is not None:
            src = self._src
            if src is not None:
                lens = src[2]
                if idx < len(lens):
                    start = src[1] + sum(lens[:idx])
                    v = decode_param(self.info.params[idx].type,
                                     src[0][start:start + lens[idx]])
            else:
                raw = self._raw
                if raw is not None and idx < len(raw):
                    v = decode_param(self.info.params[idx].type, raw[idx])
        if v is None and self.enter is not None:
            v = self.enter_event().param(name)
        vals[name] = v
        return default if v is None else v

    def has_param(self, name: str) -> bool:
        return self.param(name) is not None

    def enter_event(self) -> SyscallEvent | None:
        """The attached enter event (readers attach it as a compact tuple, built on first
        use: most exits never need their enter's parameters)."""
        enter = self.enter
        if type(enter) is tuple:
            enter = self.enter = SyscallEvent.from_buffer(*enter)
        return enter

    def _split_src(self) -> None:
        src = self._src
        if src is not None:
            b, pos, lens = src
            out = []
            for n in lens:
                out.append(b[pos:pos + n])
                pos += n
            self._raw = tuple(out)
            self._src = None

    @classmethod
    def from_buffer(cls, etype: int, ts: int, tid: int, cpu: int, dflags: int, buf: bytes,
                    pos: int, lens: tuple[int, ...]) -> SyscallEvent:
        """An event whose parameters are the ``lens``-sized slices of ``buf`` from ``pos``,
        split only when read (readers: most parameters of a capture are never looked at)."""
        e = cls.__new__(cls)  # the hot path of replay: set the slots directly
        info = EVENT_TABLE[etype]
        e.num = 0
        e.ts = ts
        e.source = SYSCALL_SOURCE
        e.data = b""
        e.plugin_id = 0
        e.cache = None
        e._obj = None
        e.etype = etype
        e.info = info
        e.tid = tid
        e.cpu = cpu
        e.dflags = dflags
        e._raw = None
        e._src = (buf, pos, lens)
        e._vals = {}
        e.enter = None
        e.thread = None
        e.fd_num = -1
        e._fdinfo = None
        e.errorcode = 0
        e.parsed = False
        e.st = None
        e.type = e._generic_name() if etype <= 1 else info.name
        return e

    def raw_param(self, name: str) -> bytes | None:
        """The wire bytes of ``name`` (``None`` when the event was built from typed values)."""
        self._split_src()
        idx = self.info.index.get(name)
        if idx is not None and self._raw is not None and idx < len(self._raw):
            return self._raw[idx]
        if self.enter is not None:
            return self.enter_event().raw_param(name)
        return None

    def set_param(self, name: str, value: Any) -> None:
        self._vals[name] = value

    @property
    def params(self) -> dict[str, Any]:
        """Every parameter of the (merged) schema by name, decoded (``None`` = empty)."""
        return {p.name: self.param(p.name) for p in self.info.params}

    def param_info(self, name: str) -> ParamInfo | None:
        idx = self.info.index.get(name)
        return None if idx is None else self.info.params[idx]

    @property
    def dir(self) -> str:
        return self.info.dir

    @property
    def res(self) -> int | None:
        """The return value (param 0) of syscall exits, else ``None``."""
        if not self.info.has_return:
            return None
        return self.param(self.info.params[0].name)

    def wire_values(self) -> list[bytes]:
        """This event's own parameters encoded for the wire: the raw parameters as read when the
        event came from a capture (re-encoding is byte-exact), else the table entry's parameters
        (the exit's own ones; enter-only ones go to the enter event, see
        :meth:`enter_for_writing`), trailing empty ones trimmed."""
        self._split_src()
        if self._raw is not None and not self._vals.keys() - {"_fullpath"}:
            return [bytes(r) for r in self._raw]
        out = []
        for p in self.info.params[: self.info.wire_params]:
            raw = None
            idx = self.info.index[p.name]
            if self._raw is not None and p.name not in self._vals and idx < len(self._raw):
                raw = self._raw[idx]
            if raw is None:
                raw = encode_param(p.type, self.param(p.name))
            out.append(bytes(raw))
        while out and not out[-1]:
            out.pop()
        return out

    def enter_for_writing(self) -> SyscallEvent | None:
        """The enter event to write before this exit: the attached one, or one built from the
        enter-only parameters of the merged schema (``None`` for events without an enter)."""
        info = self.info
        if not info.is_exit or not info.is_syscall:
            return None
        if self.enter is not None:
            return self.enter_event()
        enter_info = EVENT_TABLE[self.etype - 1]
        if enter_info.unused:
            return None
        vals = {p.name: self.param(p.name) for p in enter_info.params}
        return SyscallEvent(self.etype - 1, ts=self.ts, tid=self.tid, params=vals, cpu=self.cpu)

    def __repr__(self) -> str:
        return (f"<SyscallEvent #{self.num} {self.ts} tid={self.tid} {self.info.dir}{self.type}>")


def iter_events_named(names: Iterable[str]) -> list[EventInfo]:
    """Every table entry (all versions, both directions) whose name is in ``names``."""
    wanted = set(names)
    return [e for e in EVENT_TABLE if e.name in wanted]
