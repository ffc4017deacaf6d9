"""With the syscall plugin's real state: a capture written by its writer (threads in docker,
podman, containerd, CRI-O, kubelet and ctr cgroups, and on the host) replayed through its
state parser; container.id/type come out of the real ThreadInfo. sysdig is the oracle for
container.id (its 2022 libs predate the ctr layout and call every runtime "docker")."""

from __future__ import annotations

import subprocess

import pytest
from pyfalco_container import fields as F
from pyfalco_syscall.events import SyscallEvent, event_id
from pyfalco_syscall.replay import ReplayInstance
from pyfalco_syscall.scap.writer import ScapWriter
from pyfalco_syscall.state import SyscallState, ThreadInfo

ID = "3ad7b26ded6d8e7b23da7d48fe889434573036c27ae5a74837233de441c3601e"
ID2 = "9c1c48800d595a22e318e182b8140c8a7fef864e0d81c8c5911e33d8adec84aa"
POD = "pod0a1b2c3d_4e5f_6789_abcd_ef0123456789"
SHORT = ID[:12]

# tid -> (cgroups, expected container.id, expected container.type)
THREADS = {
    100: ([f"cpuset=/docker/{ID}", f"cpu=/docker/{ID}"], SHORT, "docker"),
    101: ([f"cpu=/system.slice/docker-{ID}.scope"], SHORT, "docker"),
    102: ([f"cpu=/machine.slice/libpod-{ID}.scope"], SHORT, "podman"),
    103: ([f"cpu=/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-{POD}.slice/"
           f"cri-containerd-{ID}.scope"], SHORT, "containerd"),
    104: ([f"cpu=/kubepods.slice/kubepods-{POD}.slice/crio-{ID}.scope"], SHORT, "cri-o"),
    105: ([f"cpu=/kubepods/besteffort/{POD}/{ID}"], SHORT, "cri"),
    106: (["cpu=/user.slice/user-1000.slice/session-2.scope"], "host", "host"),
    107: (["cpu=/default/redis-1"], "redis-1", "containerd"),
    108: ([f"cpu=/kubepods-burstable-{POD}.slice:cri-containerd:{ID}"], SHORT, "containerd"),
    109: ([f"cpu=/machine.slice/libpod-{ID}.scope/container"], SHORT, "podman"),
}
CTR_TID = 107  # layout newer than sysdig's libs


@pytest.fixture
def capture(tmp_path):
    st = SyscallState()
    for tid, (cgroups, _, _) in THREADS.items():
        st.add_thread(ThreadInfo(tid, tid, 1, comm=f"p{tid}", exe="/bin/true", cwd="/",
                                 cgroups=cgroups))
    path = tmp_path / "containers.scap"
    with ScapWriter(path) as w:
        w.write_header(st, hostname="h")
        for i, tid in enumerate(THREADS):
            w.write_event(SyscallEvent(event_id("close"), ts=1000 + i, tid=tid,
                                       params={"res": 0, "fd": 3}))
        # a host process execs into a container: the execve's cgroups move the thread
        w.write_event(SyscallEvent(event_id("execve"), ts=2000, tid=106, params={
            "res": 0, "exe": "/bin/sh", "args": b"", "tid": 106, "pid": 106, "ptid": 1,
            "cwd": "/", "fdlimit": 1024, "pgft_maj": 0, "pgft_min": 0, "vm_size": 0,
            "vm_rss": 0, "vm_swap": 0, "comm": "sh",
            "cgroups": f"cpu=/docker/{ID2}".encode() + b"\0", "env": b"",
            "tty": 0, "filename": "/bin/sh"}))
        w.write_event(SyscallEvent(event_id("close"), ts=2001, tid=106,
                                   params={"res": 0, "fd": 3}))
    return path


def replay(path):
    F.STATE.store = None  # no runtime: cgroup-derived values only
    st = SyscallState()
    inst = ReplayInstance(path, st)
    rows = []
    while (batch := inst.next_batch()) is not None:
        for evt in batch:
            st.parse(evt)
            rows.append((evt.num, evt.type, evt.thread.tid,
                         F.FIELDS[0].extract(evt),  # container.id
                         next(f for f in F.FIELDS if f.name == "container.type").extract(evt)))
    return rows


def test_container_of_each_thread_from_the_real_thread_table(capture):
    rows = replay(capture)
    closes = [r for r in rows if r[1] == "close"]
    got = {tid: (cid, ctype) for _, _, tid, cid, ctype in closes[:len(THREADS)]}
    assert got == {tid: (e[1], e[2]) for tid, e in THREADS.items()}
    # after the execve, thread 106 is in the new container
    assert closes[-1][2:] == (106, ID2[:12], "docker")


@pytest.mark.sysdig
def test_container_id_agrees_with_sysdig(capture):
    out = subprocess.run(
        ["sysdig", "-r", str(capture), "-p", "%evt.num %thread.tid %container.id",
         "evt.dir=< and evt.type in (close, execve)"],
        capture_output=True, text=True, timeout=60, check=True).stdout
    oracle = [tuple(line.split()) for line in out.splitlines() if line.strip()]
    ours = [(tid, cid) for _, _, tid, cid, _ in replay(capture)]
    theirs = [(int(t), c) for _, t, c in oracle]
    assert len(ours) == len(theirs)
    for (tid, cid), (otid, ocid) in zip(ours, theirs, strict=True):
        assert tid == otid
        if tid == CTR_TID:
            assert (cid, ocid) == ("redis-1", "host")
        else:
            assert cid == ocid, tid
