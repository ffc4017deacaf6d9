"""What the app hands to metrics: per-source counts, instance and plugin counters."""

from __future__ import annotations

from pyfalco import hookimpl
from pyfalco.api import FieldSpec, FieldTable, FieldType, PluginInfo
from pyfalco.app.metrics_snapshot import build

from .fakes import CounterPlugin


class Extractor:
    @hookimpl
    def pyfalco_register_plugins(self, register):
        register(PluginInfo(name="ext", version="1.0.0",
                            counters=lambda: {"lookups": 4, "queue_drops": 1}))

    @hookimpl
    def pyfalco_register_fields(self, register):
        register(FieldTable(plugin="ext", sources=["a"], fields=[
            FieldSpec("ext.x", FieldType.STRING, "x", lambda e: None)]))


def test_snapshot_has_sources_counts_and_counters(app):
    app.plugins += [CounterPlugin("pa", "a", 101, count=3), Extractor()]
    app.config()
    app.file("rules.yaml", "[]\n")
    r = app.run("-c", str(app.tmp_path / "falco.yaml"), "-r", str(app.tmp_path / "rules.yaml"),
                "--enable-source=a")
    assert r.code == 0, r.err
    snap = build(r.state)
    (src,) = snap.sources
    assert (src.source, src.num_evts, src.engine_name) == ("a", 3, "source_plugin")
    assert src.counters == {"drops": 1, "ext_lookups": 4, "ext_queue_drops": 1}
    assert str(app.tmp_path / "rules.yaml") in snap.rules_files_sha256
    assert snap.config_files_sha256
