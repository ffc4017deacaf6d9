"""Cluster resource labels from the Container API, cached with a TTL (plugins.md §4.5).

Looked up on the reader's thread, never on the event thread. A failed lookup is logged and
counted, the entry is still converted, and the failure is cached for a short while so one
unreachable API does not cost a request per entry.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger("pyfalco.k8saudit-gke")

DEFAULT_CONTAINER_ENDPOINT = "https://container.googleapis.com"
#: Labels that come from the LogEntry itself and are never overridden by cluster labels.
PROTECTED_LABELS = frozenset({"cluster_name", "location", "project_id"})
FAILURE_TTL_S = 30.0


class ClusterLabels:
    """``labels(project, location, cluster)`` → the cluster's ``resourceLabels``."""

    def __init__(
        self,
        session: Any,
        *,
        endpoint: str = "",
        ttl_s: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.session = session  # a google.auth AuthorizedSession (requests API)
        self.endpoint = (endpoint or DEFAULT_CONTAINER_ENDPOINT).rstrip("/")
        self.ttl_s = ttl_s
        self.clock = clock
        self._cache: dict[str, tuple[float, dict[str, str]]] = {}
        self.fetches = 0
        self.errors = 0

    def labels(self, project: str, location: str, cluster: str) -> dict[str, str]:
        key = f"projects/{project}/locations/{location}/clusters/{cluster}"
        now = self.clock()
        hit = self._cache.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        try:
            labels = self._fetch(key)
            expiry = now + self.ttl_s
        except Exception as exc:  # network, auth, HTTP errors: the entry still flows
            self.errors += 1
            log.warning("k8saudit-gke: failed to fetch metadata: %s: %s", key, exc)
            labels, expiry = {}, now + min(self.ttl_s, FAILURE_TTL_S)
        self._cache[key] = (expiry, labels)
        return labels

    def _fetch(self, key: str) -> dict[str, str]:
        self.fetches += 1
        resp = self.session.get(f"{self.endpoint}/v1/{key}", timeout=10)
        if resp.status_code != 200:
            raise RuntimeError(f"HTTP {resp.status_code}: {resp.text[:200]}")
        labels = resp.json().get("resourceLabels") or {}
        if not isinstance(labels, dict):
            raise RuntimeError("resourceLabels is not an object")
        return {str(k): str(v) for k, v in labels.items()}

    def enrich(self, entry: dict[str, Any]) -> None:
        """Merge the cluster's labels into ``entry.resource.labels`` (never the protected ones)."""
        resource = entry.get("resource")
        labels = resource.get("labels") if isinstance(resource, dict) else None
        if not isinstance(labels, dict):
            return
        project, location, cluster = (
            labels.get("project_id"), labels.get("location"), labels.get("cluster_name"))
        if not (project and location and cluster):
            return
        for k, v in self.labels(project, location, cluster).items():
            if k not in PROTECTED_LABELS:
                labels[k] = v


def make_session(config: Any) -> Any:
    """An authorized HTTP session for the Container API with the plugin's credentials."""
    import google.auth
    from google.auth.transport.requests import AuthorizedSession

    scopes = ["https://www.googleapis.com/auth/cloud-platform"]
    if config.anonymous_credentials:
        from google.auth.credentials import AnonymousCredentials

        creds: Any = AnonymousCredentials()
    elif config.credentials_file:
        from .reader import load_credentials

        creds = load_credentials(config.credentials_file, scopes)
    else:
        creds, _ = google.auth.default(scopes=scopes)
    return AuthorizedSession(creds)
