"""Runtime stand-ins on unix sockets: a docker/podman Engine API server (HTTP) and a CRI
runtime (real gRPC server, hand-encoded CRI messages), plus a minimal thread/event pair shaped
like the syscall plugin's (cgroups, container_id, state, pidns_init_start_ts)."""

from __future__ import annotations

import json
import socketserver
import threading
from http.server import BaseHTTPRequestHandler
from typing import Any

from pyfalco_container.protowire import field_bytes, field_map, field_str, field_varint


class Thread:
    def __init__(self, cgroups=(), container_id="", start_ts=0, invalid=False):
        self.cgroups = list(cgroups)
        self.container_id = container_id
        self.state = None
        self.pidns_init_start_ts = start_ts
        self.is_invalid = invalid


class Evt:
    def __init__(self, thread, ts=0):
        self.thread = thread
        self.ts = ts
        self.source = "syscall"


class _UnixHTTPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


class EngineAPIServer:
    """``GET /containers/{id}/json`` and ``/images/{id}/json`` from dicts; ``gate`` (an Event)
    holds answers back to show that lookups never block the event thread."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.containers: dict[str, dict[str, Any]] = {}
        self.images: dict[str, dict[str, Any]] = {}
        self.requests: list[str] = []
        self.gate = threading.Event()
        self.gate.set()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def address_string(self):
                return "unix"

            def do_GET(self):
                server.requests.append(self.path)
                server.gate.wait(10)
                parts = self.path.strip("/").split("/")
                obj = None
                if len(parts) == 3 and parts[0] == "containers" and parts[2] == "json":
                    cid = parts[1]
                    obj = next((c for k, c in server.containers.items()
                                if k.startswith(cid)), None)
                elif len(parts) == 3 and parts[0] == "images":
                    obj = server.images.get(parts[1])
                data = json.dumps(obj if obj is not None else
                                  {"message": f"No such container: {parts[1:2]}"}).encode()
                self.send_response(200 if obj is not None else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._srv = _UnixHTTPServer(path, Handler)
        threading.Thread(target=self._srv.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.gate.set()
        self._srv.shutdown()
        self._srv.server_close()


def cri_status_response(cid: str, *, name: str, image: str, image_ref: str,
                        labels: dict[str, str], mounts: list[tuple[str, str, bool, int]],
                        info: dict[str, Any]) -> bytes:
    status = (
        field_str(1, cid)
        + field_bytes(2, field_str(1, name) + field_varint(2, 0))
        + field_varint(3, 1)  # CONTAINER_RUNNING
        + field_bytes(8, field_str(1, image))
        + field_str(9, image_ref)
        + field_map(12, labels)
        + b"".join(field_bytes(14, field_str(1, dst) + field_str(2, src)
                               + field_varint(3, int(ro)) + field_varint(5, prop))
                   for src, dst, ro, prop in mounts)
    )
    return field_bytes(1, status) + field_map(2, {"info": json.dumps(info)})


def cri_sandbox_response(sid: str, *, ip: str, labels: dict[str, str],
                         cni: dict[str, Any] | None) -> bytes:
    status = (
        field_str(1, sid)
        + field_bytes(2, field_str(1, "redis-0") + field_str(2, "uid-1") + field_str(3, "cache"))
        + field_bytes(5, field_str(1, ip))
        + field_map(7, labels)
    )
    info = {"info": json.dumps({"cniResult": cni} if cni is not None else {})}
    return field_bytes(1, status) + field_map(2, info)


class CRIServer:
    """A real gRPC server on a unix socket answering runtime.v1 ContainerStatus."""

    def __init__(self, path: str) -> None:
        from concurrent import futures

        import grpc

        self.path = path
        self.responses: dict[str, bytes] = {}
        self.sandboxes: dict[str, bytes] = {}
        self.requests: list[bytes] = []
        self.sandbox_requests: list[bytes] = []
        server = self

        def container_status(request: bytes, context: Any) -> bytes:
            server.requests.append(request)
            from pyfalco_container.protowire import iter_fields

            cid = next((v.decode() for n, v in iter_fields(request) if n == 1), "")
            for k, resp in server.responses.items():
                if k.startswith(cid) and cid:
                    return resp
            context.abort(grpc.StatusCode.NOT_FOUND, f"container {cid!r} not found")

        def sandbox_status(request: bytes, context: Any) -> bytes:
            server.sandbox_requests.append(request)
            from pyfalco_container.protowire import iter_fields

            sid = next((v.decode() for n, v in iter_fields(request) if n == 1), "")
            if sid in server.sandboxes:
                return server.sandboxes[sid]
            context.abort(grpc.StatusCode.NOT_FOUND, f"pod sandbox {sid!r} not found")

        handler = grpc.method_handlers_generic_handler(
            "runtime.v1.RuntimeService",
            {"ContainerStatus": grpc.unary_unary_rpc_method_handler(container_status),
             "PodSandboxStatus": grpc.unary_unary_rpc_method_handler(sandbox_status)})
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        self._server.add_generic_rpc_handlers((handler,))
        self._server.add_insecure_port(f"unix://{path}")
        self._server.start()

    def stop(self) -> None:
        self._server.stop(0)


