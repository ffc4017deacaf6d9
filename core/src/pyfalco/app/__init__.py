"""The application: Falco's ordered list of actions (:mod:`.actions`) run by :mod:`.runner`."""

from __future__ import annotations

from .result import RunResult
from .runner import main, run_actions
from .state import State

__all__ = ["RunResult", "State", "main", "run_actions"]
