"""http_output against real HTTP servers on loopback: what falcosidekick accepts, retries,
failing and stalled receivers (losses counted), TLS."""

from __future__ import annotations

import http.server
import json
import logging
import re
import shutil
import ssl
import subprocess
import threading

import pytest
from pyfalco.outputs import OutputsManager

from .conftest import make_alert, wait_until

_PRIORITIES = {"emergency", "alert", "critical", "error", "warning", "notice", "informational",
               "info", "debug"}
_RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$")


def falcosidekick_accepts(body: bytes) -> bool:
    """falcosidekick's input check, restated from its source (handlers.go newFalcoPayload +
    types.go FalcoPayload/Check): the body decodes into FalcoPayload (Go types: strings, a
    time.Time from RFC 3339, a map, a []string), priority is a known name (case-insensitive),
    rule is not empty, time is not zero, output_fields is not empty."""
    try:
        doc = json.loads(body)
    except ValueError:
        return False
    typed = {"output": str, "priority": str, "rule": str, "time": str, "source": str,
             "hostname": str, "output_fields": dict, "tags": list}
    for key, kind in typed.items():
        if key in doc and doc[key] is not None and not isinstance(doc[key], kind):
            return False
    if not all(isinstance(t, str) for t in doc.get("tags") or []):
        return False
    return (str(doc.get("priority", "")).lower() in _PRIORITIES
            and bool(doc.get("rule"))
            and bool(_RFC3339.match(doc.get("time") or ""))
            and doc.get("time", "").split("T")[0] != "0001-01-01"
            and bool(doc.get("output_fields")))


def http_cfg(url, **kw):
    section = {"enabled": True, "url": url, **kw.pop("http", {})}
    return {"http_output": section, **kw}


def test_json_alerts_are_what_falcosidekick_accepts(http_receiver):
    cfg = http_cfg(http_receiver.url, json_output=True)
    with OutputsManager(cfg, hostname="node") as out:
        for i in range(5):
            out.handle(make_alert(i))
    assert len(http_receiver.requests) == 5
    first = http_receiver.requests[0]
    assert first.headers["Content-Type"] == "application/json"
    assert first.headers["User-Agent"] == "falcosecurity/falco"
    assert first.path == "/"
    for body in http_receiver.bodies():
        assert falcosidekick_accepts(body), body
    doc = json.loads(first.body)
    assert doc["source"] == "syscall" and doc["tags"] == ["container", "shell"]
    assert [json.loads(b)["output_fields"]["n"] for b in http_receiver.bodies()] == list(range(5))
    assert out.counters()["http_sent"] == 5


def test_falcosidekick_check_rejects_what_it_should():
    good = {"output": "o", "priority": "Critical", "rule": "r",
            "time": "2023-05-25T13:44:05.478445995Z", "output_fields": {"a": 1}}
    assert falcosidekick_accepts(json.dumps(good).encode())
    for broken in ({"priority": "loud"}, {"rule": ""}, {"time": "yesterday"},
                   {"output_fields": {}}):
        assert not falcosidekick_accepts(json.dumps({**good, **broken}).encode())


def test_text_body_and_custom_headers(http_receiver):
    cfg = http_cfg(f'"{http_receiver.url}ingest?x=1"', http={"user_agent": "me/1"})
    with OutputsManager(cfg) as out:
        out.handle(make_alert(output="plain"))
    [req] = http_receiver.requests
    assert req.headers["Content-Type"] == "text/plain" and req.headers["User-Agent"] == "me/1"
    assert req.path == "/ingest?x=1"  # surrounding quotes stripped from the url, as Falco
    assert req.body == b"13:44:05.478445995: Critical plain"


def test_echo_writes_response_bodies_to_stdout(http_receiver, capsys):
    with OutputsManager(http_cfg(http_receiver.url, http={"echo": True})) as out:
        out.handle(make_alert())
    assert capsys.readouterr().out == "ok"
    with OutputsManager(http_cfg(http_receiver.url)) as out:  # echo false: discarded
        out.handle(make_alert())
    assert capsys.readouterr().out == ""


def test_credentials_in_the_url(http_receiver):
    url = http_receiver.url.replace("http://", "http://alice:s%40cret@")
    with OutputsManager(http_cfg(url)) as out:
        out.handle(make_alert())
    [req] = http_receiver.requests
    assert req.headers["Authorization"] == "Basic YWxpY2U6c0BjcmV0"  # alice:s@cret


@pytest.mark.parametrize("url", ["", "not a url", "http://", "http://host:port/"])
def test_malformed_url_fails_channel_init(url, caplog):
    cfg = http_cfg(url, stdout_output={"enabled": True})
    with caplog.at_level(logging.ERROR, "pyfalco.outputs"):
        with OutputsManager(cfg) as out:
            assert [c.name for c in out.channels] == ["stdout"]
    assert "Failed to init output: http_output.url" in caplog.text


def test_server_errors_are_retried(http_receiver):
    http_receiver.fail_first = 2
    with OutputsManager(http_cfg(http_receiver.url, json_output=True)) as out:
        out.handle(make_alert())
    assert len(http_receiver.requests) == 1 and http_receiver.hits == 3
    c = out.counters()
    assert c["http_sent"] == 1 and c["http_retries"] == 2 and c["http_lost"] == 0


def test_failing_receiver_loses_are_counted(http_receiver, caplog):
    http_receiver.fail_first = 10**6
    cfg = http_cfg(http_receiver.url, http={"max_consecutive_timeouts": 2},
                   stdout_output={"enabled": True})
    with caplog.at_level(logging.ERROR, "pyfalco.outputs"):
        with OutputsManager(cfg) as out:
            out.handle(make_alert())
            out.handle(make_alert())
    c = out.counters()
    assert http_receiver.hits == 6  # 1 + 2 retries, per message
    assert c["http_lost"] == 2 and c["http_retries"] == 4 and c["stdout_sent"] == 2
    assert "http: failed to perform call: HTTP 500" in caplog.text
    assert "2 alert(s) were not delivered: http: 2" in caplog.text


def test_client_errors_are_not_retried(http_receiver):
    http_receiver.status = 400
    with OutputsManager(http_cfg(http_receiver.url)) as out:
        out.handle(make_alert())
    assert http_receiver.hits == 1 and out.counters()["http_lost"] == 1


def test_refused_connection_is_counted():
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there any more
    cfg = http_cfg(f"http://127.0.0.1:{port}/", http={"max_consecutive_timeouts": 1})
    with OutputsManager(cfg) as out:
        out.handle(make_alert())
    c = out.counters()
    assert c["http_lost"] == 1 and c["http_retries"] == 1


@pytest.mark.slow
def test_stalled_receiver_times_out_and_alerts_are_counted(http_receiver, caplog):
    """A receiver that never answers in time: attempts time out (output_timeout), the watchdog
    reports the blocked channel, the bounded queue overflows without blocking the producer, and
    every alert ends up either delivered-late, lost, dropped or discarded — all counted."""
    http_receiver.stall_s = 0.6
    cfg = http_cfg(http_receiver.url, output_timeout=300, outputs_queue={"capacity": 2},
                   http={"max_consecutive_timeouts": 1})
    with caplog.at_level(logging.INFO, "pyfalco.outputs"):
        out = OutputsManager(cfg).start()
        for i in range(10):
            out.handle(make_alert(i))
        assert wait_until(lambda: out.counters()["http_lost"] >= 1, timeout=20)
        out.close()
    c = out.counters()
    accounted = (c["http_sent"] + c["http_lost"] + c["outputs_queue_num_drops"]
                 + c["outputs_discarded_at_shutdown"])
    assert accounted == 10, c
    assert c["outputs_queue_num_drops"] >= 10 - 2 - 1 - 1
    assert c["http_timeouts"] >= 1
    assert '"http" output timeout, all output channels are blocked' in caplog.text
    assert "TimeoutError" in caplog.text or "timed out" in caplog.text


# -- TLS --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl."""
    if not shutil.which("openssl"):
        pytest.fail("openssl is needed to create test certificates")
    d = tmp_path_factory.mktemp("pki")

    def run(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=d)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test-ca",
        "-keyout", "ca.key", "-out", "ca.crt")
    for name, ext in (("server", "subjectAltName=IP:127.0.0.1"),
                      ("client", "extendedKeyUsage=clientAuth")):
        run("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}", "-keyout",
            f"{name}.key", "-out", f"{name}.csr")
        (d / f"{name}.ext").write_text(ext + "\n")
        run("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.crt")
    return d


@pytest.fixture
def tls_receiver(pki):
    bodies: list[bytes] = []
    peers: list = []

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):  # noqa: N802
            bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
            peers.append(self.connection.getpeercert())
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *a):
            pass

    def start(require_client_cert=False):
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(pki / "server.crt", pki / "server.key")
        if require_client_cert:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(pki / "ca.crt")
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        servers.append(server)
        return f"https://127.0.0.1:{server.server_address[1]}/", bodies, peers

    servers: list = []
    yield start
    for s in servers:
        s.shutdown()
        s.server_close()


def test_https_with_ca_cert(tls_receiver, pki):
    url, bodies, _ = tls_receiver()
    with OutputsManager(http_cfg(url, http={"ca_cert": str(pki / "ca.crt")})) as out:
        out.handle(make_alert())
    assert len(bodies) == 1 and out.counters()["http_sent"] == 1


def test_https_untrusted_is_lost_unless_insecure(tls_receiver):
    url, bodies, _ = tls_receiver()
    with OutputsManager(http_cfg(url, http={"ca_path": "/nonexistent"})) as out:
        out.handle(make_alert())
    assert out.counters()["http_lost"] == 1 and out.counters()["http_retries"] == 0
    with OutputsManager(http_cfg(url, http={"insecure": True})) as out:
        out.handle(make_alert())
    assert out.counters()["http_sent"] == 1 and len(bodies) == 1


def test_mtls(tls_receiver, pki):
    url, bodies, peers = tls_receiver(require_client_cert=True)
    cfg = http_cfg(url, http={"ca_cert": str(pki / "ca.crt"), "mtls": True,
                              "client_cert": str(pki / "client.crt"),
                              "client_key": str(pki / "client.key")})
    with OutputsManager(cfg) as out:
        out.handle(make_alert())
    assert len(bodies) == 1
    assert dict(x[0] for x in peers[0]["subject"])["commonName"] == "client"


def test_bad_tls_files_fail_channel_init(pki, caplog):
    cfg = http_cfg("https://127.0.0.1:1/", http={"mtls": True, "client_cert": "/nope.crt"},
                   stdout_output={"enabled": True})
    with caplog.at_level(logging.ERROR, "pyfalco.outputs"):
        with OutputsManager(cfg) as out:
            assert [c.name for c in out.channels] == ["stdout"]
    assert "Failed to init output: http_output TLS configuration" in caplog.text
