"""pyfalco plugin ``k8saudit``: Kubernetes audit events from a webhook or files.

Public API for the k8s_audit family (k8saudit-eks, k8saudit-gke reuse it; README "For family
plugins"):

- :data:`FIELDS` — the ``ka.*`` field table (register this very list; no copies).
- :func:`split_audit_payload` / :func:`split_jsonl` — a payload (Event, EventList, array,
  JSON Lines) → :class:`AuditEvent` list + :class:`SplitStats` (counted drops with upstream's
  messages, the ``maxEventSize`` guard).
- :func:`make_event` — the pyfalco ``Event`` of one audit event (source ``k8s_audit``).
- :data:`DEFAULT_RULES_PATH` — the default k8s audit rules file shipped with this package.
- :data:`SOURCE`, :data:`DEFAULT_MAX_EVENT_SIZE`, :func:`parse_rfc3339_ns`.
"""

from __future__ import annotations

from pathlib import Path

from .config import DEFAULT_MAX_EVENT_SIZE
from .fields import FIELDS, image_repository
from .payload import (
    MSG_NO_TIMESTAMP,
    MSG_NOT_RECOGNIZED,
    SOURCE,
    AuditEvent,
    K8sAuditEvent,
    SplitStats,
    audit_events_from_object,
    make_event,
    parse_rfc3339_ns,
    split_audit_payload,
    split_jsonl,
)

PLUGIN_NAME = "k8saudit"
PLUGIN_ID = 1
#: The upstream k8saudit version whose behaviour this package matches.
COMPAT_VERSION = "0.18.0"
#: This package's default k8s audit rules (package data).
DEFAULT_RULES_PATH = Path(__file__).resolve().parent / "rules" / "k8s_audit_rules.yaml"

__all__ = [
    "AuditEvent",
    "COMPAT_VERSION",
    "DEFAULT_MAX_EVENT_SIZE",
    "DEFAULT_RULES_PATH",
    "FIELDS",
    "K8sAuditEvent",
    "MSG_NOT_RECOGNIZED",
    "MSG_NO_TIMESTAMP",
    "PLUGIN_ID",
    "PLUGIN_NAME",
    "SOURCE",
    "SplitStats",
    "audit_events_from_object",
    "image_repository",
    "make_event",
    "parse_rfc3339_ns",
    "split_audit_payload",
    "split_jsonl",
]
