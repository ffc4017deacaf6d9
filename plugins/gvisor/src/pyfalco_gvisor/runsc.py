"""Calls to the ``runsc`` CLI: list running sandboxes, attach a trace session to them, read their
process tables (shared/spec/gvisor.md §9.5, output formats checked on the runsc we install).
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
from collections.abc import Sequence
from typing import Any

log = logging.getLogger("pyfalco.gvisor")

#: Seconds any runsc call may take before it is abandoned (a wedged sandbox must not hang us).
#: Healthy calls take well under a second, a few seconds on a loaded 2-core machine; the one
#: "hang" seen in CI was a deadlock with our own listener (a handshake left unanswered while its
#: queue was full, fixed in listener.py), not slowness. 60 s leaves a wide margin for load and
#: still ends a real hang, with runsc's own output so far in the error.
RUNSC_TIMEOUT = 60.0


class RunscError(RuntimeError):
    """A runsc call failed; the message names the command and carries runsc's stderr."""


def runsc_path() -> str:
    path = shutil.which("runsc")
    if path is None:
        raise RunscError("runsc not found on PATH (install gVisor's runsc: apt-get install runsc)")
    return path


def _run(root: str, args: Sequence[str], timeout: float = RUNSC_TIMEOUT) -> str:
    argv = [runsc_path()]
    if root:
        argv += ["--root", root]
    argv += list(args)
    try:
        proc = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired as exc:
        partial = exc.stderr or exc.stdout or b""
        text = partial.decode(errors="replace") if isinstance(partial, bytes) else partial
        last = text.strip().splitlines()[-1:] or ["no output"]
        raise RunscError(
            f"`{' '.join(argv)}` did not finish within {timeout:.0f}s (killed; last output: "
            f"{last[0]})"
        ) from None
    if proc.returncode != 0:
        err = (proc.stderr.strip() or proc.stdout.strip()).splitlines()
        raise RunscError(
            f"`{' '.join(argv)}` failed with status {proc.returncode}: {err[-1] if err else ''}"
        )
    return proc.stdout


def version() -> str:
    """First line of ``runsc --version`` (Falco checks runsc this way before listening)."""
    return _run("", ["--version"]).splitlines()[0].strip()


def list_running(root: str) -> list[str]:
    """Ids of the running containers under ``root`` (``runsc list``: header, then one row each:
    ``ID PID STATUS BUNDLE CREATED OWNER``)."""
    ids = []
    for line in _run(root, ["list"]).splitlines()[1:]:
        cols = line.split()
        if len(cols) >= 3 and cols[2] == "running":
            ids.append(cols[0])
    return ids


def trace_create(root: str, config_path: str, container_id: str, *, force: bool = True) -> None:
    """Attach a trace session to a running sandbox. With ``force`` an existing ``Default``
    session is replaced (its connection gets EOF, a new one is opened). Unlike Falco, the flag is
    left out entirely when not forcing (Falco passed an empty argument that runsc rejects)."""
    args = ["trace", "create"]
    if force:
        args.append("--force")
    _run(root, [*args, "--config", config_path, container_id])


def trace_delete(root: str, container_id: str, session: str = "Default") -> None:
    _run(root, ["trace", "delete", "--name", session, container_id])


def trace_procfs(root: str, container_id: str) -> list[dict[str, Any]]:
    """The processes of a sandbox from ``runsc trace procfs``: a ``PROCFS DUMP`` line, then one
    JSON object per process separated by blank lines. A malformed dump raises naming the
    container (the caller decides whether to go on without it)."""
    text = _run(root, ["trace", "procfs", container_id])
    return parse_procfs_dump(text, container_id)


def parse_procfs_dump(text: str, where: str) -> list[dict[str, Any]]:
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == "PROCFS DUMP"), None)
    if start is None:
        raise RunscError(f"trace procfs {where}: no 'PROCFS DUMP' header in runsc's output")
    decoder = json.JSONDecoder()
    body = "\n".join(lines[start + 1 :])
    procs: list[dict[str, Any]] = []
    pos = 0
    while True:
        while pos < len(body) and body[pos].isspace():
            pos += 1
        if pos >= len(body):
            return procs
        try:
            obj, pos = decoder.raw_decode(body, pos)
        except ValueError as exc:
            raise RunscError(f"trace procfs {where}: process #{len(procs) + 1}: {exc}") from None
        if not isinstance(obj, dict):
            raise RunscError(f"trace procfs {where}: process #{len(procs) + 1} is not an object")
        procs.append(obj)
