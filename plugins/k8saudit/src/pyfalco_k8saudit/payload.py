"""Splitting payloads into audit events (upstream ``ParseAuditEventsJSON``), shared by every
k8s_audit plugin of the family (k8saudit, k8saudit-eks, k8saudit-gke).

A payload is an ``Event``, an ``EventList``, a JSON array of those (recursively), or — for
files — JSON Lines holding any of them per line. Each audit event gets its timestamp from
``stageTimestamp`` and its payload as compact JSON bytes; whatever cannot become an event is
counted in :class:`SplitStats` with upstream's message, never dropped silently.
"""

from __future__ import annotations

import functools
import gc
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypedDict

import msgspec
import orjson
from pyfalco.api import Event
from pyfalco.speedups import parse_rfc3339_ns

from .logs import log

#: The event source of the whole family.
SOURCE = "k8s_audit"

MSG_NOT_RECOGNIZED = "data not recognized as a k8s audit event"
#: Payloads above this size are parsed with the cyclic garbage collector paused.
_GC_PAUSE_MIN = 64 * 1024
MSG_NO_TIMESTAMP = "can't read stageTimestamp"

_loads = orjson.loads
_dumps = orjson.dumps


class AuditMembers(TypedDict, total=False):
    """The members of an audit.k8s.io Event that ``ka.*`` fields read, as a file line's fast
    path decodes them (:func:`events_from_lines`): ``requestObject`` and ``responseObject``,
    most of an event's bytes and read by few rules, stay their JSON text (``msgspec.Raw``,
    validated as JSON while skipped) until a field reads them (:func:`member`). Members not
    listed here are not decoded: the json fields and anything else that needs the whole
    object parse ``Event.data`` (``K8sAuditEvent.json_member``)."""

    kind: Any
    apiVersion: Any
    level: Any
    auditID: Any
    stage: Any
    requestURI: Any
    verb: Any
    user: Any
    impersonatedUser: Any
    sourceIPs: Any
    userAgent: Any
    objectRef: Any
    responseStatus: Any
    requestObject: msgspec.Raw
    responseObject: msgspec.Raw
    requestReceivedTimestamp: Any
    stageTimestamp: Any
    annotations: Any


MEMBER_NAMES = frozenset(AuditMembers.__annotations__)
Raw = msgspec.Raw
_decode_members = msgspec.json.Decoder(AuditMembers).decode
decode_raw = msgspec.json.Decoder().decode
_MEMBERS_ERROR = msgspec.DecodeError  # ValidationError (not an object) is one too


#: Raw members read through a path (``ka.resp.name``) are decoded along that path only: rules
#: read one name of the response (the object as stored, often several kB), where they read
#: many parts of the request (decoded whole on first read).
PARTIAL_MEMBERS = frozenset({"responseObject"})


@functools.lru_cache(maxsize=256)
def _path_decoder(path: tuple[str, ...]) -> Callable[[Raw], Any]:
    spec: Any = Any
    for key in reversed(path):
        spec = TypedDict("_Step", {key: spec}, total=False)  # type: ignore[operator]
    return msgspec.json.Decoder(spec).decode


def raw_path(raw: Raw, path: tuple[str, ...], missing: Any) -> Any:
    """The value at ``path`` (object keys) within a raw member, decoding nothing else;
    ``missing`` when a step is absent or not an object."""
    try:
        v = _path_decoder(path)(raw)
    except msgspec.ValidationError:  # a step that is not an object
        return missing
    for key in path:
        v = v.get(key, missing)
        if v is missing:
            return missing
    return v


def member(members: dict[str, Any], key: str) -> Any:
    """``members[key]`` (KeyError when absent), a raw member decoded on first use (and kept
    decoded: the event is read by one thread)."""
    v = members[key]
    if type(v) is Raw:
        v = members[key] = decode_raw(v)
    return v

class AuditEvent:
    """One audit event: the parsed object, its JSON bytes and its ``stageTimestamp`` in ns."""

    __slots__ = ("obj", "data", "ts")

    def __init__(self, obj: dict[str, Any], data: bytes, ts: int) -> None:
        self.obj = obj
        self.data = data
        self.ts = ts

    def __repr__(self) -> str:
        return f"<AuditEvent {self.obj.get('auditID')!r} ts={self.ts} {len(self.data)}B>"


@dataclass
class SplitStats:
    """What a split could not turn into events, by reason (the names are the counters that
    instances expose, see README "Counters"). ``errors`` keeps the last messages (bounded)."""

    malformed: int = 0  #: not JSON (or not UTF-8)
    unrecognized: int = 0  #: JSON, but neither Event, EventList nor array
    bad_timestamp: int = 0  #: missing or unparsable stageTimestamp
    oversize: int = 0  #: larger than maxEventSize
    no_auditid: int = 0  #: emitted, but without auditID (every ka.* field has no value)
    errors: list[str] = field(default_factory=list)
    #: The prefix of the log lines (family plugins: their own name).
    plugin: str = "k8saudit"

    MAX_ERRORS = 20

    @property
    def dropped(self) -> int:
        return self.malformed + self.unrecognized + self.bad_timestamp + self.oversize

    def error(self, message: str) -> None:
        log.warning("%s", message, extra={"plugin": self.plugin})
        if len(self.errors) < self.MAX_ERRORS:
            self.errors.append(message)

    def add_to(self, counters: dict[str, int]) -> None:
        """Add these counts to an instance's ``counters()`` dict (``drops_*`` names)."""
        for name in ("malformed", "unrecognized", "bad_timestamp", "oversize"):
            n = getattr(self, name)
            if n:
                counters[f"drops_{name}"] = counters.get(f"drops_{name}", 0) + n
        if self.no_auditid:
            counters["events_without_auditid"] = (
                counters.get("events_without_auditid", 0) + self.no_auditid)
        if self.dropped:
            counters["drops"] = counters.get("drops", 0) + self.dropped


def _iter_event_objects(value: Any, stats: SplitStats) -> Iterator[dict[str, Any]]:
    """Upstream's recursion: arrays are flattened, an EventList yields its items, an Event
    itself; anything else is reported as not recognized. ``apiVersion`` is not checked."""
    if type(value) is list:
        for item in value:
            yield from _iter_event_objects(item, stats)
        return
    if type(value) is dict:
        kind = value.get("kind")
        if kind == "Event":
            yield value
            return
        if kind == "EventList":
            items = value.get("items")
            if type(items) is list:
                for item in items:
                    # upstream takes items as events without checking their kind
                    if type(item) is dict:
                        yield item
                    else:
                        stats.unrecognized += 1
                        stats.error(MSG_NOT_RECOGNIZED)
            return
    stats.unrecognized += 1
    stats.error(MSG_NOT_RECOGNIZED)


def audit_events_from_object(
    value: Any,
    stats: SplitStats,
    *,
    max_event_size: int,
    raw: bytes | None = None,
) -> list[AuditEvent]:
    """Audit events of an already parsed payload. ``raw``, when the caller has it, is the text
    ``value`` was parsed from: an Event that is the whole payload keeps those bytes as its data
    instead of being serialised again (same JSON, possibly with other whitespace)."""
    out: list[AuditEvent] = []
    for obj in _iter_event_objects(value, stats):
        ts = _timestamp(obj.get("stageTimestamp"), stats)
        if ts is None:
            continue
        data = raw if (raw is not None and obj is value) else None
        if data is None or len(data) > max_event_size:
            data = _dumps(obj)
        if len(data) > max_event_size:
            stats.oversize += 1
            stats.error(f"event larger than maxEventSize: size={len(data)}")
            continue
        if "auditID" not in obj:
            stats.no_auditid += 1
        out.append(AuditEvent(obj, data, ts))
    return out


def split_audit_payload(
    payload: bytes | str | Any,
    *,
    max_event_size: int,
    stats: SplitStats | None = None,
    where: str = "payload",
) -> tuple[list[AuditEvent], SplitStats]:
    """Split one payload into audit events.

    ``payload``: the JSON text (bytes or str) of an Event, an EventList or an array, or an
    already parsed object. ``where`` names the payload in error messages (a request, a
    file:line). Returns the events and the stats (``stats`` if given, updated in place).
    """
    stats = stats if stats is not None else SplitStats()
    if not isinstance(payload, (bytes, bytearray, memoryview, str)):
        return audit_events_from_object(payload, stats, max_event_size=max_event_size), stats
    # A large body (an EventList of hundreds of events) makes CPython's cyclic collector run
    # again and again over the tree being built: 4x slower parsing. A JSON tree has no
    # cycles, so collection is paused while it is parsed and split (restored after, and only
    # if it was on: another thread's pause is respected).
    pause = len(payload) > _GC_PAUSE_MIN and gc.isenabled()
    if pause:
        gc.disable()
    try:
        try:
            value = _loads(payload)
        except orjson.JSONDecodeError as exc:
            stats.malformed += 1
            stats.error(f"{where}: malformed JSON: {exc}")
            return [], stats
        raw = payload.encode() if isinstance(payload, str) else bytes(payload)
        events = audit_events_from_object(
            value, stats, max_event_size=max_event_size, raw=raw.strip())
    finally:
        if pause:
            gc.enable()
    return events, stats


def split_jsonl(
    text: bytes,
    *,
    max_event_size: int,
    stats: SplitStats | None = None,
    where: str = "input",
    first_line: int = 1,
) -> tuple[list[AuditEvent], SplitStats]:
    """Split JSON Lines: every non-blank line is a payload of its own (an Event, an EventList
    or an array). A bad line is counted and named (``where:line``); the others still flow."""
    stats = stats if stats is not None else SplitStats()
    events: list[AuditEvent] = []
    for n, line in enumerate(text.split(b"\n"), start=first_line):
        if not line.strip():
            continue
        evts, _ = split_audit_payload(
            line, max_event_size=max_event_size, stats=stats, where=f"{where}:{n}")
        events.extend(evts)
    return events, stats


class K8sAuditEvent(Event):
    """A k8s_audit Event that also carries ``audit``: the audit object when it has an
    ``auditID``, else None — upstream's guard of every ``ka.*`` field, decided once per event
    instead of once per field (the ``ka.*`` extractors read it without a method call).

    Made either from the whole parsed object (``obj``), or from the :class:`AuditMembers` of a
    file line (``members``, ``obj`` None): then ``audit`` is those members, with raw
    ``requestObject``/``responseObject`` (read them through :func:`member`), and ``json()``
    parses ``data`` only if something asks for the whole object."""

    __slots__ = ("audit", "_members")

    def __init__(self, data: bytes, ts: int, plugin_id: int, obj: dict[str, Any] | None,
                 members: dict[str, Any] | None = None) -> None:
        # Event.__init__'s assignments, inlined: this runs once per audit event and the
        # keyword call costs more than the rest of the construction (tests check that every
        # slot of Event is set, so a new one in the core is not missed). Positional: the file
        # fast path calls it so (a keyword call costs more).
        self.num = 0
        self.ts = ts
        self.source = SOURCE
        self.type = "pluginevent"
        self.data = data
        self.plugin_id = plugin_id
        self.cache = None
        self._obj = obj
        if members is None:
            members = obj
        assert members is not None
        self._members = members
        self.audit = members if "auditID" in members else None

    def json(self) -> Any:
        obj = self._obj
        if obj is None:  # made from members: parsed as they were (msgspec), at most once
            obj = self._obj = decode_raw(self.data)  # its bytes were checked as JSON
        return obj

    def json_member(self, key: str) -> Any:
        members = self._members
        if key in MEMBER_NAMES or members is self._obj:
            v = members.get(key, Event.JSON_ABSENT)
            if type(v) is Raw:
                v = members[key] = decode_raw(v)
            return v
        return super().json_member(key)  # a member the fast path did not decode

    def json_shape(self) -> str | None:
        return "object"  # both ways of making it start from a JSON object


def make_event(audit_event: AuditEvent, *, plugin_id: int = 1) -> Event:
    """The pyfalco Event for one audit event: source ``k8s_audit``, ``data`` = the JSON bytes,
    ``ts`` = stageTimestamp, and the parsed object handed in so no extractor parses again
    (a :class:`K8sAuditEvent`). Family plugins pass their own registry id (eks 9, gke 16)."""
    return K8sAuditEvent(audit_event.data, ts=audit_event.ts, plugin_id=plugin_id,
                         obj=audit_event.obj)


class _Batch(TypedDict, total=False):
    """A webhook body as its fast path reads it: an EventList's items as raw JSON."""

    kind: Any
    items: list[msgspec.Raw]


_decode_batch = msgspec.json.Decoder(_Batch).decode


def events_from_body(
    body: bytes,
    out: deque[Event] | list[Event],
    *,
    max_event_size: int,
    stats: SplitStats,
    plugin_id: int,
    where: str,
) -> None:
    """Append to ``out`` the Events of one webhook body: :func:`split_audit_payload` +
    :func:`make_event`, with a fast path for what the API server posts, an EventList (or an
    Event): each item decoded as its :class:`AuditMembers`, its bytes kept as the event's data
    (the API server's compact JSON) instead of a parse of the whole body and a serialisation
    per item. The checks, counts and messages are the general path's."""
    pause = len(body) > _GC_PAUSE_MIN and gc.isenabled()
    if pause:
        gc.disable()
    try:
        if _body_fast(body, out, max_event_size, stats, plugin_id):
            return
        events, _ = split_audit_payload(body, max_event_size=max_event_size, stats=stats,
                                        where=where)
        out.extend(make_event(ae, plugin_id=plugin_id) for ae in events)
    finally:
        if pause:
            gc.enable()


def _body_fast(body: bytes, out: deque[Event] | list[Event], max_event_size: int,
               stats: SplitStats, plugin_id: int) -> bool:
    """False (nothing done) when the general path must read ``body``."""
    if not (body.isascii() or _is_utf8(body)):
        return False
    try:
        batch = _decode_batch(body)
    except _MEMBERS_ERROR:
        return False
    kind = batch.get("kind")
    if kind == "Event":
        items: list[Any] = [body.strip()]
    elif kind == "EventList" and "items" in batch:
        items = batch["items"]
    else:
        return False
    append = out.append
    for raw in items:
        try:
            members = _decode_members(raw)
        except _MEMBERS_ERROR:  # an item that is not an object (its JSON was checked)
            stats.unrecognized += 1
            stats.error(MSG_NOT_RECOGNIZED)
            continue
        ts = _timestamp(members.get("stageTimestamp"), stats)
        if ts is None:
            continue
        data = bytes(raw)
        if len(data) > max_event_size:
            stats.oversize += 1
            stats.error(f"event larger than maxEventSize: size={len(data)}")
            continue
        evt = K8sAuditEvent(data, ts=ts, plugin_id=plugin_id, obj=None, members=members)
        if evt.audit is None:
            stats.no_auditid += 1
        append(evt)
    return True


def _timestamp(stamp: Any, stats: SplitStats) -> int | None:
    """An event's ``stageTimestamp`` in ns, or None (counted and reported)."""
    if type(stamp) is not str:
        stats.bad_timestamp += 1
        stats.error(MSG_NO_TIMESTAMP)
        return None
    try:
        return parse_rfc3339_ns(stamp)
    except ValueError as exc:
        stats.bad_timestamp += 1
        stats.error(f"can't parse stageTimestamp: {exc}")
        return None


def events_from_lines(
    lines: list[bytes],
    out: deque[Event] | list[Event],
    *,
    max_event_size: int,
    stats: SplitStats,
    plugin_id: int,
    where: Callable[[int], str],
) -> None:
    """Append to ``out`` the Events of JSON Lines ``lines`` (files): :func:`split_audit_payload`
    + :func:`make_event` per line, with a fast path for the common line, one Event whose bytes
    fit ``max_event_size``. ``where(i)`` names ``lines[i]`` in error messages; it is only
    called on errors. Blank lines give nothing and are not errors."""
    loads, decode_error, event, append = _loads, orjson.JSONDecodeError, K8sAuditEvent, out.append
    decode_members, members_error = _decode_members, _MEMBERS_ERROR
    for i, line in enumerate(lines):
        # The fast path: a line that is one Event, decoded as its AuditMembers (about half the
        # cost of parsing it whole). Anything else, or any doubt, takes the general path below,
        # which parses the line whole and reports what is wrong with it.
        try:
            members = decode_members(line)
        except members_error:
            pass
        else:
            stamp = members.get("stageTimestamp")
            # the line is the event's bytes when nothing surrounds the object; skipped members
            # are checked as JSON but not as UTF-8: non-ASCII lines are checked here
            if (members.get("kind") == "Event" and type(stamp) is str
                    and len(line) <= max_event_size and line[-1:] == b"}"
                    and (line.isascii() or _is_utf8(line))):
                try:
                    ts = parse_rfc3339_ns(stamp)
                except ValueError:
                    pass  # the general path counts and reports it
                else:
                    evt = event(line, ts, plugin_id, None, members)
                    if evt.audit is None:
                        stats.no_auditid += 1
                    append(evt)
                    continue
        try:
            obj = loads(line)
        except decode_error as exc:
            if line.strip():
                stats.malformed += 1
                stats.error(f"{where(i)}: malformed JSON: {exc}")
            continue
        if type(obj) is dict and obj.get("kind") == "Event":
            stamp = obj.get("stageTimestamp")
            # the line is the event's bytes when nothing surrounds the object
            if type(stamp) is str and len(line) <= max_event_size and line[-1:] == b"}":
                try:
                    ts = parse_rfc3339_ns(stamp)
                except ValueError:
                    pass  # the general path counts and reports it
                else:
                    evt = event(line, ts=ts, plugin_id=plugin_id, obj=obj)
                    if evt.audit is None:
                        stats.no_auditid += 1
                    append(evt)
                    continue
        out.extend(make_event(ae, plugin_id=plugin_id) for ae in audit_events_from_object(
            obj, stats, max_event_size=max_event_size, raw=line.strip()))


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode()
    except UnicodeDecodeError:
        return False
    return True
