"""Fidelity: the simulator reference, its floor, the judge, and how a lamp's distances are reported."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from duralava.models.checkpoint import random_lamp
from duralava.models.endurance import seed_latents
from duralava.models.latent import Z_DIM

torch.set_num_threads(1)


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
