"""Test and tool helpers: replay a capture and extract fields in lockstep with the state parser
(as the engine does: each event is evaluated right after it is parsed)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pyfalco_syscall.fields import FIELDS_BY_NAME
from pyfalco_syscall.replay import ReplayInstance
from pyfalco_syscall.state import SyscallState, default_state

#: The few core base fields tests compare (the core's rules package defines the real ones).
_BASE = {
    "evt.type": lambda e: e.type, "evt.num": lambda e: e.num, "evt.rawtime": lambda e: e.ts,
    "evt.source": lambda e: e.source,
}


class _Base:
    def __init__(self, fn: Any) -> None:
        self.fn = fn

    def binder(self, arg: Any = None) -> Any:
        return self.fn


def parse_field_ref(ref: str) -> tuple[Any, Any]:
    """``proc.aname[2]`` / ``evt.arg.flags`` -> (FieldSpec, arg)."""
    if ref in _BASE:
        return _Base(_BASE[ref]), None
    arg: Any = None
    name = ref
    if ref.endswith("]") and "[" in ref:
        name, _, a = ref[:-1].partition("[")
        arg = int(a) if a.isdigit() else a
    spec = FIELDS_BY_NAME.get(name)
    if spec is None:
        head = name
        while "." in head:
            head, _, _ = head.rpartition(".")
            if head in FIELDS_BY_NAME and FIELDS_BY_NAME[head].arg is not None:
                spec = FIELDS_BY_NAME[head]
                arg = name[len(head) + 1:]
                break
    if spec is None:
        raise KeyError(ref)
    return spec, arg


def replay_rows(path: str | Path, refs: Iterable[str],
                state: SyscallState | None = None) -> list[dict[str, Any]]:
    """One dict per visible event: the requested fields plus ``_evt``."""
    st = state or default_state()
    inst = ReplayInstance(path, st)
    bound = [(r, parse_field_ref(r)) for r in refs]
    bound = [(r, spec.binder(arg)) for r, (spec, arg) in bound]
    rows = []
    while (batch := inst.next_batch()) is not None:
        for evt in batch:
            st.parse(evt)
            row = {"_evt": evt}
            for r, fn in bound:
                row[r] = fn(evt)
            rows.append(row)
    return rows


def compile_filters(filters: Iterable[str]) -> Any:
    """A ``SourceEvaluator`` (rule_matching="all") with one rule per filter, named ``f<i>``, over
    the syscall plugin's fields and the core's base fields (through the real rules engine)."""
    import json

    from pyfalco.plugins import collect, get_plugin_manager
    from pyfalco.rules import FieldCatalog, RulesContent, RulesEngine

    from . import plugin

    pm, failures = get_plugin_manager(autoload=False, plugins=[plugin])
    registry = collect(pm, failures)
    catalog = FieldCatalog.from_registry(registry)
    engine = RulesEngine(catalog, loaded_sources=["syscall"],
                         plugin_versions={"syscall": registry.plugins["syscall"].required_version})
    docs = []
    for i, flt in enumerate(filters):
        docs.append(f"- rule: f{i}\n  desc: filter {i}\n  condition: {json.dumps(flt)}\n"
                    f"  output: f{i}\n  priority: INFO\n")
    result = engine.load([RulesContent(name="filters.yaml", text="".join(docs))])
    if not result.ok:
        raise ValueError(result.as_text(verbose=True))
    return engine.evaluator("syscall", rule_matching="all")


def replay_matches(path: str | Path, filters: list[str], state: SyscallState | None = None,
                   oracle_event_max: int = 336) -> dict[int, set[tuple[int, int, str]]]:
    """For each filter index, the (ts, tid, type) of the visible exit events it matches (event
    ids below ``oracle_event_max``: sysdig 0.29.3 skips newer types)."""
    ev = compile_filters(filters)
    st = state or default_state()
    inst = ReplayInstance(path, st)
    out: dict[int, set[tuple[int, int, str]]] = {i: set() for i in range(len(filters))}
    while (batch := inst.next_batch()) is not None:
        for evt in batch:
            st.parse(evt)
            matches = ev.process(evt)
            if evt.info.dir != "<" or evt.etype >= oracle_event_max:
                continue  # compared with the oracle on the exit events it knows
            for m in matches:
                out[int(m.rule.name[1:])].add((evt.ts, evt.tid, evt.type))
    return out


def sysdig_matches(path: str | Path, flt: str) -> set[tuple[int, int, str]]:
    """(ts, tid, type) of the exit events Debian's sysdig matches with ``flt`` (the oracle)."""
    import subprocess

    proc = subprocess.run(
        ["sysdig", "-r", str(path), f"evt.dir=< and ({flt})", "-p",
         "*%evt.rawtime %thread.tid %evt.type"],
        capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"sysdig failed on {path} with {flt!r}: {proc.stderr.strip()}")
    out = set()
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0].isdigit():
            out.add((int(parts[0]), int(parts[1]), parts[2]))
    return out


def _ip4(s: str) -> bytes:
    return bytes(int(x) for x in s.split("."))


def sample_events(base_ts: int = 1_700_000_000_000_000_000) -> tuple[SyscallState, list]:
    """A small host story built the way a live producer builds events (typed parameters by name,
    exit events only): sshd -> bash forks and execs cat, nc, python; files are opened relative and
    absolute, a TCP client connects out, a server accepts, UDP datagrams go out, files are renamed,
    unlinked and chmod'ed, a process setuids and changes directory. Used to test the writer
    against sysdig and to build benchmark captures."""
    from .events import SyscallEvent, event_id
    from .state import FD_FILE_V2, FdInfo, Interface, ThreadInfo

    st = SyscallState()
    st.hostname = "pyfalco-test"
    st.add_user(0, 0, "root", "/root", "/bin/bash")
    st.add_user(1000, 1000, "alice", "/home/alice", "/bin/bash")
    st.add_group(0, "root")
    st.add_group(1000, "alice")
    st.add_interface(Interface("lo", 2, _ip4("127.0.0.1"), _ip4("255.0.0.0")))
    st.add_interface(Interface("eth0", 2, _ip4("192.168.1.10"), _ip4("255.255.255.0")))
    init = ThreadInfo(1, 1, 0, comm="systemd", exe="/sbin/init", exepath="/sbin/init", cwd="/")
    sshd = ThreadInfo(500, 500, 1, comm="sshd", exe="/usr/sbin/sshd", exepath="/usr/sbin/sshd",
                      args=["-D"], cwd="/")
    bash = ThreadInfo(1200, 1200, 500, comm="bash", exe="-bash", exepath="/bin/bash",
                      cwd="/home/alice", uid=1000, gid=1000, loginuid=1000)
    for t in (init, sshd, bash):
        t.sid = t.vpgid = t.pid
        t.vtid, t.vpid = t.tid, t.pid
        st.add_thread(t)
    for fd in (0, 1, 2):
        st.add_fd(1200, FdInfo(fd, FD_FILE_V2, "/dev/pts/0", openflags=2))
    evs: list[SyscallEvent] = []
    ts = [base_ts]

    def ev(_name: str, _tid: int, **params: Any) -> SyscallEvent:
        ts[0] += 1000
        e = SyscallEvent(event_id(_name), ts=ts[0], tid=_tid, params=params)
        evs.append(e)
        return e

    def spawn(child: int, comm: str, exe: str, args: list[str], uid: int = 1000) -> None:
        argb = b"".join(a.encode() + b"\0" for a in args)
        ev("clone", 1200, res=child, exe="-bash", args=b"", tid=1200, pid=1200, ptid=500,
           cwd="/home/alice", fdlimit=1024, comm="bash", flags=0, uid=1000, gid=1000,
           vtid=1200, vpid=1200)
        ev("clone", child, res=0, exe="-bash", args=b"", tid=child, pid=child, ptid=1200,
           cwd="/home/alice", fdlimit=1024, comm="bash", flags=0, uid=1000, gid=1000,
           vtid=child, vpid=child)
        ev("execve", child, res=0, exe=exe.rsplit("/", 1)[-1], args=argb, tid=child, pid=child,
           ptid=1200, cwd="/home/alice", fdlimit=1024, comm=comm, env=b"HOME=/home/alice\0",
           tty=34816, loginuid=1000, uid=uid, filename=exe)

    spawn(1300, "cat", "/usr/bin/cat", ["notes.txt", "/etc/shadow"])
    ev("openat", 1300, fd=3, dirfd=-100, name="notes.txt", flags=1, mode=0, dev=0, ino=11)
    ev("read", 1300, res=5, data=b"hello", fd=3, size=4096)
    ev("close", 1300, res=0, fd=3)
    ev("openat", 1300, fd=-13, dirfd=-100, name="/etc/shadow", flags=1, mode=0)
    ev("open", 1300, fd=3, name="/etc/passwd", flags=1 | (1 << 12), mode=0, dev=0, ino=12)
    ev("fstat", 1300, res=0, fd=3)
    ev("write", 1300, res=5, data=b"root:", fd=1, size=5)
    ev("close", 1300, res=0, fd=3)
    spawn(1400, "nc", "/usr/bin/nc", ["10.0.0.5", "443"])
    ev("socket", 1400, fd=3, domain=2, type=1, proto=0)
    ev("connect", 1400, res=0, tuple=(2, _ip4("192.168.1.10"), 40001, _ip4("10.0.0.5"), 443),
       fd=3, addr=(2, _ip4("10.0.0.5"), 443))
    ev("sendto", 1400, res=4, data=b"ping", fd=3, size=4, tuple=None)
    ev("close", 1400, res=0, fd=3)
    ev("socket", 1400, fd=4, domain=2, type=2, proto=0)
    ev("connect", 1400, res=0, tuple=(2, _ip4("192.168.1.10"), 53001, _ip4("8.8.8.8"), 53),
       fd=4, addr=(2, _ip4("8.8.8.8"), 53))
    ev("sendto", 1400, res=10, data=b"0123456789", fd=4, size=10,
       tuple=(2, _ip4("192.168.1.10"), 53001, _ip4("8.8.8.8"), 53))
    spawn(1500, "python3", "/usr/bin/python3", ["-m", "http.server", "8080"])
    ev("socket", 1500, fd=3, domain=2, type=1, proto=6)
    ev("bind", 1500, res=0, addr=(2, _ip4("0.0.0.0"), 8080), fd=3)
    ev("listen", 1500, res=0, fd=3, backlog=5)
    ev("accept", 1500, fd=4, tuple=(2, _ip4("192.168.1.77"), 50123, _ip4("192.168.1.10"), 8080),
       queuepct=0, queuelen=0, queuemax=5)
    ev("recvfrom", 1500, res=3, data=b"GET", fd=4, size=1024, tuple=None)
    ev("close", 1500, res=0, fd=4)
    ev("chdir", 1500, res=0, path="/tmp")
    ev("openat", 1500, fd=5, dirfd=-100, name="out.log", flags=2 | 4 | (1 << 8), mode=0o644,
       dev=0, ino=21)
    ev("write", 1500, res=2, data=b"ok", fd=5, size=2)
    ev("renameat2", 1500, res=0, olddirfd=-100, oldpath="out.log", newdirfd=-100,
       newpath="/tmp/out.1", flags=0)
    ev("unlinkat", 1500, res=0, dirfd=-100, name="/tmp/out.1", flags=0)
    ev("fchmodat", 1500, res=0, dirfd=-100, filename="/tmp/run.sh", mode=0o4755)
    ev("setuid", 1500, res=0, uid=0)
    ev("openat", 1500, fd=6, dirfd=-100, name="/etc/hosts", flags=2, mode=0, dev=0, ino=31)
    ev("close", 1500, res=0, fd=6)
    ev("openat", 1500, fd=-2, dirfd=-100, name="/nonexistent", flags=1, mode=0)
    ev("dup2", 1500, res=1, oldfd=5, newfd=1)
    ev("write", 1500, res=3, data=b"dup", fd=1, size=3)
    ev("pipe", 1500, res=0, fd1=7, fd2=8, ino=999)
    ev("close", 1500, res=0, fd=7)
    evs = [e for e in evs if e is not None]
    return st, evs


def write_sample_capture(path: str | Path, *, compress: bool = False, repeat: int = 1) -> int:
    """Write :func:`sample_events` (``repeat`` times, timestamps shifted) with the project's
    writer; returns the number of events written (enters included)."""
    from .scap.writer import ScapWriter

    st, _ = sample_events()
    n = 0
    with ScapWriter(path, compress=compress) as w:
        w.write_header(st, num_cpus=2)
        for r in range(repeat):
            _, evs = sample_events(1_700_000_000_000_000_000 + r * 1_000_000_000)
            for e in evs:
                w.write_event(e)
        n = w.events_written
    return n


#: Rules of upstream falco_rules.yaml that :func:`detection_events` triggers, with the process
#: and fd (or argument) each one reports, and why the rule's condition holds.
EXPECTED_DETECTIONS: dict[str, tuple[str, str, str]] = {
    "Read sensitive file untrusted": (
        "cat", "/etc/shadow",
        "open_read of a sensitive file (/etc/shadow) by cat, which no exception list names"),
    "Run shell untrusted": (
        "sh", "", "a shell (sh) spawned by nginx, a protected shell spawner (http server)"),
    "Search Private Keys or Passwords": (
        "find", "", "find run with id_rsa in its arguments"),
    "Clear Log Activities": (
        "bash", "/var/log/auth.log", "open for writing with O_TRUNC of a log file in /var/log"),
    "Create Symlink Over Sensitive Files": (
        "ln", "", "symlinkat whose target is a sensitive file name (/etc/shadow)"),
    "Fileless execution via memfd_create": (
        "memfd:payload", "", "execve whose flags say the executable is a memfd"),
    "Execution from /dev/shm": (
        "payload", "", "a process spawned from an executable below /dev/shm/"),
    "Disallowed SSH Connection Non Standard Port": (
        "ssh", "192.168.1.10:41000->203.0.113.9:4444",
        "ssh connecting out over TCP to a public address on port 4444, one of "
        "ssh_non_standard_ports"),
    "Remove Bulk Data from Disk": ("shred", "", "shred, a data-clearing program, spawned"),
}


def detection_events(base_ts: int = 1_800_000_000_000_000_000) -> tuple[SyscallState, list]:
    """Events that upstream falco_rules.yaml detects (see :data:`EXPECTED_DETECTIONS`), on top of
    the :func:`sample_events` host."""
    from .events import SyscallEvent, event_id

    st, _ = sample_events()
    from .state import ThreadInfo

    nginx = ThreadInfo(600, 600, 1, comm="nginx", exe="nginx", exepath="/usr/sbin/nginx",
                       cwd="/")
    nginx.vtid, nginx.vpid = 600, 600
    st.add_thread(nginx)
    evs: list[SyscallEvent] = []
    ts = [base_ts]

    def ev(_name: str, _tid: int, **params: Any) -> SyscallEvent:
        ts[0] += 1000
        e = SyscallEvent(event_id(_name), ts=ts[0], tid=_tid, params=params)
        evs.append(e)
        return e

    def spawn(parent: int, pcomm: str, child: int, comm: str, exe: str, args: list[str],
              flags: int = 0, cwd: str = "/home/alice") -> None:
        argb = b"".join(a.encode() + b"\0" for a in args)
        ev("clone", parent, res=child, exe=pcomm, args=b"", tid=parent, pid=parent,
           ptid=1, cwd=cwd, fdlimit=1024, comm=pcomm, flags=0, uid=1000, gid=1000,
           vtid=parent, vpid=parent)
        ev("clone", child, res=0, exe=pcomm, args=b"", tid=child, pid=child, ptid=parent,
           cwd=cwd, fdlimit=1024, comm=pcomm, flags=0, uid=1000, gid=1000, vtid=child,
           vpid=child)
        ev("execve", child, res=0, exe=exe.rsplit("/", 1)[-1] if not exe.startswith("/dev")
           else exe, args=argb, tid=child, pid=child, ptid=parent, cwd=cwd, fdlimit=1024,
           comm=comm, env=b"HOME=/home/alice\0", tty=34816, loginuid=1000, uid=1000, gid=1000,
           flags=flags, filename=exe)

    spawn(1200, "bash", 2001, "cat", "/usr/bin/cat", ["/etc/shadow"])
    ev("openat", 2001, fd=3, dirfd=-100, name="/etc/shadow", flags=1, mode=0, dev=0, ino=5)
    spawn(600, "nginx", 2002, "sh", "/bin/sh", ["-c", "id"])
    spawn(1200, "bash", 2003, "find", "/usr/bin/find", ["/", "-name", "id_rsa"])
    ev("openat", 1200, fd=4, dirfd=-100, name="/var/log/auth.log", flags=2 | (1 << 8), mode=0,
       dev=0, ino=6)
    spawn(1200, "bash", 2004, "ln", "/usr/bin/ln", ["-s", "/etc/shadow", "x"])
    ev("symlinkat", 2004, res=0, target="/etc/shadow", linkdirfd=-100, linkpath="x")
    spawn(1200, "bash", 2005, "memfd:payload", "memfd:payload", [], flags=4)
    spawn(1200, "bash", 2006, "payload", "/dev/shm/payload", [])
    spawn(1200, "bash", 2007, "ssh", "/usr/bin/ssh", ["-p", "4444", "203.0.113.9"])
    ev("socket", 2007, fd=3, domain=2, type=1, proto=6)
    ev("connect", 2007, res=0,
       tuple=(2, _ip4("192.168.1.10"), 41000, _ip4("203.0.113.9"), 4444), fd=3,
       addr=(2, _ip4("203.0.113.9"), 4444))
    spawn(1200, "bash", 2008, "shred", "/usr/bin/shred", ["-u", "secrets.txt"])
    return st, evs


def write_detection_capture(path: str | Path, *, compress: bool = True) -> int:
    from .scap.writer import ScapWriter

    st, evs = detection_events()
    with ScapWriter(path, compress=compress) as w:
        w.write_header(st, num_cpus=2)
        for e in evs:
            w.write_event(e)
        return w.events_written
