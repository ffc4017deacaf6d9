"""The plugin's own log, as upstream's: ``2024/05/01 10:00:00 [k8saudit] <message>`` (UTC) on
stderr, whatever the application's log settings (the Go plugin writes with its own
``log.Logger`` to os.Stderr; Falco's suite checks these lines on stderr).

The logger is ``pyfalco.k8saudit`` (propagation off, so the application's handlers do not
print the lines twice); family plugins pass their name as ``plugin`` for their own prefix.
"""

from __future__ import annotations

import logging
import sys
import time


class _GoLogHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        try:
            stamp = time.strftime("%Y/%m/%d %H:%M:%S", time.gmtime(record.created))
            prefix = getattr(record, "plugin", "k8saudit")
            sys.stderr.write(f"{stamp} [{prefix}] {record.getMessage()}\n")  # current stderr
            sys.stderr.flush()
        except Exception:
            self.handleError(record)


log = logging.getLogger("pyfalco.k8saudit")
if not any(isinstance(h, _GoLogHandler) for h in log.handlers):
    log.addHandler(_GoLogHandler())
log.propagate = False
if log.level == logging.NOTSET:
    log.setLevel(logging.INFO)
