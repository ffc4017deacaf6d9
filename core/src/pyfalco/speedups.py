"""Compiled hot spots, each with its pure-Python twin.

Some things run several times per event whatever the rules say: reading a field that is a
path of dict keys (most fields of JSON sources), the same in each item of a list, and reading
an RFC 3339 timestamp.
``pyfalco._speedups`` (C, built with the package when a compiler is present) does the common
case of each and hands anything else to Python code of the same meaning, so its answers are
the Python ones; without it the twins below run. :data:`COMPILED` says which; the environment
variable ``PYFALCO_PURE_PYTHON=1`` makes pyfalco run the twins even when the module is built.

Plugin authors may use both; the k8saudit fields and timestamps do.

- :func:`path_getter` ``(attr, keys, slow, *, leaf=str, int_as_text=False)``: a callable
  ``f(evt)`` returning the value found at ``getattr(evt, attr)[keys[0]][keys[1]]...`` when
  every step is a dict and the value's exact type is ``leaf``, None when a key is missing, and
  ``slow(evt)`` otherwise (no such attribute, a step that is not a dict, a leaf of another
  type; with ``int_as_text``, an int leaf is returned as its decimal text).
- :func:`leaves` ``(items, keys, render)``: for each item of the list ``items`` in which the
  path ``keys`` leads through dicts to a value, that value: a str as is, anything else as
  ``render(value)``; items without it are skipped (list fields over containers, volumes...).
- :func:`rfc3339_ns` ``(text)``: ns since the epoch of ``YYYY-MM-DDTHH:MM:SS[.1-9 digits]``
  followed by ``Z`` or ``±HH:MM`` (``T`` and ``Z`` in either case), or None for anything else
  and for stamps whose ns do not fit an int64.
- :func:`parse_rfc3339_ns` ``(text)``: the same, any year, ``ValueError`` naming the text
  when it is not RFC 3339 (the compiled form first, then the Python parser).

core/tests/unit/test_speedups.py checks each compiled one against its twin.
"""

from __future__ import annotations

import calendar
import operator
import os
import re
from collections.abc import Callable
from typing import Any

if os.environ.get("PYFALCO_PURE_PYTHON"):  # the twins even when compiled (comparisons)
    _speedups = None
else:
    try:
        from . import _speedups
    except ImportError:  # no compiler when the package was built: the twins below
        _speedups = None  # type: ignore[assignment]

#: True when the compiled module is in use
COMPILED = _speedups is not None

_MISSING = object()


def py_path_getter(attr: str, keys: tuple[str, ...], slow: Callable[[Any], Any], *,
                   leaf: type = str, int_as_text: bool = False) -> Callable[[Any], Any]:
    """The pure-Python :func:`path_getter` (paths of one and two keys, most fields, without
    the loop)."""
    if not keys:
        raise ValueError("PathGetter needs at least one key")
    root_of = operator.attrgetter(attr)

    def end(evt: Any, v: Any) -> Any:
        if type(v) is leaf:
            return v
        if v is _MISSING:
            return None
        if int_as_text and type(v) is int:
            return str(v)
        return slow(evt)

    if len(keys) == 1:
        (k,) = keys

        def get1(evt: Any) -> Any:
            try:
                root = root_of(evt)
            except AttributeError:
                return slow(evt)
            if type(root) is not dict:
                return slow(evt)
            v = root.get(k, _MISSING)
            return v if type(v) is leaf else end(evt, v)

        return get1
    if len(keys) == 2:
        k1, k2 = keys

        def get2(evt: Any) -> Any:
            try:
                root = root_of(evt)
            except AttributeError:
                return slow(evt)
            if type(root) is not dict:
                return slow(evt)
            sub = root.get(k1, _MISSING)
            if type(sub) is not dict:
                return None if sub is _MISSING else slow(evt)
            v = sub.get(k2, _MISSING)
            return v if type(v) is leaf else end(evt, v)

        return get2

    def get(evt: Any) -> Any:
        try:
            cur = root_of(evt)
        except AttributeError:
            return slow(evt)
        for k in keys:
            if type(cur) is not dict:
                return slow(evt)
            cur = cur.get(k, _MISSING)
            if cur is _MISSING:
                return None
        return end(evt, cur)

    return get


def py_leaves(items: list[Any], keys: tuple[str, ...], render: Callable[[Any], str]
              ) -> list[str]:
    """The pure-Python :func:`leaves`."""
    out = []
    for item in items:
        v = item
        for k in keys:
            if type(v) is not dict:
                break
            v = v.get(k, _MISSING)
            if v is _MISSING:
                break
        else:
            out.append(v if type(v) is str else render(v))
    return out


#: RFC 3339 with an optional fraction of 1-9 digits (Go's time.RFC3339Nano)
_RFC3339 = re.compile(
    r"(\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))\Z",
    re.ASCII,
)


def _epoch_seconds(datetime_text: str) -> int:
    y, mo, d = int(datetime_text[0:4]), int(datetime_text[5:7]), int(datetime_text[8:10])
    h, mi, s = int(datetime_text[11:13]), int(datetime_text[14:16]), int(datetime_text[17:19])
    if not (1 <= mo <= 12 and h <= 23 and mi <= 59 and s <= 60
            and 1 <= d <= calendar.monthrange(y, mo)[1]):  # Go: "day out of range"
        raise ValueError(f"invalid date-time {datetime_text!r}")
    return calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0))


#: nanoseconds since the epoch of a ``YYYY-MM-DDTHH:MM:SS.`` text (a UTC stamp with a
#: fraction, as the API server writes them): the events of a stream mostly share their second
#: with the previous ones (bounded: cleared when full).
_SECONDS: dict[str, int] = {}
_SECONDS_MAX = 4096
#: nanoseconds per unit of a fraction of 1..9 digits
_FRAC_SCALE = (0, 100_000_000, 10_000_000, 1_000_000, 100_000, 10_000, 1_000, 100, 10, 1)


def py_parse_rfc3339_ns(text: str) -> int:
    """The pure-Python :func:`parse_rfc3339_ns`."""
    # the fast path: the second of a recent stamp, "Z", 1-9 fraction digits
    base = _SECONDS.get(text[:20])
    if base is not None and text[-1] == "Z":
        frac = text[20:-1]
        if frac.isdigit() and frac.isascii() and len(frac) <= 9:
            return base + int(frac) * _FRAC_SCALE[len(frac)]
    m = _RFC3339.match(text)
    if m is None:
        raise ValueError(f"cannot parse {text!r} as RFC 3339")
    dt, frac, z, sign, oh, om = m.groups()
    secs = _epoch_seconds(dt)
    if z == "Z" and frac is not None:  # the form the fast path reads: remember its second
        if len(_SECONDS) >= _SECONDS_MAX:
            _SECONDS.clear()
        _SECONDS[text[:20]] = secs * 1_000_000_000
    if sign is not None:
        offset = int(oh) * 3600 + int(om) * 60
        secs = secs - offset if sign == "+" else secs + offset
    ns = int(frac.ljust(9, "0")) if frac else 0
    return secs * 1_000_000_000 + ns


_NS_MIN, _NS_MAX = -9_200_000_000, 9_200_000_000  # seconds whose ns fit an int64


def py_rfc3339_ns(text: Any) -> int | None:
    """The pure-Python :func:`rfc3339_ns`: :func:`py_parse_rfc3339_ns` within an int64."""
    if type(text) is not str:
        return None
    try:
        ns = py_parse_rfc3339_ns(text)
    except ValueError:
        return None
    return ns if _NS_MIN < ns // 1_000_000_000 < _NS_MAX else None


if _speedups is not None:
    def path_getter(attr: str, keys: tuple[str, ...], slow: Callable[[Any], Any], *,
                    leaf: type = str, int_as_text: bool = False) -> Callable[[Any], Any]:
        return _speedups.PathGetter(attr, tuple(keys), slow,  # type: ignore[no-any-return]
                                    leaf=leaf, int_as_text=int_as_text)

    leaves: Callable[[list[Any], tuple[str, ...], Callable[[Any], str]], list[str]] = (
        _speedups.leaves)
    rfc3339_ns: Callable[[Any], int | None] = _speedups.rfc3339_ns

    def parse_rfc3339_ns(text: str) -> int:
        ns = _speedups.rfc3339_ns(text)
        return ns if ns is not None else py_parse_rfc3339_ns(text)
else:
    path_getter = py_path_getter
    leaves = py_leaves
    rfc3339_ns = py_rfc3339_ns
    parse_rfc3339_ns = py_parse_rfc3339_ns
