"""init_config of k8saudit-eks: upstream's keys (plugins.md §3.1) plus our additions.

Upstream keys keep upstream's snake_case spelling. Unknown keys are accepted, as upstream's
reflected schema allows additional properties.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

DEFAULT_MAX_EVENT_SIZE = 262144

CONFIG_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "additionalProperties": True,
    "properties": {
        "region": {
            "type": "string",
            "title": "AWS region",
            "description": "Region of the cluster's log group (default: AWS_REGION, then "
            "AWS_DEFAULT_REGION, then boto3's chain)",
            "default": "",
        },
        "profile": {
            "type": "string",
            "title": "AWS profile",
            "description": "Shared-config profile (default: AWS_PROFILE, then AWS_DEFAULT_PROFILE)",
            "default": "",
        },
        "shift": {
            "type": "integer",
            "minimum": 0,
            "title": "Shift",
            "description": "How far back in seconds the first query starts (0 = 1)",
            "default": 1,
        },
        "polling_interval": {
            "type": "number",
            "minimum": 0,
            "title": "Polling interval",
            "description": "Seconds between two polls (0 = 5)",
            "default": 5,
        },
        "buffer_size": {
            "type": "integer",
            "minimum": 0,
            "title": "Buffer size",
            "description": "Events buffered between the poller and the engine (0 = 200)",
            "default": 200,
        },
        "use_async": {
            "type": "boolean",
            "title": "Use async extraction",
            "description": "Accepted for compatibility; no effect in pyfalco",
            "default": True,
        },
        "max_event_size": {
            "type": "integer",
            "minimum": 1,
            "title": "Maximum event size",
            "description": "Audit events larger than this many bytes are dropped and counted",
            "default": DEFAULT_MAX_EVENT_SIZE,
        },
        "endpoint_url": {
            "type": "string",
            "title": "CloudWatch Logs endpoint",
            "description": "Endpoint URL override (VPC endpoints, FIPS, tests); empty = AWS's",
            "default": "",
        },
        "on_error": {
            "type": "string",
            "enum": ["stop", "retry"],
            "title": "On error",
            "description": "What a failed poll does once its retries are spent (missing log "
            "group, access denied, unreachable endpoint): 'stop' ends the source with the "
            "error (upstream's behaviour), 'retry' logs it, counts it and polls again later",
            "default": "stop",
        },
        "max_retries": {
            "type": "integer",
            "minimum": 0,
            "title": "Maximum retries",
            "description": "Retries with exponential backoff of one request that was throttled "
            "or could not reach the endpoint, before on_error applies",
            "default": 6,
        },
        "state_file": {
            "type": "string",
            "title": "State file",
            "description": "Where the read position is kept between runs (a restart then "
            "neither loses nor repeats records); empty = start shift seconds back",
            "default": "",
        },
        "lookback": {
            "type": "number",
            "minimum": 0,
            "title": "Lookback",
            "description": "Seconds before the newest record seen that every poll reads "
            "again, to catch records CloudWatch ingests late (duplicates are skipped)",
            "default": 0,
        },
        "min_backoff": {
            "type": "number",
            "exclusiveMinimum": 0,
            "title": "Minimum backoff",
            "description": "First backoff sleep in seconds, doubled per retry (with jitter)",
            "default": 0.5,
        },
        "max_backoff": {
            "type": "number",
            "exclusiveMinimum": 0,
            "title": "Maximum backoff",
            "description": "Upper bound in seconds of one backoff sleep",
            "default": 20,
        },
    },
}


@dataclass(frozen=True)
class EksConfig:
    region: str = ""
    profile: str = ""
    shift_s: int = 1
    polling_interval_s: float = 5.0
    buffer_size: int = 200
    max_event_size: int = DEFAULT_MAX_EVENT_SIZE
    endpoint_url: str = ""
    on_error: str = "stop"
    max_retries: int = 6
    max_backoff_s: float = 20.0
    lookback_s: float = 0.0
    state_file: str = ""
    min_backoff_s: float = 0.5

    @classmethod
    def from_init_config(cls, cfg: dict[str, Any]) -> EksConfig:
        """The effective config; zero values take upstream's defaults, as upstream does."""
        env = os.environ
        return cls(
            region=cfg.get("region") or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION", ""),
            profile=cfg.get("profile")
            or env.get("AWS_PROFILE")
            or env.get("AWS_DEFAULT_PROFILE", ""),
            shift_s=int(cfg.get("shift") or 1),
            polling_interval_s=float(cfg.get("polling_interval") or 5),
            buffer_size=int(cfg.get("buffer_size") or 200),
            max_event_size=int(cfg.get("max_event_size") or DEFAULT_MAX_EVENT_SIZE),
            endpoint_url=cfg.get("endpoint_url") or "",
            on_error=cfg.get("on_error") or "stop",
            max_retries=int(cfg.get("max_retries", 6)),
            max_backoff_s=float(cfg.get("max_backoff") or 20),
            lookback_s=float(cfg.get("lookback") or 0),
            state_file=cfg.get("state_file") or "",
            min_backoff_s=float(cfg.get("min_backoff") or 0.5),
        )
