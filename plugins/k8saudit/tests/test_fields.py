"""ka.* extraction: upstream 0.18.0 semantics, checked on Falco's real trace files and on
hand-made events for the corner cases (spec/plugins.md §2.7, §2.8, README "Upstream quirks")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from pyfalco.api import Event, FieldType
from pyfalco_k8saudit import FIELDS, image_repository, make_event, split_jsonl

BY_NAME = {f.name: f for f in FIELDS}


def field(name: str, evt: Event, arg: Any = None) -> Any:
    return BY_NAME[name].binder(arg)(evt)


def trace_event(traces: Path, name: str, line: int = 0) -> Event:
    events, stats = split_jsonl((traces / f"{name}.json").read_bytes(), max_event_size=1 << 20)
    assert stats.dropped == 0
    return make_event(events[line])


def audit(**overrides: Any) -> Event:
    obj: dict[str, Any] = {"kind": "Event", "auditID": "x", "stage": "ResponseComplete",
                           "stageTimestamp": "2024-01-01T00:00:00Z"}
    obj.update(overrides)
    return Event(orjson.dumps(obj), ts=1, source="k8s_audit", obj=obj)


def pod(*containers: dict, **spec: Any) -> Event:
    return audit(requestObject={"spec": {"containers": list(containers), **spec}},
                 objectRef={"resource": "pods", "namespace": "default"})


def test_table_shape() -> None:
    assert len(FIELDS) == 100
    assert len({f.name for f in FIELDS}) == 100
    assert all(f.type is FieldType.STRING for f in FIELDS)
    names = [f.name for f in FIELDS]
    assert names[:3] == ["ka.auditid", "ka.stage", "ka.auth.decision"]
    assert names[70] == "ka.cluster.name"
    assert names[71] == "ka.req.pod.initContainers.name"
    assert names[-1] == "ka.req.pod.ephemeralContainers.add_capabilities"
    assert "ka.req.pod.ephemeralContainers.host_port" not in names
    assert BY_NAME["ka.uri.param"].arg.required and BY_NAME["ka.uri.param"].arg.key
    assert BY_NAME["ka.req.pod.containers.image"].arg.index
    assert BY_NAME["ka.user.groups"].is_list


def test_exec_pod_trace(traces: Path) -> None:
    evt = trace_event(traces, "exec_pod")
    assert field("ka.stage", evt) == "ResponseStarted"
    assert field("ka.verb", evt) == "create"
    assert field("ka.target.subresource", evt) == "exec"
    assert field("ka.uri.param", evt, "command") == "bash"
    assert field("ka.uri.param", evt, "container") == "nginx1"  # first of two values
    assert field("ka.uri.param", evt, "nope") is None
    assert field("ka.response.code", evt) == "101"  # numbers as their JSON text
    assert field("ka.user.groups", evt) == ["system:masters", "system:authenticated"]
    assert field("ka.auth.decision", evt) == "allow"
    assert field("ka.auth.reason", evt) == ""  # an empty string is a value
    assert field("ka.sourceips", evt) == ["192.168.99.1"]
    assert field("ka.target.pod.name", evt) is None  # subresource set


def test_privileged_second_container_trace(traces: Path) -> None:
    evt = trace_event(traces, "create_nginx_pod_privileged_2nd_container")
    assert field("ka.req.pod.containers.image", evt) == ["nginx", "mysql:latest"]
    assert field("ka.req.pod.containers.image.repository", evt) == ["nginx", "mysql"]
    assert field("ka.req.pod.containers.privileged", evt) == ["false", "true"]
    assert field("ka.req.pod.containers.privileged", evt, 1) == ["true"]
    assert field("ka.req.pod.containers.privileged", evt, 2) is None
    assert field("ka.req.container.privileged", evt) == "true"
    assert field("ka.req.container.image", evt) == "nginx"
    assert field("ka.req.pod.initContainers.privileged", evt) is None
    assert field("ka.target.pod.name", evt) == field("ka.resp.name", evt)


def test_rbac_traces(traces: Path) -> None:
    role = trace_event(traces, "create_cluster_role_wildcard_verbs")
    assert "*" in field("ka.req.role.rules.verbs", role)
    rules = field("ka.req.role.rules", role)
    assert all(orjson.loads(r) for r in rules)
    binding = trace_event(traces, "attach_cluster_admin_role")
    assert field("ka.req.binding.role", binding) == "cluster-admin"
    assert field("ka.req.binding.subject.has_name", binding, "anything") == "true"


def test_configmap_and_service_traces(traces: Path) -> None:
    cm = trace_event(traces, "create_configmap_sensitive_values", 0)
    assert "aws_access_key_id" in field("ka.req.configmap.obj", cm)
    svc = trace_event(traces, "create_nginx_service_nodeport")
    assert field("ka.req.service.type", svc) == "NodePort"
    ports = field("ka.req.service.ports", svc)
    assert ports and all(isinstance(orjson.loads(p), dict) for p in ports)


def test_sensitive_mount_trace(traces: Path) -> None:
    evt = trace_event(traces, "create_nginx_pod_sensitive_mount")
    assert "/etc" in field("ka.req.pod.volumes.hostpath", evt)
    assert field("ka.req.volume.hostpath", evt, "/etc") == "true"
    assert field("ka.req.volume.hostpath", evt, "/et*") == "true"
    assert field("ka.req.volume.hostpath", evt, "/proc") == "false"
    assert "hostPath" in field("ka.req.pod.volumes.volume_type", evt)


def test_no_auditid_means_no_ka_value() -> None:
    obj = {"kind": "Event", "stage": "ResponseComplete", "verb": "get"}
    evt = Event(orjson.dumps(obj), ts=1, obj=obj)
    for f in FIELDS:
        assert f.binder("x" if f.arg else None)(evt) is None, f.name


def test_non_json_payload_has_no_value() -> None:
    evt = Event(b"garbage", ts=1)
    assert field("ka.verb", evt) is None


def test_missing_vs_null_vs_wrong_type() -> None:
    assert field("ka.impuser.name", audit()) is None
    assert field("ka.impuser.name", audit(impersonatedUser={"username": None})) == "null"
    assert field("ka.user.groups", audit(user={"groups": "not-a-list"})) is None
    assert field("ka.user.groups", audit(user={"groups": []})) is None  # empty = no value


def test_container_lists() -> None:
    evt = pod(
        {"name": "a", "image": "reg.io:5000/team/app:1.2@sha256:abc",
         "command": ["sh", "-c", "x"], "ports": [{"containerPort": 80}],
         "securityContext": {"capabilities": {"add": ["NET_ADMIN", "SYS_TIME"]},
                             "runAsUser": 7}},
        {"name": "b", "image": "busybox", "ports": [{"containerPort": 53, "hostPort": 5353}],
         "securityContext": {"privileged": True}},
        securityContext={"runAsUser": 1000, "runAsGroup": 3000},
        initContainers=[{"name": "init", "image": "alpine:3"}],
    )
    assert field("ka.req.pod.containers.name", evt) == ["a", "b"]
    assert field("ka.req.pod.containers.image.repository", evt) == ["reg.io:5000/team/app",
                                                                    "busybox"]
    assert field("ka.req.pod.containers.command", evt) == ["sh -c x"]  # b has none: skipped
    assert field("ka.req.pod.containers.args", evt) is None
    assert field("ka.req.pod.containers.host_port", evt) == ["80", "5353"]
    assert field("ka.req.pod.containers.privileged", evt) == ["true"]  # missing skipped
    assert field("ka.req.pod.containers.add_capabilities", evt) == ["NET_ADMIN", "SYS_TIME"]
    assert field("ka.req.pod.containers.eff_run_as_user", evt) == ["7", "1000"]
    assert field("ka.req.pod.containers.eff_run_as_group", evt) == ["3000", "3000"]
    assert field("ka.req.pod.containers.eff_run_as_group", evt, 0) == ["3000"]
    assert field("ka.req.pod.initContainers.image.repository", evt) == ["alpine"]
    assert field("ka.req.pod.run_as_user", evt) == "1000"


def test_container_without_name_or_image_voids_the_field() -> None:
    evt = pod({"name": "a", "image": "x"}, {"image": "y"})
    assert field("ka.req.pod.containers.name", evt) is None
    assert field("ka.req.pod.containers.image", evt) == ["x", "y"]
    assert field("ka.req.pod.containers.command", pod({"command": "not-a-list"})) is None
    # an element that is not an object, or an image that is not a string
    assert field("ka.req.pod.containers.image", pod({"image": "x"}, 5)) is None
    assert field("ka.req.pod.containers.image", pod({"image": None}, {"image": 1})) == [
        "null", "1"]
    assert field("ka.req.pod.containers.image.repository", pod({"image": "x:1"}, {})) is None
    assert field("ka.req.pod.containers.image", pod()) is None  # no container: no value
    assert field("ka.req.pod.containers.privileged", pod(
        5, {"securityContext": 7}, {"securityContext": {"privileged": None}},
        {"securityContext": {"privileged": False}})) == ["null", "false"]


def test_eff_run_as_user_defaults_to_zero() -> None:
    assert field("ka.req.pod.containers.eff_run_as_user", pod({"name": "a"})) == ["0"]


def test_binding_subjects() -> None:
    subjects = [
        {"kind": "User", "name": "alice"},
        {"kind": "Group", "name": "devs"},
        {"kind": "ServiceAccount", "name": "sa", "namespace": "ns"},
        {"kind": "ServiceAccount", "name": "nons"},
    ]
    evt = audit(requestObject={"subjects": subjects, "roleRef": {"name": "edit"}})
    assert field("ka.req.binding.subjects.user_names", evt) == ["alice"]
    assert field("ka.req.binding.subjects.group_names", evt) == ["devs"]
    assert field("ka.req.binding.subjects.serviceaccount_names", evt) == ["sa", "nons"]
    assert field("ka.req.binding.subjects.serviceaccount_ns_names", evt) == ["ns:sa"]
    assert field("ka.req.binding.subjects", evt)[0] == '{"kind":"User","name":"alice"}'


def test_role_rules_index_selects_a_rule() -> None:
    evt = audit(requestObject={"rules": [{"verbs": ["get"], "resources": ["pods"]},
                                         {"verbs": ["*"], "apiGroups": [""]}]})
    assert field("ka.req.role.rules.verbs", evt) == ["get", "*"]
    assert field("ka.req.role.rules.verbs", evt, 1) == ["*"]
    assert field("ka.req.role.rules.apiGroups", evt) == [""]
    assert field("ka.req.role.rules.nonResourceURLs", evt) is None


def test_uri_param_with_semicolon_has_no_value() -> None:
    assert field("ka.uri.param", audit(requestURI="/x?a=1;b=2"), "a") is None
    assert field("ka.uri.param", audit(requestURI="/x?a=&b=2"), "a") == ""
    assert field("ka.uri.param", audit(requestURI="/x?a=%zz&b=2"), "b") is None  # Go: error
    assert field("ka.uri.param", audit(requestURI="/x?a=x%20y+z"), "a") == "x y z"


def test_annotations_and_cluster_name() -> None:
    evt = audit(annotations={"cluster_name": "prod",
                             "pod-security.kubernetes.io/audit-violations": "v"})
    assert field("ka.cluster.name", evt) == "prod"
    assert field("ka.security.pod.violations", evt) == "v"


@pytest.mark.parametrize(
    ("image", "repo"),
    [
        ("nginx", "nginx"),
        ("nginx:1.25", "nginx"),
        ("docker.io/library/nginx:1.25", "docker.io/library/nginx"),
        ("repo@sha256:abcd", "repo"),
        ("localhost:5000/app:1", "localhost:5000/app"),
        ("localhost:5000/app", "localhost:5000/app"),
    ],
)
def test_image_repository(image: str, repo: str) -> None:
    assert image_repository(image) == repo


def test_every_field_on_every_trace_event(traces: Path) -> None:
    """No extractor raises on real data: values are str, lists of str, or None."""
    for path in sorted(traces.glob("*.json")):
        events, _ = split_jsonl(path.read_bytes(), max_event_size=1 << 20)
        for ae in events:
            evt = make_event(ae)
            for f in FIELDS:
                v = f.binder("0" if f.arg and f.arg.key else None)(evt)
                if f.is_list and v is not None:
                    assert v and all(isinstance(x, str) for x in v), f.name
                else:
                    assert v is None or isinstance(v, str), f.name


def test_uri_param_scan_reads_queries_as_parse_qs() -> None:
    """ka.uri.param's query scan gives parse_qs(keep_blank_values=True)'s first value."""
    import random
    from urllib.parse import parse_qs

    from pyfalco_k8saudit.fields import _query_value

    atoms = ["a", "b", "a=", "=x", "a=1", "a=%41", "a=x+y", "b=2", "", "a%3D=3", "a+b=4",
             "%61=5", "a==6", "a=é", "=", "&"]
    rnd = random.Random(7)
    for _ in range(5000):
        query = "&".join(rnd.choice(atoms) for _ in range(rnd.randrange(0, 5)))
        for key in ("a", "b", "a b", "a="):
            expected = parse_qs(query, keep_blank_values=True).get(key)
            assert _query_value(query, key) == (expected[0] if expected else None), query
