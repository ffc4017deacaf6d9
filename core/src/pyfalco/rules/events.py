"""Event names and their number of libscap event codes, for ``evt.type`` checks
(``unknown event type X``) and the LOAD_NO_EVTTYPE threshold (§5.1).

``event_names.json`` is derived from libs' event table (see its ``_comment``); plugin sources
may add async event names with :func:`add_event_names`.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

_TABLE = Path(__file__).with_name("event_names.json")
_EXTRA: set[str] = set()


@lru_cache(maxsize=1)
def _table() -> tuple[dict[str, int], int]:
    data = json.loads(_TABLE.read_text())
    out: dict[str, int] = dict(data["events"])
    for name in data["syscalls"]:
        out.setdefault(name, 2)  # the generic syscall event: enter + exit
    return out, int(data["total_codes"])


def add_event_names(names: set[str] | frozenset[str]) -> None:
    """Accept more ``evt.type`` names (async events declared by plugins)."""
    _EXTRA.update(names)


def is_known_event(name: str) -> bool:
    return name in _table()[0] or name in _EXTRA


def event_codes(name: str) -> int:
    return _table()[0].get(name, 2)


def total_codes() -> int:
    return _table()[1]
