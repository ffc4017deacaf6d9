"""The outcome of one application action (Falco's ``run_result``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RunResult:
    """``ok()`` proceeds to the next action, ``exit()`` stops successfully (info commands),
    ``fatal(err)`` stops with ``Error: <err>`` and exit code 1."""

    success: bool = True
    errstr: str = ""
    proceed: bool = True

    @classmethod
    def ok(cls) -> RunResult:
        return cls()

    @classmethod
    def exit(cls) -> RunResult:
        return cls(success=True, proceed=False)

    @classmethod
    def fatal(cls, errstr: str) -> RunResult:
        return cls(success=False, errstr=errstr, proceed=False)

    def merge(self, other: RunResult) -> RunResult:
        """Falco's ``merge``: failure wins, errors joined by a newline, stop if either stops."""
        errs = "\n".join(e for e in (self.errstr, other.errstr) if e)
        return RunResult(
            success=self.success and other.success,
            errstr=errs,
            proceed=self.proceed and other.proceed,
        )
