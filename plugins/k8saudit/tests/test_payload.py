"""Splitting payloads into audit events (upstream ParseAuditEventsJSON), with counted drops."""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest
from pyfalco_k8saudit import (
    FIELDS,
    MSG_NOT_RECOGNIZED,
    SOURCE,
    SplitStats,
    make_event,
    parse_rfc3339_ns,
    split_audit_payload,
    split_jsonl,
)

MAX = 262144


def ev(i: int, **extra) -> dict:
    return {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "auditID": f"id-{i}",
            "stage": "ResponseComplete", "stageTimestamp": f"2024-05-01T10:00:0{i}.123456789Z",
            **extra}


def test_event_eventlist_and_nested_arrays() -> None:
    payload = [ev(1), {"kind": "EventList", "items": [ev(2), ev(3)]}, [[ev(4)]]]
    events, stats = split_audit_payload(orjson.dumps(payload), max_event_size=MAX)
    assert [e.obj["auditID"] for e in events] == ["id-1", "id-2", "id-3", "id-4"]
    assert stats.dropped == 0
    assert events[0].ts == parse_rfc3339_ns("2024-05-01T10:00:01.123456789Z")
    assert orjson.loads(events[1].data) == ev(2)


def test_single_event_keeps_its_bytes_and_makes_an_event() -> None:
    raw = orjson.dumps(ev(1))
    (ae,), _ = split_audit_payload(raw, max_event_size=MAX)
    assert ae.data == raw
    evt = make_event(ae)
    assert (evt.source, evt.type, evt.plugin_id, evt.ts) == (SOURCE, "pluginevent", 1, ae.ts)
    assert evt.json() is ae.obj  # no second parse
    assert make_event(ae, plugin_id=9).plugin_id == 9


def test_apiversion_is_not_checked() -> None:
    events, _ = split_audit_payload(orjson.dumps(ev(1, apiVersion="audit.k8s.io/v1beta1")),
                                    max_event_size=MAX)
    assert len(events) == 1


@pytest.mark.parametrize("payload", [b'{"kind": 0}', b'{"kind": "Pod"}', b"42", b'"x"',
                                     b'{"items": []}'])
def test_not_recognized(payload: bytes, capsys: pytest.CaptureFixture[str]) -> None:
    events, stats = split_audit_payload(payload, max_event_size=MAX)
    assert events == [] and stats.unrecognized == 1 and stats.dropped == 1
    # upstream's own log line on stderr: "YYYY/MM/DD HH:MM:SS [k8saudit] <message>" (UTC)
    err = capsys.readouterr().err
    stamp = r"\d{4}/\d\d/\d\d \d\d:\d\d:\d\d"
    assert re.fullmatch(stamp + r" \[k8saudit\] " + MSG_NOT_RECOGNIZED + "\n", err)


def test_family_plugins_log_with_their_name(capsys: pytest.CaptureFixture[str]) -> None:
    split_audit_payload(b"[1]", max_event_size=MAX, stats=SplitStats(plugin="k8saudit-eks"))
    assert "[k8saudit-eks] " + MSG_NOT_RECOGNIZED in capsys.readouterr().err


def test_one_bad_item_does_not_lose_the_others() -> None:
    bad_ts = ev(2, stageTimestamp="yesterday")
    no_ts = ev(3)
    del no_ts["stageTimestamp"]
    payload = {"kind": "EventList", "items": [ev(1), bad_ts, no_ts, "junk", ev(4)]}
    events, stats = split_audit_payload(orjson.dumps(payload), max_event_size=MAX)
    assert [e.obj["auditID"] for e in events] == ["id-1", "id-4"]
    assert (stats.bad_timestamp, stats.unrecognized, stats.dropped) == (2, 1, 3)
    assert "can't read stageTimestamp" in stats.errors


def test_max_event_size_guard() -> None:
    big = ev(1, requestObject={"data": "x" * 1000})
    events, stats = split_audit_payload(
        orjson.dumps({"kind": "EventList", "items": [big, ev(2)]}), max_event_size=500)
    assert [e.obj["auditID"] for e in events] == ["id-2"]
    size = len(orjson.dumps(big))
    assert stats.oversize == 1
    assert f"event larger than maxEventSize: size={size}" in stats.errors


def test_whitespace_is_not_counted_against_the_guard() -> None:
    pretty = orjson.dumps(ev(1), option=orjson.OPT_INDENT_2)
    compact = orjson.dumps(ev(1))
    events, stats = split_audit_payload(pretty, max_event_size=len(compact))
    assert len(events) == 1 and events[0].data == compact


@pytest.mark.parametrize("payload", [b"{", b"\xff\xfe{}", b'{"kind": "Event", "a": "\xc3"}', b""])
def test_malformed_and_invalid_utf8(payload: bytes) -> None:
    events, stats = split_audit_payload(payload, max_event_size=MAX, where="request 7")
    assert events == [] and stats.malformed == 1
    assert stats.errors[0].startswith("request 7: malformed JSON")


def test_event_without_auditid_flows_and_is_counted() -> None:
    obj = ev(1)
    del obj["auditID"]
    events, stats = split_audit_payload(orjson.dumps(obj), max_event_size=MAX)
    assert len(events) == 1 and stats.no_auditid == 1 and stats.dropped == 0
    evt = make_event(events[0])
    assert evt.audit is None  # the guard, decided once
    assert all(f.binder("x" if f.arg else None)(evt) is None for f in FIELDS)
    assert make_event(split_audit_payload(orjson.dumps(ev(2)), max_event_size=MAX)[0][0]).audit
    counters: dict[str, int] = {}
    stats.add_to(counters)
    assert counters == {"events_without_auditid": 1}


def test_jsonl_names_bad_lines() -> None:
    text = b"\n".join([orjson.dumps(ev(1)), b"", b"{oops", orjson.dumps([ev(2), ev(3)]),
                       b'{"kind": "Event", "auditID": "t", "stageTimestamp": "2024-01'])
    events, stats = split_jsonl(text, max_event_size=MAX, where="audit.log")
    assert [e.obj["auditID"] for e in events] == ["id-1", "id-2", "id-3"]
    assert stats.malformed == 2
    assert stats.errors[0].startswith("audit.log:3: malformed JSON")
    assert stats.errors[1].startswith("audit.log:5: malformed JSON")  # truncated last line


def test_counters_names() -> None:
    stats = SplitStats(malformed=1, unrecognized=2, bad_timestamp=3, oversize=4)
    counters = {"drops": 10}
    stats.add_to(counters)
    assert counters == {"drops": 20, "drops_malformed": 1, "drops_unrecognized": 2,
                        "drops_bad_timestamp": 3, "drops_oversize": 4}


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("1970-01-01T00:00:00Z", 0),
        ("1970-01-01T00:00:01.5Z", 1_500_000_000),
        ("2018-10-25T13:58:49.730588Z", 1540475929730588000),
        ("2018-10-25T15:58:49.730588123+02:00", 1540475929730588123),
        ("2018-10-25T08:58:49-05:00", 1540475929000000000),
    ],
)
def test_rfc3339(text: str, ns: int) -> None:
    assert parse_rfc3339_ns(text) == ns


def test_rfc3339_fast_path_every_fraction_length_and_cached_seconds() -> None:
    from datetime import UTC, datetime

    base = int(datetime(2024, 2, 29, 23, 59, 59, tzinfo=UTC).timestamp())
    for digits in range(1, 10):
        frac = "123456789"[:digits]
        text = f"2024-02-29T23:59:59.{frac}Z"
        for _ in range(2):  # the second call reads the cached seconds
            assert parse_rfc3339_ns(text) == base * 10**9 + int(frac.ljust(9, "0"))
    # the second is cached now: what the fast path must still refuse or leave to the parser
    assert parse_rfc3339_ns("2024-02-29T23:59:59.5z") == base * 10**9 + 500_000_000
    assert parse_rfc3339_ns("2024-02-29T23:59:59.5+01:00") == (base - 3600) * 10**9 + 5 * 10**8
    for bad in ("2024-02-29T23:59:59.12a4Z", "2024-02-29T23:59:59.\u0661Z",
                "2024-02-30T25:59:59.1Z", "2024-02-29T23:59:59.1234567890Z",
                "2024-02-29T23:59:59.Z", "2024-02-29T23:59:59.+1Z"):
        with pytest.raises(ValueError):
            parse_rfc3339_ns(bad)


@pytest.mark.parametrize("text", ["2018-10-25", "2018-13-25T00:00:00Z", "2018-10-25T00:00:00",
                                  "2018-10-25T00:00:00.1234567890Z"])
def test_rfc3339_invalid(text: str) -> None:
    with pytest.raises(ValueError):
        parse_rfc3339_ns(text)


def test_every_trace_file_splits(traces: Path) -> None:
    total = 0
    for path in sorted(traces.glob("*.json")):
        events, stats = split_jsonl(path.read_bytes(), max_event_size=MAX, where=path.name)
        if path.name == "fal_01_003.json":
            assert events == [] and stats.unrecognized == 1
            continue
        assert events and stats.dropped == 0, path.name
        total += len(events)
    assert total == 51


def test_k8saudit_event_sets_every_event_slot() -> None:
    """K8sAuditEvent inlines Event.__init__: a slot added to the core's Event must be set too."""
    from pyfalco.api import Event
    from pyfalco_k8saudit import K8sAuditEvent

    (ae,), _ = split_audit_payload(orjson.dumps(ev(1)), max_event_size=MAX)
    evt = make_event(ae, plugin_id=1)
    ref = Event(ae.data, ts=ae.ts, source=SOURCE, plugin_id=1, obj=ae.obj)
    assert isinstance(evt, K8sAuditEvent)
    for slot in Event.__slots__:
        assert getattr(evt, slot) == getattr(ref, slot), slot


def test_large_payloads_pause_the_collector_and_restore_its_state() -> None:
    import gc

    body = orjson.dumps({"kind": "EventList", "items": [ev(i % 10) for i in range(600)]})
    assert len(body) > 64 * 1024
    assert gc.isenabled()
    events, _ = split_audit_payload(body, max_event_size=MAX)
    assert len(events) == 600 and gc.isenabled()
    split_audit_payload(b"{" + body, max_event_size=MAX)  # malformed: restored too
    assert gc.isenabled()
    gc.disable()
    try:
        split_audit_payload(body, max_event_size=MAX)
        assert not gc.isenabled()  # someone else's pause is left alone
    finally:
        gc.enable()


def test_rfc3339_compiled_and_python_parsers_agree() -> None:
    """The strict form goes through pyfalco's compiled parser when built, anything else (and
    every error message) through the Python one: both give the same ns."""
    from pyfalco.speedups import py_parse_rfc3339_ns as _parse_rfc3339_ns
    from pyfalco.speedups import py_rfc3339_ns

    texts = [f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:59:{s:02d}{frac}{tz}"
             for y in (1678, 1969, 1970, 2000, 2024, 2100, 2262, 2263)
             for mo, d in ((1, 1), (2, 28), (2, 29), (12, 31))
             for h, s in ((0, 0), (23, 60))
             for frac in ("", ".5", ".000000001", ".123456789")
             for tz in ("Z", "z", "+00:00", "-05:30", "+14:00")]
    for text in texts:
        try:
            want = _parse_rfc3339_ns(text)
        except ValueError:
            want = None
            with pytest.raises(ValueError):
                parse_rfc3339_ns(text)
        else:
            assert parse_rfc3339_ns(text) == want, text
        strict = py_rfc3339_ns(text)
        assert strict is None or strict == want, text  # the strict form never disagrees
