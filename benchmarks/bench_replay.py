"""Replay throughput of the syscall source with upstream falco_rules.yaml loaded, next to
``sysdig -r`` on the same capture (issue 5).

The capture (>= 1M events) is written with the project's writer from the real captures of
Falco's test suite (every event block of every capture, repeated with shifted timestamps). pyfalco
runs the engine's per-event path: replay batches -> state parser -> rules evaluator of the
``syscall`` source (falco_rules.yaml, every installed plugin loaded, as ``pyfalco`` does).
sysdig reads the same file with a filter on the same event types the loaded rules can match and
prints process and fd fields of each match (the same work: state, filter, extraction).

Target: pyfalco >= 1/20 of sysdig's rate.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import upstream_dir

REPO = Path(__file__).resolve().parent.parent
UPSTREAM = upstream_dir()
TRACES = UPSTREAM / "falco-tests" / "trace_files"
RULES = UPSTREAM / "rules" / "falco_rules.yaml"
TARGET_EVENTS = int(os.environ.get("BENCH_REPLAY_EVENTS", "1000000"))


def build_capture(path: Path) -> int:
    """Write >= TARGET_EVENTS event blocks taken from the real captures; returns the count."""
    from pyfalco_syscall.scap.reader import ScapReader
    from pyfalco_syscall.scap.writer import ScapWriter
    from pyfalco_syscall.state import SyscallState

    union = SyscallState()
    blocks = []
    for cap in sorted(TRACES.glob("*.scap")):
        st = SyscallState()
        r = ScapReader(cap, st)
        evs = list(r.events())
        if not evs:
            continue
        t0 = min(e.ts for e in evs if e.ts) if any(e.ts for e in evs) else 0
        blocks.append([(e, max(0, e.ts - t0)) for e in evs])
        for tid, t in st.threads.items():
            union.threads.setdefault(tid, t)
        union.users.update(st.users)
        union.groups.update(st.groups)
        if not union.interfaces:
            union.interfaces = list(st.interfaces)
    if not blocks:
        raise SystemExit(f"no events in the captures of {TRACES}")
    n = 0
    base = 1_700_000_000_000_000_000
    with ScapWriter(path) as w:
        w.write_header(union, hostname="bench", num_cpus=2)
        rnd = 0
        while n < TARGET_EVENTS:
            for evs in blocks:
                for e, dt in evs:
                    e.ts = base + dt
                    w._write_one(e, None)
                    n += 1
                base += evs[-1][1] + 1000
            rnd += 1
    return n


def pyfalco_rate(path: Path) -> tuple[float, int, int, frozenset[str] | None]:
    """events/s of the engine path; returns (rate, events, alerts, event types of the rules)."""
    import gc

    from pyfalco.plugins import collect, get_plugin_manager
    from pyfalco.rules import FieldCatalog, RulesContent, RulesEngine
    from pyfalco_syscall.replay import ReplayInstance
    from pyfalco_syscall.state import SyscallState

    pm, failures = get_plugin_manager()
    registry = collect(pm, failures)
    catalog = FieldCatalog.from_registry(registry)
    versions = {n: p.required_version for n, p in registry.plugins.items()}
    engine = RulesEngine(catalog, loaded_sources=["syscall"], plugin_versions=versions)
    res = engine.load([RulesContent(name=str(RULES), text=RULES.read_text())])
    if not res.ok:
        raise SystemExit("falco_rules.yaml does not load:\n" + res.as_text())
    ev = engine.evaluator("syscall", rule_matching="first")
    st = SyscallState()
    inst = ReplayInstance(path, st)
    parse = st.parse
    process = ev.process
    gc.freeze()
    n = alerts = 0
    t0 = time.perf_counter()
    while (batch := inst.next_batch()) is not None:
        for evt in batch:
            parse(evt)
            if process(evt):
                alerts += 1
        n += len(batch)
    dt = time.perf_counter() - t0
    events = inst.reader.events_read
    return events / dt, events, alerts, ev.event_types


def sysdig_seconds(path: Path, types: frozenset[str] | None) -> float | None:
    """Wall time of ``sysdig -r`` over the capture (None without sysdig)."""
    if not shutil.which("sysdig"):
        return None
    flt = f"evt.type in ({', '.join(sorted(types))})" if types else ""
    cmd = ["sysdig", "-r", str(path), "-p", "%evt.num %proc.name %proc.pname %fd.name %user.name"]
    if flt:
        cmd.insert(3, flt)
    t0 = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - t0


def main() -> int:
    with tempfile.TemporaryDirectory() as d:
        cap = Path(d) / "bench.scap"
        t0 = time.perf_counter()
        written = build_capture(cap)
        print(f"capture: {written} event blocks, {cap.stat().st_size / 1e6:.1f} MB, built in "
              f"{time.perf_counter() - t0:.1f}s", flush=True)
        rate, events, alerts, types = pyfalco_rate(cap)
        print(f"pyfalco replay + falco_rules.yaml: {rate:,.0f} events/s ({events} events, "
              f"{alerts} alerts)", flush=True)
        sd_time = sysdig_seconds(cap, types)
        metrics = {"events": events, "pyfalco_events_per_s": round(rate), "alerts": alerts}
        targets = {}
        if sd_time is not None:
            sd_rate = events / sd_time
            ratio = rate / sd_rate
            print(f"sysdig -r (same event types, same fields): {sd_rate:,.0f} events/s; "
                  f"ratio pyfalco/sysdig = 1/{1 / ratio:.1f}", flush=True)
            metrics["sysdig_events_per_s"] = round(sd_rate)
            targets["replay_rate_vs_sysdig"] = {"value": round(ratio, 4), "target": 0.05,
                                                "ok": ratio >= 0.05}
        else:
            print("sysdig not installed: no baseline")
        print(json.dumps({"name": "replay", "metrics": metrics, "targets": targets}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
