"""Falco's operational log: ``<Www Mmm DD HH:MM:SS YYYY>: <message>`` on stderr (``log_stderr``)
and syslog (``log_syslog``), filtered by ``log_level`` (falco-core.md §9.5). Alerts are not logs:
they go through :mod:`pyfalco.outputs`."""

from __future__ import annotations

import logging
import sys
import time

NOTICE = 25
logging.addLevelName(NOTICE, "NOTICE")

#: falco.yaml ``log_level`` -> Python level
LEVELS = {
    "emergency": logging.CRITICAL,
    "alert": logging.CRITICAL,
    "critical": logging.CRITICAL,
    "error": logging.ERROR,
    "warning": logging.WARNING,
    "notice": NOTICE,
    "info": logging.INFO,
    "debug": logging.DEBUG,
}

_SYSLOG_LEVELS = {logging.CRITICAL: 2, logging.ERROR: 3, logging.WARNING: 4, NOTICE: 5,
                  logging.INFO: 6, logging.DEBUG: 7}

log = logging.getLogger("pyfalco")


class FalcoFormatter(logging.Formatter):
    def __init__(self, iso8601: bool = False) -> None:
        super().__init__()
        self.iso8601 = iso8601

    def format(self, record: logging.LogRecord) -> str:
        if self.iso8601:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime(record.created))
        else:
            stamp = time.strftime("%a %b %d %H:%M:%S %Y", time.localtime(record.created))
        return f"{stamp}: {record.getMessage()}"


class _StderrHandler(logging.StreamHandler):
    """Writes to the *current* ``sys.stderr`` (tests and pytest's capture swap it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


class _SyslogHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        try:
            import syslog

            syslog.syslog(_SYSLOG_LEVELS.get(record.levelno, 6), record.getMessage())
        except Exception:  # syslog is best effort, as in Falco
            pass


def configure(level: str = "info", stderr: bool = True, use_syslog: bool = False,
              iso8601: bool = False) -> None:
    """(Re)configure operational logging. Handlers go on the root logger so that plugins'
    loggers (``pyfalco_<name>``) are formatted and filtered the same way; only our own handlers
    are replaced (pytest's capture handlers stay)."""
    root = logging.getLogger()
    for h in list(root.handlers):
        if isinstance(h, _StderrHandler | _SyslogHandler):
            root.removeHandler(h)
    root.setLevel(LEVELS.get(level, logging.INFO))
    log.setLevel(logging.NOTSET)
    if stderr:
        h = _StderrHandler()
        h.setFormatter(FalcoFormatter(iso8601))
        root.addHandler(h)
    if use_syslog:
        root.addHandler(_SyslogHandler())
