"""Helpers for plugin test suites: run the ``pyfalco`` command as a user does."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path


def pyfalco_command() -> str:
    """The ``pyfalco`` console script of the running interpreter's environment."""
    return str(Path(sys.executable).with_name("pyfalco"))


def run_until_alerts(config: Path, want: int, args: Sequence[str] = (),
                     timeout: float = 60) -> tuple[list[dict], str, int]:
    """Run ``pyfalco -c config *args`` (JSON output expected on stdout) until ``want`` alerts
    were printed, it exits, or ``timeout`` passes; then stop it with SIGINT as a user would.
    Returns (alerts, stderr, exit code)."""
    proc = subprocess.Popen(
        [pyfalco_command(), "-c", str(config), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stdout is not None
    reader = threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout], daemon=True)
    reader.start()
    alerts: list[dict] = []
    deadline = time.monotonic() + timeout
    while len(alerts) < want and time.monotonic() < deadline and proc.poll() is None:
        try:
            line = lines.get(timeout=0.2)
        except queue.Empty:
            continue
        if line.startswith("{"):
            alerts.append(json.loads(line))
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    proc.wait(timeout=30)
    reader.join(timeout=10)
    err = proc.stderr.read() if proc.stderr else ""
    while not lines.empty():
        line = lines.get()
        if line.startswith("{"):
            alerts.append(json.loads(line))
    return alerts, err, proc.returncode
