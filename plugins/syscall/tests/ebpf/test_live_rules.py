"""End to end on the live kernel, through the agreed engine API: the eBPF source with the
project's default syscall rules, real actions, the expected rules firing once each with the right
proc.name, fd.name and user.name; then the same capture recorded and replayed gives the same
alerts.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

pytestmark = [pytest.mark.root, pytest.mark.kernel, pytest.mark.slow]

SHADOW = "/etc/shadow"


def _engine():
    from pyfalco.plugins import collect, get_plugin_manager
    from pyfalco.rules import FieldCatalog, RulesContent, RulesEngine

    pm, failures = get_plugin_manager()
    reg = collect(pm, failures)
    files = [r.path for r in reg.rules_files if r.plugin == "syscall"]
    assert files, "the syscall plugin registers its default rules"
    engine = RulesEngine(FieldCatalog.from_registry(reg), loaded_sources=["syscall"],
                         plugin_versions={p.name: p.required_version
                                          for p in reg.plugins.values()})
    res = engine.load([RulesContent(name=str(p), text=p.read_text()) for p in files])
    assert res.ok, res.as_text(verbose=True)
    parsers = [p.parse for p in reg.parsers if not p.sources or "syscall" in p.sources]
    return reg, engine, parsers


OUTBOUND = "Unexpected outbound connection destination"


def _actions(work: Path, pids: list[int], connected: threading.Event, done: list[int]) -> None:
    """Perform the actions; ``pids`` gets the pid of each process as soon as it starts; ``done``
    gets the wall-clock time when all of them had exited."""

    def run(argv, release: threading.Event | None = None):
        p = subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                             stdin=subprocess.DEVNULL if release is None else subprocess.PIPE)
        pids.append(p.pid)
        if release is not None:
            # the process lives until its event was seen (the local side of the connection is
            # read from its socket): however late the consumer runs, not a fixed sleep
            release.wait(timeout=180)
            p.stdin.close()
        p.wait()

    run(["cat", SHADOW])
    run(["touch", f"/etc/{work.name}"])
    run(["touch", f"/usr/local/bin/{work.name}"])
    (work / "suid").write_text("x")
    run(["chmod", "u+s", str(work / "suid")])
    (work / ".bash_history").write_text("ls\n")
    run(["rm", str(work / ".bash_history")])
    # a shell started by a program that does not start shells
    run(["perl", "-e", 'system("/bin/sh", "-c", "exit 0")'])
    # an outbound connection (non-blocking: EINPROGRESS), kept open while it is looked at
    script = ("import socket, sys\ns = socket.socket(); s.setblocking(False)\n"
              "try:\n    s.connect(('198.51.100.7', 80))\nexcept BlockingIOError:\n    pass\n"
              "sys.stdin.read()\n")
    run([sys.executable, "-c", script], release=connected)
    done.append(time.time_ns())
    # an event after that time, so that even an idle host delivers one
    subprocess.run(["true"], check=True)


def _collect(source, engine, parsers, pids, until, connected, timeout=180.0):
    """Alerts of our processes: (rule, proc.name, fd.name, user.name, evt.arg.name|filename),
    and the pids whose exit was seen. The capture sees the whole host, where other runs do the
    same actions: matches are kept with their pid and filtered by ``pids`` (the actor thread adds
    a pid right after the process started, possibly after its events were evaluated). The
    deadline only bounds a failure: the loop ends on ``until``."""
    ev = engine.evaluator("syscall", "all")
    seen = []
    exited: set[int] = set()
    last_ts = [0]

    def ours():
        return [a for pid, ppid, a in seen if pid in pids or ppid in pids]

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for evt in source.next_batch():
            for parse in parsers:
                parse(evt)
            if evt.type == "procexit":
                exited.add(evt.tid)
            last_ts[0] = max(last_ts[0], evt.ts)
            for m in ev.process(evt):
                th = getattr(evt, "thread", None)
                if th is None:
                    continue
                f = m.output_fields(evt)
                seen.append((th.pid, th.ptid, (
                    m.rule.name, f.get("proc.name"), f.get("fd.name"), f.get("user.name"),
                    f.get("evt.arg.name") or f.get("evt.arg.filename"))))
        mine = ours()
        if any(a[0] == OUTBOUND for a in mine):
            connected.set()
        if until(mine, exited, last_ts[0]):
            break
    return ours()


EXPECTED = {
    "Read sensitive file untrusted", "Write below etc", "Write below binary dir",
    "Set Setuid or Setgid bit", "Delete or rename shell history", "Run shell untrusted",
    "Unexpected outbound connection destination",
}


def test_default_rules_fire_on_real_actions_and_replay_identically(tmp_path):
    from pyfalco.api import OpenContext
    from pyfalco_syscall.ebpf import open_ebpf

    reg, engine, parsers = _engine()
    work = tmp_path / f"pyfalco-{uuid.uuid4().hex[:8]}"
    work.mkdir()
    capture = tmp_path / "live.scap"
    ev_types = engine.evaluator("syscall", "all").event_types
    ctx = OpenContext(init_config={}, engine_config={"capture_file": str(capture)},
                      config={}, event_types=ev_types)
    source = open_ebpf(ctx)
    try:
        source.next_batch()  # seeds the state from /proc, starts recording
        # the actions run while the source is drained, as in pyfalco's source thread
        pids: list[int] = []
        connected = threading.Event()
        done: list[int] = []
        actor = threading.Thread(target=_actions, args=(work, pids, connected, done))
        actor.start()

        def complete(alerts, exited, last_ts):
            # every event of ours (and any second alert) has been handled once every process of
            # ours has exited in the capture, or once an event stamped after they all exited
            # came through (the ring delivers in reservation order; an exit may have been lost
            # to a drop caused by another process on a loaded host)
            return not actor.is_alive() and (set(pids) <= exited
                                             or last_ts > done[0] + 50_000_000)

        live = _collect(source, engine, parsers, pids, complete, connected)
        connected.set()
        actor.join()
        counters = dict(source.counters())
    finally:
        source.close()
        for p in (f"/etc/{work.name}", f"/usr/local/bin/{work.name}"):
            if os.path.exists(p):
                os.unlink(p)
    by_rule = {}
    for a in live:
        by_rule.setdefault(a[0], []).append(a)
    # the counters are host-wide: drops caused by other processes on a loaded host are not a
    # failure of this test unless one of ours was lost, and then the message shows them
    assert EXPECTED <= set(by_rule), (sorted(by_rule), live, counters)
    for rule in EXPECTED:
        assert len(by_rule[rule]) == 1, (rule, by_rule[rule])
    user = "root"
    assert by_rule["Read sensitive file untrusted"][0][1:4] == ("cat", SHADOW, user)
    assert by_rule["Write below etc"][0][1:4] == ("touch", f"/etc/{work.name}", user)
    assert by_rule["Write below binary dir"][0][1:4] == (
        "touch", f"/usr/local/bin/{work.name}", user)
    chm = by_rule["Set Setuid or Setgid bit"][0]
    assert chm[1] == "chmod" and chm[3] == user and chm[4].endswith("suid")
    rm = by_rule["Delete or rename shell history"][0]
    assert rm[1] == "rm" and rm[3] == user and rm[4].endswith(".bash_history")
    sh = by_rule["Run shell untrusted"][0]
    assert sh[1] == "sh" and sh[3] == user
    out = by_rule["Unexpected outbound connection destination"][0]
    assert out[1].startswith("python") and out[3] == user
    local_ip, lport = out[2].split("->")[0].rsplit(":", 1)
    assert out[2].endswith("->198.51.100.7:80") and local_ip != "0.0.0.0" and int(lport) > 0
    assert counters["decode_errors"] == 0

    # the recorded capture, replayed, gives the same alerts
    replay = reg.engine_kind("replay").open(OpenContext(
        init_config={}, engine_config={"capture_file": str(capture)}, config={},
        event_types=ev_types))
    ev = engine.evaluator("syscall", "all")
    replayed = []
    try:
        while (batch := replay.next_batch()) is not None:
            for evt in batch:
                for parse in parsers:
                    parse(evt)
                for m in ev.process(evt):
                    th = evt.thread
                    if th is None or (th.pid not in pids and th.ptid not in pids):
                        continue
                    f = m.output_fields(evt)
                    replayed.append((m.rule.name, f.get("proc.name"), f.get("fd.name"),
                                     f.get("user.name"), f.get("evt.arg.name") or
                                     f.get("evt.arg.filename")))
    finally:
        replay.close()
    assert sorted(replayed) == sorted(live)
    if shutil.which("sysdig"):
        out = subprocess.run(["sysdig", "-r", str(capture),
                              f"fd.name={SHADOW} and proc.pid={pids[0]}", "-p",
                              "%proc.name %fd.name"], capture_output=True, text=True)
        assert f"cat {SHADOW}" in out.stdout, out.stderr


def test_engine_kind_errors_are_explained(monkeypatch):
    from pyfalco_syscall.ebpf import driver

    monkeypatch.setattr(driver.os, "geteuid", lambda: 1000)
    with pytest.raises(driver.DriverUnavailable, match="needs root"):
        driver.check_prerequisites()


def test_outbound_host_has_a_route():
    """The outbound action above needs a non-loopback route (CI machines have one)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("198.51.100.7", 80))
        assert s.getsockname()[0] != "127.0.0.1"
    finally:
        s.close()


def test_drop_alerts_reach_the_internal_alert_channel():
    """syscall_event_drops with simulate_drops: the live source raises Falco's drop alert through
    OpenContext.internal_alert, with the kernel counters as string fields."""
    from pyfalco.api import OpenContext
    from pyfalco_syscall.ebpf import open_ebpf

    got = []
    ctx = OpenContext(
        init_config={}, engine_config={}, event_types=frozenset({"openat"}),
        config={"syscall_event_drops": {"simulate_drops": True, "actions": ["alert"],
                                        "rate": 10, "max_burst": 10}},
        internal_alert=lambda msg, prio, fields, rule: got.append((msg, prio, fields, rule)))
    source = open_ebpf(ctx)
    try:
        end = time.monotonic() + 10
        while len(got) < 2 and time.monotonic() < end:
            source.next_batch()
            Path("/etc/hostname").read_text()  # some events (this process is not traced...)
            subprocess.run(["cat", "/etc/hostname"], stdout=subprocess.DEVNULL)
    finally:
        source.close()
    assert len(got) >= 2
    msg, prio, fields, rule = got[0]
    assert rule == "Falco internal: syscall event drop" and prio.name == "DEBUG"
    assert msg.startswith("Falco internal: syscall event drop. ")
    assert fields["ebpf_enabled"] == "1" and int(fields["n_drops"]) >= 1


def test_open_without_root_says_what_is_missing(monkeypatch):
    from pyfalco.api import OpenContext
    from pyfalco.errors import PluginError
    from pyfalco_syscall.ebpf import driver, open_ebpf

    monkeypatch.setattr(driver.os, "geteuid", lambda: 1000)
    with pytest.raises(PluginError, match=r"Cannot open the eBPF engine: .*needs root"):
        open_ebpf(OpenContext(init_config={}))
