"""The webhook over real loopback HTTP and HTTPS, posted to as the API server does (POSTs of
audit.k8s.io/v1 EventList batches), with upstream's status codes and the additions: bearer
token, client certificates, bounded queue with 429."""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from pyfalco.api import Event
from pyfalco_k8saudit import split_jsonl
from pyfalco_k8saudit.config import K8sAuditConfig
from pyfalco_k8saudit.source import open_instance
from pyfalco_k8saudit.webhook import WebhookInstance


def event_list(objs: list[dict]) -> bytes:
    return orjson.dumps({"kind": "EventList", "apiVersion": "audit.k8s.io/v1",
                         "metadata": {}, "items": objs})


@pytest.fixture(scope="module")
def trace_objects(traces: Path) -> list[dict]:
    out = []
    for path in sorted(traces.glob("*.json")):
        events, _ = split_jsonl(path.read_bytes(), max_event_size=1 << 20)
        out.extend(e.obj for e in events)
    return out


@pytest.fixture
def open_webhook() -> Iterator:
    opened: list[WebhookInstance] = []

    def _open(config: K8sAuditConfig | None = None, scheme: str = "http") -> WebhookInstance:
        inst = open_instance(f"{scheme}://127.0.0.1:0/k8s-audit", config or K8sAuditConfig())
        assert isinstance(inst, WebhookInstance)
        opened.append(inst)
        return inst

    yield _open
    for inst in opened:
        inst.close()


def post(inst: WebhookInstance, body: bytes, *, method: str = "POST", path: str = "/k8s-audit",
         content_type: str = "application/json", headers: dict | None = None,
         context: ssl.SSLContext | None = None) -> tuple[int, bytes, dict]:
    if context is not None:
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            "127.0.0.1", inst.port, context=context, timeout=10)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", inst.port, timeout=10)
    try:
        conn.request(method, path, body=body, headers={"Content-Type": content_type,
                                                       **(headers or {})})
        resp = conn.getresponse()
        return resp.status, resp.read(), dict(resp.getheaders())
    finally:
        conn.close()


def collect(inst: WebhookInstance, n: int, timeout: float = 10.0) -> list[Event]:
    got: list[Event] = []
    deadline = time.monotonic() + timeout
    while len(got) < n and time.monotonic() < deadline:
        batch = inst.next_batch()
        assert batch is not None
        assert len(batch) <= 128
        got.extend(batch)
    return got


def test_eventlist_batches_from_traces(open_webhook, trace_objects: list[dict]) -> None:
    inst = open_webhook()
    assert inst.url.startswith("http://127.0.0.1:")
    for i in range(0, len(trace_objects), 20):
        status, body, _ = post(inst, event_list(trace_objects[i:i + 20]))
        assert (status, body) == (200, b"")
    events = collect(inst, len(trace_objects))
    assert [e.json()["auditID"] for e in events] == [o["auditID"] for o in trace_objects]
    assert all(e.source == "k8s_audit" and e.plugin_id == 1 for e in events)
    assert inst.counters() == {"webhook_requests": 3}


def test_keepalive_connection_serves_several_batches(open_webhook, trace_objects) -> None:
    inst = open_webhook()
    conn = http.client.HTTPConnection("127.0.0.1", inst.port, timeout=10)
    for i in range(3):
        conn.request("POST", "/k8s-audit", body=event_list(trace_objects[i:i + 1]),
                     headers={"Content-Type": "application/json; charset=utf-8"})
        resp = conn.getresponse()
        assert resp.status == 200 and resp.read() == b""
    conn.close()
    assert len(collect(inst, 3)) == 3


@pytest.mark.parametrize(
    ("kwargs", "status", "text"),
    [
        ({"method": "GET"}, 405, b"GET method not allowed\n"),
        ({"method": "PUT"}, 405, b"PUT method not allowed\n"),
        ({"content_type": "text/plain"}, 400, b"wrong Content Type\n"),
        ({"path": "/other"}, 404, b"404 page not found\n"),
    ],
)
def test_upstream_refusals(open_webhook, kwargs, status, text) -> None:
    inst = open_webhook()
    got_status, body, _ = post(inst, b"{}", **kwargs)
    assert (got_status, body) == (status, text)


def test_oversized_body_is_refused_and_server_keeps_serving(open_webhook, trace_objects) -> None:
    inst = open_webhook(K8sAuditConfig(webhook_max_batch_size=1000))
    status, body, _ = post(inst, b"[" + b" " * 2000 + b"]")
    assert (status, body) == (400, b"bad request: http: request body too large\n")
    ok = event_list(trace_objects[:1])
    assert len(ok) < 5000
    inst2 = open_webhook(K8sAuditConfig(webhook_max_batch_size=len(ok)))
    assert post(inst2, ok)[0] == 200
    assert len(collect(inst2, 1)) == 1
    assert inst.counters()["webhook_bad_requests"] == 1


def test_chunked_body(open_webhook, trace_objects) -> None:
    inst = open_webhook()
    body = event_list(trace_objects[:5])
    conn = http.client.HTTPConnection("127.0.0.1", inst.port, timeout=10)
    conn.request("POST", "/k8s-audit", body=iter([body[:100], body[100:]]),
                 headers={"Content-Type": "application/json"}, encode_chunked=True)
    resp = conn.getresponse()
    assert resp.status == 200
    conn.close()
    assert len(collect(inst, 5)) == 5


def test_bad_bodies_are_counted_and_the_rest_flows(open_webhook, trace_objects) -> None:
    inst = open_webhook()
    no_id = dict(trace_objects[0])
    del no_id["auditID"]
    bodies = [b"{not json", b"\xff\xfe", b'{"kind": 0}', event_list([no_id]),
              event_list(trace_objects[:2])]
    for b in bodies:
        assert post(inst, b)[0] == 200  # upstream answers before parsing
    events = collect(inst, 3)
    assert len(events) == 3
    c = inst.counters()
    assert c["drops_malformed"] == 2 and c["drops_unrecognized"] == 1
    assert c["events_without_auditid"] == 1 and c["drops"] == 3


def test_backpressure_429_instead_of_buffering(open_webhook, trace_objects) -> None:
    body = event_list(trace_objects[:3])
    inst = open_webhook(K8sAuditConfig(webhook_queue_size=2))
    assert [post(inst, body)[0] for _ in range(2)] == [200, 200]
    status, _, headers = post(inst, body)  # nobody consumes: the queue is full
    assert status == 429 and headers["Retry-After"] == "1"
    assert inst.counters()["webhook_rejected_busy"] == 1
    assert len(collect(inst, 6)) == 6  # consuming frees the queue
    assert post(inst, body)[0] == 200
    # byte budget: a body that would exceed it is refused before it is read
    inst2 = open_webhook(K8sAuditConfig(webhook_queue_max_bytes=len(body) + 10))
    assert post(inst2, body)[0] == 200
    assert post(inst2, body)[0] == 429


def test_bearer_token(open_webhook, trace_objects, tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("s3cret\n")
    inst = open_webhook(K8sAuditConfig(webhook_bearer_token_file=str(token)))
    body = event_list(trace_objects[:1])
    status, _, headers = post(inst, body)
    assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer")
    assert post(inst, body, headers={"Authorization": "Bearer wrong"})[0] == 401
    assert post(inst, body, headers={"Authorization": "Bearer s3cret"})[0] == 200
    assert len(collect(inst, 1)) == 1
    assert inst.counters()["webhook_unauthorized"] == 2


def test_shutdown_answers_503_and_counts_unparsed(open_webhook, trace_objects) -> None:
    inst = open_webhook()
    assert post(inst, event_list(trace_objects[:1]))[0] == 200
    inst.stopping = True  # what close() sets first
    assert post(inst, event_list(trace_objects[:1]))[0] == 503
    inst.close()
    assert inst.counters()["drops_shutdown"] == 1
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", inst.port), timeout=1).recv(1)


def test_port_in_use_is_an_open_error(open_webhook) -> None:
    from pyfalco.errors import PluginError

    inst = open_webhook()
    with pytest.raises(PluginError, match="cannot open"):
        open_instance(f"http://127.0.0.1:{inst.port}/k8s-audit", K8sAuditConfig())


# -- HTTPS -------------------------------------------------------------------------------


def test_https(open_webhook, pki: Path, tls_client, trace_objects) -> None:
    inst = open_webhook(K8sAuditConfig(ssl_certificate=str(pki / "server.pem")), "https")
    assert inst.url.startswith("https://")
    status, _, _ = post(inst, event_list(trace_objects[:10]),
                        context=tls_client(False))
    assert status == 200
    assert len(collect(inst, 10)) == 10
    with pytest.raises((ssl.SSLError, ConnectionError)):  # plain HTTP to a TLS port
        post(inst, b"{}")


def test_https_client_certificates(open_webhook, pki: Path, tls_client, trace_objects) -> None:
    inst = open_webhook(K8sAuditConfig(ssl_certificate=str(pki / "server.pem"),
                                       ssl_client_ca=str(pki / "ca.pem")), "https")
    with pytest.raises((ssl.SSLError, ConnectionError)):
        post(inst, event_list(trace_objects[:1]), context=tls_client(False))
    status, _, _ = post(inst, event_list(trace_objects[:1]), context=tls_client(True))
    assert status == 200
    assert len(collect(inst, 1)) == 1
    assert inst.counters().get("webhook_tls_errors", 0) >= 1


def test_https_bad_certificate_is_an_open_error(tmp_path: Path) -> None:
    from pyfalco.errors import PluginError

    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate")
    with pytest.raises(PluginError, match="cannot open"):
        open_instance("https://127.0.0.1:0/k8s-audit", K8sAuditConfig(ssl_certificate=str(bad)))


def test_many_concurrent_posters(open_webhook, trace_objects) -> None:
    """Several API servers posting at once while the source thread consumes: nothing lost."""
    inst = open_webhook()
    batches = [event_list(trace_objects[i % 40:i % 40 + 5]) for i in range(40)]
    statuses: list[int] = []
    lock = threading.Lock()

    def poster(mine: list[bytes]) -> None:
        for b in mine:
            s = post(inst, b)[0]
            with lock:
                statuses.append(s)

    threads = [threading.Thread(target=poster, args=(batches[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    events = collect(inst, 200, timeout=20)
    for t in threads:
        t.join()
    assert statuses == [200] * 40
    assert len(events) == 200


def test_memory_bound_under_concurrent_load(open_webhook, trace_objects) -> None:
    """Eight clients post large batches while nobody consumes: the bytes waiting never exceed
    the budget (reserved before reading), the rest is refused with 429, nothing is lost."""
    body = event_list(trace_objects * 4)  # ~400 kB
    budget = 3 * len(body)
    inst = open_webhook(K8sAuditConfig(webhook_queue_max_bytes=budget, webhook_queue_size=100))
    statuses: list[int] = []
    lock = threading.Lock()

    def poster() -> None:
        for _ in range(4):
            s = post(inst, body)[0]
            with lock:
                statuses.append(s)

    threads = [threading.Thread(target=poster) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    accepted = statuses.count(200)
    assert accepted == 3 and statuses.count(429) == 29
    assert inst.queue._reserved_bytes <= budget
    events = collect(inst, accepted * len(trace_objects) * 4)
    assert len(events) == accepted * len(trace_objects) * 4
    assert inst.counters()["webhook_rejected_busy"] == 29


def test_empty_host_listens_on_every_interface(trace_objects) -> None:
    inst = open_instance("http://:0/k8s-audit", K8sAuditConfig())
    try:
        addrs = ["127.0.0.1"] + (["::1"] if socket.has_dualstack_ipv6() else [])
        for host in addrs:
            conn = http.client.HTTPConnection(host, inst.port, timeout=10)
            conn.request("POST", "/k8s-audit", body=event_list(trace_objects[:1]),
                         headers={"Content-Type": "application/json"})
            assert conn.getresponse().status == 200
            conn.close()
        assert len(collect(inst, len(addrs))) == len(addrs)
    finally:
        inst.close()
