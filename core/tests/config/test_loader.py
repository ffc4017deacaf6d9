"""falco.yaml loading: includes, ${ENV}, -o ordering, schema validation with file:line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from pyfalco.config import interpret, load_config, packaged_config_path
from pyfalco.config.yamlfile import expand_env
from pyfalco.errors import ConfigError


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


@pytest.mark.parametrize(
    ("text", "expanded"),
    [
        ("${HOME_X}", "/home/x"),
        ("a-${HOME_X}-b", "a-/home/x-b"),
        ("${UNSET_X}", ""),
        ("$${HOME_X}", "${HOME_X}"),
        ("${HOME_X", "${HOME_X"),
        ("x${HOME_X}${HOME_X}", "x/home/x/home/x"),
        ("$ plain $", "$ plain $"),
        ("${HOME_X} ${broken", "/home/x ${broken"),
    ],
)
def test_env_expansion(text, expanded):
    assert expand_env(text, {"HOME_X": "/home/x"}) == expanded


def test_env_expansion_in_files_retypes_plain_scalars(tmp_path, monkeypatch):
    monkeypatch.setenv("PYFALCO_T_PORT", "9999")
    monkeypatch.setenv("PYFALCO_T_NAME", "out.txt")
    main = write(tmp_path / "falco.yaml", """\
        webserver:
          listen_port: ${PYFALCO_T_PORT}
          k8s_healthz_endpoint: "${PYFALCO_T_PORT}"
        file_output:
          filename: /tmp/${PYFALCO_T_NAME}
        """)
    cfg = load_config(main, ["file_output.filename=${PYFALCO_T_NAME}"])
    assert cfg.get_path("webserver.listen_port") == 9999
    assert cfg.get_path("webserver.k8s_healthz_endpoint") == "9999"
    # -o values are not expanded
    assert cfg.get_path("file_output.filename") == "${PYFALCO_T_NAME}"


def test_includes_merge_top_level_with_strategies(tmp_path):
    d = tmp_path / "config.d"
    write(d / "b.conf", """\
        rules_files: [/b.yaml]
        webserver: {prometheus_metrics_enabled: true}
        """)
    write(d / "a.yaml", "rules_files: [/a.yaml]\n")
    override = write(tmp_path / "override.yaml", "rules_files: [/o.yaml]\npriority: error\n")
    addonly = write(tmp_path / "addonly.yaml", "priority: debug\njson_output: true\n")
    main = write(tmp_path / "falco.yaml", f"""\
        config_files:
          - {d}
          - /nonexistent/dir
          - path: {override}
            strategy: override
          - path: {addonly}
            strategy: add-only
        rules_files: [/main.yaml]
        webserver: {{enabled: true, listen_port: 1}}
        """)
    cfg = load_config(main)
    # a.yaml then b.conf (sorted, any extension), appended; then replaced by override.yaml
    assert cfg["rules_files"] == ["/o.yaml"]
    assert cfg["webserver"] == {"prometheus_metrics_enabled": True}  # whole map replaced
    assert cfg["priority"] == "error" and cfg["json_output"] is True
    assert [f.path.name for f in cfg.files] == [
        "falco.yaml", "a.yaml", "b.conf", "override.yaml", "addonly.yaml"]


def test_append_strategy_and_options_order(tmp_path):
    inc = write(tmp_path / "inc.yaml", "rules_files: [/inc.yaml]\npriority: notice\n")
    main = write(tmp_path / "falco.yaml", "rules_files: [/main.yaml]\n")
    cfg = load_config(main, [f"config_files[]={inc}", "rules_files[]=/cli.yaml",
                             "priority=warning"])
    assert cfg["rules_files"] == ["/main.yaml", "/inc.yaml", "/cli.yaml"]
    assert cfg["priority"] == "warning"


def test_recursive_include_of_main_is_fatal(tmp_path):
    main = tmp_path / "falco.yaml"
    write(main, f"config_files: [{main}]\n")
    with pytest.raises(ConfigError) as err:
        load_config(main)
    assert str(err.value) == (
        f"Config error: 'config_files' directive tried to recursively include main config "
        f"file: {main}."
    )


def test_config_files_in_an_include_is_fatal(tmp_path):
    inc = write(tmp_path / "inc.yaml", "config_files: [/x]\n")
    main = write(tmp_path / "falco.yaml", f"config_files: [{inc}]\n")
    with pytest.raises(ConfigError) as err:
        load_config(main)
    assert str(err.value) == (
        f"Config error: 'config_files' directive in included config file {inc}."
    )


def test_yaml_syntax_error(tmp_path):
    main = write(tmp_path / "falco.yaml", "a: [1, 2\n")
    with pytest.raises(ConfigError, match=r"^Cannot read config file \(.*falco.yaml\): "):
        load_config(main)


def test_schema_validation_is_a_warning_with_file_and_line(tmp_path):
    main = write(tmp_path / "falco.yaml", """\
        json_output: "true"
        webserver:
          enabled: true
          listen_port: eighty
        no_such_key: 1
        """)
    cfg = load_config(main)
    (status,) = [f.status for f in cfg.files]
    assert status.startswith("failed for <root>")
    assert f"({main}:" in status


def test_schema_accepts_weak_types_and_the_shipped_config():
    cfg = load_config(packaged_config_path(), ["json_output=true"])
    assert [f.status for f in cfg.files] == ["ok"]
    s = interpret(cfg)
    assert s.engine_kind == "modern_ebpf" and s.json_output is True
    assert s.plugins is None and s.load_plugins is None


def test_weakly_typed_scalars_pass(tmp_path):
    main = write(tmp_path / "falco.yaml", """\
        json_output: "yes"
        outputs_queue: {capacity: "10"}
        """)
    assert [f.status for f in load_config(main).files] == ["ok"]
