"""The frame generator: a latent ``z`` (B, Z) becomes one lava-lamp frame (B, 3, S, S) in [0, 1].

A DCGAN decoder: a transposed convolution lifts ``z`` to a 4x4 map, then each
stage doubles the resolution and halves the channels, and a last stage
produces RGB, added to a learned base frame, through a sigmoid. With ``smooth`` a fixed 3x3
binomial filter runs over the last stage's output before the base is added: strided transposed
convolutions leave a checkerboard of uneven pixels, which on a lamp reads as grainy wax and
flickering glass; the filter removes it, and the sigmoid after it keeps the wax's edges as sharp
as the logits are large. With ``still`` the pixels the data never changes (the lamp's body,
the room behind it) are drawn from a fixed frame the data gives, not decoded: a decoder's
output drifts a little with every latent, and on a still background that reads as a shimmer
no lamp has. With ``colour_knots`` the frames pass through a colour curve fitted after training
(models/colour_curve.py) before the still pixels are painted in. With ``width=32`` the stages carry
256/128/64/32 channels (the original duralava's ~0.95 M parameters), which
decodes one 64x64 frame in about 2.3 ms on one CPU thread (width 16: 1.0 ms). Played (eval mode, no
gradients) the decoder runs with each BatchNorm folded into the convolution before it.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from itertools import chain

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .colour_curve import ColourCurve, check_curve
from .latent import Z_DIM

IMAGE_SIZES = (16, 32, 64, 128, 256)
NORMS = ("batch", "pixel", "none")


@dataclass
class GeneratorConfig:
    z_dim: int = Z_DIM
    image_size: int = 64
    width: int = 32          # channels of the last hidden stage; earlier stages double it
    norm: str = "batch"      # "batch" (DCGAN), "pixel" (batch-independent) or "none"
    smooth: bool = False     # a fixed 3x3 binomial filter on the logits, against the checkerboard
    still: bool = False      # the pixels the data never changes are drawn from a still frame
    colour_knots: int = 0    # knots of the colour curve fitted after training (0: none)
    colour_shrink: bool = False   # the curve also scales the colours' distance off its line

    def __post_init__(self) -> None:
        if not isinstance(self.z_dim, int) or not 1 <= self.z_dim <= 4096:
            raise ValueError(f"generator z_dim must be an integer from 1 to 4096, not {self.z_dim!r}")
        if self.image_size not in IMAGE_SIZES:
            raise ValueError(f"generator image_size must be one of {IMAGE_SIZES}, not {self.image_size!r}")
        if not isinstance(self.width, int) or not 1 <= self.width <= 256:
            raise ValueError(f"generator width must be an integer from 1 to 256, not {self.width!r}")
        if self.norm not in NORMS:
            raise ValueError(f"generator norm must be one of {NORMS}, not {self.norm!r}")
        if not isinstance(self.smooth, bool):
            raise ValueError(f"generator smooth must be true or false, not {self.smooth!r}")
        if not isinstance(self.still, bool):
            raise ValueError(f"generator still must be true or false, not {self.still!r}")
        if not isinstance(self.colour_knots, int) or isinstance(self.colour_knots, bool) or \
                not (self.colour_knots == 0 or 2 <= self.colour_knots <= 1024):
            raise ValueError(f"generator colour_knots must be 0 or a whole number from 2 to 1024, "
                             f"not {self.colour_knots!r}")
        if not isinstance(self.colour_shrink, bool):
            raise ValueError(f"generator colour_shrink must be true or false, not {self.colour_shrink!r}")
        if self.colour_shrink and not self.colour_knots:
            raise ValueError("generator colour_shrink needs a colour curve (colour_knots above 0)")

    @property
    def stages(self) -> int:
        """Upsampling stages after the 4x4 start, the RGB stage included."""
        return int(math.log2(self.image_size // 4))

    def to_dict(self) -> dict:
        return asdict(self)


class PixelNorm(nn.Module):
    """Scales each pixel's feature vector to unit RMS: a norm that does not depend on the batch."""

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + 1e-8)


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "pixel":
        return PixelNorm()
    return nn.Identity()


def smooth(logits: Tensor) -> Tensor:
    """The fixed 3x3 binomial filter, (1 2 1)^T (1 2 1) / 16 per channel, over (B, C, H, W), as two 1-D passes;
    edge pixels repeat outward, so the frame's border is not darkened."""
    p = F.pad(logits, (1, 1, 1, 1), mode="replicate")
    p = p[..., :-2, :] + 2 * p[..., 1:-1, :] + p[..., 2:, :]
    return (p[..., :-2] + 2 * p[..., 1:-1] + p[..., 2:]) * (1 / 16)


def _check_still(mask: Tensor, frame: Tensor) -> None:
    if not bool(((mask == 0) | (mask == 1)).all()):
        raise ValueError("its still mask holds values other than 0 and 1")
    if not bool(((frame >= 0) & (frame <= 1)).all()):
        raise ValueError("its still frame holds colours outside 0..1")


class Generator(nn.Module):
    def __init__(self, config: GeneratorConfig | None = None):
        super().__init__()
        self.config = config = config or GeneratorConfig()
        # Channels per resolution: 4x4 carries width * 2^(stages-1), halving each stage.
        channels = [config.width * 2 ** (config.stages - 1 - i) for i in range(config.stages)]
        layers: list[nn.Module] = [
            # (B, Z, 1, 1) -> (B, C0, 4, 4)
            nn.ConvTranspose2d(config.z_dim, channels[0], 4, 1, 0, bias=False),
            _norm(config.norm, channels[0]),
            nn.ReLU(inplace=True),
        ]
        for c_in, c_out in zip(channels[:-1], channels[1:]):
            # (B, c_in, s, s) -> (B, c_out, 2s, 2s)
            layers += [
                nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False),
                _norm(config.norm, c_out),
                nn.ReLU(inplace=True),
            ]
        # (B, width, S/2, S/2) -> (B, 3, S, S), before the sigmoid
        layers += [nn.ConvTranspose2d(channels[-1], 3, 4, 2, 1)]
        self.net = nn.Sequential(*layers)
        # A learned frame added before the sigmoid: the glass, the cap and the glow hardly change
        # from frame to frame, so training starts it at the data's mean frame and the
        # convolutions only have to learn the wax.
        self.base = nn.Parameter(torch.zeros(3, config.image_size, config.image_size))
        # Which pixels are still (1) or decoded (0), and the still frame's colours in [0, 1]: saved
        # with the weights, since they come from the data the lamp was trained on; no pixel is still
        # until set_still gives them.
        size = config.image_size
        self.register_buffer("still_mask", torch.zeros(1, size, size) if config.still else None)
        self.register_buffer("still_frame", torch.zeros(3, size, size) if config.still else None)
        self.colour_curve = ColourCurve(config.colour_knots, config.colour_shrink) if config.colour_knots else None
        self._folded: tuple | None = None          # (key, weights) for playing: see _play_weights
        self.reset_parameters()

    @torch.no_grad()
    def start_from_mean_frame(self, mean_frame: Tensor) -> None:
        """Set the base to the logit of a mean frame (3, S, S) in [0, 1]."""
        self.base.copy_(torch.logit(mean_frame.to(self.base).clamp(0.01, 0.99)))

    @torch.no_grad()
    def set_still(self, mask: Tensor, frame: Tensor) -> None:
        """The still pixels: mask (S, S) true where a pixel is still, frame (3, S, S) in [0, 1]."""
        if self.still_mask is None:
            raise ValueError("this generator has no still pixels (its config has still off)")
        size = self.config.image_size
        if tuple(mask.shape) != (size, size) or tuple(frame.shape) != (3, size, size):
            raise ValueError(f"still pixels need a ({size}, {size}) mask and a (3, {size}, {size}) frame, "
                             f"not {tuple(mask.shape)} and {tuple(frame.shape)}")
        mask, frame = mask.to(self.still_mask).reshape(1, size, size), frame.to(self.still_frame)
        _check_still(mask, frame)            # before anything is copied: a bad pair leaves the lamp as it was
        self.still_mask.copy_(mask)
        self.still_frame.copy_(frame)

    def check_buffers(self) -> None:
        """ValueError unless the data-given buffers are usable: the still mask all 0s and 1s, the still frame
        in [0, 1], the colour curve's knots rising along a line between two colours."""
        if self.still_mask is not None:
            _check_still(self.still_mask, self.still_frame)
        if self.colour_curve is not None:
            check_curve(self.colour_curve)

    @property
    def still_share(self) -> float:
        """The share of the frame drawn from the still frame (0 without still pixels)."""
        return 0.0 if self.still_mask is None else float(self.still_mask.mean())

    def reset_parameters(self) -> None:
        # DCGAN's init: N(0, 0.02) convolutions, BatchNorm scales near 1.
        for m in self.modules():
            if isinstance(m, nn.ConvTranspose2d):
                nn.init.normal_(m.weight, 0.0, 0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.normal_(m.weight, 1.0, 0.02)
                nn.init.zeros_(m.bias)

    @property
    def z_dim(self) -> int:
        return self.config.z_dim

    @property
    def image_size(self) -> int:
        return self.config.image_size

    def forward(self, z: Tensor) -> Tensor:
        # (B, Z) -> (B, 3, S, S) in [0, 1]
        if z.dim() != 2 or z.shape[1] != self.config.z_dim:
            raise ValueError(f"the generator takes latents of shape (batch, {self.config.z_dim}), "
                             f"not {tuple(z.shape)}")
        if self.training or torch.is_grad_enabled() or self.config.norm == "pixel":
            logits = self.net(z[:, :, None, None])
        else:
            logits = self._play(z)
        if self.config.smooth:                      # fixed, so nothing of it is saved
            logits = smooth(logits)
        frames = torch.sigmoid(logits + self.base)
        if self.colour_curve is not None:
            frames = self.colour_curve(frames)
        return self.paint_still(frames)

    def _play_weights(self) -> list[tuple[Tensor, Tensor]]:
        """Each transposed convolution's weight and bias with the BatchNorm after it folded in (its running
        statistics, as in eval mode), the first as a matrix: (Z, C0 * 16) and (C0 * 16,). Worked out again
        only when a weight or statistic changes (an EMA step, a load), since the tick needs them every frame."""
        tensors = list(chain(self.net.parameters(), self.net.buffers()))
        key = tuple((t._version, t.data_ptr(), t.device, t.dtype) for t in tensors)
        if self._folded is not None and self._folded[0] == key:
            return self._folded[1]
        with torch.no_grad():
            layers, out = list(self.net), []
            for i, m in enumerate(layers):
                if not isinstance(m, nn.ConvTranspose2d):
                    continue
                w = m.weight.float()
                b = m.bias.float() if m.bias is not None else w.new_zeros(w.shape[1])
                norm = layers[i + 1] if i + 1 < len(layers) else None
                if isinstance(norm, nn.BatchNorm2d):
                    scale = norm.weight.float() * torch.rsqrt(norm.running_var.float() + norm.eps)
                    w = w * scale.view(1, -1, 1, 1)
                    b = (b - norm.running_mean.float()) * scale + norm.bias.float()
                dtype = m.weight.dtype
                out.append((w.to(dtype).contiguous(), b.to(dtype).contiguous()))
            w0, b0 = out[0]
            out[0] = (w0.flatten(1).contiguous(), b0.repeat_interleave(16))   # a 1x1 input: one matrix product
        self._folded = (key, out)
        return out

    def _play(self, z: Tensor) -> Tensor:
        """The decoder's logits as ``self.net`` gives them in eval mode, with fewer, cheaper steps: each BatchNorm
        folded into the convolution before it, and the first convolution (over a 1x1 input) a matrix product.
        About a third off a frame's decoding on one CPU thread, the same frames to float rounding."""
        (w0, b0), *rest = self._play_weights()
        x = torch.addmm(b0, z, w0).view(len(z), -1, 4, 4).relu_()
        for i, (w, b) in enumerate(rest):
            x = F.conv_transpose2d(x, w, b, stride=2, padding=1)
            if i < len(rest) - 1:
                x = x.relu_()
        return x

    def paint_still(self, frames: Tensor) -> Tensor:
        """Frames (..., 3, S, S) with the still pixels painted in (unchanged without still pixels). Training
        paints the real frames too: mirrored, a lamp's body is not the still frame, and the frame
        discriminator would judge the background the generator cannot change rather than the wax."""
        if self.still_mask is None:
            return frames
        return frames * (1 - self.still_mask) + self.still_frame * self.still_mask
