"""Falco's JSON description of the loaded rules, macros and lists (``-L``/``-l`` with
``json_output``, the ``falco_describe_results`` of ``-V``): ``falco_engine::describe_rule``.

Falco collects most details in unordered sets; here every such set is printed sorted, so the
output is deterministic (README, "Quirks: decisions").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from ..errors import PyfalcoError
from . import ast
from .collector import ListInfo, MacroInfo, RuleInfo
from .events import _table
from .evttypes import ALL, EMPTY, EvtSet
from .parser import ParseError, parse

#: What Falco lists as the events of a rule of a plugin source.
PLUGIN_SOURCE_EVENTS = ["asyncevent", "pluginevent"]

#: ppm_sc names that libs' events-to-ppm_sc map (libscap ``g_events_to_sc_map``) puts on an
#: event of another name (tracepoints, 32/64-bit variants): ``sc_set_to_event_names`` gives
#: the event's name, never these. (``_newselect`` is on the generic event: it stays.)
_SC_ALIASES = {
    "sched_process_exit": "procexit", "sched_switch": "switch",
    "signal_deliver": "signaldeliver", "page_fault_user": "page_fault",
    "page_fault_kernel": "page_fault", "_llseek": "llseek",
    "fcntl64": "fcntl", "sendfile64": "sendfile", "pread64": "pread", "pwrite64": "pwrite",
    "prlimit64": "prlimit", "ugetrlimit": "getrlimit", "getuid32": "getuid",
    "geteuid32": "geteuid", "getgid32": "getgid", "getegid32": "getegid",
    "setuid32": "setuid", "setgid32": "setgid", "setresuid32": "setresuid",
    "setresgid32": "setresgid", "getresuid32": "getresuid", "getresgid32": "getresgid",
}
#: The generic syscall event: ``event_set_to_names(.., false)`` leaves it out.
_GENERIC_EVENT = "syscall"


class RuleNotLoaded(PyfalcoError):
    """``-l NAME`` for a rule that is not loaded (Falco throws; the app reports a runtime
    error)."""


@dataclass
class FilterDetails:
    """What ``filter_details_resolver`` collects from a condition AST."""

    fields: set[str] = field(default_factory=set)
    macros: set[str] = field(default_factory=set)
    operators: set[str] = field(default_factory=set)
    lists: set[str] = field(default_factory=set)
    evtnames: set[str] = field(default_factory=set)
    transformers: set[str] = field(default_factory=set)


class _DetailsVisitor:
    """Macros are identifiers naming a known macro; lists are items of a list operand naming a
    known list; fields are every field (``name[arg]``) in checks and transformers, both sides;
    operators are the checks' operators; evtnames are the values compared with ``evt.type``
    or ``evt.asynctype``."""

    def __init__(self, known_macros: set[str], known_lists: set[str]) -> None:
        self.known_macros = known_macros
        self.known_lists = known_lists
        self.d = FilterDetails()
        self._last_field = ""
        self._expect_list = False
        self._expect_evtname = False

    def visit(self, node: ast.Node) -> None:
        d = self.d
        if isinstance(node, (ast.And, ast.Or, ast.TransformerList)):
            for c in node.children:
                self.visit(c)
        elif isinstance(node, ast.Not):
            self.visit(node.child)
        elif isinstance(node, ast.Identifier):
            if node.name in self.known_macros:
                d.macros.add(node.name)
        elif isinstance(node, ast.FieldRef):
            self._last_field = node.name if not node.arg else f"{node.name}[{node.arg}]"
            d.fields.add(self._last_field)
        elif isinstance(node, ast.Transformer):
            d.transformers.add(node.name)
            for a in node.args:
                self.visit(a)
        elif isinstance(node, ast.Value):
            if self._expect_evtname:
                d.evtnames.add(node.value)
        elif isinstance(node, ast.ListValue):
            for item in node.values:
                if item in self.known_lists:
                    if self._expect_list:
                        d.lists.add(item)
                elif self._expect_evtname:
                    d.evtnames.add(item)
        elif isinstance(node, ast.UnaryCheck):
            self._last_field = ""
            self.visit(node.left)
            d.operators.add(node.op)
        elif isinstance(node, ast.BinaryCheck):
            self._last_field = ""
            self._expect_list = self._expect_evtname = False
            self.visit(node.left)
            d.operators.add(node.op)
            self._expect_list = True
            self._expect_evtname = self._last_field in ("evt.type", "evt.asynctype")
            self.visit(node.right)
            self._expect_list = self._expect_evtname = False


def filter_details(node: ast.Node | None, known_macros: set[str],
                   known_lists: set[str]) -> FilterDetails:
    v = _DetailsVisitor(known_macros, known_lists)
    if node is not None:
        v.visit(node)
    return v.d


def raw_details(text: str, known_macros: set[str], known_lists: set[str]) -> FilterDetails:
    """Details of a condition as written (macros and lists not substituted)."""
    try:
        node = parse(text)
    except ParseError:  # loaded conditions parse once substituted; Falco assumes no error here
        node = None
    return filter_details(node, known_macros, known_lists)


# -- event types ---------------------------------------------------------------------------

def _codes(node: Any, neg: bool) -> EvtSet:
    """libs' ``ppm_event_codes``/``ppm_sc_codes`` on the resolved AST, as a set of names:
    only ``evt.type`` with ``=``/``==``/``!=``/``in`` restricts, ``evt.type exists`` is every
    type, other checks are neutral (``evt.num`` too), negation pushed down (De Morgan)."""
    if isinstance(node, (ast.And, ast.Or)):
        conj = isinstance(node, ast.And) != neg
        out = ALL if conj else EMPTY
        for c in node.children:
            s = _codes(c, neg)
            out = out.intersection(s) if conj else out.union(s)
        return out
    if isinstance(node, ast.Not):
        return _codes(node.child, not neg)
    if isinstance(node, ast.BinaryCheck):
        left = node.left
        if isinstance(left, ast.FieldRef) and left.name == "evt.type" and not left.arg \
                and node.op in ("=", "==", "!=", "in"):
            right = node.right
            if isinstance(right, ast.Value):
                s = EvtSet(frozenset([right.value]))
            elif isinstance(right, ast.ListValue):
                s = EvtSet(frozenset(right.values))
            else:
                return ALL
            if neg:
                s = s.complement()
            return s.complement() if node.op == "!=" else s
        return ALL
    if isinstance(node, ast.UnaryCheck):
        left = node.left
        if isinstance(left, ast.FieldRef) and left.name == "evt.type" and not left.arg \
                and node.op == "exists":
            return EMPTY if neg else ALL
        return ALL
    return ALL


@lru_cache(maxsize=1)
def _universe() -> frozenset[str]:
    """Every name ``get_json_evt_types`` can give for the syscall source: the event table's
    names (the generic event left out) and the names of generic-only syscalls."""
    names = {n for n in _table()[0] if n != _GENERIC_EVENT}
    return frozenset(n for n in names if n not in _SC_ALIASES)


def syscall_event_names(node: ast.Node | None) -> list[str]:
    """The ``events`` of a syscall rule or of a macro: the names of the event types the
    condition can match, plus ``asyncevent`` (Falco always adds it), sorted."""
    s = _codes(node, False) if node is not None else ALL
    universe = _universe()
    if s.negated:
        names = set(universe - {_SC_ALIASES.get(n, n) for n in s.names})
    else:
        names = {_SC_ALIASES.get(n, n) for n in s.names} & universe
    names.add("asyncevent")
    return sorted(names)


# -- the three descriptions ----------------------------------------------------------------

def exception_details(info: RuleInfo) -> tuple[list[str], list[str], list[str]]:
    """(fields, names, operators) of the rule's exceptions. Fields are those that made it
    into the condition (an exception without values adds none), as Falco's
    ``exception_fields``."""
    fields: set[str] = set()
    names: set[str] = set()
    ops: set[str] = set()
    for ex in info.exceptions:
        names.add(ex.name)
        comps = ex.comps if ex.comps is not None else ([] if isinstance(ex.fields, list)
                                                       else "in")
        for c in comps if isinstance(comps, list) else [comps]:
            ops.add(c)
        if ex.values:
            if isinstance(ex.fields, list):
                fields.update(ex.fields)
            elif ex.fields:
                fields.add(ex.fields)
    return sorted(fields), sorted(names), sorted(ops)


def used_plugins(source: str, fields: Iterable[str], field_owner: dict[str, str],
                 plugin_sources: dict[str, frozenset[str]]) -> list[str]:
    """Plugins a rule uses: the one(s) implementing its source, and those extracting a field
    of its condition or output for that source (``field_owner``: field -> plugin)."""
    names = {f.split("[", 1)[0] for f in fields}
    used = {p for p, srcs in plugin_sources.items() if source in srcs}
    used.update(p for f in names if (p := field_owner.get(f)) in plugin_sources)
    return sorted(used)


def list_description(info: ListInfo, compiled: list[str]) -> dict[str, Any]:
    items = [i for i in info.items if i in compiled]
    refs = {i for i in info.items if i not in compiled}
    return {
        "info": {"name": info.name, "items": items},
        "details": {"used": info.used, "lists": sorted(refs), "items_compiled": list(compiled),
                    "plugins": []},
    }


def macro_description(info: MacroInfo, compiled: ast.Node | None, known_macros: set[str],
                      known_lists: set[str]) -> dict[str, Any]:
    raw = raw_details(info.condition, known_macros, known_lists)
    comp = filter_details(compiled, known_macros, known_lists)
    return {
        "info": {"name": info.name, "condition": info.condition},
        "details": {
            "used": info.used,
            "macros": sorted(raw.macros),
            "lists": sorted(raw.lists),
            "condition_operators": sorted(comp.operators),
            "condition_fields": sorted(comp.fields),
            "events": syscall_event_names(compiled),
            "condition_compiled": ast.as_string(compiled) if compiled is not None else "",
            # Falco: a macro has no source, so which plugin a field belongs to is unknown
            "plugins": [],
        },
    }


def expand_lists(lists: Iterable[ListInfo], by_name: dict[str, ListInfo]
                 ) -> dict[str, list[str]]:
    """Each list's items after the one-level expansion of visible list references (the
    loader's ``_compile_lists``, before quoting)."""
    out: dict[str, list[str]] = {}
    for lst in lists:
        items: list[str] = []
        for raw in lst.items:
            ref = by_name.get(raw)
            if ref is not None and ref.index < lst.visibility:
                items.extend(ref.items)
            else:
                items.append(raw)
        out[lst.name] = items
    return out
