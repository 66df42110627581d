"""The lamp's latent space: its size, the four moments that keep it normal, and renormalisation.

Every latent ``z`` the generator ever sees should look like a draw from N(0, I):
mean 0, std 1, skew 0 and kurtosis 3 over its ``Z_DIM`` entries. Training
penalises drift in all four moments at every RNN tick and renormalises each
step, so the lamp can run forever without drifting out of what the generator knows.
"""
from __future__ import annotations

import torch
from torch import Tensor

Z_DIM = 64
# Guards the divisions by std; far below any std a healthy latent has.
EPS = 1e-6


def moments(z: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Per-sample mean, std, skew and kurtosis over the last dim of ``z`` (..., Z).

    Population statistics (divide by Z), so a perfectly standardised vector has
    std exactly 1; the kurtosis of N(0, 1) is 3 (not the 'excess' 0).
    """
    mean = z.mean(dim=-1)                       # (...)
    centred = z - mean.unsqueeze(-1)            # (..., Z)
    var = centred.pow(2).mean(dim=-1)           # (...)
    std = torch.sqrt(var + EPS * EPS)
    skew = centred.pow(3).mean(dim=-1) / std.pow(3)
    kurt = centred.pow(4).mean(dim=-1) / var.clamp_min(EPS * EPS).pow(2)
    return mean, std, skew, kurt


def moment_penalty(z: Tensor) -> Tensor:
    """mean^2 + (std-1)^2 + skew^2 + (kurt-3)^2 per sample, averaged over the batch: a scalar."""
    mean, std, skew, kurt = moments(z)
    per_sample = mean.pow(2) + (std - 1).pow(2) + skew.pow(2) + (kurt - 3).pow(2)
    return per_sample.mean()


def population_penalty(z: Tensor) -> Tensor:
    """Across the batch (dim 0), each latent entry should have mean 0 and std 1: a scalar.

    Per-sample moments say each latent looks like a normal draw; this says the
    lamps in a batch are spread like independent draws. Without it a latent RNN
    can pull every chain onto one fixed point (a frozen lamp) and still pass
    every per-sample test.
    """
    mean = z.mean(dim=0)                                   # (..., Z)
    std = torch.sqrt(z.var(dim=0, unbiased=False) + EPS * EPS)
    return (mean.pow(2) + (std - 1).pow(2)).mean()


def return_penalty(zs: Tensor, trail: Tensor) -> Tensor:
    """How close each chain stays to where it has been: 0 (as far as an independent draw) to 1 (still there).

    ``zs`` (B, T, Z) are a rollout's latents, ``trail`` (B, Z) each chain's slow
    moving average of its earlier latents (held fixed). For a chain that keeps
    exploring, the trail sits near the origin and the mean squared entry of
    ``z - trail`` is about 1; a chain that circles one spot has its trail on that
    spot and the distance shrinks towards 0. Its gradient pushes a chain away from
    its own past, the long-run counterpart of the population penalty.
    """
    d2 = (zs - trail.detach()[:, None]).pow(2).mean(-1)     # (B, T)
    return torch.relu(1 - d2).mean()


def covariance(z: Tensor) -> Tensor:
    """Second moments of latents (N, Z) about the origin: (Z, Z). The identity for N(0, I) draws."""
    return z.T @ z / z.shape[0]


def directions(cov: Tensor) -> float:
    """How many directions a covariance (Z, Z) spreads over: (tr C)^2 / tr(C^2), from 1 (a line) to Z (white)."""
    c = cov.detach().double()
    return float(torch.trace(c) ** 2 / (c * c).sum().clamp_min(EPS))


def whiteness_penalty(states: Tensor, running: Tensor, rate: float) -> tuple[Tensor, Tensor]:
    """How far the latents' covariance over many ticks is from the identity: 0 when white, a scalar.

    Per-sample moments and the population penalty both hold for a lamp whose
    latents all lie in a handful of directions (each entry a mix of the same
    few), and such a lamp comes back near where it has been within a long run.
    ``running`` (Z, Z) is the covariance so far, a moving average over steps
    (held fixed); ``states`` (N, Z) are this step's latents, which update it by
    ``rate``. The value is ||C - I||^2 / Z of the updated average; its gradient
    reaches this step's latents in full (not scaled by ``rate``), pushing them
    out along the directions the lamp has used too little and in along those it
    has used too much. Returns the penalty and the updated average (detached).
    """
    batch = covariance(states)
    updated = running.detach().lerp(batch.detach(), rate)
    surrogate = updated + (batch - batch.detach())
    eye = torch.eye(states.shape[1], device=states.device, dtype=states.dtype)
    return (surrogate - eye).pow(2).sum() / states.shape[1], updated


def renormalise(z: Tensor) -> Tensor:
    """Per sample: subtract the mean and divide by the std over the last dim (safe for constant z)."""
    mean = z.mean(dim=-1, keepdim=True)
    centred = z - mean
    std = torch.sqrt(centred.pow(2).mean(dim=-1, keepdim=True) + EPS * EPS)
    return centred / std


def sample(batch: int, z_dim: int = Z_DIM, generator: torch.Generator | None = None,
           device: str | torch.device = "cpu") -> Tensor:
    """A batch of fresh, renormalised latents (batch, z_dim): where a lamp starts or is reseeded."""
    z = torch.randn(batch, z_dim, generator=generator)
    return renormalise(z).to(device)


def is_healthy(z: Tensor, tolerance: float = 0.5) -> bool:
    """True when every sample is finite and its moments lie within ``tolerance`` of N(0, 1)'s.

    The band is loose on purpose: 64 normal draws have sample skew of about
    +-0.3 and kurtosis about 3 +- 0.6, and a viewer should repair only real drift.
    """
    if not bool(torch.isfinite(z).all()):
        return False
    mean, std, skew, kurt = moments(z.float())
    ok = (mean.abs() < tolerance) & ((std - 1).abs() < tolerance) & (skew.abs() < 2 * tolerance) \
        & ((kurt - 3).abs() < 4 * tolerance)
    return bool(ok.all())
