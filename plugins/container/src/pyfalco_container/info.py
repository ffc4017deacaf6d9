"""What a container runtime tells about a container (upstream's ``container_info``)."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Mount:
    source: str
    dest: str
    mode: str = ""
    rdwr: bool = True
    propagation: str = ""

    def __str__(self) -> str:
        return (f"{self.source}:{self.dest}:{self.mode}:{'true' if self.rdwr else 'false'}:"
                f"{self.propagation}")


@dataclass(frozen=True)
class ContainerInfo:
    id: str
    full_id: str = ""
    type: str = ""
    name: str = ""
    image: str = ""
    image_id: str = ""
    image_repo: str = ""
    image_tag: str = ""
    image_digest: str = ""
    privileged: bool = False
    mounts: tuple[Mount, ...] = ()
    ip: str = ""
    cni_json: str = ""
    host_pid: bool = False
    host_network: bool = False
    host_ipc: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    pod_sandbox_id: str = ""
    pod_sandbox_labels: dict[str, str] = field(default_factory=dict)

    def mount_by_index(self, i: int) -> Mount | None:
        return self.mounts[i] if 0 <= i < len(self.mounts) else None

    def mount_by_source(self, pattern: str) -> Mount | None:
        return next((m for m in self.mounts if fnmatch.fnmatchcase(m.source, pattern)), None)

    def mount_by_dest(self, pattern: str) -> Mount | None:
        return next((m for m in self.mounts if fnmatch.fnmatchcase(m.dest, pattern)), None)


#: Processes on the host: upstream's host container_info.
HOST = ContainerInfo(id="host", type="host", name="host")


def split_image(image: str) -> tuple[str, str, str]:
    """``registry:5000/ns/app:1.2@sha256:…`` → (repository, tag, digest). The tag is looked for
    after the last ``/`` only, so a registry port is never taken for a tag."""
    repo, _, digest = image.partition("@")
    slash = repo.rfind("/")
    colon = repo.rfind(":")
    tag = ""
    if colon > slash:
        repo, tag = repo[:colon], repo[colon + 1:]
    return repo, tag, digest


def short_image_id(image_id: str) -> str:
    """``sha256:6f7e2741b66b…`` → ``6f7e2741b66b`` (upstream's field example)."""
    return image_id.removeprefix("sha256:")[:12]
