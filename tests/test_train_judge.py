"""Training's fidelity checks (models/train_judge.py): the score, the data's split, the reference and the kept floor."""
from __future__ import annotations

import numpy as np
import pytest


def test_a_check_under_the_floor_cannot_make_up_for_another():
    from duralava.models.train_judge import beats, combined

    lucky = {"frame_start": 0.6, "frame_later": 0.6, "clip_start": 15.0, "clip_later": 15.0}
    even = {"frame_start": 1.5, "frame_later": 1.5, "clip_start": 8.0, "clip_later": 8.0}
    assert combined(lucky) == pytest.approx(15.0 ** 0.5)
    assert combined(even) == pytest.approx(12.0 ** 0.5)
    assert beats(even, lucky) and not beats(lucky, even)
    # A best recorded under the old score (the plain geometric mean, 3.0) is weighed by its ratios.
    assert beats(even, {**lucky, "score": 3.0})
    assert combined({"frame_start": 1.0, "clip_start": 2.0}) == float("inf")
    assert not beats({**even, "clip_later": float("nan")}, None)


def test_judge_splits_the_data_into_two_disjoint_parts():
    from duralava.models.train_judge import split_data

    frames = np.arange(300, dtype=np.uint8)[:, None, None, None].repeat(2, 1).repeat(2, 2).repeat(3, 3)
    (a, sa), (b, sb) = split_data(frames, [100, 100, 100], stride=2, cap=60, min_run=4)
    assert sum(sa) == len(a) <= 60 and sum(sb) == len(b) <= 60
    assert set(a[:, 0, 0, 0]).isdisjoint(set(b[:, 0, 0, 0]))
    assert np.all(np.diff(a[:sa[0], 0, 0, 0].astype(int)) == 2)     # one tick is two frames at stride 2
    (a, sa), (b, sb) = split_data(frames[:50], [50], stride=1, cap=100, min_run=4)
    assert sa == [25] and sb == [25] and a[-1, 0, 0, 0] < b[0, 0, 0, 0]  # one long run: cut in half
    with pytest.raises(ValueError, match="too few runs"):
        split_data(frames[:6], [6], stride=1, cap=100, min_run=4)


def test_judge_of_a_simulated_lamp_uses_the_same_reference_as_eval(tmp_path):
    from duralava.models.fidelity import simulator_settings
    from duralava.models.train_judge import JudgePlan, TrainJudge

    meta = {"data": {"source": "simulator", "params": {"palette": "ocean", "preset": "classic", "stride": 6}},
            "training": {"stride": 1}}
    judge = TrainJudge.from_simulator(meta, 32, JudgePlan.tiny())
    assert judge.against == simulator_settings(meta).describe() and "ocean" in judge.against
    assert judge.judge.reference.shape == (24, 32, 32, 3)
    assert np.isfinite(judge.floor["frame"]) and judge.floor["clip"] >= 0



def test_a_judge_takes_a_kept_floor_only_for_the_same_reference_and_plan(lamp_data):
    from dataclasses import replace

    from duralava.models.dataset import open_frames
    from duralava.models.train_judge import JudgePlan, TrainJudge

    data = open_frames(lamp_data)
    plan = JudgePlan.tiny()
    first = TrainJudge.from_data(data.frames, data.segments, 1, plan)
    kept = first.describe()
    assert kept["floor"]["frame"] > 0 and kept["floor"]["clip"] > 0
    same = TrainJudge.from_data(data.frames, data.segments, 1, plan)
    assert same.reference == first.reference
    planted = {**kept, "floor": {"frame": 123.0, "clip": 4.5}}
    assert same.take_floor(planted) and same.floor["frame"] == 123.0 and same.floor["clip"] == 4.5
    # Another reference (the same frames played backwards), another plan, or a broken floor: worked out anew.
    other = TrainJudge.from_data(np.asarray(data.frames)[::-1].copy(), data.segments[::-1], 1, plan)
    assert other.reference != first.reference and not other.take_floor(planted)
    assert other.floor["frame"] != 123.0
    replanned = TrainJudge.from_data(data.frames, data.segments, 1, replace(plan, later=9))
    assert not replanned.take_floor(planted)
    for broken in ({"frame": float("nan"), "clip": 1.0}, {"frame": -1.0, "clip": 1.0}, {"frame": 1.0}, "x"):
        fresh = TrainJudge.from_data(data.frames, data.segments, 1, plan)
        assert not fresh.take_floor({**kept, "floor": broken})
        assert fresh.floor["frame"] == pytest.approx(kept["floor"]["frame"])


def test_the_checks_play_seeds_that_eval_and_the_colour_fit_never_play():
    from duralava.models.colour_curve import FIT_FIRST_SEED, FIT_SEEDS
    from duralava.models.eval_cmd import DEFAULTS
    from duralava.models.train_judge import JudgePlan

    plan = JudgePlan()
    checked = set(range(plan.first_seed, plan.first_seed + plan.seeds))
    evaluated = set(range(DEFAULTS["seeds"][0] * DEFAULTS["draws"][0]))
    fitted = set(range(FIT_FIRST_SEED, FIT_FIRST_SEED + FIT_SEEDS))
    assert len(checked) == 100 and not checked & evaluated and not checked & fitted


def test_a_best_checked_on_other_seeds_starts_afresh_but_keeps_its_floor(lamp_data):
    from dataclasses import asdict, replace

    import torch

    from duralava.models.dataset import open_frames
    from duralava.models.generator import Generator, GeneratorConfig
    from duralava.models.rnn import LatentRNN, RNNConfig
    from duralava.models.train_judge import JudgePlan, TrainJudge

    data = open_frames(lamp_data)
    plan = JudgePlan.tiny()
    first = TrainJudge.from_data(data.frames, data.segments, 1, plan)
    kept = first.describe()
    # A state from before the checks had their own seeds: its plan has none.
    older = {**kept, "plan": {k: v for k, v in kept["plan"].items() if k != "first_seed"}}
    same = TrainJudge.from_data(data.frames, data.segments, 1, plan)
    assert same.take_floor(older) and same.floor["frame"] == pytest.approx(kept["floor"]["frame"])
    assert same.made(kept) and not same.made(older)
    moved = TrainJudge.from_data(data.frames, data.segments, 1, replace(plan, first_seed=plan.first_seed + 7))
    assert moved.take_floor(kept) and not moved.made(kept)
    # The seeds are the lamps scored: a real lamp scores otherwise from other seeds.
    torch.manual_seed(0)
    size = int(np.asarray(data.frames).shape[1])
    generator = Generator(GeneratorConfig(image_size=size, width=4)).eval()
    rnn = LatentRNN(RNNConfig(hidden=16, drive=1.0, wander=0.2, warmup=4)).eval()
    a, b = same.score(rnn, generator), moved.score(rnn, generator)
    assert a["frame_start"] != b["frame_start"]
    assert asdict(moved.plan)["first_seed"] == plan.first_seed + 7
