"""Container metadata, looked up asynchronously and cached.

``get(ref)`` never blocks: it returns what the cache holds (or None) and, when the container is
not known yet, queues a lookup for the worker thread, which asks the runtimes whose sockets exist
(docker/podman over HTTP, containerd/CRI-O over CRI gRPC), in an order picked from the cgroup's
type hint. A container no runtime knows is retried after ``retry_interval``; a full queue drops
the request (counted) and a later event asks again.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from .cgroups import ContainerRef
from .docker import NotFound, Unreachable
from .info import ContainerInfo

log = logging.getLogger("pyfalco.container")

MAX_CACHED = 20000


class Runtime(Protocol):
    kind: str
    socket_path: str

    def inspect(self, container_id: str) -> ContainerInfo: ...


#: Which runtime kinds to ask first for each cgroup type hint.
ORDER = {
    "docker": ("docker", "podman", "containerd", "cri-o"),
    "podman": ("podman", "docker"),
    "containerd": ("containerd", "cri-o", "docker"),
    "cri-o": ("cri-o", "containerd", "docker"),
    "cri": ("containerd", "cri-o", "docker"),
    "gvisor": ("containerd", "cri-o", "docker", "podman"),
    "": ("docker", "podman", "containerd", "cri-o"),
}


@dataclass
class StoreStats:
    lookups: int = 0
    found: int = 0
    not_found: int = 0
    unreachable: int = 0
    queue_drops: int = 0
    errors: int = 0
    last_errors: list[str] = field(default_factory=list)


class MetadataStore:
    def __init__(
        self,
        runtimes: list[Runtime],
        *,
        retry_interval_s: float = 30.0,
        max_pending: int = 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.runtimes = runtimes
        self.retry_interval_s = retry_interval_s
        self.clock = clock
        self.stats = StoreStats()
        self._cache: dict[str, ContainerInfo] = {}
        self._retry_at: dict[str, float] = {}
        self._pending: set[str] = set()
        self._queue: queue.Queue[ContainerRef | None] = queue.Queue(maxsize=max_pending)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopped = False

    # -- event thread -----------------------------------------------------------------------

    def cached(self, container_id: str) -> ContainerInfo | None:
        """The cached metadata only (no lookup is queued): the per-event fast path."""
        return self._cache.get(container_id)

    def get(self, ref: ContainerRef) -> ContainerInfo | None:
        info = self._cache.get(ref.id)
        if info is not None:
            return info
        if ref.id in self._pending or self._retry_at.get(ref.id, 0.0) > self.clock():
            return None
        self._request(ref)
        return None

    def _request(self, ref: ContainerRef) -> None:
        if not self.runtimes or self._stopped:
            return
        with self._lock:
            if ref.id in self._pending:
                return
            try:
                self._queue.put_nowait(ref)
            except queue.Full:
                self.stats.queue_drops += 1
                return
            self._pending.add(ref.id)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="container-metadata", daemon=True)
                self._thread.start()

    # -- worker -----------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            ref = self._queue.get()
            if ref is None:
                return
            try:
                info = self.lookup(ref)
            except Exception as exc:  # a bug in one lookup must not stop the worker
                log.exception("container metadata lookup failed")
                self.stats.errors += 1
                info = None
                self._note(f"{ref.id}: {type(exc).__name__}: {exc}")
            with self._lock:
                if info is not None:
                    if len(self._cache) >= MAX_CACHED:
                        self._cache.pop(next(iter(self._cache)))
                    self._cache[ref.id] = info
                    self._retry_at.pop(ref.id, None)
                else:
                    self._retry_at[ref.id] = self.clock() + self.retry_interval_s
                self._pending.discard(ref.id)

    def lookup(self, ref: ContainerRef) -> ContainerInfo | None:
        """Ask the runtimes, in the order the type hint suggests (blocking: worker only)."""
        self.stats.lookups += 1
        order = ORDER.get(ref.type, ORDER[""])
        runtimes = sorted(
            self.runtimes,
            key=lambda r: order.index(r.kind) if r.kind in order else len(order))
        for rt in runtimes:
            if not os.path.exists(rt.socket_path):
                continue
            try:
                info = rt.inspect(ref.full_id or ref.id)
            except NotFound:
                continue
            except Unreachable as exc:
                self.stats.unreachable += 1
                self._note(str(exc))
                continue
            self.stats.found += 1
            return info
        self.stats.not_found += 1
        return None

    def _note(self, message: str) -> None:
        log.debug("container: %s", message)
        if len(self.stats.last_errors) >= 10:
            self.stats.last_errors.pop(0)
        self.stats.last_errors.append(message)

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """For tests and shutdown: wait until no lookup is pending."""
        deadline = time.monotonic() + timeout
        while self._pending and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self._pending

    def stop(self) -> None:
        self._stopped = True
        if self._thread is not None:
            try:
                self._queue.put(None, timeout=1)
            except queue.Full:
                pass
            self._thread.join(timeout=5)
            self._thread = None
        for rt in self.runtimes:
            close: Any = getattr(rt, "close", None)
            if close is not None:
                close()
