"""Test stand-ins for Google's side: a loopback server implementing Cloud Logging's
``entries:list`` (v2 REST) and the Container API's ``clusters.get``, and LogEntries shaped like
real GKE audit logs.

The server follows the API reference: POST body ``resourceNames``/``filter``/``orderBy``/
``pageSize``/``pageToken``; entries of the named projects only; the advanced-filter subset GKE
readers use (AND/OR/NOT/-, implicit AND, parentheses, ``= != : > >= < <= =~ !~`` on dotted
fields, timestamps compared as times); order by ``timestamp`` then ``insertId``; ``pageSize``
default 50, capped at 1000; opaque page tokens bound to their query; errors as Google JSON errors
(``{"error": {"code", "message", "status"}}``). Faults (429/503) are injected per request.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import re
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from pyfalco_k8saudit import parse_rfc3339_ns

STATUS_NAMES = {400: "INVALID_ARGUMENT", 404: "NOT_FOUND", 403: "PERMISSION_DENIED",
                429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}
TIME_FIELDS = {"timestamp", "receiveTimestamp"}


# -- the advanced filter subset ---------------------------------------------------------------

class FilterError(ValueError):
    pass


_TOKEN = re.compile(
    r'\s*(?:(\()|(\))|("(?:[^"\\]|\\.)*")|(>=|<=|!=|=~|!~|[=:<>])|([^\s()"=:<>!]+))'
)


def _tokenize(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise FilterError(f"unparsable filter at column {pos + 1}")
        pos = m.end()
        lp, rp, s, op, word = m.groups()
        if lp:
            out.append(("(", lp))
        elif rp:
            out.append((")", rp))
        elif s is not None:
            out.append(("str", json.loads(s)))
        elif op:
            out.append(("op", op))
        else:
            out.append(("word", word))
    return out


def parse_filter(text: str):
    toks = _tokenize(text)
    pos = 0

    def peek():
        return toks[pos] if pos < len(toks) else ("end", "")

    def take():
        nonlocal pos
        pos += 1
        return toks[pos - 1]

    def or_expr():
        terms = [and_expr()]
        while peek() == ("word", "OR"):
            take()
            terms.append(and_expr())
        return lambda e: any(t(e) for t in terms)

    def and_expr():
        terms = [not_expr()]
        while peek()[0] in ("word", "(", "str") and peek()[1] != "OR":
            if peek() == ("word", "AND"):
                take()
            terms.append(not_expr())
        return lambda e: all(t(e) for t in terms)

    def not_expr():
        k, v = peek()
        if (k, v) == ("word", "NOT"):
            take()
            inner = not_expr()
            return lambda e: not inner(e)
        if k == "word" and v.startswith("-") and len(v) > 1:
            toks[pos] = ("word", v[1:])
            inner = not_expr()
            return lambda e: not inner(e)
        return primary()

    def primary():
        k, v = take()
        if k == "(":
            inner = or_expr()
            if take()[0] != ")":
                raise FilterError("missing )")
            return inner
        if k != "word":
            raise FilterError(f"expected a field, got {v!r}")
        path = v
        k2, op = take()
        if k2 != "op":
            raise FilterError(f"expected an operator after {path}")
        k3, value = take()
        if k3 not in ("str", "word"):
            raise FilterError(f"expected a value after {path}{op}")
        return comparison(path, op, value)

    expr = or_expr()
    if pos != len(toks):
        raise FilterError(f"unexpected {toks[pos][1]!r}")
    return expr


def _lookup(entry: dict[str, Any], path: str) -> Any:
    cur: Any = entry
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


def comparison(path: str, op: str, value: str):
    if path in TIME_FIELDS and op in ("=", "!=", ">", ">=", "<", "<="):
        try:
            bound = parse_rfc3339_ns(value)
        except ValueError:
            raise FilterError(f"invalid timestamp {value!r}") from None

        def cmp_time(e):
            v = _lookup(e, path)
            if not isinstance(v, str):
                return False
            try:
                t = parse_rfc3339_ns(v)
            except ValueError:
                return False
            return {"=": t == bound, "!=": t != bound, ">": t > bound, ">=": t >= bound,
                    "<": t < bound, "<=": t <= bound}[op]
        return cmp_time

    def cmp(e):
        v = _lookup(e, path)
        if v is None:
            return op == "!=" or op == "!~"
        s = v if isinstance(v, str) else json.dumps(v)
        if op == "=":
            return s == value
        if op == "!=":
            return s != value
        if op == ":":
            return value.lower() in s.lower()
        if op == "=~":
            return re.search(value, s) is not None
        if op == "!~":
            return re.search(value, s) is None
        return {">": s > value, ">=": s >= value, "<": s < value, "<=": s <= value}[op]
    return cmp


# -- the server -----------------------------------------------------------------------------

class LoggingServer:
    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []
        self.clusters: dict[str, dict[str, Any]] = {}
        self.faults: list[int] = []
        self.requests: list[dict[str, Any]] = []
        self.cluster_gets = 0
        self.lock = threading.Lock()
        self._http: ThreadingHTTPServer | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def add(self, *entries: dict[str, Any]) -> None:
        with self.lock:
            self.entries.extend(entries)

    def start(self) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _reply(self, status: int, obj: Any) -> None:
                data = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _error(self, status: int, message: str) -> None:
                self._reply(status, {"error": {"code": status, "message": message,
                                               "status": STATUS_NAMES.get(status, "UNKNOWN")}})

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path.split("?")[0] != "/v2/entries:list":
                    return self._error(404, f"no such method {self.path}")
                try:
                    req = json.loads(body or b"{}")
                except ValueError:
                    return self._error(400, "Invalid JSON payload received.")
                with server.lock:
                    server.requests.append(req)
                    fault = server.faults.pop(0) if server.faults else None
                if fault == 429:
                    return self._error(429, "Quota exceeded for quota metric 'Read requests' "
                                       "and limit 'Read requests per minute'")
                if fault:
                    return self._error(fault, "The service is currently unavailable.")
                status, obj = server.list_entries(req)
                self._reply(status, obj)

            def do_GET(self):
                m = re.fullmatch(r"/v1/(projects/[^/]+/locations/[^/]+/clusters/[^/?]+)",
                                 self.path.split("?")[0])
                with server.lock:
                    server.cluster_gets += 1
                if not m or m.group(1) not in server.clusters:
                    return self._error(404, f"Not found: {self.path}")
                self._reply(200, server.clusters[m.group(1)])

        self._http = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._http.daemon_threads = True
        self.port = self._http.server_address[1]
        threading.Thread(target=self._http.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._http:
            self._http.shutdown()
            self._http.server_close()
            self._http = None

    def list_entries(self, req: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        names = req.get("resourceNames")
        if not isinstance(names, list) or not names:
            return 400, _err(400, "resourceNames is required")
        projects = []
        for n in names:
            if not (isinstance(n, str) and n.startswith("projects/")):
                return 400, _err(400, f"unsupported resource name {n!r}")
            projects.append(n.split("/", 1)[1])
        try:
            match = parse_filter(req.get("filter", "")) if req.get("filter") else (lambda e: True)
        except FilterError as exc:
            return 400, _err(400, f"Invalid query: {exc}")
        order = req.get("orderBy", "timestamp asc")
        if order not in ("timestamp asc", "timestamp desc"):
            return 400, _err(400, f"invalid orderBy {order!r}")
        size = req.get("pageSize") or 50
        size = min(int(size), 1000)
        query_id = hashlib.sha1(json.dumps([names, req.get("filter"), order]).encode()).hexdigest()
        after = None
        if req.get("pageToken"):
            try:
                tok = json.loads(base64.urlsafe_b64decode(req["pageToken"]))
                assert tok["q"] == query_id
                after = tuple(tok["after"])
            except Exception:
                return 400, _err(400, "Invalid page token")
        with self.lock:
            candidates = list(self.entries)
        selected = []
        for e in candidates:
            ln = e.get("logName", "")
            if not any(ln.startswith(f"projects/{p}/") for p in projects):
                continue
            try:
                key = (parse_rfc3339_ns(e["timestamp"]), e.get("insertId", ""))
            except (KeyError, TypeError, ValueError):
                continue  # the real service never stores an entry without a timestamp
            if match(e):
                selected.append((key, e))
        selected.sort(key=lambda x: x[0], reverse=order.endswith("desc"))
        if after is not None:
            if order.endswith("desc"):
                selected = [s for s in selected if s[0] < after]
            else:
                selected = [s for s in selected if s[0] > after]
        page = selected[:size]
        out: dict[str, Any] = {}
        if page:
            out["entries"] = [e for _, e in page]
        if len(selected) > size:
            tok = {"q": query_id, "after": list(page[-1][0])}
            out["nextPageToken"] = base64.urlsafe_b64encode(json.dumps(tok).encode()).decode()
        return 200, out


def _err(code: int, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "status": STATUS_NAMES.get(code, "")}}


# -- GKE audit LogEntries -------------------------------------------------------------------

_ids = itertools.count(1)


def rfc3339(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


def gke_entry(
    method: str,
    resource_name: str,
    *,
    when: datetime,
    user: str = "alice@example.com",
    request: dict[str, Any] | None = None,
    response: dict[str, Any] | None = None,
    project: str = "proj-1",
    cluster: str = "prod",
    location: str = "europe-west1",
    log: str = "activity",
    insert_id: str | None = None,
    status: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A LogEntry as Cloud Logging returns GKE audit logs (REST JSON, camelCase)."""
    payload: dict[str, Any] = {
        "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
        "authenticationInfo": {"principalEmail": user},
        "authorizationInfo": [{"granted": True, "permission": method,
                               "resource": resource_name}],
        "methodName": method,
        "requestMetadata": {"callerIp": "203.0.113.7",
                            "callerSuppliedUserAgent": "kubectl/v1.29.2 (linux/amd64)"},
        "resourceName": resource_name,
        "serviceName": "k8s.io",
        "status": status or {},
    }
    if request is not None:
        payload["request"] = request
    if response is not None:
        payload["response"] = response
    return {
        "protoPayload": payload,
        "insertId": insert_id or f"{next(_ids):08x}-6b2c-4a2e-9d1f-{when.microsecond:012d}",
        "resource": {"type": "k8s_cluster",
                     "labels": {"project_id": project, "location": location,
                                "cluster_name": cluster}},
        "timestamp": rfc3339(when),
        "severity": "NOTICE",
        "labels": {"authorization.k8s.io/decision": "allow",
                   "authorization.k8s.io/reason": "access granted by IAM permissions."},
        "logName": f"projects/{project}/logs/cloudaudit.googleapis.com%2F{log}",
        "operation": {"id": "op", "producer": "k8s.io", "first": True, "last": True},
        "receiveTimestamp": rfc3339(when + timedelta(milliseconds=350)),
    }


def privileged_pod_create(when: datetime, **kw) -> dict[str, Any]:
    pod = {
        "@type": "core.k8s.io/v1.Pod",
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "priv", "namespace": "default"},
        "spec": {"containers": [{"name": "c", "image": "docker.io/library/nginx:1.25",
                                 "securityContext": {"privileged": True}}]},
    }
    return gke_entry("io.k8s.core.v1.pods.create", "core/v1/namespaces/default/pods/priv",
                     when=when, request=pod, response=dict(pod, status={"phase": "Pending"}),
                     **kw)


def pod_exec(when: datetime, **kw) -> dict[str, Any]:
    return gke_entry("io.k8s.core.v1.pods.exec.create",
                     "core/v1/namespaces/default/pods/web-0/exec", when=when, **kw)


def secret_get(when: datetime, **kw) -> dict[str, Any]:
    return gke_entry("io.k8s.core.v1.secrets.get", "core/v1/namespaces/default/secrets/db-pass",
                     when=when, log="data_access", **kw)


def cluster_admin_binding(when: datetime, **kw) -> dict[str, Any]:
    crb = {
        "@type": "rbac.authorization.k8s.io/v1.ClusterRoleBinding",
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "evil-admin"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                    "name": "cluster-admin"},
        "subjects": [{"kind": "User", "name": "mallory@example.com"}],
    }
    return gke_entry("io.k8s.authorization.rbac.v1.clusterrolebindings.create",
                     "rbac.authorization.k8s.io/v1/clusterrolebindings/evil-admin",
                     when=when, request=crb, response=crb, **kw)
