"""gvisor engine: events/s decoded from a real sandbox running a syscall-heavy loop.

Needs root and runsc. The workload (``dd bs=1`` from /dev/zero to /dev/null: one read and one
write per byte, each an enter and an exit point) runs twice in fresh sandboxes traced with
Falco's session config:

* baseline: a listener that only receives records (no decoding): the rate the socket delivers
  and the drops runsc reports when the consumer does nothing at all;
* engine: the gvisor source instance (decode, map, queue) drained by a consumer thread as the
  app would.

A third, offline run decodes the engine run's records again from memory (CPU cost of decoding
alone). Reports events/s, records/s and runsc's dropped count; ratios are against the baseline.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

BYTES = int(os.environ.get("BENCH_GVISOR_BYTES", "100000"))
WORKLOAD = ["/bin/dd", "if=/dev/zero", "of=/dev/null", "bs=1", f"count={BYTES}"]


def _skip(why: str) -> int:
    print(f"bench gvisor skipped: {why}")
    print(json.dumps({"name": "gvisor", "metrics": {"skipped": why}, "targets": {}}))
    return 0


def run_baseline(tmp: Path) -> dict:
    from pyfalco_gvisor.listener import Listener
    from pyfalco_gvisor.sandbox import Sandbox
    from pyfalco_gvisor.session import generate_config

    counts = {"records": 0, "dropped": 0}
    kept: list[bytes] = []

    def on_records(batch):
        counts["records"] += len(batch)
        last = batch[-1][1]
        counts["dropped"] = max(counts["dropped"], int.from_bytes(last[4:8], "little"))
        if len(kept) < 400_000:
            kept.extend(rec for _, rec in batch)

    done = threading.Event()
    sock = str(tmp / "base.sock")
    cfg = tmp / "base.json"
    cfg.write_text(generate_config(sock))
    lst = Listener(sock, on_records, on_close=lambda c: done.set())
    lst.start()
    t0 = time.perf_counter()
    with Sandbox(WORKLOAD, str(cfg), tmp) as sb:
        sb.wait(600)
    done.wait(30)
    elapsed = time.perf_counter() - t0
    lst.stop()
    return {"records": counts["records"], "dropped": counts["dropped"], "seconds": elapsed,
            "kept": kept}


def run_engine(tmp: Path) -> dict:
    from pyfalco_gvisor.engine import GvisorInstance
    from pyfalco_gvisor.sandbox import Sandbox
    from pyfalco_gvisor.session import generate_config

    cfg = tmp / "engine.json"
    cfg.write_text(generate_config(str(tmp / "engine.sock")))
    inst = GvisorInstance(str(cfg), root="", attach=False)
    consumed = [0]
    stop = threading.Event()

    def consume():
        while not stop.is_set():
            consumed[0] += len(inst.next_batch() or ())

    th = threading.Thread(target=consume)
    th.start()
    t0 = time.perf_counter()
    with Sandbox(WORKLOAD, str(cfg), tmp) as sb:
        sb.wait(600)
    end = time.monotonic() + 30
    while inst.counters()["connections_open"] and time.monotonic() < end:
        time.sleep(0.05)
    elapsed = time.perf_counter() - t0
    time.sleep(0.3)
    stop.set()
    th.join()
    c = inst.counters()
    inst.close()
    return {"records": c["records"], "events": c["events"], "consumed": consumed[0],
            "dropped": c["gvisor_dropped"], "seconds": elapsed, "counters": c}


def run_offline(records: list[bytes]) -> dict:
    """Decode the recorded records again in batches of 256; then decode and feed the syscall
    state as the app's parser does (what a rule-less run costs per event)."""
    from pyfalco_gvisor.decoder import Decoder
    from pyfalco_gvisor.events import parse_batch
    from pyfalco_gvisor.listener import Connection
    from pyfalco_syscall.state import SyscallState

    batch = [(Connection(1, None), r) for r in records]  # type: ignore[arg-type]
    dec = Decoder()
    t0 = time.perf_counter()
    n = 0
    for i in range(0, len(batch), 256):
        n += len(dec.decode(batch[i : i + 256]))
    dt = time.perf_counter() - t0
    batch = [(Connection(2, None), r) for r in records]  # type: ignore[arg-type]
    dec, state = Decoder(), SyscallState()
    t0 = time.perf_counter()
    for i in range(0, len(batch), 256):
        parse_batch(state, dec.decode(batch[i : i + 256]))
    dt_state = time.perf_counter() - t0
    return {"records": len(records), "events": n, "seconds": dt, "seconds_state": dt_state}


def main() -> int:
    if os.geteuid() != 0:
        return _skip("needs root")
    try:
        from pyfalco_gvisor.runsc import RunscError, version

        version()
    except (ImportError, RunscError) as exc:
        return _skip(str(exc))
    with tempfile.TemporaryDirectory(prefix="bench-gvisor-") as d:
        tmp = Path(d)
        base = run_baseline(tmp)
        eng = run_engine(tmp)
    off = run_offline(base.pop("kept"))

    base_rate = base["records"] / base["seconds"]
    rec_rate = eng["records"] / eng["seconds"]
    ev_rate = eng["events"] / eng["seconds"]
    off_rate = off["events"] / off["seconds"] if off["seconds"] else 0.0
    off_rec_rate = off["records"] / off["seconds"] if off["seconds"] else 0.0
    state_rate = off["events"] / off["seconds_state"] if off["seconds_state"] else 0.0
    sent = eng["records"] + eng["dropped"]
    drop_pct = 100.0 * eng["dropped"] / sent if sent else 0.0
    print(f"workload: dd bs=1 count={BYTES} in a sandbox (~{4 * BYTES} points)")
    print(f"baseline (receive only): {base['records']} records in {base['seconds']:.2f}s "
          f"= {base_rate:,.0f} records/s, runsc dropped {base['dropped']}")
    print(f"engine: {eng['records']} records -> {eng['events']} events in {eng['seconds']:.2f}s "
          f"= {ev_rate:,.0f} events/s ({rec_rate:,.0f} records/s), runsc dropped "
          f"{eng['dropped']} ({drop_pct:.2f}%), consumer got {eng['consumed']}")
    print(f"offline decode: {off['records']} records -> {off['events']} events "
          f"= {off_rate:,.0f} events/s ({off_rec_rate:,.0f} records/s)")
    print(f"offline decode + syscall state: {state_rate:,.0f} events/s")
    ratio = rec_rate / base_rate if base_rate else 0.0
    print(f"engine/baseline records/s ratio: {ratio:.2f}")
    report = {
        "name": "gvisor",
        "metrics": {
            "engine_events_per_s": round(ev_rate),
            "engine_records_per_s": round(rec_rate),
            "engine_runsc_dropped": eng["dropped"],
            "engine_drop_pct": round(drop_pct, 3),
            "baseline_records_per_s": round(base_rate),
            "baseline_runsc_dropped": base["dropped"],
            "offline_decode_events_per_s": round(off_rate),
            "offline_decode_records_per_s": round(off_rec_rate),
            "offline_decode_and_state_events_per_s": round(state_rate),
            "engine_vs_baseline": round(ratio, 3),
            "counters": eng["counters"],
        },
        "targets": {
            # the engine keeps up with what the sandbox sends: < 1% of points dropped by runsc
            "runsc drop % with the engine": {"value": round(drop_pct, 3), "target": 1.0,
                                             "ok": drop_pct < 1.0},
            # The records/s ratio (engine_vs_baseline above) is reported, not judged: on two
            # cores the sandbox and the decoder share the CPU, so the sandbox's own speed
            # decides it (0.68-1.55 across runs of the same code); whether the engine keeps up
            # is what runsc's drop count says.
        },
    }
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
