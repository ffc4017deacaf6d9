"""The few protobuf wire-format operations the CRI messages need (no generated code: the CRI
API is stable and we read a handful of fields)."""

from __future__ import annotations

from collections.abc import Iterator


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        b = value & 0x7F
        value >>= 7
        if value:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field_bytes(number: int, data: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def field_str(number: int, text: str) -> bytes:
    return field_bytes(number, text.encode())


def field_varint(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value)


def field_map(number: int, mapping: dict[str, str]) -> bytes:
    return b"".join(field_bytes(number, field_str(1, k) + field_str(2, v))
                    for k, v in mapping.items())


class WireError(ValueError):
    pass


def _read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise WireError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise WireError("varint too long")


def iter_fields(buf: bytes) -> Iterator[tuple[int, int | bytes]]:
    """(field number, value): ints for varint/fixed fields, bytes for length-delimited ones."""
    pos = 0
    while pos < len(buf):
        key, pos = _read_varint(buf, pos)
        number, wtype = key >> 3, key & 7
        if wtype == 0:
            value, pos = _read_varint(buf, pos)
            yield number, value
        elif wtype == 2:
            n, pos = _read_varint(buf, pos)
            if pos + n > len(buf):
                raise WireError("truncated length-delimited field")
            yield number, buf[pos:pos + n]
            pos += n
        elif wtype == 1:
            yield number, int.from_bytes(buf[pos:pos + 8], "little")
            pos += 8
        elif wtype == 5:
            yield number, int.from_bytes(buf[pos:pos + 4], "little")
            pos += 4
        else:
            raise WireError(f"unsupported wire type {wtype}")


def decode_map_entry(buf: bytes) -> tuple[str, str]:
    key = value = ""
    for n, v in iter_fields(buf):
        if n == 1 and isinstance(v, bytes):
            key = v.decode("utf-8", "replace")
        elif n == 2 and isinstance(v, bytes):
            value = v.decode("utf-8", "replace")
    return key, value
