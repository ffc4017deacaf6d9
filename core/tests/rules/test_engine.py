"""End to end through the public API: load, select, evaluate, render (engine-api)."""

from __future__ import annotations

import ipaddress

import pytest
from pyfalco.priority import Priority
from pyfalco.rules import FieldCatalog

from .conftest import ev, load

RULE = """
- rule: {name}
  desc: test
  condition: {cond}
  output: "{output}"
  priority: {priority}
  tags: [{tags}]
"""


def rule(name: str = "r", cond: str = "evt.type=open", output: str = "out %proc.name",
         priority: str = "WARNING", tags: str = "") -> str:
    return RULE.format(name=name, cond=cond, output=output, priority=priority, tags=tags)


def matches(catalog: FieldCatalog, cond: str, event, **kw) -> bool:
    engine, res = load(catalog, rule(cond=cond))
    assert res.ok, res.as_text(True)
    return bool(engine.evaluator("syscall", **kw).process(event))


@pytest.mark.parametrize(("cond", "values", "expected"), [
    ("proc.name = cat", {"proc_name": "cat"}, True),
    ("proc.name = cat", {}, False),
    ("proc.name != cat", {}, False),  # absent: != is false
    ("not proc.name = cat", {}, True),
    ("proc.name != cat", {"proc_name": "dog"}, True),
    ("proc.name exists", {"proc_name": ""}, True),
    ("proc.name exists", {}, False),
    ("proc.name contains at", {"proc_name": "cat"}, True),
    ("proc.name icontains AT", {"proc_name": "cAt"}, True),
    ("proc.name startswith ca", {"proc_name": "cat"}, True),
    ("proc.name endswith at", {"proc_name": "cat"}, True),
    ("fd.name glob '/home/*/.ssh/*'", {"fd_name": "/home/u/.ssh/id"}, True),
    ("fd.name glob '/home/*'", {"fd_name": "/home/u/x/y"}, True),
    ("fd.name iglob '/HOME/*'", {"fd_name": "/home/u"}, True),
    ("fd.name glob 'a?[bc]'", {"fd_name": "axc"}, True),
    ("fd.name glob 'a[!bc]'", {"fd_name": "ab"}, False),
    ("proc.name regex 'c.t'", {"proc_name": "cat"}, True),
    ("proc.name regex 'a'", {"proc_name": "cat"}, False),
    ("proc.name in (cat, dog)", {"proc_name": "dog"}, True),
    ("proc.name in (cat, dog)", {"proc_name": "cow"}, False),
    ("proc.name intersects (cat)", {"proc_name": "cat"}, True),
    ("proc.name < 5", {"proc_name": "10"}, True),
    ("fd.num >= 0", {"fd_num": 3}, True),
    ("fd.num < 0", {"fd_num": 3}, False),
    ("fd.num = 3", {"fd_num": 3}, True),
    ("fd.num = \"3\"", {"fd_num": 3}, True),
    ("fd.num in (1, 2, 3)", {"fd_num": 3}, True),
    ("evt.rawres >= 0", {"evt_rawres": -1}, False),
    ("proc.duration <= 5000000000", {"proc_duration": 10}, True),
    ("evt.is_open_write = true", {"evt_is_open_write": True}, True),
    ("evt.is_open_write = false", {"evt_is_open_write": True}, False),
    ("fd.sport in (80, 443)", {"fd_sport": 443}, True),
    ("fd.sport = ssh", {"fd_sport": 22}, True),
    ("fd.sip = 10.0.0.1", {"fd_sip": ipaddress.ip_address("10.0.0.1")}, True),
    ("fd.snet in (\"10.0.0.0/8\", \"192.168.0.0/16\")",
     {"fd_snet": ipaddress.ip_address("10.1.2.3")}, True),
    ("fd.snet in (\"10.0.0.0/8\")", {"fd_snet": ipaddress.ip_address("11.1.2.3")}, False),
    ("fd.net = \"127.0.0.0/8\"", {"fd_net": [ipaddress.ip_address("1.2.3.4"),
                                             ipaddress.ip_address("127.0.0.1")]}, True),
    ("fd.ip != \"0.0.0.0\"", {"fd_ip": [ipaddress.ip_address("0.0.0.0"),
                                        ipaddress.ip_address("1.1.1.1")]}, False),
    ("fd.ip = \"1.1.1.1\"", {"fd_ip": [ipaddress.ip_address("0.0.0.0"),
                                       ipaddress.ip_address("1.1.1.1")]}, True),
    ("proc.aname = sshd", {"proc_aname": ["bash", "sshd", "init"]}, True),
    ("proc.aname = cron", {"proc_aname": ["bash", "sshd", "init"]}, False),
    ("proc.aname != bash", {"proc_aname": ["bash", "sshd"]}, True),
    ("proc.aname[1] = sshd", {"proc_aname": ["bash", "sshd", "init"]}, True),
    ("proc.aname[2] = sshd", {"proc_aname": ["bash", "sshd", "init"]}, False),
    ("evt.arg.flags contains O_RDWR", {"evt_arg": {"flags": "O_RDWR|O_CREAT"}}, True),
    ("evt.arg[flags] contains O_RDWR", {"evt_arg": {"flags": "O_RDWR|O_CREAT"}}, True),
    ("evt.arg.missing exists", {"evt_arg": {"flags": "x"}}, False),
    ("proc.env[HOME] = /root", {"proc_env": {"HOME": "/root"}}, True),
    ("fd.types in (file, ipv4)", {"fd_types": ["file", "ipv4"]}, True),
    ("fd.types in (file)", {"fd_types": ["file", "ipv4"]}, False),
    ("fd.types in (file)", {"fd_types": []}, True),
    ("fd.types intersects (file)", {"fd_types": ["file", "ipv4"]}, True),
    ("fd.name pmatch (/opt/dir)", {"fd_name": "/opt/dir/subdir/file.txt"}, True),
    ("fd.name pmatch (/opt/*/subdir)", {"fd_name": "/opt/dir/subdir/file.txt"}, True),
    ("fd.name pmatch (/opt/di?/subdir)", {"fd_name": "/opt/dir/subdir/file.txt"}, True),
    ("fd.name pmatch (/opt/dir2, /opt/di/subdir)", {"fd_name": "/opt/dir/subdir/f"}, False),
    ("fd.name pmatch (/var/run)", {"fd_name": "/var"}, False),
    ("proc.name startswith oneof (ca, c)", {"proc_name": "cat"}, False),
    ("proc.name startswith oneof (ca, d)", {"proc_name": "cat"}, True),
    ("proc.name startswith anyof (ca, c)", {"proc_name": "cat"}, True),
    ("proc.name startswith allof (ca, c)", {"proc_name": "cat"}, True),
    ("proc.name startswith allof ()", {"proc_name": "cat"}, False),
    ("proc.name = val(proc.pname)", {"proc_name": "a", "proc_pname": "a"}, True),
    ("proc.name = val(proc.pname)", {"proc_name": "a"}, False),
    ("tolower(proc.name) = cat", {"proc_name": "CaT"}, True),
    ("toupper(proc.name) = CAT", {"proc_name": "cat"}, True),
    ("basename(fd.name) = passwd", {"fd_name": "/etc/passwd"}, True),
    ("len(proc.name) = 3", {"proc_name": "cat"}, True),
    ("len(fd.types) > 1", {"fd_types": ["a", "b"]}, True),
    ("b64(proc.cmdline) = hello", {"proc_cmdline": "aGVsbG8="}, True),
    ("concat(proc.name, \"-\", proc.pname) = a-b", {"proc_name": "a", "proc_pname": "b"}, True),
    ("concat(proc.name, proc.pname) = ab", {"proc_name": "a"}, False),
    ("join(\"/\", (proc.name, \"x\", toupper(proc.pname))) = a/x/B",
     {"proc_name": "a", "proc_pname": "b"}, True),
    ("b64(proc.cmdline) = hello", {"proc_cmdline": "!!"}, False),
    ("evt.buffer bcontains 48545450", {"evt_buffer": b"GET / HTTP/1.1"}, True),
    ("evt.buffer bstartswith 474554", {"evt_buffer": b"GET / HTTP/1.1"}, True),
    ("evt.num = 1", {}, True),
    ("evt.source = syscall", {}, True),
])
def test_condition_semantics(catalog, cond, values, expected) -> None:
    assert matches(catalog, f"evt.type=open and ({cond})", ev("open", **values)) is expected


def test_only_indexed_rules_run(catalog) -> None:
    engine, res = load(catalog, rule("a", "evt.type in (open, openat)"),
                       rule("b", "evt.type = execve"), rule("c", "proc.name = x"))
    assert res.ok
    ev_ = engine.evaluator("syscall", rule_matching="all")
    assert ev_.event_types is None  # rule c has no evt.type restriction
    assert [m.rule.name for m in ev_.process(ev("open", proc_name="x"))] == ["a", "c"]
    assert [m.rule.name for m in ev_.process(ev("execve"))] == ["b"]
    first = engine.evaluator("syscall")
    assert [m.rule.name for m in first.process(ev("open", proc_name="x"))] == ["a"]


def test_event_types_of_source(catalog) -> None:
    engine, res = load(catalog, rule("a", "evt.type in (open, openat)"),
                       rule("b", "evt.type = execve and not proc.name = x"))
    assert engine.evaluator("syscall").event_types == frozenset({"open", "openat", "execve"})


def test_output_rendering(catalog) -> None:
    engine, res = load(catalog, rule(
        "r", "evt.type=open",
        "file=%fd.name name=%proc.names w=%5proc.name|%2proc.name| a=%proc.aname[1] "
        "low=%tolower(proc.name) n=%fd.num"))
    assert res.ok, res.as_text(True)
    match = engine.evaluator("syscall").process(ev("open", proc_name="CAT", fd_num=3,
                                                   proc_aname=["CAT", "sh"]))[0]
    e = ev("open", proc_name="CAT", fd_num=3, proc_aname=["CAT", "sh"])
    assert match.output(e) == "file=<NA> name=CATs w=CAT  |CA| a=sh low=cat n=3"
    fields = match.output_fields(e)
    assert fields["fd.name"] is None
    assert fields["fd.num"] == 3
    assert fields["proc.aname[1]"] == "sh"
    assert "tolower(proc.name)" not in fields
    assert fields["evt.time"] == e.ts


def test_append_output_and_extra_fields(catalog) -> None:
    engine, res = load(catalog, rule("r", "evt.type=open", "base", tags="t1, t2"),
                       rule("s", "evt.type=open", "other"))
    engine.set_append_output([
        {"match": {"tags": ["t1"]}, "extra_output": "pid=%fd.num",
         "extra_fields": [{"name_upper": "%toupper(proc.name)"}, "proc.name"]},
        {"match": {"rule": "nope"}, "extra_output": "never"},
    ])
    m = engine.evaluator("syscall", rule_matching="all").process(ev("open", proc_name="x"))
    by_name = {x.rule.name: x for x in m}
    e = ev("open", proc_name="x")
    assert by_name["r"].output(e) == "base pid=<NA>"
    assert by_name["s"].output(e) == "other"
    f = by_name["r"].output_fields(e)
    assert f["name_upper"] == "X" and f["proc.name"] == "x" and f["fd.num"] is None


@pytest.mark.parametrize("entry, error", [
    ({"extra_output": "verb=%ka.verb"}, True),  # every rule: the syscall rule cannot show it
    ({"match": {"source": "k8s_audit"}, "extra_output": "verb=%ka.verb"}, False),
    ({"extra_fields": [{"v": "%ka.verb"}]}, True),
    ({"extra_fields": ["ka.verb"]}, True),
    ({"match": {"rule": "other"}, "extra_output": "verb=%ka.verb"}, False),
])
def test_append_output_is_validated_with_the_rule_output_at_load(catalog, entry, error) -> None:
    """As Falco's rule compiler: the output validated at load is the rule's own output plus
    what append_output (and -p) add for that rule, and extra_fields' formats;
    LOAD_ERR_COMPILE_OUTPUT at the rule's output otherwise (not later, at the first alert)."""
    from pyfalco.rules import RulesContent, RulesEngine

    engine = RulesEngine(catalog)
    engine.set_append_output([entry])
    res = engine.load([RulesContent("rules.yaml", rule("r", "evt.type=open", "base"))])
    assert res.ok is not error, res.as_text(verbose=True)
    if error:
        text = res.as_text(verbose=True)
        assert "LOAD_ERR_COMPILE_OUTPUT" in text and "ka.verb" in text
        assert "rule 'r': (rules.yaml:1:2)" in text and "rule output: (rules.yaml:" in text


def test_append_output_unknown_field_skips_a_skip_if_unknown_filter_rule(catalog) -> None:
    from pyfalco.rules import RulesContent, RulesEngine

    engine = RulesEngine(catalog)
    engine.set_append_output([{"extra_output": "verb=%ka.verb"}])
    text = rule("r", "evt.type=open", "base") + "  skip-if-unknown-filter: true\n"
    res = engine.load([RulesContent("rules.yaml", text)])
    assert res.ok and "LOAD_UNKNOWN_FILTER" in res.as_text(verbose=True)
    assert [r.name for r in engine.rules()] == []


def test_selection_and_priority(catalog) -> None:
    engine, res = load(catalog, rule("net one", tags="network"), rule("file one", tags="file"),
                       rule("dbg", priority="debug"))
    names = lambda: sorted(r.rule.name for r in engine.evaluator(  # noqa: E731
        "syscall", rule_matching="all").process(ev("open")))
    assert names() == ["dbg", "file one", "net one"]
    engine.min_priority = Priority.INFORMATIONAL
    assert names() == ["file one", "net one"]
    engine.select(False, tag="network")
    assert names() == ["file one"]
    engine.select(False, rule="*")
    engine.select(True, rule="net*")
    assert names() == ["net one"]
    engine.select(True, rule="?ile one")  # only "*" is a wildcard
    assert names() == ["net one"]
    rules = {r.name: r for r in engine.rules()}
    assert rules["dbg"].priority is Priority.DEBUG
    assert rules["net one"].tags == ("network",)


def test_plugin_source_rules(catalog) -> None:
    engine, res = load(catalog, """
- rule: audit
  desc: d
  condition: ka.verb = create and ka.req.pod.containers.image intersects (nginx)
  output: "%ka.user.name %ka.req.pod.containers.image %evt.source"
  priority: notice
  source: k8s_audit
""")
    assert res.ok, res.as_text(True)
    evaluator = engine.evaluator("k8s_audit")
    assert evaluator.event_types is None
    e = ev("pluginevent", **{"ka.verb": "create", "ka.req.pod.containers.image": ["nginx", "x"],
                              "ka.user.name": "bob"})
    e.source = "k8s_audit"
    m = evaluator.process(e)
    assert m and m[0].output(e) == "bob (nginx,x) k8s_audit"
    assert m[0].output_fields(e)["ka.req.pod.containers.image"] == ["nginx", "x"]
    assert engine.evaluator("syscall").process(ev("open")) == []


def test_extractor_exception_is_a_missing_value(catalog) -> None:
    engine, res = load(catalog, rule("r", "evt.type=open and not proc.env[HOME] = x"))
    evaluator = engine.evaluator("syscall")
    e = ev("open", proc_env="not a dict")  # the extractor raises AttributeError
    assert [m.rule.name for m in evaluator.process(e)] == ["r"]
    assert evaluator.counters()["extraction_errors"] == 1


def test_plugin_requirements(catalog) -> None:
    text = """
- required_plugin_versions:
  - name: k8saudit
    version: 0.7.0
    alternatives:
      - name: k8saudit-eks
        version: 0.4.0
"""
    engine, res = load(catalog, text, plugin_versions={"k8saudit-eks": "0.5.1"})
    assert res.ok and engine.check_plugin_requirements() is None
    engine, res = load(catalog, text, plugin_versions={"k8saudit": "0.6.0"})
    assert engine.check_plugin_requirements() == (
        "Plugin 'k8saudit' version '0.6.0' is not compatible with required plugin version "
        "'0.7.0'")
    engine, res = load(catalog, text)
    assert engine.check_plugin_requirements() == (
        "Plugin requirement not satisfied, must load one of: k8saudit (>= 0.7.0), "
        "k8saudit-eks (>= 0.4.0)")


def test_evt_time_iso8601_uses_falco_offset_not_z(catalog) -> None:
    """Falco renders ``%evt.time.iso8601`` as ``...nnnnnnnnn+0000`` (falco-core.md §7.3)."""
    engine, res = load(catalog, rule(output="at %evt.time.iso8601"))
    assert res.ok, res.as_text(True)
    e = ev("open")  # ts = 1_700_000_000_123456789
    (m,) = engine.evaluator("syscall").process(e)
    assert m.output(e) == "at 2023-11-14T22:13:20.123456789+0000"
    assert m.output_fields(e, time_iso8601=True)["evt.time.iso8601"] == \
        "2023-11-14T22:13:20.123456789+0000"


def test_generated_render_matches_generic_and_falls_back_on_errors(catalog) -> None:
    """Each output format compiles once into a generated ``render``; a raising extractor sends
    the event to the guarded token-by-token path, which prints that field as ``<NA>``."""
    engine, res = load(catalog, rule(output="n=%proc.name w=%4fd.num|t=%fd.types a=%proc.aname[1]"
                                     " b=%evt.is_open_write"))
    assert res.ok, res.as_text(True)
    fmt = engine.rules()[0]
    ev_ok = ev("open", proc_name="cat", fd_num=3, fd_types=["file", "ipv4"],
               proc_aname=["cat", "sh"], evt_is_open_write=True)
    ev_raising = ev("open", proc_name="cat", proc_aname=5)  # len(5) raises in the extractor
    (m,) = engine.evaluator("syscall").process(ev_ok)
    fmt = m._format
    assert fmt.render(ev_ok) == fmt.render_generic(ev_ok) == \
        "n=cat w=3   |t=(file,ipv4) a=sh b=true"
    assert fmt.render(ev_raising) == fmt.render_generic(ev_raising) == \
        "n=cat w=<NA>|t=<NA> a=<NA> b=<NA>"


@pytest.mark.parametrize(("expr", "argv", "expected"), [
    ("getopt(fd.types, 't:n')[t]", ["-n", "-t", "x"], "x"),
    ("getopt(fd.types, 't:n')[t]", ["-ntvalue"], "value"),
    ("getopt(fd.types, 't:n')[t]", ["-t"], ""),  # missing value: empty, not absent
    ("getopt(fd.types, 't:n')[n]", ["-n"], "n"),
    ("getopt(fd.types, 't:n')[t]", ["--exec", "-t", "a", "-t", "b"], "b"),  # last wins
    ("getopt(fd.types, 't:n')[t]", ["file", "-t", "a"], "<NA>"),  # stops at a non-option
    ("getopt(fd.types, 't:n')[t]", ["--", "-t", "a"], "<NA>"),
    ("getopt(fd.types, 't:n')", ["-n", "-x", "-tv", "arg"], "(n,?,t,v)"),
])
def test_getopt_transformer(catalog, expr: str, argv: list[str], expected) -> None:
    engine, res = load(catalog, rule(cond="evt.type=open", output=f"%{expr}"))
    assert res.ok, res.as_text(True)
    e = ev("open", fd_types=argv)
    (m,) = engine.evaluator("syscall").process(e)
    assert m.output(e) == expected
    if "[" in expr and expected != "<NA>":
        assert matches(catalog, f"{expr} = '{expected}'", e)


@pytest.mark.parametrize(("expr", "message"), [
    ("getopt(fd.types, 't:')[tt]", "getopt() field argument must be a single option character"),
    ("getopt(proc.name, 't:')[t]", "getopt() first argument must be a list"),
    ("getopt(fd.types)[t]", "getopt() requires exactly 2 arguments: args list and optstring"),
    ("getopt(fd.types, fd.types)[t]",
     "getopt() second argument (optstring) must be a single value"),
])
def test_getopt_errors(catalog, expr: str, message: str) -> None:
    _, res = load(catalog, rule(cond=f"{expr} = x"))
    assert not res.ok and message in res.as_text(True)


def test_compile_error_inside_macro_points_at_the_macro(catalog) -> None:
    text = ("- macro: m\n"
            "  condition: >\n"
            "    proc.name = x and\n"
            "    proc.nope = y\n"
            "\n" + rule(cond="evt.type=open and m"))
    _, res = load(catalog, text)
    (err,) = res.files[0].errors
    assert "nonexistent field proc.nope" in err.message
    locs = [(loc.item_type, loc.item_name, loc.position.line) for loc in err.locations]
    assert ("macro", "m", 0) in locs
    assert locs[-2][0] == "macro condition"
    # the condition (line 1, 0-based) of macro m; the folded text puts the check on its line 1
    assert locs[-2][2] == 1
    assert locs[-1][0] == "condition expression" and locs[-1][2] == 1 + 1
    assert "proc.nope = y" in res.as_text(True)


def test_schema_validation_is_reported_not_fatal(catalog) -> None:
    """``-V`` JSON carries ``schema_valid``/``schema_warnings``; a schema finding (an unknown
    key, a wrong priority spelling) never fails the load. Weak typing: ``enabled: "no"`` is a
    boolean, as for valijson over yaml-cpp."""
    _, res = load(catalog, rule() + "  enabled: yes\n",
                  rule("s") + "  bogus_key: 1\n",
                  "- rule: t\n  desc: d\n  condition: evt.type=open\n  output: o\n"
                  "  priority: [x]\n")
    first, second, third = (f.as_json() for f in res.files)
    assert first["schema_valid"] is True and first["schema_warnings"] == []
    assert second["successful"] is True and second["schema_valid"] is False
    assert any(w.startswith("failed for <root>[0]: ") and "bogus_key" in w
               for w in second["schema_warnings"])
    assert third["schema_valid"] is False
    assert any(w.startswith("failed for <root>[0][priority]: ")
               for w in third["schema_warnings"])


def test_malformed_yaml_has_no_schema_result(catalog) -> None:
    _, res = load(catalog, "- rule: [unclosed\n")
    doc = res.files[0].as_json()
    assert not doc["successful"] and "schema_valid" not in doc


def test_rule_schema_is_shipped_in_the_rules_package() -> None:
    from pyfalco.rules import rule_schema

    schema = rule_schema()
    assert schema["type"] == "array"
    assert schema["definitions"]["FalcoRule"]["additionalProperties"] is False
