"""Records -> events: real recorded traffic, framing, dropped counts and bad records."""

from __future__ import annotations

import collections

from gvisor_testlib import CID, ctx, exit_, payload, record
from pyfalco_gvisor.decoder import Decoder, SandboxIds, sandbox_seed
from pyfalco_gvisor.listener import Connection
from pyfalco_gvisor.recording import read_records


def conn(n: int = 1) -> Connection:
    return Connection(n, None)  # type: ignore[arg-type]  # the decoder never touches the socket


def test_recorded_sandbox_decodes_without_loss(data_dir):
    # bash -c 'cat /etc/shadow; echo x > /etc/pyfalco-test; (exec 3<>/dev/tcp/127.0.0.1/9);
    #          sh -c "exit 0"; exit 3' in a real sandbox (scripts/record_session.py)
    recs = read_records(data_dir / "actions.rec")
    d = Decoder()
    c = conn()
    events = d.decode([(c, r) for r in recs])
    k = d.counters
    assert k["records"] == len(recs)
    assert k["parse_errors"] == k["bad_header"] == k["unknown_type"] == k["map_errors"] == 0
    assert k["events"] == len(events) and k["enter_skipped"] > 0
    assert c.container_id.startswith("runsc-") and c.sandbox_id == sandbox_seed(c.container_id)
    types = collections.Counter(e.type for e in events)
    assert types["execve"] == 3 and types["procexit"] == 4 and types["connect"] == 3
    assert all(e.container_id == c.container_id for e in events)
    shadow = [e for e in events if e.type == "openat" and e.params["name"] == "/etc/shadow"]
    assert len(shadow) == 1 and shadow[0].params["fd"] >= 0
    written = [e for e in events if e.type == "openat" and e.params["name"] == "/etc/pyfalco-test"]
    assert written and written[0].params["flags"] & 2  # O_WRONLY
    tcp = [e for e in events
           if e.type == "connect" and e.params["addr"] and e.params["addr"][0] == 2]
    assert tcp[0].params["res"] == -111  # ECONNREFUSED from errorno
    init_exit = [e for e in events if e.type == "procexit" and e.tid & 0xFFFFFFFF == 1]
    assert init_exit[0].params["ret"] == 3
    assert [e.ts for e in events] == sorted(e.ts for e in events)


def test_dropped_count_is_cumulative_per_connection_and_wraps():
    d = Decoder()
    a, b = conn(1), conn(2)
    msg = payload(5, context_data=ctx())
    d.decode([(a, record(5, msg, dropped=0)), (a, record(5, msg, dropped=1776)),
              (b, record(5, msg, dropped=3)), (a, record(5, msg, dropped=1778))])
    assert a.counters["gvisor_dropped"] == 1778 and b.counters["gvisor_dropped"] == 3
    d.decode([(a, record(5, msg, dropped=1))])  # wrapped past 2^32
    assert a.counters["gvisor_dropped"] == 1778 + (2**32 - 1778 + 1)
    assert d.counters["gvisor_dropped"] == a.counters["gvisor_dropped"] + 3


def test_longer_header_is_honoured():
    d = Decoder()
    events = d.decode([(conn(), record(5, payload(5, context_data=ctx()), header_size=16))])
    assert [e.type for e in events] == ["procexit"]


def test_bad_records_are_counted_and_the_rest_decodes(caplog):
    d = Decoder()
    c = conn()
    good = record(5, payload(5, context_data=ctx()))
    opened = payload(7, context_data=ctx(), exit=exit_(3), sysno=257, pathname="/etc/x", fd=-100)
    events = d.decode([
        (c, b"\x08\x00"),  # shorter than a header
        (c, b"\x04\x00\x05\x00\x00\x00\x00\x00"),  # header_size 4 < 8
        (c, b"\xff\x00\x05\x00\x00\x00\x00\x00"),  # header_size past the record
        (c, record(99, b"\x08\x01")),  # unknown message type
        (c, record(7, opened.SerializeToString()[:-3])),  # truncated protobuf
        (c, record(7, b"\xff\xff\xff\xff")),  # garbage protobuf
        (c, good),
        (c, record(7, opened)),
    ])
    assert [e.type for e in events] == ["procexit", "openat"]
    k = d.counters
    assert (k["bad_header"], k["unknown_type"], k["parse_errors"]) == (3, 1, 2)
    assert c.counters == {"bad_header": 3, "unknown_type": 1, "parse_errors": 2}
    assert "unknown message type 99" in caplog.text
    assert "cannot decode MESSAGE_SYSCALL_OPEN" in caplog.text


def test_first_message_without_container_id_is_counted():
    d = Decoder()
    c = conn()
    assert d.decode([(c, record(5, payload(5, context_data=ctx(cid=""))))]) == []
    assert d.counters["no_container_id"] == 1 and c.sandbox_id == 0


def test_enter_points_are_skipped_but_identify_the_sandbox():
    d = Decoder()
    c = conn()
    enter = payload(7, context_data=ctx(), sysno=257, pathname="/x")
    assert d.decode([(c, record(7, enter))]) == []
    assert c.sandbox_id == sandbox_seed(CID) and d.counters["enter_skipped"] == 1


def test_sandbox_ids_are_unique_and_released():
    ids = SandboxIds()
    assert sandbox_seed("runsc-280481") == int.from_bytes(b"runs", "big")
    assert sandbox_seed(CID) == 0x0123456
    assert sandbox_seed("abc") == 0xABC
    a = ids.acquire("runsc-1")
    b = ids.acquire("runsc-2")  # same seed ("runs") -> next free id
    assert b == a + 1
    assert ids.acquire("runsc-1") == a  # a re-attach of the same sandbox shares its id
    ids.release("runsc-1")
    assert ids.get("runsc-1") == a
    ids.release("runsc-1")
    assert ids.get("runsc-1") is None
    assert ids.acquire("runsc-3") == a


def test_every_message_type_of_the_spec_decodes():
    # One exit record of each of the 34 types (sentry/container types have no exit field).
    from gvisor_testlib import exit_ as mk_exit
    from pyfalco_gvisor.proto import PAYLOAD_CLASSES

    d = Decoder()
    c = conn()
    records = []
    for mtype, cls in sorted(PAYLOAD_CLASSES.items()):
        fields = {"context_data": ctx(tid=mtype)}
        if "exit" in cls.DESCRIPTOR.fields_by_name:
            fields["exit"] = mk_exit(1)
        records.append(record(mtype, cls(**fields)))
    events = d.decode([(c, r) for r in records])
    k = d.counters
    assert k["records"] == 34 and k["parse_errors"] == k["map_errors"] == k["unknown_type"] == 0
    # types without a Falco event (sentry/execve, exit_notify_parent, timerfd set/get time,
    # inotify add/rm watch) and default sysnos that name no syscall are counted as ignored
    assert k["ignored"] + len({e.tid for e in events}) == 34  # each record: events or ignored
    assert k["ignored"] >= 6
