"""Loading the BPF program with bcc and draining its ring buffer.

``BpfDriver`` is the only module that imports bcc. It turns a missing piece of the set-up into a
``DriverUnavailable`` error that says what is missing and how to fix it, never a traceback.
"""

from __future__ import annotations

import ctypes
import os
import time
from collections.abc import Iterable, Mapping

from .program import (
    COUNTER_DROP_BASE,
    COUNTER_EVTS,
    COUNTER_READ_FAULT,
    COUNTER_STASH_FULL,
    DROP_CATEGORIES,
    NR_MAX,
    bpf_text,
)
from .specs import spec_for
from .syscall_table import SYSCALL_NRS

SETUP_HINT = "run `make setup` as root (scripts/setup-system.sh) on this machine"


class DriverUnavailable(RuntimeError):
    """The eBPF driver cannot run here; the message names what is missing and the fix."""


def boot_offset_ns() -> int:
    """Add to a ``bpf_ktime_get_boot_ns`` value to get ns since the epoch."""
    return time.time_ns() - time.clock_gettime_ns(time.CLOCK_BOOTTIME)


def check_prerequisites() -> None:
    """Raise ``DriverUnavailable`` naming the first missing prerequisite."""
    if os.geteuid() != 0:
        raise DriverUnavailable(
            "the eBPF engine needs root (CAP_BPF and CAP_PERFMON or CAP_SYS_ADMIN): "
            "run pyfalco as root"
        )
    try:
        import bcc  # noqa: F401
    except ImportError:
        raise DriverUnavailable(
            "the eBPF engine needs bcc's Python bindings (Debian package python3-bpfcc), which "
            f"are not importable from this Python: {SETUP_HINT}, then `make venv` (its "
            "scripts/link-bcc.sh links them into the project's environment). Note: PyPI's "
            "'bcc' is an unrelated package"
        ) from None
    except Exception as exc:  # libbcc.so missing or broken raises OSError and friends
        raise DriverUnavailable(
            f"the eBPF engine cannot load libbcc ({exc}): {SETUP_HINT}"
        ) from None
    build = f"/lib/modules/{os.uname().release}/build"
    if not os.path.exists(os.path.join(build, "Makefile")):
        raise DriverUnavailable(
            f"kernel headers not found at {build} (bcc compiles the probe against them): "
            f"{SETUP_HINT}; it links Debian's linux-headers-amd64"
        )
    if not os.path.isdir("/sys/kernel/tracing/events/raw_syscalls") and not os.path.isdir(
        "/sys/kernel/debug/tracing/events/raw_syscalls"
    ):
        raise DriverUnavailable(
            "tracefs is not mounted (no /sys/kernel/tracing/events/raw_syscalls): "
            f"mount -t tracefs nodev /sys/kernel/tracing, or {SETUP_HINT}"
        )


def syscall_numbers(names: Iterable[str]) -> dict[str, int]:
    """Syscall name -> x86_64 number, for the names this architecture has."""
    return {n: SYSCALL_NRS[n] for n in names if n in SYSCALL_NRS and SYSCALL_NRS[n] < NR_MAX}


class BpfDriver:
    """The compiled program, attached, capturing ``syscalls`` (names) plus process exits.

    ``poll(timeout_ms)`` returns the raw records that arrived (bytes each), possibly none.
    """

    def __init__(self, syscalls: Iterable[str], *, ring_bytes: int = 8 << 20,
                 exclude_tgid: int | None = None, drop_failed_exit: bool = False) -> None:
        check_prerequisites()
        from bcc import BPF

        page = os.sysconf("SC_PAGE_SIZE")
        pages = max(1, ring_bytes // page)
        pages = 1 << (pages.bit_length() - 1)  # the ring buffer size is a power of two
        self.ring_bytes = pages * page
        try:
            self._bpf = BPF(text=bpf_text(pages).encode(), cflags=["-Wno-macro-redefined",
                                                         "-Wno-unused-function"])
        except Exception as exc:
            raise DriverUnavailable(
                f"the eBPF probe did not compile or load: {exc} ({SETUP_HINT})"
            ) from None
        self.syscalls = syscall_numbers(syscalls)
        self._set_specs(self.syscalls)
        #: syscalls of the selection this kernel has no tracepoint for (not captured)
        self.unavailable: list[str] = []
        self._attach(self.syscalls)
        config = self._bpf[b"config"]
        config[ctypes.c_int(0)] = ctypes.c_uint32(
            os.getpid() if exclude_tgid is None else exclude_tgid)
        config[ctypes.c_int(1)] = ctypes.c_uint32(1 if drop_failed_exit else 0)
        from .ringbuf import RingBuffer, ring_size_of

        fd = self._bpf[b"events"].map_fd
        self._ring = RingBuffer(fd, ring_size_of(fd))
        self._closed = False

    def _set_specs(self, syscalls: Mapping[str, int]) -> None:
        specs = self._bpf[b"specs"]
        for name, nr in syscalls.items():
            s = spec_for(name)
            specs[ctypes.c_int(nr)] = specs.Leaf(s.cls, s.a1, s.a2, s.cat)

    def _attach(self, syscalls: Mapping[str, int]) -> None:
        base = "/sys/kernel/tracing/events/syscalls"
        if not os.path.isdir(base):
            base = "/sys/kernel/debug/tracing/events/syscalls"
        for name in sorted(syscalls):
            fmt = f"{base}/sys_enter_{name}/format"
            try:
                with open(fmt) as f:
                    # argument slots = fields after __syscall_nr
                    nargs = f.read().split("__syscall_nr", 1)[1].count("field:")
            except (OSError, IndexError):
                self.unavailable.append(name)
                continue
            try:
                # bcc wants bytes for both names (it warns "not a bytes object" otherwise).
                self._bpf.attach_tracepoint(tp=f"syscalls:sys_enter_{name}".encode(),
                                            fn_name=f"on_sys_enter_{min(nargs, 6)}".encode())
                self._bpf.attach_tracepoint(tp=f"syscalls:sys_exit_{name}".encode(),
                                            fn_name=b"on_sys_exit")
            except Exception as exc:
                raise DriverUnavailable(
                    f"cannot attach to the syscalls:sys_enter_{name} tracepoint: {exc}"
                ) from None

    def poll(self, timeout_ms: int) -> list[bytes]:
        """Wait up to ``timeout_ms`` for records and return every one available."""
        self._ring.wait(timeout_ms)
        return self._ring.drain()

    def counters(self) -> dict[str, int]:
        """Kernel counters summed over CPUs, plus per-CPU drops (Falco's names where they exist)."""
        table = self._bpf[b"counters"]
        per_cpu: list[list[int]] = []
        for i in range(len(DROP_CATEGORIES) + 3):
            per_cpu.append([int(v) for v in table[ctypes.c_int(i)]])
        delivered = sum(per_cpu[COUNTER_EVTS])
        out: dict[str, int] = {}
        total = 0
        for i, cat in enumerate(DROP_CATEGORIES):
            n = sum(per_cpu[COUNTER_DROP_BASE + i])
            out[f"n_drops_buffer_{cat}_exit"] = n
            total += n
        out["n_drops_buffer_total"] = total
        # libscap's n_evts: every event the driver saw, delivered or dropped
        out["n_evts"] = delivered + total
        out["n_delivered"] = delivered
        out["n_drops_scratch_map"] = sum(per_cpu[COUNTER_STASH_FULL])
        out["n_drops_page_faults"] = sum(per_cpu[COUNTER_READ_FAULT])
        out["n_drops"] = total + out["n_drops_scratch_map"]
        out["n_ring_resyncs"] = self._ring.bad
        ncpu = len(per_cpu[0])
        for cpu in range(ncpu):
            out[f"n_drops_buffer_cpu{cpu}"] = sum(
                per_cpu[COUNTER_DROP_BASE + i][cpu] for i in range(len(DROP_CATEGORIES)))
        return out

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._ring.close()
            self._bpf.cleanup()
