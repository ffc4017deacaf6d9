"""Typed literals and comparison predicates (``rule-language.md`` §3.2-§3.5).

Everything here runs at compile time except the predicates it returns, which are the per-event
comparisons used by the interpreter (and by generated code for the operators it does not
inline).
"""

from __future__ import annotations

import base64
import ipaddress
import re
import socket
from collections.abc import Callable
from typing import Any

from ..api import FieldType as T


class CompileError(Exception):
    """A condition/output that parses but does not compile; the text is Falco's message.
    ``node`` is the AST check that failed, when known (for the error's position)."""

    node: object | None = None


INT_TYPES = frozenset({T.INT8, T.INT16, T.INT32, T.INT64, T.FD, T.PID, T.ERRNO})
UINT_TYPES = frozenset({T.UINT8, T.UINT16, T.UINT32, T.UINT64, T.FLAGS8, T.FLAGS16, T.FLAGS32,
                        T.ENUMFLAGS8, T.ENUMFLAGS16, T.ENUMFLAGS32, T.MODE, T.UID, T.GID,
                        T.L4PROTO, T.RELTIME, T.ABSTIME, T.SYSCALLID, T.SIGTYPE})
NUMERIC_TYPES = INT_TYPES | UINT_TYPES | {T.PORT, T.DOUBLE}
STRING_TYPES = frozenset({T.STRING, T.CHARBUF, T.FSPATH, T.FSRELPATH})
TEXT_TYPES = STRING_TYPES | {T.SOCKADDR, T.SOCKTUPLE, T.SOCKFAMILY}
IP_TYPES = frozenset({T.IPV4ADDR, T.IPV6ADDR, T.IPADDR})
NET_TYPES = frozenset({T.IPV4NET, T.IPV6NET, T.IPNET})
LIST_ELEMENT_TYPES = frozenset({T.CHARBUF, T.STRING, T.UINT64, T.RELTIME, T.ABSTIME, T.BOOL,
                                T.IPADDR, T.IPNET})

_NUM_OPS = frozenset({"=", "==", "!=", "<", "<=", ">", ">=", "in", "intersects", "exists"})
_BOOL_OPS = frozenset({"=", "==", "!=", "in", "intersects", "exists"})
_STR_OPS = frozenset({"=", "==", "!=", "<", "<=", ">", ">=", "contains", "icontains",
                      "startswith", "endswith", "glob", "iglob", "regex", "pmatch", "in",
                      "intersects", "exists"})
_BUF_OPS = frozenset({"=", "==", "!=", "contains", "bcontains", "startswith", "bstartswith",
                      "endswith", "in", "intersects", "exists"})
_IP_OPS = frozenset({"=", "==", "!=", "in", "intersects", "exists"})
_LIST_OPS = frozenset({"in", "intersects", "exists"})


def type_name(t: T) -> str:
    return t.value.upper()


def check_operator(op: str, t: T, is_list: bool) -> None:
    """Falco's ``flt_is_comparable``: raise CompileError when ``op`` does not apply."""
    if is_list:
        if t not in LIST_ELEMENT_TYPES:
            raise CompileError(f"list filters are not supported for type '{type_name(t)}'")
        if op not in _LIST_OPS:
            raise CompileError(f"'{op}' operator not supported list filters")
        return
    if t in NUMERIC_TYPES:
        ok, kind = op in _NUM_OPS, "numeric"
    elif t == T.BOOL:
        ok, kind = op in _BOOL_OPS, "numeric"
    elif t in STRING_TYPES:
        ok, kind = op in _STR_OPS, "string"
    elif t == T.BYTEBUF:
        ok, kind = op in _BUF_OPS, "buffer"
    elif t in IP_TYPES or t in NET_TYPES:
        ok, kind = op in _IP_OPS, "ip address and network"
    elif t in TEXT_TYPES:
        ok, kind = op in _STR_OPS, "string"
    else:
        if op != "exists":
            raise CompileError(f"'{op}' operator not supported for type '{type_name(t)}'")
        return
    if not ok:
        raise CompileError(f"'{op}' operator not supported for {kind} filters")


def _parse_int(s: str, bits: int, signed: bool) -> int:
    if not re.fullmatch(r"[+-]?[0-9]+", s):
        raise CompileError(f"{s} is not a valid number")
    v = int(s)
    mask = (1 << bits) - 1
    v &= mask  # C truncation / strtoul wrap-around
    if signed and v >> (bits - 1):
        v -= 1 << bits
    return v


_BITS = {T.INT8: 8, T.INT16: 16, T.INT32: 32, T.INT64: 64, T.FD: 64, T.PID: 64, T.ERRNO: 64,
         T.UINT8: 8, T.UINT16: 16, T.UINT32: 32, T.UINT64: 64, T.FLAGS8: 8, T.FLAGS16: 16,
         T.FLAGS32: 32, T.ENUMFLAGS8: 8, T.ENUMFLAGS16: 16, T.ENUMFLAGS32: 32, T.MODE: 32,
         T.UID: 32, T.GID: 32, T.L4PROTO: 8, T.RELTIME: 64, T.ABSTIME: 64, T.SYSCALLID: 16,
         T.SIGTYPE: 8}


def parse_literal(text: str, t: T) -> Any:
    """The typed value of a right-hand literal for a field of type ``t``."""
    if "\0" in text:
        raise CompileError("filter error: filter value cannot contain a NUL byte (\\x00)")
    if t in TEXT_TYPES:
        return text
    if t in INT_TYPES:
        return _parse_int(text, _BITS[t], True)
    if t in UINT_TYPES:
        return _parse_int(text, _BITS[t], False)
    if t == T.DOUBLE:
        return float(_parse_int(text, 32, True))
    if t == T.PORT:
        if text == "":
            return 0
        if re.fullmatch(r"[0-9]+", text):
            return int(text) & 0xFFFF
        try:
            return socket.getservbyname(text)
        except OSError:
            raise CompileError(f"unrecognized protocol {text}") from None
    if t == T.BOOL:
        if text == "true":
            return True
        if text == "false":
            return False
        raise CompileError(f"filter error: unrecognized boolean value {text}")
    if t == T.BYTEBUF:
        return text.encode("utf-8", "surrogateescape")
    if t in IP_TYPES:
        if t == T.IPV4ADDR or (t == T.IPADDR and "." in text):
            try:
                return ipaddress.IPv4Address(text)
            except ValueError:
                raise CompileError(f"unrecognized IPv4 address {text}") from None
        try:
            return ipaddress.IPv6Address(text)
        except ValueError:
            raise CompileError(f"unrecognized IPv6 address {text}") from None
    if t in NET_TYPES:
        return parse_net(text, t)
    raise CompileError(f"'{text}' cannot be compared with a field of type '{type_name(t)}'")


def parse_net(text: str, t: T) -> Any:
    v4 = t == T.IPV4NET or (t == T.IPNET and "." in text)
    if "/" not in text:
        # a bare address is a host network (libsinsp accepts it for IPNET comparisons)
        try:
            addr = ipaddress.ip_address(text)
        except ValueError:
            raise CompileError(f"unrecognized IP network {text}") from None
        return ipaddress.ip_network(addr)
    addr, _, mask = text.partition("/")
    try:
        ipaddress.IPv4Address(addr) if v4 else ipaddress.IPv6Address(addr)
    except ValueError:
        raise CompileError(f"unrecognized IP address {addr}") from None
    limit = 32 if v4 else 128
    if not mask.isdigit() or int(mask) > limit:
        raise CompileError(f"invalid netmask {mask}")
    return ipaddress.ip_network(text, strict=False)


def hex_bytes(text: str) -> bytes:
    try:
        if len(text) % 2:
            raise ValueError
        return bytes.fromhex(text)
    except ValueError:
        raise CompileError(
            "filter error: bcontains and bstartswith operator support hex strings only") from None


# -- string helpers --------------------------------------------------------------------------

_ASCII_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}
_ASCII_UPPER = {c: c - 32 for c in range(ord("a"), ord("z") + 1)}


def ascii_lower(s: str) -> str:
    return s.lower() if s.isascii() else s.translate(_ASCII_LOWER)


def ascii_upper(s: str) -> str:
    return s.upper() if s.isascii() else s.translate(_ASCII_UPPER)


def glob_regex(pattern: str, casefold: bool = False) -> re.Pattern[str]:
    """fnmatch(3) with flags 0 (or FNM_CASEFOLD): ``*`` crosses ``/``, backslash escapes,
    ``[...]``/``[!...]`` classes, whole-string match."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        i += 1
        if c == "*":
            out.append(".*")
        elif c == "?":
            out.append(".")
        elif c == "\\" and i < n:
            out.append(re.escape(pattern[i]))
            i += 1
        elif c == "[":
            j = i
            if j < n and pattern[j] in "!^":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1
            while j < n and pattern[j] != "]":
                j += 1
            if j >= n:
                out.append("\\[")
                continue
            body = pattern[i:j]
            i = j + 1
            neg = body[:1] in ("!", "^")
            if neg:
                body = body[1:]
            body = body.replace("\\", "\\\\").replace("[", "\\[")
            out.append(f"[{'^' if neg else ''}{body}]")
        else:
            out.append(re.escape(c))
    flags = re.DOTALL | (re.IGNORECASE if casefold else 0)
    return re.compile("".join(out), flags)


def pmatch_patterns(values: list[str]) -> list[list[Any]]:
    """Split each pattern into components; glob components become regexes."""
    pats = []
    for v in values:
        comps: list[Any] = []
        for c in v.split("/"):
            if not c:
                continue
            comps.append(glob_regex(c) if any(ch in c for ch in "*?[") else c)
        pats.append(comps)
    return pats


def pmatch(path: str, patterns: list[list[Any]]) -> bool:
    parts = [c for c in path.split("/") if c]
    for pat in patterns:
        if len(pat) > len(parts):
            continue
        for pc, part in zip(pat, parts, strict=False):
            if isinstance(pc, str):
                if pc != part:
                    break
            elif pc.fullmatch(part) is None:
                break
        else:
            return True
    return False


def in_net(v: Any, net: Any) -> bool:
    """IPNET membership: an address inside, or a network equal to/contained in ``net``."""
    try:
        if isinstance(v, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
            return v.version == net.version and v.subnet_of(net)
        return v.version == net.version and v in net
    except (TypeError, AttributeError):
        return False


# -- predicates ------------------------------------------------------------------------------

def scalar_pred(op: str, value: Any, t: T) -> Callable[[Any], bool]:
    """``pred(v)`` for a present scalar ``v`` against the compiled constant ``value``."""
    if t in NET_TYPES:
        if op in ("=", "=="):
            return lambda v: in_net(v, value)
        if op == "!=":
            return lambda v: not in_net(v, value)
        if op in ("in", "intersects"):
            nets = tuple(value)
            return lambda v: any(in_net(v, n) for n in nets)
    if op in ("=", "=="):
        return lambda v: v == value
    if op == "!=":
        return lambda v: v != value
    if op == "<":
        return lambda v: v < value
    if op == "<=":
        return lambda v: v <= value
    if op == ">":
        return lambda v: v > value
    if op == ">=":
        return lambda v: v >= value
    if op in ("in", "intersects"):
        s = frozenset(value)
        return lambda v: v in s
    if op == "contains":
        return lambda v: value in v
    if op == "icontains":
        low = ascii_lower(value)
        return lambda v: low in ascii_lower(v)
    if op == "startswith":
        return lambda v: v.startswith(value)
    if op == "endswith":
        return lambda v: v.endswith(value)
    if op in ("glob", "iglob"):
        rx = glob_regex(value, op == "iglob")
        return lambda v: rx.fullmatch(v) is not None
    if op == "regex":
        rx = value
        return lambda v: rx.fullmatch(v) is not None
    if op == "pmatch":
        pats = pmatch_patterns(list(value))
        return lambda v: pmatch(v, pats)
    if op == "bcontains":
        return lambda v: value in v
    if op == "bstartswith":
        return lambda v: v.startswith(value)
    raise CompileError(f"'{op}' operator not supported")


def modifier_pred(op: str, mod: str, values: list[Any], t: T) -> Callable[[Any], bool]:
    preds = [scalar_pred(op, v, t) for v in values]
    if not preds:
        return lambda v: False
    if mod == "anyof":
        return lambda v: any(p(v) for p in preds)
    if mod == "allof":
        return lambda v: all(p(v) for p in preds)
    return lambda v: sum(1 for p in preds if p(v)) == 1  # oneof


def list_pred(op: str, values: frozenset[Any], t: T) -> Callable[[Any], bool]:
    """For list-valued fields: ``in`` = every element in the set, ``intersects`` = any."""
    if t in NET_TYPES:
        nets = tuple(values)
        one = lambda x: any(in_net(x, n) for n in nets)  # noqa: E731
        if op == "in":
            return lambda v: all(one(x) for x in v)
        return lambda v: any(one(x) for x in v)
    # the set's own methods: the same answers (and TypeError on unhashable elements) as
    # testing each element, without a generator per event
    if op == "in":
        return values.issuperset
    isdisjoint = values.isdisjoint
    return lambda v: not isdisjoint(v)


def field_pred(op: str, t: T, rhs_list: bool) -> Callable[[Any, Any], bool]:
    """``pred(l, r)`` for a right-hand side field."""
    if op in ("in", "intersects"):
        if rhs_list:
            return lambda lv, rv: lv in rv
        return lambda lv, rv: lv == rv
    if t in NET_TYPES:
        base = lambda lv, rv: in_net(lv, rv)  # noqa: E731
        if op == "!=":
            return lambda lv, rv: not base(lv, rv)
        return base
    table: dict[str, Callable[[Any, Any], bool]] = {
        "=": lambda a, b: a == b, "==": lambda a, b: a == b, "!=": lambda a, b: a != b,
        "<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b, "contains": lambda a, b: b in a,
        "icontains": lambda a, b: ascii_lower(b) in ascii_lower(a),
        "startswith": lambda a, b: a.startswith(b), "endswith": lambda a, b: a.endswith(b),
        "bcontains": lambda a, b: b in a, "bstartswith": lambda a, b: a.startswith(b),
        "glob": lambda a, b: glob_regex(b).fullmatch(a) is not None,
        "iglob": lambda a, b: glob_regex(b, True).fullmatch(a) is not None,
    }
    return table[op]


# -- transformers ----------------------------------------------------------------------------

def _b64(v: Any) -> Any:
    try:
        raw = base64.b64decode(v, validate=True)
    except (ValueError, TypeError):
        return None
    if isinstance(v, str):
        return raw.decode("utf-8", "surrogateescape")
    return raw


def _basename(v: str) -> str:
    return v.rpartition("/")[2]


TRANSFORMER_INPUTS: dict[str, frozenset[T]] = {
    "tolower": STRING_TYPES, "toupper": STRING_TYPES,
    "b64": frozenset({T.STRING, T.CHARBUF, T.BYTEBUF}),
    "basename": STRING_TYPES,
    "len": STRING_TYPES | {T.BYTEBUF},
}


def transformer_fn(name: str) -> Callable[[Any], Any]:
    if name == "tolower":
        return lambda v: ascii_lower(v) if isinstance(v, str) else v.lower()
    if name == "toupper":
        return lambda v: ascii_upper(v) if isinstance(v, str) else v.upper()
    if name == "b64":
        return _b64
    if name == "basename":
        return _basename
    if name == "len":
        return len
    raise CompileError(f"unknown transformer '{name}'")
