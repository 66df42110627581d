"""Features of lava-lamp frames and clips, computed from pixels alone.

No pretrained network is available offline, so fidelity is judged on what a
person watching a lamp sees: how much wax there is, where it sits, how many
blobs, how round, what colours, and how it moves. The wax is found by colour
(`WaxSegmenter`), blobs by a small vectorised connected-components labelling.
`duralava.models.metrics` compares these features with a Frechet distance.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class MetricsError(ValueError):
    """Frames that cannot be measured, with one sentence saying why."""


FIT_FRAMES = 256          # frames the segmenter looks at (evenly spaced)
FIT_PIXELS = 200_000      # colour samples for 2-means
PROFILE_BANDS = 8
COLOUR_EDGES = np.array([0.1, 0.3, 0.5, 0.7, 0.9], np.float32)  # along the liquid->wax axis
CHUNK = 512               # frames per block, to bound memory on long runs
BRIGHTNESS_WEIGHT = 0.25  # brightness next to chromaticity; more confuses white wax with glow
DARK_OFFSET = 30.0        # added to R+G+B before dividing, so near-black pixels have no wild hue

FRAME_FEATURES = (
    ["coverage"]
    + [f"profile_{i}" for i in range(PROFILE_BANDS)]          # top band first
    + ["centroid_height", "height_spread", "blob_count", "largest_blob_share",
       "mean_log_blob_size", "perimeter_per_area"]
    + [f"colour_{i}" for i in range(len(COLOUR_EDGES) + 1)]
    + ["colour_off_axis"]
)
CLIP_FEATURES = ["diff_lag1", "diff_across", "mask_change_rate", "boundary_speed", "wax_flux",
                 "wax_flux_mid", "centroid_speed_y", "centroid_speed_x"]


def check_frames(frames, what="frames") -> np.ndarray:
    """Return `frames` as an (N,H,W,3) uint8 array or raise one clear sentence."""
    a = np.asarray(frames)
    if a.ndim != 4 or a.shape[-1] != 3:
        raise MetricsError(f"{what} must be an array of shape (N, H, W, 3), got shape {a.shape}.")
    if a.shape[0] == 0:
        raise MetricsError(f"{what} holds no frames.")
    if a.dtype != np.uint8:
        raise MetricsError(f"{what} must be uint8 RGB, got dtype {a.dtype}.")
    return a


def colour_space(pixels: np.ndarray) -> np.ndarray:
    """(..., 3) uint8 RGB -> (..., 4) float32: chromaticity plus a little brightness.

    Wax and liquid differ in hue far more reliably than in brightness: the
    liquid glows brightly over the bulb and cold wax is dark, so 2-means on raw
    RGB splits bright from dark instead of wax from liquid.
    """
    x = pixels.astype(np.float32)
    total = x.sum(-1, keepdims=True)
    return np.concatenate([x / (total + DARK_OFFSET), BRIGHTNESS_WEIGHT * total / 765.0], -1)


@dataclass
class WaxSegmenter:
    """Wax versus liquid by colour: the two 2-means centres and where the lamp moves."""

    liquid: np.ndarray   # (3,) float32 mean RGB of the majority cluster
    wax: np.ndarray      # (3,) float32 mean RGB of the minority cluster
    active: np.ndarray   # bool (H,W): pixels that ever changed in the fit frames
    centres: np.ndarray  # (2,4) float32 cluster centres in colour_space: liquid, wax

    @classmethod
    def fit(cls, frames, seed: int = 0) -> "WaxSegmenter":
        frames = check_frames(frames)
        pick = np.unique(np.linspace(0, len(frames) - 1, min(FIT_FRAMES, len(frames))).astype(int))
        sample = np.asarray(frames[pick])                       # (n,H,W,3)
        # Only pixels that ever change: the glass, cap and background never hold wax,
        # and including them would let a static colour win a cluster.
        spread = (sample.max(0).astype(np.int16) - sample.min(0)).sum(-1)   # (H,W)
        threshold = max(12.0, 0.25 * float(np.percentile(spread, 99)))
        active = spread > threshold
        if not active.any():
            raise MetricsError("the frames never change, so there is no wax to find.")
        pixels = sample[:, active].reshape(-1, 3)
        rng = np.random.default_rng(seed)
        if len(pixels) > FIT_PIXELS:
            pixels = pixels[rng.choice(len(pixels), FIT_PIXELS, replace=False)]
        x = colour_space(pixels)
        centres = _two_means(x)
        assign = _nearest(x, centres)
        wax_i = int(np.bincount(assign, minlength=2).argmin())
        rgb = [pixels[assign == k].astype(np.float32).mean(0) for k in (1 - wax_i, wax_i)]
        return cls(liquid=rgb[0], wax=rgb[1], active=active,
                   centres=centres[[1 - wax_i, wax_i]].astype(np.float32))

    def _axis(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each active pixel's place on the liquid (0) -> wax (1) axis, and its distance off it: (N, A) each."""
        d = self.centres[1] - self.centres[0]
        x = colour_space(frames[:, self.active]) - self.centres[0]     # (N,A,4)
        t = x @ (d / float(d @ d))
        off = np.linalg.norm(x - t[..., None] * d, axis=-1)
        return t, off

    def off_line(self, frames) -> np.ndarray:
        """Each active pixel's distance off the liquid -> wax axis (in the colour space): (N, A)."""
        return self._axis(self._check(frames))[1]

    def _check(self, frames) -> np.ndarray:
        frames = check_frames(frames)
        if frames.shape[1:3] != self.active.shape:
            raise MetricsError(
                f"frames are {frames.shape[1]}x{frames.shape[2]} but the wax was "
                f"fitted on {self.active.shape[0]}x{self.active.shape[1]} frames.")
        return frames

    def mask(self, frames) -> np.ndarray:
        """Wax mask, bool (N,H,W): active pixels nearer the wax centre than the liquid's."""
        frames = self._check(frames)
        out = np.zeros(frames.shape[:3], bool)
        for s in range(0, len(frames), CHUNK):
            block = np.asarray(frames[s:s + CHUNK])
            out[s:s + CHUNK, self.active] = self._axis(block)[0] > 0.5
        return out

    def swap_colours(self, frames) -> np.ndarray:
        """The same frames with wax and liquid colours exchanged (a point reflection
        through the midpoint of the two mean colours, inside the moving region)."""
        frames = self._check(frames)
        out = np.array(frames)
        x = out[:, self.active].astype(np.float32)
        out[:, self.active] = np.clip(self.wax + self.liquid - x, 0, 255).round().astype(np.uint8)
        return out


def _two_means(x: np.ndarray, iters: int = 40) -> np.ndarray:
    """2-means on (P,3) colours, started at the ends of the main colour axis."""
    mean = x.mean(0)
    _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
    t = (x - mean) @ vt[0]
    lo, hi = np.percentile(t, [5, 95])
    centres = np.stack([mean + lo * vt[0], mean + hi * vt[0]]).astype(np.float32)
    for _ in range(iters):
        assign = _nearest(x, centres)
        new = centres.copy()
        for k in (0, 1):
            if (assign == k).any():
                new[k] = x[assign == k].mean(0)
        if np.allclose(new, centres, atol=1e-3):
            break
        centres = new
    if np.linalg.norm(centres[0] - centres[1]) < 1e-3:
        raise MetricsError("the changing pixels have a single colour, so wax and liquid cannot be told apart.")
    return centres


def _nearest(x: np.ndarray, centres: np.ndarray) -> np.ndarray:
    d = ((x[:, None, :] - centres[None]) ** 2).sum(-1)   # (P,2)
    return d.argmin(1)


def label_blobs(mask: np.ndarray):
    """Blobs (4-connected) in each frame of a bool (N,H,W) mask.

    Returns (frame, size): for every blob the frame it lies in and its pixel
    count. Vectorised union-find: hook each edge's larger root onto the smaller,
    then pointer-jump to roots; a few rounds settle even long, stringy blobs.
    """
    n, h, w = mask.shape
    # One background column and row after each frame stop neighbours wrapping
    # across rows or into the next frame.
    padded = np.zeros((n, h + 1, w + 1), bool)
    padded[:, :h, :w] = mask
    flat = padded.ravel()
    pos = np.flatnonzero(flat)                          # (P,) wax pixel positions
    if len(pos) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    index = np.full(flat.shape, -1, np.int64)
    index[pos] = np.arange(len(pos))
    edges = []
    for step in (1, w + 1):                             # right and down neighbours
        nb = pos + step
        ok = nb < len(flat)
        ok[ok] = flat[nb[ok]]
        edges.append((index[pos[ok]], index[nb[ok]]))
    u = np.concatenate([e[0] for e in edges])
    v = np.concatenate([e[1] for e in edges])
    root = np.arange(len(pos))
    while len(u):
        ru, rv = root[u], root[v]
        low = np.minimum(ru, rv)
        np.minimum.at(root, ru, low)
        np.minimum.at(root, rv, low)
        while True:                                      # pointer jumping to the root
            jumped = root[root]
            if np.array_equal(jumped, root):
                break
            root = jumped
        keep = root[u] != root[v]
        u, v = u[keep], v[keep]
    roots, sizes = np.unique(root, return_counts=True)
    frame = pos[roots] // ((h + 1) * (w + 1))
    return frame, sizes


def frame_features(frames, segmenter: WaxSegmenter) -> np.ndarray:
    """Per-frame features (N, F), columns named by FRAME_FEATURES."""
    frames = segmenter._check(frames)
    return np.concatenate([_frame_block(np.asarray(frames[s:s + CHUNK]), segmenter)
                           for s in range(0, len(frames), CHUNK)])


def _frame_block(frames: np.ndarray, seg: WaxSegmenter) -> np.ndarray:
    n, h, w, _ = frames.shape
    axis, off_axis = seg._axis(frames)                   # (n,A) each
    m = np.zeros((n, h, w), bool)
    m[:, seg.active] = axis > 0.5
    area = m.sum((1, 2)).astype(np.float64)              # (n,)
    safe = np.maximum(area, 1.0)
    coverage = area / (h * w)

    rows = m.sum(2).astype(np.float64)                   # (n,h) wax per image row
    bands = np.array_split(np.arange(h), PROFILE_BANDS)
    profile = np.stack([rows[:, b].sum(1) for b in bands], 1) / safe[:, None]
    height = 1.0 - (np.arange(h) + 0.5) / h              # 1 at the top row
    centroid = np.where(area > 0, rows @ height / safe, 0.5)
    spread = np.sqrt(np.maximum(rows @ height**2 / safe - centroid**2, 0.0))

    frame_of, sizes = label_blobs(m)
    count = np.bincount(frame_of, minlength=n).astype(np.float64)
    largest = np.zeros(n)
    np.maximum.at(largest, frame_of, sizes.astype(np.float64))
    log_size = np.bincount(frame_of, weights=np.log(sizes), minlength=n) / np.maximum(count, 1)

    perimeter = _perimeter(m)
    per_area = perimeter / safe

    bins = np.searchsorted(COLOUR_EDGES, axis)            # (n,A) bin of each pixel
    hist = (bins[..., None] == np.arange(len(COLOUR_EDGES) + 1)).mean(1)
    off = off_axis.mean(1)

    return np.column_stack([coverage, profile, centroid, spread, count, largest / safe,
                            log_size, per_area, hist, off])


def _perimeter(m: np.ndarray) -> np.ndarray:
    """Wax pixel edges that face liquid or the frame border, per frame of (..., H, W)."""
    pad = np.pad(m, [(0, 0)] * (m.ndim - 2) + [(1, 1), (1, 1)])
    inner = pad[..., 1:-1, 1:-1]
    return sum((inner & ~np.roll(pad, s, a)[..., 1:-1, 1:-1]).sum((-2, -1))
               for s in (1, -1) for a in (-2, -1))


def clip_features(clips, segmenter: WaxSegmenter) -> np.ndarray:
    """Per-clip motion features (C, G) for clips (C,T,H,W,3), columns named by CLIP_FEATURES."""
    clips = np.asarray(clips)
    if clips.ndim != 5 or clips.shape[1] < 2:
        raise MetricsError(f"clips must have shape (C, T>=2, H, W, 3), got shape {clips.shape}.")
    per_block = max(1, CHUNK // clips.shape[1])
    return np.concatenate([_clip_block(np.asarray(clips[s:s + per_block]), segmenter)
                           for s in range(0, len(clips), per_block)])


def _clip_block(clips: np.ndarray, segmenter: WaxSegmenter) -> np.ndarray:
    c, t, h, w, _ = clips.shape
    m = segmenter.mask(clips.reshape(c * t, h, w, 3)).reshape(c, t, h, w)
    x = clips.astype(np.float32) / 255.0
    lag1 = np.abs(np.diff(x, axis=1)).mean((1, 2, 3, 4))
    across = np.abs(x[:, -1] - x[:, 0]).mean((1, 2, 3))
    flips = (m[:, 1:] != m[:, :-1]).sum((2, 3))             # (c,t-1)
    change = flips.mean(1) / max(int(segmenter.active.sum()), 1)
    # Flipped pixels per unit of outline: how fast the wax surface moves, whatever
    # the amount of wax, so it tells a slow lamp from a lamp with little wax.
    boundary_speed = (flips / np.maximum(_perimeter(m[:, :-1]), 1)).mean(1)

    # Continuity: the change of wax below a row boundary is the flux through it.
    rows = m.sum(3).astype(np.float64)                    # (c,t,h)
    below = np.cumsum(rows[:, :, ::-1], axis=2)[:, :, :-1]  # wax under each boundary
    flux = np.abs(np.diff(below, axis=1)) / w               # (c,t-1,h-1) rows of wax per tick
    height = 1.0 - (np.arange(h) + 0.5) / h
    cols = m.sum(2).astype(np.float64)                      # (c,t,w)
    area = rows.sum(2)
    safe = np.maximum(area, 1.0)
    cy = np.where(area > 0, rows @ height / safe, 0.5)
    cx = np.where(area > 0, cols @ ((np.arange(w) + 0.5) / w) / safe, 0.5)
    return np.column_stack([
        lag1, across, change, boundary_speed, flux.mean((1, 2)), flux[:, :, (h - 1) // 2].mean(1),
        np.abs(np.diff(cy, axis=1)).mean(1), np.abs(np.diff(cx, axis=1)).mean(1),
    ])
