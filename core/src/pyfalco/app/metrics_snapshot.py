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


def plugin_counters(s: State, sources: list[str]) -> dict[str, dict[str, int]]:
    """``PluginInfo.counters`` of plugins without a source instance (extractors), prefixed
    with the plugin name, under the first shown source the plugin applies to."""
    out: dict[str, dict[str, int]] = {}
    reg = s.registry
    if reg is None:
        return out
    for p in s.plugins:
        fn = p.info.counters
        if fn is None:
            continue
        scopes: list[str] = [sp.event_source for sp in reg.sources_of(p.name)]
        for t in reg.field_tables:
            if t.plugin == p.name:
                scopes += list(t.sources) if t.sources else sources
        target = next((src for src in sources if src in scopes), None)
        if target is None:
            continue
        try:
            values = {f"{p.name}_{k}": int(v) for k, v in fn().items()}
        except Exception:  # a broken counters() must not break metrics
            continue
        out.setdefault(target, {}).update(values)
    return out


def build(s: State) -> Any:
    from pyfalco.metrics import MetricsSnapshot, SourceMetrics

    shown = [src for src in s.source_stats if src in s.enabled_sources or s.is_replay]
    counters = {src: s.source_stats[src].counters() for src in shown}
    for name, values in plugin_counters(s, shown).items():
        counters[name].update(values)
    sources = [
        SourceMetrics(source=src, num_evts=s.source_stats[src].events,
                      engine_name=s.source_stats[src].engine, counters=counters[src])
        for src in shown
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
