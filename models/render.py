"""Pictures of lamps: palettes and a renderer that draws any state at any size.

The lamp stands centred in a square frame as if filmed: a metal base with the
bulb inside, a tapered glass, a metal cap, a dark room lit by the lamp. The wax
field is upsampled smoothly (cubic, separable) and its edge is a sigmoid whose
steepness follows the pixel size, so a 64 px frame and an area-downsampled
512 px frame of the same state agree. Wax is lit by the bulb below, glows
where it is hot and is shaded by how deep inside a blob a pixel lies (a blur
of the wax field), so blobs read as rounded; the liquid glows most over the
bulb; the glass carries faint reflections of the room. Everything that does
not depend on the state is computed once per size and palette.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np


class RenderError(ValueError):
    """A bad render request, with one sentence saying what is wrong."""


@dataclass(frozen=True)
class Palette:
    """Colours of one lamp (linear-ish RGB in 0..1)."""

    wax: tuple[float, float, float]
    wax_hot: tuple[float, float, float]     # wax over the bulb / hot wax
    liquid: tuple[float, float, float]
    glow: tuple[float, float, float]        # the liquid right over the bulb
    metal: tuple[float, float, float]
    room: tuple[float, float, float]


PALETTES: dict[str, Palette] = {
    "classic": Palette(wax=(0.95, 0.42, 0.08), wax_hot=(1.0, 0.78, 0.25),
                       liquid=(0.30, 0.08, 0.40), glow=(0.78, 0.30, 0.62),
                       metal=(0.62, 0.60, 0.58), room=(0.05, 0.03, 0.07)),
    "ocean": Palette(wax=(0.35, 0.85, 0.30), wax_hot=(0.85, 1.0, 0.45),
                     liquid=(0.04, 0.14, 0.42), glow=(0.20, 0.55, 0.90),
                     metal=(0.55, 0.58, 0.62), room=(0.02, 0.03, 0.06)),
    "sunset": Palette(wax=(0.85, 0.08, 0.10), wax_hot=(1.0, 0.45, 0.20),
                      liquid=(0.85, 0.62, 0.10), glow=(1.0, 0.92, 0.45),
                      metal=(0.20, 0.18, 0.18), room=(0.06, 0.04, 0.02)),
    "arctic": Palette(wax=(0.88, 0.90, 0.96), wax_hot=(1.0, 1.0, 1.0),
                      liquid=(0.10, 0.28, 0.45), glow=(0.45, 0.75, 0.95),
                      metal=(0.75, 0.77, 0.80), room=(0.03, 0.04, 0.05)),
}


def palette(name: str) -> Palette:
    if name not in PALETTES:
        raise RenderError(f"unknown palette {name!r}; choose one of {', '.join(sorted(PALETTES))}.")
    return PALETTES[name]


# Where the lamp stands in the frame, as shares of the frame height (from the bottom).
GLASS_BOTTOM = 0.16
GLASS_TOP = 0.87
CAP_TOP = 0.975


def _cubic_matrix(n_out: int, n_cells: int, start: float, cell: float) -> np.ndarray:
    """(n_out, n_cells) Catmull-Rom weights sampling a cell field at pixel centres.

    Pixel i's centre sits at ``start + (i + 0.5)`` px; cell j spans ``cell`` px.
    Samples outside the field clamp to the edge cells.
    """
    pos = ((np.arange(n_out) + 0.5) - start) / cell - 0.5       # in cell-centre units
    base = np.floor(pos).astype(int)
    f = pos - base
    w = np.stack([((-0.5 * f + 1.0) * f - 0.5) * f,
                  (1.5 * f - 2.5) * f * f + 1.0,
                  ((-1.5 * f + 2.0) * f + 0.5) * f,
                  (0.5 * f - 0.5) * f * f], axis=1)
    m = np.zeros((n_out, n_cells))
    for k in range(4):
        np.add.at(m, (np.arange(n_out), np.clip(base - 1 + k, 0, n_cells - 1)), w[:, k])
    return m


def _blur(n: int, sigma: float) -> np.ndarray:
    """(n, n) Gaussian blur along one axis, each row summing to one."""
    i = np.arange(n)
    b = np.exp(-0.5 * ((i[:, None] - i[None, :]) / sigma) ** 2)
    return b / b.sum(axis=1, keepdims=True)


@dataclass
class _Geometry:
    """Everything about a frame that does not depend on the lamp's state."""

    box: tuple[slice, slice]  # rows and columns of the frame the glass covers
    rows: np.ndarray          # (H, ny) image rows in the box (top first) <- cell rows
    cols_t: np.ndarray        # (nx, W) cell columns -> image columns in the box
    rows_blur: np.ndarray     # the same, through a blur of a blob's radius:
    cols_t_blur: np.ndarray   #   how deep inside the wax a pixel is (its shading)
    front: np.ndarray         # (H, W, 3) room and metal around the glass, and its sheen
    steep: float              # sigmoid steepness of the wax edge at this pixel size
    glass: np.ndarray         # (S, S) anti-aliased glass coverage
    backdrop: np.ndarray      # (S, S, 3) room, base and cap, zero inside the glass
    liquid: np.ndarray        # (S, S, 3) lit liquid times glass coverage
    wax_light: np.ndarray     # (S, S) bulb light on wax, times glass coverage
    heat_light: np.ndarray    # (S, 1) how much hot wax glows at each height
    wax: np.ndarray           # (3,) cool wax colour
    wax_shift: np.ndarray     # (3,) hot minus cool wax colour
    backdrop_u8: np.ndarray   # (S, S, 3) the backdrop as it is shown


def _coverage(signed_px: np.ndarray) -> np.ndarray:
    """Anti-aliased coverage from a signed distance in pixels (inside > 0)."""
    return np.clip(signed_px + 0.5, 0.0, 1.0)


def glass_coverage(size: int, nx: int, ny: int, glass_top: float) -> np.ndarray:
    """(size, size) float32 anti-aliased share of each pixel inside the glass."""
    return _geometry(int(size), nx, ny, float(glass_top), "classic").glass


@functools.lru_cache(maxsize=16)
def _geometry(size: int, nx: int, ny: int, glass_top: float, pal: Palette | str) -> _Geometry:
    s = float(size)
    pal = palette(pal) if isinstance(pal, str) else pal
    cell = (GLASS_TOP - GLASS_BOTTOM) * s / ny                   # px per cell
    half_bottom = 0.5 * nx * cell
    cx = 0.5 * s
    x = np.arange(size) + 0.5                                    # px, left to right
    yb = s - (np.arange(size) + 0.5)                              # px up from the frame bottom
    y0, y1 = GLASS_BOTTOM * s, GLASS_TOP * s
    h = ((yb - y0) / (y1 - y0))[:, None]                          # (S, 1)
    half = half_bottom * (1.0 - (1.0 - glass_top) * np.clip(h, 0, 1))
    dx = np.abs(x[None, :] - cx)
    glass = _coverage(np.minimum(half - dx, np.minimum(yb[:, None] - y0, y1 - yb[:, None])))

    # The room: dark, warmed around the lamp by its glow.
    r2 = ((x[None, :] - cx) / (0.45 * s)) ** 2 + ((yb[:, None] - 0.45 * s) / (0.6 * s)) ** 2
    room = np.asarray(pal.room) + 0.22 * np.asarray(pal.glow) * np.exp(-2.0 * r2)[..., None]
    img = np.broadcast_to(room, (size, size, 3)).copy()

    def metal_part(bot: float, top: float, w_bot: float, w_top: float, lit_from_top: bool):
        t = np.clip((yb[:, None] - bot) / (top - bot), 0, 1)
        w = w_bot + (w_top - w_bot) * t
        inside = _coverage(np.minimum(w - dx, np.minimum(yb[:, None] - bot, top - yb[:, None])))
        u = np.clip((x[None, :] - cx) / np.maximum(w, 1e-6), -1, 1)
        # A polished cone: bright band left of centre, dark rims.
        shade = 0.35 + 0.65 * np.exp(-((u + 0.35) / 0.35) ** 2) + 0.15 * (1 - u * u)
        glow = np.exp(-4.0 * (t if lit_from_top else 1 - t))
        col = np.asarray(pal.metal) * shade[..., None] * 0.7 + 0.35 * np.asarray(pal.glow) * glow[..., None]
        return inside[..., None], col

    base_cov, base_col = metal_part(0.0, y0 + 0.5, 1.45 * half_bottom, 1.02 * half_bottom, True)
    top_half = half_bottom * glass_top
    cap_cov, cap_col = metal_part(y1 - 0.5, CAP_TOP * s, 1.04 * top_half, 0.55 * top_half, False)
    img = img * (1 - base_cov) + base_col * base_cov
    img = img * (1 - cap_cov) + cap_col * cap_cov

    # Image rows run top-down; cell rows run bottom-up from the glass bottom.
    rows = _cubic_matrix(size, ny, s - y1, cell)[:, ::-1]
    cols = _cubic_matrix(size, nx, cx - half_bottom, cell)
    across = np.clip((x[None, :] - cx) / np.maximum(half, 1e-6), -1, 1)
    hc = np.clip(h, 0.0, 1.0)
    bulb = np.exp(-hc / 0.22)                                    # light from the bulb below
    centre = 1.0 - 0.45 * across ** 2                            # brightest on the lamp's axis
    liquid = (np.asarray(pal.liquid) * (0.55 + 0.25 * centre)[..., None]
              + np.asarray(pal.glow) * (0.85 * bulb * centre ** 2)[..., None])
    g = glass[..., None]
    f32 = np.float32
    # Only the glass changes from frame to frame: work inside its bounding box.
    r_any, c_any = np.nonzero(glass.any(axis=1))[0], np.nonzero(glass.any(axis=0))[0]
    box = (slice(r_any[0], r_any[-1] + 1), slice(c_any[0], c_any[-1] + 1))
    wax_light = (0.85 + 0.6 * bulb) * (1.0 - 0.3 * across ** 2) * glass
    # Reflections of the room on the curved glass, in front of wax and liquid.
    sheen = (0.10 * np.exp(-((across + 0.55) / 0.10) ** 2)
             + 0.05 * np.exp(-((across - 0.72) / 0.06) ** 2)) * (1.0 - 0.5 * hc)
    front = img * (1.0 - g) + (sheen * glass)[..., None]
    return _Geometry(box=box,
                     rows=np.ascontiguousarray(rows[box[0]], f32),
                     cols_t=np.ascontiguousarray(cols[box[1]].T, f32),
                     rows_blur=np.ascontiguousarray(rows[box[0]] @ _blur(ny, 1.6), f32),
                     cols_t_blur=np.ascontiguousarray((cols[box[1]] @ _blur(nx, 1.6)).T, f32),
                     front=front[box].astype(f32),
                     steep=8.0 * cell, glass=glass.astype(f32),
                     backdrop=(img * (1.0 - g)).astype(f32),
                     liquid=(liquid * g)[box].astype(f32),
                     wax_light=wax_light[box].astype(f32),
                     heat_light=(0.35 + 0.65 * bulb)[box[0]].astype(f32),
                     wax=np.asarray(pal.wax, f32),
                     wax_shift=np.asarray(pal.wax_hot, f32) - np.asarray(pal.wax, f32),
                     backdrop_u8=(np.clip(img * (1.0 - g), 0, 1) * 255.0 + 0.5).astype(np.uint8))


def _upsample(field: np.ndarray, rows: np.ndarray, cols_t: np.ndarray) -> np.ndarray:
    """(ny, n, nx) cell field -> (n, H, W) image field."""
    ny, n, nx = field.shape
    a = rows @ field.astype(np.float32).reshape(ny, n * nx)              # (H, n*nx)
    a = a.reshape(-1, nx) @ cols_t                                       # (H*n, W)
    return a.reshape(rows.shape[0], n, -1).transpose(1, 0, 2)


def render_lamps(phi: np.ndarray, temperature: np.ndarray, *, size: int = 64,
                 palette_name: str | Palette = "classic", glass_top: float = 0.55,
                 neutral_temperature: float = 0.5) -> np.ndarray:
    """uint8 (n, size, size, 3) pictures of lamps whose fields are (ny, n, nx).

    ``palette_name``: a name in :data:`PALETTES` or a :class:`Palette` of one's own.
    """
    if not isinstance(size, (int, np.integer)) or not 8 <= size <= 4096:
        raise RenderError(f"the frame size must be a whole number of pixels from 8 to 4096, not {size!r}.")
    pal = palette_name if isinstance(palette_name, Palette) else palette(palette_name)
    ny, n, nx = phi.shape
    geo = _geometry(int(size), nx, ny, float(glass_top), pal)
    f = _upsample(phi, geo.rows, geo.cols_t)                 # (n, H, W)
    t = _upsample(temperature, geo.rows, geo.cols_t)
    depth = _upsample(phi, geo.rows_blur, geo.cols_t_blur)   # ~1 deep in a big blob
    # A sigmoid via tanh (no overflow, one transcendental per pixel).
    alpha = 0.5 + 0.5 * np.tanh(0.5 * geo.steep * f)

    heat = np.clip((t - neutral_temperature + 0.35) * (1 / 0.7), 0.0, 1.0)
    # Wax: body shading (interior brighter, like a lit rounded blob), bulb light, heat.
    body = 0.5 + 0.6 * np.clip(0.5 + 0.5 * depth, 0.0, 1.0)
    lit = (body * geo.wax_light)[..., None]
    hot = (heat * geo.heat_light)[..., None]
    wax = lit * (geo.wax + hot * geo.wax_shift)
    a = alpha[..., None]
    inner = geo.liquid + a * (wax - geo.liquid)
    out = np.empty((n,) + geo.backdrop.shape, np.uint8)
    out[:] = geo.backdrop_u8
    box = (slice(None),) + geo.box
    out[box] = (np.clip(geo.front + inner, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return out
