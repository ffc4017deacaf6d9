"""Recorded gVisor traffic: a file of raw records (``u32 LE length + record``, header included)
and a helper that records what a real sandbox sends. Used by tests and benchmarks."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

from .listener import Connection, Listener
from .runsc import runsc_path
from .session import session_config


def write_records(path: str | Path, records: Sequence[bytes]) -> None:
    with open(path, "wb") as f:
        for rec in records:
            f.write(len(rec).to_bytes(4, "little"))
            f.write(rec)


def read_records(path: str | Path) -> list[bytes]:
    data = Path(path).read_bytes()
    out, pos = [], 0
    while pos < len(data):
        if pos + 4 > len(data):
            raise ValueError(f"{path}: truncated length at byte {pos}")
        n = int.from_bytes(data[pos : pos + 4], "little")
        if pos + 4 + n > len(data):
            raise ValueError(f"{path}: record at byte {pos} runs past the end")
        out.append(data[pos + 4 : pos + 4 + n])
        pos += 4 + n
    return out


def runsc_do_argv(session_file: str, command: Sequence[str]) -> list[str]:
    """argv running ``command`` in a fresh sandbox traced with ``session_file``."""
    return [runsc_path(), "--network=none", f"--pod-init-config={session_file}", "do", *command]


#: Environment of recorded sandboxes: nothing of the recording machine leaks into test data.
CLEAN_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root", "LANG": "C.UTF-8"}


def record_command(command: Sequence[str], timeout: float = 60.0) -> list[bytes]:
    """Run ``command`` in a sandbox traced with Falco's session config, in a clean environment
    and in ``/``; every record received."""
    records: list[bytes] = []
    done = threading.Event()

    def on_records(batch: list[tuple[Connection, bytes]]) -> None:
        records.extend(rec for _, rec in batch)

    with tempfile.TemporaryDirectory(prefix="pyfalco-gvisor-") as tmp:
        sock = os.path.join(tmp, "gvisor.sock")
        cfg = os.path.join(tmp, "session.json")
        Path(cfg).write_text(json.dumps(session_config(sock)))
        listener = Listener(sock, on_records, on_close=lambda conn: done.set())
        listener.start()
        try:
            subprocess.run(
                runsc_do_argv(cfg, command), stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=timeout,
                env=CLEAN_ENV, cwd="/",
            )
            done.wait(10)
        finally:
            listener.stop()
    return records
