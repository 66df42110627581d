"""`duralava`: the command line for everything but the viewer.

Each subcommand lives in its own module with ``add_arguments(parser)`` and
``run(args) -> int``; this file only lists them, so importing the CLI stays cheap
and a subcommand's heavy imports (torch) happen only when it runs.
"""
from __future__ import annotations

import argparse
import importlib
import sys

# name -> (module under duralava.models, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "sim": ("sim_cmd", "run the lava-lamp simulator and write frames to disk"),
    "bench": ("bench_cmd", "time a part of the project (sim: simulator frames per second)"),
    "import": ("import_cmd", "import a video or a folder of frames as a training dataset"),
    "floor": ("floor_cmd", "how far apart two simulator runs are: the floor every fidelity figure needs"),
    "eval": ("eval_cmd", "measure a lamp: endurance, fidelity to the simulator, tick cost"),
    "lamp": ("lamp_cmd", "show what a lamp file holds, or copy it to play with another drive, wander or warm-up"),
    "train": ("train_cmd", "train a lamp (generator + latent RNN) from the simulator or a dataset"),
    "upscaler": ("upscaler_cmd", "train the tiny neural upscaler on simulator pairs and export it to GLSL"),
}


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="duralava",
        description="Simulate, train, evaluate and export neural lava lamps.",
    )
    parser.add_argument("--version", action="version", version=f"duralava {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module)
        importlib.import_module(f"{__package__}.{module}").add_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_module", None):
        parser.print_help()
        return 2
    module = importlib.import_module(f"{__package__}.{args._module}")
    try:
        return int(module.run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
