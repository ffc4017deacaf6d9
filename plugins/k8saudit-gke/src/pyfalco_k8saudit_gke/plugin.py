"""Hook implementations of ``k8saudit-gke`` (google-cloud-logging loads only in open())."""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from pyfalco import hookimpl
from pyfalco.api import FieldTable, OpenContext, OpenParam, PluginInfo, RulesFileSpec, SourceSpec
from pyfalco_k8saudit import DEFAULT_RULES_PATH, FIELDS, SOURCE
from pyfalco_k8saudit.plugin import event_to_string

from .config import CONFIG_SCHEMA, GkeConfig

PLUGIN_NAME = "k8saudit-gke"
PLUGIN_ID = 16
#: The upstream k8saudit-gke version whose behaviour this package matches.
COMPAT_VERSION = "0.9.0"
#: The GKE overlay: loaded after k8saudit's default rules.
GKE_RULES_PATH = Path(__file__).resolve().parent / "rules" / "k8s_audit_rules_gke.yaml"


def _version() -> str:
    try:
        return version("pyfalco-plugin-k8saudit-gke")
    except PackageNotFoundError:
        return "0.0.0"


def _init(config: dict[str, Any]) -> None:
    GkeConfig.from_init_config(config)


def _open(ctx: OpenContext) -> Any:
    from .source import open_instance

    return open_instance(ctx.init_config, ctx.open_params)


@hookimpl
def pyfalco_register_plugins(register: Callable[[PluginInfo], None]) -> None:
    register(
        PluginInfo(
            name=PLUGIN_NAME,
            version=_version(),
            description="Read Kubernetes Audit Events for GKE from Cloud Logging",
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
            open_params=(
                OpenParam("my-project", "All GKE clusters of a project"),
                OpenParam("my-project/europe-west1/my-cluster",
                          "One cluster: PROJECT/LOCATION/CLUSTER ('-' = any location)"),
            ),
            event_to_string=event_to_string,
        )
    )


@hookimpl
def pyfalco_register_fields(register: Callable[[FieldTable], None]) -> None:
    # k8saudit's very FieldSpec objects: the core does not count them as an overlap.
    register(FieldTable(plugin=PLUGIN_NAME, fields=FIELDS, sources=(SOURCE,)))


@hookimpl
def pyfalco_register_rules(register: Callable[[RulesFileSpec], None]) -> None:
    # k8saudit's default rules (no copy), then the GKE overlay that amends them.
    register(RulesFileSpec(plugin=PLUGIN_NAME, path=DEFAULT_RULES_PATH))
    register(RulesFileSpec(plugin=PLUGIN_NAME, path=GKE_RULES_PATH))
