"""What only the kernel's socket knows, read from user space: the local side of a connection.

The kernel program reads no kernel struct (mismatched headers; no kprobes here), so the local
address of a connect/accept is taken from the socket itself, duplicated out of the process with
pidfd_getfd (Linux >= 5.6, needs ptrace access: root). It races with the process: when the
process or the fd is gone the local side stays unknown (0.0.0.0:0), as it would for libs with a
closed socket.
"""

from __future__ import annotations

import ctypes
import os
import socket

_SYS_PIDFD_GETFD = 438
_libc = ctypes.CDLL(None, use_errno=True)


def local_address(pid: int, fd: int) -> tuple[str, int] | None:
    """The local (ip, port) of socket ``fd`` of process ``pid``; None when it cannot be read."""
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        return None
    try:
        dup = _libc.syscall(_SYS_PIDFD_GETFD, pidfd, fd, 0)
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
