"""Helpers for test suites: run the ``pyfalco`` command as a user does, pick a free port, apply
a Falco regression case's rule selection."""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .rules import RulesEngine


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


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def select_as_falco_test(engine: RulesEngine, case: dict[str, Any]) -> None:
    """Apply a Falco regression case's selection to ``engine``, as Falco's test runner passes
    it: ``disable_tags`` (-T), ``run_tags`` (-t), ``disabled_rules`` (-D, a substring) and
    ``priority`` (the minimum)."""
    from .priority import Priority

    for tag in case.get("disable_tags") or ():
        engine.select(False, tag=tag)
    if case.get("run_tags"):
        engine.select(False, rule="*")
        for tag in case["run_tags"]:
            engine.select(True, tag=tag)
    for name in case.get("disabled_rules") or ():
        engine.select(False, rule=f"*{name}*")
    if case.get("priority"):
        engine.min_priority = Priority.parse(case["priority"])
