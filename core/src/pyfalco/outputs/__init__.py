"""Alerts out of pyfalco: Falco's formats, channels, queue, and end-of-run statistics.

The app builds an :class:`Alert` per rule match and calls :meth:`OutputsManager.handle`; it adds
the same alert to :class:`AlertStats` and prints :meth:`AlertStats.render` at the end of a run.
See README.md in this folder for the Falco behaviours kept and the quirks decided.
"""

from __future__ import annotations

from .alert import Alert
from .config import NO_OUTPUT, ChannelConfig, OutputsConfig, default_hostname
from .formats import AlertFormatter, evt_time, evt_time_iso8601, json_time
from .manager import OutputsManager
from .stats import AlertStats, RuleMatchCount

__all__ = [
    "Alert", "AlertFormatter", "AlertStats", "ChannelConfig", "NO_OUTPUT", "OutputsConfig",
    "OutputsManager", "RuleMatchCount", "default_hostname", "evt_time", "evt_time_iso8601",
    "json_time",
]
