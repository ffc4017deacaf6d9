"""File inputs: a file or a directory read once, and file:// tailing (rotation, truncation)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import orjson
import pytest
from pyfalco.errors import PluginError
from pyfalco_k8saudit.batching import BATCH_SIZE
from pyfalco_k8saudit.config import K8sAuditConfig
from pyfalco_k8saudit.files import OneShotInstance, TailInstance
from pyfalco_k8saudit.source import open_instance

CONFIG = K8sAuditConfig()


def ev(i: int) -> bytes:
    return orjson.dumps({"kind": "Event", "auditID": f"id-{i}", "stage": "ResponseComplete",
                         "stageTimestamp": "2024-05-01T10:00:00Z", "verb": "get"})


def drain(inst) -> list:
    out = []
    while (batch := inst.next_batch()) is not None:
        out.extend(batch)
    return out


def ids(events) -> list[str]:
    return [e.json()["auditID"] for e in events]


def test_trace_file_read_once_then_eof(traces: Path) -> None:
    inst = open_instance(str(traces / "create_configmap_sensitive_values.json"), CONFIG)
    assert isinstance(inst, OneShotInstance)
    events = drain(inst)
    assert len(events) == 6
    assert all(e.source == "k8s_audit" and e.ts > 0 for e in events)
    assert inst.progress() == 100.0
    assert inst.next_batch() is None  # EOF is sticky
    inst.close()


def test_directory_by_mtime_and_batches(tmp_path: Path) -> None:
    for name, first, mtime in (("b.log", 0, 100), ("a.log", 200, 200)):
        (tmp_path / name).write_bytes(b"\n".join(ev(first + i) for i in range(200)))
        os.utime(tmp_path / name, (mtime, mtime))
    (tmp_path / "sub").mkdir()
    inst = open_instance(str(tmp_path), CONFIG)
    batches = []
    while (b := inst.next_batch()) is not None:
        batches.append(b)
    assert max(len(b) for b in batches) == BATCH_SIZE
    got = ids([e for b in batches for e in b])
    assert got == [f"id-{i}" for i in range(400)]  # b.log (older) first, no line glued


def test_bad_lines_are_counted_and_named(tmp_path: Path, capsys) -> None:
    p = tmp_path / "audit.log"
    p.write_bytes(ev(1) + b"\nnot json\n" + b'{"kind": 0}\n' + ev(2) + b"\n" + ev(3)[:-5])
    inst = open_instance(str(p), CONFIG)
    assert ids(drain(inst)) == ["id-1", "id-2"]
    c = inst.counters()
    assert c["drops_malformed"] == 2 and c["drops_unrecognized"] == 1 and c["drops"] == 3
    err = capsys.readouterr().err
    assert f"[k8saudit] {p}:2: malformed JSON" in err
    assert f"[k8saudit] {p}:5: malformed JSON" in err  # the truncated last line


def test_overlong_line_skipped_without_buffering(tmp_path: Path) -> None:
    p = tmp_path / "audit.log"
    p.write_bytes(ev(1) + b"\n" + b"x" * 5000 + b"\n" + ev(2) + b"\n")
    cfg = K8sAuditConfig(max_event_size=1000, webhook_max_batch_size=1000)
    inst = open_instance(str(p), cfg)
    assert ids(drain(inst)) == ["id-1", "id-2"]
    assert inst.counters()["drops_line_too_long"] == 1


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ("", "open_params is empty"),
        ("/does/not/exist", "No such file or directory"),
        ("ftp://host/x", 'scheme "ftp" is not supported'),
        ("http://127.0.0.1/k8s-audit", "has no port"),
        ("http://127.0.0.1:0", "the webhook needs a path"),
        ("file:///does/not/exist", "No such file or directory"),
    ],
)
def test_open_errors(params: str, message: str) -> None:
    with pytest.raises(PluginError, match=message):
        open_instance(params, CONFIG)


def wait_for(inst: TailInstance, n: int, timeout: float = 5.0) -> list:
    got: list = []
    deadline = time.monotonic() + timeout
    while len(got) < n and time.monotonic() < deadline:
        batch = inst.next_batch()
        assert batch is not None  # tail never EOFs
        got.extend(batch)
    return got


def test_tail_follows_appends_rotation_and_truncation(tmp_path: Path) -> None:
    p = tmp_path / "audit.log"
    p.write_bytes(ev(0) + b"\n")  # before open: not read (starts at the end)
    inst = open_instance(f"file://{p}", CONFIG)
    assert isinstance(inst, TailInstance)
    assert inst.next_batch() == []
    with open(p, "ab") as f:
        f.write(ev(1) + b"\n" + ev(2)[:20])  # second line incomplete
    assert ids(wait_for(inst, 1)) == ["id-1"]
    with open(p, "ab") as f:
        f.write(ev(2)[20:] + b"\n")
    assert ids(wait_for(inst, 1)) == ["id-2"]
    # rename rotation: a new file at the path is read from its start
    p.rename(tmp_path / "audit.log.1")
    assert inst.next_batch() == []
    p.write_bytes(ev(3) + b"\n")
    assert ids(wait_for(inst, 1)) == ["id-3"]
    # copytruncate: shorter than what was read, so it starts again at 0
    p.write_bytes(b"")
    inst.next_batch()
    p.write_bytes(ev(4) + b"\n")
    assert ids(wait_for(inst, 1)) == ["id-4"]
    with open(p, "ab") as f:
        f.write(b"{bad json\n")
    wait_for(inst, 1, timeout=0.3)
    assert inst.counters()["drops_malformed"] == 1
    inst.close()


def test_tail_overlong_line(tmp_path: Path) -> None:
    p = tmp_path / "audit.log"
    p.write_bytes(b"")
    cfg = K8sAuditConfig(max_event_size=2000, webhook_max_batch_size=2000)
    inst = open_instance(f"file://{p}", cfg)
    with open(p, "ab") as f:
        for _ in range(3):
            f.write(b"y" * 70000)  # one 210 kB line, arriving in pieces
            f.flush()
            inst.next_batch()
        f.write(b"\n" + ev(5) + b"\n")
    assert ids(wait_for(inst, 1)) == ["id-5"]
    assert inst.counters()["drops_line_too_long"] == 1
    inst.close()


def test_tail_needs_an_absolute_path() -> None:
    with pytest.raises(PluginError, match="absolute path"):
        open_instance("file://relative/audit.log", CONFIG)
