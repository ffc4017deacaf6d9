"""What the kernel program captures for each syscall: record class, argument positions, drop
category. Table-driven so that the interesting set is data (``specs`` BPF array), not code.

Argument positions are x86_64's (the only architecture the driver supports; the syscall numbers in
``syscall_table`` are x86_64's too). A syscall without an entry here is captured as ``CLS_PLAIN``
(arguments and return value only) in category ``other_interest``.
"""

from __future__ import annotations

from typing import NamedTuple

from .program import (
    CAT,
    CLS_CLONE,
    CLS_CLONE3,
    CLS_EXEC,
    CLS_PLAIN,
    CLS_SOCKADDR,
    CLS_SOCKADDR_PTRLEN,
    CLS_STR1,
    CLS_STR2,
)
from .syscall_table import SYSCALL_NRS


class ArgSpec(NamedTuple):
    cls: int
    a1: int = 0
    a2: int = 0
    cat: int = CAT["other_interest"]


_OPEN, _DIR, _CLOSE = CAT["open"], CAT["dir_file"], CAT["close"]

SPECS: dict[str, ArgSpec] = {
    "open": ArgSpec(CLS_STR1, 0, cat=_OPEN),
    "openat": ArgSpec(CLS_STR1, 1, cat=_OPEN),
    "openat2": ArgSpec(CLS_STR1, 1, cat=_OPEN),
    "creat": ArgSpec(CLS_STR1, 0, cat=_OPEN),
    "execve": ArgSpec(CLS_EXEC, 0, 1, cat=CAT["execve"]),
    "execveat": ArgSpec(CLS_EXEC, 1, 2, cat=CAT["execve"]),
    "clone": ArgSpec(CLS_CLONE, cat=CAT["clone_fork"]),
    "fork": ArgSpec(CLS_CLONE, cat=CAT["clone_fork"]),
    "vfork": ArgSpec(CLS_CLONE, cat=CAT["clone_fork"]),
    "clone3": ArgSpec(CLS_CLONE3, cat=CAT["clone_fork"]),
    "connect": ArgSpec(CLS_SOCKADDR, 1, 2, cat=CAT["connect"]),
    "bind": ArgSpec(CLS_SOCKADDR, 1, 2),
    "sendto": ArgSpec(CLS_SOCKADDR, 4, 5),
    "accept": ArgSpec(CLS_SOCKADDR_PTRLEN, 1, 2),
    "accept4": ArgSpec(CLS_SOCKADDR_PTRLEN, 1, 2),
    "close": ArgSpec(CLS_PLAIN, cat=_CLOSE),
    "unlink": ArgSpec(CLS_STR1, 0, cat=_DIR),
    "unlinkat": ArgSpec(CLS_STR1, 1, cat=_DIR),
    "rename": ArgSpec(CLS_STR2, 0, 1, cat=_DIR),
    "renameat": ArgSpec(CLS_STR2, 1, 3, cat=_DIR),
    "renameat2": ArgSpec(CLS_STR2, 1, 3, cat=_DIR),
    "mkdir": ArgSpec(CLS_STR1, 0, cat=_DIR),
    "mkdirat": ArgSpec(CLS_STR1, 1, cat=_DIR),
    "rmdir": ArgSpec(CLS_STR1, 0, cat=_DIR),
    "link": ArgSpec(CLS_STR2, 0, 1, cat=_DIR),
    "linkat": ArgSpec(CLS_STR2, 1, 3, cat=_DIR),
    "symlink": ArgSpec(CLS_STR2, 0, 1, cat=_DIR),
    "symlinkat": ArgSpec(CLS_STR2, 0, 2, cat=_DIR),
    "chmod": ArgSpec(CLS_STR1, 0, cat=_DIR),
    "fchmodat": ArgSpec(CLS_STR1, 1, cat=_DIR),
    "chdir": ArgSpec(CLS_STR1, 0, cat=_DIR),
    "chroot": ArgSpec(CLS_STR1, 0, cat=_DIR),
    "mount": ArgSpec(CLS_STR2, 0, 1, cat=_DIR),
    "umount2": ArgSpec(CLS_STR1, 0, cat=_DIR),
    "memfd_create": ArgSpec(CLS_STR1, 0),
}

#: libs event names that are not the syscall's own name.
EVENT_TO_SYSCALL: dict[str, str] = {"umount": "umount2", "pread": "pread64", "pwrite": "pwrite64"}
SYSCALL_TO_EVENT: dict[str, str] = {v: k for k, v in EVENT_TO_SYSCALL.items()}

#: number -> name, for decoding.
SYSCALL_NAMES: dict[int, str] = {nr: name for name, nr in SYSCALL_NRS.items()}


def spec_for(name: str) -> ArgSpec:
    return SPECS.get(name, ArgSpec(CLS_PLAIN))
