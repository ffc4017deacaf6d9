"""Cloud Audit ``LogEntry`` (JSON, as entries.list returns it) → Kubernetes audit Event
(plugins.md §4.4). Every upstream quirk is kept unless the README says otherwise; entries that
are not GKE audit entries are refused with a reason the caller counts.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pyfalco_k8saudit import parse_rfc3339_ns

AUDIT_LOG_TYPE = "type.googleapis.com/google.cloud.audit.AuditLog"
AUDIT_LOG_SUFFIXES = (
    "cloudaudit.googleapis.com%2Factivity",
    "cloudaudit.googleapis.com%2Fdata_access",
)

#: google.rpc.Code → HTTP status, for ``use_status`` (the mapping of google.rpc's docs).
RPC_TO_HTTP = {
    0: 200, 1: 499, 2: 500, 3: 400, 4: 504, 5: 404, 6: 409, 7: 403, 8: 429, 9: 400, 10: 409,
    11: 400, 12: 501, 13: 500, 14: 503, 15: 500, 16: 401,
}


class Rejected(Exception):
    """The entry cannot become an audit event. ``reason`` is the counter it goes to."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def parse_object_ref(resource_name: str) -> dict[str, str] | None:
    """``core/v1/namespaces/default/pods/nginx/exec`` → objectRef (the §4.4 table)."""
    if not resource_name:
        return None
    p = resource_name.split("/")
    n = len(p)
    if n < 4:
        return None
    ref = {"apiGroup": p[0], "apiVersion": p[1]}
    if p[2] == "namespaces" and n >= 5:
        ref["namespace"] = p[3]
        ref["resource"] = p[4]
        if n >= 6:
            ref["name"] = p[5]
        if n >= 7:
            ref["subresource"] = p[6]
    elif n == 4:
        ref["resource"] = p[2]
        ref["name"] = p[3]
    else:
        ref["resource"] = p[2]
        ref["name"] = p[3]
        ref["subresource"] = p[4]
    return ref


def _micro_time(ns: int) -> str:
    """k8s MicroTime: RFC 3339 UTC with exactly six fraction digits."""
    secs, rem = divmod(ns, 1_000_000_000)
    return datetime.fromtimestamp(secs, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{rem // 1000:06d}Z"


def _failed(insert_id: str) -> str:
    return f"failed to process log entry (insertId={insert_id})"


def check_entry(entry: Any) -> dict[str, Any]:
    """The entry's protoPayload if it is a GKE Kubernetes audit entry, else :class:`Rejected`."""
    if type(entry) is not dict:
        raise Rejected("malformed", "log entry is not a JSON object")
    insert_id = entry.get("insertId", "?")
    log_name = entry.get("logName")
    resource = entry.get("resource")
    if (
        type(log_name) is not str
        or not log_name.endswith(AUDIT_LOG_SUFFIXES)
        or type(resource) is not dict
        or resource.get("type") != "k8s_cluster"
    ):
        raise Rejected("unrecognized", f"dropped unrecognised log entry (insertId={insert_id})")
    payload = entry.get("protoPayload")
    if type(payload) is not dict or payload.get("@type") != AUDIT_LOG_TYPE:
        kind = payload.get("@type") if type(payload) is dict else type(payload).__name__
        raise Rejected("unrecognized", f"unsupported payload type: {kind}")
    if payload.get("serviceName") != "k8s.io":
        raise Rejected(
            "unrecognized",
            f"dropped log entry with unrecognised service name {payload.get('serviceName')!r} "
            f"(insertId={insert_id})",
        )
    return payload


def to_audit_event(
    entry: dict[str, Any], *, use_status: bool = False
) -> tuple[dict[str, Any], int]:
    """The audit Event object of a GKE audit LogEntry and its timestamp (ns,
    ``receiveTimestamp``). Raises :class:`Rejected`."""
    payload = check_entry(entry)
    insert_id = entry.get("insertId")
    if type(insert_id) is not str or not insert_id:
        raise Rejected("malformed", "log entry without insertId")
    try:
        ts = parse_rfc3339_ns(entry["receiveTimestamp"])
    except (KeyError, TypeError, ValueError) as exc:
        raise Rejected("malformed", f"{_failed(insert_id)}: bad receiveTimestamp: {exc}") from None
    method = payload.get("methodName")
    if type(method) is not str or not method:
        raise Rejected("malformed", f"{_failed(insert_id)}: no methodName")
    resource_name = payload.get("resourceName")
    if resource_name is not None and type(resource_name) is not str:
        raise Rejected("malformed", f"{_failed(insert_id)}: bad resourceName")
    resource_name = resource_name or ""
    verb = method.rsplit(".", 1)[-1]
    ref = parse_object_ref(resource_name)
    streaming = ref is not None and ref.get("subresource") in ("attach", "exec")

    if streaming:
        status: dict[str, Any] = {"code": 101, "status": "Switching Protocols (inferred)",
                                  "message": "Switching Protocols (inferred)"}
    elif verb == "create":
        status = {"code": 201, "status": "Created (inferred)", "message": "Created (inferred)"}
    else:
        status = {"code": 200, "status": "OK (inferred)", "message": "OK (inferred)"}
    rpc = payload.get("status")
    if use_status and type(rpc) is dict and type(rpc.get("code")) is int and rpc["code"] != 0:
        status = {"code": RPC_TO_HTTP.get(rpc["code"], 500), "status": "Failure",
                  "message": str(rpc.get("message", ""))}

    auth = payload.get("authenticationInfo")
    meta = payload.get("requestMetadata")
    auth = auth if type(auth) is dict else {}
    meta = meta if type(meta) is dict else {}
    annotations: dict[str, Any] = {}
    for labels in (entry.get("labels"), entry["resource"].get("labels")):
        if type(labels) is dict:
            annotations.update(labels)  # resource labels win: applied last

    stamp = _micro_time(ts)
    event: dict[str, Any] = {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "Request" if streaming else "RequestResponse",
        "auditID": insert_id,
        "stage": "ResponseStarted" if streaming else "ResponseComplete",
        "requestURI": "/" + resource_name,
        "verb": verb,
        "user": {"username": auth.get("principalEmail", "")},
        "sourceIPs": [meta.get("callerIp", "")],
        "userAgent": meta.get("callerSuppliedUserAgent", ""),
        "responseStatus": status,
    }
    if ref is not None:
        event["objectRef"] = ref
    if "request" in payload:
        event["requestObject"] = payload["request"]
    if "response" in payload:
        event["responseObject"] = payload["response"]
    event["requestReceivedTimestamp"] = stamp
    event["stageTimestamp"] = stamp
    event["annotations"] = annotations
    return event, ts
