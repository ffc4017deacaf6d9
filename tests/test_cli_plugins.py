"""The plugin contract from the outside: the third-party plugin of tests/fixtures/tinysrc,
installed like any user's plugin, seen through the real ``pyfalco`` command."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# tinysrc is installed for these tests only, like a user's plugin (root conftest.py)
pytestmark = pytest.mark.usefixtures("third_party_plugins")

PYFALCO = str(Path(sys.executable).with_name("pyfalco"))


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([PYFALCO, *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def config(tmp_path):
    def make(extra: str = "") -> Path:
        path = tmp_path / "falco.yaml"
        path.write_text(
            "stdout_output: {enabled: true}\nlog_stderr: true\nlog_syslog: false\n"
            "webserver: {enabled: false}\n" + textwrap.dedent(extra)
        )
        return path

    return make


def test_tinysrc_is_discovered(config):
    r = run("-c", str(config("plugins: [{name: tinysrc}]\n")), "--list-plugins")
    assert r.returncode == 0, r.stderr
    assert (
        "Name: tinysrc\nDescription: A tiny test source\nContact: tests\nVersion: 1.2.0\n"
        "Capabilities: \n  - Event Sourcing (ID=999, source='tiny')\n  - Field Extraction\n"
    ) in r.stdout


def test_test_plugins_stay_out_of_the_users_environment(config):
    """`make venv` installs only the repository's own distributions: without the fixture's
    PYTHONPATH, the default load (what `make run` does) has no `tiny` source."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    r = subprocess.run([PYFALCO, "-c", str(config()), "--list-plugins"], capture_output=True,
                       text=True, timeout=60, env=env)
    assert r.returncode == 0, r.stderr
    assert "Name: k8saudit\n" in r.stdout and "tinysrc" not in r.stdout


def test_plugin_info_prints_schema_and_open_params(config):
    r = run("-c", str(config("plugins: [{name: tinysrc, init_config: {prefix: p}}]\n")),
            "--plugin-info", "tinysrc")
    assert r.returncode == 0, r.stderr
    assert "Init config schema type: JSON\n" in r.stdout
    assert '"max_count": {"type": "integer", "minimum": 1}' in r.stdout
    assert r.stdout.endswith(
        "Suggested open params:\n"
        "count=0: no event (the default: installing tinysrc changes nothing)\n"
        "count=3: emit three events\n"
        "count=10,every_ms=100: ten events, one every 100 ms\n\n"
    )


@pytest.mark.parametrize(
    ("init_config", "message"),
    [
        ("{max_count: 0}", "error in plugin tinysrc init config: In <root>[max_count], 0 is less "
                           "than the minimum of 1"),
        ("{colour: red}", "error in plugin tinysrc init config: In <root>, Additional properties "
                          "are not allowed ('colour' was unexpected)"),
        ("'{\"max_count\": \"3\"}'", "error in plugin tinysrc init config: In <root>[max_count], "
                                     "'3' is not of type 'integer'"),
        ("'not json'", "error in plugin tinysrc: init config is not a valid json"),
    ],
)
def test_bad_init_config_is_rejected_with_the_schema_message(config, init_config, message):
    cfg = config(f"plugins: [{{name: tinysrc, init_config: {init_config}}}]\n")
    r = run("-c", str(cfg), "--dry-run")
    assert r.returncode == 1
    assert f"Runtime error: {message}. Exiting." in r.stderr


def test_not_installed_plugin_names_the_package(config):
    r = run("-c", str(config("plugins: [{name: nosuchplugin}]\n")), "--dry-run")
    assert r.returncode == 1
    assert ("cannot load plugin nosuchplugin: no installed package provides it (install it "
            "with: pip install pyfalco-plugin-nosuchplugin)") in r.stderr


def test_config_error_on_the_command_line(config):
    r = run("-c", str(config()), "-o", "webserver.listen_port[x]=1", "--dry-run")
    assert r.returncode == 1
    assert r.stderr.endswith(
        'Error: Config error at key "webserver.listen_port[x]": Parsing error: expected a '
        "numeric index, found 'x'\n"
    )
