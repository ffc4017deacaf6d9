"""Event processing: one loop per enabled source (falco-core.md §2.4).

Per event the loop does only per-event work: stamp ``num``/``ts``/``source`` when the source left
them empty, run the source's state parsers (plain callables), ``evaluator.process(event)``, and
hand an :class:`~pyfalco.outputs.Alert` per match to the outputs. No pluggy call, no lookup by
field name. Events are counted per source (for statistics and metrics).

A single enabled source runs on the main thread; several run one thread each. A loop ending at
EOF does not stop the others; a loop failing stops them all and the errors are merged.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..api import Event, HasCounters, SourceInstance
from .control import Control
from .result import RunResult

log = logging.getLogger("pyfalco")

#: How long an idle source (syscall with no driver) sleeps between checks of the stop flags.
IDLE_TICK_S = 0.1


@dataclass
class SourceStats:
    """Per-source counters the app exposes to statistics and metrics."""

    source: str
    #: Events processed (Falco's ``falco.num_evts``).
    events: int = 0
    #: Falco's ``scap.engine_name``: the engine kind, ``source_plugin`` or ``nodriver``.
    engine: str = ""
    instance: Any = None
    started_ns: int = 0

    def counters(self) -> dict[str, int]:
        """The instance's own counters (drops, ...), prefixed by nothing: the caller adds the
        source name."""
        inst = self.instance
        if isinstance(inst, HasCounters):
            try:
                return {k: int(v) for k, v in inst.counters().items()}
            except Exception:  # a broken counters() must not break stats
                return {}
        return {}


class IdleInstance:
    """The ``syscall`` source with no driver: produces no event (Falco's nodriver heartbeat)."""

    def __init__(self, stopping: threading.Event) -> None:
        self._stopping = stopping

    def next_batch(self) -> Sequence[Event] | None:
        self._stopping.wait(IDLE_TICK_S)
        return ()

    def close(self) -> None:
        pass


AlertSink = Callable[[Event, list[Any]], None]


@dataclass
class SourceLoop:
    """Everything one loop needs, bound before it starts."""

    source: str
    instance: SourceInstance
    #: source -> evaluator; one entry for a live source, every loaded source for replay.
    evaluators: Mapping[str, Any]
    #: source -> tuple of parser callables
    parsers: Mapping[str, tuple[Callable[[Event], None], ...]]
    sink: AlertSink
    control: Control
    stats: Mapping[str, SourceStats]
    reopen: Callable[[], None] = lambda: None
    #: ``-M``: stop after this much event time (ns); 0 = never.
    duration_ns: int = 0
    replay: bool = False
    result: RunResult | None = field(default=None, init=False)

    def run(self) -> RunResult:
        try:
            self.result = self._run()
        except Exception as exc:  # a source's failure becomes the loop's result
            self.result = RunResult.fatal(_reason(exc))
        return self.result

    def _run(self) -> RunResult:
        source = self.source
        instance = self.instance
        next_batch = instance.next_batch
        control = self.control
        sink = self.sink
        stats = self.stats[source]
        stats.started_ns = time.time_ns()
        replay = self.replay
        duration = self.duration_ns
        # live: bind this source's evaluator and parsers once
        process = self.evaluators[source].process if source in self.evaluators else None
        parsers = self.parsers.get(source, ())
        num = 0
        first_ts = 0
        while True:
            control.handle_reopen(self.reopen)
            if control.should_stop():
                break
            batch = next_batch()
            if batch is None:  # EOF: success, the other sources keep running
                break
            if not batch:
                continue
            if not replay:
                # the live path, kept tight: stamp, parse, evaluate
                now = time.time_ns()
                for evt in batch:
                    num += 1
                    if not evt.num:
                        evt.num = num
                    if not evt.ts:
                        evt.ts = now
                    if not evt.source:
                        evt.source = source
                    if parsers:
                        for parse in parsers:
                            parse(evt)
                    if process is not None:
                        matches = process(evt)
                        if matches:
                            sink(evt, matches)
                stats.events = num
                if duration:
                    if not first_ts:
                        first_ts = batch[0].ts
                    if batch[-1].ts - first_ts >= duration:
                        break
                continue
            # replay: one loop for every source of the capture, dispatched per event
            now = 0
            for evt in batch:
                num += 1
                if not evt.num:
                    evt.num = num
                if not evt.ts:
                    if not now:
                        now = time.time_ns()
                    evt.ts = now
                src = evt.source or source
                for parse in self.parsers.get(src, ()):
                    parse(evt)
                ev = self.evaluators.get(src)
                if ev is None:
                    raise RuntimeError(
                        f"Unknown event source for inspector's event (plugin ID: "
                        f"{evt.plugin_id})"
                    )
                if src in self.stats:
                    self.stats[src].events += 1
                matches = ev.process(evt)
                if matches:
                    sink(evt, matches)
            if duration:
                if not first_ts:
                    first_ts = batch[0].ts
                if batch[-1].ts - first_ts >= duration:
                    break
        return RunResult.ok()


def _reason(exc: BaseException) -> str:
    text = str(exc)
    return text if text else type(exc).__name__


def run_loops(loops: Sequence[SourceLoop], control: Control) -> RunResult:
    """Run the loops: on the main thread when there is one, else one thread each; merge."""
    if len(loops) == 1:
        result = loops[0].run()
        return result if not result.success else RunResult.ok()

    threads: list[tuple[SourceLoop, threading.Thread]] = []
    finished = threading.Semaphore(0)

    done: set[int] = set()

    def target(loop: SourceLoop) -> None:
        try:
            loop.run()
        finally:
            done.add(id(loop))
            finished.release()

    for loop in loops:
        t = threading.Thread(target=target, args=(loop,), name=f"source-{loop.source}",
                             daemon=True)
        threads.append((loop, t))
        t.start()

    merged = RunResult.ok()
    pending = list(threads)
    forced = False
    while pending:
        # short waits keep the main thread responsive to signals (Python runs handlers here)
        if not finished.acquire(timeout=0.2):
            continue
        still: list[tuple[SourceLoop, threading.Thread]] = []
        for loop, t in pending:
            if id(loop) not in done:
                still.append((loop, t))
                continue
            t.join()
            log.debug("Stopping capture for event source '%s'", loop.source)
            res = loop.result or RunResult.fatal(f"event source '{loop.source}' ended abnormally")
            if not res.success:
                merged = merged.merge(res)
                if not forced:
                    forced = True
                    log.info("An error occurred in an event source, forcing termination...")
                    control.request_terminate(None)
        pending = still
    return RunResult(success=merged.success, errstr=merged.errstr, proceed=merged.success)
