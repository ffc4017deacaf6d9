"""Condition parser: libsinsp's recursive-descent grammar (``rule-language.md`` §2).

There is no tokenizer: like upstream, each rule tries a literal or an anchored regex at the
cursor. Literal operators match as prefixes (``x.y inz`` is ``in`` + ``z``), spelled operators
need a blank after them, and errors carry upstream's texts and the cursor position.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable

from . import ast

MAX_DEPTH = 1000  # Falco's limit for rule conditions (libsinsp's default is 100)

_BLANKS = " \t\b\r\n"
_RGX_NOT_BLANK = re.compile(r"not[ \t\n\r\f\v]+")
_RGX_IDENTIFIER = re.compile(r"[a-zA-Z]+[a-zA-Z0-9_]*")
_RGX_FIELD_NAME = re.compile(r"[a-zA-Z]+[a-zA-Z0-9_]*(?:\.[a-zA-Z]+[a-zA-Z0-9_]*)+")
_RGX_FIELD_ARG_BARESTR = re.compile(r"[^\]\[\"' \t\n\r\f\v]+")
_RGX_HEX_NUM = re.compile(r"0[xX][0-9a-fA-F]+")
_RGX_NUM = re.compile(r"[+\-]?[0-9]+\.?[0-9]*(?:[eE][+\-][0-9]+)?")
_RGX_BARESTR = re.compile(r"[^()\"' \t\n\r\f\v=,]+")
_RGX_MODIFIER = re.compile(r"(oneof|anyof|allof)[ \t\b\r\n]+")
_RGX_KEYWORD_AHEAD = re.compile(r"(and|or|not)(?:[ \t\b\r\n(]|$)")

UNARY_OPS = ("exists",)
NUM_OPS = ("<=", "<", ">=", ">")
STR_OPS = ("==", "=", "!=", "glob", "iglob", "contains", "icontains", "bcontains",
           "startswith", "bstartswith", "endswith", "regex")
_SPELLED = frozenset(STR_OPS[3:])
LIST_OPS = ("intersects", "in", "pmatch")
MODIFIERS = ("oneof", "anyof", "allof")
#: ``parser::supported_operators()`` in upstream order.
SUPPORTED_OPERATORS = ("exists", *NUM_OPS, *STR_OPS, *LIST_OPS)
#: Operators whose right side is a list (exception comps decide parenthesising on this).
LIST_COMPS = frozenset(LIST_OPS)
#: String operators that accept a oneof/anyof/allof modifier.
MODIFIABLE_OPS = frozenset(STR_OPS)
TRANSFORMERS = ("tolower", "toupper", "b64", "basename", "len", "join", "concat", "getopt")
_TRANSFORMER_LIST_TEXT = ", ".join(f"'{t}'" for t in ("val", *TRANSFORMERS))
_OPERATORS_TEXT = ", ".join(f"'{o}'" for o in SUPPORTED_OPERATORS)


class ParseError(Exception):
    """A syntax error; ``pos`` is the 0-based cursor index where upstream's parser stopped."""

    def __init__(self, message: str, pos: int) -> None:
        super().__init__(message)
        self.message = message
        self.pos = pos


def is_comp_operator(comp: str) -> bool:
    """True for the operators an exception ``comps`` entry may name (modifier forms included)."""
    if comp in SUPPORTED_OPERATORS:
        return True
    op, _, mod = comp.partition(" ")
    return op in MODIFIABLE_OPS and mod.strip() in MODIFIERS and mod == mod.strip()


def is_list_comp(comp: str) -> bool:
    """Exception comps whose value is a list: ``in``/``intersects``/``pmatch`` and modifiers."""
    return comp in LIST_COMPS or (" " in comp and is_comp_operator(comp))


def unescape(raw: str) -> str:
    """Unescape the inside of a quoted string (``raw`` includes both quotes)."""
    quote = raw[0]
    body = raw[1:-1]
    if "\\" not in body:
        return body
    out: list[str] = []
    i, n = 0, len(body)
    while i < n:
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        if i + 1 >= n:
            raise ValueError("unsupported string escape sequence: \\")
        e = body[i + 1]
        i += 2
        if e in "bfnrt":
            out.append({"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}[e])
        elif e == "\\":
            out.append("\\")
        elif e == "/":
            out.append("/")
        elif e == " ":
            out.append("\\")  # legacy: "\ " is one backslash (an old upstream rule relies on it)
        elif e in "\"'":
            if e != quote:
                raise ValueError(f"invalid \\{e} escape in {quote}-quoted string")
            out.append(e)
        elif e == "x":
            hx = body[i:i + 2]
            if len(hx) < 2:
                raise ValueError("truncated hex char escape sequence")
            if not all(h in "0123456789abcdefABCDEF" for h in hx):
                raise ValueError(f"invalid hex char escape sequence: {hx}")
            out.append(chr(int(hx, 16)))
            i += 2
        else:
            raise ValueError(f"unsupported string escape sequence: \\{e}")
    return "".join(out)


def parse(text: str, max_depth: int = MAX_DEPTH) -> ast.Node:
    """Parse a whole condition (no partial parse). Raises :class:`ParseError`."""
    return _Parser(text, max_depth).parse()


def parse_field_or_transformer(text: str, start: int) -> tuple[ast.Node, int] | None:
    """For output formats: parse ``field[arg]`` or ``transformer(...)`` at ``start``; returns the
    node and the end index, or None when nothing field-like is there. ParseError on a bad one."""
    p = _Parser(text, MAX_DEPTH)
    p.i = start
    if p._lex_field_name():
        node = p._field_remainder(p.last, start)
        return node, p.i
    if p._lex_transformer():
        node = p._transformer_remainder(p.last, start)
        return node, p.i
    return None


class _Parser:
    __slots__ = ("text", "n", "i", "last", "depth", "max_depth")

    def __init__(self, text: str, max_depth: int) -> None:
        self.text = text
        self.n = len(text)
        self.i = 0
        self.last = ""
        self.depth = 0
        self.max_depth = max_depth

    # -- helpers ---------------------------------------------------------------------------
    def error(self, message: str) -> ParseError:
        return ParseError(message, self.i)

    def enter(self) -> None:
        self.depth += 1
        if self.depth >= self.max_depth:
            raise self.error(f"exceeded max depth limit of {self.max_depth}")

    def blank(self) -> bool:
        i, text, n = self.i, self.text, self.n
        while i < n and text[i] in _BLANKS:
            i += 1
        found = i != self.i
        self.i = i
        return found

    def lit(self, s: str) -> bool:
        if self.text.startswith(s, self.i):
            self.i += len(s)
            self.last = s
            return True
        return False

    def rgx(self, r: re.Pattern[str]) -> bool:
        m = r.match(self.text, self.i)
        if m is None or m.end() == self.i:
            return False
        self.last = m.group(0)
        self.i = m.end()
        return True

    def _lex_field_name(self) -> bool:
        return self.rgx(_RGX_FIELD_NAME)

    def _lex_transformer(self) -> bool:
        for t in TRANSFORMERS:
            if self.text.startswith(t + "(", self.i):
                self.i += len(t) + 1
                self.last = t
                return True
        return False

    def _lex_quoted(self) -> bool:
        text, i, n = self.text, self.i, self.n
        if i >= n or text[i] not in "\"'":
            return False
        quote = text[i]
        prev = "\\"
        j = i
        while j < n:
            c = text[j]
            if c == quote and prev != "\\":
                try:
                    self.last = unescape(text[i:j + 1])
                except ValueError as exc:
                    self.i = j + 1
                    raise self.error(str(exc)) from None
                self.i = j + 1
                return True
            prev = c
            j += 1
        return False

    def _lex_str_op(self) -> str | None:
        text, i = self.text, self.i
        for op in STR_OPS:
            if text.startswith(op, i):
                end = i + len(op)
                if op in _SPELLED:
                    if end >= self.n or text[end] not in _BLANKS:
                        continue
                    end += 1
                self.i = end
                self.last = text[i:end]
                return op
        return None

    # -- grammar ---------------------------------------------------------------------------
    def parse(self) -> ast.Node:
        if not self.text:
            raise ParseError("filter input string is empty", 0)
        # each depth level is about one Python frame: make room for Falco's limit of 1000
        limit = sys.getrecursionlimit()
        need = self.max_depth * 2 + 200
        if limit < need:
            sys.setrecursionlimit(need)
        try:
            node = self.parse_or()
        finally:
            if limit < need:
                sys.setrecursionlimit(limit)
        if self.i != self.n:
            raise self.error(f"unexpected token after '{self.last}', expecting 'or', 'and'")
        return node

    def parse_or(self) -> ast.Node:
        return self._chain("or", self.parse_and, ast.Or)

    def parse_and(self) -> ast.Node:
        return self._chain("and", self.parse_not, ast.And)

    def _chain(self, word: str, operand: Callable[[], ast.Node],
               node: Callable[..., ast.Node]) -> ast.Node:
        """``operand (word operand)*``; after ``word`` a blank or a parenthesized expression."""
        self.enter()
        pos = self.i
        self.blank()
        children = [operand()]
        self.blank()
        while self.lit(word):
            if not self.blank():
                if self.lit("("):
                    children.append(self.parse_embedded())
                else:
                    raise self.error(f"expected blank or '(' after '{word}'")
            else:
                children.append(operand())
            self.blank()
        self.depth -= 1
        return children[0] if len(children) == 1 else node(children, pos=pos)

    def parse_not(self) -> ast.Node:
        self.enter()
        pos = self.i
        self.blank()
        negate = False
        while self.rgx(_RGX_NOT_BLANK):
            negate = not negate
        if self.lit("not("):
            negate = not negate
            child = self.parse_embedded()
        else:
            child = self.parse_check()
        self.depth -= 1
        return ast.Not(child, pos=pos) if negate else child

    def parse_embedded(self) -> ast.Node:
        """The rest of ``( Expr )`` after the ``(``."""
        self.enter()
        self.blank()
        child = self.parse_or()
        self.blank()
        if not self.lit(")"):
            raise self.error("expected a ')' token")
        self.depth -= 1
        return child

    def parse_check(self) -> ast.Node:
        self.enter()
        self.blank()
        pos = self.i
        if self.lit("("):
            node = self.parse_embedded()
        elif self._lex_field_name():
            left = self._field_remainder(self.last, pos)
            node = self.parse_condition(left, pos)
        elif self._lex_transformer():
            left = self._transformer_remainder(self.last, pos)
            node = self.parse_condition(left, pos)
        elif self.rgx(_RGX_IDENTIFIER):
            node = ast.Identifier(self.last, pos=pos)
        else:
            raise self.error("expected a '(' token, a field check, or an identifier")
        self.depth -= 1
        return node

    def _field_remainder(self, name: str, pos: int) -> ast.FieldRef:
        arg = None
        if self.lit("["):
            arg = self._field_arg()
        return ast.FieldRef(name, arg, pos=pos)

    def _field_arg(self) -> str:
        if not self._lex_quoted() and not self.rgx(_RGX_FIELD_ARG_BARESTR):
            raise self.error("expected a valid field argument: a quoted string or a bare string")
        arg = self.last
        if not self.lit("]"):
            raise self.error("expected a ']' token")
        return arg

    def _transformer_remainder(self, name: str, pos: int) -> ast.Transformer:
        """After ``name(``: arguments, ``)``, optional ``[arg]``."""
        self.enter()
        args: list[ast.Node] = []
        self.blank()
        args.append(self._transformer_arg())
        self.blank()
        while self.lit(","):
            self.blank()
            args.append(self._transformer_arg())
            self.blank()
        if not self.lit(")"):
            raise self.error("expected a ')' token closing the transformer")
        arg = None
        if self.lit("["):
            arg = self._field_arg()
        self.depth -= 1
        return ast.Transformer(name, args, arg, pos=pos)

    def _transformer_arg(self) -> ast.Node:
        pos = self.i
        if self._lex_transformer():
            return self._transformer_remainder(self.last, pos)
        if self._lex_field_name():
            return self._field_remainder(self.last, pos)
        if self._lex_quoted():
            return ast.Value(self.last, pos=pos)
        if self.rgx(_RGX_HEX_NUM) or self.rgx(_RGX_NUM):
            return ast.Value(self.last, pos=pos)
        if self.lit("("):
            children: list[ast.Node] = []
            self.blank()
            if not self.lit(")"):
                children.append(self._transformer_list_item())
                self.blank()
                while self.lit(","):
                    self.blank()
                    children.append(self._transformer_list_item())
                    self.blank()
                if not self.lit(")"):
                    raise self.error("expected a ')' token")
            return ast.TransformerList(children, pos=pos)
        raise self.error("expected field transformer argument: field, transformer, quoted "
                         "string, number, or transformer list")

    def _transformer_list_item(self) -> ast.Node:
        pos = self.i
        if self._lex_transformer():
            return self._transformer_remainder(self.last, pos)
        if self._lex_field_name():
            return self._field_remainder(self.last, pos)
        if self._lex_quoted():
            return ast.Value(self.last, pos=pos)
        if self.rgx(_RGX_HEX_NUM) or self.rgx(_RGX_NUM):
            return ast.Value(self.last, pos=pos)
        raise self.error("expected field transformer argument: field, transformer, quoted "
                         "string, number, or transformer list")

    def parse_condition(self, left: ast.Node, pos: int) -> ast.Node:
        self.enter()
        self.blank()
        if self.lit("exists"):
            self.depth -= 1
            return ast.UnaryCheck(left, "exists", pos=pos)
        for op in NUM_OPS:
            if self.lit(op):
                right = self._num_value()
                break
        else:
            op = self._lex_str_op()
            if op is not None:
                right, op = self._str_value(op)
            else:
                for op in LIST_OPS:
                    if self.lit(op):
                        right = self._list_value()
                        break
                else:
                    raise self.error(
                        f"expected a valid check operator: one of {_OPERATORS_TEXT}")
        self.depth -= 1
        return ast.BinaryCheck(left, op, right, pos=pos)

    def _val_or_transformer(self) -> ast.Node | None:
        pos = self.i
        if self.lit("val("):
            self.blank()
            fpos = self.i
            if not self._lex_field_name():
                raise self.error("expected a field within 'val' transformer")
            child = self._field_remainder(self.last, fpos)
            self.blank()
            if not self.lit(")"):
                raise self.error("expected a ')' token closing the transformer")
            arg = self._field_arg() if self.lit("[") else None
            return ast.Transformer("val", [child], arg, pos=pos)
        if self._lex_transformer():
            return self._transformer_remainder(self.last, pos)
        return None

    def _num_value(self) -> ast.Node:
        self.blank()
        pos = self.i
        node = self._val_or_transformer()
        if node is not None:
            return node
        if self.rgx(_RGX_HEX_NUM) or self.rgx(_RGX_NUM):
            return ast.Value(self.last, pos=pos)
        raise self.error("expected a number value or a field with a valid transformer: "
                         + _TRANSFORMER_LIST_TEXT)

    def _str_value(self, op: str) -> tuple[ast.Node, str]:
        had_blank = op in _SPELLED
        if self.blank():
            had_blank = True
        pos = self.i
        if had_blank:
            m = _RGX_MODIFIER.match(self.text, self.i)
            if m is not None:
                after = m.end()
                if after < self.n and not _RGX_KEYWORD_AHEAD.match(self.text, after):
                    self.i = after
                    self.last = m.group(1)
                    right = self._modifier_list()
                    return right, f"{op} {m.group(1)}"
        node = self._val_or_transformer()
        if node is not None:
            return node, op
        if self._lex_quoted() or self.rgx(_RGX_BARESTR):
            return ast.Value(self.last, pos=pos), op
        raise self.error("expected a string value or a field with a valid transformer: "
                         + _TRANSFORMER_LIST_TEXT)

    def _modifier_list(self) -> ast.Node:
        pos = self.i
        if self.lit("("):
            return self._list_items(pos)
        if self.rgx(_RGX_IDENTIFIER):
            return ast.Value(self.last, pos=pos)
        raise self.error("expected a list or an identifier")

    def _list_items(self, pos: int) -> ast.ListValue:
        values: list[str] = []
        self.blank()
        if self._lex_quoted() or self.rgx(_RGX_BARESTR):
            values.append(self.last)
            self.blank()
            while self.lit(","):
                self.blank()
                if not (self._lex_quoted() or self.rgx(_RGX_BARESTR)):
                    raise self.error("expected a string value")
                values.append(self.last)
                self.blank()
        if not self.lit(")"):
            raise self.error("expected a ')' token")
        return ast.ListValue(values, pos=pos)

    def _list_value(self) -> ast.Node:
        self.blank()
        pos = self.i
        if self.lit("("):
            return self._list_items(pos)
        node = self._val_or_transformer()
        if node is not None:
            return node
        if self.rgx(_RGX_IDENTIFIER):
            return ast.Value(self.last, pos=pos)
        raise self.error("expected a list, an identifier, or a field with a valid transformer: "
                         + _TRANSFORMER_LIST_TEXT)
