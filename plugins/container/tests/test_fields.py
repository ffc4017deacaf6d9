"""container.* / k8s.* fields: host, unknown containers, docker/podman over HTTP and
containerd over CRI gRPC (loopback stand-ins on unix sockets), never blocking the event."""

from __future__ import annotations

import time

import pytest
from container_testlib import Evt, Thread, cri_sandbox_response, cri_status_response
from pyfalco_container import fields as F
from pyfalco_container.cri import CRIClient
from pyfalco_container.docker import EngineAPIClient
from pyfalco_container.store import MetadataStore

ID = "3ad7b26ded6d8e7b23da7d48fe889434573036c27ae5a74837233de441c3601e"
ID2 = "9c1c48800d595a22e318e182b8140c8a7fef864e0d81c8c5911e33d8adec84aa"
SANDBOX = "63060edc2d3aa803ab559f2393776b151f99fc5b05035b21db66b3b62246ad6a"
FIELD = {f.name: f for f in F.FIELDS}


def get(name: str, evt, arg=None):
    spec = FIELD[name]
    return spec.binder(arg)(evt)


@pytest.fixture
def store():
    yield
    if F.STATE.store is not None:
        F.STATE.store.stop()
    F.STATE.store = None


def use(*runtimes, retry=30.0) -> MetadataStore:
    F.STATE.store = MetadataStore(list(runtimes), retry_interval_s=retry)
    return F.STATE.store


def settle(evt, name):
    """Ask until the asynchronous lookup has filled the cache."""
    deadline = time.monotonic() + 10
    while (v := get(name, evt)) is None and time.monotonic() < deadline:
        F.STATE.store.wait_idle(1)
    return v


DOCKER_INSPECT = {
    "Id": ID,
    "Name": "/web",
    "Image": "sha256:6f7e2741b66b1ecc2bd2ba5a6b5ee8b3e5a1a6d0c1ab0bd5e1f7b6f1a9c0e0d1",
    "Config": {"Image": "registry.local:5000/team/nginx:1.25",
               "Labels": {"app": "web", "io.kubernetes.pod.name": "web-0",
                          "io.kubernetes.pod.namespace": "shop",
                          "io.kubernetes.pod.uid": "3e41dc6b-08a8-44db-bc2a-3724b18ab19a",
                          "io.kubernetes.sandbox.id": SANDBOX}},
    "HostConfig": {"Privileged": True, "PidMode": "host", "NetworkMode": "bridge",
                   "IpcMode": "private"},
    "NetworkSettings": {"IPAddress": "172.17.0.2"},
    "Mounts": [
        {"Type": "bind", "Source": "/var/run/docker.sock", "Destination": "/var/run/docker.sock",
         "Mode": "", "RW": True, "Propagation": "rprivate"},
        {"Type": "bind", "Source": "/etc", "Destination": "/host/etc", "Mode": "ro",
         "RW": False, "Propagation": "rprivate"},
    ],
}


def test_host_process(store):
    use()
    e = Evt(Thread(["cpu=/", "=/user.slice/user-1000.slice/session-3.scope"]))
    assert [get(n, e) for n in ("container.id", "container.name", "container.type")] == [
        "host", "host", "host"]
    assert get("container.privileged", e) is False
    assert get("container.image.repository", e) == ""
    assert e.thread.container_id == ""


def test_no_thread_or_invalid_thread_has_no_value(store):
    use()
    assert get("container.id", Evt(None)) is None
    assert get("container.id", Evt(Thread(invalid=True))) is None


def test_unknown_container_has_id_and_type_only(store):
    use()  # no runtime reachable
    e = Evt(Thread([f"=/system.slice/docker-{ID}.scope"], start_ts=1_000), ts=5_000)
    assert get("container.id", e) == ID[:12]
    assert get("container.full_id", e) == ID
    assert get("container.type", e) == "docker"
    assert get("container.name", e) is None
    assert get("k8s.ns.name", e) is None
    assert get("container.start_ts", e) == 1_000
    assert get("container.duration", e) == 4_000
    assert e.thread.container_id == ID[:12]  # upstream's foreign key on the thread


def test_docker_lookup_over_the_unix_socket(store, docker_server):
    docker_server.containers[ID] = DOCKER_INSPECT
    docker_server.images[DOCKER_INSPECT["Image"]] = {
        "RepoDigests": ["registry.local:5000/team/nginx@sha256:d977378f890d445c15e51795296e4e5062"]}
    use(EngineAPIClient(docker_server.path, "docker"))
    e = Evt(Thread([f"cpu=/docker/{ID}"]))
    assert settle(e, "container.name") == "web"
    assert get("container.image", e) == "registry.local:5000/team/nginx:1.25"
    assert get("container.image.repository", e) == "registry.local:5000/team/nginx"
    assert get("container.image.tag", e) == "1.25"
    assert get("container.image.digest", e) == "sha256:d977378f890d445c15e51795296e4e5062"
    assert get("container.image.id", e) == "6f7e2741b66b"
    assert get("container.privileged", e) is True
    assert get("container.host_pid", e) is True and get("container.host_network", e) is False
    assert get("container.ip", e) == "172.17.0.2"
    assert get("k8s.pod.name", e) == "web-0" and get("k8s.ns.name", e) == "shop"
    assert get("k8s.pod.uid", e) == "3e41dc6b-08a8-44db-bc2a-3724b18ab19a"
    assert get("k8s.pod.sandbox_id", e) == SANDBOX[:12]
    assert get("container.label", e, "app") == "web"
    assert get("container.labels", e) == "app:web"
    assert get("container.mounts", e) == (
        "/var/run/docker.sock:/var/run/docker.sock::true:rprivate,/etc:/host/etc:ro:false:rprivate")
    # falco_rules.yaml's sensitive-mount checks: dest of the mount whose *source* matches
    assert get("container.mount.dest", e, "/var/run/docker.sock") == "/var/run/docker.sock"
    assert get("container.mount.dest", e, "/et*") == "/host/etc"
    assert get("container.mount.source", e, "/host/etc") == "/etc"
    assert get("container.mount", e, 1) == "/etc:/host/etc:ro:false:rprivate"
    assert get("container.mount", e, "/proc*") == "none"
    assert get("container.mount.dest", e, "/proc*") is None
    assert get("container.mount.rdwr", e, 1) == "false"
    # one lookup served every field (cache)
    assert sum(1 for r in docker_server.requests if r.startswith("/containers/")) == 1


def test_podman_through_its_docker_compatible_api(store, docker_server):
    docker_server.containers[ID] = dict(DOCKER_INSPECT, Name="db")
    use(EngineAPIClient(docker_server.path, "podman"))
    e = Evt(Thread([f"=/machine.slice/libpod-{ID}.scope/container"]))
    assert settle(e, "container.name") == "db"
    assert get("container.type", e) == "podman"


def test_lookups_never_block_the_event_thread(store, docker_server):
    docker_server.containers[ID] = DOCKER_INSPECT
    docker_server.gate.clear()  # the runtime does not answer for now
    use(EngineAPIClient(docker_server.path, "docker"))
    e = Evt(Thread([f"cpu=/docker/{ID}"]))
    for _ in range(100):
        assert get("container.name", e) is None  # answered from the cache: nothing yet
    assert get("container.id", e) == ID[:12]
    docker_server.gate.set()
    assert settle(e, "container.name") == "web"
    assert F.STATE.store.stats.lookups == 1  # a pending lookup is asked once


def test_unknown_to_every_runtime_is_retried_later(store, docker_server):
    clock = [100.0]
    s = use(EngineAPIClient(docker_server.path, "docker"), retry=30)
    s.clock = lambda: clock[0]
    e = Evt(Thread([f"cpu=/docker/{ID}"]))
    assert get("container.name", e) is None
    s.wait_idle()
    assert s.stats.not_found == 1
    docker_server.containers[ID] = DOCKER_INSPECT
    assert get("container.name", e) is None  # not asked again before retry_interval
    s.wait_idle()
    assert s.stats.lookups == 1
    clock[0] += 31
    assert settle(e, "container.name") == "web"


def test_containerd_over_cri_grpc(store, cri_server):
    info = {"sandboxID": SANDBOX,
            "config": {"linux": {"security_context": {"privileged": True}}},
            "runtimeSpec": {"linux": {"namespaces": [{"type": "pid"}, {"type": "ipc"},
                                                      {"type": "mount"}]}}}
    cri_server.responses[ID] = cri_status_response(
        ID, name="app", image="docker.io/library/redis:7",
        image_ref="docker.io/library/redis@sha256:abcdef",
        labels={"io.kubernetes.pod.name": "redis-0", "io.kubernetes.pod.namespace": "cache",
                "io.kubernetes.container.name": "app"},
        mounts=[("/var/lib/kubelet/pods/x/volumes", "/data", False, 0),
                ("/proc", "/host/proc", True, 1)],
        info=info)
    cri_server.sandboxes[SANDBOX] = cri_sandbox_response(
        SANDBOX, ip="10.4.0.17", labels={"app": "redis", "io.kubernetes.pod.uid": "uid-1"},
        cni={"Interfaces": {"eth0": {"IPConfigs": [{"IP": "10.4.0.17"}]}}})
    use(CRIClient(cri_server.path, "containerd"))
    e = Evt(Thread([f"=/kubepods.slice/kubepods-{'pod1'}.slice/cri-containerd-{ID}.scope"]))
    assert settle(e, "container.name") == "app"
    assert get("container.type", e) == "containerd"
    assert get("container.image.repository", e) == "docker.io/library/redis"
    assert get("container.image.tag", e) == "7"
    assert get("container.image.digest", e) == "sha256:abcdef"
    assert get("container.privileged", e) is True
    assert get("container.host_network", e) is True  # no network namespace in the spec
    assert get("container.host_pid", e) is False
    assert get("k8s.pod.name", e) == "redis-0" and get("k8s.ns.name", e) == "cache"
    assert get("k8s.pod.full_sandbox_id", e) == SANDBOX
    assert get("container.mount.dest", e, "/proc") == "/host/proc"
    assert get("container.mount.rdwr", e, "/proc") == "false"
    assert get("container.mount.propagation", e, 1) == "rslave"
    assert get("container.labels", e) == ""  # io.kubernetes.* labels are left out
    # pod-level values from PodSandboxStatus
    assert get("k8s.pod.ip", e) == "10.4.0.17" and get("container.ip", e) == "10.4.0.17"
    assert get("k8s.pod.label", e, "app") == "redis"
    assert get("k8s.pod.labels", e) == "app:redis"
    cni = '{"Interfaces":{"eth0":{"IPConfigs":[{"IP":"10.4.0.17"}]}}}'
    assert get("k8s.pod.cni.json", e) == cni
    assert cri_server.sandbox_requests[0] == b"\n@" + SANDBOX.encode() + b"\x10\x01"
    # the request carried the full id and verbose=true
    assert cri_server.requests[0] == b"\n@" + ID.encode() + b"\x10\x01"


def test_cri_not_found_falls_through_to_the_next_runtime(store, cri_server, docker_server):
    docker_server.containers[ID] = DOCKER_INSPECT
    use(CRIClient(cri_server.path, "containerd"), EngineAPIClient(docker_server.path, "docker"))
    e = Evt(Thread([f"cpu=/kubepods/besteffort/pod1/{ID}"]))  # kubelet cgroupfs: hint "cri"
    assert settle(e, "container.name") == "web"
    assert get("container.type", e) == "docker"
    assert len(cri_server.requests) == 1


def test_gvisor_container_id_from_the_pseudo_cgroup(store):
    use()
    e = Evt(Thread(["gvisor_container_id=/runsc-022991"]))
    assert get("container.id", e) == "runsc-022991"
    assert get("container.type", e) == "gvisor"


def test_producer_set_container_id_comes_first(store):
    use()
    e = Evt(Thread([], container_id="runsc-123456"))
    assert get("container.id", e) == "runsc-123456"
    assert get("container.type", e) is None  # a producer's id carries no engine type
    e = Evt(Thread([f"cpu=/docker/{ID}"], container_id=ID2))
    assert get("container.id", e) == ID2[:12]
    assert e.thread.container_id == ID2  # never overwritten


def test_producer_set_gvisor_id_gets_the_gvisor_type(store):
    # gVisor sets the id on the thread and writes its pseudo-cgroup on clone/execve (and on
    # threads seeded from `runsc trace procfs`): the type is "gvisor", as without the producer.
    use()
    e = Evt(Thread(["gvisor_container_id=/runsc-123456"], container_id="runsc-123456"))
    assert get("container.id", e) == "runsc-123456"
    assert get("container.type", e) == "gvisor"
    e = Evt(Thread([f"gvisor_container_id=/{ID}"], container_id=ID))
    assert (get("container.id", e), get("container.type", e)) == (ID[:12], "gvisor")
    # cgroups naming another container say nothing about the producer's one
    e = Evt(Thread(["gvisor_container_id=/runsc-1"], container_id="runsc-2"))
    assert (get("container.id", e), get("container.type", e)) == ("runsc-2", None)


def test_own_foreign_key_is_not_taken_for_a_producers(store):
    use()
    t = Thread([f"cpu=/docker/{ID}"])
    e = Evt(t)
    assert get("container.id", e) == ID[:12] and t.container_id == ID[:12]
    t.cgroups = ["cpu=/"]  # execve out of the container: our own id must not stick
    assert get("container.id", e) == "host" and t.container_id == ""
    t.container_id = "runsc-1"  # a producer says otherwise
    assert get("container.id", e) == "runsc-1"


def test_thread_cache_follows_cgroup_changes(store):
    use()
    t = Thread(["cpu=/"])
    e = Evt(t)
    assert get("container.id", e) == "host"
    t.cgroups = [f"cpu=/docker/{ID}"]  # execve into a container: the parser sets a new list
    assert get("container.id", e) == ID[:12]


def test_malformed_docker_reply_is_counted_not_fatal(store, docker_server):
    docker_server.containers[ID] = ["not", "an", "object"]
    s = use(EngineAPIClient(docker_server.path, "docker"))
    e = Evt(Thread([f"cpu=/docker/{ID}"]))
    assert get("container.name", e) is None
    s.wait_idle()
    assert s.stats.unreachable == 1 and s.stats.not_found == 1
    assert "unexpected inspect reply" in s.stats.last_errors[-1]
    assert get("container.id", e) == ID[:12]


def test_malformed_cri_reply_is_counted_not_fatal(store, cri_server):
    cri_server.responses[ID] = b"\x0a\xff\xff\xff"  # a length that runs past the end
    s = use(CRIClient(cri_server.path, "containerd"))
    e = Evt(Thread([f"=/system.slice/cri-containerd-{ID}.scope"]))
    assert get("container.name", e) is None
    s.wait_idle()
    assert s.stats.unreachable == 1
    assert "malformed ContainerStatus reply" in s.stats.last_errors[-1]


def test_dead_socket_is_unreachable(store, tmp_path):
    import socket as so

    path = str(tmp_path / "dead.sock")
    sock = so.socket(so.AF_UNIX)
    sock.bind(path)  # exists, but nobody listens
    s = use(EngineAPIClient(path, "docker"))
    e = Evt(Thread([f"cpu=/docker/{ID}"]))
    get("container.name", e)
    s.wait_idle()
    assert s.stats.unreachable == 1
    sock.close()


def test_process_start_prefetches_the_lookup(store, docker_server):
    from pyfalco_container.parser import prefetch

    docker_server.containers[ID] = DOCKER_INSPECT
    s = use(EngineAPIClient(docker_server.path, "docker"))

    class Execve:
        type = "execve"

        @staticmethod
        def param(name):
            if name == "cgroups":
                return f"cpu=/docker/{ID}\0memory=/docker/{ID}\0".encode()
            return None

    prefetch(Execve())
    assert s.wait_idle()
    assert s.stats.found == 1
    # the first extraction already finds the metadata
    assert get("container.name", Evt(Thread([f"cpu=/docker/{ID}"]))) == "web"


def test_prefetch_ignores_other_events_and_host_processes(store):
    from pyfalco_container.parser import prefetch

    s = use()

    class Open:
        type = "openat"

    class HostExec:
        type = "execve"

        @staticmethod
        def param(name):
            return b"cpu=/user.slice\0"

    prefetch(Open())
    prefetch(HostExec())
    assert s.stats.lookups == 0


def test_cri_o_verbose_info_shape(store, tmp_path):
    from container_testlib import CRIServer

    srv = CRIServer(str(tmp_path / "crio.sock"))
    try:
        srv.responses[ID] = cri_status_response(
            ID, name="api", image="quay.io/org/api:v2", image_ref="quay.io/org/api@sha256:99",
            labels={"io.kubernetes.pod.name": "api-7f9", "io.kubernetes.pod.namespace": "prod"},
            mounts=[], info={"privileged": True, "sandboxID": SANDBOX,
                             "runtimeSpec": {"linux": {"namespaces": [
                                 {"type": "pid"}, {"type": "network"}, {"type": "ipc"}]}}})
        use(CRIClient(srv.path, "cri-o"))
        e = Evt(Thread([f"=/kubepods.slice/kubepods-pod1.slice/crio-{ID}.scope"]))
        assert settle(e, "container.name") == "api"
        assert get("container.type", e) == "cri-o"
        assert get("container.privileged", e) is True
        assert get("container.host_network", e) is False
        assert (get("k8s.pod.name", e), get("k8s.ns.name", e)) == ("api-7f9", "prod")
        assert get("k8s.pod.ip", e) is None  # sandbox unknown to this runtime: no pod values
    finally:
        srv.stop()
