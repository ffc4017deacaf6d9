"""Run the application in-process against test plugins and the fakes of :mod:`fakes`."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
from pyfalco.app import actions, plugin_loading, runner
from pyfalco.app.state import State
from pyfalco.plugins import collect, get_plugin_manager

from . import fakes


@dataclass
class Run:
    code: int
    out: str
    err: str
    state: State


class App:
    def __init__(self, tmp_path: Path, capsys, monkeypatch) -> None:
        self.tmp_path = tmp_path
        self.capsys = capsys
        self.monkeypatch = monkeypatch
        self.plugins: list[object] = []
        self.failures: list = []
        self.states: list[State] = []
        monkeypatch.setattr(plugin_loading, "discover", self._discover)
        monkeypatch.setattr(actions, "_rules_api", self._rules_api)
        monkeypatch.setattr(actions, "_outputs_api", lambda name: getattr(fakes.FakeOutputs, name))
        monkeypatch.setattr(runner, "State", self._state)
        fakes.OutputsManager.instances.clear()

    def _state(self, **kw) -> State:
        s = State(**kw)
        self.states.append(s)
        return s

    def _discover(self):
        pm, _ = get_plugin_manager(autoload=False, plugins=self.plugins)
        reg = collect(pm, self.failures)
        for p in self.plugins:
            reg.distributions[getattr(p, "name", "?")] = f"dist-{getattr(p, 'name', '?')}"
        return reg

    @staticmethod
    def _rules_api(name, optional=False):
        return getattr(fakes.FakeRules, name, None)

    def file(self, name: str, text: str) -> Path:
        p = self.tmp_path / name
        p.write_text(textwrap.dedent(text))
        return p

    def config(self, text: str = "") -> Path:
        return self.file("falco.yaml", "stdout_output: {enabled: true}\nlog_stderr: true\n"
                         "log_syslog: false\n" + textwrap.dedent(text))

    def run(self, *argv: str) -> Run:
        self.capsys.readouterr()
        code = runner.main(list(argv))
        out, err = self.capsys.readouterr()
        return Run(code, out, err, self.states[-1] if self.states else None)


@pytest.fixture
def app(tmp_path, capsys, monkeypatch) -> App:
    return App(tmp_path, capsys, monkeypatch)
