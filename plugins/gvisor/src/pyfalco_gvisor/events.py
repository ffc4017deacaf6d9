"""How a mapped gVisor message becomes an event of the ``syscall`` source.

This is the single place that knows the syscall plugin's event model: ``make_event`` is called
once per emitted event by the mapping (:mod:`pyfalco_gvisor.mapping`).
"""

from __future__ import annotations

from typing import Any

from pyfalco.api import SYSCALL_SOURCE, Event

#: Direction markers as in Falco's evt.dir.
EXIT = "<"
ENTER = ">"


class GvisorEvent(Event):
    """A syscall-source event produced from a gVisor message.

    ``tid`` is sandbox-qualified (``sandbox_id << 32 | gvisor tid``), ``params`` maps the event
    table's parameter names to typed values, ``container_id`` is the gVisor container id of the
    task that made the call.
    """

    __slots__ = ("dir", "tid", "params", "container_id")

    def __init__(
        self, type: str, dir: str, ts: int, tid: int, params: dict[str, Any], container_id: str
    ) -> None:
        Event.__init__(self, b"", ts=ts, source=SYSCALL_SOURCE, type=type)
        self.dir = dir
        self.tid = tid
        self.params = params
        self.container_id = container_id


def make_event(
    type: str, dir: str, ts: int, tid: int, params: dict[str, Any], container_id: str
) -> Event:
    return GvisorEvent(type, dir, ts, tid, params, container_id)
