"""`duralava eval`: endurance, fidelity and tick cost, and that the checks catch broken lamps."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from duralava.models.checkpoint import random_lamp
from duralava.models.endurance import (EnduranceConfig, EnduranceError, ReturnSearch, endurance_checks,
                                       endurance_figure, run_endurance, seed_latents)
from duralava.models.latent import Z_DIM, renormalise

torch.set_num_threads(1)


class ScriptedRNN(nn.Module):
    """A stand-in latent RNN: its scripted step is its own motion, as a trained lamp's ``tick`` is."""

    def tick(self, z, stir=0.0, generator=None):
        return self(z)


class DriftingRNN(ScriptedRNN):
    """A healthy lamp's latent: z_next = renormalise(a z + sqrt(1 - a^2) eps), its own seeded noise.

    Stationary near N(0, I), moving about sqrt(1 - a) of the typical distance per tick, never repeating.
    """

    def __init__(self, a: float = 0.99, seed: int = 0):
        super().__init__()
        self.a = a
        self.rng = torch.Generator().manual_seed(seed)
        self.anchor = nn.Parameter(torch.zeros(()), requires_grad=False)   # gives the module a device

    def forward(self, z, noise=None):
        eps = torch.randn(z.shape, generator=self.rng)
        return renormalise(self.a * z + math.sqrt(1 - self.a ** 2) * eps)


class FrozenRNN(ScriptedRNN):
    """A lamp that has stopped: every tick returns its input."""

    def __init__(self):
        super().__init__()
        self.anchor = nn.Parameter(torch.zeros(()), requires_grad=False)

    def forward(self, z, noise=None):
        return z.clone()


class BlowingUpRNN(ScriptedRNN):
    """A lamp whose latent grows every tick and is never renormalised: out of band, then infinite."""

    def __init__(self):
        super().__init__()
        self.gain = nn.Parameter(torch.tensor(1.5), requires_grad=False)

    def forward(self, z, noise=None):
        return self.gain * z + 0.01


class LoopingRNN(ScriptedRNN):
    """A lamp caught in a cycle: it plays the same ``period`` random latents over and over."""

    def __init__(self, period: int = 250):
        super().__init__()
        self.period = period
        self.anchor = nn.Parameter(torch.zeros(()), requires_grad=False)
        self.ticks = 0
        self.cycle = None                                           # (period, B, Z)

    def forward(self, z, noise=None):
        if self.cycle is None:
            g = torch.Generator().manual_seed(7)
            self.cycle = renormalise(torch.randn((self.period,) + tuple(z.shape), generator=g))
        self.ticks += 1
        return self.cycle[self.ticks % self.period].clone()


class TinyGenerator(nn.Module):
    """A small decoder from latents to (B, 3, 16, 16) frames in [0, 1]."""

    def __init__(self, z_dim: int = Z_DIM, size: int = 16, seed: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.size = size
        self.lin = nn.Linear(z_dim, 3 * size * size)
        with torch.no_grad():
            self.lin.weight.copy_(torch.randn(3 * size * size, z_dim, generator=g) * 0.2)

    def forward(self, z):
        return torch.sigmoid(self.lin(z)).reshape(-1, 3, self.size, self.size)


def short(**kw) -> EnduranceConfig:
    base = dict(seeds=6, ticks=3000, window=500, history_every=10, min_gap=100)
    base.update(kw)
    return EnduranceConfig(**base)


def measured_motion(rnn, generator) -> float:
    """The window motion of a lamp over a short run: used as the reference it should match."""
    r = run_endurance(rnn, generator, Z_DIM, reference_motion=1.0, config=short(ticks=1000, first_seed=50))
    return float(np.nanmean(r.window_motion()))


def test_healthy_lamp_passes_every_check():
    gen = TinyGenerator()
    reference = measured_motion(DriftingRNN(seed=1), gen)
    r = run_endurance(DriftingRNN(seed=2), gen, Z_DIM, reference, short())
    assert r.abs_mean.shape == (6, 6) and r.motion.shape == (6, 6)
    assert r.latent_in_band().all()
    assert r.motion_in_band().all(), r.window_motion() / reference
    assert not r.frozen().any()
    assert r.closest_return.min() > 0.3, r.closest_return        # random-like latents stay far apart
    assert r.directions > 40                                      # ... in all their directions
    assert r.passed()
    rows = endurance_checks(r)
    assert [row["passed"] for row in rows] == [True] * len(rows)
    # Decoded a pair per window, seed and pair: 2 pairs x 6 seeds x 6 windows x 2 frames.
    assert r.decoded_frames == 2 * 6 * 6 * 2


def test_motion_band_is_relative_to_the_simulator():
    gen = TinyGenerator()
    reference = measured_motion(DriftingRNN(seed=1), gen)
    too_fast = run_endurance(DriftingRNN(seed=2), gen, Z_DIM, reference / 3, short(ticks=1000))
    too_slow = run_endurance(DriftingRNN(seed=2), gen, Z_DIM, reference * 3, short(ticks=1000))
    assert not too_fast.motion_in_band().any() and not too_slow.motion_in_band().any()
    assert too_fast.latent_in_band().all()      # the latent itself is fine; only the motion misses


def test_frozen_lamp_is_flagged_frozen_and_repeating():
    r = run_endurance(FrozenRNN(), TinyGenerator(), Z_DIM, reference_motion=2.0, config=short())
    assert r.latent_in_band().all()             # a frozen latent is perfectly normal ...
    assert r.frozen().all()                     # ... but nothing moves
    assert not r.motion_in_band().any()
    assert r.repeating().all() and r.closest_return.max() < 1e-3
    assert r.directions < 6.5                                     # one point per seed: six seeds, six directions
    rows = {row["name"]: row for row in endurance_checks(r)}
    assert not rows["frozen seeds"]["passed"] and not rows["closest return / sqrt(2Z)"]["passed"]
    assert not r.passed()


def test_looping_lamp_is_caught_repeating_though_it_moves():
    r = run_endurance(LoopingRNN(period=250), TinyGenerator(), Z_DIM, reference_motion=1.0,
                      config=short(history_every=7))
    assert not r.frozen().any()
    assert r.repeating().all(), r.closest_return
    later, earlier = r.closest_ticks[0]
    assert (later - earlier) % 250 == 0 and later - earlier > 100


def test_blowing_up_lamp_is_flagged_out_of_band_and_nan():
    r = run_endurance(BlowingUpRNN(), TinyGenerator(), Z_DIM, reference_motion=2.0, config=short(ticks=2000))
    assert not r.latent_in_band().any()
    assert r.nonfinite[-1].all()                # 1.5^t overflows float32 within the run
    rows = {row["name"]: row for row in endurance_checks(r)}
    assert not rows["latent |std - 1| per tick"]["passed"]
    assert not rows["NaN/Inf latents"]["passed"]
    assert not r.passed()


def test_random_lamp_keeps_its_latent_in_band():
    lamp = random_lamp(seed=0)
    r = run_endurance(lamp.rnn, lamp.generator, lamp.z_dim, reference_motion=2.0,
                      config=short(seeds=4, ticks=2000, pairs_per_window=1))
    assert r.latent_in_band().all()
    assert np.abs(r.abs_mean).max() < 1e-4 and np.abs(r.std_dev).max() < 1e-4
    assert r.final_latent.shape == (4, Z_DIM) and torch.isfinite(r.final_latent).all()


def test_runs_are_reproducible_from_their_seeds():
    a = seed_latents(3, Z_DIM, first_seed=5)
    b = seed_latents(5, Z_DIM, first_seed=3)
    assert torch.equal(a, b[2:])               # seed k starts alike whatever the batch


def test_return_search_finds_the_closest_old_latent():
    torch.manual_seed(0)
    search = ReturnSearch(seeds=2, z_dim=8, capacity=40, min_gap=5, chunk=7)
    history = torch.randn(2, 30, 8)
    search.add(history[:, :20], torch.arange(20) * 10)
    # A query equal to an old latent (tick 30) plus a small offset; the one 5 ticks back does not count.
    query = history[:, 3:4] + 0.01
    search.add(query, torch.tensor([200]))
    assert torch.allclose(search.best.sqrt(), torch.full((2,), 0.01 * math.sqrt(8), dtype=torch.float64),
                          rtol=1e-2)
    assert search.best_ticks.tolist() == [[200, 30], [200, 30]]


def test_return_search_refuses_a_history_too_large():
    with pytest.raises(EnduranceError, match="GiB"):
        ReturnSearch(seeds=100, z_dim=64, capacity=10**6, min_gap=100)


@pytest.mark.parametrize("kw, match", [
    (dict(seeds=0), "seeds"),
    (dict(ticks=1500, window=1000), "whole number of windows"),
    (dict(pairs_per_window=600, window=1000), "tick pairs"),
    (dict(seeds=2.5), "seeds"),
])
def test_bad_endurance_settings_are_one_sentence(kw, match):
    with pytest.raises(EnduranceError, match=match):
        EnduranceConfig(**kw)


def test_endurance_picture_shows_the_bands(tmp_path):
    r = run_endurance(BlowingUpRNN(), TinyGenerator(), Z_DIM, reference_motion=2.0, config=short(ticks=2000))
    img = endurance_figure(r)
    a = np.asarray(img)
    assert img.size[0] == 960 and a.shape[0] > 500
    assert (a == (214, 238, 214)).all(-1).sum() > 1000         # target bands are drawn
    assert (a == (220, 0, 0)).all(-1).sum() > 10               # out-of-band windows are marked in red


# -- fidelity glue (the rest: tests/test_fidelity.py) --------------------------------


def test_lamp_frames_are_uint8_per_seed_runs():
    from duralava.models.fidelity import lamp_frames

    start = seed_latents(3, Z_DIM)
    frames, segments = lamp_frames(DriftingRNN(), TinyGenerator(size=16), start, ticks=5, batch=4)
    assert frames.shape == (15, 16, 16, 3) and frames.dtype == np.uint8 and segments == [5, 5, 5]
    assert frames.std() > 1.0             # real decoded pictures, not a constant


# -- the command ----------------------------------------------------------------------


def run_eval(*argv: str) -> int:
    import argparse

    from duralava.models import eval_cmd

    parser = argparse.ArgumentParser()
    eval_cmd.add_arguments(parser)
    return eval_cmd.run(parser.parse_args([*argv, "--no-progress"]))


def test_eval_is_a_duralava_command():
    from duralava.models.cli import COMMANDS

    assert COMMANDS["eval"][0] == "eval_cmd"


def test_eval_tick_reports_median_and_p95(tmp_path, capsys):
    import json

    code = run_eval("tick", "--untrained", "--tick-count", "60", "--out", str(tmp_path))
    out = capsys.readouterr().out
    assert code in (0, 1)                 # speed is reported, never asserted
    assert "tick cost, median" in out and "tick cost, p95" in out
    figures = json.loads((tmp_path / "tick.json").read_text())["figures"]["tick"]
    assert 0 < figures["rnn_median_ms"] <= figures["median_ms"] <= figures["p95_ms"]


def test_eval_endurance_of_an_untrained_lamp_writes_table_report_and_picture(tmp_path, capsys):
    import json

    from PIL import Image

    code = run_eval("endurance", "--untrained", "--seeds", "3", "--ticks", "2000", "--history-every", "10",
                    "--motion-reference", "2.0", "--out", str(tmp_path))
    out = capsys.readouterr().out
    # An untrained lamp settles and stops: its latent stays normal but the frames freeze.
    assert code == 1
    report = json.loads((tmp_path / "endurance.json").read_text())
    rows = {r["name"]: r["passed"] for r in report["rows"]}
    assert rows["latent |mean| per tick"] and rows["latent |std - 1| per tick"] and rows["NaN/Inf latents"]
    assert not rows["frozen seeds"]
    assert "MISSED" in out and "frozen seeds" in out
    assert Image.open(tmp_path / "endurance.png").size[0] == 960
    assert not list(tmp_path.glob(".*.tmp"))     # nothing half-written left behind


def test_eval_report_of_a_lamp_gone_to_nan_is_strict_json(tmp_path):
    import json

    from duralava.models import eval_cmd

    r = run_endurance(BlowingUpRNN(), TinyGenerator(), Z_DIM, reference_motion=2.0, config=short(ticks=2000))
    eval_cmd._write_json({"worst": float(r.abs_mean.max()), "motion": r.window_motion(), "rows": endurance_checks(r)},
                         tmp_path / "r.json")
    def refuse(constant):
        raise AssertionError(f"{constant} is not strict JSON")

    report = json.loads((tmp_path / "r.json").read_text(), parse_constant=refuse)
    assert report["worst"] is None and report["motion"][-1] is None and len(report["rows"]) == 6


def _file(path, data: bytes):
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("make, match", [
    (lambda p: p / "missing.safetensors", "does not exist"),
    (lambda p: _file(p / "empty.safetensors", b""), "is empty"),
    (lambda p: _file(p / "frame.png", b"\x89PNG\r\n\x1a\n" + bytes(64)), "not a safetensors file"),
    (lambda p: p, "is a directory"),
])
def test_eval_of_a_bad_lamp_file_is_one_sentence(tmp_path, capsys, make, match):
    code = run_eval("tick", "--checkpoint", str(make(tmp_path)), "--out", str(tmp_path / "out"))
    err = capsys.readouterr().err.strip()
    assert code == 2 and match in err and err.count("\n") == 0
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("argv, match", [
    (("endurance", "--ticks", "1500", "--window", "1000"), "whole number of windows"),
    # Fidelity settings are checked before the endurance run that precedes them, not an hour later.
    (("all", "--seeds", "2", "--ticks-per-seed", "20", "--frames", "100"), "100 sampled frames"),
    (("all", "--clip-len", "80"), "do not fit"),
])
def test_eval_refuses_settings_that_do_not_fit(tmp_path, capsys, argv, match):
    code = run_eval(*argv, "--untrained", "--motion-reference", "1", "--out", str(tmp_path / "out"))
    err = capsys.readouterr().err
    assert code == 2 and match in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()     # refused before anything ran


@pytest.mark.slow
def test_eval_all_shares_one_long_run_and_writes_every_picture(tmp_path, capsys):
    import json

    code = run_eval("all", "--untrained", "--seeds", "4", "--ticks", "2000", "--history-every", "20",
                    "--frames", "60", "--clips", "10", "--clip-len", "8", "--ticks-per-seed", "32",
                    "--reference-frames", "300", "--draws", "2", "--tick-count", "50", "--out", str(tmp_path))
    assert code == 1                              # an untrained lamp misses motion and fidelity
    report = json.loads((tmp_path / "report.json").read_text())
    assert {r["target"] for r in report["rows"]} == {"tick", "endurance", "fidelity"}
    fidelity = report["figures"]["fidelity"]
    assert set(fidelity["scores"]) == {"start", "tick 2,000"}
    # Each figure, and the floor, is the mean of two draws: fresh seeds at the start, the same seeds later on.
    for figure in (*fidelity["scores"].values(), fidelity["floor"]):
        assert len(figure["draws"]) == 2
        assert figure["clip"] == pytest.approx((figure["draws"][0]["clip"] + figure["draws"][1]["clip"]) / 2)
    assert fidelity["scores"]["start"]["draws"][0] != fidelity["scores"]["start"]["draws"][1]
    # The endurance reference motion is the same simulator run the fidelity floor is measured against.
    assert report["figures"]["endurance"]["reference_motion"] == fidelity["reference_motion"] > 0
    assert (tmp_path / "endurance.png").is_file() and (tmp_path / "fidelity.png").is_file()
    assert (tmp_path / "fidelity_features.png").stat().st_size > 0
    out = capsys.readouterr().out
    assert "fidelity   frame Frechet at tick 2,000" in out
    # Under the table: where each distance lies, feature by feature, also in the report.
    assert "where the distances lie" in out and "fidelity at start, clips " in out
    where = fidelity["where"]["tick 2,000"]
    assert len(where) == 2 and where[0].startswith("frames ") and "furthest off: " in where[1]
    assert len(fidelity["scores"]["start"]["frame_offsets"]) == len(fidelity["floor"]["frame_offsets"]) > 10


def test_eval_upscale_and_interp_score_the_shaders_without_a_lamp(tmp_path, capsys):
    import json

    code = run_eval("upscale", "--states", "1", "--no-timing", "--out", str(tmp_path))
    out = capsys.readouterr().out
    assert code in (0, 1)
    report = json.loads((tmp_path / "upscale.json").read_text())
    assert report["meta"] is None and report["targets"] == ["upscale"]
    assert "neural vs Catmull-Rom" in out
    assert (tmp_path / "upscalers.png").stat().st_size > 0
    code = run_eval("interp", "--sequence-ticks", "2", "--out", str(tmp_path))
    out = capsys.readouterr().out
    report = json.loads((tmp_path / "interp.json").read_text())
    assert {r["target"] for r in report["rows"]} == {"interp"}
    assert "vs crossfade" in out


def test_a_driven_lamp_runs_the_same_twice():
    lamp = random_lamp(3)
    lamp.rnn.config.drive = 1.0
    decoder = TinyGenerator()
    runs = [run_endurance(lamp.rnn, decoder, Z_DIM, reference_motion=1.0,
                          config=short(seeds=3, ticks=1000)) for _ in range(2)]
    assert np.array_equal(runs[0].final_latent.numpy(), runs[1].final_latent.numpy())
    assert np.array_equal(runs[0].motion, runs[1].motion, equal_nan=True)
    lamp.rnn.config.drive = 0.0
    undriven = run_endurance(lamp.rnn, decoder, Z_DIM, reference_motion=1.0, config=short(seeds=3, ticks=1000))
    assert not np.array_equal(undriven.final_latent.numpy(), runs[0].final_latent.numpy())


def test_runs_start_after_the_lamps_warm_up():
    from duralava.models.endurance import start_latents

    lamp = random_lamp(1)
    lamp.rnn.config.drive = 1.0
    assert torch.equal(start_latents(lamp.rnn, 3, Z_DIM), seed_latents(3, Z_DIM))     # no warm-up: the seeds
    lamp.rnn.config.warmup = 20
    warm = start_latents(lamp.rnn, 3, Z_DIM)
    assert torch.equal(warm, start_latents(lamp.rnn, 3, Z_DIM))
    assert not torch.allclose(warm, seed_latents(3, Z_DIM), atol=1e-3)
    assert torch.equal(start_latents(DriftingRNN(), 3, Z_DIM), seed_latents(3, Z_DIM))  # a scripted RNN has none


@pytest.mark.slow
def test_eval_plays_other_seeds_from_first_seed(tmp_path, capsys):
    import json

    common = ("fidelity", "--untrained", "--seeds", "3", "--ticks", "40", "--frames", "40", "--clips", "6",
              "--clip-len", "8", "--ticks-per-seed", "16", "--reference-frames", "300", "--draws", "2")
    reports = {}
    for first in ("0", "1,000"):
        out = tmp_path / first.replace(",", "")
        run_eval(*common, "--first-seed", first, "--out", str(out))
        reports[first] = json.loads((out / "fidelity.json").read_text())["figures"]["fidelity"]
    assert reports["0"]["first_seed"] == 0 and reports["1,000"]["first_seed"] == 1000
    # The same simulator reference and floor; other lamps, so other distances.
    assert reports["0"]["floor"]["frame"] == reports["1,000"]["floor"]["frame"]
    for when in ("start", "tick 40"):
        assert reports["0"]["scores"][when]["frame"] != reports["1,000"]["scores"][when]["frame"]
    capsys.readouterr()
    with pytest.raises(SystemExit) as refused:
        run_eval("fidelity", "--untrained", "--first-seed", "-1", "--out", str(tmp_path / "x"))
    assert refused.value.code == 2 and "--first-seed" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
