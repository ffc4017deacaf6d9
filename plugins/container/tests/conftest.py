"""Fixtures: runtime stand-ins on unix sockets (container_testlib)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # container_testlib: a uniquely named helper

from container_testlib import CRIServer, EngineAPIServer  # noqa: E402


@pytest.fixture
def docker_server(tmp_path):
    srv = EngineAPIServer(str(tmp_path / "docker.sock"))
    yield srv
    srv.stop()


@pytest.fixture
def cri_server(tmp_path):
    srv = CRIServer(str(tmp_path / "containerd.sock"))
    yield srv
    srv.stop()
    # grpc may remove the socket itself while stopping: a check-then-unlink would race it.
    Path(srv.path).unlink(missing_ok=True)
