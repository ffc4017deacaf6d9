"""The CloudWatch poller against a real moto server (boto3 for real, on loopback)."""

from __future__ import annotations

import socket
import time
import uuid

import pytest
from pyfalco.api import Event
from pyfalco.errors import PluginError
from pyfalco_k8saudit_eks.config import EksConfig
from pyfalco_k8saudit_eks.poller import CloudWatchPoller, PollError, log_group_of, make_client
from pyfalco_k8saudit_eks.source import open_instance


def new_cluster(logs_client, streams=("kube-apiserver-audit-a",)) -> str:
    cluster = f"c-{uuid.uuid4().hex[:10]}"
    group = log_group_of(cluster)
    logs_client.create_log_group(logGroupName=group)
    for s in (*streams, "authenticator-x", "kube-controller-manager-y"):
        logs_client.create_log_stream(logGroupName=group, logStreamName=s)
    return cluster


def put(logs_client, cluster, stream, events):
    """events: [(timestamp_ms, message)], sorted as PutLogEvents requires."""
    for i in range(0, len(events), 5000):
        logs_client.put_log_events(
            logGroupName=log_group_of(cluster),
            logStreamName=stream,
            logEvents=[{"timestamp": t, "message": m} for t, m in events[i : i + 5000]],
        )


def raw(message: str) -> list[Event]:
    """A stand-in converter: these tests are about the transport, not audit parsing."""
    return [Event(message.encode(), source="k8s_audit")]


def drain(instance, want: int, timeout: float = 60.0) -> list[str]:
    got: list[str] = []
    deadline = time.monotonic() + timeout
    while len(got) < want and time.monotonic() < deadline:
        batch = instance.next_batch()
        assert batch is not None, "source ended early"
        got.extend(e.data.decode() for e in batch)
    return got


def settle(instance, seconds: float = 1.0) -> list[str]:
    """Whatever else arrives within ``seconds`` (must be nothing when exactly-once holds)."""
    extra: list[str] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        extra.extend(e.data.decode() for e in instance.next_batch() or ())
    return extra


FAST = {"polling_interval": 0.2, "min_backoff": 0.01, "max_backoff": 0.05}


def cfg(url: str, **extra) -> dict:
    return {"endpoint_url": url, "shift": 600, **FAST, **extra}


@pytest.mark.slow
def test_ten_thousand_events_across_streams_arrive_exactly_once(logs_client, moto_url):
    streams = [f"kube-apiserver-audit-{i}" for i in range(4)]
    cluster = new_cluster(logs_client, streams)
    base = int(time.time() * 1000) - 120_000
    expected: list[str] = []
    # First wave: 4 x 2600 events, 13 per millisecond, the same milliseconds in every stream.
    for s in streams:
        evs = [(base + i // 13, f"{s}:{i}") for i in range(2600)]
        put(logs_client, cluster, s, evs)
        expected += [m for _, m in evs]
    put(logs_client, cluster, "authenticator-x", [(base, "not an audit stream")])
    inst = open_instance(cfg(moto_url), cluster, raw)
    try:
        got = drain(inst, len(expected))
        # Second wave while polling: more events at the boundary millisecond (the last one
        # already emitted) and after it, in every stream.
        last = base + 2599 // 13
        for s in streams:
            evs = [(last, f"{s}:late-{i}") for i in range(20)]
            evs += [(last + 1 + i // 7, f"{s}:next-{i}") for i in range(70)]
            put(logs_client, cluster, s, evs)
            expected += [m for _, m in evs]
        got += drain(inst, len(expected) - len(got))
        got += settle(inst)
        counters = inst.counters()
    finally:
        inst.close()
    assert len(got) >= 10_000
    assert len(got) == len(set(got)), "duplicates delivered"
    assert sorted(got) == sorted(expected)
    assert counters["duplicates_skipped"] > 0  # boundary re-reads happened and were dropped
    assert counters["records"] == len(expected)


def test_truncated_records_are_skipped_and_counted(logs_client, moto_url):
    cluster = new_cluster(logs_client)
    now = int(time.time() * 1000) - 1000
    put(logs_client, cluster, "kube-apiserver-audit-a", [
        (now, "ok-1"),
        (now, '{"kind":"Event","auditID":"0a1b-2c","requestURI":"/api/v1/pods?x=[Truncated...]'),
        (now + 1, "ok-2"),
    ])
    inst = open_instance(cfg(moto_url), cluster, raw)
    try:
        got = drain(inst, 2) + settle(inst, 0.5)
        assert got == ["ok-1", "ok-2"]
        assert inst.counters()["truncated_drops"] == 1
    finally:
        inst.close()


def test_throttling_is_retried_with_backoff(logs_client, fault_proxy):
    cluster = new_cluster(logs_client)
    now = int(time.time() * 1000) - 1000
    put(logs_client, cluster, "kube-apiserver-audit-a", [(now + i, f"e{i}") for i in range(5)])
    fault_proxy.fail_next = [(400, "ThrottlingException")] * 3
    inst = open_instance(cfg(fault_proxy.url), cluster, raw)
    try:
        got = drain(inst, 5) + settle(inst, 0.5)
        assert got == [f"e{i}" for i in range(5)]
        assert inst.counters()["throttled_retries"] == 3
    finally:
        inst.close()


def test_throttling_beyond_the_retry_budget_stops_with_a_clear_error(logs_client, fault_proxy):
    cluster = new_cluster(logs_client)
    fault_proxy.fail_next = [(400, "ThrottlingException")] * 50
    inst = open_instance(cfg(fault_proxy.url, max_retries=2), cluster, raw)
    try:
        with pytest.raises(PluginError, match=r"failed after 3 attempts: throttled"):
            drain(inst, 1, timeout=10)
    finally:
        inst.close()


def test_missing_log_group_stops_with_a_clear_error(moto_url):
    inst = open_instance(cfg(moto_url), "no-such-cluster", raw)
    try:
        with pytest.raises(PluginError) as err:
            drain(inst, 1, timeout=10)
        assert "log group '/aws/eks/no-such-cluster/cluster' not found" in str(err.value)
        assert inst.counters()["poll_errors"] == 1
    finally:
        inst.close()


def test_missing_log_group_with_retry_keeps_polling_until_it_exists(logs_client, moto_url):
    cluster = f"c-{uuid.uuid4().hex[:10]}"
    inst = open_instance(cfg(moto_url, on_error="retry"), cluster, raw)
    try:
        assert settle(inst, 0.6) == []
        assert inst.counters()["poll_errors"] >= 1
        logs_client.create_log_group(logGroupName=log_group_of(cluster))
        logs_client.create_log_stream(
            logGroupName=log_group_of(cluster), logStreamName="kube-apiserver-audit-a"
        )
        put(logs_client, cluster, "kube-apiserver-audit-a", [(int(time.time() * 1000), "hi")])
        assert drain(inst, 1, timeout=20) == ["hi"]
    finally:
        inst.close()


def test_access_denied_is_reported(fault_proxy):
    fault_proxy.fail_next = [(400, "AccessDeniedException")]
    inst = open_instance(cfg(fault_proxy.url), "any", raw)
    try:
        with pytest.raises(PluginError, match=r"access denied to log group '/aws/eks/any/cluster'"):
            drain(inst, 1, timeout=10)
    finally:
        inst.close()


def test_server_down_stops_with_a_clear_error_after_retries():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
    inst = open_instance(cfg(url, max_retries=2), "c", raw)
    try:
        with pytest.raises(PluginError, match=r"failed after 3 attempts: cannot reach CloudWatch"):
            drain(inst, 1, timeout=20)
        assert inst.counters()["connection_retries"] == 3
    finally:
        inst.close()


def test_server_down_then_back_with_retry_loses_and_duplicates_nothing(logs_client, fault_proxy):
    cluster = new_cluster(logs_client)
    now = int(time.time() * 1000) - 5000
    put(logs_client, cluster, "kube-apiserver-audit-a",
        [(now + i // 3, f"a{i}") for i in range(30)])
    inst = open_instance(cfg(fault_proxy.url, on_error="retry", max_retries=1), cluster, raw)
    try:
        got = drain(inst, 30)
        fault_proxy.stop()  # the endpoint goes away: connections are refused
        put(logs_client, cluster, "kube-apiserver-audit-a",
            [(now + 9, "b-boundary")] + [(now + 10 + i, f"b{i}") for i in range(10)])
        time.sleep(1.0)
        assert inst.counters()["connection_retries"] >= 1
        fault_proxy.start()
        got += drain(inst, 11) + settle(inst, 0.6)
    finally:
        inst.close()
    expected = [f"a{i}" for i in range(30)] + ["b-boundary"] + [f"b{i}" for i in range(10)]
    assert sorted(got) == sorted(expected)


def test_empty_cluster_name_is_refused():
    with pytest.raises(PluginError, match="cluster name can't be empty"):
        open_instance({}, "  ", raw)


def test_config_defaults_follow_upstream_and_environment(monkeypatch):
    monkeypatch.setenv("AWS_REGION", "")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-south-1")
    monkeypatch.setenv("AWS_DEFAULT_PROFILE", "p2")
    c = EksConfig.from_init_config({"shift": 0, "polling_interval": 0, "buffer_size": 0})
    assert (c.region, c.profile, c.shift_s, c.polling_interval_s, c.buffer_size) == (
        "ap-south-1", "p2", 1, 5.0, 200)
    c = EksConfig.from_init_config({"region": "us-east-2", "profile": "x", "shift": 30})
    assert (c.region, c.profile, c.shift_s) == ("us-east-2", "x", 30)


def test_first_poll_starts_shift_seconds_back(moto_url):
    c = EksConfig.from_init_config({"endpoint_url": moto_url, "shift": 30})
    p = CloudWatchPoller(make_client(c), "x", c, now_ms=lambda: 1_000_000)
    assert p.cursor.start_ms == 1_000_000 - 30_000


def test_poll_error_type_for_unknown_group(moto_url):
    c = EksConfig.from_init_config({"endpoint_url": moto_url})
    p = CloudWatchPoller(make_client(c), "nope", c)
    with pytest.raises(PollError, match="not found"):
        list(p.poll())


def test_lookback_catches_records_ingested_late(logs_client, moto_url):
    cluster = new_cluster(logs_client, ("kube-apiserver-audit-a", "kube-apiserver-audit-b"))
    now = int(time.time() * 1000) - 10_000
    put(logs_client, cluster, "kube-apiserver-audit-a", [(now + 5000, "on-time")])
    inst = open_instance(cfg(moto_url, lookback=30), cluster, raw)
    try:
        got = drain(inst, 1)
        # another API server's stream delivers an older record only now
        put(logs_client, cluster, "kube-apiserver-audit-b", [(now, "late")])
        got += drain(inst, 1) + settle(inst, 0.6)
    finally:
        inst.close()
    assert got == ["on-time", "late"]


def test_unknown_profile_is_a_clear_open_error(tmp_path, monkeypatch):
    cfg_file = tmp_path / "config"
    cfg_file.write_text("[profile other]\nregion = eu-west-1\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(cfg_file))
    with pytest.raises(PluginError, match=r"error creating AWS config: .*nope"):
        open_instance({"profile": "nope"}, "c", raw)


def test_profile_from_shared_files_is_used(tmp_path, monkeypatch, logs_client, moto_url):
    cluster = new_cluster(logs_client)
    put(logs_client, cluster, "kube-apiserver-audit-a", [(int(time.time() * 1000), "via-profile")])
    (tmp_path / "config").write_text("[profile eks]\nregion = eu-west-1\n")
    (tmp_path / "credentials").write_text(
        "[eks]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = secret\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"):
        monkeypatch.delenv(var, raising=False)
    inst = open_instance(cfg(moto_url, profile="eks"), cluster, raw)
    try:
        assert drain(inst, 1, timeout=20) == ["via-profile"]
        creds = inst.poller.client._request_signer._credentials
        assert creds.access_key == "AKIDPROFILE"
    finally:
        inst.close()


def test_restart_with_state_file_neither_loses_nor_repeats(logs_client, moto_url, tmp_path):
    state = tmp_path / "eks.cursor"
    cluster = new_cluster(logs_client)
    base = int(time.time() * 1000) - 60_000
    put(logs_client, cluster, "kube-apiserver-audit-a",
        [(base + i // 4, f"a{i}") for i in range(40)])
    inst = open_instance(cfg(moto_url, state_file=str(state)), cluster, raw)
    got = drain(inst, 40)
    inst.close()
    assert state.exists()
    # while pyfalco is down: more records, some in the last millisecond already read
    put(logs_client, cluster, "kube-apiserver-audit-a",
        [(base + 9, f"b{i}") for i in range(3)] + [(base + 20 + i, f"c{i}") for i in range(5)])
    inst = open_instance(cfg(moto_url, state_file=str(state), shift=1), cluster, raw)
    try:
        got2 = drain(inst, 8) + settle(inst, 0.6)
    finally:
        inst.close()
    assert sorted(got) == sorted(f"a{i}" for i in range(40))
    assert sorted(got2) == sorted([f"b{i}" for i in range(3)] + [f"c{i}" for i in range(5)])


def test_corrupt_state_file_is_refused_with_its_name(tmp_path, moto_url):
    state = tmp_path / "bad.cursor"
    state.write_text('{"start_ms": "yesterday"}')
    with pytest.raises(PluginError, match=f"cannot read state_file {state}"):
        open_instance(cfg(moto_url, state_file=str(state)), "c", raw)
