"""What every k8s_audit instance shares: batching parsed audit events into pyfalco Events,
and the counters of what was dropped (``HasCounters``)."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable

from pyfalco.api import Event

from .payload import AuditEvent, SplitStats, make_event

#: Events per next_batch. The Go SDK hands out 128; fewer parsed events alive at once keep
#: CPython's cyclic GC cheaper (measured with benchmarks/bench_k8saudit.py: ~20 % faster source).
BATCH_SIZE = 32


class BatchingInstance:
    """Holds Events already split but not yet handed out, at most one payload's worth,
    and the cumulative :class:`SplitStats` plus instance-specific counters."""

    def __init__(self, *, plugin_id: int, max_event_size: int) -> None:
        self.plugin_id = plugin_id
        self.max_event_size = max_event_size
        self.stats = SplitStats()
        self._pending: deque[Event] = deque()
        self._extra: dict[str, int] = {}
        self._counter_lock = threading.Lock()

    def count(self, name: str, n: int = 1) -> None:
        with self._counter_lock:
            self._extra[name] = self._extra.get(name, 0) + n

    def counters(self) -> dict[str, int]:
        with self._counter_lock:
            out = dict(self._extra)
        self.stats.add_to(out)
        return out

    def _queue(self, events: Iterable[AuditEvent]) -> None:
        pid = self.plugin_id
        self._pending.extend(make_event(ae, plugin_id=pid) for ae in events)

    def _take(self) -> list[Event]:
        pending = self._pending
        if len(pending) <= BATCH_SIZE:
            batch = list(pending)
            pending.clear()
            return batch
        return [pending.popleft() for _ in range(BATCH_SIZE)]
