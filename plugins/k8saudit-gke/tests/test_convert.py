"""LogEntry → audit Event mapping (plugins.md §4.4), upstream quirks as decided in the README."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from gke_testlib import (
    cluster_admin_binding,
    gke_entry,
    pod_exec,
    privileged_pod_create,
    secret_get,
)
from pyfalco_k8saudit_gke.convert import Rejected, parse_object_ref, to_audit_event

T = datetime(2026, 11, 29, 12, 0, 0, 123456, tzinfo=UTC)


@pytest.mark.parametrize(
    "name, ref",
    [
        ("core/v1/namespaces/default/pods/nginx",
         {"namespace": "default", "resource": "pods", "name": "nginx"}),
        ("core/v1/namespaces/default/pods", {"namespace": "default", "resource": "pods"}),
        ("core/v1/namespaces/foo", {"resource": "namespaces", "name": "foo"}),
        ("core/v1/namespaces/default/pods/web-0/exec",
         {"namespace": "default", "resource": "pods", "name": "web-0", "subresource": "exec"}),
        ("core/v1/nodes/n1/status", {"resource": "nodes", "name": "n1", "subresource": "status"}),
        ("rbac.authorization.k8s.io/v1/clusterrolebindings/x",
         {"resource": "clusterrolebindings", "name": "x"}),
        ("core/v1", None),
        ("", None),
    ],
)
def test_object_ref_from_resource_name(name, ref):
    got = parse_object_ref(name)
    if ref is None:
        assert got is None
    else:
        assert {k: v for k, v in got.items() if k not in ("apiGroup", "apiVersion")} == ref


def test_pod_create_mapping():
    entry = privileged_pod_create(T)
    ev, ts = to_audit_event(entry)
    assert ev["kind"] == "Event" and ev["apiVersion"] == "audit.k8s.io/v1"
    assert ev["auditID"] == entry["insertId"]
    assert ev["verb"] == "create"
    assert ev["stage"] == "ResponseComplete" and ev["level"] == "RequestResponse"
    assert ev["requestURI"] == "/core/v1/namespaces/default/pods/priv"
    assert ev["user"] == {"username": "alice@example.com"}
    assert ev["sourceIPs"] == ["203.0.113.7"]
    assert ev["responseStatus"]["code"] == 201
    assert ev["requestObject"]["spec"]["containers"][0]["securityContext"]["privileged"] is True
    assert ev["objectRef"]["apiGroup"] == "core" and ev["objectRef"]["apiVersion"] == "v1"
    # event time = receiveTimestamp (upstream), k8s MicroTime
    assert ev["stageTimestamp"] == "2026-11-29T12:00:00.473456Z"
    assert ts % 10**9 == 473456000
    # annotations: entry labels ∪ resource labels
    assert ev["annotations"]["authorization.k8s.io/decision"] == "allow"
    assert ev["annotations"]["cluster_name"] == "prod"
    assert ev["annotations"]["project_id"] == "proj-1"


def test_exec_is_response_started_with_101():
    ev, _ = to_audit_event(pod_exec(T))
    assert ev["stage"] == "ResponseStarted" and ev["level"] == "Request"
    assert ev["objectRef"]["subresource"] == "exec"
    assert ev["responseStatus"]["code"] == 101
    assert "?" not in ev["requestURI"]  # quirk kept: no query string, ka.uri.param has no value


def test_get_is_inferred_200_unless_use_status():
    entry = secret_get(T, status={"code": 7, "message": "forbidden"})
    assert to_audit_event(entry)[0]["responseStatus"]["code"] == 200
    assert to_audit_event(entry, use_status=True)[0]["responseStatus"]["code"] == 403


def test_resource_labels_win_over_entry_labels():
    entry = cluster_admin_binding(T)
    entry["labels"]["cluster_name"] = "spoofed"
    ev, _ = to_audit_event(entry)
    assert ev["annotations"]["cluster_name"] == "prod"


@pytest.mark.parametrize(
    "mutate, reason",
    [
        (lambda e: e.update(logName="projects/p/logs/stdout"), "unrecognized"),
        (lambda e: e["resource"].update(type="gce_instance"), "unrecognized"),
        (lambda e: e["protoPayload"].update({"@type": "type.googleapis.com/x.Y"}), "unrecognized"),
        (lambda e: e["protoPayload"].update(serviceName="compute.googleapis.com"), "unrecognized"),
        (lambda e: e.pop("protoPayload"), "unrecognized"),
        (lambda e: e.update(receiveTimestamp="yesterday"), "malformed"),
        (lambda e: e.pop("receiveTimestamp"), "malformed"),
        (lambda e: e["protoPayload"].pop("methodName"), "malformed"),
        (lambda e: e["protoPayload"].update(resourceName=42), "malformed"),
        (lambda e: e.pop("insertId"), "malformed"),
    ],
)
def test_bad_entries_are_rejected_with_a_reason(mutate, reason):
    entry = gke_entry("io.k8s.core.v1.pods.get", "core/v1/namespaces/a/pods/b", when=T)
    mutate(entry)
    with pytest.raises(Rejected) as err:
        to_audit_event(entry)
    assert err.value.reason == reason


def test_non_object_entry_is_malformed():
    with pytest.raises(Rejected) as err:
        to_audit_event(["not", "an", "entry"])
    assert err.value.reason == "malformed"
