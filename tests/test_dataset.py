"""Training clips: windows inside segments, the on-disk dataset format, the simulator cache and live stream."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from duralava.models.dataset import (
    ClipSampler, DatasetError, FrameSet, LiveLampStream, open_frames, simulated_dataset, still_pixels, to_clips,
    write_frames,
)


def numbered_frames(n: int, size: int = 8) -> np.ndarray:
    """Frame i is filled with the value i (n <= 256), with a bright left edge to show mirroring."""
    frames = np.repeat(np.arange(n, dtype=np.uint8)[:, None, None, None], size, 1)
    frames = np.repeat(np.repeat(frames, size, 2), 3, 3).copy()
    frames[:, :, 0, 1] = 255
    return frames


def test_windows_never_cross_a_segment():
    fs = FrameSet(numbered_frames(30), [10, 3, 17])
    starts = fs.window_starts(seq=4, stride=2)   # a clip spans 7 frames
    assert set(starts.tolist()) == set(range(0, 4)) | set(range(13, 24))
    assert len(fs.window_starts(seq=20)) == 0


def test_sampler_gives_consecutive_frames_in_range(tmp_path):
    frames = numbered_frames(60)
    write_frames(tmp_path / "d", frames, [25, 35], {"source": "test"})
    fs = open_frames(tmp_path / "d")
    sampler = ClipSampler(fs, batch=16, seq=5, stride=3, seed=1, mirror=False)
    clips = next(sampler)
    assert clips.shape == (16, 5, 3, 8, 8) and clips.dtype == torch.float32
    assert 0 <= clips.min() and clips.max() <= 1
    index = (clips[:, :, 1, 4, 4] * 255).round().long()      # (B, T): the frame numbers
    assert torch.all(index[:, 1:] - index[:, :-1] == 3)
    first, last = index[:, 0], index[:, -1]
    assert torch.all((last < 25) | (first >= 25))             # never across the boundary at 25


def test_sampler_mirrors_whole_clips_and_replays_from_its_state(tmp_path):
    fs = FrameSet(numbered_frames(40), [40])
    sampler = ClipSampler(fs, batch=64, seq=3, seed=2)
    state = json.loads(json.dumps(sampler.state()))          # the state survives JSON (it goes in the state file)
    clips = next(sampler)
    left = clips[:, :, 1, :, 0] > 0.99                        # (B, T, S): bright column on the left
    right = clips[:, :, 1, :, -1] > 0.99
    assert left.all(dim=(1, 2)).any() and right.all(dim=(1, 2)).any()
    assert torch.all(left.all(dim=(1, 2)) ^ right.all(dim=(1, 2)))   # each clip entirely one way
    sampler.set_state(state)
    assert torch.equal(next(sampler), clips)


def test_clip_conversion_layout():
    u8 = np.zeros((2, 3, 4, 4, 3), np.uint8)
    u8[1, 2, 0, 3, 2] = 255
    clips = to_clips(u8)
    assert clips.shape == (2, 3, 3, 4, 4) and clips[1, 2, 2, 0, 3] == 1.0 and clips.sum() == 1.0


def test_sampler_refuses_clips_longer_than_any_segment():
    with pytest.raises(DatasetError, match="long enough"):
        ClipSampler(FrameSet(numbered_frames(10), [5, 5]), batch=2, seq=6)


def test_write_is_atomic_and_round_trips(tmp_path):
    frames = numbered_frames(12)
    out = write_frames(tmp_path / "set", frames, [12], {"source": "test", "note": "x"})
    write_frames(out, frames[:6], [6], {"source": "again"})      # replace in place
    fs = open_frames(out)
    assert np.array_equal(np.asarray(fs.frames), frames[:6]) and fs.segments == [6]
    assert fs.meta["format"] == "duralava-frames" and fs.meta["source"] == "again" and fs.meta["size"] == 8
    assert sorted(p.name for p in tmp_path.iterdir()) == ["set"]


@pytest.mark.parametrize("damage, match", [
    ("nothing", "is not a directory"),
    ("no_meta", "needs both meta.json and frames.npy"),
    ("bad_json", "not valid JSON"),
    ("wrong_format", "not a duralava frames dataset"),
    ("pickled", "unreadable frames.npy"),
    ("float_frames", "uint8 frames"),
    ("segments", "segments summing"),
])
def test_bad_datasets_give_one_sentence(tmp_path, damage, match):
    d = tmp_path / "d"
    if damage != "nothing":
        write_frames(d, numbered_frames(10), [10], {"source": "test"})
    meta = json.loads((d / "meta.json").read_text()) if d.exists() else {}
    if damage == "no_meta":
        (d / "meta.json").unlink()
    elif damage == "bad_json":
        (d / "meta.json").write_text("{not json")
    elif damage == "wrong_format":
        (d / "meta.json").write_text(json.dumps({**meta, "format": "something-else"}))
    elif damage == "pickled":
        np.save(d / "frames.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    elif damage == "float_frames":
        np.save(d / "frames.npy", np.zeros((10, 8, 8, 3), np.float32))
    elif damage == "segments":
        (d / "meta.json").write_text(json.dumps({**meta, "segments": [4, 4]}))
    with pytest.raises(DatasetError, match=match) as info:
        open_frames(d)
    assert str(info.value).endswith(".") and "\n" not in str(info.value)


def test_simulated_dataset_is_cached(tmp_path):
    a = simulated_dataset(tmp_path / "cache", n_frames=12, size=16, seed=3, progress=False)
    assert a.frames.shape == (12, 16, 16, 3) and sum(a.segments) == 12
    assert a.meta["source"] == "simulator" and a.meta["preset"] == "classic"
    stamp = (tmp_path / "cache" / "frames.npy").stat().st_mtime_ns
    b = simulated_dataset(tmp_path / "cache", n_frames=12, size=16, seed=3, progress=False)
    assert (tmp_path / "cache" / "frames.npy").stat().st_mtime_ns == stamp   # reused, not made again
    assert np.array_equal(np.asarray(a.frames), np.asarray(b.frames))
    c = simulated_dataset(tmp_path / "cache", n_frames=12, size=16, seed=4, progress=False)
    assert not np.array_equal(np.asarray(a.frames), np.asarray(c.frames))  # a new request makes new frames
    with pytest.raises(DatasetError, match="no simulator preset"):
        simulated_dataset(tmp_path / "x", n_frames=4, preset="no-such-lamp")


def test_live_stream_moves_on():
    stream = LiveLampStream(batch=2, seq=3, size=16, seed=5)
    a, b = next(stream), next(stream)
    assert a.shape == b.shape == (2, 3, 3, 16, 16)
    assert 0 <= a.min() and a.max() <= 1
    assert (a[:, 1:] - a[:, :-1]).abs().mean() > 0      # the wax moves within a clip
    assert not torch.equal(a, b)                        # and the next clip continues, not repeats


def test_still_pixels_are_the_ones_no_frame_changes(tmp_path):
    n, size = 40, 16
    frames = np.empty((n, size, size, 3), np.uint8)
    frames[:] = (60, 20, 90)
    frames[:, :, 10:] = (10, 10, 10)                       # a second, darker still part
    for i in range(n):                                     # a square wanders down rows 2..9, columns 4..7
        frames[i, 2 + i % 5:5 + i % 5, 4:8] = (250, 120, 30)
    frames[33, 0, 15, 2] = 11                              # one channel of one pixel, once
    expected = np.ones((size, size), bool)
    expected[2:9, 4:8] = False
    expected[0, 15] = False
    path = write_frames(tmp_path / "still", frames, [n], {"source": "test"})
    for source, chunk in ((frames, 2048), (open_frames(path).frames, 7)):   # in memory, and a memory map in blocks
        mask, colours = still_pixels(source, chunk=chunk)
        assert mask.dtype == bool and np.array_equal(mask, expected)
        assert np.array_equal(colours[mask], frames[0][mask]) and colours.flags.writeable
    assert tuple(colours[0, 0]) == (60, 20, 90) and tuple(colours[0, 12]) == (10, 10, 10)
    # Footage: sensor noise leaves no pixel still.
    noisy = np.clip(frames.astype(int) + np.random.default_rng(0).integers(-2, 3, frames.shape), 0, 255)
    assert not still_pixels(noisy.astype(np.uint8))[0].any()
    with pytest.raises(DatasetError, match="still pixels need frames"):
        still_pixels(frames[..., 0])
    with pytest.raises(DatasetError, match="still pixels need frames"):
        still_pixels(frames[:0])
