"""Issue 5 item 5: upstream falco_rules.yaml, falco-incubating_rules.yaml and
falco-sandbox_rules.yaml load and compile with the syscall, container and json plugins."""

from __future__ import annotations

import pytest
from pyfalco.plugins import collect, get_plugin_manager
from pyfalco.rules import FieldCatalog, RulesContent, RulesEngine


@pytest.mark.parametrize("files", [
    ["falco_rules.yaml"],
    ["falco_rules.yaml", "falco-incubating_rules.yaml"],
    ["falco_rules.yaml", "falco-incubating_rules.yaml", "falco-sandbox_rules.yaml"],
])
def test_upstream_syscall_rules_compile(upstream, files):
    pm, failures = get_plugin_manager()
    registry = collect(pm, failures)
    for needed in ("syscall", "container", "json"):
        assert needed in registry.plugins
    catalog = FieldCatalog.from_registry(registry)
    versions = {n: p.required_version for n, p in registry.plugins.items()}
    engine = RulesEngine(catalog, loaded_sources=["syscall"], plugin_versions=versions)
    result = engine.load([RulesContent(name=str(upstream / "rules" / f),
                                       text=(upstream / "rules" / f).read_text())
                          for f in files])
    assert result.ok, result.as_text(verbose=True)
    assert engine.rules("syscall")
    ev = engine.evaluator("syscall")
    assert ev.event_types  # rules are indexed by event type
