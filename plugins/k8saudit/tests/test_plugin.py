"""Registration through the plugin contract, and the default rules file."""

from __future__ import annotations

import pyfalco_json.plugin
import pyfalco_k8saudit.plugin
import yaml
from pyfalco.api import Event, OpenContext
from pyfalco.plugins import collect, get_plugin_manager
from pyfalco_k8saudit import DEFAULT_RULES_PATH, FIELDS


def registry():
    pm, failures = get_plugin_manager(
        autoload=False, plugins=[pyfalco_k8saudit.plugin, pyfalco_json.plugin])
    return collect(pm, failures)


def test_identity_source_fields_rules() -> None:
    reg = registry()
    info = reg.plugins["k8saudit"]
    assert (info.id, info.required_version) == (1, "0.18.0")
    (src,) = reg.sources
    assert (src.plugin, src.event_source) == ("k8saudit", "k8s_audit")
    assert src.event_to_string(Event(b'{"a":1}')) == '{"a":1}'
    k8s_table = next(t for t in reg.field_tables if t.plugin == "k8saudit")
    assert k8s_table.fields is FIELDS and tuple(k8s_table.sources) == ("k8s_audit",)
    (rules,) = reg.rules_files
    assert rules.path == DEFAULT_RULES_PATH and rules.path.is_file()


def test_suggested_open_params_start_with_falcos_default() -> None:
    # the app opens the first suggestion when the config lists no plugins
    (src,) = registry().sources
    assert [p.value for p in src.open_params] == [
        "http://:9765/k8s-audit", "https://:9765/k8s-audit",
        "file:///var/log/kube-apiserver/audit.log"]


def test_init_schema_accepts_upstream_config() -> None:
    import jsonschema

    info = registry().plugins["k8saudit"]
    jsonschema.validate({"sslCertificate": "/x.pem", "useAsync": False, "maxEventSize": 100,
                         "webhookMaxBatchSize": 0, "unknownKey": 1}, info.init_schema)
    try:
        jsonschema.validate({"maxEventSize": "big"}, info.init_schema)
    except jsonschema.ValidationError as exc:
        assert "maxEventSize" in str(exc.path) or "big" in exc.message
    else:
        raise AssertionError("a string maxEventSize must be refused")


def test_open_through_the_source_spec(upstream) -> None:
    (src,) = registry().sources
    trace = upstream / "falco-tests/trace_files/k8s_audit/create_deployment.json"
    inst = src.open(OpenContext(init_config={}, open_params=str(trace)))
    (evt,) = inst.next_batch()
    assert evt.json()["verb"] == "create"
    assert inst.next_batch() is None


def test_default_rules_cover_upstream(upstream) -> None:
    ours = yaml.safe_load(DEFAULT_RULES_PATH.read_text())
    theirs = yaml.safe_load((upstream / "rules/k8s_audit_rules.yaml").read_text())

    def names(doc, kind):
        return {item[kind] for item in doc if kind in item}

    assert names(ours, "rule") == names(theirs, "rule")
    assert names(theirs, "macro") <= names(ours, "macro")
    assert names(theirs, "list") <= names(ours, "list")
    fields = {f.name for f in FIELDS}
    for item in ours:
        if "rule" in item:
            assert item["source"] == "k8s_audit" and "k8s" in item["tags"]
    text = DEFAULT_RULES_PATH.read_text()
    import re

    for name in set(re.findall(r"\bka\.[a-zA-Z_.]+[a-zA-Z_]", text)):
        assert name in fields, name
