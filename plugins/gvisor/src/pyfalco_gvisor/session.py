"""runsc's trace-session config: what ``--gvisor-generate-config`` prints and what the engine
reads its socket path from (shared/spec/gvisor.md §6.3, §9.1, §9.2).

The points and context fields are those of Falco's last generator (libs Oct 2023 - Feb 2026):
97 points, accepted as they are by the runsc we install.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pyfalco.errors import ConfigError

#: Falco's implicit value of ``--gvisor-generate-config``.
DEFAULT_SOCKET = "/run/falco/gvisor.sock"

_BASE = ("time", "thread_id", "container_id")
_FULL = (*_BASE, "task_start_time", "group_id", "credentials", "cwd", "process_name")

# Syscalls whose enter and exit points Falco subscribes to with the base context fields.
_PLAIN_SYSCALLS = (
    "open", "openat", "creat", "close", "read", "pread64", "readv", "preadv", "connect",
    "socket", "chdir", "fchdir", "setuid", "setgid", "setsid", "setresuid", "setresgid",
    "prlimit64", "pipe", "pipe2", "fcntl", "dup", "dup2", "dup3", "signalfd", "signalfd4",
    "chroot", "eventfd", "eventfd2", "bind", "accept", "accept4", "timerfd_create",
    "inotify_init", "inotify_init1", "socketpair", "write", "pwrite64", "writev", "pwritev",
    "sysno/9", "sysno/11",
)


def _point(name: str, context: tuple[str, ...], optional: tuple[str, ...] = ()) -> dict[str, Any]:
    point: dict[str, Any] = {"name": name, "context_fields": list(context)}
    if optional:
        point["optional_fields"] = list(optional)
    return point


def session_points() -> list[dict[str, Any]]:
    """Falco's points with their context and optional fields (spec §9.2)."""
    points = [
        _point(
            "container/start",
            ("time", "thread_id", "container_id", "task_start_time", "credentials", "cwd"),
            ("env",),
        ),
        _point("sentry/clone", _FULL),
        _point("sentry/task_exit", _BASE),
    ]
    for name in ("clone", "fork", "vfork"):
        points.append(_point(f"syscall/{name}/enter", _BASE))
        points.append(_point(f"syscall/{name}/exit", _FULL))
    for name in ("execve", "execveat"):
        points.append(_point(f"syscall/{name}/enter", (*_BASE, "cwd")))
        points.append(
            _point(f"syscall/{name}/exit", (*_BASE, "group_id", "credentials", "cwd"), ("envv",))
        )
    for name in _PLAIN_SYSCALLS:
        points.append(_point(f"syscall/{name}/enter", _BASE))
        points.append(_point(f"syscall/{name}/exit", _BASE))
    return points


def session_config(socket_path: str) -> dict[str, Any]:
    """The whole ``trace_session`` document for a remote sink at ``socket_path``."""
    return {
        "trace_session": {
            "name": "Default",
            "points": session_points(),
            "sinks": [
                {
                    "name": "remote",
                    "config": {"endpoint": socket_path, "retries": 3},
                    "ignore_setup_error": True,
                }
            ],
            "ignore_missing": True,
        }
    }


def generate_config(socket_path: str | None) -> str:
    """``--gvisor-generate-config[=SOCKET]``: the session config as JSON text (Falco's default
    socket when no value is given)."""
    return json.dumps(session_config(socket_path or DEFAULT_SOCKET), indent=2) + "\n"


def endpoint_of(config: Mapping[str, Any], where: str) -> str:
    """``trace_session.sinks[0].config.endpoint`` of a session document (Falco reads only that)."""
    try:
        endpoint = config["trace_session"]["sinks"][0]["config"]["endpoint"]
    except (KeyError, IndexError, TypeError):
        raise ConfigError(
            f"{where}: gVisor session config has no trace_session.sinks[0].config.endpoint"
        ) from None
    if not isinstance(endpoint, str) or not endpoint:
        raise ConfigError(f"{where}: trace_session.sinks[0].config.endpoint must be a socket path")
    return endpoint


def read_session_file(path: str | Path) -> tuple[dict[str, Any], str]:
    """Load a session config file; the document and its socket path. Errors name the file."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read gVisor config file {p}: {exc.strerror}") from None
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"gVisor config file {p}: invalid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"gVisor config file {p}: expected a JSON object")
    return doc, endpoint_of(doc, str(p))
