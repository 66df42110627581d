"""`duralava eval upscale` and `duralava eval interp`: the viewer's shaders scored against the simulator.

Upscale: the same lamp states drawn at 64x64 and at 4x and 8x; each upscaler
the viewer offers turns the 64x64 frame into 4x and 8x through its real GLSL
(headless EGL), scored by PSNR and SSIM on the whole frame and on a band
around wax edges, and timed at 1920x1080. Interp: sequences with every
simulator step; each interpolator makes the in-betweens of two tick frames
at the training stride, scored against the true in-between steps (PSNR, SSIM,
and a flicker measure over the whole played sequence). Both print a table and
can save a side-by-side picture.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from .cli_args import positive_int

# What a shader has to beat, from the issue: dB over Catmull-Rom on 8x edge bands, cost ratio.
NEURAL_GAIN_DB = 2.0
NEURAL_COST_RATIO = 4.0
INTERP_GAIN_DB = 2.0
# A texel whose colour changes by more than this (0-255) between two ticks is moving.
MOVING_STEP = 3


def _pooled_psnr(mses: list[float]) -> float:
    mse = float(np.mean(mses)) if mses else 0.0
    return 100.0 if mse <= 1e-10 else float(-10.0 * np.log10(mse))


def add_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("upscale and interp")
    g.add_argument("--states", type=positive_int, default=12, help="lamp states scored per upscaler (default 12)")
    g.add_argument("--sequence-ticks", type=positive_int, default=6,
                   help="ticks per lamp scored per interpolator (default 6)")
    g.add_argument("--truth-seed", type=int, default=4242, help="simulator seed of the ground truth (default 4242)")
    g.add_argument("--picture", type=Path, default=None, metavar="PNG",
                   help="side-by-side picture (default: upscalers.png / interpolators.png in --out)")
    g.add_argument("--no-timing", action="store_true", help="skip timing upscalers at 1920x1080")


# -- upscale ---------------------------------------------------------------------------

def score_upscalers(states: int = 12, seed: int = 4242, timing: bool = True, progress: bool = False,
                    names: list[str] | None = None):
    """{name: {scale: scores, 'ms': ..}} plus the truth and outputs of the first state for a picture."""
    from tqdm import tqdm

    from duralava.app import shader_scoring as ss

    from . import groundtruth
    from .image_scores import edge_band, frame_scores

    truth = groundtruth.pairs(states, sizes=(64, 256, 512),
                              config=groundtruth.TruthConfig(seed=seed, progress=progress))
    names = names or ss.upscaler_names()
    bands = {s: [edge_band(f) for f in truth[s]] for s in (256, 512)}
    results, firsts = {}, {}
    for name in tqdm(names, desc="scoring upscalers", disable=not progress):
        res = {}
        for scale, size in ((4, 256), (8, 512)):
            outs = ss.upscale(name, truth[64], size)
            per = [frame_scores(o, t, b) for o, t, b in zip(outs, truth[size], bands[size])]
            res[scale] = {k: float(np.mean([p[k] for p in per])) for k in per[0]}
            if scale == 8:
                firsts[name] = outs[0]
        if timing:
            res["ms"] = 1e3 * ss.time_upscaler(name, truth[64][0], (1920, 1080))
        results[name] = res
    return results, truth, firsts


def upscale_rows(results: dict) -> list[dict]:
    """Checks in the eval table's format: the neural upscaler against Catmull-Rom."""
    rows = []
    if "neural" not in results or "bicubic" not in results:
        return rows
    n, b = results["neural"], results["bicubic"]
    gain = n[8]["psnr_edge"] - b[8]["psnr_edge"]
    rows.append({"name": "neural vs Catmull-Rom, 8x edge-band PSNR", "wanted": f">= +{NEURAL_GAIN_DB:g} dB",
                 "measured": f"{gain:+.2f} dB ({n[8]['psnr_edge']:.2f} vs {b[8]['psnr_edge']:.2f})",
                 "passed": gain >= NEURAL_GAIN_DB})
    if "ms" in n and "ms" in b:
        ratio = n["ms"] / b["ms"]
        rows.append({"name": "neural cost at 1920x1080 (llvmpipe)", "wanted": f"<= {NEURAL_COST_RATIO:g}x Catmull-Rom",
                     "measured": f"{ratio:.2f}x ({n['ms']:.1f} vs {b['ms']:.1f} ms)",
                     "passed": ratio <= NEURAL_COST_RATIO})
    return rows


def upscale_table(results: dict) -> str:
    head = f"{'upscaler':<10} {'4x PSNR':>8} {'edge':>6} {'SSIM':>6} {'edge':>6}   {'8x PSNR':>8} {'edge':>6} {'SSIM':>6} {'edge':>6}   {'ms@1080p':>8} {'xCR':>5}"
    lines = [head, "-" * len(head)]
    base = results.get("bicubic", {}).get("ms")
    for name, r in results.items():
        cells = []
        for s in (4, 8):
            q = r[s]
            cells.append(f"{q['psnr']:8.2f} {q['psnr_edge']:6.2f} {q['ssim']:6.3f} {q['ssim_edge']:6.3f}")
        ms = f"{r['ms']:8.1f} {r['ms'] / base:5.2f}" if "ms" in r and base else f"{'-':>8} {'-':>5}"
        lines.append(f"{name:<10} {cells[0]}   {cells[1]}   {ms}")
    return "\n".join(lines)


def side_by_side(truth: np.ndarray, outs: dict[str, np.ndarray], path: Path, crop: int = 256) -> Path:
    """A PNG: the 8x ground truth and each upscaler's 8x picture of the same frame, labelled."""
    from PIL import Image, ImageDraw

    from .eval_plot import save_png
    from .image_scores import edge_band

    # The most detailed square of the frame: where the truth's edges are densest.
    band = edge_band(truth).astype(np.float64)
    h = truth.shape[0]
    step = crop // 4
    best, at = -1.0, (0, 0)
    for y in range(0, h - crop + 1, step):
        for x in range(0, h - crop + 1, step):
            v = band[y:y + crop, x:x + crop].sum()
            if v > best:
                best, at = v, (y, x)
    y, x = at
    tiles = [("ground truth", truth)] + list(outs.items())
    label_h = 22
    sheet = Image.new("RGB", (len(tiles) * (crop + 4), crop + label_h), (20, 20, 20))
    draw = ImageDraw.Draw(sheet)
    for i, (name, img) in enumerate(tiles):
        sheet.paste(Image.fromarray(img[y:y + crop, x:x + crop]), (i * (crop + 4), label_h))
        draw.text((i * (crop + 4) + 4, 4), name, fill=(235, 235, 235))
    return save_png(sheet, path)


# -- interpolation ---------------------------------------------------------------------

def score_interpolators(ticks: int = 6, seed: int = 4242, stride: int | None = None, progress: bool = False):
    """{name: {'psnr', 'ssim', 'flicker'}} over every in-between of every tick pair, plus one example."""
    from duralava.app import shader_scoring as ss
    from duralava.app.motion_interp import EDGE_PROGRAM, MotionInterpolator

    from . import groundtruth, simulator
    from .image_scores import flicker, ssim

    stride = stride or simulator.DEFAULT_STRIDE
    seq = groundtruth.sequences(ticks, 64, stride, groundtruth.TruthConfig(seed=seed, progress=progress))
    ts = np.arange(stride + 1) / stride
    motion = MotionInterpolator(ss.context())
    edge = MotionInterpolator(ss.context(), program=EDGE_PROGRAM)
    methods = {
        "hold": lambda a, b: np.stack([a if t < 0.5 else b for t in ts]),
        "crossfade": lambda a, b: ss.crossfade(a, b, ts),
        "flow-warp": lambda a, b: ss.motion(a, b, ts, motion),
        "edge-motion": lambda a, b: ss.motion(a, b, ts, edge),
    }
    results, example = {}, {}
    try:
        for name, make in methods.items():
            ssims, sq_all, sq_moving, played, truths = [], [], [], [], []
            for lamp in seq:
                for k in range(ticks - 1):
                    a, b = lamp[k * stride], lamp[(k + 1) * stride]
                    outs = make(a, b)                                   # (stride+1, 64, 64, 3)
                    true = lamp[k * stride:(k + 1) * stride + 1]
                    err = (outs[1:-1].astype(np.float64) - true[1:-1]) / 255.0  # (stride-1, 64, 64, 3)
                    moving = np.abs(a.astype(np.int16) - b).max(-1) > MOVING_STEP
                    sq_all.append((err ** 2).mean())
                    if moving.any():
                        sq_moving.append((err[:, moving] ** 2).mean())
                    ssims += [ssim(o, t) for o, t in zip(outs[1:-1], true[1:-1])]
                    played.append(outs[:-1])
                    truths.append(true[:-1])
                    if name not in example:
                        example[name] = outs
            # PSNR of the pooled error: a mean of per-frame PSNRs would be ruled by the
            # near-still frames, whose PSNR runs off to infinity.
            results[name] = {"psnr": _pooled_psnr(sq_all), "psnr_moving": _pooled_psnr(sq_moving),
                             "ssim": float(np.mean(ssims))}
            # Flicker per lamp over its whole played run (ticks and in-betweens), averaged.
            per_lamp = len(played) // len(seq)
            results[name]["flicker"] = float(np.mean([
                flicker(np.concatenate(played[i:i + per_lamp]), np.concatenate(truths[i:i + per_lamp]))
                for i in range(0, len(played), per_lamp)]))
    finally:
        motion.release()
        edge.release()
    example["truth"] = seq[0][: stride + 1]
    return results, example


def interp_rows(results: dict) -> list[dict]:
    if "crossfade" not in results:
        return []
    others = {k: v for k, v in results.items() if k not in ("crossfade", "hold")}
    if not others:
        return []
    best = max(others, key=lambda k: others[k]["psnr"])
    b, c = results[best], results["crossfade"]
    gain = b["psnr"] - c["psnr"]
    return [
        {"name": f"{best} vs crossfade, in-between PSNR", "wanted": f">= +{INTERP_GAIN_DB:g} dB",
         "measured": f"{gain:+.2f} dB ({b['psnr']:.2f} vs {c['psnr']:.2f})", "passed": gain >= INTERP_GAIN_DB},
        {"name": f"{best} flicker", "wanted": "<= crossfade",
         "measured": f"{b['flicker']:.3f} vs {c['flicker']:.3f}", "passed": b["flicker"] <= c["flicker"]},
    ]


def interp_table(results: dict) -> str:
    head = f"{'interpolator':<12} {'PSNR':>7} {'moving':>7} {'SSIM':>7} {'flicker':>8}"
    lines = [head, "-" * len(head)]
    for name, r in results.items():
        lines.append(f"{name:<12} {r['psnr']:7.2f} {r['psnr_moving']:7.2f} {r['ssim']:7.4f} {r['flicker']:8.3f}")
    return "\n".join(lines)


def filmstrip(example: dict, path: Path, zoom: int = 4, gain: float = 16.0) -> Path:
    """A PNG: the true steps of one tick on top, then each interpolator's error on those steps.

    The in-betweens differ from the truth by a few levels, invisible side by side,
    so the rows show |error| times ``gain`` (black is perfect).
    """
    from PIL import Image, ImageDraw

    from .eval_plot import save_png

    truth = example["truth"].astype(np.float64)
    rows = [("truth", example["truth"])]
    for name, outs in example.items():
        if name != "truth":
            err = np.abs(outs.astype(np.float64) - truth).max(axis=-1, keepdims=True) * gain
            rows.append((f"{name} |error| x{gain:g}", np.clip(err, 0, 255).astype(np.uint8).repeat(3, -1)))
    label_w = 170
    h, w = truth.shape[1] * zoom, truth.shape[2] * zoom
    sheet = Image.new("RGB", (label_w + len(truth) * (w + 2), len(rows) * (h + 2)), (20, 20, 20))
    draw = ImageDraw.Draw(sheet)
    for r, (name, frames) in enumerate(rows):
        draw.text((4, r * (h + 2) + h // 2 - 6), name, fill=(235, 235, 235))
        for c, f in enumerate(frames):
            sheet.paste(Image.fromarray(f.repeat(zoom, 0).repeat(zoom, 1)), (label_w + c * (w + 2), r * (h + 2)))
    return save_png(sheet, path)


# -- `duralava eval` targets -------------------------------------------------------------
# Each takes the shared evaluation (its args, out folder, pictures, figures) and returns
# rows for the eval table; neither needs the lamp itself: the simulator is the truth.

def _picture(args, default: str) -> Path:
    """Where the target's picture goes: ``--picture`` if given, else ``default`` in ``--out``."""
    picture = getattr(args, "picture", None)
    return Path(picture) if picture else Path(args.out) / default


def upscale_target(ev) -> list[dict]:
    args = ev.args
    results, truth, firsts = score_upscalers(getattr(args, "states", 12), getattr(args, "truth_seed", 4242),
                                             not getattr(args, "no_timing", False), ev.progress)
    print(upscale_table(results), file=sys.stderr)
    ev.pictures.append(side_by_side(truth[512][0], firsts, _picture(args, "upscalers.png")))
    ev.figures["upscale"] = {k: {str(s): v for s, v in r.items()} for k, r in results.items()}
    return upscale_rows(results)


def interp_target(ev) -> list[dict]:
    args = ev.args
    results, example = score_interpolators(getattr(args, "sequence_ticks", 6), getattr(args, "truth_seed", 4242),
                                           progress=ev.progress)
    print(interp_table(results), file=sys.stderr)
    ev.pictures.append(filmstrip(example, _picture(args, "interpolators.png")))
    ev.figures["interp"] = results
    return interp_rows(results)
