"""Ground truth for upscalers and interpolators, straight from the simulator.

The simulator draws the same lamp state at any resolution and at every step,
so an upscaler's 512x512 picture of a 64x64 frame can be compared with the
lamp drawn at 512x512, and an interpolator's in-betweens of two tick frames
with the steps in between. :func:`pairs` gives the same states at several
sizes; :func:`sequences` gives frames at every step, ticks being every
``stride``-th one (the training stride).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from . import simulator


class GroundTruthError(ValueError):
    """A request the simulator cannot answer; the message says why."""


@dataclass
class TruthConfig:
    seed: int = 4242            # far from training seeds: the scores are on unseen lamps
    n_lamps: int = 4            # lamps stepped side by side (vectorised)
    preset: str | None = None   # a simulator preset, or None for the default lamp
    palette: str | None = None  # a simulator palette, or None for its default
    gap: int = 40               # steps between sampled states in pairs(): different blobs each time
    progress: bool = False

    def lamp(self) -> simulator.LavaLamp:
        params = simulator.preset(self.preset) if self.preset else None
        return simulator.LavaLamp(self.n_lamps, seed=self.seed, params=params, warm=True)


def render(lamp: simulator.LavaLamp, size: int, palette: str | None = None) -> np.ndarray:
    """Every lamp of the batch drawn at ``size``: uint8 (n_lamps, size, size, 3)."""
    kwargs = {} if palette is None else {"palette": palette}
    frames = np.asarray(lamp.render(size, **kwargs))
    if frames.dtype != np.uint8 or frames.shape[1:] != (size, size, 3):
        raise GroundTruthError(f"the simulator drew {frames.dtype} {frames.shape}, not uint8 (n, {size}, {size}, 3)")
    return frames


def _check_sizes(sizes) -> tuple[int, ...]:
    sizes = tuple(int(s) for s in sizes)
    if not sizes or any(s < 8 or s > 4096 for s in sizes):
        raise GroundTruthError(f"sizes must be between 8 and 4096 pixels, got {sizes}")
    return sizes


def pairs(n_frames: int, sizes=(64, 256, 512), config: TruthConfig | None = None) -> dict[int, np.ndarray]:
    """The same ``n_frames`` lamp states drawn at each size: {size: uint8 (n_frames, size, size, 3)}."""
    cfg = config or TruthConfig()
    sizes = _check_sizes(sizes)
    if n_frames < 1:
        raise GroundTruthError(f"n_frames must be at least 1, got {n_frames}")
    lamp = cfg.lamp()
    rounds = -(-n_frames // cfg.n_lamps)
    out = {s: [] for s in sizes}
    for _ in tqdm(range(rounds), desc="ground truth pairs", disable=not cfg.progress, unit="state"):
        for s in sizes:
            out[s].append(render(lamp, s, cfg.palette))
        lamp.step(cfg.gap)
    return {s: np.concatenate(v)[:n_frames] for s, v in out.items()}


def sequences(n_ticks: int, size: int = 64, stride: int | None = None,
              config: TruthConfig | None = None) -> np.ndarray:
    """Every step over ``n_ticks`` ticks: uint8 (n_lamps, (n_ticks - 1) * stride + 1, size, size, 3).

    Frame ``k * stride`` of a lamp is tick ``k``; the frames between are the true in-betweens.
    """
    cfg = config or TruthConfig()
    (size,) = _check_sizes([size])
    stride = simulator.DEFAULT_STRIDE if stride is None else int(stride)
    if stride < 1 or n_ticks < 2:
        raise GroundTruthError(f"need stride >= 1 and at least 2 ticks, got stride {stride}, {n_ticks} ticks")
    lamp = cfg.lamp()
    steps = (n_ticks - 1) * stride + 1
    frames = np.empty((cfg.n_lamps, steps, size, size, 3), np.uint8)
    for k in tqdm(range(steps), desc="ground truth steps", disable=not cfg.progress, unit="step"):
        if k:
            lamp.step(1)
        frames[:, k] = render(lamp, size, cfg.palette)
    return frames


def ticks_of(sequence: np.ndarray, stride: int) -> np.ndarray:
    """The tick frames of a sequence (every ``stride``-th step): what an engine would hand over."""
    return sequence[..., ::stride, :, :, :]
