"""The ``ebpf`` engine's source instance: kernel records in, syscall events out.

``open_ebpf(ctx)`` (called by the syscall plugin's ``ebpf`` engine kind) validates the
``engine.ebpf`` section, computes Falco's interesting set from the rules' event types and
``base_syscalls``, loads the BPF program with only those syscalls enabled, scans /proc, and
returns an :class:`EbpfSource`. Its ``next_batch()`` drains the ring buffer (at most 100 ms of
waiting), decodes the records in one pass and builds the events; the state parser of the
syscall plugin then runs on them in the app's source thread.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pyfalco.api import Event, OpenContext
from pyfalco.errors import ConfigError, PluginError

from . import interesting
from .batch import BatchDecoder
from .drops import DropManager, DropsConfig
from .events import EventData

log = logging.getLogger("pyfalco.syscall.ebpf")

POLL_MS = 100


@dataclass
class EbpfConfig:
    """``engine.ebpf`` (also read as ``engine.modern_ebpf``)."""

    buf_size_preset: int = 4
    cpus_for_each_buffer: int = 2
    drop_failed_exit: bool = False
    #: pyfalco extension: record every delivered event to this .scap file
    capture_file: str = ""

    @classmethod
    def from_section(cls, section: Mapping[str, Any]) -> EbpfConfig:
        out = cls()
        try:
            if "buf_size_preset" in section:
                out.buf_size_preset = int(section["buf_size_preset"])
            if "cpus_for_each_buffer" in section:
                out.cpus_for_each_buffer = int(section["cpus_for_each_buffer"])
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"engine.ebpf: {exc}") from None
        out.drop_failed_exit = bool(section.get("drop_failed_exit", False))
        cap = section.get("capture_file") or ""
        if not isinstance(cap, str):
            raise ConfigError("engine.ebpf.capture_file: expected a file path")
        out.capture_file = cap
        if not 1 <= out.buf_size_preset <= 10:
            raise ConfigError("The 'buf_size_preset' value must be between '1' and '10'")
        return out

    @property
    def buffer_bytes(self) -> int:
        """Falco's presets: 1 -> 1 MiB ... 4 -> 8 MiB ... 10 -> 512 MiB."""
        return (1 << 20) << (self.buf_size_preset - 1)


def _check_buffer(size: int) -> None:
    page = os.sysconf("SC_PAGE_SIZE")
    if size % page:
        raise ConfigError(
            f"The chosen syscall buffer size '{size}' is not a multiple of your system page size "
            f"'{page}'. Please configure a greater 'buf_size_preset' value in the Falco "
            "configuration file")
    if size <= 2 * page:
        raise ConfigError(
            f"The chosen syscall buffer size '{size}' is not greater than '2 * {page}' where "
            f"'{page}' is your system page size. Please configure a greater 'buf_size_preset' "
            "value in the Falco configuration file")


#: Turns a built event into the syscall plugin's event object.
MakeEvent = Callable[[EventData], Event]


class EbpfSource:
    """A live capture. Not thread-safe: driven by one source thread, as the contract says."""

    def __init__(self, driver: Any, make_event: MakeEvent, *, drops: DropManager,
                 boot_offset_ns: int, stopping: Any = None, recorder: Any = None,
                 on_first_batch: Callable[[], None] | None = None) -> None:
        self.driver = driver
        self.make_event = make_event
        self.drops = drops
        self.boot_offset_ns = boot_offset_ns
        self.stopping = stopping
        self.recorder = recorder
        self._on_first_batch = on_first_batch
        self.decode_errors = 0
        self.build_errors = 0
        self.events = 0
        self._closed = False
        self._decoder = BatchDecoder(boot_offset_ns, make_event, self._build_error)

    def _build_error(self, rec: Any, exc: Exception) -> None:
        # a record the model cannot represent: counted (by the decoder), logged once
        if self.build_errors == 0:
            log.warning("eBPF record not convertible (%s): %s", rec.syscall, exc)

    def next_batch(self) -> Sequence[Event] | None:
        if self._closed:
            return None
        if self._on_first_batch is not None:
            first, self._on_first_batch = self._on_first_batch, None
            first()
        out, bad, unbuildable = self._decoder.decode(self.driver.poll(POLL_MS))
        self.decode_errors += bad
        self.build_errors += unbuildable
        self.events += len(out)
        if self.recorder is not None:
            self.recorder.write_events(out)
        now = out[-1].ts if out else time.time_ns()
        if self.drops.due(now):  # the kernel counters are read once per second at most
            self.drops.check(now, self.driver.counters())
        return out

    def counters(self) -> Mapping[str, int]:
        c = dict(self.driver.counters())
        c["decode_errors"] = self.decode_errors
        c["build_errors"] = self.build_errors
        c["drops"] = c.get("n_drops", 0) + self.decode_errors + self.build_errors
        return c

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            if self.recorder is not None:
                self.recorder.close()
            self.driver.close()


def open_ebpf(ctx: OpenContext) -> EbpfSource:
    """Open the syscall source with the eBPF driver (``engine.kind: ebpf`` / ``modern_ebpf``)."""
    from .driver import BpfDriver, DriverUnavailable, boot_offset_ns
    from .model import event_factory, fresh_state

    cfg = EbpfConfig.from_section(ctx.engine_config or {})
    _check_buffer(cfg.buffer_bytes)
    try:
        base = interesting.BaseSyscalls.from_config(ctx.config)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    drops_cfg = DropsConfig.from_config(ctx.config)
    selection = interesting.select(ctx.event_types, base)
    for w in selection.warnings:
        log.warning("%s", w)
    log.info("Opening 'syscall' source with modern BPF probe.")
    ncpu = os.cpu_count() or 1
    if cfg.cpus_for_each_buffer > ncpu:
        log.warning("you required a buffer every '%d' CPUs but there are only '%d' online CPUs. "
                    "Falco changed the config to: one buffer every '%d' CPUs",
                    cfg.cpus_for_each_buffer, ncpu, ncpu)
    log.info("One ring buffer shared by all '%d' CPUs (BPF ring buffers are multi-producer).",
             ncpu)
    log.info("The chosen syscall buffer dimension is: %d bytes (%d MBs)", cfg.buffer_bytes,
             cfg.buffer_bytes >> 20)
    if cfg.drop_failed_exit:
        log.info("Failed syscall exit events are dropped in the kernel driver")
    log.debug("(%d) syscalls selected in total (final set): %s", len(selection.events),
              ", ".join(sorted(selection.events)))
    try:
        driver = BpfDriver(selection.syscalls, ring_bytes=cfg.buffer_bytes,
                           drop_failed_exit=cfg.drop_failed_exit)
    except DriverUnavailable as exc:
        raise PluginError(f"Cannot open the eBPF engine: {exc}") from None
    if driver.unavailable:
        log.warning("No tracepoint on this kernel for: %s (not captured)",
                    ", ".join(driver.unavailable))
    log.info("eBPF probe attached: %d syscalls captured", len(driver.syscalls))
    make_event = event_factory()
    drops = DropManager(drops_cfg, getattr(ctx, "internal_alert", None))
    source = EbpfSource(driver, make_event, drops=drops, boot_offset_ns=boot_offset_ns(),
                        stopping=ctx.stopping)

    def start() -> None:
        # the programs are attached already: nothing created from now on is missed, and
        # what the scan sees is updated by the events buffered meanwhile
        state = fresh_state()
        if cfg.capture_file:
            from .record import Recorder

            source.recorder = Recorder(cfg.capture_file, state)

    source._on_first_batch = start
    return source
