"""How fast the wax itself moves, measured differentiably, so training can hold it to the data's speed.

A lamp can match the data's pixel change per tick without moving its wax: it
fades a blob out in one place and in at another, or lets the glow shimmer.
What a viewer sees as motion, and what ``duralava eval``'s clip features
measure, is the wax's outline and position moving. :class:`SoftWax` finds the
wax the way :class:`~duralava.models.features.WaxSegmenter` does (by colour,
on the liquid -> wax axis of the data's two colour clusters), but with a steep
sigmoid in place of the hard threshold, so the generator gets gradients through it.

Two speeds per clip batch, each compared with the real clips' as a squared log
ratio (zero when the lamp moves as fast as its data, whatever the scale):

- outline: the mean change of the soft wax mask per tick over the pixels where
  wax can be, the differentiable twin of eval's ``mask_change_rate``;
- drift: how far the wax's centre of mass moves per tick (``centroid_speed``).

And how unevenly it moves (:meth:`SoftWax.spread_mismatch`): the data's wax rests
on the bulb, then rises in a spurt, so its speed varies widely from clip to
clip; a lamp that moves at the right average pace all the time is not the same
motion. The spread of each speed over the batch's clips is compared as above.

And how much of the pixels' change the wax's movement explains
(:func:`pixels_per_outline`): in the data all of it, so the ratio of the two is
nearly constant from clip to clip; the lamp is held to that ratio clip by clip.

And where the wax spends its time (:meth:`SoftWax.height_mismatch`): the share of
the wax in each of eval's eight height bands, averaged over the batch, against
the data's as a whole. The data's wax rests on the bulb a third of the time; a lamp
whose wax hovers in the upper half never shows it melting. Training holds to it only
the chains past the lamp's warm-up, as the lamp is shown: a fresh latent may put the
wax on the bulb although the lamp, once running, never brings it back there. Off by
default: matched over a batch, the shares can be met by a second blob on the bulb as
well as by the one blob going down, and a lamp whose wax stayed high took that way.

And how much wax there is (:meth:`SoftWax.amount_changes`): the data's wax is conserved, it
moves and does not come and go, so its amount changes only a little per tick (the outline's
pixels and the heat's expansion) and hardly more across a clip. A lamp whose wax swells and
shrinks from tick to tick also shows more wax crossing each height than ever rose or sank
(eval's ``wax_flux``).

And one measure of the wax's look (:meth:`SoftWax.colour_mismatch`): the shares
of the lamp's pixels in each band of the liquid -> wax axis (eval's colour bins).
In the data the pixels between the two colours are the one-pixel rim of the
wax; a generator whose outline is blurred over two or three pixels has too
many of them, and its wax looks soft-edged and washed out.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .features import BRIGHTNESS_WEIGHT, COLOUR_EDGES, DARK_OFFSET, PROFILE_BANDS, WaxSegmenter

SHARPNESS = 12.0   # sigmoid slope on the liquid (0) -> wax (1) axis: 0.4 -> 0.23, 0.6 -> 0.77
BAND_SHARPNESS = 40.0   # slope of the soft colour bands' sides: pure wax (1) is 0.98 in the top band
EPS = 1e-4         # keeps the logs and the centre of mass finite for a lamp with no wax or no motion
HEIGHT_FRAMES = 4000   # data frames the wax's share at each height is measured on, evenly spaced
OFF_AXIS_EPS = 1e-10  # squared colour distance under the root: a finite slope on the axis, 1e-5 off it at most
OFF_AXIS_FLOOR = 0.005  # colour distance added to both sides of the off-axis ratio: hues closer than this are
                        # one hue (the simulator's blends and glow lie 0.027 off the axis on average)
PIXEL_EPS = 1e-5   # the same for pixel change per tick (a resting clip of the data changes 4e-4 a tick)


class SoftWax:
    """A differentiable wax mask for clips (B, T, 3, S, S) in [0, 1], from a fitted segmenter."""

    def __init__(self, segmenter: WaxSegmenter, device: torch.device | str = "cpu", sharpness: float = SHARPNESS):
        centres = torch.from_numpy(np.asarray(segmenter.centres, np.float32))
        self.origin = centres[0].to(device)                      # (4,) liquid centre in colour space
        axis = centres[1] - centres[0]
        self.direction = axis.to(device)                          # (4,) liquid centre -> wax centre
        self.axis = (axis / axis.dot(axis)).to(device)            # (4,) so that the wax centre lands at 1
        self.active = torch.from_numpy(np.asarray(segmenter.active, np.float32)).to(device)   # (S, S)
        self.sharpness = float(sharpness)
        size = self.active.shape[0]
        centres_of = (torch.arange(size, dtype=torch.float32, device=device) + 0.5) / size
        self.height = (1.0 - centres_of).view(size, 1)           # (S, 1): row heights, top = 1
        self.across = centres_of.view(1, size)                   # (1, S)
        band_of = torch.zeros(size, PROFILE_BANDS, device=device)    # (S, bands): which height band each row is in
        for k, rows in enumerate(np.array_split(np.arange(size), PROFILE_BANDS)):
            band_of[rows, k] = 1.0
        self.band_of = band_of
        self.heights: Tensor | None = None     # the data's wax over the height bands (set by fit)

    @classmethod
    def fit(cls, frames: np.ndarray, device: torch.device | str = "cpu", mirrored: bool = True) -> "SoftWax":
        """Fit on uint8 frames (N, S, S, 3); raises MetricsError if they hold no wax to find.

        ``mirrored``: where wax can be includes its left-right mirror image, as
        training shows clips mirrored half the time.
        """
        segmenter = WaxSegmenter.fit(frames)
        if mirrored:
            segmenter.active = segmenter.active | segmenter.active[:, ::-1]
        soft = cls(segmenter, device)
        pick = np.linspace(0, len(frames) - 1, min(len(frames), HEIGHT_FRAMES)).astype(np.int64)
        with torch.no_grad():
            shares = [soft.height_shares(torch.from_numpy(np.asarray(frames[pick[s:s + 256]])).to(device)
                                         .permute(0, 3, 1, 2)[None].float().div(255.0)) * len(pick[s:s + 256])
                      for s in range(0, len(pick), 256)]
        soft.heights = torch.stack(shares).sum(dim=0) / len(pick)
        return soft

    def _from_liquid(self, clips: Tensor) -> Tensor:
        """(B, T, 3, S, S) in [0, 1] -> (B, T, 4, S, S): each pixel's colour (features.colour_space, on the
        channel axis of float clips) less the liquid centre."""
        rgb = clips * 255.0
        total = rgb.sum(dim=2, keepdim=True)                      # (B, T, 1, S, S)
        colour = torch.cat([rgb / (total + DARK_OFFSET), BRIGHTNESS_WEIGHT * total / 765.0], dim=2)
        return colour - self.origin.view(1, 1, 4, 1, 1)

    def place(self, clips: Tensor) -> Tensor:
        """(B, T, 3, S, S) in [0, 1] -> (B, T, S, S): each pixel's place on the liquid (0) -> wax (1) axis."""
        return self._along(self._from_liquid(clips))

    def _along(self, x: Tensor) -> Tensor:
        """:meth:`place` from the colours less the liquid's (B, T, 4, S, S)."""
        return torch.einsum("btcyx,c->btyx", x, self.axis)

    def off_axis(self, clips: Tensor) -> Tensor:
        """How far the colours where wax can be lie off the liquid -> wax axis, on average, as eval's
        ``colour_off_axis`` measures it: a (1,) tensor. Hues neither wax nor liquid nor a blend of the two."""
        x = self._from_liquid(clips)
        return self._off_axis(x, self._along(x))

    def _off_axis(self, x: Tensor, along: Tensor) -> Tensor:
        """:meth:`off_axis` from the colours less the liquid's (B, T, 4, S, S) and their :meth:`place`."""
        away = x - along.unsqueeze(2) * self.direction.view(1, 1, 4, 1, 1)
        distance = (away.pow(2).sum(dim=2) + OFF_AXIS_EPS).sqrt()          # no infinite slope on the axis
        return ((distance * self.active).sum(dim=(-2, -1)).mean() / self.active.sum().clamp_min(1.0)).view(1)

    def waxiness(self, clips: Tensor) -> Tensor:
        """(B, T, 3, S, S) in [0, 1] -> (B, T, S, S): near 1 on wax colour, near 0 on liquid colour."""
        return torch.sigmoid(self.sharpness * (self.place(clips) - 0.5))

    def mask(self, clips: Tensor) -> Tensor:
        """(B, T, 3, S, S) in [0, 1] -> (B, T, S, S): near 1 on wax, near 0 on liquid, 0 where wax never is."""
        return self.waxiness(clips) * self.active

    def colour_shares(self, clips: Tensor) -> Tensor:
        """The share of the pixels where wax can be in each of eval's colour bands (soft counts): (bands,)."""
        return self._shares(self.place(clips))

    def _shares(self, place: Tensor) -> Tensor:
        """:meth:`colour_shares` from the pixels' :meth:`place`."""
        p = place.clamp(0.0, 1.0)   # no pull to paint wax or liquid past their own colours
        above = torch.stack([torch.sigmoid(BAND_SHARPNESS * (p - e)) for e in COLOUR_EDGES.tolist()])
        ones, zeros = torch.ones_like(above[:1]), torch.zeros_like(above[:1])
        bands = torch.cat([ones, above]) - torch.cat([above, zeros])       # (bands, B, T, S, S)
        return (bands * self.active).sum(dim=(-2, -1)).mean(dim=(1, 2)) / self.active.sum().clamp_min(1.0)

    def _colour_measures(self, clips: Tensor) -> Tensor:
        """The colour shares and the off-axis distance (plus OFF_AXIS_FLOOR), from one pass over the colours."""
        x = self._from_liquid(clips)
        along = self._along(x)
        return torch.cat([self._shares(along), self._off_axis(x, along) + OFF_AXIS_FLOOR])

    def colour_mismatch(self, fake: Tensor, real: Tensor) -> Tensor:
        """Sum over the bands of (log(fake's share / real's))^2, plus the same for the distance off the
        axis: zero when the colours are spread along and off the axis as in the data."""
        return held_to_data(self._colour_measures, fake, real)

    def height_shares(self, clips: Tensor) -> Tensor:
        """The share of the wax in each of eval's height bands (top first), averaged over the frames: (bands,)."""
        bands = self.mask(clips).sum(dim=-1) @ self.band_of        # (B, T, bands): wax per band
        return (bands / (bands.sum(dim=-1, keepdim=True) + EPS)).mean(dim=(0, 1))

    def height_mismatch(self, fake: Tensor) -> Tensor:
        """Sum over the bands of (log(fake's share / the data's))^2: zero when the lamp's wax spends its
        time at each height as the data's does. Against the data as a whole (``fit``), not one batch:
        a batch of clips holds too few trips of the wax to be a steady target."""
        if self.heights is None:
            raise ValueError("the data's heights are set by SoftWax.fit")
        return log_gap(self.height_shares(fake), self.heights)

    def liquid_speeds(self, clips: Tensor) -> Tensor:
        """(per tick, across the clip): the mean |change| of the pixels that are liquid at both ends of
        each step, over a batch of clips (B, T>=2, 3, S, S): a (2,) tensor.

        Which pixels are liquid is a weight, not something the lamp can learn to dodge: no gradient
        flows into it, only into the liquid's change.
        """
        with torch.no_grad():
            liquid = 1.0 - self.waxiness(clips)                                          # (B, T, S, S)
        change = (clips[:, 1:] - clips[:, :-1]).abs().mean(dim=2)                       # (B, T-1, S, S)
        both = liquid[:, 1:] * liquid[:, :-1]
        per_tick = (change * both).sum() / both.sum().clamp_min(1.0)
        across = (clips[:, -1] - clips[:, 0]).abs().mean(dim=1)                         # (B, S, S)
        ends = liquid[:, -1] * liquid[:, 0]
        return torch.stack([per_tick, (across * ends).sum() / ends.sum().clamp_min(1.0)])

    def liquid_mismatch(self, fake: Tensor, real: Tensor) -> Tensor:
        """Sum over the two liquid speeds of (log(fake / real))^2: zero when the lamp's liquid stays as
        still as the data's."""
        return held_to_data(self.liquid_speeds, fake, real)

    def amount_changes(self, clips: Tensor) -> Tensor:
        """(per tick, across the clip): the mean |change| of the amount of wax, as a share of the pixels
        where wax can be, over a batch of clips (B, T>=2, 3, S, S): a (2,) tensor."""
        amount = self.mask(clips).sum(dim=(-2, -1)) / self.active.sum().clamp_min(1.0)     # (B, T)
        per_tick = (amount[:, 1:] - amount[:, :-1]).abs().mean()
        return torch.stack([per_tick, (amount[:, -1] - amount[:, 0]).abs().mean()])

    def amount_mismatch(self, fake: Tensor, real: Tensor) -> Tensor:
        """Sum over the two changes of (log(fake / real))^2: zero when the lamp keeps its amount of wax
        as steady as the data does."""
        return held_to_data(self.amount_changes, fake, real)

    def outline_per_area(self, clips: Tensor) -> Tensor:
        """The wax's outline for its area, averaged over the frames of (B, T, 3, S, S): a (1,) tensor, the
        differentiable twin of eval's ``perimeter_per_area``. A wax pixel's edge counts as much as the
        pixel is wax and its neighbour across the edge is not (the frame's border is not wax)."""
        m = self.mask(clips)                                                  # (B, T, S, S)
        h, w = m.shape[-2:]
        pad = F.pad(m, (1, 1, 1, 1))
        edges = sum(m * (1.0 - pad[..., y:y + h, x:x + w]) for y, x in ((0, 1), (2, 1), (1, 0), (1, 2)))
        area = m.sum(dim=(-2, -1)).clamp_min(1.0)
        return (edges.sum(dim=(-2, -1)) / area).mean().view(1)

    def shape_mismatch(self, fake: Tensor, real: Tensor) -> Tensor:
        """(log(fake's :meth:`outline_per_area` / real's))^2: zero when the lamp's wax has as much outline
        for its area as the data's (small droplets have more than one round blob)."""
        return held_to_data(self.outline_per_area, fake, real)

    def speeds(self, clips: Tensor) -> Tensor:
        """(outline, drift) per tick over a batch of clips (B, T>=2, 3, S, S): a (2,) tensor."""
        return self.clip_speeds(clips).mean(dim=0)

    def clip_speeds(self, clips: Tensor) -> Tensor:
        """(outline, drift) per tick of each clip of (B, T>=2, 3, S, S): a (B, 2) tensor."""
        m = self.mask(clips)                                      # (B, T, S, S)
        outline = (m[:, 1:] - m[:, :-1]).abs().sum(dim=(-2, -1)) / self.active.sum().clamp_min(1.0)
        area = m.sum(dim=(-2, -1)) + EPS                          # (B, T)
        cy = (m * self.height).sum(dim=(-2, -1)) / area
        cx = (m * self.across).sum(dim=(-2, -1)) / area
        drift = (cy[:, 1:] - cy[:, :-1]).abs() + (cx[:, 1:] - cx[:, :-1]).abs()
        return torch.stack([outline.mean(dim=1), drift.mean(dim=1)], dim=1)

    def flux(self, clips: Tensor) -> Tensor:
        """How much wax crosses each height per tick, as a share of a row, averaged over the heights,
        ticks and clips of (B, T>=2, 3, S, S): a (1,) tensor, the differentiable twin of eval's
        ``wax_flux``. The change of the wax below a row's lower edge is the wax through it."""
        rows = self.mask(clips).sum(dim=-1)                       # (B, T, S) wax in each row
        below = rows.flip(-1).cumsum(dim=-1)[..., :-1]            # wax under each row boundary
        return ((below[:, 1:] - below[:, :-1]).abs().mean() / rows.shape[-1]).view(1)

    def flux_mismatch(self, fake: Tensor, real: Tensor) -> Tensor:
        """(log(fake's :meth:`flux` / real's))^2: zero when as much of the lamp's wax crosses each height
        per tick as the data's."""
        return held_to_data(self.flux, fake, real)

    def speed_mismatches(self, fake: Tensor, real: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(pace, spread, coupling) from one pass over each batch: the two speeds' mean and their spread
        over clips, each as a sum of squared log ratios (the spread is 0 unless both batches hold two
        clips); and the mean over the lamp's clips of the squared gap between each clip's
        :func:`pixels_per_outline` and the data's mean."""
        with torch.no_grad():
            target = self.clip_speeds(real)
            coupled = pixels_per_outline(real, target).mean()
        speeds = self.clip_speeds(fake)
        pace = log_gap(speeds.mean(dim=0), target.mean(dim=0))
        coupling = (pixels_per_outline(fake, speeds) - coupled).pow(2).mean()
        if len(speeds) < 2 or len(target) < 2:
            return pace, speeds.new_zeros(()), coupling
        return pace, log_gap(speeds.std(dim=0), target.std(dim=0)), coupling

    def mismatch(self, fake: Tensor, real: Tensor) -> Tensor:
        """Sum over the two speeds of (log(fake / real))^2: a scalar, zero when the wax moves as in the data."""
        return self.speed_mismatches(fake, real)[0]

    def spread_mismatch(self, fake: Tensor, real: Tensor) -> Tensor:
        """Sum over the two speeds of (log(fake's spread over clips / real's))^2; needs two clips of each."""
        return self.speed_mismatches(fake, real)[1]


def pixels_per_outline(clips: Tensor, speeds: Tensor) -> Tensor:
    """log(full-resolution pixel change per tick / outline change per tick) of each clip: (B,), from
    clips (B, T, 3, S, S) and their :meth:`SoftWax.clip_speeds`.

    In the data every pixel that changes is wax moving, so this is nearly the same number for a
    resting clip and a rising one (its spread over clips is a twentieth of its mean's log). A lamp
    whose texture boils, or whose glow shimmers, changes its pixels more than its wax explains,
    most of all when the wax rests.
    """
    pixels = (clips[:, 1:] - clips[:, :-1]).abs().mean(dim=(1, 2, 3, 4))
    return torch.log(pixels + PIXEL_EPS) - torch.log(speeds[:, 0] + EPS)


def held_to_data(measure, fake: Tensor, real: Tensor) -> Tensor:
    """:func:`log_gap` between ``measure`` of the lamp's clips and of the data's (no gradient into the data's)."""
    with torch.no_grad():
        target = measure(real)
    return log_gap(measure(fake), target)


def log_gap(fake: Tensor, real: Tensor) -> Tensor:
    """Sum of (log(fake / real))^2 over the entries: zero where they agree, whatever the scale."""
    return (torch.log(fake + EPS) - torch.log(real + EPS)).pow(2).sum()
