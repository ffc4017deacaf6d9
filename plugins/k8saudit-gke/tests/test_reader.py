"""The Cloud Logging reader: the real google-cloud-logging client (REST transport) against the
loopback entries:list server of gke_testlib."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from gke_testlib import gke_entry, pod_exec, privileged_pod_create, secret_get
from pyfalco.errors import PluginError
from pyfalco_k8saudit_gke.reader import BASE_FILTER, Target
from pyfalco_k8saudit_gke.source import open_instance


def now() -> datetime:
    return datetime.now(UTC)


def cfg(server, **extra) -> dict:
    return {
        "project_id": "proj-1",
        "anonymous_credentials": True,
        "api_endpoint": server.url,
        "polling_interval": 0.1,
        "shift": 3600,
        "min_backoff": 0.01,
        "max_backoff": 0.05,
        **extra,
    }


def audit_ids(instance, want: int, timeout: float = 60.0) -> list[str]:
    got: list[str] = []
    deadline = time.monotonic() + timeout
    while len(got) < want and time.monotonic() < deadline:
        batch = instance.next_batch()
        assert batch is not None, "source ended early"
        got += [orjson.loads(e.data)["auditID"] for e in batch]
    return got


def settle(instance, seconds: float = 0.5) -> list[str]:
    extra: list[str] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        extra += [orjson.loads(e.data)["auditID"] for e in instance.next_batch() or ()]
    return extra


def burst(start: datetime, n: int, per_instant: int, prefix: str) -> list[dict]:
    """n pod reads, ``per_instant`` of them sharing each timestamp."""
    return [
        gke_entry("io.k8s.core.v1.pods.get", f"core/v1/namespaces/a/pods/p{i}",
                  when=start + timedelta(microseconds=i // per_instant),
                  insert_id=f"{prefix}-{i:06d}")
        for i in range(n)
    ]


@pytest.mark.slow
def test_paging_delivers_every_entry_exactly_once(logging_server):
    base = now() - timedelta(minutes=5)
    entries = burst(base, 2500, 7, "a")
    logging_server.add(*entries)
    inst = open_instance(cfg(logging_server, page_size=100), "")
    try:
        got = audit_ids(inst, 2500)
        # more entries while polling, some at the boundary instant already read
        last = base + timedelta(microseconds=2499 // 7)
        more = [gke_entry("io.k8s.core.v1.pods.get", "core/v1/namespaces/a/pods/q",
                          when=last, insert_id=f"b-{i:03d}") for i in range(30)]
        more += burst(last + timedelta(microseconds=1), 300, 3, "c")
        logging_server.add(*more)
        got += audit_ids(inst, 330) + settle(inst)
        counters = inst.counters()
    finally:
        inst.close()
    expected = [e["insertId"] for e in entries + more]
    assert len(got) == len(set(got)) == len(expected)
    assert sorted(got) == sorted(expected)
    assert counters["duplicates_skipped"] > 0
    reqs = logging_server.requests
    assert sum(1 for r in reqs if r.get("pageToken")) >= 25
    assert all(r["resourceNames"] == ["projects/proj-1"] for r in reqs)
    assert all(r["filter"].startswith(BASE_FILTER + ' AND timestamp>="') for r in reqs)
    assert all(r["orderBy"] == "timestamp asc" and r["pageSize"] == 100 for r in reqs)


def test_429_and_503_mid_paging_are_retried_without_loss_or_duplicates(logging_server):
    entries = burst(now() - timedelta(minutes=1), 400, 4, "r")
    logging_server.add(*entries)
    # first page fine, then 429, 503, 503 on the second page's request, then fine
    logging_server.faults = [0, 429, 503, 503]
    inst = open_instance(cfg(logging_server, page_size=50), "")
    try:
        got = audit_ids(inst, 400) + settle(inst)
        c = inst.counters()
    finally:
        inst.close()
    assert sorted(got) == sorted(e["insertId"] for e in entries)
    assert c["throttled_retries"] == 1 and c["unavailable_retries"] == 2
    # the retried page asked again with its own token: the first page was not listed twice
    first_pages = [r for r in logging_server.requests if not r.get("pageToken")]
    assert len(first_pages) >= 1
    assert c["duplicates_skipped"] == 0 or len(first_pages) > 1


def test_persistent_429_stops_with_a_clear_error(logging_server):
    logging_server.faults = [429] * 20
    inst = open_instance(cfg(logging_server, max_retries=2), "")
    try:
        with pytest.raises(PluginError, match=r"failed after 3 attempts: quota exceeded \(429\)"):
            audit_ids(inst, 1, timeout=10)
    finally:
        inst.close()


def test_restart_with_state_file_neither_loses_nor_repeats(logging_server, tmp_path):
    state = tmp_path / "gke.cursor"
    base = now() - timedelta(minutes=2)
    first = burst(base, 120, 6, "s1")
    logging_server.add(*first)
    inst = open_instance(cfg(logging_server, page_size=25, state_file=str(state)), "")
    got = audit_ids(inst, 120)
    inst.close()
    assert state.exists()
    boundary = base + timedelta(microseconds=119 // 6)
    second = [gke_entry("io.k8s.core.v1.pods.get", "core/v1/namespaces/a/pods/z",
                        when=boundary, insert_id=f"s2-{i}") for i in range(5)]
    second += burst(boundary + timedelta(seconds=1), 40, 4, "s3")
    logging_server.add(*second)
    inst = open_instance(cfg(logging_server, page_size=25, state_file=str(state)), "")
    try:
        got2 = audit_ids(inst, 45) + settle(inst)
    finally:
        inst.close()
    assert sorted(got) == sorted(e["insertId"] for e in first)
    assert sorted(got2) == sorted(e["insertId"] for e in second)


def test_corrupt_state_file_is_refused_with_its_name(logging_server, tmp_path):
    state = tmp_path / "bad.cursor"
    state.write_text("{not json")
    with pytest.raises(PluginError, match=f"cannot read state_file {state}"):
        open_instance(cfg(logging_server, state_file=str(state)), "")


def test_lookback_catches_entries_that_arrive_late(logging_server):
    t0 = now() - timedelta(seconds=30)
    logging_server.add(gke_entry("io.k8s.core.v1.pods.get", "core/v1/namespaces/a/pods/x",
                                 when=t0 + timedelta(seconds=5), insert_id="on-time"))
    inst = open_instance(cfg(logging_server, lookback=60), "")
    try:
        got = audit_ids(inst, 1)
        # an entry with an older timestamp shows up only now (ingestion delay)
        logging_server.add(gke_entry("io.k8s.core.v1.pods.get", "core/v1/namespaces/a/pods/y",
                                     when=t0, insert_id="late"))
        got += audit_ids(inst, 1) + settle(inst)
    finally:
        inst.close()
    assert got == ["on-time", "late"]


def test_malformed_and_foreign_entries_are_counted_and_skipped(logging_server):
    t = now() - timedelta(seconds=20)
    good = pod_exec(t, insert_id="good-1")
    no_method = gke_entry("io.k8s.core.v1.pods.get", "core/v1/namespaces/a/pods/b", when=t,
                          insert_id="bad-1")
    del no_method["protoPayload"]["methodName"]
    bad_receive = secret_get(t, insert_id="bad-2")
    bad_receive["receiveTimestamp"] = "not-a-time"
    foreign = gke_entry("io.k8s.core.v1.pods.get", "core/v1/namespaces/a/pods/b", when=t,
                        insert_id="bad-3")
    foreign["protoPayload"]["@type"] = "type.googleapis.com/google.cloud.audit.Other"
    huge = privileged_pod_create(t, insert_id="bad-4")
    huge["protoPayload"]["request"]["metadata"]["annotations"] = {"x": "y" * 5000}
    last = pod_exec(t + timedelta(seconds=1), insert_id="good-2")
    logging_server.add(good, no_method, bad_receive, foreign, huge, last)
    inst = open_instance(cfg(logging_server, max_event_size=4096), "")
    try:
        got = audit_ids(inst, 2) + settle(inst)
        c = inst.counters()
    finally:
        inst.close()
    assert got == ["good-1", "good-2"]
    assert c["drops_malformed"] == 2
    assert c["drops_unrecognized"] == 1
    assert c["drops_oversize"] == 1
    assert c["drops"] == 4


def test_cluster_and_location_narrow_the_filter(logging_server):
    t = now() - timedelta(seconds=10)
    logging_server.add(
        pod_exec(t, insert_id="prod-eu", cluster="prod", location="europe-west1"),
        pod_exec(t, insert_id="dev-eu", cluster="dev", location="europe-west1"),
        pod_exec(t, insert_id="prod-us", cluster="prod", location="us-central1"),
        pod_exec(t, insert_id="other-project", project="proj-2"),
    )
    inst = open_instance(cfg(logging_server), "proj-1/europe-west1/prod")
    try:
        got = audit_ids(inst, 1) + settle(inst)
    finally:
        inst.close()
    assert got == ["prod-eu"]
    f = logging_server.requests[0]["filter"]
    assert 'resource.labels.cluster_name="prod"' in f
    assert 'resource.labels.location="europe-west1"' in f


def test_permission_denied_is_reported(logging_server, monkeypatch):
    from gke_testlib import LoggingServer

    def forbidden(self, req):
        return 403, {"error": {"code": 403, "message": "The caller does not have permission",
                               "status": "PERMISSION_DENIED"}}

    monkeypatch.setattr(LoggingServer, "list_entries", forbidden)
    inst = open_instance(cfg(logging_server), "")
    try:
        with pytest.raises(PluginError, match=r"permission denied reading logs of project "
                                              r"'proj-1'.*roles/logging.viewer"):
            audit_ids(inst, 1, timeout=10)
    finally:
        inst.close()


def test_server_down_with_retry_resumes(logging_server):
    t = now() - timedelta(seconds=10)
    logging_server.add(pod_exec(t, insert_id="before"))
    inst = open_instance(cfg(logging_server, on_error="retry", max_retries=0), "")
    try:
        got = audit_ids(inst, 1)
        port = logging_server.port
        logging_server.stop()
        time.sleep(0.5)
        assert inst.counters()["connection_retries"] >= 1
        logging_server.add(pod_exec(t + timedelta(seconds=1), insert_id="after"))
        logging_server.port = port
        logging_server.start()
        got += audit_ids(inst, 1, timeout=30) + settle(inst)
    finally:
        inst.close()
    assert got == ["before", "after"]


@pytest.mark.parametrize(
    "text, target",
    [
        ("", Target("dflt")),
        ("p1", Target("p1")),
        ("p1/europe-west1", Target("p1", "europe-west1")),
        ("p1/-/prod", Target("p1", "", "prod")),
        ("projects/p1/locations/us-east1/clusters/c", Target("p1", "us-east1", "c")),
        ("projects/p1", Target("p1")),
    ],
)
def test_open_params(text, target):
    assert Target.parse(text, "dflt") == target


@pytest.mark.parametrize("text", ["a/b/c/d", "projects/p/zones/z", "a//c", "projects"])
def test_bad_open_params_are_refused(text):
    with pytest.raises(PluginError, match="invalid open_params"):
        open_instance({"anonymous_credentials": True}, text)


def test_no_project_is_refused():
    with pytest.raises(PluginError, match="no project"):
        open_instance({"anonymous_credentials": True}, "")


def test_missing_credentials_file_is_a_clear_open_error(tmp_path):
    with pytest.raises(PluginError, match=r"cannot create the Cloud Logging client: .*"
                                          r"nope\.json"):
        open_instance({"project_id": "p", "credentials_file": str(tmp_path / "nope.json")}, "")


def test_malformed_credentials_file_is_a_clear_open_error(tmp_path):
    bad = tmp_path / "sa.json"
    bad.write_text('{"type": "service_account", "project_id": "p"}')  # no key material
    with pytest.raises(PluginError, match="cannot create the Cloud Logging client"):
        open_instance({"project_id": "p", "credentials_file": str(bad)}, "")
