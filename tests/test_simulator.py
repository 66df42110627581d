"""The lava-lamp simulator: conservation, determinism, physics signs, rendering."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from duralava.models import lamp_frames
from duralava.models.render import PALETTES, Palette, RenderError, glass_coverage, render_lamps
from duralava.models.simulator import (DEFAULT_STRIDE, PRESETS, LampParams, LavaLamp,
                                       SimulatorError, preset, simulate_frames)

lamp_frames.single_thread_blas()


@pytest.fixture(scope="module")
def warm_lamps():
    return LavaLamp(n_lamps=4, seed=11)


def test_transforms_diagonalise_the_laplacian_and_advection_conserves():
    from duralava.models import physics

    rng = np.random.default_rng(0)
    a = rng.standard_normal((20, 3, 12))
    cos = physics.CosineBasis(20, 12)
    np.testing.assert_allclose(cos.inverse(cos.forward(a)), a, atol=1e-12)
    # The wax update relies on this: the 5-point no-flux Laplacian is diagonal.
    np.testing.assert_allclose(cos.forward(-physics.laplacian(a)), cos.k2 * cos.forward(a), atol=1e-10)
    sin = physics.SineBasis(20, 12)
    b = rng.standard_normal((19, 3, 11))
    np.testing.assert_allclose(sin.inverse(sin.forward(b)), b, atol=1e-12)

    psi = rng.standard_normal((19, 3, 11)).astype(np.float32) * 0.2
    u, v = physics.face_velocities(psi)
    div = (u[:, :, 1:] - u[:, :, :-1]) + (v[1:] - v[:-1])
    assert np.abs(div).max() < 1e-6 and not u[:, :, [0, -1]].any() and not v[[0, -1]].any()
    scale = 0.45 / max(np.abs(u).max(), np.abs(v).max())
    phi = np.clip(rng.standard_normal((20, 3, 12)), -1, 1)
    heat = rng.random((20, 3, 12)).astype(np.float32)
    phi2, heat2 = physics.advect_wax_and_heat(phi, heat, u * scale, v * scale, 2.0)
    assert abs(phi2.sum() - phi.sum()) < 1e-10 and abs(heat2.sum() - heat.sum()) < 1e-3
    assert not np.array_equal(phi2, phi)


@pytest.mark.slow
def test_wax_mass_is_conserved_over_ten_thousand_steps():
    lamp = LavaLamp(n_lamps=1, seed=3, warm=False)
    start = lamp.wax_mass()
    lamp.step(10_000)
    assert lamp.steps_done == 10_000
    assert np.all(np.abs(lamp.wax_mass() / start - 1.0) < 1e-6)
    assert np.isfinite(lamp.phi).all() and np.isfinite(lamp.temperature).all()


def test_wax_stays_in_its_phases_and_in_the_glass(warm_lamps):
    lamp = warm_lamps
    lamp.step(50)
    phi = lamp.phi
    assert np.isfinite(phi).all()
    # Wax never overshoots its phase; the glass pushes liquid below -1, but boundedly.
    assert phi.max() < 1.3 and phi.min() > -1.8
    # Almost no wax outside the glass.
    outside = (1.0 - lamp.inside) * np.clip(0.5 * (1 + phi), 0, 1)
    assert outside.sum() < 0.02 * lamp.wax_mass().sum()


@pytest.mark.slow
def test_same_seed_same_frames_whatever_the_worker_count():
    lamps = lamp_frames.GROUP + 2                 # two groups, so two workers both run
    a, seg_a = simulate_frames(2 * lamps, seed=5, n_lamps=lamps, workers=1)
    b, seg_b = simulate_frames(2 * lamps, seed=5, n_lamps=lamps, workers=2)
    assert seg_a == seg_b == [2] * lamps
    assert a.shape == (2 * lamps, 64, 64, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b)
    c, _ = simulate_frames(2 * lamps, seed=6, n_lamps=lamps, workers=1)
    assert not np.array_equal(a, c)


def test_a_lamp_starts_the_same_in_any_batch():
    alone = LavaLamp(n_lamps=1, seed=4, first_lamp=1, warm=False)
    batch = LavaLamp(n_lamps=3, seed=4, warm=False)
    np.testing.assert_array_equal(alone.phi[:, 0], batch.phi[:, 1])
    alone.step(20)
    batch.step(20)
    # Only round-off in the batched transforms differs.
    np.testing.assert_allclose(alone.phi[:, 0], batch.phi[:, 1], atol=1e-4)


def test_segments_cover_the_frames_in_lamp_order():
    frames, segments = simulate_frames(7, n_lamps=3, stride=2, workers=1)
    assert segments == [3, 2, 2] and len(frames) == 7
    # Consecutive frames of one lamp are close; the first frame of the next lamp is not.
    d = np.abs(np.diff(frames.astype(np.int16), axis=0)).mean(axis=(1, 2, 3))
    assert d[0] < d[2] and d[1] < d[2]


def test_hot_wax_rises_and_cold_wax_sinks():
    p = LampParams(nx=24, ny=40, settle_steps=0, flicker=0.0, liquid_expansion=0.0)
    lamp = LavaLamp(n_lamps=1, seed=0, params=p, warm=False)
    yy, xx = np.mgrid[0:p.ny, 0:p.nx] + 0.5
    # Two blobs side by side at mid height: the left one hot, the right one cold.
    left = np.hypot(yy - 20, xx - 7) - 4.5
    right = np.hypot(yy - 20, xx - 17) - 4.5
    lamp.phi[:, 0] = np.tanh(-np.minimum(left, right) / np.sqrt(2))
    t = np.full((p.ny, p.nx), p.neutral_temperature, np.float32)
    t[:, : p.nx // 2] += 0.3
    t[:, p.nx // 2:] -= 0.3
    lamp.temperature[:, 0] = t
    lamp.step(1)
    _, v = lamp.wax_velocity()
    assert v[:, 0][(left < -1)].mean() > 0.0 > v[:, 0][(right < -1)].mean()

    # In a running lamp, over wax cells, temperature and rising speed go together.
    running = LavaLamp(n_lamps=2, seed=1)
    corr = []
    for _ in range(6):
        running.step(20)
        _, v = running.wax_velocity()
        wax = running.phi > 0.5
        corr.append(np.corrcoef(running.temperature[wax], v[wax])[0, 1])
    assert np.mean(corr) > 0.2, corr


@pytest.mark.slow
def test_frame_zero_looks_like_a_running_lamp():
    lamps = LavaLamp(n_lamps=8, seed=2)
    rows = np.arange(lamps.params.ny)[:, None, None] / lamps.params.ny

    def stats(l):
        wax = l.phi > 0
        height = (wax * rows).sum(axis=(0, 2)) / np.maximum(wax.sum(axis=(0, 2)), 1)
        return wax.mean(), l.temperature.mean(), height.mean(), height.std()

    first = stats(lamps)
    later = []
    for _ in range(5):
        lamps.step(400)
        later.append(stats(lamps))
    later = np.mean(later, axis=0)
    assert abs(first[0] - later[0]) < 0.15 * later[0]      # wax in sharp blobs, not smeared
    assert abs(first[1] - later[1]) < 0.06                 # the heat budget already settled
    assert abs(first[2] - later[2]) < 0.12                 # wax not all at the top or bottom
    assert first[3] > 0.4 * later[3]                       # and lamps not all in step


def test_same_state_renders_alike_at_any_size(warm_lamps):
    small = warm_lamps.render(64).astype(np.float64)
    for size in (256, 512):
        k = size // 64
        big = warm_lamps.render(size).astype(np.float64)
        assert big.shape == (4, size, size, 3)
        down = big.reshape(4, 64, k, 64, k, 3).mean(axis=(2, 4))
        diff = np.abs(down - small)
        assert diff.mean() < 2.0 and np.percentile(diff, 99) < 20


def test_lamp_is_centred_and_colours_follow_the_palette():
    p = LampParams()
    ny, nx = p.ny, p.nx
    liquid = -np.ones((ny, 1, nx))
    wax = np.ones((ny, 1, nx))
    warm = np.full((ny, 1, nx), p.neutral_temperature, np.float32)
    for name, pal in PALETTES.items():
        empty = render_lamps(liquid, warm, size=64, palette_name=name)[0].astype(float)
        full = render_lamps(wax, warm, size=64, palette_name=name)[0].astype(float)
        glass = np.abs(full - empty).sum(axis=2) > 30          # where wax shows: the glass
        cols = np.nonzero(glass.any(axis=0))[0]
        rows = np.nonzero(glass.any(axis=1))[0]
        assert abs((cols.min() + cols.max()) / 2 - 31.5) <= 1.0
        assert 0.1 * 64 < rows.min() and rows.max() < 0.9 * 64
        assert (glass == glass[:, ::-1]).mean() > 0.99        # a symmetric glass
        coverage = glass_coverage(64, nx, ny, p.glass_top)
        assert abs(coverage.sum() - glass.sum()) < 0.1 * glass.sum()
        for picture, colour in ((full, pal.wax), (empty, pal.liquid)):
            mean = picture[glass].mean(axis=0)
            cos = mean @ np.asarray(colour) / (np.linalg.norm(mean) * np.linalg.norm(colour))
            assert cos > 0.9, (name, mean, colour)


def test_colours_are_parameters():
    green = Palette(wax=(0.1, 0.9, 0.1), wax_hot=(0.1, 0.9, 0.1), liquid=(0.0, 0.0, 0.0),
                    glow=(0.0, 0.0, 0.0), metal=(0.5, 0.5, 0.5), room=(0.0, 0.0, 0.0))
    p = LampParams()
    full = np.ones((p.ny, 1, p.nx))
    img = render_lamps(full, np.zeros_like(full, np.float32), palette_name=green)[0].astype(int)
    centre = img[20:40, 28:36].reshape(-1, 3).mean(axis=0)
    assert centre[1] > 100 and centre[0] < 60 and centre[2] < 60


def test_every_preset_has_a_stored_warm_profile():
    # Otherwise each new process measures it first (seconds); regenerate with
    # `python -m duralava.models.warm_profiles`.
    from duralava.models.warm_profiles import PROFILES, params_key

    for name, params in PRESETS.items():
        assert params_key(params) in PROFILES, name
        assert len(PROFILES[params_key(params)]) == params.ny


def test_presets_and_bad_inputs():
    assert {"classic", "overheated"} <= set(PRESETS)
    assert PRESETS["overheated"].heat > PRESETS["classic"].heat
    assert DEFAULT_STRIDE >= 1
    with pytest.raises(SimulatorError, match="unknown preset"):
        preset("lukewarm")
    with pytest.raises(SimulatorError, match="frame count"):
        simulate_frames(0)
    with pytest.raises(SimulatorError, match="stride"):
        simulate_frames(4, stride=0)
    with pytest.raises(RenderError, match="unknown palette"):
        simulate_frames(4, palette="plaid")
    with pytest.raises(SimulatorError, match="out must be"):
        simulate_frames(4, out=np.zeros((4, 32, 32, 3), np.uint8))
    with pytest.raises(SimulatorError, match="wax_fraction"):
        LavaLamp(params=dataclasses.replace(LampParams(), wax_fraction=0.9))
    with pytest.raises(SimulatorError, match="unknown lamp parameter"):
        LampParams.from_dict({"colour": 1})
    with pytest.raises(RenderError, match="frame size"):
        LavaLamp(warm=False).render(3)
    assert LampParams.from_dict(PRESETS["overheated"].to_dict()) == PRESETS["overheated"]
