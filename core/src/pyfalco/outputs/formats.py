"""Falco's alert text and JSON formats (falco-core.md §7.3), and its time formats.

Formatting runs on the producer (source) thread, as in Falco: the queue carries finished lines.
The time strings are cached per second (the recent ones), since alerts mostly share one.
"""

from __future__ import annotations

import ipaddress
import json
import re
import time
from collections.abc import Mapping
from typing import Any

import orjson

from ..priority import Priority
from .alert import Alert
from .config import OutputsConfig

INTERNAL_SOURCE = "internal"
_NS = 1_000_000_000
#: Priority titles by number (the enum property costs a descriptor call and a capitalize()).
_TITLES = tuple(p.title for p in Priority)


class _SecondCache:
    """``fmt(seconds)`` memoised for recent seconds: alerts mostly share their second with
    earlier ones, and a replayed capture or a mixed stream revisits a few hundred seconds.
    Bounded (cleared when full, and when ``time.tzset()`` changed the local zone); dict
    operations are atomic, so it is thread-safe."""

    __slots__ = ("_fmt", "_texts", "_zone")

    _MAX = 4096

    def __init__(self, fmt: Any) -> None:
        self._fmt = fmt
        self._texts: dict[int, str] = {}
        self._zone = time.tzname

    def __call__(self, seconds: int) -> str:
        if time.tzname is not self._zone:  # tzset() makes a new tuple
            self._texts.clear()
            self._zone = time.tzname
        text = self._texts.get(seconds)
        if text is None:
            text = self._fmt(seconds)
            if len(self._texts) >= self._MAX:
                self._texts.clear()
            self._texts[seconds] = text
        return text


_local_hms = _SecondCache(lambda s: time.strftime("%H:%M:%S", time.localtime(s)))
_utc_iso = _SecondCache(lambda s: time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(s)))


def evt_time(ts_ns: int) -> str:
    """``%evt.time``: ``HH:MM:SS.nnnnnnnnn`` in the local time zone."""
    seconds, nanos = divmod(ts_ns, _NS)
    return f"{_local_hms(seconds)}.{nanos:09d}"


def evt_time_iso8601(ts_ns: int) -> str:
    """``%evt.time.iso8601``: ``YYYY-MM-DDTHH:MM:SS.nnnnnnnnn+0000`` (UTC)."""
    seconds, nanos = divmod(ts_ns, _NS)
    return f"{_utc_iso(seconds)}.{nanos:09d}+0000"


def json_time(ts_ns: int) -> str:
    """The JSON alert's ``time``: ``YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`` (UTC, RFC 3339)."""
    seconds, nanos = divmod(ts_ns, _NS)
    return f"{_utc_iso(seconds)}.{nanos:09d}Z"


_SURROGATES = re.compile("[\ud800-\udfff]")


def _json_default(value: Any) -> Any:
    """Typed field values orjson does not know: addresses and networks print as Falco prints
    them, byte buffers decode with U+FFFD for invalid UTF-8 (nlohmann's ``replace``)."""
    if isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv6Address,
                          ipaddress.IPv4Network, ipaddress.IPv6Network)):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    if isinstance(value, Priority):
        return value.title
    return str(value)


def _scrub(value: Any) -> Any:
    """Replace lone surrogates (from surrogateescape-decoded data) with U+FFFD, recursively."""
    if isinstance(value, str):
        return _SURROGATES.sub("\ufffd", value)
    if isinstance(value, Mapping):
        return {_scrub(k): _scrub(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_scrub(v) for v in value]
    return value


def dumps(obj: Any) -> str:
    """Compact JSON with sorted keys, as nlohmann::json dumps Falco's alerts."""
    try:
        return orjson.dumps(obj, default=_json_default, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:  # lone surrogates or exotic values: slow path, never fails an alert
        return json.dumps(_scrub(obj), default=_json_default, sort_keys=True,
                          ensure_ascii=False, separators=(",", ":"))


class AlertFormatter:
    """Builds the line each channel writes for an alert or an internal message."""

    def __init__(self, config: OutputsConfig) -> None:
        self.json_output = config.json_output
        self.iso8601 = config.time_format_iso_8601
        self.include_output = config.json_include_output_property
        self.include_message = config.json_include_message_property
        self.include_output_fields = config.json_include_output_fields_property
        self.include_tags = config.json_include_tags_property
        self.hostname = config.hostname

    def text_line(self, alert: Alert) -> str:
        """``<time>: <Priority> <output>`` (Falco 0.44.1: the rule output is not escaped)."""
        ts = evt_time_iso8601(alert.time_ns) if self.iso8601 else evt_time(alert.time_ns)
        return f"{ts}: {_TITLES[alert.priority]} {alert.output}"

    def format(self, alert: Alert) -> str:
        line = self.text_line(alert)
        if not self.json_output:
            return line
        doc: dict[str, Any] = {
            "hostname": alert.hostname or self.hostname,
            "priority": _TITLES[alert.priority],
            "rule": alert.rule,
            "source": alert.source,
            "time": json_time(alert.time_ns),
        }
        if self.include_output:
            doc["output"] = line
        if self.include_message:
            doc["message"] = alert.output
        if self.include_tags:
            doc["tags"] = sorted(alert.tags)
        if self.include_output_fields:
            fields = dict(alert.output_fields)
            # Falco resolves the prefix format too: its time field joins output_fields, as the
            # raw timestamp (integer ns) under the prefix's field name (upstream's golden file
            # single_rule_with_cat_write.json: "evt.time.iso8601":1470327477881781397).
            if self.iso8601:
                if fields.get("evt.time") == alert.time_ns:
                    del fields["evt.time"]  # a non-ISO prefix field added upstream of us
                fields["evt.time.iso8601"] = alert.time_ns
            else:
                fields["evt.time"] = alert.time_ns
            doc["output_fields"] = fields
        return dumps(doc)

    def format_internal(self, time_ns: int, priority: Priority, msg: str, rule: str,
                        fields: Mapping[str, Any]) -> str:
        """An internal message (drops, timeouts, metrics snapshots, hot restart failures):
        source ``internal``, no tags; the text form lists the fields as ``(k=<json> ...)``
        sorted by key, and its time is always ``%evt.time``."""
        if not isinstance(fields, Mapping):
            raise ValueError("falco_outputs: output fields must be key-value maps")
        if self.json_output:
            return dumps({
                "hostname": self.hostname,
                "output": msg,
                "output_fields": dict(fields),
                "priority": priority.title,
                "rule": rule,
                "source": INTERNAL_SOURCE,
                "time": json_time(time_ns),
            })
        parts = []
        for key in sorted(fields):
            value = fields[key]
            if isinstance(value, (Mapping, list, tuple, set, frozenset)):
                raise ValueError("falco_outputs: output fields must be key-value maps")
            parts.append(f"{key}={dumps(value)}")
        return f"{evt_time(time_ns)}: {priority.title} {msg} ({' '.join(parts)})"
