"""How fast the lamp's pixels change, held to the data's: the motion and flicker terms of training.

Two views of the same change per tick. On 4x4 block averages (:func:`frame_motion`)
the wax that moves counts and a shimmer of fine texture averages away, so the lamp
cannot fake motion with it. At full resolution (:func:`pixel_speeds`) the shimmer is
all there, so the lamp pays for texture that boils. Each is compared with the real
clips' as a squared log ratio: zero at the data's speed, whatever the scale. (How
the wax itself moves is models/wax_motion.py.) And per clip (:func:`persistence`): how
much of the change per tick adds up over the clip, as it does for wax that keeps its
direction.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .wax_motion import log_gap

# Keeps the log finite for a clip that does not change at all (real clips change ~1e-3 a tick).
PERSIST_EPS = 1e-5


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


def clip_pixel_speeds(clips: Tensor) -> Tensor:
    """(per tick, across the clip) of each clip of (B, T>=2, 3, S, S): mean |difference| of
    full-resolution pixels between neighbouring ticks and between its first and last frames: (B, 2)."""
    per_tick = (clips[:, 1:] - clips[:, :-1]).abs().mean(dim=(1, 2, 3, 4))
    across = (clips[:, -1] - clips[:, 0]).abs().mean(dim=(1, 2, 3))
    return torch.stack([per_tick, across], dim=1)


def pixel_speeds(clips: Tensor) -> Tensor:
    """:func:`clip_pixel_speeds` over a whole batch (its clips are all the same size): a (2,) tensor."""
    return clip_pixel_speeds(clips).mean(dim=0)


def flicker_mismatch(fake: Tensor, real: Tensor) -> Tensor:
    """Sum of (log(fake / real))^2 over the two pixel speeds: zero when the lamp's finest detail
    changes as fast as the data's.

    ``frame_motion`` averages fine texture away, so a lamp whose wax is mottled and whose mottling
    boils from tick to tick pays nothing there; here it does. Across the clip as well as per tick:
    a jitter that goes back and forth adds to the per-tick change, not to the change over a clip.
    """
    return log_gap(pixel_speeds(fake), pixel_speeds(real).detach())


def persistence(clips: Tensor) -> Tensor:
    """log(|last frame - first frame| / mean |change per tick|) of each clip (B, T, 3, S, S): (B,).

    How much of a clip's change per tick adds up over the clip. The data's wax keeps its
    direction, so this is nearly the same number for every clip, slow or fast (on the
    simulator's 8-tick clips 1.91, sd 0.08 over clips: a clip ends about 6.8 ticks' worth of
    change from its start in 7 ticks); a lamp that wobbles back and forth, or whose texture
    boils while its wax drifts, gets less of its change across the clip, and different amounts
    from clip to clip.
    """
    per_tick, across = clip_pixel_speeds(clips).unbind(dim=1)
    return torch.log(across + PERSIST_EPS) - torch.log(per_tick + PERSIST_EPS)


def steadiness_mismatch(fake: Tensor, real: Tensor) -> Tensor:
    """Mean over the lamp's clips of the squared gap between each clip's :func:`persistence` and the
    data's mean: zero when every clip's motion adds up as the data's does.

    Batch means (:func:`flicker_mismatch`) let a lamp jitter in some clips and glide in others;
    here each clip pays for itself. In eval's clip features of a lamp 10,000 steps into
    training, the change across 16 ticks went its own way (correlation 0.48 with the change
    per tick over 400 clips, 0.99 in the simulator).
    """
    with torch.no_grad():
        target = persistence(real).mean()
    return (persistence(fake) - target).pow(2).mean()
