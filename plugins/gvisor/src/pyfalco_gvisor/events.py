"""How a mapped gVisor message becomes an event of the ``syscall`` source, and how the engine
feeds the syscall plugin's state (pyfalco_syscall: README "For event producers").

This is the one module that knows the syscall plugin's event model.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from pyfalco_syscall.events import SyscallEvent, event_id
from pyfalco_syscall.state import FD_FILE_V2, FdInfo, SyscallState, ThreadInfo, default_state

from .procfs import SandboxProcess

#: Direction markers as in Falco's evt.dir.
EXIT = "<"
ENTER = ">"


class GvisorEvent(SyscallEvent):
    """A syscall event from a gVisor sandbox: tids are sandbox-qualified
    (``sandbox_id << 32 | gvisor tid``) and ``container_id`` is the gVisor container id of the
    task that made the call (applied to its thread by :func:`parse_batch`)."""

    __slots__ = ("container_id",)


_IDS: dict[tuple[str, str], int] = {}


def make_event(
    type: str, dir: str, ts: int, tid: int, params: dict[str, Any], container_id: str
) -> SyscallEvent:
    etype = _IDS.get((type, dir))
    if etype is None:
        etype = _IDS[(type, dir)] = event_id(type, dir)
    ev = GvisorEvent(etype, ts=ts, tid=tid, params=params)
    ev.container_id = container_id
    return ev


def parse_event(state: SyscallState, ev: Any) -> None:
    """Run the state parser on a gVisor event and put the gVisor container id on its thread:
    there is no cgroup a container plugin could read it from for ids like ``runsc-123456``.
    Parsing is once per event, so the syscall plugin's own parser call is then a no-op."""
    state.parse(ev)
    t = ev.thread
    if t is not None and t.container_id != ev.container_id:
        t.container_id = ev.container_id


def parse_batch(state: SyscallState, events: Sequence[Any]) -> None:
    """:func:`parse_event` over a batch (tests, benchmarks: the app parses event by event, right
    before evaluating each, so that rules see the state as of that event)."""
    for ev in events:
        parse_event(state, ev)


def state_parser() -> Any:
    """The ``ParserSpec`` callable of the gvisor plugin: gVisor events only, every other
    producer's events are left to the syscall plugin's parser."""
    state = default_state()  # one object for the process' lifetime (reset() clears it in place)
    cls = GvisorEvent

    def parse(evt: Any) -> None:
        if evt.__class__ is cls:
            parse_event(state, evt)

    return parse


def seed_processes(state: SyscallState, procs: Iterable[SandboxProcess]) -> int:
    """Add the processes of a running sandbox (``runsc trace procfs``) to the thread table."""
    n = 0
    for p in procs:
        t = ThreadInfo(
            p.tid, p.pid, p.ptid, comm=p.comm, exe=p.exe, exepath=p.exepath, args=p.args,
            cwd=p.cwd or "/", uid=p.uid, gid=p.gid, env=p.env,
        )
        t.vtid, t.vpid, t.vpgid = p.vtid, p.vpid, p.vpgid
        t.sid = p.sid
        t.root = p.root or "/"
        t.clone_ts = p.clone_ts
        t.fdlimit = p.fdlimit
        t.container_id = p.container_id
        # the pseudo-cgroup clone/execve events carry (mapping._cgroups): container.type gvisor
        t.cgroups = [f"gvisor_container_id=/{p.container_id}"] if p.container_id else []
        state.add_thread(t)
        for num, path in p.files.items():
            state.add_fd(p.tid, FdInfo(num, FD_FILE_V2, path))
        n += 1
    return n
