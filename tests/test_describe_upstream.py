"""``-L`` JSON (Falco's ``describe_rule``) of the upstream rules files with the real plugins:
every rule, macro and list has Falco's keys and consistent details; exact values for known
items of ``falco_rules.yaml`` and ``k8s_audit_rules.yaml``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pyfalco.plugins import collect, get_plugin_manager
from pyfalco.rules import FieldCatalog, RulesContent, RulesEngine

FILES = ["falco_rules.yaml", "falco-incubating_rules.yaml", "falco-sandbox_rules.yaml",
         "k8s_audit_rules.yaml"]
RULE_DETAILS = ["macros", "lists", "condition_operators", "condition_fields", "output_fields",
                "exception_fields", "exception_names", "exception_operators", "events",
                "condition_compiled", "output_compiled", "plugins"]
#: what Falco would have loaded: container and k8saudit (json for the jevt.* fields)
LOADED = ("container", "k8saudit", "json")


@pytest.fixture(scope="module")
def described(upstream: Path) -> dict:
    pm, failures = get_plugin_manager()
    reg = collect(pm, failures)
    for needed in ("syscall", *LOADED):
        assert needed in reg.plugins, f"plugin {needed} is not installed"
    versions = {n: p.required_version for n, p in reg.plugins.items()}
    engine = RulesEngine(FieldCatalog.from_registry(reg), plugin_versions=versions)
    engine.set_plugins({n: [s.event_source for s in reg.sources_of(n)] for n in LOADED})
    result = engine.load([RulesContent(n, (upstream / "rules" / n).read_text()) for n in FILES])
    assert result.ok, result.as_text(verbose=True)
    out = engine.describe(None)
    json.dumps(out)  # plain JSON all the way down
    return out


def _by_name(items: list[dict]) -> dict[str, dict]:
    return {x["info"]["name"]: x for x in items}


def test_every_rule_has_falco_keys(described: dict) -> None:
    assert described["required_engine_version"] == "0.57.0"
    assert {r["name"] for r in described["required_plugin_versions"]} == {
        "container", "k8saudit", "json"}
    assert len(described["rules"]) == 25 + 31 + 37 + 48
    macro_names = {m["info"]["name"] for m in described["macros"]}
    list_names = {x["info"]["name"] for x in described["lists"]}
    for r in described["rules"]:
        info, det = r["info"], r["details"]
        assert list(info) == ["name", "condition", "priority", "output", "description",
                              "enabled", "source", "tags"], info["name"]
        assert list(det) == RULE_DETAILS, info["name"]
        assert info["priority"] in ("Emergency", "Alert", "Critical", "Error", "Warning",
                                    "Notice", "Informational", "Debug")
        for key in RULE_DETAILS:
            if key not in ("condition_compiled", "output_compiled", "output_fields"):
                assert det[key] == sorted(set(det[key])), (info["name"], key)
        assert set(det["macros"]) <= macro_names and set(det["lists"]) <= list_names
        assert det["condition_fields"] and det["condition_operators"] and det["events"]
        assert set(det["exception_fields"]) <= set(det["condition_fields"]), info["name"]
        assert det["output_compiled"] == info["output"]  # no append_output configured
        if info["source"] == "syscall":
            assert "asyncevent" in det["events"] and "pluginevent" not in det["events"]
        else:
            assert det["events"] == ["asyncevent", "pluginevent"]
            assert "k8saudit" in det["plugins"]
    for m in described["macros"]:
        assert list(m["details"]) == ["used", "macros", "lists", "condition_operators",
                                      "condition_fields", "events", "condition_compiled",
                                      "plugins"]
        assert m["details"]["plugins"] == []
    for x in described["lists"]:
        assert list(x["details"]) == ["used", "lists", "items_compiled", "plugins"]
        assert set(x["info"]["items"]) <= set(x["details"]["items_compiled"])


def test_known_rule_exact_details(described: dict) -> None:
    r = _by_name(described["rules"])["Terminal shell in container"]
    assert r["info"]["priority"] == "Notice" and r["info"]["enabled"] is True
    assert r["info"]["condition"].startswith("spawned_process and container and shell_procs")
    det = r["details"]
    assert det["macros"] == ["container", "container_entrypoint", "shell_procs",
                             "spawned_process",
                             "user_expected_terminal_shell_in_container_conditions"]
    assert det["lists"] == []
    assert det["condition_fields"] == ["container.id", "evt.num", "evt.type", "proc.name",
                                       "proc.pname", "proc.tty"]
    assert det["condition_operators"] == ["!=", "=", "exists", "in"]
    assert det["output_fields"][:3] == ["evt.type", "user.name", "user.uid"]
    assert det["events"] == ["asyncevent", "execve", "execveat"]
    assert det["plugins"] == ["container"]

    r = _by_name(described["rules"])["Read sensitive file untrusted"]
    assert r["details"]["lists"] == sorted([
        "user_mgmt_binaries", "userexec_binaries", "package_mgmt_binaries", "cron_binaries",
        "read_sensitive_file_binaries", "shell_binaries", "hids_binaries", "vpn_binaries",
        "mail_config_binaries", "nomachine_binaries", "sshkit_script_binaries",
        "postgres_mgmt_binaries"])
    assert r["details"]["events"] == ["asyncevent", "open", "openat", "openat2"]

    k = _by_name(described["rules"])["Create Disallowed Pod"]["details"]
    assert k["macros"] == ["allowed_k8s_containers", "kcreate", "kevt", "pod"]
    assert k["plugins"] == ["json", "k8saudit"]


def test_known_macro_and_list(described: dict) -> None:
    m = _by_name(described["macros"])["open_write"]
    assert m["details"]["used"] is True
    assert m["details"]["condition_fields"] == ["evt.is_open_write", "evt.type", "fd.num",
                                                "fd.typechar"]
    assert m["details"]["events"] == ["asyncevent", "open", "openat", "openat2"]
    x = _by_name(described["lists"])["package_mgmt_binaries"]
    assert x["details"]["lists"] == ["deb_binaries", "python_package_managers", "rpm_binaries"]
    assert "dpkg" in x["details"]["items_compiled"] and "dpkg" not in x["info"]["items"]
