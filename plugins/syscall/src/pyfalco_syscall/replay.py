"""The ``replay`` engine kind: the ``syscall`` source read from a .scap capture.

``-o engine.kind=replay -o engine.replay.capture_file=F`` (falco-core.md §2.5, §3.5). Events come
in batches; the state of the capture's metadata (threads, fds, users, interfaces) is loaded into
:func:`~pyfalco_syscall.state.default_state` at open, and events are parsed by the registered
parser as the core hands them to rules.

Hidden events (syscall enters merged into their exits, internal events, old container events) are
not yielded. State-only events are parsed here, at the start of a batch, so that the state they
change is applied in order with the events the core parsed before.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

from pyfalco.api import OpenContext
from pyfalco.errors import PluginError

from .events import SyscallEvent
from .scap.reader import CaptureError, EnterMerger, ScapReader
from .state import SyscallState, default_state

log = logging.getLogger("pyfalco.syscall.replay")

BATCH_SIZE = 512


class ReplayInstance:
    """A :class:`pyfalco.api.SourceInstance` over a capture file."""

    def __init__(self, path: str | Path, state: SyscallState | None = None,
                 batch_size: int = BATCH_SIZE) -> None:
        self.path = str(path)
        self.state = state if state is not None else default_state()
        self.state.reset()
        self.reader = ScapReader(self.path, self.state)
        self.merger = EnterMerger()
        self.batch_size = batch_size
        self._events = self.reader.events(self.merger._enters)
        self._pending: list[SyscallEvent] = []
        self._num = 0
        self._done = False
        self.visible = 0
        log.info("Replaying events from the capture file: %s", self.path)

    def next_batch(self) -> Sequence[SyscallEvent] | None:
        if self._done:
            return None
        st = self.state
        for evt in self._pending:  # state-only events held back from the previous batch
            st.parse(evt)
        self._pending.clear()
        out: list[SyscallEvent] = []
        feed = self.merger.feed
        try:
            for evt in self._events:
                verdict = feed(evt)
                if verdict == 0:
                    if evt.info.internal:
                        self._num += 1  # libs number internal events too
                    continue
                self._num += 1
                evt.num = self._num
                if verdict == 2:
                    if out:
                        self._pending.append(evt)
                        return out
                    st.parse(evt)
                    continue
                out.append(evt)
                if len(out) >= self.batch_size:
                    return out
        except CaptureError as exc:
            raise PluginError(str(exc)) from None
        self._done = True
        self.visible += len(out)
        return out if out else None

    def progress(self) -> float:
        size = self.reader.size or 1
        return min(100.0, 100.0 * self.reader.pos / size)

    def counters(self) -> Mapping[str, int]:
        m = self.merger
        return {
            "events_read": self.reader.events_read,
            "unknown_event_types_skipped": self.reader.skipped_unknown_events,
            "unknown_blocks_skipped": self.reader.skipped_unknown_blocks,
            "enter_events_merged": m.hidden_enters + self.reader.enters_stored,
            "internal_events_hidden": m.hidden_internal,
            "container_events_hidden": m.hidden_container,
            "state_only_events": m.state_only,
            "fake_threads": self.state.fake_threads,
        }

    def close(self) -> None:
        self._done = True


def open_replay(ctx: OpenContext) -> ReplayInstance:
    """``EngineKindSpec.open`` of ``replay``."""
    path = str(ctx.engine_config.get("capture_file") or "")
    if not path:
        raise PluginError("engine.kind is 'replay' but no engine.replay.capture_file specified.")
    try:
        return ReplayInstance(path)
    except CaptureError as exc:
        raise PluginError(str(exc)) from None


REPLAY_CONFIG_SCHEMA = {
    "type": "object",
    "properties": {"capture_file": {"type": "string"}},
}
