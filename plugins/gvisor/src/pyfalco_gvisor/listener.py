"""The SEQPACKET server gVisor sandboxes connect to (shared/spec/gvisor.md §1-§3).

One :class:`Listener` owns the listening socket and a dedicated reading thread. The thread
accepts connections, answers each handshake at once (a listener that does not answer blocks
sandbox creation forever), then drains every readable connection without blocking and hands the
raw records to ``on_records`` in batches: ``on_records(records)`` with ``records`` a list of
``(connection, bytes)``. Decoding happens in the callback, still on this thread, so the socket is
read again as soon as a batch is handed over (runsc drops what does not fit its send buffer).

Back-pressure: while ``ready()`` says the consumer cannot take a batch, no record is read (runsc
counts what it cannot send), but new connections are still accepted and hand-shaken. A sandbox
whose handshake goes unanswered blocks: ``runsc trace create`` (and sandbox creation) would hang
for as long as the consumer is behind, e.g. while the caller of ``trace create`` is the consumer.

Bad peers are logged and counted on their :class:`Connection`; they never affect the others.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import select
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from .proto import Handshake

log = logging.getLogger("pyfalco.gvisor")

#: The version we announce. runsc accepts any version >= 1; 1 is what this runsc speaks.
PROTOCOL_VERSION = 1
#: Largest record we accept. Real records are bounded by the sandbox's socket send buffer
#: (~208 KiB here); the reference readers use 300 KiB. Longer ones arrive with MSG_TRUNC.
MAX_RECORD = 512 * 1024
#: The sentry rejects a handshake reply of 10240 bytes or more; ours is 2 bytes, theirs as small.
MAX_HANDSHAKE = 10240
#: Records read from one connection before looking at the others (fairness between sandboxes).
READ_BURST = 256
#: Seconds between two looks at ``ready()`` while the consumer is behind.
BACKOFF_SECONDS = 0.05


@dataclass(eq=False)
class Connection:
    """One sandbox's trace connection (a sandbox opens one per session)."""

    number: int
    sock: socket.socket
    #: Peer of the handshake (the runsc CLI process that connected, from SO_PEERCRED).
    peer_pid: int = 0
    handshaken: bool = False
    peer_version: int = 0
    #: Container id of the first message: identifies the sandbox (empty until then).
    container_id: str = ""
    #: Numeric sandbox id, the high 32 bits of every thread id of this connection.
    sandbox_id: int = 0
    #: Last cumulative dropped_count seen in a header (runsc counts per connection, wraps at 2^32).
    last_dropped: int = 0
    records: int = 0
    closed: bool = False
    counters: dict[str, int] = field(default_factory=dict)

    def fileno(self) -> int:
        return self.sock.fileno()

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + n

    def __str__(self) -> str:
        who = self.container_id or f"pid {self.peer_pid}"
        return f"gVisor connection #{self.number} ({who})"


RecordsCallback = Callable[[list[tuple[Connection, bytes]]], None]
ConnectionCallback = Callable[[Connection], None]
ReadyCallback = Callable[[], bool]


class Listener:
    """Listen on ``path`` and read every connection from one thread.

    ``on_records`` receives each batch of records; ``on_close(conn)`` is called once when a
    connection ends (EOF, error or bad handshake). ``ready()`` (default: always) says whether
    ``on_records`` can take a batch now without waiting; while it cannot, records stay in the
    sockets and only connections and handshakes are served. Counters of the listener itself
    (accept and handshake failures, ``backoffs``) are in ``counters``.
    """

    def __init__(
        self,
        path: str,
        on_records: RecordsCallback,
        on_close: ConnectionCallback | None = None,
        ready: ReadyCallback | None = None,
    ) -> None:
        self.path = path
        self._on_records = on_records
        self._on_close = on_close or (lambda conn: None)
        self._ready = ready or (lambda: True)
        self.counters: dict[str, int] = {}
        self.connections: dict[int, Connection] = {}
        self._next_number = 1
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sock = self._bind(path)
        self._epoll = select.epoll()
        self._epoll.register(self._sock.fileno(), select.EPOLLIN)
        # A pipe to wake the thread when stopping (epoll_wait has no cancellation).
        self._wake_r, self._wake_w = os.pipe()
        self._epoll.register(self._wake_r, select.EPOLLIN)
        # The control plane alone (listening socket, wake pipe, connections not hand-shaken
        # yet): what is served while the consumer is behind. Level-triggered like the other,
        # so it must not contain connections whose records we are deliberately not reading.
        self._control = select.epoll()
        self._control.register(self._sock.fileno(), select.EPOLLIN)
        self._control.register(self._wake_r, select.EPOLLIN)
        self._buf = bytearray(MAX_RECORD)
        self._view = memoryview(self._buf)
        # Connections that ended during the current round: their on_close runs after the
        # round's records were handed over, so records and closes stay in order.
        self._ended: list[Connection] = []
        self.error: BaseException | None = None

    @staticmethod
    def _bind(path: str) -> socket.socket:
        # A stale socket file from a dead listener makes runsc's connect fail ("connection
        # refused") and the sandbox run untraced: always replace it.
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        parent = os.path.dirname(path)
        if parent:
            os.makedirs(parent, exist_ok=True)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        # runsc's CLI connects with its own credentials: make the socket connectable by any
        # runsc user, as Falco does (bind under umask 0).
        old = os.umask(0)
        try:
            sock.bind(path)
        except OSError as exc:
            sock.close()
            raise OSError(exc.errno, f"cannot bind gVisor socket {path}: {exc.strerror}") from None
        finally:
            os.umask(old)
        sock.listen(128)
        sock.setblocking(False)
        return sock

    def _count(self, name: str, n: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + n

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="gvisor-reader", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread, close every connection and remove the socket file."""
        self._stop.set()
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        for conn in list(self.connections.values()):
            self._close(conn)
        ended, self._ended = self._ended, []
        for conn in ended:
            self._on_close(conn)
        self._epoll.close()
        self._control.close()
        self._sock.close()
        os.close(self._wake_r)
        os.close(self._wake_w)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # -- the reading thread --------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                behind = not self._ready()
                if behind:
                    self._count("backoffs")
                poller = self._control if behind else self._epoll
                try:
                    ready = poller.poll(BACKOFF_SECONDS if behind else 0.5, 64)
                except InterruptedError:
                    continue
                batch: list[tuple[Connection, bytes]] = []
                for fd, events in ready:
                    if fd == self._wake_r:
                        continue
                    if fd == self._sock.fileno():
                        self._accept()
                        continue
                    conn = self.connections.get(fd)
                    if conn is None:
                        continue
                    if not conn.handshaken:
                        self._handshake(conn)
                    elif not behind:
                        self._drain(conn, events, batch)
                if batch:
                    self._on_records(batch)
                ended, self._ended = self._ended, []
                for conn in ended:
                    self._on_close(conn)
        except BaseException as exc:  # surfaced by the source instance's next_batch()
            log.exception("gVisor reading thread failed")
            self.error = exc

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self._sock.accept()
            except BlockingIOError:
                return
            except OSError as exc:
                self._count("accept_errors")
                log.warning("gVisor socket %s: accept failed: %s", self.path, exc)
                return
            sock.setblocking(False)
            conn = Connection(self._next_number, sock)
            self._next_number += 1
            with contextlib.suppress(OSError):
                creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
                conn.peer_pid = int.from_bytes(creds[:4], "little")
            self.connections[sock.fileno()] = conn
            self._epoll.register(sock.fileno(), select.EPOLLIN | select.EPOLLRDHUP)
            self._control.register(sock.fileno(), select.EPOLLIN | select.EPOLLRDHUP)
            log.debug("%s accepted", conn)

    def _handshake(self, conn: Connection) -> None:
        try:
            data, _, flags, _ = conn.sock.recvmsg(MAX_HANDSHAKE)
        except BlockingIOError:
            return
        except OSError as exc:
            self._bad_handshake(conn, f"read failed: {exc}")
            return
        if flags & socket.MSG_TRUNC:
            self._bad_handshake(conn, f"handshake larger than {MAX_HANDSHAKE} bytes")
            return
        if not data:
            # An empty record is Handshake{version: 0} (proto3 elides defaults); EOF reads the
            # same: either way the peer did not hand-shake.
            self._bad_handshake(conn, "empty handshake (version 0, or closed before handshake)")
            return
        try:
            version = Handshake.FromString(data).version
        except Exception as exc:  # protobuf's DecodeError, or anything a hostile peer causes
            self._bad_handshake(conn, f"undecodable handshake ({len(data)} bytes): {exc}")
            return
        if version < 1:
            self._bad_handshake(conn, f"peer protocol version {version} is below 1")
            return
        try:
            conn.sock.send(Handshake(version=PROTOCOL_VERSION).SerializeToString())
        except OSError as exc:
            self._bad_handshake(conn, f"cannot answer the handshake: {exc}")
            return
        conn.handshaken = True
        conn.peer_version = version
        with contextlib.suppress(OSError, ValueError):
            self._control.unregister(conn.sock.fileno())
        self._count("connections")
        log.info("%s: handshake done (peer version %d)", conn, version)

    def _bad_handshake(self, conn: Connection, why: str) -> None:
        self._count("handshake_errors")
        log.warning("%s: rejected: %s", conn, why)
        self._close(conn)

    def _drain(self, conn: Connection, events: int, batch: list[tuple[Connection, bytes]]) -> None:
        buf, view = self._buf, self._view
        recv = conn.sock.recvmsg_into
        for _ in range(READ_BURST):
            try:
                n, _, flags, _ = recv([buf])
            except BlockingIOError:
                return
            except InterruptedError:
                continue
            except OSError as exc:
                if exc.errno != errno.ECONNRESET:
                    log.warning("%s: read failed: %s", conn, exc)
                self._close(conn)
                return
            if n == 0:
                # After the handshake every record carries an 8-byte header: 0 bytes is EOF
                # (the sandbox exited or its session was deleted).
                self._close(conn)
                return
            if flags & socket.MSG_TRUNC:
                conn.count("truncated_records")
                log.warning("%s: record longer than %d bytes dropped", conn, MAX_RECORD)
                continue
            conn.records += 1
            batch.append((conn, view[:n].tobytes()))
        # Burst used up: the connection is still readable and epoll (level-triggered) says so.

    def _close(self, conn: Connection) -> None:
        if conn.closed:
            return
        conn.closed = True
        fd = conn.sock.fileno()
        self.connections.pop(fd, None)
        for poller in (self._epoll, self._control):
            with contextlib.suppress(OSError, ValueError):
                poller.unregister(fd)
        conn.sock.close()
        log.info("%s closed after %d records (%d dropped by the sandbox)", conn, conn.records,
                 conn.last_dropped)
        self._ended.append(conn)
