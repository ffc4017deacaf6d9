"""The ``pyfalco`` command: Falco's command line over :mod:`pyfalco.app`."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from .app.runner import main as run

    return run(sys.argv[1:] if argv is None else list(argv))


if __name__ == "__main__":
    sys.exit(main())
