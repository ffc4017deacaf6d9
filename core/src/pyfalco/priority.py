"""Rule priorities: Falco's eight severities, most severe first (``rule-language.md`` §1.9)."""

from __future__ import annotations

import enum


class Priority(enum.IntEnum):
    EMERGENCY = 0
    ALERT = 1
    CRITICAL = 2
    ERROR = 3
    WARNING = 4
    NOTICE = 5
    INFORMATIONAL = 6
    DEBUG = 7

    @property
    def title(self) -> str:  # type: ignore[override]
        """The name alerts show: ``Warning``, ``Informational``."""
        return self.name.capitalize()

    @property
    def stats_name(self) -> str:
        """The name end-of-run statistics show: ``WARNING``, ``INFO``."""
        return "INFO" if self is Priority.INFORMATIONAL else self.name

    @classmethod
    def parse(cls, text: str) -> Priority:
        """Case-insensitive; ``info`` is ``Informational``. ``ValueError`` otherwise."""
        key = text.strip().upper()
        if key == "INFO":
            return cls.INFORMATIONAL
        try:
            return cls[key]
        except KeyError:
            raise ValueError(f"Invalid priority: {text}") from None
