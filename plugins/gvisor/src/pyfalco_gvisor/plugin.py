"""Hook implementations of the gvisor plugin. Imports nothing heavy: protobuf and the listener
load when the engine opens."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pyfalco import hookimpl
from pyfalco.api import (
    SYSCALL_SOURCE,
    EngineKindSpec,
    OpenContext,
    ParserSpec,
    PluginInfo,
    SourceInstance,
)

from . import __version__

PLUGIN = "gvisor"


@hookimpl
def pyfalco_register_plugins(register: Callable[[PluginInfo], None]) -> None:
    register(
        PluginInfo(
            name=PLUGIN,
            version=__version__,
            description="syscall events from gVisor sandboxes (runsc runtime monitoring)",
            contact="https://github.com/pyfalco/pyfalco",
        )
    )


def _open(ctx: OpenContext) -> SourceInstance:
    from .engine import open_gvisor

    return open_gvisor(ctx)


def _generate_config(socket_path: str | None) -> str:
    from .session import generate_config

    return generate_config(socket_path)


_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"config": {"type": "string"}, "root": {"type": "string"}},
}


@hookimpl
def pyfalco_register_engine_kinds(register: Callable[[EngineKindSpec], None]) -> None:
    register(
        EngineKindSpec(
            name="gvisor",
            plugin=PLUGIN,
            open=_open,
            description="gVisor sandboxes through runsc runtime monitoring",
            config_schema=_SCHEMA,
            generate_config=_generate_config,
        )
    )


@hookimpl
def pyfalco_register_parsers(register: Callable[[ParserSpec], None]) -> None:
    # Light: the syscall event model and state (loaded by the syscall plugin anyway), no protobuf.
    from .events import state_parser

    register(ParserSpec(plugin=PLUGIN, parse=state_parser(), sources=(SYSCALL_SOURCE,)))
