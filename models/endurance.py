"""Endurance: run a lamp's latent RNN for a very long time and check that it stays a lamp.

All seeds run as one batch. Every window of ticks (1,000 by default) is checked:

- the latent stays normal: the largest per-tick |mean| and |std - 1| over the
  window stay inside the band, and nothing is NaN or infinite;
- the frames keep moving: a few consecutive tick pairs per window and seed are
  decoded (decoding every tick of a long run costs far more than the RNN) and
  their mean absolute frame difference, in 0-255 units, is compared with the
  simulator's at the training stride;
- the lamp never repeats: every ``history_every``-th latent is kept, and each
  new one is compared with all kept latents more than ``min_gap`` ticks older,
  in chunked matrix products of squared distances. A return closer than
  ``repeat_ratio`` times the typical distance between two independent N(0, I)
  latents (sqrt(2 Z)) counts as a repeat. An exact cycle of period P is caught
  once lcm(P, history_every) ticks have run.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn

from .latent import directions, moments, renormalise

# Kept latents cost seeds * ticks / history_every * Z * 4 bytes; past this, ask for a sparser history.
MAX_HISTORY_BYTES = 2 * 1024**3


class EnduranceError(ValueError):
    """An endurance run that cannot be set up; ``str()`` is one sentence for the user."""


@dataclass
class EnduranceConfig:
    seeds: int = 100
    ticks: int = 1_000_000
    window: int = 1000            # ticks per checked window
    pairs_per_window: int = 2     # consecutive tick pairs decoded per window and seed
    history_every: int = 100      # keep every n-th latent for the no-repeat search
    min_gap: int = 100            # ticks: a closer return in time is just slow motion
    repeat_ratio: float = 0.1     # of sqrt(2 Z), the typical distance between independent latents
    mean_band: float = 0.05       # |latent mean| allowed
    std_band: float = 0.05        # |latent std - 1| allowed
    motion_band: tuple[float, float] = (0.5, 2.0)   # times the simulator's motion per tick
    frozen_ratio: float = 0.05    # a seed whose window motion is below this times the simulator's is frozen
    first_seed: int = 0
    decode_batch: int = 64         # frames per decoder call: the fastest batch on one CPU thread

    def __post_init__(self) -> None:
        positive = {"seeds": self.seeds, "ticks": self.ticks, "window": self.window,
                    "pairs_per_window": self.pairs_per_window, "history_every": self.history_every,
                    "decode_batch": self.decode_batch}
        for name, value in positive.items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise EnduranceError(f"endurance {name.replace('_', ' ')} must be a positive whole number, "
                                     f"not {value!r}.")
        if self.window < 2 or self.ticks % self.window:
            raise EnduranceError(f"the run's length ({self.ticks} ticks) must be a whole number of "
                                 f"windows of {self.window} ticks (at least 2).")
        if self.pairs_per_window > self.window // 2:
            raise EnduranceError(f"a window of {self.window} ticks holds at most {self.window // 2} "
                                 f"separate tick pairs, not {self.pairs_per_window}.")
        if self.min_gap < 0:
            raise EnduranceError(f"the no-repeat gap must be zero or more ticks, not {self.min_gap}.")

    @property
    def n_windows(self) -> int:
        return self.ticks // self.window


@dataclass
class EnduranceResult:
    """Per-window figures, (n_windows, seeds) each, plus the run's closest return per seed."""
    config: EnduranceConfig
    reference_motion: float                 # simulator's mean |frame difference| per tick, 0-255
    window_end: np.ndarray                  # (W,) tick at the end of each window
    abs_mean: np.ndarray                    # (W, B) largest |latent mean| in the window
    std_dev: np.ndarray                     # (W, B) largest |latent std - 1|
    skew: np.ndarray                        # (W, B) mean skew (for the record; not a target)
    kurt: np.ndarray                        # (W, B) mean kurtosis
    nonfinite: np.ndarray                   # (W, B) bool: a NaN or Inf latent in the window
    motion: np.ndarray                      # (W, B) mean |frame difference| per tick, 0-255
    latent_step: np.ndarray                 # (W, B) mean |z_{t+1} - z_t| / sqrt(2 Z)
    closest_return: np.ndarray              # (B,) smallest return distance / sqrt(2 Z)
    closest_ticks: np.ndarray               # (B, 2) the ticks (later, earlier) of that return
    directions: float                       # directions the kept latents spread over, 1..Z (latent.directions)
    final_latent: Tensor = field(repr=False)  # (B, Z) where the run ended, for fidelity after it
    seconds: float = 0.0
    decoded_frames: int = 0

    # Each check: (name, passed per window and seed) so the plot and summary share one definition.
    def latent_in_band(self) -> np.ndarray:
        c = self.config
        return (self.abs_mean <= c.mean_band) & (self.std_dev <= c.std_band) & ~self.nonfinite

    def window_motion(self) -> np.ndarray:
        """(W,) motion per window, averaged over seeds (single pairs are noisy; a window's mean is not)."""
        with warnings.catch_warnings():          # an all-NaN window is a NaN mean, as it should be
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.nanmean(np.where(np.isfinite(self.motion), self.motion, np.nan), axis=1)

    def motion_in_band(self) -> np.ndarray:
        lo, hi = self.config.motion_band
        m = self.window_motion() / self.reference_motion
        return np.isfinite(m) & (m >= lo) & (m <= hi)

    def frozen(self) -> np.ndarray:
        """(W, B) a seed whose decoded pairs barely change in a window (NaN frames count as frozen)."""
        m = np.where(np.isfinite(self.motion), self.motion, 0.0)
        return m < self.config.frozen_ratio * self.reference_motion

    def repeating(self) -> np.ndarray:
        """(B,) seeds that came back within ``repeat_ratio`` of a latent more than ``min_gap`` ticks older."""
        return self.closest_return < self.config.repeat_ratio

    def passed(self) -> bool:
        return bool(self.latent_in_band().all() and self.motion_in_band().all()
                    and not self.frozen().any() and not self.repeating().any())


def seed_latents(seeds: int, z_dim: int, first_seed: int = 0) -> Tensor:
    """(seeds, Z) starting latents, one torch.Generator per seed, so seed k starts alike in every run."""
    rows = [torch.randn(z_dim, generator=torch.Generator().manual_seed(first_seed + k)) for k in range(seeds)]
    return renormalise(torch.stack(rows))


def start_latents(rnn: nn.Module, seeds: int, z_dim: int, first_seed: int = 0) -> Tensor:
    """Where each seed's lamp starts: its seeded latent after the lamp's own warm-up, as the viewer starts it."""
    z = seed_latents(seeds, z_dim, first_seed)
    warm_up = getattr(rnn, "warm_up", None)
    if warm_up is None:
        return z
    device = next(iter(rnn.parameters()), torch.zeros(())).device
    return warm_up(z.to(device), generator=torch.Generator().manual_seed(40_009 + first_seed)).cpu()


def to_uint8(frames: Tensor) -> Tensor:
    """(N, 3, S, S) floats in [0, 1] -> uint8 values as floats, as the viewer shows them (NaN stays NaN)."""
    return (frames * 255.0).round().clamp(0.0, 255.0)


def frame_motion(generator: nn.Module, before: Tensor, after: Tensor, batch: int) -> Tensor:
    """(N,) mean |frame(after) - frame(before)| in 0-255 units for N latent pairs (N, Z) each."""
    out = []
    for i in range(0, before.shape[0], batch):
        pair = torch.cat([before[i:i + batch], after[i:i + batch]])
        frames = to_uint8(generator(pair).float())
        n = frames.shape[0] // 2
        out.append((frames[n:] - frames[:n]).abs().flatten(1).mean(1))
    return torch.cat(out)


class ReturnSearch:
    """Closest return of each seed's latent to its own kept past, more than ``min_gap`` ticks back."""

    def __init__(self, seeds: int, z_dim: int, capacity: int, min_gap: int, chunk: int = 8192):
        need = seeds * capacity * z_dim * 4
        if need > MAX_HISTORY_BYTES:
            raise EnduranceError(f"keeping {capacity} latents per seed for the no-repeat search needs "
                                 f"{need / 1024**3:.1f} GiB; keep fewer (a larger history interval).")
        self.history = torch.zeros(seeds, capacity, z_dim)     # (B, H, Z)
        self.sq_norm = torch.zeros(seeds, capacity)            # (B, H)
        self.ticks = torch.zeros(capacity, dtype=torch.long)   # (H,) same ticks for every seed
        self.size = 0
        self.min_gap = min_gap
        self.chunk = chunk
        self.best = torch.full((seeds,), math.inf, dtype=torch.float64)
        self.best_ticks = torch.full((seeds, 2), -1, dtype=torch.long)

    def directions(self) -> float:
        """How many directions all kept latents spread over (NaN before any are kept): few means repeats."""
        if self.size == 0:
            return math.nan
        kept = self.history[:, :self.size]                              # (B, H, Z), a view
        # Per seed and summed: no copy of the whole history (up to MAX_HISTORY_BYTES) to flatten it.
        return directions(torch.bmm(kept.transpose(1, 2), kept).sum(0) / (kept.shape[0] * kept.shape[1]))

    def add(self, latents: Tensor, ticks: Tensor) -> Tensor:
        """Keep (B, q, Z) latents from ``ticks`` (q,) and search them against all kept ones.

        Returns (B,) the smallest squared distance of a new latent to one more than ``min_gap`` ticks older.
        """
        q = latents.shape[1]
        if q == 0:
            return torch.full((latents.shape[0],), math.inf)
        latents = latents.float()
        finite = torch.isfinite(latents).all(-1)                        # (B, q)
        latents = torch.where(finite[..., None], latents, torch.zeros(()))
        lo, hi = self.size, self.size + q
        self.history[:, lo:hi] = latents
        self.sq_norm[:, lo:hi] = latents.pow(2).sum(-1)
        self.ticks[lo:hi] = ticks
        self.size = hi
        q_norm = self.sq_norm[:, lo:hi]                                 # (B, q)
        best = torch.full(q_norm.shape, math.inf)                       # (B, q)
        best_idx = torch.zeros(q_norm.shape, dtype=torch.long)
        for start in range(0, hi, self.chunk):
            stop = min(start + self.chunk, hi)
            # Only kept latents more than min_gap ticks older than the query count.
            old = (ticks[:, None] - self.ticks[None, start:stop]) > self.min_gap   # (q, h)
            if not bool(old.any()):
                continue
            # |a - b|^2 = |a|^2 + |b|^2 - 2 a.b : one batched matrix product per chunk.
            d2 = torch.baddbmm(q_norm[..., None] + self.sq_norm[:, None, start:stop],
                               latents, self.history[:, start:stop].transpose(1, 2), alpha=-2.0)  # (B, q, h)
            d2 = d2.clamp_min(0.0).masked_fill(~old[None], math.inf)
            d2 = d2.masked_fill(~finite[..., None], math.inf)
            value, idx = d2.min(-1)
            better = value < best
            best = torch.where(better, value, best)
            best_idx = torch.where(better, idx + start, best_idx)
        value, which = best.min(-1)                                     # (B,)
        improved = value.double() < self.best
        self.best = torch.where(improved, value.double(), self.best)
        later = ticks[which]
        earlier = self.ticks[best_idx.gather(1, which[:, None])[:, 0]]
        self.best_ticks = torch.where(improved[:, None], torch.stack([later, earlier], 1), self.best_ticks)
        return value


@torch.inference_mode()
def run_endurance(rnn: nn.Module, generator: nn.Module, z_dim: int, reference_motion: float,
                  config: EnduranceConfig | None = None, start: Tensor | None = None,
                  progress: bool = False) -> EnduranceResult:
    """Run every seed for ``config.ticks`` ticks of the lamp's own motion and record each window.

    The lamp's own motion includes its trained drive noise (none for a deterministic
    lamp), drawn from a generator seeded with ``config.first_seed``, so a run repeats
    exactly. ``start`` (seeds, Z) overrides the seeded starting latents.
    """
    import time

    from tqdm.auto import tqdm

    c = config or EnduranceConfig()
    if not (reference_motion > 0 and math.isfinite(reference_motion)):
        raise EnduranceError(f"the simulator's motion per tick must be a positive number, not {reference_motion!r}.")
    device = next(iter(rnn.parameters()), torch.zeros(())).device
    z = start_latents(rnn, c.seeds, z_dim, c.first_seed) if start is None else start.float().clone()
    if z.shape != (c.seeds, z_dim):
        raise EnduranceError(f"starting latents must have shape ({c.seeds}, {z_dim}), not {tuple(z.shape)}.")
    z = z.to(device)
    W, B = c.n_windows, c.seeds
    typical = math.sqrt(2 * z_dim)
    figures = {k: np.full((W, B), np.nan) for k in ("abs_mean", "std_dev", "skew", "kurt", "motion", "latent_step")}
    nonfinite = np.zeros((W, B), dtype=bool)
    search = ReturnSearch(B, z_dim, capacity=c.ticks // c.history_every + 1, min_gap=c.min_gap)
    # Pair starts spread evenly over the window, each followed by its next tick.
    pair_at = torch.tensor([int((k + 0.5) * c.window / c.pairs_per_window) - 1 for k in range(c.pairs_per_window)])
    buffer = torch.empty(c.window + 1, B, z_dim, device=device)   # (window + 1, B, Z): the previous tick first
    buffer[0] = z
    noise_rng = torch.Generator().manual_seed(10_007 + c.first_seed)
    t0 = time.perf_counter()
    decoded = 0
    bar = tqdm(total=W * c.window, unit="tick", unit_scale=True, disable=not progress,
               desc=f"endurance {B} seeds", smoothing=0.05)
    for w in range(W):
        for t in range(c.window):
            buffer[t + 1] = rnn.tick(buffer[t], generator=noise_rng)
        ticks = buffer[1:]                                             # (window, B, Z), tick w*window + 1 ...
        flat = ticks.reshape(-1, z_dim).float()
        mean, std, skew, kurt = (m.reshape(c.window, B) for m in moments(flat))
        bad = ~torch.isfinite(ticks).all(-1)                           # (window, B)
        # amax propagates NaN, so a NaN tick cannot hide inside a window's maximum.
        figures["abs_mean"][w] = mean.abs().amax(0).cpu().numpy()
        figures["std_dev"][w] = (std - 1).abs().amax(0).cpu().numpy()
        figures["skew"][w] = skew.mean(0).cpu().numpy()
        figures["kurt"][w] = kurt.mean(0).cpu().numpy()
        nonfinite[w] = bad.any(0).cpu().numpy()
        step = (buffer[1:] - buffer[:-1]).norm(dim=-1) / typical       # (window, B)
        figures["latent_step"][w] = step.mean(0).cpu().numpy()
        before = ticks[pair_at].reshape(-1, z_dim)                      # (pairs * B, Z)
        after = ticks[pair_at + 1].reshape(-1, z_dim)
        motion = frame_motion(generator, before, after, c.decode_batch).reshape(c.pairs_per_window, B)
        figures["motion"][w] = motion.mean(0).cpu().numpy()
        decoded += 2 * before.shape[0]
        base = w * c.window
        keep = [t for t in range(c.window) if (base + t + 1) % c.history_every == 0]
        if keep:
            search.add(ticks[keep].transpose(0, 1).cpu(), torch.tensor([base + t + 1 for t in keep]))
        buffer[0] = buffer[-1]
        bar.update(c.window)
    bar.close()
    return EnduranceResult(
        config=c, reference_motion=float(reference_motion),
        window_end=(np.arange(W) + 1) * c.window, nonfinite=nonfinite,
        closest_return=(search.best.sqrt() / typical).numpy(),
        closest_ticks=search.best_ticks.numpy(),
        directions=search.directions(),
        final_latent=buffer[0].cpu().clone(), seconds=time.perf_counter() - t0, decoded_frames=decoded,
        **figures,
    )


def advance(rnn: nn.Module, z: Tensor, ticks: int, progress: bool = False, desc: str = "ticks") -> Tensor:
    """Run ``ticks`` ticks of the lamp's own motion from (B, Z) latents without any checks or decoding."""
    from tqdm.auto import tqdm

    noise_rng = torch.Generator().manual_seed(20_011)
    with torch.inference_mode():
        for _ in tqdm(range(ticks), disable=not progress, desc=desc, unit="tick", unit_scale=True, smoothing=0.05):
            z = rnn.tick(z, generator=noise_rng)
    return z


def _worst(values: np.ndarray, result: EnduranceResult) -> str:
    """'value (seed s, window to tick t)' for the largest entry of a (W, B) array; NaN counts as largest."""
    v = np.where(np.isfinite(values), values, np.inf)
    w, b = np.unravel_index(np.argmax(v), v.shape)
    return f"{values[w, b]:.3g} (seed {result.config.first_seed + b}, window to tick {result.window_end[w]:,})"


def endurance_checks(result: EnduranceResult) -> list[dict]:
    """Summary rows: name, wanted, measured, passed."""
    c, r = result.config, result
    W, B = r.abs_mean.shape
    ratio = r.window_motion() / r.reference_motion
    finite_ratio = ratio[np.isfinite(ratio)]
    spread = (f"min {finite_ratio.min():.2f}x, median {np.median(finite_ratio):.2f}x, max {finite_ratio.max():.2f}x"
              if finite_ratio.size else "no finite frames")
    lo, hi = c.motion_band
    best = int(np.argmin(r.closest_return))
    later, earlier = (int(t) for t in r.closest_ticks[best])
    where = f" (seed {c.first_seed + best}: tick {later:,} near tick {earlier:,})" if earlier >= 0 else ""
    typical = math.sqrt(2 * r.final_latent.shape[1])
    n_frozen = int(r.frozen().any(0).sum())
    return [
        {"name": "latent |mean| per tick", "wanted": f"<= {c.mean_band} in every window",
         "measured": f"worst {_worst(r.abs_mean, r)}", "passed": bool((r.abs_mean <= c.mean_band).all())},
        {"name": "latent |std - 1| per tick", "wanted": f"<= {c.std_band} in every window",
         "measured": f"worst {_worst(r.std_dev, r)}", "passed": bool((r.std_dev <= c.std_band).all())},
        {"name": "NaN/Inf latents", "wanted": "none",
         "measured": f"{int(r.nonfinite.sum())} of {W * B} seed-windows", "passed": not bool(r.nonfinite.any())},
        {"name": "motion per tick / simulator's", "wanted": f"{lo}x..{hi}x in every window "
                                                           f"(simulator {r.reference_motion:.3g})",
         "measured": spread, "passed": bool(r.motion_in_band().all())},
        {"name": "frozen seeds", "wanted": f"none (motion < {c.frozen_ratio}x simulator's)",
         "measured": f"{n_frozen} of {B}", "passed": n_frozen == 0},
        {"name": "closest return / sqrt(2Z)", "wanted": f">= {c.repeat_ratio} (sqrt(2Z) = {typical:.3g}), "
                                                         f"> {c.min_gap} ticks apart",
         "measured": f"{r.closest_return[best]:.3g}{where}; {int(r.repeating().sum())} of {B} seeds repeat; "
                     f"the latents spread over {r.directions:.1f} of {r.final_latent.shape[1]} directions",
         "passed": not bool(r.repeating().any())},
    ]


def endurance_figure(result: EnduranceResult, title: str = "endurance"):
    """A Pillow image: per-window latent mean, std and frame motion over the run, across seeds."""
    from .eval_plot import WORST, Panel, draw_panels

    c, r = result.config, result
    x = r.window_end

    def spread(a: np.ndarray) -> dict[str, np.ndarray]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            finite = np.where(np.isfinite(a), a, np.nan)
            return {"lo": np.nanmin(finite, 1), "hi": np.nanmax(finite, 1),
                    "median seed": np.nanmedian(finite, 1), "worst seed": np.where(np.isfinite(a), a, np.inf).max(1)}

    motion = r.motion / r.reference_motion
    lo, hi = c.motion_band
    panels = [
        Panel(f"largest |latent mean| per window (band <= {c.mean_band})", x, spread(r.abs_mean),
              band=(0.0, c.mean_band), y_range=(0.0, 2 * c.mean_band), colours={"worst seed": WORST}),
        Panel(f"largest |latent std - 1| per window (band <= {c.std_band})", x, spread(r.std_dev),
              band=(0.0, c.std_band), y_range=(0.0, 2 * c.std_band), colours={"worst seed": WORST}),
        Panel(f"frame motion per tick / simulator's {r.reference_motion:.3g} (band {lo}x..{hi}x; shade: seeds)", x,
              {**{k: v for k, v in spread(motion).items() if k != "worst seed"},
               "all seeds": r.window_motion() / r.reference_motion},
              band=(lo, hi), y_range=(lo / 4, hi * 4), log=True, colours={"all seeds": WORST}),
        Panel("latent step per tick / sqrt(2Z) (for the record: how far the latent moves)", x,
              {k: v for k, v in spread(r.latent_step).items() if k != "worst seed"}, log=True),
    ]
    closest = float(r.closest_return.min())
    head = (f"{title}: {r.abs_mean.shape[1]} seeds x {c.ticks:,} ticks, windows of {c.window:,}; "
            f"closest return {closest:.3g} x sqrt(2Z)")
    return draw_panels(panels, head)
