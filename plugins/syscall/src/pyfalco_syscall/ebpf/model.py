"""The bridge to the syscall plugin's event model and state (README "For event producers").

``event_factory()`` returns the function turning an :class:`EventData` into a ``SyscallEvent``;
``fresh_state()`` resets the plugin's thread/fd/user tables and seeds them from /proc
(``SyscallState.scan_proc``: threads, fds, users, groups, interfaces), which must happen before
the first event is handed to the core.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .events import EventData


def event_factory() -> Callable[[EventData], Any]:
    from pyfalco_syscall._event_table import PPM_SC_NAMES
    from pyfalco_syscall.events import GENERIC_X, SyscallEvent, event_id

    from .syscall_table import SYSCALL_NRS

    ids: dict[str, int] = {}
    sc_codes = {name: code for code, name in PPM_SC_NAMES.items()}

    def make(ev: EventData) -> Any:
        if ev.generic:
            return SyscallEvent(GENERIC_X, ts=ev.ts, tid=ev.tid, cpu=ev.cpu,
                                params={"ID": sc_codes.get(ev.name, 0),
                                        "nativeID": SYSCALL_NRS.get(ev.name)})
        etype = ids.get(ev.name)
        if etype is None:
            etype = ids[ev.name] = event_id(ev.name, ">" if ev.name == "procexit" else "<")
        return SyscallEvent(etype, ts=ev.ts, tid=ev.tid, cpu=ev.cpu, params=ev.params)

    return make


def fresh_state() -> Any:
    """The plugin's state, emptied and seeded from /proc; returns it."""
    from pyfalco_syscall.state import default_state

    state = default_state()
    state.reset()
    state.scan_proc()
    return state
