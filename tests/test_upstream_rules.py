"""Falco's upstream rules files load unchanged with the real plugins' field tables.

For each file of ``../shared/upstream/rules`` (with the plugins it requires: syscall and
container, or k8saudit) the numbers of rules, macros and lists loaded equal the file's, without
errors or warnings; all files load together in one run too; ``pyfalco -V`` reports them Ok.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from pyfalco.plugins import collect, get_plugin_manager
from pyfalco.rules import FieldCatalog, RulesContent, RulesEngine

PYFALCO = str(Path(sys.executable).with_name("pyfalco"))
SYSCALL_FILES = ["falco_rules.yaml", "falco-incubating_rules.yaml", "falco-sandbox_rules.yaml"]

@pytest.fixture(scope="module")
def registry():
    pm, failures = get_plugin_manager()
    reg = collect(pm, failures)
    for needed in ("syscall", "container", "k8saudit", "k8saudit-gke"):
        assert needed in reg.plugins, f"plugin {needed} is not installed"
    return reg


def _engine(registry) -> RulesEngine:
    versions = {n: p.required_version for n, p in registry.plugins.items()}
    return RulesEngine(FieldCatalog.from_registry(registry), plugin_versions=versions)


def _declared(path: Path) -> dict[str, set[str]]:
    """Names of the rules, macros and lists a file defines (appends and overrides excluded)."""
    out: dict[str, set[str]] = {"rule": set(), "macro": set(), "list": set()}
    for doc in yaml.safe_load_all(path.read_text()):
        for item in doc or ():
            for kind in out:
                if kind in item and not item.get("append") and "override" not in item:
                    out[kind].add(str(item[kind]))
    return out


def _load(registry, upstream: Path, names: list[str]):
    engine = _engine(registry)
    result = engine.load([RulesContent(n, (upstream / "rules" / n).read_text()) for n in names])
    return engine, result


@pytest.mark.parametrize("name", [*SYSCALL_FILES, "k8s_audit_rules.yaml"])
def test_file_loads_with_its_counts(registry, upstream, name) -> None:
    engine, result = _load(registry, upstream, [name])
    assert result.ok, result.as_text(verbose=True)
    assert result.warnings == [], result.as_text(verbose=True)
    assert engine.check_plugin_requirements() is None
    declared = _declared(upstream / "rules" / name)
    assert {r.name for r in engine.rules()} == declared["rule"]
    assert {m.name for m in engine.macros()} == declared["macro"]
    assert {x.name for x in engine.lists()} == declared["list"]


def test_gke_rules_extend_the_k8s_audit_rules(registry, upstream) -> None:
    engine, result = _load(registry, upstream, ["k8s_audit_rules.yaml",
                                                 "k8s_audit_rules_gke.yaml"])
    assert result.ok, result.as_text(verbose=True)
    assert engine.check_plugin_requirements() is None
    rule = next(r for r in engine.rules() if r.name == "Disallowed K8s User")
    assert "ka.user.name" in rule.expanded_condition


def test_all_upstream_files_load_together(registry, upstream) -> None:
    names = [*SYSCALL_FILES, "k8s_audit_rules.yaml", "k8s_audit_rules_gke.yaml"]
    engine, result = _load(registry, upstream, names)
    assert result.ok, result.as_text(verbose=True)
    assert len(engine.rules(source="syscall")) == 25 + 31 + 37
    assert len(engine.rules(source="k8s_audit")) == 48
    syscall = engine.evaluator("syscall")
    assert syscall.event_types is not None and "execve" in syscall.event_types
    assert engine.evaluator("k8s_audit").event_types is None


@pytest.mark.parametrize("name", [*SYSCALL_FILES, "k8s_audit_rules.yaml"])
def test_pyfalco_validate(upstream, name) -> None:
    path = upstream / "rules" / name
    r = subprocess.run([PYFALCO, "-V", str(path)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"{path}: Ok" in r.stdout
