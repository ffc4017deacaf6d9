"""Unit tests of the driver's user-space parts (no kernel needed)."""

from __future__ import annotations

import logging

import pytest
from pyfalco.errors import ConfigError
from pyfalco_syscall.ebpf import flags as fl
from pyfalco_syscall.ebpf import interesting
from pyfalco_syscall.ebpf.decode import Record, decode_batch
from pyfalco_syscall.ebpf.drops import DROP_RULE, DropExit, DropManager, DropsConfig
from pyfalco_syscall.ebpf.events import build
from pyfalco_syscall.ebpf.program import (
    CLS_EXEC,
    CLS_PLAIN,
    CLS_SOCKADDR,
    CLS_STR1,
    HDR,
    KIND_PROCEXIT,
    KIND_SYSCALL_EXIT,
    SOCK_TAIL,
    SOCKADDR_SZ,
    STR_SZ,
)
from pyfalco_syscall.ebpf.source import EbpfConfig
from pyfalco_syscall.ebpf.syscall_table import SYSCALL_NRS

S = 10**9


def _hdr(nr, cls, ret=0, kind=KIND_SYSCALL_EXIT, args=(0,) * 6, len1=0, len2=0, aux1=0,
         comm=b"cat"):
    return HDR.pack(1000, 42, 41, 0, 0, ret, nr, kind, cls, 1, comm, *args, len1, len2, aux1, 0)


# -- decoding -------------------------------------------------------------------------------

def test_decode_path_record_and_boot_offset():
    path = b"/etc/shadow\0"
    raw = _hdr(SYSCALL_NRS["openat"], CLS_STR1, ret=3, args=(0xFFFFFF9C, 0, 0, 0, 0, 0),
               len1=len(path)) + path.ljust(STR_SZ * 2, b"\0")
    (rec,), bad = decode_batch([raw], 5 * S)
    assert bad == 0
    assert (rec.syscall, rec.s1, rec.ret, rec.comm, rec.ts) == ("openat", "/etc/shadow", 3,
                                                                "cat", 5 * S + 1000)


def test_decode_exec_and_sockaddr_and_procexit():
    argv = b"sh\0-c\0id\0"
    fname = b"/bin/sh\0"
    exe = (_hdr(SYSCALL_NRS["execve"], CLS_EXEC, len1=len(fname), len2=len(argv))
           + fname.ljust(STR_SZ, b"\0") + argv.ljust(1024, b"\0"))
    sa = b"\x02\x00\x00\x50" + bytes([10, 0, 0, 1]) + b"\0" * 8
    sock = (_hdr(SYSCALL_NRS["connect"], CLS_SOCKADDR, ret=-115, args=(3, 0, 0, 0, 0, 0),
                 len1=16) + SOCK_TAIL.pack(sa.ljust(SOCKADDR_SZ, b"\0"), 0, 0, 0, 0, 0, 0, 0))
    pe = _hdr(0, CLS_PLAIN, kind=KIND_PROCEXIT)
    recs, bad = decode_batch([exe, sock, pe], 0)
    assert bad == 0
    assert recs[0].s1 == "/bin/sh" and recs[0].argv == b"sh\0-c\0id"
    assert recs[1].sockaddr == sa
    assert recs[2].kind == KIND_PROCEXIT and recs[2].syscall == ""


def test_decode_counts_malformed_records():
    short = b"\0" * 10
    truncated = _hdr(SYSCALL_NRS["openat"], CLS_STR1, len1=5)  # no string area
    recs, bad = decode_batch([short, truncated], 0)
    assert recs == [] and bad == 2


# -- building events -------------------------------------------------------------------------

def _rec(syscall, **kw):
    base = dict(kind=KIND_SYSCALL_EXIT, ts=1, tid=10, pid=10, uid=0, gid=0, ret=0,
                syscall=syscall, cpu=0, comm="x", args=(0,) * 6)
    base.update(kw)
    return Record(**base)


def test_build_openat_converts_flags_and_dirfd():
    import os

    ev = build(_rec("openat", ret=3, s1="/etc/passwd",
                    args=(0xFFFFFF9C, 0, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644, 0, 0)))
    assert ev.name == "openat"
    p = ev.params
    assert p["fd"] == 3 and p["dirfd"] == -100 and p["name"] == "/etc/passwd"
    assert p["flags"] == fl.PPM_O_WRONLY | (1 << 2) | fl.PPM_O_CLOEXEC
    assert p["mode"] == 0o644


def test_build_connect_tuple_from_sockaddr(monkeypatch):
    from pyfalco_syscall.ebpf import events

    monkeypatch.setattr(events, "local_address", lambda pid, fd: ("10.0.0.2", 5555))
    sa = b"\x02\x00\x00\x50" + bytes([1, 2, 3, 4]) + b"\0" * 8
    ev = build(_rec("connect", ret=0, args=(7, 0, 16, 0, 0, 0), sockaddr=sa))
    assert ev.params["addr"] == (2, bytes([1, 2, 3, 4]), 80)
    assert ev.params["tuple"] == (2, bytes([10, 0, 0, 2]), 5555, bytes([1, 2, 3, 4]), 80)
    assert ev.params["fd"] == 7


def test_build_clone_child_and_vfork_flags():
    child = build(_rec("clone", ret=0, ptid=5, args=(0x11 | 0x01000000 | 0x00200000, 0, 0, 0,
                                                       0, 0)))
    assert child.params["ptid"] == 5
    assert child.params["flags"] == (1 << 24) | (1 << 23)
    vf = build(_rec("vfork", ret=99))
    assert vf.params["flags"] == (1 << 27) | (1 << 15)


def test_build_generic_and_procexit():
    g = build(_rec("getpid"))
    assert g.generic and g.name == "getpid"
    pe = build(_rec("", kind=KIND_PROCEXIT))
    assert pe.name == "procexit"


def test_sockaddr_families():
    assert fl.sockaddr_parts(b"\x01\x00/run/x.sock\0\0") == (1, b"", 0, "/run/x.sock")
    assert fl.sockaddr_parts(b"\x01\x00\0abstract\0") == (1, b"", 0, "@abstract")
    v6 = b"\x0a\x00\x01\xbb" + b"\0" * 4 + bytes(range(16)) + b"\0" * 4
    assert fl.sockaddr_parts(v6) == (10, bytes(range(16)), 443, "")
    assert fl.sockaddr_parts(b"\x10\x00" + b"\0" * 10) is None  # netlink: not encoded
    assert fl.sockaddr_parts(b"") is None


# -- interesting sets ---------------------------------------------------------------------

def test_selection_is_rules_plus_state_minus_io():
    sel = interesting.select({"open", "openat", "read", "mkdir"},
                             interesting.BaseSyscalls())
    assert {"open", "openat", "mkdir", "execve", "clone", "close", "procexit"} <= sel.events
    assert "read" not in sel.events and "read" in sel.unsupported
    assert any("unsupported-evttype): read" in w for w in sel.warnings)


def test_selection_all_and_custom_set_and_negatives():
    sel = interesting.select({"read"}, interesting.BaseSyscalls(all=True))
    assert "read" in sel.events and not sel.unsupported
    sel = interesting.select({"openat"}, interesting.BaseSyscalls(
        custom_set=["clone", "execve", "!openat", "bogus", "!nope"]))
    assert sel.events == {"clone", "execve", "procexit"}
    assert any("Invalid (positive) syscall names" in w and "bogus" in w for w in sel.warnings)
    assert any("Invalid (negative) syscall names" in w and "nope" in w for w in sel.warnings)


def test_selection_repair():
    sel = interesting.select({"connect"}, interesting.BaseSyscalls(repair=True))
    assert {"connect", "socket", "close", "execve", "procexit"} <= sel.events
    assert "openat" not in sel.events


def test_selection_without_rule_types_selects_everything_but_io():
    sel = interesting.select(None, interesting.BaseSyscalls())
    assert "getpid" in sel.events and "write" not in sel.events


def test_base_syscalls_bad_config():
    with pytest.raises(ValueError, match="custom_set"):
        interesting.BaseSyscalls.from_config({"base_syscalls": {"custom_set": "open"}})


# -- engine config ----------------------------------------------------------------------------

def test_engine_config_presets_and_errors():
    assert EbpfConfig.from_section({}).buffer_bytes == 8 << 20
    assert EbpfConfig.from_section({"buf_size_preset": 1}).buffer_bytes == 1 << 20
    with pytest.raises(ConfigError, match="between '1' and '10'"):
        EbpfConfig.from_section({"buf_size_preset": 11})
    with pytest.raises(ConfigError, match="engine.ebpf"):
        EbpfConfig.from_section({"buf_size_preset": "lots"})


# -- drops -------------------------------------------------------------------------------------

def _counters(evts, drops):
    return {"n_evts": evts, "n_drops": drops, "n_drops_buffer_total": drops,
            "n_drops_buffer_open_exit": drops}


def test_drop_alert_once_per_bucket_token(caplog):
    alerts = []
    dm = DropManager(DropsConfig(), lambda msg, prio, fields, rule: alerts.append(
        (msg, prio, fields, rule)))
    dm.check(1 * S, _counters(0, 0))
    dm.check(2 * S, _counters(100, 50))  # 50% > 10%: actions
    caplog.set_level(logging.DEBUG, logger="pyfalco.syscall.ebpf")
    dm.check(3 * S, _counters(200, 100))  # bucket empty (1 token / 30 s)
    assert len(alerts) == 1
    msg, prio, fields, rule = alerts[0]
    assert msg == "Falco internal: syscall event drop. 50 system calls dropped in last second."
    assert rule == DROP_RULE and prio.name == "DEBUG"
    assert fields["n_drops"] == "50" and fields["n_evts"] == "100"
    assert fields["ebpf_enabled"] == "1"
    assert all(isinstance(v, str) for v in fields.values())
    assert "token bucket depleted" in caplog.text
    dm.check(34 * S, _counters(300, 150))  # 31 s later: a token again
    assert len(alerts) == 2


def test_drops_below_threshold_and_within_a_second_do_nothing():
    alerts = []
    dm = DropManager(DropsConfig(), lambda *a: alerts.append(a))
    dm.check(1 * S, _counters(0, 0))
    dm.check(int(1.5 * S), _counters(100, 90))  # not a second yet
    dm.check(3 * S, _counters(10_000, 95))  # 95/10000 < 10%
    assert alerts == []


def test_drop_exit_action():
    dm = DropManager(DropsConfig(actions=("exit",)))
    dm.check(1 * S, _counters(0, 0))
    with pytest.raises(DropExit, match="Drop manager internal error"):
        dm.check(2 * S, _counters(10, 10))


def test_drops_config_validation_and_simulation():
    cfg = DropsConfig.from_config({"syscall_event_drops": {"actions": ["ignore"]}})
    assert cfg.actions == ()
    with pytest.raises(ConfigError, match="invalid syscall event drop action bogus"):
        DropsConfig.from_config({"syscall_event_drops": {"actions": ["bogus"]}})
    with pytest.raises(ConfigError, match="threshold"):
        DropsConfig.from_config({"syscall_event_drops": {"threshold": 2}})
    sim = DropsConfig.from_config({"syscall_event_drops": {"simulate_drops": True,
                                                           "actions": ["alert"]}})
    alerts = []
    dm = DropManager(sim, lambda *a: alerts.append(a))
    dm.check(1 * S, _counters(0, 0))
    dm.check(2 * S, _counters(1000, 0))
    assert len(alerts) == 1


# -- the fused hot path ------------------------------------------------------------------------

def test_fused_decoding_equals_the_general_path():
    """BatchDecoder's direct open/openat/close decoding gives the events of decode -> build ->
    event, in ring order, interleaved with records that take the general path; malformed records
    are counted, not lost silently."""
    from pyfalco_syscall.ebpf.batch import BatchDecoder
    from pyfalco_syscall.ebpf.model import event_factory

    path = b"/etc/shadow\0"
    argv, fname = b"cat\0/etc/shadow\0", b"/bin/cat\0"
    raws = [
        _hdr(SYSCALL_NRS["openat"], CLS_STR1, ret=3, args=(0xFFFFFF9C, 0, 0o2101, 0o640, 0, 0),
             len1=len(path)) + path.ljust(STR_SZ, b"\0"),
        _hdr(SYSCALL_NRS["open"], CLS_STR1, ret=-2, args=(0, 0o100, 0o4755, 0, 0, 0),
             len1=len(path)) + path.ljust(STR_SZ, b"\0"),
        _hdr(SYSCALL_NRS["openat"], CLS_STR1, ret=-14, args=(5, 0, 0, 0, 0, 0), len1=0),
        _hdr(SYSCALL_NRS["execve"], CLS_EXEC, ret=-2, len1=len(fname), len2=len(argv))
        + fname.ljust(STR_SZ, b"\0") + argv.ljust(1024, b"\0"),
        _hdr(SYSCALL_NRS["close"], CLS_PLAIN, ret=0, args=(0xFFFFFFFF, 0, 0, 0, 0, 0)),
        _hdr(SYSCALL_NRS["close"], CLS_PLAIN, ret=-9, args=(7, 0, 0, 0, 0, 0)),
        _hdr(0, CLS_PLAIN, kind=KIND_PROCEXIT),
        b"\0" * 10,  # malformed
        _hdr(SYSCALL_NRS["openat"], CLS_STR1, len1=5),  # string area missing: malformed
    ]
    make = event_factory()
    recs, bad = decode_batch(raws, 7 * S)
    expected = [make(build(r)) for r in recs]
    got, fused_bad, unbuildable = BatchDecoder(7 * S, make).decode(raws)
    assert (fused_bad, unbuildable, bad) == (2, 0, 2)
    assert [(e.type, e.ts, e.tid, e.cpu, e._vals) for e in got] == [
        (e.type, e.ts, e.tid, e.cpu, e._vals) for e in expected]
    assert [e.type for e in got] == ["openat", "open", "openat", "execve", "close", "close",
                                     "procexit"]
    assert got[0]._vals["dirfd"] == -100 and got[4]._vals["fd"] == -1
