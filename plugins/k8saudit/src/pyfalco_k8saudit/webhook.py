"""The webhook the Kubernetes API server posts audit batches to (``http://`` / ``https://``).

As upstream: only POST on the configured path (405 "<METHOD> method not allowed"); the
Content-Type must contain ``application/json`` (400 "wrong Content Type"); a body larger than
``webhookMaxBatchSize`` is refused (400 "bad request: http: request body too large"); an
accepted body is answered 200 at once and parsed later, so malformed JSON is only logged and
counted.

Beyond upstream: an optional bearer token (401) and TLS client certificates; and bounded
memory under any load. Bodies waiting to be parsed are limited in number and bytes; space is
reserved from the Content-Length *before* the body is read, and a request that does not fit is
answered 429 with Retry-After (the API server's webhook backend retries with back-off). During
shutdown requests get 503. Connections are served by at most ``max_connections`` threads; more
wait in the kernel's backlog.
"""

from __future__ import annotations

import hmac
import socket
import ssl
import threading
from collections import deque
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from pyfalco.api import Event

from .batching import BatchingInstance
from .config import K8sAuditConfig
from .logs import log
from .payload import events_from_body

#: How long next_batch waits for a body before returning an empty batch (Go SDK: 30 ms).
WAIT_TIMEOUT = 0.03
#: Idle time after which a kept-alive connection is closed, freeing its thread.
CONNECTION_TIMEOUT = 30.0
MAX_CONNECTIONS = 32


class _Body:
    __slots__ = ("data", "n")

    def __init__(self, data: bytes, n: int) -> None:
        self.data, self.n = data, n


class BodyQueue:
    """Bodies accepted but not parsed yet, bounded by count and bytes (reserve → put → get)."""

    def __init__(self, max_bodies: int, max_bytes: int) -> None:
        self.max_bodies, self.max_bytes = max_bodies, max_bytes
        self._items: deque[_Body] = deque()
        self._reserved_bodies = 0
        self._reserved_bytes = 0
        self._cond = threading.Condition()
        self.closed = False

    def reserve(self, n: int) -> bool:
        with self._cond:
            if self.closed:
                return False
            if self._reserved_bodies >= self.max_bodies:
                return False
            # one body larger than the byte budget is still accepted when nothing waits
            if self._reserved_bytes and self._reserved_bytes + n > self.max_bytes:
                return False
            self._reserved_bodies += 1
            self._reserved_bytes += n
            return True

    def release(self, n: int) -> None:
        with self._cond:
            self._reserved_bodies -= 1
            self._reserved_bytes -= n

    def put(self, data: bytes, reserved: int) -> bool:
        """Queue a body for which ``reserved`` bytes were reserved; False once closed."""
        with self._cond:
            if self.closed:
                return False
            self._items.append(_Body(data, reserved))
            self._cond.notify()
            return True

    def get(self, timeout: float) -> bytes | None:
        with self._cond:
            if not self._items:
                self._cond.wait(timeout)
                if not self._items:
                    return None
            body = self._items.popleft()
            self._reserved_bodies -= 1
            self._reserved_bytes -= body.n
            return body.data

    def close(self) -> int:
        """Refuse new bodies; return how many were still waiting (dropped)."""
        with self._cond:
            self.closed = True
            n = len(self._items)
            self._items.clear()
            self._reserved_bodies = self._reserved_bytes = 0
            return n


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr: tuple[str, int], handler: type, owner: WebhookInstance) -> None:
        self.owner = owner
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self._dual_stack = False
        host, port = addr
        if host == "" and socket.has_dualstack_ipv6():
            # "http://:9765/...": every interface, IPv4 and IPv6, as Go's net/http listens
            self.address_family = socket.AF_INET6
            self._dual_stack = True
            addr = ("::", port)
        elif ":" in host:
            self.address_family = socket.AF_INET6
        super().__init__(addr, handler)

    def server_bind(self) -> None:
        if self._dual_stack:
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()

    def process_request(self, request: Any, client_address: Any) -> None:
        # back-pressure: while every slot is busy, further connections wait in the backlog
        while not self._slots.acquire(timeout=0.2):
            if self.owner.stopping:
                self.shutdown_request(request)
                return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        exc = sys.exc_info()[1]
        if isinstance(exc, (ssl.SSLError, ConnectionError, TimeoutError, OSError)):
            name = "webhook_tls_errors" if isinstance(exc, ssl.SSLError) else \
                "webhook_connection_errors"
            self.owner.count(name)
            log.debug("webhook connection from %s: %s", client_address, exc)
            return
        self.owner.count("webhook_internal_errors")
        log.exception("webhook error serving %s", client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "pyfalco-k8saudit"
    sys_version = ""
    timeout = CONNECTION_TIMEOUT
    server: _Server

    def setup(self) -> None:
        super().setup()
        if isinstance(self.connection, ssl.SSLSocket):
            self.connection.do_handshake()  # in this connection's thread, not the acceptor's

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        log.debug("webhook %s " + format, self.client_address[0], *args)

    def _reply(self, code: int, text: str = "", *, close: bool = False,
               headers: dict[str, str] | None = None) -> None:
        body = (text + "\n").encode() if text else b""
        self.send_response(code)
        if body:
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("X-Content-Type-Options", "nosniff")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def _serve(self) -> None:
        owner = self.server.owner
        path = self.path.split("?", 1)[0]
        if path != owner.path:
            self._reply(404, "404 page not found", close=self._has_body())
            return
        if self.command != "POST":
            self._reply(405, f"{self.command} method not allowed", close=self._has_body())
            return
        if owner.token is not None:
            auth = self.headers.get("Authorization", "")
            scheme, _, given = auth.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(
                    given.strip().encode(), owner.token):
                owner.count("webhook_unauthorized")
                self._reply(401, "unauthorized", close=True,
                            headers={"WWW-Authenticate": 'Bearer realm="k8saudit"'})
                return
        if "application/json" not in self.headers.get("Content-Type", ""):
            owner.count("webhook_bad_requests")
            self._reply(400, "wrong Content Type", close=self._has_body())
            return
        self._receive(owner)

    def _has_body(self) -> bool:
        return bool(self.headers.get("Content-Length", "0") != "0"
                    or self.headers.get("Transfer-Encoding"))

    def _bad_request(self, owner: WebhookInstance, why: str) -> None:
        owner.count("webhook_bad_requests")
        log.warning("bad request: %s", why)
        self._reply(400, f"bad request: {why}", close=True)

    def _receive(self, owner: WebhookInstance) -> None:
        limit = owner.max_batch_size
        chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
        length_text = self.headers.get("Content-Length")
        if chunked:
            reserve = limit
        else:
            try:
                reserve = int(length_text or "0")
                if reserve < 0:
                    raise ValueError
            except ValueError:
                self._bad_request(owner, f"invalid Content-Length {length_text!r}")
                return
            if reserve > limit:
                self._bad_request(owner, "http: request body too large")
                return
        if owner.stopping:
            owner.count("webhook_rejected_shutdown")
            self._reply(503, "shutting down", close=True)
            return
        if not owner.queue.reserve(reserve):
            owner.count("webhook_rejected_busy")
            self._reply(429, "too many requests: audit events are not consumed fast enough",
                        close=True, headers={"Retry-After": "1"})
            return
        try:
            body = self._read_chunked(limit) if chunked else self._read_exact(reserve)
        except _BodyError as exc:
            owner.queue.release(reserve)
            self._bad_request(owner, str(exc))
            return
        except BaseException:
            owner.queue.release(reserve)
            raise
        if not owner.queue.put(body, reserve):  # closed while the body was being read
            owner.count("webhook_rejected_shutdown")
            self._reply(503, "shutting down", close=True)
            return
        owner.count("webhook_requests")
        self._reply(200)

    def _read_exact(self, n: int) -> bytes:
        data = self.rfile.read(n)
        if len(data) != n:
            raise _BodyError("unexpected EOF")
        return data

    def _read_chunked(self, limit: int) -> bytes:
        parts: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise _BodyError("malformed chunked encoding") from None
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(parts)
            total += size
            if total > limit:
                raise _BodyError("http: request body too large")
            parts.append(self._read_exact(size))
            self.rfile.readline(8)  # CRLF after the chunk

    do_POST = do_GET = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve


class _BodyError(Exception):
    pass


class WebhookInstance(BatchingInstance):
    """An open ``http://`` or ``https://`` webhook; events come out of ``next_batch``."""

    def __init__(self, *, scheme: str, host: str, port: int, path: str,
                 config: K8sAuditConfig, plugin_id: int = 1) -> None:
        super().__init__(plugin_id=plugin_id, max_event_size=config.max_event_size)
        if not path:
            raise ValueError("the webhook needs a path, e.g. http://:9765/k8s-audit")
        self.path = path
        self.max_batch_size = config.webhook_max_batch_size
        self.queue = BodyQueue(config.webhook_queue_size, config.webhook_queue_max_bytes)
        self.stopping = False
        self.token: bytes | None = None
        if config.webhook_bearer_token_file:
            with open(config.webhook_bearer_token_file, "rb") as f:
                self.token = f.read().strip()
            if not self.token:
                raise ValueError(
                    f"bearer token file {config.webhook_bearer_token_file} is empty")
        self._server = _Server((host, port), _Handler, self)
        if scheme == "https":
            self._server.socket = _tls_context(config).wrap_socket(
                self._server.socket, server_side=True, do_handshake_on_connect=False)
        elif config.ssl_client_ca:
            log.warning("sslClientCA is ignored for http:// (use https://)")
        self.scheme = scheme
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
            name=f"k8saudit-webhook:{self.port}", daemon=True)
        self._thread.start()
        log.debug("webhook listening on %s", self.url)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        host = self._server.server_address[0]
        host = f"[{host}]" if ":" in host else host
        return f"{self.scheme}://{host}:{self.port}{self.path}"

    def next_batch(self) -> Sequence[Event] | None:
        if not self._pending:
            body = self.queue.get(WAIT_TIMEOUT)
            if body is None:
                return []
            events_from_body(body, self._pending, max_event_size=self.max_event_size,
                             stats=self.stats, plugin_id=self.plugin_id,
                             where="webhook request")
            if not self._pending:
                return []
        return self._take()

    def close(self) -> None:
        self.stopping = True
        lost = self.queue.close()
        if lost:
            self.count("drops_shutdown", lost)
            self.count("drops", lost)
            log.warning("%d request(s) dropped while shutting down server", lost)
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


def _tls_context(config: K8sAuditConfig) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    # one PEM holding both the certificate and the key, as upstream's sslCertificate
    ctx.load_cert_chain(certfile=config.ssl_certificate, keyfile=config.ssl_certificate)
    if config.ssl_client_ca:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(cafile=config.ssl_client_ca)
    return ctx
