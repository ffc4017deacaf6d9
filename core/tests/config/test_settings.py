"""Interpretation-time errors with Falco's exact texts (falco-core.md §4.4)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyfalco.config import interpret, load_config, resolve_rules_files
from pyfalco.errors import ConfigError
from pyfalco.priority import Priority


def settings(tmp_path: Path, text: str, *options: str):
    main = tmp_path / "falco.yaml"
    main.write_text(text)
    return interpret(load_config(main, list(options)))


def test_defaults(tmp_path):
    s = settings(tmp_path, "{}\n")
    assert s.engine_kind == "nodriver" and s.min_priority is Priority.DEBUG
    assert s.rule_matching == "first" and s.watch_config_files is True


@pytest.mark.parametrize(
    ("text", "options", "message"),
    [
        ("rules_files: [a]\nrules_file: [b]\n", (),
         "Error reading config file ({f}): both 'rules_files' and 'rules_file' keys set"),
        ("{}\n", ("priority=loud",),
         'Unknown priority "loud"--must be one of emergency, alert, critical, error, warning, '
         "notice, informational, debug"),
        ("{}\n", ("rule_matching=some",),
         'Unknown rule matching strategy "some"--must be one of first, all'),
        ("{}\n", ("log_level=chatty",), "Unknown log level chatty"),
        ("engine: {kind: replay}\n", (),
         "Error reading config file ({f}): engine.kind is 'replay' but no "
         "engine.replay.capture_file specified."),
        ("load_plugins: [x]\nplugins: {a: 1}\n", (), None),
    ],
)
def test_fatal_values(tmp_path, text, options, message):
    with pytest.raises(ConfigError) as err:
        settings(tmp_path, text, *options)
    if message is not None:
        assert str(err.value) == message.format(f=tmp_path / "falco.yaml")


def test_priority_spellings(tmp_path):
    assert settings(tmp_path, "priority: INFO\n").min_priority is Priority.INFORMATIONAL
    assert settings(tmp_path, "rule_matching: ALL\n").rule_matching == "all"


def test_rules_selection_and_plugins(tmp_path):
    s = settings(tmp_path, """\
rules:
  - disable: {tag: maturity_incubating}
  - enable: {rule: "Terminal*"}
plugins:
  - name: k8saudit
    library_path: libk8saudit.so
    init_config: {maxEventSize: 10}
    open_params: "  http://:9765/k8s-audit  "
  - name: json
    init_config: '{"a": 1}'
load_plugins: [k8saudit]
""")
    assert [(r.enabled, r.rule, r.tag) for r in s.rules_selection] == [
        (False, None, "maturity_incubating"), (True, "Terminal*", None)]
    k8s, js = s.plugins
    assert k8s.open_params == "http://:9765/k8s-audit" and k8s.init_config == {"maxEventSize": 10}
    assert js.init_config == '{"a": 1}'
    assert s.load_plugins == ["k8saudit"]


def test_bad_rules_selection_names_the_place(tmp_path):
    with pytest.raises(ConfigError, match=r"rules\[0\].*falco.yaml:2"):
        settings(tmp_path, "rules:\n  - enable: {}\n")


def test_deprecated_rules_file_is_a_warning(tmp_path):
    s = settings(tmp_path, "rules_file: /a.yaml\n")
    assert s.rules_files == ["/a.yaml"] and "deprecated config key 'rules_file'" in s.warnings[0]


def test_rules_files_resolution(tmp_path):
    d = tmp_path / "rules.d"
    d.mkdir()
    for name in ("b.yaml", "a.yml", "c.txt"):
        (d / name).write_text("[]\n")
    top = tmp_path / "top.yaml"
    top.write_text("[]\n")
    (tmp_path / "notes.txt").write_text("")
    got = resolve_rules_files([str(top), str(tmp_path / "missing.yaml"), str(d),
                               str(tmp_path / "notes.txt")])
    assert got == [top, d / "a.yml", d / "b.yaml"]
