"""The .scap reader: every capture, modern visibility, bad input."""

from __future__ import annotations

import gzip
import struct
from collections import Counter

import pytest
from pyfalco.errors import PluginError
from pyfalco_syscall.replay import ReplayInstance
from pyfalco_syscall.scap.reader import CaptureError, ScapReader, load_capture, read_all
from pyfalco_syscall.state import SyscallState

# spec/scap.md §5.2: the modern visible counts (syscall enters, internal and container events
# removed), and their composition where the spec states it.
MODERN_VISIBLE = {"cat_write": 43, "connect_localhost": 4, "empty": 0,
                  "open-multiple-files": 44, "ping_sendto": 10, "syscall": 6}


@pytest.mark.parametrize("name,count", sorted(MODERN_VISIBLE.items()))
def test_modern_visible_counts(trace_files, name, count):
    evs = read_all(trace_files[name])
    assert len(evs) == count
    assert all(e.dir == "<" or not e.info.is_syscall for e in evs)


def test_composition(trace_files):
    c = Counter(e.type for e in read_all(trace_files["cat_write"]))
    assert (c["open"], c["close"], c["mmap"]) == (4, 6, 10)
    c = Counter(e.type for e in read_all(trace_files["connect_localhost"]))
    assert c == {"socket": 3, "connect": 1}
    c = Counter(e.type for e in read_all(trace_files["syscall"]))
    assert c == {"open": 4, "madvise": 2}


def test_all_events_counted_like_sysdig_minus_D(trace_files):
    # spec/scap.md §9: event blocks per file (sysdig -D counts)
    expected = {"cat_write": 345, "connect_localhost": 374, "empty": 143,
                "open-multiple-files": 1272, "ping_sendto": 1526, "syscall": 368}
    for name, n in expected.items():
        r = ScapReader(trace_files[name], SyscallState())
        assert sum(1 for _ in r.events()) == n, name


def test_metadata_seeds_state(trace_files):
    st = SyscallState()
    ScapReader(trace_files["cat_write"], st)
    assert st.threads and any(t.comm == "bash" for t in st.threads.values())
    assert st.users.get(0) is not None and st.users[0].name == "root"
    assert st.interfaces
    assert any(t.fds for t in st.threads.values())


def test_plain_and_gzip_read_alike(trace_files, tmp_path):
    raw = load_capture(trace_files["syscall"])
    plain = tmp_path / "plain.scap"
    plain.write_bytes(raw)
    gz = tmp_path / "again.scap.gz"
    gz.write_bytes(gzip.compress(raw))
    a = [(e.ts, e.tid, e.type) for e in read_all(plain)]
    b = [(e.ts, e.tid, e.type) for e in read_all(gz)]
    assert a == b and len(a) == 6


def test_shb_options_are_skipped(trace_files, tmp_path):
    raw = bytearray(load_capture(trace_files["syscall"]))
    # insert pcapng options (opt_comment, opt_endofopt) into the SHB, as editcap does
    total = struct.unpack_from("<I", raw, 4)[0]
    opts = struct.pack("<HH", 1, 7) + b"comment\0" + struct.pack("<HH", 0, 0)
    body = bytes(raw[8:total - 4]) + opts
    newtotal = 8 + len(body) + 4
    shb = struct.pack("<II", 0x0A0D0D0A, newtotal) + body + struct.pack("<I", newtotal)
    f = tmp_path / "opts.scap"
    f.write_bytes(shb + bytes(raw[total:]))
    assert len(read_all(f)) == 6


def test_concatenated_sections(trace_files, tmp_path):
    raw = load_capture(trace_files["syscall"])
    f = tmp_path / "twice.scap"
    f.write_bytes(raw + raw)
    assert len(read_all(f)) == 12


# --- bad input --------------------------------------------------------------------------------
def _err(path) -> str:
    with pytest.raises(CaptureError) as ei:
        read_all(path)
    return str(ei.value)


def test_missing_file(tmp_path):
    msg = _err(tmp_path / "nope.scap")
    assert msg.startswith(f"Could not open trace filename {tmp_path / 'nope.scap'} for reading")


def test_not_a_capture(tmp_path):
    f = tmp_path / "text.scap"
    f.write_text("hello, this is not a capture at all\n")
    msg = _err(f)
    assert str(f) in msg and "not a scap capture" in msg


def test_empty_file(tmp_path):
    f = tmp_path / "empty.scap"
    f.write_bytes(b"")
    assert "too short" in _err(f)


def test_wrong_magic(trace_files, tmp_path):
    raw = bytearray(load_capture(trace_files["syscall"]))
    raw[8:12] = struct.pack(">I", 0x1A2B3C4D)
    f = tmp_path / "swapped.scap"
    f.write_bytes(raw)
    msg = _err(f)
    assert "invalid magic number" in msg and "byte offset 0" in msg


def test_no_events(trace_files, tmp_path):
    raw = load_capture(trace_files["syscall"])
    r = ScapReader(trace_files["syscall"], SyscallState())
    first_event = _first_event_offset(raw)
    f = tmp_path / "meta_only.scap"
    f.write_bytes(raw[:first_event])
    assert "no events in file" in _err(f)
    assert r.events_read == 0


def _first_event_offset(raw: bytes) -> int:
    off = 0
    while True:
        btype, total = struct.unpack_from("<II", raw, off)
        if btype in (0x204, 0x208, 0x216, 0x217, 0x221, 0x222):
            return off
        off += total


@pytest.mark.parametrize("cut", [1, 7, 20, 101])
def test_truncated_file_names_offset(trace_files, tmp_path, cut):
    raw = load_capture(trace_files["cat_write"])
    f = tmp_path / "trunc.scap"
    f.write_bytes(raw[:-cut])
    msg = _err(f)
    assert str(f) in msg and "byte offset" in msg and "truncated" in msg


def test_truncated_gzip_stream(trace_files, tmp_path):
    gz = gzip.compress(load_capture(trace_files["cat_write"]))
    f = tmp_path / "trunc.scap.gz"
    f.write_bytes(gz[: len(gz) // 2])
    msg = _err(f)
    assert str(f) in msg and "byte offset" in msg


def test_corrupt_block_in_the_middle(trace_files, tmp_path):
    raw = bytearray(load_capture(trace_files["cat_write"]))
    off = _first_event_offset(raw)
    # skip 50 event blocks, then break the next block's length
    for _ in range(50):
        off += struct.unpack_from("<I", raw, off + 4)[0]
    struct.pack_into("<I", raw, off + 4, 13)
    f = tmp_path / "corrupt.scap"
    f.write_bytes(raw)
    msg = _err(f)
    assert f"byte offset {off}" in msg and "invalid block total length" in msg


def test_corrupt_event_lengths(trace_files, tmp_path):
    raw = bytearray(load_capture(trace_files["ping_sendto"]))  # v2 event blocks
    off = _first_event_offset(raw)
    for _ in range(10):
        off += struct.unpack_from("<I", raw, off + 4)[0]
    evoff = off + 8 + 2
    struct.pack_into("<I", raw, evoff + 16, 0xFFFF)  # event length beyond the block
    f = tmp_path / "badlen.scap"
    f.write_bytes(raw)
    msg = _err(f)
    assert f"byte offset {off}" in msg and "corrupt event block" in msg


def test_unknown_event_types_are_skipped_and_counted(trace_files, tmp_path):
    raw = bytearray(load_capture(trace_files["ping_sendto"]))
    off = _first_event_offset(raw)
    struct.pack_into("<H", raw, off + 8 + 2 + 20, 999)  # type of the first event
    f = tmp_path / "unknown.scap"
    f.write_bytes(raw)
    inst = ReplayInstance(f, SyscallState())
    while inst.next_batch() is not None:
        pass
    assert inst.counters()["unknown_event_types_skipped"] == 1


def test_replay_open_errors_are_plugin_errors(tmp_path):
    from pyfalco.api import OpenContext
    from pyfalco_syscall.replay import open_replay

    with pytest.raises(PluginError, match="no engine.replay.capture_file"):
        open_replay(OpenContext(init_config={}, engine_config={}))
    f = tmp_path / "x.scap"
    f.write_bytes(b"garbage garbage garbage")
    with pytest.raises(PluginError, match=f"Could not open trace filename {f}"):
        open_replay(OpenContext(init_config={}, engine_config={"capture_file": str(f)}))


def test_replay_mid_stream_error_is_plugin_error(trace_files, tmp_path):
    raw = load_capture(trace_files["cat_write"])
    f = tmp_path / "trunc.scap"
    f.write_bytes(raw[:-50])
    inst = ReplayInstance(f, SyscallState())
    with pytest.raises(PluginError, match="byte offset"):
        while inst.next_batch() is not None:
            pass
