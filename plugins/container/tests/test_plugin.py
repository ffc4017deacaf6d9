"""Registration, init_config, and coverage of the container/k8s fields Falco's rules use."""

from __future__ import annotations

import re

import jsonschema
import pytest
from pyfalco.plugins import collect, get_plugin_manager
from pyfalco_container import fields as F
from pyfalco_container import plugin
from pyfalco_container.cri import CRIClient
from pyfalco_container.docker import EngineAPIClient


@pytest.fixture
def registry():
    pm, _ = get_plugin_manager(autoload=False, plugins=[plugin])
    return collect(pm)


def test_identity(registry):
    info = registry.plugins["container"]
    assert info.id == 0 and info.required_version == "0.6.0"
    (table,) = registry.field_tables
    assert list(table.sources) == ["syscall"]


def test_fields_used_by_falcos_rules_exist(upstream):
    names = {f.name for f in F.FIELDS}
    used = set()
    for path in (upstream / "rules").glob("falco*_rules.yaml"):
        used |= set(re.findall(r"\b((?:container|k8s)\.[a-z_.]+[a-z_])\b", path.read_text()))
    used = {u for u in used if not u.startswith(("k8s.io", "k8s.gcr"))}
    assert used and used <= names, used - names


def test_init_builds_the_configured_runtimes():
    plugin._init({"engines": {"docker": {"sockets": ["/a.sock"]}, "podman": {"enabled": False},
                              "containerd": {"sockets": ["/c.sock"]},
                              "cri": {"enabled": False}},
                  "retry_interval": 5})
    try:
        rts = F.STATE.store.runtimes
        assert [(type(r), r.kind, r.socket_path) for r in rts] == [
            (EngineAPIClient, "docker", "/a.sock"), (CRIClient, "containerd", "/c.sock")]
        assert F.STATE.store.retry_interval_s == 5
    finally:
        plugin._destroy()
    assert F.STATE.store is None


@pytest.mark.parametrize("cfg", [{}, {"engines": {"docker": {"enabled": True}}},
                                 {"label_max_len": 100, "hooks": ["create"]}])
def test_schema_accepts(cfg):
    jsonschema.validate(cfg, plugin.CONFIG_SCHEMA)


@pytest.mark.parametrize("cfg", [{"engines": {"docker": {"sockets": "/x"}}},
                                 {"lookup_timeout": 0}, {"max_pending": 0}])
def test_schema_refuses(cfg):
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(cfg, plugin.CONFIG_SCHEMA)


def test_lookup_counters_reach_the_core():
    """The store's counters are exposed through PluginInfo.counters (stats and metrics)."""
    from pyfalco_container import plugin

    infos = []
    plugin.pyfalco_register_plugins(register=infos.append)
    (info,) = infos
    assert info.counters is not None
    info.init({})
    try:
        counters = info.counters()
        assert set(counters) == {"lookups", "found", "not_found", "unreachable",
                                 "queue_drops", "errors"}
        assert all(v == 0 for v in counters.values())
    finally:
        info.destroy()
