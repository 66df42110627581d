"""MP4 writing with PyAV: lamp previews and the viewer's recordings.

Frames stream straight into the encoder (a 100k-frame run never sits in memory
twice). The file appears only when complete: it is written beside the target
under a temporary name and renamed at the end, and removed on any failure.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Iterable

import numpy as np


class VideoError(ValueError):
    """A bad video request, with one sentence saying what is wrong."""


def _even(n: int) -> int:
    # yuv420p halves the chroma planes: H.264 wants even sides.
    return n + (n % 2)


def _check_frame(frame, index: int, shape: tuple | None) -> np.ndarray:
    a = np.asarray(frame)
    if a.dtype != np.uint8 or a.ndim != 3 or a.shape[2] != 3:
        raise VideoError(f"frame {index} must be uint8 height x width x 3, not {a.dtype} {a.shape}.")
    if shape is not None and a.shape != shape:
        raise VideoError(f"frame {index} is {a.shape[1]}x{a.shape[0]} but the first frame "
                         f"was {shape[1]}x{shape[0]}.")
    return a


def _target_size(size, first: np.ndarray) -> tuple[int, int]:
    """(width, height) of the video."""
    if size is None:
        return _even(first.shape[1]), _even(first.shape[0])
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        w = h = int(size)
    elif (isinstance(size, (tuple, list)) and len(size) == 2
          and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in size)):
        w, h = int(size[0]), int(size[1])
    else:
        raise VideoError(f"size must be a number of pixels or (width, height), not {size!r}.")
    if not (2 <= w <= 8192 and 2 <= h <= 8192):
        raise VideoError(f"the video size must be from 2 to 8192 pixels a side, not {w}x{h}.")
    return _even(w), _even(h)


def _resize(a: np.ndarray, wh: tuple[int, int]) -> np.ndarray:
    if (a.shape[1], a.shape[0]) == wh:
        return a
    from PIL import Image

    img = Image.fromarray(a)
    # Whole-number upscales stay crisp; anything else is resampled smoothly.
    exact = wh[0] % a.shape[1] == 0 and wh[1] % a.shape[0] == 0 and wh[0] >= a.shape[1]
    return np.asarray(img.resize(wh, Image.NEAREST if exact else Image.BICUBIC))


def write_mp4(path, frames: Iterable, fps: float = 20, size=None) -> None:
    """Encode uint8 HxWx3 frames as H.264 MP4 at ``path``.

    ``size``: None keeps the frames' size (rounded up to even), an int makes a
    square video, (width, height) any other. Writes to a temporary file and
    renames it at the end; on any error nothing is left behind.
    """
    import av

    path = Path(path)
    if path.suffix.lower() != ".mp4":
        raise VideoError(f"the video path must end in .mp4, not {path.name!r}.")
    if not path.parent.is_dir():
        raise VideoError(f"the folder {str(path.parent)!r} does not exist.")
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not 0.1 <= fps <= 1000:
        raise VideoError(f"fps must be a number from 0.1 to 1000, not {fps!r}.")

    it = iter(frames)
    try:
        first = _check_frame(next(it), 0, None)
    except StopIteration:
        raise VideoError("there are no frames to write.") from None
    wh = _target_size(size, first)

    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".part.mp4", dir=path.parent)
    os.close(fd)
    try:
        from fractions import Fraction

        with av.open(tmp, "w", format="mp4") as container:
            stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1000))
            stream.width, stream.height = wh
            stream.pix_fmt = "yuv420p"
            # Lamps are smooth colour fields; crf 18 keeps the wax edge clean.
            stream.options = {"crf": "18", "preset": "medium"}
            index, frame = 0, first
            while True:
                picture = av.VideoFrame.from_ndarray(np.ascontiguousarray(_resize(frame, wh)),
                                                     format="rgb24")
                for packet in stream.encode(picture):
                    container.mux(packet)
                try:
                    frame = _check_frame(next(it), index + 1, first.shape)
                except StopIteration:
                    break
                index += 1
            for packet in stream.encode():
                container.mux(packet)
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)        # mkstemp makes it private; a video is not
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
