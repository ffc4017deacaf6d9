"""The SEQPACKET listener and the engine instance against peers that misbehave.

The peer here is a plain socket speaking the wire protocol (a real sandbox is in
test_runsc.py); what is under test is the real listener, decoder and instance.
"""

from __future__ import annotations

import socket
import time

import pytest
from gvisor_testlib import ctx, exit_, payload, record
from pyfalco_gvisor import listener as listener_mod
from pyfalco_gvisor.engine import GvisorInstance
from pyfalco_gvisor.session import generate_config


class Peer:
    """A sandbox's side of a connection."""

    def __init__(self, path: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.sock.settimeout(5)
        self.sock.connect(path)

    def handshake(self, data: bytes = b"\x08\x01") -> bytes:
        self.sock.send(data)
        return self.sock.recv(100)

    def send(self, rec: bytes) -> None:
        self.sock.send(rec)

    def close(self) -> None:
        self.sock.close()


def wait_for(cond, timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError("condition not reached")
        time.sleep(0.01)


@pytest.fixture
def instance(tmp_path):
    cfg = tmp_path / "session.json"
    cfg.write_text(generate_config(str(tmp_path / "gvisor.sock")))
    inst = GvisorInstance(str(cfg), root="", attach=False)
    yield inst
    inst.close()


def drain(inst, n: int, timeout: float = 5.0) -> list:
    got: list = []
    end = time.monotonic() + timeout
    while len(got) < n and time.monotonic() < end:
        got.extend(inst.next_batch() or [])
    return got


def test_socket_is_replaced_and_removed(tmp_path):
    path = tmp_path / "s.sock"
    path.write_text("stale")
    lst = listener_mod.Listener(str(path), lambda batch: None)
    assert path.is_socket() and (path.stat().st_mode & 0o777) == 0o777
    lst.start()
    lst.stop()
    assert not path.exists()


def test_handshake_then_events(instance):
    peer = Peer(instance.socket_path)
    assert peer.handshake(b"\x08\x07") == b"\x08\x01"  # any version >= 1 is fine; we answer 1
    peer.send(record(7, payload(7, context_data=ctx(), exit=exit_(3), sysno=257,
                                pathname="/etc/shadow", fd=-100)))
    events = drain(instance, 1)
    assert [(e.type, e.params["name"]) for e in events] == [("openat", "/etc/shadow")]
    c = instance.counters()
    assert c["connections"] == 1 and c["connections_open"] == 1 and c["events"] == 1
    peer.close()
    wait_for(lambda: instance.counters()["connections_open"] == 0)
    assert instance.decoder.sandboxes.get(ctx().container_id) is None


@pytest.mark.parametrize(
    "handshake, why",
    [
        (b"", "empty handshake"),
        (b"\xff\xff\xff", "undecodable handshake"),
        (b"\x08\x00\x10", "undecodable handshake"),
    ],
)
def test_bad_handshake_is_rejected_and_others_keep_working(instance, caplog, handshake, why):
    good = Peer(instance.socket_path)
    assert good.handshake() == b"\x08\x01"
    bad = Peer(instance.socket_path)
    bad.sock.send(handshake)
    assert bad.sock.recv(100) == b""  # closed without an answer
    wait_for(lambda: instance.counters()["handshake_errors"] == 1)
    assert why in caplog.text
    good.send(record(5, payload(5, context_data=ctx(tid=4), exit_status=0)))
    assert [e.type for e in drain(instance, 1)] == ["procexit"]
    assert instance.counters()["connections"] == 1


def test_version_zero_handshake_field_is_rejected(instance, caplog):
    bad = Peer(instance.socket_path)
    bad.sock.send(b"\x08\x00")  # explicit version 0 on the wire
    assert bad.sock.recv(100) == b""
    assert "version 0 is below 1" in caplog.text


def test_garbage_after_handshake_is_counted_and_connections_independent(instance):
    a, b = Peer(instance.socket_path), Peer(instance.socket_path)
    a.handshake()
    b.handshake()
    a.send(b"garbage!garbage")  # header_size 0x6167 > record
    a.send(record(12345, b""))  # unknown type
    a.send(record(7, b"\x0a\xff"))  # truncated protobuf
    b.send(record(5, payload(5, context_data=ctx(cid="runsc-2", tid=2))))
    a.send(record(5, payload(5, context_data=ctx(cid="runsc-1", tid=1))))
    events = drain(instance, 2)
    assert sorted(e.container_id for e in events) == ["runsc-1", "runsc-2"]
    c = instance.counters()
    assert (c["bad_header"], c["unknown_type"], c["parse_errors"]) == (1, 1, 1)
    assert c["drops_bug"] == 3
    ids = {e.container_id: e.tid >> 32 for e in events}
    assert ids["runsc-1"] != ids["runsc-2"]  # two sandboxes, two thread-id spaces


def test_oversized_record_is_counted(tmp_path, monkeypatch):
    monkeypatch.setattr(listener_mod, "MAX_RECORD", 1024)
    got: list = []
    lst = listener_mod.Listener(str(tmp_path / "s.sock"), got.extend)
    lst.start()
    try:
        peer = Peer(lst.path)
        peer.handshake()
        peer.send(b"\x08\x00\x05\x00\x00\x00\x00\x00" + b"\x00" * 2000)
        peer.send(b"\x08\x00\x05\x00\x00\x00\x00\x00")
        wait_for(lambda: len(got) == 1)
        conn = got[0][0]
        assert conn.counters["truncated_records"] == 1
    finally:
        lst.stop()


def test_dropped_count_surfaces_in_counters(instance):
    peer = Peer(instance.socket_path)
    peer.handshake()
    msg = payload(5, context_data=ctx())
    peer.send(record(5, msg, dropped=0))
    peer.send(record(5, msg, dropped=40))
    drain(instance, 2)
    c = instance.counters()
    assert c["gvisor_dropped"] == 40 and c["drops"] == 40
    assert c["n_drops"] == 40 and c["n_drops_bug"] == 0 and c["n_drops_buffer_total"] == 40
    assert c["n_evts"] == c["events"] == 2


def test_reading_thread_failure_ends_the_source_with_an_error(instance, monkeypatch):
    from pyfalco.errors import PluginError

    def broken(batch):
        raise RuntimeError("decoder exploded")

    monkeypatch.setattr(instance.decoder, "decode", broken)
    peer = Peer(instance.socket_path)
    peer.handshake()
    peer.send(record(5, payload(5, context_data=ctx())))
    wait_for(lambda: instance.listener.error is not None)
    with pytest.raises(PluginError, match="reading thread failed: decoder exploded"):
        instance.next_batch()


def test_handshakes_are_answered_while_the_consumer_is_behind(instance, monkeypatch):
    # `runsc trace create` waits for the new session's handshake. With the queue full and the
    # consumer blocked (e.g. in that very `trace create`), an unanswered handshake deadlocked
    # until runsc's timeout (the CI flake of test_forced_reattach_keeps_the_sandbox_identity).
    from pyfalco_gvisor import engine as engine_mod

    busy = Peer(instance.socket_path)
    busy.handshake()
    msg = record(5, payload(5, context_data=ctx(tid=3)))
    # One record per round: fill every queue slot and some more (left in the socket).
    for _ in range(engine_mod.QUEUE_BATCHES + 20):
        busy.send(msg)
        time.sleep(0.002)
    wait_for(lambda: instance._queue.full())
    late = Peer(instance.socket_path)
    assert late.handshake() == b"\x08\x01"  # answered although nobody consumes
    assert instance.counters()["queue_waits"] > 0
    # nothing lost: every record arrives once the consumer catches up
    events = drain(instance, engine_mod.QUEUE_BATCHES + 20, timeout=10)
    assert len(events) == engine_mod.QUEUE_BATCHES + 20


def test_a_runsc_call_that_hangs_is_ended_with_its_output(tmp_path, monkeypatch):
    from pyfalco_gvisor import runsc

    fake = tmp_path / "runsc"
    fake.write_text("#!/bin/sh\necho 'waiting for the sandbox' >&2\nexec sleep 30\n")
    fake.chmod(0o755)
    monkeypatch.setattr(runsc, "runsc_path", lambda: str(fake))
    with pytest.raises(runsc.RunscError,
                       match=r"trace create .*did not finish within 1s.*waiting for the sandbox"):
        runsc._run("/r", ["trace", "create", "x"], timeout=1)
