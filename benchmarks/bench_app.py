"""The app's per-event path: what a source loop adds around rule evaluation.

* baseline: ``evaluator.process(event)`` called in a bare loop over pre-built events (the rules
  engine alone, no loop bookkeeping);
* loop: the app's :class:`~pyfalco.app.events.SourceLoop` over the same events in batches of
  128 (stamping num/ts/source, stop/reopen checks per batch, per-source counting, and an
  alert sink for the matches; no state parser: that is the source's own work).

Target: the loop costs at most 1.5x the bare evaluation of two cheap rules (the app adds only
per-batch work, the stamping of num/ts/source and a few attribute checks per event: about 0.1-0.2
µs; against real rules sets the share is far smaller). Ratios are against the baseline measured
in the same run, interleaved, best of five (the machine is shared).
"""

from __future__ import annotations

import json
import os
import time

N = int(os.environ.get("BENCH_APP_N", "200000"))
BATCH = 128


def build():
    from pyfalco.api import Event, FieldSpec, FieldTable, FieldType
    from pyfalco.rules import FieldCatalog, RulesContent, RulesEngine

    fields = [
        FieldSpec("bench.n", FieldType.UINT64, "n", lambda e: e.json()["n"]),
        FieldSpec("bench.user", FieldType.STRING, "user", lambda e: e.json()["user"]),
    ]
    catalog = FieldCatalog.from_tables([FieldTable(plugin="bench", fields=fields,
                                                   sources=("bench",))], sources=("bench",))
    engine = RulesEngine(catalog, loaded_sources=["bench"])
    res = engine.load([RulesContent(name="bench.yaml", text="""\
- rule: root user
  desc: d
  condition: bench.user = root and bench.n > 10
  output: n=%bench.n user=%bench.user
  priority: WARNING
  source: bench
- rule: many
  desc: d
  condition: bench.n in (1, 2, 3) and bench.user startswith adm
  output: n=%bench.n
  priority: NOTICE
  source: bench
""")])
    assert res.ok, res.as_text(verbose=True)
    ev = engine.evaluator("bench", "first")

    def events():
        users = ("alice", "bob", "root", "admin")
        return [Event(b"", obj={"n": i, "user": users[i % 4]}) for i in range(N)]

    return ev, events


def bench_baseline(ev, events) -> tuple[float, int]:
    evs = events()
    process = ev.process
    t0 = time.perf_counter()
    matched = 0
    for e in evs:
        e.num, e.ts, e.source = 1, 1, "bench"
        if process(e):
            matched += 1
    return time.perf_counter() - t0, matched


def bench_loop(ev, events) -> tuple[float, int]:
    from pyfalco.app.control import Control
    from pyfalco.app.events import SourceLoop, SourceStats

    evs = events()
    batches = [evs[i:i + BATCH] for i in range(0, len(evs), BATCH)]
    it = iter(batches)

    class Instance:
        def next_batch(self):
            return next(it, None)

        def close(self):
            pass

    matched = [0]

    def sink(evt, matches):
        matched[0] += len(matches)

    stats = {"bench": SourceStats("bench")}
    loop = SourceLoop(source="bench", instance=Instance(), evaluators={"bench": ev},
                      parsers={}, sink=sink, control=Control(), stats=stats)
    t0 = time.perf_counter()
    result = loop.run()
    elapsed = time.perf_counter() - t0
    assert result.success and stats["bench"].events == N
    return elapsed, matched[0]


def main() -> None:
    ev, events = build()
    # interleaved, best of 5 each: the machine is shared, noise hits both sides alike
    bases, loops = [], []
    for _ in range(5):
        bases.append(bench_baseline(ev, events))
        loops.append(bench_loop(ev, events))
    base, loop = min(bases), min(loops)
    assert base[1] == loop[1], (base, loop)
    ratio = loop[0] / base[0]
    print(f"baseline: {N / base[0]:,.0f} events/s ({base[1]} matches)")
    print(f"loop:     {N / loop[0]:,.0f} events/s ({ratio:.2f}x the baseline)")
    print(json.dumps({
        "name": "app",
        "metrics": {"baseline_eps": round(N / base[0]), "loop_eps": round(N / loop[0]),
                    "loop_vs_baseline": round(ratio, 3)},
        "targets": {"loop cost vs bare evaluation": {"value": round(ratio, 3), "target": 1.5,
                                                     "ok": ratio <= 1.5}},
    }))


if __name__ == "__main__":
    main()
