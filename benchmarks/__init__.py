"""Benchmarks (``make bench``). Each ``bench_*.py`` module runs in its own process (so peak RSS
is its own) and prints its report; targets are ratios against a baseline measured in the same
run, never absolute times."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def upstream_dir() -> Path:
    """``../shared/upstream`` (or ``$PYFALCO_SHARED/upstream``): Falco's rules and captures.
    Exits with a message naming the path when it is missing, so that no benchmark measures
    an empty input (or loops waiting for events that never come)."""
    path = Path(os.environ.get("PYFALCO_SHARED", REPO.parent / "shared")).resolve() / "upstream"
    if not path.is_dir():
        raise SystemExit(f"upstream data not found at {path} (set PYFALCO_SHARED)")
    return path
