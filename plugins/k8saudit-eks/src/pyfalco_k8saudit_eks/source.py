"""The k8s_audit source instance of k8saudit-eks: a poller thread feeding a bounded queue."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pyfalco.api import Event
from pyfalco.errors import PluginError

from .config import EksConfig
from .poller import CloudWatchPoller, PollError, PollerThread, Record

#: Events per batch and how long next_batch waits for the first one (the Go SDK's 128 / 30 ms;
#: the core wants an answer within ~100 ms to notice a shutdown).
BATCH_SIZE = 128
BATCH_WAIT_S = 0.05

#: ``to_events(message) -> events``: one CloudWatch message (an audit Event, EventList or array
#: as JSON text) to pyfalco events; invalid or oversize audit events are dropped and counted by
#: the converter, whose ``counters()`` are merged into ours.
Converter = Callable[[str], Sequence[Event]]


class EksInstance:
    """``next_batch`` drains events converted by the poller thread; poll errors end the source
    once the events before them are delivered."""

    def __init__(
        self,
        poller: CloudWatchPoller,
        to_events: Converter,
        converter_counters: Callable[[], Mapping[str, int]] = dict,
    ) -> None:
        self.poller = poller
        self._to_events = to_events
        self._converter_counters = converter_counters
        self._queue: queue.Queue[Event] = queue.Queue(maxsize=poller.config.buffer_size)
        self._lock = threading.Lock()
        self._thread = PollerThread(poller, self._deliver)
        self._thread.start()

    def _deliver(self, record: Record) -> bool:
        for evt in self._to_events(record.message):
            while True:
                try:
                    self._queue.put(evt, timeout=0.1)
                    break
                except queue.Full:
                    if self._thread.stop_event.is_set():
                        return False
        return True

    def next_batch(self) -> Sequence[Event] | None:
        batch: list[Event] = []
        try:
            batch.append(self._queue.get(timeout=BATCH_WAIT_S))
            while len(batch) < BATCH_SIZE:
                batch.append(self._queue.get_nowait())
        except queue.Empty:
            pass
        if not batch and self._thread.done.is_set() and self._queue.empty():
            if self._thread.error:
                raise PluginError(f"k8saudit-eks: {self._thread.error}")
            return None
        return batch

    def counters(self) -> Mapping[str, int]:
        s = self.poller.stats
        out: dict[str, Any] = {
            "polls": s.polls,
            "records": s.records,
            "duplicates_skipped": s.duplicates_skipped,
            "truncated_drops": s.truncated,
            "other_streams_skipped": s.other_streams,
            "throttled_retries": s.throttled,
            "connection_retries": s.connection_errors,
            "poll_errors": s.errors,
        }
        out.update(self._converter_counters())
        return out

    def close(self) -> None:
        self._thread.stop()


def open_instance(
    init_config: dict[str, Any],
    cluster: str,
    to_events: Converter,
    converter_counters: Callable[[], Mapping[str, int]] = dict,
    *,
    client: Any = None,
) -> EksInstance:
    """Open the source for ``cluster`` (the open_params)."""
    from .poller import make_client

    cluster = cluster.strip()
    if not cluster:
        raise PluginError("k8saudit-eks: cluster name can't be empty")
    config = EksConfig.from_init_config(init_config)
    if client is None:
        try:
            client = make_client(config)
        except Exception as exc:  # botocore raises many kinds here (profile not found, ...)
            raise PluginError(f"k8saudit-eks: error creating AWS config: {exc}") from exc
    try:
        poller = CloudWatchPoller(client, cluster, config)
    except PollError as exc:
        raise PluginError(f"k8saudit-eks: {exc}") from None
    return EksInstance(poller, to_events, converter_counters)
