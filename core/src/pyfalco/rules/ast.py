"""The condition AST (libsinsp ``filter/ast.h`` shapes) and its canonical string form.

Nodes are small slotted classes. ``pos`` is the 0-based character index in the parsed text (the
parser turns it into Falco's 1-based line/column for messages). Parentheses leave no node.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True, eq=False)
class Node:
    pos: int = field(default=0, kw_only=True)


@dataclass(slots=True, eq=False)
class And(Node):
    children: list[Node]


@dataclass(slots=True, eq=False)
class Or(Node):
    children: list[Node]


@dataclass(slots=True, eq=False)
class Not(Node):
    child: Node


@dataclass(slots=True, eq=False)
class Identifier(Node):
    """A bare word in check position: a macro reference."""

    name: str


@dataclass(slots=True, eq=False)
class FieldRef(Node):
    """``name`` or ``name[arg]``."""

    name: str
    arg: str | None = None


@dataclass(slots=True, eq=False)
class Transformer(Node):
    """``name(arg, ...)``; ``val(field)`` is the transformer named ``val``."""

    name: str
    args: list[Node]
    arg: str | None = None


@dataclass(slots=True, eq=False)
class Value(Node):
    value: str


@dataclass(slots=True, eq=False)
class ListValue(Node):
    values: list[str]


@dataclass(slots=True, eq=False)
class TransformerList(Node):
    """A parenthesised argument list of a multi-argument transformer (``join``)."""

    children: list[Node]


@dataclass(slots=True, eq=False)
class UnaryCheck(Node):
    left: Node
    op: str  # "exists"


@dataclass(slots=True, eq=False)
class BinaryCheck(Node):
    left: Node
    op: str  # canonical spelling, "startswith oneof" for modifier forms
    right: Node


_NEEDS_QUOTES = set(' ="\'\\\0')


def escape_str(value: str) -> str:
    """libsinsp ``escape_str``: quote when the text has a space, ``=``, quote, backslash or a
    control character; escape backslash, double quote and control characters inside."""
    if not any(c in _NEEDS_QUOTES or ord(c) < 0x20 for c in value):
        return value
    out = ['"']
    for c in value:
        if c == "\\":
            out.append("\\\\")
        elif c == '"':
            out.append('\\"')
        elif c == "\b":
            out.append("\\b")
        elif c == "\f":
            out.append("\\f")
        elif c == "\n":
            out.append("\\n")
        elif c == "\r":
            out.append("\\r")
        elif c == "\t":
            out.append("\\t")
        elif ord(c) < 0x20 or c == "\0":
            out.append(f"\\x{ord(c):02X}")
        else:
            out.append(c)
    out.append('"')
    return "".join(out)


def as_string(node: Node) -> str:
    """Falco's ``ast::as_string``: the "compiled condition" text used in golden tests."""
    if isinstance(node, And):
        return "(" + " and ".join(as_string(c) for c in node.children) + ")"
    if isinstance(node, Or):
        return "(" + " or ".join(as_string(c) for c in node.children) + ")"
    if isinstance(node, Not):
        return "not " + as_string(node.child)
    if isinstance(node, Identifier):
        return node.name
    if isinstance(node, FieldRef):
        return node.name if node.arg is None else f"{node.name}[{escape_str(node.arg)}]"
    if isinstance(node, Transformer):
        s = node.name + "(" + ",".join(as_string(a) for a in node.args) + ")"
        return s if node.arg is None else f"{s}[{escape_str(node.arg)}]"
    if isinstance(node, Value):
        return escape_str(node.value)
    if isinstance(node, ListValue):
        return "(" + ", ".join(escape_str(v) for v in node.values) + ")"
    if isinstance(node, TransformerList):
        return "(" + ", ".join(as_string(c) for c in node.children) + ")"
    if isinstance(node, UnaryCheck):
        return f"{as_string(node.left)} {node.op}"
    if isinstance(node, BinaryCheck):
        return f"{as_string(node.left)} {node.op} {as_string(node.right)}"
    raise TypeError(f"not an AST node: {node!r}")


def walk(node: Node):
    """Every node of the tree, depth first."""
    yield node
    if isinstance(node, (And, Or, TransformerList)):
        for c in node.children:
            yield from walk(c)
    elif isinstance(node, Not):
        yield from walk(node.child)
    elif isinstance(node, Transformer):
        for a in node.args:
            yield from walk(a)
    elif isinstance(node, UnaryCheck):
        yield from walk(node.left)
    elif isinstance(node, BinaryCheck):
        yield from walk(node.left)
        yield from walk(node.right)
