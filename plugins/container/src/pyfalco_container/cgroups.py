"""Container id and type from a thread's cgroups (the container plugin's matchers).

A thread's cgroups are ``subsys=path`` entries (``cpu,cpuacct=/docker/<id>``; cgroup v2 has the
single entry ``=/...``). Each entry is tried against the layouts of each engine in upstream's
order (podman, docker, CRI, containerd namespaces); the first match wins. A 64-hex id is reported
as its first 12 characters (``container.id``) with the full id kept for the runtime lookup.

The type is a hint from the layout; the runtime that knows the container has the last word (a
plain ``/<64 hex>`` path is what docker's cgroupfs driver and kubelet's cgroupfs driver both
produce). gVisor's sandboxes report ``gvisor_container_id=/<id>`` (the gvisor plugin writes it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

ID_LEN = 64
SHORT_ID_LEN = 12
_HEX = re.compile(r"[0-9a-fA-F]{64}\Z")
GVISOR_SUBSYS = "gvisor_container_id"


@dataclass(frozen=True)
class ContainerRef:
    """What the cgroups tell: the short id, the full id and the engine type hint."""

    id: str
    full_id: str
    type: str


# (prefix, suffix, type) — the ends of a cgroup path around the container id
_PODMAN = (("/libpod-", ".scope"), ("/libpod-", ".scope/container"), ("/libpod-", ""))
_DOCKER = (("/docker-", ".scope"),)
_CRI = (
    ("/crio-", ""),
    ("/cri-containerd-", ".scope"),
    ("/crio-", ".scope"),
    (":cri-containerd:", ""),
)
_CRI_TYPES = {"/crio-": "cri-o", "/cri-containerd-": "containerd", ":cri-containerd:": "containerd"}
_SYSTEMD_UNITS = (".service", ".slice", ".scope")
_CTR_NAMESPACE = re.compile(r"[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*")
#: Top-level cgroups of other managers, never a containerd namespace (upstream's matcher would
#: take /kubepods/besteffort for container "besteffort").
_NOT_CTR_NAMESPACES = frozenset({"kubepods", "lxc", "lxc.payload", "lxc.monitor", "machine",
                                 "docker", "podman", "libpod_parent"})


def _between(path: str, prefix: str, suffix: str) -> str | None:
    start = path.rfind(prefix)
    if start < 0:
        return None
    start += len(prefix)
    if suffix:
        if not path.endswith(suffix):
            return None
        end = len(path) - len(suffix)
    else:
        end = len(path)
    return path[start:end] if end > start else None


def _hex_id(path: str, prefix: str, suffix: str) -> str | None:
    cid = _between(path, prefix, suffix)
    return cid if cid is not None and _HEX.match(cid) else None


def match_path(path: str) -> ContainerRef | None:
    """The container of one cgroup path, or None (a host cgroup)."""
    for prefix, suffix in _PODMAN:
        if cid := _hex_id(path, prefix, suffix):
            return ContainerRef(cid[:SHORT_ID_LEN], cid, "podman")
    for prefix, suffix in _DOCKER:
        if cid := _hex_id(path, prefix, suffix):
            return ContainerRef(cid[:SHORT_ID_LEN], cid, "docker")
    for prefix, suffix in _CRI:
        if cid := _hex_id(path, prefix, suffix):
            return ContainerRef(cid[:SHORT_ID_LEN], cid, _CRI_TYPES[prefix])
    if cid := _hex_id(path, "/", ""):
        # cgroupfs driver: docker (/docker/<id>) or kubelet (/kubepods/.../pod<uid>/<id>)
        return ContainerRef(cid[:SHORT_ID_LEN], cid, "cri" if "kubepods" in path else "docker")
    # containers made with `ctr`: /<namespace>/<id>, id of any form up to 64 characters
    parts = path.split("/")
    if (
        len(parts) == 3
        and parts[0] == ""
        and parts[1]
        and 0 < len(parts[2]) <= ID_LEN
        and not parts[2].endswith(_SYSTEMD_UNITS)
        and not parts[1].endswith(_SYSTEMD_UNITS)
        and parts[1] not in _NOT_CTR_NAMESPACES
        and _CTR_NAMESPACE.fullmatch(parts[1])
    ):
        cid = parts[2]
        return ContainerRef(cid[:SHORT_ID_LEN], cid, "containerd")
    return None


@lru_cache(maxsize=4096)
def match_cgroups(cgroups: tuple[str, ...]) -> ContainerRef | None:
    """The container of a thread from all its ``subsys=path`` entries, or None (host).
    Cached: threads of one container share their cgroups."""
    for entry in cgroups:
        subsys, sep, path = entry.partition("=")
        if not sep:
            continue
        if subsys == GVISOR_SUBSYS:
            cid = path.lstrip("/")
            if cid:
                return ContainerRef(cid[:SHORT_ID_LEN], cid, "gvisor")
            continue
        ref = match_path(path)
        if ref is not None:
            return ref
    return None
