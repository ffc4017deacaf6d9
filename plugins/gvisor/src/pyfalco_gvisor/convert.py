"""Linux values as gVisor reports them -> the encodings of Falco's event model (PPM_* flags,
scap socket addresses). Pure functions, table-driven; shared/spec/scap.md §6.4 has the encodings.
"""

from __future__ import annotations

import socket

# -- open(2) flags -> PPM_O_* -----------------------------------------------------------------

PPM_O_RDONLY = 1 << 0
PPM_O_WRONLY = 1 << 1
PPM_O_RDWR = PPM_O_RDONLY | PPM_O_WRONLY
PPM_O_CLOEXEC = 1 << 12

# Linux x86_64 values, spelled out: Python's os module reports O_LARGEFILE as 0 on 64-bit builds
# while gVisor passes the raw bit. (Linux bits, PPM bit); O_SYNC includes O_DSYNC's bit and
# O_TMPFILE includes O_DIRECTORY's, hence the "all bits set" test.
O_ACCMODE, O_RDONLY, O_WRONLY = 0o3, 0o0, 0o1
O_CLOEXEC = 0o2000000
_OPEN_FLAGS = (
    (0o100, 1 << 2),  # O_CREAT
    (0o2000, 1 << 3),  # O_APPEND
    (0o10000, 1 << 4),  # O_DSYNC
    (0o200, 1 << 5),  # O_EXCL
    (0o4000, 1 << 6),  # O_NONBLOCK
    (0o4010000, 1 << 7),  # O_SYNC
    (0o1000, 1 << 8),  # O_TRUNC
    (0o40000, 1 << 9),  # O_DIRECT
    (0o200000, 1 << 10),  # O_DIRECTORY
    (0o100000, 1 << 11),  # O_LARGEFILE
    (O_CLOEXEC, PPM_O_CLOEXEC),
    (0o20200000, 1 << 13),  # O_TMPFILE
)


def open_flags(flags: int) -> int:
    """Linux open flags -> PPM_O_* (libs' open_flags_to_scap)."""
    acc = flags & O_ACCMODE
    out = PPM_O_RDONLY if acc == O_RDONLY else PPM_O_WRONLY if acc == O_WRONLY else PPM_O_RDWR
    for linux, ppm in _OPEN_FLAGS:
        if flags & linux == linux:
            out |= ppm
    return out


def dup3_flags(flags: int) -> int:
    return PPM_O_CLOEXEC if flags & O_CLOEXEC else 0


# -- clone(2) flags -> PPM_CL_* ---------------------------------------------------------------

_CLONE_FLAGS = (
    (0x00000400, 1 << 0),  # CLONE_FILES
    (0x00000200, 1 << 1),  # CLONE_FS
    (0x80000000, 1 << 2),  # CLONE_IO
    (0x08000000, 1 << 3),  # CLONE_NEWIPC
    (0x40000000, 1 << 4),  # CLONE_NEWNET
    (0x00020000, 1 << 5),  # CLONE_NEWNS
    (0x20000000, 1 << 6),  # CLONE_NEWPID
    (0x04000000, 1 << 7),  # CLONE_NEWUTS
    (0x00008000, 1 << 8),  # CLONE_PARENT
    (0x00100000, 1 << 9),  # CLONE_PARENT_SETTID
    (0x00002000, 1 << 10),  # CLONE_PTRACE
    (0x00000800, 1 << 11),  # CLONE_SIGHAND
    (0x00040000, 1 << 12),  # CLONE_SYSVSEM
    (0x00010000, 1 << 13),  # CLONE_THREAD
    (0x00800000, 1 << 14),  # CLONE_UNTRACED
    (0x00000100, 1 << 15),  # CLONE_VM
    (0x10000000, 1 << 20),  # CLONE_NEWUSER
    (0x00200000, 1 << 23),  # CLONE_CHILD_CLEARTID
    (0x01000000, 1 << 24),  # CLONE_CHILD_SETTID
    (0x00080000, 1 << 25),  # CLONE_SETTLS
    (0x00004000, 1 << 27),  # CLONE_VFORK
    (0x02000000, 1 << 28),  # CLONE_NEWCGROUP
)
PPM_CL_CLONE_THREAD = 1 << 13


def clone_flags(flags: int) -> int:
    """Linux clone flags (the exit signal in the low byte is ignored) -> PPM_CL_*."""
    out = 0
    for linux, ppm in _CLONE_FLAGS:
        if flags & linux:
            out |= ppm
    return out


# -- fcntl commands -> PPM_FCNTL_* ------------------------------------------------------------

_FCNTL_CMDS = {
    0: 1, 1: 2, 2: 3, 3: 4, 4: 5, 5: 6, 6: 8, 7: 9, 8: 10, 9: 12, 10: 13, 11: 15,
    15: 21, 16: 22, 1024: 23, 1025: 24, 1029: 25, 1030: 26, 1026: 27, 1031: 28, 1032: 29,
    36: 30, 37: 31, 38: 32,
}


def fcntl_cmd(cmd: int) -> int:
    return _FCNTL_CMDS.get(cmd, 0)


# -- wait(2) status ---------------------------------------------------------------------------


def exit_status(status: int) -> tuple[int, int, int]:
    """(ret, sig, core) of a wait(2) status as procexit reports them."""
    sig = status & 0x7F
    if sig == 0:
        return (status >> 8) & 0xFF, 0, 0
    return 0, sig, 1 if status & 0x80 else 0


# -- socket addresses -------------------------------------------------------------------------
# Typed as the syscall event model holds SOCKADDR / SOCKTUPLE values (pyfalco_syscall.events):
# sockaddr (family, ip: bytes, port) or (family, path); tuple (family, sip, sport, dip, dport) or
# (family, src, dst, path). Families are PPM_AF_*, equal to Linux's for these three.

PPM_AF_UNIX = 1
PPM_AF_INET = 2
PPM_AF_INET6 = 10

_V4_ANY = b"\0" * 4
_V6_ANY = b"\0" * 16


def sockaddr(raw: bytes) -> tuple | None:
    """A raw ``struct sockaddr`` as the sandboxed program passed it (network-order port) -> the
    SOCKADDR value; ``None`` (empty parameter) for short buffers and other families, as the
    kernel drivers do."""
    if len(raw) < 2:
        return None
    family = raw[0] | (raw[1] << 8)
    if family == socket.AF_INET and len(raw) >= 8:
        return (PPM_AF_INET, bytes(raw[4:8]), (raw[2] << 8) | raw[3])
    if family == socket.AF_INET6 and len(raw) >= 24:
        return (PPM_AF_INET6, bytes(raw[8:24]), (raw[2] << 8) | raw[3])
    if family == socket.AF_UNIX:
        body = raw[2:]
        # abstract sockets start with NUL; keep their name without the padding
        path = body.rstrip(b"\0") if body[:1] == b"\0" else body.split(b"\0", 1)[0]
        return (PPM_AF_UNIX, path.decode("utf-8", "replace"))
    return None


def tuple_to(raw: bytes) -> tuple | None:
    """SOCKTUPLE of an outbound connection: local end unknown (zero: gVisor reports the address
    argument, not the socket's own name), remote end = ``raw``."""
    addr = sockaddr(raw)
    if addr is None:
        return None
    fam = addr[0]
    if fam == PPM_AF_INET:
        return (fam, _V4_ANY, 0, addr[1], addr[2])
    if fam == PPM_AF_INET6:
        return (fam, _V6_ANY, 0, addr[1], addr[2])
    return (fam, 0, 0, addr[1])


def tuple_from(raw: bytes) -> tuple | None:
    """SOCKTUPLE of an accepted connection: ``raw`` (the peer) as source, local end unknown."""
    addr = sockaddr(raw)
    if addr is None:
        return None
    fam = addr[0]
    if fam == PPM_AF_INET:
        return (fam, addr[1], addr[2], _V4_ANY, 0)
    if fam == PPM_AF_INET6:
        return (fam, addr[1], addr[2], _V6_ANY, 0)
    return (fam, 0, 0, addr[1])
