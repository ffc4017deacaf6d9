"""Which rules files are loaded: plugins' default files (once each) then rules_files; -r
replaces both, as in Falco."""

from __future__ import annotations

from pathlib import Path

from pyfalco import hookimpl
from pyfalco.api import PluginInfo, RulesFileSpec

from .fakes import CounterPlugin


class Family:
    """Two plugins registering the very same default rules file (the k8saudit family)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @hookimpl
    def pyfalco_register_plugins(self, register):
        register(PluginInfo(name="fam-a", version="1.0.0"))
        register(PluginInfo(name="fam-b", version="1.0.0"))

    @hookimpl
    def pyfalco_register_rules(self, register):
        register(RulesFileSpec(plugin="fam-a", path=self.path))
        register(RulesFileSpec(plugin="fam-b", path=self.path))


def test_plugin_rules_once_then_rules_files_and_r_replaces(app):
    shipped = app.file("shipped.yaml", "[]\n")
    mine = app.file("mine.yaml", "[]\n")
    app.plugins += [Family(shipped), CounterPlugin("pa", "a", 101)]
    app.config(f"rules_files: [{mine}, {shipped}]\n")
    r = app.run("-c", str(app.tmp_path / "falco.yaml"), "--dry-run")
    assert r.code == 0, r.err
    assert r.state.rules_files == [shipped, mine]
    r = app.run("-c", str(app.tmp_path / "falco.yaml"), "-r", str(mine), "--dry-run")
    assert r.state.rules_files == [mine]
