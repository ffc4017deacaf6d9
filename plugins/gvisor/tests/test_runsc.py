"""The engine against real gVisor sandboxes (root + runsc; run in CI)."""

from __future__ import annotations

import time

import pytest
from pyfalco_gvisor.engine import GvisorInstance
from pyfalco_gvisor.events import parse_batch
from pyfalco_gvisor.sandbox import Sandbox
from pyfalco_gvisor.session import generate_config

pytestmark = [pytest.mark.root, pytest.mark.runsc, pytest.mark.slow]

ACTIONS = (
    "cat /etc/shadow > /dev/null; echo x > /etc/pyfalco-test; "
    "(exec 3<>/dev/tcp/127.0.0.1/9) 2>/dev/null; sh -c 'exit 0'; exit 3"
)


@pytest.fixture
def engine(tmp_path):
    cfg = tmp_path / "session.json"
    cfg.write_text(generate_config(str(tmp_path / "gvisor.sock")))
    inst = GvisorInstance(str(cfg), root="", attach=False)
    yield inst
    inst.close()


def collect_until(inst, done, timeout: float = 60.0) -> list:
    events: list = []
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        events.extend(inst.next_batch() or [])
        if done(events):
            break
    return events


def exited(cid_count: int):
    def done(events) -> bool:
        inits = {e.container_id for e in events if e.type == "procexit" and e.tid & 0xFFFFFFFF == 1}
        return len(inits) >= cid_count
    return done


def test_actions_in_a_sandbox_arrive_as_syscall_events(engine, tmp_path):
    with Sandbox(["/bin/bash", "-c", ACTIONS], engine.config_path, tmp_path) as sb:
        events = collect_until(engine, exited(1))
        assert sb.wait() == 3
    cids = {e.container_id for e in events}
    assert len(cids) == 1 and next(iter(cids)).startswith("runsc-")
    names = [(e.type, e.params.get("name")) for e in events if e.type == "openat"]
    assert ("openat", "/etc/shadow") in names and ("openat", "/etc/pyfalco-test") in names
    execs = [e.params["comm"] for e in events if e.type == "execve"]
    assert execs == ["bash", "cat", "sh"]
    tcp = [e for e in events
           if e.type == "connect" and e.params["addr"] and e.params["addr"][0] == 2]
    assert tcp and tcp[0].params["res"] == -111
    c = engine.counters()
    assert c["connections"] == 1 and c["drops_bug"] == 0 and c["handshake_errors"] == 0


def test_two_sandboxes_at_once_are_both_seen(engine, tmp_path):
    # the sleep keeps both sandboxes (and their connections) alive at the same time
    cmd = ["/bin/sh", "-c", "for i in 1 2 3 4 5; do cat /etc/hostname > /dev/null; done; sleep 3"]
    with Sandbox(cmd, engine.config_path, tmp_path) as a, \
            Sandbox(cmd, engine.config_path, tmp_path) as b:
        events = collect_until(engine, exited(2))
        a.wait()
        b.wait()
    cids = {e.container_id for e in events}
    assert len(cids) == 2
    for cid in cids:
        opened = [e for e in events if e.container_id == cid and e.type == "openat"
                  and e.params["name"] == "/etc/hostname"]
        assert len(opened) == 5
    # concurrent sandboxes get distinct thread-id spaces (gVisor tids restart at 1 in each)
    bases = {e.container_id: e.tid >> 32 for e in events}
    assert len(set(bases.values())) == 2
    assert engine.counters()["connections"] == 2


def test_running_sandbox_is_attached_and_its_processes_read(tmp_path):
    loop = "while :; do cat /etc/hostname > /dev/null; sleep 0.2; done"
    with Sandbox(["/bin/sh", "-c", loop], None, tmp_path) as sb:
        root = sb.state_root()
        cfg = tmp_path / "session.json"
        cfg.write_text(generate_config(str(tmp_path / "attach.sock")))
        # give the sandbox time to be "running" in runsc's state
        time.sleep(1)
        inst = GvisorInstance(str(cfg), root=root)
        try:
            assert len(inst.attached) == 1
            procs = list(inst._seed)
            assert {p.comm for p in procs} >= {"sh"}
            sh = next(p for p in procs if p.comm == "sh")
            assert sh.vpid == 1 and sh.container_id == inst.attached[0]
            events = collect_until(
                inst, lambda evs: any(e.type == "openat" and e.params["name"] == "/etc/hostname"
                                      for e in evs), timeout=30)
            parse_batch(inst.state, events)  # what the app's parsers do, event by event
            opened = [e for e in events
                      if e.type == "openat" and e.params["name"] == "/etc/hostname"]
            assert opened and opened[0].container_id == inst.attached[0]
            assert opened[0].tid >> 32 == sh.tid >> 32  # same thread-id space as procfs
            # the procfs processes were seeded into the state: cat's parent is the known sh
            assert inst.seeded == len(procs)
            cat = opened[0].thread
            assert cat.comm == "cat" and cat.container_id == inst.attached[0]
            assert inst.state.lookup_thread(cat.ptid).comm == "sh"
        finally:
            inst.close()


def test_forced_reattach_keeps_the_sandbox_identity(engine, tmp_path):
    # A traced sandbox re-attached with `trace create --force`: the old connection ends, a new
    # one starts (its handshake before the old EOF); thread ids keep their sandbox base.
    from pyfalco_gvisor import runsc

    loop = "while :; do cat /etc/hostname > /dev/null; sleep 0.2; done"
    with Sandbox(["/bin/sh", "-c", loop], engine.config_path, tmp_path) as sb:
        root = sb.state_root()

        def opened(evs):
            return [e for e in evs if e.type == "openat" and e.params["name"] == "/etc/hostname"]

        before = collect_until(engine, lambda evs: len(opened(evs)) >= 2, timeout=30)
        (cid,) = runsc.list_running(root)
        runsc.trace_create(root, engine.config_path, cid, force=True)
        collect_until(engine, lambda evs: engine.counters()["connections"] >= 2, timeout=30)
        after = collect_until(engine, lambda evs: len(opened(evs)) >= 2, timeout=30)
    assert engine.counters()["connections"] == 2
    assert engine.counters()["drops_bug"] == 0
    assert {e.tid >> 32 for e in opened(before)} == {e.tid >> 32 for e in opened(after)}
    assert {e.container_id for e in opened(after)} == {cid}
