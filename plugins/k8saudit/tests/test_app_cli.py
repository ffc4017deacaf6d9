"""The plugins as a user sees them through the ``pyfalco`` command: listed, their fields listed,
the default rules loaded when no rules file is given, a directory of audit logs read once."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

PYFALCO = str(Path(sys.executable).with_name("pyfalco"))

CONF = """\
stdout_output: {enabled: true}
log_stderr: true
log_syslog: false
webserver: {enabled: false}
rules_files: []
plugins:
  - name: k8saudit
    init_config: {}
    open_params: ""
  - name: json
load_plugins: [k8saudit, json]
"""


@pytest.fixture
def conf(tmp_path: Path) -> Path:
    path = tmp_path / "falco.yaml"
    path.write_text(CONF)
    return path


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([PYFALCO, *args], capture_output=True, text=True, timeout=120)


def rule_counts(stdout: str) -> dict[str, int]:
    block = stdout.split("Triggered rules by rule name:\n", 1)[1]
    return {m[1]: int(m[2]) for m in re.finditer(r"^   (.+): (\d+)$", block, re.M)}


def test_list_plugins(conf: Path) -> None:
    r = run("-c", str(conf), "--list-plugins")
    assert r.returncode == 0, r.stderr
    assert "Name: k8saudit\n" in r.stdout
    assert "Event Sourcing (ID=1, source='k8s_audit')" in r.stdout
    assert "Name: json\n" in r.stdout


def test_list_fields_of_the_source(conf: Path) -> None:
    r = run("-c", str(conf), "--list=k8s_audit")
    assert r.returncode == 0, r.stderr
    for name in ("ka.user.name", "ka.req.pod.containers.image.repository", "ka.uri.param",
                 "ka.req.pod.ephemeralContainers.privileged", "json.value", "jevt.value"):
        assert name in r.stdout, name


@pytest.mark.slow
def test_default_rules_on_a_directory_detect_what_upstream_rules_detect(
        conf: Path, traces: Path, upstream: Path) -> None:
    common = ["-c", str(conf), "--enable-source=k8s_audit",
              "-o", f"plugins[0].open_params={traces}"]
    ours = run(*common)  # no -r, rules_files: [] -> the plugins' default rules
    assert ours.returncode == 0, ours.stderr
    assert "k8s_audit_rules.yaml" in ours.stderr  # "Loading rules from:" names our file
    theirs = run(*common, "-r", str(upstream / "rules" / "k8s_audit_rules.yaml"))
    assert theirs.returncode == 0, theirs.stderr
    assert rule_counts(ours.stdout) == rule_counts(theirs.stdout)
    assert sum(rule_counts(ours.stdout).values()) > 30
    # fal_01_003.json in that directory is not an audit event: upstream's message on stderr
    assert "[k8saudit] data not recognized as a k8s audit event" in ours.stderr
