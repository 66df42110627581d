"""What a training run shows and leaves behind: progress bar, train.log, TensorBoard, sample grids, timelapse,
and the best lamp by the fidelity checks (best.safetensors).

Only the first process of a run writes anything. Sample grids come from fixed
latents (the same lamps every time), rolled by the EMA RNN and drawn by the
EMA generator: eight lamps down, time across. At the end of a run the grids
so far become ``samples/timelapse.mp4``: the lamps learning to be lamps.
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

from .train_cmd import WAX_TERMS

GRID_LAMPS = 8        # rows of a sample grid
GRID_TICKS = 8        # columns
GRID_TICK_GAP = 4     # RNN ticks between columns: motion is slow, so spread it out
GRID_SEED = 1234


def grid_image(frames: np.ndarray, gap: int = 2) -> np.ndarray:
    """uint8 (rows, cols, S, S, 3) -> one uint8 picture with ``gap``-pixel dark lines between frames."""
    rows, cols, s = frames.shape[:3]
    out = np.full((rows * (s + gap) - gap, cols * (s + gap) - gap, 3), 16, np.uint8)
    for r in range(rows):
        for c in range(cols):
            out[r * (s + gap):r * (s + gap) + s, c * (s + gap):c * (s + gap) + s] = frames[r, c]
    return out


def save_png(path: Path, image: np.ndarray) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    Image.fromarray(image).save(tmp)
    os.replace(tmp, path)


def write_timelapse(path: Path, images: list[Path], fps: float = 4.0) -> Path | None:
    """Sample grids -> an H.264 MP4 (atomically); None if there are fewer than two grids."""
    from PIL import Image

    from .video import write_mp4

    if len(images) < 2:
        return None
    write_mp4(path, (np.asarray(Image.open(p).convert("RGB")) for p in images), fps=fps)
    return path


class TrainLog:
    def __init__(self, trainer):
        self.t = trainer
        self.cfg = trainer.cfg
        self.on = trainer.is_main
        self.out = Path(self.cfg.out)
        self.bar = None
        self.writer = None
        self.file = None
        self.window: list[tuple[dict, float]] = []
        self.z_fixed = None
        self.saved_step = -1
        self.judge_: object | None = None     # TrainJudge, built on the first check
        self.judging = trainer.cfg.judge      # off for good if the judge cannot be set up
        self.judged_step = -1

    # --- lifecycle ------------------------------------------------------------------------------

    def begin(self) -> None:
        if not self.on:
            return
        self.out.mkdir(parents=True, exist_ok=True)
        self.file = open(self.out / "train.log", "a", buffering=1)
        t, cfg = self.t, self.cfg
        params = {name: sum(p.numel() for p in net.parameters()) for name, net in
                  (("generator", t.generator), ("rnn", t.rnn), ("frame_d", t.d_frame), ("temporal_d", t.d_temporal))}
        self.write(f"=== {_now()} {'resume at step ' + str(t.step) if t.step else 'start'}: {cfg.command}")
        self.write(f"device {t.device} x{t.world}, torch threads {torch.get_num_threads()}, parameters {params}")
        self.write(f"data {json.dumps(t.data_info)}")
        self.write(f"config {json.dumps({k: v for k, v in vars(cfg).items() if k != 'command'})}")
        if t.wax_missing:
            terms = ", ".join(term.replace("_", "-") for term in WAX_TERMS)
            self.write(f"no {terms} terms (the flicker term's batch part stays): {t.wax_missing}")
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(self.out / "tb"))
        except ImportError:  # TensorBoard is a dependency, but a missing one should not stop training
            self.write("tensorboard is not installed; scalars go to train.log only")
        if cfg.progress:
            from tqdm import tqdm

            total = cfg.steps if cfg.steps is not None else None
            self.bar = tqdm(total=total, desc="train", unit="step", dynamic_ncols=True,
                            mininterval=1.0 if sys.stderr.isatty() else 30.0)
        self._save_real_grid()

    def step(self, stats: dict, dt: float) -> None:
        if not self.on:
            return
        self.window.append((stats, dt))
        t = self.t
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix_str(f"D {stats['loss/d_frame']:.2f}/{stats['loss/d_clip']:.2f} "
                                     f"G {stats['loss/g_frame']:.2f}/{stats['loss/g_clip']:.2f} "
                                     f"skew {stats['latent/skew']:+.2f} kurt {stats['latent/kurt']:.2f} "
                                     f"dirs {stats['latent/directions']:.1f}",
                                     refresh=False)
        if t.step % max(1, self.cfg.log_every) and not self.cfg.dry_run:
            return
        mean = {k: float(np.mean([s[k] for s, _ in self.window])) for k in stats}
        secs = sum(d for _, d in self.window)
        per_step = self.cfg.batch * self.cfg.seq * t.world
        mean["speed/images_per_s"] = per_step * len(self.window) / max(secs, 1e-9)
        mean["speed/s_per_step"] = secs / len(self.window)
        self.window.clear()
        if self.writer is not None:
            for k, v in mean.items():
                self.writer.add_scalar(k, v, t.step)
        self.write(f"step {t.step:7d}  " + "  ".join(f"{k.split('/')[-1]} {v:.3f}" for k, v in mean.items()),
                   echo=self.cfg.dry_run)

    @torch.no_grad()
    def samples(self) -> Path | None:
        if not self.on:
            return None
        t = self.t
        if self.z_fixed is None:
            from .latent import sample

            self.z_fixed = sample(GRID_LAMPS, t.generator.z_dim, generator=torch.Generator().manual_seed(GRID_SEED))
        z = self.z_fixed.to(t.device)
        columns = []
        for c in range(GRID_TICKS):
            if c:
                for _ in range(GRID_TICK_GAP):
                    z = t.rnn_ema(z)
            columns.append(t.g_ema(z).float().clamp(0, 1).mul(255).round().byte().permute(0, 2, 3, 1).cpu())
        frames = torch.stack(columns, dim=1).numpy()                  # (lamps, ticks, S, S, 3)
        image = grid_image(frames)
        path = self.out / "samples" / f"step_{t.step:07d}.png"
        save_png(path, image)
        save_png(self.out / "samples" / "latest.png", image)
        if self.writer is not None:
            self.writer.add_image("samples", image, t.step, dataformats="HWC")
        return path

    def judge(self) -> dict | None:
        """Score the EMA lamp against the data; write OUT/best.safetensors when it is the best so far."""
        if not self.on or not self.judging or self.t.step == self.judged_step:
            return None
        t = self.t
        if self.judge_ is None and not self._start_judge():
            return None
        from .train_judge import beats, combined, summary

        self.judged_step = t.step
        record = {**self.judge_.score(t.rnn_ema, t.g_ema), "step": t.step}
        if self.writer is not None:
            for k, v in record.items():
                if k != "step":
                    self.writer.add_scalar(f"judge/{k}", v, t.step)
        best = beats(record, t.best)
        if best:
            t.best = {**record, **self.judge_.describe(), "runs": t.run_settings()}
            t.save_lamp(self.out / "best.safetensors", extra={"judged": t.best})
            t.save_state(self.out / "best.state.safetensors")   # so a run can go on from its best, not its last
        self.write(f"step {t.step:7d}  {summary(record)}" + ("  -> best.safetensors" if best else
                                                             f"  (best {combined(t.best):.1f}x at step {t.best['step']})"))
        for line in self.judge_.where:
            self.write(f"              at the start, {line}")
        return record

    def _start_judge(self) -> bool:
        """Set the judge up from the training data; False (and a line in the log) if it cannot be."""
        from .fidelity import SIMULATED
        from .train_judge import JudgePlan, TrainJudge, combined

        t, data = self.t, self.t.data
        frames = getattr(data, "frames", None)
        if frames is None:
            self.judging = False
            self.write("no fidelity checks: the training data is not a fixed set of frames")
            return False
        plan = JudgePlan.tiny() if self.cfg.dry_run else JudgePlan()
        simulated = t.data_info.get("source") in SIMULATED and not self.cfg.dry_run
        which = "floor" if t.judged is None else "floor, unless the resumed state holds it"
        self.write("setting up fidelity checks" + (f": simulating their reference and {which} (minutes; Ctrl-C stops)"
                                                   if simulated else ""))
        try:
            if simulated:
                self.judge_ = TrainJudge.from_simulator(t.lamp_meta(), t.image_size, plan)
            else:
                self.judge_ = TrainJudge.from_data(frames.frames, frames.segments, data.stride, plan)
        except ValueError as e:       # too little data, or frames the wax cannot be found in
            self.judging = False
            self.write(f"no fidelity checks: {e}")
            return False
        # A best from the resumed state counts only if this judge scored it, its lamp is still there
        # and it ran as this run's lamp runs (a resumed run may change the drive, wander, warm-up or
        # the generator's filter or still pixels; a best recorded before either existed ran without it).
        ran = t.best.get("runs") if isinstance(t.best, dict) else None
        ran = {**ran, "smooth": ran.get("smooth", False), "still": ran.get("still", False)} \
            if isinstance(ran, dict) else ran
        if ran is not None and ran != t.run_settings():
            self.write(f"the resumed best ran with {_settings(ran)}, this run's lamp with "
                       f"{_settings(t.run_settings())}: its best starts afresh")
            t.best = None
        kept = self.judge_.take_floor(t.judged)     # the floor takes most of the set-up; a resume may have it
        if t.best is not None and not self.judge_.made(t.best):
            self.write("the resumed best was scored by other fidelity checks (another plan, seeds, reference or floor): "
                       "its best starts afresh")
            t.best = None
        if not (self.out / "best.safetensors").exists():
            t.best = None
        floor = self.judge_.floor
        t.judged = self.judge_.describe()
        self.write(f"fidelity checks every {self.cfg.judge_every_min:g} min against {self.judge_.against}, floor "
                   f"(frame {floor['frame']:.3g}, clip {floor['clip']:.3g}"
                   + ("; the resumed state's, for the same reference" if kept else "") + ")"
                   + (f"; best so far {combined(t.best):.1f}x at step {t.best['step']}" if t.best else ""))
        return True

    def save(self) -> None:
        if not self.on or self.t.step == self.saved_step:
            return
        self.saved_step = self.t.step
        lamp, state = self.t.save_lamp(), self.t.save_state()
        self.write(f"saved {lamp.name} and {state.name} at step {self.t.step} "
                   f"({self.t.wall_time_s / 60:.1f} min of training in all)")

    def interrupted(self) -> None:
        """The run was stopped before its first step: nothing new to save."""
        if self.on:
            self.write(f"=== {_now()} interrupted while setting up, before any step from step {self.t.step}; "
                       f"nothing new to save")

    def end(self, signum) -> None:
        if not self.on:
            return
        grids = sorted((self.out / "samples").glob("step_*.png"))
        try:
            mp4 = write_timelapse(self.out / "samples" / "timelapse.mp4", grids)
            if mp4:
                self.write(f"timelapse of {len(grids)} sample grids: {mp4}")
        except Exception as e:  # a missing codec must not lose a finished run
            self.write(f"could not write the timelapse: {e}")
        why = "stopped by signal" if signum else "finished"
        self.write(f"=== {_now()} {why} at step {self.t.step}; lamp: {self.out / 'lamp.safetensors'}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        if self.writer is not None:
            self.writer.close()
        if self.file is not None:
            self.file.close()

    # --- helpers --------------------------------------------------------------------------------

    def write(self, line: str, echo: bool = True) -> None:
        """A line for train.log; ``echo`` also shows it above the progress bar."""
        if self.file is not None:
            self.file.write(line + "\n")
        if echo and self.cfg.progress:
            from tqdm import tqdm

            tqdm.write(line, file=sys.stderr)

    def _save_real_grid(self) -> None:
        """The same layout from real frames, once, to set beside the samples."""
        path = self.out / "samples" / "real.png"
        data = self.t.data
        span = (GRID_TICKS - 1) * GRID_TICK_GAP * data.stride + 1
        starts = data.frames.window_starts(span, 1)
        if path.exists() or len(starts) == 0:
            return
        pick = np.random.default_rng(GRID_SEED).choice(starts, GRID_LAMPS)
        index = pick[:, None] + np.arange(GRID_TICKS)[None, :] * GRID_TICK_GAP * data.stride
        save_png(path, grid_image(np.asarray(data.frames.frames[index.ravel()]).reshape(*index.shape,
                                                                                          *data.frames.frames.shape[1:])))


def _now() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())


def _settings(runs: dict) -> str:
    """'drive 1, wander 0.06, warmup 1000, smooth off' for a lamp's run settings."""
    if not isinstance(runs, dict):
        return str(runs)
    return ", ".join(f"{k} {('on' if v else 'off') if isinstance(v, bool) else format(v, 'g')}"
                     for k, v in runs.items())
