"""json.* / jevt.* extraction (upstream json plugin 0.7.4 semantics)."""

from __future__ import annotations

import orjson
import pyfalco_json.plugin
import pytest
from pyfalco.api import Event
from pyfalco.plugins import collect, get_plugin_manager
from pyfalco_json import FIELDS, parse_pointer

BY_NAME = {f.name: f for f in FIELDS}

DOC = {
    "stage": "ResponseComplete",
    "annotations": {"authorization.k8s.io/decision": "allow"},
    "a/~b": 1,
    "requestObject": {"ephemeralContainers": [{"name": "debugger", "image": "busybox"}]},
    "responseStatus": {"code": 201},
    "flag": True,
    "nothing": None,
    "list": [1, "two"],
}


def value(ptr: str, evt: Event):
    return BY_NAME["jevt.value"].binder(ptr)(evt)


@pytest.fixture
def evt() -> Event:
    return Event(orjson.dumps(DOC), ts=1540476552581541000, source="k8s_audit")


@pytest.mark.parametrize(
    ("ptr", "expected"),
    [
        ("/stage", "ResponseComplete"),
        ("stage", "ResponseComplete"),  # the leading / is optional
        ("/annotations/authorization.k8s.io~1decision", "allow"),  # ~1 is /
        ("/a~1~0b", "1"),  # ~1 then ~0: "a/~b"
        ("/requestObject/ephemeralContainers/0/name", "debugger"),
        ("/responseStatus/code", "201"),  # non-strings are compact JSON
        ("/flag", "true"),
        ("/nothing", "null"),  # null exists
        ("/list", '[1,"two"]'),
        ("/list/1", "two"),
        ("/list/2", None),  # out of range
        ("/list/01", None),  # leading zero is not an index
        ("/list/-", None),  # not supported, as upstream
        ("/missing", None),
        ("/stage/x", None),
    ],
)
def test_pointer(evt: Event, ptr: str, expected: str | None) -> None:
    assert value(ptr, evt) == expected


def test_empty_pointer_is_the_whole_document(evt: Event) -> None:
    assert orjson.loads(value("", evt)) == DOC


def test_obj_is_indented_and_rawtime_is_the_timestamp(evt: Event) -> None:
    obj = BY_NAME["json.obj"].binder()(evt)
    assert obj.startswith('{\n  "stage": "ResponseComplete",\n')
    assert orjson.loads(obj) == DOC
    assert BY_NAME["jevt.rawtime"].binder()(evt) == "1540476552581541000"


@pytest.mark.parametrize("payload", [b"", b"not json", b'"a string"', b"42", b"{broken", b"\xff"])
def test_non_json_payloads_have_no_value(payload: bytes) -> None:
    evt = Event(payload, ts=5, source="other")
    for name in ("json.value", "json.obj", "json.rawtime"):
        f = BY_NAME[name]
        assert f.binder("/a" if f.arg else None)(evt) is None


def test_parsed_object_handed_in_is_used() -> None:
    evt = Event(b"ignored", ts=1, obj={"k": "v"})
    assert value("/k", evt) == "v"


def test_parse_pointer() -> None:
    assert parse_pointer("") == ()
    assert parse_pointer("/a/b~1c/~0") == ("a", "b/c", "~")


def test_registers_for_every_source() -> None:
    pm, failures = get_plugin_manager(autoload=False, plugins=[pyfalco_json.plugin])
    reg = collect(pm, failures)
    info = reg.plugins["json"]
    assert info.id == 0 and info.required_version == "0.7.4"
    (table,) = reg.field_tables
    assert table.sources == ()  # every source
    assert [f.name for f in table.fields] == [
        "json.value", "json.obj", "json.rawtime", "jevt.value", "jevt.obj", "jevt.rawtime"]
    assert reg.sources == []
