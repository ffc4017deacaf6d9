"""``stdout_output``: one line per message on standard output."""

from __future__ import annotations

import sys

from .base import Channel, Message


class StdoutChannel(Channel):
    name = "stdout"

    def write(self, msg: Message) -> None:
        out = sys.stdout  # looked up per call: the app (and tests) may replace sys.stdout
        line = msg.text + "\n"
        try:
            out.write(line)
        except UnicodeEncodeError:
            out.write(line.encode(out.encoding or "utf-8", "replace").decode(
                out.encoding or "utf-8", "replace"))
        if not self.settings.buffered:
            out.flush()

    def cleanup(self) -> None:
        sys.stdout.flush()
