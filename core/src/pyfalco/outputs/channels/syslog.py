"""``syslog_output``: what glibc's ``syslog(priority, "%s", msg)`` sends, without ``openlog``.

Falco calls ``syslog()`` with its priority number (0-7, the syslog levels EMERG..DEBUG) and the
default facility LOG_USER; glibc writes ``<PRI>Mmm dd HH:MM:SS ident: msg`` to the ``/dev/log``
datagram socket (a stream socket, NUL-terminated, when no datagram socket is there). pyfalco
builds the same record itself, so that the socket path can be configured: ``syslog_output.socket``
(pyfalco's addition, default ``/dev/log``) and ``syslog_output.ident`` (default ``falco``, the
tag syslog filters written for Falco expect). A send that fails reconnects and tries once more.
When the socket cannot be connected (no syslog daemon, as in many containers), connecting is
tried again only after ``RECONNECT_S``: the messages in between are counted as lost without a
system call each, which would hand the GIL to the busy source threads every time and let the
outputs queue grow during a flood of alerts (glibc retries on every call, in C).
"""

from __future__ import annotations

import ctypes
import errno
import os
import select
import socket
import time

from .base import Channel, DeliveryError, Message, encode_line

LOG_USER = 1 << 3
DEFAULT_SOCKET = "/dev/log"
#: after a failed connection, how long messages are counted as lost before the next attempt
RECONNECT_S = 0.1


class SyslogChannel(Channel):
    name = "syslog"

    def open(self) -> None:
        self.path = self.config.text("socket", DEFAULT_SOCKET) or DEFAULT_SOCKET
        self.ident = self.config.text("ident", "falco")
        self._sock: socket.socket | None = None
        self._stream = False
        self._down: tuple[float, str] | None = None  # (retry after, error) after a failure
        self._records: list[bytes] = []

    def _connect(self) -> socket.socket:
        if self._sock is not None:
            return self._sock
        if self._down is not None:
            retry_at, error = self._down
            if time.monotonic() < retry_at:
                raise DeliveryError(error)
        errors = []
        for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
            sock = socket.socket(socket.AF_UNIX, kind)
            sock.settimeout(self.settings.timeout_s)
            try:
                sock.connect(self.path)
            except OSError as exc:
                sock.close()
                errors.append(exc.strerror or str(exc))
                continue
            self._sock, self._stream = sock, kind == socket.SOCK_STREAM
            self._down = None
            return sock
        error = f"cannot connect to syslog socket {self.path}: {errors[0]}"
        self._down = (time.monotonic() + RECONNECT_S, error)
        raise DeliveryError(error)

    def record(self, msg: Message) -> bytes:
        stamp = time.strftime("%b %e %H:%M:%S", time.localtime())
        head = f"<{LOG_USER | int(msg.priority)}>{stamp} {self.ident}: "
        return encode_line(head + msg.text)

    def write(self, msg: Message) -> None:
        self._records.append(self.record(msg))

    def flush(self) -> None:
        """The run's records: one ``sendall`` on a stream socket, ``sendmmsg`` batches on a
        datagram socket (one datagram per record, as glibc sends them). Each send is a system
        call that lets the busy source threads take the GIL back, so one per record made the
        outputs worker fall far behind a flood of alerts. A failure reconnects and sends the
        records not yet sent once more."""
        records, self._records = self._records, []
        done = 0
        for attempt in range(2):
            try:
                sock = self._connect()
                if self._stream:
                    sock.sendall(b"".join(r + b"\0" for r in records[done:]))
                    return
                while done < len(records):
                    done += _send_datagrams(sock, records, done, self.settings.timeout_s)
                return
            except DeliveryError:
                raise
            except OSError as exc:
                self.close()
                if attempt:
                    raise DeliveryError(f"cannot send to syslog socket {self.path}: {exc}") from exc
                self.retries += 1

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()


# -- sendmmsg(2): many datagrams in one system call ------------------------------------------


class _Iovec(ctypes.Structure):
    _fields_ = [("iov_base", ctypes.c_char_p), ("iov_len", ctypes.c_size_t)]


class _Msghdr(ctypes.Structure):
    _fields_ = [("msg_name", ctypes.c_void_p), ("msg_namelen", ctypes.c_uint32),
                ("msg_iov", ctypes.POINTER(_Iovec)), ("msg_iovlen", ctypes.c_size_t),
                ("msg_control", ctypes.c_void_p), ("msg_controllen", ctypes.c_size_t),
                ("msg_flags", ctypes.c_int)]


class _Mmsghdr(ctypes.Structure):
    _fields_ = [("msg_hdr", _Msghdr), ("msg_len", ctypes.c_uint)]


def _libc_sendmmsg():  # type: ignore[no-untyped-def]
    try:
        fn = ctypes.CDLL(None, use_errno=True).sendmmsg  # CDLL calls release the GIL
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.POINTER(_Mmsghdr), ctypes.c_uint, ctypes.c_int]
    fn.restype = ctypes.c_int
    return fn


_sendmmsg = _libc_sendmmsg()
#: the kernel's UIO_MAXIOV: sendmmsg sends at most this many messages per call
_MAX_BATCH = 1024


def _send_datagrams(sock: socket.socket, records: list[bytes], start: int,
                    timeout_s: float) -> int:
    """Send datagrams ``records[start:]`` (up to 1024) on connected ``sock``; how many were
    sent (at least one), or ``OSError``. Waits up to ``timeout_s`` while the receiver's queue is
    full (the socket is non-blocking: it has a timeout)."""
    if _sendmmsg is None:  # no sendmmsg in this libc: one send per record
        sock.send(records[start])
        return 1
    batch = records[start:start + _MAX_BATCH]
    n = len(batch)
    iovs = (_Iovec * n)()
    msgs = (_Mmsghdr * n)()
    for i, record in enumerate(batch):
        iovs[i].iov_base = record
        iovs[i].iov_len = len(record)
        msgs[i].msg_hdr.msg_iov = ctypes.pointer(iovs[i])
        msgs[i].msg_hdr.msg_iovlen = 1
    deadline = time.monotonic() + timeout_s
    while True:
        sent = _sendmmsg(sock.fileno(), msgs, n, 0)
        if sent > 0:
            return sent
        err = ctypes.get_errno()
        if err == errno.EINTR:
            continue
        if err not in (errno.EAGAIN, errno.EWOULDBLOCK):
            raise OSError(err, os.strerror(err))
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([], [sock], [], left)[1]:
            raise TimeoutError(errno.ETIMEDOUT, "timed out")
