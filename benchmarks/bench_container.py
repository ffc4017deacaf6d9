"""container plugin: cost of the container fields on the per-event path.

Falco's default rules test the ``container`` macro (``container.id != host``) on most syscall
events and read ``container.image.repository`` in many conditions. Measured in one run, in this
process, over 200k events spread over 2,000 threads (10% on the host, the rest in 100
containers whose metadata is cached, as after the first lookups):

- baseline: reading an attribute of the event's thread (what a libsinsp field read costs here);
- container.id: the cgroup-derived id (cached on the thread);
- container.image.repository: the id plus the metadata cache lookup.

Rates use CPU time (time.process_time). Prints lines, then one JSON report
(benchmarks/__main__.py). Target: container.id at least 0.15 of the baseline's rate, i.e.
the container macro costs about as much as a handful of attribute reads.
"""

from __future__ import annotations

import json
import time

from pyfalco_container import fields as F
from pyfalco_container.cgroups import match_cgroups
from pyfalco_container.info import ContainerInfo
from pyfalco_container.store import MetadataStore

N_EVENTS = 200_000
N_THREADS = 2_000
N_CONTAINERS = 100
TARGET_RATIO = 0.15


class Thread:
    __slots__ = ("cgroups", "container_id", "state", "pidns_init_start_ts", "is_invalid",
                 "comm")

    def __init__(self, cgroups: list[str]) -> None:
        self.cgroups = cgroups
        self.container_id = ""
        self.state = None
        self.pidns_init_start_ts = 0
        self.is_invalid = False
        self.comm = "bash"


class Evt:
    __slots__ = ("thread", "ts")

    def __init__(self, thread: Thread) -> None:
        self.thread = thread
        self.ts = 0


def setup() -> list[Evt]:
    store = MetadataStore([])
    ids = [f"{i:064x}" for i in range(1, N_CONTAINERS + 1)]
    for cid in ids:
        store._cache[cid[:12]] = ContainerInfo(
            id=cid[:12], full_id=cid, type="docker", name=f"c{cid[-4:]}",
            image_repo="docker.io/library/nginx")
    F.STATE.store = store
    threads = []
    for t in range(N_THREADS):
        if t % 10 == 0:
            threads.append(Thread(["cpu=/user.slice", "memory=/user.slice"]))
        else:
            cid = ids[t % N_CONTAINERS]
            threads.append(Thread([f"cpu=/docker/{cid}", f"memory=/docker/{cid}"]))
    return [Evt(threads[i % N_THREADS]) for i in range(N_EVENTS)]


def rate(fn, events) -> float:
    t0 = time.process_time()
    for e in events:
        fn(e)
    return len(events) / (time.process_time() - t0)


def main() -> None:
    events = setup()
    spec = {f.name: f for f in F.FIELDS}
    cid = spec["container.id"].binder()
    repo = spec["container.image.repository"].binder()
    cid(events[0])  # warm the per-thread caches once, as the first events of a thread do
    for e in events[:N_THREADS]:
        cid(e)
    match_cgroups.cache_clear()
    base = max(rate(lambda e: e.thread.comm, events) for _ in range(3))
    r_id = max(rate(cid, events) for _ in range(3))
    r_repo = max(rate(repo, events) for _ in range(3))
    ratio = r_id / base
    print(f"baseline thread attribute read: {base:,.0f} /s")
    print(f"container.id:                   {r_id:,.0f} /s ({1e9 / r_id:.0f} ns)")
    print(f"container.image.repository:     {r_repo:,.0f} /s ({1e9 / r_repo:.0f} ns)")
    print(json.dumps({
        "name": "container",
        "metrics": {"baseline_per_s": base, "container_id_per_s": r_id,
                    "image_repository_per_s": r_repo},
        "targets": {"container.id rate / attribute read rate": {
            "value": round(ratio, 3), "target": TARGET_RATIO, "ok": ratio >= TARGET_RATIO}},
    }))


if __name__ == "__main__":
    main()
