"""falco.yaml: loading (includes, ``${ENV}``, ``-o``), schema validation and typed settings.

>>> cfg = load_config(Path("falco.yaml"), ["json_output=true"])   # doctest: +SKIP
>>> settings = interpret(cfg)                                     # doctest: +SKIP
"""

from __future__ import annotations

from .loader import (
    DEFAULT_CONFIG_PATH,
    Config,
    LoadedFile,
    load_config,
    packaged_config_path,
)
from .overrides import Override, parse_key, typed_scalar
from .schema import config_schema
from .settings import (
    PluginConfig,
    RuleSelection,
    Settings,
    as_bool,
    as_int,
    interpret,
    resolve_rules_files,
)

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "Config",
    "LoadedFile",
    "Override",
    "PluginConfig",
    "RuleSelection",
    "Settings",
    "as_bool",
    "as_int",
    "config_schema",
    "interpret",
    "load_config",
    "packaged_config_path",
    "parse_key",
    "resolve_rules_files",
    "typed_scalar",
]
