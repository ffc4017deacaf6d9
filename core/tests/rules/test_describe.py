"""``RulesEngine.describe``: Falco's ``describe_rule`` JSON (``-L``/``-l`` with json_output)."""

from __future__ import annotations

import pytest
from pyfalco.errors import PyfalcoError
from pyfalco.rules import FieldCatalog
from pyfalco.rules.describe import RuleNotLoaded, syscall_event_names
from pyfalco.rules.events import _table
from pyfalco.rules.parser import parse

from .conftest import load

RULES = """
- required_engine_version: 0.30.0
- required_plugin_versions:
  - name: k8saudit
    version: 0.1.0
    alternatives: [{name: k8saudit-eks, version: 0.2.0}]
  - name: json
    version: 0.7.0
- list: shells
  items: [bash, sh]
- list: more_shells
  items: [shells, zsh, "my shell"]
- list: never_used
  items: [x]
- macro: spawned
  condition: evt.type in (execve, execveat)
- macro: shell_proc
  condition: spawned and proc.name in (more_shells)
- macro: orphan
  condition: proc.pname = init
- rule: Shell spawned
  desc: a shell
  condition: shell_proc and not proc.pname in (shells, cron) and proc.aname[2] = x
  output: "shell %proc.name parent %proc.aname[2] %container.info"
  priority: WARNING
  tags: [shell, a_tag]
  exceptions:
   - name: by_name_and_dir
     fields: [proc.name, fd.name]
     comps: [=, startswith]
     values: [[a, /tmp]]
   - name: no_values
     fields: proc.cmdline
     comps: in
- rule: Not open
  desc: anything but open
  condition: proc.name = x and not evt.type = open
  output: "x"
  priority: INFO
  enabled: false
- rule: Audit create
  desc: k8s
  condition: ka.verb = create
  output: "%ka.user.name"
  priority: NOTICE
  source: k8s_audit
"""


@pytest.fixture
def engine(catalog: FieldCatalog):
    engine, res = load(catalog, RULES)
    assert res.ok, res.as_text(True)
    engine.set_plugins({"fakeaudit": ["k8s_audit"], "unrelated": ["other"]})
    return engine


def _rule(described: dict, name: str) -> dict:
    return next(r for r in described["rules"] if r["info"]["name"] == name)


def test_whole_set_keys_and_order(engine) -> None:
    d = engine.describe(None)
    assert list(d) == ["required_engine_version", "required_plugin_versions", "rules", "macros",
                       "lists"]
    assert d["required_engine_version"] == "0.30.0"
    assert d["required_plugin_versions"] == [
        {"name": "k8saudit", "version": "0.1.0",
         "alternatives": [{"name": "k8saudit-eks", "version": "0.2.0"}]},
        {"name": "json", "version": "0.7.0", "alternatives": []}]
    assert [r["info"]["name"] for r in d["rules"]] == ["Shell spawned", "Not open", "Audit create"]
    assert [m["info"]["name"] for m in d["macros"]] == ["spawned", "shell_proc", "orphan"]
    assert [x["info"]["name"] for x in d["lists"]] == ["shells", "more_shells", "never_used"]


def test_rule_info_and_details(engine) -> None:
    r = _rule(engine.describe(None), "Shell spawned")
    assert r["info"] == {
        "name": "Shell spawned",
        "condition": "shell_proc and not proc.pname in (shells, cron) and proc.aname[2] = x",
        "priority": "Warning",
        # as written: the compiler drops %container.info, the description does not
        "output": "shell %proc.name parent %proc.aname[2] %container.info",
        "description": "a shell", "enabled": True, "source": "syscall",
        "tags": ["a_tag", "shell"],
    }
    det = r["details"]
    assert list(det) == ["macros", "lists", "condition_operators", "condition_fields",
                         "output_fields", "exception_fields", "exception_names",
                         "exception_operators", "events", "condition_compiled",
                         "output_compiled", "plugins"]
    # macros and lists: those the condition as written names (not those reached through macros)
    assert det["macros"] == ["shell_proc"]
    assert det["lists"] == ["shells"]
    # operators and fields: of the compiled condition (macros resolved, exceptions added)
    assert det["condition_operators"] == ["=", "in", "startswith"]
    assert det["condition_fields"] == ["evt.type", "fd.name", "proc.aname[2]", "proc.name",
                                       "proc.pname"]
    assert det["output_fields"] == ["proc.name", "proc.aname[2]"]
    # an exception without values adds no field to the condition, but has a name and comps
    assert det["exception_fields"] == ["fd.name", "proc.name"]
    assert det["exception_names"] == ["by_name_and_dir", "no_values"]
    assert det["exception_operators"] == ["=", "in", "startswith"]
    assert det["events"] == ["asyncevent", "execve", "execveat"]
    assert det["condition_compiled"] == (
        "(((evt.type in (execve, execveat) and proc.name in (bash, sh, zsh, \"my shell\")) and "
        "not proc.pname in (bash, sh, cron) and proc.aname[2] = x) and not (proc.name = a and "
        "fd.name startswith /tmp))")
    assert det["output_compiled"] == "shell %proc.name parent %proc.aname[2]"
    assert det["plugins"] == []


def test_unrestricted_and_negated_event_types(engine) -> None:
    det = _rule(engine.describe(None), "Not open")["details"]
    assert _rule(engine.describe(None), "Not open")["info"]["enabled"] is False
    events = det["events"]
    assert events == sorted(events) and "open" not in events
    assert {"openat", "execve", "asyncevent", "container", "exit_group"} <= set(events)
    # the generic event's own name, and ppm_sc names libs maps onto another event, never show
    assert not {"syscall", "sched_process_exit", "fcntl64", "pread64"} & set(events)
    assert {"procexit", "fcntl", "pread", "_newselect"} <= set(events)


@pytest.mark.parametrize(("cond", "expected"), [
    ("evt.type = open", ["asyncevent", "open"]),
    ("evt.type in (open, syncfs)", ["asyncevent", "open", "syncfs"]),
    ("evt.type = open and evt.type = close", ["asyncevent"]),
    ("evt.type = open or proc.name = x", None),  # neutral check in an or: every type
    ("not (evt.type != open)", ["asyncevent", "open"]),
    ("not evt.type exists", ["asyncevent"]),
    # only evt.type restricts here (Falco's ppm codes ignore syscall.type and evt.num)
    ("syscall.type = open", None),
    ("evt.num = 0 and evt.type = open", ["asyncevent", "open"]),
    ("evt.type intersects (open)", None),
])
def test_event_names_follow_libs_ppm_codes(cond: str, expected: list[str] | None) -> None:
    names = syscall_event_names(parse(cond))
    if expected is None:
        universe = {n for n in _table()[0] if n != "syscall"}
        assert "openat" in names and len(names) > 300 and set(names) <= universe | {"asyncevent"}
    else:
        assert names == expected


def test_plugin_source_rule(engine) -> None:
    r = _rule(engine.describe(None), "Audit create")
    assert r["info"]["priority"] == "Notice" and r["info"]["source"] == "k8s_audit"
    det = r["details"]
    assert det["events"] == ["asyncevent", "pluginevent"]
    assert det["condition_fields"] == ["ka.verb"] and det["output_fields"] == ["ka.user.name"]
    # the plugin implementing the source; "unrelated" implements another source
    assert det["plugins"] == ["fakeaudit"]


def test_plugins_by_extracted_fields(catalog: FieldCatalog) -> None:
    engine, res = load(catalog, """
- rule: r
  desc: d
  condition: evt.type = open and proc.name = x
  output: "%proc.aname[1]"
  priority: INFO
""")
    assert res.ok, res.as_text(True)
    engine.set_plugins({"fakesys": []})  # extracts proc.* for syscall, implements no source
    assert engine.describe("r")["rules"][0]["details"]["plugins"] == ["fakesys"]
    engine.set_plugins({})
    assert engine.describe("r")["rules"][0]["details"]["plugins"] == []


def test_macros(engine) -> None:
    macros = {m["info"]["name"]: m for m in engine.describe(None)["macros"]}
    m = macros["shell_proc"]
    assert m["info"] == {"name": "shell_proc",
                         "condition": "spawned and proc.name in (more_shells)"}
    assert m["details"] == {
        "used": True, "macros": ["spawned"], "lists": ["more_shells"],
        "condition_operators": ["in"], "condition_fields": ["evt.type", "proc.name"],
        "events": ["asyncevent", "execve", "execveat"],
        "condition_compiled": "(evt.type in (execve, execveat) and proc.name in "
                              "(bash, sh, zsh, \"my shell\"))",
        "plugins": [],
    }
    assert macros["orphan"]["details"]["used"] is False
    assert len(macros["orphan"]["details"]["events"]) > 300  # no evt.type: every type


def test_lists(engine) -> None:
    lists = {x["info"]["name"]: x for x in engine.describe(None)["lists"]}
    assert lists["more_shells"] == {
        "info": {"name": "more_shells", "items": ["zsh", "my shell"]},
        "details": {"used": True, "lists": ["shells"],
                    "items_compiled": ["bash", "sh", "zsh", "my shell"], "plugins": []},
    }
    assert lists["shells"]["details"] == {"used": True, "lists": [],
                                          "items_compiled": ["bash", "sh"], "plugins": []}
    assert lists["never_used"]["details"]["used"] is False


def test_append_output_is_in_output_compiled(engine) -> None:
    engine.set_append_output([{"match": {"source": "syscall"}, "extra_output": "pid=%user.uid"}])
    det = engine.describe("Not open")["rules"][0]["details"]
    assert det["output_compiled"] == "x pid=%user.uid"
    assert det["output_fields"] == ["user.uid"]
    assert engine.describe("Not open")["rules"][0]["info"]["output"] == "x"


def test_single_rule_and_unknown_rule(engine, catalog: FieldCatalog) -> None:
    one = engine.describe("Audit create")
    assert list(one) == ["rules"] and len(one["rules"]) == 1
    assert one["rules"][0] == _rule(engine.describe(None), "Audit create")
    with pytest.raises(RuleNotLoaded, match='^Rule "nope" is not loaded$'):
        engine.describe("nope")
    assert issubclass(RuleNotLoaded, PyfalcoError)  # the app reports it as a runtime error
    # a rule of a source that is not loaded is not loaded either
    other, res = load(catalog, """
- rule: elsewhere
  desc: d
  condition: x.y = 1
  output: o
  priority: INFO
  source: not_loaded
""")
    assert res.ok
    with pytest.raises(RuleNotLoaded, match='Rule "elsewhere" is not loaded'):
        other.describe("elsewhere")
    assert other.describe(None)["rules"] == []
