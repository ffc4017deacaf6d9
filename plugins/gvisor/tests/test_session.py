"""--gvisor-generate-config and reading the session file."""

from __future__ import annotations

import json

import pytest
from pyfalco.errors import ConfigError
from pyfalco_gvisor.session import (
    DEFAULT_SOCKET,
    generate_config,
    read_session_file,
    session_points,
)


def test_generated_config_is_falcos_session():
    doc = json.loads(generate_config("/tmp/x.sock"))
    ts = doc["trace_session"]
    assert ts["name"] == "Default"
    assert ts["ignore_missing"] is True
    assert ts["sinks"] == [{"name": "remote", "config": {"endpoint": "/tmp/x.sock", "retries": 3},
                            "ignore_setup_error": True}]
    names = [p["name"] for p in ts["points"]]
    assert len(names) == len(set(names)) == 97
    by_name = {p["name"]: p for p in ts["points"]}
    assert by_name["container/start"]["optional_fields"] == ["env"]
    assert by_name["syscall/execve/exit"]["optional_fields"] == ["envv"]
    assert "process_name" in by_name["sentry/clone"]["context_fields"]
    assert "syscall/sysno/9/exit" in by_name
    # every point asks for what the engine needs: the container id and the timestamp
    for p in session_points():
        assert {"container_id", "time", "thread_id"} <= set(p["context_fields"])


def test_default_socket_when_no_value():
    doc = json.loads(generate_config(None))
    assert doc["trace_session"]["sinks"][0]["config"]["endpoint"] == DEFAULT_SOCKET


def test_read_session_file(tmp_path):
    f = tmp_path / "s.json"
    f.write_text(generate_config("/run/x.sock"))
    _, endpoint = read_session_file(f)
    assert endpoint == "/run/x.sock"


@pytest.mark.parametrize(
    "text, message",
    [
        ("{not json", "invalid JSON"),
        ("[]", "expected a JSON object"),
        ('{"trace_session": {"sinks": []}}', "trace_session.sinks[0].config.endpoint"),
        ('{"trace_session": {"sinks": [{"config": {"endpoint": 3}}]}}', "must be a socket path"),
    ],
)
def test_bad_session_file_names_the_file(tmp_path, text, message):
    f = tmp_path / "bad.json"
    f.write_text(text)
    with pytest.raises(ConfigError) as err:
        read_session_file(f)
    assert message in str(err.value) and str(f) in str(err.value)


def test_missing_session_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read gVisor config file"):
        read_session_file(tmp_path / "nope.json")
