"""Outputs, statistics, webserver and metrics through the real ``pyfalco`` command, with the
third-party test plugin ``tinysrc`` (tests/fixtures) as the event source."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import urllib.request
from pathlib import Path

import pytest

from .conftest import wait_until
from .test_http import falcosidekick_accepts

# tinysrc is installed for these tests only, like a user's plugin (root conftest.py)
pytestmark = pytest.mark.usefixtures("third_party_plugins")

PYFALCO = str(Path(sys.executable).with_name("pyfalco"))

RULES = """\
- required_plugin_versions:
  - name: tinysrc
    version: 1.0.0
- rule: Tiny tick
  desc: every tiny event
  condition: tiny.n > 0
  output: tick %tiny.msg (n=%tiny.n)
  priority: NOTICE
  source: tiny
  tags: [b, a]
- rule: Tiny third
  desc: the third event
  condition: tiny.n = 3
  output: third (n=%tiny.n)
  priority: CRITICAL
  source: tiny
"""


@pytest.fixture
def run_dir(tmp_path):
    (tmp_path / "rules.yaml").write_text(RULES)
    return tmp_path


def config(run_dir: Path, open_params: str, extra: str = "") -> Path:
    path = run_dir / "falco.yaml"
    path.write_text(
        "log_stderr: true\nlog_syslog: false\nwebserver: {enabled: false}\n"
        f"plugins: [{{name: tinysrc, open_params: '{open_params}'}}]\nload_plugins: [tinysrc]\n"
        + textwrap.dedent(extra))
    return path


def pyfalco(run_dir: Path, cfg: Path, *opts: str) -> list[str]:
    return [PYFALCO, "-c", str(cfg), "-r", str(run_dir / "rules.yaml"),
            "--disable-source", "syscall", *opts]


def test_text_alerts_and_end_of_run_statistics(run_dir):
    cfg = config(run_dir, "count=4", "stdout_output: {enabled: true}\nrule_matching: all\n")
    r = subprocess.run(pyfalco(run_dir, cfg), capture_output=True, text=True, timeout=60,
                       env={**os.environ, "TZ": "UTC"})
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    alerts = [line for line in lines if ": Notice " in line or ": Critical " in line]
    assert len(alerts) == 5
    assert alerts[0].endswith(": Notice tick tick 1 (n=1)")
    assert any(line.endswith(": Critical third (n=3)") for line in alerts)
    assert r.stdout.endswith(
        "Events detected: 5\n"
        "Rule counts by severity:\n"
        "   CRITICAL: 1\n"
        "   NOTICE: 4\n"
        "Triggered rules by rule name:\n"
        "   Tiny tick: 4\n"
        "   Tiny third: 1\n")


def test_json_alerts_over_http_are_falcosidekick_payloads(run_dir, http_receiver):
    cfg = config(run_dir, "count=3", f"""\
        json_output: true
        http_output: {{enabled: true, url: "{http_receiver.url}"}}
        """)
    r = subprocess.run(pyfalco(run_dir, cfg, "-o", "json_include_message_property=true"),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    docs = [json.loads(b) for b in http_receiver.bodies()]
    assert len(docs) == 3
    assert all(falcosidekick_accepts(b) for b in http_receiver.bodies())
    first = docs[0]
    assert first["rule"] == "Tiny tick" and first["source"] == "tiny"
    assert first["tags"] == ["a", "b"] and first["message"] == "tick tick 1 (n=1)"
    assert first["output_fields"]["tiny.n"] == 1
    assert isinstance(first["output_fields"]["evt.time"], int)
    assert http_receiver.requests[0].headers["Content-Type"] == "application/json"
    assert r.stdout.startswith("Events detected: 3\n")  # stats on stdout, no stdout alerts


@pytest.mark.slow
def test_sigusr1_reopens_the_file_output(run_dir):
    events, rotated = run_dir / "events.txt", run_dir / "events.txt.1"
    cfg = config(run_dir, "count=600,every_ms=50", f"""\
        file_output: {{enabled: true, keep_alive: true, filename: "{events}"}}
        """)
    proc = subprocess.Popen(pyfalco(run_dir, cfg), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert wait_until(lambda: events.exists() and events.read_text().count("\n") >= 2, 30)
        os.rename(events, rotated)
        proc.send_signal(signal.SIGUSR1)
        assert wait_until(lambda: events.exists() and events.read_text().count("\n") >= 2, 30)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "SIGUSR1 received, reopening outputs..." in err
    old = [int(line.rsplit("n=", 1)[1].rstrip(")")) for line in rotated.read_text().splitlines()
           if "Notice" in line]
    new = [int(line.rsplit("n=", 1)[1].rstrip(")")) for line in events.read_text().splitlines()
           if "Notice" in line]
    assert old and new and max(old) < min(new)  # nothing lost, nothing twice, in order
    assert old + new == list(range(1, len(old) + len(new) + 1))
    assert "Events detected:" in out


@pytest.mark.slow
def test_webserver_and_metrics_during_a_run(run_dir):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = config(run_dir, "count=600,every_ms=20", f"""\
        stdout_output: {{enabled: true}}
        metrics: {{enabled: true, interval: 1h, output_rule: false}}
        webserver: {{enabled: true, listen_address: 127.0.0.1, listen_port: {port},
                     prometheus_metrics_enabled: true}}
        """)
    proc = subprocess.Popen(pyfalco(run_dir, cfg), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"

    def fetch(path):
        try:
            with urllib.request.urlopen(base + path, timeout=5) as resp:
                return resp.status, resp.read().decode()
        except OSError:
            return None, ""

    try:
        assert wait_until(lambda: fetch("/healthz")[0] == 200, 30)
        assert fetch("/healthz") == (200, '{"status": "ok"}')
        versions = json.loads(fetch("/versions")[1])
        assert versions["plugin_versions"]["tinysrc"]

        # rule_matching "first": every event matches "Tiny tick" only
        assert wait_until(lambda: 'rule_name="Tiny tick"' in fetch("/metrics")[1], 30)
        text = fetch("/metrics")[1]
        assert ('falcosecurity_falco_rules_matches_total{priority="5",rule_name="Tiny tick",'
                'source="tiny",tag_a="true",tag_b="true"} ') in text
        assert 'rule_name="Tiny third"' not in text
        assert 'pyfalco_source_num_evts_total{evt_source="tiny"}' in text
        assert 'falcosecurity_scap_engine_name_info{engine_name="source_plugin",' in text
        assert "falcosecurity_falco_outputs_queue_num_drops_total 0" in text
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Starting health webserver with threadiness" in err
