"""`duralava floor`: how far apart two simulator runs are at a given sample count.

A Frechet distance only means something beside this floor. The table also
shows three lamps that are wrong on purpose (shuffled frames, half speed,
swapped colours) so the scale of "far" is visible at the same sample count.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from .cli_args import whole_number

ROWS = (("reference", "reference: seed {ref}"), ("floor", "floor: seed {floor}"),
        ("shuffled", "shuffled frames"), ("half_speed", "half speed"),
        ("swapped_colours", "swapped colours"))
EXAMPLES = 6          # consecutive frames shown per run
BAR = 220             # pixels for six decades of the distance / floor ratio


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--samples", type=whole_number(2), default=1000, metavar="N",
                   help="frames sampled per run for frame features (default 1000)")
    p.add_argument("--clips", type=whole_number(2), default=200, metavar="C",
                   help="clips sampled per run for clip features (default 200)")
    p.add_argument("--clip-len", type=whole_number(2), default=16, metavar="T", help="frames per clip (default 16)")
    p.add_argument("--size", type=whole_number(8), default=64, help="frame size in pixels (default 64)")
    p.add_argument("--frames", type=whole_number(2), default=None, metavar="F",
                   help="simulated frames per run (default: 4 x samples, at least 2 x clips x clip length)")
    p.add_argument("--lamps", type=whole_number(1), default=None, help="lamps per run (default: the simulator's)")
    p.add_argument("--seeds", type=whole_number(0), nargs="+", default=[1, 2],
                   help="reference seed, then one or more floor seeds (default 1 2)")
    p.add_argument("--palette", default="classic", help="simulator palette (default classic)")
    p.add_argument("--workers", type=whole_number(1), default=None, help="simulator processes (default: all cores)")
    p.add_argument("--json", action="store_true", help="print the figures as JSON instead of a table")
    p.add_argument("--plot", type=Path, default=None, metavar="PNG",
                   help="also draw each run's first frames beside its distances (log scale) to PNG")


def table(r: dict) -> str:
    """The floor and the wrong lamps, with each distance as a multiple of the floor."""
    fl = r["floor"]

    def cell(d: dict, kind: str) -> str:
        ratio = d[kind] / fl[kind] if fl[kind] > 0 else float("inf")
        return f"{d[kind]:>10.3g} {'(' + format(ratio, '.3g') + 'x)':>9}"

    lines = [f"Frechet distances against simulator seed {r['seeds'][0]}: {r['samples']} frames, "
             f"{r['clips']} clips of {r['clip_len']}, {r['frames_per_run']} frames per run, stride {r['stride']}",
             f"{'':24}{'frame':>20}{'clip':>20}"]
    for f in r["floors"]:
        lines.append(f"{'floor: seed ' + str(f['seed']):24}{cell(f, 'frame')}{cell(f, 'clip')}")
    for name, key in (("shuffled frames", "shuffled"), ("half speed", "half_speed"),
                      ("swapped colours", "swapped_colours")):
        lines.append(f"{name:24}{cell(r[key], 'frame')}{cell(r[key], 'clip')}")
    lines.append("(x: multiple of the mean floor; a lamp is as good as the simulator when near 1x)")
    return "\n".join(lines)


def plot(r: dict, path: Path) -> Path:
    """Each run's first frames, then its frame and clip distance as bars of log10(distance / floor)."""
    from PIL import Image, ImageDraw

    frames = r["examples"]
    size = frames["reference"].shape[1]
    scale = max(1, 64 // size)
    tile = size * scale
    left, label = 10, 150
    strip = EXAMPLES * (tile + 2)
    width = left + label + strip + 2 * (BAR + 90)
    height = 40 + len(ROWS) * (tile + 10)
    img = Image.new("RGB", (width, height), (250, 250, 252))
    draw = ImageDraw.Draw(img)
    x_bars = left + label + strip + 10
    draw.text((x_bars, 8), "frame distance / floor", fill=(40, 40, 48))
    draw.text((x_bars + BAR + 90, 8), "clip distance / floor", fill=(40, 40, 48))
    for i, (key, title) in enumerate(ROWS):
        y = 30 + i * (tile + 10)
        draw.text((left, y + tile // 2 - 6), title.format(ref=r["seeds"][0], floor=r["seeds"][-1]),
                  fill=(40, 40, 48))
        for k, f in enumerate(frames[key][:EXAMPLES]):
            img.paste(Image.fromarray(np.asarray(f).repeat(scale, 0).repeat(scale, 1)),
                      (left + label + k * (tile + 2), y))
        if key == "reference":
            continue
        d = r["floors"][-1] if key == "floor" else r[key]
        for j, kind in enumerate(("frame", "clip")):
            x0 = x_bars + j * (BAR + 90)
            ratio = d[kind] / r["floor"][kind] if r["floor"][kind] > 0 else float("inf")
            # 0.1x .. 100000x over BAR pixels; the tick marks 1x, the floor.
            length = int(np.clip((np.log10(max(ratio, 1e-9)) + 1) / 6, 0, 1) * BAR)
            colour = (90, 160, 90) if ratio < 2 else (200, 90, 20) if ratio < 10 else (180, 30, 30)
            draw.rectangle((x0, y + tile // 2 - 8, x0 + max(length, 1), y + tile // 2 + 8), fill=colour)
            draw.line((x0 + BAR // 6, y + 4, x0 + BAR // 6, y + tile - 4), fill=(40, 40, 48))
            draw.text((x0 + min(length, BAR) + 6, y + tile // 2 - 6), f"{ratio:.3g}x", fill=(40, 40, 48))
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".png", dir=path.parent)
    os.close(fd)
    try:
        img.save(tmp, format="PNG")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    return path


def run(args) -> int:
    from .metrics import MetricsError, floor
    from .render import RenderError
    from .simulator import SimulatorError

    if len(set(args.seeds)) < 2:
        print("duralava floor: give at least two different seeds.", file=sys.stderr)
        return 2
    if args.plot is not None and not args.plot.parent.is_dir():
        print(f"duralava floor: the folder for {args.plot} does not exist.", file=sys.stderr)
        return 2
    try:
        r = floor(args.samples, args.clips, args.clip_len, args.size, n_frames=args.frames, seeds=args.seeds,
                  palette=args.palette, n_lamps=args.lamps, workers=args.workers, progress=not args.json,
                  examples=EXAMPLES if args.plot else 0)
    except (MetricsError, SimulatorError, RenderError) as e:
        print(f"duralava floor: {e}", file=sys.stderr)
        return 2
    if args.plot is not None:
        print(f"picture: {plot(r, args.plot)}", file=sys.stderr)
    r.pop("examples", None)
    print(json.dumps(r, indent=2) if args.json else table(r))
    return 0
