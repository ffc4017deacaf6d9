"""Recording a live capture to a .scap file (``engine.ebpf.capture_file``).

The file starts with the thread, fd, user and interface tables as the /proc scan left them
(PL/FDL/UL/IL blocks), then every event the driver delivered, in order: replaying it through
the ``replay`` engine rebuilds the same state and gives the same alerts; sysdig reads it too.
A path ending in ``.gz`` is gzip-compressed (both readers accept either).

A batch is written when the next one is requested (or at close), i.e. after the state parser
has run on it: clone exits, whose process details (exe, args, cwd...) the kernel program cannot
read, are then completed from the thread the state built, as libs' drivers fill them from the
task. Older readers (sysdig 0.29) crash on clone exits without them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

_CLONES = frozenset({"clone", "clone3", "fork", "vfork"})


class Recorder:
    def __init__(self, path: str, state: Any) -> None:
        from pyfalco_syscall.scap.writer import ScapWriter

        try:
            self._writer = ScapWriter(path, compress=path.endswith(".gz"))
        except OSError as exc:
            from pyfalco.errors import PluginError

            raise PluginError(f"engine.ebpf.capture_file: cannot open {path}: "
                              f"{exc.strerror}") from None
        self._writer.write_header(state)
        self._state = state
        self._pending: Sequence[Any] = ()
        self.path = path
        self.events = 0

    def write_events(self, events: Sequence[Any]) -> None:
        """Queue ``events`` (just returned to the core) and write the previous batch."""
        self._flush()
        self._pending = events

    def _flush(self) -> None:
        write = self._writer.write_event
        for evt in self._pending:
            if evt.type in _CLONES and evt.param("exe") is None:
                self._complete_clone(evt)
            write(evt)
            self.events += 1
        self._pending = ()

    def _complete_clone(self, evt: Any) -> None:
        # the thread as the state built it; gone already (a short-lived child): empty values,
        # present on the wire, as a driver writes for a task it could not read
        th = self._state.lookup_thread(evt.tid)
        values = {
            "exe": th.exe if th else "",
            "args": "\0".join(th.args).encode("utf-8", "surrogateescape") if th else b"",
            "cwd": th.cwd if th else "", "fdlimit": th.fdlimit if th else 0, "pgft_maj": 0,
            "pgft_min": 0, "vm_size": 0, "vm_rss": 0, "vm_swap": 0,
            "cgroups": "\0".join(th.cgroups).encode("utf-8", "surrogateescape") if th else b"",
            "vtid": evt.tid, "vpid": evt.param("pid") or (th.pid if th else evt.tid),
            "pidns_init_start_ts": 0,
        }
        if evt.param("ptid") is None:
            values["ptid"] = th.ptid if th else 0
        for name, value in values.items():
            if evt.param(name) is None:
                evt.set_param(name, value)

    def close(self) -> None:
        self._flush()
        self._writer.close()
