"""State and fields on real captures, evaluated in lockstep with the parser (as the engine does).
Expected values are those sysdig (the oracle) prints for the same events."""

from __future__ import annotations

from pyfalco_syscall.events import SyscallEvent, event_id
from pyfalco_syscall.fields import extract
from pyfalco_syscall.state import FD_FILE_V2, FdInfo, Interface, SyscallState, ThreadInfo
from pyfalco_syscall.testing import replay_rows

CAT_FIELDS = ["evt.type", "proc.name", "proc.pname", "proc.cmdline", "fd.num", "fd.name",
              "fd.typechar", "user.name", "evt.res", "evt.arg.flags", "evt.arg.fd"]


def test_cat_write_fields(trace_files):
    rows = replay_rows(trace_files["cat_write"], CAT_FIELDS)
    opens = [r for r in rows if r["evt.type"] == "open"]
    assert [r["fd.name"] for r in opens] == [
        "/etc/ld.so.cache", "/lib/x86_64-linux-gnu/libc.so.6",
        "/usr/lib/locale/locale-archive", "/dev/null"]
    for r in opens:
        assert (r["proc.name"], r["proc.pname"], r["proc.cmdline"]) == ("cat", "bash",
                                                                        "cat /dev/null")
        assert r["fd.num"] == 3 and r["fd.typechar"] == "f" and r["evt.res"] == "SUCCESS"
        assert r["user.name"] is None  # cat's thread is a fake one: uid unknown (oracle: <NA>)
    assert opens[0]["evt.arg.flags"] == "O_RDONLY|O_CLOEXEC"
    assert opens[0]["evt.arg.fd"] == "<f>/etc/ld.so.cache"
    closes = [r for r in rows if r["evt.type"] == "close"]
    # close still sees the fd it closes (removal deferred to the next event)
    assert closes[0]["fd.name"] == "/etc/ld.so.cache"
    # fds unknown to the state: empty name, typechar guessed 'o'
    assert (closes[-1]["fd.num"], closes[-1]["fd.name"], closes[-1]["fd.typechar"]) == (2, "", "o")


def test_connect_localhost_fields(trace_files):
    rows = replay_rows(trace_files["connect_localhost"],
                       ["evt.type", "proc.name", "fd.num", "fd.name", "fd.l4proto", "fd.sip",
                        "fd.sport", "fd.cip", "fd.lip", "fd.rport", "evt.res", "evt.rawres",
                        "fd.ip"])
    conn = [r for r in rows if r["evt.type"] == "connect"]
    assert len(conn) == 1
    r = conn[0]
    assert r["proc.name"] == "<NA>"  # not in the capture's process list (oracle: <NA>)
    assert r["fd.num"] == 4 and r["fd.name"] == "127.0.0.1:47192->127.0.0.1:80"
    assert r["fd.l4proto"] == "tcp" and str(r["fd.sip"]) == "127.0.0.1" and r["fd.sport"] == 80
    assert str(r["fd.cip"]) == "127.0.0.1" and r["fd.rport"] == 80
    assert r["evt.res"] == "EINPROGRESS" and r["evt.rawres"] == -115


def _state_with_shell() -> SyscallState:
    st = SyscallState()
    st.add_user(0, 0, "root", "/root", "/bin/bash")
    st.add_user(1000, 1000, "alice", "/home/alice", "/bin/bash")
    st.add_group(1000, "alice")
    init = ThreadInfo(1, 1, 0, comm="systemd", exe="/sbin/init", exepath="/sbin/init")
    sh = ThreadInfo(100, 100, 1, comm="bash", exe="bash", exepath="/bin/bash", cwd="/home/alice",
                    uid=1000, gid=1000, args=["-i"])
    st.add_thread(init)
    st.add_thread(sh)
    st.add_fd(100, FdInfo(0, FD_FILE_V2, "/dev/pts/0"))
    return st


def _run(st: SyscallState, evts: list[SyscallEvent]) -> list[SyscallEvent]:
    for e in evts:
        st.parse(e)
    return evts


def test_clone_execve_open_relative_and_exit():
    st = _state_with_shell()
    clone_parent = SyscallEvent(event_id("clone"), ts=10, tid=100, params={
        "res": 200, "exe": "bash", "args": b"-i\0", "tid": 100, "pid": 100, "ptid": 1,
        "cwd": "", "comm": "bash", "flags": 0, "uid": 1000, "gid": 1000})
    st.parse(clone_parent)
    child = st.lookup_thread(200)
    assert child is not None and child.ptid == 100 and child.cwd == "/home/alice"
    assert child.fds is not st.lookup_thread(100).fds and 0 in child.fds
    execve = SyscallEvent(event_id("execve"), ts=20, tid=200, params={
        "res": 0, "exe": "cat", "args": b"notes.txt\0", "tid": 200, "pid": 200, "ptid": 100,
        "cwd": "/home/alice", "comm": "cat", "filename": "/usr/bin/cat", "uid": 1000})
    st.parse(execve)
    assert extract("proc.name", execve) == "cat"
    assert extract("proc.exepath", execve) == "/usr/bin/cat"
    assert extract("proc.cmdline", execve) == "cat notes.txt"
    assert extract("proc.pname", execve) == "bash"
    assert extract("proc.aname", execve, 2) == "systemd"
    assert extract("proc.aname", execve) == ["bash", "systemd"]
    assert extract("user.name", execve) == "alice" and extract("group.name", execve) == "alice"
    op = SyscallEvent(event_id("openat"), ts=30, tid=200, params={
        "fd": 3, "dirfd": -100, "name": "notes.txt", "flags": 1, "mode": 0})
    st.parse(op)
    assert extract("fd.name", op) == "/home/alice/notes.txt"
    assert extract("fd.directory", op) == "/home/alice"
    assert extract("fd.filename", op) == "notes.txt"
    assert extract("fd.nameraw", op) == "notes.txt"
    assert extract("evt.is_open_read", op) is True and extract("evt.is_open_write", op) is False
    assert extract("evt.arg.name", op) == "/home/alice/notes.txt"
    rd = SyscallEvent(event_id("read"), ts=31, tid=200, params={"res": 5, "data": b"hello",
                                                               "fd": 3, "size": 5})
    st.parse(rd)
    assert extract("fd.name", rd) == "/home/alice/notes.txt" and extract("evt.buflen", rd) == 5
    ex = SyscallEvent(event_id("procexit", ">"), ts=40, tid=200, params={"status": 0})
    st.parse(ex)
    assert extract("proc.name", ex) == "cat"  # still there for the procexit event itself
    st.parse(SyscallEvent(event_id("close"), ts=50, tid=100, params={"res": -9, "fd": 42}))
    assert st.lookup_thread(200) is None


def test_threads_share_fds_and_pname_walks_main_thread():
    st = _state_with_shell()
    st.add_interface(Interface("eth0", 2, b"\x0a\x00\x00\x02", b"\xff\xff\xff\x00"))
    thr = SyscallEvent(event_id("clone"), ts=10, tid=100, params={
        "res": 101, "exe": "bash", "args": b"", "tid": 100, "pid": 100, "ptid": 1,
        "comm": "bash", "flags": (1 << 13) | 1})  # CLONE_THREAD | CLONE_FILES
    st.parse(thr)
    t = st.lookup_thread(101)
    assert t.pid == 100 and t.fds is st.lookup_thread(100).fds
    e = SyscallEvent(event_id("socket"), ts=11, tid=101, params={"fd": 5, "domain": 2,
                                                                "type": 1, "proto": 0})
    st.parse(e)
    assert 5 in st.lookup_thread(100).fds
    assert extract("proc.pname", e) == "systemd"  # parent of the main thread
    assert extract("thread.tid", e) == 101 and extract("proc.pid", e) == 100
    c = SyscallEvent(event_id("connect"), ts=12, tid=101, params={
        "res": 0, "tuple": (2, b"\x0a\x00\x00\x02", 40000, b"\x08\x08\x08\x08", 53), "fd": 5})
    st.parse(c)
    assert extract("fd.name", c) == "10.0.0.2:40000->8.8.8.8:53"
    assert str(extract("fd.rip", c)) == "8.8.8.8" and extract("fd.rport", c) == 53
    assert str(extract("fd.lip", c)) == "10.0.0.2" and extract("fd.lport", c) == 40000
    assert extract("fd.is_server", c) is False


def test_set_container_id_and_cgroups():
    st = _state_with_shell()
    st.lookup_thread(100).cgroups = ["cpu=/docker/abc123", "memory=/docker/abc123"]
    assert st.lookup_thread(100).cgroup("cpu") == "/docker/abc123"
    st.set_container_id(100, "abc123")
    assert st.lookup_thread(100).container_id == "abc123"


def test_unknown_tid_gets_fake_thread():
    st = SyscallState()
    e = SyscallEvent(event_id("openat"), ts=1, tid=999, params={"fd": 3, "dirfd": -100,
                                                               "name": "/etc/passwd", "flags": 1})
    st.parse(e)
    assert extract("proc.name", e) == "<NA>" and extract("fd.name", e) == "/etc/passwd"
    assert extract("user.name", e) is None and extract("proc.pid", e) == -1  # libs: m_pid = -1
    assert st.fake_threads == 1


def test_child_side_clone_of_unknown_tid_creates_thread():
    st = _state_with_shell()
    child = SyscallEvent(event_id("clone"), ts=10, tid=(7 << 32) | 5, params={
        "res": 0, "exe": "sh", "args": b"-c\0ls\0", "tid": (7 << 32) | 5, "pid": (7 << 32) | 5,
        "ptid": 100, "comm": "sh", "flags": 0, "vtid": 5, "vpid": 5})
    st.parse(child)
    t = st.lookup_thread((7 << 32) | 5)
    assert t is not None and child.thread is t
    assert (t.vtid, t.vpid, t.comm, t.args) == (5, 5, "sh", ["-c", "ls"])
    assert extract("proc.vpid", child) == 5 and extract("thread.vtid", child) == 5
    assert extract("proc.pname", child) == "bash"


def test_caller_side_clone_without_exe_inherits_from_caller():
    st = _state_with_shell()
    e = SyscallEvent(event_id("clone"), ts=10, tid=100, params={
        "res": 300, "tid": 100, "pid": 100, "ptid": 1, "flags": 0, "uid": 1000, "gid": 1000})
    st.parse(e)
    t = st.lookup_thread(300)
    assert (t.exe, t.comm, t.args, t.exepath) == ("bash", "bash", ["-i"], "/bin/bash")


def test_sockaddr_and_socktuple_accept_wire_bytes():
    st = _state_with_shell()
    st.parse(SyscallEvent(event_id("socket"), ts=1, tid=100,
                          params={"fd": 4, "domain": 2, "type": 1, "proto": 0}))
    wire = bytes([2]) + b"\x7f\x00\x00\x01" + (5555).to_bytes(2, "little") + \
        b"\x7f\x00\x00\x01" + (80).to_bytes(2, "little")
    c = SyscallEvent(event_id("connect"), ts=2, tid=100, params={"res": 0, "tuple": wire,
                                                                "fd": 4})
    st.parse(c)
    assert extract("fd.name", c) == "127.0.0.1:5555->127.0.0.1:80"


def test_seed_from_scan_records():
    """Duck-typed /proc scan records (a producer's own scanner) seed threads and fds."""
    from types import SimpleNamespace as NS

    from pyfalco_syscall.state import seed_from_procs

    st = SyscallState()
    procs = [
        NS(tid=10, pid=10, ptid=1, comm="srv", exe="srv", exepath="/usr/bin/srv", args=["-v"],
           cwd="/srv", uid=0, gid=0, loginuid=0xFFFFFFFF, vtid=10, vpid=10, sid=10, vpgid=10,
           tty=0, env=["A=1"], cgroups=[("cpu", "/docker/abc")], fdlimit=1024, fds=[
               NS(fd=3, type="ipv4_server", name="0.0.0.0:80", ino=1, l4proto="tcp",
                  sip="0.0.0.0", sport=80, dip="", dport=0),
               NS(fd=4, type="ipv4", name="10.0.0.1:80->10.0.0.2:5555", ino=2, l4proto="tcp",
                  sip="10.0.0.1", sport=80, dip="10.0.0.2", dport=5555),
               NS(fd=5, type="file", name="/var/log/srv.log", ino=3, l4proto="", sip="",
                  sport=0, dip="", dport=0)]),
        NS(tid=11, pid=10, ptid=1, comm="srv", exe="srv", exepath="/usr/bin/srv", args=[],
           cwd="/srv", uid=0, gid=0, loginuid=0xFFFFFFFF, vtid=11, vpid=10, fds=[]),
    ]
    assert seed_from_procs(procs, st) == 2
    main, thr = st.lookup_thread(10), st.lookup_thread(11)
    assert thr.fds is main.fds and main.cgroup("cpu") == "/docker/abc"
    e = SyscallEvent(event_id("read"), ts=1, tid=11, params={"res": 1, "data": b"x", "fd": 4})
    st.parse(e)
    assert extract("fd.name", e) == "10.0.0.1:80->10.0.0.2:5555"
    assert str(extract("fd.sip", e)) == "10.0.0.2" and extract("fd.l4proto", e) == "tcp"
    assert extract("proc.name", e) == "srv" and extract("proc.env", e, "A") == "1"


def test_scan_proc_seeds_live_host():
    import os

    st = SyscallState()
    assert st.scan_proc() > 0
    me = st.lookup_thread(os.getpid())
    assert me is not None and me.cwd == os.getcwd() and (0 in me.fds or 1 in me.fds)
    assert st.user_name(0) == "root"


def test_unspecified_local_end_is_never_the_remote_one():
    # gVisor reports only connect/accept's address argument: the socket's own end is the
    # unspecified address. It must never come out as the remote side.
    st = _state_with_shell()
    st.add_interface(Interface("eth0", 2, b"\x0a\x00\x00\x02", b"\xff\xff\xff\x00"))
    for fd, fam, zero, peer in ((5, 2, bytes(4), b"\x5d\xb8\xd8\x22"),
                                (6, 10, bytes(16), b"\x20\x01\x0d\xb8" + bytes(11) + b"\x01")):
        st.parse(SyscallEvent(event_id("socket"), ts=10, tid=100, params={
            "fd": fd, "domain": fam, "type": 1, "proto": 0}))
        c = SyscallEvent(event_id("connect"), ts=11, tid=100, params={
            "res": 0, "tuple": (fam, zero, 0, peer, 443), "fd": fd})
        st.parse(c)
        assert extract("fd.rip", c).packed == peer and extract("fd.rport", c) == 443
        assert extract("fd.lip", c).packed == zero and extract("fd.lport", c) == 0
        assert extract("fd.is_server", c) is False
    # accept: the peer is the client end, ours the (unspecified) server end
    a = SyscallEvent(event_id("accept4"), ts=12, tid=100, params={
        "fd": 7, "tuple": (2, b"\xc0\xa8\x01\x07", 51000, bytes(4), 0), "queuepct": 0,
        "queuelen": 0, "queuemax": 0, "flags": 0})
    st.parse(a)
    assert str(extract("fd.rip", a)) == "192.168.1.7" and extract("fd.rport", a) == 51000
    assert extract("fd.is_server", a) is True


def _prctl(tid: int, ts: int, option: int, arg: int, res: int = 0) -> SyscallEvent:
    return SyscallEvent(event_id("prctl"), ts=ts, tid=tid, params={
        "res": res, "option": option, "arg2_str": "", "arg2_int": arg})


def test_child_subreaper_adopts_orphans_when_no_reaper_is_reported():
    # init(1) -> R(10) -> A(20) -> B(30) -> C(40). B exits without a reaper_tid (gVisor, old
    # drivers): C goes to the nearest subreaper above it (the kernel's choice), R once R set
    # PR_SET_CHILD_SUBREAPER; without a subreaper, to B's parent (previous behaviour).
    from pyfalco_syscall.state import PR_GET_CHILD_SUBREAPER, PR_SET_CHILD_SUBREAPER

    def tree() -> SyscallState:
        st = SyscallState()
        st.add_thread(ThreadInfo(1, 1, 0, comm="init"))
        for tid, ptid in ((10, 1), (20, 10), (30, 20), (40, 30)):
            st.add_thread(ThreadInfo(tid, tid, ptid, comm=f"p{tid}"))
        return st

    def exit_b(st: SyscallState) -> int:
        st.parse(SyscallEvent(event_id("procexit", ">"), ts=50, tid=30, params={"status": 0}))
        return st.lookup_thread(40).ptid

    assert exit_b(tree()) == 20
    st = tree()
    st.parse(_prctl(10, 10, PR_SET_CHILD_SUBREAPER, 1, res=-22))  # failed: no change
    st.parse(_prctl(10, 11, 15, 1))  # PR_SET_NAME: not about reaping
    assert exit_b(st) == 20
    st = tree()
    st.parse(_prctl(10, 10, PR_SET_CHILD_SUBREAPER, 1))
    assert st.lookup_thread(10).child_subreaper
    assert exit_b(st) == 10
    # unset again (PR_GET reports the current flag, as libsinsp reads it)
    st = tree()
    st.parse(_prctl(10, 10, PR_SET_CHILD_SUBREAPER, 1))
    st.parse(_prctl(10, 11, PR_GET_CHILD_SUBREAPER, 0))
    assert exit_b(st) == 20
    # a reaper the driver reports wins
    st = tree()
    st.parse(_prctl(10, 10, PR_SET_CHILD_SUBREAPER, 1))
    st.parse(SyscallEvent(event_id("procexit", ">"), ts=50, tid=30,
                          params={"status": 0, "reaper_tid": 1}))
    assert st.lookup_thread(40).ptid == 1
    # a prctl from a thread the state does not know marks nothing
    st = tree()
    st.parse(_prctl(99, 10, PR_SET_CHILD_SUBREAPER, 1))
    assert not st.lookup_thread(99).child_subreaper
