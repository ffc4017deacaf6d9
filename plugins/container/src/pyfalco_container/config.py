"""init_config of the container plugin (upstream's ``engines`` shape)."""

from __future__ import annotations

from typing import Any

DEFAULT_SOCKETS: dict[str, list[str]] = {
    "docker": ["/var/run/docker.sock"],
    "podman": ["/run/podman/podman.sock"],
    "containerd": ["/run/containerd/containerd.sock", "/run/k3s/containerd/containerd.sock",
                   "/run/host-containerd/containerd.sock"],
    "cri": ["/run/crio/crio.sock"],
}

_ENGINE = {
    "type": "object",
    "properties": {
        "enabled": {"type": "boolean", "default": True},
        "sockets": {"type": "array", "items": {"type": "string"}},
    },
}

CONFIG_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "additionalProperties": True,
    "properties": {
        "engines": {
            "type": "object",
            "title": "Container engines",
            "description": "Which runtimes to ask for metadata and on which unix sockets: "
            "docker and podman (Engine API over HTTP), containerd and cri (CRI-O) through CRI",
            "properties": {name: _ENGINE for name in
                           ("docker", "podman", "containerd", "cri", "lxc", "libvirt_lxc",
                            "bpm", "static")},
            "additionalProperties": True,
        },
        "lookup_timeout": {"type": "number", "exclusiveMinimum": 0, "default": 2,
                           "description": "Seconds one runtime request may take"},
        "retry_interval": {"type": "number", "minimum": 0, "default": 30,
                           "description": "Seconds before a container no runtime knew is "
                           "looked up again"},
        "max_pending": {"type": "integer", "minimum": 1, "default": 1024,
                        "description": "Lookups queued at most; more are dropped (counted) "
                        "and asked again later"},
    },
}


def runtimes_from_config(cfg: dict[str, Any]) -> list[Any]:
    from .cri import CRIClient
    from .docker import EngineAPIClient

    engines = cfg.get("engines") or {}
    timeout = float(cfg.get("lookup_timeout", 2))
    out: list[Any] = []
    for name, kind, cls in (("docker", "docker", EngineAPIClient),
                            ("podman", "podman", EngineAPIClient),
                            ("containerd", "containerd", CRIClient),
                            ("cri", "cri-o", CRIClient)):
        eng = engines.get(name) or {}
        if not eng.get("enabled", True):
            continue
        for path in eng.get("sockets") or DEFAULT_SOCKETS[name]:
            out.append(cls(path, kind, timeout))
    return out
