"""`duralava sim`: a loadable dataset, PNGs, a preview, and clean failures."""
from __future__ import annotations

import json
import subprocess
import sys

import av
import numpy as np
import pytest
from PIL import Image

from duralava.models.cli import main


def test_sim_writes_dataset_pngs_and_preview(tmp_path):
    out = tmp_path / "lamp"
    rc = main(["sim", str(out), "--frames", "12", "--lamps", "2", "--seed", "7",
               "--workers", "1", "--png", "--mp4", "--palette", "ocean"])
    assert rc == 0
    frames = np.load(out / "frames.npy", mmap_mode="r")
    assert frames.shape == (12, 64, 64, 3) and frames.dtype == np.uint8
    meta = json.loads((out / "meta.json").read_text())
    assert meta["format"] == "duralava-frames" and meta["version"] == 1
    assert meta["source"] == "sim" and meta["size"] == 64 and meta["frames"] == 12
    assert meta["segments"] == [6, 6] and meta["seed"] == 7 and meta["palette"] == "ocean"
    assert meta["stride"] >= 1 and meta["params"]["nx"] > 0

    pngs = sorted((out / "frames").iterdir())
    assert [p.name for p in pngs[:2]] == ["image0000001.png", "image0000002.png"] and len(pngs) == 12
    assert np.array_equal(np.asarray(Image.open(pngs[4])), frames[4])

    with av.open(str(out / "preview.mp4")) as c:
        video = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(video) == 6                           # the first lamp's frames
    small = video[0].reshape(64, 4, 64, 4, 3).mean(axis=(1, 3))
    assert np.abs(small - frames[0]).mean() < 12     # the same picture, upscaled
    # The liquid is blue in the ocean palette.
    centre = frames[:, 30:40, 28:36].reshape(-1, 3).mean(axis=0)
    assert centre[2] > centre[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lamp"]


def test_force_replaces_and_refusal_keeps_the_old_dataset(tmp_path, capsys):
    out = tmp_path / "lamp"
    assert main(["sim", str(out), "--frames", "3", "--workers", "1"]) == 0
    before = (out / "frames.npy").read_bytes()
    assert main(["sim", str(out), "--frames", "4", "--workers", "1"]) == 2
    assert "--force" in capsys.readouterr().err
    assert (out / "frames.npy").read_bytes() == before
    assert main(["sim", str(out), "--frames", "4", "--workers", "1", "--force", "--seed", "1"]) == 0
    assert np.load(out / "frames.npy").shape[0] == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lamp"]


@pytest.mark.parametrize("argv, words", [
    (["--palette", "plaid"], "unknown palette"),
    (["--preset", "lukewarm"], "unknown preset"),
    (["--size", "5000"], "--size"),
    (["--fps", "0"], "--fps"),
])
def test_bad_choices_fail_cleanly(tmp_path, capsys, argv, words):
    out = tmp_path / "lamp"
    assert main(["sim", str(out), "--frames", "2"] + argv) == 2
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("argv", [["--frames", "0"], ["--frames", "ten"], ["--stride", "-1"],
                                  ["--lamps", "0"], ["--workers", "1.5"]])
def test_bad_numbers_exit_2_with_nothing_written(tmp_path, argv):
    out = tmp_path / "lamp"
    r = subprocess.run([sys.executable, "-m", "duralava.models.cli", "sim", str(out)] + argv,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert "error" in r.stderr and argv[0] in r.stderr
    assert list(tmp_path.iterdir()) == []

