"""init_config of the k8saudit plugin: upstream's keys and defaults, plus the webhook's
security and back-pressure keys (this project's additions, all optional)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DEFAULT_SSL_CERTIFICATE = "/etc/falco/falco.pem"
DEFAULT_MAX_EVENT_SIZE = 262144
#: kube-apiserver's default --audit-webhook-truncate-max-batch-size (10 MiB) plus ~20 %.
DEFAULT_WEBHOOK_MAX_BATCH_SIZE = 12582912
#: Request bodies waiting to be parsed: upstream's channel capacity.
DEFAULT_WEBHOOK_QUEUE_SIZE = 50
#: Bytes of request bodies waiting to be parsed, whatever their number.
DEFAULT_WEBHOOK_QUEUE_MAX_BYTES = 64 * 1024 * 1024


def _prop(type_: str, title: str, desc: str, default: Any, **extra: Any) -> dict[str, Any]:
    return {"type": type_, "title": title, "description": desc, "default": default, **extra}


INIT_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "properties": {
        "sslCertificate": _prop(
            "string", "SSL certificate",
            "PEM file holding both the certificate and the private key of the https:// webhook",
            DEFAULT_SSL_CERTIFICATE),
        "useAsync": _prop(
            "boolean", "Use async extraction",
            "Accepted for compatibility with the Go plugin; no effect here", True),
        "maxEventSize": _prop(
            "integer", "Maximum event size",
            "Audit events larger than this many bytes (compact JSON) are dropped",
            DEFAULT_MAX_EVENT_SIZE, minimum=0),
        "webhookMaxBatchSize": _prop(
            "integer", "Maximum webhook batch size",
            "Request bodies larger than this many bytes are refused with 400",
            DEFAULT_WEBHOOK_MAX_BATCH_SIZE, minimum=0),
        "webhookQueueSize": _prop(
            "integer", "Webhook queue size",
            "Request bodies accepted but not yet parsed; beyond it the webhook answers 429",
            DEFAULT_WEBHOOK_QUEUE_SIZE, minimum=0),
        "webhookQueueMaxBytes": _prop(
            "integer", "Webhook queue bytes",
            "Bytes of request bodies accepted but not yet parsed; beyond it the webhook "
            "answers 429", DEFAULT_WEBHOOK_QUEUE_MAX_BYTES, minimum=0),
        "sslClientCA": _prop(
            "string", "Client CA file",
            "PEM bundle of CAs; when set, the https:// webhook requires a client certificate "
            "signed by one of them", ""),
        "webhookBearerTokenFile": _prop(
            "string", "Bearer token file",
            "File holding the token that requests must carry as 'Authorization: Bearer "
            "<token>'; when unset no token is required", ""),
    },
    "additionalProperties": True,
}


@dataclass(frozen=True)
class K8sAuditConfig:
    ssl_certificate: str = DEFAULT_SSL_CERTIFICATE
    max_event_size: int = DEFAULT_MAX_EVENT_SIZE
    webhook_max_batch_size: int = DEFAULT_WEBHOOK_MAX_BATCH_SIZE
    webhook_queue_size: int = DEFAULT_WEBHOOK_QUEUE_SIZE
    webhook_queue_max_bytes: int = DEFAULT_WEBHOOK_QUEUE_MAX_BYTES
    ssl_client_ca: str = ""
    webhook_bearer_token_file: str = ""

    @classmethod
    def from_init_config(cls, cfg: dict[str, Any] | None) -> K8sAuditConfig:
        """From the validated init_config (``{}`` = all defaults). 0 means the default, as
        for Go's zero values."""
        cfg = cfg or {}
        d = cls()
        return cls(
            ssl_certificate=cfg.get("sslCertificate") or d.ssl_certificate,
            max_event_size=int(cfg.get("maxEventSize") or d.max_event_size),
            webhook_max_batch_size=int(
                cfg.get("webhookMaxBatchSize") or d.webhook_max_batch_size),
            webhook_queue_size=int(cfg.get("webhookQueueSize") or d.webhook_queue_size),
            webhook_queue_max_bytes=int(
                cfg.get("webhookQueueMaxBytes") or d.webhook_queue_max_bytes),
            ssl_client_ca=cfg.get("sslClientCA") or "",
            webhook_bearer_token_file=cfg.get("webhookBearerTokenFile") or "",
        )
