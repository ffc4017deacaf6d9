"""The k8s_audit source instance of k8saudit-gke: a reader thread feeding a bounded queue."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from pyfalco.api import Event
from pyfalco.errors import PluginError
from pyfalco_k8saudit import SplitStats, audit_events_from_object, make_event

from .config import GkeConfig
from .convert import Rejected, to_audit_event
from .metadata import ClusterLabels
from .reader import LoggingReader, ReadError

log = logging.getLogger("pyfalco.k8saudit-gke")

PLUGIN_ID = 16
BATCH_SIZE = 128
BATCH_WAIT_S = 0.05


class GkeInstance:
    def __init__(self, reader: LoggingReader, metadata: ClusterLabels | None = None) -> None:
        self.reader = reader
        self.config: GkeConfig = reader.config
        self.metadata = metadata
        self.split_stats = SplitStats()
        self.rejected: dict[str, int] = {}
        self._lock = threading.Lock()
        self._queue: queue.Queue[Event] = queue.Queue(maxsize=self.config.buffer_size)
        self._stop = threading.Event()
        self._done = threading.Event()
        self.error: str | None = None
        reader._sleep = self._stop.wait
        self._thread = threading.Thread(
            target=self._run, name=f"k8saudit-gke:{reader.target.project}", daemon=True)
        self._thread.start()

    # -- reader thread ----------------------------------------------------------------------

    def _convert(self, entry: Any) -> list[Event]:
        try:
            if self.metadata is not None and isinstance(entry, dict):
                self.metadata.enrich(entry)
            obj, _ts = to_audit_event(entry, use_status=self.config.use_status)
        except Rejected as rej:
            with self._lock:
                self.rejected[rej.reason] = self.rejected.get(rej.reason, 0) + 1
            log.warning("k8saudit-gke: %s", rej)
            return []
        with self._lock:
            audit = audit_events_from_object(
                obj, self.split_stats, max_event_size=self.config.max_event_size)
        return [make_event(a, plugin_id=PLUGIN_ID) for a in audit]

    def _put(self, evt: Event) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(evt, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        cfg = self.config
        failures = 0
        try:
            while not self._stop.is_set():
                try:
                    for entry in self.reader.poll():
                        for evt in self._convert(entry):
                            if not self._put(evt):
                                return
                    self.reader.save_state()
                    failures, wait = 0, cfg.polling_interval_s
                except ReadError as exc:
                    if self._stop.is_set():
                        return
                    self.reader.stats.errors += 1
                    if cfg.on_error != "retry":
                        self.error = str(exc)
                        return
                    failures += 1
                    wait = min(60.0, cfg.polling_interval_s * 2 ** min(failures - 1, 6))
                    log.error("k8saudit-gke: %s; polling again in %.1fs", exc, wait)
                if self._stop.wait(wait):
                    return
        except Exception as exc:  # a bug ends the source with a message, never silently
            log.exception("k8saudit-gke reader crashed")
            self.error = f"reader crashed: {type(exc).__name__}: {exc}"
        finally:
            self._done.set()

    # -- engine side ------------------------------------------------------------------------

    def next_batch(self) -> Sequence[Event] | None:
        batch: list[Event] = []
        try:
            batch.append(self._queue.get(timeout=BATCH_WAIT_S))
            while len(batch) < BATCH_SIZE:
                batch.append(self._queue.get_nowait())
        except queue.Empty:
            pass
        if not batch and self._done.is_set() and self._queue.empty():
            if self.error:
                raise PluginError(f"k8saudit-gke: {self.error}")
            return None
        return batch

    def counters(self) -> Mapping[str, int]:
        s = self.reader.stats
        out = {
            "polls": s.polls,
            "entries": s.entries,
            "duplicates_skipped": s.duplicates_skipped,
            "throttled_retries": s.throttled,
            "unavailable_retries": s.unavailable,
            "connection_retries": s.connection_errors,
            "poll_errors": s.errors,
        }
        with self._lock:
            for reason, n in self.rejected.items():
                out[f"drops_{reason}"] = n
            self.split_stats.add_to(out)
            out["drops"] = out.get("drops", 0) + sum(self.rejected.values())
        if self.metadata is not None:
            out["metadata_fetches"] = self.metadata.fetches
            out["metadata_errors"] = self.metadata.errors
        return out

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        try:
            self.reader.save_state()
        except OSError as exc:
            log.error("k8saudit-gke: cannot write state_file: %s", exc)


def open_instance(init_config: dict[str, Any], open_params: str, *, client: Any = None,
                  session: Any = None) -> GkeInstance:
    from .metadata import make_session
    from .reader import Target, make_client

    config = GkeConfig.from_init_config(init_config)
    try:
        target = Target.parse(open_params, config.project_id)
    except ValueError as exc:
        raise PluginError(f"k8saudit-gke: {exc}") from None
    try:
        if client is None:
            client = make_client(config, target.project)
        metadata = None
        if config.fetch_cluster_metadata:
            metadata = ClusterLabels(
                session if session is not None else make_session(config),
                endpoint=config.container_api_endpoint,
                ttl_s=config.cache_expiration_min * 60,
            )
        reader = LoggingReader(client, target, config)
    except ReadError as exc:
        raise PluginError(f"k8saudit-gke: {exc}") from None
    except Exception as exc:  # google.auth.exceptions.DefaultCredentialsError and friends
        raise PluginError(
            f"k8saudit-gke: cannot create the Cloud Logging client: {type(exc).__name__}: {exc}"
        ) from None
    return GkeInstance(reader, metadata)
