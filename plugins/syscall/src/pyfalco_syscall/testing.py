"""Test and tool helpers: replay a capture and extract fields in lockstep with the state parser
(as the engine does: each event is evaluated right after it is parsed)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pyfalco_syscall.fields import FIELDS_BY_NAME
from pyfalco_syscall.replay import ReplayInstance
from pyfalco_syscall.state import SyscallState, default_state

#: The few core base fields tests compare (the core's rules package defines the real ones).
_BASE = {
    "evt.type": lambda e: e.type, "evt.num": lambda e: e.num, "evt.rawtime": lambda e: e.ts,
    "evt.source": lambda e: e.source,
}


class _Base:
    def __init__(self, fn: Any) -> None:
        self.fn = fn

    def binder(self, arg: Any = None) -> Any:
        return self.fn


def parse_field_ref(ref: str) -> tuple[Any, Any]:
    """``proc.aname[2]`` / ``evt.arg.flags`` -> (FieldSpec, arg)."""
    if ref in _BASE:
        return _Base(_BASE[ref]), None
    arg: Any = None
    name = ref
    if ref.endswith("]") and "[" in ref:
        name, _, a = ref[:-1].partition("[")
        arg = int(a) if a.isdigit() else a
    spec = FIELDS_BY_NAME.get(name)
    if spec is None:
        head = name
        while "." in head:
            head, _, _ = head.rpartition(".")
            if head in FIELDS_BY_NAME and FIELDS_BY_NAME[head].arg is not None:
                spec = FIELDS_BY_NAME[head]
                arg = name[len(head) + 1:]
                break
    if spec is None:
        raise KeyError(ref)
    return spec, arg


def replay_rows(path: str | Path, refs: Iterable[str],
                state: SyscallState | None = None) -> list[dict[str, Any]]:
    """One dict per visible event: the requested fields plus ``_evt``."""
    st = state or default_state()
    inst = ReplayInstance(path, st)
    bound = [(r, parse_field_ref(r)) for r in refs]
    bound = [(r, spec.binder(arg)) for r, (spec, arg) in bound]
    rows = []
    while (batch := inst.next_batch()) is not None:
        for evt in batch:
            st.parse(evt)
            row = {"_evt": evt}
            for r, fn in bound:
                row[r] = fn(evt)
            rows.append(row)
    return rows
