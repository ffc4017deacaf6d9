"""The application as Falco's ordered list of actions (falco-core.md §1).

Each action takes the :class:`~pyfalco.app.state.State`, does one thing and returns a
:class:`~pyfalco.app.result.RunResult`: ``ok`` (go on), ``exit`` (an info command printed its
answer) or ``fatal(err)``. The runner stops at the first action that does not proceed, then runs
the teardown actions. Actions raise :class:`~pyfalco.errors.ConfigError` for fatal config values
(reported as ``Error: ...``) and :class:`~pyfalco.errors.PluginError` where Falco throws
(reported as ``Runtime error: ... Exiting.``).
"""

from __future__ import annotations

import dataclasses
import gc
import hashlib
import json
import logging
import os
import platform
import resource
import signal
import sys
import textwrap
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml

import pyfalco

from ..api import PLUGIN_API_VERSION, SYSCALL_SOURCE, OpenContext
from ..config import (
    DEFAULT_CONFIG_PATH,
    config_schema,
    interpret,
    packaged_config_path,
    resolve_rules_files,
)
from ..config import (
    load_config as _load_config_files,
)
from ..errors import ConfigError, PluginError
from ..priority import Priority
from . import logger, plugin_loading
from .events import IdleInstance, SourceLoop, SourceStats, run_loops
from .options import USAGE
from .result import RunResult
from .state import State

log = logging.getLogger("pyfalco")

Action = Callable[[State], RunResult]


#: Allocations between two young-generation collections while events flow (CPython's default
#: is 700). Every event allocates dozens of containers that live until its batch is done, so
#: at 700 the collector keeps scanning live batches; bench_k8saudit measures the difference.
#: Event objects rarely form cycles (refcounting frees them), so memory is not held longer.
GC_GEN0_THRESHOLD = 20_000


def tune_gc_for_events() -> None:
    """Once start-up is over: young-generation collections far less often."""
    _gen0, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(max(_gen0, GC_GEN0_THRESHOLD), gen1, gen2)


def _out(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


# -- info commands before the config ------------------------------------------------------------


def print_help(s: State) -> RunResult:
    if s.options.help:
        _out(USAGE)
        return RunResult.exit()
    return RunResult.ok()


def print_config_schema(s: State) -> RunResult:
    if s.options.print_config_schema:
        kinds = {}
        try:
            reg = _installed(s)
            kinds = {k.name: k.config_schema for k in reg.engine_kinds.values()}
        except PluginError:
            pass
        _out(json.dumps(config_schema(kinds), indent=2) + "\n")
        return RunResult.exit()
    return RunResult.ok()


def print_rule_schema(s: State) -> RunResult:
    if s.options.print_rule_schema:
        from ..rules import rule_schema  # one schema: the rules package's, also used by -V

        _out(json.dumps(rule_schema(), indent=2) + "\n")
        return RunResult.exit()
    return RunResult.ok()


# -- configuration ------------------------------------------------------------------------------


def load_config(s: State) -> RunResult:
    opts = s.options
    if opts.conf_filename:
        main = Path(opts.conf_filename)
        if not main.is_file() or not os.access(main, os.R_OK):
            return RunResult.fatal(f"Could not find configuration file at {main}")
    elif DEFAULT_CONFIG_PATH.is_file() and os.access(DEFAULT_CONFIG_PATH, os.R_OK):
        main = DEFAULT_CONFIG_PATH
    else:
        main = packaged_config_path()
    try:
        kinds = {k.name: k.config_schema for k in _installed(s).engine_kinds.values()}
    except PluginError:
        kinds = {}
    cfg = _load_config_files(main, opts.cmdline_config_options, schema=config_schema(kinds))
    if opts.unbuffered_outputs:
        cfg.tree["buffered_outputs"] = False
    settings = interpret(cfg)
    s.config, s.settings = cfg, settings
    if not s.restart_check:
        logger.configure(
            level=settings.log_level,
            stderr=settings.log_stderr,
            use_syslog=settings.log_syslog,
            iso8601=settings.time_format_iso_8601,
        )
    log.info("Falco version: %s (%s)", pyfalco.__version__, platform.machine())
    if os.environ.get("FALCO_HOSTNAME"):
        log.info("Hostname value has been overridden via environment variable to: %s", s.hostname)
    log.info("Falco initialized with configuration files:")
    for f in cfg.files:
        level = logging.INFO if f.status == "ok" else logging.WARNING
        log.log(level, "   %s | schema validation: %s", f.path, f.status)
    for w in settings.warnings:
        log.warning("%s", w)
    return RunResult.ok()


def versions(s: State, with_plugins: bool = True) -> dict[str, Any]:
    """Falco's versions object (``--version`` with json_output, webserver ``/versions``)."""
    engine = _engine_version()
    out: dict[str, Any] = {
        "default_driver_version": "",
        "driver_api_version": "",
        "driver_schema_version": "",
        "engine_version": str(engine.split(".")[1]) if engine.count(".") >= 1 else engine,
        "engine_version_semver": engine,
        "falco_version": pyfalco.__version__,
        "libs_version": pyfalco.__version__,
        "plugin_api_version": PLUGIN_API_VERSION,
    }
    if with_plugins and s.plugins:
        out["plugin_versions"] = {p.name: p.info.version for p in s.plugins}
    return out


def print_version(s: State) -> RunResult:
    if not s.options.print_version_info:
        return RunResult.ok()
    v = versions(s, with_plugins=False)
    if s.settings is not None and s.settings.json_output:
        _out(_json_dump(v) + "\n")  # nlohmann dump(): compact
    else:
        _out(
            f"Falco version: {v['falco_version']}\n"
            f"Libs version:  {v['libs_version']}\n"
            f"Plugin API:    {v['plugin_api_version']}\n"
            f"Engine:        {v['engine_version_semver']}\n"
            "Driver:\n"
            "  API version:    none (drivers are plugins)\n"
            "  Schema version: none (drivers are plugins)\n"
            "  Default driver: none (drivers are plugins)\n"
        )
    return RunResult.exit()


def print_page_size(s: State) -> RunResult:
    if s.options.print_page_size:
        log.info("Your system page size is: %d bytes", resource.getpagesize())
        return RunResult.exit()
    return RunResult.ok()


def print_ignored_events(s: State) -> RunResult:
    """``-i``: the syscalls Falco ignores by default (event_list.py)."""
    if not s.options.print_ignored_events:
        return RunResult.ok()
    from . import event_list

    try:
        _out(event_list.render_ignored(event_list.ignored_syscalls()))
    except PluginError as exc:
        return RunResult.fatal(str(exc))
    return RunResult.exit()


def print_syscall_events(s: State) -> RunResult:
    """``--list-events``: the event table, in ``--format`` (event_list.py)."""
    if not s.options.list_syscall_events:
        return RunResult.ok()
    from . import event_list

    try:
        _out(event_list.render_events(event_list.event_entries(), s.options.output_format))
    except PluginError as exc:
        return RunResult.fatal(str(exc))
    return RunResult.exit()


def print_generated_config(s: State) -> RunResult:
    """``--gvisor-generate-config[=SOCKET]``: the engine kind prints its config and we exit."""
    if s.options.generate_config is None:
        return RunResult.ok()
    kind_name, arg = s.options.generate_config
    spec = _installed(s).engine_kind(kind_name)
    if spec is None or spec.generate_config is None:
        return RunResult.fatal(_unknown_kind_text(s, kind_name, generate=True))
    _out(spec.generate_config(arg).rstrip("\n") + "\n")
    return RunResult.exit()


# -- plugins ------------------------------------------------------------------------------------


def _installed(s: State):
    if s.installed is None:
        s.installed = plugin_loading.discover()
    return s.installed


def _selected(s: State) -> list[plugin_loading.LoadedPlugin]:
    assert s.settings is not None
    return plugin_loading.select_plugins(_installed(s), s.settings)


def print_plugin_info(s: State) -> RunResult:
    wanted = s.options.print_plugin_info
    if not wanted:
        return RunResult.ok()
    reg = _installed(s)
    for p in _selected(s):
        lib = p.config.library_path if p.config else None
        if wanted not in (p.name, lib):
            continue
        text = plugin_loading.describe_plugin(p.info, reg) + "\n"
        schema = p.info.init_schema
        if schema:
            text += f"Init config schema type: JSON\n{json.dumps(schema)}\n\n"
        else:
            text += (
                "Init config schema type: Not available, plugin does not implement the init "
                "config schema functionality\n\n\n"
            )
        _out(text)
        plugin_loading.init_plugins([p])
        try:
            specs = reg.sources_of(p.name)
            if specs:
                params = [op for spec in specs for op in spec.open_params]
                if not params:
                    text = (
                        "No suggested open params available: plugin has not been configured, or "
                        "it does not implement the open params suggestion functionality\n"
                    )
                else:
                    text = "Suggested open params:\n" + "".join(
                        f"{op.value}: {op.desc}\n" if op.desc else f"{op.value}\n" for op in params
                    )
                _out(text + "\n")
        finally:
            plugin_loading.destroy_plugins([p])
        return RunResult.exit()
    return RunResult.fatal(f"can't find plugin and print its info: {wanted}")


def list_plugins(s: State) -> RunResult:
    if not s.options.list_plugins:
        return RunResult.ok()
    reg = _installed(s)
    plugins = _selected(s)
    blocks = "".join(plugin_loading.describe_plugin(p.info, reg) + "\n" for p in plugins)
    _out(f"{len(plugins)} Plugins Loaded:\n\n{blocks}\n")
    for f in reg.failures:
        log.warning(
            "Installed package %s could not be loaded (entry point %r): %s",
            f.distribution, f.entry_point, f.reason,
        )
    return RunResult.exit()


def load_plugins(s: State) -> RunResult:
    """Select the configured plugins, restrict the registry to them, compute loaded sources and
    check the engine kind."""
    assert s.settings is not None
    installed = _installed(s)
    s.plugins = _selected(s)
    s.registry = plugin_loading.restrict(installed, s.plugins)
    s.loaded_sources = plugin_loading.loaded_sources(s.registry, s.plugins)
    plugin_loading.check_unused(s.registry, s.plugins, s.loaded_sources)
    # engine.kind: nodriver is the core's, the others come from plugins
    kind = s.settings.engine_kind
    if kind != plugin_loading.NODRIVER and s.registry.engine_kind(kind) is None:
        raise ConfigError(_unknown_kind_text(s, kind))
    s.engine_kind = kind
    if kind != plugin_loading.NODRIVER:
        spec = s.registry.engine_kind(kind)
        assert spec is not None
        _validate_engine_config(s, spec)
    # Falco's built-in syscall fields exist only through a plugin here: without one, the
    # syscall source stays loaded (source selection works as in Falco) but its rules are
    # skipped with the engine's "Unknown source" warning.
    if plugin_loading.has_syscall_fields(s.registry):
        s.engine_sources = list(s.loaded_sources)
    else:
        s.engine_sources = [src for src in s.loaded_sources if src != SYSCALL_SOURCE]
        log.debug(
            "No syscall field provider installed (pip install pyfalco-plugin-syscall): rules of "
            "source 'syscall' are skipped"
        )
    return RunResult.ok()


def _unknown_kind_text(s: State, kind: str, generate: bool = False) -> str:
    name = s.config.name if s.config is not None else "default"
    what = (
        f"--{kind}-generate-config is not available"
        if generate
        else f"Error reading config file ({name}): engine.kind '{kind}' is not a valid kind."
    )
    package = plugin_loading.KNOWN_ENGINE_PACKAGES.get(kind)
    if package is None:
        available = sorted({plugin_loading.NODRIVER, *_installed(s).engine_kinds})
        return f"{what} Available kinds: {', '.join(available)}"
    failure = next((f for f in _installed(s).failures if f.distribution == package), None)
    if failure is not None:
        return f"{what} It is provided by {package}, which failed to load: {failure.reason}"
    return f"{what} It is provided by the {package} package: pip install {package}"


def _validate_engine_config(s: State, spec) -> None:
    if not spec.config_schema or s.settings is None:
        return
    import jsonschema
    from jsonschema import exceptions as js_exc

    cls = jsonschema.validators.validator_for(spec.config_schema)
    err = js_exc.best_match(cls(spec.config_schema).iter_errors(s.settings.engine_config))
    if err is not None:
        path = ".".join(str(p) for p in ("engine", spec.name, *err.absolute_path))
        where = s.config.where(path) if s.config is not None else "default"
        raise ConfigError(f"Error reading config file ({where}): {path}: {err.message}")


def init_plugins(s: State) -> RunResult:
    """Validate every init_config against its schema, then ``init`` (Falco's init_inspectors).
    The dry-run check of a hot restart validates only: the running plugins stay as they are."""
    if s.restart_check:
        for p in s.plugins:
            plugin_loading.validate_init_config(p)
        return RunResult.ok()
    plugin_loading.init_plugins(s.plugins)
    return RunResult.ok()


# -- rules engine -------------------------------------------------------------------------------


def _rules_api(name: str, optional: bool = False) -> Any:
    try:
        import pyfalco.rules as rules
    except ImportError as exc:
        if optional:
            return None
        raise PluginError(f"the rules engine (pyfalco.rules) is not available: {exc}") from None
    value = getattr(rules, name, None)
    if value is None and not optional:
        raise PluginError(f"the rules engine (pyfalco.rules) has no {name}")
    return value


def _engine_version() -> str:
    v = _rules_api("ENGINE_VERSION", optional=True)
    return str(v) if v else "0.0.0"


def init_falco_engine(s: State) -> RunResult:
    assert s.settings is not None and s.registry is not None
    catalog_cls = _rules_api("FieldCatalog")
    engine_cls = _rules_api("RulesEngine")
    s.catalog = catalog_cls.from_registry(s.registry)
    s.engine = engine_cls(
        s.catalog,
        loaded_sources=list(s.engine_sources),
        plugin_versions=dict(plugin_loading.plugin_versions(s.plugins)),
    )
    s.engine.min_priority = s.settings.min_priority
    set_plugins = getattr(s.engine, "set_plugins", None)
    if callable(set_plugins):
        # the plugins Falco's plugin manager would hold: the built-in syscall support is not one
        set_plugins({
            p.name: [spec.event_source for spec in s.registry.sources_of(p.name)]
            for p in s.plugins
            if not any(k.plugin == p.name for k in s.registry.engine_kinds.values())
        })
    append = list(s.settings.append_output)
    extra = s.options.print_additional
    if extra is not None:
        log.warning(
            "The -p/--print option is deprecated and will be removed. Use -o append_output=... "
            "instead."
        )
        if extra not in ("c", "container", "k", "kubernetes"):
            append.append({"extra_output": extra})
    s.engine.set_append_output(append)
    return RunResult.ok()


def list_fields(s: State) -> RunResult:
    if not s.options.list_fields:
        return RunResult.ok()
    src = s.options.list_source_fields
    if src and src not in s.loaded_sources:
        return RunResult.fatal("Value for --list must be a valid source type")
    _out(_format_fields(s, src))
    return RunResult.exit()


def _format_fields(s: State, only_source: str) -> str:
    assert s.registry is not None
    fmt = s.options.output_format
    sources = [only_source] if only_source else list(s.loaded_sources)
    classes: list[tuple[str, list[str], list[Any]]] = []
    base = _rules_api("BASE_FIELDS", optional=True)
    if base:
        classes.append(("evt", sources, list(base)))
    for table in s.registry.field_tables:
        own = [sp.event_source for sp in s.registry.sources_of(table.plugin)]
        applies = list(table.sources) + own if table.sources else list(s.loaded_sources)
        applies = [x for x in dict.fromkeys(applies) if x in sources]
        if applies:
            classes.append((table.plugin, applies, list(table.fields)))
    if fmt == "json":
        return json.dumps(
            [
                {
                    "name": name,
                    "event_sources": srcs,
                    "fields": [
                        {"name": f.name, "type": f.type.value, "desc": f.desc,
                         "is_list": f.is_list}
                        for f in fields if "hidden" not in f.properties
                    ],
                }
                for name, srcs, fields in classes
            ],
            indent=2,
        ) + "\n"
    out: list[str] = []
    for name, srcs, fields in classes:
        visible = [f for f in fields if "hidden" not in f.properties]
        if s.options.names_only:
            out.extend(f"{f.name}\n" for f in visible)
            continue
        if fmt == "markdown":
            out.append(f"## Field Class: {name}\n\nEvent Sources: {', '.join(srcs)}\n\n")
            out.append("Name | Type | Description\n:----|:-----|:-----------\n")
            out.extend(f"`{f.name}` | {f.type.value} | {f.desc}\n" for f in visible)
            out.append("\n")
            continue
        out.append(f"-------------------------------\nField Class:                  {name}\n")
        out.append(f"Event Sources:                {', '.join(srcs)}\n\n")
        for f in visible:
            desc = f.desc
            if s.options.verbose:
                desc += f" (type={f.type.value}{', list' if f.is_list else ''})"
            wrapped = textwrap.wrap(desc, 70) or [""]
            out.append(f"{f.name:<30}{wrapped[0]}\n")
            out.extend(f"{'':<30}{line}\n" for line in wrapped[1:])
        out.append("\n")
    return "".join(out)


def select_event_sources(s: State) -> RunResult:
    """``--enable-source`` / ``--disable-source`` exactly as Falco (falco-core.md §2.2)."""
    loaded = s.loaded_sources
    if s.is_replay:
        s.enabled_sources = list(loaded)
        return RunResult.ok()
    enable, disable = s.options.enable_sources, s.options.disable_sources
    if enable and disable:
        return RunResult.fatal("You can not mix --enable-source and --disable-source")
    enabled = list(loaded)
    if enable:
        enabled = []
        for src in enable:
            if src not in loaded:
                return RunResult.fatal(f"Attempted enabling an unknown event source: {src}")
            if src not in enabled:
                enabled.append(src)
    for src in disable:
        if src not in loaded:
            return RunResult.fatal(f"Attempted disabling an unknown event source: {src}")
        if src in enabled:
            enabled.remove(src)
    if not enabled:
        return RunResult.fatal("Must enable at least one event source")
    s.enabled_sources = [src for src in loaded if src in enabled]
    return RunResult.ok()


def _read_rules(paths: Sequence[Path]) -> list[Any]:
    content_cls = _rules_api("RulesContent")
    out = []
    for p in paths:
        try:
            text = p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            raise ConfigError(f"Could not open file {p} for reading") from None
        out.append(content_cls(name=str(p), text=text))
    return out


def validate_rules_files(s: State) -> RunResult:
    files = s.options.validate_rules_filenames
    if not files:
        return RunResult.ok()
    assert s.settings is not None
    paths = []
    for f in files:
        p = Path(f)
        if not p.is_file():
            return RunResult.fatal(f"Could not open file {f} for reading")
        paths.append(p)
    result = s.engine.load(_read_rules(paths))
    req_err = _plugin_requirements_error(s)
    if req_err:
        return RunResult.fatal(req_err)
    # Falco: with -L/-l, a successful validation also describes the rules (falco-core.md §9.2)
    described = None
    if result.ok and (s.options.describe_all_rules or s.options.describe_rule):
        described = s.engine.describe(s.options.describe_rule)
    if s.settings.json_output:
        doc = result.as_json()
        if described is not None:
            doc["falco_describe_results"] = described
        _out(_json_dump(doc) + "\n")
    else:
        if result.ok and result.warnings:
            _out(result.as_text(verbose=False).rstrip("\n") + "\n")
            log.warning("%s", result.as_text(verbose=True))
        else:
            _out(result.as_text(verbose=True).rstrip("\n") + "\n")
        if described is not None:
            _out("\n" + _rules_table(described))
    if not result.ok:
        return RunResult.fatal(result.as_text(verbose=False).rstrip("\n"))
    return RunResult.exit()


def load_rules_files(s: State) -> RunResult:
    assert s.settings is not None and s.registry is not None
    if s.options.rules_filenames:
        configured = list(s.options.rules_filenames)
        shipped: list[Path] = []
    else:
        configured = list(s.settings.rules_files)
        # plugins' default rules files come first, as Falco's packages install them into
        # /etc/falco before the user's files (core README)
        shipped = [r.path for r in s.registry.rules_files]
    # once each (a plugin family registers one file several times), names as given
    unique: dict[Path, Path] = {}
    for p in shipped + resolve_rules_files(configured):
        unique.setdefault(p.resolve(), p)
    paths = list(unique.values())
    if not paths:
        return RunResult.fatal(
            "You must specify at least one rules file/directory via -r or a rules_file entry in "
            "falco.yaml"
        )
    s.rules_files = paths
    contents = _read_rules(paths)
    s.rules_sha256 = {
        c.name: hashlib.sha256(c.text.encode("utf-8")).hexdigest() for c in contents
    }
    result = s.engine.load(contents)
    # As Falco, file by file: the file with its rules-schema validation (a failure is only a
    # warning), then its load result's warnings; the first file that fails to load ends it,
    # and its result alone is the error.
    log.info("Loading rules from:")
    failed = None
    for p, fr in zip(paths, result.files, strict=True):
        if fr.schema_warnings:
            log.warning("   %s | schema validation: %s", p, fr.schema_warnings[0])
        else:
            log.info("   %s | schema validation: ok", p)
        if fr.errors:
            failed = fr
            break
        if fr.warnings:
            log.warning("%s", fr.as_text(verbose=True).rstrip("\n"))
    # Falco: an unsatisfied plugin requirement takes precedence over rule errors (which it
    # often causes: unknown fields of a plugin that is not loaded)
    req_err = _plugin_requirements_error(s)
    if req_err:
        return RunResult.fatal(req_err)
    if failed is not None:
        return RunResult.fatal(failed.as_text(verbose=True).rstrip("\n"))
    for sel in s.settings.rules_selection:
        verb = "Enabling" if sel.enabled else "Disabling"
        if sel.rule:
            log.info("%s rules with name: %s", verb, sel.rule)
            s.engine.select(sel.enabled, rule=sel.rule)
        if sel.tag:
            log.info("%s rules with tag: %s", verb, sel.tag)
            s.engine.select(sel.enabled, tag=sel.tag)
    if s.options.describe_all_rules or s.options.describe_rule:
        _out(_describe_rules(s, s.options.describe_rule))
        return RunResult.exit()
    return RunResult.ok()


def _plugin_requirements_error(s: State) -> str | None:
    check = getattr(s.engine, "check_plugin_requirements", None)
    return check() if callable(check) else None


def _describe_rules(s: State, only: str | None) -> str:
    """``-L``/``-l``: the engine's description (Falco's ``describe_rule``; an unknown rule is a
    runtime error in both modes), as JSON or as the two-column table."""
    assert s.settings is not None
    described = s.engine.describe(only)
    if s.settings.json_output:
        return _json_dump(described) + "\n"
    return _rules_table(described)


def _json_dump(obj: Any) -> str:
    """nlohmann's ``dump()`` as Falco prints -L/-V JSON: compact, UTF-8 unescaped."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def _rules_table(described: dict[str, Any]) -> str:
    lines = [f"{'Rule':<50} Description", f"{'----':<50} -----------"]
    for r in described["rules"]:
        info = r["info"]
        lines.append(f"{info['name']:<50} {_wrap_text(info['description'], 51, 110)}\n")
    return "\n".join(lines) + "\n"


def _wrap_text(text: str, indent: int, width: int) -> str:
    """Falco's ``wrap_text``: continuation lines are indented to the description column."""
    words = " ".join(text.split())
    lines = textwrap.wrap(words, width - indent) or [""]
    return ("\n" + " " * indent).join(lines)


def print_support(s: State) -> RunResult:
    if not s.options.print_support:
        return RunResult.ok()
    assert s.config is not None
    u = os.uname()
    support = {
        "version": pyfalco.__version__,
        "engine_info": {
            "engine_version": _engine_version(),
            "plugin_api_version": PLUGIN_API_VERSION,
        },
        "system_info": {
            "sysname": u.sysname, "nodename": u.nodename, "release": u.release,
            "version": u.version, "machine": u.machine,
        },
        "cmdline": " ".join(["pyfalco", *s.options.argv]),
        "config": yaml.safe_dump(s.config.tree, default_flow_style=True, width=1 << 30).strip(),
        "rules_files": [
            {"name": str(p), "variants": [{"content": p.read_text(encoding="utf-8")}]}
            for p in s.rules_files
        ],
    }
    _out(json.dumps(support, indent=2) + "\n")
    return RunResult.exit()


# -- outputs, signals, pidfile, webserver --------------------------------------------------------


def _outputs_api(name: str) -> Any:
    try:
        import pyfalco.outputs as outputs
    except ImportError as exc:
        raise PluginError(f"pyfalco.outputs is not available: {exc}") from None
    value = getattr(outputs, name, None)
    if value is None:
        raise PluginError(f"pyfalco.outputs has no {name}")
    return value


def init_outputs(s: State) -> RunResult:
    manager_cls = _outputs_api("OutputsManager")
    # raises ConfigError "No output configured, ..." (checked in --dry-run too, as Falco)
    manager = manager_cls(s.config, hostname=s.hostname)
    if s.is_dry_run:
        return RunResult.ok()
    s.outputs = manager
    s.alert_stats = _outputs_api("AlertStats")([r.name for r in s.engine.rules()])
    manager.start()
    return RunResult.ok()


_SIGNAMES = {signal.SIGINT: "SIGINT", signal.SIGTERM: "SIGTERM"}


def create_signal_handlers(s: State) -> RunResult:
    if s.is_dry_run:
        return RunResult.ok()
    from .watcher import RestartWatcher

    assert s.settings is not None and s.config is not None
    # As Falco: the config files, the rules files loaded, and the rules directories configured
    # (not the directories holding rules files: an output file or a tailed log beside them
    # would restart the app on every write). A file replaced by rename is seen by its inode.
    watched = [f.path for f in s.config.files] + list(s.rules_files)
    # configured rules directories, even empty ones (a file added there is a change)
    configured = s.options.rules_filenames or s.settings.rules_files
    watched += [Path(p) for p in configured if Path(p).is_dir()]
    s.watcher = RestartWatcher(
        s.control,
        check=lambda: restart_check(s),
        on_failure=lambda err: _restart_failure(s, err),
        paths=watched,
        watch_files=s.settings.watch_config_files,
    )

    def on_terminate(signum: int, frame: Any) -> None:
        s.control.request_terminate(_SIGNAMES.get(signum, "SIGTERM"))

    def on_usr1(signum: int, frame: Any) -> None:
        s.control.request_reopen()

    def on_hup(signum: int, frame: Any) -> None:
        s.watcher.sighup()

    handlers = {signal.SIGINT: on_terminate, signal.SIGTERM: on_terminate,
                signal.SIGUSR1: on_usr1, signal.SIGHUP: on_hup}
    for sig, fn in handlers.items():
        try:
            s.previous_signal_handlers[sig] = signal.signal(sig, fn)
        except ValueError:
            break  # not the main thread (embedded use): signals stay the host's business
        except OSError as exc:
            return RunResult.fatal(
                f"Could not create signal handler for {signal.strsignal(sig)}: {exc.strerror}"
            )
    s.watcher.start()
    return RunResult.ok()


def restart_check(s: State) -> RunResult:
    """The dry-run of a hot restart: the whole start-up with the same arguments."""
    from .runner import run_actions

    check = State(options=s.options, restart_check=True)
    return run_actions(check)


def _restart_failure(s: State, err: str) -> None:
    msg = f"Falco internal: hot restart failure: {err}"
    log.error("%s", msg)
    if s.outputs is not None:
        handle = s.outputs.handle_internal
        try:
            handle(msg, Priority.CRITICAL, {}, rule="Falco internal: hot restart failure")
        except TypeError:
            handle(msg, Priority.CRITICAL, {})


def write_pidfile(s: State) -> RunResult:
    name = s.options.pidfilename
    if not name or s.is_dry_run:
        return RunResult.ok()
    try:
        Path(name).write_text(f"{os.getpid()}\n")
    except OSError:
        log.error("Could not write pid to pidfile %s. Exiting.", name)
        sys.stderr.flush()
        os._exit(255)  # Falco: exit(-1)
    s.pidfile_written = Path(name)
    return RunResult.ok()


def init_metrics(s: State) -> RunResult:
    """falco.yaml ``metrics``: Falco's checks of the interval and outputs (also in --dry-run),
    then the periodic snapshot writer (``output_rule`` / ``output_file``)."""
    assert s.config is not None
    from pyfalco.metrics import MetricsConfig, MetricsWriter

    s.metrics_config = MetricsConfig.from_config(s.config.tree)  # ConfigError: Falco's texts
    if s.is_dry_run or not s.metrics_config.enabled:
        return RunResult.ok()
    s.metrics_writer = MetricsWriter(s.metrics_config, lambda: _metrics(s), s.outputs).start()
    return RunResult.ok()


def start_webserver(s: State) -> RunResult:
    assert s.config is not None
    section = s.config.get("webserver") or {}
    from ..config import as_bool

    if s.is_dry_run or s.is_replay or not isinstance(section, dict):
        return RunResult.ok()
    if not as_bool(section.get("enabled"), False):
        return RunResult.ok()
    from pyfalco.webserver import Webserver

    mc = s.metrics_config
    s.webserver = Webserver(
        section,
        versions=lambda: versions(s),
        metrics=lambda: _metrics(s),
        metrics_enabled=bool(mc and mc.enabled),
        rules_counters=bool(mc.rules_counters) if mc else True,
    )
    s.webserver.start()
    return RunResult.ok()


def _metrics(s: State) -> Any:
    """The snapshot the metrics collector reads (per-source events and instance counters,
    per-rule matches, outputs drops)."""
    from .metrics_snapshot import build

    return build(s)


# -- events -------------------------------------------------------------------------------------


def _print_enabled_sources(s: State, producers: dict[str, list[Any]]) -> None:
    log.info("Loaded event sources: %s", ", ".join(s.loaded_sources))
    log.info("Enabled event sources: %s", ", ".join(s.enabled_sources))
    nodriver = s.engine_kind == plugin_loading.NODRIVER
    for src in s.enabled_sources:
        specs = producers.get(src, [])
        if len(specs) > 1 and (src != SYSCALL_SOURCE or nodriver):
            log.warning(
                "Enabled event source '%s' can be opened with multiple loaded plugins, will use "
                "only '%s'", src, specs[0].plugin,
            )
        if not specs and nodriver and src == SYSCALL_SOURCE:
            log.warning(
                "Enabled event source '%s' will be opened with no driver, no event will be "
                "produced", src,
            )


def _alert_sink(s: State) -> Callable[[Any, list[Any]], None]:
    assert s.settings is not None and s.outputs is not None
    alert_cls = _outputs_api("Alert")
    handle = s.outputs.handle
    stats_add = s.alert_stats.add
    hostname = s.hostname
    with_fields = bool(getattr(s.outputs, "needs_output_fields", s.settings.json_output))
    tags_cache: dict[int, tuple[str, ...]] = {}

    def sink(evt: Any, matches: list[Any]) -> None:
        for m in matches:
            rule = m.rule
            tags = tags_cache.get(id(rule))
            if tags is None:
                tags = tags_cache[id(rule)] = tuple(sorted(rule.tags))
            alert = alert_cls(
                time_ns=evt.ts,
                priority=rule.priority,
                rule=rule.name,
                source=rule.source,
                tags=tags,
                output=m.output(evt),
                output_fields=m.output_fields(evt) if with_fields else {},
                hostname=hostname,
            )
            handle(alert)
            stats_add(alert)

    return sink


def _open_context(s: State, plugin: plugin_loading.LoadedPlugin | None, source: str,
                  engine_config: dict | None = None) -> OpenContext:
    assert s.config is not None
    ev_types = None
    if source in s.engine_sources:
        ev_types = s.engine.evaluator(source, s.settings.rule_matching).event_types
    extra: dict[str, Any] = {}
    if "internal_alert" in _OPEN_CONTEXT_FIELDS and s.outputs is not None:
        # drop alerts and other internal messages of a source (Falco's handle_msg)
        outputs = s.outputs

        def internal_alert(msg: str, priority: Priority, fields: Any, rule: str) -> None:
            outputs.handle_internal(msg, priority, fields, rule=rule)

        extra["internal_alert"] = internal_alert
    return OpenContext(
        init_config=dict(plugin.init_config) if plugin else {},
        open_params=plugin.open_params if plugin else "",
        engine_config=dict(engine_config or {}),
        config=s.config.tree,
        event_types=ev_types,
        stopping=s.control.stopping,
        **extra,
    )


_OPEN_CONTEXT_FIELDS = frozenset(f.name for f in dataclasses.fields(OpenContext))


def process_events(s: State) -> RunResult:
    assert s.settings is not None and s.registry is not None
    producers = plugin_loading.source_producers(s.registry, s.plugins)
    _print_enabled_sources(s, producers)
    if s.is_dry_run:
        return RunResult.ok()
    by_name = {p.name: p for p in s.plugins}
    matching = s.settings.rule_matching
    evaluators = {src: s.engine.evaluator(src, matching) for src in s.engine_sources}
    parsers = {
        src: tuple(p.parse for p in s.registry.parsers if not p.sources or src in p.sources
                   or any(sp.event_source == src for sp in s.registry.sources_of(p.plugin)))
        for src in s.loaded_sources
    }
    sink = _alert_sink(s)
    duration_ns = max(0, s.options.duration) * 1_000_000_000
    loops: list[SourceLoop] = []
    result = RunResult.ok()
    kind_spec = s.registry.engine_kind(s.engine_kind)
    sources = [SYSCALL_SOURCE] if s.is_replay else list(s.enabled_sources)
    try:
        for src in sources:
            if s.control.stopping.is_set():
                break
            log.debug("Opening event source '%s'", src)
            if src == SYSCALL_SOURCE and kind_spec is not None:
                log.info("Opening '%s' source with engine kind '%s'", src, kind_spec.name)
                inst = kind_spec.open(
                    _open_context(s, by_name.get(kind_spec.plugin), src, s.settings.engine_config)
                )
                engine_name = kind_spec.name
            elif producers.get(src):
                spec = producers[src][0]
                if src == SYSCALL_SOURCE:
                    log.info("Opening '%s' source with plugin '%s'", src, spec.plugin)
                inst = spec.open(_open_context(s, by_name.get(spec.plugin), src))
                engine_name = "source_plugin"  # Falco's scap.engine_name for plugins
            else:
                log.info("Opening '%s' source with no driver", src)
                inst = IdleInstance(s.control.stopping)
                engine_name = "nodriver"
            s.instances.append(inst)
            stats = s.source_stats.setdefault(src, SourceStats(src))
            stats.engine, stats.instance = engine_name, inst
            if s.is_replay:
                for other in s.loaded_sources:
                    s.source_stats.setdefault(other, SourceStats(other, engine=engine_name))
            loops.append(
                SourceLoop(
                    source=src, instance=inst, evaluators=evaluators, parsers=parsers, sink=sink,
                    control=s.control, stats=s.source_stats, reopen=s.outputs.reopen,
                    duration_ns=duration_ns, replay=s.is_replay,
                )
            )
    except Exception as exc:
        result = RunResult.fatal(_reason(exc))
        log.info("An error occurred in an event source, forcing termination...")
    if result.success and loops:
        gc.collect()
        gc.freeze()  # start-up objects never need collecting again (performance spec)
        tune_gc_for_events()
        cpu0 = time.process_time()
        result = run_loops(loops, s.control)
        if s.options.verbose:
            elapsed = time.process_time() - cpu0
            for loop in loops:
                n = s.source_stats[loop.source].events
                eps = n / elapsed if elapsed > 0 else 0.0
                prefix = "" if s.is_replay else f"({loop.source}) "
                sys.stderr.write(
                    f"{prefix}Elapsed time: {elapsed:.3f}, Captured Events: {n}, {eps:.2f} eps\n"
                )
    s.restart = s.control.restart_requested and result.success
    return result


def _reason(exc: BaseException) -> str:
    text = str(exc)
    return text if text else type(exc).__name__


# -- teardown -----------------------------------------------------------------------------------


def unregister_signal_handlers(s: State) -> RunResult:
    if s.watcher is not None:
        s.watcher.stop()
        s.watcher = None
    for sig in list(s.previous_signal_handlers):
        try:
            signal.signal(sig, signal.SIG_DFL)
        except (ValueError, OSError):
            pass
    s.previous_signal_handlers.clear()
    return RunResult.ok()


def stop_metrics(s: State) -> RunResult:
    if s.metrics_writer is not None:
        s.metrics_writer.stop()
        s.metrics_writer = None
    return RunResult.ok()


def stop_webserver(s: State) -> RunResult:
    if s.webserver is not None:
        s.webserver.stop()
        s.webserver = None
    return RunResult.ok()


def cleanup_outputs(s: State) -> RunResult:
    if s.outputs is None:
        return RunResult.ok()
    s.outputs.close()
    s.outputs = None
    if s.alert_stats is not None:
        _out(s.alert_stats.render())
    return RunResult.ok()


def close_sources(s: State) -> RunResult:
    errors: list[str] = []
    for inst in reversed(s.instances):
        try:
            inst.close()
        except Exception as exc:
            errors.append(f"closing an event source failed: {_reason(exc)}")
    s.instances.clear()
    if gc.get_freeze_count():
        gc.unfreeze()
    errors += plugin_loading.destroy_plugins(s.plugins)
    for e in errors:
        log.error("%s", e)
    return RunResult.ok()


RUN_STEPS: tuple[Action, ...] = (
    print_help,
    print_config_schema,
    print_rule_schema,
    load_config,
    print_version,
    print_page_size,
    print_ignored_events,
    print_generated_config,
    print_plugin_info,
    list_plugins,
    load_plugins,
    init_plugins,
    init_falco_engine,
    list_fields,
    print_syscall_events,
    select_event_sources,
    validate_rules_files,
    load_rules_files,
    print_support,
    init_outputs,
    create_signal_handlers,
    write_pidfile,
    init_metrics,
    start_webserver,
    process_events,
)

TEARDOWN_STEPS: tuple[Action, ...] = (
    unregister_signal_handlers,
    stop_metrics,
    stop_webserver,
    cleanup_outputs,
    close_sources,
)
