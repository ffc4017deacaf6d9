"""Builders of gVisor wire records for tests (the real schema, real framing)."""

from __future__ import annotations

import struct
from typing import Any

from pyfalco_gvisor import proto

CID = "0123456789abcdef" * 4  # a Docker-style 64-hex container id


def ctx(tid: int = 1, tgid: int = 0, cid: str = CID, ts: int = 1_700_000_000_000_000_000,
        **kw: Any) -> Any:
    c = proto.ContextData(time_ns=ts, thread_id=tid, thread_group_id=tgid or tid,
                          container_id=cid, **kw)
    return c


def payload(mtype: int, **fields: Any) -> Any:
    return proto.PAYLOAD_CLASSES[mtype](**fields)


def record(mtype: int, msg: Any | bytes, dropped: int = 0, header_size: int = 8) -> bytes:
    body = msg if isinstance(msg, bytes) else msg.SerializeToString()
    head = struct.pack("<HHI", header_size, mtype, dropped) + b"\0" * (header_size - 8)
    return head + body


def exit_(result: int = 0, errorno: int = 0) -> Any:
    return proto.message_class("gvisor.syscall.Exit")(result=result, errorno=errorno)
