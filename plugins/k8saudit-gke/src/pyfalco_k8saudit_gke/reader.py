"""Polling Cloud Logging's ``entries.list`` for GKE audit entries (plugins.md §4.8).

One poll lists, oldest first, every entry matching the GKE audit filter with
``timestamp >= cursor`` and follows the page tokens to the end; the cursor then moves to the
greatest timestamp seen (minus ``lookback``). Exactly once: the insertIds of entries emitted at or
after the cursor are remembered and skipped when listed again (the inclusive bound, a
``lookback`` window, a retried page). A page that fails with 429/503/5xx or a connection error is
retried with exponential backoff from its own page token, so earlier pages are not listed again.

Entries are taken as the JSON the API returns (google-cloud-logging's authenticated connection
and its page iterator, without its LogEntry classes): that is the same LogEntry JSON upstream
receives from Pub/Sub, and one unparsable entry cannot fail a whole page.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pyfalco_k8saudit import parse_rfc3339_ns

from .config import GkeConfig

log = logging.getLogger("pyfalco.k8saudit-gke")

BASE_FILTER = (
    'resource.type="k8s_cluster" AND protoPayload.serviceName="k8s.io" AND '
    '(logName:"cloudaudit.googleapis.com%2Factivity" OR '
    'logName:"cloudaudit.googleapis.com%2Fdata_access")'
)


class ReadError(Exception):
    """A poll failed for good (after its retries); ``str()`` is the user-facing message."""


@dataclass(frozen=True)
class Target:
    """What open_params select: a project, optionally one location and one cluster."""

    project: str
    location: str = ""
    cluster: str = ""

    @classmethod
    def parse(cls, text: str, default_project: str = "") -> Target:
        """``PROJECT[/LOCATION[/CLUSTER]]`` or ``projects/P[/locations/L[/clusters/C]]``;
        ``-`` as location means any. Empty = ``project_id`` of init_config."""
        text = text.strip().strip("/")
        parts = text.split("/") if text else []
        if parts and parts[0] == "projects":
            keys = parts[0::2]
            if keys != ["projects", "locations", "clusters"][: len(keys)] or len(parts) % 2:
                raise ValueError(
                    f"invalid open_params '{text}': expected "
                    "projects/P[/locations/L[/clusters/C]]"
                )
            parts = parts[1::2]
        if len(parts) > 3 or any(not p for p in parts):
            raise ValueError(
                f"invalid open_params '{text}': expected PROJECT[/LOCATION[/CLUSTER]]"
            )
        project = parts[0] if parts else default_project
        if not project:
            raise ValueError("no project: give it in open_params or as project_id in init_config")
        location = parts[1] if len(parts) > 1 and parts[1] != "-" else ""
        cluster = parts[2] if len(parts) > 2 else ""
        return cls(project, location, cluster)

    def filter(self) -> str:
        f = BASE_FILTER
        if self.cluster:
            f += f' AND resource.labels.cluster_name="{self.cluster}"'
        if self.location:
            f += f' AND resource.labels.location="{self.location}"'
        return f


def format_rfc3339_ns(ns: int) -> str:
    secs, rem = divmod(ns, 1_000_000_000)
    return datetime.fromtimestamp(secs, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{rem:09d}Z"


@dataclass
class ReadStats:
    polls: int = 0
    entries: int = 0
    duplicates_skipped: int = 0
    malformed_timestamp: int = 0
    throttled: int = 0
    unavailable: int = 0
    connection_errors: int = 0
    errors: int = 0


@dataclass
class Cursor:
    """Where the next poll starts (ns) and the insertIds already emitted from there on."""

    start_ns: int
    seen: dict[str, int] = field(default_factory=dict)

    def advance(self, lookback_ns: int) -> None:
        if self.seen:
            self.start_ns = max(self.start_ns, max(self.seen.values()) - lookback_ns)
            self.seen = {k: ts for k, ts in self.seen.items() if ts >= self.start_ns}

    def to_json(self) -> str:
        return json.dumps({"start": format_rfc3339_ns(self.start_ns), "seen": self.seen})

    @classmethod
    def from_json(cls, text: str) -> Cursor:
        obj = json.loads(text)
        seen = obj.get("seen", {})
        if not isinstance(seen, dict) or not all(isinstance(v, int) for v in seen.values()):
            raise ValueError("'seen' must map insertIds to timestamps")
        return cls(parse_rfc3339_ns(obj["start"]), {str(k): v for k, v in seen.items()})


def load_credentials(path: str, scopes: list[str]) -> Any:
    """Credentials from ``credentials_file``: a service-account key through its own loader, any
    other kind (external account, authorized user) through google.auth's generic one."""
    try:
        with open(path) as f:
            kind = json.load(f).get("type")
    except (OSError, ValueError, AttributeError) as exc:
        raise ValueError(f"cannot read credentials_file {path}: {exc}") from None
    if kind == "service_account":
        from google.oauth2 import service_account

        return service_account.Credentials.from_service_account_file(path, scopes=scopes)
    import google.auth

    creds, _ = google.auth.load_credentials_from_file(path, scopes=scopes)
    return creds


def make_client(config: GkeConfig, project: str) -> Any:
    """A google-cloud-logging client on its REST transport (the entries come back as JSON)."""
    from google.cloud import logging as gcl

    kwargs: dict[str, Any] = {"project": project, "_use_grpc": False}
    if config.anonymous_credentials:
        from google.auth.credentials import AnonymousCredentials

        kwargs["credentials"] = AnonymousCredentials()
    elif config.credentials_file:
        kwargs["credentials"] = load_credentials(
            config.credentials_file, ["https://www.googleapis.com/auth/logging.read"])
    if config.api_endpoint:
        kwargs["client_options"] = {"api_endpoint": config.api_endpoint}
    return gcl.Client(**kwargs)


class LoggingReader:
    """Polls entries.list for one :class:`Target`; ``poll()`` yields each entry once."""

    def __init__(
        self,
        client: Any,
        target: Target,
        config: GkeConfig,
        *,
        now_ns: Callable[[], int] | None = None,
        sleep: Callable[[float], bool] | None = None,
    ) -> None:
        self.client = client
        self.target = target
        self.config = config
        self.stats = ReadStats()
        self._sleep = sleep or (lambda s: bool(time.sleep(s)))
        now = (now_ns or time.time_ns)()
        self.cursor = Cursor(start_ns=now - int(config.shift_s * 1e9))
        if config.state_file and os.path.exists(config.state_file):
            try:
                self.cursor = Cursor.from_json(Path(config.state_file).read_text())
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise ReadError(f"cannot read state_file {config.state_file}: {exc}") from None

    def save_state(self) -> None:
        """Write the cursor to ``state_file`` (atomically) so a restart resumes exactly."""
        path = self.config.state_file
        if not path:
            return
        tmp = f"{path}.tmp"
        Path(tmp).write_text(self.cursor.to_json())
        os.replace(tmp, path)

    def poll(self) -> Iterator[dict[str, Any]]:
        self.stats.polls += 1
        params: dict[str, Any] = {
            "resourceNames": [f"projects/{self.target.project}"],
            "filter": f'{self.target.filter()} AND '
            f'timestamp>="{format_rfc3339_ns(self.cursor.start_ns)}"',
            "orderBy": "timestamp asc",
            "pageSize": self.config.page_size,
        }
        seen = self.cursor.seen
        token: str | None = None
        while True:
            page, token = self._fetch_page(params, token)
            for entry in page:
                if type(entry) is not dict:
                    yield entry  # the converter counts it as malformed
                    continue
                stamp = entry.get("timestamp")
                try:
                    ts = parse_rfc3339_ns(stamp) if type(stamp) is str else None
                except ValueError:
                    ts = None
                if ts is None:
                    # Cannot be placed in time: hand it on so the converter counts it as
                    # malformed; it has no effect on the cursor.
                    self.stats.malformed_timestamp += 1
                    yield entry
                    continue
                insert_id = entry.get("insertId")
                if type(insert_id) is not str or not insert_id:
                    # Still de-duplicated (by content) so it is counted once, not every poll.
                    insert_id = "sha1:" + hashlib.sha1(
                        json.dumps(entry, sort_keys=True).encode()).hexdigest()
                if insert_id in seen:
                    self.stats.duplicates_skipped += 1
                    continue
                seen[insert_id] = ts
                self.stats.entries += 1
                yield entry
            if not token:
                break
        self.cursor.advance(int(self.config.lookback_s * 1e9))

    def _fetch_page(
        self, params: dict[str, Any], token: str | None
    ) -> tuple[list[Any], str | None]:
        """One entries.list call with retries; returns (entries, next page token)."""
        from google.api_core import exceptions as gexc
        from google.api_core import page_iterator
        from requests import exceptions as rexc

        attempt = 0
        while True:
            it = page_iterator.HTTPIterator(
                client=self.client,
                api_request=self.client._connection.api_request,
                path="/entries:list",
                item_to_value=lambda _it, item: item,
                items_key="entries",
                page_token=token,
                extra_params=dict(params),
            )
            it._HTTP_METHOD = "POST"  # entries.list is a POST, as the library itself sets it
            try:
                page = next(it.pages, None)
                return (list(page) if page is not None else []), it.next_page_token
            except gexc.TooManyRequests as exc:
                self.stats.throttled += 1
                why = f"quota exceeded (429): {exc.message}"
            except (gexc.ServiceUnavailable, gexc.InternalServerError, gexc.GatewayTimeout) as exc:
                self.stats.unavailable += 1
                why = f"service unavailable ({exc.code}): {exc.message}"
            except (rexc.ConnectionError, rexc.Timeout) as exc:
                self.stats.connection_errors += 1
                why = f"cannot reach Cloud Logging: {exc}"
            except gexc.GoogleAPICallError as exc:
                raise ReadError(self._describe(exc)) from exc
            except Exception as exc:  # google.auth errors (expired or missing credentials), ...
                raise ReadError(f"entries.list failed: {type(exc).__name__}: {exc}") from exc
            if attempt >= self.config.max_retries:
                raise ReadError(
                    f"entries.list for project '{self.target.project}' failed after "
                    f"{attempt + 1} attempts: {why}"
                )
            delay = min(self.config.max_backoff_s, self.config.min_backoff_s * 2**attempt)
            delay *= random.uniform(0.5, 1.0)
            log.info("k8saudit-gke: %s; retrying in %.2fs", why, delay)
            attempt += 1
            if self._sleep(delay):
                raise ReadError("stopped while retrying")

    def _describe(self, exc: Any) -> str:
        code = getattr(exc, "code", "?")
        project = self.target.project
        if code == 403:
            return (
                f"permission denied reading logs of project '{project}' ({exc.message}); the "
                "credentials need roles/logging.viewer (and roles/logging.privateLogViewer for "
                "Data Access audit logs)"
            )
        if code == 401:
            return f"credentials refused by Cloud Logging ({exc.message})"
        if code == 404:
            return f"project '{project}' not found by Cloud Logging ({exc.message})"
        if code == 400:
            return f"Cloud Logging refused the query ({exc.message})"
        return f"entries.list for project '{project}' failed ({code}: {exc.message})"
