"""Falco's own golden output files (falco-tests/output_files), reproduced by replaying the
capture they were made from through the real ``pyfalco`` command.

The golden files were recorded when libs still delivered enter events, so they hold one alert
per open *enter* and one per *exit*; current libs (and pyfalco) deliver exit events only, so
the alerts expected are the golden file's exit lines: every second line. Everything else
(time prefix, text, JSON keys, output_fields, hostname) must match byte for byte / key for key.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PYFALCO = str(Path(sys.executable).with_name("pyfalco"))


def replay(upstream: Path, tmp_path: Path, rules: str, *opts: str) -> subprocess.CompletedProcess:
    tests = upstream / "falco-tests"
    cfg = tmp_path / "falco.yaml"
    cfg.write_text("stdout_output: {enabled: true}\nlog_stderr: true\nlog_syslog: false\n")
    return subprocess.run(
        [PYFALCO, "-c", str(cfg), "-r", str(tests / "rules" / rules),
         "-o", "engine.kind=replay",
         "-o", f"engine.replay.capture_file={tests / 'trace_files' / 'cat_write.scap'}",
         "-o", "time_format_iso_8601=true", *opts],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "FALCO_HOSTNAME": "test-falco-hostname"},
    )


@pytest.fixture
def golden(upstream):
    return lambda name: (upstream / "falco-tests" / "output_files" / name).read_text().splitlines()


def test_stdout_output_strict_text(upstream, tmp_path, golden):
    """falco_tests.yaml: stdout_output_strict / time_iso_8601."""
    r = replay(upstream, tmp_path, "single_rule.yaml")
    assert r.returncode == 0, r.stderr
    alerts = [line for line in r.stdout.splitlines() if ": Warning " in line]
    assert alerts == golden("single_rule_with_cat_write.txt")[1::2]
    assert r.stdout.endswith("Events detected: 4\nRule counts by severity:\n   WARNING: 4\n"
                             "Triggered rules by rule name:\n   open_from_cat: 4\n")


def test_stdout_output_json_strict(upstream, tmp_path, golden):
    """falco_tests.yaml: stdout_output_json_strict."""
    r = replay(upstream, tmp_path, "single_rule_with_tags.yaml", "-o", "json_output=true")
    assert r.returncode == 0, r.stderr
    alerts = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    expected = [json.loads(line) for line in golden("single_rule_with_cat_write.json")[1::2]]
    assert alerts == expected


def test_file_output_strict(upstream, tmp_path, golden):
    """falco_tests.yaml: file_output_strict."""
    events = tmp_path / "file_output.txt"
    r = replay(upstream, tmp_path, "single_rule.yaml", "-o", "file_output.enabled=true",
               "-o", f"file_output.filename={events}", "-o", "stdout_output.enabled=false")
    assert r.returncode == 0, r.stderr
    assert events.read_text().splitlines() == golden("single_rule_with_cat_write.txt")[1::2]


def test_program_output_strict(upstream, tmp_path, golden):
    """falco_tests.yaml: program_output_strict (the program appends its stdin to a file)."""
    events = tmp_path / "program_output.txt"
    r = replay(upstream, tmp_path, "single_rule.yaml", "-o", "program_output.enabled=true",
               "-o", f"program_output.program=cat >> {events}",
               "-o", "stdout_output.enabled=false")
    assert r.returncode == 0, r.stderr
    assert events.read_text().splitlines() == golden("single_rule_with_cat_write.txt")[1::2]


@pytest.mark.parametrize(("flag", "absent"), [
    ("json_include_output_property=false", "output"),   # json_output_no_output_property
    ("json_include_tags_property=false", "tags"),       # json_output_no_tags_property
])
def test_json_include_flags_upstream(upstream, tmp_path, flag, absent):
    r = replay(upstream, tmp_path, "single_rule_with_tags.yaml", "-o", "json_output=true",
               "-o", flag)
    assert r.returncode == 0, r.stderr
    alerts = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    assert alerts and all(absent not in a for a in alerts)


def test_json_output_empty_tags_property(upstream, tmp_path):
    """falco_tests.yaml: json_output_empty_tags_property — a rule without tags has "tags":[]."""
    r = replay(upstream, tmp_path, "rule_append.yaml", "-o", "json_output=true")
    assert r.returncode == 0, r.stderr
    lines = [line for line in r.stdout.splitlines() if line.startswith("{")]
    assert lines and all('"tags":[]' in line for line in lines)
