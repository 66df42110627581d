"""The pixel-motion terms of training: the lamp's motion per tick, its texture's flicker and each clip's steadiness."""
from __future__ import annotations

import numpy as np
import torch


def test_motion_mismatch_is_zero_at_the_data_speed_and_grows_either_way():
    from duralava.models.pixel_motion import motion_mismatch

    g = torch.Generator().manual_seed(0)
    real = torch.rand(4, 6, 3, 8, 8, generator=g)
    assert motion_mismatch(real.clone(), real).item() < 1e-10
    frozen = real[:, :1].expand(-1, 6, -1, -1, -1)
    slow = real[:, :1] + 0.25 * (real - real[:, :1])
    assert motion_mismatch(frozen, real) > motion_mismatch(slow, real) > 1.0
    fast = real[:, :1] + 3.0 * (real - real[:, :1])
    assert motion_mismatch(fast, real) > 0.5
    fake = slow.clone().requires_grad_(True)
    motion_mismatch(fake, real).backward()
    assert fake.grad.abs().sum() > 0            # it can teach the lamp to move
    # A fine checkerboard flickering from tick to tick is shimmer, not motion.
    from duralava.models.pixel_motion import frame_motion

    still = torch.full((2, 4, 3, 8, 8), 0.5)
    checker = ((torch.arange(8)[:, None] + torch.arange(8)[None, :]) % 2).float() * 2 - 1
    shimmer = still + 0.2 * checker * torch.tensor([1.0, -1.0, 1.0, -1.0])[None, :, None, None, None]
    moving = still.clone()
    moving[:, :, :, :, :4] += 0.2 * torch.tensor([0.0, 1.0, 0.0, 1.0])[None, :, None, None, None]
    assert frame_motion(shimmer) < 1e-6 < frame_motion(moving)


def test_flicker_mismatch_sees_the_boiling_texture_and_the_jitter_that_pooled_motion_misses():
    from duralava.models.pixel_motion import flicker_mismatch, motion_mismatch, pixel_speeds

    g = torch.Generator().manual_seed(1)
    base = torch.rand(3, 1, 3, 8, 8, generator=g) * 0.5 + 0.25
    drift = (torch.rand(3, 1, 3, 8, 8, generator=g) - 0.5) * 0.02
    ticks = torch.arange(6, dtype=torch.float32).view(1, 6, 1, 1, 1)
    real = base + ticks * drift                            # every pixel drifts steadily
    assert flicker_mismatch(real.clone(), real).item() < 1e-10
    speeds = pixel_speeds(real)
    assert torch.allclose(speeds[1], 5 * speeds[0], rtol=1e-4)

    # Texture that boils: a fine checkerboard flipping sign each tick on top of the same drift.
    checker = ((torch.arange(8)[:, None] + torch.arange(8)[None, :]) % 2).float() * 2 - 1
    boiling = real + 0.05 * checker * (-1.0) ** ticks
    assert motion_mismatch(boiling, real).item() < 1e-4       # pooled 4x4, the checkerboard is gone
    assert flicker_mismatch(boiling, real).item() > 0.5

    # Jitter: the same change per tick, but back and forth, so a clip ends where it began.
    jitter = base + (ticks % 2) * drift
    assert torch.allclose(pixel_speeds(jitter)[0], speeds[0], rtol=1e-4)
    assert flicker_mismatch(jitter, real).item() > 1.0

    fake = boiling.clone().requires_grad_(True)
    loss = flicker_mismatch(fake, real)
    loss.backward()
    with torch.no_grad():
        calmer = fake - 0.02 * fake.grad / fake.grad.abs().max()
    assert flicker_mismatch(calmer, real).item() < loss.item()   # one step against it calms the texture


def test_steadiness_holds_each_clip_to_motion_that_adds_up():
    from duralava.models.pixel_motion import persistence, steadiness_mismatch

    g = torch.Generator().manual_seed(2)
    base = torch.rand(6, 1, 3, 8, 8, generator=g) * 0.5 + 0.25
    drift = (torch.rand(6, 1, 3, 8, 8, generator=g) - 0.5) * 0.02
    pace = torch.linspace(0.3, 3.0, 6).view(6, 1, 1, 1, 1)             # slow clips and fast ones
    ticks = torch.arange(8, dtype=torch.float32).view(1, 8, 1, 1, 1)
    real = base + ticks * drift * pace
    p = persistence(real)
    # Steady drift: a clip ends seven ticks' worth of change from its start, whatever its pace.
    assert torch.allclose(p, torch.full_like(p, float(np.log(7))), atol=0.01)
    assert steadiness_mismatch(real.clone(), real).item() < 1e-4

    # Half the clips wobble: the same change per tick, back and forth, ending near where they began.
    wobbly = real.clone()
    wobbly[:3] = base[:3] + (ticks % 2) * drift[:3] * pace[:3]
    q = persistence(wobbly)
    assert (q[:3] < 0.5).all() and torch.allclose(q[3:], p[3:])
    assert steadiness_mismatch(wobbly, real).item() > 1.0
    # Not a matter of pace: the batch's mean change per tick and across the clip could be matched
    # by clips that are all a little wobbly, which still pay here.
    slightly = base + (ticks + 1.5 * (ticks % 2)) * drift * pace         # a step back every other tick
    assert steadiness_mismatch(slightly, real).item() > 0.02

    fake = wobbly.clone().requires_grad_(True)
    loss = steadiness_mismatch(fake, real)
    loss.backward()
    assert fake.grad[3:].abs().max() < 1e-6 < fake.grad[:3].abs().max()    # only the wobbly clips pay
    with torch.no_grad():
        steadier = fake - 0.002 * fake.grad / fake.grad.abs().max()
    assert steadiness_mismatch(steadier, real).item() < loss.item()
