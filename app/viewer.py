"""duralava-viewer: a real-time neural lava lamp."""
from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    return argparse.ArgumentParser(prog="duralava-viewer", description=__doc__)


def main(argv: list[str] | None = None) -> int:
    build_parser().print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
