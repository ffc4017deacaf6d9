"""Writing .scap captures the way current libscap does (spec/scap.md §4).

SHB 1.2, MI, IL_V2, UL_V2, one PL_V9 and one FDL_V2 per thread from a
:class:`~pyfalco_syscall.state.SyscallState`, then events as EV_V2 (EVF_V2 when dump flags are set,
the ``_LARGE`` variants for large-payload event types). Optionally gzip-compressed, as Falco's
capture feature writes. Files written here are read by the replay engine and by sysdig.
"""

from __future__ import annotations

import gzip
import io
import struct
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from ..events import SyscallEvent
from ..state import (
    FD_DIRECTORY,
    FD_FILE,
    FD_FILE_V2,
    FD_IPV4_SERVSOCK,
    FD_IPV4_SOCK,
    FD_IPV6_SERVSOCK,
    FD_IPV6_SOCK,
    FD_UNIX_SOCK,
    FD_UNKNOWN,
    SyscallState,
    ThreadInfo,
)
from . import format as F


def _pad(n: int) -> bytes:
    return b"\0" * ((4 - n % 4) % 4)


def _s16(s: str | bytes, limit: int = F.MAX_PATH_SIZE) -> bytes:
    b = s.encode("utf-8", "surrogateescape") if isinstance(s, str) else s
    if len(b) >= limit:
        b = b[:limit - 1]
    return struct.pack("<H", len(b)) + b


def _list16(items: Iterable[str]) -> bytes:
    """A NUL-separated list (args, env, cgroups), cut to libscap's buffer and still
    NUL-terminated, as the kernel drivers cut an oversized command line."""
    items = list(items)
    if not items:
        return struct.pack("<H", 0)
    b = b"\0".join(i.encode("utf-8", "surrogateescape") for i in items) + b"\0"
    if len(b) >= F.MAX_ARGS_SIZE:
        b = b[:F.MAX_ARGS_SIZE - 2] + b"\0"
    return struct.pack("<H", len(b)) + b


#: block header, cpu, dump flags, event header, padding and block trailer around a non-large
#: event's parameter lengths and values
_NONLARGE_OVERHEAD = 8 + 2 + 4 + F.EVENT_HEADER_V2 + 3 + 4


def _fit(vals: list[bytes], room: int) -> list[bytes]:
    """``vals`` with the longest ones cut until their total fits ``room``; a string keeps its
    terminating NUL."""
    out = list(vals)
    excess = sum(map(len, out)) - room
    while excess > 0:
        i = max(range(len(out)), key=lambda j: len(out[j]))
        v = out[i]
        cut = min(excess, len(v))
        out[i] = v[:len(v) - cut - 1] + b"\0" if v.endswith(b"\0") and cut < len(v) else \
            v[:len(v) - cut]
        excess -= cut
    return out


class ScapWriter:
    """Write a capture to ``target`` (a path or a binary file object)."""

    def __init__(self, target: str | Path | BinaryIO, *, compress: bool = False) -> None:
        if isinstance(target, (str, Path)):
            raw: BinaryIO = open(target, "wb")  # noqa: SIM115 - closed in close()
            self._own = True
        else:
            raw = target
            self._own = False
        self._raw = raw
        self._out: BinaryIO = gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6) \
            if compress else raw
        self._buf = io.BytesIO()
        self.events_written = 0

    # --- blocks -----------------------------------------------------------------------------
    def _block(self, btype: int, body: bytes) -> None:
        total = 8 + len(body) + len(_pad(len(body))) + 4
        self._out.write(struct.pack("<II", btype, total) + body + _pad(len(body))
                        + struct.pack("<I", total))

    def write_header(self, state: SyscallState | None = None, *, hostname: str = "",
                     num_cpus: int = 1, boot_ts: int = 0) -> None:
        """SHB, MI and the metadata of ``state`` (threads, fds, users, groups, interfaces)."""
        self._block(F.SHB, struct.pack("<IHHq", F.BYTE_ORDER_MAGIC, 1, 2, -1))
        host = (hostname or (state.hostname if state else "")).encode()[:127]
        mi = struct.pack("<IQQ", num_cpus or (state.num_cpus if state else 1) or 1, 0, 0)
        mi += host.ljust(128, b"\0")
        mi += struct.pack("<QQQQ", boot_ts or (state.boot_ts if state else 0), 0, 0, 0)
        self._block(F.MI, mi)
        if state is None:
            return
        if state.interfaces:
            body = b""
            for i in sorted(state.interfaces, key=lambda i: len(i.addr)):
                name = i.name.encode()
                if len(i.addr) == 4:
                    entry = struct.pack("<HH", F.IFTYPE_IPV4, len(name)) + i.addr + i.netmask + \
                        (i.bcast or b"\0" * 4) + struct.pack("<Q", 0) + name
                else:
                    entry = struct.pack("<HH", F.IFTYPE_IPV6, len(name)) + i.addr + i.netmask + \
                        (i.bcast or b"\0" * 16) + struct.pack("<Q", 0) + name
                body += struct.pack("<I", len(entry)) + entry
            self._block(F.IL_V2, body)
        if state.users or state.groups:
            body = b""
            cred = F.MAX_CREDENTIALS_STR_LEN
            for u in state.users.values():
                e = struct.pack("<BII", 0, u.uid, u.gid) + _s16(u.name, cred) + \
                    _s16(u.home, cred) + _s16(u.shell, cred)
                body += struct.pack("<I", 4 + len(e)) + e
            for gid, name in state.groups.items():
                e = struct.pack("<BI", 1, gid) + _s16(name, cred)
                body += struct.pack("<I", 4 + len(e)) + e
            self._block(F.UL_V2, body)
        threads = list(state.threads.values())
        if threads:
            self._block(F.PL_V9, b"".join(self._pl_entry(t) for t in threads))
            for t in threads:
                self._block(F.FDL_V2, self._fdl_body(t, state))

    @staticmethod
    def _pl_entry(t: ThreadInfo) -> bytes:
        body = struct.pack("<Qqqqq", t.tid, t.pid, t.ptid, t.sid, t.vpgid)
        body += _s16(t.comm) + _s16(t.exe) + _s16(t.exepath) + _list16(t.args)
        body += _s16(t.cwd)
        body += struct.pack("<QIII", t.fdlimit, t.flags, t.uid & 0xFFFFFFFF, t.gid & 0xFFFFFFFF)
        body += struct.pack("<IIIQQ", 0, 0, 0, 0, 0)
        body += _list16(t.env)
        body += struct.pack("<qq", t.vtid, t.vpid)
        body += _list16(t.cgroups) + _s16(t.root)
        body += struct.pack("<QIIB", t.pidns_init_start_ts, t.tty, t.loginuid & 0xFFFFFFFF,
                            int(t.exe_writable))
        body += struct.pack("<QQQ", t.cap_inheritable, t.cap_permitted, t.cap_effective)
        body += struct.pack("<BQQQ", int(t.exe_upper_layer), t.exe_ino, t.exe_ino_ctime,
                            t.exe_ino_mtime)
        body += struct.pack("<BBq", int(t.exe_from_memfd), int(t.exe_lower_layer), t.pgid)
        return struct.pack("<I", 4 + len(body)) + body

    @staticmethod
    def _fdl_body(t: ThreadInfo, state: SyscallState) -> bytes:
        body = struct.pack("<Q", t.tid)
        if t.tid != t.pid and t.main is not None and t.fds is t.main.fds:
            return body  # threads share the main thread's table: written once, there
        for fdi in t.fds.values():
            if fdi.type == FD_UNKNOWN:
                continue
            ftype = FD_FILE_V2 if fdi.type == FD_FILE else fdi.type
            e = struct.pack("<qQB", fdi.fd, fdi.ino, ftype)
            if ftype == FD_IPV4_SOCK and fdi.sip and fdi.dip and len(fdi.sip) == 4:
                e += fdi.sip + fdi.dip + struct.pack("<HHB", fdi.sport, fdi.dport, fdi.l4proto)
            elif ftype == FD_IPV6_SOCK and fdi.sip and fdi.dip:
                e += fdi.sip + fdi.dip + struct.pack("<HHB", fdi.sport, fdi.dport, fdi.l4proto)
            elif ftype in (FD_IPV4_SERVSOCK, FD_IPV6_SERVSOCK) and fdi.sip:
                e += fdi.sip + struct.pack("<HB", fdi.sport, fdi.l4proto)
            elif ftype == FD_UNIX_SOCK:
                e += struct.pack("<QQ", fdi.unix_src, fdi.unix_dst) + _s16(fdi.name)
            elif ftype == FD_FILE_V2:
                e += struct.pack("<I", fdi.openflags) + _s16(fdi.name) + \
                    struct.pack("<I", fdi.dev)
            elif ftype in (FD_IPV4_SOCK, FD_IPV6_SOCK):
                continue  # a socket without a tuple yet cannot be expressed in an FDL entry
            else:
                e += _s16(fdi.name)
            body += struct.pack("<I", 4 + len(e)) + e
        return body

    def write_event(self, evt: SyscallEvent, flags: int | None = None, *,
                    with_enter: bool = True) -> None:
        """Write ``evt``; for a syscall exit, its enter event first (the attached one, or one
        built from the enter parameters the exit carries), as drivers emit them, so that
        readers of every libs version (sysdig included) get every parameter."""
        if with_enter:
            enter = evt.enter_for_writing()
            if enter is not None:
                self._write_one(enter, None)
        self._write_one(evt, flags)

    def _write_one(self, evt: SyscallEvent, flags: int | None) -> None:
        info = evt.info
        vals = evt.wire_values()
        large = info.large
        lfmt = "I" if large else "H"
        lens = struct.pack(f"<{len(vals)}{lfmt}", *(len(v) for v in vals)) if large else b""
        if not large:
            # readers take a non-large block of at most 64 KiB: cut the longest parameters to
            # fit, as the drivers cut to their snaplen (a rare path: paths, buffers)
            room = F.MAX_NONLARGE_BLOCK - _NONLARGE_OVERHEAD - 2 * len(vals)
            if sum(map(len, vals)) > room:
                vals = _fit(vals, room)
            lens = struct.pack(f"<{len(vals)}H", *(len(v) for v in vals))
        payload = b"".join(vals)
        evlen = F.EVENT_HEADER_V2 + len(lens) + len(payload)
        ev = struct.pack("<QQIHI", evt.ts, evt.tid, evlen, evt.etype, len(vals)) + lens + payload
        dflags = evt.dflags if flags is None else flags
        if dflags:
            btype = F.EVF_V2_LARGE if large else F.EVF_V2
            body = struct.pack("<HI", evt.cpu, dflags) + ev
        else:
            btype = F.EV_V2_LARGE if large else F.EV_V2
            body = struct.pack("<H", evt.cpu) + ev
        self._block(btype, body)
        self.events_written += 1

    def close(self) -> None:
        if self._out is not self._raw:
            self._out.close()
        if self._own:
            self._raw.close()
        else:
            self._raw.flush()

    def __enter__(self) -> ScapWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["ScapWriter", "FD_DIRECTORY"]
