"""Importing footage: videos and frame folders become dataset directories, bad input says why."""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from duralava.models import import_cmd
from duralava.models.footage import FootageError, area_resize, import_footage


def block_mean(frame: np.ndarray, k: int) -> np.ndarray:
    h, w, _ = frame.shape
    return frame.reshape(h // k, k, w // k, k, 3).astype(np.float64).mean((1, 3))


def area_average(frame: np.ndarray, size: int) -> np.ndarray:
    """Reference area average for any factor: each output pixel weighs source pixels by overlap."""
    def weights(n):
        edges = np.linspace(0, n, size + 1)
        lo, hi = edges[:-1, None], edges[1:, None]
        px = np.arange(n)[None]
        overlap = np.clip(np.minimum(hi, px + 1) - np.maximum(lo, px), 0, None)   # (size, n)
        return overlap / overlap.sum(1, keepdims=True)
    wy, wx = weights(frame.shape[0]), weights(frame.shape[1])
    return np.einsum("yh,hwc,xw->yxc", wy, frame.astype(np.float64), wx, optimize=True)


def write_video(path: Path, frames: np.ndarray, fps: int = 25) -> None:
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=fps)
        s.height, s.width = frames.shape[1:3]
        s.pix_fmt = "yuv444p"          # full-resolution colour: the test compares colours
        s.options = {"crf": "10"}
        for f in frames:
            for p in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)


def moving_blocks(n: int, h: int, w: int) -> np.ndarray:
    """Smooth-edged coloured squares sliding over a purple liquid."""
    frames = np.zeros((n, h, w, 3), np.uint8)
    frames[:] = (90, 30, 120)
    for i in range(n):
        frames[i, 16:48, 8 + 2 * i:40 + 2 * i] = (250, 140, 20)
        frames[i, 56:80, w - 40 - i:w - 16 - i] = (240, 220, 60)
    return frames


def write_folder(folder: Path, frames: np.ndarray, fmt: str = "png") -> None:
    folder.mkdir(parents=True)
    for i, f in enumerate(frames):
        Image.fromarray(f).save(folder / f"image{i + 1:07d}.{fmt}")


def load(out: Path):
    return np.load(out / "frames.npy", mmap_mode="r"), json.loads((out / "meta.json").read_text())


def test_video_round_trip(tmp_path):
    src = moving_blocks(12, 96, 96)
    write_video(tmp_path / "lamp.mp4", src)
    out = import_footage(tmp_path / "lamp.mp4", tmp_path / "data", size=48)
    frames, meta = load(out)
    assert frames.shape == (12, 48, 48, 3) and frames.dtype == np.uint8
    assert meta["format"] == "duralava-frames" and meta["version"] == 1
    assert meta["source"] == "footage" and meta["frames"] == 12 and meta["segments"] == [12]
    assert meta["size"] == 48 and meta["fit"] == "crop" and meta["fps"] == pytest.approx(25)
    assert meta["origin"] == str((tmp_path / "lamp.mp4").resolve())
    umask = os.umask(0)
    os.umask(umask)
    assert (out.stat().st_mode & 0o777) == 0o777 & ~umask      # not the temp folder's private mode
    sheet = np.asarray(Image.open(out / "preview.png"))        # 4 x 2 frames, each shown at 144 px
    assert sheet.shape == (2 * 144, 4 * 144, 3)
    assert np.abs(sheet[:144, :144].astype(int) - frames[0].repeat(3, 0).repeat(3, 1)).max() == 0
    expected = np.stack([block_mean(f, 2) for f in src])
    # H.264 is lossy even at high quality; the blocks must still be where and what colour they were.
    assert np.abs(frames - expected).mean() < 3
    assert np.abs(frames - expected).max() < 60


def test_png_folder_round_trip_integer_and_fractional_factors(tmp_path):
    rng = np.random.default_rng(0)
    src = rng.integers(0, 256, (5, 128, 128, 3), dtype=np.uint8)
    write_folder(tmp_path / "shots", src)
    frames, meta = load(import_footage(tmp_path / "shots", tmp_path / "a", size=64))
    assert frames.shape == (5, 64, 64, 3) and meta["fps"] == 20
    assert np.abs(frames - np.stack([block_mean(f, 2) for f in src])).max() <= 1
    frames, _ = load(import_footage(tmp_path / "shots", tmp_path / "b", size=48))   # 128/48: not integer
    assert np.abs(frames - np.stack([area_average(f, 48) for f in src])).max() <= 1
    up = area_resize(src[0][:16, :16], 24)   # upscaling also averages by overlap
    assert np.abs(up - area_average(src[0][:16, :16], 24)).max() <= 1


def test_original_layout_natural_order_every_and_max_frames(tmp_path):
    src = np.stack([np.full((32, 32, 3), 10 * i, np.uint8) for i in range(12)])
    (tmp_path / "lamp").mkdir()
    for i, f in enumerate(src):            # unpadded names: image10 must come after image9
        Image.fromarray(f).save(tmp_path / "lamp" / f"image{i}.png")
    (tmp_path / "lamp" / "notes.txt").write_text("not a frame")
    frames, meta = load(import_footage(tmp_path / "lamp", tmp_path / "a", size=8, every=3, fps=30))
    assert [int(f[0, 0, 0]) for f in frames] == [0, 30, 60, 90]
    assert meta["fps"] == pytest.approx(10) and meta["every"] == 3
    frames, _ = load(import_footage(tmp_path / "lamp", tmp_path / "b", size=8, max_frames=5))
    assert [int(f[0, 0, 0]) for f in frames] == [0, 10, 20, 30, 40]
    outer = tmp_path / "capture"           # a folder holding frames/ (the original duralava layout)
    write_folder(outer / "frames", src[:3])
    assert load(import_footage(outer, tmp_path / "c", size=8))[0].shape == (3, 8, 8, 3)


def test_crop_and_letterbox_geometry(tmp_path):
    # 60 rows x 120 columns: red | green | blue thirds inside a grey 2-pixel border.
    f = np.zeros((60, 120, 3), np.uint8)
    f[:, :30], f[:, 30:90], f[:, 90:] = (255, 0, 0), (0, 255, 0), (0, 0, 255)
    f[:2], f[-2:], f[:, :2], f[:, -2:] = 128, 128, 128, 128
    write_folder(tmp_path / "wide", f[None])
    crop, _ = load(import_footage(tmp_path / "wide", tmp_path / "c", size=30, fit="crop"))
    # The centre square is columns 30..89: all green apart from the grey top and bottom rows.
    assert (crop[0, 2:-2] == (0, 255, 0)).all()
    box, meta = load(import_footage(tmp_path / "wide", tmp_path / "l", size=30, fit="letterbox"))
    assert meta["fit"] == "letterbox"
    box = box[0].astype(int)
    # 120x120 padded square, image in rows 30..89 -> output rows 7.5..22.5; the pad is the grey edge.
    assert (np.abs(box[:7] - 128) <= 1).all() and (np.abs(box[23:] - 128) <= 1).all()
    assert (box[10:20, 2:7] == (255, 0, 0)).all() and (box[10:20, 24:28] == (0, 0, 255)).all()
    assert (box[10:20, 9:21] == (0, 255, 0)).all()


def _parser():
    p = argparse.ArgumentParser(prog="duralava import")
    import_cmd.add_arguments(p)
    return p


def _bad_inputs(tmp: Path) -> dict[str, tuple[list[str], str]]:
    """name -> (command line arguments, words the error must contain)."""
    ok = moving_blocks(3, 64, 64)
    (tmp / "notes.mp4").write_text("this is not a video\n" * 20)
    write_folder(tmp / "corrupt", ok)
    (tmp / "corrupt" / "image0000002.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    write_folder(tmp / "truncated", ok)
    data = (tmp / "truncated" / "image0000003.png").read_bytes()
    (tmp / "truncated" / "image0000003.png").write_bytes(data[: len(data) // 2])
    (tmp / "empty").mkdir()
    write_folder(tmp / "mixed", ok)
    Image.fromarray(ok[0, :50]).save(tmp / "mixed" / "image0000002.png")
    Image.fromarray(ok[0, :40]).save(tmp / "mixed" / "image0000003.png")
    write_folder(tmp / "good", ok)
    (tmp / "taken").mkdir()
    (tmp / "taken" / "keep.txt").write_text("mine")
    return {
        "missing": ([str(tmp / "nowhere.mp4"), str(tmp / "o")], "does not exist"),
        "not a video": ([str(tmp / "notes.mp4"), str(tmp / "o")], "not a video"),
        "corrupt image": ([str(tmp / "corrupt"), str(tmp / "o")], "image0000002.png is not a readable image"),
        "truncated image": ([str(tmp / "truncated"), str(tmp / "o")], "image0000003.png is not a readable image"),
        "empty folder": ([str(tmp / "empty"), str(tmp / "o")], "no PNG or JPEG"),
        "mixed sizes": ([str(tmp / "mixed"), str(tmp / "o")], "image0000002.png is 64x50"),
        "out not empty": ([str(tmp / "good"), str(tmp / "taken")], "not empty"),
        "out is the source": ([str(tmp / "good"), str(tmp), "--force"], "holds the footage itself"),
        "size too small": ([str(tmp / "good"), str(tmp / "o"), "--size", "4"], "at least 8"),
        "nested out": ([str(tmp / "empty"), str(tmp / "new" / "deeper" / "o")], "no PNG or JPEG"),
    }


def test_every_bad_input_gives_one_sentence_exit_2_and_leaves_nothing(tmp_path, capsys):
    cases = _bad_inputs(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    for name, (argv, words) in cases.items():
        code = import_cmd.run(_parser().parse_args(argv))
        err = capsys.readouterr().err
        assert code == 2, name
        last = err.strip().splitlines()[-1]    # the progress bar may stand above it
        assert last.startswith("duralava import: ") and words in last, (name, err)
        assert last.count(". ") == 0 and last.endswith("."), (name, last)
        assert sorted(p.name for p in tmp_path.iterdir()) == before, name
        assert (tmp_path / "taken" / "keep.txt").read_text() == "mine"
    with pytest.raises(SystemExit) as e:          # not an integer: argparse's usage error, exit 2
        _parser().parse_args([str(tmp_path / "good"), str(tmp_path / "o"), "--size", "sixty"])
    assert e.value.code == 2 and "expected an integer" in capsys.readouterr().err
    with pytest.raises(FootageError, match="integer of at least 8"):
        import_footage(tmp_path / "good", tmp_path / "o", size=32.5)


def test_force_replaces_a_non_empty_out(tmp_path, capsys):
    _bad_inputs(tmp_path)
    assert import_cmd.run(_parser().parse_args([str(tmp_path / "good"), str(tmp_path / "taken"),
                                                "--size", "16", "--force"])) == 0
    assert "wrote 3 frames" in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "taken").iterdir()) == ["frames.npy", "meta.json", "preview.png"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_import_through_the_duralava_command(tmp_path, capsys):
    from duralava.models.cli import main

    write_folder(tmp_path / "shots", moving_blocks(4, 64, 96))
    assert main(["import", str(tmp_path / "shots"), str(tmp_path / "data"), "--fit", "letterbox",
                 "--size", "32"]) == 0
    assert "wrote 4 frames of 32x32 (letterbox" in capsys.readouterr().out
    assert main(["import", str(tmp_path / "nowhere"), str(tmp_path / "other")]) == 2
    assert capsys.readouterr().err.strip().endswith("nowhere does not exist.")
    assert not (tmp_path / "other").exists()
