"""`duralava eval [TARGET]`: measure a lamp against its targets and print a table of figures.

Targets run in the order of ``TARGETS``; ``all`` runs every one. A target is a
function taking the shared :class:`Evaluation` and returning rows (name,
wanted, measured, passed); it may leave results on the evaluation for later
targets (endurance leaves its final latents, so fidelity after a long run
reuses them). Adding a target is one more entry in ``TARGETS``.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from .cli_args import positive_number, whole_number

TICK_BUDGET_MS = 3.0

_count = whole_number(separators=True)     # counts may be written 1,000,000
_positive = positive_number(finite=True)
_whole = whole_number(0, separators=True)
MAX_FIRST_SEED = 2 ** 31 - 1_000_000          # room for every draw's seeds above it


def _seed(text: str) -> int:
    value = _whole(text)
    if value > MAX_FIRST_SEED:
        raise argparse.ArgumentTypeError(f"expected a seed from 0 to {MAX_FIRST_SEED:,}, not {text!r}")
    return value


# The full run; --quick swaps in the second figure of each pair.
DEFAULTS = {
    "seeds": (100, 8), "ticks": (1_000_000, 20_000), "window": (1000, 1000), "pairs": (2, 2),
    "history_every": (100, 20), "frames": (1000, 300), "clips": (100, 40), "clip_len": (16, 16),
    "ticks_per_seed": (64, 64), "reference_frames": (32_000, 4000), "draws": (4, 2), "tick_count": (3000, 500),
}

# Ticks between the draws taken after the long run: the same seeds, far enough on to be somewhere else.
DRAW_GAP = 10_000


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = "targets:\n" + "\n".join(f"  {name:<10} {text}" for name, (_, text) in TARGETS.items()) + (
        "\n  all        tick, endurance and fidelity, sharing one simulator reference and one long run"
        "\n\nexit status: 0 when every target is met, 1 when one is missed, 2 on a bad input.")
    p.epilog = p.epilog.replace("\n  all ", "".join(
        f"\n  {name:<10} {text}" for name, (_, text) in _shader_targets().items()) + "\n  all ", 1)
    p.add_argument("target", nargs="?", default="all", choices=[*TARGETS, *SHADER_TARGETS, "all"],
                   help="what to measure (default: all)")
    p.add_argument("--checkpoint", type=Path, default=None, metavar="PATH",
                   help="lamp file (default: the shipped default lamp)")
    p.add_argument("--untrained", action="store_true", help="measure an untrained lamp instead of a file")
    p.add_argument("--quick", action="store_true",
                   help="a short run (8 seeds x 20,000 ticks, fewer samples) to try things out")
    p.add_argument("--out", type=Path, default=Path("eval-report"), metavar="DIR",
                   help="folder for the JSON report and pictures (default: ./eval-report)")
    g = p.add_argument_group("endurance")
    g.add_argument("--seeds", type=_count, metavar="N", help="seeds run side by side (default 100)")
    g.add_argument("--ticks", type=_count, metavar="N", help="ticks per seed (default 1,000,000)")
    g.add_argument("--window", type=_count, metavar="N", help="ticks per checked window (default 1000)")
    g.add_argument("--pairs", type=_count, metavar="N", help="tick pairs decoded per window and seed (default 2)")
    g.add_argument("--history-every", type=_count, metavar="N",
                   help="keep every n-th latent for the no-repeat search (default 100)")
    g.add_argument("--repeat-ratio", type=_positive, default=0.1, metavar="R",
                   help="a return closer than this times sqrt(2Z) is a repeat (default 0.1)")
    g.add_argument("--motion-reference", type=_positive, default=None, metavar="DIFF",
                   help="the simulator's mean |frame difference| per tick (0-255); skips simulating it")
    g = p.add_argument_group("fidelity")
    g.add_argument("--frames", type=_count, metavar="N", help="frames sampled for frame features (default 1000)")
    g.add_argument("--clips", type=_count, metavar="N", help="clips sampled for clip features (default 100)")
    g.add_argument("--clip-len", type=_count, metavar="N", help="frames per clip (default 16)")
    g.add_argument("--ticks-per-seed", type=_count, metavar="N",
                   help="consecutive frames decoded per seed (default 64)")
    g.add_argument("--reference-frames", type=_count, metavar="N",
                   help="simulator frames of the reference, 500 from each lamp (default 32,000)")
    g.add_argument("--draws", type=_count, metavar="N",
                   help="draws of --seeds lamps the floor and each figure are averaged over (default 4)")
    g = p.add_argument_group("tick cost")
    g.add_argument("--tick-count", type=_count, metavar="N", help="ticks timed (default 3000)")
    p.add_argument("--first-seed", type=_seed, default=0, metavar="N",
                   help="the first lamp seed played (default 0): endurance plays --seeds from it, fidelity's draws "
                        "the seeds after them; another set says how much of a figure is the seeds")
    p.add_argument("--threads", type=_count, default=1, metavar="N",
                   help="torch threads for endurance and fidelity (default 1)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    from . import upscale_eval

    upscale_eval.add_arguments(p)


def _setting(args, name: str):
    value = getattr(args, name, None)
    return value if value is not None else DEFAULTS[name][1 if args.quick else 0]


@dataclass
class Evaluation:
    """What the targets share: the lamp, the settings, and results one target leaves for another."""
    lamp: object
    args: argparse.Namespace
    label: str
    progress: bool = True
    figures: dict = field(default_factory=dict)   # target -> JSON-able figures for report.json
    pictures: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)   # lines printed under the table
    endurance: object | None = None               # EnduranceResult, once run
    _judge: object | None = None

    def setting(self, name: str):
        return _setting(self.args, name)

    def endurance_config(self):
        from .endurance import EnduranceConfig

        return EnduranceConfig(seeds=self.setting("seeds"), ticks=self.setting("ticks"), window=self.setting("window"),
                               pairs_per_window=self.setting("pairs"), history_every=self.setting("history_every"),
                               repeat_ratio=self.args.repeat_ratio, first_seed=self.args.first_seed)

    def fidelity_plan(self):
        from .fidelity import FidelityPlan

        plan = FidelityPlan(ticks_per_seed=self.setting("ticks_per_seed"), n_frames=self.setting("frames"),
                            n_clips=self.setting("clips"), clip_len=self.setting("clip_len"),
                            reference_frames=self.setting("reference_frames"), lamps=self.setting("seeds"),
                            draws=self.setting("draws"))
        plan.check_counts()
        return plan

    def check(self, targets: list[str]) -> None:
        """Build every chosen target's settings now, so a bad one fails before an hour-long run, not after."""
        if "endurance" in targets:
            self.endurance_config()
        if "fidelity" in targets:
            self.fidelity_plan()

    def judge(self):
        """The simulator reference for this lamp, simulated once and shared by the targets."""
        if self._judge is None:
            from .fidelity import FidelityJudge, simulator_settings

            plan = self.fidelity_plan()
            settings = simulator_settings(self.lamp.meta)
            if settings.note:
                print(f"note: {settings.note}.", file=sys.stderr)
            print(f"simulating the reference: {settings.describe()}", file=sys.stderr)
            self._judge = FidelityJudge(settings, self.lamp.image_size, plan, progress=self.progress)
        return self._judge


def tick_target(ev: Evaluation) -> list[dict]:
    """One RNN step plus decoding one frame to uint8, as the viewer's engine does, on one thread."""
    import torch

    lamp, n = ev.lamp, ev.setting("tick_count")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        z = torch.randn(1, lamp.z_dim, generator=torch.Generator().manual_seed(0))
        noise_rng = torch.Generator().manual_seed(1)
        rnn_ms, total_ms = [], []
        with torch.inference_mode():
            for i in range(n + 50):                  # the first ticks warm caches and allocators
                t0 = time.perf_counter()
                z = lamp.rnn.tick(z, generator=noise_rng)
                t1 = time.perf_counter()
                # The frame as the engine hands it to the renderer: uint8 (S, S, 3) in host memory.
                (lamp.generator(z)[0] * 255).round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()
                t2 = time.perf_counter()
                if i >= 50:
                    rnn_ms.append((t1 - t0) * 1e3)
                    total_ms.append((t2 - t0) * 1e3)
    finally:
        torch.set_num_threads(threads)
    q = statistics.quantiles(total_ms, n=20)
    median, p95 = statistics.median(total_ms), q[18]
    ev.figures["tick"] = {"ticks": n, "median_ms": median, "p95_ms": p95, "rnn_median_ms": statistics.median(rnn_ms),
                          "decode_median_ms": median - statistics.median(rnn_ms)}
    detail = f"(RNN {statistics.median(rnn_ms):.2f} ms + decode; {n} ticks, 1 thread)"
    return [
        {"name": "tick cost, median", "wanted": f"<= {TICK_BUDGET_MS:g} ms",
         "measured": f"{median:.2f} ms {detail}", "passed": median <= TICK_BUDGET_MS},
        {"name": "tick cost, p95", "wanted": f"<= {TICK_BUDGET_MS:g} ms",
         "measured": f"{p95:.2f} ms", "passed": p95 <= TICK_BUDGET_MS},
    ]


def endurance_target(ev: Evaluation) -> list[dict]:
    from .endurance import endurance_checks, endurance_figure, run_endurance
    from .eval_plot import save_png

    config = ev.endurance_config()
    motion = ev.args.motion_reference or ev.judge().motion
    decoded = 2 * config.pairs_per_window * config.seeds * config.n_windows
    print(f"endurance: {config.seeds} seeds x {config.ticks:,} ticks in one batch; decoding {config.pairs_per_window} "
          f"tick pairs per {config.window:,}-tick window and seed ({decoded:,} frames); keeping every "
          f"{config.history_every}th latent for the no-repeat search", file=sys.stderr)
    rnn = ev.lamp.rnn.config
    if rnn.drive > 0:
        print(f"endurance: the lamp's own motion is noise-driven (drive {rnn.drive:g}, wander {rnn.wander:g}), "
              f"seeded from the first seed, so the run repeats exactly", file=sys.stderr)
    result = run_endurance(ev.lamp.rnn, ev.lamp.generator, ev.lamp.z_dim, motion, config, progress=ev.progress)
    ev.endurance = result
    figure = endurance_figure(result, title=f"endurance of {Path(ev.label).name}")
    ev.pictures.append(save_png(figure, ev.args.out / "endurance.png"))
    rows = endurance_checks(result)
    ev.figures["endurance"] = {
        "seeds": config.seeds, "ticks": config.ticks, "window": config.window, "seconds": result.seconds,
        "decoded_frames": result.decoded_frames, "reference_motion": motion,
        "worst_abs_mean": float(result.abs_mean.max()), "worst_std_dev": float(result.std_dev.max()),
        "mean_skew": float(result.skew.mean()), "mean_kurtosis": float(result.kurt.mean()),
        "mean_latent_step": float(result.latent_step.mean()),
        "window_motion_ratio": [float(v) for v in result.window_motion() / motion],
        "closest_return": float(result.closest_return.min()),
        "closest_return_per_seed": [float(v) for v in result.closest_return],
        "latent_directions": result.directions, "rows": rows,
    }
    return rows


def fidelity_target(ev: Evaluation) -> list[dict]:
    from .endurance import advance, start_latents
    from .eval_plot import draw_offsets, save_png
    from .fidelity import contact_sheet, fidelity_checks, lamp_frames, mean_of_draws, where_it_lies
    from .metrics import FEATURE_NAMES

    judge = ev.judge()
    seeds, ticks, draws = ev.setting("seeds"), ev.setting("ticks"), judge.plan.draws
    rnn = ev.lamp.rnn
    first_seed = ev.args.first_seed
    start = start_latents(rnn, seeds, ev.lamp.z_dim, first_seed=first_seed)
    if ev.endurance is not None and ev.endurance.config.ticks == ticks:
        end = ev.endurance.final_latent                       # the same seeds, already run for `ticks` ticks
    else:
        end = advance(rnn, start, ticks, progress=ev.progress, desc=f"running {seeds} seeds")

    def start_draw(k):       # fresh seeds for each draw: seeds F+k*N .. F+(k+1)*N - 1
        return start if k == 0 else start_latents(rnn, seeds, ev.lamp.z_dim, first_seed=first_seed + k * seeds)

    later = [end]

    def end_draw(k):         # the long run's seeds, DRAW_GAP ticks further on for each draw
        while len(later) <= k:
            later.append(advance(rnn, later[-1], DRAW_GAP))
        return later[k]

    scores, sheet = {}, {"simulator": judge.reference}
    warmup = rnn.config.warmup
    first = f"start (after its {warmup:,}-tick warm-up)" if warmup else "start"
    for when, draw in ((first, start_draw), (f"tick {ticks:,}", end_draw)):
        each = []
        for k in range(draws):
            frames, segments = lamp_frames(rnn, ev.lamp.generator, draw(k), judge.plan.ticks_per_seed,
                                           progress=ev.progress, desc=f"decoding at {when}, draw {k + 1}/{draws}")
            each.append(judge.score(frames, segments))
            if k == 0:
                sheet[f"lamp at {when} (first tick of each seed)"] = frames[::segments[0]]
        scores[when] = mean_of_draws(each)
    floor = judge.floor
    ev.pictures.append(save_png(contact_sheet(sheet), ev.args.out / "fidelity.png"))
    where = {when: where_it_lies(s) for when, s in scores.items()}
    groups = [(f"{kind} features", list(FEATURE_NAMES[kind]),
               {when: s[f"{kind}_offsets"] for when, s in scores.items()}) for kind in ("clip", "frame")]
    title = f"{Path(ev.label).name}: each feature's mean less the simulator's, in the simulator's sd"
    ev.pictures.append(save_png(draw_offsets(groups, title), ev.args.out / "fidelity_features.png"))
    ev.notes += [f"fidelity at {when}, {line}" for when, lines in where.items() for line in lines]
    ev.figures["fidelity"] = {"simulator": judge.settings.describe(), "first_seed": first_seed,
                              "floor": floor, "scores": scores,
                              "where": where, "reference_motion": judge.motion}
    return fidelity_checks(scores, floor)


# name -> (function, one-line help); `all` runs them in this order.
TARGETS = {
    "tick": (tick_target, "one RNN step plus decoding one frame, on one CPU thread"),
    "endurance": (endurance_target, "a long run of many seeds: latent in band, frames moving, no repeats"),
    "fidelity": (fidelity_target, "Frechet distances to the simulator, at the start and after the long run"),
}


def _shader_targets() -> dict:
    """Targets that score the viewer's shaders against the simulator; they need no lamp and are not in `all`."""
    from . import upscale_eval

    return {
        "upscale": (upscale_eval.upscale_target, "each upscaler at 4x and 8x against the simulator drawn at that size"),
        "interp": (upscale_eval.interp_target, "each interpolator on the true in-betweens at the training stride"),
    }


SHADER_TARGETS = ("upscale", "interp")


def print_table(rows: list[tuple[str, dict]], file=None) -> None:
    file = file or sys.stdout
    head = ("target", "check", "wanted", "measured", "")
    table = [head] + [(t, r["name"], r["wanted"], r["measured"], "ok" if r["passed"] else "MISSED") for t, r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    for k, row in enumerate(table):
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip(), file=file)
        if k == 0:
            print("  ".join("-" * w for w in widths), file=file)


def _plain(value):
    """JSON-able copy: numpy scalars become floats, NaN and infinities null (strict JSON has neither)."""
    if hasattr(value, "tolist"):                 # numpy arrays and scalars
        value = value.tolist()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (bool, str, type(None))):
        return value
    if isinstance(value, int):
        return value
    try:
        f = float(value)
    except (TypeError, ValueError):
        return str(value)
    return f if math.isfinite(f) else None


def _write_json(data: dict, path: Path) -> None:
    data = _plain(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=1, allow_nan=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _load(args):
    from .checkpoint import load_lamp, random_lamp

    if args.untrained:
        return random_lamp(seed=0), "an untrained lamp"
    path = args.checkpoint
    if path is None:
        from duralava.checkpoints import default_path

        path = default_path()
        if not path.exists():
            raise FileNotFoundError(f"no lamp is shipped yet at {path}; train one, pass --checkpoint PATH, "
                                    f"or measure an untrained lamp with --untrained.")
    return load_lamp(path), str(path)


def run(args) -> int:
    import torch

    from .checkpoint import CheckpointError
    from .endurance import EnduranceError
    from .fidelity import FidelityError
    from .metrics import MetricsError

    torch.set_num_threads(args.threads)
    names = list(TARGETS) if args.target == "all" else [args.target]
    targets = {**TARGETS, **_shader_targets()} if args.target in SHADER_TARGETS else TARGETS
    try:
        if args.target in SHADER_TARGETS:
            lamp, label = None, "the viewer's shaders"
        else:
            lamp, label = _load(args)
        if args.out.exists() and not args.out.is_dir():
            raise FileExistsError(f"--out {args.out} is a file, not a folder.")
        ev = Evaluation(lamp=lamp, args=args, label=label, progress=not args.no_progress)
        ev.check(names)
        rows: list[tuple[str, dict]] = []
        for name in names:
            t0 = time.perf_counter()
            target_rows = targets[name][0](ev)
            rows += [(name, r) for r in target_rows]
            print(f"{name}: {sum(r['passed'] for r in target_rows)} of {len(target_rows)} checks met "
                  f"({time.perf_counter() - t0:.1f} s)", file=sys.stderr)
    except (CheckpointError, EnduranceError, FidelityError, MetricsError, FileNotFoundError, FileExistsError) as e:
        print(f"duralava eval: {e}", file=sys.stderr)
        return 2
    report = {"lamp": label, "meta": lamp.meta if lamp is not None else None, "targets": names, "quick": bool(args.quick),
              "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "rows": [{"target": t, **r} for t, r in rows], "figures": ev.figures}
    # One report per target, so measuring one target does not overwrite another's figures.
    report_path = args.out / f"{'report' if args.target == 'all' else args.target}.json"
    _write_json(report, report_path)
    print(f"\n{label}:")
    print_table(rows)
    if ev.notes:
        print("\nwhere the distances lie (each feature's mean on the lamp less the simulator's, in the "
              "simulator's sd):")
        for line in ev.notes:
            print(f"  {line}")
    missed = sum(not r["passed"] for _, r in rows)
    print(f"\n{len(rows) - missed} of {len(rows)} targets met; report in {report_path}"
          + "".join(f", picture {p}" for p in ev.pictures))
    return 1 if missed else 0
