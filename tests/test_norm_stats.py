"""The lamp's BatchNorm statistics, measured on its own play (models/norm_stats.py)."""
from __future__ import annotations

import torch

from duralava.models.generator import Generator, GeneratorConfig
from duralava.models.norm_stats import batch_norms, measure_norms
from duralava.models.rnn import LatentRNN, RNNConfig


def _lamp(norm: str = "batch") -> tuple[Generator, LatentRNN]:
    torch.manual_seed(0)
    g = Generator(GeneratorConfig(image_size=32, width=8, norm=norm)).eval()
    rnn = LatentRNN(RNNConfig(hidden=32, drive=1.0, wander=0.1, warmup=20)).eval()
    return g, rnn


def _standardised_inputs(g: Generator, rnn: LatentRNN) -> torch.Tensor:
    """The first norm's inputs over the lamp's own play, as its running statistics standardise them."""
    first = batch_norms(g)[0]
    seen = []
    hook = first.register_forward_hook(lambda m, args, out: seen.append(args[0]))
    with torch.no_grad():
        z = rnn.warm_up(torch.randn(400, g.z_dim))
        for _ in range(10):
            z = rnn.tick(z)
            g(z)
    hook.remove()
    x = torch.cat(seen).transpose(0, 1).flatten(1)                  # (C, samples)
    return (x - first.running_mean[:, None]) / torch.sqrt(first.running_var[:, None] + first.eps)


def test_the_norms_standardise_what_the_lamp_plays():
    g, rnn = _lamp()
    for m in batch_norms(g):            # statistics that do not fit, as a few odd batches leave them
        m.running_mean.fill_(0.5)
        m.running_var.fill_(3.0)
    before = _standardised_inputs(g, rnn)
    assert before.mean(1).abs().min() > 0.2 and (before.std(1) - 1).abs().min() > 0.2
    assert measure_norms(g, rnn, seeds=400, ticks=10) == 4000
    after = _standardised_inputs(g, rnn)
    assert after.mean(1).abs().max() < 0.12 and (after.std(1) - 1).abs().max() < 0.12
    assert not g.training and all(m.momentum == 0.1 for m in batch_norms(g))


def test_the_measure_is_the_same_each_time_and_a_generator_without_batch_norm_is_left_alone():
    g, rnn = _lamp()
    measure_norms(g, rnn, seeds=8, ticks=8)
    first = {k: v.clone() for k, v in g.state_dict().items()}
    measure_norms(g, rnn, seeds=8, ticks=8)
    assert all(torch.equal(first[k], v) for k, v in g.state_dict().items())
    plain, rnn = _lamp("pixel")
    kept = {k: v.clone() for k, v in plain.state_dict().items()}
    assert measure_norms(plain, rnn) == 0
    assert all(torch.equal(kept[k], v) for k, v in plain.state_dict().items())
