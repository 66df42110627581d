"""Picture scores against ground truth: PSNR, SSIM, wax-edge bands and flicker.

Every function takes frames as uint8 (H, W, 3) or float arrays in [0, 1] and
returns plain floats, so the upscaler and interpolator tables, the tests and
training all quote the same numbers. numpy only: these run beside the GL
harness and must not pull torch in.
"""
from __future__ import annotations

import numpy as np

# SSIM's usual constants (Wang et al. 2004) for images in [0, 1].
_C1 = 0.01 ** 2
_C2 = 0.03 ** 2


class ScoreError(ValueError):
    """Frames that cannot be compared (wrong shape, dtype or range)."""


def as_float(frame: np.ndarray) -> np.ndarray:
    """A frame as float64 in [0, 1]: uint8 is divided by 255, floats are kept."""
    a = np.asarray(frame)
    if a.dtype == np.uint8:
        return a.astype(np.float64) / 255.0
    if not np.issubdtype(a.dtype, np.floating):
        raise ScoreError(f"frames must be uint8 or float, not {a.dtype}")
    return a.astype(np.float64)


def _pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, b = as_float(a), as_float(b)
    if a.shape != b.shape:
        raise ScoreError(f"frames differ in shape: {a.shape} vs {b.shape}")
    if a.ndim != 3:
        raise ScoreError(f"frames must be (H, W, C), got shape {a.shape}")
    return a, b


def psnr(out: np.ndarray, truth: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Peak signal-to-noise ratio in dB over all pixels, or only where ``mask`` is true."""
    a, b = _pair(out, truth)
    err = (a - b) ** 2                                  # (H, W, C)
    if mask is not None:
        m = np.asarray(mask, bool)
        if m.shape != a.shape[:2]:
            raise ScoreError(f"mask shape {m.shape} does not match frame {a.shape[:2]}")
        if not m.any():
            raise ScoreError("the mask selects no pixels")
        err = err[m]
    mse = float(err.mean())
    # A perfect match would be infinite; cap it so tables and means stay finite.
    return 100.0 if mse <= 1e-10 else float(10.0 * np.log10(1.0 / mse))


def _gauss_kernel(sigma: float = 1.5, radius: int = 5) -> np.ndarray:
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    k = np.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def _blur(img: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Separable 'valid' filtering of (H, W, C) along H and W."""
    r = len(k)
    v = np.lib.stride_tricks.sliding_window_view(img, r, axis=0) @ k     # (H-r+1, W, C)
    return np.lib.stride_tricks.sliding_window_view(v, r, axis=1) @ k    # (H-r+1, W-r+1, C)


def ssim_map(out: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Per-pixel SSIM (Gaussian window, sigma 1.5), averaged over colour channels.

    The map is the frame size: border pixels the 11x11 window cannot cover take
    the value of the nearest covered one, so it lines up with edge masks.
    """
    a, b = _pair(out, truth)
    k = _gauss_kernel()
    mu_a, mu_b = _blur(a, k), _blur(b, k)
    saa = _blur(a * a, k) - mu_a ** 2
    sbb = _blur(b * b, k) - mu_b ** 2
    sab = _blur(a * b, k) - mu_a * mu_b
    num = (2 * mu_a * mu_b + _C1) * (2 * sab + _C2)
    den = (mu_a ** 2 + mu_b ** 2 + _C1) * (saa + sbb + _C2)
    m = (num / den).mean(axis=2)                         # (H-10, W-10)
    r = len(k) // 2
    return np.pad(m, r, mode="edge")                     # (H, W)


def ssim(out: np.ndarray, truth: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean SSIM over the frame, or over the pixels where ``mask`` is true."""
    m = ssim_map(out, truth)
    if mask is None:
        return float(m.mean())
    mask = np.asarray(mask, bool)
    if mask.shape != m.shape:
        raise ScoreError(f"mask shape {mask.shape} does not match frame {m.shape}")
    if not mask.any():
        raise ScoreError("the mask selects no pixels")
    return float(m[mask].mean())


def _dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """Square dilation by ``radius`` pixels (a max filter, separable)."""
    out = mask.copy()
    for axis in (0, 1):
        padded = np.pad(out, [(radius, radius) if a == axis else (0, 0) for a in (0, 1)])
        win = np.lib.stride_tricks.sliding_window_view(padded, 2 * radius + 1, axis=axis)
        out = win.any(axis=-1)
    return out


def edge_band(truth: np.ndarray, width: int | None = None, threshold: float = 0.08) -> np.ndarray:
    """Pixels near a wax edge in the ground truth: (H, W) bool.

    An edge is where the luminance changes by more than ``threshold`` between
    neighbours; the band grows it by ``width`` pixels each side (default: one
    64x64 source pixel at this size, at least 2), which is where upscalers
    differ and where the eye looks.
    """
    t = as_float(truth)
    if t.ndim != 3:
        raise ScoreError(f"frames must be (H, W, C), got shape {t.shape}")
    lum = t[..., :3] @ np.array([0.299, 0.587, 0.114])  # (H, W)
    edge = np.zeros(lum.shape, bool)
    dy = np.abs(np.diff(lum, axis=0)) > threshold
    dx = np.abs(np.diff(lum, axis=1)) > threshold
    edge[1:] |= dy
    edge[:-1] |= dy
    edge[:, 1:] |= dx
    edge[:, :-1] |= dx
    if width is None:
        width = max(2, lum.shape[0] // 64)
    return _dilate(edge, width) if width > 0 else edge


def flicker(outs: np.ndarray, truths: np.ndarray) -> float:
    """Temporal jitter of the error, in 1/255 units: mean |second time-difference| of (out - truth).

    A method that is right on the ticks and wrong in between (a crossfade's
    ghost that fades in and out every tick) pulses; a steady error, or the
    truth's own motion, does not count. ``outs`` and ``truths`` are (T, H, W, C).
    """
    a, b = as_float(outs), as_float(truths)
    if a.shape != b.shape or a.ndim != 4:
        raise ScoreError(f"sequences must both be (T, H, W, C), got {a.shape} and {b.shape}")
    if a.shape[0] < 3:
        raise ScoreError("flicker needs at least 3 frames")
    err = a - b                                          # (T, H, W, C)
    d2 = err[2:] - 2 * err[1:-1] + err[:-2]              # (T-2, H, W, C)
    return float(np.abs(d2).mean() * 255.0)


def frame_scores(out: np.ndarray, truth: np.ndarray, band: np.ndarray | None = None) -> dict[str, float]:
    """PSNR and SSIM on the whole frame and, given a band, on it: one SSIM map serves both."""
    m = ssim_map(out, truth)
    res = {"psnr": psnr(out, truth), "ssim": float(m.mean())}
    if band is not None:
        res["psnr_edge"] = psnr(out, truth, band)
        res["ssim_edge"] = float(m[np.asarray(band, bool)].mean()) if np.any(band) else float("nan")
    return res
