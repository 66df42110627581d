"""Training clips: windows of consecutive lamp frames, from a dataset on disk or straight from the simulator.

A dataset directory holds ``frames.npy`` (uint8 N x S x S x 3, memory-mapped,
never pickled) and ``meta.json`` ({"format": "duralava-frames", "size",
"frames", "segments", "source", ...}); ``segments`` are the lengths of runs of
consecutive frames of one lamp, and a clip never crosses a segment boundary.

:class:`ClipSampler` draws batches of clips (B, T, 3, S, S) float in [0, 1]
from such frames; :class:`LiveLampStream` steps a pool of simulated lamps and
yields the clips as they happen. :func:`simulated_dataset` makes (or reuses) a
cached dataset directory from the simulator, which is what training uses by
default: making frames costs far more than training on them, so each frame
is seen many times.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

FRAMES_FORMAT = "duralava-frames"


class DatasetError(ValueError):
    """Frames that cannot be trained on; ``str()`` is one sentence for the user."""


@dataclass
class FrameSet:
    frames: np.ndarray            # (N, S, S, 3) uint8, possibly a memory map
    segments: list[int]           # lengths of runs of consecutive frames, summing to N
    meta: dict = field(default_factory=dict)

    @property
    def size(self) -> int:
        return int(self.frames.shape[1])

    def window_starts(self, seq: int, stride: int = 1) -> np.ndarray:
        """Every index where a clip of ``seq`` frames, ``stride`` apart, fits inside one segment."""
        span = (seq - 1) * stride + 1
        starts, offset = [], 0
        for length in self.segments:
            if length >= span:
                starts.append(np.arange(offset, offset + length - span + 1))
            offset += length
        return np.concatenate(starts) if starts else np.zeros(0, dtype=np.int64)


def _check_frames(frames: np.ndarray, segments, where: str) -> list[int]:
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3 or frames.shape[1] != frames.shape[2]:
        raise DatasetError(f"{where} must hold uint8 frames of shape (N, S, S, 3), "
                           f"not {frames.dtype} {tuple(frames.shape)}.")
    if not isinstance(segments, (list, tuple)) or not all(isinstance(s, int) and s > 0 for s in segments):
        raise DatasetError(f"{where} has segments that are not a list of positive frame counts.")
    if sum(segments) != len(frames):
        raise DatasetError(f"{where} has segments summing to {sum(segments)} frames, but holds {len(frames)}.")
    return list(segments)


def open_frames(directory) -> FrameSet:
    """Open a dataset directory (frames memory-mapped, nothing pickled); raises DatasetError."""
    directory = Path(directory)
    if not directory.is_dir():
        raise DatasetError(f"dataset {directory} is not a directory.")
    meta_path, frames_path = directory / "meta.json", directory / "frames.npy"
    if not meta_path.is_file() or not frames_path.is_file():
        raise DatasetError(f"dataset {directory} needs both meta.json and frames.npy (make one with `duralava sim`).")
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        raise DatasetError(f"dataset {directory} has a meta.json that is not valid JSON.") from None
    if not isinstance(meta, dict) or meta.get("format") != FRAMES_FORMAT:
        raise DatasetError(f"dataset {directory} is not a duralava frames dataset (meta.json format is not "
                           f"{FRAMES_FORMAT!r}).")
    try:
        frames = np.load(frames_path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as e:
        raise DatasetError(f"dataset {directory} has an unreadable frames.npy ({e}).") from None
    segments = _check_frames(frames, meta.get("segments", [len(frames)]), f"dataset {directory}")
    if meta.get("size") not in (None, frames.shape[1]):
        raise DatasetError(f"dataset {directory} says its frames are {meta.get('size')} pixels but they are "
                           f"{frames.shape[1]}.")
    return FrameSet(frames=frames, segments=segments, meta=meta)


def write_frames(directory, frames: np.ndarray, segments: list[int], meta: dict) -> Path:
    """Write a dataset directory atomically (a temp directory renamed into place)."""
    directory = Path(directory)
    segments = _check_frames(frames, [int(s) for s in segments], "the frames to write")
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        np.save(tmp / "frames.npy", np.ascontiguousarray(frames), allow_pickle=False)
        full = {**meta, "format": FRAMES_FORMAT, "size": int(frames.shape[1]), "frames": int(len(frames)),
                "segments": segments}
        (tmp / "meta.json").write_text(json.dumps(full, indent=1))
        os.chmod(tmp, 0o755)  # mkdtemp makes directories private
        if directory.exists():
            shutil.rmtree(directory)
        os.replace(tmp, directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return directory


def simulated_dataset(cache_dir, n_frames: int, size: int = 64, seed: int = 0, preset: str = "classic",
                      palette: str = "classic", stride: int | None = None, progress: bool = True) -> FrameSet:
    """Frames from the simulator, made once into ``cache_dir`` and reused while the request is the same."""
    from . import simulator

    stride = simulator.DEFAULT_STRIDE if stride is None else stride
    params = _preset_params(preset)
    request = {"source": "simulator", "preset": preset, "palette": palette, "seed": seed, "stride": stride,
               "size": size, "frames": n_frames, "params": params.to_dict()}
    cache_dir = Path(cache_dir)
    if (cache_dir / "meta.json").is_file():
        try:
            cached = open_frames(cache_dir)
            if {k: cached.meta.get(k) for k in request} == request:
                return cached
        except DatasetError:
            pass  # a damaged cache is simply made again
    frames, segments = simulator.simulate_frames(n_frames, size=size, seed=seed, stride=stride, palette=palette,
                                                 params=params, progress=progress)
    write_frames(cache_dir, frames, [int(s) for s in segments], request)
    return open_frames(cache_dir)


def _preset_params(name: str):
    from . import simulator

    if name not in simulator.PRESETS:
        raise DatasetError(f"there is no simulator preset named {name!r} (choose from {', '.join(simulator.PRESETS)}).")
    p = simulator.PRESETS[name]
    return p() if callable(p) else p


def to_clips(frames: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 (B, T, S, S, 3) -> float (B, T, 3, S, S) in [0, 1]."""
    x = torch.as_tensor(frames)
    return x.permute(0, 1, 4, 2, 3).float().div_(255)


class ClipSampler:
    """Endless batches of random clips (B, T, 3, S, S) from a FrameSet.

    ``rank``/``world`` give each training process its own stream. Clips are
    mirrored left-right half the time: a lamp is symmetric, so this doubles the data.
    """

    def __init__(self, frames: FrameSet, batch: int, seq: int, stride: int = 1, seed: int = 0,
                 rank: int = 0, world: int = 1, mirror: bool = True):
        if batch < 1 or seq < 1 or stride < 1:
            raise DatasetError(f"batch, sequence length and stride must be at least 1 (got {batch}, {seq}, {stride}).")
        self.frames, self.batch, self.seq, self.stride, self.mirror = frames, batch, seq, stride, mirror
        self.starts = frames.window_starts(seq, stride)
        if len(self.starts) == 0:
            raise DatasetError(f"no run of consecutive frames is long enough for clips of {seq} frames "
                               f"{stride} apart (the longest holds {max(frames.segments)}).")
        self.rng = np.random.default_rng([seed, rank, world])

    def __iter__(self):
        return self

    def __next__(self) -> torch.Tensor:
        start = self.rng.choice(self.starts, size=self.batch)                  # (B,)
        index = start[:, None] + np.arange(self.seq)[None, :] * self.stride    # (B, T)
        # Sorted reads are kinder to a memory map; restore the order afterwards.
        flat = index.ravel()
        order = np.argsort(flat)
        clips = np.empty((flat.size, *self.frames.frames.shape[1:]), np.uint8)
        clips[order] = self.frames.frames[flat[order]]
        clips = clips.reshape(*index.shape, *clips.shape[1:])                  # (B, T, S, S, 3)
        if self.mirror:
            flip = self.rng.random(self.batch) < 0.5
            clips[flip] = clips[flip][:, :, :, ::-1]
        return to_clips(clips)

    def state(self) -> dict:
        return self.rng.bit_generator.state

    def set_state(self, state: dict) -> None:
        self.rng.bit_generator.state = state


class LiveLampStream:
    """Endless batches of clips rendered from a pool of simulated lamps as they run.

    Each batch continues the previous one in time (lamp b of batch k+1 starts
    where lamp b of batch k ended): no frame is ever reused, but every frame
    costs ``stride`` simulator steps, far more than a training step needs.
    """

    def __init__(self, batch: int, seq: int, stride: int | None = None, size: int = 64, seed: int = 0,
                 preset: str = "classic", palette: str = "classic", rank: int = 0, world: int = 1):
        from . import simulator

        self.seq, self.size, self.palette = seq, size, palette
        self.stride = simulator.DEFAULT_STRIDE if stride is None else stride
        self.lamps = simulator.LavaLamp(batch, seed=seed * 1000 + rank, params=_preset_params(preset), warm=True)

    def __iter__(self):
        return self

    def __next__(self) -> torch.Tensor:
        frames = []
        for _ in range(self.seq):
            self.lamps.step(self.stride)
            frames.append(self.lamps.render(self.size, self.palette))  # (B, S, S, 3)
        return to_clips(np.stack(frames, axis=1))


def still_pixels(frames: np.ndarray, chunk: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """The pixels no frame changes: a (S, S) bool mask, true where every frame of (N, S, S, 3) uint8
    has the same colour, and the frame (S, S, 3) uint8 of those colours (the first frame elsewhere).

    Exact equality: a lamp's body drawn by the simulator is still; footage's sensor noise leaves no
    pixel still, and then the mask is empty.
    """
    frames = np.asarray(frames)      # a memory map stays one: blocks are read as they are compared
    if frames.ndim != 4 or frames.shape[-1] != 3 or len(frames) == 0:
        raise DatasetError(f"still pixels need frames of shape (N, S, S, 3), not {frames.shape}.")
    first = np.array(frames[0])                # a copy: the still frame outlives a memory map
    still = np.ones(first.shape[:2], dtype=bool)
    for start in range(0, len(frames), chunk):
        block = np.asarray(frames[start:start + chunk])
        still &= (block == first).all(axis=(0, 3))
    return still, first


def open_training_data(cfg, image_size: int, rank: int = 0, world: int = 1) -> tuple[ClipSampler, dict]:
    """The clip stream a training run reads, and a description of it for the lamp's provenance.

    ``cfg`` is a TrainConfig. Without ``cfg.data`` the simulator's frames are
    made once into ``cfg.out/frames`` (by the first process; the others wait) and reused.
    """
    if cfg.data:
        frames = open_frames(cfg.data)
        info = {"source": str(Path(cfg.data).resolve()),
                "params": {k: v for k, v in frames.meta.items() if k != "segments"}}
    else:
        import torch.distributed as dist

        cache = Path(cfg.out) / "frames"
        distributed = world > 1 and dist.is_initialized()
        if rank == 0:
            frames = simulated_dataset(cache, cfg.sim_frames, size=image_size, seed=cfg.seed, preset=cfg.preset,
                                       palette=cfg.palette, progress=cfg.progress)
        if distributed:
            dist.barrier()
        if rank != 0:
            frames = open_frames(cache)
        info = {"source": "simulator", "params": {k: v for k, v in frames.meta.items() if k != "segments"}}
    if frames.size != image_size:
        raise DatasetError(f"the dataset's frames are {frames.size} pixels wide but the generator makes "
                           f"{image_size}-pixel frames; pass --image-size {frames.size}.")
    info["params"].setdefault("palette", cfg.palette)
    sampler = ClipSampler(frames, cfg.batch, cfg.seq, cfg.stride, seed=cfg.seed, rank=rank, world=world)
    return sampler, info
