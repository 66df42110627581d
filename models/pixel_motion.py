"""How fast the lamp's pixels change, held to the data's: the motion and flicker terms of training.

Two views of the same change per tick. On 4x4 block averages (:func:`frame_motion`)
the wax that moves counts and a shimmer of fine texture averages away, so the lamp
cannot fake motion with it. At full resolution (:func:`pixel_speeds`) the shimmer is
all there, so the lamp pays for texture that boils. Each is compared with the real
clips' as a squared log ratio: zero at the data's speed, whatever the scale. (How
the wax itself moves is models/wax_motion.py.)
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .wax_motion import log_gap


def frame_motion(clips: Tensor, pool: int = 4) -> Tensor:
    """Mean |frame difference| per tick of a batch of clips (B, T, 3, S, S), in the frames' units.

    Measured on ``pool``x``pool`` block averages: wax that moves counts, a shimmer of fine
    texture from tick to tick (an easy way to fake motion) mostly averages away.
    """
    if pool > 1 and clips.shape[-1] % pool == 0 and clips.shape[-2] % pool == 0:
        clips = F.avg_pool2d(clips.flatten(0, 1), pool).unflatten(0, clips.shape[:2])
    return (clips[:, 1:] - clips[:, :-1]).abs().mean()


def motion_mismatch(fake: Tensor, real: Tensor) -> Tensor:
    """(log(fake motion / real motion))^2: zero when the lamp moves as fast as its data, whatever the scale.

    The discriminators judge what motion looks like; this holds its speed, which a
    temporal discriminator reading a few ticks is slow to insist on.
    """
    return log_gap(frame_motion(fake), frame_motion(real).detach())


def pixel_speeds(clips: Tensor) -> Tensor:
    """(per tick, across the clip): mean |difference| of full-resolution pixels between neighbouring
    ticks and between a clip's first and last frames, over a batch (B, T>=2, 3, S, S): a (2,) tensor."""
    return torch.stack([(clips[:, 1:] - clips[:, :-1]).abs().mean(), (clips[:, -1] - clips[:, 0]).abs().mean()])


def flicker_mismatch(fake: Tensor, real: Tensor) -> Tensor:
    """Sum of (log(fake / real))^2 over the two pixel speeds: zero when the lamp's finest detail
    changes as fast as the data's.

    ``frame_motion`` averages fine texture away, so a lamp whose wax is mottled and whose mottling
    boils from tick to tick pays nothing there; here it does. Across the clip as well as per tick:
    a jitter that goes back and forth adds to the per-tick change, not to the change over a clip.
    """
    return log_gap(pixel_speeds(fake), pixel_speeds(real).detach())
