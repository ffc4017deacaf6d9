"""The ``json.*`` fields (and their ``jevt.*`` aliases), valid for every source.

The payload is read through ``Event.json()``, so it is parsed at most once per event and not at
all when the source handed the parsed object in; ``json.value`` of a top-level member and
``json.rawtime`` ask ``Event.json_member()``/``json_shape()``, which a source may answer without
parsing the whole payload (k8saudit does). A payload that is not a JSON
object or array has no value for any field (upstream: "invalid json format").
"""

from __future__ import annotations

from typing import Any

import orjson
from pyfalco.api import Event, Extractor, FieldArg, FieldSpec, FieldType

_dumps = orjson.dumps
_INDENT = orjson.OPT_INDENT_2


def render_value(value: Any) -> str:
    """Upstream's rendering: a JSON string is its raw text, anything else its compact JSON
    (``201``, ``true``, ``[...]``, ``{...}``, ``null``)."""
    if type(value) is str:
        return value
    return _dumps(value).decode()


def parse_pointer(text: str | None) -> tuple[str | int, ...]:
    """Split a JSON pointer once, at rule-compile time.

    As upstream: the leading ``/`` is optional (``stage`` = ``/stage``), ``~1`` becomes ``/``
    and then ``~0`` becomes ``~`` in each token, and an empty pointer is the whole document.
    Tokens stay strings; whether one indexes an array is decided per event by the value met.
    """
    if not text:
        return ()
    if text.startswith("/"):
        text = text[1:]
    return tuple(tok.replace("~1", "/").replace("~0", "~") for tok in text.split("/"))


def _document(evt: Event) -> Any:
    obj = evt.json()
    if isinstance(obj, (dict, list)):
        return obj
    return None


def _lookup(doc: Any, tokens: tuple[str | int, ...]) -> Any:
    """The value at ``tokens`` or ``_MISSING``. Array steps need a decimal index (RFC 6901:
    no sign, no leading zero); ``-`` is not supported, as upstream."""
    for tok in tokens:
        if type(doc) is dict:
            if tok not in doc:
                return _MISSING
            doc = doc[tok]
        elif type(doc) is list:
            if not (tok.isdigit() and (tok == "0" or tok[0] != "0")):
                return _MISSING
            i = int(tok)
            if i >= len(doc):
                return _MISSING
            doc = doc[i]
        else:
            return _MISSING
    return doc


_MISSING: Any = object()
_ABSENT = Event.JSON_ABSENT
_NOT_OBJECT = Event.JSON_NOT_OBJECT


def _bind_value(arg: Any) -> Extractor:
    tokens = parse_pointer(arg)
    if len(tokens) == 1:
        # The common case (``jevt.value[/stage]``): one dict lookup, no loop.
        (key,) = tokens

        def one_key(evt: Event) -> str | None:
            # json_member: a source may answer it without parsing the whole payload
            v = evt.json_member(key)
            if v is _ABSENT:
                return None
            if v is _NOT_OBJECT:
                doc = evt.json()
                if type(doc) is list:
                    v = _lookup(doc, tokens)
                    return None if v is _MISSING else render_value(v)
                return None
            return v if type(v) is str else render_value(v)

        return one_key

    if not tokens:
        def whole(evt: Event) -> str | None:
            doc = _document(evt)
            return None if doc is None else render_value(doc)

        return whole
    first, rest = tokens[0], tokens[1:]

    def value(evt: Event) -> str | None:
        # the first step through json_member, as one_key; the rest within that member
        v = evt.json_member(first)
        if v is _ABSENT:
            return None
        if v is _NOT_OBJECT:
            doc = evt.json()
            if type(doc) is not list:
                return None
            v = _lookup(doc, tokens)
        else:
            v = _lookup(v, rest)
        return None if v is _MISSING else render_value(v)

    return value


def _extract_value(evt: Event, arg: str | None) -> str | None:
    return _bind_value(arg)(evt)


def _extract_obj(evt: Event) -> str | None:
    doc = _document(evt)
    if doc is None:
        return None
    return _dumps(doc, option=_INDENT).decode()


def _extract_rawtime(evt: Event) -> str | None:
    if evt.json_shape() is None:
        return None
    return str(evt.ts)


def _fields(prefix: str, alias_of: str | None = None) -> list[FieldSpec]:
    def desc(text: str, name: str) -> str:
        return f"Alias of {alias_of}.{name}, kept for older rules." if alias_of else text

    return [
        FieldSpec(
            name=f"{prefix}.value",
            type=FieldType.STRING,
            desc=desc("The value found at a JSON pointer in the event payload "
                      "(json.value[/user/name]). Strings are given as their text, other "
                      "values as compact JSON.", "value"),
            extract=_extract_value,
            arg=FieldArg(required=True, key=True),
            bind=_bind_value,
        ),
        FieldSpec(
            name=f"{prefix}.obj",
            type=FieldType.STRING,
            desc=desc("The whole event payload as indented JSON.", "obj"),
            extract=_extract_obj,
        ),
        FieldSpec(
            name=f"{prefix}.rawtime",
            type=FieldType.STRING,
            desc=desc("The time of the event, in nanoseconds since the epoch, as decimal text.",
                      "rawtime"),
            extract=_extract_rawtime,
        ),
    ]


#: ``json.value``, ``json.obj``, ``json.rawtime`` and the ``jevt.*`` names, as six fields in
#: upstream's order (ids 0-5): Falco lists them all and names them as written in outputs.
FIELDS: list[FieldSpec] = _fields("json") + _fields("jevt", alias_of="json")
