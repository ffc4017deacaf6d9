"""Registration: identity, reuse of k8saudit's fields and rules, init_config schema."""

from __future__ import annotations

import jsonschema
import pyfalco_k8saudit
import pyfalco_k8saudit.plugin
import pytest
from pyfalco.plugins import collect, get_plugin_manager
from pyfalco_k8saudit_eks import plugin


@pytest.fixture
def registry():
    pm, _ = get_plugin_manager(autoload=False, plugins=[pyfalco_k8saudit.plugin, plugin])
    return collect(pm)


def test_identity(registry):
    info = registry.plugins["k8saudit-eks"]
    assert (info.id, info.required_version) == (9, "0.12.0")
    (src,) = registry.sources_of("k8saudit-eks")
    assert src.event_source == "k8s_audit"
    assert [(p.value, p.desc) for p in src.open_params] == [("default", "Cluster Name")]


def test_fields_and_rules_are_k8saudits_own(registry):
    (table,) = [t for t in registry.field_tables if t.plugin == "k8saudit-eks"]
    assert table.fields is pyfalco_k8saudit.FIELDS
    (rules,) = [r for r in registry.rules_files if r.plugin == "k8saudit-eks"]
    assert rules.path == pyfalco_k8saudit.DEFAULT_RULES_PATH


@pytest.mark.parametrize("cfg", [{}, {"region": "eu-west-1", "shift": 10, "use_async": False},
                                 {"unknown_key": 1}, {"on_error": "retry"}])
def test_schema_accepts(cfg):
    jsonschema.validate(cfg, plugin.CONFIG_SCHEMA)


@pytest.mark.parametrize("cfg", [{"shift": "1s"}, {"on_error": "ignore"}, {"buffer_size": -1},
                                 {"max_event_size": 0}])
def test_schema_refuses(cfg):
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(cfg, plugin.CONFIG_SCHEMA)
