from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def traces(upstream: Path) -> Path:
    """Falco's k8s audit trace files (JSON Lines of real audit events)."""
    return upstream / "falco-tests" / "trace_files" / "k8s_audit"
