"""The mmap ring-buffer consumer against a synthetic ring laid out like the kernel's (a memfd:
consumer page, producer page, data area twice): order, wrap-around, BUSY, DISCARD, corruption."""

from __future__ import annotations

import mmap
import os
import struct

import pytest
from pyfalco_syscall.ebpf.ringbuf import RingBuffer

PAGE = mmap.PAGESIZE
SIZE = PAGE  # data area: one page, mapped twice
BUSY, DISCARD = 1 << 31, 1 << 30


class FakeRing:
    def __init__(self) -> None:
        self.fd = os.memfd_create("ring")
        os.ftruncate(self.fd, 2 * PAGE + 2 * SIZE)
        self.mm = mmap.mmap(self.fd, 2 * PAGE + 2 * SIZE)
        self.prod = 0

    def put(self, payload: bytes, flags: int = 0) -> None:
        rec = struct.pack("<II", len(payload) | flags, 0) + payload
        rec += b"\0" * (-len(rec) % 8)
        for i, byte in enumerate(rec):  # both copies of the data area, as the kernel maps it
            off = (self.prod + i) % SIZE
            self.mm[2 * PAGE + off] = byte
            self.mm[2 * PAGE + SIZE + off] = byte
        self.prod += len(rec)
        struct.pack_into("<Q", self.mm, PAGE, self.prod)

    def consumer_pos(self) -> int:
        return struct.unpack_from("<Q", self.mm, 0)[0]


@pytest.fixture
def ring():
    fake = FakeRing()
    rb = RingBuffer(fake.fd, SIZE)
    yield fake, rb
    rb.close()
    fake.mm.close()
    os.close(fake.fd)


def test_records_in_order_and_consumer_position_published(ring):
    fake, rb = ring
    fake.put(b"one")
    fake.put(b"two-two")
    assert rb.drain() == [b"one", b"two-two"]
    assert fake.consumer_pos() == fake.prod
    assert rb.drain() == []


def test_wrap_around_is_contiguous(ring):
    fake, rb = ring
    chunk = b"x" * 1000
    for _ in range(3):
        fake.put(chunk)
    assert len(rb.drain()) == 3
    big = bytes(range(256)) * 5  # crosses the end of the data area
    fake.put(big)
    assert rb.drain() == [big]


def test_busy_record_stops_the_batch_and_discarded_ones_are_skipped(ring):
    fake, rb = ring
    fake.put(b"ready")
    fake.put(b"skipped", DISCARD)
    fake.put(b"after")
    fake.put(b"being-written", BUSY)
    fake.put(b"later")
    assert rb.drain() == [b"ready", b"after"]
    assert rb.drain() == []  # still busy: nothing consumed past it


def test_impossible_length_resyncs_and_is_counted(ring):
    fake, rb = ring
    struct.pack_into("<I", fake.mm, 2 * PAGE, SIZE * 4)  # a corrupt header
    fake.prod = 64
    struct.pack_into("<Q", fake.mm, PAGE, fake.prod)
    assert rb.drain() == []
    assert rb.bad == 1 and fake.consumer_pos() == 64


def test_size_must_be_a_power_of_two():
    with pytest.raises(ValueError, match="power of two"):
        RingBuffer(-1, 3000)
