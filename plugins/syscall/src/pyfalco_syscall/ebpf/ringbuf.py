"""A BPF ring buffer consumer in plain Python over mmap, without a callback per record.

bcc's ``ring_buffer_poll`` calls a ctypes callback for every record (a Python frame, argument
conversion, a ``string_at`` copy). Here the ring is read directly, as libbpf does in C: the
consumer page (read-write) holds ``consumer_pos``, the producer page ``producer_pos``, and the
data area is mapped twice back to back, so a record that wraps is still contiguous. Each record
has an 8-byte header: ``u32 len`` with the BUSY (still being written) and DISCARD bits, then the
payload, padded to 8 bytes. Records are copied out in one pass and the consumer position is
published once per batch.

x86-64 keeps loads in order (TSO), so reading ``producer_pos`` before the records and checking
each record's BUSY bit is enough without explicit barriers.
"""

from __future__ import annotations

import mmap
import select
import struct
import time

_BUSY = 1 << 31
_DISCARD = 1 << 30
_HDR = 8
_U64 = struct.Struct("<Q")
_U32 = struct.Struct("<I")


class RingBuffer:
    def __init__(self, map_fd: int, size: int) -> None:
        if size & (size - 1):
            raise ValueError(f"ring buffer size {size} is not a power of two")
        page = mmap.PAGESIZE
        self.size = size
        self.mask = size - 1
        self._fd = map_fd
        self._cons = mmap.mmap(map_fd, page, mmap.MAP_SHARED,
                               mmap.PROT_READ | mmap.PROT_WRITE, offset=0)
        self._prod = mmap.mmap(map_fd, page + 2 * size, mmap.MAP_SHARED, mmap.PROT_READ,
                               offset=page)
        self._data_off = page
        self._poll: select.epoll | None = select.epoll()
        try:
            self._poll.register(map_fd, select.EPOLLIN)
        except PermissionError:  # not pollable (a plain file in tests): wait by sleeping
            self._poll.close()
            self._poll = None
        #: records whose length field was impossible (corruption): counted, ring resynced
        self.bad = 0

    def available(self) -> int:
        """Bytes written by the kernel and not consumed yet."""
        return _U64.unpack_from(self._prod, 0)[0] - _U64.unpack_from(self._cons, 0)[0]

    def wait(self, timeout_ms: int) -> None:
        """Sleep until the kernel signals data (or ``timeout_ms``)."""
        if self.available() == 0:
            if self._poll is not None:
                self._poll.poll(timeout_ms / 1000.0)
            else:
                time.sleep(min(timeout_ms, 10) / 1000.0)

    def drain(self, limit: int = 1 << 30) -> list[bytes]:
        """Every complete record available now (at most ``limit`` bytes of them)."""
        prod_pos = _U64.unpack_from(self._prod, 0)[0]
        cons_pos = start = _U64.unpack_from(self._cons, 0)[0]
        data, base, mask = self._prod, self._data_off, self.mask
        unpack_u32 = _U32.unpack_from
        out: list[bytes] = []
        append = out.append
        while cons_pos < prod_pos and cons_pos - start < limit:
            off = base + (cons_pos & mask)
            hdr = unpack_u32(data, off)[0]
            if hdr & _BUSY:
                break
            length = hdr & ~(_BUSY | _DISCARD)
            if length > self.size:
                self.bad += 1
                cons_pos = prod_pos  # cannot trust anything after this: resync
                break
            if not hdr & _DISCARD:
                append(data[off + _HDR: off + _HDR + length])
            cons_pos += (length + _HDR + 7) & ~7
        if cons_pos != start:
            _U64.pack_into(self._cons, 0, cons_pos)
        return out

    def close(self) -> None:
        if self._poll is not None:
            self._poll.close()
        self._cons.close()
        self._prod.close()


def ring_size_of(map_fd: int) -> int:
    """The data size of a ring buffer map (its ``max_entries``), from /proc/self/fdinfo."""
    with open(f"/proc/self/fdinfo/{map_fd}") as f:
        for line in f:
            if line.startswith("max_entries:"):
                return int(line.split()[1])
    raise OSError(f"no max_entries for fd {map_fd}")


__all__ = ["RingBuffer", "ring_size_of"]
