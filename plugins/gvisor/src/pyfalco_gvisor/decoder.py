"""Records -> events: framing (8-byte header), per-connection dropped counts, sandbox identity,
protobuf decoding and mapping (shared/spec/gvisor.md §3, §9.4).

Runs on the listener's reading thread, one batch of records at a time. Every record that does
not become events for a reason other than "this point has no Falco event" is counted.
"""

from __future__ import annotations

import logging
import struct
from typing import Any

from .listener import Connection
from .mapping import MAPPERS, SYSCALL_TYPES, is_enter
from .proto import MESSAGE_TYPE_NAMES, PAYLOAD_CLASSES

log = logging.getLogger("pyfalco.gvisor")

HEADER = struct.Struct("<HHI")
HEADER_SIZE = HEADER.size  # 8; a peer may announce a longer header, never a shorter one
CONTAINER_START = 1


def sandbox_seed(container_id: str) -> int:
    """Falco's numeric seed for a container id: its first 7 characters (the whole id when it
    has at most 8) read as hex as far as they parse, else the first 4 characters as big-endian
    bytes; never 0. Kept so thread ids match what Falco printed for the same sandbox."""
    head = container_id[:7] if len(container_id) > 8 else container_id
    digits = ""
    for ch in head:
        if ch in "0123456789abcdefABCDEF":
            digits += ch
        else:
            break
    if digits:
        seed = int(digits, 16) & 0xFFFFFFFF
    else:
        head4 = container_id[:4].ljust(4, "0").encode("latin-1", "replace")[:4]
        seed = int.from_bytes(head4, "big")
    return seed or 1


class SandboxIds:
    """Numeric ids of the sandboxes with a live connection: the high 32 bits of their thread
    ids, since gVisor thread ids restart at 1 in every sandbox. Connections of the same
    container id (a ``trace create --force`` re-attach overlapping the old session's end) share
    the id, so the threads already known keep their ids."""

    def __init__(self) -> None:
        self._by_container: dict[str, list[int]] = {}  # id -> [sandbox id, connections]
        self._used: set[int] = set()

    def acquire(self, container_id: str) -> int:
        entry = self._by_container.get(container_id)
        if entry is not None:
            entry[1] += 1
            return entry[0]
        sid = sandbox_seed(container_id)
        while sid in self._used:
            sid = (sid + 1) & 0xFFFFFFFF or 1
        self._used.add(sid)
        self._by_container[container_id] = [sid, 1]
        return sid

    def release(self, container_id: str) -> None:
        entry = self._by_container.get(container_id)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] <= 0:
            del self._by_container[container_id]
            self._used.discard(entry[0])

    def get(self, container_id: str) -> int | None:
        entry = self._by_container.get(container_id)
        return entry[0] if entry else None


class Decoder:
    """Turns records into events and keeps the counters of what did not become one."""

    def __init__(self) -> None:
        self.sandboxes = SandboxIds()
        self.counters: dict[str, int] = {
            "records": 0,
            "events": 0,
            "enter_skipped": 0,
            "ignored": 0,
            "gvisor_dropped": 0,
            "bad_header": 0,
            "unknown_type": 0,
            "parse_errors": 0,
            "map_errors": 0,
            "no_container_id": 0,
        }
        self._unknown_seen: set[int] = set()

    def _count(self, name: str, n: int = 1) -> None:
        self.counters[name] += n

    def decode(self, batch: list[tuple[Connection, bytes]]) -> list[Any]:
        events: list[Any] = []
        unpack = HEADER.unpack_from
        payload_classes = PAYLOAD_CLASSES
        mappers = MAPPERS
        syscall_types = SYSCALL_TYPES
        counters = self.counters
        for conn, rec in batch:
            counters["records"] += 1
            if len(rec) < HEADER_SIZE:
                self._bad(conn, "bad_header", f"record of {len(rec)} bytes, shorter than a header")
                continue
            hsize, mtype, dropped = unpack(rec)
            if hsize < HEADER_SIZE or hsize > len(rec):
                self._bad(conn, "bad_header", f"header size {hsize} in a {len(rec)}-byte record")
                continue
            if dropped != conn.last_dropped:
                # cumulative per connection, wraps at 2^32
                delta = (dropped - conn.last_dropped) & 0xFFFFFFFF
                conn.last_dropped = dropped
                conn.count("gvisor_dropped", delta)
                counters["gvisor_dropped"] += delta
            cls = payload_classes.get(mtype)
            if cls is None:
                counters["unknown_type"] += 1
                conn.count("unknown_type")
                if mtype not in self._unknown_seen:
                    self._unknown_seen.add(mtype)
                    log.warning("%s: unknown message type %d skipped (logged once per type)",
                                conn, mtype)
                continue
            payload = rec[hsize:] if hsize != len(rec) else b""
            if mtype in syscall_types and is_enter(payload):
                counters["enter_skipped"] += 1
                if conn.sandbox_id:
                    continue
                # The connection's first message identifies the sandbox even if it is an enter.
            try:
                msg = cls.FromString(payload)
            except Exception as exc:  # DecodeError, or anything a hostile peer can provoke
                self._bad(conn, "parse_errors",
                          f"cannot decode {MESSAGE_TYPE_NAMES.get(mtype, mtype)}: {exc}")
                continue
            cid = msg.id if mtype == CONTAINER_START and msg.id else msg.context_data.container_id
            if not conn.sandbox_id:
                if not cid:
                    self._bad(conn, "no_container_id",
                              "first message has no container id (session without "
                              "container_id context field?)")
                    continue
                conn.container_id = cid
                conn.sandbox_id = self.sandboxes.acquire(cid)
                log.info("%s: sandbox id %d", conn, conn.sandbox_id)
                if mtype in syscall_types and not msg.HasField("exit"):
                    continue
            mapper = mappers.get(mtype)
            if mapper is None:
                counters["ignored"] += 1
                continue
            try:
                out = mapper(msg, conn.sandbox_id << 32, cid or conn.container_id)
            except Exception as exc:  # a mapping bug must not stop the reader: count, log
                self._bad(conn, "map_errors",
                          f"cannot map {MESSAGE_TYPE_NAMES.get(mtype, mtype)}: {exc!r}")
                continue
            if out:
                events.extend(out)
            else:
                counters["ignored"] += 1
        counters["events"] += len(events)
        return events

    def _bad(self, conn: Connection, counter: str, why: str) -> None:
        self.counters[counter] += 1
        conn.count(counter)
        n = conn.counters[counter]
        # Log the first few of each kind per connection, then every 1000th: a flood of garbage
        # must not flood the log too.
        if n <= 3 or n % 1000 == 0:
            log.warning("%s: %s (%s #%d)", conn, why, counter, n)

    def connection_closed(self, conn: Connection) -> None:
        if conn.sandbox_id:
            self.sandboxes.release(conn.container_id)
