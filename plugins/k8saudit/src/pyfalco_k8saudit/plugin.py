"""Hook implementations of the ``k8saudit`` plugin (imports nothing heavy)."""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from pyfalco import hookimpl
from pyfalco.api import Event, FieldTable, OpenParam, PluginInfo, RulesFileSpec, SourceSpec

from . import COMPAT_VERSION, DEFAULT_RULES_PATH, FIELDS, PLUGIN_ID, PLUGIN_NAME, SOURCE
from .config import INIT_SCHEMA, K8sAuditConfig

#: Suggestions for ``open_params`` (``--plugin-info``). The first one is what the plugin opens
#: when it is loaded with its defaults (no ``plugins:`` entry): Falco's example in falco.yaml.
OPEN_PARAMS = (
    OpenParam("http://:9765/k8s-audit", "Kubernetes audit webhook on port 9765, path /k8s-audit"),
    OpenParam("https://:9765/k8s-audit", "the same webhook over TLS (init_config sslCertificate)"),
    OpenParam("file:///var/log/kube-apiserver/audit.log",
              "follow an audit log file (JSON lines), through rotations"),
)


def _version() -> str:
    try:
        return version("pyfalco-plugin-k8saudit")
    except PackageNotFoundError:
        return "0.0.0"


def _init(config: dict[str, Any]) -> None:
    K8sAuditConfig.from_init_config(config)  # refuses values the schema cannot express


def _open(ctx: Any) -> Any:
    from .source import open_source  # the webhook/file machinery only when a source opens

    return open_source(ctx)


def event_to_string(evt: Event) -> str:
    """``evt.plugininfo``: the event's JSON text, as upstream."""
    data = evt.data
    return data.decode("utf-8", "replace") if isinstance(data, (bytes, bytearray)) else str(data)


@hookimpl
def pyfalco_register_plugins(register: Callable[[PluginInfo], None]) -> None:
    register(
        PluginInfo(
            name=PLUGIN_NAME,
            version=_version(),
            description="Read Kubernetes Audit Events and monitor Kubernetes Clusters",
            contact="https://github.com/pyfalco/pyfalco",
            id=PLUGIN_ID,
            compat_version=COMPAT_VERSION,
            init_schema=INIT_SCHEMA,
            init=_init,
        )
    )


@hookimpl
def pyfalco_register_sources(register: Callable[[SourceSpec], None]) -> None:
    register(SourceSpec(plugin=PLUGIN_NAME, event_source=SOURCE, open=_open,
                        open_params=OPEN_PARAMS, event_to_string=event_to_string))


@hookimpl
def pyfalco_register_fields(register: Callable[[FieldTable], None]) -> None:
    register(FieldTable(plugin=PLUGIN_NAME, fields=FIELDS, sources=(SOURCE,)))


@hookimpl
def pyfalco_register_rules(register: Callable[[RulesFileSpec], None]) -> None:
    register(RulesFileSpec(plugin=PLUGIN_NAME, path=DEFAULT_RULES_PATH))
