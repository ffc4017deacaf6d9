"""Batch decoding of the kernel's records into plain tuples (``Record``).

The ring-buffer callback only copies bytes (``ctypes.string_at``); everything else happens here,
once per batch, with precompiled ``struct`` formats and no per-record attribute lookups.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from .program import (
    CLS_EXEC,
    CLS_SOCKADDR,
    CLS_SOCKADDR_PTRLEN,
    CLS_STR1,
    CLS_STR2,
    HDR,
    HDR_SZ,
    KIND_PROCEXIT,
    SOCK_TAIL,
    STR_SZ,
)
from .specs import SYSCALL_NAMES


class Record(NamedTuple):
    """One decoded kernel record. ``ts`` is ns since the epoch."""

    kind: int  # program.KIND_*
    ts: int
    tid: int
    pid: int
    uid: int
    gid: int
    ret: int
    syscall: str  # syscall name ("" for procexit)
    cpu: int
    comm: str
    args: tuple[int, int, int, int, int, int]
    #: first user string (path, exec filename), None when the syscall has none or it was unreadable
    s1: str | None = None
    #: second user string (rename target ...)
    s2: str | None = None
    #: execve argv, NUL-separated as in libs' ``args`` parameter (argv[0] first)
    argv: bytes | None = None
    #: raw ``struct sockaddr`` bytes (connect, bind, sendto, accept)
    sockaddr: bytes | None = None
    #: local side of a TCP connect: (family, 4-byte address, port) or None
    local: tuple[int, bytes, int] | None = None
    #: parent tid for the child side of clone/fork (0 unknown)
    ptid: int = 0
    #: argv was cut at the kernel's limit
    truncated: bool = False


#: raw 16-byte comm -> str (few distinct values on a host)
_COMMS: dict[bytes, str] = {}


class DecodeError(ValueError):
    """A record shorter than its class requires (a driver bug: counted, never silent)."""


def _cstr(raw: bytes, start: int, length: int) -> str | None:
    """A NUL-terminated string of ``length`` bytes (NUL included) at ``start``."""
    if length <= 0:
        return None
    end = start + length - 1
    return raw[start:end].decode("utf-8", "surrogateescape")


def decode_batch(raws: Iterable[bytes], boot_offset_ns: int) -> tuple[list[Record], int]:
    """Decode raw records; returns (records, number of malformed records skipped)."""
    unpack_hdr = HDR.unpack_from
    unpack_sock = SOCK_TAIL.unpack_from
    names = SYSCALL_NAMES
    out: list[Record] = []
    append = out.append
    new = tuple.__new__
    comms = _COMMS
    bad = 0
    for raw in raws:
        if len(raw) < HDR_SZ:
            bad += 1
            continue
        (ts, tid, pid, uid, gid, ret, nr, kind, cls, cpu, comm, a0, a1, a2, a3, a4, a5,
         len1, len2, aux1, aux2) = unpack_hdr(raw)
        comm_s = comms.get(comm)
        if comm_s is None:
            comm_s = comm.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
            if len(comms) < 65536:
                comms[comm] = comm_s
        args = (a0, a1, a2, a3, a4, a5)
        name = "" if kind == KIND_PROCEXIT else names.get(nr, f"syscall_{nr}")
        s1 = s2 = None
        argv = sockaddr = None
        local = None
        try:
            if cls == CLS_STR1 or cls == CLS_STR2:
                need = HDR_SZ + min(len1, STR_SZ) if cls == CLS_STR1 else HDR_SZ + 2 * STR_SZ
                if len(raw) < need:
                    raise DecodeError
                s1 = _cstr(raw, HDR_SZ, min(len1, STR_SZ))
                if cls == CLS_STR2:
                    s2 = _cstr(raw, HDR_SZ + STR_SZ, min(len2, STR_SZ))
            elif cls == CLS_EXEC:
                s1 = _cstr(raw, HDR_SZ, min(len1, STR_SZ))
                start = HDR_SZ + STR_SZ
                argv = raw[start:start + len2].rstrip(b"\0") if len2 else b""
            elif cls == CLS_SOCKADDR or cls == CLS_SOCKADDR_PTRLEN:
                addr, l0, _l1, _l2, _l3, lport, lfamily, _pad = unpack_sock(raw, HDR_SZ)
                sockaddr = addr[:len1] if len1 else None
                if lfamily:
                    # address in network order as the kernel stores it; port in host order
                    local = (lfamily, l0.to_bytes(4, "little"), lport)
        except (DecodeError, ValueError, IndexError):
            bad += 1
            continue
        append(new(Record, (kind, ts + boot_offset_ns, tid, pid, uid, gid, ret, name, cpu,
                            comm_s, args, s1, s2, argv, sockaddr, local, aux1, aux2 != 0)))
    return out, bad
