"""Plugin loading on top of :mod:`pyfalco.plugins`: which installed plugins a config selects,
their ``init_config`` (validated against the plugin's schema with Falco's text), the loaded
sources, and which plugin opens each source (falco-core.md §2.1, §5).

Decisions (core README):

* No ``plugins:`` and no ``load_plugins:`` in the config: every installed plugin is loaded with
  its defaults (``{}`` init_config, empty open_params), in discovery order.
* Plugins that register engine kinds (the syscall plugin: ``ebpf``/``replay``; the gvisor plugin:
  ``gvisor``) are Falco's built-in syscall support: they are loaded whenever installed, even when
  ``plugins:`` / ``load_plugins:`` do not list them (first, unless listed).
* ``library_path`` is accepted and ignored (logged at load).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ..api import SYSCALL_SOURCE, PluginInfo, SourceSpec
from ..config.settings import PluginConfig, Settings
from ..errors import PluginError
from ..plugins import DiscoveryFailure, Registry, collect, get_plugin_manager

log = logging.getLogger("pyfalco")

#: Engine kinds and the distribution that provides them, for "pip install ..." messages.
KNOWN_ENGINE_PACKAGES = {
    "ebpf": "pyfalco-plugin-syscall",
    "modern_ebpf": "pyfalco-plugin-syscall",
    "kmod": "pyfalco-plugin-syscall",
    "replay": "pyfalco-plugin-syscall",
    "gvisor": "pyfalco-plugin-gvisor",
}
NODRIVER = "nodriver"


def distribution_for(plugin: str) -> str:
    """The pip package that provides plugin ``plugin`` (the repository's naming rule)."""
    return f"pyfalco-plugin-{plugin}"


@dataclass
class LoadedPlugin:
    """A selected plugin: its identity and its configuration from falco.yaml."""

    info: PluginInfo
    distribution: str
    #: The ``plugins:`` entry, or None when loaded with defaults.
    config: PluginConfig | None = None
    #: Loaded because it provides the built-in syscall support (engine kinds).
    implicit: bool = False
    #: Validated init_config, set by :func:`init_plugins`.
    init_config: dict[str, Any] = field(default_factory=dict)
    initialized: bool = False

    @property
    def name(self) -> str:
        return self.info.name

    #: The first suggested open_params of the plugin's source, used when the plugin is loaded
    #: with its defaults (no ``plugins:`` entry).
    default_open_params: str = ""

    @property
    def open_params(self) -> str:
        return self.config.open_params if self.config else self.default_open_params


def discover() -> Registry:
    """Every installed plugin (entry points), validated. Import failures are kept in
    ``registry.failures`` and logged with their distribution name."""
    pm, failures = get_plugin_manager()
    registry = collect(pm, failures)
    _fill_distributions(registry)
    return registry


def _fill_distributions(registry: Registry) -> None:
    """Map each plugin name to the distribution that ships it: by entry-point name, else by the
    top-level package of one of its callables."""
    from importlib.metadata import entry_points, packages_distributions

    by_ep = {ep.name: ep.dist.name for ep in entry_points(group="pyfalco.plugins") if ep.dist}
    pkg_dists = packages_distributions()
    for name, info in registry.plugins.items():
        if name in by_ep:
            registry.distributions[name] = by_ep[name]
            continue
        fns = [info.init, info.destroy] + [s.open for s in registry.sources_of(name)] + [
            f.extract for t in registry.field_tables if t.plugin == name for f in t.fields
        ]
        for fn in fns:
            module = getattr(fn, "__module__", None)
            dists = pkg_dists.get(module.split(".")[0], []) if module else []
            if dists:
                registry.distributions[name] = dists[0]
                break


def _failure_for(name: str, failures: Iterable[DiscoveryFailure]) -> DiscoveryFailure | None:
    for f in failures:
        if f.entry_point == name or f.distribution == distribution_for(name):
            return f
    return None


def not_installed_error(name: str, registry: Registry) -> str:
    failure = _failure_for(name, registry.failures)
    if failure is not None:
        return (
            f"cannot load plugin {name}: package {failure.distribution} failed to load: "
            f"{failure.reason}"
        )
    return (
        f"cannot load plugin {name}: no installed package provides it "
        f"(install it with: pip install {distribution_for(name)})"
    )


def _provides_syscall_support(registry: Registry, name: str) -> bool:
    return any(k.plugin == name for k in registry.engine_kinds.values())


def select_plugins(registry: Registry, settings: Settings) -> list[LoadedPlugin]:
    """The plugins to load, in load order (Falco's ``plugins`` / ``load_plugins`` rules)."""

    def loaded(info: PluginInfo, cfg: PluginConfig | None, implicit: bool = False) -> LoadedPlugin:
        dist = registry.distributions.get(info.name) or _dist_of(registry, info.name)
        suggested = [op.value for s in registry.sources_of(info.name) for op in s.open_params]
        return LoadedPlugin(info=info, distribution=dist, config=cfg, implicit=implicit,
                            default_open_params=suggested[0] if suggested else "")

    if settings.plugins is None and settings.load_plugins is None:
        return [loaded(info, None) for info in registry.plugins.values()]

    configs = settings.plugins or []
    by_name: dict[str, PluginConfig] = {}
    for c in configs:
        by_name.setdefault(c.name, c)
    if settings.load_plugins is None:
        wanted = [c.name for c in configs]
    else:
        wanted = []
        for name in settings.load_plugins:
            if name not in by_name:
                raise PluginError(
                    f"Cannot load plugin '{name}': plugin config not found for given name"
                )
            wanted.append(name)

    out: list[LoadedPlugin] = []
    seen: set[str] = set()
    for name, info in registry.plugins.items():
        if _provides_syscall_support(registry, name) and name not in wanted:
            out.append(loaded(info, by_name.get(name), implicit=True))
            seen.add(name)
    for name in wanted:
        if name in seen:
            raise PluginError(f"found another plugin with name {name}. Aborting.")
        info = registry.plugins.get(name)
        if info is None:
            raise PluginError(not_installed_error(name, registry))
        out.append(loaded(info, by_name[name]))
        seen.add(name)
    return out


def _dist_of(registry: Registry, plugin: str) -> str:
    # registry.distributions is keyed by entry-point name; fall back to the naming rule
    return registry.distributions.get(plugin, distribution_for(plugin))


def restrict(registry: Registry, plugins: Iterable[LoadedPlugin]) -> Registry:
    """The registry limited to the loaded plugins (what rules and sources may use)."""
    names = {p.name for p in plugins}
    return replace(
        registry,
        plugins={n: i for n, i in registry.plugins.items() if n in names},
        sources=[s for s in registry.sources if s.plugin in names],
        field_tables=[t for t in registry.field_tables if t.plugin in names],
        parsers=[p for p in registry.parsers if p.plugin in names],
        engine_kinds={k: s for k, s in registry.engine_kinds.items() if s.plugin in names},
        rules_files=[r for r in registry.rules_files if r.plugin in names],
    )


def loaded_sources(registry: Registry, plugins: Iterable[LoadedPlugin]) -> list[str]:
    """``syscall`` + each plugin source in load order, duplicates removed."""
    out = [SYSCALL_SOURCE]
    for p in plugins:
        for spec in registry.sources_of(p.name):
            if spec.event_source not in out:
                out.append(spec.event_source)
    return out


def source_producers(
    registry: Registry, plugins: Iterable[LoadedPlugin]
) -> dict[str, list[SourceSpec]]:
    """Every loaded plugin that can open each source, in load order (the first one wins)."""
    out: dict[str, list[SourceSpec]] = {}
    for p in plugins:
        for spec in registry.sources_of(p.name):
            out.setdefault(spec.event_source, []).append(spec)
    return out


def has_syscall_fields(registry: Registry) -> bool:
    """Whether a loaded plugin provides fields for the ``syscall`` source specifically (a
    syscall field provider), beyond fields valid for every source."""
    return any(SYSCALL_SOURCE in t.sources for t in registry.field_tables)


def check_unused(registry: Registry, plugins: Iterable[LoadedPlugin], sources: list[str]) -> None:
    """Falco: an extractor/parser compatible with no loaded source is an error."""
    for p in plugins:
        if registry.sources_of(p.name) or any(
            k.plugin == p.name for k in registry.engine_kinds.values()
        ):
            continue
        scopes = [t.sources for t in registry.field_tables if t.plugin == p.name] + [
            s.sources for s in registry.parsers if s.plugin == p.name
        ]
        if not scopes:
            continue  # rules-only or identity-only plugins
        if any(not scope or any(src in sources for src in scope) for scope in scopes):
            continue
        raise PluginError(
            f"Plugin '{p.name}' is loaded but unused as not compatible with any known event source"
        )


# -- init_config ----------------------------------------------------------------------------


def parse_init_config(plugin: LoadedPlugin) -> Any:
    """The init_config as a JSON value: a YAML map as is, a string parsed as JSON, absent = {}."""
    raw = plugin.config.init_config if plugin.config else None
    if raw is None or raw == "":
        return {}
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except ValueError:
            raise PluginError(
                f"error in plugin {plugin.name}: init config is not a valid json"
            ) from None
    return raw


def validate_init_config(plugin: LoadedPlugin) -> dict[str, Any]:
    """Validate against the plugin's schema (Falco's texts); returns the config dict."""
    config = parse_init_config(plugin)
    schema = plugin.info.init_schema
    if schema:
        import jsonschema
        from jsonschema import exceptions as js_exc

        cls = jsonschema.validators.validator_for(schema)
        error = js_exc.best_match(cls(schema).iter_errors(config))
        if error is not None:
            ctx = "<root>" + "".join(f"[{p}]" for p in error.absolute_path)
            raise PluginError(
                f"error in plugin {plugin.name} init config: In {ctx}, {error.message}"
            )
    if not isinstance(config, dict):
        raise PluginError(f"error in plugin {plugin.name}: init config is not a JSON object")
    return config


def init_plugins(plugins: Iterable[LoadedPlugin]) -> None:
    """Validate each init_config and call the plugin's ``init`` once (load order)."""
    for p in plugins:
        config = validate_init_config(p)
        p.init_config = config
        if p.info.init is not None:
            try:
                p.info.init(dict(config))
            except Exception as exc:
                raise PluginError(f"could not initialize plugin: {_reason(exc)}") from None
        p.initialized = True
        log.info(
            "Loaded plugin '%s@%s' from package %s", p.name, p.info.version, p.distribution
        )


def destroy_plugins(plugins: Iterable[LoadedPlugin]) -> list[str]:
    """Call ``destroy`` of each initialised plugin (reverse order); returns error texts."""
    errors: list[str] = []
    for p in reversed(list(plugins)):
        if p.initialized and p.info.destroy is not None:
            try:
                p.info.destroy()
            except Exception as exc:
                errors.append(f"plugin {p.name}: destroy failed: {_reason(exc)}")
        p.initialized = False
    return errors


def _reason(exc: BaseException) -> str:
    text = str(exc)
    return text if text else type(exc).__name__


def describe_plugin(info: PluginInfo, registry: Registry) -> str:
    """Falco's ``format_plugin_info`` block."""
    lines = [
        f"Name: {info.name}",
        f"Description: {info.description}",
        f"Contact: {info.contact}",
        f"Version: {info.version}",
        "Capabilities: ",
    ]
    for spec in registry.sources_of(info.name):
        if spec.event_source == SYSCALL_SOURCE:
            lines.append("  - Event Sourcing (system events)")
        else:
            lines.append(f"  - Event Sourcing (ID={info.id}, source='{spec.event_source}')")
    if any(t.plugin == info.name for t in registry.field_tables):
        lines.append("  - Field Extraction")
    if any(p.plugin == info.name for p in registry.parsers):
        lines.append("  - Event Parsing")
    kinds = [k.name for k in registry.engine_kinds.values() if k.plugin == info.name]
    if kinds:
        lines.append(f"  - Engine kinds: {', '.join(kinds)}")
    return "\n".join(lines) + "\n"


def plugin_versions(plugins: Iterable[LoadedPlugin]) -> Mapping[str, str]:
    """name -> the version compared with rules files' ``required_plugin_versions``."""
    return {p.name: p.info.required_version for p in plugins}
