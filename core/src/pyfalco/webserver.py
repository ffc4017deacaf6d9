"""Falco's embedded webserver: health, versions and Prometheus metrics (falco-core.md §8.3).

``webserver:`` keys and code defaults: ``enabled`` (false), ``threadiness`` (0 = number of CPUs),
``listen_port`` (8765), ``listen_address`` (``0.0.0.0``, an IP literal), ``k8s_healthz_endpoint``
(``/healthz``), ``prometheus_metrics_enabled`` (false), ``ssl_enabled`` (false),
``ssl_certificate`` (``/etc/falco/falco.pem``, certificate and key in one PEM file).

``/metrics`` exists only when ``prometheus_metrics_enabled`` is true, ``metrics_enabled``
(the app passes falco.yaml's ``metrics.enabled``) is true, and a ``metrics`` callable is given:
Falco needs both keys.
"""

from __future__ import annotations

import http.server
import ipaddress
import logging
import os
import socket
import ssl
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .errors import ConfigError, PyfalcoError
from .metrics import CONTENT_TYPE, MetricsSnapshot, prometheus_text
from .outputs.config import as_bool, as_int, as_str
from .outputs.formats import dumps

log = logging.getLogger("pyfalco.webserver")

HEALTHZ_BODY = b'{"status": "ok"}'


class WebserverConfig:
    """The ``webserver`` section with Falco's code defaults; bad values raise ConfigError."""

    def __init__(self, section: Mapping[str, Any] | None) -> None:
        s = dict(section or {})

        def get(key: str, default: Any) -> Any:
            value = s.get(key)
            return default if value is None else value

        self.enabled = as_bool(get("enabled", False), "webserver.enabled")
        threads = as_int(get("threadiness", 0), "webserver.threadiness")
        self.threadiness = threads or (os.cpu_count() or 1)
        self.listen_port = as_int(get("listen_port", 8765), "webserver.listen_port")
        if self.listen_port > 65535:
            raise ConfigError(f"Error reading config key 'webserver.listen_port': "
                              f"{self.listen_port} is not a valid port")
        self.listen_address = as_str(get("listen_address", "0.0.0.0"), "webserver.listen_address")
        try:
            ipaddress.ip_address(self.listen_address)
        except ValueError:
            raise ConfigError(f'webserver listen address "{self.listen_address}" is not a valid '
                              "IP address") from None
        self.healthz = as_str(get("k8s_healthz_endpoint", "/healthz"),
                              "webserver.k8s_healthz_endpoint")
        self.prometheus = as_bool(get("prometheus_metrics_enabled", False),
                                  "webserver.prometheus_metrics_enabled")
        self.ssl_enabled = as_bool(get("ssl_enabled", False), "webserver.ssl_enabled")
        self.ssl_certificate = as_str(get("ssl_certificate", "/etc/falco/falco.pem"),
                                      "webserver.ssl_certificate")


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "pyfalco"
    timeout = 30

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        path = self.path.split("?", 1)[0]
        web = self.server.web
        if path == web.config.healthz:
            self._send(200, HEALTHZ_BODY, "application/json")
        elif path == "/versions":
            self._send(200, web.versions_body, "application/json")
        elif path == "/metrics" and web.metrics_enabled:
            try:
                body = web.metrics_body()
            except Exception as exc:  # report, never kill the server
                log.error("falco_webserver: /metrics: %s", exc)
                self._send(500, str(exc).encode(), "text/plain")
                return
            self._send(200, body, CONTENT_TYPE)
        else:
            self._send(404, b"", "text/plain")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("falco_webserver: %s - %s", self.address_string(), format % args)


class _Server(http.server.HTTPServer):
    """HTTPServer whose requests run on a fixed pool of ``threadiness`` threads; TLS handshakes
    happen on the pool too, so a slow client never stalls the accept loop."""

    daemon_threads = True
    web: Webserver

    def __init__(self, address: tuple[str, int], web: Webserver,
                 tls: ssl.SSLContext | None) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.web = web
        self.tls = tls
        self.pool = ThreadPoolExecutor(max_workers=web.config.threadiness,
                                       thread_name_prefix="pyfalco-web")
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        self.pool.submit(self._serve, request, client_address)

    def _serve(self, request: socket.socket, client_address: Any) -> None:
        try:
            if self.tls is not None:
                request.settimeout(_Handler.timeout)
                request = self.tls.wrap_socket(request, server_side=True)
            self.finish_request(request, client_address)
        except Exception as exc:
            log.debug("falco_webserver: %s: %s", client_address, exc)
        finally:
            self.shutdown_request(request)

    def server_close(self) -> None:
        super().server_close()
        self.pool.shutdown(wait=False, cancel_futures=True)


class Webserver:
    """``Webserver(section, versions=callable, metrics=callable).start()`` / ``.stop()``.

    ``versions()`` returns the ``/versions`` object (computed once, at start, as Falco does);
    ``metrics()`` returns a :class:`~pyfalco.metrics.MetricsSnapshot` per request.
    """

    def __init__(self, config_section: Mapping[str, Any] | None, *,
                 versions: Callable[[], Mapping[str, Any]],
                 metrics: Callable[[], MetricsSnapshot] | None = None,
                 metrics_enabled: bool = True,
                 rules_counters: bool = True) -> None:
        self.config = WebserverConfig(config_section)
        self._versions = versions
        self._metrics = metrics
        self.rules_counters = rules_counters
        self.metrics_enabled = bool(self.config.prometheus and metrics_enabled
                                    and metrics is not None)
        self.versions_body = b""
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound port (useful with ``listen_port: 0``)."""
        assert self._server is not None, "webserver not started"
        return self._server.server_address[1]

    def metrics_body(self) -> bytes:
        assert self._metrics is not None
        return prometheus_text(self._metrics, rules_counters=self.rules_counters)

    def start(self) -> Webserver:
        cfg = self.config
        tls = None
        if cfg.ssl_enabled:
            try:
                tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
                tls.load_cert_chain(cfg.ssl_certificate)
            except (OSError, ssl.SSLError) as exc:
                log.error("falco_webserver: %s: %s", cfg.ssl_certificate, exc)
                raise ConfigError("invalid webserver configuration") from exc
        self.versions_body = dumps(dict(self._versions())).encode()
        log.info("Starting health webserver with threadiness %d, listening on %s:%d%s",
                 cfg.threadiness, cfg.listen_address, cfg.listen_port,
                 " (SSL)" if tls is not None else "")
        try:
            self._server = _Server((cfg.listen_address, cfg.listen_port), self, tls)
        except OSError as exc:
            log.error("falco_webserver: %s", exc)
            raise PyfalcoError("an error occurred while starting webserver") from exc
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.2},
                                        name="pyfalco-webserver", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> Webserver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
