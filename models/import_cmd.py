"""`duralava import SRC OUT`: turn a video or a folder of frames into a training dataset."""
from __future__ import annotations

import argparse
import sys

from .footage import FITS, FootageError, import_footage


def _count(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("src", help="a video file, or a folder of PNG/JPEG frames sorted by name")
    p.add_argument("out", help="dataset folder to write (frames.npy + meta.json)")
    p.add_argument("--size", type=_count, default=64, help="frame size in pixels (default 64)")
    p.add_argument("--fit", choices=FITS, default="crop",
                   help="crop: centre square (default); letterbox: pad with the median edge colour")
    p.add_argument("--max-frames", type=_count, default=None, metavar="N", help="stop after N frames")
    p.add_argument("--every", type=_count, default=1, metavar="K", help="keep every K-th frame (default 1)")
    p.add_argument("--fps", type=float, default=None,
                   help="source frame rate (default: the video's own, 20 for a folder)")
    p.add_argument("--force", action="store_true", help="replace OUT if it exists and is not empty")


def run(args) -> int:
    try:
        out = import_footage(args.src, args.out, size=args.size, fit=args.fit, max_frames=args.max_frames,
                             every=args.every, fps=args.fps, force=args.force, progress=True)
    except FootageError as e:
        print(f"duralava import: {e}", file=sys.stderr)
        return 2
    import json

    meta = json.loads((out / "meta.json").read_text())
    print(f"wrote {meta['frames']} frames of {meta['size']}x{meta['size']} ({meta['fit']}, "
          f"{meta['fps']:g} fps) to {out}")
    return 0
