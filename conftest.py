"""Repository-wide pytest fixtures and skip rules (applies to core, every plugin and tests/).

Upstream Falco data lives beside the clone in ``../shared/upstream`` (never copied here);
``PYFALCO_SHARED`` overrides the location.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent
SHARED = Path(os.environ.get("PYFALCO_SHARED", REPO.parent / "shared")).resolve()
UPSTREAM = SHARED / "upstream"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def upstream() -> Path:
    """``../shared/upstream``: Falco's rules, tests and captures (Apache-2.0)."""
    if not UPSTREAM.is_dir():
        pytest.fail(f"upstream data not found at {UPSTREAM} (set PYFALCO_SHARED)")
    return UPSTREAM


@pytest.fixture(scope="session")
def third_party_plugins_dir(tmp_path_factory) -> Path:
    """The test plugins of tests/fixtures/*, installed once per session like any user's plugin
    (pip, entry points) but into a temporary ``--target``, outside the repository's venv, so
    `make run` never shows their sources to users."""
    target = tmp_path_factory.mktemp("third-party-plugins")
    sources = tmp_path_factory.mktemp("third-party-sources")  # setuptools builds in the tree
    packages = []
    for project in sorted((REPO / "tests" / "fixtures").glob("*/pyproject.toml")):
        copy = sources / project.parent.name
        shutil.copytree(project.parent, copy, ignore=shutil.ignore_patterns("build", "*.egg-info"))
        packages.append(str(copy))
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
         "--no-index", "--target", str(target), *packages],
        check=True,
    )
    return target


@pytest.fixture
def third_party_plugins(third_party_plugins_dir, monkeypatch) -> Path:
    """``PYTHONPATH`` points at the installed test plugins for this test only: every ``pyfalco``
    subprocess it starts discovers their entry points there (other tests, such as the fresh-venv
    install test, never see them)."""
    previous = os.environ.get("PYTHONPATH")
    paths = [str(third_party_plugins_dir)] + ([previous] if previous else [])
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(paths))
    return third_party_plugins_dir


def _missing(marker: str) -> str | None:
    """Why a test with ``marker`` cannot run here, or None. In CI (CI=true) nothing is skipped:
    a missing component there is a failure of the set-up, not a reason to skip."""
    if marker in ("root", "kernel", "runsc") and os.geteuid() != 0:
        return "needs root"
    if marker == "kernel":
        try:
            import bcc  # noqa: F401
        except Exception as exc:  # bcc raises various errors when libbcc is missing
            return f"bcc not importable ({exc})"
    if marker == "runsc" and not shutil.which("runsc"):
        return "runsc not installed"
    if marker == "sysdig" and not shutil.which("sysdig"):
        return "sysdig not installed"
    return None


def pytest_collection_modifyitems(config, items):
    in_ci = os.environ.get("CI") == "true"
    for item in items:
        for marker in ("root", "kernel", "runsc", "sysdig"):
            if item.get_closest_marker(marker) and (why := _missing(marker)) and not in_ci:
                item.add_marker(pytest.mark.skip(reason=why))
