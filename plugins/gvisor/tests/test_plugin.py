"""The plugin's registration and the engine kind's open() errors."""

from __future__ import annotations

import json

import pytest
from pyfalco.api import OpenContext
from pyfalco.errors import ConfigError, PluginError
from pyfalco.plugins import collect, get_plugin_manager
from pyfalco_gvisor import plugin, runsc


def registry():
    pm, failures = get_plugin_manager(autoload=False, plugins=[plugin])
    return collect(pm, failures)


def test_engine_kind_gvisor_is_registered_with_generate_config():
    reg = registry()
    spec = reg.engine_kind("gvisor")
    assert spec is not None and spec.plugin == "gvisor" and spec.event_source == "syscall"
    doc = json.loads(spec.generate_config("/tmp/g.sock"))
    assert doc["trace_session"]["sinks"][0]["config"]["endpoint"] == "/tmp/g.sock"
    assert set(spec.config_schema["properties"]) == {"config", "root"}


def test_open_without_config_is_a_config_error():
    spec = registry().engine_kind("gvisor")
    with pytest.raises(ConfigError, match="engine.gvisor.config is required"):
        spec.open(OpenContext(init_config={}, engine_config={}))


def test_open_without_runsc_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    cfg = tmp_path / "s.json"
    cfg.write_text("{}")
    spec = registry().engine_kind("gvisor")
    with pytest.raises(PluginError, match="runsc not found on PATH"):
        spec.open(OpenContext(init_config={}, engine_config={"config": str(cfg)}))


def test_runsc_failure_carries_its_stderr(tmp_path, monkeypatch):
    fake = tmp_path / "runsc"
    fake.write_text("#!/bin/sh\necho 'session \"Default\" not found' >&2\nexit 128\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(runsc.RunscError) as err:
        runsc.trace_delete("/r", "c1")
    msg = str(err.value)
    assert "trace delete --name Default c1" in msg and "status 128" in msg
    assert 'session "Default" not found' in msg


def test_list_running_parses_runsc_list(tmp_path, monkeypatch):
    fake = tmp_path / "runsc"
    fake.write_text(
        "#!/bin/sh\n"
        "echo 'ID             PID         STATUS      BUNDLE   CREATED   OWNER'\n"
        "echo 'runsc-231901   21152       running     /b       2026-01-01T00:00:00Z   '\n"
        "echo 'abc            0           stopped     /b       2026-01-01T00:00:00Z   '\n"
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert runsc.list_running("/r") == ["runsc-231901"]


def test_trace_create_without_force_has_no_empty_argument(tmp_path, monkeypatch):
    # Falco put an empty string where --force would go; runsc took it as a positional argument
    # and failed with a usage error.
    log = tmp_path / "argv"
    fake = tmp_path / "runsc"
    fake.write_text(f'#!/bin/sh\nfor a in "$@"; do echo "[$a]"; done > {log}\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    runsc.trace_create("/r", "/cfg.json", "c1", force=False)
    assert log.read_text().split() == ["[--root]", "[/r]", "[trace]", "[create]", "[--config]",
                                       "[/cfg.json]", "[c1]"]
    runsc.trace_create("/r", "/cfg.json", "c1")
    assert "[--force]" in log.read_text().split()
