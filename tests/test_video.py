"""MP4 writing: real files decoded back with PyAV; bad inputs leave nothing behind."""
from __future__ import annotations

import av
import numpy as np
import pytest

from duralava.models.video import VideoError, write_mp4

RED, BLUE = (220, 40, 30), (30, 40, 220)


def _frames(n, size=64):
    for i in range(n):
        f = np.zeros((size, size, 3), np.uint8)
        f[:] = RED if i < n // 2 else BLUE
        yield f


def _decode(path):
    with av.open(str(path)) as c:
        return [fr.to_ndarray(format="rgb24") for fr in c.decode(video=0)]


def test_written_mp4_decodes_to_the_same_frames(tmp_path):
    path = tmp_path / "lamp.mp4"
    write_mp4(path, _frames(30), fps=20)
    frames = _decode(path)
    assert len(frames) == 30 and frames[0].shape == (64, 64, 3)
    assert np.abs(frames[3].mean(axis=(0, 1)) - RED).max() < 12
    assert np.abs(frames[-3].mean(axis=(0, 1)) - BLUE).max() < 12
    assert [p.name for p in tmp_path.iterdir()] == ["lamp.mp4"]
    with av.open(str(path)) as c:
        assert float(c.streams.video[0].average_rate) == pytest.approx(20)


def test_size_rescales_and_odd_sides_become_even(tmp_path):
    write_mp4(tmp_path / "big.mp4", _frames(4), size=(128, 96))
    assert _decode(tmp_path / "big.mp4")[0].shape == (96, 128, 3)
    odd = (np.full((33, 31, 3), 128, np.uint8) for _ in range(3))
    write_mp4(tmp_path / "odd.mp4", odd)
    assert _decode(tmp_path / "odd.mp4")[0].shape == (34, 32, 3)


def test_bad_inputs_are_clear_and_leave_nothing(tmp_path):
    path = tmp_path / "x.mp4"
    with pytest.raises(VideoError, match="no frames"):
        write_mp4(path, [])
    with pytest.raises(VideoError, match="uint8"):
        write_mp4(path, [np.zeros((8, 8, 3), np.float32)])
    with pytest.raises(VideoError, match="first frame"):
        write_mp4(path, [np.zeros((8, 8, 3), np.uint8), np.zeros((10, 8, 3), np.uint8)])
    with pytest.raises(VideoError, match=r"\.mp4"):
        write_mp4(tmp_path / "x.avi", _frames(2))
    with pytest.raises(VideoError, match="fps"):
        write_mp4(path, _frames(2), fps=0)
    with pytest.raises(VideoError, match="does not exist"):
        write_mp4(tmp_path / "nowhere" / "x.mp4", _frames(2))

    def broken():
        yield from _frames(5)
        raise RuntimeError("camera unplugged")

    with pytest.raises(RuntimeError, match="unplugged"):
        write_mp4(path, broken())
    assert list(tmp_path.iterdir()) == []


def test_replaces_an_existing_file_only_when_done(tmp_path):
    path = tmp_path / "lamp.mp4"
    path.write_bytes(b"old")
    write_mp4(path, _frames(6))
    assert len(_decode(path)) == 6
