"""Reading rules files: YAML nodes -> collector items, with Falco's decoding rules and messages
(``rule-language.md`` §1.1-§1.11, §1.16).

YAML is composed to nodes (positions and tags kept), never constructed: scalars stay their source
text (``[80, 443]`` is a list of strings) and each key is decoded the way yaml-cpp does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from .results import Location, Position

try:  # libyaml is much faster; fall back to the pure-Python composer
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover
    _Loader = yaml.SafeLoader

NULL_TAG = "tag:yaml.org,2002:null"
_TRUE = {"true", "yes", "on", "y"}
_FALSE = {"false", "no", "off", "n"}


class ItemError(Exception):
    """A reader/collector error for the current item (stops reading the file)."""

    def __init__(self, code: str, message: str, locations: list[Location] | None = None,
                 snippet_offset: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.locations = locations or []


@dataclass
class Ctx:
    """A chain of locations (Falco's rule_loader::context)."""

    locations: list[Location]

    def child(self, item_type: str, item_name: str, node: yaml.Node | None,
              name: str | None = None) -> Ctx:
        parent = self.locations[-1].position if self.locations else Position("")
        if node is None:
            pos = parent
        else:
            m = node.start_mark
            pos = Position(name or parent.name, m.line, m.column, m.index)
        return Ctx([*self.locations, Location(item_type, item_name, pos)])

    def error(self, message: str, code: str = "LOAD_ERR_YAML_VALIDATE") -> ItemError:
        return ItemError(code, message, list(self.locations))


def compose_documents(text: str) -> list[yaml.Node | None]:
    return list(yaml.compose_all(text, Loader=_Loader))


def yaml_error_message(exc: yaml.YAMLError) -> str:
    """A yaml-cpp style text: ``yaml-cpp: error at line L, column C: <problem>``."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    problem = {
        "mapping values are not allowed here": "illegal map value",
        "mapping values are not allowed in this context": "illegal map value",
        "found character '\\t' that cannot start any token": "illegal tab when looking for "
        "indentation",
    }.get(problem, problem)
    if mark is None:
        return f"yaml-cpp: error: {problem}"
    return f"yaml-cpp: error at line {mark.line + 1}, column {mark.column + 1}: {problem}"


def is_null(node: yaml.Node | None) -> bool:
    return node is None or (isinstance(node, yaml.ScalarNode) and node.tag == NULL_TAG)


def mapping(node: yaml.MappingNode) -> dict[str, yaml.Node]:
    out: dict[str, yaml.Node] = {}
    for k, v in node.value:
        key = k.value if isinstance(k, yaml.ScalarNode) else str(k.value)
        out[key] = v
    return out


def decode_str(m: dict[str, yaml.Node], key: str, ctx: Ctx, required: bool = False,
               allow_empty_null: bool = False, non_empty: bool = False) -> str | None:
    node = m.get(key)
    if node is None:
        if required:
            raise ctx.error(f"Item has no mapping for key '{key}'")
        return None
    vctx = ctx.child("value for", key, node)
    if is_null(node):
        if allow_empty_null:
            return None
        raise vctx.error(f"Mapping for key '{key}' is empty")
    if not isinstance(node, yaml.ScalarNode):
        raise vctx.error("Value is not a scalar value")
    if non_empty and node.value == "":
        raise vctx.error("Value must be non-empty")
    return node.value


def decode_bool(m: dict[str, yaml.Node], key: str, ctx: Ctx) -> bool | None:
    text = decode_str(m, key, ctx)
    if text is None:
        return None
    low = text.lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise ctx.child("value for", key, m[key]).error("Can't decode YAML scalar value")


def decode_uint(m: dict[str, yaml.Node], key: str, ctx: Ctx) -> int | None:
    text = decode_str(m, key, ctx)
    if text is None:
        return None
    if not re.fullmatch(r"\+?[0-9]+", text.strip()):
        raise ctx.child("value for", key, m[key]).error("Can't decode YAML scalar value")
    return int(text)


def decode_seq(m: dict[str, yaml.Node], key: str, ctx: Ctx, required: bool = False
               ) -> list[str] | None:
    node = m.get(key)
    if node is None:
        if required:
            raise ctx.error(f"Item has no mapping for key '{key}'")
        return None
    vctx = ctx.child("value for", key, node)
    if is_null(node):
        if required:
            raise vctx.error(f"Mapping for key '{key}' is empty")
        return None
    if not isinstance(node, yaml.SequenceNode):
        raise vctx.error("Value is not a sequence")
    out = []
    for item in node.value:
        if not isinstance(item, yaml.ScalarNode):
            raise vctx.error("sequence value is not scalar")
        out.append(item.value)
    return out


# -- items ------------------------------------------------------------------------------------

@dataclass
class ExceptionItem:
    name: str
    fields: str | list[str] | None  # scalar form, list form, or absent (append)
    comps: str | list[str] | None
    values: list[Any] | None  # list form: list of tuples (elements str | list[str])
    ctx: Ctx
    has_values: bool = False


@dataclass
class ListItem:
    name: str
    items: list[str]
    ctx: Ctx
    append: bool = False


@dataclass
class MacroItem:
    name: str
    condition: str
    ctx: Ctx
    cond_node: yaml.Node | None
    append: bool = False


@dataclass
class RuleItem:
    """A rule item as read: ``props`` holds the keys actually present, decoded."""

    name: str
    ctx: Ctx
    props: dict[str, Any] = field(default_factory=dict)
    nodes: dict[str, yaml.Node] = field(default_factory=dict)
    source: str | None = None
    append_keys: set[str] = field(default_factory=set)
    replace_keys: set[str] = field(default_factory=set)
    deprecated_append: bool = False
    enable_only: bool = False


LIST_KEYS = {"list", "items", "append", "override"}
MACRO_KEYS = {"macro", "condition", "append", "override"}
RULE_KEYS = {"rule", "condition", "output", "desc", "priority", "source", "enabled", "capture",
             "capture_duration", "warn_evttypes", "skip-if-unknown-filter", "tags", "exceptions",
             "override", "append"}
RULE_APPENDABLE = ("condition", "output", "desc", "tags", "exceptions")
RULE_REPLACEABLE = ("condition", "output", "desc", "priority", "capture", "capture_duration",
                    "tags", "exceptions", "enabled", "warn_evttypes", "skip-if-unknown-filter")
DEPRECATED_APPEND = ("'append' key is deprecated. Add an 'append' entry (e.g. 'condition: "
                     "append') under 'override' instead.")


def read_override(m: dict[str, yaml.Node], ctx: Ctx, appendable: tuple[str, ...],
                  replaceable: tuple[str, ...]) -> tuple[set[str], set[str]] | None:
    node = m.get("override")
    if node is None:
        return None
    octx = ctx.child("overrides", "", node)
    if not isinstance(node, yaml.MappingNode):
        raise octx.error("Value is not a map")
    append: set[str] = set()
    replace: set[str] = set()
    for key, val in mapping(node).items():
        op = val.value if isinstance(val, yaml.ScalarNode) else ""
        if op == "append":
            if key not in appendable:
                raise octx.error(f"Key '{key}' cannot be appended to, use 'replace' instead")
            append.add(key)
        elif op == "replace":
            if key not in replaceable:
                raise octx.error(f"Key '{key}' cannot be replaced")
            replace.add(key)
        else:
            allowed = ("append " if key in appendable else "") + (
                "replace " if key in replaceable else "")
            raise octx.error(f"Invalid override operation for key '{key}': '{op}'. Allowed "
                             f"values are: {allowed}")
    return append, replace


def read_exceptions(node: yaml.Node, ctx: Ctx, append: bool, warn: Any) -> list[ExceptionItem]:
    ectx = ctx.child("exceptions", "", node)
    if is_null(node):
        return []
    if not isinstance(node, yaml.SequenceNode):
        raise ectx.error("Rule exceptions must be a sequence")
    out: list[ExceptionItem] = []
    seen: set[str] = set()
    for ex_node in node.value:
        xctx = ectx.child("exception", "", ex_node)
        if not isinstance(ex_node, yaml.MappingNode):
            raise xctx.error("Rule exception must be a mapping")
        m = mapping(ex_node)
        name = decode_str(m, "name", xctx, required=True, non_empty=True)
        assert name is not None
        xctx = ectx.child("exception", name, ex_node)
        if name in seen:
            warn("LOAD_EXCEPTION_NAME_NOT_UNIQUE",
                 f"Multiple definitions of exception '{name}' in the same rule", xctx)
        seen.add(name)
        if not append and "fields" not in m:
            raise xctx.error("Item has no mapping for key 'fields'")
        fields = _str_or_seq(m, "fields", xctx)
        comps = _str_or_seq(m, "comps", xctx)
        values = None
        vnode = m.get("values")
        if vnode is not None and not is_null(vnode):
            vctx = xctx.child("exception values", "", vnode)
            if not isinstance(vnode, yaml.SequenceNode):
                raise vctx.error("Rule exception values must be a sequence")
            values = []
            for v in vnode.value:
                values.append(_exception_value(v, vctx))
        out.append(ExceptionItem(name, fields, comps, values, xctx, vnode is not None))
    return out


def _str_or_seq(m: dict[str, yaml.Node], key: str, ctx: Ctx) -> str | list[str] | None:
    node = m.get(key)
    if node is None or is_null(node):
        return None
    if isinstance(node, yaml.ScalarNode):
        if node.value == "":
            raise ctx.child("value for", key, node).error("Value must be non-empty")
        return node.value
    return decode_seq(m, key, ctx)


def _exception_value(node: yaml.Node, ctx: Ctx) -> Any:
    """A values entry: a scalar, or a sequence whose elements are scalars or sequences."""
    vctx = ctx.child("exception value", "", node)
    if isinstance(node, yaml.ScalarNode):
        return node.value
    if isinstance(node, yaml.SequenceNode):
        out: list[Any] = []
        for el in node.value:
            if isinstance(el, yaml.ScalarNode):
                out.append(el.value)
            elif isinstance(el, yaml.SequenceNode):
                inner = []
                for x in el.value:
                    if not isinstance(x, yaml.ScalarNode):
                        raise vctx.error("sequence value is not scalar")
                    inner.append(x.value)
                out.append(inner)
            else:
                raise vctx.error("Value is not a scalar value")
        return out
    raise vctx.error("Value is not a scalar value")
