"""The rule language: Falco rules files, conditions compiled to Python, outputs.

Public API (agreed with the app and outputs helpers): :class:`FieldCatalog`,
:class:`RulesEngine`, :class:`RulesContent`, :class:`LoadResult`, :class:`CompiledRule`,
:class:`SourceEvaluator`, :class:`Match`, and :data:`ENGINE_VERSION` (what ``--version``,
``--support`` and ``/versions`` report).
"""

from .collector import ENGINE_VERSION as _ENGINE_VERSION
from .engine import CompiledRule, Match, RulesEngine, SourceEvaluator
from .fields import BASE_FIELDS, FieldCatalog
from .loader import RulesContent
from .results import FileResult, LoadResult, Message
from .schema import rule_schema

#: The engine version as semver text (``required_engine_version`` is checked against it).
ENGINE_VERSION = ".".join(map(str, _ENGINE_VERSION))

__all__ = ["BASE_FIELDS", "ENGINE_VERSION", "CompiledRule", "FieldCatalog", "FileResult",
           "LoadResult", "Match", "Message", "RulesContent", "RulesEngine", "SourceEvaluator",
           "rule_schema"]
