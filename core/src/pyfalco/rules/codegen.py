"""Code generation: one Python function per rule, from the typed IR.

Only ``repr()`` of str/int/bool constants and names this module invents (``f0``, ``c1``, ``p2``,
``v3``) enter the generated source; extractors, sets and predicates are bound as default
arguments (fast locals). Rule text never becomes code. A field used twice in a rule is extracted
once (lazily, into a local). Extractor exceptions propagate: the evaluator then re-runs that
rule for that event with the interpreter, which treats them as missing values.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from typing import Any

from ..api import Event
from .compile import IAnd, ICheck, INot, IOr, Operand
from .interp import check_value
from .values import NET_TYPES, STRING_TYPES

_MISSING = object()
_INLINE_CMP = {"=": "==", "==": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


class _Gen:
    def __init__(self) -> None:
        self.ns: dict[str, Any] = {"_M": _MISSING}
        self.names: dict[int, str] = {}
        self.counter = 0
        self.cached: dict[str, str] = {}  # operand key -> local var name
        self.fn_names: dict[str, str] = {}  # operand key -> extractor name

    def bind(self, prefix: str, obj: Any) -> str:
        oid = id(obj)
        name = self.names.get(oid)
        if name is None:
            name = f"{prefix}{self.counter}"
            self.counter += 1
            self.names[oid] = name
            self.ns[name] = obj
        return name

    def temp(self) -> str:
        name = f"t{self.counter}"
        self.counter += 1
        return name

    def const(self, value: Any) -> str:
        if type(value) in (str, int, bool):
            return repr(value)
        return self.bind("c", value)

    def extract(self, op: Operand) -> str:
        fname = self.fn_names.get(op.key)
        if fname is None:
            fname = self.fn_names[op.key] = self.bind("f", op.fn)
        local = self.cached.get(op.key)
        if local is None:
            return f"{fname}(e)"
        return f"({local} if {local} is not _M else ({local} := {fname}(e)))"

    def expr(self, node: Any) -> str:
        if isinstance(node, IAnd):
            return "(" + " and ".join(self.expr(c) for c in node.children) + ")"
        if isinstance(node, IOr):
            return "(" + " or ".join(self.expr(c) for c in node.children) + ")"
        if isinstance(node, INot):
            return f"(not {self.expr(node.child)})"
        if isinstance(node, bool):
            return repr(node)
        assert isinstance(node, ICheck)
        return self.check(node)

    def check(self, node: ICheck) -> str:
        left = node.left
        x = self.extract(left)
        if node.op == "exists":
            return f"({x} is not None)"
        t = self.temp()
        if node.right is not None:
            r = self.temp()
            rp = self.bind("p", node.rpred)
            rx = self.extract(node.right)
            if left.match:
                return (f"(({t} := {x}) is not None and ({r} := {rx}) is not None "
                        f"and any({rp}(_x, {r}) for _x in {t}))")
            return f"(({t} := {x}) is not None and ({r} := {rx}) is not None and {rp}({t}, {r}))"
        simple = not left.match and not left.is_list and node.mod is None
        if simple and left.type not in NET_TYPES:
            op = node.op
            if op in _INLINE_CMP and op in ("=", "=="):
                return f"({x} == {self.const(node.value)})"
            if op in _INLINE_CMP:
                return f"(({t} := {x}) is not None and {t} {_INLINE_CMP[op]} " \
                       f"{self.const(node.value)})"
            if op in ("in", "intersects"):
                return f"({x} in {self.const(node.value)})"
            if left.type in STRING_TYPES:
                if op == "contains":
                    return f"(({t} := {x}) is not None and {self.const(node.value)} in {t})"
                if op == "startswith":
                    return f"(({t} := {x}) is not None and {t}.startswith(" \
                           f"{self.const(node.value)}))"
                if op == "endswith":
                    return f"(({t} := {x}) is not None and {t}.endswith(" \
                           f"{self.const(node.value)}))"
        p = self.bind("p", node.pred)
        if left.match == "any":
            return f"(({t} := {x}) is not None and any({p}(_x) for _x in {t} if _x is not None))"
        if left.match == "endpoints":
            agg = "all" if node.op == "!=" else "any"
            return f"(({t} := {x}) is not None and {agg}({p}(_x) for _x in {t} " \
                   f"if _x is not None))"
        return f"(({t} := {x}) is not None and {p}({t}))"


def fold_event_type(node: Any, etype: str, evt_type_spec: Any) -> Any:
    """``node`` with every ``evt.type`` check decided for events of type ``etype`` (True or
    False), constants folded. Only checks on the core's own ``evt.type`` field are decided:
    its value is exactly ``event.type``."""

    def decide(check: ICheck) -> bool | None:
        left = check.left
        if (left.spec is not evt_type_spec or left.transformed or check.right is not None
                or check.mod is not None):
            return None
        op = check.op
        if op in ("=", "=="):
            return etype == check.value
        if op == "!=":
            return etype != check.value
        if op in ("in", "intersects"):
            return etype in check.value
        if op == "exists":
            return True
        return None

    return fold(node, decide)


def fold_values(node: Any, values: dict[str, Any]) -> Any:
    """``node`` with every check of a field operand whose value is known decided, constants
    folded: ``values`` maps operand keys (``Operand.key``) to the value that operand has for
    the events at hand. Checks are decided by the interpreter (the reference semantics)."""

    def decide(check: ICheck) -> bool | None:
        key = check.left.key
        if check.right is not None or key not in values:
            return None
        return bool(check_value(check, values[key], None))

    return fold(node, decide)


def fold(node: Any, decide: Callable[[ICheck], bool | None]) -> Any:
    """``node`` with the checks ``decide`` answers (True/False; None: unknown) replaced by their
    answer and the ``and``/``or``/``not`` above them folded: a rule may become a constant."""
    if isinstance(node, ICheck):
        answer = decide(node)
        return node if answer is None else answer
    if isinstance(node, INot):
        child = fold(node.child, decide)
        return (not child) if isinstance(child, bool) else INot(child)
    if isinstance(node, (IAnd, IOr)):
        is_and = isinstance(node, IAnd)
        kids = []
        for c in node.children:
            f = fold(c, decide)
            if isinstance(f, bool):
                if f != is_and:  # False in an and, True in an or: decides the node
                    return f
                continue
            kids.append(f)
        if not kids:
            return is_and
        if len(kids) == 1:
            return kids[0]
        return IAnd(kids) if is_and else IOr(kids)
    return node


def _count_keys(n: Any, keys: Counter[str]) -> None:
    if isinstance(n, (IAnd, IOr)):
        for c in n.children:
            _count_keys(c, keys)
    elif isinstance(n, INot):
        _count_keys(n.child, keys)
    elif isinstance(n, ICheck):
        keys[n.left.key] += 1
        if n.right is not None:
            keys[n.right.key] += 1


def _conjuncts(ir: Any) -> list[Any]:
    """The top-level ``and`` operands of a condition, nested ``and`` flattened (same order, same
    short-circuit): what consecutive rules can share."""
    if isinstance(ir, IAnd):
        out: list[Any] = []
        for c in ir.children:
            out += _conjuncts(c)
        return out
    return [ir]


def _ir_key(node: Any) -> Any:
    """A structural key: two IR nodes with equal keys compute the same value for every event
    (the same fields by canonical text, operators and constants). Unhashable constants make the
    node unique."""
    if isinstance(node, ICheck):
        value = node.value
        if isinstance(value, list):
            value = tuple(value)
        try:
            hash(value)
        except TypeError:
            value = ("unique", id(node))
        right = node.right.key if node.right is not None else None
        return ("check", node.left.key, node.op, node.mod, value, right)
    if isinstance(node, INot):
        return ("not", _ir_key(node.child))
    if isinstance(node, (IAnd, IOr)):
        return ("and" if isinstance(node, IAnd) else "or",
                tuple(_ir_key(c) for c in node.children))
    return ("const", node)


#: nested shared-prefix blocks at most this deep (Python limits indentation)
_MAX_SHARED_DEPTH = 40


def compile_dispatch(rules: list[tuple[Any, Any]], first: bool, fallback: Callable[..., bool],
                     name: str = "dispatch") -> tuple[Callable[[Event], list[Any]], str]:
    """One function evaluating, in order, the conditions ``rules`` = [(ir, match), ...] of the
    rules indexed for one event type: fields shared by several rules are extracted once per
    event (lazily, into locals), and the leading ``and`` operands that consecutive rules share
    (``kevt and pod and kcreate and ...``) are evaluated once for all of them. Returns
    ``[match]`` (first) or every match (all). A rule whose code raises is re-evaluated by
    ``fallback(index, event)`` (the interpreter); a shared operand that raises sends each rule
    sharing it to the fallback, in order."""
    g = _Gen()
    keys: Counter[str] = Counter()
    for ir, _ in rules:
        _count_keys(ir, keys)
    for i, (key, n) in enumerate(keys.items()):
        if n > 1:
            g.cached[key] = f"v{i}"
    fb = g.bind("fb", fallback)
    # (index, and-operands, match name); a rule that is constantly false never matches
    items: list[tuple[int, list[Any], str]] = []
    for i, (ir, match) in enumerate(rules):
        if ir is False:
            continue
        items.append((i, [] if ir is True else _conjuncts(ir), g.bind("m", match)))

    def hit(m: str) -> str:
        return f"return [{m}]" if first else f"out.append({m})"

    def fallbacks(group: list[tuple[int, list[Any], str]], pad: str) -> list[str]:
        out: list[str] = []
        for i, _, m in group:
            out += [f"{pad}if {fb}({i}, e):", f"{pad}    {hit(m)}"]
        return out

    def emit(group: list[tuple[int, list[Any], str]], depth: int, pad: str) -> list[str]:
        out: list[str] = []
        k = 0
        while k < len(group):
            i, conj, m = group[k]
            if len(conj) <= depth:  # every operand already true: the rule matches
                out.append(f"{pad}{hit(m)}")
                if first:
                    break  # the rest of this block is unreachable
                k += 1
                continue
            head = _ir_key(conj[depth])
            j = k + 1
            while (depth < _MAX_SHARED_DEPTH and j < len(group) and len(group[j][1]) > depth
                   and _ir_key(group[j][1][depth]) == head):
                j += 1
            if j - k == 1:
                rest = conj[depth:]
                body = g.expr(rest[0] if len(rest) == 1 else IAnd(rest))
                out += [f"{pad}try:",
                        f"{pad}    if {body}:",
                        f"{pad}        {hit(m)}",
                        f"{pad}except Exception:",
                        *fallbacks([group[k]], pad + "    ")]
            else:
                shared = g.temp()
                out += [f"{pad}try:",
                        f"{pad}    {shared} = {g.expr(conj[depth])}",
                        f"{pad}except Exception:",
                        f"{pad}    {shared} = _M",
                        f"{pad}if {shared} is _M:",
                        *fallbacks(group[k:j], pad + "    "),
                        f"{pad}elif {shared}:",
                        *emit(group[k:j], depth + 1, pad + "    ")]
            k = j
        return out

    lines = emit(items, 0, "    ")
    params = ", ".join(f"{k}={k}" for k in g.ns)
    head = [f"def {name}(e, {params}):"]
    head += [f"    {local} = _M" for local in g.cached.values()]
    if not first:
        head.append("    out = []")
    tail = ["    return []" if first else "    return out"]
    src = "\n".join(head + lines + tail) + "\n"
    scope = dict(g.ns)
    exec(compile(src, f"<{name}>", "exec"), scope)  # noqa: S102 - see the module docstring
    return scope[name], src


def generate(ir: Any, name: str = "rule") -> tuple[str, dict[str, Any]]:
    """The source of ``def <name>(e)`` and the namespace its defaults come from."""
    g = _Gen()
    keys: Counter[str] = Counter()

    def count(n: Any) -> None:
        if isinstance(n, (IAnd, IOr)):
            for c in n.children:
                count(c)
        elif isinstance(n, INot):
            count(n.child)
        elif isinstance(n, ICheck):
            keys[n.left.key] += 1
            if n.right is not None:
                keys[n.right.key] += 1

    count(ir)
    for i, (key, n) in enumerate(keys.items()):
        if n > 1:
            g.cached[key] = f"v{i}"
    body = g.expr(ir)
    params = ", ".join(f"{k}={k}" for k in g.ns)
    lines = [f"def {name}(e, {params}):"]
    for local in g.cached.values():
        lines.append(f"    {local} = _M")
    lines.append(f"    return {body}")
    return "\n".join(lines) + "\n", g.ns


def compile_rule(ir: Any, name: str = "rule", filename: str = "<rule>"
                 ) -> tuple[Callable[[Event], bool], str]:
    """The compiled function for ``ir`` and its source (for ``--print-generated``)."""
    src, ns = generate(ir, name)
    code = compile(src, filename, "exec")
    scope = dict(ns)
    exec(code, scope)  # noqa: S102 - source built only from repr()'d literals and our names
    return scope[name], src


#: a keyed dispatch specializes on at most this many fields
MAX_KEY_FIELDS = 3
#: ... each tested against constants at the top of at least this share of the rules
KEY_FIELD_SHARE = 0.25
#: the operators of such tests: what a field with few distinct values (a verb, a resource,
#: a stage) is tested with
_KEY_OPS = frozenset({"=", "==", "!=", "in"})


def key_operands(irs: list[Any]) -> list[Operand]:
    """The fields a :class:`KeyedDispatch` over the conditions ``irs`` specializes on: the
    scalar fields most rules test against constants in a top-level ``and`` operand (``kevt and
    kcreate and pod ...``: the stage, the verb, the resource). Empty when no field qualifies."""
    counts: Counter[str] = Counter()
    operands: dict[str, Operand] = {}
    for ir in irs:
        seen: set[str] = set()
        for c in _conjuncts(ir):
            n = c.child if isinstance(c, INot) else c
            if (isinstance(n, ICheck) and n.right is None and n.op in _KEY_OPS and n.mod is None
                    and not n.left.is_list and not n.left.match and n.left.key not in seen):
                seen.add(n.left.key)
                counts[n.left.key] += 1
                operands[n.left.key] = n.left
    need = max(2, math.ceil(len(irs) * KEY_FIELD_SHARE))
    return [operands[k] for k, n in counts.most_common(MAX_KEY_FIELDS) if n >= need]


class KeyedDispatch:
    """A dispatch function specialized per value of a few key fields (:func:`key_operands`).

    Per event, the key fields are extracted once; the first event of each combination of their
    values builds a dispatch function for it (:func:`compile_dispatch`) where the checks of
    those fields are decided (:func:`fold_values`): the rules that cannot match are gone and the
    rest no longer test them. The event types index syscall rules the same way; this is that
    index for sources whose events all have one type (plugin sources), keyed by the values
    their rules select on.

    At most :attr:`MAX_SPECIALIZED` combinations are specialized; events of further ones, and
    events whose key fields fail to extract or are not hashable, run the ``generic`` function.
    Both give the same matches: the folding uses the interpreter's semantics and extractors are
    functions of the event."""

    #: ~6-20 KiB each (the generated code): a few MB at most
    MAX_SPECIALIZED = 512

    def __init__(self, rules: list[tuple[Any, Any]], first: bool,
                 fallback: Callable[..., bool], keys: list[Operand],
                 generic: Callable[[Event], list[Any]]) -> None:
        self.rules = rules
        self.first = first
        self.fallback = fallback
        self.keys = keys
        self.generic = generic
        self.specialized: dict[tuple[Any, ...], Callable[[Event], list[Any]]] = {}
        #: events of a combination met once the table was full (they ran ``generic``)
        self.overflow = 0
        self.function = self._generate()

    def _generate(self) -> Callable[[Event], list[Any]]:
        ns: dict[str, Any] = {"get": self.specialized.get, "generic": self.generic,
                              "miss": self._miss}
        for i, op in enumerate(self.keys):
            ns[f"f{i}"] = op.fn
        params = ", ".join(f"{k}={k}" for k in ns)
        key = ", ".join(f"f{i}(e)" for i in range(len(self.keys)))
        src = "\n".join([
            f"def keyed(e, {params}):",
            "    try:",
            f"        k = ({key},)",
            "    except Exception:",
            "        return generic(e)",
            "    try:",
            "        fn = get(k)",
            "    except TypeError:",
            "        return generic(e)",
            "    if fn is None:",
            "        fn = miss(k)",
            "    return fn(e)",
        ]) + "\n"
        scope = dict(ns)
        exec(compile(src, "<keyed dispatch>", "exec"), scope)  # noqa: S102 - our own names only
        return scope["keyed"]  # type: ignore[no-any-return]

    def _miss(self, key: tuple[Any, ...]) -> Callable[[Event], list[Any]]:
        if len(self.specialized) >= self.MAX_SPECIALIZED:
            self.overflow += 1
            return self.generic
        values = {op.key: v for op, v in zip(self.keys, key, strict=True)}
        folded = [(fold_values(ir, values), m) for ir, m in self.rules]
        fn, _ = compile_dispatch(folded, self.first, self.fallback, "specialized")
        self.specialized[key] = fn
        return fn
