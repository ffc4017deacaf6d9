"""Block types and versions the Falco test captures do not contain: EVF_V2 (state-only flag),
EV_V2_LARGE, old process-list versions PL_V1..PL_V8, FDL v1, pre-release block ids."""

from __future__ import annotations

import io
import struct

import pytest
from pyfalco_syscall.events import SyscallEvent, event_id
from pyfalco_syscall.scap import format as F
from pyfalco_syscall.scap.reader import read_all
from pyfalco_syscall.scap.writer import ScapWriter
from pyfalco_syscall.state import FD_FILE_V2, FdInfo, SyscallState, ThreadInfo


def _state() -> SyscallState:
    st = SyscallState()
    st.add_thread(ThreadInfo(10, 10, 1, comm="app", exe="app", cwd="/srv"))
    return st


def _write(path, st, events, flags=None):
    with ScapWriter(path) as w:
        w.write_header(st)
        for e, f in zip(events, flags or [None] * len(events), strict=True):
            w.write_event(e, f)


def test_state_only_events_update_state_but_stay_hidden(tmp_path):
    p = tmp_path / "evf.scap"
    op = SyscallEvent(event_id("openat"), ts=1, tid=10, params={
        "fd": 3, "dirfd": -100, "name": "data.db", "flags": 1})
    rd = SyscallEvent(event_id("read"), ts=2, tid=10, params={"res": 1, "data": b"x", "fd": 3,
                                                             "size": 1})
    _write(p, _state(), [op, rd], [F.DF_STATE_ONLY, None])
    raw = p.read_bytes()
    assert struct.pack("<I", F.EVF_V2) in raw
    evs = read_all(p)
    assert [e.type for e in evs] == ["read"]
    assert evs[0].thread.fds[3].name == "/srv/data.db"


def test_large_payload_blocks(tmp_path):
    p = tmp_path / "large.scap"
    big = b"A" * 70000
    ev = SyscallEvent(event_id("asyncevent", ">"), ts=5, tid=10,
                      params={"plugin_id": 0, "name": "container", "data": big})
    _write(p, _state(), [ev])
    assert struct.pack("<I", F.EV_V2_LARGE) in p.read_bytes()
    (e,) = read_all(p)
    assert e.type == "asyncevent" and e.param("data") == big


def _s16(s: str) -> bytes:
    b = s.encode()
    return struct.pack("<H", len(b)) + b


def _pl_entry(ver: int, tid: int, pid: int, ptid: int, comm: str, old_tail: bool = False) -> bytes:
    """A process-list entry in the layout of version ``ver`` (spec/scap.md §2.5)."""
    b = struct.pack("<Qqq", tid, pid, ptid)
    if ver >= 6:
        b += struct.pack("<q", 42)  # sid
    if ver >= 8:
        b += struct.pack("<q", 43)  # vpgid
    b += _s16(comm) + _s16(f"/usr/bin/{comm}")
    if ver >= 7:
        b += _s16(f"/usr/bin/{comm}")
    b += _s16("-x\0y") + _s16("/work")
    b += struct.pack("<QIII", 1024, 0, 1000, 1000)
    if ver >= 2:
        b += struct.pack("<IIIQQ", 1, 2, 3, 4, 5)
    if ver >= 3:
        b += _s16("A=1\0B=2")
    if ver >= 4:
        b += struct.pack("<qq", tid, pid) + _s16("cpu=/docker/abc")
    if ver >= 5:
        b += _s16("/")
    if ver >= 9 and old_tail:  # writers before libs 0.10: loginuid, exe_writable, 3 caps
        b += struct.pack("<IBQQQ", 1000, 0, 0, 0, 1 << 21)
        b = struct.pack("<I", 4 + len(b)) + b
    elif ver >= 9:  # current writers: the full 76-byte tail
        b += struct.pack("<QIIB", 0, 34816, 1000, 0) + struct.pack("<QQQ", 0, 0, 1 << 21)
        b += struct.pack("<BQQQBBq", 0, 0, 0, 0, 0, 0, 77)
        b = struct.pack("<I", 4 + len(b)) + b
    return b


def _block(btype: int, body: bytes) -> bytes:
    pad = b"\0" * ((4 - len(body) % 4) % 4)
    total = 12 + len(body) + len(pad)
    return struct.pack("<II", btype, total) + body + pad + struct.pack("<I", total)


@pytest.mark.parametrize("ver", range(1, 10))
def test_process_list_versions(tmp_path, ver):
    pl_types = {v: k for k, v in F.PL_VERSION.items()}
    ev = SyscallEvent(event_id("openat"), ts=7, tid=77, params={
        "fd": 3, "dirfd": -100, "name": "f.txt", "flags": 1})
    buf = io.BytesIO()
    w = ScapWriter(buf)
    w.write_header(None)  # SHB + MI only
    w._block(pl_types[ver], _pl_entry(ver, 77, 77, 1, "tool"))
    # a v1 fd list (no sub lengths) for the thread: one FILE_V2 entry without dev
    fdl = struct.pack("<Q", 77) + struct.pack("<qQB", 5, 9, FD_FILE_V2) + \
        struct.pack("<I", 1) + _s16("/etc/conf")
    w._block(F.FDL, fdl)
    w.write_event(ev)
    w.close()
    p = tmp_path / f"pl{ver}.scap"
    p.write_bytes(buf.getvalue())
    (e,) = read_all(p)
    t = e.thread
    assert (t.comm, t.exe, t.args, t.cwd, t.uid) == ("tool", "/usr/bin/tool", ["-x", "y"],
                                                   "/work", 1000)
    assert e.thread.fds[3].name == "/work/f.txt"
    assert t.fds[5].name == "/etc/conf" and isinstance(t.fds[5], FdInfo)
    if ver >= 3:
        assert t.env == ["A=1", "B=2"]
    if ver >= 4:
        assert t.cgroups == ["cpu=/docker/abc"]
    if ver >= 6:
        assert t.sid == 42
    if ver >= 7:
        assert t.exepath == "/usr/bin/tool"
    if ver >= 9:
        assert t.tty == 34816 and t.loginuid == 1000
        assert t.cap_effective == 1 << 21 and t.pgid == 77


def test_process_list_v9_old_tail(tmp_path):
    buf = io.BytesIO()
    w = ScapWriter(buf)
    w.write_header(None)
    w._block(F.PL_V9, _pl_entry(9, 77, 77, 1, "tool", old_tail=True))
    w.write_event(SyscallEvent(event_id("close"), ts=1, tid=77, params={"res": 0, "fd": 1}))
    w.close()
    p = tmp_path / "oldtail.scap"
    p.write_bytes(buf.getvalue())
    (e,) = read_all(p)
    assert e.thread.loginuid == 1000 and e.thread.tty == 0
    assert e.thread.cap_effective == 1 << 21


def test_prerelease_block_ids(tmp_path):
    # the MI block under its pre-release id 0x8002ABCD is read like 0x201
    buf = io.BytesIO()
    w = ScapWriter(buf)
    w._block(F.SHB, struct.pack("<IHHq", F.BYTE_ORDER_MAGIC, 1, 0, -1))
    mi = struct.pack("<IQQ", 4, 0, 0) + b"oldhost".ljust(128, b"\0") + b"\0" * 32
    w._block(0x8002ABCD, mi)
    w.write_event(SyscallEvent(event_id("close"), ts=1, tid=3, params={"res": 0, "fd": 1}))
    w.close()
    p = tmp_path / "pre.scap"
    p.write_bytes(buf.getvalue())
    st = SyscallState()
    (e,) = read_all(p, st)
    assert st.hostname == "oldhost" and e.type == "close"
