"""``stdout_output``: one line per message on standard output."""

from __future__ import annotations

import sys

from ..config import ChannelConfig
from .base import Channel, ChannelSettings, Message


class StdoutChannel(Channel):
    name = "stdout"

    def __init__(self, config: ChannelConfig, settings: ChannelSettings) -> None:
        super().__init__(config, settings)
        self._lines: list[str] = []

    def write(self, msg: Message) -> None:
        self._lines.append(msg.text)

    def flush(self) -> None:
        # The run's lines in one write: each write to a pipe or file is a system call that
        # lets the busy source threads take the GIL back for a whole switch interval.
        # Unbuffered outputs (Falco's default) also flush: no line waits for a later alert.
        if not self._lines:
            return
        text = "\n".join(self._lines) + "\n"
        self._lines = []
        out = sys.stdout  # looked up per call: the app (and tests) may replace sys.stdout
        try:
            out.write(text)
        except UnicodeEncodeError:
            enc = out.encoding or "utf-8"
            out.write(text.encode(enc, "replace").decode(enc, "replace"))
        if not self.settings.buffered:
            out.flush()

    def cleanup(self) -> None:
        self.flush()
        sys.stdout.flush()
