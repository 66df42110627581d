"""Fidelity of a lamp against the simulator it learned from, at the start of a run and after a long one.

The simulator settings (palette, preset or parameters, stride) come from the
lamp's own provenance, so a lamp is compared with the lamp it was trained to
be. Every distance is quoted beside the floor: two simulator runs of different
seeds, measured with the same sample counts and the same wax segmenter.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from .endurance import to_uint8


# Names a lamp's data source goes by when its frames came from the simulator.
SIMULATED = ("simulator", "sim")


class FidelityError(ValueError):
    """A fidelity measurement that cannot be made; ``str()`` is one sentence for the user."""


@dataclass
class SimulatorSettings:
    """What the simulator needs to draw the lamp a checkpoint was trained on."""
    palette: str = "classic"
    stride: int | None = None            # None: the simulator's default
    preset: str | None = None
    params: dict = field(default_factory=dict)
    note: str = ""                       # why these settings, when they are a guess

    def describe(self) -> str:
        what = self.preset or ("custom parameters" if self.params else "classic")
        stride = "default stride" if self.stride is None else f"stride {self.stride}"
        return f"simulator ({what}, palette {self.palette}, {stride})"


def simulator_settings(meta: dict) -> SimulatorSettings:
    """Read the data source from a lamp's provenance; an untrained or footage lamp gets the classic simulator.

    A tick spans ``training.stride`` dataset frames, each ``data.params.stride``
    simulator steps, so the reference is simulated at their product.
    """
    data = meta.get("data") if isinstance(meta.get("data"), dict) else {}
    params = data.get("params") if isinstance(data.get("params"), dict) else {}
    palette = params.get("palette", meta.get("palette", "classic"))
    # Trained straight from the simulator, or from a folder that `duralava sim` wrote.
    source = str(data.get("source", "unknown"))
    simulated = source in SIMULATED or str(params.get("source")) in SIMULATED
    out = SimulatorSettings(palette=str(palette) if palette else "classic")
    if not simulated:
        out.note = f"the lamp's data source is {source!r}, so it is compared with the classic simulator"
        return out
    training = meta.get("training") if isinstance(meta.get("training"), dict) else {}
    sim_stride, frames_per_tick = params.get("stride"), training.get("stride", 1)
    if sim_stride is not None:
        out.stride = int(sim_stride) * int(frames_per_tick or 1)
    elif frames_per_tick not in (None, 1):
        from .simulator import DEFAULT_STRIDE

        out.stride = DEFAULT_STRIDE * int(frames_per_tick)
    out.preset = params.get("preset")
    lamp = params.get("params")
    out.params = dict(lamp) if isinstance(lamp, dict) else {}
    return out


def simulator_frames(settings: SimulatorSettings, n_frames: int, size: int, seed: int,
                     n_lamps: int | None = None, progress: bool = False) -> tuple[np.ndarray, list[int]]:
    """(N, S, S, 3) uint8 frames and their segments from the simulator with a lamp's settings."""
    from . import simulator

    try:
        params = None
        if settings.params:
            params = simulator.LampParams.from_dict(settings.params)
        elif settings.preset:
            params = simulator.preset(settings.preset)
        kwargs = dict(size=size, seed=seed, palette=settings.palette, params=params, n_lamps=n_lamps,
                      progress=progress)
        if settings.stride is not None:
            kwargs["stride"] = settings.stride
        frames, segments = simulator.simulate_frames(n_frames, **kwargs)
    except simulator.SimulatorError as e:
        raise FidelityError(f"the simulator cannot draw this lamp's training data: {e}") from None
    return np.asarray(frames), [int(s) for s in segments]


def reference_motion(frames: np.ndarray, segments: list[int]) -> float:
    """Mean |frame difference| between consecutive frames of each segment, 0-255 units."""
    diffs, at = [], 0
    for s in segments:
        seg = frames[at:at + s].astype(np.int16)
        if s >= 2:
            diffs.append(np.abs(seg[1:] - seg[:-1]).reshape(s - 1, -1).mean(1))
        at += s
    if not diffs:
        raise FidelityError("the simulator's frames hold no consecutive pair to measure motion on.")
    return float(np.concatenate(diffs).mean())


@torch.inference_mode()
def lamp_frames(rnn: nn.Module, generator: nn.Module, start: torch.Tensor, ticks: int,
                batch: int = 64, progress: bool = False, desc: str = "decoding") -> tuple[np.ndarray, list[int]]:
    """Decode ``ticks`` consecutive ticks from each starting latent (B, Z): (B * ticks, S, S, 3) uint8, segments."""
    from tqdm.auto import tqdm

    z = start.float()
    noise_rng = torch.Generator().manual_seed(30_011)
    latents = torch.empty((ticks,) + tuple(z.shape))                   # (T, B, Z)
    for t in range(ticks):
        z = rnn.tick(z, generator=noise_rng)
        latents[t] = z.cpu()
    flat = latents.transpose(0, 1).reshape(-1, z.shape[1])             # seed-major: (B * T, Z)
    frames = []
    device = start.device
    for i in tqdm(range(0, flat.shape[0], batch), disable=not progress, desc=desc, unit="batch"):
        f = to_uint8(generator(flat[i:i + batch].to(device)).float())  # (b, 3, S, S)
        frames.append(f.nan_to_num(0.0).permute(0, 2, 3, 1).to(torch.uint8).cpu().numpy())
    return np.concatenate(frames), [ticks] * z.shape[0]


@dataclass
class FidelityPlan:
    ticks_per_seed: int = 64      # consecutive frames decoded per seed
    n_frames: int = 1000          # frames sampled for frame features
    n_clips: int = 100            # clips sampled for clip (motion) features
    clip_len: int = 16
    reference_frames: int = 4000  # simulator frames per run (two runs: reference and floor)

    def __post_init__(self) -> None:
        for name in ("ticks_per_seed", "n_frames", "n_clips", "clip_len", "reference_frames"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 2:
                raise FidelityError(f"fidelity {name.replace('_', ' ')} must be a whole number of at least 2, "
                                    f"not {v!r}.")
        if self.clip_len > self.ticks_per_seed:
            raise FidelityError(f"clips of {self.clip_len} frames do not fit in {self.ticks_per_seed} ticks per seed.")

    def check_counts(self, seeds: int) -> None:
        """Raise FidelityError unless the decoded seeds and the simulator hold enough frames for the samples."""
        frames = seeds * self.ticks_per_seed
        clips = seeds * (self.ticks_per_seed - self.clip_len + 1)
        if self.n_frames > min(frames, self.reference_frames):
            raise FidelityError(f"{self.n_frames} sampled frames need at least that many decoded and simulated "
                                f"frames; {seeds} seeds x {self.ticks_per_seed} ticks give {frames} and the "
                                f"simulator {self.reference_frames}.")
        if self.n_clips > clips:
            raise FidelityError(f"{self.n_clips} clips of {self.clip_len} frames do not fit in {seeds} seeds x "
                                f"{self.ticks_per_seed} ticks ({clips} possible clips); sample fewer or decode more.")


class FidelityJudge:
    """The simulator reference (and, on first use, its floor), against which lamp frames are scored."""

    def __init__(self, settings: SimulatorSettings | None, size: int, plan: FidelityPlan, progress: bool = False,
                 reference: tuple[np.ndarray, list[int]] | None = None,
                 other: tuple[np.ndarray, list[int]] | None = None):
        """Simulate the reference (seed 1) and, when the floor is asked for, a second run (seed 2);
        or, given ``reference`` and ``other`` (frames, segments), use those two runs instead."""
        from .metrics import FidelityConfig, WaxSegmenter

        self.plan, self.settings, self.size, self.progress = plan, settings, size, progress
        self.config = FidelityConfig(n_frames=plan.n_frames, n_clips=plan.n_clips, clip_len=plan.clip_len)
        if reference is None:
            reference = simulator_frames(settings, plan.reference_frames, size, seed=1, progress=progress)
        self.reference, self.reference_segments = reference
        self._other = other
        self.segmenter = WaxSegmenter.fit(self.reference)
        self.motion = reference_motion(self.reference, self.reference_segments)
        self._floor: dict | None = None

    @property
    def floor(self) -> dict:
        """The same scores for a second simulator run (another seed): what 'as good as the simulator' measures."""
        if self._floor is None:
            if self._other is None:
                self._other = simulator_frames(self.settings, self.plan.reference_frames, self.size, seed=2,
                                               progress=self.progress)
            self._floor = self.score(*self._other)
            self._other = None
        return self._floor

    def score(self, frames: np.ndarray, segments: list[int]) -> dict:
        """{'frame': distance, 'clip': distance, ...} of these frames against the reference."""
        from .metrics import MetricsError, fidelity

        try:
            return fidelity(frames, self.reference, segments, self.reference_segments,
                            config=self.config, segmenter=self.segmenter)
        except MetricsError as e:
            raise FidelityError(f"the frames cannot be scored: {e}") from None


def fidelity_checks(scores: dict[str, dict], floor: dict, limit: float = 3.0) -> list[dict]:
    """Rows for each measured point ('start', 'tick 1,000,000', ...): frame and clip distance <= limit x floor."""
    rows = []
    for when, s in scores.items():
        for kind in ("frame", "clip"):
            ratio = s[kind] / floor[kind] if floor[kind] > 0 else float("inf")
            rows.append({"name": f"{kind} Frechet at {when}",
                         "wanted": f"<= {limit:g}x floor {floor[kind]:.3g}",
                         "measured": f"{s[kind]:.3g} ({ratio:.2f}x floor)",
                         "passed": bool(s[kind] <= limit * floor[kind])})
    return rows


def contact_sheet(rows: dict[str, np.ndarray], per_row: int = 8, scale: int = 2):
    """A Pillow image: one labelled row of ``per_row`` frames (evenly spaced picks) per entry of ``rows``."""
    from PIL import Image, ImageDraw

    from .eval_plot import INK, _font

    size = next(iter(rows.values())).shape[1] * scale
    label_h, gap = 20, 6
    img = Image.new("RGB", (per_row * (size + gap) + gap, len(rows) * (size + label_h + gap) + gap), "white")
    draw = ImageDraw.Draw(img)
    for k, (label, frames) in enumerate(rows.items()):
        top = gap + k * (size + label_h + gap)
        draw.text((gap, top + 3), label, fill=INK, font=_font(13))
        picks = np.linspace(0, len(frames) - 1, min(per_row, len(frames))).round().astype(int)
        for j, i in enumerate(picks):
            tile = Image.fromarray(frames[i]).resize((size, size), Image.NEAREST)
            img.paste(tile, (gap + j * (size + gap), top + label_h))
    return img
