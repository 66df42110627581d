"""The frame discriminator: does one frame (B, 3, S, S) look like a real lamp? One logit per frame.

A DCGAN encoder with spectral norm on every layer (which keeps the hinge loss
stable without a gradient penalty): each stage halves the resolution and
doubles the channels down to a 4x4 map, and a last 4x4 convolution gives the logit.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

from .generator import IMAGE_SIZES


@dataclass
class FrameDiscriminatorConfig:
    image_size: int = 64
    width: int = 32     # channels of the first stage; each later stage doubles it

    def __post_init__(self) -> None:
        if self.image_size not in IMAGE_SIZES:
            raise ValueError(f"discriminator image_size must be one of {IMAGE_SIZES}, not {self.image_size!r}")
        if not isinstance(self.width, int) or not 1 <= self.width <= 512:
            raise ValueError(f"discriminator width must be an integer from 1 to 512, not {self.width!r}")

    def to_dict(self) -> dict:
        return asdict(self)


def encoder(in_channels: int, image_size: int, width: int) -> tuple[nn.Sequential, int]:
    """Strided 4x4 convolutions from (B, in, S, S) down to (B, C, 4, 4); returns the stack and C."""
    layers: list[nn.Module] = []
    c_in, c_out = in_channels, width
    for _ in range(int(math.log2(image_size // 4))):
        # (B, c_in, s, s) -> (B, c_out, s/2, s/2)
        layers += [spectral_norm(nn.Conv2d(c_in, c_out, 4, 2, 1)), nn.LeakyReLU(0.2, inplace=True)]
        c_in, c_out = c_out, c_out * 2
    return nn.Sequential(*layers), c_in


class FrameDiscriminator(nn.Module):
    def __init__(self, config: FrameDiscriminatorConfig | None = None):
        super().__init__()
        self.config = config = config or FrameDiscriminatorConfig()
        self.body, channels = encoder(3, config.image_size, config.width)
        # (B, C, 4, 4) -> (B, 1, 1, 1)
        self.head = spectral_norm(nn.Conv2d(channels, 1, 4, 1, 0))

    def forward(self, frames: Tensor) -> Tensor:
        # (B, 3, S, S) in [0, 1] -> (B,) logits; centring the input costs nothing and helps the first layer.
        return self.head(self.body(frames * 2 - 1)).flatten()
