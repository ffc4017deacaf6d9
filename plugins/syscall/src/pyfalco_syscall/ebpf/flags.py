"""Linux values -> libs (PPM_*) values, as libs' kernel drivers convert them before writing an
event (driver/ppm_flag_helpers.h). Facts from ppm_events_public.h; the bits differ from Linux."""

from __future__ import annotations

import struct

# Linux open(2) flags (x86_64 octal values)
_O_ACCMODE = 0o3
_OPEN_BITS = (
    (0o100, 1 << 2),  # O_CREAT
    (0o2000, 1 << 3),  # O_APPEND
    (0o10000, 1 << 4),  # O_DSYNC
    (0o200, 1 << 5),  # O_EXCL
    (0o4000, 1 << 6),  # O_NONBLOCK
    (0o4010000, 1 << 7),  # O_SYNC (includes O_DSYNC)
    (0o1000, 1 << 8),  # O_TRUNC
    (0o40000, 1 << 9),  # O_DIRECT
    (0o200000, 1 << 10),  # O_DIRECTORY
    (0o100000, 1 << 11),  # O_LARGEFILE
    (0o2000000, 1 << 12),  # O_CLOEXEC
    (0o20200000, 1 << 13),  # O_TMPFILE (includes O_DIRECTORY)
)
PPM_O_RDONLY, PPM_O_WRONLY, PPM_O_RDWR = 1, 2, 3
PPM_O_CLOEXEC = 1 << 12


_open_cache: dict[int, int] = {}


def open_flags(linux: int) -> int:
    """Cached: a host uses few distinct flag combinations."""
    out = _open_cache.get(linux)
    if out is None:
        out = _open_flags(linux)
        if len(_open_cache) < 4096:
            _open_cache[linux] = out
    return out


def _open_flags(linux: int) -> int:
    acc = linux & _O_ACCMODE
    out = PPM_O_RDONLY if acc == 0 else PPM_O_WRONLY if acc == 1 else PPM_O_RDWR
    for lbit, pbit in _OPEN_BITS:
        if linux & lbit == lbit:
            out |= pbit
    return out


def file_mode(linux: int) -> int:
    """PPM_S_* bits coincide with Linux's permission and sticky/setid bits."""
    return linux & 0o7777


_CLONE_BITS = (
    (0x00000100, 1 << 15),  # CLONE_VM
    (0x00000200, 1 << 1),  # CLONE_FS
    (0x00000400, 1 << 0),  # CLONE_FILES
    (0x00000800, 1 << 11),  # CLONE_SIGHAND
    (0x00002000, 1 << 10),  # CLONE_PTRACE
    (0x00004000, 1 << 27),  # CLONE_VFORK
    (0x00008000, 1 << 8),  # CLONE_PARENT
    (0x00010000, 1 << 13),  # CLONE_THREAD
    (0x00020000, 1 << 5),  # CLONE_NEWNS
    (0x00040000, 1 << 12),  # CLONE_SYSVSEM
    (0x00080000, 1 << 25),  # CLONE_SETTLS
    (0x00100000, 1 << 9),  # CLONE_PARENT_SETTID
    (0x00200000, 1 << 23),  # CLONE_CHILD_CLEARTID
    (0x00800000, 1 << 14),  # CLONE_UNTRACED
    (0x01000000, 1 << 24),  # CLONE_CHILD_SETTID
    (0x02000000, 1 << 28),  # CLONE_NEWCGROUP
    (0x04000000, 1 << 7),  # CLONE_NEWUTS
    (0x08000000, 1 << 3),  # CLONE_NEWIPC
    (0x10000000, 1 << 20),  # CLONE_NEWUSER
    (0x20000000, 1 << 6),  # CLONE_NEWPID
    (0x40000000, 1 << 4),  # CLONE_NEWNET
    (0x80000000, 1 << 2),  # CLONE_IO
)
LINUX_CLONE_VM, LINUX_CLONE_VFORK = 0x100, 0x4000


def clone_flags(linux: int) -> int:
    out = 0
    for lbit, pbit in _CLONE_BITS:
        if linux & lbit:
            out |= pbit
    return out


_FCNTL = {0: 1, 1: 2, 2: 3, 3: 4, 4: 5, 5: 6, 6: 8, 7: 9, 8: 10, 9: 12, 10: 13, 11: 15,
          15: 21, 16: 22, 1024: 23, 1025: 24, 1029: 25, 1030: 26, 1026: 27, 1031: 28, 1032: 29,
          36: 30, 37: 31, 38: 32}


def fcntl_cmd(linux: int) -> int:
    return _FCNTL.get(linux, 0)


_PTRACE = {0: 1, 1: 2, 2: 3, 3: 4, 4: 5, 5: 6, 6: 7, 7: 8, 8: 9, 9: 10, 16: 11, 17: 12, 24: 13,
           0x4200: 14, 0x4201: 15, 0x4202: 16, 0x4203: 17, 0x4204: 18, 0x4205: 19, 0x4206: 20,
           0x4207: 21, 0x4208: 22, 0x4209: 23, 0x420A: 24, 0x420B: 25, 12: 26, 13: 27, 14: 28,
           15: 29, 18: 30, 19: 31, 21: 32, 25: 33, 26: 34, 30: 35, 31: 36, 32: 37, 33: 38}


def ptrace_request(linux: int) -> int:
    return _PTRACE.get(linux, 0)


def s32(value: int) -> int:
    """A 32-bit int argument (fd, dirfd) as the syscall saw it (registers are zero-extended)."""
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


# -- sockaddrs: Linux struct sockaddr bytes -> scap wire encodings -------------------------

AF_UNIX, AF_INET, AF_INET6 = 1, 2, 10


def sockaddr_parts(raw: bytes | None) -> tuple[int, bytes, int, str] | None:
    """(family, ip bytes in network order, port in host order, unix path) from a Linux
    ``struct sockaddr``; None when absent or of a family libs does not encode."""
    if not raw or len(raw) < 2:
        return None
    family = struct.unpack_from("<H", raw)[0]
    if family == AF_INET and len(raw) >= 8:
        return AF_INET, raw[4:8], struct.unpack_from(">H", raw, 2)[0], ""
    if family == AF_INET6 and len(raw) >= 24:
        return AF_INET6, raw[8:24], struct.unpack_from(">H", raw, 2)[0], ""
    if family == AF_UNIX:
        path = raw[2:]
        if path[:1] == b"\0":  # abstract socket: libs shows it with a leading '@'
            path = b"@" + path[1:]
        return AF_UNIX, b"", 0, path.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
    return None


def sockaddr_value(parts: tuple[int, bytes, int, str] | None) -> tuple | None:
    """The syscall event model's PT_SOCKADDR value: (family, ip, port) or (family, path)."""
    if parts is None:
        return None
    family, ip, port, path = parts
    if family == AF_UNIX:
        return (AF_UNIX, path)
    return (family, ip, port)
