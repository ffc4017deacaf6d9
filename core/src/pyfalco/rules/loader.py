"""Loading: read each rules content into the collector, then compile lists -> macros -> rules
(``rule-language.md`` §1, Falco's ``rule_loader`` reader/collector/compiler)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml

from ..priority import Priority
from . import ast
from . import reader as rd
from .collector import Collector, MacroInfo, RuleInfo
from .compile import CompileWarnings, ConditionCompiler
from .fields import FieldCatalog
from .parser import ParseError, is_list_comp, parse
from .reader import Ctx, ItemError
from .results import FileResult, Location, Message, Position, snippet
from .values import CompileError

_BLANKS = " \t\n\r"
_DELIMS = _BLANKS + "(),="
_UNKNOWN_FILTER_MARKERS = ("nonexistent field", "invalid formatting token",
                           "unknown event type", "unknown filter:")


@dataclass
class RulesContent:
    """One rules file: ``name`` as shown in messages, ``text`` its content."""

    name: str
    text: str


@dataclass
class CompiledCondition:
    """A rule's condition after macro resolution, typed."""

    ast: ast.Node
    ir: Any
    warnings: CompileWarnings


@dataclass
class LoadedRule:
    info: RuleInfo
    condition_text: str  # after exceptions and list substitution
    compiled: CompiledCondition | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def quote_item(item: str) -> str:
    """Falco's ``quote_item``: wrap in double quotes when the item has a space and is not
    already quoted."""
    if " " in item and not item.startswith(("'", '"')):
        return f'"{item}"'
    return item


def substitute_list(cond: str, name: str, items: list[str]) -> tuple[str, bool]:
    """Replace every delimited occurrence of list ``name`` in ``cond`` with its items."""
    used = False
    start = cond.find(name)
    sub_text = ", ".join(items)
    while start != -1:
        end = start + len(name)
        if ((start == 0 or cond[start - 1] in _DELIMS)
                and (end >= len(cond) or cond[end] in _DELIMS)):
            while start > 0 and cond[start - 1] in _BLANKS:
                start -= 1
            while end < len(cond) and cond[end] in _BLANKS:
                end += 1
            if not sub_text:
                if start > 0 and cond[start - 1] == ",":
                    start -= 1
                elif end < len(cond) and cond[end] == ",":
                    end += 1
            # an empty list leaves a single blank: "(a, empty)" -> "(a )"
            sub = f" {sub_text} " if sub_text else " "
            cond = cond[:start] + sub + cond[end:]
            start += len(sub) - 1
            used = True
        start = cond.find(name, start + 1)
    return cond, used


class Loader:
    """Reads rules contents and compiles them against a field catalog."""

    def __init__(self, catalog: FieldCatalog, sources: set[str] | None = None) -> None:
        self.catalog = catalog
        self.sources = set(catalog.sources) if sources is None else sources
        self.collector = Collector(self.sources)
        self.collector.field_validator = self._valid_exception_field
        self._current: FileResult | None = None
        self._texts: dict[str, str] = {}
        # conditions are re-parsed on every compile (one per rules content): ASTs are never
        # mutated, so identical texts share one parse
        self._parse_cache: dict[str, ast.Node] = {}
        self._macro_text: dict[str, str] = {}
        self._macro_deps: dict[str, frozenset[str]] = {}

    # -- messages -------------------------------------------------------------------------
    def _warn(self, code: str, message: str, ctx: Ctx | None, snip: str = "",
              deprecated_field: str | None = None) -> None:
        assert self._current is not None
        locs = list(ctx.locations) if ctx else []
        self._current.warnings.append(
            Message(code, message, locs, snip or self._snippet(locs), deprecated_field))

    def _error(self, code: str, message: str, locs: list[Location], snip: str = "") -> None:
        assert self._current is not None
        self._current.errors.append(Message(code, message, locs, snip or self._snippet(locs)))

    def _snippet(self, locs: list[Location]) -> str:
        if not locs:
            return ""
        pos = locs[-1].position
        text = self._texts.get(pos.name)
        if text is None:
            return ""
        return snippet(text, pos.offset)

    # -- reading ----------------------------------------------------------------------------
    def read(self, content: RulesContent, result: FileResult) -> None:
        self._current = result
        self._texts[content.name] = content.text
        root = Ctx([Location("rules content", "", Position(content.name, 0, 0, 0))])
        try:
            docs = rd.compose_documents(content.text)
        except yaml.YAMLError as exc:
            self._error("LOAD_ERR_YAML_PARSE", rd.yaml_error_message(exc), root.locations)
            return
        try:
            for doc in docs:
                if rd.is_null(doc):
                    continue
                if isinstance(doc, yaml.MappingNode):
                    raise root.error("Rules content is not yaml array of objects")
                if not isinstance(doc, yaml.SequenceNode):
                    raise root.error("Rules content is not yaml")
                for node in doc.value:
                    if rd.is_null(node):
                        continue
                    self._read_item(node, root, content.name)
        except ItemError as exc:
            self._error(exc.code, exc.message, exc.locations)

    def _read_item(self, node: yaml.Node, root: Ctx, fname: str) -> None:
        ictx = root.child("rules content item", "", node, fname)
        if not isinstance(node, yaml.MappingNode):
            raise ictx.error("Unexpected element type. Each element should be a yaml "
                             "associative array.")
        m = rd.mapping(node)
        col = self.collector
        col.warn = self._warn
        if "required_engine_version" in m:
            ctx = root.child("required_engine_version", "", node, fname)
            self._unknown_keys(m, {"required_engine_version"}, ctx)
            text = rd.decode_str(m, "required_engine_version", ctx, required=True)
            assert text is not None
            col.engine_version(text, ctx)
        elif "required_plugin_versions" in m:
            ctx = root.child("required plugin versions", "", node, fname)
            self._unknown_keys(m, {"required_plugin_versions"}, ctx)
            col.plugin_versions(m["required_plugin_versions"], ctx)
        elif "list" in m:
            self._read_list(m, root.child("list", "", node, fname), node, root, fname)
        elif "macro" in m:
            self._read_macro(m, node, root, fname)
        elif "rule" in m:
            self._read_rule(m, node, root, fname)
        else:
            self._warn("LOAD_UNKNOWN_ITEM", "Unknown top level item", ictx)

    def _unknown_keys(self, m: dict[str, Any], allowed: set[str], ctx: Ctx) -> None:
        for k in m:
            if k not in allowed:
                self._warn("LOAD_UNKNOWN_KEY", f"Unknown key '{k}'. The key will be ignored.",
                           ctx)

    def _append_flag(self, m: dict[str, Any], ctx: Ctx) -> bool:
        append = bool(rd.decode_bool(m, "append", ctx)) if "append" in m else False
        if append:
            if "override" in m:
                raise ctx.error("Keys 'override' and 'append: true' cannot be used together. "
                                "Add an 'append' entry (e.g. 'condition: append') under "
                                "'override' instead.")
            self._warn("LOAD_DEPRECATED_ITEM", rd.DEPRECATED_APPEND, ctx)
        return append

    def _read_list(self, m: dict[str, Any], ctx: Ctx, node: yaml.Node, root: Ctx,
                   fname: str) -> None:
        name = rd.decode_str(m, "list", ctx, required=True, non_empty=True)
        assert name is not None
        ctx = root.child("list", name, node, fname)
        self._unknown_keys(m, rd.LIST_KEYS, ctx)
        items = rd.decode_seq(m, "items", ctx, required=True) or []
        append = self._append_flag(m, ctx)
        ov = rd.read_override(m, ctx, ("items",), ("items",))
        if ov is not None and "items" in ov[0]:
            append = True
        self.collector.define_list(rd.ListItem(name, items, ctx, append))

    def _read_macro(self, m: dict[str, Any], node: yaml.Node, root: Ctx, fname: str) -> None:
        ctx = root.child("macro", "", node, fname)
        name = rd.decode_str(m, "macro", ctx, required=True, non_empty=True)
        assert name is not None
        ctx = root.child("macro", name, node, fname)
        self._unknown_keys(m, rd.MACRO_KEYS, ctx)
        cond = rd.decode_str(m, "condition", ctx, required=True)
        assert cond is not None
        append = self._append_flag(m, ctx)
        ov = rd.read_override(m, ctx, ("condition",), ("condition",))
        if ov is not None and "condition" in ov[0]:
            append = True
        self.collector.define_macro(rd.MacroItem(name, cond, ctx, m.get("condition"), append))

    def _read_rule(self, m: dict[str, Any], node: yaml.Node, root: Ctx, fname: str) -> None:
        ctx = root.child("rule", "", node, fname)
        name = rd.decode_str(m, "rule", ctx, required=True, non_empty=True)
        assert name is not None
        ctx = root.child("rule", name, node, fname)
        self._unknown_keys(m, rd.RULE_KEYS, ctx)
        item = rd.RuleItem(name, ctx, nodes=m)
        has_override = "override" in m
        append = self._append_flag(m, ctx)
        item.source = rd.decode_str(m, "source", ctx,
                                    allow_empty_null=has_override or append)
        if append:
            # deprecated form: only condition and exceptions are read
            if "condition" in m:
                item.props["condition"] = rd.decode_str(m, "condition", ctx)
            if "exceptions" in m:
                item.props["exceptions"] = rd.read_exceptions(m["exceptions"], ctx, True,
                                                              self._warn)
            self.collector.append_rule(item, {"condition", "exceptions"})
            return
        if has_override:
            ov = rd.read_override(m, ctx, rd.RULE_APPENDABLE, rd.RULE_REPLACEABLE)
            assert ov is not None
            app, rep = ov
            for key in sorted(app | rep):
                if key not in m:
                    kind = "append" if key in app else "replace"
                    raise ctx.error(f"An {kind} override for '{key}' was specified but '{key}' "
                                    "is not defined")
            for key in rd.RULE_REPLACEABLE:
                if key in m and key not in app and key not in rep:
                    raise ctx.error(f"Unexpected key '{key}': no corresponding entry under "
                                    "'override' is defined.")
            self._decode_rule_props(m, item, ctx, app | rep, append_mode=bool(app))
            if app:
                self.collector.append_rule(item, app)
            if rep:
                self.collector.replace_rule(item, rep)
            return
        required = ("condition", "output", "desc", "priority")
        if not any(k in m for k in required):
            # enable-only item (deprecated)
            enabled = rd.decode_bool(m, "enabled", ctx)
            if enabled is None:
                raise ctx.error("Item has no mapping for key 'enabled'")
            self._warn("LOAD_DEPRECATED_ITEM",
                       "The standalone 'enabled' key usage is deprecated. The correct approach "
                       "requires also a 'replace' entry under the 'override' key (i.e. "
                       "'enabled: replace').", ctx)
            item.props["enabled"] = enabled
            self.collector.enable_rule(item)
            return
        for key in required:
            if key not in m:
                raise ctx.error(f"Item has no mapping for key '{key}'")
        self._decode_rule_props(m, item, ctx, set(rd.RULE_KEYS), append_mode=False)
        self.collector.define_rule(item)

    def _decode_rule_props(self, m: dict[str, Any], item: rd.RuleItem, ctx: Ctx,
                           keys: set[str], append_mode: bool) -> None:
        p = item.props
        for key in ("condition", "output", "desc"):
            if key in m and key in keys:
                p[key] = rd.decode_str(m, key, ctx, required=True)
        if "priority" in m and "priority" in keys:
            text = rd.decode_str(m, "priority", ctx, required=True)
            assert text is not None
            try:
                p["priority"] = Priority.parse(text)
            except ValueError:
                raise ctx.child("rule priority", "", m["priority"]).error(
                    "Invalid priority") from None
        for key in ("enabled", "warn_evttypes", "skip-if-unknown-filter", "capture"):
            if key in m and key in keys:
                p[key] = rd.decode_bool(m, key, ctx)
        if "capture_duration" in m and "capture_duration" in keys:
            p["capture_duration"] = rd.decode_uint(m, "capture_duration", ctx)
        if "tags" in m and "tags" in keys:
            p["tags"] = rd.decode_seq(m, "tags", ctx) or []
        if "exceptions" in m and "exceptions" in keys:
            p["exceptions"] = rd.read_exceptions(m["exceptions"], ctx, append_mode, self._warn)

    def _valid_exception_field(self, source: str, text: str) -> bool:
        fields = self.catalog.fields(source)
        if fields is None:
            return True
        try:
            node = parse(f"{text} exists")
            ConditionCompiler(fields).compile(node)
        except (ParseError, CompileError):
            return False
        return True

    # -- compiling --------------------------------------------------------------------------
    def compile(self, result: FileResult, compile_rule: Callable[[RuleInfo, ast.Node, Ctx,
                                                                  str], Any] | None = None
                ) -> list[LoadedRule] | None:
        """Compile everything collected so far; errors go to ``result``. Returns the loaded
        rules (unknown-source and skipped rules left out) or None on error."""
        self._current = result
        col = self.collector
        try:
            lists = self._compile_lists()
            macros = self._compile_macros(lists)
            loaded = self._compile_rules(lists, macros, compile_rule)
        except ItemError as exc:
            self._error(exc.code, exc.message, exc.locations, getattr(exc, "snip", ""))
            return None
        for mac in sorted(col.macros.values(), key=lambda x: x.index):
            if not mac.used:
                self._warn("LOAD_UNUSED_MACRO", "Macro not referred to by any other rule/macro",
                           mac.ctx)
        for lst in sorted(col.lists.values(), key=lambda x: x.index):
            if not lst.used:
                self._warn("LOAD_UNUSED_LIST", "List not referred to by any other rule/macro",
                           lst.ctx)
        return loaded

    def _compile_lists(self) -> list[tuple[str, list[str], Any]]:
        col = self.collector
        ordered = sorted(col.lists.values(), key=lambda x: x.index)
        for lst in ordered:
            lst.used = False
        out = []
        for lst in ordered:
            items: list[str] = []
            for raw in lst.items:
                ref = col.lists.get(raw)
                if ref is not None and ref.index < lst.visibility:
                    items.extend(ref.items)
                    ref.used = True
                else:
                    items.append(raw)
            out.append((lst.name, [quote_item(i) for i in items], lst))
        return out

    def _substitute(self, cond: str, lists: list[tuple[str, list[str], Any]]) -> str:
        for name, items, info in lists:
            if name in cond:
                cond, used = substitute_list(cond, name, items)
                if used:
                    info.used = True
        return cond

    def _parse_condition(self, text: str, ctx: Ctx, node: yaml.Node | None,
                         item_type: str) -> ast.Node:
        cached = self._parse_cache.get(text)
        if cached is not None:
            return cached
        try:
            tree = parse(text)
            self._parse_cache[text] = tree
            return tree
        except ParseError as exc:
            raise self._condition_error("LOAD_ERR_COMPILE_CONDITION", exc.message, exc.pos,
                                        text, ctx, node, item_type) from None

    def _condition_error(self, code: str, message: str, pos: int, text: str, ctx: Ctx,
                         node: yaml.Node | None, item_type: str) -> ItemError:
        cctx = ctx.child(item_type, "", node) if node is not None else ctx
        parent = cctx.locations[-1].position
        line = text.count("\n", 0, pos) + 1
        col = pos - (text.rfind("\n", 0, pos) + 1) + 1
        shown = text[:17].replace("\n", " ")
        expr_loc = Location("condition expression", "", Position(
            f'"{shown}..."', parent.line + line, parent.column + col, parent.offset + pos))
        err = ItemError(code, message, [*cctx.locations, expr_loc])
        err.snip = snippet(text, pos)  # type: ignore[attr-defined]
        return err

    def _compile_macros(self, lists: list[tuple[str, list[str], Any]]
                        ) -> dict[str, tuple[MacroInfo, ast.Node]]:
        col = self.collector
        parsed: dict[str, tuple[MacroInfo, ast.Node]] = {}
        for mac in sorted(col.macros.values(), key=lambda x: x.index):
            mac.used = False
            text = self._substitute(mac.condition, lists)
            self._macro_text[mac.name] = text
            parsed[mac.name] = (mac, self._parse_condition(text, mac.ctx, mac.cond_node,
                                                           "macro condition"))
        self._parsed_macros = parsed  # for errors inside a macro (macro_condition_error)
        self._resolved: dict[str, ast.Node] = {}
        self._macro_deps = {}
        for name in parsed:
            self._resolve_macro(name, parsed, [])
        return parsed

    def _resolve_macro(self, name: str, parsed: dict[str, tuple[MacroInfo, ast.Node]],
                       stack: list[str]) -> ast.Node:
        done = self._resolved.get(name)
        if done is not None:
            return done
        mac, node = parsed[name]
        if name in stack:
            raise mac.ctx.error(f"reference loop in macro '{name}'", code="LOAD_ERR_VALIDATE")
        stack.append(name)
        deps: set[str] = set()
        out = self._resolve(node, parsed, mac.visibility, stack, mac.ctx, deps)
        stack.pop()
        self._resolved[name] = out
        self._macro_deps[name] = frozenset(deps)
        return out

    def _resolve(self, node: ast.Node, parsed: dict[str, tuple[MacroInfo, ast.Node]],
                 visibility: int, stack: list[str], ctx: Ctx, deps: set[str]) -> ast.Node:
        """Substitute macro references; ``deps`` collects every macro reached."""
        if isinstance(node, ast.Identifier):
            entry = parsed.get(node.name)
            if entry is None or entry[0].index >= visibility:
                raise ctx.error(f"Undefined macro '{node.name}' used in filter.",
                                code="LOAD_ERR_VALIDATE")
            entry[0].used = True
            if node.name in stack:
                raise entry[0].ctx.error(f"reference loop in macro '{node.name}'",
                                         code="LOAD_ERR_VALIDATE")
            out = self._resolve_macro(node.name, parsed, stack)
            deps.add(node.name)
            deps.update(self._macro_deps.get(node.name, ()))
            return out
        if isinstance(node, ast.And):
            return ast.And([self._resolve(c, parsed, visibility, stack, ctx, deps)
                            for c in node.children], pos=node.pos)
        if isinstance(node, ast.Or):
            return ast.Or([self._resolve(c, parsed, visibility, stack, ctx, deps)
                           for c in node.children], pos=node.pos)
        if isinstance(node, ast.Not):
            return ast.Not(self._resolve(node.child, parsed, visibility, stack, ctx, deps),
                           pos=node.pos)
        return node

    def build_exceptions(self, rule: RuleInfo) -> str:
        if not rule.exceptions:
            return rule.condition
        cond = "(" + rule.condition + ")"
        for ex in rule.exceptions:
            values = ex.values or []
            if not isinstance(ex.fields, list):
                if not values:
                    continue
                for v in values:
                    if not isinstance(v, str):
                        raise ex.ctx.error("Expected values array to contain a list of strings",
                                           code="LOAD_ERR_VALIDATE")
                joined = ", ".join(quote_item(v) for v in values)
                cond += f" and not ({ex.fields} {ex.comps} ({joined}))"
                continue
            comps = ex.comps if isinstance(ex.comps, list) else ["="] * len(ex.fields)
            tuples = []
            for tup in values:
                if not isinstance(tup, list) or len(tup) != len(ex.fields):
                    raise ex.ctx.error("Fields and values lists must have equal length",
                                       code="LOAD_ERR_VALIDATE")
                parts = []
                for f, c, v in zip(ex.fields, comps, tup, strict=True):
                    if isinstance(v, list):
                        vs = "(" + ", ".join(quote_item(i) for i in v) + ")"
                    elif is_list_comp(c):
                        vs = v if v.startswith("(") else f"({v})"
                    else:
                        vs = quote_item(v)
                    parts.append(f"{f} {c} {vs}")
                tuples.append("(" + " and ".join(parts) + ")")
            if tuples:
                cond += " and not (" + " or ".join(tuples) + ")"
        return cond

    def _compile_rules(self, lists: list[tuple[str, list[str], Any]],
                       macros: dict[str, tuple[MacroInfo, ast.Node]],
                       compile_rule: Callable[..., Any] | None) -> list[LoadedRule]:
        out: list[LoadedRule] = []
        big = 1 << 62
        for rule in sorted(self.collector.rules.values(), key=lambda x: x.index):
            if rule.unknown_source:
                continue
            text = self._substitute(self.build_exceptions(rule), lists)
            node = self._parse_condition(text, rule.ctx, rule.cond_node, "rule condition")
            deps: set[str] = set()
            node = self._resolve(node, macros, big, [], rule.ctx, deps)
            loaded = LoadedRule(rule, text)
            if compile_rule is not None:
                # what the typed result depends on: the text and every macro reached
                fingerprint = (text, tuple(sorted((d, self._macro_text[d]) for d in deps)))
                try:
                    loaded.compiled = compile_rule(rule, node, rule.ctx, text, fingerprint)
                except ItemError as exc:
                    if rule.skip_if_unknown_filter and any(
                            mk in exc.message for mk in _UNKNOWN_FILTER_MARKERS):
                        self._warn("LOAD_UNKNOWN_FILTER", exc.message,
                                   Ctx(exc.locations))
                        continue
                    raise
            out.append(loaded)
        return out

    def parsed(self, text: str) -> ast.Node | None:
        """The AST parsed from ``text`` (before macro resolution), if it was parsed."""
        return self._parse_cache.get(text)

    def condition_error(self, message: str, rule: RuleInfo, text: str, pos: int,
                        code: str = "LOAD_ERR_COMPILE_CONDITION") -> ItemError:
        return self._condition_error(code, message, pos, text, rule.ctx, rule.cond_node,
                                     "rule condition")

    def macro_condition_error(self, message: str, rule: RuleInfo, check: object,
                              code: str = "LOAD_ERR_COMPILE_CONDITION") -> ItemError | None:
        """A compile error in a check that came from a macro (macros are substituted as trees,
        so the check node is the macro's own): the locations go on from the rule's condition to
        the macro, its condition and the failing check's line and column in the macro's text.
        None when no macro parsed ``check``."""
        for name, (mac, tree) in getattr(self, "_parsed_macros", {}).items():
            if not any(n is check for n in ast.walk(tree)):
                continue
            rule_ctx = (rule.ctx.child("rule condition", "", rule.cond_node)
                        if rule.cond_node is not None else rule.ctx)
            ctx = Ctx([*rule_ctx.locations, *mac.ctx.locations[1:]])
            return self._condition_error(code, message, check.pos,  # type: ignore[attr-defined]
                                         self._macro_text[name], ctx, mac.cond_node,
                                         "macro condition")
        return None

    def warn(self, code: str, message: str, ctx: Ctx, deprecated_field: str | None = None
             ) -> None:
        self._warn(code, message, ctx, deprecated_field=deprecated_field)
