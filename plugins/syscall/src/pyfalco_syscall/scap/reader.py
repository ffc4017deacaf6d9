"""Reading .scap captures (spec/scap.md §1-§3, §5): every block type and version, gzip or plain.

:class:`ScapReader` walks the block stream of a capture held in memory (gzip is decompressed
incrementally, so a truncated gzip stream still yields what it holds before the error). Metadata
blocks seed a :class:`~pyfalco_syscall.state.SyscallState`; event blocks become
:class:`~pyfalco_syscall.events.SyscallEvent` objects with their parameters kept as raw bytes.

:class:`EnterMerger` applies modern libs' view (>= 0.22): syscall enter events are kept per
thread and merged into the matching exit (``exit.enter``), then hidden; internal events and old
container events are hidden; state-only events go to the state parser only.

Bad input raises :class:`CaptureError` naming the file and the byte offset (in the uncompressed
stream for gzip files).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

from ..events import EVENT_TABLE, PPM_EVENT_MAX, SyscallEvent
from ..state import (
    FD_DIRECTORY,
    FD_FIFO,
    FD_FILE,
    FD_FILE_V2,
    FD_IPV4_SERVSOCK,
    FD_IPV4_SOCK,
    FD_IPV6_SERVSOCK,
    FD_IPV6_SOCK,
    FD_UNIX_SOCK,
    FD_UNKNOWN,
    FD_UNSUPPORTED,
    L4_TCP,
    ROLE_CLIENT,
    ROLE_SERVER,
    FdInfo,
    Interface,
    SyscallState,
    ThreadInfo,
    ipv4_str,
    ipv6_str,
    tuple_name,
)
from . import format as F

_U32 = struct.Struct("<I")
_HDR = struct.Struct("<II")
_EVH2 = struct.Struct("<QQIHI")  # ts, tid, len, type, nparams
_EVH1 = struct.Struct("<QQIH")


class CaptureError(Exception):
    """A capture cannot be read; the message names the file and the byte offset."""


class _Cursor:
    """Bounds-checked little-endian reads inside one block body."""

    __slots__ = ("b", "pos", "end", "base", "where")

    def __init__(self, b: bytes, pos: int, end: int, where: str) -> None:
        self.b, self.pos, self.end, self.base, self.where = b, pos, end, pos, where

    def need(self, n: int) -> None:
        if self.pos + n > self.end:
            raise ValueError(f"{self.where}: expecting {n} bytes, {self.end - self.pos} left "
                             f"at byte offset {self.pos}")

    def u8(self) -> int:
        self.need(1)
        v = self.b[self.pos]
        self.pos += 1
        return v

    def u16(self) -> int:
        self.need(2)
        v = int.from_bytes(self.b[self.pos:self.pos + 2], "little")
        self.pos += 2
        return v

    def u32(self) -> int:
        self.need(4)
        v = int.from_bytes(self.b[self.pos:self.pos + 4], "little")
        self.pos += 4
        return v

    def u64(self) -> int:
        self.need(8)
        v = int.from_bytes(self.b[self.pos:self.pos + 8], "little")
        self.pos += 8
        return v

    def i64(self) -> int:
        self.need(8)
        v = int.from_bytes(self.b[self.pos:self.pos + 8], "little", signed=True)
        self.pos += 8
        return v

    def raw(self, n: int) -> bytes:
        self.need(n)
        v = self.b[self.pos:self.pos + n]
        self.pos += n
        return v

    def s16(self, limit: int = 65535) -> str:
        n = self.u16()
        if n > limit:
            raise ValueError(f"{self.where}: string of {n} bytes exceeds {limit} at byte offset "
                             f"{self.pos - 2}")
        return self.raw(n).decode("utf-8", "replace")

    def s16b(self) -> bytes:
        return self.raw(self.u16())

    def left(self) -> int:
        return self.end - self.pos


def load_capture(path: str | Path) -> bytes:
    """The uncompressed bytes of a capture; gzip detected by its magic (``1f 8b``)."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise CaptureError(f"Could not open trace filename {path} for reading: "
                           f"{exc.strerror or exc}") from None
    if data[:2] != b"\x1f\x8b":
        return data
    d = zlib.decompressobj(wbits=47)
    try:
        out = d.decompress(data)
        out += d.flush()
    except zlib.error as exc:
        raise CaptureError(f"{path}: corrupt gzip stream ({exc})") from None
    # concatenated gzip members
    rest = d.unused_data
    while rest[:2] == b"\x1f\x8b" and d.eof:
        d = zlib.decompressobj(wbits=47)
        try:
            out += d.decompress(rest) + d.flush()
        except zlib.error as exc:
            raise CaptureError(f"{path}: corrupt gzip stream ({exc})") from None
        rest = d.unused_data
    if not d.eof:
        # Truncated compressed stream: keep what it held; the block walk then reports the
        # truncated block at its offset.
        pass
    return out


def _split_params(b: bytes, off: int, evlen: int, nparams: int, large: bool,
                  where: str) -> tuple[bytes, ...]:
    lsize = 4 if large else 2
    hdr_end = off + F.EVENT_HEADER_V2 + nparams * lsize
    end = off + evlen
    if hdr_end > end:
        raise ValueError(f"{where}: {nparams} parameters do not fit in event length {evlen}")
    lens = struct.unpack_from(f"<{nparams}{'I' if large else 'H'}", b, off + F.EVENT_HEADER_V2)
    pos = hdr_end
    out = []
    for n in lens:
        nxt = pos + n
        if nxt > end:
            raise ValueError(f"{where}: parameter lengths exceed event length {evlen}")
        out.append(b[pos:nxt])
        pos = nxt
    return tuple(out)


def _v1_nparams(b: bytes, off: int, evlen: int, etype: int) -> int:
    """spec/scap.md §3.3: search the schema's nparams downwards until the lengths add up."""
    info = EVENT_TABLE[etype]
    payload = evlen - F.EVENT_HEADER_V1
    for n in range(info.wire_params, -1, -1):
        if F.EVENT_HEADER_V1 + 2 * n > evlen:
            continue
        lens = struct.unpack_from(f"<{n}H", b, off + F.EVENT_HEADER_V1)
        total = 2 * n + sum(lens)
        if total == payload:
            return n
        if total < payload:
            break
    raise ValueError(f"cannot work out the parameter count of a v1 {info.name} event "
                     f"of length {evlen}")


class ScapReader:
    """Walks a capture's blocks; metadata goes to ``state``, events are yielded."""

    def __init__(self, path: str | Path, state: SyscallState, data: bytes | None = None) -> None:
        self.path = str(path)
        self.state = state
        self.data = load_capture(path) if data is None else data
        self.size = len(self.data)
        self.pos = 0
        #: Counters: events of unknown types (skipped), blocks of unknown types (skipped).
        self.skipped_unknown_events = 0
        self.skipped_unknown_blocks = 0
        self.sections = 0
        self.events_read = 0
        self.enters_stored = 0
        self.machine: dict[str, object] = {}
        self._in_events = False
        self._open()

    def _err(self, msg: str, off: int) -> CaptureError:
        return CaptureError(f"Error reading capture file {self.path} at byte offset {off}: {msg}")

    def _open(self) -> None:
        b = self.data
        if len(b) < 8:
            raise CaptureError(f"Could not open trace filename {self.path} for reading: "
                               f"not a scap capture (file too short, {len(b)} bytes)")
        btype = _U32.unpack_from(b, 0)[0]
        if btype != F.SHB:
            raise CaptureError(f"Could not open trace filename {self.path} for reading: "
                               f"not a scap capture (first block type {btype:#x}, expected "
                               f"section header {F.SHB:#x})")
        self._read_metadata()
        if not self._in_events:
            raise CaptureError(f"Could not open trace filename {self.path} for reading: "
                               "no events in file")

    def _block(self, off: int) -> tuple[int, int]:
        b = self.data
        if off + 12 > self.size:
            raise self._err(f"truncated block header ({self.size - off} bytes left, file ends "
                            f"after {self.size} bytes)", off)
        btype, total = _HDR.unpack_from(b, off)
        if total < 12 or total % 4:
            raise self._err(f"invalid block total length {total} (block type {btype:#x})", off)
        if off + total > self.size:
            raise self._err(f"truncated block: type {btype:#x} needs {total} bytes, "
                            f"{self.size - off} left (file ends after {self.size} bytes)", off)
        return F.ALIASES.get(btype, btype), total

    def _read_metadata(self) -> None:
        """Read a section's header and metadata blocks, up to its first event block."""
        st = self.state
        while self.pos < self.size:
            off = self.pos
            btype, total = self._block(off)
            if btype in F.EVENT_BLOCKS:
                self._in_events = True
                return
            body, end = off + 8, off + total - 4
            trailer = _U32.unpack_from(self.data, end)[0]
            if trailer != total:
                raise self._err(f"wrong block total length, header={total}, trailer={trailer}",
                                off)
            try:
                if btype == F.SHB:
                    self._shb(body, end)
                elif btype == F.MI:
                    self._mi(body, end)
                elif btype in F.PL_VERSION:
                    self._pl(body, end, F.PL_VERSION[btype])
                elif btype in (F.FDL, F.FDL_V2):
                    self._fdl(body, end, btype == F.FDL_V2)
                elif btype in (F.IL, F.IL_V2):
                    self._il(body, end, btype == F.IL_V2)
                elif btype in (F.UL, F.UL_V2):
                    self._ul(body, end, btype == F.UL_V2)
                else:
                    self.skipped_unknown_blocks += 1
            except ValueError as exc:
                raise self._err(f"corrupt {F.BLOCK_NAMES.get(btype, hex(btype))} block: {exc}",
                                off) from None
            self.pos = off + total
        _ = st

    # --- metadata blocks --------------------------------------------------------------------
    def _shb(self, body: int, end: int) -> None:
        c = _Cursor(self.data, body, end, "section header")
        magic = c.u32()
        if magic != F.BYTE_ORDER_MAGIC:
            raise ValueError(f"invalid magic number {magic:#x}")
        major = c.u16()
        c.u16()
        c.i64()
        if major != 1:
            raise ValueError(f"unsupported major version {major}")
        if self.sections:
            self.state.reset()
        self.sections += 1

    def _mi(self, body: int, end: int) -> None:
        c = _Cursor(self.data, body, end, "machine info")
        self.machine["num_cpus"] = c.u32()
        self.machine["memory_size_bytes"] = c.u64()
        self.machine["max_pid"] = c.u64()
        host = c.raw(128)
        self.machine["hostname"] = host.split(b"\0", 1)[0].decode("utf-8", "replace")
        boot = c.u64() if c.left() >= 8 else 0
        self.machine["boot_ts_epoch"] = boot
        self.state.hostname = str(self.machine["hostname"])
        self.state.boot_ts = boot
        self.state.num_cpus = int(self.machine["num_cpus"])  # type: ignore[arg-type]

    def _pl(self, body: int, end: int, ver: int) -> None:
        c = _Cursor(self.data, body, end, f"process list v{ver}")
        st = self.state
        threads = []
        while c.left() >= 4:
            start = c.pos
            sub_end = end
            if ver >= 9:
                sub_len = c.u32()
                sub_end = start + sub_len
                if sub_len < 4 or sub_end > end:
                    raise ValueError(f"entry length {sub_len} out of block at byte offset "
                                     f"{start}")
            t = ThreadInfo(c.u64(), c.i64(), c.i64())
            if ver >= 6:
                t.sid = c.i64()
            if ver >= 8:
                t.vpgid = c.i64()
            t.comm = c.s16(1024)
            t.exe = c.s16()
            if ver >= 7:
                t.exepath = c.s16()
            args = c.s16b()
            t.args = _nul_list(args)
            t._cwd = c.s16()
            t.fdlimit = c.u64()
            t.flags = c.u32()
            t.uid = c.u32()
            t.gid = c.u32()
            if ver >= 2:
                c.u32(), c.u32(), c.u32(), c.u64(), c.u64()
            if ver >= 3:
                t.env = _nul_list(c.s16b())
            if ver >= 4:
                t.vtid = c.i64()
                t.vpid = c.i64()
                t.cgroups = _nul_list(c.s16b())
            if ver >= 5:
                t.root = c.s16()
            if ver >= 9:
                self._pl_tail(c, t, sub_end)
                c.pos = sub_end
            threads.append(t)
        for t in threads:
            st.threads[t.tid] = t
        for t in threads:
            st._link(t)

    @staticmethod
    def _pl_tail(c: _Cursor, t: ThreadInfo, sub_end: int) -> None:
        def fits(n: int) -> bool:
            return c.pos + n <= sub_end

        if sub_end - c.pos > 29:  # writers before libs 0.10 lack pidns_init_start_ts, tty
            if fits(8):
                t.pidns_init_start_ts = c.u64()
            if fits(4):
                t.tty = c.u32()
        if fits(4):
            t.loginuid = c.u32()
        if fits(1):
            t.exe_writable = bool(c.u8())
        if fits(24):
            t.cap_inheritable, t.cap_permitted, t.cap_effective = c.u64(), c.u64(), c.u64()
        if fits(1):
            t.exe_upper_layer = bool(c.u8())
        if fits(24):
            t.exe_ino, t.exe_ino_ctime, t.exe_ino_mtime = c.u64(), c.u64(), c.u64()
        if fits(1):
            t.exe_from_memfd = bool(c.u8())
        if fits(1):
            t.exe_lower_layer = bool(c.u8())
        if fits(8):
            t.pgid = c.i64()

    def _fdl(self, body: int, end: int, v2: bool) -> None:
        c = _Cursor(self.data, body, end, "fd list v2" if v2 else "fd list")
        tid = c.u64()
        t = self.state.threads.get(tid)
        while c.left() >= 4:
            start = c.pos
            sub_end = end
            if v2:
                sub_len = c.u32()
                sub_end = start + sub_len
                if sub_len < 4 or sub_end > end:
                    raise ValueError(f"fd entry length {sub_len} out of block at byte offset "
                                     f"{start}")
            fd = c.i64()
            ino = c.u64()
            ftype = c.u8()
            fdi = self._fd_entry(c, fd, ino, ftype, sub_end, v2)
            if v2:
                c.pos = sub_end
            if t is not None and fdi is not None:
                t.fds[fd] = fdi

    def _fd_entry(self, c: _Cursor, fd: int, ino: int, ftype: int, sub_end: int,
                  v2: bool) -> FdInfo | None:
        if ftype == FD_IPV4_SOCK:
            sip, dip = c.raw(4), c.raw(4)
            sport, dport, l4 = c.u16(), c.u16(), c.u8()
            fdi = FdInfo(fd, FD_IPV4_SOCK, ino=ino)
            fdi.sip, fdi.dip, fdi.sport, fdi.dport, fdi.l4proto = sip, dip, sport, dport, l4
            self._fill_zero_ip(fdi)
            fdi.name = tuple_name(fdi)
            fdi.connected = l4 == L4_TCP
            return fdi
        if ftype == FD_IPV6_SOCK:
            sip, dip = c.raw(16), c.raw(16)
            sport, dport, l4 = c.u16(), c.u16(), c.u8()
            fdi = FdInfo(fd, FD_IPV6_SOCK, ino=ino)
            v4m = b"\0" * 10 + b"\xff\xff"
            if sip[:12] == v4m and dip[:12] == v4m:
                fdi.type, sip, dip = FD_IPV4_SOCK, sip[12:], dip[12:]
            fdi.sip, fdi.dip, fdi.sport, fdi.dport, fdi.l4proto = sip, dip, sport, dport, l4
            fdi.name = tuple_name(fdi)
            fdi.connected = l4 == L4_TCP
            return fdi
        if ftype in (FD_IPV4_SERVSOCK, FD_IPV6_SERVSOCK):
            ip = c.raw(4 if ftype == FD_IPV4_SERVSOCK else 16)
            port, l4 = c.u16(), c.u8()
            fdi = FdInfo(fd, ftype, ino=ino)
            fdi.sip = fdi.dip = ip
            fdi.sport = fdi.dport = port
            fdi.l4proto = l4
            fdi.role = ROLE_SERVER
            ipstr = ipv4_str(ip) if ftype == FD_IPV4_SERVSOCK else ipv6_str(ip)
            fdi.name = f"{ipstr}:{port}"
            return fdi
        if ftype == FD_UNIX_SOCK:
            src, dst = c.u64(), c.u64()
            path = c.s16(1023)
            fdi = FdInfo(fd, FD_UNIX_SOCK, path, ino=ino)
            fdi.unix_src, fdi.unix_dst = src, dst
            fdi.role = ROLE_SERVER if path else ROLE_CLIENT
            return fdi
        if ftype == FD_FILE_V2:
            flags = c.u32()
            name = c.s16(1023)
            fdi = FdInfo(fd, FD_FILE_V2, name, openflags=flags, ino=ino)
            if v2 and c.pos + 4 <= sub_end:
                fdi.dev = c.u32()
            return fdi
        if ftype == FD_UNKNOWN:
            return None
        if 1 <= ftype <= 21:
            name = c.s16(1023)
            return FdInfo(fd, ftype, name, ino=ino)
        if v2:
            return FdInfo(fd, FD_UNSUPPORTED, f"unknown-type:[{ftype}]", ino=ino)
        raise ValueError(f"unknown fd type {ftype} in a v1 fd list")

    def _fill_zero_ip(self, fdi: FdInfo) -> None:
        zero = b"\0\0\0\0"
        if fdi.sip != zero and fdi.dip != zero:
            return
        v4 = [i for i in self.state.interfaces if len(i.addr) == 4]
        if not v4:
            return
        other = fdi.dip if fdi.sip == zero else fdi.sip
        pick = None
        for i in v4:
            if i.addr == other:
                pick = i.addr
                break
        if pick is None:
            for i in v4:
                m = i.netmask
                if other and all((a & k) == (b2 & k) for a, b2, k in zip(i.addr, other, m,
                                                                         strict=False)):
                    pick = i.addr
                    break
        if pick is None:
            non_lo = [i.addr for i in v4 if i.addr[0] != 127]
            pick = non_lo[0] if non_lo else None
        if pick is None:
            return
        if fdi.sip == zero:
            fdi.sip = pick
        if fdi.dip == zero:
            fdi.dip = pick

    def _il(self, body: int, end: int, v2: bool) -> None:
        c = _Cursor(self.data, body, end, "interface list")
        while c.left() >= 4:
            entry_end = end
            if v2:
                elen = c.u32()
                entry_end = c.pos + elen
                if entry_end > end:
                    raise ValueError(f"interface entry length {elen} out of block")
            iftype = c.u16()
            namelen = c.u16()
            if iftype in (F.IFTYPE_IPV4, F.IFTYPE_IPV4_NOLINKSPEED):
                addr, mask, bcast = c.raw(4), c.raw(4), c.raw(4)
                if iftype == F.IFTYPE_IPV4:
                    c.u64()
                fam = 2
            elif iftype in (F.IFTYPE_IPV6, F.IFTYPE_IPV6_NOLINKSPEED):
                addr, mask, bcast = c.raw(16), c.raw(16), c.raw(16)
                if iftype == F.IFTYPE_IPV6:
                    c.u64()
                fam = 10
            else:
                raise ValueError(f"unknown interface type {iftype}")
            name = c.raw(namelen).split(b"\0", 1)[0].decode("utf-8", "replace")
            self.state.add_interface(Interface(name, fam, addr, mask, bcast))
            if v2:
                c.pos = entry_end

    def _ul(self, body: int, end: int, v2: bool) -> None:
        c = _Cursor(self.data, body, end, "user list")
        while c.left() >= 4:
            start = c.pos
            sub_end = end
            if v2:
                sub_len = c.u32()
                sub_end = start + sub_len
                if sub_len < 5 or sub_end > end:
                    raise ValueError(f"user entry length {sub_len} out of block")
            kind = c.u8()
            if kind == 0:
                uid, gid = c.u32(), c.u32()
                name, home, shell = c.s16(255), c.s16(255), c.s16(255)
                self.state.add_user(uid, gid, name, home, shell)
            elif kind == 1:
                gid = c.u32()
                self.state.add_group(gid, c.s16(255))
            else:
                raise ValueError(f"unknown user list entry type {kind}")
            if v2:
                c.pos = sub_end

    # --- events -----------------------------------------------------------------------------
    def events(self, enters: dict[int, tuple] | None = None) -> Iterator[SyscallEvent]:
        """Every event block of every section, in file order.

        With ``enters`` (an :class:`EnterMerger`'s table), syscall enter events of well-formed
        v2 blocks are stored there as compact tuples instead of being yielded (the replay hot
        path); the merger attaches them to their exits."""
        b = self.data
        size = self.size
        table = EVENT_TABLE
        hdr2 = _EVH2.unpack_from
        hdr = _HDR.unpack_from
        make = SyscallEvent.from_buffer
        ev_v2 = F.EV_V2
        maxev = PPM_EVENT_MAX
        lens_fmt = {}
        while self.pos < size:
            off = self.pos
            # fast path: a well-formed EV_V2 block (what current writers produce)
            if off + 40 <= size:
                btype, total = hdr(b, off)
                end = off + total
                if btype == ev_v2 and 40 <= total <= 65544 and end <= size and not total & 3:
                    ts, tid, evlen, etype, n = hdr2(b, off + 10)
                    if etype < maxev:
                        info = table[etype]
                        fmt = lens_fmt.get((n, info.large))
                        if fmt is None:
                            fmt = lens_fmt[(n, info.large)] = struct.Struct(
                                f"<{n}{'I' if info.large else 'H'}")
                        pstart = off + 36 + fmt.size
                        if (26 <= evlen and off + 10 + evlen <= end and n <= len(info.params)
                                and pstart <= off + 10 + evlen):
                            lens = fmt.unpack_from(b, off + 36)
                            if pstart + sum(lens) <= off + 10 + evlen:
                                self.pos = end
                                self.events_read += 1
                                cpu = b[off + 8] | b[off + 9] << 8
                                if enters is not None and etype & 1 == 0 and info.is_syscall:
                                    # merged into its exit later (EnterMerger semantics)
                                    enters[tid] = (etype, ts, tid, cpu, 0, b, pstart, lens)
                                    self.enters_stored += 1
                                    continue
                                yield make(etype, ts, tid, cpu, 0, b, pstart, lens)
                                continue
            # general path: every block type, with full checks and error reporting
            btype, total = self._block(off)
            if btype not in F.EVENT_BLOCKS:
                if btype == F.SHB:
                    self._in_events = False
                    self._read_metadata()
                    continue
                raise self._err(f"unexpected block type {btype:#x} after event blocks", off)
            body = off + 8
            large = btype in (F.EV_V2_LARGE, F.EVF_V2_LARGE)
            if not large and total - 8 > F.MAX_NONLARGE_BLOCK:
                raise self._err(f"event block length {total} greater than NON-LARGE read "
                                f"buffer size {F.MAX_NONLARGE_BLOCK}", off)
            cpu = int.from_bytes(b[body:body + 2], "little")
            evoff = body + 2
            dflags = 0
            if btype in (F.EVF, F.EVF_V2, F.EVF_V2_LARGE):
                dflags = _U32.unpack_from(b, evoff)[0]
                evoff += 4
            end = off + total
            self.pos = end
            try:
                if btype in (F.EV, F.EVF):
                    if evoff + F.EVENT_HEADER_V1 > end:
                        raise ValueError("event header does not fit in block")
                    ts, tid, evlen, etype = _EVH1.unpack_from(b, evoff)
                    if etype >= PPM_EVENT_MAX:
                        self.skipped_unknown_events += 1
                        continue
                    if etype in (280, 286):  # notification / infrastructure length bug
                        evlen -= 3
                    if evoff + evlen > end or evlen < F.EVENT_HEADER_V1:
                        raise ValueError(f"event length {evlen} out of block")
                    n = _v1_nparams(b, evoff, evlen, etype)
                    lens = struct.unpack_from(f"<{n}H", b, evoff + F.EVENT_HEADER_V1)
                    pos = evoff + F.EVENT_HEADER_V1 + 2 * n
                    raw = []
                    for ln in lens:
                        raw.append(b[pos:pos + ln])
                        pos += ln
                    raw = tuple(raw)
                else:
                    if evoff + F.EVENT_HEADER_V2 > end:
                        raise ValueError("event header does not fit in block")
                    ts, tid, evlen, etype, n = hdr2(b, evoff)
                    if etype >= PPM_EVENT_MAX:
                        self.skipped_unknown_events += 1
                        continue
                    if evlen < F.EVENT_HEADER_V2 or evoff + evlen > end:
                        raise ValueError(f"event length {evlen} out of block")
                    info = table[etype]
                    if n > len(info.params):
                        raise ValueError(f"{n} parameters for {info.name} (schema has "
                                         f"{len(info.params)})")
                    raw = _split_params(b, evoff, evlen, n, info.large, info.name)
            except (ValueError, struct.error) as exc:
                raise self._err(f"corrupt event block: {exc}", off) from None
            self.events_read += 1
            yield SyscallEvent(etype, ts=ts, tid=tid, raw=raw, cpu=cpu, dflags=dflags)


def _nul_list(b: bytes) -> list[str]:
    if b.endswith(b"\0"):
        b = b[:-1]
    if not b:
        return []
    return [s.decode("utf-8", "replace") for s in b.split(b"\0")]


class EnterMerger:
    """Modern libs' event view: merge syscall enters into exits, hide what consumers never see.

    ``feed(evt)`` returns ``(visible, parse_only)``: whether rules should see the event and whether
    it must still reach the state parser (state-only events)."""

    __slots__ = ("_enters", "hidden_enters", "hidden_internal", "hidden_container", "state_only")

    def __init__(self) -> None:
        self._enters: dict[int, SyscallEvent] = {}
        self.hidden_enters = 0
        self.hidden_internal = 0
        self.hidden_container = 0
        self.state_only = 0

    def reset(self) -> None:
        self._enters.clear()

    def feed(self, evt: SyscallEvent) -> int:
        """0 = drop, 1 = visible, 2 = parse only (state-only flag)."""
        info = evt.info
        if info.unused:
            return 0
        if info.is_syscall:
            if not info.is_exit:
                self._enters[evt.tid] = evt
                self.hidden_enters += 1
                return 0
            enter = self._enters.pop(evt.tid, None)
            if enter is not None:
                etype = enter[0] if type(enter) is tuple else enter.etype
                if etype == evt.etype - 1 or (info.name == "execve"
                                              and EVENT_TABLE[etype].name == "execveat"):
                    evt.enter = enter
        elif info.internal:
            self.hidden_internal += 1
            return 0
        elif info.name == "container":
            self.hidden_container += 1
            return 0
        if evt.dflags & F.DF_STATE_ONLY:
            self.state_only += 1
            return 2
        return 1


def read_all(path: str | Path, state: SyscallState | None = None) -> list[SyscallEvent]:
    """Every visible event of a capture, parsed against ``state`` (a fresh one by default): for
    tests and tools. The engine uses :class:`~pyfalco_syscall.replay.ReplayInstance`."""
    st = state or SyscallState()
    reader = ScapReader(path, st)
    merger = EnterMerger()
    out = []
    num = 0
    for evt in reader.events():
        verdict = merger.feed(evt)
        if verdict == 0 and not evt.info.internal:
            continue
        num += 1
        evt.num = num
        st.parse(evt)
        if verdict == 1:
            out.append(evt)
    return out


__all__ = ["CaptureError", "ScapReader", "EnterMerger", "load_capture", "read_all",
           "FD_FILE", "FD_DIRECTORY", "FD_FIFO"]
