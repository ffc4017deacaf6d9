"""The :class:`pyfalco.metrics.MetricsSnapshot` the app hands the metrics collector and the
webserver on request: per-source event counts and instance counters (drops, ...), per-rule
matches, outputs counters, sha256 of loaded files."""

from __future__ import annotations

import hashlib
from typing import Any

import pyfalco

from .state import State


def _sha256(path: Any) -> str:
    try:
        with open(path, "rb") as fh:
            return hashlib.sha256(fh.read()).hexdigest()
    except OSError:
        return ""


def build(s: State) -> Any:
    from pyfalco.metrics import MetricsSnapshot, SourceMetrics

    engine_names = {"nodriver": "nodriver"}
    sources = [
        SourceMetrics(
            source=src,
            num_evts=st.events,
            engine_name=engine_names.get(st.engine, st.engine if st.engine in (
                "ebpf", "gvisor", "replay") else "source_plugin"),
            counters=st.counters(),
        )
        for src, st in s.source_stats.items()
        if src in s.enabled_sources or s.is_replay
    ]
    stats = s.alert_stats
    return MetricsSnapshot(
        falco_version=pyfalco.__version__,
        hostname=s.hostname,
        start_ts_ns=s.start_ns,
        sources=sources,
        rule_matches=stats.rule_counts() if stats is not None else (),
        outputs=s.outputs.counters() if s.outputs is not None else {},
        rules_files_sha256=s.rules_sha256,
        config_files_sha256={str(f.path): f.sha256 for f in s.config.files} if s.config else {},
        reload_ts_ns=s.start_ns,
    )
