"""The bridge to the syscall plugin's event model and state (pyfalco_syscall.events / .state).

Kept in one module so the driver, decoder and builders stay independent of the model's
evolution: ``event_factory()`` returns the function turning an :class:`EventData` into a
``SyscallEvent``; ``seed_state(scan)`` hands the initial /proc scan to the thread table.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from pyfalco.api import Event

from .events import EventData
from .procscan import ScanResult

log = logging.getLogger("pyfalco.syscall.ebpf")


def event_factory() -> Callable[[EventData], Event]:
    from pyfalco_syscall.events import PPM_SC_NAMES, SyscallEvent, event_id

    ids: dict[str, int] = {}
    sc_codes = {name: code for code, name in PPM_SC_NAMES.items()}
    generic_x = 1

    def make(ev: EventData) -> Event:
        if ev.generic:
            return SyscallEvent(generic_x, ts=ev.ts, tid=ev.tid, cpu=ev.cpu,
                                params={"ID": sc_codes.get(ev.name, 0)})
        etype = ids.get(ev.name)
        if etype is None:
            etype = ids[ev.name] = event_id(ev.name, ">" if ev.name == "procexit" else "<")
        return SyscallEvent(etype, ts=ev.ts, tid=ev.tid, cpu=ev.cpu, params=ev.params)

    return make


def seed_state(scan: ScanResult) -> None:
    """Give the thread and fd tables the processes that existed before the capture."""
    try:
        from pyfalco_syscall import state as state_mod
    except ImportError:
        log.warning("syscall state not available: the /proc scan (%d threads) is not used",
                    len(scan.procs))
        return
    seed: Any = getattr(state_mod, "seed_from_procs", None)
    if seed is None:
        log.warning("syscall state has no seeding API yet: the /proc scan (%d threads) is not "
                    "used", len(scan.procs))
        return
    seed(scan.procs)
