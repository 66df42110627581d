"""Pictures and videos of the lamp, written atomically: PNG screenshots and streamed MP4s.

Nothing half-written is left behind: each file is written under a temporary name
beside its destination and renamed into place only when complete.
"""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np


class CaptureError(ValueError):
    """A picture or video could not be written; str() is one sentence."""


def _temp_beside(path: Path, suffix: str) -> Path:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=suffix, dir=path.parent)
    os.close(fd)
    # mkstemp makes private files; a picture should get the usual permissions.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    return Path(tmp)


def _check_folder(path: Path) -> None:
    if path.is_dir():
        raise CaptureError(f"{path} is a folder; give a file name.")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CaptureError(f"cannot create the folder {path.parent}: {exc.strerror or exc}.") from None


def save_png(path, image: np.ndarray) -> Path:
    """Write uint8 (H, W, 3) ``image`` (rows top-first) as a PNG at ``path``."""
    from PIL import Image

    path = Path(path)
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise CaptureError(f"a screenshot must be uint8 (H, W, 3), not {image.dtype} {image.shape}.")
    _check_folder(path)
    tmp = _temp_beside(path, ".png")
    try:
        Image.fromarray(image).save(tmp, format="PNG")
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise CaptureError(f"cannot write {path}: {exc.strerror or exc}.") from None
    return path


def timestamped(folder, stem: str, suffix: str) -> Path:
    """``folder/stem-YYYYmmdd-HHMMSS.suffix`` (a counter is added if that exists)."""
    base = Path(folder) / f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    path, n = base.with_suffix(suffix), 1
    while path.exists():
        path, n = Path(f"{base}-{n}{suffix}"), n + 1
    return path


class VideoWriter:
    """An H.264 MP4 written frame by frame (PyAV), so long recordings need no memory.

    Use as a context manager; the file appears at ``path`` only on a clean close.
    """

    def __init__(self, path, size: tuple[int, int], fps: int = 60, crf: int = 20):
        import av

        self.path = Path(path)
        if self.path.suffix.lower() != ".mp4":
            raise CaptureError(f"{self.path} must end in .mp4.")
        width, height = size
        if width < 16 or height < 16 or width % 2 or height % 2:
            raise CaptureError(f"a video needs an even size of at least 16x16, not {width}x{height}.")
        _check_folder(self.path)
        self._tmp = _temp_beside(self.path, ".mp4")
        self.frames = 0
        try:
            self._container = av.open(str(self._tmp), mode="w", format="mp4")
            self._stream = self._container.add_stream("libx264", rate=fps)
            self._stream.width, self._stream.height = width, height
            self._stream.pix_fmt = "yuv420p"
            self._stream.options = {"crf": str(crf), "preset": "veryfast"}
        except Exception as exc:
            self._tmp.unlink(missing_ok=True)
            raise CaptureError(f"cannot start the video {self.path}: {exc}.") from None
        self.size = size

    def write(self, image: np.ndarray) -> None:
        import av

        image = np.ascontiguousarray(image)
        if image.shape != (self.size[1], self.size[0], 3) or image.dtype != np.uint8:
            raise CaptureError(f"video frames must be uint8 {(self.size[1], self.size[0], 3)}, "
                               f"not {image.dtype} {image.shape}.")
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self.frames += 1

    def close(self) -> Path:
        for packet in self._stream.encode():
            self._container.mux(packet)
        self._container.close()
        os.replace(self._tmp, self.path)
        return self.path

    def abort(self) -> None:
        try:
            self._container.close()
        except Exception:
            pass
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, exc_type, *rest) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


class Recorder:
    """Records the lamp to an MP4 while it plays: frames are queued and encoded on a thread.

    When the encoder falls behind, frames are dropped (and counted) rather than
    stalling the draw loop.
    """

    def __init__(self, path, size: tuple[int, int], fps: int = 60):
        import queue
        import threading

        self.writer = VideoWriter(path, size, fps=fps)
        self.fps = fps
        self.dropped = 0
        self.error = ""
        self._queue: queue.Queue = queue.Queue(maxsize=fps * 2)
        self._full = queue.Full
        self._thread = threading.Thread(target=self._run, name="lamp-recorder", daemon=True)
        self._thread.start()

    def add(self, image: np.ndarray) -> None:
        try:
            self._queue.put_nowait(image)
        except self._full:
            self.dropped += 1

    def seconds(self) -> float:
        return self.writer.frames / self.fps

    def _run(self) -> None:
        while (image := self._queue.get()) is not None:
            if self.error:
                continue
            try:
                self.writer.write(image)
            except Exception as exc:
                self.error = f"recording failed: {exc}."

    def stop(self) -> Path | None:
        """Finish the file; returns its path (None if nothing could be written)."""
        self._queue.put(None)
        self._thread.join()
        if self.error or self.writer.frames == 0:
            self.writer.abort()
            return None
        return self.writer.close()
