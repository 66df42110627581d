"""`duralava bench TARGET`: print speed figures (never asserted anywhere).

Targets live in :data:`TARGETS` (name -> function(args) -> int). ``sim``: the
simulator with rendering at 64x64, at stride 1 and at the default stride, with
1 and 2 workers, and the wall time for 100,000 training frames from scratch.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time


def _cpu() -> float:
    """CPU seconds used by this process and its finished children."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _sim(args) -> int:
    from . import lamp_frames
    from .simulator import DEFAULT_STRIDE, LampParams, simulate_frames

    n = args.frames
    lamps = 2 * lamp_frames.GROUP         # two groups: one for each of two workers
    # The table times stepping and rendering only: lamps skip their warm start
    # (900 steps each, counted in the 100k figure below).
    steady = dataclasses.replace(LampParams(), settle_steps=0)
    print(f"simulator + renderer at 64x64: {n} frames from {lamps} lamps per run, warm starts "
          f"left out")
    print("frames/s and steps/s are wall clock; frames/cpu-s divides by the CPU time the run "
          "got,\nwhich is what a free core gives (on a shared machine the wall figures are lower)")
    print(f"{'workers':>8} {'stride':>7} {'frames/s':>10} {'steps/s':>10} {'frames/cpu-s':>13} "
          f"{'cpu share':>10}")
    for workers in (1, 2):
        for stride in (1, DEFAULT_STRIDE):
            t, c = time.perf_counter(), _cpu()
            simulate_frames(n, stride=stride, n_lamps=lamps, workers=workers, params=steady)
            dt, dc = time.perf_counter() - t, _cpu() - c
            print(f"{workers:>8} {stride:>7} {n / dt:>10.0f} {n * stride / dt:>10.0f} "
                  f"{n / dc:>13.0f} {dc / dt:>9.0%}", flush=True)

    total = 100_000
    workers = lamp_frames.default_workers()
    if args.full:
        t = time.perf_counter()
        simulate_frames(total, workers=workers, progress=True)
        dt = time.perf_counter() - t
        print(f"100,000 frames at stride {DEFAULT_STRIDE} from scratch, {workers} workers: "
              f"{dt:.1f} s (measured)")
    else:
        part = 5 * n                      # 10,000 at the default --frames
        # Same lamp count as the full run: time the warm starts alone (one frame
        # per lamp), then a tenth of the frames, and scale only the frames part.
        lamps_full = lamp_frames.default_lamps(total)
        t = time.perf_counter()
        simulate_frames(lamps_full, workers=workers, n_lamps=lamps_full)
        warm = time.perf_counter() - t
        t = time.perf_counter()
        simulate_frames(part, workers=workers, n_lamps=lamps_full)
        dt = time.perf_counter() - t
        estimate = warm + (dt - warm) * (total - lamps_full) / (part - lamps_full)
        print(f"100,000 frames at stride {DEFAULT_STRIDE} from scratch, {workers} workers: "
              f"about {estimate:.0f} s (extrapolated: {lamps_full} warm starts took {warm:.1f} s, "
              f"{part} frames {dt:.1f} s; --full measures it)")
    return 0


TARGETS = {"sim": _sim}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", choices=sorted(TARGETS), help="what to time")
    parser.add_argument("--frames", type=int, default=2000,
                        help="frames per timed run; the 100k estimate runs five times as many (default 2000)")
    parser.add_argument("--full", action="store_true", help="time all 100,000 frames instead of extrapolating")


def run(args) -> int:
    if args.frames < 100:
        print("duralava bench: error: --frames must be at least 100.", file=sys.stderr)
        return 2
    return TARGETS[args.target](args)
