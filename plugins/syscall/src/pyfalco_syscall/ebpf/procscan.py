"""The initial /proc scan: every thread and every open fd of the host, as plain records.

libscap does the same before a live capture starts (``scap_proc_scan_proc_dir``); the driver
attaches its programs first, then scans, so nothing created in between is missed (a process
seen both ways is simply updated by its later events). Processes vanish while we read: every
read tolerates that (the entry is skipped and counted in ``ScanResult.vanished``).
"""

from __future__ import annotations

import ipaddress
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

#: libs fd types (scap_fd_type), as the syscall plugin's state uses them
FD_FILE = "file"
FD_DIRECTORY = "directory"
FD_IPV4_SOCK = "ipv4"
FD_IPV6_SOCK = "ipv6"
FD_IPV4_SERVSOCK = "ipv4_server"
FD_IPV6_SERVSOCK = "ipv6_server"
FD_UNIX_SOCK = "unix"
FD_FIFO = "pipe"
FD_EVENT = "event"
FD_SIGNALFD = "signalfd"
FD_EVENTPOLL = "eventpoll"
FD_INOTIFY = "inotify"
FD_TIMERFD = "timerfd"
FD_NETLINK = "netlink"
FD_BPF = "bpf"
FD_MEMFD = "memfd"
FD_OTHER = "other"

_ANON_TYPES = {
    "[eventfd]": FD_EVENT, "[signalfd]": FD_SIGNALFD, "[eventpoll]": FD_EVENTPOLL,
    "inotify": FD_INOTIFY, "[timerfd]": FD_TIMERFD, "bpf-map": FD_BPF, "bpf-prog": FD_BPF,
}


@dataclass
class FdInfo:
    fd: int
    type: str  # FD_* above
    name: str  # libs fd.name: path, "sip:sport->dip:dport", "ip:port", unix path, ""
    ino: int = 0
    #: sockets: l4 protocol ("tcp", "udp", ""), addresses (client side first) and ports
    l4proto: str = ""
    sip: str = ""
    sport: int = 0
    dip: str = ""
    dport: int = 0


@dataclass
class ProcInfo:
    tid: int
    pid: int
    ptid: int
    comm: str
    exe: str  # argv[0]
    exepath: str  # resolved /proc/PID/exe
    args: list[str]
    cwd: str
    uid: int  # effective uid, as libscap
    gid: int
    loginuid: int
    vtid: int
    vpid: int
    sid: int = 0
    vpgid: int = 0
    tty: int = 0
    env: list[str] = field(default_factory=list)
    cgroups: list[tuple[str, str]] = field(default_factory=list)  # (subsystem, path)
    fdlimit: int = 0
    #: only main threads carry fds (threads share the main thread's table)
    fds: list[FdInfo] = field(default_factory=list)


@dataclass
class ScanResult:
    procs: list[ProcInfo]
    vanished: int = 0  # processes or threads that exited while being read


def _read(path: str) -> str:
    with open(path, "rb") as f:
        return f.read().decode("utf-8", "surrogateescape")


def _readlink(path: str) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return ""


def _hex_ip(text: str) -> str:
    raw = bytes.fromhex(text)
    if len(raw) == 4:
        return str(ipaddress.IPv4Address(raw[::-1]))
    # /proc/net/tcp6: four 32-bit words, each in host (little-endian) order
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
    addr = ipaddress.IPv6Address(words)
    return str(addr.ipv4_mapped) if addr.ipv4_mapped else str(addr)


def socket_table(proc_root: str = "/proc") -> dict[int, FdInfo]:
    """inode -> socket description, from /proc/net/{tcp,tcp6,udp,udp6,unix}."""
    table: dict[int, FdInfo] = {}
    for proto, fname, v6 in (("tcp", "tcp", False), ("tcp", "tcp6", True), ("udp", "udp", False),
                             ("udp", "udp6", True)):
        try:
            lines = _read(f"{proc_root}/net/{fname}").splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if len(cols) < 10:
                continue
            try:
                lip, lport = cols[1].split(":")
                rip, rport = cols[2].split(":")
                state, ino = int(cols[3], 16), int(cols[9])
                l_ip, r_ip = _hex_ip(lip), _hex_ip(rip)
            except ValueError:
                continue
            lp, rp = int(lport, 16), int(rport, 16)
            mapped_v4 = v6 and ":" not in l_ip
            fam6 = v6 and not mapped_v4
            if proto == "tcp" and state == 0x0A:  # LISTEN: a server socket "ip:port"
                kind = FD_IPV6_SERVSOCK if fam6 else FD_IPV4_SERVSOCK
                table[ino] = FdInfo(-1, kind, f"{l_ip}:{lp}", ino, proto, "", 0, l_ip, lp)
            else:
                kind = FD_IPV6_SOCK if fam6 else FD_IPV4_SOCK
                name = f"{l_ip}:{lp}->{r_ip}:{rp}"
                table[ino] = FdInfo(-1, kind, name, ino, proto, l_ip, lp, r_ip, rp)
    try:
        for line in _read(f"{proc_root}/net/unix").splitlines()[1:]:
            cols = line.split()
            if len(cols) >= 7:
                try:
                    ino = int(cols[6])
                except ValueError:
                    continue
                table[ino] = FdInfo(-1, FD_UNIX_SOCK, cols[7] if len(cols) > 7 else "", ino)
    except OSError:
        pass
    return table


def _fd_info(fd: int, target: str, sockets: dict[int, FdInfo]) -> FdInfo:
    if target.startswith("/"):
        if target.endswith(" (deleted)"):
            target = target[: -len(" (deleted)")]
        if target.startswith("/memfd:"):
            return FdInfo(fd, FD_MEMFD, target)
        return FdInfo(fd, FD_FILE, target)
    kind, _, rest = target.partition(":")
    if kind == "socket":
        try:
            ino = int(rest.strip("[]"))
        except ValueError:
            return FdInfo(fd, FD_OTHER, target)
        known = sockets.get(ino)
        if known is None:
            return FdInfo(fd, FD_OTHER, "", ino)  # netlink, packet, ...: no name in libs either
        return FdInfo(fd, known.type, known.name, ino, known.l4proto, known.sip, known.sport,
                      known.dip, known.dport)
    if kind == "pipe":
        try:
            return FdInfo(fd, FD_FIFO, "", int(rest.strip("[]")))
        except ValueError:
            return FdInfo(fd, FD_FIFO, "")
    if kind == "anon_inode":
        return FdInfo(fd, _ANON_TYPES.get(rest, FD_OTHER), "")
    return FdInfo(fd, FD_OTHER, target)


def _status(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        out[key] = value.strip()
    return out


def _thread(proc_root: str, pid: int, tid: int, base: str, sockets: dict[int, FdInfo],
            with_env: bool) -> ProcInfo:
    status = _status(_read(f"{base}/status"))
    stat = _read(f"{base}/stat")
    # comm may contain spaces and parentheses: fields start after the last ')'
    after = stat[stat.rindex(")") + 2:].split()
    ppid, pgrp, sid, tty = int(after[1]), int(after[2]), int(after[3]), int(after[4])
    comm = status.get("Name", "")
    cmdline = _read(f"{proc_root}/{pid}/cmdline").split("\0")
    if cmdline and cmdline[-1] == "":
        cmdline.pop()
    uid = int(status.get("Uid", "0 0").split()[1])
    gid = int(status.get("Gid", "0 0").split()[1])
    nstid = status.get("NSpid", str(tid)).split()
    nspid = status.get("NSpgid", "").split()
    try:
        loginuid = int(_read(f"{proc_root}/{pid}/loginuid"))
    except (OSError, ValueError):
        loginuid = 0xFFFFFFFF
    cgroups: list[tuple[str, str]] = []
    try:
        for line in _read(f"{proc_root}/{pid}/cgroup").splitlines():
            parts = line.split(":", 2)
            if len(parts) == 3:
                cgroups.append((parts[1] or "unified", parts[2]))
    except OSError:
        pass
    env: list[str] = []
    if with_env:
        try:
            env = [e for e in _read(f"{proc_root}/{pid}/environ").split("\0") if e]
        except OSError:
            env = []
    fdlimit = 0
    try:
        for line in _read(f"{proc_root}/{pid}/limits").splitlines():
            if line.startswith("Max open files"):
                fdlimit = int(line.split()[3])
    except (OSError, ValueError, IndexError):
        pass
    info = ProcInfo(
        tid=tid, pid=pid, ptid=ppid, comm=comm,  # a thread's ppid is its process's parent
        exe=cmdline[0] if cmdline else comm,
        exepath=_readlink(f"{proc_root}/{pid}/exe").removesuffix(" (deleted)"),
        args=cmdline[1:], cwd=_readlink(f"{proc_root}/{pid}/cwd"),
        uid=uid, gid=gid, loginuid=loginuid,
        vtid=int(nstid[-1]) if nstid else tid,
        vpid=int(status.get("NSpid", str(pid)).split()[-1]) if tid == pid else pid,
        sid=sid, vpgid=int(nspid[-1]) if nspid else pgrp, tty=tty, env=env, cgroups=cgroups,
        fdlimit=fdlimit,
    )
    if tid == pid:
        fd_dir = f"{proc_root}/{pid}/fd"
        for name in os.listdir(fd_dir):
            target = _readlink(f"{fd_dir}/{name}")
            if target:
                info.fds.append(_fd_info(int(name), target, sockets))
    return info


def scan(proc_root: str = "/proc", *, with_env: bool = True,
         exclude_pid: int | None = None) -> ScanResult:
    """Every thread of the host (``exclude_pid``: the engine's own process, not traced either)."""
    sockets = socket_table(proc_root)
    procs: list[ProcInfo] = []
    vanished = 0
    for entry in os.scandir(proc_root):
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        if pid == exclude_pid:
            continue
        try:
            tids = sorted(int(t) for t in os.listdir(f"{proc_root}/{pid}/task") if t.isdigit())
        except OSError:
            vanished += 1
            continue
        for tid in tids:
            try:
                procs.append(_thread(proc_root, pid, tid, f"{proc_root}/{pid}/task/{tid}",
                                     sockets, with_env and tid == pid))
            except (OSError, ValueError, IndexError):
                vanished += 1
    return ScanResult(procs, vanished)


def local_address(pid: int, fd: int) -> tuple[str, int] | None:
    """The local (ip, port) of another process's socket, via pidfd_getfd + getsockname.

    Used for connect events: the kernel program cannot read the socket (no kprobes and no
    kernel struct access here). Needs root (ptrace access); None when the process or the fd is
    already gone.
    """
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        return None
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        dup = libc.syscall(438, pidfd, fd, 0)  # SYS_pidfd_getfd
        if dup < 0:
            return None
        try:
            s = socket.socket(fileno=dup)
        except OSError:
            os.close(dup)
            return None
        try:
            addr = s.getsockname()
        except OSError:
            return None
        finally:
            s.detach()
            os.close(dup)
        if isinstance(addr, tuple) and len(addr) >= 2:
            return str(addr[0]), int(addr[1])
        return None
    finally:
        os.close(pidfd)


def proc_root_exists(path: str = "/proc") -> bool:
    return Path(path, "self").exists()
