"""gVisor messages -> syscall-source events (shared/spec/gvisor.md §9.3, with Falco's mapping
bugs fixed; each fix is listed in the package README and has a test).

Each mapper receives ``(msg, base, cid)``: the decoded payload, the connection's thread-id base
(``sandbox_id << 32``) and the container id of the task (context, else the connection's), and
returns a list of events. Only exit points produce events: an exit message carries the call's
arguments too (current libs merge enter parameters into exit events), so enter messages are
skipped before decoding (see :func:`is_enter`).
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from typing import Any

from . import convert
from .events import ENTER, EXIT, make_event

Mapper = Callable[[Any, int, str], list]

UINT32_MAX = 0xFFFFFFFF
_NO_UID = UINT32_MAX


def is_enter(payload: bytes) -> bool:
    """True when a syscall message is an enter point: ``exit`` (field 2) is absent. Read from the
    wire without decoding: Go's marshaller writes fields in number order, so ``exit`` (tag 0x12)
    follows context_data (tag 0x0a, length-delimited) or starts the message."""
    if not payload:
        return True
    pos = 0
    if payload[0] == 0x0A:
        # skip the context_data length varint and body
        length = 0
        shift = 0
        pos = 1
        n = len(payload)
        while pos < n:
            b = payload[pos]
            pos += 1
            length |= (b & 0x7F) << shift
            if not b & 0x80:
                break
            shift += 7
        pos += length
    return pos >= len(payload) or payload[pos] != 0x12


def _res(exit: Any) -> int:
    """Kernel-style return value: gVisor reports failures as result 0 + positive errorno."""
    err = exit.errorno
    return -err if err else exit.result


def _tid(ctx: Any, base: int) -> int:
    return base | (ctx.thread_id & UINT32_MAX)


def _pid(ctx: Any, base: int) -> int:
    return base | (ctx.thread_group_id & UINT32_MAX)


def _uid_gid(ctx: Any) -> tuple[int, int]:
    if ctx.HasField("credentials"):
        c = ctx.credentials
        return c.effective_uid, c.effective_gid
    return _NO_UID, _NO_UID


def _args(argv: Any) -> bytes:
    """NUL-joined list (scap BYTEBUF list encoding: every entry NUL-terminated)."""
    return b"".join(a.encode("utf-8", "surrogateescape") + b"\0" for a in argv)


def _ev(type: str, msg: Any, base: int, cid: str, params: dict[str, Any]) -> list:
    ctx = msg.context_data
    return [make_event(type, EXIT, ctx.time_ns, _tid(ctx, base), params, cid)]


def _clone_params(
    res: int, exe: str, args: bytes, tid: int, pid: int, ptid: int, cwd: str, comm: str,
    flags: int, uid: int, gid: int, vtid: int, vpid: int, pidns_ts: int, cid: str,
) -> dict[str, Any]:
    return {
        "res": res, "exe": exe, "args": args, "tid": tid, "pid": pid, "ptid": ptid, "cwd": cwd,
        "fdlimit": 0, "pgft_maj": 0, "pgft_min": 0, "vm_size": 0, "vm_rss": 0, "vm_swap": 0,
        "comm": comm, "cgroups": _cgroups(cid), "flags": flags, "uid": uid, "gid": gid,
        "vtid": vtid, "vpid": vpid, "pidns_init_start_ts": pidns_ts,
    }


def _cgroups(cid: str) -> bytes:
    # Falco's encoding: a single pseudo-cgroup naming the gVisor container.
    return f"gvisor_container_id=/{cid}".encode() + b"\0"


# -- container and sentry points ---------------------------------------------------------------


def container_start(msg: Any, base: int, cid: str) -> list:
    """The container's init: a clone (child side) then an execve, both for thread 1."""
    ctx = msg.context_data
    cid = msg.id or cid
    tid = base | 1
    argv = list(msg.args)
    exe = argv[0] if argv else ""
    comm = posixpath.basename(exe)
    args = _args(argv[1:])
    uid, gid = _uid_gid(ctx)
    cwd = msg.cwd or ctx.cwd
    clone = _clone_params(
        0, exe, args, tid, tid, 0, cwd, comm, 0, uid, gid, 1, 1, ctx.thread_start_time_ns, cid
    )
    execve = _execve_params(0, exe, args, tid, tid, cwd, comm, _args(msg.env), uid, gid, exe, cid)
    ts = ctx.time_ns
    return [
        make_event("clone", EXIT, ts, tid, clone, cid),
        make_event("execve", EXIT, ts, tid, execve, cid),
    ]


def sentry_clone(msg: Any, base: int, cid: str) -> list:
    """A new task, seen from the child (the sentry reports it before the parent's clone exit)."""
    ctx = msg.context_data
    tid = base | (msg.created_thread_id & UINT32_MAX)
    pid = base | (msg.created_thread_group_id & UINT32_MAX)
    uid, gid = _uid_gid(ctx)
    params = _clone_params(
        0, ctx.process_name, b"", tid, pid, _tid(ctx, base), ctx.cwd, ctx.process_name,
        convert.clone_flags(msg.flags), uid, gid, msg.created_thread_id,
        msg.created_thread_group_id, ctx.thread_start_time_ns, cid,
    )
    return [make_event("clone", EXIT, ctx.time_ns, tid, params, cid)]


def task_exit(msg: Any, base: int, cid: str) -> list:
    ctx = msg.context_data
    status = msg.exit_status
    ret, sig, core = convert.exit_status(status)
    params = {"status": status, "ret": ret, "sig": sig, "core": core, "reaper_tid": 0}
    return [make_event("procexit", ENTER, ctx.time_ns, _tid(ctx, base), params, cid)]


# -- syscalls ----------------------------------------------------------------------------------


def _caller_clone(type: str, msg: Any, base: int, cid: str, flags: int) -> list:
    ctx = msg.context_data
    res = _res(msg.exit)
    if res > 0:
        res = base | res  # the child's tid, qualified like every tid of this sandbox
    uid, gid = _uid_gid(ctx)
    params = _clone_params(
        res, ctx.process_name, b"", _tid(ctx, base), _pid(ctx, base), 0, ctx.cwd,
        ctx.process_name, flags, uid, gid, ctx.thread_id, ctx.thread_group_id,
        ctx.thread_start_time_ns, cid,
    )
    return [make_event(type, EXIT, ctx.time_ns, _tid(ctx, base), params, cid)]


def syscall_clone(msg: Any, base: int, cid: str) -> list:
    return _caller_clone("clone", msg, base, cid, convert.clone_flags(msg.flags))


_FORK_TYPES = {57: "fork", 58: "vfork"}


def syscall_fork(msg: Any, base: int, cid: str) -> list:
    # Falco's switch fell through and reported every fork as vfork.
    type = _FORK_TYPES.get(msg.sysno)
    if type is None:
        return []
    flags = (1 << 27) if type == "vfork" else 0  # PPM_CL_CLONE_VFORK
    return _caller_clone(type, msg, base, cid, flags)


def _execve_params(
    res: int, exe: str, args: bytes, tid: int, pid: int, cwd: str, comm: str, env: bytes,
    uid: int, gid: int, path: str, cid: str,
) -> dict[str, Any]:
    return {
        "res": res, "exe": exe, "args": args, "tid": tid, "pid": pid, "ptid": -1, "cwd": cwd,
        "fdlimit": 0, "pgft_maj": 0, "pgft_min": 0, "vm_size": 0, "vm_rss": 0, "vm_swap": 0,
        "comm": comm, "cgroups": _cgroups(cid), "env": env, "tty": 0, "vpgid": 0,
        "loginuid": UINT32_MAX, "flags": 0, "cap_inheritable": 0, "cap_permitted": 0,
        "cap_effective": 0, "exe_ino": 0, "exe_ino_ctime": 0, "exe_ino_mtime": 0, "uid": uid,
        "trusted_exepath": path, "pgid": 0, "gid": gid, "filename": path,
    }


_EXEC_TYPES = {59: "execve", 322: "execveat"}


def syscall_execve(msg: Any, base: int, cid: str) -> list:
    type = _EXEC_TYPES.get(msg.sysno)
    if type is None:
        return []
    ctx = msg.context_data
    path = msg.pathname
    if path and not path.startswith("/") and ctx.cwd:
        path = posixpath.join(ctx.cwd, path)
    argv = msg.argv
    exe = argv[0] if argv else msg.pathname
    # uid/gid from the credentials of the exit point (Falco hard-coded 0).
    uid, gid = _uid_gid(ctx)
    params = _execve_params(
        _res(msg.exit), exe, _args(argv[1:]), _tid(ctx, base), _pid(ctx, base), ctx.cwd,
        posixpath.basename(msg.pathname), _args(msg.envv), uid, gid, path, cid,
    )
    if type == "execveat":
        # execveat's enter parameters instead of execve's `filename`
        del params["filename"]
        params["dirfd"] = msg.fd
        params["pathname"] = msg.pathname
    return _ev(type, msg, base, cid, params)


def syscall_open(msg: Any, base: int, cid: str) -> list:
    res = _res(msg.exit)
    flags = convert.open_flags(msg.flags)
    sysno = msg.sysno
    if sysno == 257:
        params = {
            "fd": res, "dirfd": msg.fd, "name": msg.pathname, "flags": flags, "mode": msg.mode,
            "dev": 0, "ino": 0,
        }
        return _ev("openat", msg, base, cid, params)
    if sysno == 2:
        params = {"fd": res, "name": msg.pathname, "flags": flags, "mode": msg.mode, "dev": 0,
                  "ino": 0}
        return _ev("open", msg, base, cid, params)
    if sysno == 85:
        params = {"fd": res, "name": msg.pathname, "mode": msg.mode, "dev": 0, "ino": 0,
                  "creat_flags": 0}
        return _ev("creat", msg, base, cid, params)
    return []


def syscall_close(msg: Any, base: int, cid: str) -> list:
    return _ev("close", msg, base, cid, {"res": _res(msg.exit), "fd": msg.fd})


_READ_TYPES = {0: "read", 17: "pread", 19: "readv", 295: "preadv"}
_WRITE_TYPES = {1: "write", 18: "pwrite", 20: "writev", 296: "pwritev"}


def _rw(types: dict[int, str]) -> Mapper:
    def mapper(msg: Any, base: int, cid: str) -> list:
        type = types.get(msg.sysno)
        if type is None:
            return []
        params: dict[str, Any] = {
            "res": _res(msg.exit), "data": b"", "fd": msg.fd, "size": msg.count
        }
        if msg.has_offset:
            params["pos"] = msg.offset
        return _ev(type, msg, base, cid, params)

    return mapper


def syscall_connect(msg: Any, base: int, cid: str) -> list:
    params = {
        "res": _res(msg.exit), "tuple": convert.tuple_to(msg.address), "fd": msg.fd,
        "addr": convert.sockaddr(msg.address),
    }
    return _ev("connect", msg, base, cid, params)


def syscall_socket(msg: Any, base: int, cid: str) -> list:
    params = {"fd": _res(msg.exit), "domain": msg.domain, "type": msg.type,
              "proto": msg.protocol}
    return _ev("socket", msg, base, cid, params)


def syscall_bind(msg: Any, base: int, cid: str) -> list:
    params = {"res": _res(msg.exit), "addr": convert.sockaddr(msg.address), "fd": msg.fd}
    return _ev("bind", msg, base, cid, params)


def syscall_accept(msg: Any, base: int, cid: str) -> list:
    # The accepted socket is the result; Accept.fd is the listening socket (Falco used it).
    params: dict[str, Any] = {
        "fd": _res(msg.exit), "tuple": convert.tuple_from(msg.address), "queuepct": 0,
        "queuelen": 0, "queuemax": 0,
    }
    if msg.sysno == 288:
        params["flags"] = msg.flags
        return _ev("accept4", msg, base, cid, params)
    return _ev("accept", msg, base, cid, params)


def syscall_chdir(msg: Any, base: int, cid: str) -> list:
    if msg.sysno == 81:
        return _ev("fchdir", msg, base, cid, {"res": _res(msg.exit), "fd": msg.fd})
    return _ev("chdir", msg, base, cid, {"res": _res(msg.exit), "path": msg.pathname})


def syscall_setid(msg: Any, base: int, cid: str) -> list:
    sysno, res = msg.sysno, _res(msg.exit)
    if sysno == 105:
        return _ev("setuid", msg, base, cid, {"res": res, "uid": msg.id})
    if sysno == 106:
        return _ev("setgid", msg, base, cid, {"res": res, "gid": msg.id})
    if sysno == 112:
        return _ev("setsid", msg, base, cid, {"res": res})
    return []


def syscall_setresid(msg: Any, base: int, cid: str) -> list:
    res = _res(msg.exit)
    if msg.sysno == 117:
        params = {"res": res, "ruid": msg.rid, "euid": msg.eid, "suid": msg.sid}
        return _ev("setresuid", msg, base, cid, params)
    if msg.sysno == 119:
        params = {"res": res, "rgid": msg.rid, "egid": msg.eid, "sgid": msg.sid}
        return _ev("setresgid", msg, base, cid, params)
    return []


def syscall_prlimit(msg: Any, base: int, cid: str) -> list:
    params = {
        "res": _res(msg.exit), "newcur": msg.new_limit.cur, "newmax": msg.new_limit.max,
        "oldcur": msg.old_limit.cur, "oldmax": msg.old_limit.max, "pid": msg.pid,
        "resource": msg.resource,
    }
    return _ev("prlimit", msg, base, cid, params)


def syscall_pipe(msg: Any, base: int, cid: str) -> list:
    params: dict[str, Any] = {
        "res": _res(msg.exit), "fd1": msg.reader, "fd2": msg.writer, "ino": 0
    }
    if msg.sysno == 293:
        params["flags"] = convert.open_flags(msg.flags) & ~convert.PPM_O_RDONLY
        return _ev("pipe2", msg, base, cid, params)
    return _ev("pipe", msg, base, cid, params)


def syscall_fcntl(msg: Any, base: int, cid: str) -> list:
    params = {"res": _res(msg.exit), "fd": msg.fd, "cmd": convert.fcntl_cmd(msg.cmd)}
    return _ev("fcntl", msg, base, cid, params)


def syscall_dup(msg: Any, base: int, cid: str) -> list:
    sysno, res = msg.sysno, _res(msg.exit)
    # "fd" is the enter event's parameter (the duplicated fd), merged into the exit.
    if sysno == 32:
        return _ev("dup", msg, base, cid, {"res": res, "oldfd": msg.old_fd, "fd": msg.old_fd})
    if sysno == 33:
        params = {"res": res, "oldfd": msg.old_fd, "newfd": msg.new_fd, "fd": msg.old_fd}
        return _ev("dup2", msg, base, cid, params)
    if sysno == 292:
        params = {"res": res, "oldfd": msg.old_fd, "newfd": msg.new_fd,
                  "flags": convert.dup3_flags(msg.flags), "fd": msg.old_fd}
        return _ev("dup3", msg, base, cid, params)
    return []


def syscall_signalfd(msg: Any, base: int, cid: str) -> list:
    params = {"res": _res(msg.exit), "fd": msg.fd, "mask": msg.sigset & UINT32_MAX,
              "flags": msg.flags}
    return _ev("signalfd4" if msg.sysno == 289 else "signalfd", msg, base, cid, params)


def syscall_chroot(msg: Any, base: int, cid: str) -> list:
    return _ev("chroot", msg, base, cid, {"res": _res(msg.exit), "path": msg.pathname})


def syscall_eventfd(msg: Any, base: int, cid: str) -> list:
    params = {"res": _res(msg.exit), "initval": msg.val, "flags": msg.flags}
    return _ev("eventfd2" if msg.sysno == 290 else "eventfd", msg, base, cid, params)


def syscall_timerfd_create(msg: Any, base: int, cid: str) -> list:
    params = {"res": _res(msg.exit), "clockid": msg.clock_id, "flags": msg.flags}
    return _ev("timerfd_create", msg, base, cid, params)


def syscall_inotify_init(msg: Any, base: int, cid: str) -> list:
    # Decoded with its own schema: Falco used Eventfd's and always reported flags 0.
    type = "inotify_init1" if msg.sysno == 294 else "inotify_init"
    return _ev(type, msg, base, cid, {"res": _res(msg.exit), "flags": msg.flags})


def syscall_socketpair(msg: Any, base: int, cid: str) -> list:
    params = {
        "res": _res(msg.exit), "fd1": msg.socket1, "fd2": msg.socket2, "source": 0, "peer": 0,
        "domain": msg.domain, "type": msg.type, "proto": msg.protocol,
    }
    return _ev("socketpair", msg, base, cid, params)


def syscall_raw(msg: Any, base: int, cid: str) -> list:
    sysno = msg.sysno
    if sysno == 9:
        params = {
            "res": _res(msg.exit), "vm_size": 0, "vm_rss": 0, "vm_swap": 0, "addr": msg.arg1,
            "length": msg.arg2, "prot": msg.arg3, "flags": msg.arg4,
            # 32-bit fd arrives zero-extended: -1 (anonymous) shows as 4294967295
            "fd": msg.arg5 - (1 << 32) if msg.arg5 >= 1 << 31 and msg.arg5 <= UINT32_MAX
            else msg.arg5,
            "offset": msg.arg6,
        }
        return _ev("mmap", msg, base, cid, params)
    if sysno == 11:
        params = {"res": _res(msg.exit), "vm_size": 0, "vm_rss": 0, "vm_swap": 0,
                  "addr": msg.arg1, "length": msg.arg2}
        return _ev("munmap", msg, base, cid, params)
    return []


#: MessageType value -> mapper. Types absent here are decoded and then ignored (no Falco event
#: exists for them): 3 sentry/execve, 4 exit_notify_parent, 27/28 timerfd_{set,get}time,
#: 31/32 inotify_{add,rm}_watch.
MAPPERS: dict[int, Mapper] = {
    1: container_start,
    2: sentry_clone,
    5: task_exit,
    6: syscall_raw,
    7: syscall_open,
    8: syscall_close,
    9: _rw(_READ_TYPES),
    10: syscall_connect,
    11: syscall_execve,
    12: syscall_socket,
    13: syscall_chdir,
    14: syscall_setid,
    15: syscall_setresid,
    16: syscall_prlimit,
    17: syscall_pipe,
    18: syscall_fcntl,
    19: syscall_dup,
    20: syscall_signalfd,
    21: syscall_chroot,
    22: syscall_eventfd,
    23: syscall_clone,
    24: syscall_bind,
    25: syscall_accept,
    26: syscall_timerfd_create,
    29: syscall_fork,
    30: syscall_inotify_init,
    33: syscall_socketpair,
    34: _rw(_WRITE_TYPES),
}

#: Message types that are syscall points (have an ``exit`` field whose presence is direction).
SYSCALL_TYPES = frozenset(range(6, 35))
