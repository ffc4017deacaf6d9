"""``file_output``: append lines to ``filename``; SIGUSR1 reopens it (log rotation)."""

from __future__ import annotations

from typing import BinaryIO

from .base import Channel, ChannelInitError, DeliveryError, Message, encode_line


class FileChannel(Channel):
    name = "file"

    def open(self) -> None:
        self.filename = self.config.text("filename")
        if not self.filename:
            raise ChannelInitError("file_output.filename is empty")
        self.keep_alive = self.config.flag("keep_alive")
        self._fh: BinaryIO | None = None
        self._lines: list[bytes] = []

    def _file(self) -> BinaryIO:
        if self._fh is None:
            try:
                self._fh = open(self.filename, "ab")  # noqa: SIM115 (kept open with keep_alive)
            except OSError as exc:
                raise DeliveryError(
                    f"failed to open output file {self.filename} ({exc.strerror})"
                ) from exc
        return self._fh

    def write(self, msg: Message) -> None:
        self._lines.append(encode_line(msg.text))

    def flush(self) -> None:
        # The run's lines in one write (see StdoutChannel.flush); without keep_alive the file
        # is opened by name for each run and closed after it, so rotation still works.
        if not self._lines:
            return
        data = b"\n".join(self._lines) + b"\n"
        self._lines = []
        fh = self._file()
        try:
            fh.write(data)
            if not self.settings.buffered:
                fh.flush()
        finally:
            if not self.keep_alive:
                self._close_file()

    def _close_file(self) -> None:
        fh, self._fh = self._fh, None
        if fh is not None:
            fh.close()

    def reopen(self) -> None:
        # Closing is enough: the next message opens the path again (the renamed file keeps
        # what was written before the signal).
        self._close_file()

    def cleanup(self) -> None:
        self.flush()
        if self._fh is not None:
            self._fh.flush()

    def close(self) -> None:
        self._close_file()
