"""Headless export: the files it writes, what is in them, and clear refusals of bad requests."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from duralava.app.headless import ExportConfig, HeadlessError, export

pytestmark = pytest.mark.gl


def test_export_writes_frames_latents_picture_and_video(tmp_path, lamp_file):
    import av
    from PIL import Image

    out = tmp_path / "run"
    summary = export(ExportConfig(ticks=7, out=out, keep_every=3, checkpoint=str(lamp_file), seed=2,
                                  size=(96, 64), video=out / "lamp.mp4", tick_rate=12.0),
                     progress=False)
    frames, latents = np.load(out / "frames.npy"), np.load(out / "latents.npy")
    assert frames.shape == (3, 64, 64, 3) and frames.dtype == np.uint8      # ticks 0, 3, 6
    assert latents.shape == (3, 64) and latents.dtype == np.float32
    assert np.allclose(latents.std(axis=1), 1, atol=1e-3)
    assert frames.std() > 10 and np.abs(frames[0].astype(int) - frames[2]).mean() > 0
    picture = np.asarray(Image.open(out / "display.png").convert("RGB"))
    assert picture.shape == (64, 96, 3)
    assert picture[:, :16].max() == 0 and picture[:, 16:80].std() > 10  # lamp centred, bars black
    with av.open(str(out / "lamp.mp4")) as video:
        stream = video.streams.video[0]
        assert (stream.width, stream.height) == (96, 64)
        assert sum(1 for _ in video.decode(stream)) == summary["video_frames"] == 35  # 7 ticks at 12 Hz, 60 fps
    assert sorted(p.name for p in out.iterdir()) == ["display.png", "frames.npy", "lamp.mp4", "latents.npy"]


@pytest.mark.parametrize("interpolation", ["none", "crossfade", "motion", "flow"])
def test_every_interpolation_exports(tmp_path, lamp_file, interpolation):
    summary = export(ExportConfig(ticks=3, out=tmp_path, checkpoint=str(lamp_file), size=(32, 32),
                                  video=tmp_path / "v.mp4", tick_rate=20.0, interpolation=interpolation),
                     progress=False)
    assert summary["video_frames"] == 9 and (tmp_path / "v.mp4").stat().st_size > 0


def test_the_same_seed_exports_the_same_frames(tmp_path, lamp_file):
    for name in ("a", "b"):
        export(ExportConfig(ticks=3, out=tmp_path / name, checkpoint=str(lamp_file), seed=5, size=(32, 32)),
               progress=False)
    assert np.array_equal(np.load(tmp_path / "a" / "frames.npy"), np.load(tmp_path / "b" / "frames.npy"))
    assert (tmp_path / "a" / "display.png").read_bytes() == (tmp_path / "b" / "display.png").read_bytes()


@pytest.mark.parametrize("change, words", [
    ({"ticks": 0}, "--ticks"),
    ({"keep_every": 0}, "--keep-every"),
    ({"size": (8, 8)}, "--size"),
    ({"video": Path("lamp.avi")}, ".mp4"),
    ({"upscaler": "magic"}, "unknown upscaler"),
])
def test_bad_requests_are_refused_before_anything_is_written(tmp_path, change, words):
    cfg = ExportConfig(out=tmp_path / "run", **{"ticks": 2, "size": (32, 32), **change})
    with pytest.raises(HeadlessError, match=words):
        export(cfg, progress=False)
    assert not (tmp_path / "run").exists()


def test_a_bad_checkpoint_is_an_error_and_leaves_no_files(tmp_path):
    pickle = tmp_path / "lamp.pt"
    pickle.write_bytes(b"\x80\x04\x95" + b"\0" * 100)
    with pytest.raises(HeadlessError) as info:
        export(ExportConfig(ticks=2, out=tmp_path / "run", checkpoint=str(pickle), size=(32, 32)),
               progress=False)
    assert str(pickle) in str(info.value)
    assert not any((tmp_path / "run").iterdir())


@pytest.mark.slow
def test_command_line_export_and_its_refusal(tmp_path, lamp_file):
    cmd = [sys.executable, "-m", "duralava.app.viewer", "--headless", "--ticks", "2",
           "--out", str(tmp_path / "cli"), "--size", "32x32", "--checkpoint", str(lamp_file)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-1500:]
    assert (tmp_path / "cli" / "display.png").is_file()
    bad = subprocess.run(cmd[:-1] + [str(tmp_path / "missing.safetensors")],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1
    last = bad.stderr.strip().splitlines()[-1]
    assert last.startswith("duralava-viewer: ") and "missing.safetensors" in last


@pytest.mark.parametrize("display", [None, ":93"])  # none set, or one that is not there
def test_without_a_display_the_window_mode_says_what_to_do(display):
    env = {k: v for k, v in __import__("os").environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    if display and not Path(f"/tmp/.X11-unix/X{display[1:]}").exists():
        env["DISPLAY"] = display
    done = subprocess.run([sys.executable, "-m", "duralava.app.viewer"], capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 1
    assert len(done.stderr.strip().splitlines()) == 1
    assert "xvfb-run" in done.stderr and "--headless" in done.stderr


@pytest.mark.slow
def test_benchmark_prints_its_figures(lamp_file):
    done = subprocess.run([sys.executable, "-m", "duralava.app.viewer", "--benchmark", "--checkpoint",
                           str(lamp_file), "--bench-seconds", "1", "--bench-frames", "2", "--size", "320x240"],
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    for words in ("blit", "interpolate + lava", "spikes >2x median", "engine thread CPU"):
        assert words in done.stdout
