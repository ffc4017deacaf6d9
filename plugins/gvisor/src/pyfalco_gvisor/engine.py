"""The ``gvisor`` engine kind: a source instance fed by gVisor sandboxes.

``open_gvisor(ctx)`` reads ``engine.gvisor.config`` (runsc's session config, the same file the
sandboxes get through ``--pod-init-config``) for the socket path, listens on it, attaches to the
sandboxes already running under ``engine.gvisor.root`` (``runsc trace create --force``) and
reads their processes (``runsc trace procfs``). Events are decoded on the listener's thread and
handed to ``next_batch()`` through a bounded queue.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Sequence

from pyfalco.api import Event, OpenContext
from pyfalco.errors import ConfigError, PluginError
from pyfalco_syscall.state import default_state

from . import runsc
from .decoder import Decoder
from .events import seed_processes
from .listener import Connection, Listener
from .procfs import SandboxProcess, process_from_procfs
from .session import read_session_file

log = logging.getLogger("pyfalco.gvisor")

#: Docker's runsc state root, Falco's default for engine.gvisor.root.
DEFAULT_ROOT = "/var/run/docker/runtime-runc/moby"
#: Batches waiting for the event thread. When full, the reader stops reading records (still
#: answering handshakes): gVisor then counts what it cannot send in dropped_count, which we
#: report (nothing is lost silently either way).
QUEUE_BATCHES = 64
#: How long next_batch() waits for events before returning an empty batch (the app's TIMEOUT).
POLL_SECONDS = 0.1



class GvisorInstance:
    """An open gvisor source: listener + decoder + queue (+ the sandboxes it attached to)."""

    def __init__(self, config_path: str, root: str, *, attach: bool = True) -> None:
        self.config_path = config_path
        self.root = root
        _, self.socket_path = read_session_file(config_path)
        self.decoder = Decoder()
        #: The syscall source's thread/fd tables (shared with the syscall plugin's parser); a
        #: new stream starts from empty tables.
        self.state = default_state()
        self.state.reset()
        self.seeded = 0
        self._queue: queue.Queue[list[Event]] = queue.Queue(QUEUE_BATCHES)
        self._stopping = threading.Event()
        self.queue_waits = 0
        #: Processes of already-running sandboxes, read by ``runsc trace procfs``; handed to the
        #: syscall state from the event thread (see ``take_seed_processes``).
        self._seed: list[SandboxProcess] = []
        self._seed_lock = threading.Lock()
        self.attached: list[str] = []
        self.attach_errors = 0
        try:
            self.listener = Listener(self.socket_path, self._on_records, self._on_close,
                                     ready=self._can_take_batch)
        except OSError as exc:
            raise PluginError(f"gvisor engine: {exc.strerror}") from None
        self.listener.start()
        if attach:
            self._attach_running()

    # -- reading thread side -------------------------------------------------------------------

    def _can_take_batch(self) -> bool:
        # The reader is the queue's only producer: a queue not full now stays so until its put.
        if self._queue.full():
            self.queue_waits += 1
            return False
        return True

    def _on_records(self, batch: list[tuple[Connection, bytes]]) -> None:
        events = self.decoder.decode(batch)
        if not events:
            return
        # Does not wait in practice (see _can_take_batch); kept bounded all the same.
        while not self._stopping.is_set():
            try:
                self._queue.put(events, timeout=POLL_SECONDS)
                return
            except queue.Full:
                self.queue_waits += 1

    def _on_close(self, conn: Connection) -> None:
        self.decoder.connection_closed(conn)

    # -- sandboxes already running -------------------------------------------------------------

    def _attach_running(self) -> None:
        """Attach to every running sandbox of ``root`` and read its processes. Failures are
        logged and counted: a sandbox that cannot be traced must not stop the others."""
        if not os.path.isdir(self.root):
            log.info("gvisor engine: no runsc state under %s: no running sandbox to attach to",
                     self.root)
            return
        try:
            ids = runsc.list_running(self.root)
        except runsc.RunscError as exc:
            log.warning("gvisor engine: cannot list sandboxes under %s: %s", self.root, exc)
            self.attach_errors += 1
            return
        for cid in ids:
            # Attach first, then read the processes: a process started in between is then both
            # in the dump and in the events (harmless: seeds are applied before any event),
            # never in neither (a process unknown to the state has no name or parent).
            try:
                runsc.trace_create(self.root, self.config_path, cid, force=True)
            except runsc.RunscError as exc:
                log.warning("gvisor engine: cannot attach to %s: %s", cid, exc)
                self.attach_errors += 1
                continue
            try:
                entries = runsc.trace_procfs(self.root, cid)
            except runsc.RunscError as exc:
                log.warning("gvisor engine: cannot read processes of %s: %s", cid, exc)
                self.attach_errors += 1
                entries = []
            self.attached.append(cid)
            sid = self.decoder.sandboxes.get(cid) or self.decoder.sandboxes.acquire(cid)
            procs = [process_from_procfs(e, sid, cid) for e in entries]
            with self._seed_lock:
                self._seed.extend(procs)
            log.info("gvisor engine: attached to %s (%d processes)", cid, len(procs))

    def take_seed_processes(self) -> list[SandboxProcess]:
        with self._seed_lock:
            procs, self._seed = self._seed, []
        return procs

    # -- SourceInstance ------------------------------------------------------------------------

    def next_batch(self) -> Sequence[Event] | None:
        if self.listener.error is not None:
            raise PluginError(f"gvisor engine: reading thread failed: {self.listener.error}")
        if self._seed:
            # the thread table belongs to the source thread: seed it here, never from the reader
            self.seeded += seed_processes(self.state, self.take_seed_processes())
        try:
            events = self._queue.get(timeout=POLL_SECONDS)
        except queue.Empty:
            return []
        # Take whatever else is ready without waiting: fewer, larger batches for the app.
        for _ in range(QUEUE_BATCHES):
            try:
                events.extend(self._queue.get_nowait())
            except queue.Empty:
                break
        # The state is updated event by event by the parsers the app runs right before each
        # evaluation (pyfalco_gvisor.events.state_parser): never here for a whole batch.
        return events

    def counters(self) -> dict[str, int]:
        d = dict(self.decoder.counters)
        lc = self.listener.counters
        truncated = sum(c.counters.get("truncated_records", 0)
                        for c in list(self.listener.connections.values()))
        d["truncated_records"] = truncated + lc.get("truncated_records", 0)
        # drops: what gVisor could not send (cumulative dropped_count of every header) plus what
        # we could not read; decode failures are the "bug" drops, as Falco's n_drops_bug.
        d["drops"] = d["gvisor_dropped"] + d["truncated_records"]
        d["drops_bug"] = d["bad_header"] + d["parse_errors"] + d["map_errors"] + d["unknown_type"]
        # Falco's names for the gVisor engine's stats (scap.n_* in snapshots and metrics):
        # n_drops = what the sandboxes reported dropped, n_drops_bug = undecodable records.
        d["n_evts"] = d["events"]
        d["n_drops"] = d["drops"]
        d["n_drops_bug"] = d["drops_bug"]
        d["n_drops_buffer_total"] = d["drops"] + d["drops_bug"]
        d["connections"] = lc.get("connections", 0)
        d["connections_open"] = sum(
            1 for c in list(self.listener.connections.values()) if c.handshaken
        )
        d["handshake_errors"] = lc.get("handshake_errors", 0)
        d["accept_errors"] = lc.get("accept_errors", 0)
        d["attach_errors"] = self.attach_errors
        d["queue_waits"] = self.queue_waits
        d["seeded_processes"] = self.seeded
        return d

    def close(self) -> None:
        self._stopping.set()
        for cid in self.attached:
            try:
                runsc.trace_delete(self.root, cid)
            except runsc.RunscError as exc:  # the sandbox may be gone already
                log.info("gvisor engine: detaching from %s: %s", cid, exc)
        self.listener.stop()


def open_gvisor(ctx: OpenContext) -> GvisorInstance:
    """``engine.kind: gvisor``: ``engine.gvisor.config`` (required) and ``engine.gvisor.root``."""
    cfg = ctx.engine_config or {}
    config_path = cfg.get("config") or ""
    if not config_path:
        raise ConfigError(
            "engine.gvisor.config is required with engine.kind: gvisor (generate one with "
            "--gvisor-generate-config)"
        )
    root = cfg.get("root") or DEFAULT_ROOT
    try:
        runsc.version()
    except runsc.RunscError as exc:
        raise PluginError(f"gvisor engine: {exc}") from None
    return GvisorInstance(os.fspath(config_path), root)
