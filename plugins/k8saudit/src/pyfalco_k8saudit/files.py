"""File inputs: a file or a directory read once (no scheme), and ``file://`` tailing.

Both read JSON Lines; each line is an Event, an EventList or an array. A line longer than
``max_line`` is skipped without being buffered and counted (``drops_line_too_long``); a line
that is not valid JSON is counted (``drops_malformed``) and named as ``file:line`` in the log.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import BinaryIO

from pyfalco.api import Event

from .batching import BATCH_SIZE, BatchingInstance
from .payload import events_from_lines

_READ_CHUNK = 1 << 16
#: bytes read per poll of a followed file at most (bounded work per next_batch)
_POLL_BUDGET = 1 << 20


class LineSplitter:
    """JSON Lines out of chunks of bytes: :meth:`feed` returns the lines a chunk completes
    (without their newline) and keeps the incomplete rest for the next chunk. A line longer
    than ``max_line`` is never kept whole: it is reported to ``on_too_long(lineno)`` and
    returned as an empty line (line numbers stay right; empty lines are not events)."""

    def __init__(self, max_line: int, on_too_long: Callable[[int], None]) -> None:
        self.max_line = max_line
        self.on_too_long = on_too_long
        self.lineno = 0  # lines completed so far
        self._parts: list[bytes] = []  # the incomplete line, in pieces (no quadratic joins)
        self._partial_len = 0
        self._skipping = False  # inside an over-long line, already reported

    @property
    def has_partial(self) -> bool:
        return self._partial_len > 0

    def feed(self, chunk: bytes) -> tuple[int, list[bytes]]:
        """``(number of the first line returned, complete lines)``."""
        if self._skipping:  # the rest of an over-long line: discard up to its newline
            nl = chunk.find(b"\n")
            if nl < 0:
                return self.lineno + 1, []
            chunk, self._skipping = chunk[nl + 1:], False
            self.lineno += 1
        if b"\n" not in chunk:
            self._keep(chunk)
            return self.lineno + 1, []
        lines = chunk.split(b"\n")
        size = len(chunk)
        if self._parts:  # the line begun in earlier chunks (only it is copied again)
            self._parts.append(lines[0])
            lines[0] = b"".join(self._parts)
            size += self._partial_len
            self._parts, self._partial_len = [], 0
        rest = lines.pop()
        first = self.lineno + 1
        self.lineno += len(lines)
        if size > self.max_line:  # only then can a complete line be too long
            for i, line in enumerate(lines):
                if len(line) > self.max_line:
                    lines[i] = b""
                    self.on_too_long(first + i)
        self._keep(rest)
        return first, lines

    def _keep(self, piece: bytes) -> None:
        if not piece:
            return
        self._parts.append(piece)
        self._partial_len += len(piece)
        if self._partial_len > self.max_line:
            self.on_too_long(self.lineno + 1)
            self._parts, self._partial_len, self._skipping = [], 0, True

    def finish(self) -> tuple[int, list[bytes]]:
        """At the end of the input: the incomplete last line, as a line of its own."""
        first = self.lineno + 1
        lines = [b"".join(self._parts)] if self._parts else []
        self.lineno += len(lines) + (1 if self._skipping else 0)
        self._parts, self._partial_len, self._skipping = [], 0, False
        return first, lines

    def drop_partial(self) -> bool:
        """Forget the incomplete line (the file was truncated or replaced); True if there
        was one."""
        had = self.has_partial
        self._parts, self._partial_len, self._skipping = [], 0, False
        return had


def list_input_files(path: str) -> list[Path]:
    """The files a no-scheme open param reads: the file itself, or a directory's non-directory
    entries by modification time, oldest first (upstream's order). OSError names the path."""
    p = Path(path)
    st = p.stat()  # raises FileNotFoundError/PermissionError naming the path
    if not p.is_dir():
        return [p]
    entries = [e for e in p.iterdir() if not e.is_dir()]
    entries.sort(key=lambda e: (e.stat().st_mtime_ns, e.name))
    del st
    return entries


class OneShotInstance(BatchingInstance):
    """Reads every line of the input files once, then EOF (``next_batch() -> None``)."""

    def __init__(self, path: str, *, plugin_id: int, max_event_size: int, max_line: int) -> None:
        super().__init__(plugin_id=plugin_id, max_event_size=max_event_size)
        self.files = list_input_files(path)
        self.max_line = max_line
        self._total = sum(f.stat().st_size for f in self.files) or 1
        self._done_bytes = 0
        self._file_index = -1
        self._fh: BinaryIO | None = None
        self._name = ""
        self._lines = LineSplitter(max_line, self._too_long)
        self._open_next()

    def _open_next(self) -> bool:
        if self._fh is not None:
            self._done_bytes += self._fh.tell()
            self._fh.close()
            self._fh = None
        self._file_index += 1
        if self._file_index >= len(self.files):
            return False
        f = self.files[self._file_index]
        self._fh = open(f, "rb")  # noqa: SIM115 - closed by _open_next/close
        self._name = str(f)
        self._lines = LineSplitter(self.max_line, self._too_long)
        return True

    def _too_long(self, lineno: int) -> None:
        """An over-long line is read and discarded (never kept whole), and counted."""
        self.count("drops_line_too_long")
        self.count("drops")
        self.stats.error(f"{self._name}:{lineno}: line longer than {self.max_line} bytes, skipped")

    def _parse(self, first: int, lines: list[bytes]) -> None:
        name = self._name
        events_from_lines(lines, self._pending, max_event_size=self.max_event_size,
                          stats=self.stats, plugin_id=self.plugin_id,
                          where=lambda i: f"{name}:{first + i}")

    def next_batch(self) -> Sequence[Event] | None:
        # whole chunks at once: one split per 64 KiB instead of one readline per line
        while len(self._pending) < BATCH_SIZE:
            fh = self._fh
            if fh is None:
                break
            chunk = fh.read(_READ_CHUNK)
            if chunk:
                self._parse(*self._lines.feed(chunk))
                continue
            self._parse(*self._lines.finish())  # a last line without its newline
            if not self._open_next():
                break
        if self._pending:
            return self._take()
        return None

    def progress(self) -> float:
        pos = self._done_bytes + (self._fh.tell() if self._fh is not None else 0)
        return min(100.0, 100.0 * pos / self._total)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

class TailInstance(BatchingInstance):
    """``file://`` mode: follows one file as upstream does. Starts at its end; reads lines as
    they complete; starts again at 0 when the file is truncated (copytruncate) or replaced
    (rename/create rotation); waits while it is missing. Never EOF.

    Polling (every call, at most every ``poll_interval``) instead of inotify: no dependency,
    works on every filesystem, and next_batch must wake up often anyway."""

    def __init__(
        self, path: str, *, plugin_id: int, max_event_size: int, max_line: int,
        poll_interval: float = 0.05,
    ) -> None:
        super().__init__(plugin_id=plugin_id, max_event_size=max_event_size)
        if not os.path.isabs(path):
            raise ValueError(f"file:// needs an absolute path, got '{path}'")
        self.path = path
        self.max_line = max_line
        self.poll_interval = poll_interval
        self._fh: BinaryIO | None = None
        self._ino: tuple[int, int] | None = None
        self._offset = 0
        self._lines = LineSplitter(max_line, self._too_long)
        st = os.stat(path)  # the file must exist when opened, as upstream
        self._open(st, at_end=True)

    def _open(self, st: os.stat_result, *, at_end: bool) -> None:
        if self._fh is not None:
            self._fh.close()
        self._fh = open(self.path, "rb")  # noqa: SIM115 - closed by _open/_close_file/close
        self._ino = (st.st_dev, st.st_ino)
        self._offset = st.st_size if at_end else 0
        self._lines = LineSplitter(self.max_line, self._too_long)

    def _too_long(self, lineno: int) -> None:
        self.count("drops_line_too_long")
        self.count("drops")
        self.stats.error(f"{self.path}:{lineno}: line longer than {self.max_line} bytes, skipped")

    def _close_file(self) -> None:
        if self._fh is not None:
            self._fh.close()
        self._fh, self._ino = None, None
        self._drop_partial("file removed")

    def _drop_partial(self, why: str) -> None:
        if self._lines.drop_partial():
            self.count("drops_truncated_line")
            self.count("drops")
            self.stats.error(f"{self.path}: incomplete last line dropped ({why})")

    def _poll(self) -> None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self._close_file()
            return
        if self._fh is None or (st.st_dev, st.st_ino) != self._ino:
            self._open(st, at_end=False)  # created or rotated: the new file from its start
        elif st.st_size < self._offset:
            self._drop_partial("file truncated")
            self._offset = 0  # copytruncate
            self._lines = LineSplitter(self.max_line, self._too_long)
        if st.st_size > self._offset:
            self._read_new()

    def _read_new(self) -> None:
        fh = self._fh
        assert fh is not None
        fh.seek(self._offset)
        budget = _POLL_BUDGET
        path = self.path
        while budget > 0:
            chunk = fh.read(_READ_CHUNK)
            if not chunk:
                break
            budget -= len(chunk)
            self._offset += len(chunk)
            first, lines = self._lines.feed(chunk)
            events_from_lines(lines, self._pending, max_event_size=self.max_event_size,
                              stats=self.stats, plugin_id=self.plugin_id,
                              where=lambda i, first=first: f"{path}:{first + i}")
            if len(self._pending) >= BATCH_SIZE:
                break

    def next_batch(self) -> Sequence[Event] | None:
        if not self._pending:
            self._poll()
            if not self._pending:
                time.sleep(self.poll_interval)
                return []
        return self._take()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
