"""Hook implementations of the syscall plugin (registration only: nothing heavy is imported here).

Registers: the plugin identity (``syscall``, id 0: the syscall source is the core's reserved one),
the field table of the ``syscall`` source, the state parser, the engine kinds ``replay``,
``ebpf`` (aliases ``modern_ebpf``) and ``kmod`` (an explicit error: there is no kernel-module
driver), and the default rules files shipped in ``pyfalco_syscall/rules/``.
"""

from __future__ import annotations

from pathlib import Path

import pyfalco
from pyfalco.api import (
    SYSCALL_SOURCE,
    EngineKindSpec,
    FieldTable,
    OpenContext,
    ParserSpec,
    PluginInfo,
    RulesFileSpec,
    SourceInstance,
)

PLUGIN = "syscall"
VERSION = "0.1.0"
RULES_DIR = Path(__file__).resolve().parent / "rules"


@pyfalco.hookimpl
def pyfalco_register_plugins(register):
    register(PluginInfo(
        name=PLUGIN,
        version=VERSION,
        description="System call events (Falco's syscall source): the libs event model, "
                    "process and fd state, syscall fields, .scap capture replay.",
        contact="https://github.com/falcosecurity/libs (behaviour reference)",
        id=0,
    ))


@pyfalco.hookimpl
def pyfalco_register_fields(register):
    from .fields import ALL_FIELDS

    register(FieldTable(plugin=PLUGIN, fields=ALL_FIELDS, sources=(SYSCALL_SOURCE,)))


@pyfalco.hookimpl
def pyfalco_register_parsers(register):
    from .state import parse_event

    register(ParserSpec(plugin=PLUGIN, parse=parse_event, sources=(SYSCALL_SOURCE,)))


def _open_replay(ctx: OpenContext) -> SourceInstance:
    from .replay import open_replay

    return open_replay(ctx)


def _open_ebpf(ctx: OpenContext) -> SourceInstance:
    from .ebpf import open_ebpf  # written by the eBPF driver

    return open_ebpf(ctx)


def _open_kmod(ctx: OpenContext) -> SourceInstance:
    from pyfalco.errors import PluginError

    raise PluginError(
        "engine.kind 'kmod' is not supported by pyfalco: there is no kernel module driver. "
        "Use engine.kind=modern_ebpf (or ebpf) for live capture, or engine.kind=replay with "
        "engine.replay.capture_file to read a capture."
    )


@pyfalco.hookimpl
def pyfalco_register_engine_kinds(register):
    from .replay import REPLAY_CONFIG_SCHEMA

    register(EngineKindSpec(
        name="replay", plugin=PLUGIN, open=_open_replay, replay=True,
        description="Replay a .scap capture file (engine.replay.capture_file).",
        config_schema=REPLAY_CONFIG_SCHEMA,
    ))
    register(EngineKindSpec(
        name="ebpf", plugin=PLUGIN, open=_open_ebpf, aliases=("modern_ebpf",),
        description="Live system calls through an eBPF driver (bcc).",
    ))
    register(EngineKindSpec(
        name="kmod", plugin=PLUGIN, open=_open_kmod,
        description="Kernel module driver (not available in pyfalco: an explicit error).",
    ))


@pyfalco.hookimpl
def pyfalco_register_rules(register):
    if RULES_DIR.is_dir():
        for path in sorted(RULES_DIR.glob("*.yaml")):
            register(RulesFileSpec(plugin=PLUGIN, path=path))
