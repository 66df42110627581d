"""Motion-compensated interpolation: estimate how the wax moved between two ticks, then warp.

A crossfade between two tick frames shows a blob fading out in one place and in
at the next; the lamp's real in-betweens show it *moving*. Here the motion
between the two 64x64 tick frames is estimated once per tick on the CPU
(coarse-to-fine Lucas-Kanade on the colour frames, a few milliseconds in numpy,
fine for the engine thread), uploaded as a small float texture, and the
``interp_motion`` pass warps both frames towards the in-between time and blends
them, at the frame's size, every displayed frame.

Orientation: frames, flow and the output texture keep the engine's rows
(top-first), so the output can stand in for a ring frame in front of the
viewer's ``interpolate`` pass, which flips and applies the look.
"""
from __future__ import annotations

from dataclasses import dataclass

import moderngl
import numpy as np

from duralava import shaders

PROGRAM = "interp_motion"            # flow-warped: needs the flow texture
EDGE_PROGRAM = "interp_motion_edge"  # moves wax edges through the logit of the wax share; no flow


@dataclass
class FlowConfig:
    # Measured on simulator ticks at the training stride, where wax moves under ~1.2
    # texels a tick: one level and a tight window fit best (a pyramid blurs the edges
    # that carry the motion). Raise ``levels`` for slower tick rates.
    levels: int = 1             # pyramid levels (64, 32, 16, ...)
    iterations: int = 3         # warps per level
    window: float = 1.0         # Gaussian sigma (texels) of the window a flow vector fits
    damping: float = 1e-3       # pulls flow to 0 where there is no texture (flat liquid)


def _gauss1d(sigma: float) -> np.ndarray:
    r = max(1, int(round(2.5 * sigma)))
    x = np.arange(-r, r + 1, dtype=np.float64)
    k = np.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def _smooth(img: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Separable filtering of (H, W, ...) with edge replication; keeps the shape."""
    r = len(k) // 2
    pad = [(r, r), (0, 0)] + [(0, 0)] * (img.ndim - 2)
    v = np.lib.stride_tricks.sliding_window_view(np.pad(img, pad, mode="edge"), len(k), axis=0) @ k
    pad = [(0, 0), (r, r)] + [(0, 0)] * (img.ndim - 2)
    return np.lib.stride_tricks.sliding_window_view(np.pad(v, pad, mode="edge"), len(k), axis=1) @ k


def _sample(img: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Bilinear lookup of (H, W, C) at float pixel coordinates, clamped at the edges."""
    h, w = img.shape[:2]
    x = np.clip(x, 0, w - 1)
    y = np.clip(y, 0, h - 1)
    x0 = np.minimum(np.floor(x).astype(int), w - 2)
    y0 = np.minimum(np.floor(y).astype(int), h - 2)
    fx = (x - x0)[..., None]
    fy = (y - y0)[..., None]
    top = img[y0, x0] * (1 - fx) + img[y0, x0 + 1] * fx
    bot = img[y0 + 1, x0] * (1 - fx) + img[y0 + 1, x0 + 1] * fx
    return top * (1 - fy) + bot * fy


def _down(img: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    return img[: h // 2 * 2, : w // 2 * 2].reshape(h // 2, 2, w // 2, 2, *img.shape[2:]).mean(axis=(1, 3))


def estimate_flow(frame_a: np.ndarray, frame_b: np.ndarray, config: FlowConfig | None = None) -> np.ndarray:
    """Motion from ``frame_a`` to ``frame_b``: float32 (H, W, 2) of (dx, dy) in texels, rows top-first.

    ``frame_a(x) ~ frame_b(x + flow(x))``. Both frames are uint8 (H, W, 3) of one size.
    """
    cfg = config or FlowConfig()
    a = np.asarray(frame_a)
    b = np.asarray(frame_b)
    if a.shape != b.shape or a.ndim != 3 or a.dtype != np.uint8 or b.dtype != np.uint8:
        raise ValueError(f"two uint8 (H, W, 3) frames of one size are needed, got {a.dtype} {a.shape} and {b.dtype} {b.shape}")
    pyr = [(a.astype(np.float64) / 255.0, b.astype(np.float64) / 255.0)]
    for _ in range(cfg.levels - 1):
        if min(pyr[-1][0].shape[:2]) < 8:
            break
        pyr.append((_down(pyr[-1][0]), _down(pyr[-1][1])))
    k = _gauss1d(cfg.window)
    flow = np.zeros((*pyr[-1][0].shape[:2], 2))
    for level, (i0, i1) in enumerate(reversed(pyr)):
        h, w = i0.shape[:2]
        if flow.shape[:2] != (h, w):
            # Up one level: twice the size, twice the displacement.
            flow = 2.0 * np.repeat(np.repeat(flow, 2, axis=0), 2, axis=1)[:h, :w]
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
        for _ in range(cfg.iterations):
            warped = _sample(i1, xx + flow[..., 0], yy + flow[..., 1])       # (H, W, C)
            mean = 0.5 * (i0 + warped)
            gx = np.gradient(mean, axis=1)
            gy = np.gradient(mean, axis=0)
            gt = warped - i0
            # Structure tensor and mismatch, summed over colour channels, in the window.
            sums = _smooth(np.stack([(gx * gx).sum(-1), (gx * gy).sum(-1), (gy * gy).sum(-1),
                                     (gx * gt).sum(-1), (gy * gt).sum(-1)], axis=-1), k)
            sxx, sxy, syy, sxt, syt = np.moveaxis(sums, -1, 0)
            sxx = sxx + cfg.damping
            syy = syy + cfg.damping
            det = sxx * syy - sxy * sxy
            du = (-syy * sxt + sxy * syt) / det
            dv = (sxy * sxt - sxx * syt) / det
            flow[..., 0] += np.clip(du, -1.0, 1.0)
            flow[..., 1] += np.clip(dv, -1.0, 1.0)
    return flow.astype(np.float32)


class MotionInterpolator:
    """Flow-warped in-betweens of two tick frames on the GPU, at the frames' size.

    ``push(a, b)`` uploads a tick pair and its flow (once per tick);
    ``draw(t)`` renders the in-between at ``t`` in [0, 1] and returns the RGBA8
    texture. ``set_flow`` and ``warp`` serve a caller that keeps its own frame
    textures (the viewer's ring).
    """

    def __init__(self, ctx: moderngl.Context, config: FlowConfig | None = None, program: str = PROGRAM):
        self.ctx = ctx
        self.config = config or FlowConfig()
        self.program = program
        self.prog = ctx.program(**shaders.load(program))
        # A program without a flow input gets none estimated: it costs nothing per tick.
        self.uses_flow = "u_src2" in self.prog
        for i in range(3):
            if f"u_src{i}" in self.prog:
                self.prog[f"u_src{i}"].value = i
        self.vao = ctx.vertex_array(self.prog, [])
        self._size = None
        self._frames: list[moderngl.Texture] = []
        self.flow_tex = None
        self.out_tex = None
        self.fbo = None

    def _ensure(self, size: tuple[int, int]) -> None:
        if self._size == size:
            return
        self.release_textures()
        self._frames = [self._texture(size, 3, "f1") for _ in range(2)]
        self.flow_tex = self._texture(size, 2, "f4")
        self.out_tex = self._texture(size, 4, "f1")
        self.fbo = self.ctx.framebuffer(color_attachments=[self.out_tex])
        self._size = size

    def _texture(self, size, components, dtype):
        tex = self.ctx.texture(size, components, dtype=dtype)
        tex.filter = (moderngl.LINEAR, moderngl.LINEAR)
        tex.repeat_x = tex.repeat_y = False
        return tex

    def set_flow(self, frame_a: np.ndarray, frame_b: np.ndarray) -> np.ndarray | None:
        """Estimate and upload the flow between two tick frames; returns it (H, W, 2), or None
        for a program that needs no flow."""
        a = np.asarray(frame_a)
        if a.ndim != 3 or a.shape[2] != 3 or a.dtype != np.uint8 or np.shape(frame_b) != a.shape:
            raise ValueError(f"two uint8 (H, W, 3) frames of one size are needed, got {a.dtype} {a.shape} "
                             f"and {np.shape(frame_b)}")
        self._ensure((a.shape[1], a.shape[0]))
        if not self.uses_flow:
            return None
        flow = estimate_flow(frame_a, frame_b, self.config)
        self.flow_tex.write(np.ascontiguousarray(flow).tobytes())
        return flow

    def push(self, frame_a: np.ndarray, frame_b: np.ndarray) -> np.ndarray | None:
        flow = self.set_flow(frame_a, frame_b)
        for tex, frame in zip(self._frames, (frame_a, frame_b)):
            tex.write(np.ascontiguousarray(frame).tobytes(), alignment=1)
        return flow

    def warp(self, tex_a: moderngl.Texture, tex_b: moderngl.Texture, t: float) -> moderngl.Texture:
        """The in-between at ``t`` of two frame textures (flow from the last ``set_flow``).

        Leaves its own framebuffer bound: bind the next pass's target before drawing.
        """
        if self.uses_flow and self._size != tex_a.size:
            raise RuntimeError("no flow for frames of this size yet: call set_flow (or push) with the two tick frames first")
        self._ensure(tex_a.size)
        tex_a.use(location=0)
        tex_b.use(location=1)
        self.flow_tex.use(location=2)
        self.prog["u_mix"].value = float(min(max(t, 0.0), 1.0))
        if "u_src_size" in self.prog:
            self.prog["u_src_size"].value = tuple(float(s) for s in self._size)
        self.fbo.use()
        self.fbo.viewport = (0, 0, *self._size)
        self.vao.render(moderngl.TRIANGLES, vertices=3)
        return self.out_tex

    def draw(self, t: float) -> moderngl.Texture:
        return self.warp(self._frames[0], self._frames[1], t)

    def release_textures(self) -> None:
        for obj in [*self._frames, self.flow_tex, self.out_tex, self.fbo]:
            if obj is not None:
                obj.release()
        self._frames, self.flow_tex, self.out_tex, self.fbo, self._size = [], None, None, None, None

    def release(self) -> None:
        self.release_textures()
        self.vao.release()
        self.prog.release()
