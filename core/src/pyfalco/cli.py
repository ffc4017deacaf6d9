"""The ``pyfalco`` command (scaffold: the application actions land with issue 2)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    import pyfalco

    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--version"]:
        print(f"Falco version: {pyfalco.__version__}")
        return 0
    print("Error: pyfalco's application actions are not implemented yet", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
