"""Docker and podman: the Engine API (``GET /containers/{id}/json``) over their unix socket."""

from __future__ import annotations

import http.client
import json
import socket
from typing import Any

from .info import ContainerInfo, Mount, short_image_id, split_image


class NotFound(Exception):
    """The runtime answered: no such container."""


class Unreachable(Exception):
    """The runtime's socket is absent or does not answer."""


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.socket_path)
        self.sock = s


class EngineAPIClient:
    """One docker-compatible socket (docker, or podman's compatibility API)."""

    def __init__(self, socket_path: str, kind: str = "docker", timeout: float = 2.0) -> None:
        self.socket_path = socket_path
        self.kind = kind
        self.timeout = timeout

    def _get(self, path: str) -> Any:
        conn = _UnixHTTPConnection(self.socket_path, self.timeout)
        try:
            conn.request("GET", path, headers={"Accept": "application/json"})
            resp = conn.getresponse()
            body = resp.read()
        except (OSError, http.client.HTTPException) as exc:
            raise Unreachable(f"{self.kind} at {self.socket_path}: {exc}") from None
        finally:
            conn.close()
        if resp.status == 404:
            raise NotFound(path)
        if resp.status != 200:
            raise Unreachable(f"{self.kind} at {self.socket_path}: HTTP {resp.status}")
        try:
            return json.loads(body)
        except ValueError as exc:
            raise Unreachable(f"{self.kind} at {self.socket_path}: bad JSON: {exc}") from None

    def inspect(self, container_id: str) -> ContainerInfo:
        obj = self._get(f"/containers/{container_id}/json")
        if not isinstance(obj, dict):
            raise Unreachable(f"{self.kind} at {self.socket_path}: unexpected inspect reply")
        digest = ""
        image_ref = obj.get("Image") or ""
        try:
            img = self._get(f"/images/{image_ref}/json") if image_ref else {}
            repo_digests = img.get("RepoDigests") or []
            if repo_digests:
                digest = str(repo_digests[0]).partition("@")[2]
        except (NotFound, Unreachable, AttributeError):
            pass  # the digest is optional; the container itself was found
        return info_from_inspect(obj, self.kind, digest)


def info_from_inspect(obj: dict[str, Any], kind: str, digest: str = "") -> ContainerInfo:
    config = obj.get("Config") or {}
    host = obj.get("HostConfig") or {}
    net = obj.get("NetworkSettings") or {}
    image = config.get("Image") or ""
    repo, tag, img_digest = split_image(image)
    ip = net.get("IPAddress") or ""
    if not ip:
        for n in (net.get("Networks") or {}).values():
            if isinstance(n, dict) and n.get("IPAddress"):
                ip = n["IPAddress"]
                break
    mounts = tuple(
        Mount(
            source=str(m.get("Source", "")),
            dest=str(m.get("Destination", "")),
            mode=str(m.get("Mode", "")),
            rdwr=bool(m.get("RW", True)),
            propagation=str(m.get("Propagation", "")),
        )
        for m in obj.get("Mounts") or []
        if isinstance(m, dict)
    )
    labels = {str(k): str(v) for k, v in (config.get("Labels") or {}).items()}
    full_id = str(obj.get("Id", ""))
    return ContainerInfo(
        id=full_id[:12],
        full_id=full_id,
        type=kind,
        name=str(obj.get("Name", "")).lstrip("/"),
        image=image,
        image_id=short_image_id(str(obj.get("Image", ""))),
        image_repo=repo,
        image_tag=tag,
        image_digest=img_digest or digest,
        privileged=bool(host.get("Privileged", False)),
        mounts=mounts,
        ip=ip,
        host_pid=host.get("PidMode") == "host",
        host_network=host.get("NetworkMode") == "host",
        host_ipc=host.get("IpcMode") == "host",
        labels=labels,
        pod_sandbox_id=labels.get("io.kubernetes.sandbox.id", ""),
    )
