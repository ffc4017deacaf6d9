"""Falco's alert formats: text line, JSON keys and time formats, internal messages."""

from __future__ import annotations

import ipaddress
import json

import pytest
from pyfalco.outputs import AlertFormatter, OutputsConfig, evt_time, evt_time_iso8601, json_time
from pyfalco.outputs.config import ChannelConfig
from pyfalco.priority import Priority

from .conftest import make_alert

TS = 1685022245478445995


def formatter(**kw) -> AlertFormatter:
    return AlertFormatter(OutputsConfig(channels=(ChannelConfig("stdout"),), hostname="h", **kw))


def test_time_formats():
    assert evt_time(TS) == "13:44:05.478445995"
    assert evt_time_iso8601(TS) == "2023-05-25T13:44:05.478445995+0000"
    assert json_time(TS) == "2023-05-25T13:44:05.478445995Z"
    assert evt_time(1_000_000_000 * 3600 + 5) == "01:00:00.000000005"


def test_evt_time_uses_local_time_zone(monkeypatch):
    import time

    assert evt_time(TS + 10**9 * 7) == "13:44:12.478445995"  # UTC (conftest), now cached
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    try:
        # the per-second cache must not return the UTC rendering of the same second
        assert evt_time(TS + 10**9 * 7) == "19:14:12.478445995"
    finally:
        monkeypatch.setenv("TZ", "UTC")
        time.tzset()


def test_text_line():
    line = formatter().format(make_alert(priority=Priority.WARNING, output="x (a=<NA>)"))
    assert line == "13:44:05.478445995: Warning x (a=<NA>)"
    iso = formatter(time_format_iso_8601=True).format(make_alert(output="x"))
    assert iso == "2023-05-25T13:44:05.478445995+0000: Critical x"


@pytest.mark.parametrize("prio,title", [(Priority.EMERGENCY, "Emergency"),
                                        (Priority.INFORMATIONAL, "Informational"),
                                        (Priority.DEBUG, "Debug")])
def test_priority_titles(prio, title):
    assert formatter().format(make_alert(priority=prio, output="o")).endswith(f": {title} o")


def test_json_alert_matches_falco_example():
    alert = make_alert(output="A shell was spawned", output_fields={"proc.name": "sh"})
    line = formatter(json_output=True).format(alert)
    # Falco's example line (falco-core.md §7.3), byte for byte: sorted keys, compact.
    assert line == (
        '{"hostname":"h","output":"13:44:05.478445995: Critical A shell was spawned",'
        '"output_fields":{"evt.time":1685022245478445995,"proc.name":"sh"},'
        '"priority":"Critical","rule":"Terminal shell in container","source":"syscall",'
        '"tags":["container","shell"],"time":"2023-05-25T13:44:05.478445995Z"}'
    )


def test_json_include_flags():
    alert = make_alert(output="msg", tags=("b", "a"))
    doc = json.loads(formatter(json_output=True, json_include_message_property=True).format(alert))
    assert doc["message"] == "msg" and doc["tags"] == ["a", "b"]
    doc = json.loads(formatter(json_output=True, json_include_output_property=False,
                               json_include_tags_property=False,
                               json_include_output_fields_property=False).format(alert))
    assert sorted(doc) == ["hostname", "priority", "rule", "source", "time"]


def test_json_iso8601_prefix_field():
    doc = json.loads(formatter(json_output=True, time_format_iso_8601=True).format(make_alert()))
    assert doc["output_fields"]["evt.time.iso8601"] == TS  # raw ns, as Falco's golden file
    assert "evt.time" not in doc["output_fields"]
    # a prefix evt.time put in by the engine is replaced; a rule's own %evt.time text stays
    with_prefix = make_alert(output_fields={"evt.time": TS, "proc.name": "sh"})
    doc = json.loads(formatter(json_output=True, time_format_iso_8601=True).format(with_prefix))
    assert doc["output_fields"] == {"evt.time.iso8601": TS, "proc.name": "sh"}
    own = make_alert(output_fields={"evt.time": "13:44:05.478445995"})
    doc = json.loads(formatter(json_output=True, time_format_iso_8601=True).format(own))
    assert doc["output_fields"]["evt.time"] == "13:44:05.478445995"
    assert doc["output"].startswith("2023-05-25T13:44:05.478445995+0000: Critical ")


def test_json_typed_values():
    fields = {"fd.sip": ipaddress.ip_address("10.0.0.1"),
              "fd.net": ipaddress.ip_network("10.0.0.0/8"),
              "evt.buffer": b"\xff\x00ab", "proc.pid": 42, "proc.name": None,
              "ka.req.pod.containers.image": ["a", "b"], "x.ok": True, "x.d": 1.5}
    doc = json.loads(formatter(json_output=True).format(make_alert(output_fields=fields)))
    of = doc["output_fields"]
    assert of["fd.sip"] == "10.0.0.1" and of["fd.net"] == "10.0.0.0/8"
    assert of["evt.buffer"] == "\ufffd\x00ab"
    assert of["proc.pid"] == 42 and of["proc.name"] is None and of["x.ok"] is True
    assert of["ka.req.pod.containers.image"] == ["a", "b"] and of["x.d"] == 1.5


def test_json_never_fails_on_undecodable_text():
    bad = b"caf\xe9".decode("utf-8", "surrogateescape")
    line = formatter(json_output=True).format(make_alert(output=bad, output_fields={"f": bad}))
    doc = json.loads(line)
    assert doc["output_fields"]["f"] == "caf\ufffd"


def test_internal_message_text_and_json():
    fields = {"n_drops": "12", "ebpf_enabled": "0", "n": 3}
    text = formatter().format_internal(TS, Priority.DEBUG, "Falco internal: syscall event drop. "
                                       "12 system calls dropped in last second.",
                                       "Falco internal: syscall event drop", fields)
    assert text == ("13:44:05.478445995: Debug Falco internal: syscall event drop. 12 system "
                    'calls dropped in last second. (ebpf_enabled="0" n=3 n_drops="12")')
    # internal text keeps %evt.time even with time_format_iso_8601
    assert formatter(time_format_iso_8601=True).format_internal(
        TS, Priority.DEBUG, "m", "r", {}).startswith("13:44:05.478445995: Debug m (")
    line = formatter(json_output=True, json_include_output_property=False).format_internal(
        TS, Priority.CRITICAL, "Falco internal: hot restart failure: boom",
        "Falco internal: hot restart failure", {})
    assert line == ('{"hostname":"h","output":"Falco internal: hot restart failure: boom",'
                    '"output_fields":{},"priority":"Critical",'
                    '"rule":"Falco internal: hot restart failure","source":"internal",'
                    '"time":"2023-05-25T13:44:05.478445995Z"}')


def test_internal_fields_must_be_flat():
    with pytest.raises(ValueError, match="output fields must be key-value maps"):
        formatter().format_internal(TS, Priority.DEBUG, "m", "r", {"a": {"b": 1}})
