"""CloudWatch message → pyfalco events, through k8saudit's family API (no copy of its parsing)."""

from __future__ import annotations

import threading
from collections.abc import Mapping

from pyfalco.api import Event
from pyfalco_k8saudit import SplitStats, make_event, split_audit_payload


class AuditConverter:
    """Splits each message (an Event, an EventList or an array) and counts what it drops."""

    def __init__(self, *, max_event_size: int, plugin_id: int) -> None:
        self.max_event_size = max_event_size
        self.plugin_id = plugin_id
        self.stats = SplitStats()
        self._lock = threading.Lock()  # counters() is read from another thread

    def to_events(self, message: str) -> list[Event]:
        with self._lock:
            audit, _ = split_audit_payload(
                message, max_event_size=self.max_event_size, stats=self.stats,
                where="CloudWatch record")
        return [make_event(a, plugin_id=self.plugin_id) for a in audit]

    def counters(self) -> Mapping[str, int]:
        out: dict[str, int] = {}
        with self._lock:
            self.stats.add_to(out)
        return out
