"""``http_output``: POST each message to ``url`` (what Falco does with libcurl).

Falco's headers (``Content-Type`` by ``json_output``, ``User-Agent``), TLS options (``insecure``,
``mtls`` with ``client_cert``/``client_key``, CA precedence ``ca_cert`` > ``ca_bundle`` >
``ca_path``), ``echo`` and ``keep_alive`` (TCP keep-alive) are honoured; the connection is
reused between messages as libcurl reuses it.

Differences decided for "nothing lost silently" (README): each attempt has a timeout of
``output_timeout`` (libcurl in Falco has none, so a stalled receiver blocks it forever); a
timeout, a refused/reset connection or a 5xx answer is retried, up to
``max_consecutive_timeouts`` extra attempts (Falco retries timeouts only); a 4xx answer is not
retried. A message that still fails is counted as lost for this channel and logged.
"""

from __future__ import annotations

import base64
import http.client
import socket
import ssl
import sys
import time
from urllib.parse import urlsplit

from .base import Channel, ChannelInitError, DeliveryError, Message, encode_line

DEFAULT_USER_AGENT = "falcosecurity/falco"


class _Retryable(Exception):
    pass


class HttpChannel(Channel):
    name = "http"

    def open(self) -> None:
        url = self.config.text("url").strip()
        if len(url) >= 2 and url[0] == url[-1] and url[0] in "\"'":
            url = url[1:-1]
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ChannelInitError(f"http_output.url: unsupported or malformed URL '{url}'")
        self.url = url
        self.host = parts.hostname
        try:
            self.port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as exc:
            raise ChannelInitError(f"http_output.url: {exc} in '{url}'") from None
        self.target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.https = parts.scheme == "https"
        self.echo = self.config.flag("echo")
        self.tcp_keep_alive = self.config.flag("keep_alive")
        self.max_retries = self.config.integer("max_consecutive_timeouts", 5) & 0xFF
        self.headers = {
            "Content-Type": "application/json" if self.settings.json_output else "text/plain",
            "User-Agent": self.config.text("user_agent", DEFAULT_USER_AGENT),
            "Accept": "*/*",
        }
        if parts.username is not None:  # credentials in the URL, as libcurl honours them
            from urllib.parse import unquote

            user = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            self.headers["Authorization"] = "Basic " + base64.b64encode(user.encode()).decode()
        self.context = self._tls_context() if self.https else None
        self._conn: http.client.HTTPConnection | None = None

    def _tls_context(self) -> ssl.SSLContext:
        try:
            ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
            ca_cert, ca_bundle = self.config.text("ca_cert"), self.config.text("ca_bundle")
            if ca_cert or ca_bundle:
                ctx.load_verify_locations(cafile=ca_cert or ca_bundle)
            else:
                ca_path = self.config.text("ca_path", "/etc/ssl/certs")
                if ca_path:
                    ctx.load_verify_locations(capath=ca_path)
            if self.config.flag("insecure"):
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            if self.config.flag("mtls"):
                ctx.load_cert_chain(
                    self.config.text("client_cert", "/etc/ssl/certs/client.crt"),
                    self.config.text("client_key", "/etc/ssl/certs/client.key"),
                )
        except (OSError, ssl.SSLError) as exc:
            raise ChannelInitError(f"http_output TLS configuration: {exc}") from exc
        return ctx

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            timeout = self.settings.timeout_s
            if self.https:
                conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                    self.host, self.port, timeout=timeout, context=self.context)
            else:
                conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
            conn.connect()
            if self.tcp_keep_alive and conn.sock is not None:
                conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            self._conn = conn
        return self._conn

    def _post(self, body: bytes) -> None:
        try:
            conn = self._connection()
            conn.request("POST", self.target, body=body, headers=self.headers)
            resp = conn.getresponse()
            payload = resp.read()
        except (TimeoutError, ConnectionError, http.client.HTTPException, OSError) as exc:
            self.close()  # never reuse a connection in an unknown state
            if isinstance(exc, ssl.SSLCertVerificationError):
                raise DeliveryError(f"failed to perform call: {exc}") from exc
            raise _Retryable(f"{type(exc).__name__}: {exc}") from exc
        if resp.will_close:
            self.close()
        if self.echo and payload:  # libcurl's default: response bodies to stdout
            out = sys.stdout
            if hasattr(out, "buffer"):
                out.buffer.write(payload)
            else:
                out.write(payload.decode("utf-8", "replace"))
            out.flush()
        if resp.status >= 500:
            raise _Retryable(f"HTTP {resp.status} {resp.reason}")
        if resp.status >= 400:
            raise DeliveryError(f"failed to perform call: HTTP {resp.status} {resp.reason}")

    def write(self, msg: Message) -> None:
        body = encode_line(msg.text)
        attempt = 0
        while True:
            try:
                self._post(body)
                return
            except _Retryable as exc:
                if attempt >= self.max_retries:
                    raise DeliveryError(
                        f"failed to perform call: {exc} (after {attempt + 1} attempts)"
                    ) from None
                attempt += 1
                self.retries += 1
                # A refused connection or a 5xx comes back at once: pause a little (bounded),
                # a timeout already waited.
                time.sleep(min(0.05 * 2 ** (attempt - 1), 0.5))

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
