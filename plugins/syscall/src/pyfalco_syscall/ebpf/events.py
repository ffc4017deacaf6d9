"""Decoded kernel records -> events of the syscall event model (modern libs exit events).

Each builder returns the parameters of the *exit* event by name, in the modern schema where the
enter parameters are merged into the exit (scap.md §6.5). Values are Python-typed: ints for every
integer-like type (flags already in libs' PPM_* bits), str for CHARBUF/FSPATH/FSRELPATH, bytes for
BYTEBUF (NUL-separated lists). ``None`` is an
empty parameter (unknown to this driver), which libs renders ``<NA>``. SOCKADDR values are
``(family, ip, port)`` / ``(family, path)`` and SOCKTUPLE ``(family, sip, sport, dip, dport)`` /
``(family, src, dst, path)``, the syscall event model's representation (``events.PT_PYTHON``).

What the kernel program cannot see (it reads no task struct) is completed here from /proc for
the rare events that need it: execve (parent, cwd, executable path, loginuid, cgroups) and the
local side of a connect. The /proc read races with the process: if it is gone, the parameter
stays empty.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from typing import Any, NamedTuple

from . import flags as fl
from .decode import Record
from .program import KIND_PROCEXIT
from .sockets import local_address

Params = dict[str, Any]

_EINPROGRESS = -errno.EINPROGRESS


class EventData(NamedTuple):
    """A built event, ready for the syscall plugin's event constructor."""

    name: str  # libs event name ("openat", "procexit", or the syscall name for generic events)
    ts: int
    tid: int
    pid: int
    cpu: int
    params: Params
    #: True for syscalls without an event of their own in libs (GENERIC_X, evt.type = name)
    generic: bool = False


def _execve(r: Record) -> Params:
    argv = (r.argv or b"").split(b"\0") if r.argv else []
    exe = argv[0].decode("utf-8", "surrogateescape") if argv else (r.s1 or "")
    p: Params = {
        "res": r.ret, "exe": exe, "args": b"\0".join(argv[1:]), "tid": r.tid, "pid": r.pid,
        "comm": r.comm, "uid": r.uid, "gid": r.gid, "filename": r.s1,
    }
    if r.ret >= 0:
        p.update(_proc_details(r.pid))
    return p


def _proc_details(pid: int) -> Params:
    """What libs' driver reads from the task at execve exit, read from /proc instead."""
    base = f"/proc/{pid}"
    out: Params = {}
    try:
        with open(f"{base}/stat", "rb") as f:
            stat = f.read().decode("utf-8", "surrogateescape")
        after = stat[stat.rindex(")") + 2:].split()
        out["ptid"] = int(after[1])
        out["pgid"] = int(after[2])
        out["vpgid"] = int(after[2])
        out["tty"] = int(after[4])
    except (OSError, ValueError, IndexError):
        return out
    for key, path in (("cwd", "cwd"), ("trusted_exepath", "exe")):
        try:
            out[key] = os.readlink(f"{base}/{path}").removesuffix(" (deleted)")
        except OSError:
            pass
    try:
        with open(f"{base}/loginuid", "rb") as f:
            out["loginuid"] = int(f.read())
    except (OSError, ValueError):
        pass
    try:
        with open(f"{base}/cgroup", "rb") as f:
            lines = f.read().decode("utf-8", "surrogateescape").splitlines()
        # libs' cgroups param: "subsys=path" entries, NUL-separated
        out["cgroups"] = b"\0".join(
            f"{(parts[1] or 'unified')}={parts[2]}".encode("utf-8", "surrogateescape")
            for line in lines if len(parts := line.split(":", 2)) == 3)
    except OSError:
        pass
    return out


def _clone(r: Record) -> Params:
    cflags = r.args[0]
    if r.syscall == "vfork":
        cflags |= fl.LINUX_CLONE_VFORK | fl.LINUX_CLONE_VM
    p: Params = {
        "res": r.ret, "exe": None, "args": None, "tid": r.tid, "pid": r.pid, "comm": r.comm,
        "flags": fl.clone_flags(cflags), "uid": r.uid, "gid": r.gid,
    }
    if r.ret == 0 and r.ptid:
        p["ptid"] = r.ptid
    return p


def _sockaddr(r: Record) -> tuple | None:
    return fl.sockaddr_value(fl.sockaddr_parts(r.sockaddr))


def _connect(r: Record) -> Params:
    fd = fl.s32(r.args[0])
    parts = fl.sockaddr_parts(r.sockaddr)
    p: Params = {"res": r.ret, "tuple": None, "fd": fd, "addr": fl.sockaddr_value(parts)}
    if parts is not None and parts[0] in (fl.AF_INET, fl.AF_INET6) and (
        r.ret == 0 or r.ret == _EINPROGRESS
    ):
        family, dip, dport, _ = parts
        local = local_address(r.pid, fd)
        sip, sport = (b"\0" * len(dip), 0)
        if local is not None:
            import ipaddress

            try:
                addr = ipaddress.ip_address(local[0])
                if family == fl.AF_INET and addr.version == 4:
                    sip, sport = addr.packed, local[1]
                elif family == fl.AF_INET6:
                    sip = (addr.packed if addr.version == 6
                           else ipaddress.IPv6Address(f"::ffff:{addr}").packed)
                    sport = local[1]
            except ValueError:
                pass
        p["tuple"] = (family, sip, sport, dip, dport)
    elif parts is not None and parts[0] == fl.AF_UNIX and r.ret >= 0:
        p["tuple"] = (fl.AF_UNIX, 0, 0, parts[3])
    return p


def _accept(r: Record) -> Params:
    p: Params = {"fd": r.ret, "tuple": None, "queuepct": None, "queuelen": None,
                 "queuemax": None}
    parts = fl.sockaddr_parts(r.sockaddr)
    if parts is not None and parts[0] in (fl.AF_INET, fl.AF_INET6) and r.ret >= 0:
        family, sip, sport, _ = parts
        # inbound: peer -> local; the local side comes from the accepted socket itself
        local = local_address(r.pid, r.ret)
        dip, dport = b"\0" * len(sip), 0
        if local is not None:
            import ipaddress

            try:
                addr = ipaddress.ip_address(local[0])
                if (family == fl.AF_INET) == (addr.version == 4):
                    dip, dport = addr.packed, local[1]
            except ValueError:
                pass
        p["tuple"] = (family, sip, sport, dip, dport)
    if r.syscall == "accept4":
        p["flags"] = r.args[3] & 0xFFFFFFFF
    return p


def _open_common(r: Record, dirfd: int | None, name: str | None, lflags: int | None,
                 mode: int | None) -> Params:
    p: Params = {"fd": r.ret}
    if dirfd is not None:
        p["dirfd"] = dirfd
    p["name"] = name
    p["flags"] = None if lflags is None else fl.open_flags(lflags)
    p["mode"] = None if mode is None else fl.file_mode(mode)
    p["dev"] = None
    p["ino"] = None
    return p


a = fl.s32

BUILDERS: dict[str, Callable[[Record], Params]] = {
    "open": lambda r: _open_common(r, None, r.s1, r.args[1], r.args[2]),
    "openat": lambda r: _open_common(r, a(r.args[0]), r.s1, r.args[2], r.args[3]),
    "openat2": lambda r: {**_open_common(r, a(r.args[0]), r.s1, None, None), "resolve": None},
    "creat": lambda r: {"fd": r.ret, "name": r.s1, "mode": fl.file_mode(r.args[1]),
                        "dev": None, "ino": None, "creat_flags": None},
    "execve": _execve,
    "execveat": _execve,
    "clone": _clone,
    "clone3": _clone,
    "fork": _clone,
    "vfork": _clone,
    "connect": _connect,
    "accept": _accept,
    "accept4": _accept,
    "bind": lambda r: {"res": r.ret, "addr": _sockaddr(r), "fd": a(r.args[0])},
    "sendto": lambda r: {"res": r.ret, "data": None, "fd": a(r.args[0]), "size": r.args[2],
                         "tuple": None},
    "socket": lambda r: {"fd": r.ret, "domain": a(r.args[0]), "type": r.args[1] & 0xFFFFFFFF,
                         "proto": r.args[2] & 0xFFFFFFFF, "flags": None},
    "listen": lambda r: {"res": r.ret, "fd": a(r.args[0]), "backlog": a(r.args[1])},
    "close": lambda r: {"res": r.ret, "fd": a(r.args[0])},
    "dup": lambda r: {"res": r.ret, "oldfd": a(r.args[0])},
    "dup2": lambda r: {"res": r.ret, "oldfd": a(r.args[0]), "newfd": a(r.args[1])},
    "dup3": lambda r: {"res": r.ret, "oldfd": a(r.args[0]), "newfd": a(r.args[1]),
                       "flags": fl.PPM_O_CLOEXEC if r.args[2] & 0o2000000 else 0},
    "fcntl": lambda r: {"res": r.ret, "fd": a(r.args[0]), "cmd": fl.fcntl_cmd(r.args[1]),
                        "arg": r.args[2]},
    "unlink": lambda r: {"res": r.ret, "path": r.s1},
    "unlinkat": lambda r: {"res": r.ret, "dirfd": a(r.args[0]), "name": r.s1,
                           "flags": r.args[2] & 0xFFFFFFFF},
    "rename": lambda r: {"res": r.ret, "oldpath": r.s1, "newpath": r.s2},
    "renameat": lambda r: {"res": r.ret, "olddirfd": a(r.args[0]), "oldpath": r.s1,
                           "newdirfd": a(r.args[2]), "newpath": r.s2},
    "renameat2": lambda r: {"res": r.ret, "olddirfd": a(r.args[0]), "oldpath": r.s1,
                            "newdirfd": a(r.args[2]), "newpath": r.s2,
                            "flags": r.args[4] & 0xFFFFFFFF},
    "mkdir": lambda r: {"res": r.ret, "path": r.s1, "mode": fl.file_mode(r.args[1])},
    "mkdirat": lambda r: {"res": r.ret, "dirfd": a(r.args[0]), "path": r.s1,
                          "mode": fl.file_mode(r.args[2])},
    "rmdir": lambda r: {"res": r.ret, "path": r.s1},
    "link": lambda r: {"res": r.ret, "oldpath": r.s1, "newpath": r.s2},
    "linkat": lambda r: {"res": r.ret, "olddir": a(r.args[0]), "oldpath": r.s1,
                         "newdir": a(r.args[2]), "newpath": r.s2, "flags": r.args[4]},
    "symlink": lambda r: {"res": r.ret, "target": r.s1, "linkpath": r.s2},
    "symlinkat": lambda r: {"res": r.ret, "target": r.s1, "linkdirfd": a(r.args[1]),
                            "linkpath": r.s2},
    "chmod": lambda r: {"res": r.ret, "filename": r.s1, "mode": fl.file_mode(r.args[1])},
    "fchmodat": lambda r: {"res": r.ret, "dirfd": a(r.args[0]), "filename": r.s1,
                           "mode": fl.file_mode(r.args[2])},
    "fchmod": lambda r: {"res": r.ret, "fd": a(r.args[0]), "mode": fl.file_mode(r.args[1])},
    "chdir": lambda r: {"res": r.ret, "path": r.s1},
    "fchdir": lambda r: {"res": r.ret, "fd": a(r.args[0])},
    "chroot": lambda r: {"res": r.ret, "path": r.s1},
    "setuid": lambda r: {"res": r.ret, "uid": r.args[0] & 0xFFFFFFFF},
    "setgid": lambda r: {"res": r.ret, "gid": r.args[0] & 0xFFFFFFFF},
    "setresuid": lambda r: {"res": r.ret, "ruid": r.args[0] & 0xFFFFFFFF,
                            "euid": r.args[1] & 0xFFFFFFFF, "suid": r.args[2] & 0xFFFFFFFF},
    "setresgid": lambda r: {"res": r.ret, "rgid": r.args[0] & 0xFFFFFFFF,
                            "egid": r.args[1] & 0xFFFFFFFF, "sgid": r.args[2] & 0xFFFFFFFF},
    "setreuid": lambda r: {"res": r.ret, "ruid": r.args[0] & 0xFFFFFFFF,
                           "euid": r.args[1] & 0xFFFFFFFF},
    "setregid": lambda r: {"res": r.ret, "rgid": r.args[0] & 0xFFFFFFFF,
                           "egid": r.args[1] & 0xFFFFFFFF},
    "setsid": lambda r: {"res": r.ret},
    "setns": lambda r: {"res": r.ret, "fd": a(r.args[0]), "nstype": fl.clone_flags(r.args[1])},
    "unshare": lambda r: {"res": r.ret, "flags": fl.clone_flags(r.args[0])},
    "ptrace": lambda r: {"res": r.ret, "addr": None, "data": None,
                         "request": fl.ptrace_request(r.args[0]), "pid": a(r.args[1])},
    "memfd_create": lambda r: {"fd": r.ret, "name": r.s1, "flags": r.args[1] & 0xFFFFFFFF},
    "mount": lambda r: {"res": r.ret, "dev": r.s1, "dir": r.s2, "type": None,
                        "flags": r.args[3] & 0xFFFFFFFF},
    "umount2": lambda r: {"res": r.ret, "name": r.s1, "flags": r.args[1] & 0xFFFFFFFF},
    "pipe": lambda r: {"res": r.ret, "fd1": None, "fd2": None, "ino": None},
    "pipe2": lambda r: {"res": r.ret, "fd1": None, "fd2": None, "ino": None, "flags": None},
}

#: Syscalls whose libs event has another name.
EVENT_NAME = {"umount2": "umount2"}


def build(r: Record) -> EventData:
    """The event for one record."""
    if r.kind == KIND_PROCEXIT:
        return EventData("procexit", r.ts, r.tid, r.pid, r.cpu,
                         {"status": None, "ret": None, "sig": None, "core": None,
                          "reaper_tid": None})
    builder = BUILDERS.get(r.syscall)
    if builder is None:
        return EventData(r.syscall, r.ts, r.tid, r.pid, r.cpu,
                         {"ID": r.syscall, "nativeID": None}, generic=True)
    return EventData(EVENT_NAME.get(r.syscall, r.syscall), r.ts, r.tid, r.pid, r.cpu, builder(r))
