"""The gvisor engine through the pyfalco command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PYFALCO = str(Path(sys.executable).parent / "pyfalco")


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([PYFALCO, *args], capture_output=True, text=True, timeout=60)


def test_generate_config_with_a_socket():
    proc = run("--gvisor-generate-config=/tmp/pyfalco-test.sock")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    ts = doc["trace_session"]
    assert ts["sinks"][0]["config"]["endpoint"] == "/tmp/pyfalco-test.sock"
    assert ts["ignore_missing"] is True and len(ts["points"]) == 97


def test_generate_config_default_socket():
    proc = run("--gvisor-generate-config")
    assert proc.returncode == 0, proc.stderr
    endpoint = json.loads(proc.stdout)["trace_session"]["sinks"][0]["config"]["endpoint"]
    assert endpoint == "/run/falco/gvisor.sock"


def test_engine_without_config_file_fails_with_a_clear_error(tmp_path):
    proc = run("-o", "engine.kind=gvisor", "-o", "webserver.enabled=false",
               "-o", "log_syslog=false", "-o", "syslog_output.enabled=false")
    assert proc.returncode == 1
    assert "engine.gvisor.config is required" in proc.stderr + proc.stdout
