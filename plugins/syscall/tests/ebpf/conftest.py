"""Fixtures for the eBPF driver tests.

Until the syscall plugin's distribution (plugins/syscall/pyproject.toml) is installed in the
environment, its source directory is put on sys.path so ``pyfalco_syscall.ebpf`` imports; once
it is installed this does nothing.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

_SRC = Path(__file__).resolve().parents[2] / "src"
if importlib.util.find_spec("pyfalco_syscall") is None:
    sys.path.insert(0, str(_SRC))


@pytest.fixture
def driver_factory():
    """Open BpfDrivers and close them after the test."""
    from pyfalco_syscall.ebpf.driver import BpfDriver

    opened: list[BpfDriver] = []

    def make(syscalls, **kw) -> BpfDriver:
        d = BpfDriver(syscalls, **kw)
        opened.append(d)
        return d

    yield make
    for d in opened:
        d.close()
