"""The metrics section: interval checks with Falco's messages, snapshots to the outputs and
to a file, names and sanitisation."""

from __future__ import annotations

import json

import pytest
from pyfalco.errors import ConfigError
from pyfalco.metrics import (
    INTERVAL_NO_UNIT,
    INTERVAL_TOO_SMALL,
    NO_METRICS_OUTPUT,
    MetricsConfig,
    MetricsSnapshot,
    MetricsWriter,
    SourceMetrics,
    parse_duration_ms,
    registry_for,
    sanitize_metric_name,
)
from pyfalco.outputs import OutputsManager, RuleMatchCount
from pyfalco.priority import Priority


@pytest.mark.parametrize("text,ms", [("1h", 3_600_000), ("1h30m", 5_400_000), ("500ms", 500),
                                     ("1m 30s", 90_000), ("2w", 14 * 86_400_000), ("x", 0),
                                     ("", 0), ("10", 0)])
def test_parse_duration(text, ms):
    assert parse_duration_ms(text) == ms


def test_interval_checks_with_falcos_messages():
    base = {"metrics": {"enabled": True, "output_rule": True}}
    with pytest.raises(ConfigError) as err:
        MetricsConfig.from_config(base)  # code default interval "5000": no unit
    assert str(err.value) == INTERVAL_NO_UNIT
    with pytest.raises(ConfigError) as err:
        MetricsConfig.from_config({"metrics": {**base["metrics"], "interval": "50ms"}})
    assert str(err.value) == INTERVAL_TOO_SMALL
    with pytest.raises(ConfigError, match="minimum value of 100ms"):
        MetricsConfig.from_config({"metrics": {**base["metrics"], "interval": "soon"}})
    with pytest.raises(ConfigError) as err:
        MetricsConfig.from_config({"metrics": {"enabled": True, "interval": "1s"}})
    assert str(err.value) == NO_METRICS_OUTPUT
    ok = MetricsConfig.from_config({"metrics": {"enabled": True, "interval": "1h"},
                                    "webserver": {"prometheus_metrics_enabled": True}})
    assert ok.interval_ms == 3_600_000 and ok.prometheus
    assert MetricsConfig.from_config({}).enabled is False  # disabled: nothing is checked


def test_sanitize():
    assert (sanitize_metric_name("Read sensitive file (untrusted)")
            == "Read_sensitive_file_untrusted")
    assert sanitize_metric_name("falco_rules.local") == "falco_rules_local"


class Clock:
    def __init__(self):
        self.evts = {"syscall": 0, "k8s_audit": 0}
        self.now = 2_000_000_000_000_000_000

    def __call__(self):
        return MetricsSnapshot(
            falco_version="0.1.0", hostname="h", start_ts_ns=self.now - 10 * 10**9,
            now_ns=self.now, outputs={"outputs_queue_num_drops": 0},
            sources=[SourceMetrics(s, n, "source_plugin", {"drops": 0})
                     for s, n in self.evts.items()],
            rule_matches=[RuleMatchCount("Rule A (x)", Priority.NOTICE, "syscall", (), 2)],
            rules_files_sha256={"/etc/falco/falco_rules.yaml": "abc"},
        )


def test_snapshots_to_outputs_and_file(tmp_path, capsys):
    clock = Clock()
    out = OutputsManager({"stdout_output": {"enabled": True}, "json_output": True},
                         hostname="h").start()
    cfg = MetricsConfig.from_config({"metrics": {"enabled": True, "interval": "1s",
                                                 "output_rule": True,
                                                 "output_file": str(tmp_path / "m.jsonl")}})
    writer = MetricsWriter(cfg, clock, out)
    clock.evts["k8s_audit"] = 50
    assert writer.tick() == 1  # the idle syscall source emits no snapshot
    clock.now += 10**9
    clock.evts["k8s_audit"] = 80
    clock.evts["syscall"] = 5
    assert writer.tick() == 2
    out.close()
    alerts = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [a["output_fields"]["evt.source"] for a in alerts] == ["k8s_audit", "syscall",
                                                                   "k8s_audit"]
    first = alerts[0]
    assert first["rule"] == "Falco internal: metrics snapshot"
    assert first["output"] == "Falco metrics snapshot"
    assert first["priority"] == "Informational" and first["source"] == "internal"
    of = first["output_fields"]
    assert of["falco.num_evts"] == 50 and of["falco.num_evts_prev"] == 0
    assert of["falco.rules.Rule_A_x"] == 2 and of["falco.rules.matches_total"] == 2
    assert of["falco.sha256_rules_file.falco_rules"] == "abc"
    assert "plugins.drops" not in of  # zero values omitted without include_empty_values
    k8s_second = [a for a in alerts if a["output_fields"]["evt.source"] == "k8s_audit"][1]
    assert k8s_second["output_fields"]["falco.num_evts_prev"] == 50
    assert k8s_second["output_fields"]["falco.evts_rate_sec"] == 30.0
    lines = [json.loads(x) for x in (tmp_path / "m.jsonl").read_text().splitlines()]
    assert [x["sample"] for x in lines] == [1, 2, 3]
    assert lines[0]["output_fields"] == of


def test_prometheus_client_registry():
    from prometheus_client import generate_latest

    text = generate_latest(registry_for(Clock())).decode()
    assert "falcosecurity_falco_rules_matches_total{" in text


def test_bad_metrics_values_name_the_key():
    with pytest.raises(ConfigError, match="'metrics.enabled'"):
        MetricsConfig.from_config({"metrics": {"enabled": "maybe"}})
    with pytest.raises(ConfigError, match="'webserver.prometheus_metrics_enabled'"):
        MetricsConfig.from_config({"webserver": {"prometheus_metrics_enabled": [1]}})


def test_unwritable_output_file_is_counted(tmp_path, caplog):
    clock = Clock()
    cfg = MetricsConfig.from_config({"metrics": {
        "enabled": True, "interval": "1s", "output_file": str(tmp_path / "no" / "m.jsonl")}})
    writer = MetricsWriter(cfg, clock)
    clock.evts["syscall"] = 1
    with caplog.at_level("ERROR", "pyfalco.metrics"):
        writer.tick()
    assert writer.lost == 1 and "metrics: cannot write" in caplog.text


def test_writer_thread_runs_on_interval(tmp_path):
    clock = Clock()
    clock.evts["syscall"] = 1
    out_file = tmp_path / "m.jsonl"
    cfg = MetricsConfig.from_config({"metrics": {"enabled": True, "interval": "100ms",
                                                 "output_file": str(out_file)}})
    writer = MetricsWriter(cfg, clock).start()
    import time

    deadline = time.monotonic() + 10
    while not out_file.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    writer.stop()
    assert json.loads(out_file.read_text().splitlines()[0])["sample"] == 1
