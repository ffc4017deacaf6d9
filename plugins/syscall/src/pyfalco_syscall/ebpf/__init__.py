"""Live capture of the ``syscall`` source with an eBPF driver compiled by bcc.

Importing this package imports nothing heavy: bcc is loaded by ``driver.BpfDriver`` only when
the engine opens. See the syscall plugin's README, section "eBPF engine".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyfalco.api import OpenContext

    from .source import EbpfSource


def open_ebpf(ctx: OpenContext) -> EbpfSource:
    """Open the syscall source with the eBPF driver (the ``ebpf`` engine kind's ``open``)."""
    from .source import open_ebpf as _open

    return _open(ctx)


__all__ = ["open_ebpf"]
