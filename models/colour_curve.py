"""A lamp's colour curve: the generator's colours moved along the line from liquid to wax, so that
their spread along it is the data's.

A GAN learns where the wax is far better than how much of each shade of it there is: the
overheated lamp's wax came out brighter than the simulator's wax (7% of its moving pixels past
the wax's own colour, the data's 1%) and its liquid darker, with too few of the liquid's
faintly tinted pixels. The curve is fitted after training, from the data and the lamp's own
frames (``duralava lamp --fit-colours``): each pixel's place on the liquid -> wax line (in the
colour space eval measures, :func:`duralava.models.features.colour_space`) is mapped through
the lamp's quantiles onto the data's, and the pixel is moved along the line in RGB to sit
there (in one step: along the line, its place is a ratio of linear terms, so the move is a
root of a quadratic). The map is monotone, so what is wax stays wax and what is liquid stays
liquid. No weights are learned; the knots and the line are buffers stored in the lamp.

With ``shrink`` the curve also brings the colours nearer the line: a generator's grain puts its
colours further off the line between liquid and wax than the data's (the default lamp's 0.032
on average in eval's colour space, its simulator's 0.0275). Each pixel's distance from the line
in RGB is scaled by one factor, fitted so that the lamp's mean distance is the data's, and the
pixel is then moved along the line to the place the curve gives it, so no pixel changes from
wax to liquid or back.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from .features import BRIGHTNESS_WEIGHT, DARK_OFFSET, WaxSegmenter

KNOTS = 33           # quantiles the curve passes through
FIT_SEEDS, FIT_TICKS, FIT_FIRST_SEED = 400, 16, 10_000   # the lamp's own frames: seeds apart from eval's
# (as many lamps as eval measures in all: fewer leave the fit to a few seeds' share of wax)


SHRINK_RANGE = (0.5, 1.5)   # the off-line scale a fit may give, and a lamp file may hold


def check_curve(curve: "ColourCurve") -> None:
    """ValueError unless the curve's knots are finite and rise (or stay level) from one to the next,
    its line joins two distinct colours, and its off-line scale (if any) is in SHRINK_RANGE."""
    for name in ("from", "to"):
        k = getattr(curve, f"knots_{name}")
        if not bool(torch.isfinite(k).all()):
            raise ValueError(f"its colour curve's {name}-knots are not all finite")
        if bool((k[1:] < k[:-1]).any()):
            raise ValueError(f"its colour curve's {name}-knots do not rise from one to the next")
    if not (bool(torch.isfinite(curve.centres).all()) and bool(torch.isfinite(curve.step).all())):
        raise ValueError("its colour curve's line is not all finite")
    if float((curve.centres[1] - curve.centres[0]).norm()) < 1e-6:
        raise ValueError("its colour curve's line joins a colour to itself")
    if curve.shrink is not None:
        k, lo, hi = float(curve.shrink), *SHRINK_RANGE
        if not lo <= k <= hi:       # also false for NaN
            raise ValueError(f"its colour curve's off-line scale is {k:g}, not from {lo:g} to {hi:g}")
        if not bool(((curve.liquid >= 0) & (curve.liquid <= 1)).all()):
            raise ValueError("its colour curve's liquid colour is not in 0..1")


class ColourCurve(nn.Module):
    """Frames (B, 3, S, S) in [0, 1] -> the same with their colours moved along the liquid -> wax line.

    Until it is fitted (both knot rows alike, no off-line scale) it leaves every frame as it is.
    """

    def __init__(self, knots: int = KNOTS, shrink: bool = False):
        super().__init__()
        if not isinstance(knots, int) or not 2 <= knots <= 1024:
            raise ValueError(f"a colour curve needs from 2 to 1024 knots, not {knots!r}")
        line = torch.linspace(0.0, 1.0, knots)
        self.register_buffer("centres", torch.tensor([[1 / 3, 1 / 3, 1 / 3, 0.1], [0.5, 0.3, 0.2, 0.1]]))
        self.register_buffer("step", torch.tensor([0.5, 0.0, -0.5]))     # wax minus liquid, RGB in [0, 1]
        self.register_buffer("knots_from", line.clone())
        self.register_buffer("knots_to", line.clone())
        # The off-line scale and a point of the line in RGB (the liquid's colour): only with ``shrink``.
        self.register_buffer("shrink", torch.ones(()) if shrink else None)
        self.register_buffer("liquid", torch.tensor([0.25, 0.3, 0.35]) if shrink else None)
        self._cache: tuple | None = None

    @property
    def fitted(self) -> bool:
        return self._constants()["fitted"]

    def _constants(self) -> dict:
        """The line's numbers, worked out again only when a buffer changes: the tick needs them every frame.

        With d the line's direction, n = |d|^2 and x = 255 p, a pixel's place is
        U / V + KB T + K0: U = x . d_chroma / n, T = R + G + B, V = T + DARK_OFFSET.
        """
        buffers = (self.centres, self.step, self.knots_from, self.knots_to, self.shrink, self.liquid)
        key = tuple((t._version, t.data_ptr(), t.device) for t in buffers if t is not None)
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        d = self.centres[1] - self.centres[0]
        n = float(d @ d)
        m = self.step * 255.0
        # The map runs on beyond the end knots with slope 1 (the ends' shifts): far-off knots say so.
        a, b = self.knots_from, self.knots_to
        far = 1e3
        a = torch.cat([a[:1] - far, a, a[-1:] + far])
        b = torch.cat([b[:1] - far, b, b[-1:] + far])
        mapped = not torch.equal(self.knots_from, self.knots_to)     # knots alike: each colour keeps its place
        k = 1.0 if self.shrink is None else float(self.shrink)
        c = {"fitted": mapped or k != 1.0, "mapped": mapped, "shrink": k, "chroma": (d[:3] * (255.0 / n)).view(3, 1, 1),
             "kb": float(d[3]) * BRIGHTNESS_WEIGHT / 765.0 / n, "k0": -float(self.centres[0] @ d) / n,
             "ms": float(m @ d[:3]) / n, "big_m": float(m.sum()), "step": self.step.view(3, 1, 1),
             "a": a.contiguous(), "b": b, "slope": (b.diff() / a.diff().clamp_min(1e-12))}
        if k != 1.0:
            # x -> k x + (1 - k) (L + s step), s = (x - L) . step / |step|^2: the line's point nearest x kept.
            along = self.step / float(self.step @ self.step)
            c.update(along=along.view(3, 1, 1), along0=float(self.liquid @ along),
                     held=((1 - k) * self.liquid).view(3, 1, 1), pull=((1 - k) * self.step).view(3, 1, 1))
        self._cache = (key, c)
        return c

    def _terms(self, frames: Tensor, c: dict) -> tuple[Tensor, Tensor, Tensor]:
        """U, V and KB T + K0 of each pixel (see :meth:`_constants`): its place is U / V + the last."""
        total = frames.sum(-3) * 255.0
        return (frames * c["chroma"]).sum(-3), total + DARK_OFFSET, total * c["kb"] + c["k0"]

    def place(self, frames: Tensor) -> Tensor:
        """Each pixel's place on the line, liquid 0, wax 1: (B, S, S). The same as eval's, in torch: the
        colour space is (x / (T + DARK_OFFSET), BRIGHTNESS_WEIGHT * T / 765)."""
        u, v, line = self._terms(frames, self._constants())
        return u / v + line

    def target(self, place: Tensor) -> Tensor:
        """Where a pixel at ``place`` belongs: the knots' piecewise-linear map, shifted as the end knots
        are beyond them."""
        c = self._constants()
        i = torch.searchsorted(c["a"], place.contiguous()).clamp_(1, len(c["a"]) - 1).sub_(1).view(-1)
        pick = lambda row: row.index_select(0, i).view_as(place)      # noqa: E731 (faster than row[i])
        return pick(c["b"]) + (place - pick(c["a"])) * pick(c["slope"])

    def forward(self, frames: Tensor) -> Tensor:
        c = self._constants()
        if not c["fitted"]:
            return frames
        # Moving a pixel by delta * step (RGB) moves its place to (U + delta MS) / (V + delta M) +
        # KB (T + delta M) + K0, with MS = m . d_chroma / n and M = sum(m) for m = 255 step. Setting
        # that to the goal gives a quadratic in delta; its root nearer zero is the move (one pass).
        u, v, line = self._terms(frames, c)
        goal = u / v + line
        if c["mapped"]:
            goal = self.target(goal)
        if c["shrink"] != 1.0:
            along = (frames * c["along"]).sum(-3, keepdim=True) - c["along0"]
            frames = torch.addcmul(frames * c["shrink"] + c["held"], along, c["pull"])
            u, v, line = self._terms(frames, c)
        h = line - goal
        big_m = c["big_m"]
        a1 = (h + v * c["kb"]) * big_m + c["ms"]
        a0 = torch.addcmul(u, v, h)
        root = torch.addcmul(a1 * a1, a0, torch.full_like(a0, -4.0 * c["kb"] * big_m * big_m)).clamp_min_(0).sqrt_()
        delta = (a0 * a1.sign()).mul_(-2.0) / (a1.abs() + root).clamp_min_(1e-9)
        return torch.addcmul(frames, delta.unsqueeze(-3), c["step"]).clamp_(0.0, 1.0)

    @torch.no_grad()
    def fit(self, lamp_frames: np.ndarray, data_frames: np.ndarray, where: np.ndarray | None = None,
            place: bool = True) -> None:
        """Fit the curve: uint8 (N, S, S, 3) frames of the lamp (played with the curve off) and of its data;
        ``where`` (S, S) bool picks the pixels that count (the decoded ones; default all). The knots unless
        ``place`` is false (then each colour keeps its place); with ``shrink`` the off-line scale too, after
        the knots: the lamp's mean distance off the line made the data's."""
        seg = WaxSegmenter.fit(data_frames)
        if self.shrink is not None:
            self.shrink.fill_(1.0)
            self.liquid.copy_(torch.as_tensor(seg.liquid / 255.0, dtype=torch.float32))
        self.centres.copy_(torch.as_tensor(seg.centres, dtype=torch.float32))
        self.step.copy_(torch.as_tensor((seg.wax - seg.liquid) / 255.0, dtype=torch.float32))
        self.knots_from.copy_(torch.linspace(0.0, 1.0, len(self.knots_from)))
        self.knots_to.copy_(self.knots_from)
        q = torch.linspace(0.0, 1.0, len(self.knots_from), dtype=torch.float64)
        # The pixels the wax reaches (where the data's colours move), of those that count.
        pick = torch.as_tensor(seg.active, dtype=torch.bool)
        if where is not None:
            pick &= torch.as_tensor(where, dtype=torch.bool)

        def quantiles(frames: np.ndarray) -> Tensor:
            frames = np.array(frames[::max(1, len(frames) // 4000)])          # a copy of at most ~4,000
            x = torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255.0
            places = self.place(x)[:, pick].reshape(-1).double()
            if len(places) > 2_000_000:
                places = places[torch.randperm(len(places), generator=torch.Generator().manual_seed(0))[:2_000_000]]
            return torch.quantile(places, q).float()

        if place:
            lamp_q, data_q = quantiles(lamp_frames), quantiles(data_frames)
            # Ties (a shade the lamp draws a lot of) would make the map jump: spread them a hair apart.
            lamp_q = torch.cummax(lamp_q + torch.arange(len(lamp_q)) * 1e-6, 0).values
            self.knots_from.copy_(lamp_q)
            self.knots_to.copy_(data_q)
        if self.shrink is not None:
            counted = pick[torch.as_tensor(seg.active)].numpy()          # of the segmenter's pixels, those that count

            def some(frames: np.ndarray) -> np.ndarray:       # about 2,000 frames, evenly spaced
                return np.array(frames[::max(1, len(frames) // 2000)])

            def off_line(frames: np.ndarray) -> float:
                return float(seg.off_line(frames)[:, counted].mean())

            goal = off_line(some(data_frames))
            x = torch.from_numpy(some(lamp_frames))
            x = x.permute(0, 3, 1, 2).float() / 255.0
            for _ in range(3):       # the scale's effect is near proportional: a few rounds settle it
                drawn = (self(x) * 255).round().byte().permute(0, 2, 3, 1)
                k = float(self.shrink) * goal / max(off_line(drawn.numpy()), 1e-9)
                self.shrink.fill_(min(max(k, SHRINK_RANGE[0]), SHRINK_RANGE[1]))
        check_curve(self)


@torch.no_grad()
def with_fitted_colours(generator: nn.Module, rnn: nn.Module, data_frames: np.ndarray,
                        place: bool = True, off_line: bool = True) -> nn.Module:
    """A copy of a lamp's generator whose colour curve (new, or fitted again) is fitted to ``data_frames``
    (uint8, N, S, S, 3): its knots if ``place``, an off-line scale if ``off_line``. The lamp is played with
    the curve off from FIT_SEEDS seeds for FIT_TICKS ticks after its warm-up, over the pixels it decodes.
    Every other tensor is the generator's own."""
    if not (place or off_line):
        raise ValueError("a colour fit needs its place, its distance off the line, or both")
    from dataclasses import replace

    from .endurance import start_latents
    from .fidelity import lamp_frames
    from .generator import Generator

    config = generator.config
    out = Generator(replace(config, colour_knots=config.colour_knots or KNOTS, colour_shrink=off_line))
    out.load_state_dict(generator.state_dict(), strict=False)   # the curve alone is new (or set off below)
    out.eval()
    curve = out.colour_curve
    curve.knots_to.copy_(curve.knots_from)                     # the lamp's own colours, with the curve off
    if curve.shrink is not None:
        curve.shrink.fill_(1.0)
    start = start_latents(rnn, FIT_SEEDS, config.z_dim, first_seed=FIT_FIRST_SEED)
    own, _ = lamp_frames(rnn, out, start, FIT_TICKS, progress=True, desc="playing the lamp")
    decoded = None if out.still_mask is None else ~out.still_mask[0].bool().numpy()
    curve.fit(own, data_frames, where=decoded, place=place)
    return out
