"""pyfalco end to end on the gvisor engine: real sandboxes, the real app, the rules engine.

Run as Falco is run: ``pyfalco -c falco.yaml -r rules.yaml``; sandboxes started with
``runsc --pod-init-config=<the engine's session config> do ...`` perform the actions.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from pyfalco.testing import free_port
from pyfalco_gvisor.sandbox import Sandbox
from pyfalco_gvisor.session import generate_config

pytestmark = [pytest.mark.root, pytest.mark.runsc, pytest.mark.slow]

DATA = Path(__file__).parent / "data"
PYFALCO = str(Path(sys.executable).parent / "pyfalco")

# read a sensitive file, exec a shell, open a connection, write below /etc
ACTIONS = (
    "cat /etc/shadow > /dev/null; "
    "sh -c 'echo x > /etc/pyfalco-e2e'; "
    "/usr/bin/python3 -S -c \"import socket; s = socket.socket(); s.bind(('127.0.0.1', 8080)); "
    "s.listen(); socket.create_connection(('127.0.0.1', 8080))\""
)


OURS = {"gVisor sensitive file read", "gVisor shell spawned", "gVisor outbound connection",
        "gVisor write below etc"}
STOCK = "Read sensitive file untrusted"


class Falco:
    """pyfalco in the background with JSON alerts on stdout."""

    def __init__(self, tmp: Path, rules: list[Path], root: str = "") -> None:
        self.sock = tmp / "gvisor.sock"
        self.session = tmp / "session.json"
        self.session.write_text(generate_config(str(self.sock)))
        self.port = free_port()
        config = tmp / "falco.yaml"
        config.write_text(
            "engine:\n  kind: gvisor\n  gvisor:\n"
            f"    config: {self.session}\n    root: {root or tmp / 'no-root'}\n"
            "json_output: true\nstdout_output:\n  enabled: true\n"
            "syslog_output:\n  enabled: false\n"
            # Prometheus metrics: the engine's counters (runsc's dropped count among them)
            f"webserver:\n  enabled: true\n  listen_address: 127.0.0.1\n"
            f"  listen_port: {self.port}\n  prometheus_metrics_enabled: true\n"
            "log_syslog: false\nrules_files: []\nrule_matching: all\n"
            "metrics:\n  enabled: true\n  interval: 1s\n  output_rule: false\n"
        )
        self.out = open(tmp / "falco.out", "w+")
        self.err = open(tmp / "falco.err", "w+")
        self.proc = subprocess.Popen(
            [PYFALCO, "-c", str(config), *(a for r in rules for a in ("-r", str(r))),
             "--enable-source", "syscall"],
            stdout=self.out, stderr=self.err, stdin=subprocess.DEVNULL,
        )
        end = time.monotonic() + 60
        while not self.sock.exists():
            if self.proc.poll() is not None or time.monotonic() > end:
                self.stop()
                raise AssertionError(f"pyfalco did not start: {self.stderr()}")
            time.sleep(0.05)

    def metrics(self) -> str:
        url = f"http://127.0.0.1:{self.port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.read().decode()

    def alerts(self) -> list[dict]:
        self.out.flush()
        lines = Path(self.out.name).read_text().splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    def stderr(self) -> str:
        self.err.flush()
        return Path(self.err.name).read_text()

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode


def wait_alerts(falco: Falco, done, timeout: float = 60.0) -> list[dict]:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        alerts = falco.alerts()
        if done(alerts):
            return alerts
        time.sleep(0.2)
    return falco.alerts()


def test_actions_in_sandboxes_fire_rules_with_process_file_and_container(tmp_path, upstream):
    # Falco's own rules beside ours: the stock "Read sensitive file untrusted" must fire as well
    falco = Falco(tmp_path, [upstream / "rules" / "falco_rules.yaml", DATA / "e2e_rules.yaml"])
    try:
        with Sandbox(["/bin/bash", "-c", ACTIONS], str(falco.session), tmp_path) as a, \
                Sandbox(["/bin/bash", "-c", ACTIONS], str(falco.session), tmp_path) as b:
            a.wait()
            b.wait()

        def complete(alerts):
            return len({(x["rule"], x["output_fields"].get("container.id")) for x in alerts
                        if x["rule"] in OURS}) >= 8 and any(x["rule"] == STOCK for x in alerts)

        alerts = wait_alerts(falco, complete)
        metrics = falco.metrics()
    finally:
        rc = falco.stop()
    assert rc == 0, falco.stderr()
    by_rule: dict[str, list[dict]] = {}
    for alert in alerts:
        by_rule.setdefault(alert["rule"], []).append(alert)
    stock = by_rule.pop(STOCK, [])
    assert set(by_rule) == OURS, alerts
    assert stock and {a["output_fields"]["proc.name"] for a in stock} == {"cat"}
    assert {a["output_fields"]["fd.name"] for a in stock} == {"/etc/shadow"}
    containers = {a["output_fields"]["container.id"] for rule in by_rule.values() for a in rule}
    assert len(containers) == 2 and all(c and c.startswith("runsc-") for c in containers)
    for rule in by_rule.values():
        # both sandboxes seen by every rule
        assert {a["output_fields"]["container.id"] for a in rule} == containers
    read = by_rule["gVisor sensitive file read"][0]["output_fields"]
    assert (read["fd.name"], read["proc.name"]) == ("/etc/shadow", "cat")
    assert read["container.type"] == "gvisor"
    write = by_rule["gVisor write below etc"][0]["output_fields"]
    assert (write["fd.name"], write["proc.name"]) == ("/etc/pyfalco-e2e", "sh")
    shells = {a["output_fields"]["proc.name"] for a in by_rule["gVisor shell spawned"]}
    assert shells >= {"bash", "sh"}
    conn = by_rule["gVisor outbound connection"][0]["output_fields"]
    assert conn["fd.name"].endswith("->127.0.0.1:8080") and conn["proc.name"] == "python3"
    # gVisor reports no local end (0.0.0.0:0): the peer is still the remote side
    assert (conn["fd.rip"], conn["fd.rport"]) == ("127.0.0.1", 8080)
    # the engine's counters reach the metrics: Falco's scap.n_* names and runsc's dropped count
    samples = {line.split("{")[0]: line for line in metrics.splitlines()
               if line.startswith("falcosecurity_scap_")}
    for name in ("n_evts", "n_drops", "n_drops_bug", "gvisor_dropped", "connections"):
        assert f"falcosecurity_scap_{name}_total" in samples, sorted(samples)
    def value(name: str) -> float:
        return float(samples[f"falcosecurity_scap_{name}_total"].rsplit(" ", 1)[1])

    assert value("connections") == 2 and value("n_drops_bug") == 0
    assert value("n_evts") > 100


def test_running_sandbox_is_attached_and_its_processes_known(tmp_path):
    # A sandbox started without any trace session; pyfalco attaches to it at start
    # (runsc trace create --force) and learns its processes (runsc trace procfs): the loop's
    # shell, which started before pyfalco, is the known parent of the reads that follow.
    loop = "while :; do cat /etc/shadow > /dev/null; sleep 0.3; done"
    with Sandbox(["/bin/sh", "-c", loop], None, tmp_path) as sb:
        root = sb.state_root()
        time.sleep(1)
        falco = Falco(tmp_path, [DATA / "e2e_rules.yaml"], root=root)
        try:
            alerts = wait_alerts(falco, lambda a: any(
                x["rule"] == "gVisor sensitive file read" for x in a), timeout=30)
            metrics = falco.metrics()
        finally:
            rc = falco.stop()
    assert rc == 0, falco.stderr()
    reads = [a["output_fields"] for a in alerts if a["rule"] == "gVisor sensitive file read"]
    assert reads, falco.stderr()
    assert reads[0]["proc.name"] == "cat" and reads[0]["fd.name"] == "/etc/shadow"
    assert reads[0]["container.id"].startswith("runsc-")
    assert reads[0]["container.type"] == "gvisor"
    assert reads[0]["proc.pname"] == "sh"
    seeded = [line for line in metrics.splitlines()
              if line.startswith("falcosecurity_scap_seeded_processes_total")]
    assert seeded and float(seeded[0].rsplit(" ", 1)[1]) >= 1  # the loop's sh, from procfs
