"""What the engine hands the outputs for each matched rule."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..priority import Priority


@dataclass(slots=True)
class Alert:
    """One rule match, already rendered by the rules package.

    ``output`` is the rule's effective output (``append_output`` applied, ``<NA>`` for missing
    values) *without* Falco's ``<time>: <Priority>`` prefix; the outputs add the prefix.
    ``output_fields`` is the JSON ``output_fields`` object of the rule output (typed values,
    missing = ``None``, plus ``extra_fields``); the outputs add ``evt.time`` (or
    ``evt.time.iso8601``) as Falco does. ``tags`` is sorted, as Falco's JSON shows them.
    """

    time_ns: int
    priority: Priority
    rule: str
    source: str
    output: str
    output_fields: dict[str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    hostname: str = ""
