"""The wax-motion term: a soft wax mask that agrees with eval's, and speeds that tell moving wax from fading wax."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from duralava.models.features import (CLIP_FEATURES, FRAME_FEATURES, MetricsError, WaxSegmenter, clip_features,
                                      frame_features)
from duralava.models.wax_motion import SoftWax

S = 32
LIQUID, WAX = (60, 20, 90), (250, 120, 30)
SWEEP = np.concatenate([np.linspace(0.2, 0.8, 40), np.linspace(0.8, 0.2, 40)])  # a blob's heights, down and up


def blob_frames(heights, alpha=None) -> np.ndarray:
    """Frames (N, S, S, 3) of one round blob at each height (0..1 of the frame, top = 0), faded by ``alpha``."""
    yy, xx = np.mgrid[0:S, 0:S]
    alpha = np.ones(len(heights)) if alpha is None else np.asarray(alpha)
    out = np.empty((len(heights), S, S, 3), np.float32)
    out[:] = LIQUID
    for i, (h, a) in enumerate(zip(heights, alpha)):
        wax = (yy - h * S) ** 2 + (xx - S / 2) ** 2 < 20
        out[i][wax] = a * np.array(WAX, np.float32) + (1 - a) * np.array(LIQUID, np.float32)
    return out.round().astype(np.uint8)


def as_clips(frames: np.ndarray, t: int) -> torch.Tensor:
    x = torch.from_numpy(frames).float().div(255).permute(0, 3, 1, 2)
    return x.unflatten(0, (len(frames) // t, t))


@pytest.fixture(scope="module")
def soft():
    return SoftWax.fit(blob_frames(SWEEP), mirrored=False)


def test_the_soft_mask_agrees_with_evals_hard_mask(soft):
    frames = blob_frames(np.linspace(0.25, 0.75, 12))
    hard = WaxSegmenter.fit(frames).mask(frames)
    m = soft.mask(as_clips(frames, 12))[0].numpy()
    assert ((m > 0.5) == hard).mean() > 0.99
    assert m[hard].min() > 0.9 and m[~hard].max() < 0.1   # steep: near 0 or 1 off the edge


def test_the_wax_crossing_each_height_is_evals_flux_and_still_wax_crosses_none(soft):
    t = 8
    seg = WaxSegmenter.fit(blob_frames(np.linspace(0.2, 0.8, 40)))
    fluxes = []
    for top in (0.3, 0.6, 0.65):                 # rising 0.4, 0.1 and 0.05 of the frame in the clip
        frames = blob_frames(np.linspace(0.7, top, t))
        hard = clip_features(frames[None], seg)[0, CLIP_FEATURES.index("wax_flux")]
        fluxes.append(soft.flux(as_clips(frames, t)).item())
        assert hard > 0.02 and fluxes[-1] == pytest.approx(hard, rel=0.05)
    assert fluxes[0] > fluxes[1] > fluxes[2]
    assert soft.flux(as_clips(blob_frames(np.full(t, 0.5)), t)).item() < 1e-6
    rising = as_clips(blob_frames(np.linspace(0.7, 0.3, t)), t)
    slow = as_clips(blob_frames(np.linspace(0.7, 0.65, t)), t)
    # Held to the data: zero for the data itself, and the gradient slows the faster lamp's wax.
    assert soft.flux_mismatch(slow, slow).item() == pytest.approx(0.0, abs=1e-6)
    fast = rising.clone().requires_grad_(True)
    soft.flux_mismatch(fast, slow).backward()
    assert fast.grad.abs().sum() > 0


def test_moving_wax_is_fast_and_a_brightening_glow_is_not(soft):
    t = 8
    rising = as_clips(blob_frames(np.linspace(0.7, 0.3, t)), t)
    slow = as_clips(blob_frames(np.linspace(0.7, 0.6, t)), t)
    still = as_clips(blob_frames(np.full(t, 0.5)), t)
    outline, drift = soft.speeds(rising)
    assert drift.item() == pytest.approx(0.4 / (t - 1), rel=0.1)      # the centre moves 0.4 of the frame
    assert soft.speeds(still).max().item() < 1e-6
    assert (soft.speeds(slow) < soft.speeds(rising)).all()
    # A glow brightening the liquid changes pixels but moves no wax.
    glow = blob_frames(np.full(t, 0.5)).astype(np.float32) * np.linspace(0.8, 1.0, t)[:, None, None, None]
    glow = as_clips(glow.round().astype(np.uint8), t)
    assert soft.speeds(glow)[1] < 0.05 * drift and (glow[:, 1:] - glow[:, :-1]).abs().mean() > 0.005
    # Eval's clip features, from the hard mask, say the same about the rising blob.
    seg = WaxSegmenter.fit(blob_frames(np.linspace(0.2, 0.8, 40)))
    hard = clip_features(blob_frames(np.linspace(0.7, 0.3, t))[None], seg)[0]
    speed_y = hard[CLIP_FEATURES.index("centroid_speed_y")]
    assert drift.item() == pytest.approx(speed_y, rel=0.15)


def test_the_mismatch_is_zero_at_the_data_speed_and_teaches_the_wax_to_move(soft):
    t = 8
    real = as_clips(blob_frames(np.linspace(0.7, 0.3, t)), t)
    slow = as_clips(blob_frames(np.linspace(0.7, 0.5, t)), t)
    fast = as_clips(np.concatenate([blob_frames(np.linspace(0.9, 0.1, t))]), t)
    assert soft.mismatch(real.clone(), real).item() < 1e-8
    assert soft.mismatch(slow, real) > 0.5 and soft.mismatch(fast, real) > 0.3
    fake = slow.clone().requires_grad_(True)
    soft.mismatch(fake, real).backward()
    assert torch.isfinite(fake.grad).all() and fake.grad.abs().sum() > 0


def soft_edged(frames: np.ndarray, passes: int) -> np.ndarray:
    """The frames with their outline smeared by ``passes`` 3x3 box blurs (the liquid and wax inside kept)."""
    x = frames.astype(np.float32)
    for _ in range(passes):
        pad = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="edge")
        x = sum(pad[:, dy:dy + S, dx:dx + S] for dy in range(3) for dx in range(3)) / 9.0
    return x.round().astype(np.uint8)


def test_the_colour_shares_count_evals_colour_bins_and_a_blurred_outline_fills_the_middle(soft):
    sharp = blob_frames(np.linspace(0.3, 0.7, 8))
    seg = WaxSegmenter.fit(blob_frames(np.linspace(0.2, 0.8, 40)))
    bins = [FRAME_FEATURES.index(f"colour_{i}") for i in range(6)]
    middle = []
    for frames in (sharp, soft_edged(sharp, 1), soft_edged(sharp, 2)):
        shares = soft.colour_shares(as_clips(frames, 8)).numpy()
        # eval's shares, on the same pixels as the soft ones
        hard = frame_features(frames, seg)[:, bins].mean(0) * seg.active.sum() / soft.active.sum().item()
        assert shares.sum() == pytest.approx(1.0, abs=1e-5)
        assert shares == pytest.approx(hard, abs=0.02)    # soft bands: pixels near an edge count in both
        middle.append(shares[2:5].sum())
    assert middle[0] < 0.01 < middle[1] < middle[2]       # a hard-edged blob has no half-wax rim


def test_the_colour_mismatch_is_zero_at_the_data_sharpness_and_teaches_a_sharper_outline(soft):
    sharp = blob_frames(np.linspace(0.3, 0.7, 8))
    rimmed = as_clips(soft_edged(sharp, 1), 8)           # the data: a one-pixel soft rim
    blurred = as_clips(soft_edged(sharp, 3), 8)
    assert soft.colour_mismatch(rimmed.clone(), rimmed).item() < 1e-8
    assert soft.colour_mismatch(blurred, rimmed).item() > 0.1
    fake = blurred.clone().requires_grad_(True)
    loss = soft.colour_mismatch(fake, rimmed)
    loss.backward()
    assert torch.isfinite(fake.grad).all() and fake.grad.abs().sum() > 0
    with torch.no_grad():                                  # a small step down the gradient sharpens it
        stepped = (fake - 0.02 * fake.grad / fake.grad.abs().max()).clamp(0, 1)
    assert soft.colour_mismatch(stepped, rimmed).item() < loss.item()


def test_the_off_axis_distance_is_evals_and_the_colour_mismatch_pulls_a_stray_hue_back(soft):
    sharp = blob_frames(np.linspace(0.3, 0.7, 8))
    seg = WaxSegmenter.fit(blob_frames(np.linspace(0.2, 0.8, 40)))
    assert np.array_equal(seg.active, soft.active.numpy() > 0)
    column = FRAME_FEATURES.index("colour_off_axis")
    tinted = sharp.copy()
    tinted[..., 1] = np.clip(tinted[..., 1].astype(int) + 40, 0, 255)     # green in wax and liquid alike
    for frames in (sharp, soft_edged(sharp, 2), tinted):
        assert soft.off_axis(as_clips(frames, 8)).item() == pytest.approx(
            frame_features(frames, seg)[:, column].mean(), rel=1e-3, abs=1e-5)
    data, stray = as_clips(sharp, 8), as_clips(tinted, 8)
    assert soft.off_axis(stray).item() > 0.05 > soft.off_axis(data).item()
    assert soft.colour_mismatch(data.clone(), data).item() < 1e-8
    fake = stray.clone().requires_grad_(True)
    loss = soft.colour_mismatch(fake, data)
    loss.backward()
    assert torch.isfinite(fake.grad).all()
    with torch.no_grad():                                  # a small step down the gradient takes green out
        stepped = (fake - 0.02 * fake.grad / fake.grad.abs().max()).clamp(0, 1)
    assert soft.colour_mismatch(stepped, data).item() < loss.item()
    assert stepped[:, :, 1].mean() < stray[:, :, 1].mean()


def test_the_spread_mismatch_tells_spurts_from_an_even_pace(soft):
    t = 8
    # The data: half the clips rest, half rise fast. The lamp: every clip at the same middle pace.
    spurts = torch.cat([as_clips(blob_frames(np.full(t, 0.5)), t), as_clips(blob_frames(np.linspace(0.8, 0.2, t)), t),
                        as_clips(blob_frames(np.full(t, 0.6)), t), as_clips(blob_frames(np.linspace(0.2, 0.8, t)), t)])
    even = torch.cat([as_clips(blob_frames(np.linspace(0.7, 0.4, t)), t), as_clips(blob_frames(np.linspace(0.4, 0.7, t)), t),
                      as_clips(blob_frames(np.linspace(0.6, 0.3, t)), t), as_clips(blob_frames(np.linspace(0.3, 0.6, t)), t)])
    assert soft.speeds(even)[1].item() == pytest.approx(soft.speeds(spurts)[1].item(), rel=0.1)   # same mean pace
    assert soft.clip_speeds(spurts).shape == (4, 2)
    assert soft.spread_mismatch(spurts.clone(), spurts).item() < 1e-8
    assert soft.spread_mismatch(even, spurts).item() > 1.0
    fake = even.clone().requires_grad_(True)
    soft.spread_mismatch(fake, spurts).backward()
    assert torch.isfinite(fake.grad).all() and fake.grad.abs().sum() > 0


def test_frames_without_wax_cannot_be_fitted():
    with pytest.raises(MetricsError, match="never change"):
        SoftWax.fit(blob_frames(np.full(10, 0.5)))


def test_mirrored_training_clips_keep_their_wax(soft):
    # A lamp whose wax only ever sits on the left: its mirror image is on the right.
    frames = blob_frames(np.linspace(0.3, 0.7, 20))
    frames = np.concatenate([frames[:, :, 8:], frames[:, :, :8]], axis=2)   # shift the blob left
    plain, mirrored = SoftWax.fit(frames, mirrored=False), SoftWax.fit(frames)
    flipped = as_clips(frames[:, :, ::-1].copy(), 20)
    assert mirrored.mask(flipped).sum() > 0.9 * plain.mask(as_clips(frames, 20)).sum()
    assert plain.mask(flipped).sum() < 0.5 * plain.mask(as_clips(frames, 20)).sum()


def test_the_coupling_holds_each_clips_pixel_change_to_its_waxs_movement(soft):
    from duralava.models.wax_motion import pixels_per_outline

    t = 8
    real = torch.cat([as_clips(blob_frames(np.linspace(0.7, 0.3, t)), t),
                      as_clips(blob_frames(np.linspace(0.3, 0.5, t)), t),
                      as_clips(blob_frames(np.linspace(0.6, 0.5, t)), t)])
    ratios = pixels_per_outline(real, soft.clip_speeds(real))
    assert ratios.std().item() < 0.1 * ratios.mean().abs().item()   # fast or slow, the same ratio
    assert soft.speed_mismatches(real.clone(), real)[2].item() < 0.01
    # The same wax under a liquid whose texture boils: a fine pattern flipping sign each tick,
    # too faint to move the mask, most of a slow clip's pixel change.
    checker = ((torch.arange(S)[:, None] + torch.arange(S)[None, :]) % 2).float() * 2 - 1
    signs = (-1.0) ** torch.arange(t, dtype=torch.float32).view(1, t, 1, 1, 1)
    boiling = (real + 0.01 * checker * signs).clamp(0, 1)
    assert (soft.clip_speeds(boiling) - soft.clip_speeds(real)).abs().max().item() < 1e-3
    by_clip = pixels_per_outline(boiling, soft.clip_speeds(boiling)) - ratios
    assert by_clip[2] > by_clip[0] > 0.1                     # worst where the wax moves least
    coupling = soft.speed_mismatches(boiling, real)[2]
    assert coupling.item() > 0.3
    fake = boiling.clone().requires_grad_(True)
    loss = soft.speed_mismatches(fake, real)[2]
    loss.backward()
    with torch.no_grad():
        calmer = fake - 0.005 * fake.grad.sign()
    assert soft.speed_mismatches(calmer, real)[2].item() < loss.item()


def test_the_height_mismatch_wants_the_wax_everywhere_the_data_takes_it(soft):
    from duralava.models.features import PROFILE_BANDS

    assert soft.heights.shape == (PROFILE_BANDS,) and soft.heights.sum().item() == pytest.approx(1.0, abs=1e-3)
    # The same as eval's height profile of the data, band by band.
    frames = blob_frames(SWEEP)
    seg = WaxSegmenter.fit(frames)
    profile = frame_features(frames, seg)[:, [FRAME_FEATURES.index(f"profile_{i}")
                                              for i in range(PROFILE_BANDS)]].mean(0)
    np.testing.assert_allclose(soft.heights.numpy(), profile, atol=0.02)
    assert soft.height_mismatch(as_clips(frames, 8)).item() < 0.01
    # A lamp whose wax hovers in the upper half never shows the bottom bands.
    high = as_clips(blob_frames(np.linspace(0.2, 0.45, 16)), 8).requires_grad_(True)
    loss = soft.height_mismatch(high)
    assert loss.item() > 5.0
    loss.backward()
    assert torch.isfinite(high.grad).all() and high.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="fit"):
        SoftWax(seg).height_mismatch(high)


def test_the_liquid_term_sees_a_drifting_shade_and_not_the_wax_moving(soft):
    t = 8
    rising = as_clips(blob_frames(np.linspace(0.7, 0.3, t)), t)
    still = as_clips(blob_frames(np.full(t, 0.5)), t)
    # Moving wax leaves the liquid as it was: only the rim, where wax and liquid blend, counts a little.
    per_tick, across = soft.liquid_speeds(rising)
    assert per_tick < 0.01 and across < 0.01
    assert soft.liquid_speeds(still).max().item() < 1e-6
    # The liquid's shade drifting over the clip, the blob resting, is the change this term is for.
    shade = np.linspace(0.85, 1.0, t)[:, None, None, None]
    drifting = as_clips((blob_frames(np.full(t, 0.5)).astype(np.float32) * shade).round().astype(np.uint8), t)
    per_tick_d, across_d = soft.liquid_speeds(drifting)
    assert across_d > 5 * per_tick_d > 5 * 0.002
    assert soft.liquid_mismatch(drifting, rising) > 1.0
    assert soft.liquid_mismatch(rising.clone(), rising).item() < 1e-10
    # The gradient reaches the liquid's pixels only (the mask is a weight): a step against it calms the shade.
    fake = drifting.clone().requires_grad_(True)
    loss = soft.liquid_mismatch(fake, rising)
    loss.backward()
    wax = soft.mask(drifting) > 0.5
    assert fake.grad.abs().sum(dim=2)[wax].max() < 1e-3 * fake.grad.abs().max()
    with torch.no_grad():
        calmer = fake - 0.01 * fake.grad / fake.grad.abs().max()
    assert soft.liquid_mismatch(calmer, rising).item() < loss.item()


def test_the_amount_term_sees_wax_that_swells_and_shrinks_and_not_wax_that_moves(soft):
    t = 8
    rising = as_clips(blob_frames(np.linspace(0.7, 0.3, t)), t)
    # A rising blob keeps its amount of wax: only where the outline meets the pixel grid does it change.
    per_tick, across = soft.amount_changes(rising)
    assert per_tick < 0.01 and across < 0.01
    assert soft.amount_changes(as_clips(blob_frames(np.full(t, 0.5)), t)).max().item() < 1e-6
    # A blob that swells and shrinks where it is, fading in and out, is the change this term is for.
    pulsing = as_clips(blob_frames(np.full(t, 0.5), alpha=[1.0, 0.3] * (t // 2)), t)
    per_tick_p, across_p = soft.amount_changes(pulsing)
    assert per_tick_p > 10 * per_tick and per_tick_p > 0.05
    assert soft.amount_mismatch(pulsing, rising) > 1.0
    assert soft.amount_mismatch(rising.clone(), rising).item() < 1e-10
    # Eval's flux sees the same swelling as wax crossing the rows below the blob: more flux than motion.
    seg = WaxSegmenter.fit(blob_frames(np.linspace(0.2, 0.8, 40)))
    flux = CLIP_FEATURES.index("wax_flux")
    as_frames = (pulsing[0].permute(0, 2, 3, 1) * 255).round().byte().numpy()
    assert clip_features(as_frames[None], seg)[0, flux] > 0.01
    assert clip_features(blob_frames(np.full(t, 0.5))[None], seg)[0, flux] == 0
    # One step against the gradient steadies the amount.
    fake = pulsing.clone().requires_grad_(True)
    loss = soft.amount_mismatch(fake, rising)
    loss.backward()
    assert torch.isfinite(fake.grad).all()
    with torch.no_grad():
        steadier = fake - 0.01 * fake.grad / fake.grad.abs().max()
    assert soft.amount_mismatch(steadier, rising).item() < loss.item()


def droplet_frames(n: int, drops: int) -> np.ndarray:
    """Frames (n, S, S, 3) of ``drops`` small round droplets along the middle column, each frame shifted a row."""
    yy, xx = np.mgrid[0:S, 0:S]
    out = np.empty((n, S, S, 3), np.uint8)
    out[:] = LIQUID
    for i in range(n):
        for k in range(drops):
            wax = (yy - (0.25 + 0.5 * k / max(drops - 1, 1)) * S - i) ** 2 + (xx - S / 2) ** 2 < 5
            out[i][wax] = WAX
    return out


def test_the_shape_term_is_evals_outline_for_its_area_and_wants_the_data_s_droplets(soft):
    t = 4
    blob, drops = blob_frames(np.linspace(0.4, 0.6, t)), droplet_frames(t, 3)
    per_area = FRAME_FEATURES.index("perimeter_per_area")
    seg = WaxSegmenter.fit(blob_frames(SWEEP))                          # as the fixture's soft wax is fitted
    for frames in (blob, drops):
        hard = frame_features(frames, seg)[:, per_area].mean()
        assert soft.outline_per_area(as_clips(frames, t)).item() == pytest.approx(hard, rel=0.1)
    one, three = soft.outline_per_area(as_clips(blob, t)), soft.outline_per_area(as_clips(drops, t))
    assert three > 1.3 * one                                            # small droplets: more outline for their wax
    assert soft.shape_mismatch(as_clips(drops, t), as_clips(drops.copy(), t)).item() < 1e-10
    # Against droplets, one round blob is off, and a step against the gradient gives it more outline.
    fake = as_clips(blob, t).requires_grad_(True)
    loss = soft.shape_mismatch(fake, as_clips(drops, t))
    loss.backward()
    assert loss.item() > 0.05 and torch.isfinite(fake.grad).all()
    with torch.no_grad():
        nearer = fake - 0.01 * fake.grad / fake.grad.abs().max()
    assert soft.shape_mismatch(nearer, as_clips(drops, t)).item() < loss.item()
