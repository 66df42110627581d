"""`duralava sim OUT`: run the lava-lamp simulator and write a frame dataset.

OUT/frames.npy (uint8 N x S x S x 3) and OUT/meta.json, optionally
OUT/frames/image0000001.png ... and OUT/preview.mp4. Everything is written into
a temporary folder beside OUT and renamed at the end, so an error or Ctrl-C
never leaves a half-written dataset.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

from .cli_args import whole_number

FORMAT = "duralava-frames"
VERSION = 1
PREVIEW_FRAMES = 1200     # one lamp, a minute at 20 fps
PREVIEW_SIZE = 256


class SimCommandError(ValueError):
    """A bad `duralava sim` request, with one sentence saying what is wrong."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from .render import PALETTES
    from .simulator import DEFAULT_STRIDE, PRESETS

    parser.add_argument("out", type=Path, help="dataset folder to create")
    parser.add_argument("--frames", type=whole_number(1), default=20_000,
                        help="frames to write (default 20000)")
    parser.add_argument("--size", type=whole_number(8), default=64, help="frame side in pixels (default 64)")
    parser.add_argument("--seed", type=whole_number(0), default=0, help="random seed (default 0)")
    parser.add_argument("--stride", type=whole_number(1), default=DEFAULT_STRIDE,
                        help=f"simulation steps per frame (default {DEFAULT_STRIDE})")
    parser.add_argument("--palette", default="classic",
                        help=f"colours: {', '.join(PALETTES)} (default classic)")
    parser.add_argument("--preset", default="classic",
                        help=f"lamp physics: {', '.join(PRESETS)} (default classic)")
    parser.add_argument("--lamps", type=whole_number(1), default=None,
                        help="independent lamps (default: one per 2000 frames)")
    parser.add_argument("--workers", type=whole_number(1), default=None,
                        help="processes (default: all cores)")
    parser.add_argument("--png", action="store_true", help="also write frames/image0000001.png ...")
    parser.add_argument("--mp4", action="store_true",
                        help=f"also write preview.mp4 (first lamp, up to {PREVIEW_FRAMES} frames)")
    parser.add_argument("--fps", type=float, default=20.0, help="preview frame rate (default 20)")
    parser.add_argument("--force", action="store_true", help="replace OUT if it exists")


def _check(args) -> None:
    from .render import PALETTES
    from .simulator import PRESETS

    if args.palette not in PALETTES:
        raise SimCommandError(f"unknown palette {args.palette!r}; choose one of {', '.join(sorted(PALETTES))}.")
    if args.preset not in PRESETS:
        raise SimCommandError(f"unknown preset {args.preset!r}; choose one of {', '.join(sorted(PRESETS))}.")
    if args.size > 4096:
        raise SimCommandError(f"--size must be at most 4096, not {args.size}.")
    if not 0.1 <= args.fps <= 1000:
        raise SimCommandError(f"--fps must be from 0.1 to 1000, not {args.fps}.")
    out = args.out
    if out.exists() and not out.is_dir():
        raise SimCommandError(f"{str(out)!r} exists and is not a folder.")
    if out.is_dir() and any(out.iterdir()) and not args.force:
        raise SimCommandError(f"{str(out)!r} is not empty; pass --force to replace it.")
    if not out.resolve().parent.is_dir():
        raise SimCommandError(f"the folder {str(out.resolve().parent)!r} does not exist.")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_dataset(folder: Path, frames: np.ndarray, meta: dict, png: bool, mp4: bool,
                  fps: float = 20.0, progress: bool = True) -> None:
    """Write meta.json and the optional PNGs and preview into ``folder``, and
    frames.npy unless ``frames`` is already that file (a memmap there)."""
    from tqdm import tqdm

    target = folder / "frames.npy"
    if getattr(frames, "filename", None) is None or Path(frames.filename).resolve() != target.resolve():
        np.save(target, frames)
    if png:
        from PIL import Image

        (folder / "frames").mkdir()
        for i, frame in enumerate(tqdm(frames, desc="png", unit="frame", disable=not progress,
                                       file=sys.stderr)):
            Image.fromarray(frame).save(folder / "frames" / f"image{i + 1:07d}.png", compress_level=1)
    if mp4:
        from .video import write_mp4

        first = frames[: min(PREVIEW_FRAMES, meta["segments"][0])]
        write_mp4(folder / "preview.mp4", first, fps=fps, size=max(PREVIEW_SIZE, meta["size"]))
    (folder / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")


def run(args) -> int:
    from .render import RenderError
    from .simulator import SimulatorError, preset, simulate_frames
    from .video import VideoError

    tmp = None
    try:
        _check(args)
        params = preset(args.preset)
        out = args.out.resolve()
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".part", dir=out.parent))
        tmp.chmod(0o777 & ~_umask())        # mkdtemp makes it private; a dataset is not
        # Frames go straight into the .npy file: a run may be larger than memory.
        frames = np.lib.format.open_memmap(tmp / "frames.npy", mode="w+", dtype=np.uint8,
                                           shape=(args.frames, args.size, args.size, 3))
        _, segments = simulate_frames(args.frames, size=args.size, seed=args.seed,
                                      stride=args.stride, palette=args.palette, params=params,
                                      n_lamps=args.lamps, workers=args.workers, progress=True,
                                      out=frames)
        frames.flush()
        meta = {"format": FORMAT, "version": VERSION, "source": "sim", "size": args.size,
                "frames": int(len(frames)), "segments": [int(s) for s in segments],
                "stride": args.stride, "seed": args.seed, "palette": args.palette,
                "preset": args.preset, "params": params.to_dict()}
        write_dataset(tmp, frames, meta, args.png, args.mp4, args.fps)
        del frames
        old = None
        if out.exists():
            # Move the old dataset aside first so OUT is never missing or mixed.
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
            os.replace(out, old / "data")
        os.replace(tmp, out)
        tmp = None
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        print(f"wrote {args.frames} frames ({len(segments)} lamps) to {out}", file=sys.stderr)
        return 0
    except (SimCommandError, SimulatorError, RenderError, VideoError) as e:
        print(f"duralava sim: error: {e}", file=sys.stderr)
        return 2
    finally:
        if tmp is not None and tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
