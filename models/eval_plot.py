"""Pictures of an evaluation, drawn with numpy and Pillow only: stacked panels of lines over ticks, and
bars of how far each feature of a lamp lies off the simulator's.

Each panel shows one per-window figure across seeds (the spread as a shaded
band, the worst seed and the typical seed as lines) against its target band,
so a reader sees at a glance where a long run left the band, if anywhere.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

INK = (40, 40, 48)
GRID = (225, 225, 232)
BAND = (214, 238, 214)           # the target band
SPREAD = (250, 205, 160)         # min..max over seeds
TYPICAL = (200, 90, 20)          # median over seeds
WORST = (150, 30, 30)
OUT_OF_RANGE = (220, 0, 0)


@dataclass
class Panel:
    title: str
    x: np.ndarray                      # (W,) ticks
    lines: dict[str, np.ndarray]       # name -> (W,) values; "lo"/"hi" shade a spread
    band: tuple[float, float] | None = None
    y_range: tuple[float, float] | None = None
    log: bool = False                  # log10 y axis (values <= 0 are drawn at the bottom)
    colours: dict[str, tuple] = field(default_factory=dict)


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:                  # Pillow < 10.1 has one bitmap size only
        return ImageFont.load_default()


def _fmt(v: float) -> str:
    return f"{v:.3g}" if abs(v) >= 1e-3 or v == 0 else f"{v:.0e}"


def draw_panels(panels: list[Panel], title: str, width: int = 960, panel_height: int = 170) -> Image.Image:
    pad_l, pad_r, pad_t, pad_b, head = 70, 20, 24, 26, 34
    height = head + len(panels) * (panel_height + pad_t + pad_b)
    img = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(img)
    draw.text((pad_l, 8), title, fill=INK, font=_font(16))
    small = _font(12)
    for k, p in enumerate(panels):
        top = head + k * (panel_height + pad_t + pad_b) + pad_t
        left, right, bottom = pad_l, width - pad_r, top + panel_height
        x = np.asarray(p.x, np.float64)
        values = [np.asarray(v, np.float64) for v in p.lines.values()]
        finite = np.concatenate([v[np.isfinite(v)] for v in values] + [np.zeros(0)])
        if p.y_range is not None:
            lo, hi = p.y_range
        else:
            if p.log:
                # Zeros have no place on a log axis: span at most six decades under the largest value.
                finite = finite[finite > 0]
            lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (1e-6 if p.log else 0.0, 1.0)
            if p.band is not None:
                lo, hi = min(lo, p.band[0]), max(hi, p.band[1])
            if p.log:
                lo = max(lo, hi * 1e-6)
        tf = (lambda v: np.log10(np.maximum(v, 1e-30))) if p.log else (lambda v: v)
        y0, y1 = float(tf(np.float64(lo))), float(tf(np.float64(hi)))
        if not y1 > y0:
            y0, y1 = y0 - 0.5, y1 + 0.5
        x0, x1 = (float(x.min()), float(x.max())) if x.size else (0.0, 1.0)
        x1 = x1 if x1 > x0 else x0 + 1

        def px(xv):
            return left + (np.asarray(xv, np.float64) - x0) / (x1 - x0) * (right - left)

        def py(yv):
            t = (tf(np.asarray(yv, np.float64)) - y0) / (y1 - y0)
            return bottom - np.clip(t, 0.0, 1.0) * (bottom - top)

        draw.rectangle([left, top, right, bottom], outline=GRID)
        if p.band is not None:
            draw.rectangle([left, py(p.band[1]), right, py(p.band[0])], fill=BAND)
        for frac in (0.0, 0.5, 1.0):
            yv = y0 + frac * (y1 - y0)
            label = 10 ** yv if p.log else yv
            yy = bottom - frac * (bottom - top)
            draw.line([left, yy, right, yy], fill=GRID)
            draw.text((4, yy - 7), _fmt(label), fill=INK, font=small)
        for frac in (0.0, 0.5, 1.0):
            xv = x0 + frac * (x1 - x0)
            label = f"{xv:,.0f}"
            # Left, centre and right aligned, so the end labels stay inside the picture.
            draw.text((px(xv) - frac * draw.textlength(label, font=small), bottom + 6), label, fill=INK, font=small)
        draw.text((left + 4, top - 18), p.title, fill=INK, font=_font(13))
        if "lo" in p.lines and "hi" in p.lines and x.size > 1:
            lo_y, hi_y = py(p.lines["lo"]), py(p.lines["hi"])
            ok = np.isfinite(p.lines["lo"]) & np.isfinite(p.lines["hi"])
            poly = [(float(a), float(b)) for a, b in zip(px(x)[ok], hi_y[ok])]
            poly += [(float(a), float(b)) for a, b in zip(px(x)[ok][::-1], lo_y[ok][::-1])]
            if len(poly) >= 3:
                draw.polygon(poly, fill=SPREAD)
        legend_x = right - 10
        for name, v in p.lines.items():
            if name in ("lo", "hi"):
                continue
            colour = p.colours.get(name, TYPICAL)
            v = np.asarray(v, np.float64)
            pts = [(float(a), float(b)) for a, b, ok in zip(px(x), py(v), np.isfinite(v)) if ok]
            if len(pts) > 1:
                draw.line(pts, fill=colour, width=2)
            elif pts:
                draw.ellipse([pts[0][0] - 2, pts[0][1] - 2, pts[0][0] + 2, pts[0][1] + 2], fill=colour)
            # Values past the top, and NaN windows, are marked in red along the top edge; below, the bottom.
            with np.errstate(all="ignore"):
                over = ~np.isfinite(v) | (tf(v) > y1)
                under = np.isfinite(v) & (tf(v) < y0)
            for xx in px(x)[over]:
                draw.line([xx, top, xx, top + 6], fill=OUT_OF_RANGE, width=2)
            for xx in px(x)[under]:
                draw.line([xx, bottom - 6, xx, bottom], fill=OUT_OF_RANGE, width=2)
            tw = draw.textlength(name, font=small)
            legend_x -= tw + 24
            draw.line([legend_x, top - 10, legend_x + 14, top - 10], fill=colour, width=2)
            draw.text((legend_x + 18, top - 17), name, fill=INK, font=small)
    return img


def save_png(img: Image.Image, path) -> Path:
    """Write a PNG beside ``path`` and rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        img.save(tmp, format="PNG")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


OFFSET_COLOURS = ((200, 90, 20), (60, 100, 180), (110, 150, 60))   # one per series: start, later, ...
NAME_WIDTH = 170                  # pixels for the feature names left of the bars


def draw_offsets(groups: list[tuple[str, list[str], dict[str, list[float]]]], title: str,
                 width: int = 760) -> Image.Image:
    """Horizontal bars of each feature's offset, one group of rows per (heading, feature names,
    {series: offsets}); zero in the middle, the scale the largest offset (at least 1 sd, at most
    3, larger ones marked in red at the edge)."""
    bar_h, head, group_head, pad = 7, 54, 26, 10
    series_n = max((len(s) for _, _, s in groups), default=1)
    row_h = series_n * bar_h + 6
    height = head + sum(group_head + len(names) * row_h + pad for _, names, _ in groups) + 24
    img = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(img)
    small = _font(12)
    draw.text((10, 8), title, fill=INK, font=_font(16))
    biggest = max((abs(v) for _, _, s in groups for vals in s.values() for v in vals if np.isfinite(v)),
                  default=1.0)
    scale = float(min(max(1.0, np.ceil(biggest * 2) / 2), 3.0))
    left, right = NAME_WIDTH, width - 20
    mid = (left + right) / 2

    def px(v: float) -> float:
        return mid + np.clip(v / scale, -1.0, 1.0) * (right - left) / 2

    legend_x = left
    for k, label in enumerate(next((list(s) for _, _, s in groups if s), [])):
        draw.rectangle([legend_x, 35, legend_x + 14, 35 + bar_h], fill=OFFSET_COLOURS[k % len(OFFSET_COLOURS)])
        draw.text((legend_x + 18, 32), label, fill=INK, font=small)
        legend_x += draw.textlength(label, font=small) + 40
    top = head
    for heading, names, series in groups:
        draw.text((10, top + 6), heading, fill=INK, font=_font(13))
        top += group_head
        bottom = top + len(names) * row_h
        for tick in np.arange(-scale, scale + 0.25, 0.5):
            draw.line([px(tick), top, px(tick), bottom], fill=INK if tick == 0 else GRID)
        for i, name in enumerate(names):
            y = top + i * row_h + 3
            draw.text((10, y), name, fill=INK, font=small)
            for k, values in enumerate(series.values()):
                v = float(values[i])
                yy = y + k * bar_h
                if not np.isfinite(v):
                    continue
                draw.rectangle([min(mid, px(v)), yy, max(mid, px(v)), yy + bar_h - 2],
                               fill=OFFSET_COLOURS[k % len(OFFSET_COLOURS)])
                if abs(v) > scale:
                    edge = px(v)
                    draw.line([edge, yy - 1, edge, yy + bar_h], fill=OUT_OF_RANGE, width=3)
        top = bottom + pad
    for tick in (-scale, 0.0, scale):
        label = f"{tick:+g} sd" if tick else "0"
        draw.text((px(tick) - draw.textlength(label, font=small) * (0.5 + tick / scale / 2), top), label,
                  fill=INK, font=small)
    return img
