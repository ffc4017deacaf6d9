"""pyfalco.speedups: the compiled module against its pure-Python twins."""

from __future__ import annotations

import calendar
import os
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pyfalco import speedups
from pyfalco.speedups import py_leaves, py_path_getter, py_rfc3339_ns

compiled = pytest.mark.skipif(not speedups.COMPILED, reason="pyfalco._speedups not built")


def test_the_compiled_module_is_built_and_can_be_switched_off() -> None:
    # make test builds it (gcc is a system package of scripts/setup-system.sh): the tests
    # below must run the C code, not only its twins
    try:
        from pyfalco import _speedups
    except ImportError:
        pytest.fail("pyfalco._speedups was not built: is a C compiler installed?")
    assert speedups.COMPILED is not bool(os.environ.get("PYFALCO_PURE_PYTHON"))
    if speedups.COMPILED:
        assert speedups.rfc3339_ns is _speedups.rfc3339_ns
    probe = "from pyfalco import speedups; print(speedups.COMPILED, speedups.rfc3339_ns.__name__)"
    for env, want in (({"PYFALCO_PURE_PYTHON": "1"}, "False py_rfc3339_ns"),
                      ({"PYFALCO_PURE_PYTHON": ""}, "True rfc3339_ns")):
        out = subprocess.run([sys.executable, "-c", probe], env={**os.environ, **env},
                             capture_output=True, text=True, check=True).stdout.strip()
        assert out == want


# -- path_getter -----------------------------------------------------------------------------


class Slotted:
    __slots__ = ("audit",)

    def __init__(self, audit: Any = None) -> None:
        self.audit = audit


class SlottedChild(Slotted):
    __slots__ = ("other",)


class Plain:
    def __init__(self, audit: Any) -> None:
        self.audit = audit


class Bare:
    pass


def slow(evt: Any) -> tuple[str, int]:
    return ("slow", id(evt))


def getters(keys: tuple[str, ...], **kw: Any) -> list[Any]:
    out = [py_path_getter("audit", keys, slow, **kw)]
    if speedups.COMPILED:
        out.append(speedups.path_getter("audit", keys, slow, **kw))
    return out


KEYS = st.sampled_from(["a", "b", "c"])
LEAVES = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                   st.text(max_size=3), st.binary(max_size=2), st.just(()))
TREES = st.recursive(LEAVES, lambda kids: st.one_of(
    st.dictionaries(KEYS, kids, max_size=3), st.lists(kids, max_size=2)), max_leaves=8)


@settings(max_examples=400, deadline=None)
@given(root=TREES, keys=st.lists(KEYS, min_size=1, max_size=3).map(tuple),
       cls=st.sampled_from([Slotted, SlottedChild, Plain]), leaf=st.sampled_from([str, list]),
       int_as_text=st.booleans())
@example(root={"a": {"b": "x"}}, keys=("a", "b"), cls=Slotted, leaf=str, int_as_text=False)
@example(root={"a": 7}, keys=("a",), cls=Slotted, leaf=str, int_as_text=True)
@example(root={"a": True}, keys=("a",), cls=Slotted, leaf=str, int_as_text=True)
@example(root={"a": {"b": [1]}}, keys=("a", "b"), cls=Slotted, leaf=list, int_as_text=False)
def test_path_getter_matches_its_twin(root: Any, keys: tuple[str, ...], cls: type, leaf: type,
                                      int_as_text: bool) -> None:
    evt = cls(root)
    answers = [g(evt) for g in getters(keys, leaf=leaf, int_as_text=int_as_text)]
    assert all(a == answers[0] and type(a) is type(answers[0]) for a in answers), answers
    # and the meaning, independently of both
    cur: Any = root
    for k in keys:
        if type(cur) is not dict:
            assert answers[0] == slow(evt)
            return
        if k not in cur:
            assert answers[0] is None
            return
        cur = cur[k]
    if type(cur) is leaf:
        assert answers[0] is cur
    elif int_as_text and type(cur) is int:
        assert answers[0] == str(cur)
    else:
        assert answers[0] == slow(evt)


@settings(max_examples=300, deadline=None)
@given(items=st.lists(TREES, max_size=5), keys=st.lists(KEYS, max_size=3).map(tuple))
@example(items=[{"a": {"b": "x"}}, {"a": {"b": True}}, {"a": {}}, 5, {"a": {"b": None}}],
         keys=("a", "b"))
def test_leaves_matches_its_twin(items: list[Any], keys: tuple[str, ...]) -> None:
    want = py_leaves(items, keys, repr)
    assert speedups.leaves(items, keys, repr) == want
    # the meaning: the items whose path leads through dicts to a value
    expected = []
    for item in items:
        cur = item
        for k in keys:
            if type(cur) is not dict or k not in cur:
                break
            cur = cur[k]
        else:
            expected.append(cur if type(cur) is str else repr(cur))
    assert want == expected


@compiled
def test_leaves_errors_and_a_render_that_changes_the_list() -> None:
    with pytest.raises(TypeError, match="leaves"):
        speedups.leaves((), ("a",), repr)
    with pytest.raises(ZeroDivisionError):
        speedups.leaves([{"a": 1}], ("a",), lambda v: 1 / 0)
    items: list[Any] = [{"a": 1}, {"a": 2}, {"a": 3}]

    def shrinking(v: Any) -> str:
        items.clear()  # the rest is gone: nothing read after it
        return str(v)

    assert speedups.leaves(items, ("a",), shrinking) == ["1"]


def test_path_getter_without_the_attribute_or_with_an_unset_slot_asks_slow() -> None:
    for g in getters(("a",)):
        for evt in (Bare(), Slotted.__new__(Slotted), Slotted(None)):
            assert g(evt) == slow(evt)


def test_path_getter_follows_a_class_changed_after_its_first_call() -> None:
    class Evt:
        __slots__ = ("audit",)

    for g in getters(("a",)):
        evt = Evt()
        evt.audit = {"a": "slot"}
        assert g(evt) == "slot"  # the compiled one now reads the slot at its offset
        saved = Evt.audit
        Evt.audit = property(lambda self: {"a": "property"})  # type: ignore[assignment]
        try:
            assert g(evt) == "property"
        finally:
            Evt.audit = saved  # type: ignore[assignment]
        assert g(evt) == "slot"


def test_path_getter_errors_propagate() -> None:
    class Broken:
        @property
        def audit(self) -> Any:
            raise RuntimeError("broken event")

    def failing(evt: Any) -> Any:
        raise KeyError("slow failed")

    for g in getters(("a",)):
        with pytest.raises(RuntimeError, match="broken event"):
            g(Broken())
    for g in (py_path_getter("audit", ("a",), failing),
              speedups.path_getter("audit", ("a",), failing)):
        with pytest.raises(KeyError):
            g(Slotted({"a": 1}))


def test_path_getter_survives_a_lookup_that_frees_the_dict_it_walks() -> None:
    # a key of another type with the same hash runs Python code (its __eq__) during the lookup
    # of "b": it drops the only reference to the dict being searched
    root: dict[str, Any] = {}

    class Evil:
        def __hash__(self) -> int:
            return hash("b")

        def __eq__(self, other: object) -> bool:
            root.clear()
            return False

    for g in getters(("a", "b")):
        root["a"] = {Evil(): 1, "b": "x"}  # only root holds this dict
        assert g(Slotted(root)) == "x"
        assert root == {}


@compiled
def test_path_getter_arguments_are_checked() -> None:
    PathGetter = speedups._speedups.PathGetter  # noqa: N806
    with pytest.raises(ValueError, match="at least one key"):
        PathGetter("audit", (), slow)
    with pytest.raises(TypeError, match="keys must be str"):
        PathGetter("audit", ("a", 1), slow)
    with pytest.raises(TypeError, match="slow must be callable"):
        PathGetter("audit", ("a",), None)
    with pytest.raises(TypeError):
        PathGetter("audit", ["a"], slow)
    g = PathGetter("audit", ("a", "b"), slow)
    assert repr(g) == "PathGetter('audit', ('a', 'b'))"
    with pytest.raises(TypeError, match="exactly one event"):
        g()
    with pytest.raises(TypeError, match="exactly one event"):
        g(Slotted({}), evt=1)


@compiled
def test_path_getter_keeps_reference_counts() -> None:
    leaf = "".join(["va", "lue"])  # a str of its own, not interned
    inner = {"b": leaf}
    root = {"a": inner}
    evt = Slotted(root)
    missing = Slotted({"x": 1})
    g = speedups.path_getter("audit", ("a", "b"), slow)
    before = [sys.getrefcount(o) for o in (leaf, inner, root, evt, missing)]
    for _ in range(1000):
        assert g(evt) is leaf
        assert g(missing) is None
        assert g(Slotted(None))[0] == "slow"
    after = [sys.getrefcount(o) for o in (leaf, inner, root, evt, missing)]
    assert after == before


# -- rfc3339_ns --------------------------------------------------------------------------------


def both(text: Any) -> int | None:
    want = py_rfc3339_ns(text)
    assert speedups.rfc3339_ns(text) == want, text
    return want


@pytest.mark.parametrize(("text", "ns"), [
    ("1970-01-01T00:00:00Z", 0),
    ("2018-10-26T13:38:34.902914Z", 1540561114902914000),
    ("2018-10-26t13:38:34.9z", 1540561114900000000),
    ("2018-10-26T13:38:34.123456789Z", 1540561114123456789),
    ("2018-10-26T15:38:34.5+02:00", 1540561114500000000),
    ("2018-10-26T11:38:34-02:00", 1540561114000000000),
    ("2016-12-31T23:59:60Z", calendar.timegm((2017, 1, 1, 0, 0, 0)) * 10**9),  # leap second
    ("2024-02-29T00:00:00Z", calendar.timegm((2024, 2, 29, 0, 0, 0)) * 10**9),
    ("1969-12-31T23:59:59.5Z", -500000000),
    ("1700-03-01T00:00:00Z", calendar.timegm((1700, 3, 1, 0, 0, 0)) * 10**9),
])
def test_rfc3339_ns_reads_the_strict_form(text: str, ns: int) -> None:
    assert both(text) == ns


@pytest.mark.parametrize("text", [
    "", "2018-10-26", "2018-10-26T13:38:34", "2018-10-26T13:38:34.Z",
    "2018-10-26T13:38:34.1234567890Z", "2018-10-26 13:38:34Z", "2018-13-26T13:38:34Z",
    "2023-02-29T00:00:00Z", "2018-10-26T24:00:00Z", "2018-10-26T13:60:00Z",
    "2018-10-26T13:38:61Z", "2018-10-26T13:38:34+0200", "2018-10-26T13:38:34Zjunk",
    "2018-10-26T13:38:34.5+02:00x", "２０１８-10-26T13:38:34Z", "2018-10-26T13:38:34.５Z",
    "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", None, 17, b"2018-10-26T13:38:34Z",
])
def test_rfc3339_ns_leaves_anything_else_to_the_caller(text: Any) -> None:
    assert both(text) is None


def _stamp() -> st.SearchStrategy[str]:
    two = st.integers(0, 99).map("{:02d}".format)
    return st.tuples(
        st.integers(1600, 2300).map("{:04d}".format), two, two, st.sampled_from("Tt"), two,
        two, two, st.one_of(st.just(""), st.text("0123456789", min_size=0, max_size=11).map(
            lambda d: "." + d)),
        st.one_of(st.sampled_from(["Z", "z", "", "+"]), st.tuples(
            st.sampled_from("+-"), two, two).map(lambda t: f"{t[0]}{t[1]}:{t[2]}")),
    ).map(lambda p: f"{p[0]}-{p[1]}-{p[2]}{p[3]}{p[4]}:{p[5]}:{p[6]}{p[7]}{p[8]}")


@settings(max_examples=1500, deadline=None)
@given(text=st.one_of(_stamp(), st.text(max_size=30)))
def test_rfc3339_ns_matches_its_twin(text: str) -> None:
    both(text)


def test_parse_rfc3339_ns_takes_any_year_and_names_what_it_cannot_read() -> None:
    from pyfalco.speedups import parse_rfc3339_ns, py_parse_rfc3339_ns

    for parse in (parse_rfc3339_ns, py_parse_rfc3339_ns):
        assert parse("2018-10-26T13:38:34.902914Z") == 1540561114902914000
        assert parse("9999-12-31T23:59:59Z") == calendar.timegm(
            (9999, 12, 31, 23, 59, 59)) * 10**9  # beyond an int64: the Python parser
        with pytest.raises(ValueError, match="cannot parse 'noon' as RFC 3339"):
            parse("noon")
        with pytest.raises(ValueError, match="invalid date-time '2023-02-29T00:00:00'"):
            parse("2023-02-29T00:00:00Z")
