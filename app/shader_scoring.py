"""Runs the viewer's real upscale and interpolation passes headless (EGL) on given frames.

Scores are only as honest as the pictures they see, so this module pushes
frames through the viewer's own :class:`~duralava.app.renderer.Renderer` (the
same GLSL, the same textures and pass chain) in an offscreen EGL context and
hands back uint8 images, rows top-first. It also times an upscaler at a display
size with ``ctx.finish()``. Keep a process all-EGL: never open a GLX
(pyglet/Xvfb) context beside it.
"""
from __future__ import annotations

import time

import moderngl
import numpy as np

from . import neural_upscale
from .motion_interp import MotionInterpolator
from .renderer import UPSCALERS, Offscreen, Renderer, UpscalerSpec


class ShaderScoringError(RuntimeError):
    """A frame, program or context the harness cannot use; the message says why."""


_CTX: moderngl.Context | None = None


def context() -> moderngl.Context:
    """One headless EGL context per process, made on first use."""
    global _CTX
    if _CTX is None:
        try:
            _CTX = moderngl.create_standalone_context(backend="egl", require=330)
        except Exception as e:
            raise ShaderScoringError(f"no headless OpenGL 3.3 (EGL) context: {e}") from None
    return _CTX


def upscaler_names() -> list[str]:
    """Every upscaler the viewer offers, the neural one included when its passes are shipped."""
    neural_upscale.register(UPSCALERS)
    return list(UPSCALERS)


def add_upscaler(name: str, final: str, label: str = "") -> None:
    """Register a single-pass upscaler program (e.g. a deliberately poor one for a test)."""
    UPSCALERS.setdefault(name, UpscalerSpec(final, label=label or name))


def _check_frames(frames: np.ndarray) -> np.ndarray:
    f = np.asarray(frames)
    if f.ndim == 3:
        f = f[None]
    if f.dtype != np.uint8 or f.ndim != 4 or f.shape[-1] != 3 or f.shape[1] != f.shape[2]:
        raise ShaderScoringError(f"frames must be uint8 (N, S, S, 3), got {f.dtype} {f.shape}")
    return f


def _renderer(name: str, frame_size: int, interpolation: str = "none") -> Renderer:
    if name not in upscaler_names():
        raise ShaderScoringError(f"unknown upscaler {name!r}; known: {', '.join(UPSCALERS)}")
    return Renderer(context(), frame_size, upscaler=name, interpolation=interpolation)


def upscale(name: str, frames: np.ndarray, size: int) -> np.ndarray:
    """uint8 frames (N, s, s, 3) -> uint8 (N, size, size, 3) through the viewer's upscaler ``name``."""
    frames = _check_frames(frames)
    renderer = _renderer(name, frames.shape[1])
    target = Offscreen(context(), (size, size))
    out = np.empty((len(frames), size, size, 3), np.uint8)
    try:
        for i, frame in enumerate(frames):
            # interpolation "none": the newest frame is shown as it is.
            renderer.push(frame, now=float(i), duration=1.0)
            renderer.draw(target.fbo, now=float(i) + 1.0)
            out[i] = target.read()
    finally:
        target.release()
        renderer.release()
    return out


def _read_frame_texture(tex: moderngl.Texture, gl_oriented: bool = True) -> np.ndarray:
    """An RGBA8 texture -> uint8 (H, W, 3), rows top-first (flipped if it is GL-oriented)."""
    w, h = tex.size
    img = np.frombuffer(tex.read(alignment=1), np.uint8).reshape(h, w, tex.components)
    return (img[::-1] if gl_oriented else img)[:, :, :3].copy()


def crossfade(frame_a: np.ndarray, frame_b: np.ndarray, ts) -> np.ndarray:
    """In-betweens of two tick frames at times ``ts`` in [0, 1] through the viewer's interpolate pass."""
    pair = _check_frames(np.stack([frame_a, frame_b]))
    renderer = _renderer("bilinear", pair.shape[1], interpolation="crossfade")
    try:
        renderer.push(pair[0], now=0.0, duration=1.0)
        renderer.push(pair[1], now=1.0, duration=1.0)
        return np.stack([_read_frame_texture(renderer.interpolate(1.0 + float(t))) for t in ts])
    finally:
        renderer.release()


def motion(frame_a: np.ndarray, frame_b: np.ndarray, ts, interp: MotionInterpolator | None = None) -> np.ndarray:
    """In-betweens of two tick frames at times ``ts`` through the motion-compensated pass."""
    pair = _check_frames(np.stack([frame_a, frame_b]))
    own = interp is None
    interp = interp or MotionInterpolator(context())
    try:
        interp.push(pair[0], pair[1])
        return np.stack([_read_frame_texture(interp.draw(float(t)), gl_oriented=False) for t in ts])
    finally:
        if own:
            interp.release()


def time_upscaler(name: str, frame: np.ndarray, size: tuple[int, int] = (1920, 1080),
                  repeats: int = 5) -> float:
    """Median seconds for the upscale of one frame filling a ``size`` target, with ctx.finish()."""
    frame = _check_frames(frame)[0]
    ctx = context()
    renderer = _renderer(name, frame.shape[0])
    target = Offscreen(ctx, size)
    times = []
    try:
        renderer.push(frame, now=0.0, duration=1.0)
        source = renderer.interpolate(1.0)
        for i in range(repeats + 1):   # the first run compiles and allocates: not counted
            t0 = time.perf_counter()
            renderer.upscale(source, target.fbo, (0, 0, *size))
            ctx.finish()
            if i:
                times.append(time.perf_counter() - t0)
    finally:
        target.release()
        renderer.release()
    return float(np.median(times))
