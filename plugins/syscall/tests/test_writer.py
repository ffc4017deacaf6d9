"""The writer: round trips through our reader (sysdig reading our files: test_sysdig_diff)."""

from __future__ import annotations

import io

import pytest
from pyfalco_syscall.events import SyscallEvent, event_id
from pyfalco_syscall.scap.reader import ScapReader, read_all
from pyfalco_syscall.scap.writer import ScapWriter
from pyfalco_syscall.state import FD_FILE_V2, FdInfo, SyscallState, ThreadInfo
from pyfalco_syscall.testing import sysdig_matches


def _rewrite(src, dst, compress=False):
    st = SyscallState()
    r = ScapReader(src, st)
    with ScapWriter(dst, compress=compress) as w:
        w.write_header(st, hostname=str(r.machine.get("hostname", "")))
        for evt in r.events():
            w._write_one(evt, None)  # byte-exact re-encoding of every block, enters included


def test_rewrite_every_capture_reads_back_identically(trace_files, tmp_path):
    for name, path in trace_files.items():
        for compress in (False, True):
            out = tmp_path / f"{name}{'.gz' if compress else ''}.scap"
            _rewrite(path, out, compress)
            a = [(e.ts, e.tid, e.type, e.cpu, tuple(e.params.items())) for e in read_all(path)]
            b = [(e.ts, e.tid, e.type, e.cpu, tuple(e.params.items())) for e in read_all(out)]
            assert a == b, name
            if compress:
                assert out.read_bytes()[:2] == b"\x1f\x8b"


def test_metadata_round_trip(trace_files, tmp_path):
    st1 = SyscallState()
    ScapReader(trace_files["cat_write"], st1)
    out = tmp_path / "meta.scap"
    _rewrite(trace_files["cat_write"], out)
    st2 = SyscallState()
    ScapReader(out, st2)
    assert {t: (x.comm, x.exe, x.args, x.cwd, x.uid, x.ptid) for t, x in st1.threads.items()} == \
        {t: (x.comm, x.exe, x.args, x.cwd, x.uid, x.ptid) for t, x in st2.threads.items()}
    for tid, t in st1.threads.items():
        assert {fd: (f.name, f.typechar) for fd, f in t.fds.items()} == \
            {fd: (f.name, f.typechar) for fd, f in st2.threads[tid].fds.items()}, tid
    assert {u: x.name for u, x in st1.users.items()} == {u: x.name for u, x in st2.users.items()}


def test_producer_events_split_into_enter_and_exit():
    st = SyscallState()
    st.add_thread(ThreadInfo(10, 10, 1, comm="cat", exe="cat", cwd="/tmp"))
    st.add_fd(10, FdInfo(0, FD_FILE_V2, "/dev/null"))
    buf = io.BytesIO()
    w = ScapWriter(buf)
    w.write_header(st, hostname="h")
    w.write_event(SyscallEvent(event_id("openat"), ts=5, tid=10, params={
        "fd": 3, "dirfd": -100, "name": "x.txt", "flags": 1, "mode": 0, "dev": 0, "ino": 7}))
    w.write_event(SyscallEvent(event_id("close"), ts=6, tid=10, params={"res": 0, "fd": 3}))
    w.close()
    assert w.events_written == 4  # openat >, openat <, close >, close <
    path_bytes = buf.getvalue()
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".scap") as f:
        f.write(path_bytes)
        f.flush()
        evs = read_all(f.name)
    assert [e.type for e in evs] == ["openat", "close"]
    assert evs[0].param("name") == "x.txt" and evs[0].param("ino") == 7
    assert evs[1].param("fd") == 3


def _write_oversized_capture(out):
    """A capture of a host where one process's metadata outgrows libscap's buffers (a java
    command line of ~26 kB was seen in CI), and of one openat of another process."""
    st = SyscallState()
    t = ThreadInfo(10, 10, 1, comm="java", exe="/usr/bin/java", exepath="/usr/bin/java",
                   args=[f"-Dprop{i}=" + "x" * 40 for i in range(600)],
                   cwd="/" + "d" * 3000, env=["A=" + "y" * 9000], cgroups=["0::/" + "c" * 5000])
    st.add_thread(t)
    st.add_fd(10, FdInfo(3, FD_FILE_V2, "/" + "f" * 2000))
    st.add_thread(ThreadInfo(11, 11, 1, comm="cat", exe="cat", args=["/etc/shadow"], cwd="/tmp"))
    with ScapWriter(out) as w:
        w.write_header(st, hostname="h")
        w.write_event(SyscallEvent(event_id("openat"), ts=5, tid=11, params={
            "fd": 3, "dirfd": -100, "name": "/etc/shadow", "flags": 1, "mode": 0, "dev": 0,
            "ino": 7}))


def test_oversized_metadata_is_cut_to_libscaps_limits(tmp_path):
    """libscap refuses a whole capture when one process's command line outgrows its buffer."""
    out = tmp_path / "big.scap"
    _write_oversized_capture(out)
    st = SyscallState()
    assert len(list(ScapReader(out, st).events())) == 2
    java = st.threads[10]
    assert 0 < len("\0".join(java.args).encode()) < 4096 and java.args[0].startswith("-Dprop0=")
    assert len(java.cwd.encode()) < 1024 and len(java.env[0]) < 4096
    assert len(java.fds[3].name) < 1024
    assert st.threads[11].args == ["/etc/shadow"]


@pytest.mark.sysdig
def test_sysdig_reads_captures_with_oversized_metadata(tmp_path):
    out = tmp_path / "big.scap"
    _write_oversized_capture(out)
    assert sysdig_matches(out, "fd.name=/etc/shadow") == {(5, 11, "openat")}


def test_oversized_parameter_of_a_non_large_event_is_cut(tmp_path):
    out = tmp_path / "long.scap"
    with ScapWriter(out) as w:
        w.write_header(None, hostname="h")
        w.write_event(SyscallEvent(event_id("openat"), ts=5, tid=11, params={
            "fd": 3, "dirfd": -100, "name": "/" + "p" * 70_000, "flags": 1, "mode": 0,
            "dev": 0, "ino": 7}))
    (evt,) = [e for e in read_all(out) if e.type == "openat" and e.param("fd") == 3]
    name = evt.param("name")
    assert 60_000 < len(name) < 0x10000 and name.startswith("/ppp")


@pytest.mark.sysdig
def test_sysdig_reads_an_event_cut_to_the_non_large_block_size(tmp_path):
    out = tmp_path / "long.scap"
    st = SyscallState()
    st.add_thread(ThreadInfo(11, 11, 1, comm="cat", exe="cat", cwd="/tmp"))
    with ScapWriter(out) as w:
        w.write_header(st, hostname="h")
        w.write_event(SyscallEvent(event_id("openat"), ts=5, tid=11, params={
            "fd": 3, "dirfd": -100, "name": "/" + "p" * 70_000, "flags": 1, "mode": 0,
            "dev": 0, "ino": 7}))
    # (libsinsp names a path longer than its buffers /PATH_TOO_LONG)
    assert sysdig_matches(out, "evt.type=openat and proc.name=cat") == {(5, 11, "openat")}
