"""``-o key=value``: Falco's key-path grammar and how an override edits the config tree.

Grammar (falco-core.md §4.2)::

    Key     := NodeKey ('.' NodeKey)*
    NodeKey := (Char | EscSeq)+ ('[' int? ']')*

``\\.``, ``\\[``, ``\\]`` and ``\\\\`` escape literal characters in key names; an empty index
``[]`` appends to a sequence (created when absent). A value written ``{...}`` is parsed as a YAML
flow map; anything else is a string scalar, typed later the way Falco types scalars on read
(:func:`typed_scalar`). ``-o`` values are never ``${ENV}``-expanded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

from ..errors import ConfigError

#: A path segment: a mapping key (str), a sequence index (int) or APPEND.
APPEND = object()
Segment = Any


def parse_key(key: str) -> list[Segment]:
    """Split ``key`` into segments; ``ConfigError`` with Falco's text on a grammar error."""
    try:
        return _parse_key(key)
    except _KeyError as exc:
        raise ConfigError(f'Config error at key "{key}": Parsing error: {exc}') from None


class _KeyError(Exception):
    pass


_ESCAPABLE = ".[]\\"


def _parse_key(key: str) -> list[Segment]:
    segments: list[Segment] = []
    i, n = 0, len(key)
    if n == 0:
        raise _KeyError("unexpected character at pos 0")
    while True:
        # NodeKey name: at least one character or escape sequence
        name: list[str] = []
        while i < n and key[i] not in ".[":
            c = key[i]
            if c == "]":
                raise _KeyError(f"unexpected character at pos {i}")
            if c == "\\":
                if i + 1 >= n:
                    raise _KeyError(f"trailing backslash at pos {i}")
                nxt = key[i + 1]
                if nxt not in _ESCAPABLE:
                    raise _KeyError(f"invalid escape sequence '\\{nxt}' at pos {i}")
                name.append(nxt)
                i += 2
                continue
            name.append(c)
            i += 1
        if not name:
            raise _KeyError(f"unexpected character at pos {i}")
        segments.append("".join(name))
        # zero or more [index]
        while i < n and key[i] == "[":
            close = key.find("]", i)
            if close < 0:
                raise _KeyError(f"expected a numeric index, found '{key[i + 1:]}'")
            text = key[i + 1 : close]
            if text == "":
                segments.append(APPEND)
            elif re.fullmatch(r"\d+", text):
                segments.append(int(text))
            else:
                raise _KeyError(f"expected a numeric index, found '{text}'")
            i = close + 1
        if i == n:
            return segments
        if key[i] != ".":
            raise _KeyError(f"expected '.' character at pos {i}")
        i += 1
        if i == n:
            raise _KeyError(f"unexpected character at pos {i - 1}")


@dataclass(frozen=True)
class Override:
    """One ``-o`` option, parsed."""

    text: str
    key: str
    path: tuple[Segment, ...]
    value: Any

    @classmethod
    def parse(cls, text: str) -> Override:
        key, sep, raw = text.partition("=")
        if not sep:
            raise ConfigError(
                f'Error parsing config option "{text}". Must be of the form key=val or '
                "key.subkey=val"
            )
        path = tuple(parse_key(key))
        value: Any
        if raw.startswith("{") and raw.endswith("}"):
            try:
                value = yaml.safe_load(raw)
            except yaml.YAMLError as exc:
                raise ConfigError(
                    f'Config error at key "{key}": cannot parse value {raw!r} as an object: '
                    f"{_one_line(exc)}"
                ) from None
        else:
            value = OptionScalar(raw)
        return cls(text=text, key=key, path=path, value=value)

    def apply(self, tree: dict[str, Any]) -> None:
        """Set the value at ``path`` in ``tree``, creating maps and sequences on the way."""
        node: Any = tree
        for seg, nxt in zip(self.path, (*self.path[1:], None), strict=True):
            last = nxt is None
            fresh: Any = None if last else ([] if not isinstance(nxt, str) else {})
            if isinstance(seg, str):
                if not isinstance(node, dict):
                    raise ConfigError(
                        f'Config error at key "{self.key}": cannot use key "{seg}" on a '
                        f"{_kind(node)}"
                    )
                if last:
                    node[seg] = self.value
                    return
                child = node.get(seg)
                if not isinstance(child, dict | list):
                    child = fresh
                    node[seg] = child
                node = child
                continue
            # a sequence index or an append
            if not isinstance(node, list):
                raise ConfigError(
                    f'Config error at key "{self.key}": cannot index a {_kind(node)}'
                )
            if seg is APPEND:
                node.append(fresh)
                idx = len(node) - 1
            else:
                idx = seg
                # yaml-cpp grows the sequence up to the index with nulls
                while len(node) <= idx:
                    node.append(None)
            if last:
                node[idx] = self.value
                return
            if not isinstance(node[idx], dict | list):
                node[idx] = fresh
            node = node[idx]


def _kind(node: Any) -> str:
    return "sequence" if isinstance(node, list) else "map" if isinstance(node, dict) else "scalar"


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())


class OptionScalar(str):
    """A ``-o`` value: a string that Falco types when it is read (``true``, ``5000``, ``1h``).

    :func:`normalize` replaces it with :func:`typed_scalar` once all overrides are applied, so the
    rest of the app (and plugins) see plain Python values.
    """

    __slots__ = ()


_INT = re.compile(r"[-+]?[0-9]+$")
_HEX = re.compile(r"0x[0-9a-fA-F]+$")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+\.[0-9]*|[0-9]+(?=[eE]))([eE][-+]?[0-9]+)?$")
_TRUE = frozenset({"true", "True", "TRUE"})
_FALSE = frozenset({"false", "False", "FALSE"})


def typed_scalar(text: str) -> Any:
    """Falco's reading of an untyped scalar: integer, else float, else boolean, else string."""
    if _INT.match(text):
        return int(text)
    if _HEX.match(text):
        return int(text, 16)
    if _FLOAT.match(text):
        return float(text)
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    return str(text)


def normalize(node: Any) -> Any:
    """Replace every :class:`OptionScalar` in ``node`` by its typed value (in place for
    containers; returns the new node)."""
    if isinstance(node, OptionScalar):
        return typed_scalar(node)
    if isinstance(node, dict):
        for k, v in node.items():
            node[k] = normalize(v)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            node[i] = normalize(v)
    return node
