"""The file lines' fast path (payload.AuditMembers): an event decoded as its members, with
raw requestObject/responseObject, gives every ka.* and json.* field the value the whole parsed
object gives, and whatever the fast path cannot take goes the general way (same counts, same
messages)."""

from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import Any

import orjson
import pytest
from pyfalco.api import Event
from pyfalco_json.fields import FIELDS as JSON_FIELDS
from pyfalco_k8saudit import FIELDS, K8sAuditEvent, SplitStats, split_jsonl
from pyfalco_k8saudit.payload import MEMBER_NAMES, events_from_lines

#: arguments that reach into the members the fast path keeps raw, and some it drops
JSON_POINTERS = ["/stage", "stage", "/requestObject", "/requestObject/spec/containers/0/image",
                 "/responseObject/metadata/name", "/metadata", "/timestamp", "/user/groups/0",
                 "/annotations/authorization.k8s.io~1decision", "/nope", "0"]
KA_ARGS = {"ka.uri.param": ["watch", "pretty"], "ka.req.pod.containers.image": [None, 0, 1],
           "ka.req.role.rules.verbs": [None, 0]}


def ka_args(f: Any) -> list[Any]:
    if f.name in KA_ARGS:
        return KA_ARGS[f.name]
    if f.arg is None:
        return [None]
    return ["x"] if f.arg.key else [None, 0]


def fast_events(lines: list[bytes]) -> tuple[list[Event], SplitStats]:
    stats = SplitStats()
    out: deque[Event] = deque()
    events_from_lines(lines, out, max_event_size=1 << 20, stats=stats, plugin_id=1,
                      where=lambda i: f"f:{i + 1}")
    return list(out), stats


def values(evt: Event) -> dict[str, Any]:
    got: dict[str, Any] = {}
    for f in FIELDS:
        for a in ka_args(f):
            got[f"{f.name}[{a}]"] = f.binder(a)(evt)
    for f in JSON_FIELDS:
        for a in (JSON_POINTERS if f.arg else [None]):
            got[f"{f.name}[{a}]"] = f.binder(a)(evt)
    return got


def all_trace_lines(traces: Path) -> list[bytes]:
    """Every real audit event of the trace files, one compact line each."""
    lines = []
    for path in sorted(traces.glob("*.json")):
        events, _ = split_jsonl(path.read_bytes(), max_event_size=1 << 20)
        lines += [orjson.dumps(e.obj) for e in events]
    return lines


def test_every_field_equals_the_whole_object_on_every_trace_event(traces: Path) -> None:
    lines = all_trace_lines(traces)
    events, stats = fast_events(lines)
    assert len(events) == len(lines) and stats.dropped == 0
    fast = sum(1 for e in events if e._obj is None)
    assert fast == len(events)  # all took the fast path
    for line, evt in zip(lines, events, strict=True):
        obj = orjson.loads(line)
        whole = K8sAuditEvent(line, ts=evt.ts, plugin_id=1, obj=obj)
        # the members first (raw ones still raw), then the whole object's answers
        assert values(evt) == values(whole), obj.get("auditID")
        assert evt.json() == obj


def test_members_are_decoded_once_and_only_when_read(traces: Path) -> None:
    line = next(x for x in all_trace_lines(traces) if b'"requestObject"' in x)
    (evt,), _ = fast_events([line])
    assert type(evt.audit["requestObject"]).__name__ == "Raw"
    assert evt._obj is None
    assert evt.json_member("requestObject") == orjson.loads(line)["requestObject"]
    assert type(evt.audit["requestObject"]) is dict  # kept decoded
    assert evt._obj is None  # a known member never parses the whole line
    evt.json_member("metadata")  # not a member the fast path decodes: the whole line
    assert evt._obj == orjson.loads(line)


def test_member_names_cover_every_top_level_key_the_ka_fields_read() -> None:
    """A member the fast path drops would silently lose ka.* values: every top-level key an
    extractor reads on a full event must be one of the AuditMembers."""
    obj: dict[str, Any] = {"kind": "Event", "auditID": "a",
                           "stageTimestamp": "2024-01-01T00:00:00Z"}

    class Spy(dict):  # records the top-level keys read
        seen: set[str] = set()

        def get(self, key: Any, default: Any = None) -> Any:
            Spy.seen.add(key)
            return super().get(key, default)

        def __getitem__(self, key: Any) -> Any:
            Spy.seen.add(key)
            return super().__getitem__(key)

        def __contains__(self, key: Any) -> bool:
            Spy.seen.add(key)
            return super().__contains__(key)

    spy = Spy(obj)
    evt = K8sAuditEvent(orjson.dumps(obj), ts=1, plugin_id=1, obj=spy)
    for f in FIELDS:
        for a in ka_args(f):
            f.binder(a)(evt)
    assert Spy.seen and Spy.seen <= MEMBER_NAMES, Spy.seen - MEMBER_NAMES


@pytest.mark.parametrize("line, counter, message", [
    (b'{"kind":"Event","auditID":"a","stageTimestamp":"2024-01-01T00:00:00Z",'
     b'"requestObject":{"a":"\xff"}}', "malformed", "f:1: malformed JSON: str is not valid UTF-8"),
    (b'{"kind":"Event","auditID":"a","stageTimestamp":"2024-01-01T00:00:00Z",'
     b'"requestObject":{"a":01}}', "malformed", "f:1: malformed JSON: number with leading zero"),
    (b'{"kind":"Event","auditID":"a","stageTimestamp":"yesterday"}', "bad_timestamp",
     "can't parse stageTimestamp"),
    (b'{"kind":"Event","auditID":"a","stageTimestamp":5}', "bad_timestamp",
     "can't read stageTimestamp"),
    (b'{"kind":"Other","auditID":"a","stageTimestamp":"2024-01-01T00:00:00Z"}', "unrecognized",
     "data not recognized as a k8s audit event"),
    (b'[1]', "unrecognized", "data not recognized as a k8s audit event"),
])
def test_what_the_fast_path_cannot_take_is_reported_as_before(
        line: bytes, counter: str, message: str) -> None:
    events, stats = fast_events([line])
    assert events == []
    assert getattr(stats, counter) == 1 and stats.dropped == 1
    assert stats.errors[0].startswith(message), stats.errors


def test_a_repeated_key_reads_its_last_occurrence_on_both_paths() -> None:
    """README quirk: upstream's fastjson reads the first occurrence; the fast path (msgspec)
    and the general path (orjson) both read the last, for ka.* and json.* fields alike."""
    line = (b'{"kind":"Event","verb":"get","auditID":"a","verb":"delete","user":'
            b'{"username":"a","username":"b"},"stageTimestamp":"2024-01-01T00:00:00Z"}')
    (fast,), _ = fast_events([line])
    general = K8sAuditEvent(line, ts=1, plugin_id=1, obj=orjson.loads(line))
    assert fast._obj is None
    by_name = {f.name: f for f in FIELDS}
    json_value = {f.name: f for f in JSON_FIELDS}["json.value"]
    for evt in (fast, general):
        assert by_name["ka.verb"].binder(None)(evt) == "delete"
        assert by_name["ka.user.name"].binder(None)(evt) == "b"
        assert json_value.binder("/verb")(evt) == "delete"


def test_valid_non_ascii_and_eventlist_lines() -> None:
    evt = {"kind": "Event", "auditID": "é", "stageTimestamp": "2024-01-01T00:00:00Z",
           "user": {"username": "jürgen"}, "requestObject": {"data": {"k": "ü"}}}
    lst = {"kind": "EventList", "items": [dict(evt, auditID="1"), dict(evt, auditID="2")]}
    events, stats = fast_events([orjson.dumps(evt), orjson.dumps(lst), b"", b"  "])
    assert stats.dropped == 0
    assert [e.audit["auditID"] for e in events] == ["é", "1", "2"]
    assert events[0]._obj is None and events[1]._obj is not None
    by_name = {f.name: f for f in FIELDS}
    assert by_name["ka.user.name"].binder(None)(events[0]) == "jürgen"
    assert by_name["ka.req.configmap.obj"].binder(None)(events[0]) == '{"k":"ü"}'


# -- webhook bodies ---------------------------------------------------------------------------

def body_events(body: bytes, max_event_size: int = 1 << 20) -> tuple[list[Event], SplitStats]:
    from pyfalco_k8saudit.payload import events_from_body

    stats = SplitStats()
    out: list[Event] = []
    events_from_body(body, out, max_event_size=max_event_size, stats=stats, plugin_id=1,
                     where="webhook request")
    return out, stats


def test_eventlist_body_gives_the_general_paths_events(traces: Path) -> None:
    objs = [orjson.loads(line) for line in all_trace_lines(traces)]
    body = orjson.dumps({"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "items": objs})
    events, stats = body_events(body)
    assert stats.dropped == 0 and len(events) == len(objs)
    assert all(e._obj is None for e in events)  # the fast path
    general, _ = split_jsonl(body, max_event_size=1 << 20)
    for evt, ae in zip(events, general, strict=True):
        assert evt.data == ae.data and evt.ts == ae.ts
        whole = K8sAuditEvent(ae.data, ts=ae.ts, plugin_id=1, obj=ae.obj)
        assert values(evt) == values(whole)


def test_body_items_that_cannot_be_events_are_counted_as_before() -> None:
    ok = {"kind": "Event", "auditID": "a", "stageTimestamp": "2024-01-01T00:00:00Z"}
    items = [ok, 5, dict(ok, stageTimestamp=None), dict(ok, stageTimestamp="noon"),
             dict(ok, auditID="b" * 300), {k: v for k, v in ok.items() if k != "auditID"}]
    body = orjson.dumps({"kind": "EventList", "items": items})
    fast, fast_stats = body_events(body, max_event_size=200)
    general, general_stats = split_jsonl(body, max_event_size=200)
    assert [e.data for e in fast] == [ae.data for ae in general]
    assert len(fast) == 2 and fast_stats.no_auditid == 1
    for name in ("unrecognized", "bad_timestamp", "oversize", "no_auditid", "malformed"):
        assert getattr(fast_stats, name) == getattr(general_stats, name), name
    assert fast_stats.errors == general_stats.errors


@pytest.mark.parametrize("body, n, fast", [
    (b'{"kind":"Event","auditID":"a","stageTimestamp":"2024-01-01T00:00:00Z"}\n', 1, True),
    (b'{\n  "kind": "EventList",\n  "items": [\n    {"kind": "Event", "auditID": "a",'
     b' "stageTimestamp": "2024-01-01T00:00:00Z"}\n  ]\n}', 1, True),
    (b'[{"kind":"Event","auditID":"a","stageTimestamp":"2024-01-01T00:00:00Z"}]', 1, False),
    (b'{"kind":"EventList","items":{"a":1}}', 0, False),
    (b'{"kind":"EventList","items":[{"kind":"Event","auditID":"\xff",'
     b'"stageTimestamp":"2024-01-01T00:00:00Z"}]}', 0, False),
])
def test_other_bodies(body: bytes, n: int, fast: bool) -> None:
    events, stats = body_events(body)
    assert len(events) == n
    assert all((e._obj is None) == fast for e in events)
    if b"\xff" in body:
        assert stats.malformed == 1 and "not valid UTF-8" in stats.errors[0]


# -- compiled and pure-Python fields ------------------------------------------------------------

def python_only_fields() -> list[Any]:
    """The ka.* fields as a machine without pyfalco's compiled speedups builds them: the fields
    module executed again, under another name, with the speedups' pure-Python twins."""
    import importlib.util

    import pyfalco_k8saudit.fields as compiled_fields
    from pyfalco import speedups

    spec = importlib.util.spec_from_file_location(
        "pyfalco_k8saudit._fields_python_twin", compiled_fields.__file__)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    saved = speedups.path_getter, speedups.leaves
    speedups.path_getter, speedups.leaves = speedups.py_path_getter, speedups.py_leaves
    try:
        spec.loader.exec_module(module)
    finally:
        speedups.path_getter, speedups.leaves = saved
    return module.FIELDS


ODD_EVENTS: list[dict[str, Any]] = [
    {"kind": "Event", "stageTimestamp": "2024-01-01T00:00:00Z", "user": {"username": "no-id"}},
    {"kind": "Event", "auditID": "a", "stageTimestamp": "2024-01-01T00:00:00Z",
     "user": "not-an-object", "objectRef": ["a"], "verb": 5, "requestURI": None,
     "responseStatus": {"code": 403}, "annotations": {"authorization.k8s.io/decision": True},
     "requestObject": {"spec": "x", "rules": {"a": 1}, "data": [1, 2.5, {"k": None}]}},
    {"kind": "Event", "auditID": "b", "stageTimestamp": "2024-01-01T00:00:00Z",
     "responseStatus": {"code": 10**30}, "objectRef": {"name": 1.5, "namespace": None},
     "requestObject": {"spec": {"containers": "x", "hostNetwork": False,
                                "securityContext": {"runAsUser": 0}}}},
]


def test_pure_python_fields_answer_as_the_compiled_ones(traces: Path) -> None:
    from pyfalco import speedups

    twin = python_only_fields()
    assert [f.name for f in twin] == [f.name for f in FIELDS]
    if speedups.COMPILED:
        assert any(type(f.extract).__name__ == "PathGetter" for f in FIELDS)
        assert not any(type(f.extract).__name__ == "PathGetter" for f in twin)
    import json  # the standard library's: orjson refuses the big int

    lines = all_trace_lines(traces) + [json.dumps(o).encode() for o in ODD_EVENTS]
    fast, _ = fast_events(lines)
    assert len(fast) == len(lines)
    general = [K8sAuditEvent(line, ts=1, plugin_id=1, obj=json.loads(line)) for line in lines]
    plain = Event(lines[0], ts=1, source="k8s_audit", obj=json.loads(lines[0]))
    for evt in [*fast, *general, plain]:
        for f, g in zip(FIELDS, twin, strict=True):
            for a in ka_args(f):
                assert f.binder(a)(evt) == g.binder(a)(evt), (f.name, a)
