"""The latent RNN: one tick of the lamp, ``z_t`` (B, Z) -> ``z_{t+1}`` (B, Z), renormalised.

The latent itself is the whole recurrent state: an MLP reads ``z`` beside an
optional noise input and proposes a small residual step, and the result is
renormalised so every tick lands back on the sphere the generator was trained on.
The noise input is what keeps the lamp alive: a lamp trained with a ``drive``
is fed ``drive * randn`` every tick as part of its own motion (a deterministic
map of a 64-number state settles onto fixed points or cycles over thousands of
ticks; a driven one cannot), and the viewer's "inject noise" adds to it.
A drive of 0 is the deterministic lamp: zeros give its own motion.

``wander`` adds that same noise straight onto the latent, so every direction of
z keeps diffusing and a long run cannot come back to where it was; the network
sees the noise too and learns to cancel it wherever the picture would jitter.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn

from .latent import Z_DIM, renormalise


@dataclass
class RNNConfig:
    z_dim: int = Z_DIM
    hidden: int = 512
    layers: int = 2           # hidden layers of the MLP
    residual: bool = True     # z_next = renormalise(z + step): slow motion is the easy default
    drive: float = 0.0        # noise amplitude of the lamp's own motion, fed every tick (0: deterministic)
    wander: float = 0.0       # share of the noise added straight onto z (diffusion the network may cancel)
    warmup: int = 0           # ticks run from a fresh latent before the lamp is shown (its warm start)

    def __post_init__(self) -> None:
        if not isinstance(self.z_dim, int) or not 1 <= self.z_dim <= 4096:
            raise ValueError(f"rnn z_dim must be an integer from 1 to 4096, not {self.z_dim!r}")
        if not isinstance(self.hidden, int) or not 1 <= self.hidden <= 8192:
            raise ValueError(f"rnn hidden must be an integer from 1 to 8192, not {self.hidden!r}")
        if not isinstance(self.layers, int) or not 1 <= self.layers <= 16:
            raise ValueError(f"rnn layers must be an integer from 1 to 16, not {self.layers!r}")
        if not isinstance(self.residual, bool):
            raise ValueError(f"rnn residual must be true or false, not {self.residual!r}")
        if isinstance(self.drive, bool) or not isinstance(self.drive, (int, float)) or not 0 <= self.drive <= 10:
            raise ValueError(f"rnn drive must be a number from 0 to 10, not {self.drive!r}")
        self.drive = float(self.drive)
        if isinstance(self.wander, bool) or not isinstance(self.wander, (int, float)) or not 0 <= self.wander <= 1:
            raise ValueError(f"rnn wander must be a number from 0 to 1, not {self.wander!r}")
        self.wander = float(self.wander)
        if isinstance(self.warmup, bool) or not isinstance(self.warmup, int) or not 0 <= self.warmup <= 100_000:
            raise ValueError(f"rnn warmup must be a whole number of ticks from 0 to 100000, not {self.warmup!r}")

    def to_dict(self) -> dict:
        return asdict(self)


class LatentRNN(nn.Module):
    def __init__(self, config: RNNConfig | None = None):
        super().__init__()
        self.config = config = config or RNNConfig()
        layers: list[nn.Module] = []
        width = 2 * config.z_dim  # [z, noise]
        for _ in range(config.layers):
            layers += [nn.Linear(width, config.hidden), nn.LeakyReLU(0.2, inplace=True)]
            width = config.hidden
        layers.append(nn.Linear(width, config.z_dim))
        self.net = nn.Sequential(*layers)
        if config.residual:
            # Start as a slow drift: the first ticks barely move z, as in a real lamp.
            nn.init.normal_(self.net[-1].weight, 0.0, 0.01)
            nn.init.zeros_(self.net[-1].bias)

    @property
    def z_dim(self) -> int:
        return self.config.z_dim

    def forward(self, z: Tensor, noise: Tensor | None = None) -> Tensor:
        # z, noise: (B, Z) -> z_next: (B, Z), renormalised
        return renormalise(self.propose(z, noise))

    def tick(self, z: Tensor, stir: float = 0.0, generator: torch.Generator | None = None) -> Tensor:
        """One tick of the lamp's own motion: noise of the trained drive plus ``stir`` more, then a step.

        ``generator`` (a CPU torch.Generator) makes the noise reproducible.
        """
        amplitude = self.config.drive + stir
        if amplitude <= 0:
            return self(z)
        noise = torch.randn(tuple(z.shape), generator=generator).to(device=z.device, dtype=z.dtype)
        return self(z, amplitude * noise)

    @torch.no_grad()
    def warm_up(self, z: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Run the lamp's warm-up ticks from fresh latents (B, Z).

        A lamp learns from chains thousands of ticks old, so a fresh N(0, I) draw is
        not yet where it lives; like a real lamp (and the simulator) it is warmed up
        before anyone looks. A few hundred RNN steps: well under a second.
        """
        for _ in range(self.config.warmup):
            z = self.tick(z, generator=generator)
        return z

    def propose(self, z: Tensor, noise: Tensor | None = None) -> Tensor:
        """The step before renormalisation (B, Z): training penalises its moments, so the
        renormalisation stays a small correction rather than the RNN's crutch."""
        if z.dim() != 2 or z.shape[1] != self.config.z_dim:
            raise ValueError(f"the latent RNN takes latents of shape (batch, {self.config.z_dim}), "
                             f"not {tuple(z.shape)}")
        if noise is None:
            noise = torch.zeros_like(z)
        elif noise.shape != z.shape:
            raise ValueError(f"the noise input must have the latent's shape {tuple(z.shape)}, "
                             f"not {tuple(noise.shape)}")
        step = self.net(torch.cat([z, noise], dim=1))
        if self.config.wander:
            step = step + self.config.wander * noise
        return z + step if self.config.residual else step
