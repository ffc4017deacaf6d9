"""gVisor events through the syscall plugin's state: threads, fds and container ids."""

from __future__ import annotations

from pyfalco_gvisor.decoder import Decoder
from pyfalco_gvisor.events import parse_batch, seed_processes
from pyfalco_gvisor.listener import Connection
from pyfalco_gvisor.procfs import process_from_procfs
from pyfalco_gvisor.recording import read_records
from pyfalco_gvisor.runsc import parse_procfs_dump
from pyfalco_syscall.state import SyscallState, event_fdinfo


def test_recorded_sandbox_builds_threads_and_fds(data_dir):
    conn = Connection(1, None)  # type: ignore[arg-type]
    events = Decoder().decode([(conn, r) for r in read_records(data_dir / "actions.rec")])
    state = SyscallState()
    parse_batch(state, events)
    cid = conn.container_id
    shadow = next(e for e in events if e.type == "openat" and e.param("name") == "/etc/shadow")
    t = shadow.thread
    assert (t.comm, t.exe, t.args) == ("cat", "cat", ["/etc/shadow"])
    assert t.container_id == cid and t.vpid == 2
    assert t.exepath == "/usr/bin/cat"
    assert event_fdinfo(shadow).name == "/etc/shadow"
    parent = state.lookup_thread(t.ptid)
    assert parent is not None and parent.comm == "bash" and parent.vpid == 1
    written = next(e for e in events if e.type == "openat"
                   and e.param("name") == "/etc/pyfalco-test")
    assert written.thread.comm == "bash" and event_fdinfo(written).name == "/etc/pyfalco-test"
    assert all(e.thread is None or e.thread.container_id == cid for e in events)
    assert state.fake_threads == 0  # every thread was introduced by a clone/container start


def test_procfs_processes_seed_the_thread_table(data_dir):
    entries = parse_procfs_dump((data_dir / "procfs-dump.txt").read_text(), "runsc-1")
    state = SyscallState()
    n = seed_processes(state, [process_from_procfs(e, 9, "runsc-1") for e in entries])
    assert n == len(entries)
    sleep = state.lookup_thread((9 << 32) | 2)
    assert sleep is not None and sleep.comm == "sleep" and sleep.container_id == "runsc-1"
    assert sleep.vpid == 2 and sleep.ptid == (9 << 32) | 1
    assert state.lookup_thread((9 << 32) | 1).comm == "sh"

    # container.type: seeded threads carry the same pseudo-cgroup as clone/execve events
    from pyfalco_container import fields as cf
    from pyfalco_syscall.events import SyscallEvent, event_id

    cf.STATE.store = None
    evt = SyscallEvent(event_id("close"), ts=1, tid=(9 << 32) | 2, params={"res": 0, "fd": 1})
    state.parse(evt)
    field = {f.name: f for f in cf.FIELDS}
    assert field["container.id"].extract(evt) == "runsc-1"
    assert field["container.type"].extract(evt) == "gvisor"


def test_threads_of_recorded_events_are_of_type_gvisor(data_dir):
    from pyfalco_container import fields as cf

    cf.STATE.store = None
    conn = Connection(1, None)  # type: ignore[arg-type]
    events = Decoder().decode([(conn, r) for r in read_records(data_dir / "actions.rec")])
    state = SyscallState()
    parse_batch(state, events)
    shadow = next(e for e in events if e.type == "openat" and e.param("name") == "/etc/shadow")
    field = {f.name: f for f in cf.FIELDS}
    assert field["container.id"].extract(shadow) == conn.container_id[:12]
    assert field["container.type"].extract(shadow) == "gvisor"


def test_registered_parser_handles_gvisor_events_only(data_dir):
    from pyfalco.plugins import collect, get_plugin_manager
    from pyfalco_gvisor import plugin
    from pyfalco_syscall.events import SyscallEvent, event_id
    from pyfalco_syscall.state import default_state

    pm, failures = get_plugin_manager(autoload=False, plugins=[plugin])
    (spec,) = collect(pm, failures).parsers
    assert spec.plugin == "gvisor" and list(spec.sources) == ["syscall"]
    state = default_state()
    state.reset()
    other = SyscallEvent(event_id("close"), ts=1, tid=99, params={"res": 0, "fd": 1})
    spec.parse(other)
    assert not other.parsed  # left to the syscall plugin's parser
    conn = Connection(1, None)  # type: ignore[arg-type]
    events = Decoder().decode([(conn, r) for r in read_records(data_dir / "actions.rec")])
    for ev in events:  # as the app does: parse, then evaluate, event by event
        spec.parse(ev)
        if ev.type == "openat" and ev.param("name") == "/etc/shadow":
            # the fd is in the table when the rule sees the event (later closed)
            assert event_fdinfo(ev).name == "/etc/shadow" and ev.thread.comm == "cat"
            assert ev.thread.container_id == conn.container_id
    state.reset()
