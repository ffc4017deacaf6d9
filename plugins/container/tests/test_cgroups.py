"""Container id and type from cgroups: the layouts of docker, podman, containerd, CRI-O,
kubelet and gVisor, and host cgroups that must not match."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyfalco_container.cgroups import ContainerRef, match_cgroups

ID = "3ad7b26ded6d8e7b23da7d48fe889434573036c27ae5a74837233de441c3601e"
POD = "pod0a1b2c3d_4e5f_6789_abcd_ef0123456789"


@pytest.mark.parametrize(
    "cgroups, expected",
    [
        # docker, cgroup v1 cgroupfs driver (one entry per controller)
        ((f"cpuset=/docker/{ID}", f"cpu,cpuacct=/docker/{ID}"), ("docker", ID)),
        # docker, systemd driver, cgroup v2
        ((f"=/system.slice/docker-{ID}.scope",), ("docker", ID)),
        # podman rootful and rootless, and split mode
        ((f"=/machine.slice/libpod-{ID}.scope",), ("podman", ID)),
        ((f"=/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{ID}.scope",),
         ("podman", ID)),
        ((f"=/machine.slice/libpod-{ID}.scope/container",), ("podman", ID)),
        # containerd CRI, systemd driver
        ((f"=/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-{POD}.slice/"
          f"cri-containerd-{ID}.scope",), ("containerd", ID)),
        # containerd without SystemdCgroup
        ((f"=/kubepods-burstable-{POD}.slice:cri-containerd:{ID}",), ("containerd", ID)),
        # CRI-O, systemd and cgroupfs
        ((f"=/kubepods.slice/kubepods-{POD}.slice/crio-{ID}.scope",), ("cri-o", ID)),
        ((f"memory=/kubepods/burstable/{POD}/crio-{ID}",), ("cri-o", ID)),
        # kubelet cgroupfs driver: a plain id under kubepods
        ((f"cpu=/kubepods/besteffort/{POD}/{ID}",), ("cri", ID)),
        # containers made with ctr: /<namespace>/<id>
        (("=/default/redis-1",), ("containerd", "redis-1")),
        # gVisor: the gvisor plugin's pseudo-cgroup
        (("gvisor_container_id=/runsc-022991",), ("gvisor", "runsc-022991")),
        ((f"gvisor_container_id=/{ID}",), ("gvisor", ID)),
    ],
)
def test_container_cgroups(cgroups, expected):
    ref = match_cgroups(cgroups)
    assert ref == ContainerRef(expected[1][:12], expected[1], expected[0])


@pytest.mark.parametrize(
    "cgroups",
    [
        (),
        ("=/",),
        ("=/init.scope",),
        ("=/user.slice/user-1000.slice/session-2.scope",),
        ("=/system.slice/containerd.service",),
        ("cpu=/", "memory=/user.slice"),
        ("=/kubepods/besteffort",),
        ("=/system.slice/docker.service",),
        (f"=/docker/{ID[:-1]}",),  # 63 hex: not an id
        (f"=/docker/{ID[:-1]}g",),  # not hex
        ("no-equals-sign",),
    ],
)
def test_host_cgroups(cgroups):
    assert match_cgroups(cgroups) is None


def test_this_process_is_classified():
    """The real /proc/self/cgroup of the test process parses into a ref or host, never an
    error (in CI this runs on the host or in a container)."""
    lines = Path("/proc/self/cgroup").read_text().splitlines()
    entries = tuple(f"{line.split(':', 2)[1]}={line.split(':', 2)[2]}" for line in lines if line)
    ref = match_cgroups(entries)
    assert ref is None or len(ref.id) <= 12
