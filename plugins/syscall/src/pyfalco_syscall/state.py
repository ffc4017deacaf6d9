"""Process and file-descriptor state, kept as libsinsp keeps it (spec/scap.md §7).

One :class:`SyscallState` holds the thread table (``tid`` -> :class:`ThreadInfo`), each process's
fd table (``fd`` -> :class:`FdInfo`, shared by the threads of a process), the user/group tables
and the network interfaces. It is fed by:

* seeding: a capture's process/fd/user/interface lists (the replay reader), or a scan of
  ``/proc`` (:meth:`SyscallState.scan_proc`, for live producers), or explicit calls
  (:meth:`add_thread`, :meth:`add_fd`, :meth:`add_user`, ...);
* events: :meth:`SyscallState.parse`, registered as the ``syscall`` source's parser, runs on every
  event before rules and keeps the tables current (clone/execve/exit, open/socket/connect/close,
  chdir, setuid, ...).

The parser also resolves, on each event, ``event.thread`` (its :class:`ThreadInfo`, a fake one
with ``<NA>`` names when the thread is unknown, as libsinsp does) and ``event.fd_num``; the fd
info itself is looked up lazily by :func:`event_fdinfo` (rules run right after the parse, before
the next event can change the table). Removals (close, procexit) are deferred to the next event so
that the closing event still sees what it closes.
"""

from __future__ import annotations

import posixpath
import threading
from collections.abc import Iterable
from typing import Any

from .events import (
    AF_INET,
    AF_INET6,
    AF_NETLINK,
    AF_UNIX,
    EF_CREATES_FD,
    EF_SKIPPARSERESET,
    EVENT_TABLE,
    PT_FD,
    SyscallEvent,
)

# --- fd types (scap_fd_type) -------------------------------------------------------------------
FD_UNINITIALIZED = -1
FD_UNKNOWN, FD_FILE, FD_DIRECTORY, FD_IPV4_SOCK, FD_IPV6_SOCK = 0, 1, 2, 3, 4
FD_IPV4_SERVSOCK, FD_IPV6_SERVSOCK, FD_FIFO, FD_UNIX_SOCK, FD_EVENT = 5, 6, 7, 8, 9
FD_UNSUPPORTED, FD_SIGNALFD, FD_EVENTPOLL, FD_INOTIFY, FD_TIMERFD = 10, 11, 12, 13, 14
FD_NETLINK, FD_FILE_V2, FD_BPF, FD_USERFAULTFD, FD_IOURING, FD_MEMFD, FD_PIDFD = (
    15, 16, 17, 18, 19, 20, 21)

#: fd type -> (fd.typechar, fd.type)
FD_TYPE_INFO: dict[int, tuple[str, str | None]] = {
    FD_UNKNOWN: ("o", None), FD_FILE: ("f", "file"), FD_FILE_V2: ("f", "file"),
    FD_DIRECTORY: ("d", "directory"), FD_IPV4_SOCK: ("4", "ipv4"), FD_IPV6_SOCK: ("6", "ipv6"),
    FD_IPV4_SERVSOCK: ("4", "ipv4"), FD_IPV6_SERVSOCK: ("6", "ipv6"), FD_FIFO: ("p", "pipe"),
    FD_UNIX_SOCK: ("u", "unix"), FD_EVENT: ("e", "event"), FD_UNSUPPORTED: ("X", None),
    FD_SIGNALFD: ("s", "signalfd"), FD_EVENTPOLL: ("l", "eventpoll"),
    FD_INOTIFY: ("i", "inotify"), FD_TIMERFD: ("t", "timerfd"), FD_NETLINK: ("n", "netlink"),
    FD_BPF: ("b", "bpf"), FD_USERFAULTFD: ("u", "userfaultfd"), FD_IOURING: ("r", "io_uring"),
    FD_MEMFD: ("m", "memfd"), FD_PIDFD: ("P", "pidfd"),
}

L4_UNKNOWN, L4_NA, L4_TCP, L4_UDP, L4_ICMP, L4_RAW = 0, 1, 2, 3, 4, 5
L4_NAMES = {L4_TCP: "tcp", L4_UDP: "udp", L4_ICMP: "icmp", L4_RAW: "raw"}

ROLE_NONE, ROLE_CLIENT, ROLE_SERVER = 0, 1, 2

# PPM_O_* bits used by the parser
O_DIRECTORY, O_CLOEXEC, O_F_CREATED = 1 << 10, 1 << 12, 1 << 14
# PPM_CL_* bits
CL_CLONE_FILES, CL_CLONE_NEWPID, CL_CLONE_PARENT = 1 << 0, 1 << 6, 1 << 8
CL_CLONE_THREAD, CL_CLONE_INVERTED, CL_CLONE_VFORK, CL_CHILD_IN_PIDNS = (
    1 << 13, 1 << 16, 1 << 27, 1 << 29)
EXE_WRITABLE, EXE_UPPER_LAYER, EXE_FROM_MEMFD, EXE_LOWER_LAYER = 1, 2, 4, 8

AT_FDCWD = -100
NO_ID = 0xFFFFFFFF
#: Thread removal waits this long (event time) after procexit so late events of a dying
#: thread still find it, as libsinsp does with its expired-thread sweep.
_THREAD_REMOVAL_DELAY_NS = 0


class FdInfo:
    """One open file descriptor (libsinsp ``sinsp_fdinfo``)."""

    __slots__ = ("fd", "type", "name", "nameraw", "openflags", "ino", "dev", "family", "sip",
                 "sport", "dip", "dport", "l4proto", "role", "connected", "name_changed",
                 "unix_src", "unix_dst", "mount_id")

    def __init__(self, fd: int, type: int, name: str = "", *, nameraw: str = "",
                 openflags: int = 0, ino: int = 0, dev: int = 0) -> None:
        self.fd = fd
        self.type = type
        self.name = name
        self.nameraw = nameraw or name
        self.openflags = openflags
        self.ino = ino
        self.dev = dev
        self.family = 0
        self.sip: bytes | None = None
        self.sport = 0
        self.dip: bytes | None = None
        self.dport = 0
        self.l4proto = L4_UNKNOWN
        self.role = ROLE_NONE
        self.connected = False
        self.name_changed = False
        self.unix_src = 0
        self.unix_dst = 0
        self.mount_id = 0

    def clone(self, fd: int | None = None) -> FdInfo:
        c = FdInfo.__new__(FdInfo)
        for s in FdInfo.__slots__:
            setattr(c, s, getattr(self, s))
        if fd is not None:
            c.fd = fd
        return c

    @property
    def typechar(self) -> str:
        return FD_TYPE_INFO.get(self.type, ("o", None))[0]

    @property
    def type_name(self) -> str | None:
        return FD_TYPE_INFO.get(self.type, ("o", None))[1]

    @property
    def is_socket(self) -> bool:
        return self.type in (FD_IPV4_SOCK, FD_IPV6_SOCK, FD_IPV4_SERVSOCK, FD_IPV6_SERVSOCK,
                             FD_UNIX_SOCK)

    @property
    def is_inet(self) -> bool:
        return self.type in (FD_IPV4_SOCK, FD_IPV6_SOCK, FD_IPV4_SERVSOCK, FD_IPV6_SERVSOCK)

    @property
    def is_servsock(self) -> bool:
        return self.type in (FD_IPV4_SERVSOCK, FD_IPV6_SERVSOCK)

    def __repr__(self) -> str:
        return f"<FdInfo {self.fd} {self.typechar} {self.name!r}>"


class ThreadInfo:
    """One thread (libsinsp ``sinsp_threadinfo``). Process-wide data (cwd, fds, env) lives on the
    main thread; :attr:`fds` is the same dict object for every thread of a process."""

    __slots__ = (
        "tid", "pid", "ptid", "sid", "vpgid", "pgid", "comm", "exe", "exepath", "args", "env",
        "_cwd", "fdlimit", "flags", "uid", "gid", "loginuid", "vtid", "vpid", "cgroups", "root",
        "tty", "cap_inheritable", "cap_permitted", "cap_effective", "exe_writable",
        "exe_upper_layer", "exe_lower_layer", "exe_from_memfd", "exe_ino", "exe_ino_ctime",
        "exe_ino_mtime", "pidns_init_start_ts", "clone_ts", "lastexec_ts", "fds", "container_id",
        "main", "dead", "state", "child_subreaper", "__weakref__",
    )

    def __init__(self, tid: int, pid: int | None = None, ptid: int = -1, *, comm: str = "",
                 exe: str = "", exepath: str = "", args: Iterable[str] = (), cwd: str = "/",
                 uid: int = 0, gid: int = 0, loginuid: int = NO_ID, env: Iterable[str] = (),
                 cgroups: Iterable[str] = (), flags: int = 0) -> None:
        self.tid = tid
        self.pid = tid if pid is None else pid
        self.ptid = ptid
        self.sid = -1
        self.vpgid = -1
        self.pgid = -1
        self.comm = comm
        self.exe = exe
        self.exepath = exepath
        self.args: list[str] = list(args)
        self.env: list[str] = list(env)
        self._cwd = cwd
        self.fdlimit = 0
        self.flags = flags
        self.uid = uid
        self.gid = gid
        self.loginuid = loginuid
        self.vtid = -1
        self.vpid = -1
        self.cgroups: list[str] = list(cgroups)
        self.root = "/"
        self.tty = 0
        self.cap_inheritable = 0
        self.cap_permitted = 0
        self.cap_effective = 0
        self.exe_writable = False
        self.exe_upper_layer = False
        self.exe_lower_layer = False
        self.exe_from_memfd = False
        self.exe_ino = 0
        self.exe_ino_ctime = 0
        self.exe_ino_mtime = 0
        self.pidns_init_start_ts = 0
        self.clone_ts = 0
        self.lastexec_ts = 0
        self.fds: dict[int, FdInfo] = {}
        #: Set by the container plugin or a producer (gVisor); "" = host / not known yet.
        self.container_id = ""
        self.main: ThreadInfo | None = None
        self.dead = False
        #: PR_SET_CHILD_SUBREAPER of the thread group (kept on its main thread, as libsinsp
        #: keeps it on the thread group): orphans of descendants are reparented to it.
        self.child_subreaper = False
        #: Free slot for other plugins' per-thread data (dict, created on demand).
        self.state: dict[str, Any] | None = None

    @property
    def is_main_thread(self) -> bool:
        return self.tid == self.pid

    @property
    def is_invalid(self) -> bool:
        """libsinsp's "invalid" thread: a fake entry made for an unknown tid."""
        return self.tid < 0 or self.pid < 0 or self.ptid < 0

    @property
    def cwd(self) -> str:
        m = self.main
        return m._cwd if m is not None and m is not self else self._cwd

    @cwd.setter
    def cwd(self, value: str) -> None:
        m = self.main
        if m is not None and m is not self:
            m._cwd = value
        self._cwd = value

    @property
    def cmdline(self) -> str:
        return " ".join([self.comm, *self.args]) if self.args else self.comm

    def cgroup(self, subsys: str) -> str | None:
        """The cgroup path of ``subsys`` (``cpu``, ``memory``, ...; ``""`` for cgroup v2)."""
        for entry in self.cgroups:
            k, _, v = entry.partition("=")
            if k == subsys or subsys in k.split(","):
                return v
        return None

    def __repr__(self) -> str:
        return f"<ThreadInfo tid={self.tid} pid={self.pid} ptid={self.ptid} {self.comm!r}>"


_UNSPECIFIED_V4 = bytes(4)
_UNSPECIFIED_V6 = bytes(16)


def _fake_thread(tid: int) -> ThreadInfo:
    t = ThreadInfo(tid, -1, -1, comm="<NA>", exe="<NA>", cwd="", uid=NO_ID, gid=NO_ID,
                   loginuid=NO_ID)
    t.main = None
    return t


def concatenate_paths(base: str, name: str) -> str:
    """libsinsp's path join: absolute names stand alone; lexical normalisation, no symlinks."""
    if not name:
        return base.rstrip("/") or "/" if base else ""
    if name.startswith("/"):
        path = name
    else:
        path = (base.rstrip("/") + "/" + name) if base else name
    norm = posixpath.normpath(path)
    if norm.startswith("//"):
        norm = "/" + norm.lstrip("/")
    return norm


def ipv4_str(raw: bytes) -> str:
    return ".".join(str(b) for b in raw)


def ipv6_str(raw: bytes) -> str:
    import ipaddress

    return str(ipaddress.IPv6Address(raw))


def _is_v4_mapped(raw: bytes) -> bool:
    return len(raw) == 16 and raw[:12] == b"\0" * 10 + b"\xff\xff"


def tuple_name(fdi: FdInfo) -> str:
    """fd.name of a connected inet socket: ``sip:sport->dip:dport``."""
    if fdi.type in (FD_IPV4_SOCK,):
        return f"{ipv4_str(fdi.sip or b'')}:{fdi.sport}->{ipv4_str(fdi.dip or b'')}:{fdi.dport}"
    if fdi.type == FD_IPV6_SOCK:
        sip, dip = ipv6_str(fdi.sip or bytes(16)), ipv6_str(fdi.dip or bytes(16))
        return f"{sip}:{fdi.sport}->{dip}:{fdi.dport}"
    return fdi.name


def _l4proto(domain: int, stype: int, proto: int) -> int:
    stype &= 0xF  # strip SOCK_NONBLOCK / SOCK_CLOEXEC
    if proto == 6 or (proto == 0 and stype == 1):
        return L4_TCP
    if proto == 17 or (proto == 0 and stype == 2):
        return L4_UDP
    if proto in (1, 58):
        return L4_ICMP
    if stype == 3:
        return L4_RAW
    return L4_UNKNOWN


def _fd_param_name(info) -> str | None:
    """Which parameter of an event holds the fd it uses (libscap's fixed fd-location table,
    expressed by name over the merged schema)."""
    if not info.uses_fd:
        return None
    names = [p.name for p in info.params if p.type == PT_FD]
    creates = bool(info.flags & EF_CREATES_FD)
    for cand in ("fd", "oldfd", "fd_in", "out_fd", "fdin", "mountfd", "dirfd", "pid_fd"):
        if cand in names:
            if creates and info.params[0].name == cand:
                continue
            return cand
    return None


_FD_PARAM = tuple(_fd_param_name(e) for e in EVENT_TABLE)

_SIMPLE_FD_TYPES = {
    "eventfd": FD_EVENT, "eventfd2": FD_EVENT, "signalfd": FD_SIGNALFD,
    "signalfd4": FD_SIGNALFD, "timerfd_create": FD_TIMERFD, "inotify_init": FD_INOTIFY,
    "inotify_init1": FD_INOTIFY, "bpf": FD_BPF, "userfaultfd": FD_USERFAULTFD,
    "io_uring_setup": FD_IOURING, "epoll_create": FD_EVENTPOLL, "epoll_create1": FD_EVENTPOLL,
    "pidfd_open": FD_PIDFD, "pidfd_getfd": FD_UNKNOWN,
}


class User:
    __slots__ = ("uid", "gid", "name", "home", "shell")

    def __init__(self, uid: int, gid: int, name: str, home: str = "", shell: str = "") -> None:
        self.uid, self.gid, self.name, self.home, self.shell = uid, gid, name, home, shell


class Interface:
    __slots__ = ("name", "family", "addr", "netmask", "bcast")

    def __init__(self, name: str, family: int, addr: bytes, netmask: bytes,
                 bcast: bytes = b"") -> None:
        self.name, self.family, self.addr, self.netmask, self.bcast = (
            name, family, addr, netmask, bcast)


class SyscallState:
    """Thread, fd, user and interface tables for the ``syscall`` source."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        """Forget everything (a new capture section, a new producer)."""
        self.threads: dict[int, ThreadInfo] = {}
        self.users: dict[int, User] = {}
        self.groups: dict[int, str] = {}
        self.interfaces: list[Interface] = []
        self.hostname = ""
        self.boot_ts = 0
        self.num_cpus = 0
        self._pending_fd: tuple[ThreadInfo, int] | None = None
        self._pending_threads: list[ThreadInfo] = []
        #: Counters (shown by producers in counters()).
        self.fake_threads = 0

    # --- seeding API ------------------------------------------------------------------------
    def add_thread(self, t: ThreadInfo) -> ThreadInfo:
        """Insert (or replace) a thread; links it to its process's main thread and fd table."""
        self.threads[t.tid] = t
        self._link(t)
        return t

    def _link(self, t: ThreadInfo) -> None:
        if t.tid == t.pid:
            t.main = t
            for other in self.threads.values():
                if other.pid == t.pid and other is not t and other.flags & CL_CLONE_FILES:
                    other.main = t
                    other.fds = t.fds
            return
        main = self.threads.get(t.pid)
        t.main = main
        if main is not None and (t.flags & CL_CLONE_FILES or not t.fds):
            t.fds = main.fds

    def add_fd(self, tid: int, fdi: FdInfo) -> None:
        """Seed one fd of thread ``tid`` (its process's table)."""
        t = self.threads.get(tid)
        if t is not None:
            t.fds[fdi.fd] = fdi

    def add_user(self, uid: int, gid: int, name: str, home: str = "", shell: str = "") -> None:
        self.users[uid] = User(uid, gid, name, home, shell)

    def add_group(self, gid: int, name: str) -> None:
        self.groups[gid] = name

    def add_interface(self, iface: Interface) -> None:
        self.interfaces.append(iface)

    def lookup_thread(self, tid: int) -> ThreadInfo | None:
        """The thread ``tid`` if known (never creates one)."""
        return self.threads.get(tid)

    def set_container_id(self, tid: int, container_id: str) -> None:
        """Mark thread ``tid`` (and its process's other threads) as running in a container."""
        t = self.threads.get(tid)
        if t is None:
            return
        for other in self.threads.values():
            if other.pid == t.pid:
                other.container_id = container_id
        t.container_id = container_id

    def user_name(self, uid: int) -> str | None:
        u = self.users.get(uid)
        if u is not None:
            return u.name
        return "root" if uid == 0 else None

    def group_name(self, gid: int) -> str | None:
        g = self.groups.get(gid)
        if g is not None:
            return g
        return "root" if gid == 0 else None

    def scan_proc(self, root: str = "/proc", *, with_fds: bool = True) -> int:
        """Seed threads (and their fds) from a live ``/proc``; returns the number of threads.

        Users and groups come from the host's passwd/group databases, interfaces from
        ``socket.if_nameindex``. Unreadable entries (processes that exit meanwhile, permission)
        are skipped."""
        from .procfs import scan_proc

        return scan_proc(self, root, with_fds=with_fds)

    def is_local_ip(self, raw: bytes | None) -> bool:
        if not raw:
            return False
        if raw == _UNSPECIFIED_V4 or raw == _UNSPECIFIED_V6:
            # The unspecified address is never a peer: it stands for a local end the producer
            # did not report (gVisor gives only connect/accept's address argument). A deliberate
            # difference from libsinsp, which would call it remote (README).
            return True
        for i in self.interfaces:
            if len(i.addr) == len(raw) and i.addr == raw:
                return True
        if len(raw) == 4 and raw[0] == 127:
            return True
        return raw == b"\0" * 15 + b"\x01"

    # --- the parser ---------------------------------------------------------------------------
    def get_thread(self, tid: int, create: bool = True) -> ThreadInfo | None:
        t = self.threads.get(tid)
        if t is None and create and tid >= 0:
            t = _fake_thread(tid)
            t.main = t
            self.threads[tid] = t
            self.fake_threads += 1
        return t

    def parse(self, evt: SyscallEvent) -> None:
        """Update the tables with ``evt`` and resolve ``evt.thread`` / ``evt.fd_num``.

        Idempotent per event (``evt.parsed``), so a producer may parse early and the core's
        parser call is then a no-op."""
        if evt.parsed:
            return
        evt.parsed = True
        evt.st = self
        if self._pending_fd is not None:
            t, fd = self._pending_fd
            self._pending_fd = None
            t.fds.pop(fd, None)
        if self._pending_threads:
            for t in self._pending_threads:
                self._remove_thread(t)
            self._pending_threads.clear()
        info = evt.info
        if info.flags & EF_SKIPPARSERESET or info.category & 4096:  # metaevent
            evt.thread = self.threads.get(evt.tid)
            handler = _META.get(info.name)
            if handler is not None:
                handler(self, evt)
            return
        name = info.name
        create = name not in _NO_FAKE
        t = self.threads.get(evt.tid)
        if t is None:
            t = self.get_thread(evt.tid, create)
        evt.thread = t
        if not info.is_exit and info.is_syscall:
            return  # enter events are merged into their exits (replay) or never produced
        if info.has_return:
            res = evt.param(info.params[0].name)
            if res is not None and res < 0:
                evt.errorcode = -res
        fdp = _FD_PARAM[evt.etype]
        if fdp is not None:
            fd = evt.param(fdp)
            if fd is not None:
                evt.fd_num = fd
        handler = _PARSERS.get(name)
        if handler is not None and (t is not None or name in _NO_FAKE):
            handler(self, evt, t)

    def _remove_thread(self, t: ThreadInfo) -> None:
        if self.threads.get(t.tid) is t:
            del self.threads[t.tid]

    # --- fd helpers ---------------------------------------------------------------------------
    def _add_fd(self, evt: SyscallEvent, t: ThreadInfo, fdi: FdInfo) -> None:
        t.fds[fdi.fd] = fdi
        evt.fd_num = fdi.fd
        evt._fdinfo = fdi

    def resolve_dirfd(self, t: ThreadInfo, dirfd: int | None, name: str) -> str:
        """Base directory for an ``*at`` path (libsinsp ``parse_dirfd``)."""
        if name.startswith("/"):
            return ""
        if dirfd is None or dirfd == AT_FDCWD:
            return t.cwd
        d = t.fds.get(dirfd)
        if d is None:
            return "<UNKNOWN>"
        return d.name + "/" if not d.name.endswith("/") else d.name


# --- per-event parsers (exit events) -----------------------------------------------------------
def _parse_open(st: SyscallState, evt: SyscallEvent, t: ThreadInfo) -> None:
    info = evt.info
    fd = evt.param(info.params[0].name)
    name = evt.param("name")
    if name is None:
        name = evt.param("path") or ""
    flags = evt.param("flags", 0)
    enter = evt.enter_event()
    if enter is not None:  # TOCTOU mitigation: prefer the enter's name and flags
        ename = enter.param("name")
        if ename and ename != "<NA>":
            name = ename
            eflags = enter.param("flags")
            if eflags is not None:
                flags = eflags | (flags & ~(O_F_CREATED - 1))
    n = info.name
    if n in ("openat", "openat2"):
        base = st.resolve_dirfd(t, evt.param("dirfd"), name)
    elif n == "open_by_handle_at":
        base = ""
    else:
        base = "" if name.startswith("/") else t.cwd
    full = concatenate_paths(base, name) if name else ""
    evt.set_param("_fullpath", full)
    if fd is None or fd < 0:
        return
    ftype = FD_DIRECTORY if flags & O_DIRECTORY else FD_FILE_V2
    fdi = FdInfo(fd, ftype, full, nameraw=name, openflags=flags,
                 ino=evt.param("ino", 0), dev=evt.param("dev", 0))
    st._add_fd(evt, t, fdi)


def _parse_socket(st: SyscallState, evt: SyscallEvent, t: ThreadInfo) -> None:
    fd = evt.param("fd")
    if fd is None or fd < 0:
        return
    domain = evt.param("domain", 0)
    stype = evt.param("type", 0)
    proto = evt.param("proto", 0)
    if domain == AF_UNIX:
        fdi = FdInfo(fd, FD_UNIX_SOCK)
    elif domain in (AF_INET, AF_INET6):
        fdi = FdInfo(fd, FD_IPV4_SOCK if domain == AF_INET else FD_IPV6_SOCK)
        fdi.l4proto = _l4proto(domain, stype, proto)
    elif domain == AF_NETLINK:
        fdi = FdInfo(fd, FD_NETLINK)
    else:
        fdi = FdInfo(fd, FD_UNKNOWN)
    fdi.family = domain
    st._add_fd(evt, t, fdi)


def _set_inet(fdi: FdInfo, tup: tuple, *, overwrite_dest: bool = True) -> None:
    fam, sip, sport, dip, dport = tup
    if fam == AF_INET6 and _is_v4_mapped(sip) and _is_v4_mapped(dip):
        fam, sip, dip = AF_INET, sip[12:], dip[12:]
    if fam == AF_INET:
        if fdi.type not in (FD_IPV4_SOCK,):
            fdi.type = FD_IPV4_SOCK
    else:
        if fdi.type not in (FD_IPV6_SOCK,):
            fdi.type = FD_IPV6_SOCK
    fdi.family = fam
    fdi.sip, fdi.sport = sip, sport
    if overwrite_dest or not fdi.dip:
        fdi.dip, fdi.dport = dip, dport


def _parse_bind(st: SyscallState, evt: SyscallEvent, t: ThreadInfo) -> None:
    if evt.errorcode:
        return
    fdi = t.fds.get(evt.fd_num)
    addr = evt.param("addr")
    if fdi is None or addr is None:
        return
    fam = addr[0]
    if fam in (AF_INET, AF_INET6) and len(addr) == 3:
        ip, port = addr[1], addr[2]
        if fam == AF_INET6 and _is_v4_mapped(ip):
            fam, ip = AF_INET, ip[12:]
        ipstr = ipv4_str(ip) if fam == AF_INET else ipv6_str(ip)
        if port > 0:
            fdi.type = FD_IPV4_SERVSOCK if fam == AF_INET else FD_IPV6_SERVSOCK
            fdi.sip, fdi.sport = ip, port
            fdi.dip, fdi.dport = ip, port
            fdi.role = ROLE_SERVER
        fdi.name = f"{ipstr}:{port}"
        if fdi.l4proto == L4_UNKNOWN:
            fdi.l4proto = L4_TCP
    elif fam == AF_UNIX and len(addr) == 2:
        fdi.name = addr[1]
        fdi.role = ROLE_SERVER


def _unix_name(tup: tuple) -> str:
    return f"{tup[1]:x}->{tup[2]:x} {tup[3]}"


def _parse_connect(st: SyscallState, evt: SyscallEvent, t: ThreadInfo) -> None:
    res = evt.param("res")
    if res is not None and res < 0 and res != -115:  # -EINPROGRESS
        return
    fdi = t.fds.get(evt.fd_num)
    if fdi is None:
        return
    tup = evt.param("tuple")
    if tup is None or len(tup) == 1:
        addr = evt.param("addr")
        if addr is not None and len(addr) == 3:
            fdi.dip, fdi.dport = addr[1], addr[2]
        return
    fam = tup[0]
    if fam in (AF_INET, AF_INET6) and len(tup) == 5:
        _set_inet(fdi, tup)
        fdi.name = tuple_name(fdi)
        if fdi.role == ROLE_NONE:
            fdi.role = ROLE_CLIENT
        fdi.connected = True
    elif fam == AF_UNIX and len(tup) == 4:
        fdi.unix_src, fdi.unix_dst = tup[1], tup[2]
        fdi.name = _unix_name(tup)
        if fdi.role == ROLE_NONE:
            fdi.role = ROLE_CLIENT
        fdi.connected = True


def _parse_accept(st: SyscallState, evt: SyscallEvent, t: ThreadInfo) -> None:
    fd = evt.param("fd")
    if fd is None or fd < 0:
        return
    tup = evt.param("tuple")
    if tup is None:
        return
    fam = tup[0]
    if fam in (AF_INET, AF_INET6) and len(tup) == 5:
        fdi = FdInfo(fd, FD_IPV4_SOCK)
        _set_inet(fdi, tup)
        fdi.l4proto = L4_TCP
        fdi.name = tuple_name(fdi)
    elif fam == AF_UNIX and len(tup) == 4:
        fdi = FdInfo(fd, FD_UNIX_SOCK, _unix_name(tup))
        fdi.unix_src, fdi.unix_dst = tup[1], tup[2]
    else:
        fdi = FdInfo(fd, FD_UNKNOWN)
    fdi.role = ROLE_SERVER
    fdi.connected = True
    flags = evt.param("flags")
    if flags and flags & 0o2000000:  # SOCK_CLOEXEC
        fdi.openflags |= O_CLOEXEC
    st._add_fd(evt, t, fdi)


def _parse_close(st: SyscallState, evt: SyscallEvent, t: ThreadInfo) -> None:
    if evt.errorcode:
        return
    fd = evt.fd_num
    if fd in t.fds:
        st._pending_fd = (t, fd)


def _parse_dup(st: SyscallState, evt: SyscallEvent, t: ThreadInfo) -> None:
    res = evt.param("res")
    if res is None or res < 0:
        return
    old = t.fds.get(evt.fd_num)
    if old is None:
        return
    fdi = old.clone(res)
    fdi.openflags &= ~O_CLOEXEC
    if evt.info.name == "dup3" and (evt.param("flags", 0) & O_CLOEXEC):
        fdi.openflags |= O_CLOEXEC
    st._add_fd(evt, t, fdi)


def _parse_fcntl(st: SyscallState, evt: SyscallEvent, t: ThreadInfo) -> None:
    cmd = evt.param("cmd")
    res = evt.param("res")
    if cmd in (1, 26) and res is not None and res >= 0:  # F_DUPFD, F_DUPFD_CLOEXEC
        old = t.fds.get(evt.fd_num)
        if old is not None:
            fdi = old.clone(res)
            fdi.openflags = (fdi.openflags | O_CLOEXEC) if cmd == 26 else (
                fdi.openflags & ~O_CLOEXEC)
            st._add_fd(evt, t, fdi)


def _parse_pipe(st: SyscallState, evt: SyscallEvent, t: ThreadInfo) -> None:
    if evt.errorcode:
        return
    ino = evt.param("ino", 0)
    flags = evt.param("flags", 0) or 0
    for p in ("fd1", "fd2"):
        fd = evt.param(p)
        if fd is not None and fd >= 0:
            st._add_fd(evt, t, FdInfo(fd, FD_FIFO, "", ino=ino, openflags=flags))


def _parse_socketpair(st: SyscallState, evt: SyscallEvent, t: ThreadInfo) -> None:
    if evt.errorcode:
        return
    for p in ("fd1", "fd2"):
        fd = evt.param(p)
        if fd is not None and fd >= 0:
            fdi = FdInfo(fd, FD_UNIX_SOCK)
            fdi.unix_src = evt.param("source", 0)
            fdi.unix_dst = evt.param("peer", 0)
            st._add_fd(evt, t, fdi)


def _parse_simple_fd(st: SyscallState, evt: SyscallEvent, t: ThreadInfo) -> None:
    info = evt.info
    fd = evt.param(info.params[0].name)
    if fd is None or fd < 0:
        return
    st._add_fd(evt, t, FdInfo(fd, _SIMPLE_FD_TYPES.get(info.name, FD_UNKNOWN)))


def _parse_memfd(st: SyscallState, evt: SyscallEvent, t: ThreadInfo) -> None:
    fd = evt.param("fd")
    if fd is None or fd < 0:
        return
    st._add_fd(evt, t, FdInfo(fd, FD_MEMFD, evt.param("name", "")))


def _parse_io_tuple(st: SyscallState, evt: SyscallEvent, t: ThreadInfo) -> None:
    """recvfrom/recvmsg/sendto/sendmsg: refresh the tuple of unnamed or non-TCP sockets."""
    if evt.errorcode:
        return
    tup = evt.param("tuple")
    if tup is None or tup[0] not in (AF_INET, AF_INET6) or len(tup) != 5:
        return
    fdi = t.fds.get(evt.fd_num)
    if fdi is None:
        if evt.info.name.startswith("send") and evt.fd_num >= 0:
            fdi = FdInfo(evt.fd_num, FD_IPV4_SOCK)
            fdi.l4proto = L4_UDP
            t.fds[fdi.fd] = fdi
        else:
            return
    if fdi.name and fdi.l4proto == L4_TCP:
        return
    if not fdi.is_inet:
        return
    if evt.info.name.startswith("recv"):
        # inbound tuples are peer -> local; a client's view is local -> peer
        fam, sip, sport, dip, dport = tup
        if fdi.role != ROLE_SERVER:
            tup = (fam, dip, dport, sip, sport)
    _set_inet(fdi, tup)
    fdi.name = tuple_name(fdi)


def _parse_execve(st: SyscallState, evt: SyscallEvent, t: ThreadInfo) -> None:
    if evt.errorcode:
        return
    res = evt.param("res")
    if res is None or res < 0:
        return
    was_invalid = t.is_invalid
    exe = evt.param("exe") or ""
    t.exe = exe
    comm = evt.param("comm")
    t.comm = comm if comm else exe
    args = evt.param("args")
    if args is not None:
        t.args = _split_nul(args)
    pid = evt.param("pid")
    if pid is not None and pid >= 0:
        t.pid = pid
    t.lastexec_ts = evt.ts
    if was_invalid:
        ptid = evt.param("ptid")
        if ptid is not None:
            t.ptid = ptid
        t.vtid, t.vpid = t.tid, t.pid
        st._link(t)
    v = evt.param("fdlimit")
    if v is not None:
        t.fdlimit = v
    env = evt.param("env")
    if env is not None:
        t.env = _split_nul(env)
    cg = evt.param("cgroups")
    if cg is not None:
        t.cgroups = _split_nul(cg)
    for name, attr in (("tty", "tty"), ("vpgid", "vpgid"), ("loginuid", "loginuid"),
                       ("cap_inheritable", "cap_inheritable"), ("cap_permitted", "cap_permitted"),
                       ("cap_effective", "cap_effective"), ("exe_ino", "exe_ino"),
                       ("exe_ino_ctime", "exe_ino_ctime"), ("exe_ino_mtime", "exe_ino_mtime"),
                       ("uid", "uid"), ("gid", "gid")):
        v = evt.param(name)
        if v is not None:
            setattr(t, attr, v)
    t.pgid = evt.param("pgid", -1)
    flags = evt.param("flags")
    if flags is not None and evt.param_info("flags") is not None:
        t.exe_writable = bool(flags & EXE_WRITABLE)
        t.exe_upper_layer = bool(flags & EXE_UPPER_LAYER)
        t.exe_from_memfd = bool(flags & EXE_FROM_MEMFD)
        t.exe_lower_layer = bool(flags & EXE_LOWER_LAYER)
    trusted = evt.param("trusted_exepath")
    if trusted:
        t.exepath = trusted
    else:
        filename = evt.param("filename") if evt.info.name == "execve" else evt.param("pathname")
        if filename:
            if evt.info.name == "execveat":
                base = st.resolve_dirfd(t, evt.param("dirfd"), filename)
            else:
                base = "" if filename.startswith("/") else t.cwd
            t.exepath = concatenate_paths(base, filename)
        elif exe.startswith("/"):
            t.exepath = exe
    # close O_CLOEXEC fds (deferred removal is not needed: execve does not use an fd)
    for fd in [fd for fd, f in t.fds.items() if f.openflags & O_CLOEXEC]:
        del t.fds[fd]
    # other threads of the group go away
    if t.tid == t.pid:
        for other in [o for o in st.threads.values() if o.pid == t.pid and o is not t]:
            st._pending_threads.append(other)


def _split_nul(b: bytes | str) -> list[str]:
    if isinstance(b, str):
        b = b.encode()
    if b.endswith(b"\0"):
        b = b[:-1]
    if not b:
        return []
    return [s.decode("utf-8", "replace") for s in b.split(b"\0")]


def _parse_clone(st: SyscallState, evt: SyscallEvent, t: ThreadInfo | None) -> None:
    res = evt.param("res")
    if res is None or res < 0:
        return
    flags = evt.param("flags", 0)
    caller_tid = evt.tid
    if res == 0:
        # child side
        existing = st.threads.get(caller_tid)
        if existing is not None and not existing.is_invalid and existing.clone_ts:
            return
        child = _thread_from_clone(st, evt, caller_tid, flags)
        child.flags |= CL_CLONE_INVERTED
        parent = st.threads.get(child.ptid) if not flags & CL_CLONE_THREAD else \
            st.threads.get(child.pid)
        _inherit(st, child, parent, flags)
        st.add_thread(child)
        evt.thread = child
        return
    # caller side
    caller = st.threads.get(caller_tid)
    if caller is None:
        caller = st.get_thread(caller_tid, True)
        evt.thread = caller
    if caller.is_invalid:
        pid = evt.param("pid")
        ptid = evt.param("ptid")
        if pid is not None:
            caller.pid = pid
        if ptid is not None:
            caller.ptid = ptid
        caller.vtid, caller.vpid = evt.param("vtid", caller.tid), evt.param("vpid", caller.pid)
        if caller.comm == "<NA>":
            caller.comm = evt.param("comm") or evt.param("exe") or caller.comm
            caller.exe = evt.param("exe") or caller.exe
            args = evt.param("args")
            if args is not None:
                caller.args = _split_nul(args)
        st._link(caller)
    if flags & (CL_CHILD_IN_PIDNS | CL_CLONE_NEWPID | CL_CLONE_PARENT | CL_CLONE_VFORK):
        return
    if evt.info.name == "vfork":
        return
    existing = st.threads.get(res)
    if existing is not None and (existing.flags & CL_CLONE_INVERTED or not existing.is_invalid):
        return
    child = _thread_from_clone(st, evt, res, flags)
    if flags & CL_CLONE_THREAD:
        child.pid = caller.pid
        child.ptid = caller.ptid
        child.flags |= CL_CLONE_FILES
    else:
        child.pid = res
        child.ptid = caller.tid
    child.vtid, child.vpid = child.tid, child.pid
    _inherit(st, child, caller, flags)
    st.add_thread(child)


def _thread_from_clone(st: SyscallState, evt: SyscallEvent, tid: int, flags: int) -> ThreadInfo:
    exe = evt.param("exe") or ""
    comm = evt.param("comm") or exe
    child = ThreadInfo(tid, evt.param("pid", tid), evt.param("ptid", -1), comm=comm, exe=exe,
                       args=_split_nul(evt.param("args") or b""))
    child.flags = flags
    child.fdlimit = evt.param("fdlimit", 0)
    child.uid = evt.param("uid", 0)
    child.gid = evt.param("gid", 0)
    cg = evt.param("cgroups")
    if cg is not None:
        child.cgroups = _split_nul(cg)
    child.vtid = evt.param("vtid", tid)
    child.vpid = evt.param("vpid", child.pid)
    child.clone_ts = evt.ts
    child.pidns_init_start_ts = evt.param("pidns_init_start_ts", 0) + st.boot_ts
    cwd = evt.param("cwd")
    if cwd:
        child._cwd = cwd
    return child


def _inherit(st: SyscallState, child: ThreadInfo, parent: ThreadInfo | None, flags: int) -> None:
    if parent is None:
        return
    if not child.exe:  # drivers that read no task struct send empty exe/args/comm
        child.exe = parent.exe
        child.args = list(parent.args)
        if not child.comm:
            child.comm = parent.comm
    if not child.comm:
        child.comm = child.exe
    pmain = parent.main or parent
    if flags & CL_CLONE_THREAD:
        child.flags |= CL_CLONE_FILES
        child.fds = pmain.fds
        child.main = pmain
        child.env = pmain.env
    else:
        child.fds = {fd: f.clone() for fd, f in pmain.fds.items()}
        child._cwd = pmain.cwd
        child.env = list(pmain.env)
    for attr in ("exepath", "sid", "vpgid", "pgid", "tty", "loginuid", "cap_inheritable",
                 "cap_permitted", "cap_effective", "exe_writable", "exe_upper_layer",
                 "exe_lower_layer", "exe_from_memfd", "exe_ino", "exe_ino_ctime",
                 "exe_ino_mtime", "root", "container_id"):
        setattr(child, attr, getattr(parent, attr))
    if not child.cgroups:
        child.cgroups = list(parent.cgroups)


def _parse_procexit(st: SyscallState, evt: SyscallEvent, t: ThreadInfo | None) -> None:
    if t is None:
        return
    t.dead = True
    st._pending_threads.append(t)
    reaper = evt.param("reaper_tid")
    if not reaper or reaper <= 0:
        # No reaper from the producer (gVisor, old drivers): the nearest subreaper ancestor,
        # as the kernel picks it; without one, the dying thread's parent (previous behaviour).
        reaper = _subreaper_above(st, t)
        if reaper is None:
            reaper = t.ptid if t.ptid >= 0 else 1
    for other in st.threads.values():
        if other.ptid == t.tid and other is not t:
            other.ptid = reaper


#: How far up the parent chain a subreaper is looked for (libsinsp bounds its walk as well).
_MAX_ANCESTRY = 64


def _subreaper_above(st: SyscallState, t: ThreadInfo) -> int | None:
    seen = 0
    tid = t.ptid
    while tid > 0 and seen < _MAX_ANCESTRY:
        a = st.threads.get(tid)
        if a is None:
            return None
        group = a.main or a
        if group.child_subreaper and not group.dead:
            return group.tid
        tid = a.ptid
        seen += 1
    return None


#: prctl options (libs' PPM_PR_*, equal to Linux's PR_*).
PR_SET_CHILD_SUBREAPER = 36
PR_GET_CHILD_SUBREAPER = 37


def _parse_prctl(st: SyscallState, evt: SyscallEvent, t: ThreadInfo) -> None:
    """PR_SET/GET_CHILD_SUBREAPER mark the thread group a subreaper (arg2 != 0) or not, as
    libsinsp's parse_prctl_exit_event (the GET form reports the current flag). Failed calls and
    fake threads change nothing."""
    if evt.errorcode or evt.param("res", 0) < 0 or t.pid < 0:
        return
    if evt.param("option") not in (PR_SET_CHILD_SUBREAPER, PR_GET_CHILD_SUBREAPER):
        return
    arg = evt.param("arg2_int")
    if arg is None:
        return
    (t.main or t).child_subreaper = arg != 0


def _parse_chdir(st: SyscallState, evt: SyscallEvent, t: ThreadInfo) -> None:
    if evt.errorcode:
        return
    n = evt.info.name
    if n == "chdir":
        path = evt.param("path")
        if path:
            t.cwd = concatenate_paths(t.cwd, path)
    elif n == "fchdir":
        d = t.fds.get(evt.fd_num)
        if d is not None and d.name:
            t.cwd = d.name
    elif n == "getcwd":
        path = evt.param("path")
        if path and (evt.param("res") or 0) >= 0:
            t.cwd = path


def _parse_chroot(st: SyscallState, evt: SyscallEvent, t: ThreadInfo) -> None:
    if evt.errorcode:
        return
    path = evt.param("path")
    if path:
        t.root = concatenate_paths(t.cwd, path)


def _parse_setid(st: SyscallState, evt: SyscallEvent, t: ThreadInfo) -> None:
    if evt.param("res") != 0:
        return
    n = evt.info.name
    if n == "setuid":
        v = evt.param("uid")
        attr = "uid"
    elif n == "setgid":
        v = evt.param("gid")
        attr = "gid"
    elif n in ("setresuid", "setreuid"):
        v = evt.param("euid")
        attr = "uid"
    else:
        v = evt.param("egid")
        attr = "gid"
    if v is None or v == NO_ID:
        return
    for other in st.threads.values() if t.pid >= 0 else (t,):
        if other.pid == t.pid:
            setattr(other, attr, v)
    setattr(t, attr, v)


def _parse_setsid(st: SyscallState, evt: SyscallEvent, t: ThreadInfo) -> None:
    res = evt.param("res")
    if res is not None and res >= 0:
        t.sid = res


def _parse_capset(st: SyscallState, evt: SyscallEvent, t: ThreadInfo) -> None:
    if evt.errorcode:
        return
    for a in ("cap_inheritable", "cap_permitted", "cap_effective"):
        v = evt.param(a)
        if v is not None:
            setattr(t, a, v)


def _parse_prlimit(st: SyscallState, evt: SyscallEvent, t: ThreadInfo) -> None:
    if evt.errorcode or evt.param("resource") != 7:  # RLIMIT_NOFILE
        return
    cur = evt.param("newcur") if evt.info.name == "prlimit" else evt.param("cur")
    if cur is not None and cur >= 0 and evt.info.name != "getrlimit":
        t.fdlimit = cur


def _meta_user(st: SyscallState, evt: SyscallEvent) -> None:
    n = evt.info.name
    if n == "useradded":
        st.add_user(evt.param("uid", 0), evt.param("gid", 0), evt.param("name", ""),
                    evt.param("home", ""), evt.param("shell", ""))
    elif n == "userdeleted":
        st.users.pop(evt.param("uid", -1), None)
    elif n == "groupadded":
        st.add_group(evt.param("gid", 0), evt.param("name", ""))
    elif n == "groupdeleted":
        st.groups.pop(evt.param("gid", -1), None)


_NO_FAKE = frozenset({"clone", "fork", "vfork", "clone3", "switch", "procexit"})

_PARSERS: dict[str, Any] = {
    "open": _parse_open, "openat": _parse_open, "openat2": _parse_open, "creat": _parse_open,
    "open_by_handle_at": _parse_open, "socket": _parse_socket, "bind": _parse_bind,
    "connect": _parse_connect, "accept": _parse_accept, "accept4": _parse_accept,
    "close": _parse_close, "dup": _parse_dup, "dup2": _parse_dup, "dup3": _parse_dup,
    "fcntl": _parse_fcntl, "pipe": _parse_pipe, "pipe2": _parse_pipe,
    "socketpair": _parse_socketpair, "memfd_create": _parse_memfd,
    "recvfrom": _parse_io_tuple, "recvmsg": _parse_io_tuple, "sendto": _parse_io_tuple,
    "sendmsg": _parse_io_tuple, "execve": _parse_execve, "execveat": _parse_execve,
    "clone": _parse_clone, "fork": _parse_clone, "vfork": _parse_clone, "clone3": _parse_clone,
    "procexit": _parse_procexit, "chdir": _parse_chdir, "fchdir": _parse_chdir,
    "getcwd": _parse_chdir, "chroot": _parse_chroot, "setuid": _parse_setid,
    "setgid": _parse_setid, "setresuid": _parse_setid, "setresgid": _parse_setid,
    "setreuid": _parse_setid, "setregid": _parse_setid, "setsid": _parse_setsid,
    "capset": _parse_capset, "prlimit": _parse_prlimit, "setrlimit": _parse_prlimit,
    "prctl": _parse_prctl,
}
for _n in _SIMPLE_FD_TYPES:
    _PARSERS[_n] = _parse_simple_fd

_META: dict[str, Any] = {"useradded": _meta_user, "userdeleted": _meta_user,
                         "groupadded": _meta_user, "groupdeleted": _meta_user}
# procexit is a tracepoint (not a metaevent) but creates no fake thread: handled in _PARSERS.


def event_fdinfo(evt: SyscallEvent) -> FdInfo | None:
    """The fd info of the fd an event uses or created (``None`` outside fd events)."""
    f = evt._fdinfo
    if f is not None:
        return f
    if not evt.info.fd_events or evt.fd_num < 0:
        return None
    t = evt.thread
    if t is None:
        return None
    f = t.fds.get(evt.fd_num)
    evt._fdinfo = f
    return f


_SCAN_FD_TYPES = {
    "file": FD_FILE_V2, "directory": FD_DIRECTORY, "ipv4": FD_IPV4_SOCK, "ipv6": FD_IPV6_SOCK,
    "ipv4_server": FD_IPV4_SERVSOCK, "ipv6_server": FD_IPV6_SERVSOCK, "unix": FD_UNIX_SOCK,
    "pipe": FD_FIFO, "event": FD_EVENT, "signalfd": FD_SIGNALFD, "eventpoll": FD_EVENTPOLL,
    "inotify": FD_INOTIFY, "timerfd": FD_TIMERFD, "netlink": FD_NETLINK, "bpf": FD_BPF,
    "memfd": FD_MEMFD, "other": FD_UNKNOWN,
}
_SCAN_L4 = {"tcp": L4_TCP, "udp": L4_UDP, "icmp": L4_ICMP, "raw": L4_RAW}


def seed_from_procs(procs: Iterable[Any], state: SyscallState | None = None) -> int:
    """Seed threads and fds from /proc scan records (duck-typed: the eBPF driver's
    ``ProcInfo``/``FdInfo``: ``tid, pid, ptid, comm, exe, exepath, args, cwd, uid, gid,
    loginuid, vtid, vpid, sid, vpgid, tty, env, cgroups [(subsys, path)], fdlimit, fds`` with
    fds ``fd, type ("file", "ipv4", "ipv4_server", "unix", "pipe", ...), name, ino, l4proto,
    sip, sport, dip, dport`` (IPs as text)). Returns the number of threads added."""
    import ipaddress

    st = state if state is not None else default_state()
    n = 0
    for p in procs:
        t = ThreadInfo(p.tid, p.pid, p.ptid, comm=p.comm, exe=p.exe, exepath=p.exepath,
                       args=p.args, cwd=p.cwd, uid=p.uid, gid=p.gid, loginuid=p.loginuid,
                       env=getattr(p, "env", ()))
        t.vtid, t.vpid = p.vtid, p.vpid
        t.sid = getattr(p, "sid", -1)
        t.vpgid = getattr(p, "vpgid", -1)
        t.tty = getattr(p, "tty", 0)
        t.fdlimit = getattr(p, "fdlimit", 0)
        t.cgroups = [f"{k}={v}" for k, v in getattr(p, "cgroups", ())]
        if p.tid != p.pid:
            t.flags |= CL_CLONE_THREAD | CL_CLONE_FILES
        st.add_thread(t)
        n += 1
        for f in getattr(p, "fds", ()):
            ftype = _SCAN_FD_TYPES.get(f.type, FD_UNKNOWN)
            fdi = FdInfo(f.fd, ftype, f.name, ino=getattr(f, "ino", 0))
            if ftype in (FD_IPV4_SOCK, FD_IPV6_SOCK, FD_IPV4_SERVSOCK, FD_IPV6_SERVSOCK):
                try:
                    sip = ipaddress.ip_address(f.sip).packed if f.sip else None
                    dip = ipaddress.ip_address(f.dip).packed if f.dip else None
                except ValueError:
                    sip = dip = None
                fdi.sip, fdi.sport, fdi.dip, fdi.dport = sip, f.sport, dip, f.dport
                if ftype in (FD_IPV4_SERVSOCK, FD_IPV6_SERVSOCK):
                    fdi.dip, fdi.dport = sip, f.sport
                    fdi.role = ROLE_SERVER
                fdi.l4proto = _SCAN_L4.get(getattr(f, "l4proto", ""), L4_UNKNOWN)
                fdi.connected = fdi.l4proto == L4_TCP and ftype in (FD_IPV4_SOCK, FD_IPV6_SOCK)
            t.fds[f.fd] = fdi
    return n


_DEFAULT: SyscallState | None = None
_DEFAULT_LOCK = threading.Lock()


def default_state() -> SyscallState:
    """The process-wide state of the ``syscall`` source (the one the registered parser feeds).

    Producers seed it when they open (``default_state().reset()`` first for a new stream)."""
    global _DEFAULT
    if _DEFAULT is None:
        with _DEFAULT_LOCK:
            if _DEFAULT is None:
                _DEFAULT = SyscallState()
    return _DEFAULT


def parse_event(evt: Any) -> None:
    """The ``ParserSpec`` callable: feed ``evt`` to :func:`default_state` (non-syscall events of
    other producers are ignored)."""
    if isinstance(evt, SyscallEvent):
        default_state().parse(evt)


__all__ = [
    "FdInfo", "ThreadInfo", "SyscallState", "Interface", "User", "default_state", "parse_event",
    "event_fdinfo", "concatenate_paths", "seed_from_procs",
]
