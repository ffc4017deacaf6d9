"""The tree interpreter: the reference semantics the generated code is tested against.

Straightforward and slow on purpose: every check extracts its operands (no caching) and applies
the check's predicate. An extractor that raises counts as "no value" (``errors`` counts it).
"""

from __future__ import annotations

from typing import Any

from ..api import Event
from .compile import IAnd, ICheck, INot, IOr, Operand


class ExtractionErrors:
    """A counter of extractor exceptions (shown in stats as ``extraction_errors``)."""

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0


def extract(op: Operand, evt: Event, errors: ExtractionErrors | None = None) -> Any:
    try:
        return op.fn(evt)
    except Exception:
        if errors is not None:
            errors.count += 1
        return None


def check(node: ICheck, evt: Event, errors: ExtractionErrors | None = None) -> bool:
    return check_value(node, extract(node.left, evt, errors), evt, errors)


def check_value(node: ICheck, v: Any, evt: Event | None,
                errors: ExtractionErrors | None = None) -> bool:
    """``node`` for the left operand's value ``v`` (None: no value). ``evt`` is only read for a
    right-hand field operand."""
    if v is None:
        return False
    if node.op == "exists":
        return True
    match = node.left.match
    if node.right is not None:
        assert evt is not None
        r = extract(node.right, evt, errors)
        if r is None:
            return False
        rp = node.rpred
        assert rp is not None
        if match:
            return any(rp(x, r) for x in v)
        return rp(v, r)
    pred = node.pred
    assert pred is not None
    if match == "any":
        return any(pred(x) for x in v if x is not None)
    if match == "endpoints":
        if node.op == "!=":
            return all(pred(x) for x in v if x is not None)
        return any(pred(x) for x in v if x is not None)
    return pred(v)


def evaluate(node: Any, evt: Event, errors: ExtractionErrors | None = None) -> bool:
    if isinstance(node, ICheck):
        return check(node, evt, errors)
    if isinstance(node, IAnd):
        return all(evaluate(c, evt, errors) for c in node.children)
    if isinstance(node, IOr):
        return any(evaluate(c, evt, errors) for c in node.children)
    if isinstance(node, INot):
        return not evaluate(node.child, evt, errors)
    if isinstance(node, bool):
        return node
    raise TypeError(f"not an IR node: {node!r}")
