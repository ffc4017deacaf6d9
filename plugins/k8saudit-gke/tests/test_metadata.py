"""Cluster-label enrichment: Container API clusters.get over the loopback server, TTL cache."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import orjson
from gke_testlib import pod_exec
from pyfalco_k8saudit_gke.config import GkeConfig
from pyfalco_k8saudit_gke.metadata import ClusterLabels, make_session
from pyfalco_k8saudit_gke.source import open_instance

KEY = "projects/proj-1/locations/europe-west1/clusters/prod"


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def session():
    return make_session(GkeConfig(anonymous_credentials=True))


def test_labels_are_cached_for_the_ttl(logging_server):
    logging_server.clusters[KEY] = {"name": "prod", "resourceLabels": {"team": "payments"}}
    clock = Clock()
    md = ClusterLabels(session(), endpoint=logging_server.url, ttl_s=600, clock=clock)
    assert md.labels("proj-1", "europe-west1", "prod") == {"team": "payments"}
    logging_server.clusters[KEY]["resourceLabels"] = {"team": "risk"}
    clock.t += 599
    assert md.labels("proj-1", "europe-west1", "prod") == {"team": "payments"}
    assert logging_server.cluster_gets == 1
    clock.t += 2
    assert md.labels("proj-1", "europe-west1", "prod") == {"team": "risk"}
    assert logging_server.cluster_gets == 2


def test_failures_are_counted_cached_briefly_and_do_not_block(logging_server):
    clock = Clock()
    md = ClusterLabels(session(), endpoint=logging_server.url, ttl_s=600, clock=clock)
    assert md.labels("proj-1", "europe-west1", "missing") == {}
    assert md.labels("proj-1", "europe-west1", "missing") == {}
    assert (md.errors, logging_server.cluster_gets) == (1, 1)
    clock.t += 31
    md.labels("proj-1", "europe-west1", "missing")
    assert logging_server.cluster_gets == 2


def test_enrichment_adds_labels_but_never_overrides_identity(logging_server):
    logging_server.clusters[KEY] = {
        "name": "prod",
        "resourceLabels": {"env": "production", "cluster_name": "evil", "project_id": "x"},
    }
    logging_server.add(pod_exec(datetime.now(UTC) - timedelta(seconds=5), insert_id="e1"))
    inst = open_instance(
        {"project_id": "proj-1", "anonymous_credentials": True, "api_endpoint": logging_server.url,
         "container_api_endpoint": logging_server.url, "fetch_cluster_metadata": True,
         "polling_interval": 0.1, "shift": 60},
        "",
    )
    try:
        deadline = time.monotonic() + 20
        batch = []
        while not batch and time.monotonic() < deadline:
            batch = inst.next_batch()
        ann = orjson.loads(batch[0].data)["annotations"]
        assert ann["env"] == "production"
        assert ann["cluster_name"] == "prod" and ann["project_id"] == "proj-1"
        assert inst.counters()["metadata_fetches"] == 1
    finally:
        inst.close()
