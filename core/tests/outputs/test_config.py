"""falco.yaml keys of the outputs, with Falco's defaults and error texts."""

from __future__ import annotations

import pytest
from pyfalco.errors import ConfigError
from pyfalco.outputs import NO_OUTPUT, OutputsConfig, OutputsManager


def test_no_output_is_falcos_error():
    assert NO_OUTPUT == ("No output configured, please make sure at least one output is "
                         "configured and enabled.")
    with pytest.raises(ConfigError) as err:
        OutputsManager({})
    assert str(err.value) == NO_OUTPUT
    with pytest.raises(ConfigError, match="No output configured"):
        OutputsConfig.from_config({"stdout_output": {"enabled": False},
                                   "file_output": {"enabled": "false", "filename": "x"}})


def test_defaults_and_channel_order():
    cfg = OutputsConfig.from_config({
        "http_output": {"enabled": True, "url": "http://x/"},
        "stdout_output": {"enabled": "true"},  # -o values arrive as strings
        "file_output": {"enabled": True, "filename": "/tmp/x"},
    }, hostname="h")
    assert [c.name for c in cfg.channels] == ["file", "stdout", "http"]
    assert (cfg.json_output, cfg.json_include_output_property, cfg.json_include_message_property,
            cfg.json_include_output_fields_property, cfg.json_include_tags_property,
            cfg.buffered_outputs, cfg.time_format_iso_8601, cfg.output_timeout_ms,
            cfg.queue_capacity) == (False, True, False, True, True, False, False, 2000, 0)
    assert cfg.effective_queue_capacity > 0  # 0 = Falco's "unbounded", still bounded here


def test_bad_values_name_the_key():
    with pytest.raises(ConfigError, match="'json_output'.*'maybe'"):
        OutputsConfig.from_config({"stdout_output": {"enabled": True}, "json_output": "maybe"})
    with pytest.raises(ConfigError, match="'outputs_queue.capacity'"):
        OutputsConfig.from_config({"stdout_output": {"enabled": True},
                                   "outputs_queue": {"capacity": "lots"}})
    with pytest.raises(ConfigError, match="'output_timeout'.*>= 0"):
        OutputsConfig.from_config({"stdout_output": {"enabled": True}, "output_timeout": -1})
    with pytest.raises(ConfigError, match="'stdout_output'"):
        OutputsConfig.from_config({"stdout_output": "yes"})


def test_needs_output_fields():
    on = {"stdout_output": {"enabled": True}}
    assert not OutputsManager(on).needs_output_fields
    assert OutputsManager({**on, "json_output": True}).needs_output_fields
    assert not OutputsManager({**on, "json_output": True,
                               "json_include_output_fields_property": False}).needs_output_fields


def test_hostname_from_environment(monkeypatch):
    monkeypatch.setenv("FALCO_HOSTNAME", "node-7")
    assert OutputsConfig.from_config({"stdout_output": {"enabled": True}}).hostname == "node-7"
