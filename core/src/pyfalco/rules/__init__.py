"""The rule language: Falco rules files, conditions compiled to Python, outputs.

Public API (agreed with the app and outputs helpers): :class:`FieldCatalog`,
:class:`RulesEngine`, :class:`RulesContent`, :class:`LoadResult`, :class:`CompiledRule`,
:class:`SourceEvaluator`, :class:`Match`.
"""

from .engine import CompiledRule, Match, RulesEngine, SourceEvaluator
from .fields import BASE_FIELDS, FieldCatalog
from .loader import RulesContent
from .results import FileResult, LoadResult, Message
from .schema import rule_schema

__all__ = ["BASE_FIELDS", "CompiledRule", "FieldCatalog", "FileResult", "LoadResult", "Match",
           "Message", "RulesContent", "RulesEngine", "SourceEvaluator", "rule_schema"]
