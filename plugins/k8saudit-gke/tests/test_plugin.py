"""Registration: identity, reuse of k8saudit's fields and rules plus the GKE overlay."""

from __future__ import annotations

import jsonschema
import pyfalco_k8saudit
import pyfalco_k8saudit.plugin
import pytest
import yaml
from pyfalco.plugins import collect, get_plugin_manager
from pyfalco_k8saudit_gke import plugin


@pytest.fixture
def registry():
    pm, _ = get_plugin_manager(autoload=False, plugins=[pyfalco_k8saudit.plugin, plugin])
    return collect(pm)


def test_identity(registry):
    info = registry.plugins["k8saudit-gke"]
    assert (info.id, info.required_version) == (16, "0.9.0")
    (src,) = registry.sources_of("k8saudit-gke")
    assert src.event_source == "k8s_audit"


def test_fields_and_rules(registry):
    (table,) = [t for t in registry.field_tables if t.plugin == "k8saudit-gke"]
    assert table.fields is pyfalco_k8saudit.FIELDS
    paths = [r.path for r in registry.rules_files if r.plugin == "k8saudit-gke"]
    assert paths == [pyfalco_k8saudit.DEFAULT_RULES_PATH, plugin.GKE_RULES_PATH]


def test_overlay_only_amends_existing_items(registry):
    base = yaml.safe_load(pyfalco_k8saudit.DEFAULT_RULES_PATH.read_text())
    names = {(k, item[k]) for item in base for k in ("rule", "list", "macro") if k in item}
    overlay = yaml.safe_load(plugin.GKE_RULES_PATH.read_text())
    for item in overlay:
        for kind in ("rule", "list", "macro"):
            if kind in item:
                assert (kind, item[kind]) in names, item[kind]
                assert "override" in item


@pytest.mark.parametrize("cfg", [{}, {"project_id": "p", "num_goroutines": 4},
                                 {"maxout_stand_messages": 3}, {"page_size": 1000}])
def test_schema_accepts(cfg):
    jsonschema.validate(cfg, plugin.CONFIG_SCHEMA)


@pytest.mark.parametrize("cfg", [{"page_size": 5000}, {"polling_interval": 0},
                                 {"on_error": "x"}, {"fetch_cluster_metadata": "yes"}])
def test_schema_refuses(cfg):
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(cfg, plugin.CONFIG_SCHEMA)
