"""The plugin's source end to end up to the engine's door: audit events put into CloudWatch
(moto) come out of SourceSpec.open as k8s_audit events with k8saudit's fields working."""

from __future__ import annotations

import time
import uuid

import orjson
import pytest
from pyfalco.api import OpenContext
from pyfalco_k8saudit import FIELDS, parse_rfc3339_ns
from pyfalco_k8saudit_eks import plugin
from pyfalco_k8saudit_eks.poller import log_group_of

FIELD = {f.name: f for f in FIELDS}
TRACES = ["create_nginx_pod_privileged.json", "attach_cluster_admin_role.json", "exec_pod.json"]


def read_events(instance, want, timeout=30):
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < want and time.monotonic() < deadline:
        got += instance.next_batch()
    return got


def test_audit_events_from_cloudwatch_become_k8s_audit_events(logs_client, moto_url, upstream):
    cluster = f"eks-{uuid.uuid4().hex[:8]}"
    group = log_group_of(cluster)
    logs_client.create_log_group(logGroupName=group)
    logs_client.create_log_stream(logGroupName=group, logStreamName="kube-apiserver-audit-1")
    traces = upstream / "falco-tests" / "trace_files" / "k8s_audit"
    messages = [(traces / name).read_text().strip() for name in TRACES]
    messages.append('{"kind":"Nope"}')  # counted, not an audit event
    messages.append("not json at all")  # counted
    now = int(time.time() * 1000)
    logs_client.put_log_events(
        logGroupName=group, logStreamName="kube-apiserver-audit-1",
        logEvents=[{"timestamp": now - 1000 + i, "message": m} for i, m in enumerate(messages)])
    (spec,) = [s for s in _sources() if s.plugin == "k8saudit-eks"]
    ctx = OpenContext(init_config={"endpoint_url": moto_url, "shift": 60, "polling_interval": 0.2},
                      open_params=cluster)
    inst = spec.open(ctx)
    try:
        events = read_events(inst, 3)
        time.sleep(0.5)
        events += inst.next_batch()
        counters = inst.counters()
    finally:
        inst.close()
    assert len(events) == 3
    for evt, msg in zip(events, messages, strict=False):
        obj = orjson.loads(msg)
        assert evt.source == "k8s_audit" and evt.plugin_id == 9
        assert evt.ts == parse_rfc3339_ns(obj["stageTimestamp"])
        assert FIELD["ka.auditid"].extract(evt) == obj["auditID"]
    assert FIELD["ka.verb"].extract(events[0]) == "create"
    assert FIELD["ka.target.resource"].extract(events[0]) == "pods"
    assert counters["drops_unrecognized"] == 1
    assert counters["drops_malformed"] == 1
    assert counters["drops"] == 2


def _sources():
    out = []
    plugin.pyfalco_register_sources(out.append)
    return out


@pytest.mark.parametrize("size, dropped", [(100, 3), (262144, 0)])
def test_max_event_size_is_applied(logs_client, moto_url, upstream, size, dropped):
    cluster = f"eks-{uuid.uuid4().hex[:8]}"
    group = log_group_of(cluster)
    logs_client.create_log_group(logGroupName=group)
    logs_client.create_log_stream(logGroupName=group, logStreamName="kube-apiserver-audit-1")
    traces = upstream / "falco-tests" / "trace_files" / "k8s_audit"
    now = int(time.time() * 1000)
    logs_client.put_log_events(
        logGroupName=group, logStreamName="kube-apiserver-audit-1",
        logEvents=[{"timestamp": now - 100 + i, "message": (traces / n).read_text().strip()}
                   for i, n in enumerate(TRACES)])
    (spec,) = _sources()
    inst = spec.open(OpenContext(init_config={"endpoint_url": moto_url, "shift": 60,
                                              "polling_interval": 0.2, "max_event_size": size},
                                 open_params=cluster))
    try:
        events = read_events(inst, 3 - dropped, timeout=10)
        time.sleep(0.5)
        events += inst.next_batch()
        c = inst.counters()
    finally:
        inst.close()
    assert len(events) == 3 - dropped
    assert c.get("drops_oversize", 0) == dropped
