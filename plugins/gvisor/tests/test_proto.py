"""The .proto files, the committed descriptor set and decoding of real wire bytes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pyfalco_gvisor import proto

SCRIPT = Path(__file__).parent.parent / "scripts" / "generate_descriptors.py"


def test_descriptor_set_matches_proto_files():
    pytest.importorskip("grpc_tools")
    proc = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_every_message_type_of_the_spec_has_a_payload_class():
    # shared/spec/gvisor.md §4: types 1..34, 0 is MESSAGE_UNKNOWN
    assert sorted(proto.PAYLOAD_CLASSES) == list(range(1, 35))
    assert proto.MESSAGE_TYPE_NAMES[34] == "MESSAGE_SYSCALL_WRITE"


def test_spec_example_openat_exit_decodes_field_by_field():
    # shared/spec/gvisor.md §8, the 72-byte openat exit (path replaced by 10 bytes)
    body = bytes.fromhex(
        "0a1a" "0880dff4d2b9fba3f618" "1001" "320c" + b"runsc-022991".hex()
        + "12020803" "188102" "209cffffffffffffffff01" "320a" + b"/tmp/afile".hex()
        + "38c104" "40b603"
    )
    m = proto.PAYLOAD_CLASSES[7].FromString(body)
    assert m.context_data.time_ns == 1795968524764393344
    assert m.context_data.container_id == "runsc-022991"
    assert m.HasField("exit") and m.exit.result == 3
    assert (m.sysno, m.fd, m.pathname, m.flags, m.mode) == (257, -100, "/tmp/afile", 577, 0o666)


def test_handshake_version_zero_is_the_empty_message():
    assert proto.Handshake(version=0).SerializeToString() == b""
    assert proto.Handshake(version=1).SerializeToString() == b"\x08\x01"
