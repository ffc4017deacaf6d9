"""program_output with real child processes reading stdin, and syslog_output into a unix
datagram socket created by the test."""

from __future__ import annotations

import logging
import re
import socket
import threading
import time

import pytest
from pyfalco.outputs import OutputsManager
from pyfalco.priority import Priority

from .conftest import make_alert, wait_until


def test_program_one_process_per_alert(tmp_path):
    sink = tmp_path / "out"
    # each process appends its stdin and its pid: one pid per alert
    program = f'{{ cat; echo "pid=$$"; }} >> {sink}'
    with OutputsManager({"program_output": {"enabled": True, "program": program}}) as out:
        out.handle(make_alert(output="a"))
        out.handle(make_alert(output="b"))
    lines = sink.read_text().splitlines()
    assert lines[0] == "13:44:05.478445995: Critical a" and lines[2].endswith("Critical b")
    assert lines[1].startswith("pid=") and lines[3].startswith("pid=") and lines[1] != lines[3]


def test_program_keep_alive_is_one_process_and_reopen_restarts_it(tmp_path):
    sink = tmp_path / "out"
    program = f'echo "start $$" >> {sink}; cat >> {sink}'
    cfg = {"program_output": {"enabled": True, "program": program, "keep_alive": True}}
    out = OutputsManager(cfg).start()
    try:
        out.handle(make_alert(output="a"))
        out.handle(make_alert(output="b"))
        assert wait_until(lambda: sink.exists() and sink.read_text().count("Critical") == 2)
        assert sink.read_text().count("start ") == 1
        out.reopen()  # SIGUSR1: pclose + popen
        out.handle(make_alert(output="c"))
    finally:
        out.close()
    text = sink.read_text()
    assert text.count("start ") == 2 and text.rstrip().endswith("Critical c")
    assert out.lost_total() == 0


def test_program_keep_alive_restarts_after_the_program_died(tmp_path):
    sink = tmp_path / "out"
    # reads one line, then exits: the next alert finds a dead program
    program = f"head -n 1 >> {sink}"
    cfg = {"program_output": {"enabled": True, "program": program, "keep_alive": True}}
    out = OutputsManager(cfg).start()
    [channel] = out.channels
    try:
        for i in range(3):
            out.handle(make_alert(i, output=f"n{i}"))
            assert wait_until(lambda i=i: sink.exists() and f"n{i}" in sink.read_text())
            # Lines written to a pipe whose reader then exits unread are lost in the pipe, for
            # Falco as for us; wait for the exit so the next line meets a dead program.
            assert wait_until(lambda: channel._proc.poll() is not None)
    finally:
        out.close()
    assert [line.split()[-1] for line in sink.read_text().splitlines()] == ["n0", "n1", "n2"]
    assert out.counters()["program_lost"] == 0


def test_program_keep_alive_gets_a_run_of_lines_in_order(tmp_path):
    sink = tmp_path / "out"
    program = f'echo "start $$" >> {sink}; cat >> {sink}'
    cfg = {"program_output": {"enabled": True, "program": program, "keep_alive": True}}
    out = OutputsManager(cfg)
    for i in range(300):
        out.handle(make_alert(i, output=f"n={i}"))  # queued before the worker starts: one run
    out.start()
    out.close()
    lines = sink.read_text().splitlines()
    assert lines[0].startswith("start ") and len(lines) == 301
    assert [int(line.rsplit("=", 1)[1]) for line in lines[1:]] == list(range(300))
    assert out.counters()["program_sent"] == 300 and out.lost_total() == 0


def test_program_that_cannot_start_is_counted(caplog):
    cfg = {"program_output": {"enabled": True, "program": "exit 0"}}
    with caplog.at_level(logging.ERROR, "pyfalco.outputs"):
        with OutputsManager(cfg) as out:
            out.handle(make_alert(output="x" * 300_000))  # larger than a pipe: broken pipe
    assert out.counters()["program_lost"] == 1
    assert "program:" in caplog.text


def test_empty_program_is_an_init_failure(caplog):
    cfg = {"program_output": {"enabled": True, "program": ""}, "stdout_output": {"enabled": True}}
    with caplog.at_level(logging.ERROR, "pyfalco.outputs"):
        with OutputsManager(cfg) as out:
            assert [c.name for c in out.channels] == ["stdout"]
    assert "Failed to init output: program_output.program is empty" in caplog.text


_RECORD = re.compile(rb"^<(\d+)>([A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d) falco: (.*)$", re.S)


def test_syslog_records(syslog_socket):
    path, sock = syslog_socket
    cfg = {"syslog_output": {"enabled": True, "socket": path}}
    with OutputsManager(cfg) as out:
        out.handle(make_alert(priority=Priority.CRITICAL, output="crit"))
        out.handle(make_alert(priority=Priority.DEBUG, output="dbg"))
        out.handle_internal("Falco internal: x", Priority.INFORMATIONAL, {"a": 1})
    records = [sock.recv(65536) for _ in range(3)]
    parsed = [_RECORD.match(r) for r in records]
    assert all(parsed), records
    # LOG_USER (8) | Falco priority number = syslog level
    assert [int(m.group(1)) for m in parsed] == [8 + 2, 8 + 7, 8 + 6]
    assert parsed[0].group(3) == b"13:44:05.478445995: Critical crit"  # no trailing newline
    assert parsed[2].group(3).endswith(b"Informational Falco internal: x (a=1)")
    assert out.counters()["syslog_sent"] == 3


def test_syslog_ident_and_json(syslog_socket):
    path, sock = syslog_socket
    cfg = {"syslog_output": {"enabled": True, "socket": path, "ident": "pyfalco"},
           "json_output": True}
    with OutputsManager(cfg) as out:
        out.handle(make_alert())
    record = sock.recv(65536)
    assert b" pyfalco: {" in record and record.endswith(b"}")


def test_syslog_receiver_restart_is_retried(tmp_path):
    path = str(tmp_path / "log.sock")
    first = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    first.bind(path)
    out = OutputsManager({"syslog_output": {"enabled": True, "socket": path}}).start()
    try:
        out.handle(make_alert(output="one"))
        assert first.recv(65536).endswith(b"one")
        first.close()  # the syslog daemon restarts: the old socket is gone, a new one is bound
        import os

        os.unlink(path)
        second = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        second.bind(path)
        second.settimeout(5)
        out.handle(make_alert(output="two"))
        assert second.recv(65536).endswith(b"two")
        second.close()
    finally:
        out.close()
    c = out.counters()
    assert c["syslog_sent"] == 2 and c["syslog_retries"] == 1 and c["syslog_lost"] == 0


def test_missing_syslog_socket_is_counted(tmp_path, caplog):
    cfg = {"syslog_output": {"enabled": True, "socket": str(tmp_path / "nope.sock")}}
    with caplog.at_level(logging.ERROR, "pyfalco.outputs"):
        with OutputsManager(cfg) as out:
            out.handle(make_alert())
    assert out.counters()["syslog_lost"] == 1
    assert "syslog: cannot connect to syslog socket" in caplog.text


def test_missing_syslog_socket_is_not_tried_for_every_message(tmp_path, monkeypatch, caplog):
    """Without a syslog daemon, a flood of alerts is counted as lost without a connection
    attempt (two system calls) per message; the socket is tried again after RECONNECT_S."""
    from pyfalco.outputs.channels import syslog

    made = []
    real_socket = socket.socket
    monkeypatch.setattr(syslog.socket, "socket", lambda *a: made.append(a) or real_socket(*a))
    path = tmp_path / "log.sock"
    cfg = {"syslog_output": {"enabled": True, "socket": str(path)}}
    with caplog.at_level(logging.ERROR, "pyfalco.outputs"):
        out = OutputsManager(cfg).start()
        for i in range(500):
            out.handle(make_alert(i))
        assert wait_until(lambda: out.counters()["syslog_lost"] == 500)
        assert len(made) <= 2 * 3  # datagram + stream per attempt, a few attempts at most
        receiver = real_socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        receiver.bind(str(path))  # the daemon starts: the next attempt connects
        try:
            time.sleep(syslog.RECONNECT_S * 2)
            out.handle(make_alert(500))
            out.close()
            assert receiver.recv(4096).endswith(b"n=500)")
        finally:
            receiver.close()
    c = out.counters()
    assert c["syslog_sent"] == 1 and c["syslog_lost"] == 500
    assert caplog.text.count("cannot connect to syslog socket") == 1


@pytest.mark.parametrize("kind", [socket.SOCK_STREAM])
def test_syslog_stream_socket_fallback(tmp_path, kind):
    path = str(tmp_path / "log.sock")
    srv = socket.socket(socket.AF_UNIX, kind)
    srv.bind(path)
    srv.listen()
    srv.settimeout(5)
    with OutputsManager({"syslog_output": {"enabled": True, "socket": path}}) as out:
        out.handle(make_alert(output="streamed"))
        conn, _ = srv.accept()
        conn.settimeout(5)
        data = b""
        while not data.endswith(b"\0"):
            data += conn.recv(65536)
    conn.close()
    srv.close()
    assert data.endswith(b"streamed\0")


@pytest.mark.parametrize("batched", [True, False], ids=["sendmmsg", "send"])
def test_syslog_run_of_records_arrives_in_order_one_datagram_each(syslog_socket, monkeypatch,
                                                                   batched):
    """A run of records goes out with sendmmsg (or one send each where libc has none), one
    datagram per record, in order, waiting while the receiver's queue is full (the kernel keeps
    net.unix.max_dgram_qlen datagrams, 10 by default)."""
    from pyfalco.outputs.channels import syslog

    if batched:
        assert syslog._sendmmsg is not None  # glibc has it: this test runs the batched path
    else:
        monkeypatch.setattr(syslog, "_sendmmsg", None)
    path, sock = syslog_socket
    got: list[bytes] = []

    def receive():
        while len(got) < 300:
            got.append(sock.recv(65536))

    out = OutputsManager({"syslog_output": {"enabled": True, "socket": path}})
    for i in range(300):
        out.handle(make_alert(i, output=f"n={i}"))  # queued before the worker starts: one run
    reader = threading.Thread(target=receive)
    reader.start()
    out.start()
    out.close()
    reader.join(10)
    assert [int(r.rsplit(b"=", 1)[1]) for r in got] == list(range(300))
    c = out.counters()
    assert c["syslog_sent"] == 300 and c["syslog_lost"] == 0
