"""``container.*`` and ``k8s.*`` fields of the syscall source (upstream container plugin).

Every extractor starts from the event's thread (set by the syscall state parser): its cgroups
give the container (cached on the thread until its cgroups change, and written to
``thread.container_id`` as upstream's foreign key); runtime metadata comes from the
:class:`~pyfalco_container.store.MetadataStore` without ever waiting for it. Host processes get
upstream's host values (``host``); a container whose metadata is not known (yet) has only
``container.id``, ``container.full_id``, ``container.type`` and the start-time fields.
"""

from __future__ import annotations

from operator import attrgetter
from typing import Any

from pyfalco.api import FieldArg, FieldSpec, FieldType

from .cgroups import ContainerRef, match_cgroups
from .info import HOST, ContainerInfo
from .store import MetadataStore


class _State:
    store: MetadataStore | None = None


STATE = _State()
_KEY = "container"
_WRITTEN = "container_id_written"


def container_ref(thread: Any) -> ContainerRef | None:
    """The thread's container (None = host).

    A container id set on the thread by a producer (gVisor knows its sandboxes) comes first;
    otherwise the cgroups decide, and the id found is written back to ``thread.container_id``
    (upstream's foreign key). Cached in ``thread.state`` until the cgroups list or the
    container id changes (execve, clone, a producer)."""
    return _entry_of(thread)[2]


def _entry_of(thread: Any) -> tuple[Any, str, ContainerRef | None, str]:
    """(cgroups list, container_id seen, ref, container.id text), computed and cached."""
    cgroups = thread.cgroups
    cid = thread.container_id
    st = thread.state
    if st is not None:
        cached = st.get(_KEY)
        if cached is not None and cached[0] is cgroups and cached[1] == cid:
            return cached
    else:
        thread.state = st = {}
    written = st.get(_WRITTEN)
    if cid and cid != "host" and cid != written:
        # Set by a producer. Its cgroups give the type when they name the same container:
        # gVisor threads carry the gvisor_container_id pseudo-cgroup (Falco's encoding), type
        # "gvisor" (upstream's container plugin has no gVisor type; see the README).
        found = match_cgroups(tuple(cgroups)) if cgroups else None
        ref: ContainerRef | None = (
            found if found is not None and found.full_id == cid else ContainerRef(cid[:12], cid, "")
        )
    else:
        ref = match_cgroups(tuple(cgroups)) if cgroups else None
        cid = ref.id if ref is not None else ""
        thread.container_id = cid
        st[_WRITTEN] = cid
    entry = (cgroups, cid, ref, ref.id if ref is not None else "host")
    st[_KEY] = entry
    return entry


def _entry(evt: Any) -> tuple[Any, str, ContainerRef | None, str] | None:
    """The cache entry of the event's thread; None without a (valid) thread. The cache is
    checked first: it is the per-event path of the ``container`` macro."""
    t = getattr(evt, "thread", None)
    if t is None:
        return None
    st = t.state
    if st is not None:
        cached = st.get(_KEY)
        if cached is not None and cached[0] is t.cgroups and cached[1] == t.container_id:
            return cached
    if getattr(t, "is_invalid", False):
        return None
    return _entry_of(t)


def _thread(evt: Any) -> Any:
    t = getattr(evt, "thread", None)
    if t is None or getattr(t, "is_invalid", False):
        return None
    return t


def _resolve(evt: Any) -> tuple[ContainerRef | None, ContainerInfo | None] | None:
    """None: no thread; (None, HOST): host; (ref, info or None): a container."""
    e = _entry(evt)
    if e is None:
        return None
    ref = e[2]
    if ref is None:
        return None, HOST
    store = STATE.store
    return ref, (store.get(ref) if store is not None else None)


def _info_attr(attr: str):
    get_attr = attrgetter(attr)
    host_value = get_attr(HOST)

    def extract(evt: Any) -> Any:
        e = _entry(evt)
        if e is None:
            return None
        ref = e[2]
        if ref is None:
            return host_value
        store = STATE.store
        if store is None:
            return None
        info = store.cached(ref.id) or store.get(ref)
        return None if info is None else get_attr(info)
    return extract


def _container_id(evt: Any) -> str | None:
    e = _entry(evt)
    return None if e is None else e[3]


def _full_id(evt: Any) -> str | None:
    r = _resolve(evt)
    if r is None:
        return None
    if r[0] is None:
        return HOST.full_id
    return r[1].full_id if r[1] is not None and r[1].full_id else r[0].full_id


def _type(evt: Any) -> str | None:
    r = _resolve(evt)
    if r is None:
        return None
    ref, info = r
    if info is not None:
        return info.type
    return ref.type or None  # type: ignore[union-attr]


def _mounts(evt: Any) -> str | None:
    r = _resolve(evt)
    if r is None or r[1] is None:
        return None
    return ",".join(str(m) for m in r[1].mounts)


def _mount_field(part: str | None, by_dest: bool = False):
    def extract(evt: Any, arg: Any) -> Any:
        r = _resolve(evt)
        if r is None or r[1] is None or arg is None:
            return None
        info = r[1]
        if isinstance(arg, int):
            m = info.mount_by_index(arg)
        else:
            m = info.mount_by_dest(arg) if by_dest else info.mount_by_source(arg)
        if m is None:
            return "none" if part is None else None
        if part is None:
            return str(m)
        if part == "rdwr":
            return "true" if m.rdwr else "false"
        return getattr(m, part)
    return extract


def _label(evt: Any, key: Any) -> str | None:
    r = _resolve(evt)
    if r is None or r[1] is None or key is None:
        return None
    return r[1].labels.get(str(key))


def _joined_labels(labels: dict[str, str]) -> str:
    """upstream's concatenation: sorted, ``k:v`` joined by ``, ``, annotations and
    ``io.kubernetes.*`` left out."""
    parts = []
    for k in sorted(labels):
        if k.startswith(("annotation.", "io.kubernetes.")):
            continue
        parts.append(f"{k}:{labels[k]}" if labels[k] else k)
    return ", ".join(parts)


def _labels(evt: Any) -> str | None:
    r = _resolve(evt)
    if r is None or r[1] is None:
        return None
    return _joined_labels(r[1].labels)


def _k8s_label(name: str):
    def extract(evt: Any) -> str | None:
        r = _resolve(evt)
        if r is None or r[1] is None:
            return None
        return r[1].labels.get(name)
    return extract


def _sandbox(short: bool):
    def extract(evt: Any) -> str | None:
        r = _resolve(evt)
        if r is None or r[1] is None:
            return None
        sid = r[1].pod_sandbox_id
        return sid[:12] if short else sid
    return extract


def _pod_label(evt: Any, key: Any) -> str | None:
    r = _resolve(evt)
    if r is None or r[1] is None or key is None:
        return None
    return r[1].pod_sandbox_labels.get(str(key))


def _pod_labels(evt: Any) -> str | None:
    r = _resolve(evt)
    if r is None or r[1] is None:
        return None
    return _joined_labels(r[1].pod_sandbox_labels)


def _pod_attr(attr: str):
    """Pod-level values: only for containers in a pod (a sandbox id is known)."""
    def extract(evt: Any) -> Any:
        r = _resolve(evt)
        if r is None or r[1] is None or not r[1].pod_sandbox_id:
            return None
        return getattr(r[1], attr) or None
    return extract


def _start_ts(evt: Any) -> int | None:
    t = _thread(evt)
    ts = getattr(t, "pidns_init_start_ts", 0) if t is not None else 0
    return ts or None


def _duration(evt: Any) -> int | None:
    start = _start_ts(evt)
    return evt.ts - start if start is not None else None


def _nothing(evt: Any) -> None:
    return None


_S, _B = FieldType.STRING, FieldType.BOOL
_BOTH = FieldArg(required=True, index=True, key=True)
_KEY_ARG = FieldArg(required=True, key=True)
_OUT = frozenset({"add_output"})


def _f(name: str, ftype: FieldType, desc: str, fn: Any, **kw: Any) -> FieldSpec:
    return FieldSpec(name=name, type=ftype, desc=desc, extract=fn, **kw)


FIELDS: list[FieldSpec] = [
    _f("container.id", _S, "The truncated container ID (first 12 characters) from the "
       "thread's cgroups; 'host' for host processes.", _container_id, properties=_OUT),
    _f("container.full_id", _S, "The full container ID.", _full_id),
    _f("container.name", _S, "The container name; 'host' for host processes.",
       _info_attr("name"), properties=_OUT),
    _f("container.image", _S, "The container image name (e.g. falcosecurity/falco:latest).",
       _info_attr("image")),
    _f("container.image.id", _S, "The container image id (e.g. 6f7e2741b66b).",
       _info_attr("image_id")),
    _f("container.type", _S, "The container type: docker, podman, containerd, cri-o, cri, "
       "gvisor, host.", _type),
    _f("container.privileged", _B, "true for containers running as privileged.",
       _info_attr("privileged")),
    _f("container.mounts", _S, "Comma-separated mounts, each "
       "'source:dest:mode:rdrw:propagation'.", _mounts),
    _f("container.mount", _S, "One mount by index or by source (glob); 'none' when there is "
       "no such mount.", _mount_field(None), arg=_BOTH),
    _f("container.mount.source", _S, "Mount source, by index or by destination (glob).",
       _mount_field("source", by_dest=True), arg=_BOTH),
    _f("container.mount.dest", _S, "Mount destination, by index or by source (glob).",
       _mount_field("dest"), arg=_BOTH),
    _f("container.mount.mode", _S, "Mount mode, by index or by source (glob).",
       _mount_field("mode"), arg=_BOTH),
    _f("container.mount.rdwr", _S, "Mount read/write flag, by index or by source (glob).",
       _mount_field("rdwr"), arg=_BOTH),
    _f("container.mount.propagation", _S, "Mount propagation, by index or by source (glob).",
       _mount_field("propagation"), arg=_BOTH),
    _f("container.image.repository", _S, "The container image repository (e.g. "
       "falcosecurity/falco).", _info_attr("image_repo"), properties=_OUT),
    _f("container.image.tag", _S, "The container image tag (e.g. stable, latest).",
       _info_attr("image_tag"), properties=_OUT),
    _f("container.image.digest", _S, "The container image registry digest.",
       _info_attr("image_digest")),
    _f("container.healthcheck", _S, "[Deprecated] no value.", _nothing),
    _f("container.liveness_probe", _S, "[Deprecated] no value.", _nothing),
    _f("container.readiness_probe", _S, "[Deprecated] no value.", _nothing),
    _f("container.start_ts", FieldType.ABSTIME, "Container start (ns since the epoch), from "
       "proc.pidns_init_start_ts.", _start_ts),
    _f("container.duration", FieldType.RELTIME, "Nanoseconds since container.start_ts.",
       _duration),
    _f("container.ip", _S, "The container's primary IPv4 address.", _info_attr("ip")),
    _f("container.cni.json", _S, "The pod's CNI result (JSON).", _info_attr("cni_json")),
    _f("container.host_pid", _B, "true if the container runs in the host PID namespace.",
       _info_attr("host_pid")),
    _f("container.host_network", _B, "true if the container runs in the host network "
       "namespace.", _info_attr("host_network")),
    _f("container.host_ipc", _B, "true if the container runs in the host IPC namespace.",
       _info_attr("host_ipc")),
    _f("container.label", _S, "A container label: container.label[foo].", _label, arg=_KEY_ARG),
    _f("container.labels", _S, "Container labels 'k1:v1, k2:v2'.", _labels),
    _f("proc.is_container_healthcheck", _B, "[Deprecated] no value.", _nothing),
    _f("proc.is_container_liveness_probe", _B, "[Deprecated] no value.", _nothing),
    _f("proc.is_container_readiness_probe", _B, "[Deprecated] no value.", _nothing),
    _f("k8s.pod.name", _S, "The Kubernetes pod name (container runtime labels).",
       _k8s_label("io.kubernetes.pod.name"), properties=_OUT),
    _f("k8s.ns.name", _S, "The Kubernetes namespace name (container runtime labels).",
       _k8s_label("io.kubernetes.pod.namespace"), properties=_OUT),
    _f("k8s.pod.id", _S, "[Legacy] The Kubernetes pod UID (same as k8s.pod.uid).",
       _k8s_label("io.kubernetes.pod.uid")),
    _f("k8s.pod.uid", _S, "The Kubernetes pod UID.", _k8s_label("io.kubernetes.pod.uid")),
    _f("k8s.pod.sandbox_id", _S, "The truncated pod sandbox ID (12 characters).",
       _sandbox(True)),
    _f("k8s.pod.full_sandbox_id", _S, "The full pod sandbox ID.", _sandbox(False)),
    _f("k8s.pod.label", _S, "A pod label: k8s.pod.label[foo].", _pod_label, arg=_KEY_ARG),
    _f("k8s.pod.labels", _S, "Pod labels 'k1:v1, k2:v2'.", _pod_labels),
    _f("k8s.pod.ip", _S, "The pod's primary IP address (CRI pod sandbox status).",
       _pod_attr("ip")),
    _f("k8s.pod.cni.json", _S, "The pod's CNI result (JSON; containerd's verbose sandbox "
       "info).", _pod_attr("cni_json")),
]
