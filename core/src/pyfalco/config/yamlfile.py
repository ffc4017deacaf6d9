"""Reading one YAML config file: values, ``${ENV}`` expansion, and where each value is.

Falco expands environment variables in every scalar of every loaded config file at load time
(falco-core.md §4.1): ``${NAME}`` becomes the variable's value (empty when unset), ``$${NAME}``
becomes the literal ``${NAME}``, and a ``${`` without a closing ``}`` stops processing of that
scalar. A plain (unquoted) scalar is re-typed after expansion, so ``port: ${PORT}`` is an integer.

Line numbers (1-based) of every mapping value and sequence item are kept in ``lines`` keyed by
the path (a tuple of keys and indices), for error messages that say ``file:line``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError

try:  # libyaml when available: start-up parses a few files, but rules helpers share the loader
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - PyYAML without libyaml
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

Path_ = tuple[Any, ...]


@dataclass
class YamlDocument:
    """A loaded config file."""

    path: Path
    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)

    def line_of(self, path: Path_) -> int | None:
        """Line of ``path`` or of its nearest enclosing value."""
        p = tuple(path)
        while p:
            if p in self.lines:
                return self.lines[p]
            p = p[:-1]
        return self.lines.get((), None)


def expand_env(value: str, environ: Mapping[str, str] | None = None) -> str:
    """Falco's ``${NAME}`` / ``$${NAME}`` expansion of one scalar."""
    env = os.environ if environ is None else environ
    start = value.find("$")
    while start != -1:
        rest = value[start:]
        if rest.startswith("${"):
            end = rest.find("}")
            if end == -1:
                break
            name = rest[2:end]
            repl = env.get(name, "")
            value = value[:start] + repl + value[start + end + 1 :]
            start = value.find("$", start + len(repl))
            continue
        if rest.startswith("$${"):
            if rest.find("}") == -1:
                break
            value = value[:start] + value[start + 1 :]  # eat the first "$"
            start = value.find("$", start + 1)
            continue
        start = value.find("$", start + 1)
    return value


def load_yaml_file(path: Path, environ: Mapping[str, str] | None = None) -> YamlDocument:
    """Load ``path`` (one YAML document). ``ConfigError`` with Falco's text when it cannot be
    read or parsed."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Cannot read config file ({path}): {exc}") from None
    return load_yaml_text(text, path, environ)


def load_yaml_text(
    text: str, path: Path, environ: Mapping[str, str] | None = None
) -> YamlDocument:
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        raise ConfigError(f"Cannot read config file ({path}): {_yaml_error(exc)}") from None
    doc = YamlDocument(path=path, data=None)
    if node is None:
        doc.data = {}
        return doc
    loader = _Loader("")
    try:
        doc.data = _convert(node, (), doc.lines, loader, environ)
    except yaml.YAMLError as exc:
        raise ConfigError(f"Cannot read config file ({path}): {_yaml_error(exc)}") from None
    finally:
        loader.dispose()
    return doc


def _convert(node: yaml.Node, path: Path_, lines: dict, loader: Any, environ) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if isinstance(key, str):
                key = expand_env(key, environ)
            try:
                hash(key)
            except TypeError:
                raise ConfigError(
                    f"line {key_node.start_mark.line + 1}: unhashable mapping key"
                ) from None
            out[key] = _convert(value_node, (*path, key), lines, loader, environ)
            lines[(*path, key)] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [
            _convert(item, (*path, i), lines, loader, environ) for i, item in enumerate(node.value)
        ]
    value = loader.construct_object(node, deep=True)
    if isinstance(value, str) and "$" in value:
        expanded = expand_env(value, environ)
        if expanded != value:
            if not node.style:  # plain scalar: type it again as YAML would
                try:
                    retyped = yaml.load(expanded, Loader=_Loader) if expanded.strip() else None
                except yaml.YAMLError:
                    retyped = expanded
                value = retyped if isinstance(retyped, int | float | bool) else expanded
            else:
                value = expanded
    return value


def _yaml_error(exc: yaml.YAMLError) -> str:
    return " ".join(str(exc).split())
