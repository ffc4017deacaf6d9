"""Mapping of gVisor messages onto syscall events, including each Falco mapping bug fixed."""

from __future__ import annotations

import os

from gvisor_testlib import CID, ctx, exit_, payload
from pyfalco_gvisor import convert
from pyfalco_gvisor.mapping import MAPPERS, is_enter
from pyfalco_gvisor.proto import Handshake  # noqa: F401  (schema loads)

BASE = 7 << 32
Cred = __import__("pyfalco_gvisor.proto", fromlist=["x"]).message_class("gvisor.common.Credentials")


def one(mtype, msg):
    events = MAPPERS[mtype](msg, BASE, CID)
    assert len(events) == 1
    return events[0]


def test_fork_is_reported_as_fork_and_vfork_as_vfork():
    # Falco bug: a missing break turned every fork (57) into vfork.
    fork = one(29, payload(29, context_data=ctx(tid=2, process_name="sh"), exit=exit_(5),
                           sysno=57))
    vfork = one(29, payload(29, context_data=ctx(tid=2), exit=exit_(6), sysno=58))
    assert fork.type == "fork" and vfork.type == "vfork"
    assert fork.params["res"] == BASE | 5  # the child's tid, qualified like every tid
    assert vfork.params["flags"] & (1 << 27)


def test_accept_fd_is_the_new_socket_not_the_listening_one():
    # Falco bug: it reported Accept.fd (the listening socket).
    addr = b"\x02\x00\x1f\x90" + bytes([10, 0, 0, 7]) + b"\0" * 8
    ev = one(25, payload(25, context_data=ctx(), exit=exit_(9), sysno=288, fd=3, address=addr,
                         flags=os.O_CLOEXEC))
    assert ev.type == "accept4"
    assert ev.params["fd"] == 9
    # peer -> local orientation, port in host order
    assert ev.params["tuple"] == (2, bytes([10, 0, 0, 7]), 8080, b"\0" * 4, 0)


def test_open_mode_and_flags_are_in_their_own_parameters():
    # Falco bug: mode and flags swapped in open-E and openat-X.
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    ev = one(7, payload(7, context_data=ctx(), exit=exit_(3), sysno=257, fd=-100,
                        pathname="/etc/x", flags=flags, mode=0o640))
    assert ev.type == "openat"
    assert ev.params["mode"] == 0o640
    assert ev.params["flags"] == convert.open_flags(flags) == (1 << 1) | (1 << 2) | (1 << 8)
    assert (ev.params["fd"], ev.params["dirfd"], ev.params["name"]) == (3, -100, "/etc/x")
    ev = one(7, payload(7, context_data=ctx(), exit=exit_(4), sysno=2, pathname="/a",
                        flags=os.O_RDONLY, mode=0o600))
    assert ev.type == "open" and ev.params["mode"] == 0o600 and ev.params["flags"] == 1


def test_execve_uid_gid_come_from_the_credentials():
    # Falco bug: execve uid/gid hard-coded to 0.
    c = ctx(tid=4, tgid=4, cwd="/home/u", credentials=Cred(effective_uid=1000, effective_gid=100))
    ev = one(11, payload(11, context_data=c, exit=exit_(0), sysno=59, pathname="/bin/cat",
                         argv=["cat", "/etc/shadow"], envv=["A=1"]))
    assert ev.type == "execve"
    assert (ev.params["uid"], ev.params["gid"]) == (1000, 100)
    assert ev.params["exe"] == "cat" and ev.params["comm"] == "cat"
    assert ev.params["args"] == b"/etc/shadow\0"
    assert ev.params["env"] == b"A=1\0"
    assert ev.params["trusted_exepath"] == "/bin/cat"
    assert ev.tid == BASE | 4 and ev.params["pid"] == BASE | 4
    assert ev.container_id == CID


def test_relative_execve_path_is_resolved_against_cwd():
    ev = one(11, payload(11, context_data=ctx(cwd="/opt"), exit=exit_(0), sysno=59,
                         pathname="bin/tool", argv=["tool"]))
    assert ev.params["trusted_exepath"] == "/opt/bin/tool" and ev.params["comm"] == "tool"


def test_inotify_init1_flags_are_decoded_with_their_own_schema():
    # Falco bug: decoded with the Eventfd schema, flags always 0.
    ev = one(30, payload(30, context_data=ctx(), exit=exit_(5), sysno=294, flags=0o2004000))
    assert ev.type == "inotify_init1" and ev.params["flags"] == 0o2004000


def test_failures_give_a_negative_errno_result():
    # gVisor reports result 0 + errorno; Falco surfaced that as res 0 (success).
    ev = one(7, payload(7, context_data=ctx(), exit=exit_(0, errorno=2), sysno=257,
                        pathname="/nope", fd=-100))
    assert ev.params["fd"] == -2
    ev = one(10, payload(10, context_data=ctx(), exit=exit_(0, 111), sysno=42, fd=3,
                         address=b"\x02\x00\x00\x09\x7f\x00\x00\x01" + b"\0" * 8))
    assert ev.params["res"] == -111
    assert ev.params["addr"] == (2, b"\x7f\x00\x00\x01", 9)
    assert ev.params["tuple"] == (2, b"\0" * 4, 0, b"\x7f\x00\x00\x01", 9)


def test_unix_connect_address():
    ev = one(10, payload(10, context_data=ctx(), exit=exit_(0), sysno=42, fd=3,
                         address=b"\x01\x00/run/x.sock\x00"))
    assert ev.params["addr"] == (1, "/run/x.sock")
    assert ev.params["tuple"] == (1, 0, 0, "/run/x.sock")
    ev = one(10, payload(10, context_data=ctx(), exit=exit_(0), sysno=42, fd=3,
                         address=b"\x11\x00abc"))  # AF_PACKET: no scap encoding
    assert ev.params["addr"] is None and ev.params["tuple"] is None


def test_container_start_is_a_clone_then_an_execve_of_init():
    start = payload(1, context_data=ctx(tid=1), id=CID, cwd="/srv", args=["/bin/sh", "-c", "x"],
                    env=["E=1"])
    clone, execve = MAPPERS[1](start, BASE, "")
    assert (clone.type, execve.type) == ("clone", "execve")
    assert clone.tid == execve.tid == BASE | 1
    assert clone.params["res"] == 0 and clone.params["vpid"] == 1
    assert execve.params["cwd"] == "/srv" and execve.params["args"] == b"-c\0x\0"
    assert execve.container_id == CID
    assert execve.params["cgroups"] == f"gvisor_container_id=/{CID}".encode() + b"\0"


def test_sentry_clone_is_the_child_side():
    ev = one(2, payload(2, context_data=ctx(tid=3, process_name="sh", cwd="/"),
                        created_thread_id=9, created_thread_group_id=9, flags=0x4100))
    assert ev.tid == BASE | 9 and ev.params["ptid"] == BASE | 3
    assert ev.params["res"] == 0 and ev.params["vtid"] == 9
    assert ev.params["flags"] == convert.clone_flags(0x4100)  # CLONE_VM | CLONE_VFORK
    assert ev.params["flags"] & (1 << 27) and ev.params["flags"] & (1 << 15)


def test_task_exit_is_procexit_with_wait_status_decoded():
    ev = one(5, payload(5, context_data=ctx(tid=2), exit_status=768))
    assert ev.type == "procexit" and ev.dir == ">"
    assert (ev.params["ret"], ev.params["sig"], ev.params["core"]) == (3, 0, 0)
    ev = one(5, payload(5, context_data=ctx(tid=2), exit_status=9 | 0x80))
    assert (ev.params["ret"], ev.params["sig"], ev.params["core"]) == (0, 9, 1)


def test_raw_mmap_fd_is_sign_extended():
    ev = one(6, payload(6, context_data=ctx(), exit=exit_(0x7F0000), sysno=9, arg1=0, arg2=4096,
                        arg3=3, arg4=0x22, arg5=4294967295, arg6=0))
    assert ev.type == "mmap" and ev.params["fd"] == -1
    assert MAPPERS[6](payload(6, context_data=ctx(), exit=exit_(), sysno=60), BASE, CID) == []


def test_every_mapper_handles_a_default_message():
    # proto3 elides defaults: a message with only context + exit must map or be ignored cleanly.
    for mtype, mapper in MAPPERS.items():
        cls = __import__("pyfalco_gvisor.proto", fromlist=["x"]).PAYLOAD_CLASSES[mtype]
        fields = {"context_data": ctx()}
        if "exit" in cls.DESCRIPTOR.fields_by_name:
            fields["exit"] = exit_()
        mapper(cls(**fields), BASE, CID)


def test_is_enter_reads_the_exit_field_presence():
    enter = payload(7, context_data=ctx(), sysno=257, pathname="/x").SerializeToString()
    exit_msg = payload(7, context_data=ctx(), exit=exit_(), sysno=257).SerializeToString()
    assert is_enter(enter) and not is_enter(exit_msg)
    assert not is_enter(payload(7, exit=exit_()).SerializeToString() or b"\x12\x00")
    assert is_enter(b"")
