"""Seeding the state from a live ``/proc`` (live producers: the eBPF driver, tests).

Reads every ``/proc/<pid>/task/<tid>``: ``stat`` (ppid, session, pgrp, tty, start time),
``status`` (uids, gids, capabilities), ``comm``, ``cmdline``, ``exe``, ``cwd``, ``environ``,
``cgroup``, ``loginuid``, and the process's ``fd/`` links (files, sockets by inode from
``/proc/net/{tcp,tcp6,udp,udp6,unix}``, pipes). Anything unreadable is skipped: processes come
and go during the scan.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .state import SyscallState


def _read(path: str) -> str | None:
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError:
        return None


def _boot_time_ns() -> int:
    for line in (_read("/proc/stat") or "").splitlines():
        if line.startswith("btime "):
            return int(line.split()[1]) * 1_000_000_000
    return 0


def _net_sockets(root: str) -> dict[int, tuple]:
    """inode -> (family, l4, sip, sport, dip, dport) for inet sockets, ("unix", path)."""
    out: dict[int, tuple] = {}
    for name, fam, l4 in (("tcp", 2, 2), ("udp", 2, 3), ("tcp6", 10, 2), ("udp6", 10, 3)):
        text = _read(f"{root}/net/{name}")
        if not text:
            continue
        for line in text.splitlines()[1:]:
            parts = line.split()
            if len(parts) < 10:
                continue
            try:
                lip, lport = parts[1].split(":")
                rip, rport = parts[2].split(":")
                ino = int(parts[9])
            except ValueError:
                continue
            out[ino] = (fam, l4, _hexip(lip), int(lport, 16), _hexip(rip), int(rport, 16),
                        parts[3] == "0A")
    text = _read(f"{root}/net/unix")
    for line in (text or "").splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 7:
            try:
                out[int(parts[6])] = ("unix", parts[7] if len(parts) > 7 else "")
            except ValueError:
                continue
    return out


def _hexip(h: str) -> bytes:
    raw = bytes.fromhex(h)
    # /proc/net prints 32-bit words in host (little-endian) order
    return b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))


def scan_proc(state: SyscallState, root: str = "/proc", *, with_fds: bool = True) -> int:
    from .state import (
        FD_DIRECTORY,
        FD_FIFO,
        FD_FILE_V2,
        FD_IPV4_SERVSOCK,
        FD_IPV4_SOCK,
        FD_IPV6_SERVSOCK,
        FD_IPV6_SOCK,
        FD_UNIX_SOCK,
        FD_UNKNOWN,
        NO_ID,
        ROLE_SERVER,
        FdInfo,
        Interface,
        ThreadInfo,
        tuple_name,
    )

    boot = _boot_time_ns()
    hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    try:
        import grp
        import pwd

        for p in pwd.getpwall():
            state.add_user(p.pw_uid, p.pw_gid, p.pw_name, p.pw_dir, p.pw_shell)
        for g in grp.getgrall():
            state.add_group(g.gr_gid, g.gr_name)
    except Exception:  # noqa: BLE001 - no user database: names resolve to <NA>
        pass
    try:
        import fcntl
        import struct

        for _idx, name in socket.if_nameindex():
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                try:
                    req = struct.pack("256s", name.encode()[:15])
                    addr = fcntl.ioctl(s.fileno(), 0x8915, req)[20:24]  # SIOCGIFADDR
                    mask = fcntl.ioctl(s.fileno(), 0x891B, req)[20:24]  # SIOCGIFNETMASK
                    state.add_interface(Interface(name, 2, addr, mask))
                except OSError:
                    continue
    except Exception:  # noqa: BLE001
        pass
    socks = _net_sockets(root) if with_fds else {}
    count = 0
    for pid_s in os.listdir(root):
        if not pid_s.isdigit():
            continue
        pid = int(pid_s)
        tasks = f"{root}/{pid}/task"
        try:
            tids = [int(t) for t in os.listdir(tasks) if t.isdigit()]
        except OSError:
            continue
        for tid in sorted(tids, key=lambda t: t != pid):
            base = f"{tasks}/{tid}"
            stat = _read(f"{base}/stat")
            if not stat:
                continue
            rp = stat.rfind(")")
            fields = stat[rp + 2:].split()
            comm = stat[stat.find("(") + 1:rp]
            try:
                ppid, pgrp, session, tty = (int(fields[1]), int(fields[2]), int(fields[3]),
                                            int(fields[4]))
                start = int(fields[19])
            except (IndexError, ValueError):
                continue
            t = ThreadInfo(tid, pid, ppid, comm=comm)
            if tid != pid:
                t.ptid = ppid
            t.sid, t.pgid, t.vpgid, t.tty = session, pgrp, pgrp, tty
            t.vtid, t.vpid = tid, pid
            t.clone_ts = boot + start * 1_000_000_000 // hz
            cmd = _read(f"{root}/{pid}/cmdline") or ""
            argv = cmd.rstrip("\0").split("\0") if cmd else []
            t.exe = argv[0] if argv else comm
            t.args = argv[1:]
            try:
                t.exepath = os.readlink(f"{root}/{pid}/exe")
            except OSError:
                t.exepath = ""
            try:
                t._cwd = os.readlink(f"{root}/{pid}/cwd")
            except OSError:
                t._cwd = "/"
            env = _read(f"{root}/{pid}/environ") or ""
            t.env = [e for e in env.split("\0") if e]
            cg = _read(f"{base}/cgroup") or ""
            t.cgroups = []
            for line in cg.splitlines():
                parts = line.split(":", 2)
                if len(parts) == 3:
                    t.cgroups.append(f"{parts[1]}={parts[2]}")
            status = _read(f"{base}/status") or ""
            for line in status.splitlines():
                k, _, v = line.partition(":")
                v = v.strip()
                if k == "Uid":
                    t.uid = int(v.split()[1])
                elif k == "Gid":
                    t.gid = int(v.split()[1])
                elif k == "CapInh":
                    t.cap_inheritable = int(v, 16)
                elif k == "CapPrm":
                    t.cap_permitted = int(v, 16)
                elif k == "CapEff":
                    t.cap_effective = int(v, 16)
            lu = (_read(f"{base}/loginuid") or "").strip()
            t.loginuid = int(lu) if lu.isdigit() else NO_ID
            if tid != pid:
                t.flags |= 1 | (1 << 13)  # CLONE_FILES | CLONE_THREAD
            state.add_thread(t)
            count += 1
        if not with_fds:
            continue
        main = state.threads.get(pid)
        if main is None:
            continue
        fddir = f"{root}/{pid}/fd"
        try:
            fds = os.listdir(fddir)
        except OSError:
            continue
        for fd_s in fds:
            try:
                fd = int(fd_s)
                target = os.readlink(f"{fddir}/{fd_s}")
            except (OSError, ValueError):
                continue
            if target.startswith("socket:["):
                ino = int(target[8:-1])
                info = socks.get(ino)
                if info is None:
                    fdi = FdInfo(fd, FD_UNKNOWN, target, ino=ino)
                elif info[0] == "unix":
                    fdi = FdInfo(fd, FD_UNIX_SOCK, info[1], ino=ino)
                else:
                    fam, l4, lip, lport, rip, rport, listening = info
                    if listening:
                        fdi = FdInfo(fd, FD_IPV4_SERVSOCK if fam == 2 else FD_IPV6_SERVSOCK,
                                     ino=ino)
                        fdi.sip = fdi.dip = lip
                        fdi.sport = fdi.dport = lport
                        fdi.role = ROLE_SERVER
                        from .state import ipv4_str, ipv6_str

                        fdi.name = f"{ipv4_str(lip) if fam == 2 else ipv6_str(lip)}:{lport}"
                    else:
                        fdi = FdInfo(fd, FD_IPV4_SOCK if fam == 2 else FD_IPV6_SOCK, ino=ino)
                        fdi.sip, fdi.sport, fdi.dip, fdi.dport = lip, lport, rip, rport
                        fdi.name = tuple_name(fdi)
                        fdi.connected = l4 == 2
                    fdi.l4proto = l4
            elif target.startswith("pipe:["):
                fdi = FdInfo(fd, FD_FIFO, target)
            elif target.startswith("/"):
                ftype = FD_DIRECTORY if Path(target).is_dir() else FD_FILE_V2
                fdi = FdInfo(fd, ftype, target)
            else:
                fdi = FdInfo(fd, FD_UNKNOWN, target)
            main.fds[fd] = fdi
    return count
