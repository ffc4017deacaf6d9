"""runsc trace procfs output -> sandbox processes (with Falco's pid/vpid bugs fixed)."""

from __future__ import annotations

import pytest
from pyfalco_gvisor.procfs import process_from_procfs
from pyfalco_gvisor.runsc import RunscError, parse_procfs_dump


def test_real_dump(data_dir):
    entries = parse_procfs_dump((data_dir / "procfs-dump.txt").read_text(), "runsc-1")
    procs = [process_from_procfs(e, 5, "runsc-1") for e in entries]
    by_vpid = {p.vpid: p for p in procs}
    sh, sleep = by_vpid[1], by_vpid[2]
    assert sh.comm == "sh" and sh.exe == "sh" and sh.exepath == "/usr/bin/dash"
    assert sleep.args == ["100"] and sleep.cwd == "/"
    assert sleep.tid == (5 << 32) | 2 and sleep.ptid == (5 << 32) | 1
    assert sh.ptid == 0
    assert sh.fdlimit == 20000 and sh.uid == 0 and sh.container_id == "runsc-1"
    assert 1 in sh.files is False or sh.files.get(1) is None  # /dev/null is a char device


def test_pid_and_vpid_are_the_thread_group_not_the_process_group():
    # Falco bugs: pid = stat.pgid (process group), vpid = status.pgid (no such key -> 0).
    entry = {"status": {"pid": 12, "ppid": 3, "comm": "x"}, "stat": {"pgid": 3, "sid": 1},
             "args": ["x"], "fdlist": [{"number": 4, "path": "/data/f", "mode": 0o100644}]}
    p = process_from_procfs(entry, 1, "c")
    assert p.pid == (1 << 32) | 12 and p.vpid == 12 and p.vtid == 12
    assert p.vpgid == 3
    assert p.files == {4: "/data/f"}


def test_hostile_entry_types_default():
    p = process_from_procfs({"status": "x", "args": [1, "a"], "fdlist": ["x", {"number": "1"}]},
                            1, "c")
    assert p.vpid == 0 and p.args == [] and p.exe == "a" and p.files == {}


@pytest.mark.parametrize("text", ["garbage", "PROCFS DUMP\n\n{\"a\": 1}\n\n{broken\n",
                                  "PROCFS DUMP\n\n[1]\n"])
def test_malformed_dump_names_the_container(text):
    with pytest.raises(RunscError, match="trace procfs runsc-9"):
        parse_procfs_dump(text, "runsc-9")
