"""The falco.yaml JSON schema and its validation, as Falco does it: per loaded file, weak types
(``"true"`` satisfies boolean, ``"5"`` integer, any scalar satisfies string — YAML scalars are text
until read), only the top-most error reported, and **never fatal** (falco-core.md §4.3): the status
is logged after ``Falco initialized with configuration files:``. Our messages add ``file:line``.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Mapping
from importlib.resources import files
from typing import Any

import jsonschema
from jsonschema import exceptions as js_exc

from .yamlfile import YamlDocument

VALIDATION_OK = "ok"
VALIDATION_NONE = "none"


@functools.cache
def _base_schema() -> dict[str, Any]:
    text = files("pyfalco.config").joinpath("falco_config_schema.json").read_text("utf-8")
    return json.loads(text)


def config_schema(engine_kinds: Mapping[str, Mapping[str, Any] | None] | None = None) -> dict:
    """The schema of falco.yaml; ``engine_kinds`` (kind name -> ``engine.<kind>`` schema or None)
    adds the sections of the engine kinds installed plugins provide."""
    schema = copy.deepcopy(_base_schema())
    if engine_kinds:
        engine_props = schema["properties"]["engine"]["properties"]
        for name, sub in engine_kinds.items():
            engine_props.setdefault(name, dict(sub) if sub else {"type": ["object", "null"]})
    return schema


_BOOL_TEXT = frozenset({"true", "false", "yes", "no", "on", "off", "y", "n"})


def _is_weak_bool(checker: Any, value: Any) -> bool:
    return isinstance(value, bool) or (isinstance(value, str) and value.lower() in _BOOL_TEXT)


def _is_weak_int(checker: Any, value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    if isinstance(value, float):
        return value.is_integer()
    if isinstance(value, str):
        try:
            int(value, 0)
        except ValueError:
            return False
        return True
    return False


def _is_weak_number(checker: Any, value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return False
        return True
    return False


def _is_weak_string(checker: Any, value: Any) -> bool:
    return isinstance(value, str | int | float | bool)


_WEAK_TYPES = jsonschema.Draft6Validator.TYPE_CHECKER.redefine_many(
    {
        "boolean": _is_weak_bool,
        "integer": _is_weak_int,
        "number": _is_weak_number,
        "string": _is_weak_string,
    }
)
WeakValidator = jsonschema.validators.extend(jsonschema.Draft6Validator, type_checker=_WEAK_TYPES)


def context(path: Any) -> str:
    """valijson's context text: ``<root>[webserver][listen_port]``."""
    return "<root>" + "".join(f"[{p}]" for p in path)


def validate_document(doc: YamlDocument, schema: Mapping[str, Any]) -> str:
    """``ok`` or ``failed for <context>: <description> (<file>:<line>)`` (top-most error)."""
    validator = WeakValidator(schema)
    error = js_exc.best_match(validator.iter_errors(doc.data))
    if error is None:
        return VALIDATION_OK
    path = tuple(error.absolute_path)
    where = doc.line_of(path)
    loc = f" ({doc.path}:{where})" if where else f" ({doc.path})"
    return f"failed for {context(path)}: {error.message}{loc}"
