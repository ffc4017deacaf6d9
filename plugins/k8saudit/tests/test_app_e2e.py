"""The whole product as a user runs it: ``pyfalco`` with the k8saudit webhook, the json plugin
and upstream's k8s_audit_rules.yaml; audit batches POSTed over loopback HTTP and HTTPS as the
API server posts them; alerts read from pyfalco's JSON output; drops shown in the statistics."""

from __future__ import annotations

import http.client
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import orjson
import pyfalco_json.plugin
import pyfalco_k8saudit.plugin
import pytest
from pyfalco.plugins import collect, get_plugin_manager
from pyfalco.rules import FieldCatalog, RulesContent, RulesEngine
from pyfalco.testing import free_port
from pyfalco_k8saudit import make_event, split_jsonl

PYFALCO = str(Path(sys.executable).with_name("pyfalco"))


def expected_alerts(rules: Path, objs: list[dict]) -> list[str]:
    """The rule of each alert, computed in-process with rule_matching=first (Falco's default)."""
    pm, failures = get_plugin_manager(
        autoload=False, plugins=[pyfalco_k8saudit.plugin, pyfalco_json.plugin])
    reg = collect(pm, failures)
    engine = RulesEngine(FieldCatalog.from_registry(reg), loaded_sources=["k8s_audit"],
                         plugin_versions={n: p.required_version for n, p in reg.plugins.items()})
    assert engine.load([RulesContent(name=str(rules), text=rules.read_text())]).ok
    ev = engine.evaluator("k8s_audit")
    out = []
    for i, obj in enumerate(objs, 1):
        (ae,), _ = split_jsonl(orjson.dumps(obj), max_event_size=1 << 20)
        evt = make_event(ae)
        evt.num = i
        out.extend(m.rule.name for m in ev.process(evt))
    return out


class Pyfalco:
    """A running pyfalco whose stdout lines are collected by a thread."""

    def __init__(self, args: list[str]) -> None:
        self.proc = subprocess.Popen([PYFALCO, *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self._t = threading.Thread(target=self._read, daemon=True)
        self._t.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    def alerts(self) -> list[dict]:
        return [orjson.loads(line) for line in list(self.lines) if line.startswith("{")]

    def wait_alerts(self, n: int, timeout: float = 60) -> list[dict]:
        deadline = time.monotonic() + timeout
        while len(self.alerts()) < n and time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        return self.alerts()

    def stop(self) -> tuple[int, str, str]:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._t.join(5)
        assert self.proc.stderr is not None
        return self.proc.returncode, "".join(self.lines), self.proc.stderr.read()


def wait_listening(port: int, proc: Pyfalco, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.proc.poll() is not None:
            raise AssertionError(f"pyfalco exited: {proc.stop()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"webhook not listening on {port}: {proc.stop()}")


@pytest.mark.slow
@pytest.mark.parametrize("scheme", ["http", "https"])
def test_webhook_alerts_through_pyfalco(scheme: str, upstream: Path, traces: Path, pki: Path,
                                        tls_client, tmp_path: Path) -> None:
    rules = upstream / "rules" / "k8s_audit_rules.yaml"
    objs = []
    for path in sorted(traces.glob("*.json")):
        events, _ = split_jsonl(path.read_bytes(), max_event_size=1 << 20)
        objs.extend(e.obj for e in events)
    expected = expected_alerts(rules, objs)
    assert len(expected) > 30

    port, web_port = free_port(), free_port()
    conf = tmp_path / "falco.yaml"
    conf.write_text(f"""\
stdout_output: {{enabled: true}}
json_output: true
json_include_output_property: true
log_stderr: true
log_syslog: false
webserver:
  enabled: true
  listen_address: 127.0.0.1
  listen_port: {web_port}
  prometheus_metrics_enabled: true
metrics: {{enabled: true, interval: 1h}}
priority: debug
plugins:
  - name: k8saudit
    init_config:
      sslCertificate: {pki / "server.pem"}
      maxEventSize: 4000
    open_params: "{scheme}://127.0.0.1:{port}/k8s-audit"
  - name: json
    init_config: ""
load_plugins: [k8saudit, json]
""")
    falco = Pyfalco(["-c", str(conf), "-r", str(rules), "--enable-source=k8s_audit"])
    try:
        wait_listening(port, falco)
        if scheme == "https":
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                "127.0.0.1", port, context=tls_client(False), timeout=10)
        else:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        big = dict(objs[0], auditID="too-big", requestObject={"pad": "x" * 5000})
        batches = [objs[i:i + 10] for i in range(0, len(objs), 10)] + [[big]]
        for items in batches:
            conn.request("POST", "/k8s-audit", headers={"Content-Type": "application/json"},
                         body=orjson.dumps({"kind": "EventList", "apiVersion": "audit.k8s.io/v1",
                                            "metadata": {}, "items": items}))
            resp = conn.getresponse()
            assert resp.status == 200, resp.read()
            resp.read()
        conn.request("POST", "/k8s-audit", body=b"{}", headers={"Content-Type": "text/plain"})
        resp = conn.getresponse()
        assert (resp.status, resp.read()) == (400, b"wrong Content Type\n")
        conn.close()
        alerts = falco.wait_alerts(len(expected))
        # the oversized event is in the last body: its drop may be counted after the alerts
        # of the earlier bodies arrived, so poll until it shows (bounded)
        deadline = time.monotonic() + 15
        while True:
            web = http.client.HTTPConnection("127.0.0.1", web_port, timeout=10)
            web.request("GET", "/metrics")
            metrics = web.getresponse().read().decode()
            web.close()
            if ('falcosecurity_plugins_drops_oversize_total{evt_source="k8s_audit"} 1'
                    in metrics or time.monotonic() > deadline):
                break
            time.sleep(0.2)
    finally:
        rc, stdout, stderr = falco.stop()
    context = f"\n--- stdout\n{stdout[-3000:]}\n--- stderr\n{stderr[-3000:]}"
    assert rc == 0, context
    assert sorted(a["rule"] for a in alerts) == sorted(expected), context
    assert {a["source"] for a in alerts} == {"k8s_audit"}
    exec_alert = next(a for a in alerts if a["rule"] == "Attach/Exec Pod"
                      and a["output_fields"]["ka.target.subresource"] == "exec")
    assert exec_alert["priority"] == "Notice"
    assert exec_alert["output_fields"]["ka.uri.param[command]"] == "bash"
    assert "command=bash" in exec_alert["output"]
    assert f"Events detected: {len(expected)}" in stdout, context
    assert "event larger than maxEventSize: size=" in stderr, context
    # the instance's counters reach the Prometheus metrics
    def metric(name: str) -> float:
        m = re.search(rf'^{name}{{evt_source="k8s_audit"}} ([0-9.e+]+)$', metrics, re.M)
        assert m, f"{name} not in\n{metrics}"
        return float(m.group(1))

    assert metric("falcosecurity_plugins_drops_oversize_total") == 1
    assert metric("falcosecurity_plugins_drops_total") == 1
    assert metric("falcosecurity_plugins_webhook_bad_requests_total") == 1
    assert metric("falcosecurity_plugins_webhook_requests_total") == len(batches)
