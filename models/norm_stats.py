"""A lamp generator's BatchNorm statistics, measured on the latents its RNN plays.

Training normalises each batch by its own statistics and keeps a running average of
them for playing. That average follows the trained weights, not the lamp's averaged
(EMA) ones, over the last few dozen batches, so a lamp saved with it draws its frames
a little off, and differently from one save to the next. Measured instead over many
ticks of the lamp's own play, the statistics fit the lamp's weights and its latents.
"""
from __future__ import annotations

import torch
from torch import nn

FIRST_SEED = 1_000_000     # seeds of their own: eval and the training checks play seeds from 0


def batch_norms(net: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


@torch.no_grad()
def measure_norms(generator: nn.Module, rnn: nn.Module, seeds: int = 100, ticks: int = 64, batch: int = 256,
                  seed: int = 0) -> int:
    """Set ``generator``'s BatchNorm running statistics to those of the frames ``rnn`` plays: ``seeds`` lamps
    after their warm-up, ``ticks`` ticks each, decoded in shuffled batches. Returns the latents used
    (0 for a generator without BatchNorm, left as it was)."""
    from .endurance import start_latents

    norms = batch_norms(generator)
    if not norms:
        return 0
    device = next(generator.parameters()).device
    noise = torch.Generator().manual_seed(seed)
    z = start_latents(rnn, seeds, generator.z_dim, first_seed=FIRST_SEED).to(device)
    latents = []
    for _ in range(ticks):
        z = rnn.tick(z, generator=noise)
        latents.append(z)
    flat = torch.cat(latents)
    flat = flat[torch.randperm(len(flat), generator=noise).to(device)]   # a lamp's ticks are near neighbours
    was_training, momenta = generator.training, [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None                   # a plain average over the batches
    generator.train()
    try:
        for i in range(0, len(flat), batch):
            generator(flat[i:i + batch])
    finally:
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum
        generator.train(was_training)
    return len(flat)
