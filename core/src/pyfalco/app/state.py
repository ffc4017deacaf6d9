"""The application's state, filled in by the actions in order (Falco's ``falco::app::state``)."""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import Config, Settings
from ..plugins import Registry
from .control import Control
from .events import SourceStats
from .options import Options
from .plugin_loading import LoadedPlugin


@dataclass
class State:
    options: Options
    #: True for the dry-run check of a hot restart (no init() call on running plugins).
    restart_check: bool = False
    config: Config | None = None
    settings: Settings | None = None
    #: Every installed plugin (discovery), then restricted to the loaded ones.
    installed: Registry | None = None
    registry: Registry | None = None
    plugins: list[LoadedPlugin] = field(default_factory=list)
    loaded_sources: list[str] = field(default_factory=list)
    enabled_sources: list[str] = field(default_factory=list)
    #: The sources the rules engine knows (loaded, minus ``syscall`` without a field provider).
    engine_sources: list[str] = field(default_factory=list)
    engine_kind: str = "nodriver"
    catalog: Any = None
    engine: Any = None
    rules_files: list[Path] = field(default_factory=list)
    outputs: Any = None
    alert_stats: Any = None
    webserver: Any = None
    metrics_config: Any = None
    metrics_writer: Any = None
    watcher: Any = None
    source_stats: dict[str, SourceStats] = field(default_factory=dict)
    instances: list[Any] = field(default_factory=list)
    control: Control = field(default_factory=Control)
    previous_signal_handlers: dict[int, Any] = field(default_factory=dict)
    pidfile_written: Path | None = None
    restart: bool = False
    hostname: str = field(default_factory=lambda: _hostname())
    start_ns: int = field(default_factory=time.time_ns)
    #: path -> sha256 of each loaded rules file
    rules_sha256: dict[str, str] = field(default_factory=dict)

    @property
    def is_dry_run(self) -> bool:
        return self.options.dry_run or self.restart_check

    @property
    def is_replay(self) -> bool:
        kind = self.registry.engine_kind(self.engine_kind) if self.registry else None
        return bool(kind and kind.replay)


def _hostname() -> str:
    import os

    return os.environ.get("FALCO_HOSTNAME") or socket.gethostname()
