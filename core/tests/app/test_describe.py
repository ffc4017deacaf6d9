"""``-L``/``-l`` (and ``-V`` with them) through the app with the real rules engine: Falco's
``describe_rule`` JSON, and its runtime error for a rule that is not loaded."""

from __future__ import annotations

import json

import pytest
from pyfalco.app import actions

from .fakes import CounterPlugin

#: the real ``pyfalco.rules`` lookup (the ``app`` fixture swaps in the fakes)
REAL_RULES_API = actions._rules_api

RULES = """\
- required_engine_version: 0.26.0
- list: small
  items: [1, 2]
- macro: counted
  condition: a.n in (small)
- rule: count a
  desc: counts a events, with a description long enough to be wrapped over two lines of the table
  condition: counted and evt.num > 0
  output: "n=%a.n other=%b.n"
  priority: WARNING
  source: a
  tags: [t1]
- rule: count b
  desc: b
  condition: b.n = 1
  output: "n=%b.n"
  priority: DEBUG
  source: b
"""


@pytest.fixture
def two(app):
    app.monkeypatch.setattr(actions, "_rules_api", REAL_RULES_API)
    app.plugins.extend([CounterPlugin("pa", "a", 101), CounterPlugin("pb", "b", 102)])
    app.config()
    app.file("rules.yaml", RULES)
    return app


def cli(app, *args):
    return app.run("-c", str(app.tmp_path / "falco.yaml"), "-r", str(app.tmp_path / "rules.yaml"),
                   *args)


def test_describe_all_json(two) -> None:
    r = cli(two, "-L", "-o", "json_output=true")
    assert r.code == 0, r.err
    assert r.out.startswith('{"required_engine_version":"0.26.0","required_plugin_versions":[],')
    d = json.loads(r.out)  # one compact line, as nlohmann's dump()
    assert list(d) == ["required_engine_version", "required_plugin_versions", "rules", "macros",
                       "lists"]
    assert d["required_engine_version"] == "0.26.0" and d["required_plugin_versions"] == []
    a = d["rules"][0]
    assert a["info"] == {"name": "count a", "condition": "counted and evt.num > 0",
                         "priority": "Warning", "output": "n=%a.n other=%b.n",
                         "description": "counts a events, with a description long enough to "
                                        "be wrapped over two lines of the table",
                         "enabled": True, "source": "a", "tags": ["t1"]}
    assert a["details"]["macros"] == ["counted"] and a["details"]["lists"] == []
    assert a["details"]["condition_fields"] == ["a.n", "evt.num"]
    assert a["details"]["condition_operators"] == [">", "in"]
    assert a["details"]["output_fields"] == ["a.n", "b.n"]
    assert a["details"]["events"] == ["asyncevent", "pluginevent"]
    assert a["details"]["condition_compiled"] == "(a.n in (1, 2) and evt.num > 0)"
    # pa implements source a; pb's field b.n (extractable from every source) is in the output
    assert a["details"]["plugins"] == ["pa", "pb"]
    assert d["rules"][1]["details"]["plugins"] == ["pb"]
    assert d["macros"][0]["details"]["lists"] == ["small"]
    assert d["lists"][0]["details"]["items_compiled"] == ["1", "2"]


def test_describe_one_rule_json_and_text(two) -> None:
    r = cli(two, "-l", "count b", "-o", "json_output=true")
    assert r.code == 0 and [x["info"]["name"] for x in json.loads(r.out)["rules"]] == ["count b"]
    r = cli(two, "-l", "count a")
    lines = r.out.splitlines()
    assert r.code == 0 and lines[0] == f"{'Rule':<50} Description"
    assert lines[2].startswith(f"{'count a':<50} counts a events")
    assert lines[3].startswith(" " * 51) and len(lines) == 5  # wrapped, then a blank line


@pytest.mark.parametrize("json_output", ["true", "false"])
def test_unknown_rule_is_a_runtime_error(two, json_output: str) -> None:
    r = cli(two, "-l", "nope", "-o", f"json_output={json_output}")
    assert r.code == 1 and r.out == ""
    assert 'Runtime error: Rule "nope" is not loaded. Exiting.' in r.err


def test_validate_with_describe(two) -> None:
    rules = str(two.tmp_path / "rules.yaml")
    r = two.run("-c", str(two.tmp_path / "falco.yaml"), "-V", rules, "-L", "-o",
                "json_output=true")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert list(doc) == ["falco_load_results", "falco_describe_results"]
    assert doc["falco_load_results"][0]["successful"] is True
    assert [x["info"]["name"] for x in doc["falco_describe_results"]["rules"]] == [
        "count a", "count b"]
    r = two.run("-c", str(two.tmp_path / "falco.yaml"), "-V", rules, "-l", "count b")
    assert r.code == 0
    assert r.out == (f"{rules}: Ok\n\n{'Rule':<50} Description\n{'----':<50} -----------\n"
                     f"{'count b':<50} b\n\n")
    # without -L/-l, or when validation fails, no description
    r = two.run("-c", str(two.tmp_path / "falco.yaml"), "-V", rules, "-o", "json_output=true")
    assert list(json.loads(r.out)) == ["falco_load_results"]
    bad = two.file("bad.yaml", "- rule: x\n  desc: d\n  condition: nofield.x = 1\n"
                               "  output: o\n  priority: INFO\n  source: a\n")
    r = two.run("-c", str(two.tmp_path / "falco.yaml"), "-V", str(bad), "-L", "-o",
                "json_output=true")
    assert r.code == 1 and list(json.loads(r.out)) == ["falco_load_results"]
