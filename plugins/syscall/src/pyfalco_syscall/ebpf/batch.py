"""Raw ring-buffer records -> ``SyscallEvent``s in one pass (the live consumer's hot path).

The general path decodes every record into a ``Record`` tuple (``decode.py``), maps it to the
exit event's parameters (``events.build`` -> ``EventData``) and constructs the event
(``model.event_factory``): three objects and several calls per event. The syscalls that make up
almost all of a busy host's interesting traffic (``open``/``openat`` and ``close``: the state
needs every fd) are decoded here straight from the header into the event's parameter dict, with
no intermediate objects and without decoding the comm they do not use. Every other record takes
the general path, in order, so the events keep the ring's order. Both paths produce identical
events (``tests/ebpf/test_units.py::test_fused_decoding_equals_the_general_path``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from . import flags as fl
from .decode import decode_batch
from .events import build
from .program import CLS_STR1, HDR, HDR_SZ, KIND_SYSCALL_EXIT, STR_SZ
from .syscall_table import SYSCALL_NRS

_OPEN, _OPENAT, _CLOSE = 1, 2, 3
_FAST = {"open": _OPEN, "openat": _OPENAT, "close": _CLOSE}


class BatchDecoder:
    """``decode(raws) -> (events, malformed, not_buildable)``; one per source (holds caches)."""

    def __init__(self, boot_offset_ns: int, make_event: Callable[[Any], Any] | None = None,
                 on_build_error: Callable[[Any, Exception], None] | None = None) -> None:
        from pyfalco_syscall.events import SyscallEvent, event_id

        from .model import event_factory

        self.boot_offset_ns = boot_offset_ns
        self.make_event = make_event or event_factory()
        self.on_build_error = on_build_error
        self._new_event = SyscallEvent
        #: syscall number -> (fast-path kind, exit event id)
        self._fast: dict[int, tuple[int, int]] = {
            SYSCALL_NRS[name]: (kind, event_id(name, "<")) for name, kind in _FAST.items()
            if name in SYSCALL_NRS}

    def decode(self, raws: Iterable[bytes]) -> tuple[list[Any], int, int]:
        unpack = HDR.unpack_from
        fast = self._fast.get
        new_event = self._new_event
        open_flags = fl.open_flags
        off = self.boot_offset_ns
        out: list[Any] = []
        append = out.append
        bad = unbuildable = 0
        for raw in raws:
            n = len(raw)
            if n >= HDR_SZ:
                (ts, tid, _pid, _uid, _gid, ret, nr, kind, cls, cpu, _comm, a0, a1, a2, a3,
                 _a4, _a5, len1, _len2, _aux1, _aux2) = unpack(raw)
                f = fast(nr) if kind == KIND_SYSCALL_EXIT else None
                if f is not None:
                    which, etype = f
                    if which == _CLOSE:
                        fd = a0 & 0xFFFFFFFF
                        if fd & 0x80000000:
                            fd -= 1 << 32
                        append(new_event(etype, ts=ts + off, tid=tid, cpu=cpu,
                                         params={"res": ret, "fd": fd}))
                        continue
                    if cls == CLS_STR1:
                        ln = len1 if len1 < STR_SZ else STR_SZ
                        if n >= HDR_SZ + ln:
                            name = (raw[HDR_SZ:HDR_SZ + ln - 1].decode(
                                "utf-8", "surrogateescape") if ln > 0 else None)
                            if which == _OPENAT:
                                dirfd = a0 & 0xFFFFFFFF
                                if dirfd & 0x80000000:
                                    dirfd -= 1 << 32
                                params = {"fd": ret, "dirfd": dirfd, "name": name,
                                          "flags": open_flags(a2), "mode": a3 & 0o7777,
                                          "dev": None, "ino": None}
                            else:
                                params = {"fd": ret, "name": name, "flags": open_flags(a1),
                                          "mode": a2 & 0o7777, "dev": None, "ino": None}
                            append(new_event(etype, ts=ts + off, tid=tid, cpu=cpu,
                                             params=params))
                            continue
            # everything else (and anything malformed, counted there): the general path
            recs, b = decode_batch((raw,), off)
            bad += b
            for rec in recs:
                try:
                    append(self.make_event(build(rec)))
                except (ValueError, KeyError, IndexError, TypeError) as exc:
                    unbuildable += 1
                    if self.on_build_error is not None:
                        self.on_build_error(rec, exc)
        return out, bad, unbuildable
