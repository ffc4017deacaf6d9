"""End-of-run statistics as Falco prints them (falco-core.md §7.4, engine stats_manager)."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass

from ..priority import Priority
from .alert import Alert


@dataclass(frozen=True)
class RuleMatchCount:
    """Matches of one rule, with what metrics label it by."""

    rule: str
    priority: Priority
    source: str
    tags: tuple[str, ...]
    count: int


class AlertStats:
    """Counts rule matches: total, by priority, by rule.

    Falco lists rules in rule-id order (the order rules were loaded); pass that order as
    ``rule_order`` (``[r.name for r in engine.rules()]``). Rules missing from it follow, in the
    order they first matched. Internal messages are not rule matches and are not counted.
    ``add`` is thread-safe (one short lock per alert; alerts are rare next to events).
    """

    def __init__(self, rule_order: Iterable[str] = ()) -> None:
        self._order = {name: i for i, name in enumerate(dict.fromkeys(rule_order))}
        self._lock = threading.Lock()
        self.total = 0
        self._by_priority = [0] * len(Priority)
        self._by_rule: dict[str, list] = {}  # name -> [count, priority, source, tags]

    def add(self, alert: Alert) -> None:
        with self._lock:
            self.total += 1
            self._by_priority[alert.priority] += 1
            entry = self._by_rule.get(alert.rule)
            if entry is None:
                self._by_rule[alert.rule] = [1, alert.priority, alert.source, tuple(alert.tags)]
            else:
                entry[0] += 1

    def by_priority(self) -> dict[Priority, int]:
        return {p: n for p, n in zip(Priority, self._by_priority, strict=True) if n}

    def rule_counts(self) -> list[RuleMatchCount]:
        """Non-zero rules in Falco's order."""
        with self._lock:
            items = list(self._by_rule.items())
        first_seen = {name: i for i, (name, _) in enumerate(items)}
        far = len(self._order)
        items.sort(key=lambda kv: (self._order.get(kv[0], far), first_seen[kv[0]]))
        return [RuleMatchCount(name, prio, src, tags, n) for name, (n, prio, src, tags) in items]

    def render(self) -> str:
        """Falco's block: ``Events detected:``, ``Rule counts by severity:``,
        ``Triggered rules by rule name:`` (only non-zero lines, three-space indent)."""
        lines = [f"Events detected: {self.total}", "Rule counts by severity:"]
        lines += [f"   {p.stats_name}: {n}" for p, n in self.by_priority().items()]
        lines.append("Triggered rules by rule name:")
        lines += [f"   {rc.rule}: {rc.count}" for rc in self.rule_counts()]
        return "\n".join(lines) + "\n"
