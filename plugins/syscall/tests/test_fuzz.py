"""Corrupted captures: every outcome is either events or a CaptureError naming the file and the
byte offset, never another exception (replay, state parser and field extraction included)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyfalco_syscall.fields import ALL_FIELDS
from pyfalco_syscall.scap.reader import CaptureError, load_capture
from pyfalco_syscall.state import SyscallState
from pyfalco_syscall.testing import replay_rows

_FIELDS = [f.name for f in ALL_FIELDS if f.arg is None][:60] + ["evt.arg[0]", "evt.arg.fd",
                                                               "proc.aname[2]"]


@pytest.fixture(scope="module", params=["cat_write", "ping_sendto", "sample"])
def base_capture(request, trace_files, tmp_path_factory) -> bytes:
    if request.param == "sample":  # current block versions (EV_V2 fast path of the reader)
        from pyfalco_syscall.testing import write_sample_capture

        p = tmp_path_factory.mktemp("sample") / "sample.scap"
        write_sample_capture(p)
        return p.read_bytes()
    return load_capture(trace_files[request.param])


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_corrupted_bytes_never_crash(base_capture, tmp_path_factory, data):
    raw = bytearray(base_capture)
    for _ in range(data.draw(st.integers(1, 8))):
        off = data.draw(st.integers(0, len(raw) - 1))
        raw[off] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        raw = raw[: data.draw(st.integers(0, len(raw)))]
    path = tmp_path_factory.mktemp("fuzz") / "c.scap"
    path.write_bytes(bytes(raw))
    try:
        replay_rows(path, _FIELDS, SyscallState())
    except CaptureError as exc:
        assert str(path) in str(exc)
    except Exception as exc:  # noqa: BLE001 - a PluginError from the replay engine is fine too
        from pyfalco.errors import PluginError

        assert isinstance(exc, PluginError) and str(path) in str(exc), repr(exc)
