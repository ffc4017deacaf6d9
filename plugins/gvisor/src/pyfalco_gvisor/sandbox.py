"""Running throw-away sandboxes with ``runsc do`` (tests and benchmarks, as root).

``runsc do`` ignores ``--root`` and keeps its state in a temporary directory of its own
(shared/spec/gvisor.md §10): :meth:`Sandbox.state_root` finds it on the command line of the
sandbox process, so ``runsc list`` / ``trace create`` / ``trace procfs`` can address it.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from .recording import CLEAN_ENV
from .runsc import runsc_path


class Sandbox:
    """``runsc --network=none [--pod-init-config=F] do CMD`` in the background, output to files."""

    def __init__(self, command: Sequence[str], session_file: str | None, log_dir: Path) -> None:
        argv = [runsc_path(), "--network=none"]
        if session_file:
            argv.append(f"--pod-init-config={session_file}")
        argv += ["do", *command]
        log_dir.mkdir(parents=True, exist_ok=True)
        self._out = open(log_dir / f"runsc-{time.monotonic_ns()}.log", "wb")
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=self._out, stderr=subprocess.STDOUT,
            env=CLEAN_ENV, cwd="/",
        )

    def _sandbox_args(self) -> list[str] | None:
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
                if ppid != self.proc.pid:
                    continue
                args = (entry / "cmdline").read_bytes().split(b"\0")
            except (OSError, ValueError, IndexError):
                continue
            if args and args[0] == b"runsc-sandbox":
                return [a.decode() for a in args if a]
        return None

    def state_root(self, timeout: float = 20.0) -> str:
        """The ``--root`` of this sandbox (waits for it to start)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            args = self._sandbox_args()
            if args:
                for a in args:
                    if a.startswith("--root="):
                        return a.split("=", 1)[1]
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"sandbox of runsc pid {self.proc.pid} did not start")

    def wait(self, timeout: float = 60.0) -> int:
        try:
            return self.proc.wait(timeout)
        finally:
            self._out.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()  # runsc do forwards SIGTERM to the sandbox and cleans up
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._out.close()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
