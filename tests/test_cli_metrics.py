"""The app's counts reach the webserver's /metrics and the periodic snapshots (per-source event
counts, instance counters, rule matches), with the real pyfalco command."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from pyfalco.testing import free_port

# tinysrc is installed for these tests only, like a user's plugin (root conftest.py)
pytestmark = pytest.mark.usefixtures("third_party_plugins")

PYFALCO = str(Path(sys.executable).with_name("pyfalco"))

RULES = """\
- rule: Tiny tick
  desc: every tiny event
  condition: tiny.n > 0
  output: tick %tiny.n
  priority: INFO
  source: tiny
  tags: [t]
"""


def get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return resp.status, resp.read().decode()


def wait_get(url: str, proc: subprocess.Popen, timeout: float = 30) -> tuple[int, str]:
    end = time.monotonic() + timeout
    while True:
        try:
            return get(url)
        except OSError:
            if time.monotonic() > end or proc.poll() is not None:
                raise
            time.sleep(0.1)


def start_tinysrc(tmp_path, config: str) -> subprocess.Popen:
    """pyfalco with ``config`` (falco.yaml text) and RULES, the tiny source only."""
    cfg = tmp_path / "falco.yaml"
    cfg.write_text(config)
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    return subprocess.Popen([PYFALCO, "-c", str(cfg), "-r", str(rules),
                             "--disable-source=syscall"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_metrics_endpoint_and_snapshots(tmp_path):
    port = free_port()
    snapshots = tmp_path / "metrics.jsonl"
    proc = start_tinysrc(tmp_path, textwrap.dedent(f"""\
        stdout_output: {{enabled: true}}
        log_stderr: true
        log_syslog: false
        watch_config_files: false
        webserver:
          enabled: true
          listen_address: 127.0.0.1
          listen_port: {port}
          prometheus_metrics_enabled: true
        metrics:
          enabled: true
          interval: 200ms
          output_rule: false
          output_file: {snapshots}
        plugins:
          - name: tinysrc
            open_params: count=100000,every_ms=20
        """))
    try:
        status, body = wait_get(f"http://127.0.0.1:{port}/healthz", proc)
        assert status == 200 and json.loads(body) == {"status": "ok"}
        versions = json.loads(get(f"http://127.0.0.1:{port}/versions")[1])
        assert versions["plugin_versions"]["tinysrc"] == "1.2.0"
        time.sleep(1.0)
        _, text = get(f"http://127.0.0.1:{port}/metrics")
        lines = text.splitlines()
        assert 'falcosecurity_scap_engine_name_info{engine_name="source_plugin",' \
               'evt_source="tiny"} 1' in lines
        (events,) = [ln for ln in lines if ln.startswith('pyfalco_source_num_evts_total{')]
        assert float(events.rsplit(" ", 1)[1]) > 0
        assert any(ln.startswith('falcosecurity_plugins_emitted_total{evt_source="tiny"}')
                   for ln in lines)
        assert any(ln.startswith("falcosecurity_falco_rules_matches_total{") and
                   'rule_name="Tiny tick"' in ln and 'tag_t="true"' in ln for ln in lines)
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Setting metrics interval to 200ms, equivalent to 200 (ms)" in err
    samples = [json.loads(line) for line in snapshots.read_text().splitlines()]
    assert samples and samples[0]["output_fields"]["evt.source"] == "tiny"
    assert samples[-1]["output_fields"]["falco.num_evts"] > 0


@pytest.mark.parametrize(
    ("metrics", "error"),
    [
        ("{enabled: true, interval: 5000, output_rule: true}",
         "Metrics interval was passed as numeric value without Prometheus time unit. Please "
         "specify a time unit"),
        ("{enabled: true, interval: 1h}",
         "Metrics are enabled with no output configured. Please enable at least one output "
         "channel ('metrics.output_rule', 'metrics.output_file' or "
         "'webserver.prometheus_metrics_enabled')"),
    ],
)
def test_metrics_config_errors_in_dry_run(tmp_path, metrics, error):
    cfg = tmp_path / "falco.yaml"
    cfg.write_text(f"stdout_output: {{enabled: true}}\nmetrics: {metrics}\n"
                   "plugins: [{name: tinysrc}]\n")
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    r = subprocess.run([PYFALCO, "-c", str(cfg), "-r", str(rules), "--dry-run"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert r.stderr.endswith(f"Error: {error}\n")


def test_metrics_endpoint_follows_metrics_enabled(tmp_path):
    """webserver.prometheus_metrics_enabled alone does not serve /metrics: Falco also needs
    metrics.enabled (the app passes MetricsConfig.enabled to the Webserver)."""
    port = free_port()
    proc = start_tinysrc(tmp_path, textwrap.dedent(f"""\
        stdout_output: {{enabled: true}}
        log_stderr: true
        log_syslog: false
        watch_config_files: false
        webserver: {{enabled: true, listen_address: 127.0.0.1, listen_port: {port},
                     prometheus_metrics_enabled: true}}
        metrics: {{enabled: false}}
        plugins:
          - name: tinysrc
            open_params: count=100000,every_ms=50
        """))
    try:
        assert wait_get(f"http://127.0.0.1:{port}/healthz", proc)[0] == 200
        with pytest.raises(urllib.error.HTTPError) as exc:
            get(f"http://127.0.0.1:{port}/metrics")
        assert exc.value.code == 404
    finally:
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
