"""Hook implementations of the ``container`` plugin (grpc loads only on the first CRI lookup)."""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from pyfalco import hookimpl
from pyfalco.api import SYSCALL_SOURCE, FieldTable, ParserSpec, PluginInfo

from .config import CONFIG_SCHEMA, runtimes_from_config
from .fields import FIELDS, STATE
from .store import MetadataStore

PLUGIN_NAME = "container"
#: The upstream container plugin version whose fields this package matches (falco_rules.yaml
#: requires container >= 0.4.0).
COMPAT_VERSION = "0.6.0"


def _version() -> str:
    try:
        return version("pyfalco-plugin-container")
    except PackageNotFoundError:
        return "0.0.0"


def _init(config: dict[str, Any]) -> None:
    if STATE.store is not None:
        STATE.store.stop()
    STATE.store = MetadataStore(
        runtimes_from_config(config),
        retry_interval_s=float(config.get("retry_interval", 30)),
        max_pending=int(config.get("max_pending", 1024)),
    )


def _counters() -> dict[str, int]:
    """Runtime lookup counters for stats and metrics (dropped lookups included)."""
    store = STATE.store
    if store is None:
        return {}
    st = store.stats
    return {"lookups": st.lookups, "found": st.found, "not_found": st.not_found,
            "unreachable": st.unreachable, "queue_drops": st.queue_drops, "errors": st.errors}


def _destroy() -> None:
    if STATE.store is not None:
        STATE.store.stop()
        STATE.store = None


@hookimpl
def pyfalco_register_plugins(register: Callable[[PluginInfo], None]) -> None:
    register(
        PluginInfo(
            name=PLUGIN_NAME,
            version=_version(),
            description="Container and Kubernetes pod metadata of syscall events, from the "
            "thread's cgroups and the container runtime (docker, podman, containerd, CRI-O)",
            contact="https://github.com/pyfalco/pyfalco",
            id=0,
            compat_version=COMPAT_VERSION,
            init_schema=CONFIG_SCHEMA,
            init=_init,
            destroy=_destroy,
            counters=_counters,
        )
    )


@hookimpl
def pyfalco_register_fields(register: Callable[[FieldTable], None]) -> None:
    register(FieldTable(plugin=PLUGIN_NAME, fields=FIELDS, sources=(SYSCALL_SOURCE,)))


@hookimpl
def pyfalco_register_parsers(register: Callable[[ParserSpec], None]) -> None:
    from .parser import prefetch

    register(ParserSpec(plugin=PLUGIN_NAME, parse=prefetch, sources=(SYSCALL_SOURCE,)))
