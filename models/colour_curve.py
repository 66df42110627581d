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
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from .features import BRIGHTNESS_WEIGHT, DARK_OFFSET, WaxSegmenter

KNOTS = 33           # quantiles the curve passes through


def check_curve(curve: "ColourCurve") -> None:
    """ValueError unless the curve's knots are finite and rise (or stay level) from one to the next,
    and its line joins two distinct colours."""
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


class ColourCurve(nn.Module):
    """Frames (B, 3, S, S) in [0, 1] -> the same with their colours moved along the liquid -> wax line.

    Until it is fitted (both knot rows alike) it leaves every frame as it is.
    """

    def __init__(self, knots: int = KNOTS):
        super().__init__()
        if not isinstance(knots, int) or not 2 <= knots <= 1024:
            raise ValueError(f"a colour curve needs from 2 to 1024 knots, not {knots!r}")
        line = torch.linspace(0.0, 1.0, knots)
        self.register_buffer("centres", torch.tensor([[1 / 3, 1 / 3, 1 / 3, 0.1], [0.5, 0.3, 0.2, 0.1]]))
        self.register_buffer("step", torch.tensor([0.5, 0.0, -0.5]))     # wax minus liquid, RGB in [0, 1]
        self.register_buffer("knots_from", line.clone())
        self.register_buffer("knots_to", line.clone())

    @property
    def fitted(self) -> bool:
        return not torch.equal(self.knots_from, self.knots_to)

    def _parts(self, frames: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """What a pixel's place is made of: u = x . d_chroma, T = R + G + B (x = 255 p), and the scalars."""
        d = self.centres[1] - self.centres[0]
        x = frames * 255.0
        u = (x * d[:3].view(3, 1, 1)).sum(-3)
        total = x.sum(-3)
        return u, total, d

    def place(self, frames: Tensor) -> Tensor:
        """Each pixel's place on the line, liquid 0, wax 1: (B, S, S). The same as eval's, in torch: the
        colour space is (x / (T + DARK_OFFSET), BRIGHTNESS_WEIGHT * T / 765)."""
        u, total, d = self._parts(frames)
        kb = float(d[3]) * BRIGHTNESS_WEIGHT / 765.0
        return (u / (total + DARK_OFFSET) + kb * total - float(self.centres[0] @ d)) / float(d @ d)

    def target(self, place: Tensor) -> Tensor:
        """Where a pixel at ``place`` belongs: the knots' piecewise-linear map, shifted as the end knots
        are beyond them."""
        a, b = self.knots_from, self.knots_to
        i = torch.searchsorted(a, place.contiguous()).clamp(1, len(a) - 1)
        a0, a1, b0, b1 = a[i - 1], a[i], b[i - 1], b[i]
        w = ((place - a0) / (a1 - a0).clamp_min(1e-12)).clamp(0, 1)
        inside = b0 + w * (b1 - b0)
        return torch.where(place < a[0], place + (b[0] - a[0]),
                           torch.where(place > a[-1], place + (b[-1] - a[-1]), inside))

    def forward(self, frames: Tensor) -> Tensor:
        if not self.fitted:
            return frames
        # Moving a pixel by delta * step (RGB) moves its place to (u + delta ms) / (V + delta M) +
        # kb (T + delta M) + k0, all over |d|^2, with V = T + DARK_OFFSET, ms = m . d_chroma and
        # M = sum(m) for m = 255 step. Setting that to the goal gives a quadratic in delta; its root
        # nearer zero is the move (one pass, no iterations).
        u, total, d = self._parts(frames)
        n = float(d @ d)
        kb = float(d[3]) * BRIGHTNESS_WEIGHT / 765.0
        k0 = -float(self.centres[0] @ d)
        m = self.step * 255.0
        ms, big_m = float(m @ d[:3]), float(m.sum())
        v = total + DARK_OFFSET
        goal = self.target((u / v + kb * total + k0) / n)
        h = kb * total + k0 - n * goal
        a2 = kb * big_m * big_m
        a1 = ms + big_m * (h + v * kb)
        a0 = u + v * h
        root = (a1 * a1 - 4.0 * a2 * a0).clamp_min(0.0).sqrt()
        bottom = a1 + torch.where(a1 < 0, -root, root)
        delta = -2.0 * a0 / torch.where(bottom.abs() < 1e-9, torch.full_like(bottom, 1e-9), bottom)
        return (frames + delta.unsqueeze(-3) * self.step.view(3, 1, 1)).clamp(0.0, 1.0)

    @torch.no_grad()
    def fit(self, lamp_frames: np.ndarray, data_frames: np.ndarray, where: np.ndarray | None = None) -> None:
        """Fit the curve: uint8 (N, S, S, 3) frames of the lamp (played with the curve off) and of its data;
        ``where`` (S, S) bool picks the pixels that count (the decoded ones; default all)."""
        seg = WaxSegmenter.fit(data_frames)
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

        lamp_q, data_q = quantiles(lamp_frames), quantiles(data_frames)
        # Ties (a shade the lamp draws a lot of) would make the map jump: spread them a hair apart.
        lamp_q = torch.cummax(lamp_q + torch.arange(len(lamp_q)) * 1e-6, 0).values
        self.knots_from.copy_(lamp_q)
        self.knots_to.copy_(data_q)
        check_curve(self)
