"""Prefetch: when a process starts (clone/fork/execve exits), queue the metadata lookup of its
container right away, as upstream does on these events, so the first rule that needs the name
or image is more likely to find it. Uses the event's own ``cgroups`` parameter, so it does not
depend on running before or after the syscall plugin's state parser."""

from __future__ import annotations

from typing import Any

from .cgroups import match_cgroups
from .fields import STATE

PROCESS_START = frozenset({"execve", "execveat", "clone", "clone3", "fork", "vfork"})


def prefetch(evt: Any) -> None:
    if evt.type not in PROCESS_START or STATE.store is None:
        return
    param = getattr(evt, "param", None)
    raw = param("cgroups") if param is not None else None
    if not raw:
        return
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    entries = tuple(e for e in raw.split("\0") if e) if isinstance(raw, str) else tuple(raw)
    ref = match_cgroups(entries)
    if ref is not None:
        STATE.store.get(ref)
