"""init_config of k8saudit-gke: upstream's keys that still mean something (plugins.md §4.1) and
the Cloud Logging reader's own. Unknown keys are accepted (upstream's schema allows them); the
Pub/Sub-only keys ``num_goroutines`` and ``max_outstanding_messages`` are accepted and ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DEFAULT_MAX_EVENT_SIZE = 262144


def _prop(type_: str, title: str, desc: str, default: Any, **extra: Any) -> dict[str, Any]:
    return {"type": type_, "title": title, "description": desc, "default": default, **extra}


CONFIG_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "additionalProperties": True,
    "properties": {
        "project_id": _prop("string", "Project", "GCP project whose audit logs are read when "
                            "open_params does not name one", ""),
        "credentials_file": _prop("string", "Credentials file", "Service-account or external "
                                  "account JSON; empty = Application Default Credentials", ""),
        "anonymous_credentials": _prop("boolean", "Anonymous credentials", "Send no "
                                       "credentials (emulators, authenticating proxies)", False),
        "api_endpoint": _prop("string", "Logging API endpoint", "Cloud Logging endpoint "
                              "override (private endpoints, tests); empty = Google's", ""),
        "polling_interval": _prop("number", "Polling interval", "Seconds between two polls",
                                  5, exclusiveMinimum=0),
        "page_size": _prop("integer", "Page size", "Entries per entries.list page", 1000,
                           minimum=1, maximum=1000),
        "shift": _prop("number", "Shift", "How far back in seconds the first poll starts", 1,
                       minimum=0),
        "lookback": _prop("number", "Lookback", "Seconds before the newest entry seen that every "
                          "poll lists again, to catch entries that arrive late (duplicates are "
                          "skipped by insertId)", 10, minimum=0),
        "state_file": _prop("string", "State file", "Where the read position is kept between "
                            "runs (a restart then neither loses nor repeats entries); empty = "
                            "start shift seconds back", ""),
        "use_status": _prop("boolean", "Use status", "Take the response code from the entry's "
                            "status instead of upstream's inferred 2xx/101", False),
        "fetch_cluster_metadata": _prop("boolean", "Fetch cluster metadata", "Add the "
                                        "cluster's resource labels (Container API)", False),
        "cache_expiration": _prop("integer", "Cache expiration", "Minutes cluster labels are "
                                  "cached", 10, minimum=0),
        "container_api_endpoint": _prop("string", "Container API endpoint", "Container API "
                                        "endpoint override; empty = Google's", ""),
        "max_event_size": _prop("integer", "Maximum event size", "Converted audit events "
                                "larger than this many bytes are dropped and counted",
                                DEFAULT_MAX_EVENT_SIZE, minimum=1),
        "buffer_size": _prop("integer", "Buffer size", "Events buffered between the reader and "
                             "the engine", 1000, minimum=1),
        "on_error": _prop("string", "On error", "What a failed poll does once its retries are "
                          "spent: 'stop' ends the source with the error, 'retry' logs, counts "
                          "and polls again later", "stop", enum=["stop", "retry"]),
        "max_retries": _prop("integer", "Maximum retries", "Retries with exponential backoff "
                             "of a page answered 429/5xx or not reachable", 6, minimum=0),
        "min_backoff": _prop("number", "Minimum backoff", "First backoff sleep (s), doubled "
                             "per retry", 1, exclusiveMinimum=0),
        "max_backoff": _prop("number", "Maximum backoff", "Longest backoff sleep (s)", 32,
                             exclusiveMinimum=0),
        "use_async": _prop("boolean", "Use async", "Accepted for compatibility; no effect", True),
        "num_goroutines": _prop("integer", "Pub/Sub goroutines", "Pub/Sub only; ignored", 10),
        "max_outstanding_messages": _prop("integer", "Pub/Sub flow control",
                                          "Pub/Sub only; ignored", 1000),
    },
}


@dataclass(frozen=True)
class GkeConfig:
    project_id: str = ""
    credentials_file: str = ""
    anonymous_credentials: bool = False
    api_endpoint: str = ""
    polling_interval_s: float = 5.0
    page_size: int = 1000
    shift_s: float = 1.0
    lookback_s: float = 10.0
    state_file: str = ""
    use_status: bool = False
    fetch_cluster_metadata: bool = False
    cache_expiration_min: float = 10.0
    container_api_endpoint: str = ""
    max_event_size: int = DEFAULT_MAX_EVENT_SIZE
    buffer_size: int = 1000
    on_error: str = "stop"
    max_retries: int = 6
    min_backoff_s: float = 1.0
    max_backoff_s: float = 32.0

    @classmethod
    def from_init_config(cls, cfg: dict[str, Any]) -> GkeConfig:
        d = cls()
        return cls(
            project_id=cfg.get("project_id") or "",
            credentials_file=cfg.get("credentials_file") or "",
            anonymous_credentials=bool(cfg.get("anonymous_credentials", False)),
            api_endpoint=cfg.get("api_endpoint") or "",
            polling_interval_s=float(cfg.get("polling_interval") or d.polling_interval_s),
            page_size=int(cfg.get("page_size") or d.page_size),
            shift_s=float(cfg.get("shift", d.shift_s)),
            lookback_s=float(cfg.get("lookback", d.lookback_s)),
            state_file=cfg.get("state_file") or "",
            use_status=bool(cfg.get("use_status", False)),
            fetch_cluster_metadata=bool(cfg.get("fetch_cluster_metadata", False)),
            cache_expiration_min=float(cfg.get("cache_expiration", d.cache_expiration_min)),
            container_api_endpoint=cfg.get("container_api_endpoint") or "",
            max_event_size=int(cfg.get("max_event_size") or DEFAULT_MAX_EVENT_SIZE),
            buffer_size=int(cfg.get("buffer_size") or d.buffer_size),
            on_error=cfg.get("on_error") or "stop",
            max_retries=int(cfg.get("max_retries", d.max_retries)),
            min_backoff_s=float(cfg.get("min_backoff") or d.min_backoff_s),
            max_backoff_s=float(cfg.get("max_backoff") or d.max_backoff_s),
        )
