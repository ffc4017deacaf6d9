"""File inputs: a file or a directory read once (no scheme), and ``file://`` tailing.

Both read JSON Lines; each line is an Event, an EventList or an array. A line longer than
``max_line`` is skipped without being buffered and counted (``drops_line_too_long``); a line
that is not valid JSON is counted (``drops_malformed``) and named as ``file:line`` in the log.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from pyfalco.api import Event

from .batching import BATCH_SIZE, BatchingInstance
from .payload import events_from_line

_READ_CHUNK = 1 << 16


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
        self._lineno = 0
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
        self._name, self._lineno = str(f), 0
        return True

    def _skip_long_line(self) -> None:
        """The rest of an over-long line is read and discarded (never kept), and counted."""
        fh = self._fh
        assert fh is not None
        while True:
            rest = fh.readline(_READ_CHUNK)
            if not rest or rest.endswith(b"\n"):
                break
        self.count("drops_line_too_long")
        self.count("drops")
        self.stats.error(
            f"{self._name}:{self._lineno}: line longer than {self.max_line} bytes, skipped")

    def _where(self) -> str:
        return f"{self._name}:{self._lineno}"

    def next_batch(self) -> Sequence[Event] | None:
        stats, max_size, pid, where = self.stats, self.max_event_size, self.plugin_id, self._where
        pending, max_line = self._pending, self.max_line
        while len(pending) < BATCH_SIZE:
            fh = self._fh
            if fh is None:
                break
            line = fh.readline(max_line + 1)
            if not line:
                if not self._open_next():
                    break
                continue
            self._lineno += 1
            if len(line) > max_line and line[-1:] != b"\n":
                self._skip_long_line()
                continue
            pending.extend(events_from_line(
                line, max_event_size=max_size, stats=stats, plugin_id=pid, where=where))
        if pending:
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
        self._partial = b""
        self._skipping = False  # inside an over-long line
        self._lineno = 0
        st = os.stat(path)  # the file must exist when opened, as upstream
        self._open(st, at_end=True)

    def _open(self, st: os.stat_result, *, at_end: bool) -> None:
        if self._fh is not None:
            self._fh.close()
        self._fh = open(self.path, "rb")  # noqa: SIM115 - closed by _open/_close_file/close
        self._ino = (st.st_dev, st.st_ino)
        self._offset = st.st_size if at_end else 0
        self._partial, self._skipping, self._lineno = b"", False, 0

    def _close_file(self) -> None:
        if self._fh is not None:
            self._fh.close()
        self._fh, self._ino = None, None
        self._drop_partial("file removed")

    def _drop_partial(self, why: str) -> None:
        if self._partial:
            self.count("drops_truncated_line")
            self.count("drops")
            self.stats.error(f"{self.path}: incomplete last line dropped ({why})")
        self._partial = b""

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
            self._offset, self._lineno = 0, 0  # copytruncate
        if st.st_size > self._offset:
            self._read_new()

    def _read_new(self) -> None:
        fh = self._fh
        assert fh is not None
        fh.seek(self._offset)
        budget = 4 * _READ_CHUNK * 16  # bounded work per poll
        while budget > 0:
            chunk = fh.read(_READ_CHUNK)
            if not chunk:
                break
            budget -= len(chunk)
            self._offset += len(chunk)
            self._feed(chunk)
            if len(self._pending) >= BATCH_SIZE:
                break

    def _feed(self, chunk: bytes) -> None:
        if self._skipping:  # the rest of an over-long line: discard up to its newline
            nl = chunk.find(b"\n")
            if nl < 0:
                return
            chunk, self._skipping = chunk[nl + 1:], False
            self._lineno += 1
        data = self._partial + chunk if self._partial else chunk
        lines = data.split(b"\n")
        self._partial = lines.pop()
        for line in lines:
            self._lineno += 1
            if line:
                self._pending.extend(events_from_line(
                    line, max_event_size=self.max_event_size, stats=self.stats,
                    plugin_id=self.plugin_id, where=self._where))
        if len(self._partial) > self.max_line:
            self.count("drops_line_too_long")
            self.count("drops")
            self.stats.error(f"{self.path}:{self._lineno + 1}: line longer than "
                             f"{self.max_line} bytes, skipped")
            self._partial, self._skipping = b"", True

    def _where(self) -> str:
        return f"{self.path}:{self._lineno}"

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
