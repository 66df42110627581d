"""The Renderer: tick frames in, a smooth, coloured, upscaled lamp out (moderngl).

Passes, in order, each a GLSL program loaded by name from ``shaders/``:

1. upload    each new tick frame (uint8 HxWx3, rows top-first) goes into the next
             texture of a small ring; nothing is uploaded unless a frame is new.
2. interpolate  (``interpolate.glsl``, at the frame's size) blends the two frames
             either side of the current moment and applies the look (hue,
             saturation, brightness, glow); colour work at 64x64 costs nothing.
             A tick may bring in-betweens (frames the engine decoded at latents
             between ticks, the "latent" mode); they are played in order across
             the tick, crossfading between neighbours. "motion" slides the wax
             edges of the two tick frames towards each other
             (``interp_motion_edge.glsl``, no flow needed) so blobs glide; "flow"
             warps both frames along the wax's motion estimated by the engine
             (``interp_motion.glsl``). "none" shows each tick as is.
3. upscale   the chosen upscaler's pre-passes (small: a multiple of the frame's
             size) and its final pass, drawn into the largest square centred in
             the area given (the whole target by default).

Pass conventions (a new upscaler, e.g. a learned one, follows them and adds one line
to ``UPSCALERS``):

- Every pass draws one fullscreen triangle made from ``gl_VertexID`` (no vertex
  buffer); the vertex stage hands ``v_uv`` in [0, 1] across the pass's viewport.
  That stage is the shared ``shaders/fullscreen.vert``: a program file holds only
  its fragment stage (see :mod:`duralava.shaders`).
- Inputs are ``u_src0``, ``u_src1``, ... on texture units 0, 1, ...: for the first
  pre-pass (or the final pass when there is none) ``u_src0`` is the interpolated
  frame; for later passes they are the previous pass's outputs, in order.
  A pre-pass marked ``with_frame`` gets the interpolated frame first, then the
  previous outputs. ``u_src_size`` (vec2) is the size of ``u_src0`` in texels,
  ``u_dst_size`` the pass's viewport in pixels. Uniforms a program does not
  declare are skipped.
- Outputs are ``layout(location = i)`` colour targets, RGBA8 (``'f1'``), linear
  filtering, clamped at the edges, GL orientation (row 0 at the bottom).
- Pre-passes run at ``scale`` times the frame's size; the final pass writes one
  colour to the target.
- Extra per-program uniforms come from ``UpscalerSpec.uniforms``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import moderngl
import numpy as np

from duralava import shaders

RING_SIZE = 10                 # tick frames plus in-betweens held on the GPU
INTERPOLATIONS = ("none", "crossfade", "latent", "motion", "flow")


class RenderError(RuntimeError):
    """A shader or GL resource could not be made; str() is one sentence."""


@dataclass
class Look:
    """Colour controls, applied at the frame's resolution before upscaling."""
    hue: float = 0.0           # radians around the grey axis
    saturation: float = 1.0
    brightness: float = 1.0
    glow: float = 0.0          # 0..1


@dataclass(frozen=True)
class Prepass:
    program: str
    outputs: int = 1
    scale: int = 1             # size relative to the frame
    with_frame: bool = False   # inputs: the interpolated frame, then the previous pass's outputs


@dataclass(frozen=True)
class UpscalerSpec:
    final: str
    prepasses: tuple[Prepass, ...] = ()
    uniforms: dict = field(default_factory=dict)
    label: str = ""


# name -> the programs that make it; the panel lists these in order.
UPSCALERS: dict[str, UpscalerSpec] = {
    "lava": UpscalerSpec("upscale_lava", (Prepass("lava_prep", outputs=2),
                                          Prepass("lava_smooth", outputs=2, scale=4, with_frame=True)),
                         {"u_edge_contrast": 0.15, "u_sharpness": 1.0},
                         "lava-aware (crisp wax edges)"),
    "bicubic": UpscalerSpec("upscale_bicubic", label="bicubic (Catmull-Rom)"),
    "bilinear": UpscalerSpec("upscale_bilinear", label="bilinear"),
    "nearest": UpscalerSpec("upscale_nearest", label="nearest (pixels)"),
}


def fit_square(width: int, height: int) -> tuple[int, int, int, int]:
    """The largest centred square viewport (x, y, w, h) inside a width x height target."""
    side = max(1, min(width, height))
    return ((width - side) // 2, (height - side) // 2, side, side)


def _set(program: moderngl.Program, name: str, value) -> None:
    if name in program:
        program[name].value = value


class Renderer:
    """Owns the GL objects of the lamp's passes; one per GL context, used on its thread."""

    def __init__(self, ctx: moderngl.Context, frame_size: int = 64,
                 upscaler: str = "lava", interpolation: str = "crossfade"):
        self.ctx = ctx
        self.look = Look()
        self.upscaler = upscaler
        self.interpolation = interpolation
        self._programs: dict[str, moderngl.Program] = {}
        self._vao: dict[str, moderngl.VertexArray] = {}
        self._size = 0
        self._ring: list[moderngl.Texture] = []
        self._next_slot = 0
        # The segment being shown: ring slots in display order, when it began and how long it lasts.
        self._segment: list[int] = []
        self._segment_start = 0.0
        self._segment_length = 1.0
        self.uploads = 0
        self.error = ""                # the last drawing problem, for the panel
        self._resize_frames(frame_size)

    # -- resources ---------------------------------------------------------------------
    def program(self, name: str) -> moderngl.Program:
        if name not in self._programs:
            try:
                prog = self.ctx.program(**shaders.load(name))
            except FileNotFoundError as exc:
                raise RenderError(str(exc)) from None
            except moderngl.Error as exc:
                raise RenderError(f"shader program {name!r} failed to build: {exc}") from exc
            for i in range(4):
                _set(prog, f"u_src{i}", i)
            self._programs[name] = prog
            self._vao[name] = self.ctx.vertex_array(prog, [])
        return self._programs[name]

    def _texture(self, size: tuple[int, int], components: int = 4) -> moderngl.Texture:
        tex = self.ctx.texture(size, components, dtype="f1")
        tex.filter = (moderngl.LINEAR, moderngl.LINEAR)
        tex.repeat_x = tex.repeat_y = False
        return tex

    def _resize_frames(self, size: int) -> None:
        for tex in self._ring:
            tex.release()
        for fbo, texs in getattr(self, "_targets", {}).values():
            fbo.release()
            for t in texs:
                t.release()
        self._size = size
        self._ring = [self._texture((size, size), 3) for _ in range(RING_SIZE)]
        self._targets: dict[tuple[str, int], tuple[moderngl.Framebuffer, list[moderngl.Texture]]] = {}
        self._look_fbo, (self._look_tex,) = self._target("look", 1, 1)
        if getattr(self, "_flow_tex", None) is not None:
            self._flow_tex.release()
        self._flow_tex = self.ctx.texture((size, size), 2, dtype="f4")
        self._flow_tex.filter = (moderngl.LINEAR, moderngl.LINEAR)
        self._flow_tex.repeat_x = self._flow_tex.repeat_y = False
        self._has_flow = False
        self._segment = []
        self._next_slot = 0

    def _target(self, name: str, outputs: int, scale: int = 1):
        key = (name, scale)
        if key not in self._targets:
            texs = [self._texture((self._size * scale, self._size * scale)) for _ in range(outputs)]
            self._targets[key] = (self.ctx.framebuffer(color_attachments=texs), texs)
        return self._targets[key]

    def release(self) -> None:
        for tex in self._ring + ([self._flow_tex] if self._flow_tex is not None else []):
            tex.release()
        self._flow_tex = None
        for fbo, texs in self._targets.values():
            fbo.release()
            for t in texs:
                t.release()
        for vao in self._vao.values():
            vao.release()
        for prog in self._programs.values():
            prog.release()
        self._ring, self._targets, self._vao, self._programs = [], {}, {}, {}

    # -- frames in ---------------------------------------------------------------------
    @property
    def frame_size(self) -> int:
        return self._size

    @property
    def has_frame(self) -> bool:
        return bool(self._segment)

    def push(self, frames: np.ndarray, now: float, duration: float, flow: np.ndarray | None = None) -> None:
        """Start a new segment: the lamp moves from what is shown now through ``frames``.

        frames: (K+1, S, S, 3) uint8, rows top-first: K in-betweens then the tick's frame.
        It arrives at ``now`` and the motion takes ``duration`` seconds. ``flow`` (S, S, 2)
        is the wax's motion from the previous tick frame, used by the "flow" mode.
        """
        frames = np.asarray(frames)
        if frames.ndim == 3:
            frames = frames[None]
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.shape[1] != frames.shape[2] \
                or frames.dtype != np.uint8:
            raise ValueError(f"frames must be uint8 (K, S, S, 3), not {frames.dtype} {frames.shape}")
        if frames.shape[1] != self._size:
            self._resize_frames(frames.shape[1])
        frames = frames[-(RING_SIZE - 1):]
        start = self._current_slot(now)
        slots = [start] if start is not None else []
        for frame in frames:
            slot = self._next_slot
            self._next_slot = (self._next_slot + 1) % RING_SIZE
            if slot == start:  # never overwrite the frame on screen
                slot = self._next_slot
                self._next_slot = (self._next_slot + 1) % RING_SIZE
            self._ring[slot].write(np.ascontiguousarray(frame).tobytes())
            self.uploads += 1
            slots.append(slot)
        self._has_flow = flow is not None and flow.shape == (self._size, self._size, 2)
        if self._has_flow:
            self._flow_tex.write(np.ascontiguousarray(flow, np.float32).tobytes())
        self._segment = slots
        self._segment_start = now
        self._segment_length = max(duration, 1e-3)

    def _phase(self, now: float) -> float:
        """How far through the current segment ``now`` is, 0..1."""
        return min(max((now - self._segment_start) / self._segment_length, 0.0), 1.0)

    def _position(self, now: float) -> tuple[int, int, float]:
        """Ring slots either side of ``now`` and the blend between them."""
        seg = self._segment
        if len(seg) == 1:
            return seg[0], seg[0], 0.0
        phase = self._phase(now)
        if self.interpolation == "none":
            return seg[-1], seg[-1], 0.0
        x = phase * (len(seg) - 1)
        i = min(int(x), len(seg) - 2)
        return seg[i], seg[i + 1], x - i

    def _current_slot(self, now: float) -> int | None:
        if not self._segment:
            return None
        a, b, t = self._position(now)
        return b if t >= 0.5 else a

    # -- drawing -----------------------------------------------------------------------
    def _run(self, name: str, inputs: list[moderngl.Texture], dst_size: tuple[int, int],
             uniforms: dict | None = None) -> None:
        prog = self.program(name)
        for i, tex in enumerate(inputs):
            tex.use(location=i)
        _set(prog, "u_src_size", (float(inputs[0].width), float(inputs[0].height)))
        _set(prog, "u_dst_size", (float(dst_size[0]), float(dst_size[1])))
        for key, value in (uniforms or {}).items():
            _set(prog, key, value)
        self._vao[name].render(moderngl.TRIANGLES, vertices=3)

    def interpolate(self, now: float) -> moderngl.Texture:
        """Run the interpolation pass; returns the frame-sized, coloured texture."""
        a, b, t = self._position(now) if self._segment else (0, 0, 0.0)
        inputs = [self._ring[a], self._ring[b]]
        warp = {"motion": "interp_motion_edge", "flow": "interp_motion" if self._has_flow else None}
        program = warp.get(self.interpolation)
        if program and len(self._segment) >= 2:
            # The warp stands in for both tick frames (it spans the whole segment, so it
            # blends by the segment's phase); the look pass then runs as usual.
            fbo, (warped,) = self._target(program, 1)
            fbo.use()
            fbo.viewport = (0, 0, self._size, self._size)
            ends = [self._ring[self._segment[0]], self._ring[self._segment[-1]]]
            self._run(program, ends + ([self._flow_tex] if self.interpolation == "flow" else []),
                      (self._size, self._size), {"u_mix": float(self._phase(now))})
            inputs, t = [warped, warped], 0.0
        self._look_fbo.use()
        self._look_fbo.viewport = (0, 0, self._size, self._size)
        self._run("interpolate", inputs, (self._size, self._size), {
            "u_mix": float(t), "u_hue": float(self.look.hue),
            "u_saturation": float(self.look.saturation),
            "u_brightness": float(self.look.brightness), "u_glow": float(self.look.glow)})
        return self._look_tex

    def upscale(self, source: moderngl.Texture, target: moderngl.Framebuffer,
                viewport: tuple[int, int, int, int]) -> None:
        """Run the chosen upscaler into ``viewport``; one that cannot build falls back to bilinear."""
        try:
            self._upscale(UPSCALERS.get(self.upscaler, UPSCALERS["bilinear"]), source, target, viewport)
        except RenderError as exc:
            if self.upscaler == "bilinear":
                raise
            # A broken optional program (say, a freshly generated one) must not take the lamp down.
            self.error = f"the {self.upscaler} upscaler is unavailable ({exc}); using bilinear."
            self.upscaler = "bilinear"
            self._upscale(UPSCALERS["bilinear"], source, target, viewport)

    def _upscale(self, spec: UpscalerSpec, source: moderngl.Texture, target: moderngl.Framebuffer,
                 viewport: tuple[int, int, int, int]) -> None:
        inputs = [source]
        for p in spec.prepasses:
            fbo, texs = self._target(p.program, p.outputs, p.scale)
            fbo.use()
            fbo.viewport = (0, 0, texs[0].width, texs[0].height)
            self._run(p.program, [source] + inputs if p.with_frame else inputs,
                      (texs[0].width, texs[0].height), spec.uniforms)
            inputs = texs
        target.use()
        target.viewport = viewport
        self._run(spec.final, inputs, viewport[2:], spec.uniforms)

    def draw(self, target: moderngl.Framebuffer, now: float, size: tuple[int, int] | None = None,
             area: tuple[int, int, int, int] | None = None) -> tuple[int, int, int, int]:
        """Draw the lamp at ``now`` into ``target``: black, with the lamp as the largest square
        centred in ``area`` (x, y, w, h; default the whole target). Returns that square."""
        width, height = size or target.size
        self.ctx.disable(moderngl.BLEND | moderngl.DEPTH_TEST | moderngl.CULL_FACE)
        source = self.interpolate(now)
        target.use()
        target.viewport = (0, 0, width, height)
        target.clear(0.0, 0.0, 0.0, 1.0)
        ax, ay, aw, ah = area or (0, 0, width, height)
        x, y, w, h = fit_square(aw, ah)
        rect = (ax + x, ay + y, w, h)
        self.upscale(source, target, rect)
        target.viewport = (0, 0, width, height)
        return rect


def read_rgb(fbo: moderngl.Framebuffer, viewport: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """Pixels of a framebuffer as uint8 (H, W, 3), rows top-first (as images are stored)."""
    x, y, w, h = viewport or (0, 0, *fbo.size)
    data = fbo.read(viewport=(x, y, w, h), components=3, alignment=1)
    return np.frombuffer(data, np.uint8).reshape(h, w, 3)[::-1].copy()


class Offscreen:
    """An RGBA8 framebuffer to draw the lamp into without a window (export, tests, benchmark)."""

    def __init__(self, ctx: moderngl.Context, size: tuple[int, int]):
        self.size = size
        self.texture = ctx.texture(size, 4, dtype="f1")
        self.fbo = ctx.framebuffer(color_attachments=[self.texture])

    def read(self) -> np.ndarray:
        return read_rgb(self.fbo)

    def release(self) -> None:
        self.fbo.release()
        self.texture.release()


def _register_shipped_upscalers() -> None:
    """Upscalers made of generated programs join the registry when their files are shipped."""
    try:
        from . import neural_upscale
    except ImportError:
        return
    neural_upscale.register(UPSCALERS)


_register_shipped_upscalers()
