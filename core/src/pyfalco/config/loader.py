"""Loading falco.yaml the way Falco does (falco-core.md §4.1):

1. load and schema-validate the main file (``${ENV}`` expanded);
2. apply the ``-o config_files...`` options;
3. merge the ``config_files`` includes, top-level keys only, with their strategy;
4. apply **all** ``-o`` options in command-line order;
5. type the ``-o`` scalars (:func:`overrides.normalize`).

Interpretation (typed settings and their fatal errors) is :mod:`pyfalco.config.settings`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.resources import as_file, files
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .overrides import Override, normalize
from .schema import config_schema, validate_document
from .yamlfile import YamlDocument, load_yaml_file

#: Falco's default location of the main config file.
DEFAULT_CONFIG_PATH = Path("/etc/falco/falco.yaml")
CONFIG_FILES_KEY = "config_files"
_STRATEGIES = ("append", "override", "add-only")


def packaged_config_path() -> Path:
    """The falco.yaml shipped with pyfalco-core (package data)."""
    with as_file(files("pyfalco.config").joinpath("falco.yaml")) as p:
        return Path(p)


@dataclass
class LoadedFile:
    """A config file that was read, with its schema validation status and sha256."""

    path: Path
    status: str
    sha256: str


@dataclass
class Config(Mapping[str, Any]):
    """The effective configuration: a read-only mapping over the merged tree (top-level keys),
    plus where it came from. Values are plain Python objects (dict, list, str, int, float, bool,
    None)."""

    tree: dict[str, Any]
    #: The main config file; ``None`` when running on built-in defaults only.
    main_path: Path | None = None
    files: list[LoadedFile] = field(default_factory=list)
    overrides: tuple[str, ...] = ()
    documents: list[YamlDocument] = field(default_factory=list)

    # Mapping protocol over the top level
    def __getitem__(self, key: str) -> Any:
        return self.tree[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.tree)

    def __len__(self) -> int:
        return len(self.tree)

    @property
    def name(self) -> str:
        """How Falco names the config in messages: the main path, or ``default``."""
        return str(self.main_path) if self.main_path is not None else "default"

    def get_path(self, dotted: str, default: Any = None) -> Any:
        """The value at ``a.b.c`` (maps only), or ``default`` when any part is absent."""
        node: Any = self.tree
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return default if node is None else node

    def is_defined(self, dotted: str) -> bool:
        node: Any = self.tree
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                return False
            node = node[part]
        return True

    def where(self, dotted: str | tuple[Any, ...]) -> str:
        """``file:line`` of the last file that set ``dotted`` (or a path tuple with indices),
        or the config name."""
        path = tuple(dotted.split(".")) if isinstance(dotted, str) else tuple(dotted)
        for doc in reversed(self.documents):
            if path in doc.lines:
                return f"{doc.path}:{doc.lines[path]}"
        return self.name


def load_config(
    main: Path | None,
    options: Sequence[str] = (),
    *,
    environ: Mapping[str, str] | None = None,
    schema: Mapping[str, Any] | None = None,
) -> Config:
    """Load ``main`` (``None`` = built-in defaults only), its includes and the ``-o`` options."""
    overrides = [Override.parse(o) for o in options]
    schema = schema if schema is not None else config_schema()
    cfg = Config(tree={}, main_path=main, overrides=tuple(options))
    if main is not None:
        main_doc = _load(main, schema, cfg, environ)
        if not isinstance(main_doc.data, dict):
            raise ConfigError(f"Cannot read config file ({main}): not a YAML map")
        cfg.tree = main_doc.data
    for ov in overrides:
        if ov.path[0] == CONFIG_FILES_KEY:
            ov.apply(cfg.tree)
    if main is not None:
        _include(cfg, main, schema, environ)
    elif CONFIG_FILES_KEY in cfg.tree:
        _include(cfg, Path("default"), schema, environ)
    for ov in overrides:
        ov.apply(cfg.tree)
    normalize(cfg.tree)
    return cfg


def _load(path: Path, schema: Mapping[str, Any], cfg: Config, environ) -> YamlDocument:
    doc = load_yaml_file(path, environ)
    status = validate_document(doc, schema)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    cfg.files.append(LoadedFile(path=path, status=status, sha256=digest))
    cfg.documents.append(doc)
    return doc


def _include(cfg: Config, main: Path, schema: Mapping[str, Any], environ) -> None:
    entries = cfg.tree.get(CONFIG_FILES_KEY) or []
    if isinstance(entries, str | dict):
        entries = [entries]
    if not isinstance(entries, list):
        raise ConfigError(
            f"Error reading config file ({main}): '{CONFIG_FILES_KEY}' must be a sequence"
        )
    main_resolved = _resolve(main)
    for entry in entries:
        if isinstance(entry, dict):
            raw, strategy = entry.get("path"), str(entry.get("strategy") or "append")
        else:
            raw, strategy = entry, "append"
        if strategy not in _STRATEGIES:
            strategy = "append"  # Falco: an unknown strategy silently means append
        if not isinstance(raw, str) or not raw:
            raise ConfigError(
                f"Error reading config file ({main}): invalid '{CONFIG_FILES_KEY}' entry {entry!r}"
            )
        path = Path(raw)
        if _resolve(path) == main_resolved:
            raise ConfigError(
                f"Config error: '{CONFIG_FILES_KEY}' directive tried to recursively include "
                f"main config file: {main}."
            )
        if path.is_dir():
            for child in sorted(path.iterdir(), key=lambda p: p.name):
                if child.is_file() and os.access(child, os.R_OK):
                    _merge(cfg, child, strategy, schema, environ)
        elif path.is_file():
            _merge(cfg, path, strategy, schema, environ)
        # non-existent paths are silently skipped, as in Falco


def _merge(cfg: Config, path: Path, strategy: str, schema, environ) -> None:
    doc = _load(path, schema, cfg, environ)
    data = doc.data if doc.data is not None else {}
    if not isinstance(data, dict):
        raise ConfigError(f"Cannot read config file ({path}): not a YAML map")
    if CONFIG_FILES_KEY in data:
        raise ConfigError(
            f"Config error: '{CONFIG_FILES_KEY}' directive in included config file {path}."
        )
    tree = cfg.tree
    for key, value in data.items():
        if strategy == "append" and isinstance(value, list):
            existing = tree.get(key)
            if isinstance(existing, list):
                existing.extend(value)
            else:
                tree[key] = list(value)
        elif strategy == "add-only":
            if key not in tree:
                tree[key] = value
        else:
            tree[key] = value


def _resolve(path: Path) -> Path:
    try:
        return path.resolve()
    except OSError:
        return path.absolute()
