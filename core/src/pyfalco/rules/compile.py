"""Type checking: a resolved condition AST (macros substituted) -> the typed IR that both the
interpreter and the code generator execute (``rule-language.md`` §2.11, §3).

Fields bind here, once: each operand carries the extractor returned by ``FieldSpec.binder``
(transformers composed in), and each check its right-hand constant already parsed with the
field's type, plus a predicate for the interpreter.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..api import Event, FieldSpec
from ..api import FieldType as T
from . import ast
from .fields import MATCH_ANY, MATCH_ENDPOINTS, NO_RHS, NO_TRANSFORM, SourceFields
from .values import (
    NET_TYPES,
    STRING_TYPES,
    TRANSFORMER_INPUTS,
    CompileError,
    check_operator,
    field_pred,
    hex_bytes,
    list_pred,
    modifier_pred,
    parse_literal,
    scalar_pred,
    transformer_fn,
    type_name,
)

DEPRECATED_FIELDS = {
    "evt.dir": "due to the drop of enter events, 'evt.dir = <' always evaluates to true, and "
               "'evt.dir = >' always evaluates to false. The rule expression can be simplified "
               "by removing the condition on 'evt.dir'",
    "evt.latency": "field is not available due to the drop of enter events.",
    "evt.latency.s": "field is not available due to the drop of enter events.",
    "evt.latency.ns": "field is not available due to the drop of enter events.",
    "evt.latency.human": "field is not available due to the drop of enter events.",
    "evt.wait_latency": "field is not available due to the drop of enter events.",
}
_FIELD_LIKE = re.compile(r"[a-zA-Z]+[a-zA-Z0-9_]*(\.[a-zA-Z]+[a-zA-Z0-9_]*)+(\[[^\]]*\])?")
_TRANSFORMER_LIKE = re.compile(r"(tolower|toupper|b64|basename|len|join|concat|getopt|val)\(")
_NA_OPS = frozenset({"=", "==", "!=", "in", "intersects", "pmatch"})


# -- IR --------------------------------------------------------------------------------------

@dataclass(slots=True, eq=False)
class Operand:
    """An extracted value: ``fn(event)`` returns it, or None when absent."""

    key: str  # canonical text (``proc.aname[2]``, ``tolower(proc.name)``)
    fn: Callable[[Event], Any]
    type: T
    is_list: bool = False
    #: "" | "any" (candidates, any satisfies) | "endpoints" (client/server pair)
    match: str = ""
    spec: FieldSpec | None = None
    field: str = ""  # the underlying field name (for evttype analysis)
    arg: Any = None
    transformed: bool = False


@dataclass(slots=True, eq=False)
class IAnd:
    children: list[Any]


@dataclass(slots=True, eq=False)
class IOr:
    children: list[Any]


@dataclass(slots=True, eq=False)
class INot:
    child: Any


@dataclass(slots=True, eq=False)
class ICheck:
    left: Operand
    op: str  # base operator ("=", "contains", "in", "exists", ...)
    node: Any  # the AST check (``ast.as_string(node)`` for messages and debugging)
    mod: str | None = None
    #: the parsed constant: scalar, frozenset (in/intersects), list (pmatch/modifiers)
    value: Any = None
    pred: Callable[[Any], bool] | None = None
    right: Operand | None = None
    rpred: Callable[[Any, Any], bool] | None = None


@dataclass
class CompileWarnings:
    """Non-fatal findings (Falco's LOAD_COMPILE_CONDITION, LOAD_UNSAFE_NA_CHECK, deprecated)."""

    condition: list[str] = field(default_factory=list)
    unsafe_na: bool = False
    deprecated_fields: list[str] = field(default_factory=list)


# -- compiler --------------------------------------------------------------------------------

class ConditionCompiler:
    def __init__(self, fields: SourceFields) -> None:
        self.fields = fields
        self.warnings = CompileWarnings()

    def compile(self, node: ast.Node) -> Any:
        if isinstance(node, ast.And):
            return IAnd([self.compile(c) for c in node.children])
        if isinstance(node, ast.Or):
            return IOr([self.compile(c) for c in node.children])
        if isinstance(node, ast.Not):
            return INot(self.compile(node.child))
        if isinstance(node, ast.Identifier):
            raise CompileError(f"filter error: unexpected identifier '{node.name}'")
        try:
            if isinstance(node, ast.UnaryCheck):
                left = self.operand(node.left)
                return ICheck(left, "exists", node)
            if isinstance(node, ast.BinaryCheck):
                return self.binary(node)
        except CompileError as exc:
            if exc.node is None:
                exc.node = node
            raise
        raise CompileError(f"filter error: unexpected node {type(node).__name__}")

    # operands
    def field_operand(self, node: ast.FieldRef) -> Operand:
        full = node.name if node.arg is None else f"{node.name}[{node.arg}]"
        found = self.fields.lookup(node.name)
        if found is None:
            raise CompileError(f"filter_check called with nonexistent field {full}")
        spec, dotted = found
        raw_arg = node.arg
        if dotted is not None:
            if raw_arg is not None:
                raise CompileError(f"filter_check called with nonexistent field {full}")
            raw_arg = dotted
        arg: Any = None
        if raw_arg is not None:
            if spec.arg is None:
                raise CompileError(f"filter_check called with nonexistent field {full}")
            if spec.arg.index and (raw_arg.isdigit() or not spec.arg.key):
                if not raw_arg.isdigit():
                    raise CompileError(
                        f"filter_check called with nonexistent field {full}")
                arg = int(raw_arg)
            else:
                arg = raw_arg
        elif spec.arg is not None and spec.arg.required:
            raise CompileError(f"filter_check called with nonexistent field {full}")
        if spec.name in DEPRECATED_FIELDS and spec.name not in self.warnings.deprecated_fields:
            self.warnings.deprecated_fields.append(spec.name)
        match = ""
        if raw_arg is None and MATCH_ANY in spec.properties:
            match = "any"
        elif MATCH_ENDPOINTS in spec.properties:
            match = "endpoints"
        key = node.name if node.arg is None else f"{node.name}[{ast.escape_str(node.arg)}]"
        return Operand(key, spec.binder(arg), spec.type, spec.is_list, match, spec,
                       spec.name, arg)

    def operand(self, node: ast.Node) -> Operand:
        if isinstance(node, ast.FieldRef):
            return self.field_operand(node)
        if isinstance(node, ast.Transformer):
            return self.transformer_operand(node)
        raise CompileError("filter error: expected a field or a transformer")

    def transformer_operand(self, node: ast.Transformer) -> Operand:
        name = node.name
        if node.arg is not None and name != "getopt":
            raise CompileError(f"filter error: transformer '{name}' does not support field "
                               "arguments")
        if name == "concat":
            return self._concat(node)
        if name == "join":
            return self._join(node)
        if name == "getopt":
            return self._getopt(node)
        if len(node.args) != 1 or not isinstance(node.args[0], (ast.FieldRef, ast.Transformer)):
            raise CompileError(f"filter error: transformer '{name}' requires one field argument")
        inner = self.operand(node.args[0])
        if name == "val":
            if inner.transformed:
                raise CompileError("filter error: transformer 'val' does not support nested "
                                   "transformers")
            return inner
        if inner.match or (inner.spec is not None and NO_TRANSFORM in inner.spec.properties):
            raise CompileError(f"field '{inner.key}' does not support transformers")
        allowed = TRANSFORMER_INPUTS[name]
        if inner.type not in allowed and not (name == "len" and inner.is_list):
            lst = "list " if inner.is_list else ""
            raise CompileError(
                f"can't add field transformer: type '{type_name(inner.type)}' is not supported "
                f"by '{name}' transformer applied on {lst}field '{inner.key}'")
        tr = transformer_fn(name)
        fn = inner.fn
        if name == "len":
            out_type, out_list = T.UINT64, False

            def ext(evt: Event, fn=fn) -> Any:
                v = fn(evt)
                return None if v is None else len(v)
        elif inner.is_list:
            out_type, out_list = inner.type, True

            def ext(evt: Event, fn=fn, tr=tr) -> Any:
                v = fn(evt)
                if v is None:
                    return None
                out = [tr(x) for x in v]
                return None if any(x is None for x in out) else out
        else:
            out_type, out_list = inner.type, False

            def ext(evt: Event, fn=fn, tr=tr) -> Any:
                v = fn(evt)
                return None if v is None else tr(v)
        return Operand(ast.as_string(node), ext, out_type, out_list, "", inner.spec,
                       inner.field, inner.arg, True)

    def _string_parts(self, nodes: list[ast.Node], what: str) -> list[Any]:
        """Each argument as a constant string or an extractor of a string field."""
        parts: list[Any] = []
        for n in nodes:
            if isinstance(n, ast.Value):
                parts.append(n.value)
                continue
            op = self.operand(n)
            if op.type not in STRING_TYPES or op.is_list:
                raise CompileError(f"{what} arguments must be strings")
            parts.append(op.fn)
        return parts

    @staticmethod
    def _joined(parts: list[Any], sep: str) -> Callable[[Event], Any]:
        def ext(evt: Event) -> Any:
            out = []
            for p in parts:
                if type(p) is str:
                    out.append(p)
                    continue
                v = p(evt)
                if v is None:
                    return None  # a missing operand: no value, like any transformer
                out.append(v)
            return sep.join(out)
        return ext

    def _concat(self, node: ast.Transformer) -> Operand:
        if len(node.args) < 2:
            raise CompileError("concat() requires at least 2 arguments")
        parts = self._string_parts(node.args, "concat()")
        return Operand(ast.as_string(node), self._joined(parts, ""), T.CHARBUF, False, "",
                       None, "concat", None, True)

    def _join(self, node: ast.Transformer) -> Operand:
        if len(node.args) != 2:
            raise CompileError("join() requires exactly 2 arguments: separator and list")
        sep, items = node.args
        if not isinstance(items, ast.TransformerList):
            raise CompileError("join() second argument must be a list")
        if not isinstance(sep, ast.Value):
            raise CompileError("join() first argument must be a string separator")
        parts = self._string_parts(items.children, "join()")
        return Operand(ast.as_string(node), self._joined(parts, sep.value), T.CHARBUF, False,
                       "", None, "join", None, True)

    def _getopt(self, node: ast.Transformer) -> Operand:
        """``getopt(args_list, "optstring")[c]`` (libs' multivalue transformer): without a
        selector, the getopt(3) stream (option chars, their values, ``?`` for unknown ones);
        with ``[c]``, the value of the last ``-c`` (its char when it takes no value, ``""`` when
        its value is missing); absent option = no value."""
        if len(node.args) != 2:
            raise CompileError("getopt() requires exactly 2 arguments: args list and optstring")
        argv_node, opt_node = node.args
        if isinstance(argv_node, ast.TransformerList):
            argv_fn: Callable[[Event], Any] = self._listed(
                self._string_parts(argv_node.children, "getopt()"))
        elif isinstance(argv_node, ast.Value):
            raise CompileError("getopt() first argument must be a list")
        else:
            argv = self.operand(argv_node)
            if not argv.is_list:
                raise CompileError("getopt() first argument must be a list")
            if argv.type not in STRING_TYPES:
                raise CompileError("getopt() arguments must be strings")
            argv_fn = argv.fn
        if isinstance(opt_node, ast.TransformerList):
            raise CompileError("getopt() second argument (optstring) must be a single value")
        if isinstance(opt_node, ast.Value):
            const = _parse_optstring(opt_node.value)
            optinfo: Callable[[Event], Any] = lambda evt: const  # noqa: E731
        else:
            opt = self.operand(opt_node)
            if opt.is_list:
                raise CompileError("getopt() second argument (optstring) must be a single value")
            if opt.type not in STRING_TYPES:
                raise CompileError("getopt() arguments must be strings")
            opt_fn = opt.fn

            def optinfo(evt: Event) -> Any:
                v = opt_fn(evt)
                return None if v is None else _parse_optstring(v)
        sel = node.arg
        if sel is not None and len(sel) != 1:
            raise CompileError("getopt() field argument must be a single option character")

        def ext(evt: Event) -> Any:
            info = optinfo(evt)
            if info is None:
                return None
            args = argv_fn(evt)
            if args is None:
                return None
            return _getopt_scan(list(args), info[0], info[1], sel)
        return Operand(ast.as_string(node), ext, T.CHARBUF, sel is None, "", None, "getopt",
                       None, True)

    @staticmethod
    def _listed(parts: list[Any]) -> Callable[[Event], Any]:
        def ext(evt: Event) -> Any:
            out = []
            for p in parts:
                v = p if type(p) is str else p(evt)
                if v is None:
                    return None
                out.append(v)
            return out
        return ext

    # checks
    def binary(self, node: ast.BinaryCheck) -> ICheck:
        op, _, mod = node.op.partition(" ")
        mod = mod or None
        left = self.operand(node.left)
        text = node
        right_node = node.right
        if mod is not None:
            if left.is_list:
                raise CompileError(f"'{node.op}' operator not supported list filters")
            if left.type in NET_TYPES or left.type in (T.IPADDR, T.IPV4ADDR, T.IPV6ADDR):
                if op not in ("=", "==", "!="):
                    raise CompileError(f"'{op}' with modifier not supported for ip address and "
                                       "network filters")
        check_operator(op, left.type, left.is_list)
        if isinstance(right_node, ast.Transformer):
            return self.field_rhs(node, op, left, text)
        # constant right-hand side
        if isinstance(right_node, ast.ListValue):
            raw = right_node.values
        else:
            assert isinstance(right_node, ast.Value)
            raw = [right_node.value]
        self._value_warnings(left, op, raw)
        chk = ICheck(left, op, text, mod)
        if op in ("bcontains", "bstartswith"):
            vals = [hex_bytes(r) for r in raw]
        elif op == "regex":
            vals = [self._regex(r) for r in raw]
        elif op in ("glob", "iglob", "pmatch", "contains", "icontains", "startswith",
                    "endswith") and left.type in STRING_TYPES:
            vals = list(raw)
        else:
            vals = [parse_literal(r, left.type) for r in raw]
        if mod is not None:
            chk.value = vals
            chk.pred = modifier_pred(op, mod, vals, left.type)
        elif op in ("in", "intersects"):
            chk.value = frozenset(vals)
            chk.pred = (list_pred(op, chk.value, left.type) if left.is_list
                        else scalar_pred(op, chk.value, left.type))
        elif op == "pmatch":
            chk.value = vals
            chk.pred = scalar_pred(op, vals, left.type)
        else:
            if len(vals) != 1:
                raise CompileError(f"'{op}' operator requires a single value")
            chk.value = vals[0]
            chk.pred = scalar_pred(op, vals[0], left.type)
        return chk

    def field_rhs(self, node: ast.BinaryCheck, op: str, left: Operand, text: Any) -> ICheck:
        right = self.operand(node.right)
        if op in ("pmatch", "regex"):
            raise CompileError(f"operator '{op.upper()}' doesn't support right-hand side fields")
        if left.type in NET_TYPES:
            raise CompileError(
                f"field type '{type_name(left.type)}' doesn't support right-hand side fields")
        if left.match or (left.spec is not None and NO_RHS in left.spec.properties):
            raise CompileError(f"field '{left.key}' doesn't support right-hand side fields")
        if right.match or (right.spec is not None and NO_RHS in right.spec.properties):
            raise CompileError(f"field '{right.key}' can't be used as a right-hand side field")
        list_ok = op in ("in", "intersects") and right.is_list and not left.is_list
        if left.type != right.type or (left.is_list != right.is_list and not list_ok):
            raise CompileError(
                f"field '{left.key}' has type '{type_name(left.type)}' while the right-hand "
                f"side field '{right.key}' has incompatible type '{type_name(right.type)}'")
        chk = ICheck(left, op, text, None, right=right)
        chk.rpred = field_pred(op, left.type, right.is_list)
        return chk

    def _regex(self, pattern: str) -> re.Pattern[str]:
        stripped = re.sub(r"^(\^|\.\*|\.\+|\.\?)+", "", pattern)
        stripped = re.sub(r"(\$|\.\*|\.\+|\.\?)+$", "", stripped)
        if not re.search(r"[\\.^$|?*+()\[\]{}]", stripped):
            self.warnings.condition.append(
                f"regex check with '{pattern}' may be optimized with simpler operators such as "
                "'=', 'contains', 'startswith', 'endswith'")
        try:
            return re.compile(pattern, re.DOTALL)
        except re.error as exc:
            raise CompileError(f"invalid regex pattern: {exc}") from None

    def _value_warnings(self, left: Operand, op: str, raw: list[str]) -> None:
        for r in raw:
            if _FIELD_LIKE.fullmatch(r) and self.fields.lookup(r.split("[")[0]) is not None:
                self.warnings.condition.append(
                    f"'{r}' may be a valid field misused as a const string value")
            elif _TRANSFORMER_LIKE.match(r):
                self.warnings.condition.append(
                    f"'{r}' may be a valid field transformer misused as a const string value")
        if (op in _NA_OPS and "<NA>" in raw
                and (left.field.startswith("ka.") or left.field.startswith("jevt."))):
            self.warnings.unsafe_na = True


def fields_used(ir: Any) -> list[Operand]:
    """Every operand of an IR tree, in order."""
    out: list[Operand] = []

    def visit(n: Any) -> None:
        if isinstance(n, (IAnd, IOr)):
            for c in n.children:
                visit(c)
        elif isinstance(n, INot):
            visit(n.child)
        elif isinstance(n, ICheck):
            out.append(n.left)
            if n.right is not None:
                out.append(n.right)

    visit(ir)
    return out


def _parse_optstring(optstring: str) -> tuple[frozenset[str], frozenset[str]]:
    """getopt(3) optstring -> (valid option chars, chars taking a value); a leading ``:`` only
    changes getopt's error char, which this transformer never reports."""
    valid: set[str] = set()
    with_value: set[str] = set()
    i = 1 if optstring.startswith(":") else 0
    while i < len(optstring):
        c = optstring[i]
        if c != ":":
            valid.add(c)
            if i + 1 < len(optstring) and optstring[i + 1] == ":":
                with_value.add(c)
                i += 1
        i += 1
    return frozenset(valid), frozenset(with_value)


def _getopt_scan(args: list[str], valid: frozenset[str], with_value: frozenset[str],
                 sel: str | None) -> Any:
    """libs' getopt scan: stop at ``--`` or the first non-option, skip long options, expand
    clusters (``-nt``), a value is the rest of the token or the next one."""
    results: list[str] = []
    selected: str | None = None
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            break
        if len(arg) > 2 and arg.startswith("--"):
            i += 1
            continue
        if len(arg) < 2 or arg[0] != "-":
            break
        for j in range(1, len(arg)):
            c = arg[j]
            if c == ":" or c not in valid:
                if sel is None:
                    results.append("?")
                continue
            wanted = sel is None or c == sel
            if c not in with_value:
                if wanted:
                    if sel is None:
                        results.append(c)
                    else:
                        selected = c
                continue
            if j + 1 < len(arg):
                value: str | None = arg[j + 1:]
            elif i + 1 < len(args):
                i += 1
                value = args[i]
            else:
                value = None
            if wanted:
                if sel is not None:
                    selected = "" if value is None else value
                elif value is None:
                    results.append("")
                else:
                    results += (c, value)
            break
        i += 1
    if sel is not None:
        return selected
    return results
