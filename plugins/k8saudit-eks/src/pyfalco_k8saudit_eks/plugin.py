"""Hook implementations of ``k8saudit-eks`` (imports nothing heavy: boto3 loads in open())."""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from pyfalco import hookimpl
from pyfalco.api import FieldTable, OpenContext, OpenParam, PluginInfo, RulesFileSpec, SourceSpec
from pyfalco_k8saudit import DEFAULT_RULES_PATH, FIELDS, SOURCE
from pyfalco_k8saudit.plugin import event_to_string

from .config import CONFIG_SCHEMA, EksConfig

PLUGIN_NAME = "k8saudit-eks"
PLUGIN_ID = 9
#: The upstream k8saudit-eks version whose behaviour this package matches.
COMPAT_VERSION = "0.12.0"


def _version() -> str:
    try:
        return version("pyfalco-plugin-k8saudit-eks")
    except PackageNotFoundError:
        return "0.0.0"


def _init(config: dict[str, Any]) -> None:
    EksConfig.from_init_config(config)


def _open(ctx: OpenContext) -> Any:
    from .convert import AuditConverter
    from .source import open_instance

    cfg = EksConfig.from_init_config(ctx.init_config)
    conv = AuditConverter(max_event_size=cfg.max_event_size, plugin_id=PLUGIN_ID)
    return open_instance(ctx.init_config, ctx.open_params, conv.to_events, conv.counters)


@hookimpl
def pyfalco_register_plugins(register: Callable[[PluginInfo], None]) -> None:
    register(
        PluginInfo(
            name=PLUGIN_NAME,
            version=_version(),
            description="Read Kubernetes Audit Events for EKS from Cloudwatch Logs",
            contact="https://github.com/pyfalco/pyfalco",
            id=PLUGIN_ID,
            compat_version=COMPAT_VERSION,
            init_schema=CONFIG_SCHEMA,
            init=_init,
        )
    )


@hookimpl
def pyfalco_register_sources(register: Callable[[SourceSpec], None]) -> None:
    register(
        SourceSpec(
            plugin=PLUGIN_NAME,
            event_source=SOURCE,
            open=_open,
            open_params=(OpenParam("default", "Cluster Name"),),
            event_to_string=event_to_string,
        )
    )


@hookimpl
def pyfalco_register_fields(register: Callable[[FieldTable], None]) -> None:
    # k8saudit's very FieldSpec objects: the core does not count them as an overlap.
    register(FieldTable(plugin=PLUGIN_NAME, fields=FIELDS, sources=(SOURCE,)))


@hookimpl
def pyfalco_register_rules(register: Callable[[RulesFileSpec], None]) -> None:
    # k8saudit's own default rules file (no copy): loaded when this plugin is the k8s_audit
    # producer even if k8saudit itself is not loaded.
    register(RulesFileSpec(plugin=PLUGIN_NAME, path=DEFAULT_RULES_PATH))
