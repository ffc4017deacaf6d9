"""The pipeline: one queue, one worker, drops and losses counted, stdout and file channels,
SIGUSR1 reopen, shutdown."""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading

import pytest
from pyfalco.outputs import OutputsManager
from pyfalco.outputs.channels import CHANNELS, Channel
from pyfalco.priority import Priority

from .conftest import make_alert, wait_until


def test_stdout_text_and_json(capsys):
    with OutputsManager({"stdout_output": {"enabled": True}}, hostname="h") as out:
        out.handle(make_alert(output="one"))
        out.handle_internal("Falco internal: x", Priority.DEBUG, {"k": "v"})
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["13:44:05.478445995: Critical one",
                     lines[1]]
    assert lines[1].endswith(': Debug Falco internal: x (k="v")')
    with OutputsManager({"stdout_output": {"enabled": True}, "json_output": True},
                        hostname="h") as out:
        out.handle(make_alert(output="two"))
    doc = json.loads(capsys.readouterr().out)
    assert doc["output"] == "13:44:05.478445995: Critical two" and doc["hostname"] == "h"
    assert out.counters()["stdout_sent"] == 1


def test_order_is_preserved_across_many_alerts(tmp_path):
    path = tmp_path / "events.txt"
    cfg = {"file_output": {"enabled": True, "filename": str(path), "keep_alive": True}}
    with OutputsManager(cfg) as out:
        for i in range(2000):
            out.handle(make_alert(i, output=f"n={i}"))
    lines = path.read_text().splitlines()
    assert [line.rsplit("=", 1)[1] for line in lines] == [str(i) for i in range(2000)]
    assert out.counters()["file_sent"] == 2000 and out.lost_total() == 0


@pytest.mark.parametrize("keep_alive", [False, True])
def test_file_output_appends(tmp_path, keep_alive):
    path = tmp_path / "events.txt"
    path.write_text("existing\n")
    cfg = {"file_output": {"enabled": True, "filename": str(path), "keep_alive": keep_alive}}
    with OutputsManager(cfg) as out:
        out.handle(make_alert(output="a"))
        assert wait_until(lambda: "a\n" in path.read_text())  # unbuffered: there at once
        out.handle(make_alert(output="b"))
    assert path.read_text().splitlines() == [
        "existing", "13:44:05.478445995: Critical a", "13:44:05.478445995: Critical b"]


def test_file_reopen_after_rename_with_real_sigusr1(tmp_path):
    """Log rotation: rename the file, SIGUSR1 -> reopen(), new lines go to a new file."""
    path, rotated = tmp_path / "events.txt", tmp_path / "events.txt.1"
    cfg = {"file_output": {"enabled": True, "filename": str(path), "keep_alive": True}}
    out = OutputsManager(cfg).start()
    previous = signal.signal(signal.SIGUSR1, lambda *_: out.reopen())
    try:
        out.handle(make_alert(output="before"))
        assert wait_until(lambda: path.exists() and "before" in path.read_text())
        os.rename(path, rotated)
        out.handle(make_alert(output="still old"))  # keep_alive: the open file is the renamed one
        assert wait_until(lambda: "still old" in rotated.read_text())
        os.kill(os.getpid(), signal.SIGUSR1)
        out.handle(make_alert(output="after"))
        assert wait_until(lambda: path.exists() and "after" in path.read_text())
    finally:
        signal.signal(signal.SIGUSR1, previous)
        out.close()
    assert "after" not in rotated.read_text()
    assert out.lost_total() == 0


@pytest.mark.parametrize("filename", ["", "."])
def test_bad_file_output_filename(tmp_path, caplog, filename):
    cfg = {"file_output": {"enabled": True, "filename": filename},
           "stdout_output": {"enabled": True}}
    with caplog.at_level(logging.ERROR, "pyfalco.outputs"):
        with OutputsManager(cfg) as out:
            out.handle(make_alert())
    if filename:  # a directory: every alert fails to open it, counted
        assert out.counters()["file_lost"] == 1
        assert "file: failed to open output file ." in caplog.text
    else:
        assert "Failed to init output: file_output.filename is empty" in caplog.text


def test_unwritable_file_is_counted_and_logged(tmp_path, caplog):
    cfg = {"file_output": {"enabled": True, "filename": str(tmp_path / "no" / "dir" / "f")},
           "stdout_output": {"enabled": True}}
    with caplog.at_level(logging.ERROR, "pyfalco.outputs"):
        with OutputsManager(cfg) as out:
            out.handle(make_alert())
            out.handle(make_alert())
    c = out.counters()
    assert c["file_lost"] == 2 and c["stdout_sent"] == 2 and c["outputs_lost_total"] == 2
    assert "file: failed to open output file" in caplog.text
    assert "2 alert(s) were not delivered: file: 2" in caplog.text
    # the same failure again and again (syslog without /dev/log) is logged once, then counted
    assert caplog.text.count("file: failed to open output file") == 1


def test_queue_full_drops_counted_and_blocked_channel_reported(tmp_path, caplog):
    """A blocked channel: the producer never blocks, the overflow is counted
    (outputs_queue_num_drops), the watchdog reports, and shutdown discards the backlog with
    Falco's notice — every message is accounted for."""
    cfg = {"program_output": {"enabled": True, "program": "cat >/dev/null; sleep 1"},
           "outputs_queue": {"capacity": 3}, "output_timeout": 200}
    with caplog.at_level(logging.INFO, "pyfalco.outputs"):
        out = OutputsManager(cfg).start()
        for i in range(20):
            out.handle(make_alert(i))  # returns at once even though the worker is stuck
        assert wait_until(lambda: out.counters()["program_timeouts"] >= 1)
        out.close()
    c = out.counters()
    assert c["outputs_queue_num_drops"] >= 20 - 3 - 1 - 1
    assert (c["outputs_queue_num_drops"] + c["outputs_discarded_at_shutdown"]
            + c["program_sent"] + c["program_lost"]) >= 20 - 1  # the one in flight may finish late
    assert "Outputs queue out of memory. Drop event and continue on ..." in caplog.text
    assert caplog.text.count("Outputs queue out of memory") == 1  # only the first drop logs
    assert '"program" output timeout, all output channels are blocked' in caplog.text
    assert "output channels still blocked, discarding all remaining notifications" in caplog.text


def test_unformattable_alert_is_counted_not_raised(capsys, caplog):
    class Weird:
        def __str__(self):
            raise RuntimeError("no text")

    cfg = {"stdout_output": {"enabled": True}, "json_output": True}
    with caplog.at_level(logging.ERROR, "pyfalco.outputs"):
        with OutputsManager(cfg) as out:
            out.handle(make_alert(output_fields={"x": Weird()}))  # must not raise into a source
            out.handle(make_alert())
    assert out.counters()["outputs_format_errors"] == 1 and out.counters()["stdout_sent"] == 1
    assert "cannot format alert of rule 'Terminal shell in container'" in caplog.text


def test_text_line_is_not_escaped(capsys):
    """Falco 0.44.1 writes the rule output raw in text mode (master escapes it)."""
    with OutputsManager({"stdout_output": {"enabled": True}}) as out:
        out.handle(make_alert(output='a "quoted"\tvalue'))
    assert capsys.readouterr().out == '13:44:05.478445995: Critical a "quoted"\tvalue\n'


def test_handle_after_close_is_counted():
    out = OutputsManager({"stdout_output": {"enabled": True}}).start()
    out.close()
    out.handle(make_alert())
    assert out.counters()["outputs_queue_num_drops"] == 1


def test_concurrent_producers(tmp_path):
    path = tmp_path / "events.txt"
    cfg = {"file_output": {"enabled": True, "filename": str(path), "keep_alive": True}}
    out = OutputsManager(cfg).start()

    def produce(k):
        for i in range(500):
            out.handle(make_alert(i, output=f"{k}:{i}"))

    threads = [threading.Thread(target=produce, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.close()
    lines = path.read_text().splitlines()
    assert len(lines) == 2000
    for k in range(4):  # per-source order preserved
        mine = [int(line.rsplit(":", 1)[1]) for line in lines if f" {k}:" in line]
        assert mine == list(range(500))


def test_channel_init_failure_is_skipped(caplog):
    cfg = {"http_output": {"enabled": True, "url": "ftp://nowhere"},
           "stdout_output": {"enabled": True}}
    with caplog.at_level(logging.ERROR, "pyfalco.outputs"):
        with OutputsManager(cfg) as out:
            assert [c.name for c in out.channels] == ["stdout"]
    assert "Failed to init output: http_output.url: unsupported or malformed URL" in caplog.text


def test_buffered_stdout_flushes_at_close(tmp_path):
    import subprocess

    code = (
        "from pyfalco.outputs import OutputsManager\n"
        "from pyfalco.priority import Priority\n"
        "o = OutputsManager({'stdout_output': {'enabled': True}, 'buffered_outputs': True})\n"
        "o.start(); o.handle_internal('m', Priority.DEBUG, {}, time_ns=0); o.close()\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "TZ": "UTC"}, timeout=60)
    assert res.stdout == "00:00:00.000000000: Debug m ()\n", res.stderr


class _Recording(Channel):
    """A channel that records the worker's calls; ``fail_flush`` makes every flush fail and
    ``gate`` (when set) holds each write until it is opened."""

    name = "stdout"
    calls: list[str] = []
    fail_flush = False
    gate: threading.Event | None = None

    def write(self, msg):
        if self.gate is not None:
            self.gate.wait(10)
        self.calls.append(f"write {msg.text.rsplit('=', 1)[1]}")

    def flush(self):
        self.calls.append("flush")
        if self.fail_flush:
            raise OSError("disk full")

    def reopen(self):
        self.calls.append("reopen")


@pytest.fixture
def recording(monkeypatch):
    monkeypatch.setitem(CHANNELS, "stdout", _Recording)
    monkeypatch.setattr(_Recording, "calls", [])
    return _Recording


def _n(i: int):
    return make_alert(i, output=f"n={i}")


def test_worker_delivers_what_is_queued_in_runs_flushing_once_per_run(recording):
    """Lines queued while the worker was busy go out together, with one flush per channel; a
    reopen keeps its place: the lines before it are flushed before the channel reopens."""
    out = OutputsManager({"stdout_output": {"enabled": True}})
    for i in range(3):
        out.handle(_n(i))  # queued before the worker starts: it finds them all at once
    out.reopen()
    for i in range(3, 5):
        out.handle(_n(i))
    out.start()
    out.close()
    assert recording.calls == ["write 0", "write 1", "write 2", "flush", "reopen",
                               "write 3", "write 4", "flush"]
    assert out.counters()["stdout_sent"] == 5 and out.lost_total() == 0


def test_failing_flush_counts_the_lines_of_its_run_as_lost(recording, caplog):
    recording.fail_flush = True
    try:
        with caplog.at_level(logging.ERROR, "pyfalco.outputs"):
            out = OutputsManager({"stdout_output": {"enabled": True}})
            for i in range(4):
                out.handle(_n(i))
            out.start()
            out.close()
    finally:
        recording.fail_flush = False
    c = out.counters()
    assert c["stdout_sent"] == 0 and c["stdout_lost"] == 4 and out.lost_total() == 4
    assert caplog.text.count("stdout: disk full") == 1


def test_lines_held_by_the_worker_count_against_the_queue_capacity(recording):
    """The worker takes a whole run out of the queue: those lines still count against
    ``outputs_queue.capacity``, so memory stays bounded by it, and the overflow is counted."""
    recording.gate = threading.Event()
    try:
        out = OutputsManager({"stdout_output": {"enabled": True},
                              "outputs_queue": {"capacity": 4}})
        for i in range(10):
            out.handle(_n(i))  # 4 queued, 6 dropped
        out.start()
        assert wait_until(lambda: out.counters()["outputs_pending"] == 4
                          and out._inbox.qsize() == 0)  # the worker holds the 4, blocked
        for i in range(10, 15):
            out.handle(_n(i))  # still full: dropped
        assert out.counters()["outputs_queue_num_drops"] == 6 + 5
        recording.gate.set()
        out.close()
    finally:
        recording.gate = None
    c = out.counters()
    assert c["stdout_sent"] == 4 and c["outputs_pending"] == 0 and out.lost_total() == 11
