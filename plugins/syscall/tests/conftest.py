"""Fixtures of the syscall plugin's tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def trace_files(upstream: Path) -> dict[str, Path]:
    """Falco's test captures by stem (``cat_write`` -> path)."""
    d = upstream / "falco-tests" / "trace_files"
    return {p.stem: p for p in sorted(d.glob("*.scap"))}
