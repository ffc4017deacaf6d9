"""LineSplitter: JSON Lines out of arbitrary chunks, over-long lines never kept whole."""

from __future__ import annotations

import random

import pytest
from pyfalco_k8saudit.files import LineSplitter


def split_all(data: bytes, chunk_sizes: list[int], max_line: int) -> tuple[list, list[int]]:
    too_long: list[int] = []
    s = LineSplitter(max_line, too_long.append)
    numbered: list[tuple[int, bytes]] = []
    pos = 0
    sizes = iter(chunk_sizes)
    while pos < len(data):
        n = next(sizes, 7)
        first, lines = s.feed(data[pos:pos + n])
        numbered += [(first + i, line) for i, line in enumerate(lines)]
        pos += n
    first, lines = s.finish()
    numbered += [(first + i, line) for i, line in enumerate(lines)]
    return numbered, too_long


def test_lines_are_numbered_across_any_chunking() -> None:
    lines = [b"a" * random.Random(i).randrange(0, 40) for i in range(200)]
    data = b"\n".join(lines)  # no newline after the last line
    expected = list(enumerate(lines, start=1))
    for seed in range(20):
        rnd = random.Random(seed)
        sizes = [rnd.randrange(1, 100) for _ in range(len(data))]
        got, too_long = split_all(data, sizes, max_line=1000)
        assert got == expected
        assert too_long == []


@pytest.mark.parametrize("chunk", [1, 3, 10, 64, 1000])
def test_overlong_lines_reported_once_with_their_number(chunk: int) -> None:
    data = b"ok1\n" + b"x" * 50 + b"\nok3\n" + b"y" * 25 + b"\nok5\n" + b"z" * 30
    got, too_long = split_all(data, [chunk] * len(data), max_line=20)
    assert too_long == [2, 4, 6]
    assert [(n, line) for n, line in got if line] == [(1, b"ok1"), (3, b"ok3"), (5, b"ok5")]


def test_partial_line_is_kept_until_its_newline_and_can_be_dropped() -> None:
    s = LineSplitter(100, lambda n: None)
    assert s.feed(b'{"a":') == (1, [])
    assert s.has_partial
    assert s.feed(b'1}\n{"b"') == (1, [b'{"a":1}'])
    assert s.drop_partial() is True
    assert s.feed(b"\n") == (2, [b""])
    assert s.finish() == (3, [])
