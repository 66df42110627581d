"""Frame-only metrics: wax segmentation, blob labelling, features, Frechet distance and sampling."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from duralava.models.metrics import (CLIP_FEATURES, FRAME_FEATURES, MetricsError, WaxSegmenter,
                                     clip_features, frame_features, frechet, label_blobs,
                                     sample_clips, sample_frames)

LIQUID, WAX = (60, 20, 110), (250, 120, 20)


def disc_frames(centres, size=64, radius=6.0) -> np.ndarray:
    """Anti-aliased wax discs on the liquid colour; centres (N, discs, 2) as (row, col) per frame."""
    centres = np.asarray(centres, np.float32)
    yy, xx = np.mgrid[:size, :size].astype(np.float32)
    f = np.zeros((len(centres), size, size, 3), np.float32) + np.float32(LIQUID)
    for k in range(centres.shape[1]):
        cy, cx = centres[:, k, 0, None, None], centres[:, k, 1, None, None]
        a = np.clip(radius - np.hypot(yy - cy, xx - cx) + 0.5, 0, 1)[..., None]
        f = f * (1 - a) + a * np.float32(WAX)
    return f.round().astype(np.uint8)


def bobbing_lamp(n: int, seed: int, speed: float = 1.0) -> np.ndarray:
    """Four discs rising and sinking at their own rates: a stand-in lamp with known motion."""
    rng = np.random.default_rng(seed)
    phase, rate = rng.uniform(0, 2 * np.pi, 4), rng.uniform(0.01, 0.03, 4)
    t = np.arange(n)[:, None]
    rows = 32 + 22 * np.sin(phase + rate * t * speed)                 # (n, 4)
    return disc_frames(np.stack([rows, np.broadcast_to(14 + 12 * np.arange(4), rows.shape)], -1))


def reference_components(mask: np.ndarray) -> list[int]:
    """Blob sizes by a plain flood fill, to check the vectorised labelling against."""
    h, w = mask.shape
    seen, sizes = np.zeros_like(mask), []
    for y, x in zip(*np.nonzero(mask)):
        if seen[y, x]:
            continue
        stack, n, seen[y, x] = [(y, x)], 0, True
        while stack:
            cy, cx = stack.pop()
            n += 1
            for ny, nx in ((cy + 1, cx), (cy - 1, cx), (cy, cx + 1), (cy, cx - 1)):
                if 0 <= ny < h and 0 <= nx < w and mask[ny, nx] and not seen[ny, nx]:
                    seen[ny, nx] = True
                    stack.append((ny, nx))
        sizes.append(n)
    return sorted(sizes)


def test_labelling_matches_flood_fill_and_handles_long_snakes():
    rng = np.random.default_rng(0)
    masks = rng.random((6, 40, 40)) < 0.5           # near the percolation threshold: tangled blobs
    frame, sizes = label_blobs(masks)
    for k in range(len(masks)):
        assert sorted(sizes[frame == k].tolist()) == reference_components(masks[k])
    snake = np.zeros((1, 64, 64), bool)             # one 2080-pixel serpentine blob
    snake[0, ::2] = True
    snake[0, 1::4, -1] = snake[0, 3::4, 0] = True
    frame, sizes = label_blobs(snake)
    assert sizes.tolist() == [2080] and frame.tolist() == [0]
    assert label_blobs(np.zeros((2, 8, 8), bool))[1].size == 0


def test_three_discs_make_three_blobs_and_sensible_features():
    moving = bobbing_lamp(60, seed=0)
    seg = WaxSegmenter.fit(moving)
    assert np.abs(seg.wax - WAX).max() < 25 and np.abs(seg.liquid - LIQUID).max() < 25
    three = disc_frames([[(12, 12), (32, 40), (50, 20)]])
    everywhere = dataclasses.replace(seg, active=np.ones((64, 64), bool))
    feats = dict(zip(FRAME_FEATURES, frame_features(three, everywhere)[0]))
    assert feats["blob_count"] == 3
    assert feats["coverage"] == pytest.approx(3 * np.pi * 36 / 64**2, rel=0.1)
    assert feats["largest_blob_share"] == pytest.approx(1 / 3, abs=0.03)
    low = disc_frames([[(54, 32)]])[0]
    high = disc_frames([[(10, 32)]])[0]
    f = frame_features(np.stack([low, high]), everywhere)
    height = FRAME_FEATURES.index("centroid_height")
    assert f[0, height] < 0.25 and f[1, height] > 0.75      # height counts up from the bottom
    bottom = [FRAME_FEATURES.index(f"profile_{i}") for i in (6, 7)]   # rows 48..63: the bottom bands
    assert f[0, bottom].sum() > 0.99 and f[1, bottom].sum() == 0


def test_frechet_is_zero_for_a_set_with_itself_and_grows_with_a_shift():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(500, 5)) * [1, 2, 3, 4, 5]
    assert frechet(a, a) == pytest.approx(0, abs=1e-6)
    b = rng.normal(size=(500, 5)) * [1, 2, 3, 4, 5]
    shifted = b + [0, 0, 3, 0, 0]                   # one std of the third feature
    assert frechet(a, b) < 0.2
    assert frechet(a, shifted) == pytest.approx(1.0 + frechet(a, b), abs=0.3)
    with pytest.raises(MetricsError, match="differ in width"):
        frechet(a, b[:, :4])
    with pytest.raises(MetricsError, match="NaN"):
        frechet(a, np.full_like(b, np.nan))


def test_mean_offsets_say_which_feature_moved_and_make_the_means_part_of_the_distance():
    from duralava.models.metrics import mean_offsets

    rng = np.random.default_rng(2)
    a = rng.normal(size=(4000, 4)) * [1, 2, 3, 4]
    b = rng.normal(size=(4000, 4)) * [1, 2, 3, 4] + [0, -4, 0, 0]     # two stds of the second feature, down
    off = mean_offsets(a, b)
    assert off[1] == pytest.approx(-2.0, abs=0.1) and np.abs(off[[0, 2, 3]]).max() < 0.1
    # The means' part is the sum of the squares, and the whole distance is no smaller.
    assert frechet(a, b) >= np.square(off).sum() > 3.8
    # Standardised by the reference given, like frechet; checked like frechet.
    assert mean_offsets(a, b, reference=a * 2)[1] == pytest.approx(off[1] / 2, abs=0.05)
    with pytest.raises(MetricsError, match="NaN"):
        mean_offsets(a, np.full_like(b, np.nan))


def test_samples_never_cross_a_segment_boundary():
    # Three runs; each frame's value is its run, so a mixed clip would show two values.
    segments = [7, 40, 25]
    frames = np.concatenate([np.full((n, 4, 4, 3), i, np.uint8) for i, n in enumerate(segments)])
    clips = sample_clips(frames, segments, n_clips=30, clip_len=8)
    assert clips.shape == (30, 8, 4, 4, 3)
    assert all((c == c[0, 0, 0, 0]).all() for c in clips)
    assert set(clips[:, 0, 0, 0, 0]) == {1, 2}        # the 7-frame run is too short for a clip
    picked = sample_frames(frames, segments, n=20, skip=5)
    assert picked.shape == (20, 4, 4, 3) and set(picked[:, 0, 0, 0]) == {0, 1, 2}
    with pytest.raises(MetricsError, match="do not add up"):
        sample_frames(frames, [7, 40], n=5)
    with pytest.raises(MetricsError, match="cannot cut"):
        sample_clips(frames, segments, n_clips=200, clip_len=30)


@pytest.mark.slow
def test_bobbing_lamp_directions():
    a, b = bobbing_lamp(800, seed=1), bobbing_lamp(800, seed=2)
    seg = WaxSegmenter.fit(a)
    fa, fb = (frame_features(sample_frames(x, n=200), seg) for x in (a, b))
    ca, cb = (clip_features(sample_clips(x, n_clips=40, clip_len=12), seg) for x in (a, b))
    assert fa.shape == (200, len(FRAME_FEATURES)) and ca.shape == (40, len(CLIP_FEATURES))
    clip_floor = frechet(ca, cb)
    shuffled = a[np.random.default_rng(0).permutation(len(a))]
    slow = bobbing_lamp(800, seed=2, speed=0.5)
    assert frechet(ca, clip_features(sample_clips(shuffled, n_clips=40, clip_len=12), seg)) > 20 * clip_floor
    assert frechet(ca, clip_features(sample_clips(slow, n_clips=40, clip_len=12), seg)) > 5 * clip_floor
    inverted = frame_features(sample_frames(255 - a, n=200), seg)
    assert frechet(fa, inverted) > 20 * frechet(fa, fb)


def test_bad_frames_say_why():
    with pytest.raises(MetricsError, match="shape"):
        WaxSegmenter.fit(np.zeros((4, 8, 8), np.uint8))
    with pytest.raises(MetricsError, match="uint8"):
        WaxSegmenter.fit(np.zeros((4, 8, 8, 3), np.float32))
    with pytest.raises(MetricsError, match="never change"):
        WaxSegmenter.fit(np.zeros((4, 8, 8, 3), np.uint8))
    seg = WaxSegmenter.fit(bobbing_lamp(20, seed=0))
    with pytest.raises(MetricsError, match="fitted on 64x64"):
        seg.mask(np.zeros((2, 32, 32, 3), np.uint8))


# -- against the simulator ---------------------------------------------------------------

@pytest.fixture(scope="module")
def simulated():
    from duralava.models.simulator import simulate_frames

    return simulate_frames(400, seed=7, n_lamps=2)


def test_segmentation_finds_the_simulators_wax(simulated):
    from duralava.models import render
    from duralava.models.simulator import LampParams

    frames, segments = simulated
    seg = WaxSegmenter.fit(frames)
    # Wax is orange, the liquid purple (the classic palette): red over blue for wax only.
    assert seg.wax[0] > seg.wax[2] + 60 and seg.liquid[2] > seg.liquid[0]
    p = LampParams()
    glass = render._geometry(64, p.nx, p.ny, p.glass_top, "classic").glass.sum()   # glass area in pixels
    share = seg.mask(frames).sum((1, 2)) / glass
    assert share.mean() == pytest.approx(p.wax_fraction, abs=0.03)   # wax fills 18% of the glass
    assert share.std() < 0.03                                        # and is conserved frame to frame
    f = frame_features(frames, seg)
    assert (f[:, FRAME_FEATURES.index("blob_count")] >= 1).all()


def test_fidelity_of_the_reference_with_itself_is_zero(simulated):
    from duralava.models.metrics import FidelityConfig, fidelity

    frames, segments = simulated
    r = fidelity(frames, frames, segments, segments, config=FidelityConfig(n_frames=100, n_clips=20, clip_len=8))
    assert r["frame"] == pytest.approx(0, abs=1e-6) and r["clip"] == pytest.approx(0, abs=1e-6)
    with pytest.raises(MetricsError, match="generated frames are"):
        fidelity(frames[:, :32, :32], frames)


@pytest.fixture(scope="module")
def floor_figures():
    from duralava.models.metrics import floor

    # Three seeds: the reference and two floor runs; four lamps each for independent states.
    return floor(300, 64, n_frames=1200, n_lamps=4, seeds=(1, 2, 3))


@pytest.mark.slow
def test_simulator_runs_sit_within_the_floor(floor_figures):
    r = floor_figures
    assert [f["seed"] for f in r["floors"]] == [2, 3]
    for kind in ("frame", "clip"):
        values = [f[kind] for f in r["floors"]]
        assert max(values) < 3 * min(values), (kind, values)     # each run is as near as the other
    # Standardised features: a lamp unlike the reference costs a unit or more per feature.
    assert r["floor_max"]["frame"] < 0.5 * len(FRAME_FEATURES)
    assert r["floor_max"]["clip"] < 0.5 * len(CLIP_FEATURES)


@pytest.mark.slow
def test_wrong_lamps_land_far_above_the_floor(floor_figures):
    r = floor_figures
    fl = r["floor_max"]
    assert r["shuffled"]["clip"] > 1000 * fl["clip"]               # every picture right, no motion
    assert r["shuffled"]["frame"] < 3 * fl["frame"]                # ... and frames alone cannot tell
    assert r["half_speed"]["clip"] > 3 * fl["clip"]
    assert r["swapped_colours"]["frame"] > 100 * fl["frame"]


def test_floor_command_rejects_equal_seeds_before_simulating(capsys):
    from duralava.models.cli import main

    assert main(["floor", "--seeds", "3", "3"]) == 2
    assert capsys.readouterr().err.strip() == "duralava floor: give at least two different seeds."


@pytest.mark.slow
def test_floor_command_prints_the_table_json_and_picture(capsys, tmp_path):
    import json

    from duralava.models.cli import main
    from duralava.models.floor_cmd import table

    args = ["floor", "--samples", "40", "--clips", "6", "--clip-len", "8", "--frames", "160", "--lamps", "2"]
    assert main(args + ["--json", "--plot", str(tmp_path / "floor.png")]) == 0
    r = json.loads(capsys.readouterr().out)
    from PIL import Image

    picture = np.asarray(Image.open(tmp_path / "floor.png").convert("RGB"))
    assert picture.shape[0] > 5 * 64 and picture.shape[1] > 6 * 64
    assert (picture == (180, 30, 30)).all(-1).sum() > 100     # the shuffled clip bar: far above the floor
    assert r["samples"] == 40 and r["clips"] == 6 and r["frames_per_run"] == 160
    assert r["shuffled"]["clip"] > r["floor"]["clip"]
    text = table(r)
    for row in ("floor: seed 2", "shuffled frames", "half speed", "swapped colours"):
        assert row in text
    assert "(1x)" in text                       # the floor row is its own unit


def test_frechet_of_a_feature_constant_in_the_reference_stays_in_scale():
    from duralava.models.metrics import frechet

    rng = np.random.default_rng(0)
    ref = rng.normal(size=(500, 3))
    ref[:, 2] = 0.0                       # e.g. wax in a band the reference never fills
    other = ref.copy()
    other[:, 2] = 0.05                    # 5% of the band filled in every frame
    d = frechet(ref, other, reference=ref)
    assert 1.0 < d < 100.0


def test_a_stray_droplet_in_a_one_blob_lamp_costs_little_and_many_cost_much():
    from duralava.models.metrics import FRAME_FEATURES, FRAME_STD_FLOORS, frechet

    rng = np.random.default_rng(1)
    ref = rng.normal(0.5, 0.1, size=(1000, len(FRAME_FEATURES)))
    count = FRAME_FEATURES.index("blob_count")
    ref[:, count] = 1.0                            # the reference lamp always shows one blob
    rare, often = ref.copy(), ref.copy()
    rare[::200, count] = 2.0                       # a droplet in 1 frame of 200
    often[::2, count] = 2.0                        # a droplet in every other frame
    d_rare = frechet(ref, rare, floors=FRAME_STD_FLOORS)
    d_often = frechet(ref, often, floors=FRAME_STD_FLOORS)
    assert d_rare < 0.1 < 1.0 < d_often
    assert frechet(ref, rare) > 10 * d_rare        # what a fraction's floor would have made of it
