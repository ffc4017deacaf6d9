"""Running the action list: stop at the first action that does not proceed, always run the
teardown, map errors to Falco's output and exit codes, and loop on hot restarts."""

from __future__ import annotations

import logging
import sys

from ..errors import ConfigError, PyfalcoError
from . import actions, logger
from .options import Options, OptionsError, parse
from .result import RunResult
from .state import State

log = logging.getLogger("pyfalco")


class RuntimeFailure(Exception):
    """An error Falco reports as ``Runtime error: <what>. Exiting.``"""


def run_actions(s: State) -> RunResult:
    """The run steps then the teardown steps; returns the merged result."""
    result = RunResult.ok()
    runtime_error: PyfalcoError | None = None
    try:
        for step in actions.RUN_STEPS:
            try:
                res = step(s)
            except ConfigError as exc:
                res = RunResult.fatal(str(exc))
            result = result.merge(res)
            if not res.proceed:
                break
    except PyfalcoError as exc:
        runtime_error = exc
    except Exception as exc:  # Falco: an uncaught exception is a "Runtime error"
        log.debug("uncaught exception", exc_info=True)
        runtime_error = PyfalcoError(f"{type(exc).__name__}: {exc}")
    finally:
        for step in actions.TEARDOWN_STEPS:
            try:
                result = result.merge(step(s))
            except Exception as exc:  # teardown goes on whatever happens
                log.error("%s", exc)
    if runtime_error is not None:
        raise RuntimeFailure(str(runtime_error)) from runtime_error
    return result


def run_once(opts: Options) -> tuple[int, bool]:
    """One life cycle; returns (exit code, restart requested)."""
    s = State(options=opts)
    try:
        result = run_actions(s)
    except RuntimeFailure as exc:
        msg = f"Runtime error: {exc}. Exiting."
        log.error("%s", msg)
        if not _logs_to_stderr():
            sys.stderr.write(msg + "\n")
        return 1, False
    if not result.success:
        sys.stderr.write(f"Error: {result.errstr}\n")
        sys.stderr.flush()
        return 1, False
    return 0, s.restart


def _logs_to_stderr() -> bool:
    return any(
        isinstance(h, logger._StderrHandler) for h in logging.getLogger().handlers
    )


def main(argv: list[str]) -> int:
    """The ``pyfalco`` command."""
    logger.configure("info", stderr=True)  # until the config says otherwise
    try:
        opts = parse(argv)
    except OptionsError as exc:
        sys.stderr.write(f"Error: {exc}\n")
        return 1
    while True:
        code, restart = run_once(opts)
        if not restart:
            return code
