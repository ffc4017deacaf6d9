"""The falco.yaml keys the outputs read, with Falco's code defaults (falco-core.md §6, §7).

Only the enabled channels are kept, in Falco's fixed instantiation order: file, stdout, syslog,
program, http. Values coming from ``-o key=value`` are strings; they are converted the way
Falco's YAML helper converts them, and a value that does not convert is a ``ConfigError`` that
names the key.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError

NO_OUTPUT = (
    "No output configured, please make sure at least one output is configured and enabled."
)

#: Falco's ``outputs_queue.capacity: 0`` means "unbounded" (a TBB queue of SIZE_MAX). pyfalco
#: keeps the queue bounded even then, at this many pending messages, so that a stalled channel
#: cannot exhaust memory; every message refused beyond it is counted (README: quirks).
UNBOUNDED_QUEUE_CAPACITY = 100_000

CHANNEL_ORDER = ("file", "stdout", "syslog", "program", "http")

_TRUE = {"true", "yes", "on", "1", "y"}
_FALSE = {"false", "no", "off", "0", "n", ""}


def get_path(config: Mapping[str, Any], dotted: str, default: Any = None) -> Any:
    """``config['a']['b']`` for ``"a.b"``; ``default`` when any part is absent or null."""
    node: Any = config
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return default
        node = node[part]
    return default if node is None else node


def as_bool(value: Any, key: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ConfigError(f"Error reading config key '{key}': expected a boolean, got {value!r}")


def as_int(value: Any, key: str, *, minimum: int | None = 0) -> int:
    if isinstance(value, bool):
        raise ConfigError(f"Error reading config key '{key}': expected an integer, got {value!r}")
    try:
        number = int(str(value).strip(), 0) if isinstance(value, str) else int(value)
    except (TypeError, ValueError):
        raise ConfigError(
            f"Error reading config key '{key}': expected an integer, got {value!r}"
        ) from None
    if minimum is not None and number < minimum:
        raise ConfigError(f"Error reading config key '{key}': must be >= {minimum}, got {number}")
    return number


def as_str(value: Any, key: str) -> str:
    if isinstance(value, (Mapping, list, tuple)):
        raise ConfigError(f"Error reading config key '{key}': expected a string, got {value!r}")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def default_hostname() -> str:
    """Falco's rule: ``FALCO_HOSTNAME`` overrides ``gethostname()``."""
    return os.environ.get("FALCO_HOSTNAME") or socket.gethostname()


@dataclass(frozen=True)
class ChannelConfig:
    """One enabled channel: its name and its falco.yaml section (``<name>_output``)."""

    name: str
    options: Mapping[str, Any] = field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        value = self.options.get(key)
        return default if value is None else value

    def flag(self, key: str, default: bool = False) -> bool:
        return as_bool(self.get(key, default), f"{self.name}_output.{key}")

    def text(self, key: str, default: str = "") -> str:
        return as_str(self.get(key, default), f"{self.name}_output.{key}")

    def integer(self, key: str, default: int) -> int:
        return as_int(self.get(key, default), f"{self.name}_output.{key}")


@dataclass(frozen=True)
class OutputsConfig:
    """Everything the outputs read from falco.yaml, with Falco's code defaults."""

    channels: tuple[ChannelConfig, ...] = ()
    json_output: bool = False
    json_include_output_property: bool = True
    json_include_message_property: bool = False
    json_include_output_fields_property: bool = True
    json_include_tags_property: bool = True
    time_format_iso_8601: bool = False
    buffered_outputs: bool = False
    #: ``output_timeout`` (ms): watchdog and per-attempt network timeout.
    output_timeout_ms: int = 2000
    #: ``outputs_queue.capacity`` as configured (0 = Falco's "unbounded").
    queue_capacity: int = 0
    hostname: str = ""

    @property
    def effective_queue_capacity(self) -> int:
        return self.queue_capacity or UNBOUNDED_QUEUE_CAPACITY

    @classmethod
    def from_config(cls, config: Mapping[str, Any], *,
                    hostname: str | None = None) -> OutputsConfig:
        """Read the outputs' keys of a whole (merged) falco.yaml mapping.

        Raises ``ConfigError`` with Falco's text when no channel is enabled, and naming the key
        for a value that does not convert.
        """
        channels = []
        for name in CHANNEL_ORDER:
            key = f"{name}_output"
            section = config.get(key) or {}
            if not isinstance(section, Mapping):
                raise ConfigError(f"Error reading config key '{key}': expected a map")
            if as_bool(section.get("enabled", False), f"{key}.enabled"):
                channels.append(ChannelConfig(name, dict(section)))
        if not channels:
            raise ConfigError(NO_OUTPUT)

        def flag(key: str, default: bool) -> bool:
            return as_bool(get_path(config, key, default), key)

        return cls(
            channels=tuple(channels),
            json_output=flag("json_output", False),
            json_include_output_property=flag("json_include_output_property", True),
            json_include_message_property=flag("json_include_message_property", False),
            json_include_output_fields_property=flag("json_include_output_fields_property", True),
            json_include_tags_property=flag("json_include_tags_property", True),
            time_format_iso_8601=flag("time_format_iso_8601", False),
            buffered_outputs=flag("buffered_outputs", False),
            output_timeout_ms=as_int(get_path(config, "output_timeout", 2000), "output_timeout"),
            queue_capacity=as_int(
                get_path(config, "outputs_queue.capacity", 0), "outputs_queue.capacity"
            ),
            hostname=hostname if hostname is not None else default_hostname(),
        )
