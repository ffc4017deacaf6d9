"""End to end as Falco is run: ``pyfalco -c falco.yaml`` with k8saudit-eks reading a real moto
server; audit events put into the cluster's log group raise the default rules' alerts."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
from pyfalco.testing import run_until_alerts
from pyfalco_k8saudit_eks.poller import log_group_of

# trace file (Falco's k8s audit test data, one audit event per line) -> the rule the default
# rules raise for it and how often (Falco's own regression expectations)
EXPECTED = {
    "create_nginx_pod_privileged.json": ("Create Privileged Pod", 1),
    "attach_cluster_admin_role.json": ("Attach to cluster-admin Role", 1),
    "create_nginx_pod_hostnetwork.json": ("Create HostNetwork Pod", 1),
    "create_configmap_sensitive_values.json": (
        "Create/Modify Configmap With Private Credentials", 6),
    "create_nginx_service_nodeport.json": ("Create NodePort Service", 1),
}


def run_pyfalco(tmp_path: Path, plugin_cfg: str, want: int, timeout: float = 60) -> tuple[
        list[dict], str, int]:
    """pyfalco with ``plugin_cfg`` and JSON output, the syscall source disabled, until
    ``want`` alerts; returns (alerts, stderr, exit code)."""
    conf = tmp_path / "falco.yaml"
    conf.write_text(plugin_cfg + "\njson_output: true\nstdout_output:\n  enabled: true\n")
    return run_until_alerts(conf, want, ("--disable-source", "syscall"), timeout)


@pytest.mark.slow
def test_audit_events_in_cloudwatch_raise_the_default_rules_alerts(
        logs_client, moto_url, upstream, tmp_path):
    cluster = f"eks-{uuid.uuid4().hex[:8]}"
    group = log_group_of(cluster)
    logs_client.create_log_group(logGroupName=group)
    traces = upstream / "falco-tests" / "trace_files" / "k8s_audit"
    now = int(time.time() * 1000) - 5000
    for stream in ("kube-apiserver-audit-0", "kube-apiserver-audit-1"):
        logs_client.create_log_stream(logGroupName=group, logStreamName=stream)
    for i, name in enumerate(EXPECTED):
        lines = (traces / name).read_text().splitlines()
        logs_client.put_log_events(
            logGroupName=group, logStreamName=f"kube-apiserver-audit-{i % 2}",
            logEvents=[{"timestamp": now + i, "message": line} for line in lines if line])
    cfg = f"""
plugins:
  - name: k8saudit-eks
    init_config:
      endpoint_url: {moto_url}
      region: eu-west-1
      shift: 600
      polling_interval: 0.2
    open_params: {cluster}
  - name: json
load_plugins: [k8saudit-eks, json]
"""
    want = Counter(dict(EXPECTED.values()))
    alerts, err, rc = run_pyfalco(tmp_path, cfg, want.total())
    assert rc == 0, err
    assert Counter(a["rule"] for a in alerts) == want, err
    assert {a["source"] for a in alerts} == {"k8s_audit"}
    priv = next(a for a in alerts if a["rule"] == "Create Privileged Pod")
    assert priv["output_fields"]["ka.target.namespace"] == "default"


@pytest.mark.slow
def test_missing_log_group_ends_pyfalco_with_the_error(moto_url, tmp_path):
    cfg = f"""
plugins:
  - name: k8saudit-eks
    init_config: {{endpoint_url: "{moto_url}", region: eu-west-1, polling_interval: 0.2}}
    open_params: nope
  - name: json
load_plugins: [k8saudit-eks, json]
"""
    alerts, err, rc = run_pyfalco(tmp_path, cfg, 1, timeout=20)
    assert rc == 1 and alerts == []
    assert "log group '/aws/eks/nope/cluster' not found" in err
