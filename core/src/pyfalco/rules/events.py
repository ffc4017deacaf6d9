"""Event names and their number of libscap event codes (enter/exit), for ``evt.type`` checks
and the LOAD_NO_EVTTYPE threshold. Filled from the libscap event table in ``event_names.txt``
when present; without it every name is accepted and counts as two codes."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

_TABLE = Path(__file__).with_name("event_names.txt")


@lru_cache(maxsize=1)
def _table() -> dict[str, int]:
    if not _TABLE.is_file():
        return {}
    out: dict[str, int] = {}
    for line in _TABLE.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, n = line.partition(" ")
        out[name] = int(n or 2)
    return out


def is_known_event(name: str) -> bool:
    t = _table()
    return not t or name in t


def event_codes(name: str) -> int:
    return _table().get(name, 2)
