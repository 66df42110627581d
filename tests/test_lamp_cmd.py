"""`duralava lamp`: showing a lamp file, and copies that play with other settings."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from duralava.models import cli
from duralava.models.checkpoint import load_lamp, random_lamp, save_lamp
from duralava.models.rnn import RNNConfig


@pytest.fixture()
def lamp_file(tmp_path):
    """A small lamp as training writes one: a driven RNN, provenance, a check's score."""
    lamp = random_lamp(seed=3)
    lamp.rnn.config = RNNConfig(drive=1.0, wander=0.15, warmup=10)
    meta = {k: v for k, v in lamp.meta.items() if k not in ("generator", "rnn")}
    meta.update(steps=1234, wall_time_s=600.0, command="duralava train --out runs/x",
                judged={"score": 7.2, "step": 1200, "frame_start": 3.8, "clip_start": 10.9})
    path = tmp_path / "lamp.safetensors"
    save_lamp(path, lamp.generator, lamp.rnn, meta)
    return path


def lamp(*args: str) -> int:
    return cli.main(["lamp", *map(str, args)])


def test_show_prints_how_the_lamp_plays_and_where_it_came_from(lamp_file, capsys):
    assert lamp(lamp_file) == 0
    out = capsys.readouterr().out
    assert "drive 1, wander 0.15, warm-up 10 ticks" in out
    assert "1,234 steps, 10.0 min" in out and "duralava train --out runs/x" in out
    assert "7.2x the floor at step 1,200" in out and "retuned" not in out and "colour curve off" in out


def test_a_copy_plays_with_the_new_wander_and_keeps_every_weight(lamp_file, tmp_path, capsys):
    new = tmp_path / "w20.safetensors"
    assert lamp(lamp_file, "--wander", "0.2", "--out", new) == 0
    assert f"wrote {new}" in capsys.readouterr().out
    before, after = load_lamp(lamp_file), load_lamp(new)
    assert after.rnn.config.wander == 0.2 and after.rnn.config.drive == 1.0 and after.rnn.config.warmup == 10
    old_t, new_t = load_file(str(lamp_file)), load_file(str(new))
    assert old_t.keys() == new_t.keys() and all(torch.equal(old_t[k], new_t[k]) for k in old_t)
    # Training provenance stays as it was; the change is on record beside it.
    for key in ("steps", "wall_time_s", "command", "judged", "created", "data"):
        assert after.meta[key] == before.meta[key]
    (entry,) = after.meta["retuned"]
    assert entry["changed"] == {"wander": [0.15, 0.2]}
    assert entry["command"].startswith("duralava lamp ") and "--wander 0.2" in entry["command"]
    # The same latent and noise now take a different step: the wander is really in play.
    z, noise = torch.randn(2, 64), torch.randn(2, 64)
    with torch.no_grad():
        assert not torch.allclose(before.rnn(z, noise), after.rnn(z, noise))
        assert torch.equal(before.generator(z), after.generator(z))


def test_the_viewer_panel_says_how_a_copy_plays_and_that_it_was_retuned(lamp_file, tmp_path):
    from duralava.app.widgets.checkpoint import about

    assert about(load_lamp(lamp_file).meta) == ["1234 training steps, data: untrained",
                                             "plays with drive 1, wander 0.15"]
    copy = tmp_path / "wider.safetensors"
    assert lamp(lamp_file, "--wander", "0.2", "--out", copy) == 0
    lines = about(load_lamp(copy).meta)
    assert lines[1:] == ["plays with drive 1, wander 0.2", "retuned: wander 0.15 -> 0.2"]


def test_copies_of_copies_keep_the_whole_history_and_fp16_halves_the_file(lamp_file, tmp_path):
    first, second = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    assert lamp(lamp_file, "--warmup", "50", "--out", first) == 0
    assert lamp(first, "--drive", "0.5", "--fp16", "--out", second) == 0
    meta = load_lamp(second).meta
    assert [e["changed"] for e in meta["retuned"]] == [{"warmup": [10, 50]}, {"drive": [1.0, 0.5]}]
    assert meta["retuned"][1]["dtype"] == "float16" and meta["dtype"] == "float16"
    with safe_open(str(second), "pt") as f:
        assert all(f.get_tensor(k).dtype == torch.float16 for k in f.keys() if f.get_tensor(k).is_floating_point())
        assert json.loads(f.metadata()["lamp"])["rnn"]["drive"] == 0.5
    assert second.stat().st_size < 0.6 * first.stat().st_size


@pytest.mark.parametrize("args, match", [
    (["--wander", "0.2"], "pass --out NEW"),
    (["--out", "{tmp}/x.safetensors"], "--out needs something to change"),
    (["--wander", "2", "--out", "{tmp}/x.safetensors"], "wander must be a number from 0 to 1"),
    (["--warmup", "-5", "--out", "{tmp}/x.safetensors"], "warmup must be a whole number"),
    (["--wander", "0.15", "--out", "{tmp}/x.safetensors"], "already plays with those settings"),
    (["--wander", "0.2", "--out", "{lamp}"], "must be a new file"),
    (["--wander", "0.2", "--out", "{tmp}/taken.safetensors"], "exists; pass --force"),
    (["--data", "{tmp}", "--wander", "0.2", "--out", "{tmp}/x.safetensors"], "pass both or neither"),
    (["--fit-colours", "--out", "{tmp}/x.safetensors"], "pass --data DIR to fit its colours to"),
    (["--fit-colours", "--data", "{tmp}/none", "--out", "{tmp}/x.safetensors"], "none"),
    (["--fit-colours", "--data", "{small}", "--out", "{tmp}/x.safetensors"], "32 pixels wide, the lamp's 64"),
])
def test_bad_requests_give_one_sentence_and_touch_nothing(lamp_file, lamp_data, tmp_path, capsys, args, match):
    taken = tmp_path / "taken.safetensors"
    taken.write_bytes(b"keep me")
    original = lamp_file.read_bytes()
    args = [a.format(tmp=tmp_path, lamp=lamp_file, small=lamp_data) for a in args]
    assert lamp(lamp_file, *args) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and match in err[0], err
    assert lamp_file.read_bytes() == original and taken.read_bytes() == b"keep me"
    assert not (tmp_path / "x.safetensors").exists()


def test_force_replaces_an_existing_copy(lamp_file, tmp_path):
    out = tmp_path / "taken.safetensors"
    out.write_bytes(b"old")
    assert lamp(lamp_file, "--wander", "0.2", "--out", out, "--force") == 0
    assert load_lamp(out).rnn.config.wander == 0.2


@pytest.mark.parametrize("content, match", [
    (b"\x80\x04not a lamp", "not a safetensors file"),
    (None, "is not a file"),
])
def test_a_file_that_is_not_a_lamp_is_one_sentence(tmp_path, capsys, content, match):
    path = tmp_path / "bad.safetensors"
    if content is not None:
        path.write_bytes(content)
    assert lamp(path, "--wander", "0.2", "--out", tmp_path / "x.safetensors") == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and match in err[0], err


def test_unreadable_records_in_a_file_do_not_stop_it_showing(tmp_path, capsys):
    lamp_ = random_lamp(seed=1)
    meta = {k: v for k, v in lamp_.meta.items() if k not in ("generator", "rnn")}
    meta.update(judged={"score": "high"}, retuned=[{"changed": {"wander": 3}}, "junk"])
    path = tmp_path / "odd.safetensors"
    save_lamp(path, lamp_.generator, lamp_.rnn, meta)
    assert lamp(path) == 0
    out = capsys.readouterr().out
    assert out.count("a record in the file that cannot be read") == 2 and "plays with" in out
    assert lamp(path, "--warmup", "5", "--out", tmp_path / "new.safetensors") == 0
    assert len(load_lamp(tmp_path / "new.safetensors").meta["retuned"]) == 2    # the dict kept, the string not


def disc_data(tmp_path):
    """A dataset of 240 64x64 frames (two clips of 120): an orange disc wandering over purple liquid, in
    flat colours. Returns the frames and the dataset's folder."""
    from duralava.models.dataset import write_frames

    n, s = 240, 64
    yy, xx = np.mgrid[0:s, 0:s]
    frames = np.empty((n, s, s, 3), np.uint8)
    frames[:] = (60, 20, 90)
    for i in range(n):
        wax = (yy - (0.5 + 0.3 * np.sin(i / 9)) * s) ** 2 + (xx - s / 2 - 8 * np.cos(i / 7)) ** 2 < 120
        frames[i][wax] = (250, 120, 30)
    return frames, write_frames(tmp_path / "data", frames, [120, 120], {"source": "test"})


def test_fitted_colours_spread_as_the_data_s_and_the_copy_says_so(lamp_file, tmp_path, capsys):
    from duralava.models.endurance import start_latents
    from duralava.models.features import WaxSegmenter
    from duralava.models.fidelity import lamp_frames

    frames, data = disc_data(tmp_path)
    out = tmp_path / "fitted.safetensors"
    assert lamp(lamp_file, "--fit-colours", "--data", data, "--out", out) == 0
    shown = capsys.readouterr().out
    assert f"colours fitted to {data} (33 knots, off-line scale " in shown and "--fit-colours --data" in shown
    assert "colour curve on" in shown
    before, after = load_lamp(lamp_file), load_lamp(out)
    assert after.generator.config.colour_knots == 33 and after.generator.colour_curve.fitted
    for name, t in before.generator.state_dict().items():                # every weight as it was
        assert torch.equal(after.generator.state_dict()[name], t), name
    curve = after.generator.colour_curve
    q = torch.linspace(0.05, 0.95, 19)
    where = torch.from_numpy(WaxSegmenter.fit(frames).active)          # the pixels the wax reaches

    def spread(x: torch.Tensor) -> torch.Tensor:
        return torch.quantile(curve.place(x)[:, where].reshape(-1), q)

    def played(generator) -> torch.Tensor:
        with torch.no_grad():
            f, _ = lamp_frames(before.rnn, generator, start_latents(before.rnn, 20, 64, first_seed=500), 4)
        return torch.from_numpy(f).permute(0, 3, 1, 2).float() / 255

    target = spread(torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255)
    gap_before = (spread(played(before.generator)) - target).abs().mean()
    gap_after = (spread(played(after.generator)) - target).abs().mean()
    assert gap_after < 0.5 * gap_before                                 # 0.16 against 0.42 when written


def test_colours_fitted_off_the_line_only_keep_every_pixel_s_side_of_the_wax(lamp_file, tmp_path, capsys):
    from duralava.models.endurance import start_latents
    from duralava.models.features import WaxSegmenter
    from duralava.models.fidelity import lamp_frames

    frames, data = disc_data(tmp_path)       # flat colours: the data's lie on the line from liquid to wax
    out = tmp_path / "offline.safetensors"
    assert lamp(lamp_file, "--fit-colours", "off-line", "--data", data, "--out", out) == 0
    shown = capsys.readouterr().out
    assert f"colours fitted off the line only to {data} (33 knots, off-line scale 0.5)" in shown
    assert "--fit-colours off-line --data" in shown
    before, after = load_lamp(lamp_file), load_lamp(out)
    curve = after.generator.colour_curve
    assert torch.equal(curve.knots_from, curve.knots_to) and float(curve.shrink) == 0.5   # at the scale's floor

    def played(generator) -> np.ndarray:
        with torch.no_grad():
            f, _ = lamp_frames(before.rnn, generator, start_latents(before.rnn, 20, 64, first_seed=500), 4)
        return f

    seg = WaxSegmenter.fit(frames)
    a, b = played(before.generator), played(after.generator)
    assert seg.off_line(b).mean() < 0.7 * seg.off_line(a).mean()        # nearer the line
    assert (seg.mask(a) == seg.mask(b)).mean() > 0.999                   # and wax where there was wax


def test_a_simulator_lamp_s_colours_are_fitted_to_simulator_lamps_of_spread_ages(tmp_path, monkeypatch, capsys):
    from duralava.models import colour_curve, lamp_cmd
    from duralava.models.features import WaxSegmenter
    from duralava.models.fidelity import simulator_lamps, simulator_settings

    monkeypatch.setattr(lamp_cmd, "FIT_DATA_LAMPS", 3)
    monkeypatch.setattr(lamp_cmd, "FIT_DATA_TICKS", 6)
    monkeypatch.setattr(colour_curve, "FIT_SEEDS", 20)
    source = random_lamp(seed=4)
    source.rnn.config = RNNConfig(drive=1.0, wander=0.15, warmup=10)
    meta = {k: v for k, v in source.meta.items() if k not in ("generator", "rnn")}
    meta["data"] = {"source": "simulator", "params": {"source": "simulator", "preset": "classic",
                                                      "palette": "classic", "seed": 0, "stride": 6}}
    path, out = tmp_path / "sim.safetensors", tmp_path / "fitted.safetensors"
    save_lamp(path, source.generator, source.rnn, meta)
    assert lamp(path, "--fit-colours", "place", "--out", out) == 0
    assert "colours fitted along the liquid -> wax line to the simulator (classic, palette classic)" in \
        capsys.readouterr().out
    curve = load_lamp(out).generator.colour_curve
    # The data's quantiles are those of three lamps caught at ages spread over a data lamp's run, as eval's
    # reference catches them (not the first frames of three young lamps).
    data, segments = simulator_lamps(simulator_settings(meta), 3, 6, 64, 0)
    assert segments == [6, 6, 6]
    x = torch.from_numpy(data).permute(0, 3, 1, 2).float() / 255.0
    places = curve.place(x)[:, torch.from_numpy(WaxSegmenter.fit(data).active)].reshape(-1).double()
    expected = torch.quantile(places, torch.linspace(0, 1, len(curve.knots_to), dtype=torch.float64)).float()
    assert torch.allclose(curve.knots_to, expected, atol=1e-5)
