"""The scoring harness through the real shaders (EGL): it ranks upscalers and interpolators sensibly."""
from __future__ import annotations

import numpy as np
import pytest

from duralava.app import shader_scoring as ss
from duralava.app.motion_interp import EDGE_PROGRAM, MotionInterpolator, estimate_flow
from duralava.models import groundtruth as gt
from duralava.models import upscale_eval
from duralava.models.image_scores import edge_band, psnr

pytestmark = pytest.mark.gl


@pytest.fixture(scope="module")
def truth():
    return gt.pairs(2, sizes=(64, 256), config=gt.TruthConfig(n_lamps=2, seed=5))


@pytest.fixture(scope="module")
def sequence():
    return gt.sequences(3, size=64, stride=8, config=gt.TruthConfig(n_lamps=1, seed=5))[0]


def test_a_blurred_upscaler_scores_below_catmull_rom(truth):
    ss.add_upscaler("test_blur", "test_blur_upscale")
    scores = {}
    for name in ("test_blur", "bicubic"):
        outs = ss.upscale(name, truth[64], 256)
        assert outs.shape == (2, 256, 256, 3)
        scores[name] = [(psnr(o, t), psnr(o, t, edge_band(t))) for o, t in zip(outs, truth[256])]
    for blur, cr in zip(scores["test_blur"], scores["bicubic"]):
        assert blur[0] < cr[0] - 0.5 and blur[1] < cr[1] - 1.0


def test_the_neural_upscaler_beats_catmull_rom_on_edges(truth):
    from duralava.models.image_scores import frame_scores

    gains = []
    for name in ("neural", "bicubic"):
        outs = ss.upscale(name, truth[64], 256)
        gains.append(np.mean([frame_scores(o, t, edge_band(t))["psnr_edge"] for o, t in zip(outs, truth[256])]))
    assert gains[0] > gains[1] + 1.0, gains


def test_upscaling_checks_its_input():
    with pytest.raises(ss.ShaderScoringError, match="uint8"):
        ss.upscale("bicubic", np.zeros((1, 64, 64, 3), np.float32), 128)
    with pytest.raises(ss.ShaderScoringError, match="unknown upscaler"):
        ss.upscale("no-such-upscaler", np.zeros((1, 64, 64, 3), np.uint8), 128)


def test_upscaler_timing_is_measured():
    frame = np.zeros((64, 64, 3), np.uint8)
    assert 0 < ss.time_upscaler("bilinear", frame, (320, 240), repeats=2) < 5


def test_flow_finds_a_known_shift():
    yy, xx = np.mgrid[0:64, 0:64].astype(np.float64)

    def blob(dx, dy):
        r = np.hypot(xx - 30 - dx, yy - 34 - dy)
        alpha = 1 / (1 + np.exp(-2.8 * (9 - r)))
        return (np.stack([40 + 200 * alpha, 15 + 100 * alpha, 80 - 60 * alpha], -1)).round().astype(np.uint8)

    flow = estimate_flow(blob(0, 0), blob(0.6, -0.4))
    r = np.hypot(xx - 30, yy - 34)
    ring = np.abs(r - 9) < 1.0
    # Along an edge only the motion across it can be seen (the aperture problem): check that part.
    normal = np.stack([xx - 30, yy - 34], -1) / np.maximum(r, 1e-6)[..., None]
    across = ((flow - np.array([0.6, -0.4])) * normal).sum(-1)[ring]
    assert np.median(np.abs(across)) < 0.1 and np.abs(across).max() < 0.25
    assert np.abs(flow[r > 16]).max() < 0.05, "flat liquid must not move"


@pytest.mark.parametrize("program", ["interp_motion", EDGE_PROGRAM])
def test_in_betweens_start_and_end_on_the_ticks(sequence, program):
    interp = MotionInterpolator(ss.context(), program=program)
    try:
        a, b = sequence[0], sequence[8]
        outs = ss.motion(a, b, [0.0, 0.5, 1.0], interp)
    finally:
        interp.release()
    assert np.abs(outs[0].astype(int) - a).max() <= 1
    assert np.abs(outs[2].astype(int) - b).max() <= 1
    assert not np.array_equal(outs[1], a) and not np.array_equal(outs[1], b)


def test_crossfade_is_the_viewers_blend(sequence):
    a, b = sequence[0], sequence[8]
    mid = ss.crossfade(a, b, [0.5])[0].astype(float)
    assert np.abs(mid - (a.astype(float) + b) / 2).max() <= 1.0


def test_edge_motion_beats_crossfade_without_more_flicker():
    results, example = upscale_eval.score_interpolators(ticks=3, seed=4242)
    assert set(results) >= {"hold", "crossfade", "flow-warp", "edge-motion"}
    assert results["crossfade"]["psnr"] > results["hold"]["psnr"]
    assert results["edge-motion"]["psnr"] > results["crossfade"]["psnr"] + 1.0
    assert results["edge-motion"]["psnr_moving"] > results["crossfade"]["psnr_moving"] + 1.0
    assert results["edge-motion"]["flicker"] <= results["crossfade"]["flicker"]
    from duralava.models.simulator import DEFAULT_STRIDE

    assert example["truth"].shape[0] == DEFAULT_STRIDE + 1
