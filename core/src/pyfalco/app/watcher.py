"""Hot restart (falco-core.md §2.6): SIGHUP, or with ``watch_config_files`` a change to a loaded
config or rules file (or to a configured rules directory), triggers a dry-run of the whole
application with the same arguments; only if it succeeds is a restart requested. A failed check
emits the internal alert ``Falco internal: hot restart failure``.

Files are watched by polling their (mtime, size, inode) every ``POLL_S`` — no inotify binding is
needed and the cost is a few ``stat`` calls per second. Changes are debounced: the check runs once
nothing changed for ``DEBOUNCE_S``, and starts over if something changes during it.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from .control import Control
from .result import RunResult

log = logging.getLogger("pyfalco")

POLL_S = 0.25
DEBOUNCE_S = 0.1

Snapshot = dict[str, tuple[int, int, int] | None]


def _snapshot(paths: Iterable[Path]) -> Snapshot:
    snap: Snapshot = {}
    for p in paths:
        try:
            st = os.stat(p)
            snap[str(p)] = (st.st_mtime_ns, st.st_size, st.st_ino)
            if p.is_dir():
                for child in p.iterdir():
                    try:
                        cst = os.stat(child)
                        snap[str(child)] = (cst.st_mtime_ns, cst.st_size, cst.st_ino)
                    except OSError:
                        snap[str(child)] = None
        except OSError:
            snap[str(p)] = None
    return snap


class RestartWatcher:
    """A daemon thread that turns SIGHUP / file changes into a checked restart request."""

    def __init__(
        self,
        control: Control,
        check: Callable[[], RunResult],
        on_failure: Callable[[str], None],
        paths: Iterable[Path] = (),
        watch_files: bool = True,
    ) -> None:
        self._control = control
        self._check = check
        self._on_failure = on_failure
        self._paths = [Path(p) for p in paths]
        self._watch_files = watch_files and bool(self._paths)
        self._hup = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="restart-watcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._hup.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def sighup(self) -> None:
        """Called from the SIGHUP handler: only sets a flag."""
        self._hup.set()

    def _changed(self, before: Snapshot) -> tuple[bool, Snapshot]:
        now = _snapshot(self._paths)
        return now != before, now

    def _run(self) -> None:
        snap = _snapshot(self._paths) if self._watch_files else {}
        while not self._stop.is_set():
            self._hup.wait(POLL_S)
            if self._stop.is_set():
                return
            triggered = self._hup.is_set()
            self._hup.clear()
            if self._watch_files:
                changed, snap = self._changed(snap)
                triggered = triggered or changed
            if not triggered:
                continue
            # debounce, check, and start over if anything changes meanwhile
            while not self._stop.is_set():
                self._stop.wait(DEBOUNCE_S)
                if self._watch_files:
                    changed, snap = self._changed(snap)
                    if changed:
                        continue
                result = self._check()
                if self._watch_files:
                    changed, snap = self._changed(snap)
                    if changed:
                        continue
                if result.success:
                    self._control.request_restart()
                    return
                self._on_failure(result.errstr)
                break
