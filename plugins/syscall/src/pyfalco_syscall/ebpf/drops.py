"""Falco's ``syscall_event_drops`` (falco.yaml): once per second of event time, compare the
kernel's drop counters with the events it saw; above ``threshold``, run the configured actions,
at most as often as a token bucket (``rate`` tokens/s, ``max_burst``, clocked by event time)
allows. Falco: userspace/falco/event_drops.cpp; spec falco-core.md §7.6.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pyfalco.errors import ConfigError
from pyfalco.priority import Priority

log = logging.getLogger("pyfalco.syscall.ebpf")

DROP_RULE = "Falco internal: syscall event drop"
ACTIONS = ("ignore", "log", "alert", "exit")
_NS = 1_000_000_000

#: Falco's output_fields of the drop alert, in its order (all values strings).
ALERT_FIELDS = (
    "n_evts", "n_drops", "n_drops_buffer_total", "n_drops_buffer_clone_fork_exit",
    "n_drops_buffer_execve_exit", "n_drops_buffer_connect_exit", "n_drops_buffer_open_exit",
    "n_drops_buffer_dir_file_exit", "n_drops_buffer_other_interest_exit",
    "n_drops_buffer_close_exit", "n_drops_buffer_proc_exit", "n_drops_scratch_map",
    "n_drops_page_faults", "n_drops_bug",
)


class DropExit(RuntimeError):
    """The ``exit`` action: the source stops and pyfalco exits 1 (Falco's message)."""

    def __init__(self) -> None:
        super().__init__("Drop manager internal error")


@dataclass
class DropsConfig:
    threshold: float = 0.1
    actions: tuple[str, ...] = ("log", "alert")
    rate: float = 0.03333
    max_burst: int = 1
    simulate_drops: bool = False

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> DropsConfig:
        section = config.get("syscall_event_drops")
        if section is None:
            return cls()
        if not isinstance(section, Mapping):
            raise ConfigError("syscall_event_drops: expected a mapping")
        out = cls()
        try:
            if "threshold" in section:
                out.threshold = float(section["threshold"])
            if "rate" in section:
                out.rate = float(section["rate"])
            if "max_burst" in section:
                out.max_burst = int(section["max_burst"])
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"syscall_event_drops: {exc}") from None
        if not 0 <= out.threshold <= 1:
            raise ConfigError("syscall_event_drops.threshold must be a double in the range [0, 1]")
        actions = section.get("actions")
        if actions is not None:
            if not isinstance(actions, list) or not all(isinstance(a, str) for a in actions):
                raise ConfigError("syscall_event_drops.actions: expected a list of actions")
            for a in actions:
                if a not in ACTIONS:
                    raise ConfigError(f"Error reading config file: invalid syscall event drop "
                                      f"action {a}")
            # Falco: an empty list means "ignore"; "ignore" alongside others is dropped
            out.actions = tuple(a for a in actions if a != "ignore")
        out.simulate_drops = bool(section.get("simulate_drops", False))
        if out.simulate_drops:
            out.threshold = 0.0
        return out


class TokenBucket:
    """Falco's token_bucket: starts full; ``claim(now_ns)`` takes one token if available."""

    def __init__(self, rate: float, max_burst: int) -> None:
        self.rate = rate
        self.max_tokens = float(max_burst)
        self.tokens = float(max_burst)
        self.last_ns: int | None = None

    def claim(self, now_ns: int) -> bool:
        if self.last_ns is not None:
            self.tokens = min(self.max_tokens,
                              self.tokens + (now_ns - self.last_ns) / _NS * self.rate)
        self.last_ns = now_ns
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


#: ``emit(message, priority, output_fields, rule)``: the app's internal alert channel.
InternalAlert = Callable[[str, Priority, dict[str, Any], str], None]


class DropManager:
    """Feed it ``check(event_ts_ns, counters)`` regularly; it acts once per second of event time.

    ``counters`` are the driver's cumulative counters (``n_evts`` = events the kernel saw,
    delivered or dropped; ``n_drops`` and the per-category ``n_drops_buffer_*``)."""

    def __init__(self, config: DropsConfig, alert: InternalAlert | None = None) -> None:
        self.config = config
        self.alert = alert
        self.bucket = TokenBucket(config.rate, config.max_burst)
        self.last_check_ns = 0
        self.last: dict[str, int] = {}
        self.occurrences = 0
        self.simulated = 0

    def due(self, now_ns: int) -> bool:
        """Whether ``check`` would look at the counters now (read them only then)."""
        return bool(self.config.actions) and (
            self.last_check_ns == 0 or now_ns - self.last_check_ns >= _NS)

    def check(self, now_ns: int, counters: Mapping[str, int]) -> None:
        if not self.config.actions:
            return
        if self.last_check_ns == 0:
            self.last_check_ns, self.last = now_ns, dict(counters)
            return
        if now_ns - self.last_check_ns < _NS:
            return
        delta = {k: int(v) - self.last.get(k, 0) for k, v in counters.items()}
        self.last_check_ns, self.last = now_ns, dict(counters)
        if self.config.simulate_drops:
            self.simulated += 1
            delta["n_drops"] = delta.get("n_drops", 0) + 1
            delta["n_drops_buffer_total"] = delta.get("n_drops_buffer_total", 0) + 1
        n_drops, n_evts = delta.get("n_drops", 0), delta.get("n_evts", 0)
        if n_drops <= 0:
            return
        ratio = n_drops / n_evts if n_evts > 0 else 1.0
        if ratio <= self.config.threshold and not (self.config.simulate_drops and ratio > 0):
            return
        self.occurrences += 1
        if not self.bucket.claim(now_ns):
            log.debug("Syscall event drop but token bucket depleted, skipping actions")
            return
        self._act(delta)

    def _act(self, delta: Mapping[str, int]) -> None:
        msg = (f"Falco internal: syscall event drop. {delta.get('n_drops', 0)} system calls "
               "dropped in last second.")
        for action in self.config.actions:
            if action == "log":
                log.debug("%s", msg)
            elif action == "alert":
                fields: dict[str, Any] = {k: str(delta.get(k, 0)) for k in ALERT_FIELDS}
                fields["ebpf_enabled"] = "1"
                if self.alert is not None:
                    self.alert(msg, Priority.DEBUG, fields, DROP_RULE)
                else:
                    log.debug("%s (no internal alert channel: %s)", msg, fields)
            elif action == "exit":
                log.critical("%s", msg)
                log.critical("Exiting.")
                raise DropExit()
