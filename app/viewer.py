"""duralava-viewer: a real-time neural lava lamp.

Plays a lamp (a generator and a latent RNN from a safetensors checkpoint) in a
window with a control panel, full screen as an ambient light, headless into files,
or as a benchmark. Keys: F/F11 fullscreen, H hide the panel, Space pause,
R reseed, N kick, S screenshot, Esc leave fullscreen (then quit), Q quit.
"""
from __future__ import annotations

import argparse
import os
import sys

from duralava.models.cli_args import positive_float, positive_int

from .renderer import INTERPOLATIONS, UPSCALERS


def parse_size(text: str) -> tuple[int, int]:
    """'WxH' -> (W, H); argparse shows the error sentence."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 1280x720, not {text!r}") from None
    if not (16 <= w <= 8192 and 16 <= h <= 8192):
        raise argparse.ArgumentTypeError(f"size must be between 16x16 and 8192x8192, not {text!r}")
    return w, h


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="duralava-viewer", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", metavar="PATH", help="lamp file to play (default: the shipped lamp)")
    p.add_argument("--seed", type=int, default=0, help="seed of the first latent (default 0)")
    p.add_argument("--tick-rate", type=positive_float, default=6.0, metavar="HZ",
                   help="lamp ticks per second (default 6)")
    p.add_argument("--device", help="torch device: cpu, cuda, mps (default: the best present)")
    p.add_argument("--size", type=parse_size, metavar="WxH",
                   help="window size (default 960x720), or picture size with --headless (default 512x512)")
    p.add_argument("--upscaler", choices=list(UPSCALERS), default="lava", help="default: lava")
    p.add_argument("--interpolation", choices=INTERPOLATIONS, default="latent",
                   help="between ticks: latent (decode in-betweens), motion (slide the wax edges), "
                        "flow (warp along estimated motion), crossfade or none (default latent)")
    win = p.add_argument_group("window")
    win.add_argument("--fullscreen", action="store_true", help="start full screen")
    win.add_argument("--monitor", type=int, default=None, metavar="N", help="screen to use (0 is the first)")
    win.add_argument("--no-ui", action="store_true", help="kiosk: no panel, no cursor")
    win.add_argument("--exit-after", type=positive_float, help=argparse.SUPPRESS)
    win.add_argument("--screenshot-at-exit", metavar="PATH", help=argparse.SUPPRESS)
    head = p.add_argument_group("headless export (no window)")
    head.add_argument("--headless", action="store_true", help="render to files instead of a window")
    head.add_argument("--ticks", type=positive_int, default=600, metavar="N", help="ticks to run (default 600)")
    head.add_argument("--out", metavar="DIR", default="out", help="output folder (default ./out)")
    head.add_argument("--keep-every", type=positive_int, default=1, metavar="K",
                      help="keep every K-th tick in frames.npy / latents.npy (default 1)")
    head.add_argument("--video", metavar="FILE.mp4", help="also write a 60 fps video as on screen")
    p.add_argument("--benchmark", action="store_true", help="measure the draw loop, engine and shaders")
    p.add_argument("--bench-seconds", type=positive_float, default=30.0, help=argparse.SUPPRESS)
    p.add_argument("--bench-frames", type=positive_int, default=40, help=argparse.SUPPRESS)
    return p


NO_DISPLAY = ("no display was found; run it under a desktop session or xvfb-run, "
              "or use --headless to write frames and video to files.")


def has_display() -> bool:
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.headless:
        from . import headless
        return headless.run(args)
    if args.benchmark:
        from . import bench
        return bench.run(args)
    if not has_display():
        print(f"duralava-viewer: {NO_DISPLAY}", file=sys.stderr)
        return 1
    try:
        from . import window
    except Exception as exc:  # pyglet connects to the display on import
        if type(exc).__name__ != "NoSuchDisplayException":
            raise
        print(f"duralava-viewer: {NO_DISPLAY}", file=sys.stderr)
        return 1
    return window.run(args)


if __name__ == "__main__":
    sys.exit(main())
