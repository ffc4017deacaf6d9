"""End to end as Falco is run: ``pyfalco -c falco.yaml`` with k8saudit-gke reading the loopback
Cloud Logging server; GKE audit entries raise the default rules' alerts, with the GKE overlay."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from gke_testlib import cluster_admin_binding, pod_exec, privileged_pod_create, secret_get
from pyfalco.testing import run_until_alerts


def run_pyfalco(tmp_path: Path, plugin_cfg: str, want: int, timeout: float = 60) -> tuple[
        list[dict], str, int]:
    """pyfalco with ``plugin_cfg`` and JSON output, the syscall source disabled, until
    ``want`` alerts; returns (alerts, stderr, exit code)."""
    conf = tmp_path / "falco.yaml"
    conf.write_text(plugin_cfg + "\njson_output: true\nstdout_output:\n  enabled: true\n")
    return run_until_alerts(conf, want, ("--disable-source", "syscall"), timeout)


def config(server, extra: str = "") -> str:
    return f"""
plugins:
  - name: k8saudit-gke
    init_config:
      project_id: proj-1
      anonymous_credentials: true
      api_endpoint: {server.url}
      polling_interval: 0.2
      shift: 600
    open_params: proj-1/europe-west1/prod
  - name: json
load_plugins: [k8saudit-gke, json]
rule_matching: all
{extra}"""


@pytest.mark.slow
def test_gke_audit_entries_raise_the_expected_alerts(logging_server, tmp_path):
    t = datetime.now(UTC) - timedelta(seconds=30)
    robot = "service-123@container-engine-robot.iam.gserviceaccount.com"
    logging_server.add(
        privileged_pod_create(t),
        pod_exec(t + timedelta(seconds=1)),
        secret_get(t + timedelta(seconds=2)),
        cluster_admin_binding(t + timedelta(seconds=3)),
        # GKE's control plane: trusted by the GKE overlay (no Disallowed K8s User)
        secret_get(t + timedelta(seconds=4), user=robot),
        # another cluster: outside the open_params selection
        privileged_pod_create(t + timedelta(seconds=5), cluster="dev"),
    )
    want = Counter({
        "Create Privileged Pod": 1,
        "Attach/Exec Pod": 1,
        "K8s Secret Get Successfully": 2,
        "Attach to cluster-admin Role": 1,
        "K8s ClusterRoleBinding Created": 1,  # an INFO activity rule
        # alice@example.com is not in allowed_k8s_users: every ResponseComplete event of hers
        "Disallowed K8s User": 3,
    })
    alerts, err, rc = run_pyfalco(tmp_path, config(logging_server), want.total())
    assert rc == 0, err
    assert Counter(a["rule"] for a in alerts) == want, err
    execs = [a for a in alerts if a["rule"] == "Attach/Exec Pod"]
    # GKE quirk kept: requestURI has no query string, so the command is <NA>
    assert "command=<NA>" in execs[0]["output"]
    assert execs[0]["output_fields"]["ka.target.name"] == "web-0"
    users = {a["output_fields"].get("ka.user.name") for a in alerts
             if a["rule"] == "Disallowed K8s User"}
    assert users == {"alice@example.com"}


@pytest.mark.slow
def test_quota_errors_are_retried_under_pyfalco(logging_server, tmp_path):
    t = datetime.now(UTC) - timedelta(seconds=30)
    logging_server.add(cluster_admin_binding(t))
    logging_server.faults = [429, 503]
    extra = "rules:\n  - disable:\n      rule: Disallowed K8s User\n"
    alerts, err, rc = run_pyfalco(tmp_path, config(logging_server, extra), 2)
    assert rc == 0, err
    assert sorted(a["rule"] for a in alerts) == [
        "Attach to cluster-admin Role", "K8s ClusterRoleBinding Created"]
    assert len(logging_server.requests) >= 3  # 429, 503, then the page
