"""containerd and CRI-O through the Container Runtime Interface (gRPC on their unix socket):
``runtime.v1.RuntimeService/ContainerStatus`` with ``verbose`` for the runtime's info JSON."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from .docker import NotFound, Unreachable
from .info import ContainerInfo, Mount, short_image_id, split_image
from .protowire import WireError, decode_map_entry, field_str, field_varint, iter_fields

CONTAINER_STATUS = "/runtime.v1.RuntimeService/ContainerStatus"
POD_SANDBOX_STATUS = "/runtime.v1.RuntimeService/PodSandboxStatus"
#: CRI MountPropagation enum → the names upstream prints
PROPAGATION = {0: "private", 1: "rslave", 2: "rshared"}


def encode_status_request(container_id: str, verbose: bool = True) -> bytes:
    return field_str(1, container_id) + (field_varint(2, 1) if verbose else b"")


def _text(v: Any) -> str:
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else ""


def decode_status_response(buf: bytes) -> tuple[dict[str, Any], dict[str, str]]:
    """ContainerStatusResponse → (status fields we use, verbose info map)."""
    status: dict[str, Any] = {"labels": {}, "annotations": {}, "mounts": []}
    info: dict[str, str] = {}
    for n, v in iter_fields(buf):
        if n == 1 and isinstance(v, bytes):
            for sn, sv in iter_fields(v):
                if sn == 1:
                    status["id"] = _text(sv)
                elif sn == 2 and isinstance(sv, bytes):  # ContainerMetadata
                    for mn, mv in iter_fields(sv):
                        if mn == 1:
                            status["name"] = _text(mv)
                elif sn == 8 and isinstance(sv, bytes):  # ImageSpec
                    for iname, iv in iter_fields(sv):
                        if iname == 1:
                            status["image"] = _text(iv)
                elif sn == 9:
                    status["image_ref"] = _text(sv)
                elif sn == 12 and isinstance(sv, bytes):
                    k, val = decode_map_entry(sv)
                    status["labels"][k] = val
                elif sn == 13 and isinstance(sv, bytes):
                    k, val = decode_map_entry(sv)
                    status["annotations"][k] = val
                elif sn == 14 and isinstance(sv, bytes):  # Mount
                    m: dict[str, Any] = {}
                    for fn, fv in iter_fields(sv):
                        if fn == 1:
                            m["container_path"] = _text(fv)
                        elif fn == 2:
                            m["host_path"] = _text(fv)
                        elif fn == 3:
                            m["readonly"] = bool(fv)
                        elif fn == 5:
                            m["propagation"] = fv
                    status["mounts"].append(m)
                elif sn == 17:
                    status["image_id"] = _text(sv)
        elif n == 2 and isinstance(v, bytes):
            k, val = decode_map_entry(v)
            info[k] = val
    return status, info


def decode_sandbox_response(buf: bytes) -> tuple[str, dict[str, str], str]:
    """PodSandboxStatusResponse → (pod IP, pod labels, CNI result JSON from the verbose info)."""
    ip = ""
    labels: dict[str, str] = {}
    cni = ""
    for n, v in iter_fields(buf):
        if n == 1 and isinstance(v, bytes):
            for sn, sv in iter_fields(v):
                if sn == 5 and isinstance(sv, bytes):  # PodSandboxNetworkStatus
                    for nn, nv in iter_fields(sv):
                        if nn == 1:
                            ip = _text(nv)
                elif sn == 7 and isinstance(sv, bytes):
                    k, val = decode_map_entry(sv)
                    labels[k] = val
        elif n == 2 and isinstance(v, bytes):
            k, val = decode_map_entry(v)
            if k == "info":
                try:
                    verbose = json.loads(val)
                except ValueError:
                    continue
                if isinstance(verbose, dict) and verbose.get("cniResult") is not None:
                    cni = json.dumps(verbose["cniResult"], separators=(",", ":"))
    return ip, labels, cni


def info_from_status(status: dict[str, Any], info: dict[str, str], kind: str) -> ContainerInfo:
    """ContainerInfo from the CRI status and the runtime's verbose info (containerd puts the
    container config under ``config``, CRI-O flattens ``privileged``; both carry the OCI
    ``runtimeSpec``, whose missing namespaces mean the host's)."""
    try:
        verbose = json.loads(info.get("info", "{}"))
    except ValueError:
        verbose = {}
    if not isinstance(verbose, dict):
        verbose = {}
    sc = (((verbose.get("config") or {}).get("linux") or {}).get("security_context") or {})
    privileged = bool(sc.get("privileged", verbose.get("privileged", False)))
    spec_ns = (((verbose.get("runtimeSpec") or {}).get("linux") or {}).get("namespaces"))
    host_pid = host_net = host_ipc = False
    if isinstance(spec_ns, list):
        kinds = {n.get("type") for n in spec_ns if isinstance(n, dict)}
        host_pid, host_net, host_ipc = ("pid" not in kinds, "network" not in kinds,
                                        "ipc" not in kinds)
    image = status.get("image", "")
    repo, tag, digest = split_image(image)
    image_ref = status.get("image_ref", "")
    if not digest and "@" in image_ref:
        digest = image_ref.partition("@")[2]
    full_id = status.get("id", "")
    labels = dict(status.get("labels", {}))
    mounts = tuple(
        Mount(source=m.get("host_path", ""), dest=m.get("container_path", ""),
              rdwr=not m.get("readonly", False),
              propagation=PROPAGATION.get(m.get("propagation", 0), ""))
        for m in status.get("mounts", ())
    )
    return ContainerInfo(
        id=full_id[:12],
        full_id=full_id,
        type=kind,
        name=status.get("name", ""),
        image=image,
        image_id=short_image_id(status.get("image_id") or image_ref.partition("@")[0]),
        image_repo=repo,
        image_tag=tag,
        image_digest=digest,
        privileged=privileged,
        mounts=mounts,
        host_pid=host_pid,
        host_network=host_net,
        host_ipc=host_ipc,
        labels=labels,
        pod_sandbox_id=str(verbose.get("sandboxID", "")),
    )


class CRIClient:
    def __init__(self, socket_path: str, kind: str = "containerd", timeout: float = 2.0) -> None:
        self.socket_path = socket_path
        self.kind = kind
        self.timeout = timeout
        self._channel: Any = None

    def _call(self, request: bytes, method_name: str = CONTAINER_STATUS) -> bytes:
        import grpc

        if self._channel is None:
            self._channel = grpc.insecure_channel(f"unix://{self.socket_path}")
        method = self._channel.unary_unary(
            method_name, request_serializer=None, response_deserializer=None)
        try:
            return method(request, timeout=self.timeout)
        except grpc.RpcError as exc:
            code = exc.code() if hasattr(exc, "code") else None
            if code == grpc.StatusCode.NOT_FOUND:
                raise NotFound(self.socket_path) from None
            raise Unreachable(f"{self.kind} CRI at {self.socket_path}: {code}: "
                              f"{exc.details() if hasattr(exc, 'details') else exc}") from None

    def inspect(self, container_id: str) -> ContainerInfo:
        reply = self._call(encode_status_request(container_id))
        try:
            status, info = decode_status_response(reply)
        except WireError as exc:
            raise Unreachable(
                f"{self.kind} CRI at {self.socket_path}: malformed ContainerStatus reply: {exc}"
            ) from None
        if not status.get("id"):
            raise NotFound(container_id)
        cinfo = info_from_status(status, info, self.kind)
        if cinfo.pod_sandbox_id:
            # The pod's IP, labels and CNI result live on its sandbox; optional extras, so a
            # failure here keeps what ContainerStatus gave.
            try:
                reply = self._call(encode_status_request(cinfo.pod_sandbox_id), POD_SANDBOX_STATUS)
                ip, labels, cni = decode_sandbox_response(reply)
                cinfo = replace(cinfo, ip=ip, pod_sandbox_labels=labels, cni_json=cni)
            except (NotFound, Unreachable, WireError):
                pass
        return cinfo

    def close(self) -> None:
        if self._channel is not None:
            self._channel.close()
            self._channel = None
