"""``pyfalco.api.Event``: the JSON payload helpers the json fields rely on."""

from __future__ import annotations

import pytest
from pyfalco.api import Event


@pytest.mark.parametrize("data, member, shape", [
    (b'{"a": 1, "b": null}', {"a": 1, "b": None, "c": Event.JSON_ABSENT}, "object"),
    (b'[{"a": 1}]', {"a": Event.JSON_NOT_OBJECT, "0": Event.JSON_NOT_OBJECT}, "array"),
    (b'"text"', {"a": Event.JSON_NOT_OBJECT}, None),
    (b"not json", {"a": Event.JSON_NOT_OBJECT}, None),
])
def test_json_member_and_shape(data: bytes, member: dict, shape: str | None) -> None:
    evt = Event(data, source="x")
    for key, expected in member.items():
        assert evt.json_member(key) is expected or evt.json_member(key) == expected
    assert evt.json_shape() == shape


def test_json_member_reads_the_object_a_source_handed_in() -> None:
    evt = Event(b"ignored", source="x", obj={"stage": "ResponseComplete"})
    assert evt.json_member("stage") == "ResponseComplete"
    assert repr(Event.JSON_ABSENT) == "JSON_ABSENT"
