"""The rules-file JSON schema (Falco's ``rule_json_schema.h`` role): printed by
``--rule-schema`` and checked on every rules content loaded. As in Falco, schema failures are only
reported (``schema_valid`` false, ``schema_warnings``); they never fail a load. Validation uses
weak typing, as valijson does over yaml-cpp: every YAML scalar is text, and text that reads as a
number or a boolean satisfies those types.
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any

import yaml
from jsonschema import Draft6Validator, validators

# libyaml when present: this parse runs on every rules content, beside the reader's own
_YAML_LOADER = getattr(yaml, "CBaseLoader", yaml.BaseLoader)
_BOOLS = frozenset({"true", "false", "yes", "no", "on", "off", "y", "n"})


def rule_schema() -> dict[str, Any]:
    """The rules-file schema (a fresh copy: callers may change it)."""
    return json.loads(_schema_text())


@cache
def _schema_text() -> str:
    return files(__package__).joinpath("rules_schema.json").read_text("utf-8")


def _is_number(v: Any) -> bool:
    if isinstance(v, bool):
        return False
    if isinstance(v, (int, float)):
        return True
    if isinstance(v, str):
        try:
            float(v)
        except ValueError:
            return False
        return True
    return False


def _is_integer(v: Any) -> bool:
    if isinstance(v, bool):
        return False
    if isinstance(v, int):
        return True
    if isinstance(v, str):
        try:
            int(v, 0)
        except ValueError:
            return False
        return True
    return False


_WEAK_TYPES = Draft6Validator.TYPE_CHECKER.redefine_many({
    "number": lambda _c, v: _is_number(v),
    "integer": lambda _c, v: _is_integer(v),
    "boolean": lambda _c, v: isinstance(v, bool) or (isinstance(v, str) and v.lower() in _BOOLS),
})
_WeakValidator = validators.extend(Draft6Validator, type_checker=_WEAK_TYPES)


@cache
def _validator() -> Any:
    return _WeakValidator(json.loads(_schema_text()))


def _context(path: Any) -> str:
    """valijson's error context: ``<root>`` then ``[index]`` / ``[key]`` per step."""
    return "<root>" + "".join(f"[{p}]" for p in path)


def validate_text(text: str) -> list[str] | None:
    """Schema warnings of one rules content (empty = valid), or None when the text is not YAML
    (the reader reports that error; there is nothing to validate)."""
    try:
        docs = [d for d in yaml.load_all(text, Loader=_YAML_LOADER) if d is not None]
    except yaml.YAMLError:
        return None
    warnings: list[str] = []
    for doc in docs:
        for err in _validator().iter_errors(doc):
            warnings.append(f"failed for {_context(err.absolute_path)}: {err.message}")
    return warnings
