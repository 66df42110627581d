"""Headless export: play the lamp with no window and write what it showed.

``duralava-viewer --headless --ticks N --out DIR`` writes

- ``DIR/frames.npy``   uint8 (T, S, S, 3) generator frames at tick rate (every K-th tick)
- ``DIR/latents.npy``  float32 (T, Z) the latent after each kept tick
- ``DIR/display.png``  the last frame as the screen would show it, at ``--size``
- ``--video FILE.mp4`` the lamp at display rate (60 fps), interpolated and upscaled
  exactly as on screen

Rendering uses an EGL context, so no display is needed. Arrays grow on disk (memory
maps), so long runs need little memory; every file is written under a temporary
name and renamed at the end.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAX_SIDE = 8192


class HeadlessError(ValueError):
    """A bad export request; str() is one sentence for the user."""


@dataclass
class ExportConfig:
    ticks: int
    out: Path
    keep_every: int = 1
    checkpoint: str | None = None
    seed: int = 0
    size: tuple[int, int] = (512, 512)
    video: Path | None = None
    tick_rate: float = 6.0
    fps: int = 60
    device: str | None = None
    upscaler: str = "lava"
    interpolation: str = "latent"

    def validate(self) -> "ExportConfig":
        from .renderer import INTERPOLATIONS, UPSCALERS

        if not isinstance(self.ticks, int) or self.ticks < 1:
            raise HeadlessError(f"--ticks must be a whole number of at least 1, not {self.ticks!r}.")
        if not isinstance(self.keep_every, int) or self.keep_every < 1:
            raise HeadlessError(f"--keep-every must be a whole number of at least 1, not {self.keep_every!r}.")
        w, h = self.size
        if not (16 <= w <= MAX_SIDE and 16 <= h <= MAX_SIDE):
            raise HeadlessError(f"--size must be between 16x16 and {MAX_SIDE}x{MAX_SIDE}, not {w}x{h}.")
        if self.video is not None and Path(self.video).suffix.lower() != ".mp4":
            raise HeadlessError(f"--video must name an .mp4 file, not {self.video}.")
        if self.video is not None and (w % 2 or h % 2):
            raise HeadlessError(f"a video needs an even --size, not {w}x{h}.")
        if self.upscaler not in UPSCALERS:
            raise HeadlessError(f"unknown upscaler {self.upscaler!r}; choose from {', '.join(UPSCALERS)}.")
        if self.interpolation not in INTERPOLATIONS:
            raise HeadlessError(f"unknown interpolation {self.interpolation!r}; "
                                f"choose from {', '.join(INTERPOLATIONS)}.")
        out = Path(self.out)
        if out.exists() and not out.is_dir():
            raise HeadlessError(f"--out {out} is a file, not a folder.")
        return self


def _start_lamp(cfg: ExportConfig):
    from duralava.models.checkpoint import CheckpointError, load_lamp

    from .engine import lamp_name, open_lamp

    if cfg.checkpoint:
        # An export names exactly the lamp it records: a bad file is an error, not a fallback.
        try:
            return load_lamp(cfg.checkpoint, device=cfg.device or "cpu"), lamp_name(cfg.checkpoint)
        except CheckpointError as exc:
            raise HeadlessError(str(exc)) from None
    lamp, name, message = open_lamp(None, cfg.device or "cpu")
    if message:
        print(message, file=sys.stderr)
    return lamp, name


def _replace_all(pairs: list[tuple[Path, Path]]) -> None:
    for tmp, final in pairs:
        os.replace(tmp, final)


def export(cfg: ExportConfig, progress: bool = True) -> dict:
    """Run the export; returns a summary dict. Raises HeadlessError on bad input."""
    import moderngl
    import torch
    from tqdm import tqdm

    from .capture import CaptureError, VideoWriter, save_png
    from .engine import Engine, EngineConfig, EngineError
    from .renderer import Offscreen, Renderer

    cfg.validate()
    out = Path(cfg.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise HeadlessError(f"cannot create the folder {out}: {exc.strerror or exc}.") from None
    torch.set_num_threads(1)
    lamp, name = _start_lamp(cfg)
    try:
        engine = Engine(lamp, EngineConfig(tick_rate=cfg.tick_rate, seed=cfg.seed, device=cfg.device,
                                           inbetweens=cfg.interpolation == "latent",
                                           fixed_inbetweens=3, flow=cfg.interpolation == "flow"), name)
    except EngineError as exc:
        raise HeadlessError(str(exc)) from None
    try:
        ctx = moderngl.create_standalone_context(backend="egl")
    except Exception as exc:
        raise HeadlessError(f"no headless OpenGL (EGL) is available here: {exc}.") from None

    kept = (cfg.ticks + cfg.keep_every - 1) // cfg.keep_every
    s = lamp.image_size
    tmp_frames, tmp_latents = out / ".frames.npy.part", out / ".latents.npy.part"
    frames = np.lib.format.open_memmap(tmp_frames, mode="w+", dtype=np.uint8, shape=(kept, s, s, 3))
    latents = np.lib.format.open_memmap(tmp_latents, mode="w+", dtype=np.float32, shape=(kept, lamp.z_dim))
    renderer = Renderer(ctx, s, upscaler=cfg.upscaler, interpolation=cfg.interpolation)
    screen = Offscreen(ctx, cfg.size)
    video = VideoWriter(cfg.video, cfg.size, fps=cfg.fps) if cfg.video else None
    interval = 1.0 / cfg.tick_rate
    shown, repairs, errors = 0, 0, set()
    try:
        for i in tqdm(range(cfg.ticks), desc="ticks", unit="tick", disable=not progress):
            result = engine.tick()
            if result.error:
                errors.add(result.error)
            repairs = result.repairs
            if i % cfg.keep_every == 0:
                frames[i // cfg.keep_every] = result.frame
                latents[i // cfg.keep_every] = result.z
            arrived = i * interval
            renderer.push(result.frames(), now=arrived, duration=interval, flow=result.flow)
            if video is not None:
                # Display frames that fall inside this tick, as a 60 Hz screen would show them.
                while shown < round((i + 1) * cfg.fps / cfg.tick_rate):
                    renderer.draw(screen.fbo, now=shown / cfg.fps)
                    video.write(screen.read())
                    shown += 1
        frames.flush()
        latents.flush()
        del frames, latents
        renderer.draw(screen.fbo, now=cfg.ticks * interval + 1.0)
        save_png(out / "display.png", screen.read())
        if video is not None:
            video.close()
            video = None
        _replace_all([(tmp_frames, out / "frames.npy"), (tmp_latents, out / "latents.npy")])
    except CaptureError as exc:
        raise HeadlessError(str(exc)) from None
    finally:
        if video is not None:
            video.abort()
        for tmp in (tmp_frames, tmp_latents):
            tmp.unlink(missing_ok=True)
        screen.release()
        renderer.release()
        ctx.release()
    return {"ticks": cfg.ticks, "kept": kept, "video_frames": shown, "repairs": repairs,
            "lamp": name, "errors": sorted(errors), "out": str(out)}


def run(args) -> int:
    """The ``--headless`` entry point: prints one sentence and returns 1 on bad input."""
    cfg = ExportConfig(
        ticks=args.ticks, out=Path(args.out), keep_every=args.keep_every, checkpoint=args.checkpoint,
        seed=args.seed, size=args.size or (512, 512), video=Path(args.video) if args.video else None,
        tick_rate=args.tick_rate, device=args.device, upscaler=args.upscaler,
        interpolation=args.interpolation)
    try:
        summary = export(cfg)
    except HeadlessError as exc:
        print(f"duralava-viewer: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {summary['kept']} frames and latents from {summary['ticks']} ticks of "
          f"{summary['lamp']} to {summary['out']}"
          + (f", and {summary['video_frames']} video frames to {cfg.video}" if cfg.video else "")
          + (f" ({summary['repairs']} latents repaired)" if summary["repairs"] else ""))
    return 0
