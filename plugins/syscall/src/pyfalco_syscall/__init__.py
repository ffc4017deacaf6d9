"""pyfalco's syscall source: event model, state, fields, .scap replay/writer (see README)."""

from .events import EVENT_TABLE, SyscallEvent, event_id
from .state import FdInfo, SyscallState, ThreadInfo, default_state

__all__ = ["EVENT_TABLE", "SyscallEvent", "event_id", "FdInfo", "SyscallState", "ThreadInfo",
           "default_state"]
