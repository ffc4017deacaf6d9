"""The outputs pipeline: many producers, one bounded queue, one consumer (falco-core.md §7.1).

Producers (the source threads) format each alert and push the line without ever blocking: when
the queue is full the line is dropped and counted (``outputs_queue_num_drops``, Falco's name,
with Falco's log line on the first drop). One worker thread takes what is queued in runs, hands
each line to every channel in Falco's order, then flushes each channel once per run. A watchdog
logs Falco's CRIT line when one channel call exceeds ``output_timeout``. A line a channel fails
to deliver (after the retries it allows) is logged as ``<channel>: <error>`` and counted against
the channel: nothing is lost without a count. The messages the worker holds count against the
queue's capacity.

The inbox is a ``queue.SimpleQueue``, whose ``put`` is reentrant: ``reopen()`` may be called from
a signal handler (SIGUSR1).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Mapping
from typing import Any

from ..errors import ConfigError
from ..priority import Priority
from .alert import Alert
from .channels import CHANNELS, Channel, ChannelInitError, ChannelSettings, Message
from .config import OutputsConfig
from .formats import AlertFormatter

log = logging.getLogger("pyfalco.outputs")
#: Falco's NOTICE severity, between INFO and WARNING.
NOTICE = 25

_REOPEN = "reopen"
_STOP = "stop"
#: at most this many queued items are taken at once by the worker (bounds a run's latency)
_MAX_RUN = 512


class _Watchdog:
    """Reports a channel call that runs longer than the timeout (Falco's ``watchdog``).

    Arming is two attribute writes on the worker's path; this thread polls, so no lock or
    timer object is created per message."""

    def __init__(self, timeout_s: float, on_timeout: Any) -> None:
        self.timeout_s = timeout_s
        self.on_timeout = on_timeout
        self._armed: tuple[str, float] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pyfalco-outputs-watchdog",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def arm(self, name: str) -> None:
        self._armed = (name, time.monotonic())

    def disarm(self) -> None:
        self._armed = None

    def _run(self) -> None:
        poll = min(max(self.timeout_s / 4, 0.01), 0.25)
        reported = None
        while not self._stop.wait(poll):
            armed = self._armed
            if armed is None or armed is reported:
                continue
            if time.monotonic() - armed[1] >= self.timeout_s:
                reported = armed
                self.on_timeout(armed[0])

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


class OutputsManager:
    """Falco's ``falco_outputs``: ``start()``, ``handle(alert)``, ``handle_internal(...)``,
    ``reopen()``, ``close()``, ``counters()``.

    ``config`` is the whole merged falco.yaml mapping (or an ``OutputsConfig``). Raises
    ``ConfigError`` with Falco's "No output configured..." when no channel is enabled.
    """

    def __init__(self, config: Mapping[str, Any] | OutputsConfig, *,
                 hostname: str | None = None) -> None:
        if not isinstance(config, OutputsConfig):
            config = OutputsConfig.from_config(config, hostname=hostname)
        elif not config.channels:
            raise ConfigError("No output configured, please make sure at least one output is "
                              "configured and enabled.")
        self.config = config
        self.formatter = AlertFormatter(config)
        self.capacity = config.effective_queue_capacity
        self.timeout_s = config.output_timeout_ms / 1000
        self._settings = ChannelSettings(
            buffered=config.buffered_outputs, json_output=config.json_output,
            timeout_s=self.timeout_s or 2.0, hostname=config.hostname,
        )
        self.channels: list[Channel] = []
        self._inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._drop_lock = threading.Lock()
        self._queue_drops = 0
        self._discarded = 0
        self._format_errors = 0
        self._delivered: dict[str, int] = {}
        self._lost: dict[str, int] = {}
        self._timeouts: dict[str, int] = {}
        #: channel name -> its last error, while it keeps failing (worker thread only)
        self._failing: dict[str, str] = {}
        #: messages the worker took from the queue and has not finished with (they count
        #: against the queue's capacity: the worker never holds more than the queue could)
        self._in_flight = 0
        #: set by close(): the worker drops what it still holds (counted), or was left behind
        self._discarding = False
        self._abandoned = False
        self._worker: threading.Thread | None = None
        self._watchdog = _Watchdog(self.timeout_s or 2.0, self._on_timeout)
        self._closed = False

    @property
    def needs_output_fields(self) -> bool:
        """Whether alerts' ``output_fields`` are written anywhere (JSON with
        ``json_include_output_fields_property``): the app may skip computing them otherwise."""
        return self.config.json_output and self.config.json_include_output_fields_property

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> OutputsManager:
        """Initialise the channels (a channel that fails is skipped with Falco's ERR line) and
        start the worker."""
        for cc in self.config.channels:
            channel = CHANNELS[cc.name](cc, self._settings)
            try:
                channel.open()
            except (ChannelInitError, ConfigError, OSError) as exc:
                log.error("Failed to init output: %s", exc)
                continue
            self.channels.append(channel)
            self._delivered[channel.name] = 0
            self._lost[channel.name] = 0
            self._timeouts[channel.name] = 0
        self._worker = threading.Thread(target=self._run, name="pyfalco-outputs", daemon=True)
        self._worker.start()
        self._watchdog.start()
        return self

    def __enter__(self) -> OutputsManager:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- producers ---------------------------------------------------------------------------

    def handle(self, alert: Alert) -> None:
        """Format ``alert`` on the calling thread and queue it; never blocks, never raises
        (an alert that cannot be formatted is logged and counted, the source goes on)."""
        try:
            text = self.formatter.format(alert)
        except Exception as exc:
            self._format_failed(alert.rule, exc)
            return
        self._push(Message(text, alert.priority))

    def handle_internal(self, msg: str, priority: Priority, fields: Mapping[str, Any],
                        *, rule: str | None = None, time_ns: int | None = None) -> None:
        """Queue an internal message (source ``internal``; never filtered by ``priority``).

        ``rule`` defaults to ``msg`` (Falco's internal rules: ``Falco internal: ...``);
        ``time_ns`` defaults to now."""
        try:
            text = self.formatter.format_internal(
                time.time_ns() if time_ns is None else time_ns, priority, msg,
                msg if rule is None else rule, fields,
            )
        except Exception as exc:
            self._format_failed(msg if rule is None else rule, exc)
            return
        self._push(Message(text, priority, internal=True))

    def _format_failed(self, rule: str, exc: Exception) -> None:
        with self._drop_lock:
            self._format_errors += 1
        log.error("outputs: cannot format alert of rule '%s': %s", rule, exc)

    def _push(self, msg: Message) -> None:
        if self._closed or self._inbox.qsize() + self._in_flight >= self.capacity:
            with self._drop_lock:
                self._queue_drops += 1
                first = self._queue_drops == 1
            if first:
                log.error("Outputs queue out of memory. Drop event and continue on ...")
            return
        self._inbox.put(msg)

    def reopen(self) -> None:
        """SIGUSR1: file and program outputs reopen, after the lines already queued. Safe to
        call from a signal handler."""
        self._inbox.put(_REOPEN)

    # -- consumer ----------------------------------------------------------------------------

    def _on_timeout(self, name: str) -> None:
        self._timeouts[name] = self._timeouts.get(name, 0) + 1
        log.critical('"%s" output timeout, all output channels are blocked', name)

    def _run(self) -> None:
        inbox = self._inbox
        while True:
            # everything already queued, in one go: the channels flush once per run instead of
            # once per line (each flush is a system call that hands the GIL to the busy source
            # threads; flushing per line, this thread fell far behind a flood of alerts)
            items = [inbox.get()]
            while len(items) < _MAX_RUN:
                try:
                    items.append(inbox.get_nowait())
                except queue.Empty:
                    break
            self._in_flight = sum(1 for item in items if isinstance(item, Message))
            run: list[Message] = []
            for item in items:
                if isinstance(item, Message):
                    run.append(item)
                    continue
                self._deliver(run)  # control items keep their place in the sequence
                run = []
                if item is _REOPEN:
                    self._control("reopen")
                elif item is _STOP:
                    self._control("cleanup")
                    return
            self._deliver(run)

    def _deliver(self, run: list[Message]) -> None:
        """Each message of ``run`` to every channel in Falco's order, then one ``flush()`` per
        channel. A line counts as sent once its channel's flush succeeded; a failing flush loses
        (and counts) the lines written to that channel in this run. Once ``close()`` gives up
        on blocked channels, the rest of the run is discarded and counted."""
        if not run:
            return
        channels, wd = self.channels, self._watchdog
        written = [0] * len(channels)
        done = 0
        for msg in run:
            if self._discarding:
                break
            for i, ch in enumerate(channels):
                wd.arm(ch.name)
                try:
                    ch.write(msg)
                    written[i] += 1
                except Exception as exc:  # a channel never stops the worker
                    self._lost[ch.name] += 1
                    self._failed(ch.name, exc)
            done += 1
        for i, ch in enumerate(channels):
            wd.arm(ch.name)
            try:
                ch.flush()
            except Exception as exc:
                self._lost[ch.name] += written[i]
                written[i] = 0
                self._failed(ch.name, exc)
            if written[i]:
                self._delivered[ch.name] += written[i]
                self._failing.pop(ch.name, None)
        wd.disarm()
        if self._abandoned:
            return  # close() already counted this run as lost
        if done < len(run):
            with self._drop_lock:
                self._discarded += len(run) - done
        self._in_flight -= len(run)

    def _failed(self, name: str, exc: Exception) -> None:
        # a channel that keeps failing the same way (no /dev/log in a container) is logged
        # once, then counted (summary at exit) until it delivers again
        if self._failing.get(name) != str(exc):
            self._failing[name] = str(exc)
            log.error("%s: %s (repeats are counted, not logged)", name, exc)

    def _control(self, action: str) -> None:
        for ch in self.channels:
            self._watchdog.arm(ch.name)
            try:
                getattr(ch, action)()
            except Exception as exc:
                log.error("%s: %s", ch.name, exc)
        self._watchdog.disarm()

    # -- shutdown ----------------------------------------------------------------------------

    def close(self) -> None:
        """Flush and stop. Lines still queued are delivered; if the channels are still busy
        after ``output_timeout``, the rest is discarded (Falco's NOTICE) and counted."""
        if self._closed or self._worker is None:
            self._closed = True
            return
        self._closed = True
        self._inbox.put(_STOP)
        self._worker.join(self.timeout_s)
        if self._worker.is_alive():
            log.log(NOTICE, "output channels still blocked, discarding all remaining notifications")
            self._discarding = True
            self._discard_pending()
            self._inbox.put(_STOP)
            # A channel stuck in one call (a program that never reads) cannot be interrupted:
            # give it one more period of retries, then leave the daemon thread behind.
            self._worker.join(max(self.timeout_s, 1.0) * 2)
            if self._worker.is_alive():
                log.error("outputs worker still blocked at exit; pending messages are lost")
                self._abandoned = True
                with self._drop_lock:
                    self._discarded += self._in_flight
        self._discard_pending()  # a producer racing close() may have queued after the stop
        for ch in self.channels:
            try:
                ch.close()
            except Exception as exc:
                log.error("%s: %s", ch.name, exc)
        self._watchdog.stop()
        lost = self.lost_total()
        if lost:
            log.error("Outputs: %d alert(s) were not delivered: %s", lost, self._loss_summary())

    def _discard_pending(self) -> None:
        while True:
            try:
                item = self._inbox.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, Message):
                self._discarded += 1

    # -- accounting --------------------------------------------------------------------------

    def lost_total(self) -> int:
        """Every line that did not reach some channel: queue drops, discarded at shutdown, and
        per-channel delivery failures."""
        return (self._queue_drops + self._discarded + self._format_errors
                + sum(self._lost.values()))

    def _loss_summary(self) -> str:
        parts = []
        if self._queue_drops:
            parts.append(f"queue full: {self._queue_drops}")
        if self._discarded:
            parts.append(f"discarded at shutdown: {self._discarded}")
        if self._format_errors:
            parts.append(f"format errors: {self._format_errors}")
        parts += [f"{name}: {n}" for name, n in self._lost.items() if n]
        return ", ".join(parts)

    def counters(self) -> dict[str, int]:
        """Snake-case counters for stats and metrics. ``outputs_queue_num_drops`` is Falco's
        metric; the others are pyfalco's (``<channel>_lost`` / ``_sent`` / ``_retries`` /
        ``_timeouts``)."""
        out = {
            "outputs_queue_num_drops": self._queue_drops,
            "outputs_discarded_at_shutdown": self._discarded,
            "outputs_format_errors": self._format_errors,
            "outputs_lost_total": self.lost_total(),
            "outputs_pending": self._inbox.qsize() + self._in_flight,
        }
        for ch in self.channels:
            out[f"{ch.name}_sent"] = self._delivered[ch.name]
            out[f"{ch.name}_lost"] = self._lost[ch.name]
            out[f"{ch.name}_retries"] = ch.retries
            out[f"{ch.name}_timeouts"] = self._timeouts[ch.name]
        return out
