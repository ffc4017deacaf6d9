"""Run every benchmark module (or those named on the command line) and collect their reports.

Each ``benchmarks/bench_<name>.py`` is executed as ``python -m benchmarks.bench_<name>`` in a
process of its own; it prints human-readable lines and, last, one JSON object
(``{"name": ..., "metrics": {...}, "targets": {"<what>": {"value": x, "target": y, "ok": bool}}}``).
The reports are written to ``bench-results/<name>.json`` and summarised at the end.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE.parent / "bench-results"
#: A benchmark still running after this many seconds is stopped and reported as failed.
TIMEOUT_S = float(os.environ.get("BENCH_TIMEOUT_S", "900"))


def main(argv: list[str]) -> int:
    names = argv or sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))
    OUT.mkdir(exist_ok=True)
    summary: list[tuple[str, str, object, object, object]] = []
    failed = []
    for name in names:
        print(f"== bench {name}", flush=True)
        try:
            proc = subprocess.run(
                [sys.executable, "-m", f"benchmarks.bench_{name}"],
                cwd=HERE.parent, stdout=subprocess.PIPE, text=True, timeout=TIMEOUT_S,
            )
        except subprocess.TimeoutExpired:
            print(f"bench {name}: stopped after {TIMEOUT_S:.0f} s", flush=True)
            failed.append(name)
            continue
        lines = proc.stdout.strip().splitlines()
        print("\n".join(lines[:-1] if lines else []), flush=True)
        report = None
        if lines:
            try:
                report = json.loads(lines[-1])
            except ValueError:
                print(lines[-1])
        if proc.returncode != 0 or report is None:
            failed.append(name)
            continue
        (OUT / f"{name}.json").write_text(json.dumps(report, indent=2))
        for what, t in report.get("targets", {}).items():
            summary.append((name, what, t.get("value"), t.get("target"), t.get("ok")))
    print("\n== targets")
    for name, what, value, target, ok in summary:
        print(f"{'OK ' if ok else 'MISS'} {name}: {what} = {value} (target {target})")
    if failed:
        print(f"benchmarks that failed to run: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
