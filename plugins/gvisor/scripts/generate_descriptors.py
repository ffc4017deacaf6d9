"""Compile the gVisor .proto files into the committed descriptor set ``proto/gvisor.binpb``.

The .proto files under ``src/pyfalco_gvisor/proto/`` are the source of truth (written from
shared/spec/gvisor.md §4-§5). protoc (from grpcio-tools, the package's ``test`` extra) turns them
into one serialized ``FileDescriptorSet``; at import time ``pyfalco_gvisor.proto`` loads it into a
private descriptor pool and builds the message classes with the installed protobuf runtime.
Committing descriptors rather than generated ``_pb2.py`` modules keeps the package independent of
the protobuf runtime's version (generated modules must match it, descriptors never do).

    python plugins/gvisor/scripts/generate_descriptors.py          # rewrite gvisor.binpb
    python plugins/gvisor/scripts/generate_descriptors.py --check  # exit 1 if it is stale
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

PROTO_DIR = Path(__file__).resolve().parent.parent / "src" / "pyfalco_gvisor" / "proto"
OUTPUT = PROTO_DIR / "gvisor.binpb"
PROTO_FILES = ("common.proto", "container.proto", "sentry.proto", "syscall.proto")


def compile_descriptor_set() -> bytes:
    """Run protoc over the .proto files; the serialized FileDescriptorSet."""
    from grpc_tools import protoc

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "set.binpb"
        rc = protoc.main(
            ["protoc", f"-I{PROTO_DIR}", f"--descriptor_set_out={out}", *PROTO_FILES]
        )
        if rc != 0:
            raise SystemExit(f"protoc failed with status {rc}")
        return out.read_bytes()


def main(argv: list[str]) -> int:
    fresh = compile_descriptor_set()
    if "--check" in argv:
        from google.protobuf import descriptor_pb2

        want = descriptor_pb2.FileDescriptorSet.FromString(fresh)
        have = descriptor_pb2.FileDescriptorSet.FromString(OUTPUT.read_bytes())
        if want != have:
            print(f"{OUTPUT} is stale: run {__file__}", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_bytes(fresh)
    print(f"wrote {OUTPUT} ({len(fresh)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
