"""``duralava-viewer --benchmark``: the viewer's three targets, measured and printed.

1. Shader cost: the interpolation + upscale paths against a plain textured blit at
   1920x1080 (many frames, each ended with ``ctx.finish()``), as ratios.
2. Draw loop: drawing paced at 60 Hz while the engine ticks at 10 Hz on its thread;
   frame-time spikes over twice the median, per 1,000 frames (the loop never waits
   on the engine, so torch should not show up here), beside a baseline that draws
   with no engine at all (what the machine itself adds).
3. Engine CPU in ambient mode (10 Hz ticks, no panel): the worker thread's own CPU
   time over the run, as a share of one core.

Runs on an EGL context, so it needs no display. Figures, not pass/fail: the machine
may be shared, so read the ratios.
"""
from __future__ import annotations

import sys
import time

import numpy as np

TARGET_SPIKES_PER_1000 = 1.0
TARGET_ENGINE_SHARE = 0.10
TARGET_SHADER_RATIO = 3.0


def time_passes(ctx, renderer, target, frames: int) -> dict[str, float]:
    """Median ms per frame for the blit and each interpolate + upscale path."""
    from .renderer import UPSCALERS, fit_square

    width, height = target.size
    results = {}

    # The plainest blit: one bilinear tap from an RGBA8 texture of the frame.
    raw = renderer.interpolate(1.0)

    square = fit_square(width, height)

    def blit(now):
        # Same target, same clear, same lamp square as the real paths: only the shading differs.
        target.use()
        target.viewport = (0, 0, width, height)
        target.clear(0.0, 0.0, 0.0, 1.0)
        target.viewport = square
        renderer._run("upscale_bilinear", [raw], square[2:])

    def path(name):
        def draw(now):
            renderer.upscaler = name
            renderer.draw(target, 1.0 + now % 1.0, (width, height))
        return draw

    draws = {"blit": blit, **{name: path(name) for name in UPSCALERS}}
    times: dict[str, list[float]] = {k: [] for k in draws}
    for i in range(frames + 3):
        # Interleaved, so a neighbour's load on a shared machine hits every path alike.
        for key, draw in draws.items():
            t0 = time.perf_counter()
            draw(i / 60.0)
            ctx.finish()
            if i >= 3:  # the first frames compile shaders and allocate
                times[key].append(time.perf_counter() - t0)
    results = {k: float(np.median(v)) * 1e3 for k, v in times.items()}
    return results


def draw_loop(engine, renderer, target, seconds: float) -> dict[str, float]:
    """Paced 60 Hz drawing while the engine ticks; frame intervals and the engine's CPU share."""
    ctx = renderer.ctx
    intervals, work = [], []
    if engine is not None:
        engine.start()
    cpu0, wall0 = (engine.thread_cpu_s if engine else 0.0), time.perf_counter()
    last = next_frame = time.perf_counter()
    end = last + seconds
    uploads0 = renderer.uploads
    while True:
        now = time.perf_counter()
        if now >= end:
            break
        t0 = now
        result = engine.poll() if engine else None  # never waits: the newest result, if any
        if result is not None:
            renderer.push(result.frames(), now=now, duration=result.interval)
        renderer.draw(target, now)
        ctx.finish()
        work.append(time.perf_counter() - t0)
        next_frame += 1 / 60
        pause = next_frame - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        else:
            next_frame = time.perf_counter()
        done = time.perf_counter()
        intervals.append(done - last)
        last = done
    wall = time.perf_counter() - wall0
    cpu = engine.thread_cpu_s - cpu0 if engine else 0.0
    if engine is not None:
        engine.stop()
    intervals_a = np.asarray(intervals[10:]) * 1e3
    work_a = np.asarray(work[10:]) * 1e3
    med = float(np.median(intervals_a))
    return {
        "frames": len(intervals_a), "median_ms": med, "p99_ms": float(np.percentile(intervals_a, 99)),
        "spikes_per_1000": 1000.0 * float((intervals_a > 2 * med).sum()) / max(len(intervals_a), 1),
        "work_median_ms": float(np.median(work_a)),
        "work_spikes_per_1000": 1000.0 * float((work_a > 2 * np.median(work_a)).sum()) / max(len(work_a), 1),
        "engine_share": cpu / wall, "ticks": engine.tick_index if engine else 0,
        "uploads": renderer.uploads - uploads0,
    }


def run(args) -> int:
    import moderngl

    from .engine import Engine, EngineConfig, EngineError, start_lamp
    from .renderer import Offscreen, Renderer

    try:
        device, lamp, name, message = start_lamp(args.device, args.checkpoint)
    except EngineError as exc:
        print(f"duralava-viewer: {exc}", file=sys.stderr)
        return 1
    if message:
        print(f"duralava-viewer: {message}", file=sys.stderr)
    try:
        ctx = moderngl.create_standalone_context(backend="egl")
    except Exception as exc:
        print(f"duralava-viewer: no headless OpenGL (EGL) for the benchmark: {exc}.", file=sys.stderr)
        return 1
    print(f"lamp {name} on {device}; GL: {ctx.info['GL_RENDERER']}")
    seconds = float(getattr(args, "bench_seconds", 30.0))

    # 1. Shader cost at 1920x1080.
    renderer = Renderer(ctx, lamp.image_size)
    warm = Engine(lamp, EngineConfig(tick_rate=10.0, seed=args.seed, device=str(device)), name)
    first, second = warm.tick(), warm.tick()
    renderer.push(first.frame, now=0.0, duration=0.1)
    renderer.push(second.frames(), now=1.0, duration=1.0)
    full_hd = Offscreen(ctx, (1920, 1080))
    passes = time_passes(ctx, renderer, full_hd.fbo, frames=int(getattr(args, "bench_frames", 40)))
    print("\n1. shader cost at 1920x1080 (median ms per frame, ratio to a plain textured blit)")
    for key, ms in passes.items():
        ratio = ms / passes["blit"]
        mark = "" if key == "blit" else f"  {ratio:4.2f}x"
        flag = "  (target <= 3x)" if key == "lava" else ""
        print(f"   {'blit' if key == 'blit' else 'interpolate + ' + key:>24}: {ms:7.2f} ms{mark}{flag}")
    full_hd.release()

    # 2 and 3. The draw loop with the engine ticking at 10 Hz, ambient (no panel).
    target = Offscreen(ctx, args.size or (960, 720))
    print(f"\n2./3. draw loop at 60 Hz, {target.size[0]}x{target.size[1]}, engine at 10 Hz, "
          f"{seconds:.0f} s per mode")
    for mode in ("latent", "crossfade", "baseline"):
        renderer.interpolation = "crossfade" if mode == "baseline" else mode
        renderer.upscaler = "lava"
        # The baseline draws the same way with no engine at all: spikes there are the machine's.
        engine = None if mode == "baseline" else Engine(
            lamp, EngineConfig(tick_rate=10.0, seed=args.seed, device=str(device),
                               inbetweens=mode == "latent"), name)
        r = draw_loop(engine, renderer, target.fbo, seconds)
        print(f"   {mode:>9}: {r['frames']} frames, median {r['median_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, "
              f"spikes >2x median {r['spikes_per_1000']:.2f}/1000 (target < {TARGET_SPIKES_PER_1000:g}); "
              f"draw work median {r['work_median_ms']:.2f} ms, spikes {r['work_spikes_per_1000']:.2f}/1000")
        if engine is not None:
            print(f"   {'':>9}  engine thread CPU {100 * r['engine_share']:.1f}% of one core "
                  f"(target <= {100 * TARGET_ENGINE_SHARE:g}%), {r['ticks']} ticks, {r['uploads']} uploads")
    target.release()
    renderer.release()
    ctx.release()
    print("\nThe machine may be shared: compare ratios from one run, not absolute times.")
    return 0
