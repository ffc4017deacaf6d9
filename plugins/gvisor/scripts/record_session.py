"""Record the raw records a real sandbox sends, for the decoder's test data.

    python plugins/gvisor/scripts/record_session.py OUT.rec -- sh -c 'cat /etc/shadow'

Runs ``runsc --network=none --pod-init-config=<Falco's session> do CMD`` against a listener and
writes every record after the handshake as ``u32 LE length + bytes`` (``pyfalco_gvisor.recording``
reads that format back). Needs root and runsc.
"""

from __future__ import annotations

import sys

from pyfalco_gvisor.recording import record_command, write_records


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print(__doc__, file=sys.stderr)
        return 2
    records = record_command(argv[2:])
    write_records(argv[0], records)
    print(f"wrote {len(records)} records to {argv[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
