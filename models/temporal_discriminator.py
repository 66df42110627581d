"""The temporal discriminator: does a clip (B, T, 3, S, S) move like a real lamp? One logit per clip.

Each frame is read together with its change from the previous frame (so speed
and direction are right in front of it), blurred to the scale the motion lives
at: averaged over ``blur`` x ``blur`` blocks, then read at half resolution (it
keeps the encoder cheap). At full detail a fresh discriminator tells a trained
lamp's clips from the simulator's by their fine texture as fast as by their
motion (a still frame repeated is told apart as easily as the moving clip),
and in training its hinge loss sat at zero: it won on texture and stopped
learning about motion. Averaged over 4 x 4 blocks, motion is what tells them
apart first. A small spectral-normed conv
encoder turns each of those into a feature vector; a GRU reads the features
in time order and scores the clip at every tick; the logit is the mean score.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

from .frame_discriminator import encoder
from .generator import IMAGE_SIZES


@dataclass
class TemporalDiscriminatorConfig:
    image_size: int = 64
    width: int = 16      # channels of the encoder's first stage
    features: int = 256  # per-frame feature size
    hidden: int = 256    # GRU state size
    blur: int = 4        # side of the blocks each frame is averaged over before it is read (2: half resolution)

    def __post_init__(self) -> None:
        if self.image_size not in IMAGE_SIZES or self.image_size < 16:
            raise ValueError(f"temporal discriminator image_size must be one of {IMAGE_SIZES}, not {self.image_size!r}")
        for name in ("width", "features", "hidden"):
            v = getattr(self, name)
            if not isinstance(v, int) or not 1 <= v <= 4096:
                raise ValueError(f"temporal discriminator {name} must be an integer from 1 to 4096, not {v!r}")
        b = self.blur
        if not isinstance(b, int) or b < 2 or b & (b - 1) or b > self.image_size // 4:
            raise ValueError(f"temporal discriminator blur must be a power of 2 from 2 to a quarter of the frame "
                             f"({self.image_size // 4}), not {b!r}")

    def to_dict(self) -> dict:
        return asdict(self)


class TemporalDiscriminator(nn.Module):
    def __init__(self, config: TemporalDiscriminatorConfig | None = None):
        super().__init__()
        self.config = config = config or TemporalDiscriminatorConfig()
        self.body, channels = encoder(6, config.image_size // 2, config.width)
        self.project = spectral_norm(nn.Linear(channels * 16, config.features))
        self.gru = nn.GRU(config.features, config.hidden, batch_first=True)
        self.score = spectral_norm(nn.Linear(config.hidden, 1))

    def forward(self, clips: Tensor) -> Tensor:
        # clips: (B, T, 3, S, S) in [0, 1] -> (B,) logits
        b, t = clips.shape[:2]
        if t < 2:
            raise ValueError(f"the temporal discriminator needs clips of at least 2 frames, not {t}")
        x = F.avg_pool2d(clips.flatten(0, 1) * 2 - 1, self.config.blur)   # (B*T, 3, S/b, S/b)
        if self.config.blur > 2:
            half = self.config.image_size // 2
            x = F.interpolate(x, size=(half, half), mode="bilinear", align_corners=False)  # (B*T, 3, S/2, S/2)
        x = x.unflatten(0, (b, t))                                   # (B, T, 3, S/2, S/2)
        change = torch.cat([torch.zeros_like(x[:, :1]), x[:, 1:] - x[:, :-1]], dim=1)
        # Changes are a few percent of the range: scale them up to the frames' range.
        x = torch.cat([x, change * 4], dim=2).flatten(0, 1)          # (B*T, 6, S/2, S/2)
        # Channels-last halves the encoder's time on CPU (oneDNN's native layout).
        x = x.contiguous(memory_format=torch.channels_last)
        feats = F.leaky_relu(self.project(self.body(x).flatten(1)), 0.2)  # (B*T, F)
        states, _ = self.gru(feats.unflatten(0, (b, t)))             # (B, T, H)
        # Skip the first tick: it has seen no motion yet.
        return self.score(states[:, 1:]).mean(dim=(1, 2))
