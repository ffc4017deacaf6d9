"""Generated code and the tree interpreter agree on random conditions and events (hypothesis).

Conditions are drawn from the grammar over a small typed field set (every operator the field's
type allows, negation, nesting, fields used twice so the per-event cache is exercised, missing
values); each is compiled once and both evaluators run on random events.
"""

from __future__ import annotations

import ipaddress

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyfalco.rules import FieldCatalog
from pyfalco.rules.codegen import (
    KeyedDispatch,
    compile_dispatch,
    compile_rule,
    fold_event_type,
    key_operands,
)
from pyfalco.rules.compile import ConditionCompiler, IAnd, ICheck, INot
from pyfalco.rules.interp import evaluate
from pyfalco.rules.parser import parse

from .conftest import SYSCALL_FIELDS, FakeEvent

WORDS = ["cat", "bash", "sh", "/etc/passwd", "/tmp/x y", "CAT", "", "a*", "/etc"]
STRING_VALUES = ["cat", "bash", "/etc/passwd", "/tmp/x y", "Cat", "", "/etc/shadow", "sshd"]
PATHS = ["/etc/passwd", "/etc/shadow", "/tmp/a", "/home/u/.ssh/id", "/etc"]
IPS = ["10.0.0.1", "192.168.1.1", "127.0.0.1", "8.8.8.8"]

STRING_OPS = ["=", "!=", "contains", "icontains", "startswith", "endswith", "glob", "iglob",
              "in", "intersects", "exists", "pmatch", "<", ">="]
NUM_OPS = ["=", "!=", "<", "<=", ">", ">=", "in", "exists"]

CATALOG = FieldCatalog.from_tables([SYSCALL_FIELDS])
FIELDS = CATALOG.fields("syscall")


def _quote(v: str) -> str:
    return f'"{v}"' if (not v or " " in v or "*" in v) else v


@st.composite
def string_check(draw) -> str:
    field = draw(st.sampled_from(["proc.name", "proc.pname", "fd.name", "proc.aname",
                                  "proc.aname[1]", "tolower(proc.name)", "evt.type"]))
    op = draw(st.sampled_from(STRING_OPS))
    if field == "evt.type":
        op = draw(st.sampled_from(["=", "!=", "in", "exists"]))
    if op == "exists":
        return f"{field} exists"
    if op in ("<", ">="):
        return f"{field} {op} {draw(st.integers(0, 9))}"
    if op in ("in", "intersects", "pmatch"):
        pool = PATHS if op == "pmatch" else (["open", "execve", "connect"]
                                              if field == "evt.type" else WORDS)
        items = draw(st.lists(st.sampled_from(pool), max_size=3))
        return f"{field} {op} ({', '.join(_quote(i) for i in items)})"
    if field == "evt.type":
        return f"{field} {op} {draw(st.sampled_from(['open', 'execve']))}"
    if draw(st.booleans()) and op in ("=", "!=", "contains") and field in ("proc.name",
                                                                           "proc.pname"):
        return f"{field} {op} val(proc.pname)"
    mod = draw(st.sampled_from(["", "", "oneof", "anyof", "allof"]))
    if mod and not field.startswith("proc.aname"):
        items = draw(st.lists(st.sampled_from(WORDS), max_size=3))
        return f"{field} {op} {mod} ({', '.join(_quote(i) for i in items)})"
    return f"{field} {op} {_quote(draw(st.sampled_from(WORDS)))}"


@st.composite
def other_check(draw) -> str:
    kind = draw(st.sampled_from(["num", "bool", "ip", "net", "list", "len"]))
    if kind == "num":
        op = draw(st.sampled_from(NUM_OPS))
        if op == "exists":
            return "fd.num exists"
        if op == "in":
            return f"fd.num in ({', '.join(str(x) for x in draw(st.lists(st.integers(-2, 5), max_size=3)))})"  # noqa: E501
        return f"fd.num {op} {draw(st.integers(-2, 5))}"
    if kind == "bool":
        return f"evt.is_open_write {draw(st.sampled_from(['=', '!=']))} " \
               f"{draw(st.sampled_from(['true', 'false']))}"
    if kind == "ip":
        return f"fd.sip {draw(st.sampled_from(['=', '!=']))} {draw(st.sampled_from(IPS))}"
    if kind == "net":
        op = draw(st.sampled_from(["=", "!=", "in"]))
        net = draw(st.sampled_from(['"10.0.0.0/8"', '"127.0.0.0/8"', '"192.168.0.0/16"']))
        return f"fd.snet {op} ({net})" if op == "in" else f"fd.snet {op} {net}"
    if kind == "len":
        return f"len(proc.name) {draw(st.sampled_from(['=', '>', '<']))} " \
               f"{draw(st.integers(0, 5))}"
    op = draw(st.sampled_from(["in", "intersects", "exists"]))
    if op == "exists":
        return "fd.types exists"
    items = draw(st.lists(st.sampled_from(["file", "ipv4", "pipe"]), max_size=3))
    return f"fd.types {op} ({', '.join(items)})"


def conditions() -> st.SearchStrategy[str]:
    leaf = st.one_of(string_check(), other_check())
    return st.recursive(
        leaf,
        lambda kids: st.one_of(
            st.tuples(kids, st.sampled_from(["and", "or"]), kids).map(
                lambda t: f"({t[0]} {t[1]} {t[2]})"),
            kids.map(lambda c: f"not {c}"),
        ),
        max_leaves=8,
    )


@st.composite
def events(draw) -> FakeEvent:
    values = {}

    def maybe(name, strategy):
        if draw(st.booleans()):
            values[name] = draw(strategy)

    maybe("proc.name", st.sampled_from(STRING_VALUES))
    maybe("proc.pname", st.sampled_from(STRING_VALUES))
    maybe("fd.name", st.sampled_from(PATHS + ["", "a b"]))
    maybe("proc.aname", st.lists(st.sampled_from(STRING_VALUES), max_size=3))
    maybe("fd.num", st.integers(-3, 6))
    maybe("evt.is_open_write", st.booleans())
    maybe("fd.sip", st.sampled_from(IPS).map(ipaddress.ip_address))
    maybe("fd.snet", st.sampled_from(IPS).map(ipaddress.ip_address))
    maybe("fd.types", st.lists(st.sampled_from(["file", "ipv4", "pipe"]), max_size=3))
    etype = draw(st.sampled_from(["open", "execve", "connect"]))
    return FakeEvent(etype, **values)


@settings(max_examples=400, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(cond=conditions(), evs=st.lists(events(), min_size=1, max_size=6))
def test_codegen_matches_interpreter(cond: str, evs: list[FakeEvent]) -> None:
    ir = ConditionCompiler(FIELDS).compile(parse(cond))
    fn, source = compile_rule(ir)
    for e in evs:
        assert fn(e) == evaluate(ir, e), (cond, e.values, source)


@settings(max_examples=150, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(conds=st.lists(conditions(), min_size=1, max_size=4),
       evs=st.lists(events(), min_size=1, max_size=4), first=st.booleans())
def test_dispatch_matches_interpreter(conds: list[str], evs: list[FakeEvent],
                                      first: bool) -> None:
    """The per-event-type function (shared field cache, evt.type checks decided for the type)
    returns the same matches as interpreting each rule in order."""
    assert_dispatch_matches_interpreter(conds, evs, first)


def assert_dispatch_matches_interpreter(conds: list[str], evs: list[FakeEvent],
                                        first: bool) -> None:
    irs = [ConditionCompiler(FIELDS).compile(parse(c)) for c in conds]
    spec = FIELDS.get("evt.type")
    for e in evs:
        folded = [(fold_event_type(ir, e.type, spec), i) for i, ir in enumerate(irs)]
        fn, source = compile_dispatch(folded, first, lambda i, ev: evaluate(irs[i], ev))
        expected = [i for i, ir in enumerate(irs) if evaluate(ir, e)]
        if first:
            expected = expected[:1]
        assert fn(e) == expected, (conds, e.values, source)


@st.composite
def rules_sharing_prefixes(draw) -> list[str]:
    """Consecutive rules built from a few shared leading operands, as rules files write them
    (``kevt and pod and kcreate and ...``): exercises the shared-prefix blocks."""
    pool = draw(st.lists(conditions(), min_size=1, max_size=3))
    out = []
    for _ in range(draw(st.integers(2, 6))):
        prefix = draw(st.lists(st.sampled_from(pool), max_size=3))
        tail = draw(st.lists(conditions(), max_size=2))
        out.append(" and ".join(f"({c})" for c in prefix + tail) or "proc.name exists")
    return out


@settings(max_examples=150, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(conds=rules_sharing_prefixes(), evs=st.lists(events(), min_size=1, max_size=4),
       first=st.booleans())
def test_dispatch_with_shared_prefixes_matches_interpreter(
        conds: list[str], evs: list[FakeEvent], first: bool) -> None:
    assert_dispatch_matches_interpreter(conds, evs, first)


def test_shared_prefix_is_evaluated_once_and_a_raising_one_falls_back_in_order() -> None:
    calls = []

    class Boom(Exception):
        pass

    def compile_with(extract):
        spec = FIELDS.get("proc.name")
        irs = [ConditionCompiler(FIELDS).compile(parse(c)) for c in (
            "proc.name = cat and fd.num = 1", "proc.name = cat and fd.num = 2",
            "proc.name = cat", "fd.num = 3")]
        for ir in irs:
            for node in (ir.children if hasattr(ir, "children") else [ir]):
                if getattr(node, "left", None) is not None and node.left.spec is spec:
                    node.left.fn = extract
        return irs

    def counting(evt):
        calls.append(1)
        return evt.values.get("proc.name")

    irs = compile_with(counting)
    fn, source = compile_dispatch([(ir, i) for i, ir in enumerate(irs)], False,
                                  lambda i, ev: evaluate(irs[i], ev))
    assert source.count("== 'cat'") == 1  # one shared test for the first three rules
    assert fn(FakeEvent("open", **{"proc.name": "cat", "fd.num": 2})) == [1, 2]
    assert len(calls) == 1

    def boom(evt):
        raise Boom

    irs = compile_with(boom)
    fallen: list[int] = []

    def fallback(i, ev):
        fallen.append(i)
        return i == 1

    fn, _ = compile_dispatch([(ir, i) for i, ir in enumerate(irs)], True, fallback)
    assert fn(FakeEvent("open", **{"fd.num": 3})) == [1]
    assert fallen == [0, 1]  # in rule order, stopping at the first match


# -- keyed dispatch (plugin sources): specialized per value of the key fields ----------------

KEY_CHECKS = ["proc.name = cat", "proc.name in (cat, bash)", "proc.name != sshd",
              "fd.num = 1", "fd.num in (1, 2)", "not proc.name = bash", "fd.num != 3"]


@st.composite
def keyed_rules(draw) -> list[str]:
    """Rules whose leading operands test a few scalar fields against constants (``kevt and
    kcreate and pod ...``), so that key_operands finds key fields."""
    out = []
    for _ in range(draw(st.integers(2, 6))):
        head = draw(st.lists(st.sampled_from(KEY_CHECKS), min_size=1, max_size=3))
        tail = draw(st.lists(conditions(), max_size=2))
        out.append(" and ".join(f"({c})" for c in head + tail))
    return out


def assert_keyed_matches_interpreter(conds: list[str], evs: list[FakeEvent], first: bool,
                                     max_specialized: int | None = None) -> KeyedDispatch:
    irs = [ConditionCompiler(FIELDS).compile(parse(c)) for c in conds]
    # the chosen key fields, or (too few rules share one) the scalar fields of the first rule:
    # any field is a valid key, key_operands only picks the ones worth it
    tops = irs[0].children if isinstance(irs[0], IAnd) else [irs[0]]
    keys = key_operands(irs) or [
        n.left for n in (t.child if isinstance(t, INot) else t for t in tops)
        if isinstance(n, ICheck) and not n.left.is_list and not n.left.match][:2]
    assert keys, conds

    def fallback(i: int, ev: FakeEvent) -> bool:
        return evaluate(irs[i], ev)

    generic, _ = compile_dispatch([(ir, i) for i, ir in enumerate(irs)], first, fallback)
    keyed = KeyedDispatch([(ir, i) for i, ir in enumerate(irs)], first, fallback, keys, generic)
    if max_specialized is not None:
        keyed.MAX_SPECIALIZED = max_specialized
    for e in evs * 2:  # the second time through the specialized functions already built
        expected = [i for i, ir in enumerate(irs) if evaluate(ir, e)]
        if first:
            expected = expected[:1]
        assert keyed.function(e) == expected, (conds, e.values, [k.key for k in keys])
    return keyed


@settings(max_examples=150, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(conds=keyed_rules(), evs=st.lists(events(), min_size=1, max_size=6), first=st.booleans(),
       cap=st.sampled_from([None, 0, 1]))
def test_keyed_dispatch_matches_interpreter(conds: list[str], evs: list[FakeEvent], first: bool,
                                            cap: int | None) -> None:
    """Every event gets the matches of interpreting the rules in order, whether its key values
    have a specialized function yet, get one, or meet a full table (``cap``)."""
    assert_keyed_matches_interpreter(conds, evs, first, cap)


def test_key_operands_are_the_fields_most_rules_select_on() -> None:
    irs = [ConditionCompiler(FIELDS).compile(parse(c)) for c in (
        "proc.name = cat and fd.num = 1 and fd.name exists",
        "proc.name in (cat, bash) and fd.name exists",
        "not proc.name = sshd and fd.name exists and fd.num > 2",
        "fd.name startswith /etc and fd.name exists",
        "(proc.name = cat or fd.num = 1)")]
    # proc.name: an equality test at the top of 3 rules of 5; fd.num in 1 only (one rule is not
    # enough); fd.name only with exists/startswith (not a selecting test); the or is no conjunct
    assert [op.key for op in key_operands(irs)] == ["proc.name"]
    assert key_operands(irs[3:]) == []


def test_keyed_dispatch_on_a_negated_key_check() -> None:
    # no field shared by enough rules, the first rule a negated check: it keys the dispatch
    conds = ["(not proc.name = bash)", "(fd.num = 1)"]
    evs = [FakeEvent("open", **{"proc.name": n, "fd.num": 1}) for n in ("cat", "bash", None)]
    keyed = assert_keyed_matches_interpreter(conds, evs, True)
    assert [k.key for k in keyed.keys] == ["proc.name"]


def test_keyed_dispatch_builds_once_per_key_and_falls_back_to_generic() -> None:
    conds = ["proc.name = cat and fd.num = 1", "proc.name = bash", "proc.name in (cat, sh)"]
    cat1, cat2 = (FakeEvent("open", **{"proc.name": "cat", "fd.num": n}) for n in (1, 2))
    bash, sh, nothing = (FakeEvent("open", **{"proc.name": n}) for n in ("bash", "sh", None))
    keyed = assert_keyed_matches_interpreter(conds, [cat1, cat2, bash, nothing], False)
    assert sorted(keyed.specialized, key=str) == [("bash",), ("cat",), (None,)]
    assert keyed.overflow == 0
    keyed.MAX_SPECIALIZED = 3
    assert keyed.function(sh) == [2]  # the table is full: the generic function answers
    assert keyed.overflow == 1 and ("sh",) not in keyed.specialized

    class Unhashable(list):
        __hash__ = None  # type: ignore[assignment]

    def boom(evt: FakeEvent) -> str:
        raise RuntimeError("extractor failed")

    irs = [ConditionCompiler(FIELDS).compile(parse(c)) for c in conds]
    keys = key_operands(irs)
    generic_calls: list[FakeEvent] = []

    def generic(e: FakeEvent) -> list[int]:
        generic_calls.append(e)
        return ["generic"]  # type: ignore[list-item]

    for fn in (boom, lambda evt: Unhashable()):
        keys[0].fn = fn
        k = KeyedDispatch([(ir, i) for i, ir in enumerate(irs)], False, lambda i, e: False,
                          keys, generic)
        assert k.function(cat1) == ["generic"] and k.specialized == {}
    assert len(generic_calls) == 2
