"""The webserver on loopback: /healthz, /versions, /metrics, TLS, and its config errors."""

from __future__ import annotations

import http.client
import json
import shutil
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request

import pytest
from pyfalco.errors import ConfigError, PyfalcoError
from pyfalco.metrics import MetricsSnapshot, SourceMetrics
from pyfalco.outputs import RuleMatchCount
from pyfalco.priority import Priority
from pyfalco.webserver import Webserver

VERSIONS = {"engine_version": "63", "engine_version_semver": "0.63.0", "falco_version": "0.1.0",
            "plugin_versions": {"k8saudit": "0.18.0"}}


def snapshot() -> MetricsSnapshot:
    return MetricsSnapshot(
        falco_version="0.1.0", hostname="node-1", start_ts_ns=time.time_ns() - 10**10,
        sources=[SourceMetrics("syscall", 10, "nodriver", {"n_drops": 2}),
                 SourceMetrics("k8s_audit", 3, "source_plugin", {"oversize_drops": 1})],
        rule_matches=[RuleMatchCount("Rule A", Priority.WARNING, "k8s_audit", ("k8s", "T1-x"), 4)],
        outputs={"outputs_queue_num_drops": 1, "stdout_sent": 3, "stdout_lost": 0},
    )


def get(url: str, context=None):
    try:
        with urllib.request.urlopen(url, timeout=10, context=context) as resp:
            return resp.status, resp.headers["Content-Type"], resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers["Content-Type"], err.read()


@pytest.fixture
def server():
    started = []

    def start(section=None, metrics=snapshot):
        base = {"listen_address": "127.0.0.1", "listen_port": 0}
        web = Webserver({**base, **(section or {})}, versions=lambda: VERSIONS,
                        metrics=metrics).start()
        started.append(web)
        return web

    yield start
    for web in started:
        web.stop()


def test_healthz_and_versions(server):
    web = server()
    base = f"http://127.0.0.1:{web.port}"
    assert get(base + "/healthz") == (200, "application/json", b'{"status": "ok"}')
    status, ctype, body = get(base + "/versions")
    assert (status, ctype) == (200, "application/json") and json.loads(body) == VERSIONS
    assert get(base + "/nope")[0] == 404
    assert get(base + "/metrics")[0] == 404  # prometheus_metrics_enabled defaults to false


def test_custom_healthz_path(server):
    web = server({"k8s_healthz_endpoint": "/live"})
    assert get(f"http://127.0.0.1:{web.port}/live")[0] == 200
    assert get(f"http://127.0.0.1:{web.port}/healthz")[0] == 404


def test_metrics_endpoint(server):
    web = server({"prometheus_metrics_enabled": True})
    status, ctype, body = get(f"http://127.0.0.1:{web.port}/metrics")
    assert (status, ctype) == (200, "text/plain; version=0.0.4")
    text = body.decode()
    assert 'falcosecurity_falco_version_info{version="0.1.0"} 1\n' in text
    assert "falcosecurity_falco_outputs_queue_num_drops_total 1\n" in text
    assert ('falcosecurity_falco_rules_matches_total{priority="4",rule_name="Rule A",'
            'source="k8s_audit",tag_k8s="true",tag_T1_x="true"} 4\n') in text
    assert ('falcosecurity_scap_engine_name_info{engine_name="source_plugin",'
            'evt_source="k8s_audit"} 1\n') in text
    assert 'pyfalco_source_num_evts_total{evt_source="syscall"} 10\n' in text
    assert 'falcosecurity_scap_n_drops_total{evt_source="syscall"} 2\n' in text
    assert 'falcosecurity_plugins_oversize_drops_total{evt_source="k8s_audit"} 1\n' in text
    assert 'falcosecurity_evt_hostname_info{hostname="node-1"} 1\n' in text
    assert ("# HELP falcosecurity_falco_duration_seconds_total "
            "https://falco.org/docs/metrics/") in text
    # nanosecond timestamps exactly, not as rounded doubles
    start = next(line for line in text.splitlines()
                 if line.startswith("falcosecurity_falco_start_timestamp_nanoseconds "))
    assert start.split()[1].isdigit() and len(start.split()[1]) == 19


def test_metrics_needs_metrics_enabled(server):
    web = server({"prometheus_metrics_enabled": True}, metrics=None)
    assert get(f"http://127.0.0.1:{web.port}/metrics")[0] == 404
    web = Webserver({"listen_address": "127.0.0.1", "listen_port": 0,
                     "prometheus_metrics_enabled": True}, versions=dict, metrics=snapshot,
                    metrics_enabled=False).start()  # falco.yaml metrics.enabled: false
    try:
        assert get(f"http://127.0.0.1:{web.port}/metrics")[0] == 404
    finally:
        web.stop()


def test_metrics_failure_is_a_500_not_a_crash(server):
    def broken():
        raise RuntimeError("snapshot failed")

    web = server({"prometheus_metrics_enabled": True}, metrics=broken)
    assert get(f"http://127.0.0.1:{web.port}/metrics")[0] == 500
    assert get(f"http://127.0.0.1:{web.port}/healthz")[0] == 200


def test_defaults():
    web = Webserver(None, versions=dict)
    cfg = web.config
    assert (cfg.listen_port, cfg.listen_address, cfg.healthz, cfg.prometheus, cfg.ssl_enabled,
            cfg.ssl_certificate) == (8765, "0.0.0.0", "/healthz", False, False,
                                     "/etc/falco/falco.pem")
    assert cfg.threadiness >= 1


def test_invalid_listen_address():
    with pytest.raises(ConfigError, match='listen address "localhost" is not a valid IP'):
        Webserver({"listen_address": "localhost"}, versions=dict)
    with pytest.raises(ConfigError, match="'webserver.listen_port'"):
        Webserver({"listen_port": "http"}, versions=dict)


def test_port_in_use_is_falcos_error():
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    try:
        web = Webserver({"listen_address": "127.0.0.1", "listen_port": busy.getsockname()[1]},
                        versions=dict)
        with pytest.raises(PyfalcoError, match="an error occurred while starting webserver"):
            web.start()
    finally:
        busy.close()


def test_bad_certificate_is_invalid_configuration(tmp_path):
    pem = tmp_path / "falco.pem"
    pem.write_text("not a certificate")
    web = Webserver({"listen_address": "127.0.0.1", "listen_port": 0, "ssl_enabled": True,
                     "ssl_certificate": str(pem)}, versions=dict)
    with pytest.raises(ConfigError, match="invalid webserver configuration"):
        web.start()


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory):
    """A certificate + key for 127.0.0.1 in one PEM (Falco's ssl_certificate layout)."""
    if not shutil.which("openssl"):
        pytest.fail("openssl is needed to create a test certificate")
    d = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem")],
                   check=True, capture_output=True)
    combined = d / "falco.pem"
    combined.write_text((d / "cert.pem").read_text() + (d / "key.pem").read_text())
    return d


def test_tls(server, self_signed):
    web = server({"ssl_enabled": True, "ssl_certificate": str(self_signed / "falco.pem")})
    ctx = ssl.create_default_context(cafile=str(self_signed / "cert.pem"))
    assert get(f"https://127.0.0.1:{web.port}/healthz", ctx)[0] == 200
    # plain HTTP against the TLS port does not get an answer, and does not break the server
    conn = http.client.HTTPConnection("127.0.0.1", web.port, timeout=5)
    with pytest.raises((http.client.HTTPException, OSError)):
        conn.request("GET", "/healthz")
        conn.getresponse().read()
    assert get(f"https://127.0.0.1:{web.port}/versions", ctx)[0] == 200


def test_many_concurrent_requests_with_small_pool(server):
    from concurrent.futures import ThreadPoolExecutor

    web = server({"threadiness": 2})
    url = f"http://127.0.0.1:{web.port}/healthz"
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: get(url)[0], range(40)))
    assert results == [200] * 40


def test_malformed_requests_do_not_break_the_server(server):
    web = server()
    for junk in (b"\x00\x01\x02garbage\r\n\r\n", b"GET /healthz HTTP/9.9\r\n\r\n",
                 b"POST /healthz HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
                 b"GET " + b"a" * 70000 + b" HTTP/1.1\r\n\r\n", b""):
        with socket.create_connection(("127.0.0.1", web.port), timeout=5) as conn:
            conn.sendall(junk)
            conn.shutdown(socket.SHUT_WR)
            reply = b""
            while chunk := conn.recv(65536):
                reply += chunk
        assert b" 200 " not in reply.split(b"\n")[0]  # an error (or nothing), never a success
    assert get(f"http://127.0.0.1:{web.port}/healthz")[0] == 200


def test_ipv6_listen_address():
    if not socket.has_ipv6:
        pytest.fail("IPv6 is expected on the test machines' loopback")
    web = Webserver({"listen_address": "::1", "listen_port": 0}, versions=dict).start()
    try:
        conn = http.client.HTTPConnection("::1", web.port, timeout=5)
        conn.request("GET", "/healthz")
        assert conn.getresponse().read() == b'{"status": "ok"}'
    finally:
        web.stop()
