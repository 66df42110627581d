"""Fidelity of a lamp from its frames alone: Frechet distances against the simulator.

A distance means little by itself: it shrinks with more samples and with slower
motion. So every figure is quoted beside the floor, the distance between two
simulator runs of different seeds at the same sample count (`floor`). Frame
features say how single frames look, clip features how the wax moves.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .features import (CLIP_FEATURES, FRAME_FEATURES, MetricsError, WaxSegmenter,  # noqa: F401
                       check_frames, clip_features, frame_features, label_blobs)

DEFAULT_CLIP_LEN = 16
STD_FLOOR = 0.01   # features are fractions or larger: one (nearly) constant in the reference, such as
                   # wax in a band the simulator never fills, must not turn a small difference into millions
# Features counted in coarser units than fractions get a floor in their own units: a lamp that
# always shows one blob must not make a stray droplet in one frame of a thousand (half a blob,
# a tenth of an e-fold in blob size) weigh more than everything else together.
FEATURE_RESOLUTION = {"blob_count": 0.5, "mean_log_blob_size": 0.1}
FRAME_STD_FLOORS = np.array([FEATURE_RESOLUTION.get(n, STD_FLOOR) for n in FRAME_FEATURES])
CLIP_STD_FLOORS = np.array([FEATURE_RESOLUTION.get(n, STD_FLOOR) for n in CLIP_FEATURES])
FEATURE_NAMES = {"frame": FRAME_FEATURES, "clip": CLIP_FEATURES}   # each kind's features, in their columns' order


def frechet(a, b, reference=None, floors=None) -> float:
    """Frechet distance between feature sets a (N,F) and b (M,F).

    Both are standardised by the reference's per-feature mean and std (default
    a), so features in pixels, counts and fractions weigh alike. A std never
    falls below ``floors`` (F,), by default STD_FLOOR for every feature.
    """
    a, b = _standardised(a, b, reference, floors)
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    # Tr sqrt(Ca Cb) = Tr sqrt(Ca^1/2 Cb Ca^1/2), a symmetric PSD matrix: eigh is stable here.
    w, v = np.linalg.eigh(cov_a)
    root_a = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(root_a @ cov_b @ root_a), 0, None)).sum()
    d = float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * cross)
    return max(d, 0.0)


def mean_offsets(a, b, reference=None, floors=None) -> np.ndarray:
    """(F,) how far b's mean of each feature lies from a's, standardised as :func:`frechet` does.

    Their squares sum to the part of the Frechet distance that the means make; the rest is
    the spread and the features' correlations.
    """
    a, b = _standardised(a, b, reference, floors)
    return b.mean(0) - a.mean(0)


def _standardised(a, b, reference, floors) -> tuple[np.ndarray, np.ndarray]:
    """a and b checked, less the reference's mean, over its std (floored)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    ref = a if reference is None else np.asarray(reference, np.float64)
    for name, x in (("a", a), ("b", b), ("reference", ref)):
        if x.ndim != 2 or len(x) < 2:
            raise MetricsError(f"feature set {name} must be (N>=2, F), got shape {x.shape}.")
        if not np.isfinite(x).all():
            raise MetricsError(f"feature set {name} holds NaN or infinite values.")
    if not a.shape[1] == b.shape[1] == ref.shape[1]:
        raise MetricsError(f"feature sets differ in width: {a.shape[1]}, {b.shape[1]}, {ref.shape[1]}.")
    floors = STD_FLOOR if floors is None else np.asarray(floors, np.float64)
    mean, std = ref.mean(0), np.maximum(ref.std(0), floors)
    return (a - mean) / std, (b - mean) / std


def _check_segments(frames, segments) -> list[int]:
    n = len(frames)
    segments = [n] if segments is None else [int(s) for s in segments]
    if any(s < 0 for s in segments) or sum(segments) != n:
        raise MetricsError(f"segments {segments[:8]} do not add up to the {n} frames.")
    return segments


def _starts(segments: list[int], length: int, skip: int) -> np.ndarray:
    """First frames of every window of `length` consecutive frames inside one segment."""
    out, at = [], 0
    for s in segments:
        if s - skip >= length:
            out.append(np.arange(at + skip, at + s - length + 1))
        at += s
    return np.concatenate(out) if out else np.zeros(0, np.int64)


def _spread(candidates: np.ndarray, n: int) -> np.ndarray:
    """n of the candidates, evenly spaced, so samples are as far apart in time as they can be."""
    return candidates[np.linspace(0, len(candidates) - 1, n).round().astype(int)]


def sample_frames(frames, segments=None, n: int = 1000, skip: int = 0) -> np.ndarray:
    """n frames (n,H,W,3) evenly spaced over the run, dropping `skip` frames at each segment start."""
    frames = check_frames(frames)
    candidates = _starts(_check_segments(frames, segments), 1, skip)
    if n < 2 or n > len(candidates):
        raise MetricsError(f"cannot sample {n} frames from {len(candidates)} usable frames.")
    return np.asarray(frames[np.sort(_spread(candidates, n))])


def sample_clips(frames, segments=None, n_clips: int = 200, clip_len: int = DEFAULT_CLIP_LEN,
                 skip: int = 0) -> np.ndarray:
    """n_clips runs of clip_len consecutive frames (C,T,H,W,3), none across a segment boundary."""
    frames = check_frames(frames)
    if clip_len < 2:
        raise MetricsError(f"a clip needs at least 2 frames, got {clip_len}.")
    candidates = _starts(_check_segments(frames, segments), clip_len, skip)
    if n_clips < 2 or n_clips > len(candidates):
        raise MetricsError(f"cannot cut {n_clips} clips of {clip_len} frames from these segments "
                           f"({len(candidates)} possible starts).")
    starts = np.sort(_spread(candidates, n_clips))
    return np.stack([np.asarray(frames[s:s + clip_len]) for s in starts])


@dataclass
class FidelityConfig:
    n_frames: int = 1000
    n_clips: int = 100
    clip_len: int = DEFAULT_CLIP_LEN
    skip: int = 0


def fidelity(generated_frames, reference_frames, generated_segments=None, reference_segments=None,
             config: FidelityConfig | None = None, segmenter: WaxSegmenter | None = None) -> dict:
    """Frame and clip Frechet distances of a lamp's frames against reference (simulator) frames.

    Beside each distance: ``frame_offsets`` and ``clip_offsets``, each feature's :func:`mean_offsets`
    (FRAME_FEATURES, CLIP_FEATURES order), and ``frame_mean_part`` and ``clip_mean_part``, the part
    of the distance those offsets make (the sum of their squares).
    The wax segmenter is fitted on the reference, so a lamp with the wrong colours
    is measured as the wrong amount of wax, as a viewer would see it.
    """
    cfg = config or FidelityConfig()
    gen, ref = check_frames(generated_frames, "generated frames"), check_frames(reference_frames, "reference frames")
    if gen.shape[1:] != ref.shape[1:]:
        raise MetricsError(f"generated frames are {gen.shape[1:3]} but the reference is {ref.shape[1:3]}.")
    seg = segmenter or WaxSegmenter.fit(ref)
    out = {"n_frames": cfg.n_frames, "n_clips": cfg.n_clips, "clip_len": cfg.clip_len}
    ref_f = frame_features(sample_frames(ref, reference_segments, cfg.n_frames, cfg.skip), seg)
    gen_f = frame_features(sample_frames(gen, generated_segments, cfg.n_frames, cfg.skip), seg)
    ref_c = clip_features(sample_clips(ref, reference_segments, cfg.n_clips, cfg.clip_len, cfg.skip), seg)
    gen_c = clip_features(sample_clips(gen, generated_segments, cfg.n_clips, cfg.clip_len, cfg.skip), seg)
    for kind, r, g, floors in (("frame", ref_f, gen_f, FRAME_STD_FLOORS), ("clip", ref_c, gen_c, CLIP_STD_FLOORS)):
        out[kind] = frechet(r, g, floors=floors)
        offsets = mean_offsets(r, g, floors=floors)
        out[f"{kind}_offsets"], out[f"{kind}_mean_part"] = offsets.tolist(), float(np.square(offsets).sum())
    return out


@dataclass
class FloorConfig:
    n_samples: int = 1000           # frames sampled per run for frame features
    n_clips: int = 100              # clips sampled per run for clip features
    clip_len: int = DEFAULT_CLIP_LEN
    size: int = 64
    n_frames: int | None = None     # simulated frames per run; default enough to spread the samples
    seeds: tuple[int, ...] = (1, 2)  # the first is the reference, each other one a floor run
    stride: int | None = None       # simulator steps per frame; None: its default
    palette: str = "classic"
    n_lamps: int | None = None      # lamps per run (independent segments); None: the simulator's default
    workers: int | None = None

    def frames_per_run(self) -> int:
        return self.n_frames or max(4 * self.n_samples, 2 * self.n_clips * self.clip_len)


def floor(n_samples: int = 1000, n_clips: int = 100, clip_len: int = DEFAULT_CLIP_LEN, size: int = 64,
          n_frames: int | None = None, seeds=(1, 2), stride: int | None = None, palette: str = "classic",
          n_lamps: int | None = None, workers: int | None = None, progress: bool = False,
          examples: int = 0) -> dict:
    """Simulator against simulator at this sample count, and three lamps that are wrong on purpose.

    Returns {"floor": {"frame", "clip"}, "floor_max": ..., "shuffled": ..., "half_speed": ...,
    "swapped_colours": ..., "floors": [per floor seed], "samples", "clips", ...}:
    shuffled frames keep every picture but lose all motion; half speed keeps motion's
    shape at half its rate; swapped colours exchange the wax and liquid colours.
    With `examples` > 0, "examples" holds that many consecutive frames of each run
    (uint8 arrays, for pictures; leave it out of JSON).
    """
    from .simulator import DEFAULT_STRIDE, simulate_frames

    cfg = FloorConfig(n_samples, n_clips, clip_len, size, n_frames, tuple(seeds), stride, palette,
                      n_lamps, workers)
    if len(cfg.seeds) < 2 or len(set(cfg.seeds)) != len(cfg.seeds):
        raise MetricsError(f"the floor needs at least two different seeds, got {list(cfg.seeds)}.")
    stride = DEFAULT_STRIDE if cfg.stride is None else cfg.stride
    if stride < 2:
        raise MetricsError(f"half speed needs a stride of at least 2 simulator steps, got {stride}.")
    n = cfg.frames_per_run()

    def simulate(seed: int, steps: int):
        return simulate_frames(n, size=cfg.size, seed=seed, stride=steps, palette=cfg.palette,
                               n_lamps=cfg.n_lamps, workers=cfg.workers, progress=progress)

    def features(frames, segments):
        return (frame_features(sample_frames(frames, segments, cfg.n_samples), seg),
                clip_features(sample_clips(frames, segments, cfg.n_clips, cfg.clip_len), seg))

    def distance(frames, segments) -> dict:
        f, c = features(frames, segments)
        return {"frame": frechet(ref_f, f, floors=FRAME_STD_FLOORS), "clip": frechet(ref_c, c, floors=CLIP_STD_FLOORS)}

    ref, ref_segments = simulate(cfg.seeds[0], stride)
    seg = WaxSegmenter.fit(ref)
    ref_f, ref_c = features(ref, ref_segments)
    floors = []
    for seed in cfg.seeds[1:]:
        other, other_segments = simulate(seed, stride)
        floors.append({"seed": seed, **distance(other, other_segments)})
    out = {
        "samples": cfg.n_samples, "clips": cfg.n_clips, "clip_len": cfg.clip_len,
        "frames_per_run": n, "stride": stride, "seeds": list(cfg.seeds),
        "floor": {k: float(np.mean([f[k] for f in floors])) for k in ("frame", "clip")},
        "floor_max": {k: float(np.max([f[k] for f in floors])) for k in ("frame", "clip")},
        "floors": floors,
    }
    # The wrong lamps are all built from the last floor run, so they differ from it in one way only.
    order = np.random.default_rng(cfg.seeds[-1]).permutation(len(other))
    shuffled, swapped = other[order], seg.swap_colours(other)
    out["shuffled"] = distance(shuffled, [len(other)])
    out["swapped_colours"] = distance(swapped, other_segments)
    shown = {name: x[:examples].copy() for name, x in
             (("reference", ref), ("floor", other), ("shuffled", shuffled), ("swapped_colours", swapped))}
    del other, shuffled, swapped
    slow, slow_segments = simulate(cfg.seeds[-1], stride // 2)
    out["half_speed"] = distance(slow, slow_segments)
    if examples > 0:
        out["examples"] = {**shown, "half_speed": slow[:examples].copy()}
    return out
