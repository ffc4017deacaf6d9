"""Typed settings the application reads from the effective config, with Falco's fatal
interpretation-time errors (falco-core.md §4.4). Output channel settings belong to
:mod:`pyfalco.outputs`, which reads the same :class:`~pyfalco.config.loader.Config`.

Scalars are read weakly typed as Falco reads them: ``"true"``/``yes``/``on`` are booleans,
``"5"`` is an integer; an unconvertible scalar falls back to the default.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..priority import Priority
from .loader import Config

log = logging.getLogger("pyfalco")

LOG_LEVELS = ("emergency", "alert", "critical", "error", "warning", "notice", "info", "debug")
RULE_MATCHING = ("first", "all")

_TRUE = frozenset({"true", "yes", "on", "y"})
_FALSE = frozenset({"false", "no", "off", "n"})


def as_bool(value: Any, default: bool) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        low = value.strip().lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
    if isinstance(value, int):
        return value != 0
    return default


def as_int(value: Any, default: int) -> int:
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip(), 0)
        except ValueError:
            return default
    return default


def as_str_list(value: Any) -> list[str]:
    """A sequence of scalars, or one scalar, as Falco's ``get_sequence`` reads it."""
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value if v is not None]
    return [str(value)]


@dataclass(frozen=True)
class RuleSelection:
    """One entry of ``rules:``: enable/disable by rule name (wildcards) or tag."""

    enabled: bool
    rule: str | None = None
    tag: str | None = None


@dataclass(frozen=True)
class PluginConfig:
    """One entry of ``plugins:``."""

    name: str
    library_path: str | None = None
    #: A dict (YAML map), a str (verbatim JSON text) or None.
    init_config: Any = None
    open_params: str = ""


@dataclass
class Settings:
    config_name: str
    engine_kind: str
    engine_config: dict[str, Any]
    rules_files: list[str]
    rules_selection: list[RuleSelection]
    min_priority: Priority
    rule_matching: str
    json_output: bool
    watch_config_files: bool
    log_level: str
    log_stderr: bool
    log_syslog: bool
    time_format_iso_8601: bool
    append_output: list[Any]
    #: None when ``plugins:`` is absent.
    plugins: list[PluginConfig] | None
    #: None when ``load_plugins:`` is absent.
    load_plugins: list[str] | None
    warnings: list[str] = field(default_factory=list)


#: ``engine.kind`` when the key is absent. Falco's code default is ``kmod``; pyfalco has no kernel
#: module and starts idle instead (documented in the core README).
DEFAULT_ENGINE_KIND = "nodriver"


def interpret(cfg: Config) -> Settings:
    """Typed settings; ``ConfigError`` with Falco's text for a fatal value."""
    name = cfg.name
    warnings: list[str] = []

    # rules_files (and the deprecated singular form)
    has_plural = cfg.is_defined("rules_files")
    has_singular = cfg.is_defined("rules_file")
    if has_plural and has_singular:
        raise ConfigError(
            f"Error reading config file ({name}): both 'rules_files' and 'rules_file' keys set"
        )
    if has_singular:
        warnings.append(
            "Using deprecated config key 'rules_file' (singular form). Please use new "
            "'rules_files' config key (plural form)."
        )
    rules_files = as_str_list(cfg.get("rules_files" if has_plural else "rules_file"))

    engine = cfg.get("engine")
    engine = engine if isinstance(engine, dict) else {}
    kind = str(engine.get("kind") or DEFAULT_ENGINE_KIND).strip()
    engine_config = engine.get(kind)
    engine_config = dict(engine_config) if isinstance(engine_config, dict) else {}
    if kind == "replay" and not str(engine_config.get("capture_file") or ""):
        raise ConfigError(
            f"Error reading config file ({name}): engine.kind is 'replay' but no "
            "engine.replay.capture_file specified."
        )

    priority_text = str(cfg.get("priority", "debug"))
    try:
        min_priority = Priority.parse(priority_text)
    except ValueError:
        raise ConfigError(
            f'Unknown priority "{priority_text}"--must be one of emergency, alert, critical, '
            "error, warning, notice, informational, debug"
        ) from None

    matching = str(cfg.get("rule_matching", "first"))
    if matching.lower() not in RULE_MATCHING:
        raise ConfigError(f'Unknown rule matching strategy "{matching}"--must be one of first, all')

    log_level = str(cfg.get("log_level", "info"))
    if log_level not in LOG_LEVELS:
        raise ConfigError(f"Unknown log level {log_level}")

    return Settings(
        config_name=name,
        engine_kind=kind,
        engine_config=engine_config,
        rules_files=rules_files,
        rules_selection=_rules_selection(cfg),
        min_priority=min_priority,
        rule_matching=matching.lower(),
        json_output=as_bool(cfg.get("json_output"), False),
        watch_config_files=as_bool(cfg.get("watch_config_files"), True),
        log_level=log_level,
        log_stderr=as_bool(cfg.get("log_stderr"), False),
        log_syslog=as_bool(cfg.get("log_syslog"), True),
        time_format_iso_8601=as_bool(cfg.get("time_format_iso_8601"), False),
        append_output=list(cfg.get("append_output") or []),
        plugins=_plugins(cfg),
        load_plugins=(
            as_str_list(cfg.get("load_plugins")) if cfg.is_defined("load_plugins") else None
        ),
        warnings=warnings,
    )


def _rules_selection(cfg: Config) -> list[RuleSelection]:
    out: list[RuleSelection] = []
    for i, entry in enumerate(cfg.get("rules") or []):
        if not isinstance(entry, dict) or len(entry) != 1:
            raise ConfigError(
                f"Error reading config file ({cfg.name}): rules[{i}] must be a map with one "
                f"key, enable or disable ({cfg.where(('rules', i))})"
            )
        ((verb, what),) = entry.items()
        if verb not in ("enable", "disable") or not isinstance(what, dict) or not (
            what.get("rule") or what.get("tag")
        ):
            raise ConfigError(
                f"Error reading config file ({cfg.name}): rules[{i}]: expected "
                "{enable|disable: {rule: <name>}} or {tag: <tag>}} "
                f"({cfg.where(('rules', i))})"
            )
        rule, tag = what.get("rule"), what.get("tag")
        out.append(
            RuleSelection(
                enabled=verb == "enable",
                rule=str(rule) if rule is not None else None,
                tag=str(tag) if tag is not None else None,
            )
        )
    return out


def _plugins(cfg: Config) -> list[PluginConfig] | None:
    if not cfg.is_defined("plugins"):
        return None
    raw = cfg.get("plugins")
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ConfigError(
            f"Error reading config file({cfg.name}): could not load plugins config: "
            f"'plugins' must be a sequence ({cfg.where('plugins')})"
        )
    out: list[PluginConfig] = []
    for i, entry in enumerate(raw):
        if not isinstance(entry, dict) or not entry.get("name"):
            raise ConfigError(
                f"Error reading config file({cfg.name}): could not load plugins config: "
                f"plugins[{i}] must be a map with a 'name' ({cfg.where(('plugins', i))})"
            )
        library = entry.get("library_path")
        if library:
            log.info(
                "Plugin '%s': library_path '%s' is ignored, pyfalco plugins are Python packages",
                entry["name"],
                library,
            )
        out.append(
            PluginConfig(
                name=str(entry["name"]),
                library_path=str(library) if library else None,
                init_config=entry.get("init_config"),
                open_params=str(entry.get("open_params") or "").strip(),
            )
        )
    return out


def resolve_rules_files(paths: list[str]) -> list[Path]:
    """Falco's expansion of ``rules_files`` / ``-r``: non-existent entries dropped, directories
    expanded (sorted, regular files, symlinks followed), only ``*.yaml`` / ``*.yml`` kept."""
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            for child in sorted(p.iterdir(), key=lambda c: c.name):
                if child.is_file() and child.suffix in (".yaml", ".yml"):
                    out.append(child)
        elif p.is_file() and p.suffix in (".yaml", ".yml"):
            out.append(p)
        elif p.exists() and not p.is_dir() and p.suffix not in (".yaml", ".yml"):
            log.warning("Skipping rules file %s: only .yaml and .yml files are loaded", p)
    return out
