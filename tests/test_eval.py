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


# -- fidelity glue ------------------------------------------------------------------


def test_simulator_settings_follow_the_lamps_provenance():
    from duralava.models.fidelity import simulator_settings

    meta = {"data": {"source": "simulator", "params": {"stride": 6, "preset": "overheated", "palette": "blue",
                                                       "params": {"heat": 0.07}}},
            "training": {"stride": 2}}
    s = simulator_settings(meta)
    # A tick spans 2 dataset frames of 6 simulator steps each.
    assert (s.stride, s.preset, s.palette, s.params, s.note) == (12, "overheated", "blue", {"heat": 0.07}, "")
    from_folder = simulator_settings({"data": {"source": "/data/lamp", "params": {"source": "sim", "stride": 4}}})
    assert from_folder.stride == 4 and from_folder.note == ""
    untrained = simulator_settings(random_lamp().meta)
    assert untrained.stride is None and untrained.preset is None and "untrained" in untrained.note


def test_reference_motion_stays_inside_segments():
    from duralava.models.fidelity import reference_motion

    frames = np.zeros((6, 4, 4, 3), np.uint8)
    frames[1] = 10                        # segment 1: frames 0..2 -> diffs 10, 10
    frames[3:] = 200                      # segment 2: frames 3..5, constant; the jump 2->3 is not a tick
    assert reference_motion(frames, [3, 3]) == pytest.approx(5.0)


def test_lamp_frames_are_uint8_per_seed_runs():
    from duralava.models.fidelity import lamp_frames

    start = seed_latents(3, Z_DIM)
    frames, segments = lamp_frames(DriftingRNN(), TinyGenerator(size=16), start, ticks=5, batch=4)
    assert frames.shape == (15, 16, 16, 3) and frames.dtype == np.uint8 and segments == [5, 5, 5]
    assert frames.std() > 1.0             # real decoded pictures, not a constant


def test_fidelity_rows_show_the_range_of_their_draws():
    from duralava.models.fidelity import fidelity_checks, mean_of_draws

    floor = mean_of_draws([{"frame": 1.0, "clip": 0.01}, {"frame": 3.0, "clip": 0.03}])
    score = mean_of_draws([{"frame": 2.0, "clip": 0.02}, {"frame": 10.0, "clip": 0.14}])
    assert floor["frame"] == 2.0 and score["clip"] == pytest.approx(0.08)
    rows = fidelity_checks({"start": score}, floor)
    assert rows[0]["wanted"] == "<= 3x floor 2 (mean of 2 draws)" and rows[0]["passed"]
    assert rows[0]["measured"] == "6 (3.00x floor); 2 draws 1.00x..5.00x"
    assert rows[1]["measured"] == "0.08 (4.00x floor); 2 draws 1.00x..7.00x" and not rows[1]["passed"]


def test_where_a_distance_lies_is_averaged_over_draws_and_put_in_words():
    from duralava.models.fidelity import mean_of_draws, where_it_lies
    from duralava.models.metrics import CLIP_FEATURES

    one = [0.0] * len(CLIP_FEATURES)
    first, second = list(one), list(one)
    first[3], second[3] = -0.2, -0.4            # boundary speed, furthest off in both draws
    first[4], second[4] = 0.1, 0.1
    second[2] = 0.2
    score = mean_of_draws([{"frame": 1.0, "clip": 0.1, "clip_offsets": first, "clip_mean_part": 0.05},
                           {"frame": 3.0, "clip": 0.3, "clip_offsets": second, "clip_mean_part": 0.21}])
    assert score["clip_offsets"][3] == pytest.approx(-0.3) and score["clip_mean_part"] == pytest.approx(0.13)
    lines = where_it_lies(score)
    assert len(lines) == 1                              # no offsets for frames in these draws
    line = lines[0]
    assert line.startswith("clips 0.2: the means make 0.13 (65%)")
    assert line.endswith("furthest off: boundary_speed -0.30 sd, mask_change_rate +0.10 sd, wax_flux +0.10 sd")


def test_the_feature_picture_draws_each_offset_on_its_side_of_zero():
    from duralava.models.eval_plot import NAME_WIDTH, OFFSET_COLOURS, draw_offsets

    groups = [("clips", ["up", "down", "far"], {"start": [0.5, -0.5, 5.0], "later": [0.0, 0.0, 0.0]})]
    img = np.asarray(draw_offsets(groups, "offsets", width=520))
    start = np.all(img == OFFSET_COLOURS[0], axis=2)              # the first series' bars (and its legend key)
    rows = [y for y in range(60, img.shape[0]) if start[y, NAME_WIDTH:].any()]
    mid = (NAME_WIDTH + 500) / 2
    spans = []                                                  # [last row, left end, right end] of each bar
    for y in rows:
        xs = np.flatnonzero(start[y])
        if not spans or y - spans[-1][0] > 1:
            spans.append([y, xs.min(), xs.max()])
        spans[-1][0] = y
    assert len(spans) == 3                                      # one bar a feature
    (_, up_lo, up_hi), (_, down_lo, down_hi), (_, far_lo, far_hi) = spans
    assert up_lo >= mid - 1 and up_hi > mid + 20                # +0.5: right of zero
    assert down_hi <= mid + 1 and down_lo < mid - 20            # -0.5: left of zero
    assert far_hi >= 495 and (img[:, int(far_hi) - 2:int(far_hi) + 3] == (220, 0, 0)).all(axis=2).any()  # past the scale: red


@pytest.mark.slow
def test_a_floor_draw_is_short_runs_of_independent_lamps_at_spread_ages():
    from duralava.models.fidelity import SimulatorSettings, simulator_lamps
    from duralava.models.lamp_frames import FRAMES_PER_LAMP
    from duralava.models.simulator import simulate_frames

    lamps, ticks = 2, 8
    frames, segments = simulator_lamps(SimulatorSettings(), lamps, ticks, 16, seed=5)
    assert frames.shape == (lamps * ticks, 16, 16, 3) and segments == [ticks] * lamps
    # Each run is consecutive frames of its own lamp, found in that lamp's full run at one age of the data's.
    full, _ = simulate_frames(lamps * FRAMES_PER_LAMP, size=16, seed=5, n_lamps=lamps)
    ages = []
    for k in range(lamps):
        run, own = frames[k * ticks:(k + 1) * ticks], full[k * FRAMES_PER_LAMP:(k + 1) * FRAMES_PER_LAMP]
        found = [a for a in range(FRAMES_PER_LAMP - ticks + 1) if np.array_equal(own[a:a + ticks], run)]
        assert len(found) == 1
        ages.append(found[0])
    assert ages[0] < ages[1] and ages[1] > 100


def test_simulated_lamps_can_start_recording_at_their_own_ages():
    from duralava.models.simulator import SimulatorError, simulate_frames

    full, _ = simulate_frames(2 * 40, size=16, seed=3, n_lamps=2, workers=1)
    for workers in (1, 2):
        late, segments = simulate_frames(2 * 10, size=16, seed=3, ages=[30, 4], workers=workers)
        assert segments == [10, 10]
        assert np.array_equal(late[:10], full[30:40]) and np.array_equal(late[10:], full[44:54])
    for ages, n_lamps in (([-1, 2], None), ([1.5, 2], None), ([], None), ([1, 2], 3)):
        with pytest.raises(SimulatorError) as e:
            simulate_frames(20, size=16, seed=3, ages=ages, n_lamps=n_lamps)
        assert str(e.value).count(".") >= 1 and "\n" not in str(e.value)


def test_fidelity_rows_compare_with_three_times_the_floor():
    from duralava.models.fidelity import fidelity_checks

    rows = fidelity_checks({"start": {"frame": 5.0, "clip": 2.0}, "tick 1,000": {"frame": 7.0, "clip": 1.0}},
                           floor={"frame": 2.0, "clip": 1.0})
    assert [r["passed"] for r in rows] == [True, True, False, True]
    assert "3.50x floor" in rows[2]["measured"]


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
def test_fidelity_judge_tells_the_simulator_from_an_untrained_lamp():
    from duralava.models.fidelity import (FidelityJudge, FidelityPlan, SimulatorSettings, contact_sheet,
                                          lamp_frames, simulator_frames)

    plan = FidelityPlan(ticks_per_seed=32, n_frames=100, n_clips=20, clip_len=8, reference_frames=400, lamps=4,
                        draws=2)
    judge = FidelityJudge(SimulatorSettings(), 64, plan)
    assert 0.02 < judge.motion < 20                         # the wax moves, slowly, in 0-255 units per tick
    floor = judge.floor
    assert floor["frame"] > 0 and floor["clip"] > 0
    # The floor is the mean of its draws, each of four other simulator lamps.
    assert len(floor["draws"]) == 2 and floor["draws"][0] != floor["draws"][1]
    for kind in ("frame", "clip"):
        assert floor[kind] == pytest.approx(np.mean([d[kind] for d in floor["draws"]]))
    other = judge.score(*simulator_frames(SimulatorSettings(), 400, 64, seed=3))
    lamp = random_lamp(seed=0)
    frames, segments = lamp_frames(lamp.rnn, lamp.generator, seed_latents(8, Z_DIM), plan.ticks_per_seed)
    untrained = judge.score(frames, segments)
    # Another simulator run sits near the floor; grey untrained frames are orders of magnitude away.
    assert untrained["frame"] > 100 * other["frame"] and untrained["frame"] > 100 * floor["frame"]
    assert untrained["clip"] > 3 * floor["clip"]
    sheet = np.asarray(contact_sheet({"simulator": judge.reference, "lamp": frames}))
    assert sheet.shape[1] == 8 * (128 + 6) + 6 and sheet.std() > 10


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
