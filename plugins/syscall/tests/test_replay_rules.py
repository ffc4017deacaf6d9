"""Replaying captures through the ``pyfalco`` command with upstream falco_rules.yaml, as Falco is
run (``-o engine.kind=replay -o engine.replay.capture_file=F``), and the rules that fire.

Expectations for Falco's test captures are stated from what their events contain (the fields
sysdig shows for them, see test_sysdig_diff.py); none of them holds activity the current stable
rules detect. A capture written by the project's writer holds the activity of nine stable rules;
each must fire once, with the process and file sysdig-checked fields name.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from pyfalco_syscall.testing import EXPECTED_DETECTIONS, write_detection_capture

PYFALCO = Path(sys.executable).with_name("pyfalco")

#: Falco test captures -> why no stable rule fires on them.
QUIET_CAPTURES = {
    "cat_write": "cat opens its libraries and /dev/null and writes to stdout: no sensitive file, "
                 "no shell spawned, no network",
    "connect_localhost": "a process connects to 127.0.0.1:80: outbound excludes 127.0.0.0/8",
    "empty": "only procinfo events, which are internal and never reach rules",
    "open-multiple-files": "python opens and closes /tmp/file-N: nothing sensitive",
    "ping_sendto": "ping sends ICMP datagrams with sendmsg: no rule on sendmsg of ping",
    "syscall": "a process opens its libraries and /dev/null and calls madvise",
}


def run_pyfalco(capture: Path, rules: Path, tmp_path: Path) -> tuple[int, list[dict], str]:
    proc = subprocess.run(
        [str(PYFALCO), "-r", str(rules), "-o", "engine.kind=replay",
         "-o", f"engine.replay.capture_file={capture}", "-o", "json_output=true",
         "-o", "syslog_output.enabled=false", "-o", "stdout_output.enabled=true"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path)
    alerts = []
    for line in proc.stdout.splitlines():
        if line.startswith("{"):
            alerts.append(json.loads(line))
    return proc.returncode, alerts, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def falco_rules(upstream: Path) -> Path:
    return upstream / "rules" / "falco_rules.yaml"


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(QUIET_CAPTURES))
def test_falco_test_captures_fire_nothing(name, trace_files, falco_rules, tmp_path):
    rc, alerts, out = run_pyfalco(trace_files[name], falco_rules, tmp_path)
    assert rc == 0, out
    assert alerts == [], f"{name}: {QUIET_CAPTURES[name]}; got {[a['rule'] for a in alerts]}"
    assert "Events detected: 0" in out


@pytest.mark.slow
def test_written_capture_fires_the_expected_rules(falco_rules, tmp_path):
    cap = tmp_path / "detections.scap.gz"
    write_detection_capture(cap)
    rc, alerts, out = run_pyfalco(cap, falco_rules, tmp_path)
    assert rc == 0, out
    fired: dict[str, list[dict]] = {}
    for a in alerts:
        fired.setdefault(a["rule"], []).append(a)
    assert set(fired) == set(EXPECTED_DETECTIONS), out
    for rule, (proc_name, fd_name, why) in EXPECTED_DETECTIONS.items():
        (alert,) = fired[rule]  # once each
        fields = alert["output_fields"]
        assert fields["proc.name"] == proc_name, (rule, why, fields)
        if fd_name:
            assert fields.get("fd.name") == fd_name, (rule, why, fields)
        assert alert["source"] == "syscall"
    assert f"Events detected: {len(EXPECTED_DETECTIONS)}" in out


def test_replay_of_a_bad_capture_fails_cleanly(tmp_path, falco_rules):
    bad = tmp_path / "bad.scap"
    bad.write_bytes(b"\x0a\x0d\x0d\x0a" + b"\x00" * 40)
    rc, alerts, out = run_pyfalco(bad, falco_rules, tmp_path)
    assert rc == 1 and alerts == []
    assert str(bad) in out and "Traceback" not in out
