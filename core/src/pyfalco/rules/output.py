"""Output formats (``rule-language.md`` §4): ``%field``, ``%field[arg]``, ``%Nfield``,
``%transformer(field)``; missing values print ``<NA>``. Compiled once per rule into literal
chunks and bound extractors.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..api import Event
from . import ast
from .compile import ConditionCompiler, Operand
from .fields import FILTER_ONLY, SourceFields
from .parser import ParseError, parse_field_or_transformer
from .values import CompileError

NA = "<NA>"
CONTAINER_INFO_WARNING = (
    "%container.info is deprecated and no more useful, and will be dropped by Falco 1.0.0. The "
    "container plugin will automatically add required fields to the output message."
)
_DIGITS = re.compile(r"[0-9]+")


def render_value(v: Any) -> str:
    """A value as Falco prints it in text output."""
    if v is None:
        return NA
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, tuple)):
        try:
            return "(" + ",".join(v) + ")"  # a list of strings (most list fields)
        except TypeError:
            return "(" + ",".join(render_value(x) for x in v) + ")"
    if isinstance(v, (bytes, bytearray)):
        return bytes(v).decode("utf-8", "replace")
    return str(v)


def json_value(v: Any) -> Any:
    """A value as it appears in JSON ``output_fields`` (typed; None = null)."""
    if v is None or isinstance(v, (str, bool, int, float)):
        return v
    if isinstance(v, (list, tuple)):
        return [json_value(x) for x in v]
    if isinstance(v, (ipaddress.IPv4Address, ipaddress.IPv6Address, ipaddress.IPv4Network,
                      ipaddress.IPv6Network)):
        return str(v)
    if isinstance(v, (bytes, bytearray)):
        return bytes(v).decode("utf-8", "replace")
    return str(v)


@dataclass(slots=True)
class Token:
    key: str  # canonical text, the output_fields key
    fn: Callable[[Event], Any]  # never raises: a failing extraction is a missing value
    width: int | None = None
    transformed: bool = False
    raw: Callable[[Event], Any] | None = None  # the bound extractor itself (may raise)


class OutputFormat:
    """A compiled format string."""

    __slots__ = ("text", "parts", "tokens", "warnings", "render")

    def __init__(self, text: str, fields: SourceFields) -> None:
        self.text = text
        self.warnings: list[str] = []
        self.parts: list[str | Token] = []
        self.tokens: list[Token] = []
        self._compile(fields)
        #: ``render(evt) -> str``, generated once per format (see ``_generate_render``).
        self.render: Callable[[Event], str] = _generate_render(self.parts, self.render_generic)

    def _compile(self, fields: SourceFields) -> None:
        text = self.text
        comp = ConditionCompiler(fields)
        literal: list[str] = []
        i, n = 0, len(text)
        while i < n:
            c = text[i]
            if c != "%":
                literal.append(c)
                i += 1
                continue
            j = i + 1
            if j >= n:
                raise CompileError("invalid formatting syntax: formatting cannot end with a %")
            width = None
            m = _DIGITS.match(text, j)
            if m is not None:
                width = int(m.group(0))
                j = m.end()
            tok, end = self._token(comp, text, j)
            if literal:
                self.parts.append("".join(literal))
                literal = []
            tok.width = width
            self.parts.append(tok)
            self.tokens.append(tok)
            i = end
        if literal:
            self.parts.append("".join(literal))

    @staticmethod
    def _token(comp: ConditionCompiler, text: str, start: int) -> tuple[Token, int]:
        try:
            found = parse_field_or_transformer(text, start)
        except ParseError as exc:
            raise CompileError(f"unknown filter: {exc.message}") from None
        if found is None:
            word = re.match(r"[^\s]*", text[start:])
            shown = word.group(0) if word else ""
            raise CompileError(f"unknown filter: unexpected token after '{shown}'")
        node, end = found
        # Longest candidate first; on failure shorten one character at a time (%proc.names ->
        # %proc.name + "s").
        first_error: CompileError | None = None
        while end > start:
            try:
                if end != found[1]:
                    again = parse_field_or_transformer(text[:end], start)
                    if again is None or again[1] != end:
                        end -= 1
                        continue
                    node = again[0]
                op = comp.operand(node)
                break
            except (CompileError, ParseError) as exc:
                if first_error is None:
                    first_error = exc if isinstance(exc, CompileError) else CompileError(
                        exc.message)
                end -= 1
        else:
            assert first_error is not None
            msg = str(first_error)
            if "nonexistent field" in msg:
                raise CompileError(f"unknown filter: {msg}")
            raise first_error
        if op.spec is not None and FILTER_ONLY in op.spec.properties:
            raise CompileError(
                f"{ast.as_string(node)} is filter only and cannot be used as a display field")
        return Token(op.key, _safe(op), None, op.transformed, op.fn), end

    def render_generic(self, evt: Event) -> str:
        """Token by token, each extraction guarded: the path when a bound extractor raises in
        the generated ``render`` (and the baseline of ``benchmarks/bench_rules.py``)."""
        out = []
        for p in self.parts:
            if type(p) is str:
                out.append(p)
                continue
            s = render_value(p.fn(evt))
            if p.width is not None:
                s = s[:p.width].ljust(p.width)
            out.append(s)
        return "".join(out)

    def values(self, evt: Event) -> dict[str, Any]:
        """``output_fields`` for JSON: every token, typed (transformer tokens left out)."""
        return {t.key: json_value(t.fn(evt)) for t in self.tokens if not t.transformed}


def _generate_render(parts: list[str | Token],
                     slow: Callable[[Event], str]) -> Callable[[Event], str]:
    """One function per format: the extractors bound as defaults, all called inside one ``try``
    (an exception falls back to ``slow``, which treats the failing field as missing), then one
    ``"".join`` of literals and values; strings (most values) and missing values skip
    ``render_value``."""
    if not any(isinstance(p, Token) for p in parts):
        const = "".join(p for p in parts if isinstance(p, str))
        return lambda evt: const
    params = ["evt"]
    ns: dict[str, Any] = {"_rv": render_value, "_slow": slow, "_NA": NA}
    calls: list[str] = []
    pieces: list[str] = []
    for i, p in enumerate(parts):
        if isinstance(p, str):
            pieces.append(repr(p))
            continue
        ns[f"_f{i}"] = p.raw
        params.append(f"_f{i}=_f{i}")
        calls.append(f"        v{i} = _f{i}(evt)")
        if p.width is None:
            pieces.append(f"(v{i} if type(v{i}) is str else _NA if v{i} is None else _rv(v{i}))")
        else:
            pieces.append(f"_rv(v{i})[:{p.width}].ljust({p.width})")
    src = "\n".join([
        f"def render({', '.join(params)}):",
        "    try:",
        *calls,
        "    except Exception:",
        "        return _slow(evt)",
        f"    return ''.join(({', '.join(pieces)},))",
    ])
    exec(compile(src, "<output format>", "exec"), ns)  # noqa: S102 - our own generated code
    return ns["render"]


def _safe(op: Operand) -> Callable[[Event], Any]:
    fn = op.fn

    def extract(evt: Event) -> Any:
        try:
            return fn(evt)
        except Exception:
            return None

    return extract


def strip_container_info(text: str) -> tuple[str, bool]:
    """Falco removes ``%container.info`` (with a deprecation warning)."""
    if "%container.info" not in text:
        return text, False
    return text.replace("%container.info", "").strip(), True
