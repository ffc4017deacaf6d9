"""Differential test against Debian's sysdig 0.29.3 (libs of 2022), the oracle for syscall
semantics: for every capture of Falco's test suite and for captures written by our writer, each
filter below matches the same set of exit events in sysdig and in pyfalco (through the real rules
engine). Events are compared by (timestamp, tid, type).

Where the oracle's 2022 libs and current libs (which we follow) differ, the pair is listed in
KNOWN_DIFFERENCES with the reason; nothing else may differ.
"""

from __future__ import annotations

import pytest
from pyfalco_syscall.scap.reader import EnterMerger, ScapReader
from pyfalco_syscall.scap.writer import ScapWriter
from pyfalco_syscall.state import SyscallState
from pyfalco_syscall.testing import replay_matches, sysdig_matches, write_sample_capture

#: Event ids the oracle knows (its PPM_EVENT_MAX): newer types are skipped by sysdig.
ORACLE_EVENT_MAX = 336

FILTERS = [
    # evt.*
    "evt.type=open",
    "evt.type in (open, openat, close, read)",
    "evt.type=connect and evt.rawres<0",
    "evt.res=SUCCESS",
    "evt.res!=SUCCESS",
    "evt.rawres<0",
    "evt.failed=true",
    "evt.category=file",
    "evt.category=net",
    "evt.category=process",
    "evt.cpu=0",
    "evt.arg.flags contains O_CREAT",
    "evt.arg.flags contains O_RDONLY",
    # proc.* / thread.*
    "proc.name=cat",
    "proc.name startswith py",
    "proc.name contains at",
    "proc.name in (cat, bash, python, ping, curl, nc)",
    "not proc.name=cat",
    "proc.name glob n?",
    "proc.pname=bash",
    "proc.aname[2]=sshd",
    "proc.aname[3]=systemd",
    "proc.aname=bash",
    "proc.cmdline contains /dev/null",
    "proc.cmdline=\"nc 10.0.0.5 443\"",
    "proc.args contains -",
    "proc.exe=cat",
    "proc.exepath=/usr/bin/nc",
    "proc.pid>1000",
    "proc.ppid exists",
    "proc.apid[1]>0",
    "proc.sid>=0",
    "proc.vpid<=2000",
    "proc.exe endswith sh",
    "thread.vtid exists",
    "proc.pcmdline startswith bash",
    "proc.cwd startswith /home",
    "proc.sname=bash",
    "proc.tty!=0",
    "proc.env contains HOME",
    "thread.tid exists",
    "thread.tid=1500",
    # fd.*
    "fd.name=/etc/ld.so.cache",
    "fd.name startswith /lib",
    "fd.name endswith .so.6",
    "fd.name glob /lib/*",
    "fd.name pmatch (/usr/lib, /tmp)",
    "fd.name icontains LIBC",
    "fd.name exists",
    "fd.directory=/etc",
    "fd.filename=libc.so.6",
    "fd.filename in (passwd, shadow, hosts)",
    "fd.typechar=f",
    "fd.typechar=p",
    "fd.type=ipv4",
    "fd.type=unix",
    "fd.num=3",
    "fd.num>2",
    "fd.l4proto=tcp",
    "fd.l4proto=udp",
    "fd.sockfamily=ip",
    "fd.is_server=true",
    "fd.sip=127.0.0.1",
    "fd.sip=10.0.0.5",
    "fd.sport=80",
    "fd.sport=8080",
    "fd.cip exists",
    "fd.cport>1024",
    "fd.cport>=1024",
    "fd.lip=192.168.1.10",
    "fd.lport>0",
    "fd.rip=192.168.1.77",
    "fd.rport in (53, 80, 443)",
    "fd.net=127.0.0.0/8",
    "fd.snet=10.0.0.0/8",
    "fd.cnet=192.168.0.0/16",
    "fd.ip=127.0.0.1",
    "fd.port=80",
    # user.* / group.*
    "user.name=root",
    "user.name=alice",
    "user.uid=0",
    "user.name exists",
    "user.loginname=alice",
    "group.gid=0",
    "group.name=alice",
]

_FAKE_PID = ("oracle's fake threads for tids missing from the process list have pid = tid "
             "(2022); current libs use pid = ptid = -1 (spec/scap.md §7.1)")
_SEND_CREATES_FD = ("current libs create a UDP socket fd when send* on an unknown fd carries an "
                    "inet tuple (spec/scap.md §7.4); the oracle does not")
_SOCKET_L4 = ("current libs derive fd.l4proto at socket() from type/proto (spec/scap.md §7.4); "
              "the oracle learns it at connect/accept")
_READ_CATEGORY = ("the oracle names reads of files 'unknown' although their fd info exists; "
                  "current libs' get_category uses the fd's subcategory ('file')")

_EXECVE_VTID = ("current libs set vtid/vpid = tid/pid when execve completes a fake thread "
                "outside pid namespaces (spec/scap.md §7.4); the oracle leaves them unset")
_PL_V9_TAIL = ("the oracle reads the process list's V9 tail in the pre-0.10 layout, so the "
               "loginuid our writer stores (current layout, spec/scap.md §2.5) is lost for "
               "threads it has not seen exec")
_GENERIC_CATEGORY = ("version difference: the oracle's 2022 libs took the category of a generic "
                     "syscall (arch_prctl...) from its static syscall_info_table (process); "
                     "current libs' sinsp_evt::get_category always reads the event table, where "
                     "generic events are EC_OTHER: 'other', as pyfalco")

_UNSPECIFIED_LOCAL = (_SEND_CREATES_FD + "; its tuple is 0.0.0.0:1->128.32.41.1:0 and the "
                      "unspecified address is never the remote end here (decided, README: "
                      "gVisor's unknown local end), so fd.lport is 1 where current libs, "
                      "taking 128.32.41.1:0 as local, would say 0")

KNOWN_DIFFERENCES: dict[tuple[str, str], str] = {
    ("cat_write", "thread.vtid exists"): _EXECVE_VTID,
    ("rewritten-cat_write", "thread.vtid exists"): _EXECVE_VTID,
    ("sample", "user.loginname=alice"): _PL_V9_TAIL,
    ("cat_write", "evt.category=process"): _GENERIC_CATEGORY,
    ("rewritten-cat_write", "evt.category=process"): _GENERIC_CATEGORY,
    ("connect_localhost", "proc.pid>1000"): _FAKE_PID,
    ("connect_localhost", "proc.ppid exists"): _FAKE_PID,
    ("syscall", "proc.pid>1000"): _FAKE_PID,
    ("syscall", "proc.ppid exists"): _FAKE_PID,
    ("ping_sendto", "proc.ppid exists"): _FAKE_PID,
    ("rewritten-connect_localhost", "proc.pid>1000"): _FAKE_PID,
    ("rewritten-connect_localhost", "proc.ppid exists"): _FAKE_PID,
    **{("ping_sendto", f): _SEND_CREATES_FD for f in (
        "fd.type=ipv4", "fd.l4proto=udp", "fd.cip exists", "fd.sockfamily=ip",
        "evt.category=net")},
    ("ping_sendto", "fd.lport>0"): _UNSPECIFIED_LOCAL,
    ("connect_localhost", "fd.l4proto=tcp"): _SOCKET_L4,
    ("rewritten-connect_localhost", "fd.l4proto=tcp"): _SOCKET_L4,
    ("sample", "fd.l4proto=tcp"): _SOCKET_L4,
    ("sample", "fd.l4proto=udp"): _SOCKET_L4,
    ("cat_write", "evt.category=file"): _READ_CATEGORY,
    ("rewritten-cat_write", "evt.category=file"): _READ_CATEGORY,
    ("sample", "evt.category=file"): _READ_CATEGORY,
}


def _rewrite(src, dst) -> None:
    """Re-encode a capture with the writer's producer path: header from the state, then each
    visible exit event with its enter (write_event)."""
    st = SyscallState()
    reader = ScapReader(src, st)
    merger = EnterMerger()
    with ScapWriter(dst, compress=True) as w:
        w.write_header(st, hostname=str(reader.machine.get("hostname", "")))
        for evt in reader.events():
            if merger.feed(evt) == 1:
                w.write_event(evt)


@pytest.fixture(scope="module")
def captures(trace_files, tmp_path_factory):
    d = tmp_path_factory.mktemp("written")
    caps = dict(trace_files)
    sample = d / "sample.scap"
    write_sample_capture(sample)
    caps["sample"] = sample
    for name in ("cat_write", "connect_localhost"):
        out = d / f"rewritten-{name}.scap.gz"
        _rewrite(trace_files[name], out)
        caps[f"rewritten-{name}"] = out
    return caps


def test_filter_list_is_large_enough():
    assert len(FILTERS) >= 40 and len(set(FILTERS)) == len(FILTERS)


@pytest.mark.sysdig
@pytest.mark.slow
def test_sysdig_agrees(captures):
    failures = []
    matched_somewhere = set()
    for name, path in sorted(captures.items()):
        ours = replay_matches(path, FILTERS, SyscallState())
        for i, flt in enumerate(FILTERS):
            oracle = sysdig_matches(path, flt)
            mine = ours[i]
            if oracle or mine:
                matched_somewhere.add(flt)
            if (name, flt) in KNOWN_DIFFERENCES:
                continue
            if oracle != mine:
                failures.append(f"{name}: {flt!r}: only sysdig {sorted(oracle - mine)[:3]}, "
                                f"only pyfalco {sorted(mine - oracle)[:3]}")
    assert not failures, "\n".join(failures)
    # every filter matched some event in some capture: the comparison is not vacuous
    assert set(FILTERS) - matched_somewhere == set()
