"""`duralava floor`: how far apart two simulator runs are at a given sample count.

A Frechet distance only means something beside this floor. The table also
shows three lamps that are wrong on purpose (shuffled frames, half speed,
swapped colours) so the scale of "far" is visible at the same sample count.
"""
from __future__ import annotations

import argparse
import json
import sys


def _whole(low: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
        return value
    return parse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--samples", type=_whole(2), default=1000, metavar="N",
                   help="frames sampled per run for frame features (default 1000)")
    p.add_argument("--clips", type=_whole(2), default=200, metavar="C",
                   help="clips sampled per run for clip features (default 200)")
    p.add_argument("--clip-len", type=_whole(2), default=16, metavar="T", help="frames per clip (default 16)")
    p.add_argument("--size", type=_whole(8), default=64, help="frame size in pixels (default 64)")
    p.add_argument("--frames", type=_whole(2), default=None, metavar="F",
                   help="simulated frames per run (default: 4 x samples, at least 2 x clips x clip length)")
    p.add_argument("--lamps", type=_whole(1), default=None, help="lamps per run (default: the simulator's)")
    p.add_argument("--seeds", type=_whole(0), nargs="+", default=[1, 2],
                   help="reference seed, then one or more floor seeds (default 1 2)")
    p.add_argument("--palette", default="classic", help="simulator palette (default classic)")
    p.add_argument("--workers", type=_whole(1), default=None, help="simulator processes (default: all cores)")
    p.add_argument("--json", action="store_true", help="print the figures as JSON instead of a table")


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


def run(args) -> int:
    from .metrics import MetricsError, floor
    from .render import RenderError
    from .simulator import SimulatorError

    if len(set(args.seeds)) < 2:
        print("duralava floor: give at least two different seeds.", file=sys.stderr)
        return 2
    try:
        r = floor(args.samples, args.clips, args.clip_len, args.size, n_frames=args.frames, seeds=args.seeds,
                  palette=args.palette, n_lamps=args.lamps, workers=args.workers, progress=not args.json)
    except (MetricsError, SimulatorError, RenderError) as e:
        print(f"duralava floor: {e}", file=sys.stderr)
        return 2
    print(json.dumps(r, indent=2) if args.json else table(r))
    return 0
