"""`duralava upscaler train|export`: fit the tiny upscaler on simulator pairs, and bake it into GLSL.

``train`` draws the same lamp states at 64x64 and at 4x and 8x, fits
:class:`~.upscaler.TinyUpscaler` to turn the first into the others (L1, with
extra weight on a band around wax edges, where upscalers differ), saves the
checkpoint and, unless told not to, exports the shader passes. ``export``
regenerates the passes from a checkpoint; the files say so at their top.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .cli_args import positive_int


@dataclass
class TrainConfig:
    states: int = 256           # simulator states drawn (at 64, 256 and 512), spread over the palettes
    steps: int = 3000
    batch: int = 32             # crops per step
    crop: int = 16              # texels per crop side (output 64 px at 4x, 128 px at 8x)
    lr: float = 4e-3
    edge_weight: float = 4.0    # loss weight in the edge band, relative to the rest
    grad_weight: float = 0.5    # L1 on image gradients: a fake outline adds edges the truth lacks
    seed: int = 0
    sim_seed: int = 777         # not the ground-truth seed the scores use


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    t = sub.add_parser("train", help="fit the upscaler on simulator pairs, save it and export its shaders")
    t.add_argument("--out", type=Path, default=None, metavar="PATH",
                   help="checkpoint to write (default: the shipped checkpoints/upscaler.safetensors)")
    t.add_argument("--states", type=positive_int, default=TrainConfig.states, help="simulator states to draw")
    t.add_argument("--steps", type=positive_int, default=TrainConfig.steps, help="optimiser steps")
    t.add_argument("--channels", type=int, default=12, choices=(4, 8, 12), help="feature width")
    t.add_argument("--mapping-layers", type=int, default=2, help="3x3 layers between extraction and head")
    t.add_argument("--no-export", action="store_true", help="only write the checkpoint")
    t.add_argument("--dry-run", action="store_true", help="a few states and steps, written to a temp folder")
    e = sub.add_parser("export", help="write the GLSL passes for a trained upscaler")
    e.add_argument("--checkpoint", type=Path, default=None, metavar="PATH",
                   help="upscaler checkpoint (default: the shipped one)")
    e.add_argument("--shaders", type=Path, default=None, metavar="DIR",
                   help="folder for the pass files (default: the shipped shaders folder)")


def _shader_folder() -> Path:
    from duralava.shaders import __file__ as shaders_init

    return Path(shaders_init).parent


def _data(cfg: TrainConfig, progress: bool):
    """Inputs (N, 3, 64, 64), targets {size: (N, 3, S, S)}, band weights {size: (N, 1, S, S)}
    and, per state, the 64x64 texels near an edge (where crops are centred)."""
    import torch

    from . import groundtruth
    from .image_scores import edge_band
    from .render import PALETTES
    from .upscaler import frames_to_tensor

    palettes = sorted(PALETTES)
    per = -(-cfg.states // len(palettes))
    chunks = [groundtruth.pairs(per, sizes=(64, 256, 512), config=groundtruth.TruthConfig(
        seed=cfg.sim_seed + i, palette=name, progress=progress)) for i, name in enumerate(palettes)]
    truth = {s: np.concatenate([c[s] for c in chunks])[: cfg.states] for s in (64, 256, 512)}
    x = frames_to_tensor(truth[64])
    targets, weights = {}, {}
    for s in (256, 512):
        targets[s] = frames_to_tensor(truth[s])
        band = np.stack([edge_band(f) for f in truth[s]])                     # (N, S, S)
        weights[s] = torch.from_numpy(1.0 + (cfg.edge_weight - 1.0) * band)[:, None].float()
    r = 512 // 64
    near = band.reshape(len(band), 64, r, 64, r).any(axis=(2, 4))             # (N, 64, 64)
    hot = [np.argwhere(m) for m in near]
    return x, targets, weights, hot


def _recolour(x, ys, gen):
    """The same random channel shuffle and gains on input and targets: any lamp's palette, not one."""
    import torch

    perm = torch.randperm(3, generator=gen)
    gain = 0.7 + 0.5 * torch.rand(3, generator=gen)
    f = lambda t: (t[:, perm] * gain[None, :, None, None]).clamp(0, 1)
    return f(x), [f(y) for y in ys]


def _crops(cfg: TrainConfig, x, target, weight, hot, gen, rng):
    """A batch of crops: inputs with a margin for the receptive field, target and weight crops."""
    import torch

    margin = 5                       # 4 conv layers see 4 texels; one more for the bilinear
    side = cfg.crop + 2 * margin
    r = target.shape[-1] // x.shape[-1]
    idx = rng.integers(0, len(x), cfg.batch)
    xs, ts, ws = [], [], []
    for i in idx:
        if len(hot[i]) and rng.random() < 0.8:
            cy, cx = hot[i][rng.integers(len(hot[i]))]
            y0, x0 = cy - margin - rng.integers(cfg.crop), cx - margin - rng.integers(cfg.crop)
        else:
            y0, x0 = rng.integers(0, x.shape[-1] - side + 1, 2)
        y0, x0 = (int(np.clip(v, 0, x.shape[-1] - side)) for v in (y0, x0))
        xs.append(x[i, :, y0:y0 + side, x0:x0 + side])
        ty, tx = (y0 + margin) * r, (x0 + margin) * r
        ts.append(target[i, :, ty:ty + cfg.crop * r, tx:tx + cfg.crop * r])
        ws.append(weight[i, :, ty:ty + cfg.crop * r, tx:tx + cfg.crop * r])
    return torch.stack(xs), torch.stack(ts), torch.stack(ws), margin, r


def train(cfg: TrainConfig, model_config, progress: bool = True):
    """Fit a TinyUpscaler on crops of simulator pairs; returns (model, figures)."""
    import torch
    from tqdm import tqdm

    from .upscaler import TinyUpscaler

    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    t0 = time.perf_counter()
    x, targets, weights, hot = _data(cfg, progress)
    model = TinyUpscaler(model_config)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.steps, pct_start=0.1)
    sizes = list(targets)
    bar = tqdm(range(cfg.steps), desc="training upscaler", disable=not progress, unit="step")
    loss_ema = None
    for step in bar:
        size = sizes[step % len(sizes)]                 # 4x and 8x in turn: one net for any scale
        xb, yb, wb, margin, r = _crops(cfg, x, targets[size], weights[size], hot, gen, rng)
        if step % 2:
            xb, (yb,) = _recolour(xb, [yb], gen)
        fields = model.fields(xb)[..., margin - 1:margin + cfg.crop + 1, margin - 1:margin + cfg.crop + 1]
        # One texel of margin keeps the bilinear upsample of the crop's interior exact.
        out = model.composite(fields, ((cfg.crop + 2) * r,) * 2)[..., r:-r, r:-r]
        loss = ((out - yb) ** 2 * wb).mean()
        if cfg.grad_weight:
            d = out - yb
            loss = loss + cfg.grad_weight * ((d[..., 1:, :] - d[..., :-1, :]).abs().mean()
                                             + (d[..., :, 1:] - d[..., :, :-1]).abs().mean()) / r
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        loss_ema = loss.item() if loss_ema is None else 0.98 * loss_ema + 0.02 * loss.item()
        bar.set_postfix(loss=f"{loss_ema:.2e}")
    model.eval()
    figures = {"states": cfg.states, "steps": cfg.steps, "final_loss": loss_ema,
               "seconds": round(time.perf_counter() - t0, 1), "weights": model.n_weights()}
    return model, figures


def _train(args) -> int:
    import tempfile

    import torch

    from . import glsl_export
    from .upscaler import UpscalerConfig, default_path, save

    # One thread: the machine is shared and the crops are small (a 2-thread run on a loaded
    # machine was slower, not faster).
    torch.set_num_threads(1)
    cfg = TrainConfig(states=args.states, steps=args.steps)
    out = args.out or default_path()
    shader_dir = _shader_folder()
    if args.dry_run:
        cfg.states, cfg.steps, cfg.batch = 4, 4, 2
        tmp = Path(tempfile.mkdtemp(prefix="duralava-upscaler-"))
        out, shader_dir = tmp / "upscaler.safetensors", tmp
    model_config = UpscalerConfig(channels=args.channels, mapping_layers=args.mapping_layers).validate()
    progress = sys.stderr.isatty() or bool(os.environ.get("TQDM_FORCE"))
    model, figures = train(cfg, model_config, progress=progress)
    save(model, out, provenance={"data": "simulator pairs 64 -> 256 and 512", **figures})
    print(f"saved {out} ({figures['weights']} weights, loss {figures['final_loss']:.3e}, {figures['seconds']} s)")
    if not args.no_export:
        written = glsl_export.export(model, shader_dir, source=_describe(out))
        print(f"exported {len(written)} passes to {shader_dir}")
    return 0


def _describe(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(_shader_folder().parent))
    except ValueError:
        return Path(path).name


def _export(args) -> int:
    from . import glsl_export
    from .upscaler import default_path, load

    path = args.checkpoint or default_path()
    model, _ = load(path)
    folder = args.shaders or _shader_folder()
    if not folder.is_dir():
        raise NotADirectoryError(f"--shaders {folder} is not a folder")
    written = glsl_export.export(model, folder, source=_describe(path))
    print(f"exported {len(written)} passes to {folder}: {', '.join(p.name for p in written)}")
    return 0


def run(args) -> int:
    from .groundtruth import GroundTruthError
    from .upscaler import UpscalerError

    try:
        return _train(args) if args.action == "train" else _export(args)
    except (UpscalerError, GroundTruthError, NotADirectoryError) as e:
        print(f"duralava upscaler: {e}", file=sys.stderr)
        return 2
