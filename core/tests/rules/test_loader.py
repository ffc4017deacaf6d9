"""Rules files: reader, collector and compiler semantics with Falco's messages (§1)."""

from __future__ import annotations

import pytest
from pyfalco.rules.loader import quote_item, substitute_list

from .conftest import ev, load

HEAD = "- rule: r\n  desc: d\n  output: o\n  priority: info\n"


def rule(cond: str, name: str = "r", extra: str = "") -> str:
    return (f"- rule: {name}\n  desc: d\n  condition: {cond}\n  output: o\n  priority: info\n"
            + extra)


def errors(res) -> list[tuple[str, str]]:
    return [(m.code, m.message) for m in res.errors]


def warnings(res) -> list[tuple[str, str]]:
    return [(m.code, m.message) for m in res.warnings]


@pytest.mark.parametrize(("cond", "items", "expected"), [
    ("proc.name in (shells)", ["sh", "bash"], "proc.name in ( sh, bash )"),
    ("proc.name=shells", ["sh"], "proc.name= sh "),
    ("proc.name= shells or x", ["sh"], "proc.name= sh or x"),
    ("fd.name in (file_shells)", ["sh"], "fd.name in (file_shells)"),
    ("proc.name in (a, shells)", [], "proc.name in (a )"),
    ("proc.name in (shells, a)", [], "proc.name in (  a)"),
    ("x = '/shells'", ["sh"], "x = '/shells'"),
])
def test_list_substitution(cond, items, expected) -> None:
    assert substitute_list(cond, "shells", items)[0] == expected


def test_quote_item() -> None:
    assert quote_item("a b") == '"a b"'
    assert quote_item("ab") == "ab"
    assert quote_item("'a b'") == "'a b'"


def test_lists_macros_ordering(catalog) -> None:
    text = """
- list: inner
  items: [cat]
- list: outer
  items: [inner, dog, "my cmd"]
- rule: r
  desc: d
  condition: evt.type=open and proc.name in (outer) and later_macro
  output: o
  priority: info
- macro: later_macro
  condition: proc.pname exists
- list: outer
  items: [cow]
  override:
    items: append
"""
    engine, res = load(catalog, text)
    assert res.ok, res.as_text(True)
    r = engine.rules()[0]
    assert r.expanded_condition == 'evt.type=open and proc.name in ( cat, dog, "my cmd", cow ) ' \
                                   "and later_macro"
    assert r.compiled_condition == '(evt.type = open and proc.name in (cat, dog, "my cmd", cow) ' \
                                   "and proc.pname exists)"


def test_macro_cannot_use_a_later_macro(catalog) -> None:
    _, res = load(catalog, """
- macro: a
  condition: b
- macro: b
  condition: proc.name = x
""" + rule("evt.type=open and a"))
    assert errors(res) == [("LOAD_ERR_VALIDATE", "Undefined macro 'b' used in filter.")]


def test_textual_macro_append(catalog) -> None:
    engine, res = load(catalog, """
- macro: m
  condition: proc.name = a or proc.name = b
- macro: m
  condition: and proc.pname = c
  override:
    condition: append
""" + rule("evt.type=open and m"))
    assert res.ok
    assert engine.rules()[0].compiled_condition == \
        "(evt.type = open and (proc.name = a or (proc.name = b and proc.pname = c)))"


def test_rule_override_append_and_replace(catalog) -> None:
    engine, res = load(catalog, rule("evt.type=open", extra="  tags: [a]\n") + """
- rule: r
  condition: and proc.name = x
  tags: [b]
  priority: error
  override:
    condition: append
    tags: append
    priority: replace
""")
    assert res.ok, res.as_text(True)
    r = engine.rules()[0]
    assert r.condition == "evt.type=open and proc.name = x"
    assert r.tags == ("a", "b")
    assert r.priority.name == "ERROR"


@pytest.mark.parametrize(("extra", "message"), [
    ("  override:\n    source: append\n  source: syscall\n",
     "Key 'source' cannot be appended to, use 'replace' instead"),
    ("  override:\n    condition: merge\n  condition: x\n",
     "Invalid override operation for key 'condition': 'merge'. Allowed values are: append "
     "replace "),
    ("  override:\n    condition: append\n",
     "An append override for 'condition' was specified but 'condition' is not defined"),
    ("  override:\n    output: replace\n  output: x\n  desc: y\n",
     "Unexpected key 'desc': no corresponding entry under 'override' is defined."),
    ("  append: true\n  override:\n    condition: append\n  condition: x\n",
     "Keys 'override' and 'append: true' cannot be used together. Add an 'append' entry "
     "(e.g. 'condition: append') under 'override' instead."),
])
def test_override_errors(catalog, extra, message) -> None:
    _, res = load(catalog, rule("evt.type=open") + "- rule: r\n" + extra)
    assert errors(res) == [("LOAD_ERR_YAML_VALIDATE", message)]


def test_replace_unknown_rule(catalog) -> None:
    _, res = load(catalog, "- rule: nope\n  priority: info\n  override:\n    priority: replace\n")
    assert errors(res) == [("LOAD_ERR_VALIDATE", "An 'override.priority: replace' to a rule was "
                            "requested but no rule by that name already exists")]


def test_deprecated_append_and_enable_only(catalog) -> None:
    engine, res = load(catalog, rule("evt.type=open") + """
- rule: r
  condition: and proc.name = x
  append: true
- rule: r
  enabled: false
""")
    assert res.ok
    codes = [c for c, _ in warnings(res)]
    assert codes == ["LOAD_DEPRECATED_ITEM", "LOAD_DEPRECATED_ITEM"]
    r = engine.rules()[0]
    assert r.enabled is False and r.condition == "evt.type=open and proc.name = x"
    assert engine.evaluator("syscall").process(ev("open", proc_name="x")) == []


def test_exceptions_build_conditions(catalog) -> None:
    engine, res = load(catalog, rule("evt.type=open", extra="""  exceptions:
    - name: names
      fields: [proc.name, fd.name]
      comps: [=, startswith]
      values:
        - [cat, /etc]
        - [dog, /tmp]
    - name: single
      fields: proc.cmdline
      values: [cat /dev/null, "x"]
    - name: lists
      fields: [proc.name, proc.pname]
      comps: [in, "startswith oneof"]
      values:
        - [[a, "b c"], "(sh, bash)"]
"""))
    assert res.ok, res.as_text(True)
    assert engine.rules()[0].compiled_condition == (
        '(evt.type = open and not ((proc.name = cat and fd.name startswith /etc) or '
        '(proc.name = dog and fd.name startswith /tmp)) and not proc.cmdline in '
        '("cat /dev/null", x) and not (proc.name in (a, "b c") and proc.pname startswith oneof '
        '(sh, bash)))')
    ev_ = engine.evaluator("syscall")
    assert ev_.process(ev("open", proc_name="cat", fd_name="/etc/x")) == []
    assert ev_.process(ev("open", proc_name="cat", fd_name="/var/x"))


@pytest.mark.parametrize(("exceptions", "message"), [
    ("    - name: e\n      fields: [proc.name]\n      comps: [=, =]\n",
     "Fields and comps lists must have equal length"),
    ("    - name: e\n      fields: [proc.name]\n      comps: [in oneof]\n",
     "'in oneof' is not a supported comparison operator"),
    ("    - name: e\n      fields: proc.name\n      comps: =\n",
     "When fields is a single value, comps must be one of (in, pmatch, intersects) or a "
     "modifier operator (e.g. startswith oneof)"),
    ("    - name: e\n      fields: [proc.nope]\n", "'proc.nope' is not a supported filter field"),
    ("    - name: e\n      fields: [proc.name]\n      values: [[a, b]]\n",
     "Fields and values lists must have equal length"),
])
def test_exception_errors(catalog, exceptions, message) -> None:
    _, res = load(catalog, rule("evt.type=open", extra="  exceptions:\n" + exceptions))
    assert errors(res) == [("LOAD_ERR_VALIDATE", message)]
    assert res.errors[0].item_type == "exception" and res.errors[0].item_name == "e"


def test_engine_version_forms(catalog) -> None:
    assert load(catalog, "- required_engine_version: 10\n")[1].ok
    assert load(catalog, "- required_engine_version: 0.57.0\n")[1].ok
    _, res = load(catalog, "- required_engine_version: 0.99.0\n")
    assert errors(res) == [("LOAD_ERR_VALIDATE", "Rules require engine version 0.99.0, but "
                            "engine version is 0.63.0")]
    _, res = load(catalog, "- required_engine_version: 1.0.0\n")
    assert not res.ok


def test_warnings(catalog) -> None:
    _, res = load(catalog, """
- list: "bad,name"
  items: []
- macro: 9bad
  condition: proc.name = x
- macro: unused
  condition: proc.name = x
- rule: r
  desc: d
  condition: evt.type = open and proc.name = proc.pname and ka.user.name = x
  output: o
  priority: info
  source: k8s_audit_x
  colour: blue
- something: else
- rule: broad
  desc: d
  condition: proc.name = x
  output: o
  priority: info
""")
    assert res.ok, res.as_text(True)
    got = warnings(res)
    assert ("LOAD_INVALID_LIST_NAME", "List has an invalid name. List names should match a "
            "regular expression: ([^()\"'[:space:]=,]+)") in got
    assert ("LOAD_INVALID_MACRO_NAME", "Macro has an invalid name. Macro names should match a "
            "regular expression: ([a-zA-Z]+[a-zA-Z0-9_]*)") in got
    assert ("LOAD_UNKNOWN_KEY", "Unknown key 'colour'. The key will be ignored.") in got
    assert ("LOAD_UNKNOWN_SOURCE", "Unknown source k8s_audit_x, skipping") in got
    assert ("LOAD_UNKNOWN_ITEM", "Unknown top level item") in got
    assert ("LOAD_UNUSED_MACRO", "Macro not referred to by any other rule/macro") in got
    assert ("LOAD_UNUSED_LIST", "List not referred to by any other rule/macro") in got
    assert ("LOAD_NO_EVTTYPE", "Rule matches too many evt.type values. This has a significant "
            "performance penalty.") in got


def test_compile_warnings(catalog) -> None:
    _, res = load(catalog, rule("evt.type = open and proc.name = proc.pname and "
                                "proc.name regex '^abc$'"))
    got = warnings(res)
    assert ("LOAD_COMPILE_CONDITION", "'proc.pname' may be a valid field misused as a const "
            "string value") in got
    assert ("LOAD_COMPILE_CONDITION", "regex check with '^abc$' may be optimized with simpler "
            "operators such as '=', 'contains', 'startswith', 'endswith'") in got


@pytest.mark.parametrize(("cond", "message"), [
    ("evt.type = nope", "unknown event type nope"),
    ("evt.type = open and fd.num = abc", "abc is not a valid number"),
    ("evt.type = open and evt.is_open_write = yes",
     "filter error: unrecognized boolean value yes"),
    ("evt.type = open and fd.num contains 1", "'contains' operator not supported for numeric "
     "filters"),
    ("evt.type = open and fd.types = a", "'=' operator not supported list filters"),
    ("evt.type = open and fd.sip startswith 1", "'startswith' operator not supported for ip "
     "address and network filters"),
    ("evt.type = open and proc.name bcontains 41", "'bcontains' operator not supported for "
     "string filters"),
    ("evt.type = open and proc.name = val(fd.num)", "field 'proc.name' has type 'CHARBUF' "
     "while the right-hand side field 'fd.num' has incompatible type 'INT64'"),
    ("evt.type = open and tolower(fd.num) = 1", "can't add field transformer: type 'INT64' is "
     "not supported by 'tolower' transformer applied on field 'fd.num'"),
    ("evt.type = open and tolower(proc.aname) = 1", "field 'proc.aname' does not support "
     "transformers"),
    ("evt.type = open and proc.name pmatch val(proc.pname)", "operator 'PMATCH' doesn't "
     "support right-hand side fields"),
    ("evt.type = open and fd.snet = 10.0.0.0/33", "invalid netmask 33"),
    ("evt.type = open and proc.nobody = 1", "filter_check called with nonexistent field "
     "proc.nobody"),
    ("evt.type = open and evt.buffer bcontains 4", "filter error: bcontains and bstartswith "
     "operator support hex strings only"),
])
def test_compile_errors(catalog, cond, message) -> None:
    _, res = load(catalog, rule(cond))
    assert errors(res) == [("LOAD_ERR_COMPILE_CONDITION", message)]


def test_skip_if_unknown_filter(catalog) -> None:
    engine, res = load(catalog, rule("evt.type = open and proc.nobody = 1",
                                     extra="  skip-if-unknown-filter: true\n"))
    assert res.ok
    assert warnings(res) == [("LOAD_UNKNOWN_FILTER",
                              "filter_check called with nonexistent field proc.nobody")]
    assert engine.rules() == []


def test_output_errors(catalog) -> None:
    _, res = load(catalog, "- rule: r\n  desc: d\n  condition: evt.type=open\n  "
                  "output: 'ends with %'\n  priority: info\n")
    assert errors(res) == [("LOAD_ERR_COMPILE_OUTPUT",
                            "invalid formatting syntax: formatting cannot end with a %")]
    _, res = load(catalog, "- rule: r\n  desc: d\n  condition: evt.type=open\n  "
                  "output: 'ip %fd.ip'\n  priority: info\n")
    assert errors(res) == [("LOAD_ERR_COMPILE_OUTPUT",
                            "fd.ip is filter only and cannot be used as a display field")]


def test_result_forms(catalog) -> None:
    _, res = load(catalog, rule("evt.type=open and proc.name=cat foo"))
    assert res.as_text() == ("rules0.yaml: Invalid\n 1 errors: [LOAD_ERR_COMPILE_CONDITION "
                             "(Error compiling condition)]")
    verbose = res.as_text(verbose=True)
    assert "evt.type=open and proc.name=cat foo\n" + " " * 32 + "^" in verbose
    err = res.as_json()["falco_load_results"][0]["errors"][0]
    assert err["codedesc"] == "Error compiling condition"
    assert err["message"] == "unexpected token after 'cat', expecting 'or', 'and'"
    locs = err["context"]["locations"]
    assert [x["item_type"] for x in locs] == ["rules content", "rule", "rule condition",
                                              "condition expression"]
    assert locs[1]["item_name"] == "r" and locs[1]["position"]["line"] == 0
    assert locs[3]["position"]["name"] == '"evt.type=open and..."'


def test_yaml_errors(catalog) -> None:
    _, res = load(catalog, "this : is : not : yaml")
    assert errors(res) == [("LOAD_ERR_YAML_PARSE",
                            "yaml-cpp: error at line 1, column 11: illegal map value")]
    _, res = load(catalog, "- rule: r\n  desc: d\n  condition: evt.type=open\n  output: o\n"
                  "  priority: loud\n")
    assert errors(res) == [("LOAD_ERR_YAML_VALIDATE", "Invalid priority")]
    _, res = load(catalog, "- list: l\n  items: 3\n")
    assert errors(res) == [("LOAD_ERR_YAML_VALIDATE", "Value is not a sequence")]
    _, res = load(catalog, rule("evt.type=open", extra="  enabled: maybe\n"))
    assert errors(res) == [("LOAD_ERR_YAML_VALIDATE", "Can't decode YAML scalar value")]


def test_integer_list_items_stay_text(catalog) -> None:
    engine, res = load(catalog, """
- list: ports
  items: [80, 0443]
""" + rule("evt.type=open and fd.sport in (ports) and proc.name in (ports)"))
    assert res.ok, res.as_text(True)
    ev_ = engine.evaluator("syscall")
    assert ev_.process(ev("open", fd_sport=443, proc_name="0443"))
    assert not ev_.process(ev("open", fd_sport=443, proc_name="443"))
