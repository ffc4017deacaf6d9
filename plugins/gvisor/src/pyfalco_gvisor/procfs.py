"""Processes of a running sandbox, from ``runsc trace procfs`` (shared/spec/gvisor.md §9.5).

Falco's reading had two bugs fixed here: it took the process-group id (``stat.pgid``) as the
pid and a nonexistent ``status.pgid`` key as the vpid (always 0). A procfs entry is one thread
group, so pid = vpid = ``status.pid``.
"""

from __future__ import annotations

import stat as statmod
from dataclasses import dataclass, field
from typing import Any

UINT32_MAX = 0xFFFFFFFF


@dataclass
class SandboxProcess:
    """One process of a sandbox, with tids qualified by the sandbox id like the events'."""

    tid: int
    pid: int
    ptid: int
    sid: int
    vpgid: int
    vtid: int
    vpid: int
    comm: str
    exe: str
    exepath: str
    args: list[str]
    env: list[str]
    cwd: str
    root: str
    uid: int
    gid: int
    clone_ts: int
    container_id: str
    fdlimit: int = 0
    #: regular files only (fd number -> path), as Falco kept them
    files: dict[int, str] = field(default_factory=dict)


def _int(obj: Any, *keys: str, default: int = 0) -> int:
    for key in keys:
        if not isinstance(obj, dict):
            return default
        obj = obj.get(key)
    return obj if isinstance(obj, int) and not isinstance(obj, bool) else default


def process_from_procfs(
    entry: dict[str, Any], sandbox_id: int, container_id: str
) -> SandboxProcess:
    """Map one ``trace procfs`` JSON object. Missing keys default (the dump is hostile input:
    types are checked, never trusted)."""
    base = sandbox_id << 32
    status = entry.get("status") if isinstance(entry.get("status"), dict) else {}
    stat = entry.get("stat") if isinstance(entry.get("stat"), dict) else {}
    vpid = _int(status, "pid")
    ppid = _int(status, "ppid")
    args = [a for a in entry.get("args") or [] if isinstance(a, str)]
    env = [e for e in entry.get("env") or [] if isinstance(e, str)]
    exe = entry.get("exe") if isinstance(entry.get("exe"), str) else ""
    files: dict[int, str] = {}
    for fd in entry.get("fdlist") or []:
        if not isinstance(fd, dict):
            continue
        num, mode, path = fd.get("number"), fd.get("mode"), fd.get("path")
        if isinstance(num, int) and isinstance(mode, int) and isinstance(path, str):
            if statmod.S_ISREG(mode):
                files[num] = path
    limits = entry.get("limits") if isinstance(entry.get("limits"), dict) else {}
    return SandboxProcess(
        tid=base | (vpid & UINT32_MAX),
        pid=base | (vpid & UINT32_MAX),
        ptid=base | (ppid & UINT32_MAX) if ppid > 0 else 0,
        sid=base | (_int(stat, "sid") & UINT32_MAX),
        vpgid=_int(stat, "pgid"),
        vtid=vpid,
        vpid=vpid,
        comm=status.get("comm") if isinstance(status.get("comm"), str) else "",
        exe=args[0] if args else exe,
        exepath=exe,
        args=args[1:],
        env=env,
        cwd=entry.get("cwd") if isinstance(entry.get("cwd"), str) else "",
        root=entry.get("root") if isinstance(entry.get("root"), str) else "",
        uid=_int(status, "uid", "effective", default=UINT32_MAX),
        gid=_int(status, "gid", "effective", default=UINT32_MAX),
        clone_ts=_int(entry, "clone_ts"),
        container_id=container_id,
        fdlimit=_int(limits, "RLIMIT_NOFILE", "cur"),
        files=files,
    )
