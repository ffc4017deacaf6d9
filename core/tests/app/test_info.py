"""Info commands and CLI errors: output and exit codes as Falco's (falco-core.md §9)."""

from __future__ import annotations

import json
import os

import pytest

from .fakes import CounterPlugin

RULES = """\
- rule: tick
  desc: every a event, with a description long enough to be wrapped over two lines of the table
  condition: always
  output: a event %a.n
  priority: WARNING
  source: a
  tags: [t1]
"""


@pytest.fixture
def one(app):
    app.plugins.append(CounterPlugin("pa", "a", 101))
    app.config()
    app.file("rules.yaml", RULES)
    return app


def cli(app, *args):
    return app.run("-c", str(app.tmp_path / "falco.yaml"), "-r", str(app.tmp_path / "rules.yaml"),
                   *args)


def test_help_and_bad_options(app):
    r = app.run("--help")
    assert r.code == 0 and "Usage:" in r.out and "--enable-source" in r.out
    r = app.run("-A")
    assert r.code == 1 and r.err == "Error: Option 'A' does not exist\n"
    r = app.run("--nodriver")
    assert r.code == 1 and r.err == "Error: Option 'nodriver' does not exist\n"
    r = app.run("--format", "xml", "--version")
    assert r.err == "Error: Invalid format 'xml'. Valid values are: text, markdown, json\n"
    r = app.run("--markdown", "--format", "json")
    assert r.err == "Error: Cannot specify both --markdown and --format options together\n"


def test_missing_config_file(app):
    r = app.run("-c", str(app.tmp_path / "nope.yaml"))
    assert r.code == 1
    assert r.err == f"Error: Could not find configuration file at {app.tmp_path / 'nope.yaml'}\n"


def test_version_text_and_json(one):
    r = cli(one, "--version")
    assert r.code == 0 and r.out.startswith("Falco version: ")
    assert "Plugin API:    1.0.0\n" in r.out and "Engine:        0.63.0\n" in r.out
    r = cli(one, "--version", "-o", "json_output=true")
    v = json.loads(r.out)
    assert v["engine_version"] == "63" and v["engine_version_semver"] == "0.63.0"
    assert "plugin_versions" not in v


def test_config_schema(app):
    r = app.run("--config-schema")
    schema = json.loads(r.out)
    assert r.code == 0 and schema["additionalProperties"] is False
    assert "engine" in schema["properties"]


def test_list_plugins_and_plugin_info(one):
    r = cli(one, "--list-plugins")
    assert r.code == 0
    assert r.out == (
        "1 Plugins Loaded:\n\nName: pa\nDescription: pa plugin\nContact: x\nVersion: 0.3.0\n"
        "Capabilities: \n  - Event Sourcing (ID=101, source='a')\n  - Field Extraction\n\n\n")
    r = cli(one, "--plugin-info", "pa")
    assert r.code == 0
    assert "Init config schema type: Not available" in r.out
    assert r.out.endswith("Suggested open params:\ndefault: the configured count\n\n")
    r = cli(one, "--plugin-info", "zz")
    assert r.code == 1 and r.err.endswith("Error: can't find plugin and print its info: zz\n")


def test_list_fields(one):
    r = cli(one, "--list")
    assert r.code == 0 and "a.n" in r.out and "evt.num" in r.out
    r = cli(one, "--list=a", "-N")
    assert r.out.split() == ["evt.num", "a.n"]
    r = cli(one, "--list=zz")
    assert r.code == 1 and r.err.endswith("Error: Value for --list must be a valid source type\n")
    r = cli(one, "--list", "--format", "json")
    assert {c["name"] for c in json.loads(r.out)} == {"evt", "pa"}


def test_describe_rules(one):
    r = cli(one, "-L")
    lines = r.out.splitlines()
    assert lines[0] == f"{'Rule':<50} Description"
    assert lines[2].startswith(f"{'tick':<50} every a event")
    assert lines[3].startswith(" " * 51)  # wrapped continuation
    r = cli(one, "-l", "tick", "-o", "json_output=true")
    assert json.loads(r.out)["rules"][0]["info"]["name"] == "tick"


def test_validate(one):
    r = one.run("-c", str(one.tmp_path / "falco.yaml"), "-V", str(one.tmp_path / "rules.yaml"))
    assert r.code == 0 and r.out == f"{one.tmp_path / 'rules.yaml'}: Ok\n"
    bad = one.file("bad.yaml", "- required_plugin_versions: [{name: k8saudit, version: 0.1.0}]\n")
    r = one.run("-c", str(one.tmp_path / "falco.yaml"), "-V", str(bad))
    assert r.code == 1 and "Plugin requirement not satisfied" in r.err
    r = one.run("-c", str(one.tmp_path / "falco.yaml"), "-V", str(one.tmp_path / "none.yaml"))
    assert r.code == 1 and "Could not open file" in r.err


def test_support(one):
    r = cli(one, "--support")
    s = json.loads(r.out)
    assert r.code == 0 and s["rules_files"][0]["variants"][0]["content"] == RULES
    assert s["cmdline"].startswith("pyfalco -c ") and "stdout_output" in s["config"]


def test_no_rules_files(one):
    r = one.run("-c", str(one.tmp_path / "falco.yaml"), "-o", "rules_files[]=/nonexistent.yaml")
    assert r.code == 1
    assert r.err.endswith("Error: You must specify at least one rules file/directory via -r or a "
                          "rules_file entry in falco.yaml\n")


def test_no_output_configured(one):
    r = cli(one, "--dry-run", "-o", "stdout_output.enabled=false")
    assert r.code == 1
    assert r.err.endswith("Error: No output configured, please make sure at least one output is "
                          "configured and enabled.\n")


def test_rules_selection_and_priority_reach_the_engine(one):
    r = cli(one, "--dry-run", "-o", "rules[]={disable: {tag: t1}}", "-o", "priority=error",
            "-p", "extra=%a.n")
    assert r.code == 0, r.err
    engine = r.state.engine
    assert engine.selections == [(False, None, "t1")]
    assert str(engine.min_priority.name) == "ERROR"
    assert engine.append_output == [{"suggested_output": True}][:0] + [{"extra_output":
                                                                        "extra=%a.n"}]
    assert "Disabling rules with tag: t1" in r.err
    assert "The -p/--print option is deprecated" in r.err


def test_pidfile(one):
    pid = one.tmp_path / "falco.pid"
    r = cli(one, "--enable-source=a", "-P", str(pid))
    assert r.code == 0 and pid.read_text() == f"{os.getpid()}\n"


def test_verbose_unbuffered_page_size_and_print_noop(one):
    r = cli(one, "--enable-source=a", "-v", "-U", "-p", "c")
    assert r.code == 0, r.err
    assert "(a) Elapsed time: " in r.err and "Captured Events: 3, " in r.err
    assert r.state.config["buffered_outputs"] is False
    assert r.state.engine.append_output == [] and "The -p/--print option is deprecated" in r.err
    r = cli(one, "--page-size")
    assert r.code == 0 and "Your system page size is: " in r.err


@pytest.mark.parametrize("flag", ["-i", "--list-events"])
def test_event_table_commands_name_the_syscall_package_when_missing(app, monkeypatch, flag):
    """-i / --list-events read pyfalco-plugin-syscall's event table; without it: an error that
    says what to install, exit 1."""
    import importlib

    real = importlib.import_module

    def no_syscall(name, *a, **kw):
        if name.startswith("pyfalco_syscall"):
            raise ModuleNotFoundError(f"No module named '{name}'")
        return real(name, *a, **kw)

    monkeypatch.setattr(importlib, "import_module", no_syscall)
    app.config()
    r = app.run("-c", str(app.tmp_path / "falco.yaml"), flag)
    assert r.code == 1
    assert r.err.endswith(f"Error: {flag} needs the syscall event table: install "
                          "pyfalco-plugin-syscall (No module named 'pyfalco_syscall.events')\n")
