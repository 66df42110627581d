"""Ground truth from the simulator, and the picture scores (PSNR, SSIM, edge bands, flicker)."""
from __future__ import annotations

import numpy as np
import pytest

from duralava.models import groundtruth as gt
from duralava.models import image_scores as sc


@pytest.fixture(scope="module")
def truth():
    return gt.pairs(2, sizes=(64, 256, 512), config=gt.TruthConfig(n_lamps=2, seed=3))


@pytest.fixture(scope="module")
def sequence():
    return gt.sequences(3, size=64, stride=4, config=gt.TruthConfig(n_lamps=1, seed=3))


def area_down(img: np.ndarray, k: int) -> np.ndarray:
    h, w, c = img.shape
    return img.reshape(h // k, k, w // k, k, c).astype(np.float64).mean(axis=(1, 3)) / 255.0


def test_pairs_are_the_same_state_at_each_size(truth):
    assert set(truth) == {64, 256, 512}
    for s, frames in truth.items():
        assert frames.shape == (2, s, s, 3) and frames.dtype == np.uint8
    for i in range(2):
        # The 8x and 4x pictures, shrunk back, are the 64x64 frame (to the anti-aliasing).
        assert sc.psnr(area_down(truth[512][i], 8), truth[64][i]) > 35
        assert sc.psnr(area_down(truth[256][i], 4), truth[64][i]) > 35
    # ... and not just any frame: the other lamp's state is far off.
    assert sc.psnr(area_down(truth[512][0], 8), truth[64][1]) < 30


def test_sequences_hold_every_step_between_ticks(sequence):
    assert sequence.shape == (1, 2 * 4 + 1, 64, 64, 3)
    steps = sequence[0].astype(np.int16)
    change = np.abs(np.diff(steps, axis=0)).mean(axis=(1, 2, 3))      # per step
    assert (change > 0).all(), "the lamp froze between two steps"
    # A step moves less than a tick does.
    assert np.abs(steps[4] - steps[0]).mean() > change.mean()
    assert np.array_equal(gt.ticks_of(sequence, 4)[0], sequence[0, ::4])


def test_bad_requests_are_one_sentence():
    with pytest.raises(gt.GroundTruthError, match="sizes"):
        gt.pairs(1, sizes=(4,))
    with pytest.raises(gt.GroundTruthError, match="n_frames"):
        gt.pairs(0)
    with pytest.raises(gt.GroundTruthError, match="2 ticks"):
        gt.sequences(1)


def test_psnr_of_known_errors():
    a = np.full((8, 8, 3), 100, np.uint8)
    assert sc.psnr(a, a) == 100.0
    b = a + np.uint8(1)
    assert sc.psnr(b, a) == pytest.approx(20 * np.log10(255), abs=1e-6)
    mask = np.zeros((8, 8), bool)
    mask[:2] = True
    c = a.copy()
    c[4:] = 0                                   # errors only outside the mask
    assert sc.psnr(c, a, mask) == 100.0 and sc.psnr(c, a) < 20
    with pytest.raises(sc.ScoreError, match="shape"):
        sc.psnr(a, a[:4])
    with pytest.raises(sc.ScoreError, match="no pixels"):
        sc.psnr(a, a, np.zeros((8, 8), bool))


def test_ssim_prefers_the_sharp_picture(truth):
    t = truth[256][0]
    assert sc.ssim(t, t) == pytest.approx(1.0)
    blurred = area_down(t, 4).repeat(4, 0).repeat(4, 1)
    noisy = np.clip(t + np.random.default_rng(0).normal(0, 20, t.shape), 0, 255).astype(np.uint8)
    assert sc.ssim(blurred, t) < 0.999
    assert sc.ssim(noisy, t) < sc.ssim(blurred, t)


def test_edge_band_surrounds_wax_edges():
    yy, xx = np.mgrid[0:128, 0:128]
    disk = ((xx - 64) ** 2 + (yy - 64) ** 2 < 30 ** 2)
    img = np.where(disk[..., None], 230, 20).astype(np.uint8).repeat(3, -1)
    band = sc.edge_band(img, width=3)
    r = np.hypot(xx - 64, yy - 64)
    assert band[np.abs(r - 30) < 1].all()
    assert not band[r < 24].any() and not band[r > 36].any()


def test_flicker_counts_pulsing_error_not_steady_error():
    truth = np.zeros((9, 4, 4, 3))
    steady = truth + 0.1
    pulsing = truth + 0.1 * (np.arange(9) % 2)[:, None, None, None]
    assert sc.flicker(steady, truth) == pytest.approx(0.0)
    assert sc.flicker(pulsing, truth) > 10
    with pytest.raises(sc.ScoreError, match="3 frames"):
        sc.flicker(truth[:2], truth[:2])
