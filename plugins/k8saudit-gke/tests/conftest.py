"""Fixtures: the loopback Cloud Logging / Container API server (gke_testlib)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # gke_testlib: a uniquely named helper module

from gke_testlib import LoggingServer  # noqa: E402


@pytest.fixture
def logging_server():
    server = LoggingServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def no_adc(monkeypatch, tmp_path):
    """Never pick up the developer's Google credentials or project."""
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "none.json"))
    monkeypatch.delenv("GOOGLE_CLOUD_PROJECT", raising=False)
