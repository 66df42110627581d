"""`duralava train`: train a lamp from the simulator (default) or a dataset directory; resumable.

Writes OUT/lamp.safetensors (what the viewer plays: EMA generator + RNN),
OUT/best.safetensors (the lamp that scored best against the data so far) with
OUT/best.state.safetensors (the training state it was drawn from: --resume-best),
OUT/state.safetensors (everything needed to resume), OUT/train.log,
OUT/samples/ (sample grids, real.png beside them, timelapse.mp4) and OUT/tb/
(TensorBoard). Runs as-is under ``torchrun --nproc_per_node N`` for several
processes (DistributedDataParallel; gloo on CPU).
"""
from __future__ import annotations

import argparse
import shlex
import sys
from dataclasses import dataclass


class TrainError(ValueError):
    """A training request that cannot run; ``str()`` is one sentence for the user."""


@dataclass
class TrainConfig:
    out: str = "runs/default"
    data: str | None = None          # a dataset directory; None trains from the simulator
    preset: str = "classic"
    palette: str = "classic"
    sim_frames: int = 32000          # simulator frames made once and reused (cached under out/frames)
    steps: int | None = None         # steps to train in this run (None: no step limit)
    minutes: float | None = None     # wall-clock budget of this run (None: no time limit)
    batch: int = 32                  # clips per step (per process under torchrun)
    seq: int = 8                     # ticks per clip
    stride: int = 1                  # dataset frames per tick
    image_size: int = 64
    g_width: int = 16
    smooth: bool | None = None       # the generator's logit filter (models/generator.py); None: off for a new
                                     # run, as the resumed state has it otherwise
    still: bool | None = None        # the data's still pixels drawn from a still frame (models/generator.py);
                                     # None: on for a new run, as the resumed state has it otherwise
    rnn_hidden: int = 512
    d_width: int = 16
    td_width: int = 16
    clip_blur: int | None = None     # the temporal discriminator's blur (models/temporal_discriminator.py); None:
                                     # 4 for a new run, as the resumed state has it otherwise
    lr_g: float = 3e-4
    lr_d: float = 3e-4
    lr_rnn: float | None = None      # the RNN's learning rate (None: lr_g's); 0 with a positive lr_g trains the
                                     # generator alone, and the other way round
    betas: tuple[float, float] = (0.5, 0.999)
    loss: str = "hinge"              # "hinge" or "logistic" (non-saturating)
    clip_weight: float = 1.0         # the temporal discriminator's share of the generator's loss
    frame_weight: float = 1.0        # the frame discriminator's share of it
    moment_weight: float = 1.0
    spread_weight: float = 1.0       # keeps the batch's chains spread like independent draws
    reset_prob: float = 0.005        # chance per chain per step of restarting from fresh noise
    noise_prob: float = 0.25         # chance per chain of extra random noise on top of the drive (the viewer's stir)
    drive: float = 1.0               # noise amplitude fed to the RNN every tick: the lamp's own motion
    wander: float = 0.06             # share of the drive noise added straight onto z (see models/rnn.py)
    warmup: int = 1000               # ticks a fresh latent is run before the lamp is shown (stored in the lamp)
    return_weight: float = 1.0       # weight of the penalty for a chain staying near its own past
    trail_ticks: float = 1000.0      # time constant of each chain's trail of its past (ticks)
    whiten_weight: float = 0.0       # weight of the penalty for latents whose covariance is not the identity
                                     # (off: on a trained lamp it spread the latent but broke the frames)
    motion_weight: float = 1.0       # squared log ratio of generated to real motion per tick
    flicker_weight: float = 1.0      # the same at full resolution, per tick and across a clip, and per clip
                                     # against the wax outline's change (boiling texture; models/wax_motion.py)
    steady_weight: float = 1.0       # each clip's change across it against its change per tick, held to the data's
    liquid_weight: float = 0.0       # how fast the liquid's pixels change, per tick and across a clip, held to the
                                     # data's (off: at 1 the default lamp's checks went from 3.2x to 27x in 700 steps)
    wax_amount_weight: float = 0.0   # how little the amount of wax changes, per tick and across a clip, held to
                                     # the data's (the wax is conserved)
    wax_motion_weight: float = 1.0   # the same for the wax's outline and centre of mass (models/wax_motion.py)
    wax_flux_weight: float = 0.0     # the same for the wax crossing each height per tick (eval's wax_flux): with the
                                     # outline's speed held, more means wax carried, less the outline reshaped (off:
                                     # on the default lamp it slowed all of the wax, or with the outline's pace
                                     # pressed harder evened the motion out; checkpoints/default.md)
    wax_spread_weight: float = 1.0   # the same for how much those speeds vary from clip to clip
    colour_weight: float = 1.0       # the same for the shares of pixels in eval's colour bands (sharp outline)
                                     # and their mean distance off the liquid -> wax colour line
    shape_weight: float = 0.0        # the same for the wax's outline for its area (eval's perimeter_per_area: droplets
                                     # small and ragged, or round)
    height_weight: float = 0.0       # the same for the wax's share in each of eval's height bands (the whole cycle;
                                     # off: at 1 a lamp whose wax stayed high grew a second blob on the bulb)
    frame_d_frames: int = 2          # frames per clip the frame discriminator judges
    ema_decay: float = 0.999
    save_every_min: float = 5.0
    sample_every_min: float = 5.0
    judge: bool = True               # score the lamp against the data every few minutes, keep the best
    judge_every_min: float = 5.0     # a check on the simulator takes half a minute on one thread
    log_every: int = 10
    seed: int = 0
    device: str = "auto"
    threads: int = 2
    fp16_lamp: bool = False
    resume: bool = False
    resume_best: bool = False        # resume from the state the best lamp was drawn from, not the last
    from_average: bool = False       # a resumed run's trained weights start from the lamp's (their average)
    dry_run: bool = False
    progress: bool = True
    command: str = ""

    @property
    def rnn_lr(self) -> float:
        """The RNN's learning rate: its own if given, else the generator's."""
        return self.lr_g if self.lr_rnn is None else self.lr_rnn

    @staticmethod
    def dry(**overrides) -> "TrainConfig":
        """Tiny settings that run the whole program in seconds."""
        base = dict(out="runs/dry-run", sim_frames=96, steps=2, batch=4, seq=4, image_size=32, g_width=4,
                    rnn_hidden=32, d_width=4, td_width=4, save_every_min=0.0, sample_every_min=0.0,
                    judge_every_min=0.0,
                    log_every=1, dry_run=True)
        base.update(overrides)
        return TrainConfig(**base)


# The loss weights a run may set: field -> its flag's help ("{}" is the default). Each is a
# float flag --name-with-dashes that must not be negative.
LOSS_WEIGHTS = {
    "frame_weight": "weight of the frame discriminator's verdict in the generator's and the RNN's loss; 0 with "
                    "--lr-g 0 leaves the RNN to learn motion from the clips alone, rather than to seek the frames "
                    "the frame discriminator likes best (default {})",
    "clip_weight": "weight of the temporal discriminator's verdict on the clips in the generator's and the RNN's "
                   "loss; 0 leaves the motion to the terms that hold it to the data's (default {})",
    "return_weight": "weight of the penalty for a chain of latents staying near its own past (default {})",
    "whiten_weight": "weight of the penalty for latents that use only a few of their directions "
                     "(covariance over many ticks away from the identity; default {})",
    "motion_weight": "weight of matching the data's motion per tick (default {})",
    "flicker_weight": "weight of matching how fast the data's finest detail changes, per tick and across a "
                      "clip, and how much of it the wax's movement explains, so the wax's texture does "
                      "not boil (default {})",
    "steady_weight": "weight of holding each clip's change from first to last frame, against its change per "
                     "tick, to the data's: motion that keeps its direction, as the wax's does, rather than "
                     "a wobble (default {})",
    "liquid_weight": "weight of matching how little the data's liquid changes, per tick and across a clip, "
                      "so that only the wax moves and the glass does not shimmer or drift in shade (default {})",
    "wax_amount_weight": "weight of matching how little the data's amount of wax changes, per tick and across "
                         "a clip: the wax moves, it does not swell and shrink (default {})",
    "wax_motion_weight": "weight of matching how fast the data's wax outline and centre move per tick (default {})",
    "wax_flux_weight": "weight of matching how much of the data's wax crosses each height per tick: beside the "
                       "outline's speed, whether the wax reshapes as it moves or is carried whole (default {})",
    "wax_spread_weight": "weight of matching how much those speeds vary from clip to clip, as the data's wax "
                         "rests and then rises in spurts (default {})",
    "colour_weight": "weight of matching the data's shares of pixels from liquid to wax colour, and how far "
                     "their colours lie off the line between the two, so the wax's outline is as sharp and its "
                     "colour as pure as in the data (default {})",
    "shape_weight": "weight of matching how much outline the data's wax has for its area: many small droplets "
                    "have more than a few round blobs (default {})",
    "height_weight": "weight of matching how the data's wax spends its time at each height, resting on the "
                     "bulb as well as rising and sinking (default {})",
}

# The loss terms (LOSS_WEIGHTS without "_weight") that need the data's wax found by colour; the flicker
# term for its per-clip part only.
WAX_TERMS = ("wax_motion", "wax_flux", "wax_spread", "flicker", "liquid", "wax_amount", "colour", "height",
             "shape")

# flag -> TrainConfig field, for the flags whose default comes from the config (or its --dry-run variant)
SETTINGS = {
    "out": "out", "data": "data", "preset": "preset", "palette": "palette", "sim_frames": "sim_frames",
    "steps": "steps", "minutes": "minutes", "batch": "batch", "seq": "seq", "stride": "stride",
    "image_size": "image_size", "device": "device", "threads": "threads", "save_every_min": "save_every_min",
    "sample_every_min": "sample_every_min", "lr_g": "lr_g", "lr_d": "lr_d", "lr_rnn": "lr_rnn",
    "ema_decay": "ema_decay", "seed": "seed",
    "drive": "drive", "wander": "wander", "warmup": "warmup", "smooth": "smooth", "still": "still", "clip_blur": "clip_blur",
    "reset_prob": "reset_prob",
    "judge_every_min": "judge_every_min", **{name: name for name in LOSS_WEIGHTS},
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    d, tiny = TrainConfig(), TrainConfig.dry()
    p.add_argument("--out", help=f"run folder (default {d.out}; {tiny.out} with --dry-run)")
    p.add_argument("--data", metavar="DIR",
                   help="train on a dataset directory (frames.npy + meta.json) instead of the simulator")
    p.add_argument("--preset", help=f"simulator preset (default {d.preset})")
    p.add_argument("--palette", help=f"simulator palette (default {d.palette})")
    p.add_argument("--sim-frames", type=int, help=f"simulator frames made once and reused (default {d.sim_frames})")
    p.add_argument("--steps", type=int, help="train this many more steps (default: until stopped with Ctrl-C)")
    p.add_argument("--minutes", type=float, help="train this many more minutes")
    p.add_argument("--batch", type=int, help=f"clips per step, per process (default {d.batch})")
    p.add_argument("--seq", type=int, help=f"ticks per clip (default {d.seq})")
    p.add_argument("--stride", type=int, help=f"dataset frames per tick (default {d.stride})")
    p.add_argument("--image-size", type=int, help=f"frame size (default {d.image_size})")
    p.add_argument("--smooth", metavar="on|off",
                   help="a fixed 3x3 filter on the generator's logits against grainy wax (no weights, so a "
                        "resumed run may switch it; default: off for a new run, as the resumed state has it)")
    p.add_argument("--still", metavar="on|off",
                   help="the pixels no frame of the data changes (the lamp's body, the room) are drawn from the "
                        "data's still frame rather than decoded, so they cannot shimmer (no weights, so a resumed "
                        "run may switch it; default: on for a new run, as the resumed state has it)")
    p.add_argument("--clip-blur", type=int, metavar="N",
                   help="the temporal discriminator judges frames averaged over N x N blocks, so it judges motion "
                        "rather than fine texture (no weights, so a resumed run may change it; default: 4 for a "
                        "new run, as the resumed state has it; 2 reads half resolution, as states from before the "
                        "option did)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/state.safetensors if it exists")
    p.add_argument("--resume-best", action="store_true",
                   help="continue from OUT/best.state.safetensors, the state the best lamp was drawn from "
                        "(written beside best.safetensors), rather than the last one; later saves go to "
                        "OUT/state.safetensors as usual")
    p.add_argument("--from-average", action="store_true",
                   help="a resumed run's generator and RNN go on from the lamp's weights (the average of the "
                        "trained ones) rather than the last trained ones; with --lr-g 0 the lamp then keeps its "
                        "generator's weights as they are")
    p.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"],
                   help="where to train (default: CUDA, then MPS, then CPU)")
    p.add_argument("--threads", type=int, help=f"torch CPU threads (default {d.threads})")
    p.add_argument("--save-every-min", type=float,
                   help=f"minutes between saves of the lamp and the training state (default {d.save_every_min})")
    p.add_argument("--sample-every-min", type=float,
                   help=f"minutes between sample grids (default {d.sample_every_min})")
    p.add_argument("--judge-every-min", type=float,
                   help=f"minutes between fidelity checks against the data; the best lamp so far is kept "
                        f"as OUT/best.safetensors (default {d.judge_every_min})")
    p.add_argument("--no-judge", action="store_true", help="no fidelity checks (and no best.safetensors)")
    p.add_argument("--lr-g", type=float, help=f"generator and RNN learning rate (default {d.lr_g})")
    p.add_argument("--lr-rnn", type=float,
                   help="the RNN's own learning rate (default: --lr-g's); --lr-g 0 with a positive --lr-rnn "
                        "teaches the RNN new motion while the generator's frames stay as they are")
    p.add_argument("--lr-d", type=float, help=f"discriminators' learning rate (default {d.lr_d})")
    p.add_argument("--ema-decay", type=float,
                   help=f"how slowly the lamp's weights (an average of the trained ones) follow the training: "
                        f"about 1 / (1 - decay) steps are averaged (default {d.ema_decay})")
    p.add_argument("--drive", type=float,
                   help=f"noise amplitude the RNN is fed every tick, as part of the lamp's own motion "
                        f"(default {d.drive}; 0 trains a deterministic lamp)")
    p.add_argument("--wander", type=float,
                   help=f"share of the drive noise added straight onto the latent, so a long run never "
                        f"returns (default {d.wander})")
    p.add_argument("--warmup", type=int,
                   help=f"ticks the viewer runs from a fresh latent before showing the lamp (default {d.warmup})")
    for name, text in LOSS_WEIGHTS.items():
        p.add_argument(f"--{name.replace('_', '-')}", type=float, help=text.format(getattr(d, name)))
    p.add_argument("--reset-prob", type=float,
                   help=f"chance per chain and step of restarting from a fresh latent (default {d.reset_prob})")
    p.add_argument("--seed", type=int, help=f"seed for networks, latents and data (default {d.seed})")
    p.add_argument("--fp16", action="store_true", help="store the lamp's weights as float16 (half the file)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--dry-run", action="store_true", help="a tiny run through the whole program, in seconds")


def command_line(args: argparse.Namespace) -> str:
    """The run as one command with the flags it was given, for the lamp's provenance."""
    words = ["duralava", "train"]
    for key, value in vars(args).items():
        if key.startswith("_") or key == "command" or value is None or value is False:
            continue
        flag = "--" + key.replace("_", "-")
        words += [flag] if value is True else [flag, str(value)]
    return shlex.join(words)


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """Flags given override the defaults (the tiny ones with --dry-run)."""
    given = {field: getattr(args, flag) for flag, field in SETTINGS.items() if getattr(args, flag) is not None}
    for switch in ("smooth", "still"):
        if switch in given:
            if given[switch] not in ("on", "off"):
                raise TrainError(f"--{switch} must be on or off, not {given[switch]!r}.")
            given[switch] = given[switch] == "on"
    given.update(resume=args.resume or args.resume_best, resume_best=args.resume_best,
                 from_average=args.from_average, fp16_lamp=args.fp16, progress=not args.no_progress,
                 judge=not args.no_judge, command=command_line(args))
    return TrainConfig.dry(**given) if args.dry_run else TrainConfig(**given)


def validate(cfg: TrainConfig) -> None:
    for name in ("batch", "seq", "stride", "sim_frames", "threads"):
        if getattr(cfg, name) < 1:
            raise TrainError(f"--{name.replace('_', '-')} must be at least 1, not {getattr(cfg, name)}.")
    if cfg.seq < 2:
        raise TrainError("--seq must be at least 2: the temporal discriminator judges motion between frames.")
    if cfg.steps is not None and cfg.steps < 0:
        raise TrainError(f"--steps must not be negative, not {cfg.steps}.")
    if cfg.minutes is not None and cfg.minutes <= 0:
        raise TrainError(f"--minutes must be positive, not {cfg.minutes}.")
    for name in ("lr_g", "lr_d", "lr_rnn"):
        value = getattr(cfg, name)
        if value is not None and not 0 <= value < 1:
            raise TrainError(f"--{name.replace('_', '-')} must be from 0 to below 1, not {value}.")
    if cfg.from_average and not cfg.resume:
        raise TrainError("--from-average needs --resume or --resume-best: a new run has no average to start from.")
    if cfg.lr_g == 0 and cfg.rnn_lr == 0:
        raise TrainError("--lr-g and --lr-rnn cannot both be 0: neither the generator nor the RNN would learn.")
    if not 0 <= cfg.ema_decay < 1:
        raise TrainError(f"--ema-decay must be from 0 to below 1, not {cfg.ema_decay}.")
    if not 0 <= cfg.drive <= 10:
        raise TrainError(f"--drive must be from 0 to 10, not {cfg.drive}.")
    if not 0 <= cfg.wander <= 1:
        raise TrainError(f"--wander must be from 0 to 1, not {cfg.wander}.")
    if not 0 <= cfg.warmup <= 100_000:
        raise TrainError(f"--warmup must be from 0 to 100000 ticks, not {cfg.warmup}.")
    for name in LOSS_WEIGHTS:
        if getattr(cfg, name) < 0:
            raise TrainError(f"--{name.replace('_', '-')} must not be negative, not {getattr(cfg, name)}.")
    if not 0 <= cfg.reset_prob <= 1:
        raise TrainError(f"--reset-prob must be a probability from 0 to 1, not {cfg.reset_prob}.")
    if cfg.save_every_min < 0 or cfg.sample_every_min < 0:
        raise TrainError("--save-every-min and --sample-every-min must not be negative.")
    if not cfg.judge_every_min >= 0:
        raise TrainError(f"--judge-every-min must not be negative, not {cfg.judge_every_min}.")


def run(args: argparse.Namespace) -> int:
    from .checkpoint import CheckpointError
    from .dataset import DatasetError
    from .train import run as train

    try:
        cfg = config_from_args(args)
        validate(cfg)
        trainer = train(cfg)
    except (TrainError, DatasetError, CheckpointError) as e:
        print(f"duralava train: {e}", file=sys.stderr)
        return 1
    except ValueError as e:  # the simulator's and renderer's own input errors
        if type(e).__module__.startswith("duralava."):
            print(f"duralava train: {e}", file=sys.stderr)
            return 1
        raise
    print(f"trained to step {trainer.step}; lamp: {trainer.out / 'lamp.safetensors'}", file=sys.stderr)
    return 0
