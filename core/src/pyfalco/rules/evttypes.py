"""Event-type algebra (``rule-language.md`` §5.1): the set of event types a condition can match,
computed on the typed IR with De Morgan pushed negation, as names.

A set is ``EvtSet(names, negated)``: ``negated`` means "every type except ``names``". Other
checks are neutral (all types) and stay neutral under negation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .compile import IAnd, ICheck, INot, IOr
from .values import CompileError

#: LOAD_NO_EVTTYPE fires above this many codes.
NO_EVTTYPE_THRESHOLD = 100
_EVT_TYPE_FIELDS = ("evt.type", "syscall.type")


@dataclass(frozen=True, slots=True)
class EvtSet:
    names: frozenset[str]
    negated: bool = False

    @property
    def is_all(self) -> bool:
        return self.negated and not self.names

    @property
    def is_empty(self) -> bool:
        return not self.negated and not self.names

    def union(self, o: EvtSet) -> EvtSet:
        if not self.negated and not o.negated:
            return EvtSet(self.names | o.names)
        if self.negated and o.negated:
            return EvtSet(self.names & o.names, True)
        pos, neg = (self, o) if not self.negated else (o, self)
        return EvtSet(neg.names - pos.names, True)

    def intersection(self, o: EvtSet) -> EvtSet:
        if not self.negated and not o.negated:
            return EvtSet(self.names & o.names)
        if self.negated and o.negated:
            return EvtSet(self.names | o.names, True)
        pos, neg = (self, o) if not self.negated else (o, self)
        return EvtSet(pos.names - neg.names)

    def complement(self) -> EvtSet:
        return EvtSet(self.names, not self.negated)

    def contains(self, name: str) -> bool:
        return (name in self.names) != self.negated

    def code_count(self) -> int:
        """How many libscap event codes the set covers (LOAD_NO_EVTTYPE counts codes)."""
        from .events import event_codes, total_codes

        n = sum(event_codes(x) for x in self.names)
        return total_codes() - n if self.negated else n


ALL = EvtSet(frozenset(), True)
EMPTY = EvtSet(frozenset())


def _leaf(chk: ICheck) -> tuple[EvtSet, bool]:
    """(set, evttype_related) for one check."""
    left = chk.left
    if left.field in _EVT_TYPE_FIELDS and left.arg is None:
        if left.transformed:
            raise CompileError("event code search does not support `evt.type` checks with "
                               "transformers")
        if chk.right is not None:
            raise CompileError("right-hand field comparisons on `evt.type`/`syscall.type` "
                               "checks are not supported by event code search")
        if chk.op == "exists":
            return ALL, True
        if chk.mod is None and chk.op in ("=", "==", "in", "intersects"):
            vals = chk.value if isinstance(chk.value, frozenset) else frozenset([chk.value])
            return EvtSet(frozenset(vals)), True
        if chk.mod is None and chk.op == "!=":
            return EvtSet(frozenset([chk.value]), True), True
        return ALL, False
    if left.field == "evt.num" and left.arg is None and not left.transformed \
            and chk.right is None and chk.mod is None:
        v = chk.value
        op = chk.op
        # evt.num >= 1 always holds: the upstream never_true macro (evt.num=0) is empty
        if op in ("=", "==") and v == 0 or op == "<" and v in (0, 1) or op == "<=" and v == 0:
            return EMPTY, True
        if op in ("in", "intersects") and all(x == 0 for x in v):
            return EMPTY, True
        if op == "!=" and v == 0 or op == ">" and v == 0 or op == ">=" and v in (0, 1):
            return ALL, True
    return ALL, False


def event_types(node: Any, negated: bool = False) -> EvtSet:
    """The event types ``node`` can match."""
    if isinstance(node, ICheck):
        s, related = _leaf(node)
        if negated and related:
            return s.complement()
        return s
    if isinstance(node, INot):
        return event_types(node.child, not negated)
    if isinstance(node, (IAnd, IOr)):
        use_and = isinstance(node, IAnd) != negated
        result: EvtSet | None = None
        for c in node.children:
            s = event_types(c, negated)
            if result is None:
                result = s
            else:
                result = result.intersection(s) if use_and else result.union(s)
        return result if result is not None else ALL
    if isinstance(node, bool):
        return ALL if node != negated else EMPTY
    return ALL
