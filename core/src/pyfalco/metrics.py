"""Metrics: Prometheus ``/metrics`` and periodic snapshots (falco-core.md §8.1-8.2).

The app owns the counts and hands them over as a :class:`MetricsSnapshot` through a callable;
this module only names and emits them:

- :class:`FalcoCollector` (prometheus-client) exposes a snapshot under Falco's metric names where
  Falco has one (``falcosecurity_falco_*``, ``falcosecurity_scap_*``, ``falcosecurity_plugins_*``)
  and under ``pyfalco_*`` for what only pyfalco counts (per-channel delivery, per-source events
  of every source). :func:`prometheus_text` renders one for the webserver.
- :class:`MetricsConfig` reads falco.yaml's ``metrics`` section with Falco's checks and messages.
- :class:`MetricsWriter` emits snapshots every ``metrics.interval``: the internal message
  ``Falco internal: metrics snapshot`` (``output_rule``) and/or JSON lines (``output_file``).
"""

from __future__ import annotations

import logging
import os
import platform
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client.core import CollectorRegistry, CounterMetricFamily, GaugeMetricFamily

from .errors import ConfigError
from .outputs.config import as_bool, get_path
from .outputs.formats import dumps
from .outputs.stats import RuleMatchCount
from .priority import Priority

log = logging.getLogger("pyfalco.metrics")

#: Falco's metrics endpoint content type.
CONTENT_TYPE = "text/plain; version=0.0.4"
FALCO_HELP = "https://falco.org/docs/metrics/"
SYSCALL = "syscall"


def _boot_time_ns() -> int:
    try:
        with open("/proc/stat") as fh:
            for line in fh:
                if line.startswith("btime "):
                    return int(line.split()[1]) * 1_000_000_000
    except OSError:
        pass
    return 0


@dataclass(frozen=True)
class SourceMetrics:
    """One enabled source: its engine (Falco's ``scap.engine_name``: ``source_plugin``,
    ``nodriver``, ``replay``, ...), events processed, and its instance's ``counters()``."""

    source: str
    num_evts: int = 0
    engine_name: str = "source_plugin"
    counters: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class MetricsSnapshot:
    """Everything a metrics reader sees at one instant; built by the app on request."""

    falco_version: str
    hostname: str
    start_ts_ns: int
    sources: Sequence[SourceMetrics] = ()
    rule_matches: Sequence[RuleMatchCount] = ()
    #: ``OutputsManager.counters()``
    outputs: Mapping[str, int] = field(default_factory=dict)
    #: path -> sha256 hex of each loaded rules / config file
    rules_files_sha256: Mapping[str, str] = field(default_factory=dict)
    config_files_sha256: Mapping[str, str] = field(default_factory=dict)
    reload_ts_ns: int = 0
    now_ns: int = field(default_factory=time.time_ns)
    kernel_release: str = field(default_factory=platform.release)
    host_boot_ts_ns: int = field(default_factory=_boot_time_ns)
    host_num_cpus: int = field(default_factory=lambda: os.cpu_count() or 1)

    @property
    def matches_total(self) -> int:
        return sum(rc.count for rc in self.rule_matches)


_UNSAFE = re.compile(r"[^a-zA-Z0-9_:]")
_RUNS = re.compile(r"_+")


def sanitize_metric_name(name: str) -> str:
    """Falco's sanitisation: characters outside ``[a-zA-Z0-9_:]`` become ``_``, runs of ``_``
    collapse, a trailing ``_`` is removed."""
    return _RUNS.sub("_", _UNSAFE.sub("_", name)).rstrip("_")


def _label(name: str) -> str:
    label = sanitize_metric_name(name).replace(":", "_")
    return label if label and not label[0].isdigit() else f"_{label}"


def _gauge(name: str, value: float, labels: Mapping[str, str] | None = None,
           help: str = FALCO_HELP) -> GaugeMetricFamily:
    g = GaugeMetricFamily(name, help)
    g.add_sample(name, dict(labels or {}), value)
    return g


def _counter(name: str, value: float, labels: Mapping[str, str] | None = None,
             help: str = FALCO_HELP) -> CounterMetricFamily:
    c = CounterMetricFamily(name, help)
    c.add_sample(name, dict(labels or {}), value)
    return c


class FalcoCollector:
    """A prometheus-client collector over the app's snapshot callable."""

    def __init__(self, snapshot: Callable[[], MetricsSnapshot], *,
                 rules_counters: bool = True) -> None:
        self.snapshot = snapshot
        self.rules_counters = rules_counters

    def collect(self) -> Iterator[Any]:
        snap = self.snapshot()
        yield _gauge("falcosecurity_falco_version_info", 1, {"version": snap.falco_version})
        for kind, files in (("rules", snap.rules_files_sha256),
                            ("config", snap.config_files_sha256)):
            if files:
                g = GaugeMetricFamily(f"falcosecurity_falco_sha256_{kind}_files_info", FALCO_HELP)
                for path, digest in files.items():
                    g.add_sample(g.name, {"file_name": Path(path).name, "sha256": digest}, 1)
                yield g
        yield _counter("falcosecurity_falco_outputs_queue_num_drops_total",
                       snap.outputs.get("outputs_queue_num_drops", 0))
        yield _gauge("falcosecurity_falco_reload_timestamp_nanoseconds",
                     snap.reload_ts_ns or snap.start_ts_ns)
        if self.rules_counters:
            yield self._rule_matches(snap)
        yield from self._sources(snap)
        yield _gauge("falcosecurity_falco_kernel_release_info", 1,
                     {"kernel_release": snap.kernel_release})
        yield _gauge("falcosecurity_evt_hostname_info", 1, {"hostname": snap.hostname})
        yield _gauge("falcosecurity_falco_start_timestamp_nanoseconds", snap.start_ts_ns)
        yield _counter("falcosecurity_falco_duration_seconds_total",
                       max(0, (snap.now_ns - snap.start_ts_ns) // 1_000_000_000))
        yield _gauge("falcosecurity_falco_host_boot_timestamp_nanoseconds", snap.host_boot_ts_ns)
        yield _gauge("falcosecurity_falco_host_num_cpus_total", snap.host_num_cpus)
        yield from self._outputs(snap)

    @staticmethod
    def _rule_matches(snap: MetricsSnapshot) -> CounterMetricFamily:
        name = "falcosecurity_falco_rules_matches_total"
        c = CounterMetricFamily(name, FALCO_HELP)
        for rc in snap.rule_matches:
            if rc.count <= 0:
                continue
            labels = {"priority": str(int(rc.priority)), "rule_name": rc.rule,
                      "source": rc.source}
            for tag in rc.tags:
                labels[f"tag_{_label(tag)}"] = "true"
            c.add_sample(name, labels, rc.count)
        return c

    @staticmethod
    def _sources(snap: MetricsSnapshot) -> Iterator[Any]:
        engines = GaugeMetricFamily("falcosecurity_scap_engine_name_info", FALCO_HELP)
        events_name = "pyfalco_source_num_evts_total"
        events = CounterMetricFamily(
            events_name, "Events processed per source (Falco's falco.num_evts snapshot field)")
        for src in snap.sources:
            engines.add_sample(engines.name,
                               {"engine_name": src.engine_name, "evt_source": src.source}, 1)
            events.add_sample(events_name, {"evt_source": src.source}, src.num_evts)
        yield engines
        yield events
        for src in snap.sources:
            # Libs' counters of the syscall source are scap's; a plugin source's are plugins'.
            prefix = "falcosecurity_scap_" if src.source == SYSCALL else "falcosecurity_plugins_"
            for name, value in sorted(src.counters.items()):
                metric = f"{prefix}{sanitize_metric_name(name)}_total"
                yield _counter(metric, value, {"evt_source": src.source})

    @staticmethod
    def _outputs(snap: MetricsSnapshot) -> Iterator[Any]:
        out = snap.outputs
        yield _counter("pyfalco_outputs_lost_total", out.get("outputs_lost_total", 0),
                       help="Alerts not delivered to some channel (queue drops, discarded, "
                            "channel failures)")
        channels = sorted({k.rsplit("_", 1)[0] for k in out if k.endswith("_sent")})
        for what, help in (("sent", "Messages delivered"), ("lost", "Messages lost"),
                           ("retries", "Extra delivery attempts"),
                           ("timeouts", "Calls over output_timeout")):
            name = f"pyfalco_outputs_channel_{what}_total"
            c = CounterMetricFamily(name, f"{help} per channel")
            for ch in channels:
                c.add_sample(name, {"channel": ch}, out.get(f"{ch}_{what}", 0))
            yield c


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _value(v: float) -> str:
    """Integers exactly (ns timestamps exceed a double's precision), doubles with 6 decimals
    as Falco prints them."""
    if isinstance(v, int):
        return str(int(v))
    if v != v:
        return "NaN"
    if v in (float("inf"), float("-inf")):
        return "+Inf" if v > 0 else "-Inf"
    return f"{v:.6f}"


def exposition(families: Iterator[Any]) -> bytes:
    """Prometheus text format 0.0.4 for metric families, with exact integer values
    (prometheus-client's ``generate_latest`` turns every value into a float)."""
    lines = []
    for fam in families:
        name = fam.name + "_total" if fam.type == "counter" else fam.name
        lines.append(f"# HELP {name} {fam.documentation}")
        lines.append(f"# TYPE {name} {fam.type}")
        for s in fam.samples:
            labels = ",".join(f'{k}="{_escape(str(v))}"' for k, v in s.labels.items())
            lines.append(f"{s.name}{{{labels}}} {_value(s.value)}" if labels
                         else f"{s.name} {_value(s.value)}")
    return ("\n".join(lines) + "\n").encode()


def prometheus_text(snapshot: Callable[[], MetricsSnapshot], *, rules_counters: bool = True
                    ) -> bytes:
    """The ``/metrics`` body for one request (computed on each request, as Falco)."""
    return exposition(FalcoCollector(snapshot, rules_counters=rules_counters).collect())


def registry_for(snapshot: Callable[[], MetricsSnapshot]) -> CollectorRegistry:
    """A prometheus-client registry holding the collector (for ``generate_latest`` or a
    push gateway)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FalcoCollector(snapshot))
    return registry


# -- falco.yaml `metrics` ----------------------------------------------------------------------

_DURATION = re.compile(
    r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$")
_UNIT_MS = (365 * 86_400_000, 7 * 86_400_000, 86_400_000, 3_600_000, 60_000, 1000, 1)

INTERVAL_TOO_SMALL = (
    "Metrics interval must have a minimum value of 100ms and reflect a Prometheus compliant "
    "time duration format: "
    "https://prometheus.io/docs/prometheus/latest/querying/basics/#time-durations. "
)
INTERVAL_NO_UNIT = ("Metrics interval was passed as numeric value without Prometheus time "
                    "unit. Please specify a time unit")
NO_METRICS_OUTPUT = (
    "Metrics are enabled with no output configured. Please enable at least one output channel "
    "('metrics.output_rule', 'metrics.output_file' or 'webserver.prometheus_metrics_enabled')"
)


def parse_duration_ms(text: str) -> int:
    """A Prometheus duration (``1h30m``, ``500ms``) in ms; 0 when it does not parse."""
    compact = re.sub(r"\s+", "", str(text))
    m = _DURATION.match(compact)
    if not compact or m is None:
        return 0
    return sum(int(v) * unit for v, unit in zip(m.groups(), _UNIT_MS, strict=True) if v)


@dataclass(frozen=True)
class MetricsConfig:
    enabled: bool = False
    interval: str = "5000"
    interval_ms: int = 0
    output_rule: bool = False
    output_file: str = ""
    prometheus: bool = False
    rules_counters: bool = True
    include_empty_values: bool = False

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> MetricsConfig:
        """Read ``metrics.*`` (code defaults) and check it as Falco does when metrics are
        enabled; raises ``ConfigError`` with Falco's messages."""

        def flag(key: str, default: bool) -> bool:
            return as_bool(get_path(config, key, default), key)

        enabled = flag("metrics.enabled", False)
        interval = str(get_path(config, "metrics.interval", "5000"))
        mc = cls(
            enabled=enabled, interval=interval,
            output_rule=flag("metrics.output_rule", False),
            output_file=str(get_path(config, "metrics.output_file", "")),
            prometheus=flag("webserver.prometheus_metrics_enabled", False),
            rules_counters=flag("metrics.rules_counters_enabled", True),
            include_empty_values=flag("metrics.include_empty_values", False),
        )
        if not enabled:
            return mc
        compact = re.sub(r"\s+", "", interval)
        if compact.isdigit():
            raise ConfigError(INTERVAL_NO_UNIT)
        ms = parse_duration_ms(compact)
        if ms < 100:
            raise ConfigError(INTERVAL_TOO_SMALL)
        if not (mc.output_rule or mc.output_file or mc.prometheus):
            raise ConfigError(NO_METRICS_OUTPUT)
        log.info("Setting metrics interval to %s, equivalent to %d (ms)", interval, ms)
        return cls(**{**mc.__dict__, "interval_ms": ms})


# -- periodic snapshots ------------------------------------------------------------------------

SNAPSHOT_RULE = "Falco internal: metrics snapshot"
SNAPSHOT_MSG = "Falco metrics snapshot"


def snapshot_fields(snap: MetricsSnapshot, source: SourceMetrics, *, prev_evts: int,
                    prev_ns: int, rules_counters: bool = True,
                    include_empty_values: bool = False) -> dict[str, Any]:
    """The ``output_fields`` of one source's snapshot (dotted names, falco-core.md §8.1)."""
    f: dict[str, Any] = {
        "evt.time": snap.now_ns,
        "evt.source": source.source,
        "evt.hostname": snap.hostname,
        "falco.version": snap.falco_version,
        "falco.start_ts": snap.start_ts_ns,
        "falco.reload_ts": snap.reload_ts_ns or snap.start_ts_ns,
        "falco.duration_sec": max(0, (snap.now_ns - snap.start_ts_ns) // 1_000_000_000),
        "falco.kernel_release": snap.kernel_release,
        "falco.host_boot_ts": snap.host_boot_ts_ns,
        "falco.host_num_cpus": snap.host_num_cpus,
        "falco.outputs_queue_num_drops": snap.outputs.get("outputs_queue_num_drops", 0),
        "scap.engine_name": source.engine_name,
    }
    for path, digest in snap.rules_files_sha256.items():
        f[f"falco.sha256_rules_file.{sanitize_metric_name(Path(path).stem)}"] = digest
    for path, digest in snap.config_files_sha256.items():
        f[f"falco.sha256_config_file.{sanitize_metric_name(Path(path).stem)}"] = digest
    if rules_counters:
        f["falco.rules.matches_total"] = snap.matches_total
        for rc in snap.rule_matches:
            f[f"falco.rules.{sanitize_metric_name(rc.rule)}"] = rc.count
    prefix = "scap." if source.source == SYSCALL else "plugins."
    for name, value in source.counters.items():
        f[prefix + name] = value
    if not include_empty_values:
        f = {k: v for k, v in f.items() if v not in (0, "")}
    # Always present, even when zero.
    elapsed = (snap.now_ns - prev_ns) / 1e9 if prev_ns else 0.0
    f["falco.num_evts"] = source.num_evts
    f["falco.num_evts_prev"] = prev_evts
    f["falco.evts_rate_sec"] = round((source.num_evts - prev_evts) / elapsed, 1) if elapsed else 0.0
    return f


class MetricsWriter:
    """Emits one snapshot per source every interval, for sources that processed events since the
    last one (Falco snapshots from inside each source loop, so an idle source emits none)."""

    def __init__(self, config: MetricsConfig, snapshot: Callable[[], MetricsSnapshot],
                 outputs: Any = None) -> None:
        self.config = config
        self.snapshot = snapshot
        self.outputs = outputs
        self.samples = 0
        #: snapshots that could not be written to ``output_file``
        self.lost = 0
        self._prev: dict[str, tuple[int, int]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> MetricsWriter:
        if self.config.enabled and (self.config.output_rule or self.config.output_file):
            self._thread = threading.Thread(target=self._run, name="pyfalco-metrics",
                                            daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.config.interval_ms / 1000):
            try:
                self.tick()
            except Exception as exc:  # a metrics failure must not stop detection
                log.error("metrics: %s", exc)

    def tick(self) -> int:
        """Emit the snapshots due now; returns how many were emitted."""
        snap = self.snapshot()
        emitted = 0
        for src in snap.sources:
            prev_evts, prev_ns = self._prev.get(src.source, (0, snap.start_ts_ns))
            if src.num_evts == prev_evts:
                continue
            fields = snapshot_fields(snap, src, prev_evts=prev_evts, prev_ns=prev_ns,
                                     rules_counters=self.config.rules_counters,
                                     include_empty_values=self.config.include_empty_values)
            self._prev[src.source] = (src.num_evts, snap.now_ns)
            self.samples += 1
            emitted += 1
            if self.config.output_rule and self.outputs is not None:
                self.outputs.handle_internal(SNAPSHOT_MSG, Priority.INFORMATIONAL, fields,
                                             rule=SNAPSHOT_RULE, time_ns=snap.now_ns)
            if self.config.output_file:
                line = dumps({"output_fields": fields, "sample": self.samples}) + "\n"
                try:
                    with open(self.config.output_file, "a", encoding="utf-8") as fh:
                        fh.write(line)
                except OSError as exc:
                    self.lost += 1  # counted, and the next interval tries again
                    log.error("metrics: cannot write %s: %s", self.config.output_file, exc)
        return emitted

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
