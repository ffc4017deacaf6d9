"""``syslog_output``: what glibc's ``syslog(priority, "%s", msg)`` sends, without ``openlog``.

Falco calls ``syslog()`` with its priority number (0-7, the syslog levels EMERG..DEBUG) and the
default facility LOG_USER; glibc writes ``<PRI>Mmm dd HH:MM:SS ident: msg`` to the ``/dev/log``
datagram socket (a stream socket, NUL-terminated, when no datagram socket is there). pyfalco
builds the same record itself, so that the socket path can be configured: ``syslog_output.socket``
(pyfalco's addition, default ``/dev/log``) and ``syslog_output.ident`` (default ``falco``, the
tag syslog filters written for Falco expect). A send that fails reconnects and tries once more.
"""

from __future__ import annotations

import socket
import time

from .base import Channel, DeliveryError, Message, encode_line

LOG_USER = 1 << 3
DEFAULT_SOCKET = "/dev/log"


class SyslogChannel(Channel):
    name = "syslog"

    def open(self) -> None:
        self.path = self.config.text("socket", DEFAULT_SOCKET) or DEFAULT_SOCKET
        self.ident = self.config.text("ident", "falco")
        self._sock: socket.socket | None = None
        self._stream = False

    def _connect(self) -> socket.socket:
        if self._sock is not None:
            return self._sock
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
            return sock
        raise DeliveryError(f"cannot connect to syslog socket {self.path}: {errors[0]}")

    def record(self, msg: Message) -> bytes:
        stamp = time.strftime("%b %e %H:%M:%S", time.localtime())
        head = f"<{LOG_USER | int(msg.priority)}>{stamp} {self.ident}: "
        return encode_line(head + msg.text)

    def write(self, msg: Message) -> None:
        data = self.record(msg)
        for attempt in range(2):
            try:
                sock = self._connect()
                if self._stream:
                    sock.sendall(data + b"\0")
                else:
                    sock.send(data)
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
