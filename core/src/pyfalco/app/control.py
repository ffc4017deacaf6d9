"""Process-wide flags set by signals (and the config watcher), polled by the source loops
(Falco's "atomic signal handlers", falco-core.md §2.6).

Signal handlers only set flags; the loops notice them after every batch (``next_batch`` returns
within ~100 ms by contract) and the first loop to notice logs Falco's line exactly once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger("pyfalco")


class Control:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        #: Set when every loop must stop (signal, error in one source, restart).
        self.stopping = threading.Event()
        self._terminate_signal: str | None = None
        self._restart = False
        self._reopen = False
        self._announced = False

    # -- triggers (signal handlers, watcher thread, supervisor) ----------------------------

    def request_terminate(self, signame: str | None = None) -> None:
        """SIGINT/SIGTERM (``signame`` set) or an internal stop (None: no log line)."""
        with self._lock:
            if signame is not None and self._terminate_signal is None:
                self._terminate_signal = signame
        self.stopping.set()

    def request_restart(self) -> None:
        with self._lock:
            self._restart = True
        self.stopping.set()

    def request_reopen(self) -> None:
        with self._lock:
            self._reopen = True

    # -- polling (source loops) ---------------------------------------------------------------

    @property
    def restart_requested(self) -> bool:
        return self._restart

    def handle_reopen(self, reopen: Callable[[], None]) -> None:
        """Run ``reopen`` once per SIGUSR1, from whichever loop gets here first."""
        if not self._reopen:
            return
        with self._lock:
            if not self._reopen:
                return
            self._reopen = False
        log.info("SIGUSR1 received, reopening outputs...")
        reopen()

    def should_stop(self) -> bool:
        """True when the loop must break; logs Falco's line once for signals and restarts."""
        if not self.stopping.is_set():
            return False
        with self._lock:
            if not self._announced:
                self._announced = True
                if self._restart:
                    log.info("SIGHUP received, restarting...")
                elif self._terminate_signal is not None:
                    log.info("%s received, exiting...", self._terminate_signal)
        return True
