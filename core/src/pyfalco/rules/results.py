"""Load results: Falco's error/warning codes, contexts and the ``-V`` text and JSON forms
(``rule-language.md`` §1.19-§1.21)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ERROR_STRINGS = {
    "LOAD_ERR_FILE_READ": "File read error",
    "LOAD_ERR_YAML_PARSE": "YAML parse error",
    "LOAD_ERR_YAML_VALIDATE": "Error validating internal structure of YAML file",
    "LOAD_ERR_COMPILE_CONDITION": "Error compiling condition",
    "LOAD_ERR_COMPILE_OUTPUT": "Error compiling output",
    "LOAD_ERR_VALIDATE": "Error validating rule/macro/list/exception objects",
    "LOAD_ERR_EXTENSION": "Error in extension item",
}
WARNING_STRINGS = {
    "LOAD_UNKNOWN_SOURCE": "Unknown event source",
    "LOAD_UNSAFE_NA_CHECK": "Unsafe <NA> comparison in condition",
    "LOAD_NO_EVTTYPE": "Condition has no event-type restriction",
    "LOAD_UNKNOWN_FILTER": "Unknown field or event-type in condition or output",
    "LOAD_UNUSED_MACRO": "Unused macro",
    "LOAD_UNUSED_LIST": "Unused list",
    "LOAD_UNKNOWN_ITEM": "Unknown rules file item",
    "LOAD_DEPRECATED_ITEM": "Used deprecated item",
    "LOAD_WARNING_EXTENSION": "Warning in extension item",
    "LOAD_APPEND_NO_VALUES": "Overriding/appending with no values",
    "LOAD_EXCEPTION_NAME_NOT_UNIQUE": "Multiple exceptions defined with the same name",
    "LOAD_INVALID_MACRO_NAME": "Invalid macro name",
    "LOAD_INVALID_LIST_NAME": "Invalid list name",
    "LOAD_COMPILE_CONDITION": "Warning in rule condition",
    "LOAD_UNKNOWN_KEY": "Unknown key in item definition",
}
WARNING_DESCRIPTIONS = {
    "LOAD_UNKNOWN_SOURCE": "A rule has an unknown event source. This can occur when reading "
    "rules content without having a corresponding plugin loaded, etc. The rule will be silently "
    "ignored.",
    "LOAD_UNSAFE_NA_CHECK": "Comparing a field value with <NA> is unsafe and can lead to "
    "unpredictable behavior of the rule condition. If you need to check for the existence of a "
    "field, consider using the 'exists' operator instead.",
    "LOAD_NO_EVTTYPE": "A rule condition matches too many evt.type values. This has a "
    "significant performance penalty. Make the condition more specific by adding an evt.type "
    "field or further restricting the number of evt.type values in the condition.",
    "LOAD_UNKNOWN_FILTER": "A rule condition or output refers to a field or evt.type that does "
    "not exist. This is normally an error, but if a rule has a skip-if-unknown-filter property, "
    "the error is downgraded to a warning.",
    "LOAD_UNUSED_MACRO": "A macro is defined in the rules content but is not used by any other "
    "macro or rule.",
    "LOAD_UNUSED_LIST": "A list is defined in the rules content but is not used by any other "
    "list, macro, or rule.",
    "LOAD_UNKNOWN_ITEM": "An unknown top-level object is in the rules content. It will be "
    "ignored.",
    "LOAD_DEPRECATED_ITEM": "A deprecated item is employed by lists, macros, or rules.",
    "LOAD_WARNING_EXTENSION": "An extension item has a warning",
    "LOAD_APPEND_NO_VALUES": "A rule exception is overriding/appending with no values",
    "LOAD_EXCEPTION_NAME_NOT_UNIQUE": "A rule is defining multiple exceptions with the same "
    "name",
    "LOAD_INVALID_MACRO_NAME": "A macro is defined with an invalid name",
    "LOAD_INVALID_LIST_NAME": "A list is defined with an invalid name",
    "LOAD_COMPILE_CONDITION": "A rule condition or output have been parsed with a warning",
    "LOAD_UNKNOWN_KEY": "An unknown key is in the rules content. It will be ignored.",
}


@dataclass(frozen=True)
class Position:
    name: str
    line: int = 0  # 0-based (YAML marks)
    column: int = 0
    offset: int = 0

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "line": self.line, "column": self.column,
                "offset": self.offset}


@dataclass(frozen=True)
class Location:
    item_type: str
    item_name: str
    position: Position

    def as_json(self) -> dict[str, Any]:
        return {"item_type": self.item_type, "item_name": self.item_name,
                "position": self.position.as_json()}


@dataclass
class Message:
    """One error or warning, with where it happened."""

    code: str
    message: str
    locations: list[Location] = field(default_factory=list)
    snippet: str = ""
    deprecated_field: str | None = None

    @property
    def is_error(self) -> bool:
        return self.code.startswith("LOAD_ERR")

    @property
    def short(self) -> str:
        return ERROR_STRINGS.get(self.code) or WARNING_STRINGS.get(self.code, "")

    @property
    def item_type(self) -> str:
        """The innermost item's type (rule, macro, list, exception ...), as old tests match."""
        for loc in reversed(self.locations):
            if loc.item_type in ("rule", "macro", "list", "exception",
                                 "required_engine_version", "required plugin versions"):
                return loc.item_type
        return self.locations[-1].item_type if self.locations else ""

    @property
    def item_name(self) -> str:
        for loc in reversed(self.locations):
            if loc.item_type in ("rule", "macro", "list", "exception"):
                return loc.item_name
        return ""

    def as_json(self) -> dict[str, Any]:
        codedesc = ERROR_STRINGS[self.code] if self.is_error else WARNING_DESCRIPTIONS.get(
            self.code, "")
        out: dict[str, Any] = {
            "code": self.code, "codedesc": codedesc, "message": self.message,
            "context": {"locations": [loc.as_json() for loc in self.locations],
                        "snippet": self.snippet},
        }
        if self.deprecated_field is not None:
            out["deprecated_field"] = self.deprecated_field
        return out

    def as_text(self) -> str:
        lines = []
        for i, loc in enumerate(self.locations):
            where = f"({loc.position.name}:{loc.position.line}:{loc.position.column})"
            label = f"{loc.item_type} '{loc.item_name}'" if loc.item_name else loc.item_type
            lines.append(("In " if i == 0 else "    ") + f"{label}: {where}")
        lines.append("------")
        lines.append((self.snippet or "<No context available>\n").rstrip("\n"))
        lines.append("------")
        lines.append(f"{self.code} ({self.short}): {self.message}")
        return "\n".join(lines)


@dataclass
class FileResult:
    """The result for one rules content (one file)."""

    name: str
    errors: list[Message] = field(default_factory=list)
    warnings: list[Message] = field(default_factory=list)
    #: the rules-file schema's findings ("failed for <path>: <desc>"); None = not validated
    schema_warnings: list[str] | None = None

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        if self.errors:
            head = f"{self.name}: Invalid"
        elif self.warnings:
            head = f"{self.name}: Ok, with warnings"
        else:
            head = f"{self.name}: Ok"
        return head

    def as_text(self, verbose: bool = False) -> str:
        out = [self.summary()]
        if not verbose:
            if self.errors:
                codes = " ".join(f"{m.code} ({m.short})" for m in self.errors)
                out.append(f" {len(self.errors)} errors: [{codes}]")
            if self.warnings:
                codes = " ".join(f"{m.code} ({m.short})" for m in self.warnings)
                out.append(f" {len(self.warnings)} warnings: [{codes}]")
            return "\n".join(out)
        if self.errors:
            out.append(f"{len(self.errors)} Errors:")
            out.extend(m.as_text() for m in self.errors)
        if self.warnings:
            out.append(f"{len(self.warnings)} Warnings:")
            out.extend(m.as_text() for m in self.warnings)
        return "\n".join(out)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "successful": self.ok}
        if self.schema_warnings is not None:  # only when schema validation ran, as Falco
            out["schema_valid"] = not self.schema_warnings
            out["schema_warnings"] = list(self.schema_warnings)
        return out | {
                "errors": [m.as_json() for m in self.errors],
                "warnings": [m.as_json() for m in self.warnings]}


@dataclass
class LoadResult:
    """The result of ``RulesEngine.load``: one :class:`FileResult` per rules content."""

    files: list[FileResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(f.ok for f in self.files)

    @property
    def errors(self) -> list[Message]:
        return [m for f in self.files for m in f.errors]

    @property
    def warnings(self) -> list[Message]:
        return [m for f in self.files for m in f.warnings]

    def as_text(self, verbose: bool = False) -> str:
        return "\n".join(f.as_text(verbose) for f in self.files)

    def as_json(self) -> dict[str, Any]:
        return {"falco_load_results": [f.as_json() for f in self.files]}


def snippet(text: str, offset: int) -> str:
    """The line of ``text`` holding ``offset`` (at most 160 chars around it) and a caret line."""
    if not text:
        return "<No context available>\n"
    offset = max(0, min(offset, len(text)))
    start = text.rfind("\n", 0, offset) + 1
    end = text.find("\n", offset)
    if end < 0:
        end = len(text)
    line = text[start:end]
    col = offset - start
    if len(line) > 160:
        lo = max(0, col - 80)
        hi = min(len(line), lo + 160)
        prefix = "..." if lo > 0 else ""
        suffix = "..." if hi < len(line) else ""
        line = prefix + line[lo:hi] + suffix
        col = col - lo + len(prefix)
    return f"{line}\n{' ' * col}^\n"
