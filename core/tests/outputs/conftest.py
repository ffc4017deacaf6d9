"""Real peers on loopback for the output channels: an HTTP receiver that can fail or stall,
a unix datagram syslog receiver, and helpers to build alerts and configs."""

from __future__ import annotations

import http.server
import os
import socket
import threading
import time
from dataclasses import dataclass, field

import pytest
from pyfalco.outputs import Alert
from pyfalco.priority import Priority


@pytest.fixture(autouse=True)
def utc(monkeypatch):
    """Local time = UTC, so %evt.time is predictable."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def make_alert(n: int = 0, **kw) -> Alert:
    base = dict(
        time_ns=1685022245478445995 + n,
        priority=Priority.CRITICAL,
        rule="Terminal shell in container",
        source="syscall",
        output=f"A shell was spawned (proc.name=sh n={n})",
        output_fields={"proc.name": "sh", "n": n},
        tags=("container", "shell"),
        hostname="h",
    )
    base.update(kw)
    return Alert(**base)


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes


@dataclass
class Receiver:
    """Behaviour per request: ``fail_first`` requests get 500, ``status`` after that;
    ``stall_s`` sleeps before answering (a blocked receiver)."""

    url: str = ""
    requests: list[Received] = field(default_factory=list)
    status: int = 200
    fail_first: int = 0
    stall_s: float = 0.0
    hits: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def bodies(self) -> list[bytes]:
        return [r.body for r in self.requests]


def _handler(rx: Receiver):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):  # noqa: N802
            length = int(self.headers.get("Content-Length", 0))
            body = self.rfile.read(length)
            with rx.lock:
                rx.hits += 1
                hit = rx.hits
            if rx.stall_s:
                time.sleep(rx.stall_s)
            status = 500 if hit <= rx.fail_first else rx.status
            if status < 300:
                rx.requests.append(Received(self.path, dict(self.headers), body))
            payload = b"ok" if status < 300 else b"nope"
            self.send_response(status)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *a):
            pass

    return Handler


@pytest.fixture
def http_receiver():
    rx = Receiver()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(rx))
    server.daemon_threads = True
    rx.url = f"http://127.0.0.1:{server.server_address[1]}/"
    t = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    yield rx
    server.shutdown()
    server.server_close()


@pytest.fixture
def syslog_socket(tmp_path):
    """A unix datagram socket standing in for /dev/log."""
    path = str(tmp_path / "log.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(5)
    yield path, sock
    sock.close()
    if os.path.exists(path):
        os.unlink(path)


def wait_until(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()
