"""The collector: Falco's define / append / replace / enable semantics with the ordering and
visibility counters of ``rule-language.md`` §1.12, fed item by item by the reader."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from ..priority import Priority
from . import reader as rd
from .parser import is_comp_operator
from .reader import Ctx, ExceptionItem

ENGINE_VERSION = (0, 63, 0)
_LIST_NAME = re.compile(r"[^()\"'\s=,]+")
_MACRO_NAME = re.compile(r"[a-zA-Z]+[a-zA-Z0-9_]*")


@dataclass
class ListInfo:
    name: str
    items: list[str]
    ctx: Ctx
    index: int
    visibility: int
    used: bool = False


@dataclass
class MacroInfo:
    name: str
    condition: str
    ctx: Ctx
    cond_node: yaml.Node | None
    index: int
    visibility: int
    used: bool = False


@dataclass
class RuleInfo:
    name: str
    ctx: Ctx
    index: int
    visibility: int
    condition: str = ""
    cond_node: yaml.Node | None = None
    output: str = ""
    output_node: yaml.Node | None = None
    desc: str = ""
    priority: Priority = Priority.DEBUG
    source: str = "syscall"
    enabled: bool = True
    tags: set[str] = field(default_factory=set)
    exceptions: list[ExceptionItem] = field(default_factory=list)
    warn_evttypes: bool = True
    skip_if_unknown_filter: bool = False
    capture: bool = False
    capture_duration: int = 0
    unknown_source: bool = False
    #: ``output`` as written when the compiler removed ``%container.info`` from it
    written_output: str = ""


@dataclass
class PluginRequirement:
    alternatives: list[tuple[str, str]]
    ctx: Ctx


class Collector:
    """Lists, macros and rules collected from every rules content, in definition order."""

    def __init__(self, known_sources: set[str]) -> None:
        self.known_sources = known_sources
        self.lists: dict[str, ListInfo] = {}
        self.macros: dict[str, MacroInfo] = {}
        self.rules: dict[str, RuleInfo] = {}
        self.cur_index = 0
        self.required_engine_version: tuple[int, int, int] = (0, 0, 0)
        self.plugin_requirements: list[PluginRequirement] = []
        #: warnings callback set by the loader: (code, message, ctx)
        self.warn: Any = None

    def _next(self) -> int:
        self.cur_index += 1
        return self.cur_index

    # -- engine and plugin versions ------------------------------------------------------
    def engine_version(self, text: str, ctx: Ctx) -> None:
        if re.fullmatch(r"\+?[0-9]+", text.strip()) and int(text) < 2**32:
            req = (ENGINE_VERSION[0], int(text), ENGINE_VERSION[2])
        else:
            m = re.match(r"\s*(\d+)\.(\d+)\.(\d+)", text)
            if m is None:
                raise ctx.error(f"Unable to parse engine version '{text}' as a semver string. "
                                "Expected \"x.y.z\" semver format.")
            req = (int(m.group(1)), int(m.group(2)), int(m.group(3)))
        if req[0] != ENGINE_VERSION[0] or req > ENGINE_VERSION:
            raise ctx.error(
                "Rules require engine version " + ".".join(map(str, req))
                + ", but engine version is " + ".".join(map(str, ENGINE_VERSION)),
                code="LOAD_ERR_VALIDATE")
        self.required_engine_version = max(self.required_engine_version, req)

    def plugin_versions(self, node: yaml.Node, ctx: Ctx) -> None:
        if not isinstance(node, yaml.SequenceNode):
            raise ctx.error("Value of required_plugin_versions must be a sequence")
        for entry in node.value:
            ectx = ctx.child("required plugin versions entry", "", entry)
            if not isinstance(entry, yaml.MappingNode):
                raise ectx.error("Plugin version must be a mapping")
            m = rd.mapping(entry)
            name = rd.decode_str(m, "name", ectx, required=True)
            version = rd.decode_str(m, "version", ectx, required=True)
            assert name is not None and version is not None
            alts = [(name, version)]
            anode = m.get("alternatives")
            if anode is not None:
                if not isinstance(anode, yaml.SequenceNode):
                    raise ectx.error("Value of plugin version alternatives must be a sequence")
                for alt in anode.value:
                    actx = ectx.child("required plugin versions alternative", "", alt)
                    if not isinstance(alt, yaml.MappingNode):
                        raise actx.error("Plugin version alternative must be a mapping")
                    am = rd.mapping(alt)
                    an = rd.decode_str(am, "name", actx, required=True)
                    av = rd.decode_str(am, "version", actx, required=True)
                    assert an is not None and av is not None
                    alts.append((an, av))
            seen = set()
            for n, v in alts:
                if parse_semver(v) is None:
                    raise ectx.error(f"Invalid required version '{v}' for plugin '{n}'",
                                     code="LOAD_ERR_VALIDATE")
                if n in seen:
                    raise ectx.error(
                        f"Defined multiple alternative version requirements for plugin '{n}'",
                        code="LOAD_ERR_VALIDATE")
                seen.add(n)
            self.plugin_requirements.append(PluginRequirement(alts, ectx))

    # -- lists / macros -------------------------------------------------------------------
    def define_list(self, item: rd.ListItem) -> None:
        if not _LIST_NAME.fullmatch(item.name):
            self.warn("LOAD_INVALID_LIST_NAME",
                      "List has an invalid name. List names should match a regular expression: "
                      "([^()\"'[:space:]=,]+)", item.ctx)
        old = self.lists.get(item.name)
        idx = self._next()
        if item.append:
            if old is None:
                raise item.ctx.error(
                    "List uses 'append' or 'override.items: append' but no list by that name "
                    "already exists", code="LOAD_ERR_VALIDATE")
            old.items = old.items + item.items
            old.visibility = idx
            return
        if old is None:
            self.lists[item.name] = ListInfo(item.name, list(item.items), item.ctx, idx, idx)
        else:
            old.items = list(item.items)
            old.ctx = item.ctx
            old.visibility = idx

    def define_macro(self, item: rd.MacroItem) -> None:
        if not _MACRO_NAME.fullmatch(item.name):
            self.warn("LOAD_INVALID_MACRO_NAME",
                      "Macro has an invalid name. Macro names should match a regular expression: "
                      "([a-zA-Z]+[a-zA-Z0-9_]*)", item.ctx)
        old = self.macros.get(item.name)
        idx = self._next()
        if item.append:
            if old is None:
                raise item.ctx.error(
                    "Macro uses 'append' or 'override.condition: append' but no macro by that "
                    "name already exists", code="LOAD_ERR_VALIDATE")
            if item.condition:
                old.condition = old.condition + " " + item.condition
            old.visibility = idx
            return
        if old is None:
            self.macros[item.name] = MacroInfo(item.name, item.condition, item.ctx,
                                               item.cond_node, idx, idx)
        else:
            old.condition = item.condition
            old.ctx = item.ctx
            old.cond_node = item.cond_node
            old.visibility = idx

    # -- rules ----------------------------------------------------------------------------
    def define_rule(self, item: rd.RuleItem) -> None:
        p = item.props
        old = self.rules.get(item.name)
        src = item.source if item.source is not None else "syscall"
        if old is not None and old.source != src and not old.unknown_source:
            raise item.ctx.error("Rule has been re-defined with a different source",
                                 code="LOAD_ERR_VALIDATE")
        idx = self._next()
        info = RuleInfo(item.name, item.ctx, old.index if old else idx, idx)
        info.condition = p["condition"]
        info.cond_node = item.nodes.get("condition")
        info.output = p["output"].strip()
        info.output_node = item.nodes.get("output")
        info.desc = p["desc"]
        info.priority = p["priority"]
        info.source = src
        info.enabled = p.get("enabled", True)
        info.tags = set(p.get("tags", ()))
        info.warn_evttypes = p.get("warn_evttypes", True)
        info.skip_if_unknown_filter = p.get("skip-if-unknown-filter", False)
        info.capture = p.get("capture", False)
        info.capture_duration = p.get("capture_duration", 0)
        exceptions = p.get("exceptions", [])
        for ex in exceptions:
            self._validate_exception(ex, info, new=True)
        info.exceptions = list(exceptions)
        if src not in self.known_sources:
            info.unknown_source = True
            self.warn("LOAD_UNKNOWN_SOURCE", f"Unknown source {src}, skipping", item.ctx)
        self.rules[item.name] = info

    def _check_source(self, item: rd.RuleItem, old: RuleInfo) -> None:
        if item.source is not None and item.source != old.source:
            raise item.ctx.error("Rule has been re-defined with a different source",
                                 code="LOAD_ERR_VALIDATE")

    def append_rule(self, item: rd.RuleItem, keys: set[str]) -> None:
        old = self.rules.get(item.name)
        if old is None:
            key = sorted(keys)[0] if keys else "condition"
            raise item.ctx.error(
                f"Rule uses 'append' or 'override.{key}: append' but no rule by that name "
                "already exists", code="LOAD_ERR_VALIDATE")
        self._check_source(item, old)
        p = item.props
        if not any(k in p for k in keys) or not keys:
            raise item.ctx.error("Appended rule must have exceptions or condition property",
                                 code="LOAD_ERR_VALIDATE")
        idx = self._next()
        old.visibility = idx
        for key in ("condition", "output", "desc"):
            if key in keys and p.get(key):
                setattr(old, key, getattr(old, key) + " " + p[key])
        if "tags" in keys and "tags" in p:
            old.tags |= set(p["tags"])
        if "exceptions" in keys and "exceptions" in p:
            for ex in p["exceptions"]:
                self._append_exception(old, ex)

    def _append_exception(self, rule: RuleInfo, ex: ExceptionItem) -> None:
        existing = next((e for e in rule.exceptions if e.name == ex.name), None)
        if existing is not None:
            if ex.fields is not None:
                raise ex.ctx.error("Can not append exception fields to existing exception, "
                                   "only values", code="LOAD_ERR_VALIDATE")
            if ex.comps is not None:
                raise ex.ctx.error("Can not append exception comps to existing exception, "
                                   "only values", code="LOAD_ERR_VALIDATE")
            if not ex.values:
                self.warn("LOAD_APPEND_NO_VALUES", "Overriding/appending exception with no "
                          "values", ex.ctx)
            existing.values = (existing.values or []) + (ex.values or [])
            return
        if ex.fields is None:
            raise ex.ctx.error("Rule exception must have fields property with a list of fields",
                               code="LOAD_ERR_VALIDATE")
        if ex.values is None:
            if not ex.has_values:
                raise ex.ctx.error(
                    "Rule exception must have values property with a list of values",
                    code="LOAD_ERR_VALIDATE")
        self._validate_exception(ex, rule, new=True)
        rule.exceptions.append(ex)

    def replace_rule(self, item: rd.RuleItem, keys: set[str]) -> None:
        old = self.rules.get(item.name)
        if old is None:
            key = sorted(keys)[0] if keys else "condition"
            raise item.ctx.error(
                f"An 'override.{key}: replace' to a rule was requested but no rule by that name "
                "already exists", code="LOAD_ERR_VALIDATE")
        self._check_source(item, old)
        p = item.props
        if not any(k in p for k in keys):
            raise item.ctx.error("The rule must have at least one field that can be replaced",
                                 code="LOAD_ERR_VALIDATE")
        old.visibility = self._next()
        mapping = {"skip-if-unknown-filter": "skip_if_unknown_filter"}
        for key in keys:
            if key not in p:
                continue
            val = p[key]
            if key == "tags":
                val = set(val)
            elif key == "exceptions":
                val = list(val)
            elif key == "output":
                val = val.strip()
            setattr(old, mapping.get(key, key.replace("-", "_")), val)
            if key == "condition":
                old.cond_node = item.nodes.get("condition")
            if key == "output":
                old.output_node = item.nodes.get("output")

    def enable_rule(self, item: rd.RuleItem) -> None:
        old = self.rules.get(item.name)
        if old is None:
            raise item.ctx.error("Rule has 'enabled' key but no rule by that name already "
                                 "exists", code="LOAD_ERR_VALIDATE")
        self._check_source(item, old)
        old.visibility = self._next()
        old.enabled = item.props["enabled"]

    def _validate_exception(self, ex: ExceptionItem, rule: RuleInfo, new: bool) -> None:
        ctx = ex.ctx
        if ex.fields is None:
            raise ctx.error("Rule exception item must have fields property with a list of "
                            "fields", code="LOAD_ERR_VALIDATE")
        if isinstance(ex.fields, list):
            if ex.comps is None:
                ex.comps = ["="] * len(ex.fields)
            if not isinstance(ex.comps, list) or len(ex.comps) != len(ex.fields):
                raise ctx.error("Fields and comps lists must have equal length",
                                code="LOAD_ERR_VALIDATE")
            ex.comps = [c.strip(" \t\n\r\f\v") for c in ex.comps]
            for c in ex.comps:
                if not is_comp_operator(c):
                    raise ctx.error(f"'{c}' is not a supported comparison operator",
                                    code="LOAD_ERR_VALIDATE")
            fields = ex.fields
        else:
            if ex.comps is None:
                ex.comps = "in"
            if isinstance(ex.comps, list):
                raise ctx.error("Fields and comps must both be strings",
                                code="LOAD_ERR_VALIDATE")
            ex.comps = ex.comps.strip(" \t\n\r\f\v")
            if ex.comps not in ("in", "pmatch", "intersects") and not (
                    " " in ex.comps and is_comp_operator(ex.comps)):
                raise ctx.error(
                    "When fields is a single value, comps must be one of (in, pmatch, "
                    "intersects) or a modifier operator (e.g. startswith oneof)",
                    code="LOAD_ERR_VALIDATE")
            fields = [ex.fields]
        if rule.source in self.known_sources and self.field_validator is not None:
            for f in fields:
                if not self.field_validator(rule.source, f):
                    raise ctx.error(f"'{f}' is not a supported filter field",
                                    code="LOAD_ERR_VALIDATE")

    #: set by the loader: (source, field text) -> bool
    field_validator: Any = None


def parse_semver(text: str) -> tuple[int, int, int] | None:
    m = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)(?:[-+].*)?", text.strip())
    if m is None:
        return None
    return int(m.group(1)), int(m.group(2)), int(m.group(3))
