"""Import of a user's own lamp footage into a training dataset directory.

The source is a video file (anything PyAV decodes) or a folder of PNG/JPEG
frames sorted by name (the original duralava layout, `frames/image0000001.png`,
...). Each frame is made square, by a centre crop or by letterboxing with the
median edge colour, and shrunk by area averaging to the training size. The
result is the same dataset directory `duralava sim` writes: `frames.npy`
(uint8 N x S x S x 3) and `meta.json`, built in a temp folder beside OUT and
renamed into place only when complete.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
from PIL import Image

FORMAT, VERSION = "duralava-frames", 1
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}
FOLDER_FPS = 20.0   # a folder of frames says nothing of its rate; the simulator's video rate
FITS = ("crop", "letterbox")


class FootageError(ValueError):
    """Footage that cannot be imported, with one sentence saying why."""


@dataclass
class ImportConfig:
    size: int = 64
    fit: str = "crop"            # "crop": centre square; "letterbox": pad with the median edge colour
    max_frames: int | None = None
    every: int = 1               # keep every K-th source frame
    fps: float | None = None     # override the source rate (a folder has none)
    force: bool = False          # replace a non-empty OUT

    def check(self) -> None:
        if isinstance(self.size, bool) or not isinstance(self.size, (int, np.integer)) or self.size < 8:
            raise FootageError(f"the frame size must be an integer of at least 8, got {self.size!r}.")
        if self.fit not in FITS:
            raise FootageError(f"fit must be 'crop' or 'letterbox', got {self.fit!r}.")
        if not isinstance(self.every, (int, np.integer)) or self.every < 1:
            raise FootageError(f"--every must be a positive integer, got {self.every!r}.")
        if self.max_frames is not None and (not isinstance(self.max_frames, (int, np.integer))
                                            or self.max_frames < 1):
            raise FootageError(f"--max-frames must be a positive integer, got {self.max_frames!r}.")
        if self.fps is not None and not (self.fps > 0):
            raise FootageError(f"--fps must be positive, got {self.fps!r}.")


def square(frame: np.ndarray, fit: str, border: np.ndarray | None = None) -> np.ndarray:
    """(H,W,3) -> (S,S,3): centre crop, or letterbox padded with `border` (RGB)."""
    h, w = frame.shape[:2]
    if h == w:
        return frame
    if fit == "crop":
        s = min(h, w)
        y, x = (h - s) // 2, (w - s) // 2
        return frame[y:y + s, x:x + s]
    s = max(h, w)
    out = np.empty((s, s, 3), frame.dtype)
    out[:] = edge_colour(frame) if border is None else border
    y, x = (s - h) // 2, (s - w) // 2
    out[y:y + h, x:x + w] = frame
    return out


def edge_colour(frame: np.ndarray) -> np.ndarray:
    """Median colour of the outermost rows and columns: what a letterbox should blend into."""
    edges = np.concatenate([frame[0], frame[-1], frame[:, 0], frame[:, -1]])   # (2W+2H,3)
    return np.median(edges, axis=0).round().astype(np.uint8)


def area_resize(frame: np.ndarray, size: int) -> np.ndarray:
    """Area-average a square (S,S,3) uint8 frame to (size,size,3); any factor, up or down.

    Each output pixel is the mean of the source area it covers, partial pixels
    weighted by overlap (Pillow's BOX filter counts whole pixels only).
    """
    if frame.shape[0] == size and frame.shape[1] == size:
        return frame
    out = _area_axis(_area_axis(frame, size, 0), size, 1)
    return np.rint(out).clip(0, 255).astype(np.uint8)


def _area_axis(a: np.ndarray, size: int, axis: int) -> np.ndarray:
    """Area average along one axis: whole pixels summed, the two cut pixels by their overlap."""
    a = np.moveaxis(a, axis, 0)
    n = a.shape[0]
    edges = np.linspace(0.0, n, size + 1)
    shape = (-1,) + (1,) * (a.ndim - 1)
    if n >= size:
        # Shrinking: every output cell holds at least one whole pixel, so reduceat can sum them.
        start, end = np.floor(edges[:-1]).astype(int), np.floor(edges[1:]).astype(int)
        total = np.add.reduceat(a, start, axis=0, dtype=np.float64)
        total -= (edges[:-1] - start).reshape(shape) * a[start]
        total += (edges[1:] - end).reshape(shape) * a[np.minimum(end, n - 1)]
    else:
        # Growing: differences of the running integral of the piecewise-constant signal.
        integral = np.concatenate([np.zeros_like(a[:1], np.float64), np.cumsum(a, 0, np.float64)])
        cell = np.minimum(np.floor(edges).astype(int), n - 1)
        total = np.diff(integral[cell] + (edges - cell).reshape(shape) * a[cell], axis=0)
    return np.moveaxis(total * (size / n), 0, axis)


def _natural_key(path: Path):
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", path.name)]


def frame_files(folder: Path) -> list[Path]:
    """PNG/JPEG frames in a folder (or its `frames/` subfolder), in natural name order."""
    files = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    if not files and (folder / "frames").is_dir():
        return frame_files(folder / "frames")
    if not files:
        raise FootageError(f"{folder} holds no PNG or JPEG frames.")
    return sorted(files, key=_natural_key)


def _open_rgb(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        raise FootageError(f"{path} is not a readable image ({e}).") from None


def check_folder(files: list[Path]) -> None:
    """Read only the headers, so a bad or odd-sized frame fails before any decoding."""
    first = None
    for path in files:
        try:
            with Image.open(path) as im:
                size = im.size
        except (OSError, ValueError, Image.DecompressionBombError):
            raise FootageError(f"{path} is not a readable image.") from None
        if first is None:
            first = size
        elif size != first:
            raise FootageError(f"{path} is {size[0]}x{size[1]} but the frames before it are "
                               f"{first[0]}x{first[1]}.")


def folder_frames(files: list[Path]) -> Iterator[np.ndarray]:
    """Decode frames in order, insisting that all share the first one's size."""
    first = None
    for path in files:
        frame = _open_rgb(path)
        if first is None:
            first = frame.shape
        elif frame.shape != first:
            raise FootageError(f"{path} is {frame.shape[1]}x{frame.shape[0]} but the frames "
                               f"before it are {first[1]}x{first[0]}.")
        yield frame


def probe_video(path: Path):
    """Open a video with PyAV: (container, stream, fps, frame count or None)."""
    import av

    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError, UnicodeDecodeError, ValueError):
        raise FootageError(f"{path} is not a video file that can be decoded.") from None
    if not container.streams.video:
        container.close()
        raise FootageError(f"{path} holds no video stream.")
    stream = container.streams.video[0]
    rate = stream.average_rate or stream.guessed_rate
    fps = float(rate) if rate else FOLDER_FPS
    return container, stream, fps, (stream.frames or None)


def video_frames(path: Path, container, stream) -> Iterator[np.ndarray]:
    import av

    try:
        for frame in container.decode(stream):
            yield frame.to_ndarray(format="rgb24")
    except (av.FFmpegError, ValueError) as e:
        raise FootageError(f"{path} could not be decoded to the end ({e}).") from None
    finally:
        container.close()


def _check_out(out: Path, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise FootageError(f"{out} exists and is not a folder.")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise FootageError(f"{out} exists and is not empty (use --force to replace it).")


def import_footage(src, out, size: int = 64, fit: str = "crop", max_frames: int | None = None,
                   every: int = 1, fps: float | None = None, force: bool = False,
                   progress: bool = False) -> Path:
    """Import a video file or a folder of frames as a dataset directory at `out`; returns `out`."""
    cfg = ImportConfig(size=size, fit=fit, max_frames=max_frames, every=every, fps=fps, force=force)
    cfg.check()
    src, out = Path(src).expanduser(), Path(out).expanduser()
    if not src.exists():
        raise FootageError(f"{src} does not exist.")
    if out.resolve() == src.resolve() or out.resolve() in src.resolve().parents:
        raise FootageError(f"{out} holds the footage itself; write the dataset somewhere else.")
    _check_out(out, cfg.force)

    container = None
    if src.is_dir():
        files = frame_files(src)
        check_folder(files)
        frames, source_fps, total = folder_frames(files), FOLDER_FPS, len(files)
    else:
        container, stream, source_fps, total = probe_video(src)
        frames = video_frames(src, container, stream)
    rate = (cfg.fps or source_fps) / cfg.every
    if total is not None:
        total = -(-total // cfg.every)
        if cfg.max_frames:
            total = min(total, cfg.max_frames)

    made_parents = [p for p in reversed(out.absolute().parents) if not p.exists()]
    tmp = None
    try:
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
            tmp.chmod(0o777 & ~_umask())     # mkdtemp makes it private; a dataset is not
        except OSError as e:
            raise FootageError(f"cannot write in {out.parent} ({e.strerror or e}).") from None
        n = _write_frames(frames, tmp, cfg, total, progress, src)
        meta = {"format": FORMAT, "version": VERSION, "source": "footage", "size": cfg.size,
                "frames": n, "segments": [n], "origin": str(src.resolve()), "fit": cfg.fit,
                "fps": rate, "every": cfg.every}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
        write_preview(np.load(tmp / "frames.npy", mmap_mode="r"), tmp / "preview.png")
        _replace(tmp, out)
    except BaseException:
        frames.close()               # a video generator closes its container
        if container is not None:
            container.close()
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        for p in reversed(made_parents):
            try:
                p.rmdir()
            except OSError:
                pass
        raise
    return out


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_preview(frames: np.ndarray, path: Path, columns: int = 4, rows: int = 2) -> None:
    """A contact sheet of frames spread over the clip, each shown at least 128 px: one look
    says whether the crop, colours and size came out right."""
    pick = np.unique(np.linspace(0, len(frames) - 1, columns * rows).round().astype(int))
    size = frames.shape[1]
    scale = max(1, -(-128 // size))
    tiles = [np.asarray(frames[i]).repeat(scale, 0).repeat(scale, 1) for i in pick]
    tiles += [np.zeros_like(tiles[0])] * (columns * rows - len(tiles))
    sheet = np.concatenate([np.concatenate(tiles[r * columns:(r + 1) * columns], 1) for r in range(rows)], 0)
    Image.fromarray(sheet).save(path)


def _write_frames(frames: Iterator[np.ndarray], tmp: Path, cfg: ImportConfig, total, progress, src) -> int:
    """Stream frames to a raw file, then wrap it as frames.npy; returns the frame count."""
    from tqdm import tqdm

    raw = tmp / "frames.raw"
    border = None
    n = 0
    with open(raw, "wb") as f, tqdm(total=total, unit="frame", desc="import", disable=not progress) as bar:
        for i, frame in enumerate(frames):
            if i % cfg.every:
                continue
            if cfg.fit == "letterbox" and border is None:
                border = edge_colour(frame)   # one colour for the whole clip: no flicker at the edges
            f.write(np.ascontiguousarray(area_resize(square(frame, cfg.fit, border), cfg.size)).tobytes())
            n += 1
            bar.update(1)
            if cfg.max_frames and n >= cfg.max_frames:
                break
    if n == 0:
        raise FootageError(f"{src} holds no video frames.")
    shape = (n, cfg.size, cfg.size, 3)
    with open(tmp / "frames.npy", "wb") as f, open(raw, "rb") as r:
        np.lib.format.write_array_header_1_0(f, {"descr": "|u1", "fortran_order": False, "shape": shape})
        shutil.copyfileobj(r, f, 1 << 22)
    raw.unlink()
    return n


def _replace(tmp: Path, out: Path) -> None:
    """Rename the finished folder into place; an old OUT (with --force) goes only after."""
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        out.rename(old)
        tmp.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(out)
