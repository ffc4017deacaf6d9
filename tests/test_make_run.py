"""``make run``, the README's first command, does what it promises: the default configuration
(the shipped falco.yaml: modern eBPF engine, the default rules of every installed plugin) starts,
raises Falco's alert for a real sensitive read on this host, and stops cleanly on SIGINT with
Falco's end-of-run statistics and exit code 0."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.root, pytest.mark.kernel, pytest.mark.slow]

REPO = Path(__file__).resolve().parent.parent


def _child_pyfalco(make_pid: int) -> int | None:
    out = subprocess.run(["pgrep", "-P", str(make_pid), "-f", "pyfalco"],
                         capture_output=True, text=True)
    pids = [int(p) for p in out.stdout.split()]
    return pids[0] if pids else None


def test_make_run_default_config_alerts_and_stops_on_sigint():
    # make's own output (its setup steps, then the command) goes to stdout with pyfalco's alerts
    proc = subprocess.Popen(["make", "--no-print-directory", "run"], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    err_lines: list[str] = []
    attached = threading.Event()

    def read_stderr() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            err_lines.append(line)
            if "eBPF probe attached" in line:
                attached.set()

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    try:
        # on a fresh machine `make run` first installs everything (make test did it in CI)
        assert attached.wait(600), "".join(err_lines[-30:])
        subprocess.run(["cat", "/etc/shadow"], stdout=subprocess.DEVNULL, check=True)
        time.sleep(2)  # the ring buffer is polled every few milliseconds; leave it ample time
        pid = _child_pyfalco(proc.pid)
        assert pid is not None, "pyfalco is not make's child"
        os.kill(pid, signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    reader.join(10)
    err = "".join(err_lines)
    assert proc.returncode == 0, (out[-3000:], err[-3000:])
    assert "Falco initialized with configuration files:" in err
    assert "core/src/pyfalco/config/falco.yaml | schema validation: ok" in err
    assert "Enabled event sources: syscall" in err
    assert "SIGINT received, exiting..." in err
    alerts = [line for line in out.splitlines()
              if "Sensitive file opened for reading by non-trusted program" in line
              and "file=/etc/shadow" in line and "process=cat" in line]
    assert alerts, out[-3000:]
    assert "Events detected:" in out and "Read sensitive file untrusted:" in out
