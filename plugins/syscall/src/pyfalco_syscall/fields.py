"""The ``syscall`` source's fields: syscall-specific ``evt.*``, ``proc.*``, ``thread.*``, ``fd.*``,
``fs.path.*``, ``user.*`` and ``group.*`` (spec/scap.md §8, rule-language.md).

The base ``evt.*`` fields valid for every source (``evt.num``, ``evt.time``, ``evt.type``, ...) are
the core's and are not redefined here. Every extractor returns ``None`` when the field has no value
for the event (Falco's ``<NA>``). Thread and fd data come from the state the parser attached to the
event (``event.thread``, :func:`~pyfalco_syscall.state.event_fdinfo`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

from pyfalco.api import FieldArg, FieldSpec, FieldType

from . import render
from .events import (
    CATEGORY_NAMES,
    EC_WAIT,
    EF_READS_FROM_FD,
    EF_WRITES_TO_FD,
    PT_BYTEBUF,
    SyscallEvent,
)
from .state import (
    FD_DIRECTORY,
    FD_EVENT,
    FD_FIFO,
    FD_FILE,
    FD_FILE_V2,
    FD_INOTIFY,
    FD_IPV4_SERVSOCK,
    FD_IPV4_SOCK,
    FD_IPV6_SERVSOCK,
    FD_IPV6_SOCK,
    FD_SIGNALFD,
    FD_TIMERFD,
    FD_TYPE_INFO,
    FD_UNIX_SOCK,
    L4_NAMES,
    NO_ID,
    O_F_CREATED,
    ROLE_SERVER,
    FdInfo,
    ThreadInfo,
    default_state,
    event_fdinfo,
    ipv4_str,
    ipv6_str,
)

MATCH_ANY = "match_any"
MATCH_ENDPOINTS = "match_endpoints"
FILTER_ONLY = "filter_only"
NO_TRANSFORM = "no_transform"
NO_RHS = "no_rhs"

T = FieldType
IDX = FieldArg(required=False, index=True)
IDX_REQ = FieldArg(required=True, index=True)
KEY = FieldArg(required=False, key=True)
KEY_REQ = FieldArg(required=True, key=True)
ARG_REQ = FieldArg(required=True, index=True, key=True)

# Linux capability numbers -> names (thread.cap_*).
CAP_NAMES = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK",
    "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
    "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
)


def caps_str(mask: int) -> str:
    return " ".join(n for i, n in enumerate(CAP_NAMES) if mask >> i & 1)


def _f(name: str, type: FieldType, desc: str, extract: Callable[..., Any], *,
       arg: FieldArg | None = None, props: tuple[str, ...] = (), is_list: bool = False,
       display: str = "") -> FieldSpec:
    return FieldSpec(name=name, type=type, desc=desc, extract=extract, arg=arg,
                     properties=frozenset(props), is_list=is_list, display=display)


# --- helpers ---------------------------------------------------------------------------------
def _st(e: Any) -> Any:
    st = getattr(e, "st", None)
    return st if st is not None else default_state()


def _main(t: ThreadInfo | None, st: Any = None) -> ThreadInfo | None:
    if t is None:
        return None
    if t.tid == t.pid:
        return t
    m = t.main
    if m is None and st is not None:
        m = st.threads.get(t.pid)
    return m if m is not None else t


def _parent(t: ThreadInfo | None, st: Any) -> ThreadInfo | None:
    """Modern libs: the parent of the main thread, then that parent's main thread."""
    m = _main(t, st)
    if m is None or m.ptid < 0:
        return None
    p = st.threads.get(m.ptid)
    if p is None:
        return None
    return _main(p, st)


def _ancestor(t: ThreadInfo | None, n: int, st: Any) -> ThreadInfo | None:
    cur = _main(t, st)
    for _ in range(n):
        if cur is None:
            return None
        nxt = _parent(cur, st)
        if nxt is cur:
            return None
        cur = nxt
    return cur


def _ancestors(t: ThreadInfo | None, st: Any) -> list[ThreadInfo]:
    out = []
    seen = set()
    cur = _parent(t, st)
    while cur is not None and cur.tid not in seen and len(out) < 256:
        seen.add(cur.tid)
        out.append(cur)
        cur = _parent(cur, st)
    return out


def _thr_st(fn: Callable[[ThreadInfo, Any], Any]) -> Callable[[Any], Any]:
    def extract(e: Any) -> Any:
        t = e.thread
        return None if t is None else fn(t, _st(e))
    return extract


def _thr(fn: Callable[[ThreadInfo], Any]) -> Callable[[Any], Any]:
    def extract(e: Any) -> Any:
        t = e.thread
        return None if t is None else fn(t)
    return extract


def _main_fn(fn: Callable[[ThreadInfo], Any]) -> Callable[[Any], Any]:
    def extract(e: Any) -> Any:
        t = _main(e.thread, _st(e))
        return None if t is None else fn(t)
    return extract


def _parent_fn(fn: Callable[[ThreadInfo], Any]) -> Callable[[Any], Any]:
    def extract(e: Any) -> Any:
        p = _parent(e.thread, _st(e))
        return None if p is None else fn(p)
    return extract


def _anc_fn(fn: Callable[[ThreadInfo], Any], *, self_at_zero: bool = True) -> Callable[..., Any]:
    """``proc.aX[N]`` (N-th ancestor, 0 = the process) or, without N, every ancestor."""
    def extract(e: Any, n: int | None = None) -> Any:
        st = _st(e)
        if n is None:
            return [fn(a) for a in _ancestors(e.thread, st)]
        a = _ancestor(e.thread, n, st)
        return None if a is None else fn(a)
    return extract


def _na_str(s: str) -> str | None:
    return s


def _cmdline(t: ThreadInfo) -> str:
    return t.cmdline


def _exepath(t: ThreadInfo) -> str | None:
    return t.exepath


def _start_ts(t: ThreadInfo) -> int | None:
    m = t.main or t
    ts = m.clone_ts or m.lastexec_ts
    return ts or None


def _duration(e: Any) -> int | None:
    t = e.thread
    if t is None:
        return None
    st = _start_ts(t)
    return None if st is None else max(0, e.ts - st)


def _ppid_duration(e: Any) -> int | None:
    p = _parent(e.thread, _st(e))
    if p is None:
        return None
    st = _start_ts(p)
    return None if st is None else max(0, e.ts - st)


def _env(e: Any, key: str | None = None) -> str | None:
    m = _main(e.thread, _st(e))
    if m is None:
        return None
    if key is None:
        return " ".join(m.env)
    prefix = key + "="
    for kv in m.env:
        if kv.startswith(prefix):
            return kv[len(prefix):]
    return None


def _sid_thread(t: ThreadInfo, st: Any) -> ThreadInfo | None:
    if t.sid < 0:
        return None
    # the session leader: the topmost ancestor whose pid == sid
    cur: ThreadInfo | None = _main(t, st)
    found = None
    seen = 0
    while cur is not None and seen < 256:
        if cur.pid == t.sid:
            found = cur
        if cur.sid != t.sid:
            break
        cur = _parent(cur, st)
        seen += 1
    if found is None:
        found = st.threads.get(t.sid)
    return found


def _vpgid_thread(t: ThreadInfo, st: Any) -> ThreadInfo | None:
    if t.vpgid < 0:
        return None
    cur: ThreadInfo | None = _main(t, st)
    seen = 0
    while cur is not None and seen < 256:
        if cur.vpid == t.vpgid:
            return cur
        cur = _parent(cur, st)
        seen += 1
    return None


def _loginuid(t: ThreadInfo) -> int:
    return -1 if t.loginuid == NO_ID else t.loginuid


def _user_name(e: Any) -> str | None:
    t = e.thread
    if t is None or t.uid == NO_ID:
        return None
    return _st(e).user_name(t.uid)


def _user_attr(attr: str) -> Callable[[Any], Any]:
    def extract(e: Any) -> Any:
        t = e.thread
        if t is None:
            return None
        u = _st(e).users.get(t.uid)
        if u is None:
            return None
        return getattr(u, attr)
    return extract


def _loginname(e: Any) -> str | None:
    t = e.thread
    if t is None or t.loginuid == NO_ID:
        return None
    return _st(e).user_name(t.loginuid)


def _group_name(e: Any) -> str | None:
    t = e.thread
    if t is None or t.gid == NO_ID:
        return None
    return _st(e).group_name(t.gid)


# --- evt -------------------------------------------------------------------------------------
def _res(e: SyscallEvent) -> str | None:
    if not e.info.has_return:
        return None
    v = e.param(e.info.params[0].name)
    if v is None:
        return None
    return "SUCCESS" if v >= 0 else render.errno_name(v)


def _rawres(e: SyscallEvent) -> int | None:
    return e.res


def _failed(e: SyscallEvent) -> bool:
    r = e.res if e.info.has_return else None
    return bool(r is not None and r < 0)


def _rawarg(e: SyscallEvent, name: str | None) -> Any:
    if name is None:
        return None
    return e.param(name)


def _arg(e: SyscallEvent, a: Any) -> str | None:
    if a is None:
        return None
    if isinstance(a, int):
        return render.arg_text_index(e, a)
    if isinstance(a, str) and a.isdigit():
        return render.arg_text_index(e, int(a))
    return render.arg_text(e, a)


def _latency(e: SyscallEvent) -> int | None:
    if not e.info.is_exit:
        return 0
    enter = e.enter_event()
    if enter is None:
        return None
    return max(0, e.ts - enter.ts)


def _buffer(e: SyscallEvent) -> bytes | None:
    for p in e.info.params:
        if p.type == PT_BYTEBUF and p.name == "data":
            return e.param("data")
    return None


def _buflen(e: SyscallEvent) -> int | None:
    if not e.info.flags & (EF_READS_FROM_FD | EF_WRITES_TO_FD):
        return None
    r = e.res
    return r if r is not None and r >= 0 else None


def _open_flags(e: SyscallEvent) -> int | None:
    n = e.info.name
    if n not in ("open", "openat", "openat2", "open_by_handle_at", "creat"):
        return None
    if n == "creat":
        return 2 | 4  # O_WRONLY|O_CREAT
    f = e.param("flags")
    return f


def _is_open_read(e: SyscallEvent) -> bool | None:
    f = _open_flags(e)
    if f is None:
        return False
    return bool(f & 1)


def _is_open_write(e: SyscallEvent) -> bool | None:
    f = _open_flags(e)
    if f is None:
        return False
    return bool(f & 2)


def _is_open_exec(e: SyscallEvent) -> bool:
    f = _open_flags(e)
    if f is None:
        return False
    mode = e.param("mode") or 0
    return bool(f & (1 << 2) and mode & 0o111)  # O_CREAT with an executable mode


def _is_open_create(e: SyscallEvent) -> bool:
    f = _open_flags(e)
    if f is None:
        return False
    return bool(f & O_F_CREATED)


_IO_CATEGORIES = frozenset({32, 33, 34})  # EC_IO_READ, EC_IO_WRITE, EC_IO_OTHER
_FD_SUBCATEGORY = {
    FD_FILE: "file", FD_FILE_V2: "file", FD_DIRECTORY: "file", FD_IPV4_SOCK: "net",
    FD_IPV6_SOCK: "net", FD_IPV4_SERVSOCK: "net", FD_IPV6_SERVSOCK: "net", FD_FIFO: "ipc",
    FD_UNIX_SOCK: "ipc", FD_EVENT: "ipc", FD_SIGNALFD: "ipc", FD_INOTIFY: "ipc",
    18: "ipc",  # userfaultfd
}


def _category(e: SyscallEvent) -> str:
    """libsinsp ``sinsp_evt::get_category``: I/O events (EC_IO_*) are named by the subcategory
    of the fd they use ('file', 'net', 'ipc', 'other'; 'unknown' without an fd info)."""
    low = e.info.low_category
    if low in _IO_CATEGORIES:
        f = event_fdinfo(e)
        return "unknown" if f is None else _FD_SUBCATEGORY.get(f.type, "other")
    return CATEGORY_NAMES.get(low, "unknown")


def _is_io(e: SyscallEvent) -> bool:
    return bool(e.info.flags & (EF_READS_FROM_FD | EF_WRITES_TO_FD))


def _io_dir(e: SyscallEvent) -> str | None:
    f = e.info.flags
    if f & EF_READS_FROM_FD and f & EF_WRITES_TO_FD:
        return "rw"
    if f & EF_READS_FROM_FD:
        return "r"
    if f & EF_WRITES_TO_FD:
        return "w"
    return None


def _abspath(e: SyscallEvent, which: str | None = None) -> str | None:
    n = e.info.name
    names = {"unlinkat": ("dirfd", "name"), "mkdirat": ("dirfd", "path"),
             "renameat": ("olddirfd", "oldpath"), "renameat2": ("olddirfd", "oldpath"),
             "linkat": ("olddir", "oldpath"), "symlinkat": ("linkdirfd", "linkpath"),
             "fchmodat": ("dirfd", "filename"), "openat": ("dirfd", "name"),
             "openat2": ("dirfd", "name"), "fchownat": ("dirfd", "pathname")}
    if which == "src" and n in ("renameat", "renameat2", "linkat"):
        pass
    elif which == "dst" and n in ("renameat", "renameat2"):
        names = {n: ("newdirfd", "newpath")}
    elif which == "dst" and n == "linkat":
        names = {n: ("newdir", "newpath")}
    spec = names.get(n)
    if spec is None or e.thread is None:
        return None
    dirfd, pathp = spec
    path = e.param(pathp)
    if path is None:
        return None
    from .state import concatenate_paths

    base = _st(e).resolve_dirfd(e.thread, e.param(dirfd), path)
    return concatenate_paths(base, path)


# --- fd --------------------------------------------------------------------------------------
def _fd_guess_typechar(e: SyscallEvent) -> str:
    n = e.info.name
    if n in ("open", "openat", "openat2", "creat"):
        return "f"
    if n in ("socket", "accept", "accept4"):
        return "4"
    if n in ("pipe", "pipe2"):
        return "p"
    if n in ("eventfd", "eventfd2"):
        return "e"
    if n in ("signalfd", "signalfd4"):
        return "s"
    if n == "timerfd_create":
        return "t"
    if n in ("inotify_init", "inotify_init1"):
        return "i"
    return "o"


_GUESS_TYPE = {"f": FD_FILE, "4": FD_IPV4_SOCK, "p": FD_FIFO, "e": FD_EVENT, "s": FD_SIGNALFD,
               "t": FD_TIMERFD, "i": FD_INOTIFY}


def _fd_num(e: SyscallEvent) -> int | None:
    if not e.info.fd_events:
        return None
    return e.fd_num


def _fd_name(e: SyscallEvent) -> str | None:
    if not e.info.fd_events:
        return None
    f = event_fdinfo(e)
    if f is not None:
        return f.name
    if not e.info.is_exit:
        return None
    n = e.info.name
    if n in ("open", "openat", "openat2", "creat", "open_by_handle_at"):
        full = e.param("_fullpath")
        if full is not None:
            return full
    if n in ("open", "creat", "accept", "accept4", "connect"):
        p = e.info.params[1] if len(e.info.params) > 1 else None
        if p is not None:
            return render.arg_text(e, p.name) or ""
    return ""


def _fd_typechar(e: SyscallEvent) -> str | None:
    if not e.info.fd_events:
        return None
    f = event_fdinfo(e)
    if f is not None:
        return f.typechar
    return _fd_guess_typechar(e)


def _fd_type(e: SyscallEvent) -> str | None:
    if not e.info.fd_events:
        return None
    f = event_fdinfo(e)
    if f is not None:
        return f.type_name
    return FD_TYPE_INFO.get(_GUESS_TYPE.get(_fd_guess_typechar(e), -5), ("o", None))[1]


def _fdf_st(fn: Callable[[FdInfo, Any], Any]) -> Callable[[Any], Any]:
    def extract(e: Any) -> Any:
        if not e.info.fd_events:
            return None
        f = event_fdinfo(e)
        return None if f is None else fn(f, _st(e))
    return extract


def _fdf(fn: Callable[[FdInfo], Any]) -> Callable[[Any], Any]:
    def extract(e: Any) -> Any:
        if not e.info.fd_events:
            return None
        f = event_fdinfo(e)
        return None if f is None else fn(f)
    return extract


def _path_part(fn: Callable[[FdInfo], Any], part: Callable[[str], Any]) -> Callable[[Any], Any]:
    """fd.directory / fd.filename, also on open exits without an fd (failed opens): from the
    path fd.name falls back to."""
    def extract(e: Any) -> Any:
        if not e.info.fd_events:
            return None
        f = event_fdinfo(e)
        if f is not None:
            return fn(f)
        full = e.param("_fullpath") if e.info.is_exit else None
        return part(full) if full else None
    return extract


def _is_file(f: FdInfo) -> bool:
    return f.type in (FD_FILE, FD_FILE_V2, FD_DIRECTORY)


def _directory(f: FdInfo) -> str | None:
    if not _is_file(f) or not f.name:
        return None
    if f.type == FD_DIRECTORY:
        return f.name
    d = f.name.rpartition("/")[0]
    return d or "/"


def _filename(f: FdInfo) -> str | None:
    if not _is_file(f) or f.type == FD_DIRECTORY or not f.name:
        return None
    return f.name.rpartition("/")[2]


def _ipobj(raw: bytes | None) -> Any:
    if not raw:
        return None
    return ipaddress.ip_address(raw)


def _client(f: FdInfo) -> tuple[bytes | None, int | None]:
    if not f.is_inet:
        return None, None
    if f.is_servsock:
        return None, None
    return f.sip, f.sport


def _server(f: FdInfo) -> tuple[bytes | None, int | None]:
    if not f.is_inet:
        return None, None
    if f.is_servsock:
        return f.sip, f.sport
    return f.dip, f.dport


def _local(f: FdInfo, st: Any) -> tuple[bytes | None, int | None]:
    c, s = _client(f), _server(f)
    if f.is_servsock:
        return None, None  # libsinsp: local/remote sides exist for connected sockets only
    if c[0] is not None and st.is_local_ip(c[0]):
        return c
    return s


def _remote(f: FdInfo, st: Any) -> tuple[bytes | None, int | None]:
    c, s = _client(f), _server(f)
    if f.is_servsock:
        return None, None
    if c[0] is not None and st.is_local_ip(c[0]):
        return s
    return c


def _side_ip(side: Callable[..., tuple]) -> Callable[[Any], Any]:
    return _fdf_st(lambda f, st: _ipobj(_call_side(side, f, st)[0]))


def _call_side(side: Callable[..., tuple], f: FdInfo, st: Any) -> tuple:
    return side(f, st) if side in (_local, _remote) else side(f)


def _side_port(side: Callable[..., tuple]) -> Callable[[Any], Any]:
    def fn(f: FdInfo, st: Any) -> Any:
        if not f.is_inet or f.sip is None:
            return None  # a socket without a tuple yet has no ports
        return _call_side(side, f, st)[1]
    return _fdf_st(fn)


def _side_net(side: Callable[..., tuple]) -> Callable[[Any], Any]:
    def fn(f: FdInfo, st: Any) -> Any:
        ip = _ipobj(_call_side(side, f, st)[0])
        return None if ip is None else ipaddress.ip_network(ip)
    return _fdf_st(fn)


def _endpoints_ip(f: FdInfo) -> Any:
    if not f.is_inet:
        return None
    return [_ipobj(_client(f)[0]), _ipobj(_server(f)[0])]


def _endpoints_port(f: FdInfo) -> Any:
    if not f.is_inet:
        return None
    return [_client(f)[1], _server(f)[1]]


def _endpoints_net(f: FdInfo) -> Any:
    ips = _endpoints_ip(f)
    if ips is None:
        return None
    return [None if i is None else ipaddress.ip_network(i) for i in ips]


def _is_server(f: FdInfo, st: Any) -> bool | None:
    if f.is_servsock:
        return True
    if not f.is_inet:
        return f.role == ROLE_SERVER if f.type == FD_UNIX_SOCK else False
    return st.is_local_ip(f.dip)


def _sockfamily(f: FdInfo) -> str | None:
    if f.is_inet:
        return "ip"
    if f.type == FD_UNIX_SOCK:
        return "unix"
    return None


def _l4proto(f: FdInfo) -> str | None:
    if not f.is_inet:
        return None
    return L4_NAMES.get(f.l4proto)


def _fd_types(e: SyscallEvent, idx: int | None = None) -> Any:
    t = e.thread
    if t is None:
        return None
    types = sorted({f.type_name or "<NA>" for f in t.fds.values()})
    if idx is None:
        return types
    fdi = t.fds.get(idx)
    return None if fdi is None else [fdi.type_name or "<NA>"]


def _ip_name(_e: Any) -> None:
    return None  # no DNS tracking in replay: Falco shows <NA> unless its DNS manager knew it


def _fs_path(which: str, raw: bool = False) -> Callable[[SyscallEvent], Any]:
    names = {
        "name": {"mkdir": "path", "mkdirat": "path", "rmdir": "path", "unlink": "path",
                 "unlinkat": "name", "open": "name", "openat": "name", "openat2": "name",
                 "creat": "name", "chmod": "filename", "fchmodat": "filename",
                 "chown": "path", "lchown": "path", "fchownat": "pathname"},
        "source": {"rename": "oldpath", "renameat": "oldpath", "renameat2": "oldpath",
                   "link": "oldpath", "linkat": "oldpath", "symlink": "target",
                   "symlinkat": "target"},
        "target": {"rename": "newpath", "renameat": "newpath", "renameat2": "newpath",
                   "link": "newpath", "linkat": "newpath", "symlink": "linkpath",
                   "symlinkat": "linkpath"},
    }[which]

    def extract(e: SyscallEvent) -> Any:
        pname = names.get(e.info.name)
        if pname is None:
            return None
        if raw:
            return e.param(pname)
        return render.arg_text(e, pname)
    return extract


# --- the tables ------------------------------------------------------------------------------
EVT_FIELDS = [
    _f("evt.dir", T.CHARBUF, "event direction can be either '>' for enter events or '<' for "
       "exit events.", lambda e: e.info.dir),
    _f("evt.cpu", T.INT16, "number of the CPU where this event happened.", lambda e: e.cpu),
    _f("evt.args", T.CHARBUF, "all the event arguments, aggregated into a single string.",
       render.args_text),
    _f("evt.arg", T.CHARBUF, "one of the event arguments specified by name or by number. Some "
       "events (e.g. return codes or FDs) will be converted into a text representation when "
       "possible. E.g. 'evt.arg.fd' or 'evt.arg[0]'.", _arg, arg=ARG_REQ),
    _f("evt.rawarg", T.DYN, "one of the event arguments specified by name. E.g. "
       "'evt.rawarg.fd'.", _rawarg, arg=KEY_REQ, props=(NO_TRANSFORM,)),
    _f("evt.info", T.CHARBUF, "for most events, this field returns the same value as evt.args. "
       "However, for some events (like writes to /dev/log) it provides higher level information "
       "coming from decoding the arguments.", render.args_text),
    _f("evt.buffer", T.BYTEBUF, "the binary data buffer for events that have one, like read(), "
       "recvfrom(), etc.", _buffer),
    _f("evt.buflen", T.UINT64, "the length of the binary data buffer for events that have one, "
       "like read(), recvfrom(), etc.", _buflen),
    _f("evt.res", T.CHARBUF, "event return value, as a string. If the event failed, the result "
       "is an error code string (e.g. 'ENOENT'), otherwise the result is the string 'SUCCESS'.",
       _res),
    _f("evt.rawres", T.INT64, "event return value, as a number (e.g. -2). Useful for range "
       "comparisons.", _rawres),
    _f("evt.failed", T.BOOL, "'true' for events that returned an error status.", _failed),
    _f("evt.is_io", T.BOOL, "'true' for events that read or write to FDs, like read(), send, "
       "recvfrom(), etc.", _is_io),
    _f("evt.is_io_read", T.BOOL, "'true' for events that read from FDs, like read(), recv(), "
       "recvfrom(), etc.", lambda e: bool(e.info.flags & EF_READS_FROM_FD)),
    _f("evt.is_io_write", T.BOOL, "'true' for events that write to FDs, like write(), send(), "
       "etc.", lambda e: bool(e.info.flags & EF_WRITES_TO_FD)),
    _f("evt.io_dir", T.CHARBUF, "'r' for events that read from FDs, like read(); 'w' for events "
       "that write to FDs, like write().", _io_dir),
    _f("evt.is_wait", T.BOOL, "'true' for events that make the thread wait, e.g. sleep(), "
       "select(), poll().", lambda e: e.info.low_category == EC_WAIT),
    _f("evt.category", T.CHARBUF, "the event category. Example values are 'file' (for file "
       "operations like open and close), 'net' (for network operations like socket and bind), "
       "memory (for things like brk or mmap), and so on.", _category),
    _f("evt.is_syslog", T.BOOL, "'true' for events that are writes to /dev/log.",
       lambda e: bool(e.info.flags & EF_WRITES_TO_FD) and _fd_name(e) == "/dev/log"),
    _f("evt.latency", T.RELTIME, "delta between an exit event and the correspondent enter "
       "event, in nanoseconds.", _latency),
    _f("evt.latency.s", T.UINT64, "integer part of the event latency delta.",
       lambda e: None if (v := _latency(e)) is None else v // 1_000_000_000),
    _f("evt.latency.ns", T.UINT64, "fractional part of the event latency delta.",
       lambda e: None if (v := _latency(e)) is None else v % 1_000_000_000),
    _f("evt.is_open_read", T.BOOL, "'true' for open/openat/openat2/open_by_handle_at events "
       "where the path was opened for reading", _is_open_read),
    _f("evt.is_open_write", T.BOOL, "'true' for open/openat/openat2/open_by_handle_at events "
       "where the path was opened for writing", _is_open_write),
    _f("evt.is_open_exec", T.BOOL, "'true' for open/openat/openat2/open_by_handle_at or creat "
       "events where a file is created with execute permissions", _is_open_exec),
    _f("evt.is_open_create", T.BOOL, "'true' for open/openat/openat2/open_by_handle_at events "
       "where a file is created.", _is_open_create),
    _f("evt.abspath", T.CHARBUF, "Absolute path calculated from dirfd and name during syscalls "
       "like renameat and symlinkat. Use 'evt.abspath.src' or 'evt.abspath.dst' for syscalls "
       "that support multiple paths.", lambda e: _abspath(e)),
    _f("evt.abspath.src", T.CHARBUF, "Source Absolute path calculated from dirfd and name during "
       "syscalls like renameat and symlinkat.", lambda e: _abspath(e, "src")),
    _f("evt.abspath.dst", T.CHARBUF, "Destination Absolute path calculated from dirfd and name "
       "during syscalls like renameat and symlinkat.", lambda e: _abspath(e, "dst")),
]

PROC_FIELDS = [
    _f("proc.exe", T.CHARBUF, "the first command line argument (usually the executable name or "
       "a custom one).", _thr(lambda t: t.exe)),
    _f("proc.pexe", T.CHARBUF, "the proc.exe (first command line argument) of the parent "
       "process.", _parent_fn(lambda t: t.exe)),
    _f("proc.aexe", T.CHARBUF, "the proc.exe (first command line argument) for a specific "
       "process ancestor. You can access different levels of ancestors by using indices.",
       _anc_fn(lambda t: t.exe), arg=IDX, props=(MATCH_ANY, NO_TRANSFORM, NO_RHS)),
    _f("proc.exepath", T.CHARBUF, "The full executable path of the process.",
       _thr(_exepath)),
    _f("proc.pexepath", T.CHARBUF, "The proc.exepath (full executable path) of the parent "
       "process.", _parent_fn(_exepath)),
    _f("proc.aexepath", T.CHARBUF, "The proc.exepath (full executable path) for a specific "
       "process ancestor.", _anc_fn(_exepath), arg=IDX,
       props=(MATCH_ANY, NO_TRANSFORM, NO_RHS)),
    _f("proc.name", T.CHARBUF, "the name (truncated after 16 characters) generating the event "
       "(task->comm).", _thr(lambda t: t.comm)),
    _f("proc.pname", T.CHARBUF, "the proc.name truncated after 16 characters) of the process "
       "generating the event.", _parent_fn(lambda t: t.comm)),
    _f("proc.aname", T.CHARBUF, "the proc.name (truncated after 16 characters) for a specific "
       "process ancestor. You can access different levels of ancestors by using indices.",
       _anc_fn(lambda t: t.comm), arg=IDX, props=(MATCH_ANY, NO_TRANSFORM, NO_RHS)),
    _f("proc.args", T.CHARBUF, "the arguments passed on the command line when starting the "
       "process generating the event excluding argv[0].", _thr(lambda t: " ".join(t.args))),
    _f("proc.cmdline", T.CHARBUF, "full process command line, i.e. proc.name + proc.args.",
       _thr(_cmdline)),
    _f("proc.pcmdline", T.CHARBUF, "the proc.cmdline (full command line (proc.name + "
       "proc.args)) of the parent of the process generating the event.", _parent_fn(_cmdline)),
    _f("proc.acmdline", T.CHARBUF, "The full command line (proc.name + proc.args) for a "
       "specific process ancestor.", _anc_fn(_cmdline), arg=IDX,
       props=(MATCH_ANY, NO_TRANSFORM, NO_RHS)),
    _f("proc.cmdnargs", T.UINT64, "The number of command line args (proc.args).",
       _thr(lambda t: len(t.args))),
    _f("proc.cmdlenargs", T.UINT64, "The total count of characters / length of the command line "
       "args (proc.args) combined excluding whitespaces between args.",
       _thr(lambda t: sum(len(a) for a in t.args))),
    _f("proc.exeline", T.CHARBUF, "full process command line, with exe as first argument, i.e. "
       "proc.exe + proc.args.", _thr(lambda t: " ".join([t.exe, *t.args]))),
    _f("proc.env", T.CHARBUF, "the environment variables of the process generating the event "
       "as concatenated string 'ENV_NAME=value ENV_NAME1=value1'. Can also be used to extract "
       "the value of a known env variable, e.g. proc.env[ENV_NAME].", _env, arg=KEY),
    _f("proc.cwd", T.CHARBUF, "the current working directory of the event.",
       _thr(lambda t: t.cwd)),
    _f("proc.loginshellid", T.INT64, "the pid of the oldest shell among the ancestors of the "
       "current process, if there is one.", lambda e: _loginshell(e)),
    _f("proc.tty", T.UINT32, "The controlling terminal of the process. 0 for processes without "
       "a terminal.", _thr(lambda t: t.tty)),
    _f("proc.pid", T.INT64, "the id of the process generating the event.",
       _thr(lambda t: t.pid)),
    _f("proc.ppid", T.INT64, "the pid of the parent of the process generating the event.",
       _main_fn(lambda t: t.ptid if t.pid >= 0 else None)),
    _f("proc.apid", T.INT64, "the pid for a specific process ancestor.",
       _anc_fn(lambda t: t.pid), arg=IDX, props=(MATCH_ANY, NO_TRANSFORM, NO_RHS)),
    _f("proc.vpid", T.INT64, "the id of the process generating the event as seen from its "
       "current PID namespace.", _thr(lambda t: t.vpid if t.vpid >= 0 else None)),
    _f("proc.pvpid", T.INT64, "the id of the parent process generating the event as seen from "
       "its current PID namespace.", _parent_fn(lambda t: t.vpid if t.vpid >= 0 else None)),
    _f("proc.sid", T.INT64, "the session id of the process generating the event.",
       _thr(lambda t: t.sid)),
    _f("proc.sname", T.CHARBUF, "the name of the current process's session leader.",
       _thr_st(lambda t, st: (s.comm if (s := _sid_thread(t, st)) is not None else None))),
    _f("proc.sid.exe", T.CHARBUF, "The first command line argument argv[0] (usually the "
       "executable name or a custom one) of the current process's session leader.",
       _thr_st(lambda t, st: (s.exe if (s := _sid_thread(t, st)) is not None else None))),
    _f("proc.sid.exepath", T.CHARBUF, "The full executable path of the current process's "
       "session leader.", _thr_st(lambda t, st: (s.exepath if (s := _sid_thread(t, st)) is not None
                                          else None))),
    _f("proc.is_sid_leader", T.BOOL, "'true' if this process is the leader of the process "
       "session.", _thr(lambda t: t.sid >= 0 and t.sid == t.vpid)),
    _f("proc.vpgid", T.INT64, "the process group id of the process generating the event, as "
       "seen from its current PID namespace.",
       _thr(lambda t: t.vpgid if t.vpgid >= 0 else None)),
    _f("proc.vpgid.name", T.CHARBUF, "the name of the current process's process group leader.",
       _thr_st(lambda t, st: (g.comm if (g := _vpgid_thread(t, st)) is not None else None))),
    _f("proc.vpgid.exe", T.CHARBUF, "The first command line argument argv[0] (usually the "
       "executable name or a custom one) of the current process's process group leader.",
       _thr_st(lambda t, st: (g.exe if (g := _vpgid_thread(t, st)) is not None else None))),
    _f("proc.vpgid.exepath", T.CHARBUF, "The full executable path of the current process's "
       "process group leader.",
       _thr_st(lambda t, st: (g.exepath if (g := _vpgid_thread(t, st)) is not None else None))),
    _f("proc.is_vpgid_leader", T.BOOL, "'true' if this process is the leader of the process "
       "group.", _thr(lambda t: t.vpgid >= 0 and t.vpgid == t.vpid)),
    _f("proc.pgid", T.INT64, "the process group id of the process generating the event.",
       _thr(lambda t: t.pgid if t.pgid >= 0 else None)),
    _f("proc.duration", T.RELTIME, "number of nanoseconds since the process started.",
       _duration),
    _f("proc.ppid.duration", T.RELTIME, "number of nanoseconds since the parent process "
       "started.", _ppid_duration),
    _f("proc.pid.ts", T.ABSTIME, "start of process as epoch timestamp in nanoseconds.",
       _thr(_start_ts)),
    _f("proc.ppid.ts", T.ABSTIME, "start of parent process as epoch timestamp in nanoseconds.",
       _parent_fn(_start_ts)),
    _f("proc.is_exe_writable", T.BOOL, "'true' if this process' executable file is writable by "
       "the same user that spawned the process.", _thr(lambda t: t.exe_writable)),
    _f("proc.is_exe_upper_layer", T.BOOL, "'true' if this process' executable file is in upper "
       "layer in overlayfs.", _thr(lambda t: t.exe_upper_layer)),
    _f("proc.is_exe_lower_layer", T.BOOL, "'true' if this process' executable file is in lower "
       "layer in overlayfs.", _thr(lambda t: t.exe_lower_layer)),
    _f("proc.is_exe_from_memfd", T.BOOL, "'true' if the executable file of the current process "
       "is an anonymous file created using memfd_create() and is being executed by referencing "
       "its file descriptor (fd).", _thr(lambda t: t.exe_from_memfd)),
    _f("proc.exe_ino", T.INT64, "The inode number of the executable file on disk.",
       _thr(lambda t: t.exe_ino or None)),
    _f("proc.exe_ino.ctime", T.ABSTIME, "Last status change time of executable file (inode->"
       "ctime) as epoch timestamp in nanoseconds.", _thr(lambda t: t.exe_ino_ctime or None)),
    _f("proc.exe_ino.mtime", T.ABSTIME, "Last modification time of executable file (inode->"
       "mtime) as epoch timestamp in nanoseconds.", _thr(lambda t: t.exe_ino_mtime or None)),
    _f("proc.exe_ino.ctime_duration_proc_start", T.ABSTIME, "Number of nanoseconds between "
       "modifying status of executable image and spawning a new process using the changed "
       "executable image.", _thr(lambda t: (max(0, s - t.exe_ino_ctime)
                                            if t.exe_ino_ctime and (s := _start_ts(t))
                                            else None))),
    _f("proc.exe_ino.ctime_duration_pidns_start", T.ABSTIME, "Number of nanoseconds between "
       "PID namespace start ts and ctime exe file if PID namespace start predates ctime.",
       _thr(lambda t: (max(0, t.exe_ino_ctime - t.pidns_init_start_ts)
                       if t.exe_ino_ctime and t.pidns_init_start_ts else None))),
    _f("proc.pidns_init_start_ts", T.UINT64, "Start of PID namespace (container or non "
       "container pid namespace) as epoch timestamp in nanoseconds.",
       _thr(lambda t: t.pidns_init_start_ts or None)),
    _f("proc.nthreads", T.UINT64, "the number of alive threads that the process generating the "
       "event currently has, including the leader thread.",
       _thr_st(lambda t, st: sum(1 for o in st.threads.values()
                          if o.pid == t.pid and not o.dead))),
    _f("proc.nchilds", T.UINT64, "the number of alive (not leader) threads that the process "
       "generating the event currently has, excluding the leader thread.",
       _thr_st(lambda t, st: sum(1 for o in st.threads.values()
                          if o.pid == t.pid and o.tid != o.pid and not o.dead))),
    _f("proc.fdopencount", T.UINT64, "number of open FDs for the process",
       _main_fn(lambda t: len(t.fds))),
    _f("proc.fdlimit", T.INT64, "maximum number of FDs the process can open.",
       _main_fn(lambda t: t.fdlimit)),
    _f("proc.fdusage", T.DOUBLE, "the ratio between open FDs and maximum available FDs for the "
       "process.", _main_fn(lambda t: (100.0 * len(t.fds) / t.fdlimit) if t.fdlimit else None)),
]


def _loginshell(e: Any) -> int | None:
    shells = {"sh", "bash", "zsh", "ksh", "csh", "tcsh", "fish", "dash", "ash"}
    found = None
    t = _main(e.thread, _st(e))
    if t is not None and t.comm in shells:
        found = t.pid
    for a in _ancestors(e.thread, _st(e)):
        if a.comm in shells:
            found = a.pid
    return found


THREAD_FIELDS = [
    _f("thread.tid", T.INT64, "the id of the thread generating the event.",
       _thr(lambda t: t.tid)),
    _f("thread.ismain", T.BOOL, "'true' if the thread generating the event is the main one in "
       "the process.", _thr(lambda t: t.tid == t.pid)),
    _f("thread.vtid", T.INT64, "the id of the thread generating the event as seen from its "
       "current PID namespace.", _thr(lambda t: t.vtid if t.vtid >= 0 else None)),
    _f("thread.cap_permitted", T.CHARBUF, "The permitted capabilities set",
       _thr(lambda t: caps_str(t.cap_permitted))),
    _f("thread.cap_inheritable", T.CHARBUF, "The inheritable capabilities set",
       _thr(lambda t: caps_str(t.cap_inheritable))),
    _f("thread.cap_effective", T.CHARBUF, "The effective capabilities set",
       _thr(lambda t: caps_str(t.cap_effective))),
    _f("thread.cgroups", T.CHARBUF, "all the cgroups the thread belongs to, aggregated into a "
       "single string.", _thr(lambda t: " ".join(t.cgroups))),
    _f("thread.cgroup", T.CHARBUF, "the cgroup the thread belongs to, for a specific subsystem. "
       "E.g. thread.cgroup.cpuacct.", lambda e, k=None: (None if e.thread is None or k is None
                                                        else e.thread.cgroup(k)),
       arg=KEY_REQ),
]

USER_FIELDS = [
    _f("user.uid", T.UINT32, "user ID.", _thr(lambda t: t.uid)),
    _f("user.name", T.CHARBUF, "user name.", _user_name),
    _f("user.homedir", T.CHARBUF, "home directory of the user.", _user_attr("home")),
    _f("user.shell", T.CHARBUF, "user's shell.", _user_attr("shell")),
    _f("user.loginuid", T.INT64, "audit user id (auid), internally the loginuid is of type "
       "uint32_t. However, if an invalid uid corresponding to UINT32_MAX is encountered, it is "
       "returned as -1 to support familiar filtering conditions.", _thr(_loginuid)),
    _f("user.loginname", T.CHARBUF, "audit user name (auid).", _loginname),
]

GROUP_FIELDS = [
    _f("group.gid", T.UINT32, "group ID.", _thr(lambda t: t.gid)),
    _f("group.name", T.CHARBUF, "group name.", _group_name),
]


def _ipstr(raw: bytes | None) -> str | None:
    if not raw:
        return None
    return ipv4_str(raw) if len(raw) == 4 else ipv6_str(raw)


FD_FIELDS = [
    _f("fd.num", T.INT64, "the unique number identifying the file descriptor.", _fd_num),
    _f("fd.type", T.CHARBUF, "type of FD. Can be 'file', 'directory', 'ipv4', 'ipv6', 'unix', "
       "'pipe', 'event', 'signalfd', 'eventpoll', 'inotify', 'signalfd' or 'memfd'.", _fd_type),
    _f("fd.typechar", T.CHARBUF, "type of FD as a single character. Can be 'f' for file, 4 for "
       "IPv4 socket, 6 for IPv6 socket, 'u' for unix socket, p for pipe, 'e' for eventfd, 's' "
       "for signalfd, 'l' for eventpoll, 'i' for inotify, 'b' for bpf, 'u' for userfaultd, 'r' "
       "for io_uring, 'm' for memfd ,'o' for unknown.", _fd_typechar),
    _f("fd.name", T.CHARBUF, "FD full name. If the fd is a file, this field contains the full "
       "path. If the FD is a socket, this field contain the connection tuple.", _fd_name),
    _f("fd.directory", T.CHARBUF, "If the fd is a file, the directory that contains it.",
       _path_part(_directory, lambda p: p.rpartition("/")[0] or "/")),
    _f("fd.filename", T.CHARBUF, "If the fd is a file, the filename without the path.",
       _fdf(_filename)),
    _f("fd.ip", T.IPADDR, "matches the ip address (client or server) of the fd.",
       _fdf(_endpoints_ip), props=(MATCH_ENDPOINTS, FILTER_ONLY, NO_TRANSFORM, NO_RHS)),
    _f("fd.cip", T.IPADDR, "client IP address.", _side_ip(_client)),
    _f("fd.sip", T.IPADDR, "server IP address.", _side_ip(_server)),
    _f("fd.lip", T.IPADDR, "local IP address.", _side_ip(_local)),
    _f("fd.rip", T.IPADDR, "remote IP address.", _side_ip(_remote)),
    _f("fd.port", T.PORT, "matches the port (either client or server) of the fd.",
       _fdf(_endpoints_port), props=(MATCH_ENDPOINTS, FILTER_ONLY, NO_TRANSFORM, NO_RHS)),
    _f("fd.cport", T.PORT, "for TCP/UDP FDs, the client port.", _side_port(_client)),
    _f("fd.sport", T.PORT, "for TCP/UDP FDs, server port.", _side_port(_server)),
    _f("fd.lport", T.PORT, "for TCP/UDP FDs, the local port.", _side_port(_local)),
    _f("fd.rport", T.PORT, "for TCP/UDP FDs, the remote port.", _side_port(_remote)),
    _f("fd.l4proto", T.CHARBUF, "the IP protocol of a socket. Can be 'tcp', 'udp', 'icmp' or "
       "'raw'.", _fdf(_l4proto)),
    _f("fd.sockfamily", T.CHARBUF, "the socket family for socket events. Can be 'ip' or "
       "'unix'.", _fdf(_sockfamily)),
    _f("fd.is_server", T.BOOL, "'true' if the process owning this FD is the server endpoint in "
       "the connection.", _fdf_st(_is_server)),
    _f("fd.uid", T.CHARBUF, "a unique identifier for the FD, created by chaining the FD number "
       "and the thread ID.",
       lambda e: (None if not e.info.fd_events or e.thread is None or e.fd_num < 0
                  else f"{e.thread.tid}{e.fd_num}")),
    _f("fd.net", T.IPNET, "matches the IP network (client or server) of the fd.",
       _fdf(_endpoints_net), props=(MATCH_ENDPOINTS, FILTER_ONLY, NO_TRANSFORM, NO_RHS)),
    _f("fd.cnet", T.IPNET, "matches the client IP network of the fd.", _side_net(_client),
       props=(FILTER_ONLY,)),
    _f("fd.snet", T.IPNET, "matches the server IP network of the fd.", _side_net(_server),
       props=(FILTER_ONLY,)),
    _f("fd.lnet", T.IPNET, "matches the local IP network of the fd.", _side_net(_local),
       props=(FILTER_ONLY,)),
    _f("fd.rnet", T.IPNET, "matches the remote IP network of the fd.", _side_net(_remote),
       props=(FILTER_ONLY,)),
    _f("fd.connected", T.BOOL, "for TCP/UDP FDs, 'true' if the socket is connected.",
       _fdf(lambda f: f.connected)),
    _f("fd.name_changed", T.BOOL, "True when an event changes the name of an fd used by this "
       "event. This can occur in some cases such as udp connections where the connection tuple "
       "changes.", _fdf(lambda f: f.name_changed)),
    _f("fd.cip.name", T.CHARBUF, "Domain name associated with the client IP address.",
       _ip_name),
    _f("fd.sip.name", T.CHARBUF, "Domain name associated with the server IP address.",
       _ip_name),
    _f("fd.lip.name", T.CHARBUF, "Domain name associated with the local IP address.",
       _ip_name),
    _f("fd.rip.name", T.CHARBUF, "Domain name associated with the remote IP address.",
       _ip_name),
    _f("fd.dev", T.INT32, "device number (major/minor) containing the referenced file",
       _fdf(lambda f: f.dev if _is_file(f) else None)),
    _f("fd.dev.major", T.INT32, "major device number containing the referenced file",
       _fdf(lambda f: (f.dev >> 20) if _is_file(f) else None)),
    _f("fd.dev.minor", T.INT32, "minor device number containing the referenced file",
       _fdf(lambda f: (f.dev & 0xFFFFF) if _is_file(f) else None)),
    _f("fd.ino", T.INT64, "inode number of the referenced file",
       _fdf(lambda f: f.ino if _is_file(f) else None)),
    _f("fd.nameraw", T.CHARBUF, "FD full name raw. Just like fd.name, but only used if fd is a "
       "file path. File path is kept raw with limited sanitization and without deriving the "
       "absolute path.", _fdf(lambda f: f.nameraw)),
    _f("fd.types", T.CHARBUF, "List of FD types in used. Can be passed an fd number e.g. "
       "fd.types[0] to get the type of stdout as a single item list.", _fd_types, arg=IDX,
       is_list=True),
    _f("fd.is_upper_layer", T.BOOL, "'true' if the fd is of a file in the upper layer of "
       "an overlayfs.", _fdf(lambda f: bool(f.openflags & (1 << 15)))),
    _f("fd.is_lower_layer", T.BOOL, "'true' if the fd is of a file in the lower layer of "
       "an overlayfs.", _fdf(lambda f: bool(f.openflags & (1 << 16)))),
]

FS_FIELDS = [
    _f("fs.path.name", T.CHARBUF, "For any event type that deals with a filesystem path, the "
       "path the file syscall is operating on. This path is always fully resolved, prepending "
       "the thread cwd when needed.", _fs_path("name")),
    _f("fs.path.nameraw", T.CHARBUF, "For any event type that deals with a filesystem path, the "
       "path the file syscall is operating on. This path is always the path provided to the "
       "syscall and may not be fully resolved.", _fs_path("name", raw=True)),
    _f("fs.path.source", T.CHARBUF, "For any event type that deals with a filesystem path, and "
       "specifically for a source and target like mv, cp, etc, the source path the file "
       "syscall is operating on. This path is always fully resolved, prepending the thread cwd "
       "when needed.", _fs_path("source")),
    _f("fs.path.sourceraw", T.CHARBUF, "The source path as provided to the syscall.",
       _fs_path("source", raw=True)),
    _f("fs.path.target", T.CHARBUF, "For any event type that deals with a filesystem path, and "
       "specifically for a target and target like mv, cp, etc, the target path the file "
       "syscall is operating on. This path is always fully resolved, prepending the thread cwd "
       "when needed.", _fs_path("target")),
    _f("fs.path.targetraw", T.CHARBUF, "The target path as provided to the syscall.",
       _fs_path("target", raw=True)),
]

ALL_FIELDS = [*EVT_FIELDS, *PROC_FIELDS, *THREAD_FIELDS, *USER_FIELDS, *GROUP_FIELDS,
              *FD_FIELDS, *FS_FIELDS]
FIELDS_BY_NAME = {f.name: f for f in ALL_FIELDS}


def extract(name: str, evt: Any, arg: Any = None) -> Any:
    """Extract one field by name (tests and tools; the engine binds extractors at compile
    time)."""
    spec = FIELDS_BY_NAME.get(name)
    if spec is None:  # dotted argument form: evt.arg.flags -> evt.arg with key "flags"
        head, _, key = name.rpartition(".")
        while head and head not in FIELDS_BY_NAME:
            head, _, more = head.rpartition(".")
            key = f"{more}.{key}"
        spec = FIELDS_BY_NAME[head]
        arg = key
    return spec.binder(arg)(evt)


__all__ = ["ALL_FIELDS", "FIELDS_BY_NAME", "extract", "caps_str", "_na_str"]
