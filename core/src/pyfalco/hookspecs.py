"""The plugin contract: every hook a pyfalco plugin may implement.

A plugin is a module (or object) registered under the entry-point group ``pyfalco.plugins``::

    [project.entry-points."pyfalco.plugins"]
    k8saudit = "pyfalco_k8saudit.plugin"

and implementing some of the hooks below with ``@pyfalco.hookimpl``. Each hook receives a
``register`` callback and calls it once per thing it provides; return values are ignored. All
hooks run once, at start-up (and again on a hot restart); the core then validates what was
registered (see :mod:`pyfalco.plugins`) and keeps plain callables. Nothing here runs per event.

Every ``register`` accepts the object as its only positional argument; keyword arguments may be
added in later minor versions of the contract (``PLUGIN_API_VERSION``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from .api import EngineKindSpec, FieldTable, ParserSpec, PluginInfo, RulesFileSpec, SourceSpec

hookspec = pluggy.HookspecMarker("pyfalco")
hookimpl = pluggy.HookimplMarker("pyfalco")


@hookspec
def pyfalco_register_plugins(register: Callable[[PluginInfo], None]) -> None:
    """Declare the plugins (identities) this module provides.

    Every other registration names its plugin by ``PluginInfo.name``; a name must be registered
    here first (or by an earlier module). ``--list-plugins`` and ``required_plugin_versions``
    read these.

    .. versionadded:: 1.0
    """


@hookspec
def pyfalco_register_sources(register: Callable[[SourceSpec], None]) -> None:
    """Declare event sources (``SourceSpec``): the source name, how to open it and its
    ``open_params`` suggestions. The core opens the first plugin (in load order) that serves an
    enabled source, in that source's own thread.

    .. versionadded:: 1.0
    """


@hookspec
def pyfalco_register_fields(register: Callable[[FieldTable], None]) -> None:
    """Declare field tables (``FieldTable``): the fields rules and outputs may use, their types
    and the sources they apply to. Names may not overlap within a source.

    .. versionadded:: 1.0
    """


@hookspec
def pyfalco_register_parsers(register: Callable[[ParserSpec], None]) -> None:
    """Declare state parsers (``ParserSpec``), called on every event of their sources before
    rules run (the callable only: no hook call per event).

    .. versionadded:: 1.0
    """


@hookspec
def pyfalco_register_engine_kinds(register: Callable[[EngineKindSpec], None]) -> None:
    """Declare values of ``engine.kind`` (``EngineKindSpec``): the syscall plugin registers
    ``ebpf`` and ``replay``, the gvisor plugin ``gvisor``. ``nodriver`` is the core's own.

    .. versionadded:: 1.0
    """


@hookspec
def pyfalco_register_rules(register: Callable[[RulesFileSpec], None]) -> None:
    """Declare default rules files shipped as package data (``RulesFileSpec``).

    .. versionadded:: 1.0
    """
