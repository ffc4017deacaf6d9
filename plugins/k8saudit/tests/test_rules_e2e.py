"""End to end with the rules engine: upstream's k8s_audit_rules.yaml loads unchanged with
k8saudit + json; our default rules detect what upstream's detect; audit batches POSTed to the
webhook over HTTP and HTTPS, as the API server posts them, raise the expected alerts."""

from __future__ import annotations

import http.client
import ssl
import time
from collections import Counter
from pathlib import Path

import orjson
import pyfalco_json.plugin
import pyfalco_k8saudit.plugin
import pytest
from pyfalco.plugins import collect, get_plugin_manager
from pyfalco.rules import FieldCatalog, RulesContent, RulesEngine
from pyfalco_k8saudit import DEFAULT_RULES_PATH, SplitStats, make_event, split_jsonl
from pyfalco_k8saudit.config import K8sAuditConfig
from pyfalco_k8saudit.source import open_instance


def engine_for(*paths: Path) -> RulesEngine:
    pm, failures = get_plugin_manager(
        autoload=False, plugins=[pyfalco_k8saudit.plugin, pyfalco_json.plugin])
    reg = collect(pm, failures)
    engine = RulesEngine(FieldCatalog.from_registry(reg), loaded_sources=["k8s_audit"],
                         plugin_versions={n: p.required_version for n, p in reg.plugins.items()})
    result = engine.load([RulesContent(name=str(p), text=p.read_text()) for p in paths])
    assert result.ok, result.as_text(verbose=True)
    return engine


@pytest.fixture(scope="module")
def upstream_rules(upstream: Path) -> Path:
    return upstream / "rules" / "k8s_audit_rules.yaml"


@pytest.fixture(scope="module")
def trace_events(traces: Path) -> list[tuple[str, dict]]:
    out = []
    for path in sorted(traces.glob("*.json")):
        events, _ = split_jsonl(path.read_bytes(), max_event_size=1 << 20)
        out.extend((path.stem, e.obj) for e in events)
    return out


def detections(engine: RulesEngine, objs: list[dict]) -> list[list[str]]:
    """Per event, the names of every rule that matches (rule_matching=all)."""
    ev = engine.evaluator("k8s_audit", rule_matching="all")
    out = []
    for i, obj in enumerate(objs, 1):
        (ae,), _ = split_jsonl(orjson.dumps(obj), max_event_size=1 << 20)
        evt = make_event(ae)
        evt.num = i
        out.append(sorted(m.rule.name for m in ev.process(evt)))
    return out


def test_upstream_rules_load_unchanged(upstream_rules: Path) -> None:
    engine = engine_for(upstream_rules)
    assert len(engine.rules("k8s_audit")) == 48


def test_default_rules_detect_what_upstream_detects(upstream_rules: Path, trace_events) -> None:
    objs = [o for _, o in trace_events]
    theirs = detections(engine_for(upstream_rules), objs)
    ours = detections(engine_for(DEFAULT_RULES_PATH), objs)
    assert ours == theirs
    fired = Counter(name for names in ours for name in names)
    assert len(fired) >= 25  # the traces exercise most rules


def test_expected_alerts_on_known_traces(upstream_rules: Path, trace_events) -> None:
    engine = engine_for(upstream_rules)
    ev = engine.evaluator("k8s_audit", rule_matching="all")
    by_file = {}
    for name, obj in trace_events:
        (ae,), _ = split_jsonl(orjson.dumps(obj), max_event_size=1 << 20)
        evt = make_event(ae)
        evt.num = 1
        by_file.setdefault(name, []).extend((m, evt) for m in ev.process(evt))

    def rules(name: str) -> set[str]:
        return {m.rule.name for m, _ in by_file.get(name, [])}

    assert "Create Privileged Pod" in rules("create_nginx_pod_privileged_2nd_container")
    assert "Create Privileged Pod" not in rules("create_nginx_pod_unprivileged")
    assert "Create Sensitive Mount Pod" in rules("create_nginx_pod_sensitive_mount")
    assert "Create HostNetwork Pod" in rules("create_nginx_pod_hostnetwork")
    assert "Attach/Exec Pod" in rules("exec_pod")
    assert "Anonymous Request Allowed" in rules("anonymous_creates_namespace_foo")
    assert "K8s ClusterRole Created" in rules("create_clusterrole")
    (match, evt), = [(m, e) for m, e in by_file["exec_pod"] if m.rule.name == "Attach/Exec Pod"]
    out = match.output(evt)
    assert "action=exec" in out and "command=bash" in out
    fields = match.output_fields(evt)
    assert fields["ka.uri.param[command]"] == "bash"
    assert fields["ka.target.subresource"] == "exec"


def post_batches(port: int, batches: list[bytes], context: ssl.SSLContext | None) -> None:
    if context is None:
        conn: http.client.HTTPConnection = http.client.HTTPConnection(
            "127.0.0.1", port, timeout=10)
    else:
        conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=10)
    for body in batches:  # one kept-alive connection, as the API server's webhook client
        conn.request("POST", "/k8s-audit", body=body,
                     headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        assert resp.status == 200, resp.read()
        resp.read()
    conn.close()


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_webhook_to_alerts(scheme: str, upstream_rules: Path, trace_events, pki: Path,
                           tls_client) -> None:
    objs = [o for _, o in trace_events]
    expected = detections(engine_for(upstream_rules), objs)
    config = K8sAuditConfig(ssl_certificate=str(pki / "server.pem"))
    inst = open_instance(f"{scheme}://127.0.0.1:0/k8s-audit", config)
    ev = engine_for(upstream_rules).evaluator("k8s_audit", rule_matching="all")
    try:
        batches = [orjson.dumps({"kind": "EventList", "apiVersion": "audit.k8s.io/v1",
                                 "metadata": {}, "items": objs[i:i + 10]})
                   for i in range(0, len(objs), 10)]
        post_batches(inst.port, batches,
                     tls_client(False) if scheme == "https" else None)
        got: list[list[str]] = []
        deadline = time.monotonic() + 20
        while len(got) < len(objs) and time.monotonic() < deadline:
            for evt in inst.next_batch():
                evt.num = len(got) + 1
                matches = ev.process(evt)
                for m in matches:
                    assert m.output(evt)
                got.append(sorted(m.rule.name for m in matches))
    finally:
        inst.close()
    assert got == expected
    assert sum(map(len, got)) > 30


@pytest.mark.parametrize("matching", ["first", "all"])
def test_keyed_evaluation_matches_the_interpreter(upstream_rules: Path, traces: Path,
                                                  matching: str) -> None:
    """k8s_audit rules are indexed by the values they select on (stage, verb, resource): on
    every real trace event, read the fast way (file lines) and the whole way, the evaluator
    answers what interpreting every rule in order answers."""
    from pyfalco.rules.interp import evaluate
    from pyfalco_k8saudit.payload import events_from_lines

    engine = engine_for(upstream_rules)
    ev = engine.evaluator("k8s_audit", rule_matching=matching)
    lines = []
    for path in sorted(traces.glob("*.json")):
        events, _ = split_jsonl(path.read_bytes(), max_event_size=1 << 20)
        lines += [orjson.dumps(e.obj) for e in events]
    fast: list = []
    events_from_lines(lines, fast, max_event_size=1 << 20, stats=SplitStats(), plugin_id=1,
                      where=str)
    whole = [make_event(ae) for line in lines
             for ae in split_jsonl(line, max_event_size=1 << 20)[0]]
    rules = ev.rules
    for evt in [*fast, *whole] * 2:  # twice: the specialized functions once built
        expected = [r.name for r in rules if evaluate(r.ir, evt)]
        got = [m.rule.name for m in ev.process(evt)]
        assert got == (expected[:1] if matching == "first" else expected), evt.data[:200]
    keyed = ev._keyed["pluginevent"]
    assert [op.key for op in keyed.keys] == ["jevt.value[/stage]", "ka.verb",
                                             "ka.target.resource"]
    assert 10 < len(keyed.specialized) < 60 and keyed.overflow == 0
