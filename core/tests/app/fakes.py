"""Throwaway fakes of the rules engine and the outputs, for the app's unit tests only (the real
ones are exercised by tests/test_cli*.py). Same names and shapes as the agreed engine API."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import yaml
from pyfalco import hookimpl
from pyfalco.api import (
    Event,
    FieldSpec,
    FieldTable,
    FieldType,
    OpenParam,
    PluginInfo,
    SourceSpec,
)
from pyfalco.errors import ConfigError, PluginError, PyfalcoError
from pyfalco.priority import Priority
from pyfalco.rules.results import LoadResult  # the real container of the fake FileResults

# -- rules --------------------------------------------------------------------------------------


class FieldCatalog:
    def __init__(self, fields: dict[str, dict[str, FieldSpec]]) -> None:
        self.fields = fields

    @classmethod
    def from_registry(cls, registry):
        out: dict[str, dict[str, FieldSpec]] = {}
        srcs = {s.event_source for s in registry.sources} | {"syscall"}
        for t in registry.field_tables:
            own = [s.event_source for s in registry.sources_of(t.plugin)]
            for src in (list(t.sources) + own) if t.sources else srcs:
                for f in t.fields:
                    if f.name in out.setdefault(src, {}) and out[src][f.name] is not f:
                        raise PluginError(
                            f"Plugin '{t.plugin}' supports extraction of field '{f.name}' that "
                            f"is overlapping for source '{src}'")
                    out[src][f.name] = f
        return cls(out)


@dataclass
class RulesContent:
    name: str
    text: str


@dataclass
class CompiledRule:
    name: str
    desc: str
    priority: Priority
    tags: tuple[str, ...]
    source: str
    condition: str
    output: str
    enabled: bool = True


@dataclass
class FileResult:
    """The shape of pyfalco.rules.FileResult the app reads."""

    name: str
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    schema_warnings: list[str] | None = None

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_text(self, verbose: bool = False) -> str:
        head = f"{self.name}: {'Ok' if self.ok else 'Invalid'}"
        return "\n".join([head, *self.errors, *self.warnings])

    def as_json(self) -> dict:
        return {"name": self.name, "successful": self.ok}


class Match:
    def __init__(self, rule: CompiledRule, render) -> None:
        self.rule = rule
        self._render = render

    def output(self, evt: Event) -> str:
        return self._render(evt)

    def output_fields(self, evt: Event) -> dict[str, Any]:
        return {}


class Evaluator:
    def __init__(self, rules, catalog) -> None:
        self.checks = []
        for r in rules:
            cond = r.condition.strip()
            if cond == "always":
                test = lambda evt: True  # noqa: E731
            else:
                name, _, value = cond.partition("=")
                spec = catalog.get(name.strip())
                fn, want = spec.binder(), value.strip()
                test = lambda evt, fn=fn, want=want: str(fn(evt)) == want  # noqa: E731
            self.checks.append((r, test, self._renderer(r.output, catalog)))
        self.event_types = None

    @staticmethod
    def _renderer(output, catalog):
        parts = []
        for tok in output.split(" "):
            if tok.startswith("%") and tok[1:] in catalog:
                fn = catalog[tok[1:]].binder()
                parts.append(lambda e, fn=fn: "<NA>" if fn(e) is None else str(fn(e)))
            else:
                parts.append(lambda e, t=tok: t)
        return lambda e: " ".join(p(e) for p in parts)

    def process(self, evt):
        return [Match(r, render) for r, test, render in self.checks if test(evt)][:1]


class RulesEngine:
    def __init__(self, catalog, loaded_sources, plugin_versions) -> None:
        self.catalog = catalog
        self.loaded_sources = list(loaded_sources)
        self.plugin_versions = dict(plugin_versions)
        self.min_priority = Priority.DEBUG
        self.append_output: list = []
        self._rules: list[CompiledRule] = []
        self.selections: list = []

    def set_append_output(self, entries):
        self.append_output = list(entries)

    def load(self, contents):
        res = LoadResult(files=[FileResult(c.name) for c in contents])
        for c, fr in zip(contents, res.files, strict=True):
            for item in yaml.safe_load(c.text) or []:
                if "required_plugin_versions" in item:
                    for req in item["required_plugin_versions"]:
                        if req["name"] not in self.plugin_versions:
                            self.req_error = (
                                f"Plugin requirement not satisfied, must load one of: "
                                f"{req['name']} (>= {req['version']})")
                if "rule" not in item:
                    continue
                src = item.get("source", "syscall")
                if src not in self.loaded_sources:
                    fr.warnings.append(f"Unknown source {src}, skipping")
                    continue
                self._rules.append(CompiledRule(
                    name=item["rule"], desc=item.get("desc", ""),
                    priority=Priority.parse(item.get("priority", "warning")),
                    tags=tuple(item.get("tags", ())), source=src,
                    condition=item["condition"], output=item.get("output", ""),
                    enabled=item.get("enabled", True)))
        return res

    req_error = None

    def check_plugin_requirements(self):
        return self.req_error

    def select(self, enabled, rule=None, tag=None):
        self.selections.append((enabled, rule, tag))
        for r in self._rules:
            if (rule and r.name == rule) or (tag and tag in r.tags):
                r.enabled = enabled

    def rules(self, source=None):
        return [r for r in self._rules if source is None or r.source == source]

    def describe(self, only=None):
        """The ``info`` part of the real engine's description (details: tests with the real
        engine in test_describe.py)."""
        rules = [r for r in self._rules if only is None or r.name == only]
        if only is not None and not rules:
            raise PyfalcoError(f'Rule "{only}" is not loaded')
        return {"rules": [
            {"info": {"name": r.name, "condition": r.condition, "priority": r.priority.title,
                      "output": r.output, "description": r.desc, "enabled": r.enabled,
                      "source": r.source, "tags": sorted(r.tags)}} for r in rules]}

    def evaluator(self, source, rule_matching="first"):
        rules = [r for r in self._rules if r.source == source and r.enabled
                 and r.priority <= self.min_priority]
        return Evaluator(rules, self.catalog.fields.get(source, {}))


class FakeRules:
    """What ``actions._rules_api`` returns, by name."""

    FieldCatalog = FieldCatalog
    RulesEngine = RulesEngine
    RulesContent = RulesContent
    BASE_FIELDS = (FieldSpec("evt.num", FieldType.UINT64, "event number.", lambda e: e.num),)
    ENGINE_VERSION = "0.63.0"


# -- outputs ------------------------------------------------------------------------------------


@dataclass(slots=True)
class Alert:
    time_ns: int
    priority: Priority
    rule: str
    source: str
    output: str
    output_fields: dict = field(default_factory=dict)
    tags: tuple = ()
    hostname: str = ""


class OutputsManager:
    instances: list[OutputsManager] = []

    def __init__(self, config, hostname=None) -> None:
        if not any((config.get(k) or {}).get("enabled") for k in ("stdout_output", "file_output")):
            raise ConfigError("No output configured, please make sure at least one output is "
                              "configured and enabled.")
        self.alerts: list[Alert] = []
        self.internal: list[tuple] = []
        self.reopened = 0
        self.started = self.closed = False
        self.lock = threading.Lock()
        OutputsManager.instances.append(self)

    def start(self):
        self.started = True
        return self

    def handle(self, alert):
        with self.lock:
            self.alerts.append(alert)

    def handle_internal(self, msg, priority, fields, *, rule=None, time_ns=None):
        self.internal.append((msg, priority, rule))

    def reopen(self):
        self.reopened += 1

    def close(self):
        self.closed = True

    def counters(self):
        return {}


class AlertStats:
    def __init__(self, rule_order=()) -> None:
        self.total = 0

    def add(self, alert):
        self.total += 1

    def render(self):
        return f"Events detected: {self.total}\n"

    def rule_counts(self):
        return []


class FakeOutputs:
    Alert = Alert
    OutputsManager = OutputsManager
    AlertStats = AlertStats


# -- plugins ------------------------------------------------------------------------------------


class CounterInstance:
    """Emits ``count`` events ``{"n": i}`` then EOF (or raises at ``fail_at``)."""

    def __init__(self, source, count, fail_at=0, wait=None) -> None:
        self.source, self.left, self.n, self.fail_at, self.wait = source, count, 0, fail_at, wait
        self.closed = False
        self.threads: set[str] = set()

    def next_batch(self):
        self.threads.add(threading.current_thread().name)
        if self.wait is not None:
            self.wait.wait(0.05)
            if not self.wait.is_set():
                return []
        if self.left <= 0:
            return None
        self.left -= 1
        self.n += 1
        if self.fail_at and self.n >= self.fail_at:
            raise RuntimeError(f"{self.source} broke at event {self.n}")
        return [Event(b'{"n": %d}' % self.n)]

    def counters(self):
        return {"drops": 1}

    def close(self):
        self.closed = True


class CounterPlugin:
    """A sourcing plugin ``name`` with source ``source``, one field ``<source>.n``."""

    def __init__(self, name, source, id, count=3, fail_at=0, schema=None, rules=None,
                 syscall=False, fields=True) -> None:
        self.name, self.source, self.id = name, source, id
        self.count, self.fail_at = count, fail_at
        self.schema = schema
        self.inits: list[dict] = []
        self.opened: list[Any] = []
        self.syscall = syscall
        self.with_fields = fields
        self.field = FieldSpec(f"{source}.n", FieldType.UINT64, "n",
                               lambda e: (e.json() or {}).get("n"))

    def open(self, ctx):
        params = dict(kv.split("=") for kv in ctx.open_params.split(",") if "=" in kv)
        inst = CounterInstance(self.source, int(params.get("count", self.count)), self.fail_at)
        inst.ctx = ctx
        self.opened.append(inst)
        return inst

    @hookimpl
    def pyfalco_register_plugins(self, register):
        register(PluginInfo(name=self.name, version="0.3.0", id=self.id,
                            init_schema=self.schema, init=self.inits.append,
                            description=f"{self.name} plugin", contact="x"))

    @hookimpl
    def pyfalco_register_sources(self, register):
        register(SourceSpec(plugin=self.name, event_source=self.source, open=self.open,
                            open_params=(OpenParam("default", "the configured count"),)))

    @hookimpl
    def pyfalco_register_fields(self, register):
        if self.with_fields:
            register(FieldTable(plugin=self.name, fields=[self.field]))
