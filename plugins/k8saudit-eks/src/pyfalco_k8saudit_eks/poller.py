"""CloudWatch Logs poller for EKS audit logs (plugins.md §3.2).

One poll = FilterLogEvents on ``/aws/eks/<cluster>/cluster`` with the stream prefix
``kube-apiserver-audit`` from the cursor (inclusive) to now, following ``nextToken`` to the end.
After a complete poll the cursor moves to the greatest timestamp seen.

Exactly once across polls: upstream re-emits the events of the boundary millisecond (its cursor is
inclusive). We remember the ids of every record emitted at or after the cursor and skip them when
they come back; after a complete poll only the ids at the new cursor millisecond are kept. The
key is (stream, eventId): AWS's eventId is unique in the group, moto's only per stream. A poll
that fails half way leaves the cursor where it was, and the remembered ids make its retry emit
only what the failed attempt had not.
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import EksConfig

log = logging.getLogger("pyfalco.k8saudit-eks")

STREAM_PREFIX = "kube-apiserver-audit"
TRUNCATED_SUFFIX = "[Truncated...]"
_AUDIT_ID = re.compile(r'"auditID":[ a-z0-9-"]+')

#: Error codes a retry can fix: AWS throttling and transient service errors.
THROTTLING_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "LimitExceededException",
        "ServiceUnavailableException",
        "ServiceUnavailable",
        "RequestThrottled",
        "SlowDown",
        "InternalFailure",
    }
)


def log_group_of(cluster: str) -> str:
    return f"/aws/eks/{cluster}/cluster"


class PollError(Exception):
    """A poll failed for good (after its retries); ``str()`` is the user-facing message."""


@dataclass(frozen=True)
class Record:
    """One CloudWatch record that passed the truncation check."""

    stream: str
    event_id: str
    timestamp_ms: int
    message: str


@dataclass
class PollStats:
    polls: int = 0
    records: int = 0
    duplicates_skipped: int = 0
    truncated: int = 0
    other_streams: int = 0
    throttled: int = 0
    connection_errors: int = 0
    errors: int = 0


@dataclass
class Cursor:
    """Where the next poll starts, and the records already emitted from that millisecond on."""

    start_ms: int
    seen: dict[tuple[str, str], int] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps({"start_ms": self.start_ms,
                           "seen": [[st, eid, ts] for (st, eid), ts in self.seen.items()]})

    @classmethod
    def from_json(cls, text: str) -> Cursor:
        obj = json.loads(text)
        start = obj["start_ms"]
        if not isinstance(start, int):
            raise ValueError("'start_ms' must be an integer")
        seen: dict[tuple[str, str], int] = {}
        for item in obj.get("seen", []):
            stream, eid, ts = item
            if not (isinstance(stream, str) and isinstance(eid, str) and isinstance(ts, int)):
                raise ValueError(f"bad 'seen' entry {item!r}")
            seen[(stream, eid)] = ts
        return cls(start, seen)

    def advance(self, lookback_ms: int = 0) -> None:
        """After a complete poll: start at the greatest timestamp emitted (minus the lookback),
        forget older ids."""
        if self.seen:
            self.start_ms = max(self.start_ms, max(self.seen.values()) - lookback_ms)
            self.seen = {k: ts for k, ts in self.seen.items() if ts >= self.start_ms}


class CloudWatchPoller:
    """Polls one cluster's audit streams; ``poll()`` yields each new record once."""

    def __init__(
        self,
        client: Any,
        cluster: str,
        config: EksConfig,
        *,
        now_ms: Callable[[], int] | None = None,
        sleep: Callable[[float], bool] | None = None,
    ) -> None:
        if not cluster:
            raise ValueError("cluster name can't be empty")
        self.client = client
        self.cluster = cluster
        self.log_group = log_group_of(cluster)
        self.config = config
        self.stats = PollStats()
        self._now_ms = now_ms or (lambda: int(time.time() * 1000))
        #: ``sleep(seconds) -> stop requested`` (an Event's wait in the source thread).
        self._sleep = sleep or (lambda s: bool(time.sleep(s)))
        self.cursor = Cursor(start_ms=self._now_ms() - config.shift_s * 1000)
        if config.state_file and os.path.exists(config.state_file):
            try:
                self.cursor = Cursor.from_json(Path(config.state_file).read_text())
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise PollError(f"cannot read state_file {config.state_file}: {exc}") from None

    def save_state(self) -> None:
        """Write the cursor to ``state_file`` (atomically) so a restart resumes exactly."""
        path = self.config.state_file
        if path:
            tmp = f"{path}.tmp"
            Path(tmp).write_text(self.cursor.to_json())
            os.replace(tmp, path)

    # -- one poll ---------------------------------------------------------------------------

    def poll(self) -> Iterator[Record]:
        """Every record not yet emitted from the cursor to now; moves the cursor at the end.

        Raises :class:`PollError` when a page cannot be fetched within the retry budget; what
        was yielded before stays emitted and the next poll resumes without duplicates.
        """
        self.stats.polls += 1
        params: dict[str, Any] = {
            "logGroupName": self.log_group,
            "logStreamNamePrefix": STREAM_PREFIX,
            "startTime": self.cursor.start_ms,
        }
        seen = self.cursor.seen
        while True:
            page = self._fetch_page(params)
            for ev in page.get("events", ()):
                key = (ev.get("logStreamName", ""), str(ev.get("eventId", "")))
                ts = int(ev.get("timestamp", 0))
                if key in seen:
                    self.stats.duplicates_skipped += 1
                    continue
                seen[key] = ts
                if not key[0].startswith(STREAM_PREFIX):
                    # The service filters on the prefix; this guards endpoints that do not
                    # (moto ignores logStreamNamePrefix), so only audit records are parsed.
                    self.stats.other_streams += 1
                    continue
                message = ev.get("message", "")
                if message.rstrip().endswith(TRUNCATED_SUFFIX):
                    self.stats.truncated += 1
                    m = _AUDIT_ID.search(message)
                    log.warning(
                        "truncated log line, can't be parsed%s",
                        f" ({m.group(0)})" if m else "",
                    )
                    continue
                self.stats.records += 1
                yield Record(key[0], key[1], ts, message)
            token = page.get("nextToken")
            if not token or token == params.get("nextToken"):
                break
            params["nextToken"] = token
        self.cursor.advance(int(self.config.lookback_s * 1000))

    def _fetch_page(self, params: dict[str, Any]) -> dict[str, Any]:
        """One FilterLogEvents call, retried with exponential backoff when throttled or when the
        endpoint cannot be reached; other errors are final."""
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            NoCredentialsError,
            NoRegionError,
            PartialCredentialsError,
        )
        from botocore.exceptions import (
            ConnectionError as BotoConnectionError,
        )

        attempt = 0
        while True:
            try:
                return self.client.filter_log_events(**params)
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                if code not in THROTTLING_CODES:
                    raise PollError(self._describe(code, exc)) from exc
                self.stats.throttled += 1
                why = f"throttled ({code})"
            except BotoConnectionError as exc:
                self.stats.connection_errors += 1
                why = f"cannot reach CloudWatch Logs: {exc}"
            except (NoCredentialsError, PartialCredentialsError) as exc:
                raise PollError(
                    f"no usable AWS credentials for CloudWatch Logs ({exc}); configure the "
                    "standard chain (environment, shared files with 'profile', web identity, "
                    "instance metadata)"
                ) from exc
            except NoRegionError as exc:
                raise PollError(
                    "no AWS region: set 'region' in init_config or AWS_REGION"
                ) from exc
            except BotoCoreError as exc:
                raise PollError(f"CloudWatch Logs request failed: {exc}") from exc
            if attempt >= self.config.max_retries:
                raise PollError(
                    f"FilterLogEvents on log group '{self.log_group}' failed after "
                    f"{attempt + 1} attempts: {why}"
                )
            delay = min(self.config.max_backoff_s, self.config.min_backoff_s * 2**attempt)
            delay *= random.uniform(0.5, 1.0)  # jitter: several pollers do not retry in step
            log.info("k8saudit-eks: %s; retrying in %.2fs", why, delay)
            attempt += 1
            if self._sleep(delay):
                raise PollError("stopped while retrying")

    def _describe(self, code: str, exc: Exception) -> str:
        msg = getattr(exc, "response", {}).get("Error", {}).get("Message", "") or str(exc)
        if code == "ResourceNotFoundException":
            return (
                f"log group '{self.log_group}' not found ({msg}); check the cluster name "
                f"'{self.cluster}', the region, and that the EKS control plane logs 'audit' "
                "to CloudWatch"
            )
        if code in ("AccessDeniedException", "AccessDenied", "UnrecognizedClientException"):
            return (
                f"access denied to log group '{self.log_group}' ({code}: {msg}); the "
                "credentials need logs:FilterLogEvents on it"
            )
        return f"FilterLogEvents on log group '{self.log_group}' failed ({code}: {msg})"


def make_client(config: EksConfig) -> Any:
    """A CloudWatch Logs client from boto3's standard credential chain. botocore's own retries
    are off: :class:`CloudWatchPoller` retries (and counts) throttling itself."""
    import boto3
    from botocore.config import Config

    session = boto3.Session(
        profile_name=config.profile or None, region_name=config.region or None
    )
    return session.client(
        "logs",
        endpoint_url=config.endpoint_url or None,
        config=Config(
            retries={"total_max_attempts": 1, "mode": "standard"},
            connect_timeout=5,
            read_timeout=30,
        ),
    )


class PollerThread:
    """Runs polls every ``polling_interval`` in a daemon thread and hands records to
    ``deliver`` (which blocks when the engine is behind: backpressure, never a drop)."""

    def __init__(self, poller: CloudWatchPoller, deliver: Callable[[Record], bool]) -> None:
        self.poller = poller
        self.deliver = deliver
        self.stop_event = threading.Event()
        self.error: str | None = None
        self.done = threading.Event()
        poller._sleep = self.stop_event.wait
        self.thread = threading.Thread(
            target=self._run, name=f"k8saudit-eks:{poller.cluster}", daemon=True
        )

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(timeout=10)
        try:
            self.poller.save_state()
        except OSError as exc:
            log.error("k8saudit-eks: cannot write state_file: %s", exc)

    def _run(self) -> None:
        cfg = self.poller.config
        failures = 0
        try:
            while not self.stop_event.is_set():
                try:
                    for rec in self.poller.poll():
                        if not self.deliver(rec):
                            return
                    self.poller.save_state()
                    failures = 0
                    wait = cfg.polling_interval_s
                except PollError as exc:
                    if self.stop_event.is_set():
                        return
                    self.poller.stats.errors += 1
                    if cfg.on_error != "retry":
                        self.error = str(exc)
                        return
                    failures += 1
                    wait = min(60.0, cfg.polling_interval_s * 2 ** min(failures - 1, 6))
                    log.error("k8saudit-eks: %s; polling again in %.1fs", exc, wait)
                if self.stop_event.wait(wait):
                    return
        except Exception as exc:  # a bug must end the source with a message, not kill silently
            log.exception("k8saudit-eks poller crashed")
            self.error = f"poller crashed: {type(exc).__name__}: {exc}"
        finally:
            self.done.set()
