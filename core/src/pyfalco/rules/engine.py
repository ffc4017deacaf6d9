"""The rules engine: load rules files, select rules, and evaluate events per source
(the agreed engine API, see ``core/src/pyfalco/rules/README.md``)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..api import SYSCALL_SOURCE, Event
from ..errors import ConfigError
from ..priority import Priority
from . import ast
from .codegen import KeyedDispatch, compile_dispatch, compile_rule, fold_event_type, key_operands
from .collector import ListInfo, MacroInfo, RuleInfo, parse_semver
from .compile import ConditionCompiler
from .evttypes import ALL, NO_EVTTYPE_THRESHOLD, EvtSet, event_types
from .fields import BASE_FIELDS, FieldCatalog, iso8601
from .interp import ExtractionErrors, evaluate
from .loader import CompiledCondition, Loader, RulesContent
from .output import CONTAINER_INFO_WARNING, OutputFormat, json_value, strip_container_info
from .reader import Ctx
from .results import FileResult, LoadResult
from .schema import validate_text
from .values import CompileError

__all__ = ["CompiledRule", "LoadResult", "Match", "RulesContent", "RulesEngine",
           "SourceEvaluator"]

_UNBUILT: Any = object()
BASE_EVT_TYPE = next(f for f in BASE_FIELDS if f.name == "evt.type")
_DEPRECATED_OUTPUT_FIELDS = ("evt.dir", "evt.latency", "evt.wait_latency")


@dataclass(eq=False)
class CompiledRule:
    """A rule as loaded: what -L/-l/--list show, plus its compiled forms."""

    name: str
    desc: str
    priority: Priority
    tags: tuple[str, ...]
    source: str
    condition: str
    output: str
    enabled: bool
    #: position in the rules files (first definition order)
    index: int = 0
    capture: bool = False
    capture_duration: int = 0
    #: the condition after exceptions and list substitution, and the canonical AST text
    expanded_condition: str = ""
    condition_ast: Any = field(default=None, repr=False)
    exception_fields: tuple[str, ...] = ()
    event_types: EvtSet = ALL
    ir: Any = None
    fn: Any = None
    source_code: str = ""
    info: RuleInfo | None = field(default=None, repr=False)

    def function(self) -> Any:
        """The rule's own generated function ``fn(event) -> bool`` (built on first use;
        evaluators run the per-event-type dispatch functions instead)."""
        if self.fn is None:
            self.fn, self.source_code = compile_rule(self.ir, "rule", f"<rule {self.name}>")
        return self.fn

    @property
    def compiled_condition(self) -> str:
        """The canonical text of the resolved condition (Falco's "compiled condition")."""
        return ast.as_string(self.condition_ast) if self.condition_ast is not None else ""


class Match:
    """A matched rule: renders its effective output for an event."""

    __slots__ = ("rule", "_format", "_extra", "output")

    def __init__(self, rule: CompiledRule, fmt: OutputFormat,
                 extra: Sequence[tuple[str, Any, bool]] = ()) -> None:
        self.rule = rule
        self._format = fmt
        self._extra = extra
        #: ``output(event) -> str``: the rendered effective output (the format's own render
        #: function, no method call in between: it runs for every alert)
        self.output: Callable[[Event], str] = fmt.render

    def output_fields(self, event: Event, time_iso8601: bool = False) -> dict[str, Any]:
        """Typed values of every field of the effective output, plus the prefix's time field
        (``evt.time`` as integer ns, or ``evt.time.iso8601`` with ``time_format_iso_8601``)
        and the ``extra_fields``."""
        out: dict[str, Any] = (
            {"evt.time.iso8601": iso8601(event.ts)} if time_iso8601 else {"evt.time": event.ts})
        out.update(self._format.values(event))
        for key, fmt, raw in self._extra:
            if raw:
                out[key] = json_value(fmt(event))
            else:
                out[key] = fmt.render(event)
        return out

    def __repr__(self) -> str:
        return f"<Match {self.rule.name!r}>"


class SourceEvaluator:
    """Evaluates the enabled rules of one source. Per event type, the rules that can match it
    (the evttype index) run in rule order inside one generated function; it is built the first
    time the type is seen."""

    def __init__(self, source: str, entries: list[tuple[CompiledRule, Match]],
                 rule_matching: str = "first") -> None:
        if rule_matching not in ("first", "all"):
            raise ConfigError(f"Unknown rule_matching value '{rule_matching}'")
        self.source = source
        self.first = rule_matching == "first"
        self._entries = entries
        self._dispatch: dict[str, Any] = {}
        self._keyed: dict[str, KeyedDispatch] = {}
        self._errors = ExtractionErrors()
        self.rule_errors = 0
        self.event_types: frozenset[str] | None = self._types()

    def _types(self) -> frozenset[str] | None:
        names: set[str] = set()
        for rule, _ in self._entries:
            s = rule.event_types
            if s.negated or rule.source != SYSCALL_SOURCE:
                return None
            names |= s.names
        return frozenset(names)

    def rules_for_type(self, etype: str) -> list[tuple[CompiledRule, Match]]:
        """The rules indexed for events of type ``etype``, in rule order."""
        return [(rule, m) for rule, m in self._entries
                if rule.source != SYSCALL_SOURCE or rule.event_types.contains(etype)]

    def _build(self, etype: str) -> Any:
        entries = self.rules_for_type(etype)
        if not entries:
            self._dispatch[etype] = None  # most event types: no rule, no call
            return None
        irs = [(fold_event_type(rule.ir, etype, BASE_EVT_TYPE), m) for rule, m in entries]

        def fallback(i: int, event: Event) -> bool:
            return self._fallback(entries[i][0], event)

        fn, _src = compile_dispatch(irs, self.first, fallback, "dispatch")
        if self.source != SYSCALL_SOURCE:
            # one event type for every event: index by the values the rules select on instead
            # (syscall rules have the event types; their key fields, process names and the
            # like, take too many values)
            keys = key_operands([ir for ir, _ in irs])
            if keys:
                keyed = KeyedDispatch(irs, self.first, fallback, keys, fn)
                self._keyed[etype] = keyed
                fn = keyed.function
        self._dispatch[etype] = fn
        return fn

    def _fallback(self, rule: CompiledRule, event: Event) -> bool:
        """The generated code raised (an extractor or a comparison failed): evaluate the rule
        with the interpreter, which treats a failing extraction as a missing value."""
        try:
            return evaluate(rule.ir, event, self._errors)
        except Exception:
            self.rule_errors += 1
            return False

    def process(self, event: Event) -> list[Match]:
        fn = self._dispatch.get(event.type, _UNBUILT)
        if fn is _UNBUILT:
            fn = self._build(event.type)
        if fn is None:
            return []
        return fn(event)

    @property
    def rules(self) -> list[CompiledRule]:
        return [r for r, _ in self._entries]

    def counters(self) -> dict[str, int]:
        return {"extraction_errors": self._errors.count, "rule_errors": self.rule_errors}


class RulesEngine:
    """Loads rules contents once and builds per-source evaluators."""

    def __init__(self, catalog: FieldCatalog, loaded_sources: Iterable[str] | None = None,
                 plugin_versions: Mapping[str, str] | None = None) -> None:
        self.catalog = catalog
        self.loaded_sources = list(loaded_sources) if loaded_sources is not None else list(
            catalog.sources)
        for s in self.loaded_sources:
            catalog.add_source(s)
        self.plugin_versions = dict(plugin_versions or {})
        self.min_priority = Priority.DEBUG
        self._rules: list[CompiledRule] = []
        self._selections: list[tuple[bool, str | None, str | None]] = []
        self._append_output: list[Mapping[str, Any]] = []
        self._loader: Loader | None = None
        self._macros: list[MacroInfo] = []
        self._lists: list[ListInfo] = []
        self._plugins: dict[str, frozenset[str]] = {}
        self.result: LoadResult | None = None

    # -- loading ----------------------------------------------------------------------------
    def load(self, contents: Sequence[RulesContent]) -> LoadResult:
        loader = Loader(self.catalog, set(self.loaded_sources))
        self._loader = loader
        # every content triggers a compile of everything collected so far (Falco's per-file
        # load_rules): a rule whose text, macros, output and flags are unchanged is reused
        self._compile_cache: dict[Any, tuple[CompiledCondition, list[tuple[Any, ...]]]] = {}
        result = LoadResult()
        for content in contents:
            fr = FileResult(content.name, schema_warnings=validate_text(content.text))
            result.files.append(fr)
            loader.read(content, fr)
            if fr.errors:
                continue
            compiled = loader.compile(
                fr, lambda rule, node, ctx, text, fp: self._compile_condition(
                    loader, rule, node, ctx, text, fp))
            if compiled is not None and not fr.errors:
                self._rules = [self._make_rule(lr.info, lr.condition_text, lr.compiled)
                               for lr in compiled]
                col = loader.collector
                self._macros = sorted(col.macros.values(), key=lambda m: m.index)
                self._lists = sorted(col.lists.values(), key=lambda x: x.index)
        self.result = result
        return result

    def _compile_condition(self, loader: Loader, rule: RuleInfo, node: ast.Node, ctx: Ctx,
                           text: str, fingerprint: Any) -> CompiledCondition:
        out_text, had_info = strip_container_info(rule.output)
        if had_info:
            loader.warn("LOAD_DEPRECATED_ITEM", CONTAINER_INFO_WARNING, ctx)
            rule.written_output = rule.output  # -L shows the output as written
            rule.output = out_text
        # as Falco: the output validated at load is the effective one (append_output
        # applied), and the formats of its extra_fields
        checked = [self.effective_output(rule), *self._extra_field_formats(rule)]
        key = (rule.source, fingerprint, tuple(checked), rule.warn_evttypes)
        cached = self._compile_cache.get(key)
        if cached is None:
            cached = self._compile_uncached(loader, rule, node, text, out_text, checked)
            self._compile_cache[key] = cached
        cc, warns = cached
        for code, msg, dep in warns:
            loader.warn(code, msg, ctx, deprecated_field=dep)
        return cc

    def _compile_uncached(self, loader: Loader, rule: RuleInfo, node: ast.Node, text: str,
                          out_text: str, outputs: list[str]
                          ) -> tuple[CompiledCondition, list[tuple[Any, ...]]]:
        from .compile import DEPRECATED_FIELDS

        fields = self.catalog.fields(rule.source)
        assert fields is not None
        comp = ConditionCompiler(fields)
        try:
            ir = comp.compile(node)
            evts = event_types(ir) if rule.source == SYSCALL_SOURCE else ALL
            if rule.source == SYSCALL_SOURCE:
                self._check_event_names(ir)
        except CompileError as exc:
            # the failing check is the rule's own, or a macro's (then the error points into
            # the macro: its file:line and the check's position in the macro's condition)
            own = loader.parsed(text)
            pos = 0
            if exc.node is not None and own is not None and any(
                    n is exc.node for n in ast.walk(own)):
                pos = exc.node.pos  # type: ignore[attr-defined]
            elif exc.node is not None:
                in_macro = loader.macro_condition_error(str(exc), rule, exc.node)
                if in_macro is not None:
                    raise in_macro from None
            raise loader.condition_error(str(exc), rule, text, pos) from None
        warns: list[tuple[Any, ...]] = []
        w = comp.warnings
        for msg in w.condition:
            warns.append(("LOAD_COMPILE_CONDITION", msg, None))
        if w.unsafe_na:
            warns.append(("LOAD_UNSAFE_NA_CHECK", "", None))
        for f in w.deprecated_fields:
            warns.append(("LOAD_DEPRECATED_ITEM", DEPRECATED_FIELDS[f], f))
        if (rule.source == SYSCALL_SOURCE and rule.warn_evttypes and not evts.is_empty
                and evts.code_count() > NO_EVTTYPE_THRESHOLD):
            warns.append(("LOAD_NO_EVTTYPE", "Rule matches too many evt.type values. This has "
                          "a significant performance penalty.", None))
        for f in _DEPRECATED_OUTPUT_FIELDS:
            if "%" + f in out_text:
                warns.append(("LOAD_DEPRECATED_ITEM", f"usage of deprecated field '{f}' has "
                              "been detected in the rule output", f))
        # the rule's output (with what append_output adds) is validated at load time
        try:
            for fmt in outputs:
                OutputFormat(fmt, fields)
        except CompileError as exc:
            octx = rule.ctx.child("rule output", "", rule.output_node)
            raise octx.error(str(exc), code="LOAD_ERR_COMPILE_OUTPUT") from None
        cc = CompiledCondition(node, ir, w)
        cc.evts = evts  # type: ignore[attr-defined]
        return cc, warns

    def _check_event_names(self, ir: Any) -> None:
        from .compile import IAnd, ICheck, INot, IOr
        from .events import is_known_event

        def visit(n: Any) -> None:
            if isinstance(n, (IAnd, IOr)):
                for c in n.children:
                    visit(c)
            elif isinstance(n, INot):
                visit(n.child)
            elif isinstance(n, ICheck) and n.left.field in ("evt.type", "syscall.type") \
                    and n.left.arg is None and not n.left.transformed and n.right is None \
                    and n.op in ("=", "==", "!=", "in", "intersects"):
                vals = n.value if isinstance(n.value, (frozenset, list)) else [n.value]
                for v in sorted(vals) if isinstance(vals, frozenset) else vals:
                    if not is_known_event(v):
                        raise CompileError(f"unknown event type {v}")

        visit(ir)

    def _make_rule(self, info: RuleInfo, text: str, cc: CompiledCondition | None
                   ) -> CompiledRule:
        assert cc is not None
        exc_fields: list[str] = []
        for ex in info.exceptions:
            for f in ex.fields if isinstance(ex.fields, list) else [ex.fields or ""]:
                if f and f not in exc_fields:
                    exc_fields.append(f)
        rule = CompiledRule(
            name=info.name, desc=info.desc, priority=info.priority, tags=tuple(sorted(info.tags)),
            source=info.source, condition=info.condition, output=info.output,
            enabled=info.enabled, index=info.index, capture=info.capture,
            capture_duration=info.capture_duration, expanded_condition=text,
            condition_ast=cc.ast, exception_fields=tuple(exc_fields),
            event_types=getattr(cc, "evts", ALL), ir=cc.ir, info=info,
        )
        return rule

    def check_plugin_requirements(self) -> str | None:
        """Falco's check of ``required_plugin_versions`` against the loaded plugins' versions:
        None when satisfied, else the error text."""
        if self._loader is None:
            return None
        for req in self._loader.collector.plugin_requirements:
            satisfied = False
            errors: list[str] = []
            for name, version in req.alternatives:
                have = self.plugin_versions.get(name)
                if have is None:
                    continue
                hv, rv = parse_semver(have), parse_semver(version)
                if hv is None:
                    errors.append(f"Plugin '{name}' has invalid version string '{have}'")
                    continue
                assert rv is not None
                if hv[0] == rv[0] and hv >= rv:
                    satisfied = True
                    break
                errors.append(f"Plugin '{name}' version '{have}' is not compatible with "
                              f"required plugin version '{version}'")
            if not satisfied:
                if errors:
                    return errors[0]
                alts = ", ".join(f"{n} (>= {v})" for n, v in req.alternatives)
                return f"Plugin requirement not satisfied, must load one of: {alts}"
        return None

    @property
    def required_engine_version(self) -> tuple[int, int, int]:
        return self._loader.collector.required_engine_version if self._loader else (0, 0, 0)

    # -- selection ----------------------------------------------------------------------------
    def select(self, enabled: bool, rule: str | None = None, tag: str | None = None) -> None:
        """Enable or disable rules by name (``*`` wildcards) or tag; applied in call order."""
        self._selections.append((enabled, rule, tag))

    def set_append_output(self, entries: Sequence[Mapping[str, Any]]) -> None:
        self._append_output = list(entries)

    def _is_enabled(self, rule: CompiledRule) -> bool:
        on = rule.enabled
        for enabled, pattern, tag in self._selections:
            hit = False
            if pattern is not None:
                if "*" in pattern:
                    # only "*" is a wildcard (rule names often hold ?, [ and other characters)
                    rx = ".*".join(re.escape(part) for part in pattern.split("*"))
                    hit = re.fullmatch(rx, rule.name, re.DOTALL) is not None
                else:
                    hit = pattern == rule.name
            if tag is not None and tag in rule.tags:
                hit = True
            if hit:
                on = enabled
        return on

    def set_plugins(self, plugins: Mapping[str, Iterable[str]]) -> None:
        """The loaded plugins as Falco's plugin manager knows them (the built-in syscall support
        is not one): name -> the event sources it implements. ``describe`` names them."""
        self._plugins = {name: frozenset(srcs) for name, srcs in plugins.items()}

    def describe(self, only: str | None = None) -> dict[str, Any]:
        """Falco's ``describe_rule``: every rule, macro and list of the last successful compile
        (``only`` None), or ``{"rules": [that rule]}``; raises ``RuleNotLoaded``."""
        from . import describe as d

        col = self._loader.collector if self._loader is not None else None
        if only is not None:
            rule = next((r for r in self._rules if r.name == only), None)
            if rule is None or col is None:
                raise d.RuleNotLoaded(f'Rule "{only}" is not loaded')
            return {"rules": [self._describe_rule(rule, col)]}
        if col is None:
            raise d.RuleNotLoaded("rules must be loaded before describing them")
        known_macros, known_lists = set(col.macros), set(col.lists)
        resolved = getattr(self._loader, "_resolved", {})
        compiled_lists = d.expand_lists(self._lists, col.lists)
        return {
            "required_engine_version": ".".join(map(str, self.required_engine_version)),
            "required_plugin_versions": [
                {"name": req.alternatives[0][0], "version": req.alternatives[0][1],
                 "alternatives": [{"name": n, "version": v} for n, v in req.alternatives[1:]]}
                for req in col.plugin_requirements],
            "rules": [self._describe_rule(r, col) for r in self._rules],
            "macros": [d.macro_description(m, resolved.get(m.name), known_macros, known_lists)
                       for m in self._macros],
            "lists": [d.list_description(x, compiled_lists[x.name]) for x in self._lists],
        }

    def _describe_rule(self, rule: CompiledRule, col: Any) -> dict[str, Any]:
        from . import describe as d

        info = rule.info
        assert info is not None
        known_macros, known_lists = set(col.macros), set(col.lists)
        raw = d.raw_details(rule.condition, known_macros, known_lists)
        comp = d.filter_details(rule.condition_ast, known_macros, known_lists)
        fields = self.catalog.fields(rule.source)
        assert fields is not None
        output = self.effective_output(rule)
        out_fields = [t.key for t in self._format(output, fields).tokens]
        exc_fields, exc_names, exc_ops = d.exception_details(info)
        written = info.written_output
        if not written or strip_container_info(written)[0] != rule.output:
            written = rule.output
        events = (d.syscall_event_names(rule.condition_ast) if rule.source == SYSCALL_SOURCE
                  else list(d.PLUGIN_SOURCE_EVENTS))
        return {
            "info": {
                "name": rule.name, "condition": rule.condition, "priority": rule.priority.title,
                "output": written, "description": rule.desc, "enabled": rule.enabled,
                "source": rule.source, "tags": sorted(rule.tags),
            },
            "details": {
                "macros": sorted(raw.macros),
                "lists": sorted(raw.lists),
                "condition_operators": sorted(comp.operators),
                "condition_fields": sorted(comp.fields),
                "output_fields": out_fields,
                "exception_fields": exc_fields,
                "exception_names": exc_names,
                "exception_operators": exc_ops,
                "events": events,
                "condition_compiled": rule.compiled_condition,
                "output_compiled": output,
                "plugins": d.used_plugins(rule.source, [*comp.fields, *out_fields],
                                          fields.owner, self._plugins),
            },
        }

    def macros(self) -> list[MacroInfo]:
        """The loaded macros in definition order (name, condition, used) for -L/-l."""
        return list(self._macros)

    def lists(self) -> list[ListInfo]:
        """The loaded lists in definition order (name, items, used)."""
        return list(self._lists)

    def rules(self, source: str | None = None) -> list[CompiledRule]:
        """Every loaded rule (``enabled`` reflects selection and the min priority)."""
        out = []
        for r in self._rules:
            if source is not None and r.source != source:
                continue
            out.append(r)
        return out

    def is_active(self, rule: CompiledRule) -> bool:
        return self._is_enabled(rule) and rule.priority <= self.min_priority

    # -- evaluation ---------------------------------------------------------------------------
    def evaluator(self, source: str, rule_matching: str = "first") -> SourceEvaluator:
        fields = self.catalog.fields(source)
        entries: list[tuple[CompiledRule, Match]] = []
        for rule in self._rules:
            if rule.source != source or not self.is_active(rule):
                continue
            assert fields is not None
            entries.append((rule, self._match_for(rule, fields)))
        return SourceEvaluator(source, entries, rule_matching)

    def _append_entries(self, rule: CompiledRule | RuleInfo) -> list[Mapping[str, Any]]:
        """The ``append_output`` entries that match ``rule``."""
        out = []
        for entry in self._append_output:
            match = entry.get("match") or {}
            if "source" in match and match["source"] != rule.source:
                continue
            if "rule" in match and match["rule"] != rule.name:
                continue
            tags = match.get("tags")
            if tags and not set(tags) <= set(rule.tags):
                continue
            out.append(entry)
        return out

    def effective_output(self, rule: CompiledRule | RuleInfo) -> str:
        """The rule's output format with ``append_output`` applied (what alerts render)."""
        fields = self.catalog.fields(rule.source)
        text = rule.output
        for entry in self._append_entries(rule):
            if entry.get("extra_output"):
                text = text + " " + str(entry["extra_output"])
            if entry.get("suggested_output") and fields is not None:
                for name, spec in fields.by_name.items():
                    if "add_output" in spec.properties and name == spec.name:
                        text += f" {name.replace('.', '_')}=%{name}"
        return text

    def _extra_field_formats(self, rule: CompiledRule | RuleInfo) -> list[str]:
        """The formats of the ``extra_fields`` that append_output gives ``rule``."""
        out = []
        for entry in self._append_entries(rule):
            for ef in entry.get("extra_fields") or ():
                if isinstance(ef, Mapping):
                    out += [str(fmt) for fmt in ef.values()]
                else:
                    out.append("%" + str(ef))
        return out

    def _match_for(self, rule: CompiledRule, fields: Any) -> Match:
        text = self.effective_output(rule)
        extra: list[tuple[str, Any, bool]] = []
        for entry in self._append_entries(rule):
            for ef in entry.get("extra_fields") or ():
                if isinstance(ef, Mapping):
                    for key, fmt in ef.items():
                        extra.append((str(key), self._format(str(fmt), fields), False))
                else:
                    name = str(ef)
                    fmt = self._format("%" + name, fields)
                    extra.append((name, fmt.tokens[0].fn if fmt.tokens else fmt.render, True))
        return Match(rule, self._format(text, fields), extra)

    @staticmethod
    def _format(text: str, fields: Any) -> OutputFormat:
        try:
            return OutputFormat(text, fields)
        except CompileError as exc:
            raise ConfigError(f"Invalid output format '{text}': {exc}") from None
