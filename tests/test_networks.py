"""The networks and the latent's moments: shapes, ranges, and the penalty that keeps z normal."""
from __future__ import annotations

import pytest
import torch

from duralava.models.generator import Generator, GeneratorConfig
from duralava.models.generator import smooth as smooth_filter
from duralava.models.latent import (
    Z_DIM, is_healthy, moment_penalty, moments, population_penalty, renormalise, sample,
)
from duralava.models.rnn import LatentRNN, RNNConfig

torch.set_num_threads(1)


def test_moments_of_normal_samples_are_those_of_a_normal():
    z = torch.randn(4096, Z_DIM, generator=torch.Generator().manual_seed(0))
    mean, std, skew, kurt = moments(z)
    assert mean.shape == std.shape == skew.shape == kurt.shape == (4096,)
    assert abs(mean.mean().item()) < 0.01
    assert abs(std.mean().item() - 1) < 0.02
    assert abs(skew.mean().item()) < 0.02
    # Sample kurtosis of 64 draws is biased low a little (about 3 * 63/65).
    assert 2.8 < kurt.mean().item() < 3.05


def test_moment_penalty_small_for_normal_large_for_skewed():
    g = torch.Generator().manual_seed(1)
    normal = torch.randn(512, Z_DIM, generator=g)
    skewed = torch.distributions.Exponential(1.0).sample((512, Z_DIM))
    p_normal = moment_penalty(normal).item()
    p_skewed = moment_penalty(renormalise(skewed)).item()
    assert p_normal < 0.6            # sampling noise of skew and kurtosis at Z=64
    assert p_skewed > 10 * p_normal  # exponential: skew 2, kurtosis 9
    assert moment_penalty(normal * 3 + 2).item() > 8  # mean and std off


def test_moment_penalty_has_gradients():
    z = torch.randn(8, Z_DIM, requires_grad=True)
    moment_penalty(z * 2).backward()
    assert z.grad is not None and torch.isfinite(z.grad).all() and z.grad.abs().sum() > 0


def test_renormalise_gives_zero_mean_unit_std_and_survives_constants():
    z = torch.rand(16, Z_DIM) * 5 + 3
    mean, std, _, _ = moments(renormalise(z))
    assert torch.allclose(mean, torch.zeros(16), atol=1e-5)
    assert torch.allclose(std, torch.ones(16), atol=1e-4)
    flat = renormalise(torch.full((2, Z_DIM), 7.0))
    assert torch.isfinite(flat).all()


def test_health_check_flags_drift_and_nan():
    z = sample(8, generator=torch.Generator().manual_seed(3))
    assert is_healthy(z)
    assert not is_healthy(z * 3)
    bad = z.clone()
    bad[0, 0] = float("nan")
    assert not is_healthy(bad)


@pytest.mark.parametrize("size", [32, 64])
def test_generator_shape_and_range(size):
    g = Generator(GeneratorConfig(image_size=size, width=8)).eval()
    with torch.no_grad():
        x = g(torch.randn(3, Z_DIM) * 10)
    assert x.shape == (3, 3, size, size)
    assert x.dtype == torch.float32
    assert x.min() >= 0 and x.max() <= 1


def test_default_generator_is_the_dcgan_size():
    n = sum(p.numel() for p in Generator().parameters())
    assert 0.8e6 < n < 1.1e6


def test_generator_rejects_wrong_latent_and_bad_config():
    with pytest.raises(ValueError, match="latents of shape"):
        Generator(GeneratorConfig(width=4))(torch.randn(2, 10))
    with pytest.raises(ValueError, match="image_size"):
        GeneratorConfig(image_size=48)
    with pytest.raises(ValueError, match="norm"):
        GeneratorConfig(norm="layer")


def test_rnn_step_is_renormalised_and_uses_noise():
    rnn = LatentRNN(RNNConfig(hidden=64)).eval()
    z = sample(5, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        quiet = rnn(z)
        zeros = rnn(z, torch.zeros_like(z))
        stirred = rnn(z, torch.randn_like(z) * 5)
    assert quiet.shape == (5, Z_DIM)
    assert torch.equal(quiet, zeros)  # None means zeros
    mean, std, _, _ = moments(quiet)
    assert torch.allclose(mean, torch.zeros(5), atol=1e-5)
    assert torch.allclose(std, torch.ones(5), atol=1e-4)
    assert (stirred - quiet).abs().max() > 1e-3
    with pytest.raises(ValueError, match="noise input"):
        rnn(z, torch.zeros(5, 3))


def test_driven_rnn_tick_is_reproducible_and_moves_more_than_the_undriven_one():
    rnn = LatentRNN(RNNConfig(hidden=64, drive=1.0)).eval()
    z = sample(6, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        a = rnn.tick(z, generator=torch.Generator().manual_seed(9))
        b = rnn.tick(z, generator=torch.Generator().manual_seed(9))
        c = rnn.tick(z, generator=torch.Generator().manual_seed(10))
        quiet = rnn(z)
        stirred = rnn.tick(z, stir=3.0, generator=torch.Generator().manual_seed(9))
    assert torch.equal(a, b)                    # the same noise stream, the same lamp
    assert (a - c).abs().max() > 1e-4           # another stream, another path
    assert (a - quiet).norm() > 1e-4
    assert (stirred - quiet).norm() > (a - quiet).norm()   # the panel's stir adds to the drive
    undriven = LatentRNN(RNNConfig(hidden=64, drive=0.0)).eval()
    with torch.no_grad():
        assert torch.equal(undriven.tick(z, generator=torch.Generator().manual_seed(9)), undriven(z))


@pytest.mark.parametrize("drive", [-0.5, 11.0, True, "1"])
def test_rnn_config_rejects_a_bad_drive(drive):
    with pytest.raises(ValueError, match="drive"):
        RNNConfig(drive=drive)
    with pytest.raises(ValueError, match="wander"):
        RNNConfig(wander=drive if drive != 11.0 else 1.5)
    with pytest.raises(ValueError, match="warmup"):
        RNNConfig(warmup=drive if drive != -0.5 else -1)


def test_wander_makes_a_still_network_diffuse_over_the_whole_shell():
    def still(wander):
        rnn = LatentRNN(RNNConfig(hidden=32, drive=1.0, wander=wander)).eval()
        torch.nn.init.zeros_(rnn.net[-1].weight)      # the network itself proposes no step at all
        return rnn

    z0 = sample(8, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        assert torch.allclose(still(0.0).tick(z0, generator=torch.Generator().manual_seed(1)), z0, atol=1e-5)
        rnn, z, g = still(0.1), z0, torch.Generator().manual_seed(1)
        for _ in range(2000):
            z = rnn.tick(z, generator=g)
    # Renormalised all along, and far from where it started: about as far as an independent draw.
    _, std, _, _ = moments(z)
    assert torch.allclose(std, torch.ones(8), atol=1e-4)
    correlation = (z * z0).mean(1)
    assert correlation.abs().max() < 0.5, correlation


def test_rnn_runs_long_without_nan():
    rnn = LatentRNN().eval()
    z = sample(4)
    with torch.no_grad():
        for _ in range(500):
            z = rnn(z)
    assert torch.isfinite(z).all()
    _, std, _, _ = moments(z)
    assert torch.allclose(std, torch.ones(4), atol=1e-4)


def test_generator_can_start_from_a_mean_frame():
    g = Generator(GeneratorConfig(image_size=32, width=8))
    mean = torch.rand(3, 32, 32) * 0.8 + 0.1
    g.start_from_mean_frame(mean)
    torch.nn.init.zeros_(g.net[-1].weight)
    torch.nn.init.zeros_(g.net[-1].bias)
    with torch.no_grad():
        x = g(torch.randn(4, Z_DIM))
    assert torch.allclose(x, mean.expand(4, -1, -1, -1), atol=1e-5)


def test_smooth_generator_flattens_a_checkerboard_and_adds_no_weights():
    plain = Generator(GeneratorConfig(image_size=32, width=8)).eval()
    smooth = Generator(GeneratorConfig(image_size=32, width=8, smooth=True)).eval()
    with torch.no_grad():
        torch.nn.init.normal_(plain.net[-1].weight, 0.0, 3.0)     # strong transposed-convolution texture
    smooth.load_state_dict(plain.state_dict())                    # strict: the filter stores nothing
    assert set(smooth.state_dict()) == set(plain.state_dict())
    # On a checkerboard of logits the filter leaves nothing inside the frame.
    yy, xx = torch.meshgrid(torch.arange(16), torch.arange(16), indexing="ij")
    board = ((yy + xx) % 2 * 2 - 1).float().expand(1, 3, 16, 16)
    flat = smooth_filter(board)
    assert flat[..., 1:-1, 1:-1].abs().max() < 1e-6
    level = torch.full((1, 3, 6, 6), 2.0)
    assert torch.allclose(smooth_filter(level), level)                  # the border is not darkened
    with torch.no_grad():
        z = torch.randn(8, Z_DIM)
        a, b = plain(z), smooth(z)
    assert b.shape == a.shape == (8, 3, 32, 32) and 0 <= b.min() and b.max() <= 1

    def roughness(x):
        return (x[..., 1:, :] - x[..., :-1, :]).abs().mean() + (x[..., :, 1:] - x[..., :, :-1]).abs().mean()
    assert roughness(b) < 0.7 * roughness(a)
    assert (b.mean() - a.mean()).abs() < 0.02                      # the same frame on average, only smoother
    with pytest.raises(ValueError, match="smooth"):
        GeneratorConfig(smooth="yes")


@pytest.mark.parametrize("norm", ["batch", "none", "pixel"])
def test_played_generator_draws_what_its_layers_draw_and_follows_new_weights(norm):
    g = Generator(GeneratorConfig(image_size=32, width=8, norm=norm, smooth=True))
    with torch.no_grad():                                          # BatchNorm statistics far from 0 and 1
        for m in g.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0.0, 0.5)
                m.running_var.uniform_(0.2, 3.0)
                m.bias.normal_(0.0, 0.3)
            if isinstance(m, torch.nn.ConvTranspose2d):
                m.weight.normal_(0.0, 0.3)
    g.eval()
    z = torch.randn(6, Z_DIM)
    with torch.enable_grad():
        assert g(z).requires_grad                                  # with gradients: the layers, one by one
    layered = _layered(g, z)
    with torch.inference_mode():
        played = g(z)                                              # the viewer's way: folded
    assert torch.allclose(played, layered, atol=1e-5)
    with torch.no_grad():                                          # an EMA step or a load changes the weights
        g.net[0].weight.mul_(1.5)
        g.net[-1].weight.mul_(1.5)
        if norm == "batch":
            g.net[1].running_var.mul_(0.5)
    with torch.no_grad():
        moved = g(z)
    assert (moved - played).abs().max() > 1e-2
    assert torch.allclose(moved, _layered(g, z), atol=1e-5)


def _layered(g, z):
    with torch.enable_grad():
        return g(z).detach()


def test_still_generator_draws_the_still_pixels_and_decodes_the_rest():
    plain = Generator(GeneratorConfig(image_size=32, width=8)).eval()
    still = Generator(GeneratorConfig(image_size=32, width=8, still=True)).eval()
    with torch.no_grad():
        torch.nn.init.normal_(plain.net[-1].weight, 0.0, 3.0)     # frames that change with the latent
    assert plain.still_mask is None and "still_mask" not in plain.state_dict()
    assert {"still_mask", "still_frame"} <= set(still.state_dict())   # saved with the weights
    sd = still.state_dict()
    sd.update({k: v for k, v in plain.state_dict().items()})
    still.load_state_dict(sd)                                        # the same decoder
    mask = torch.zeros(32, 32)
    mask[:, :12] = 1                                                 # the left part is the lamp's body
    frame = torch.rand(3, 32, 32)
    still.set_still(mask, frame)
    assert abs(still.still_share - 12 / 32) < 1e-9 and plain.still_share == 0
    z = torch.randn(6, Z_DIM)
    with torch.no_grad():
        a, b = plain(z), still(z)
    assert torch.equal(b[..., :12], frame[:, :, :12].expand(6, -1, -1, -1))   # every latent, exactly
    assert torch.equal(b[..., 12:], a[..., 12:])                            # the rest decoded as before
    assert a[..., :12].std(0).mean() > 1e-3                                 # where the plain one shimmers
    # Nothing trains the still pixels: they pass no gradient back.
    out = still(z)
    base_grad = torch.autograd.grad(out[..., :12].sum() + 0 * out.sum(), still.base)[0]
    assert base_grad.abs().max() == 0
    assert torch.autograd.grad(still(z)[..., 12:].sum(), still.base)[0].abs().max() > 0
    # Real clips (B, T, 3, S, S) are painted the same way; without still pixels nothing changes.
    clips = torch.rand(2, 5, 3, 32, 32)
    painted = still.paint_still(clips)
    assert torch.equal(painted[..., :12], frame[:, :, :12].expand(2, 5, -1, -1, -1))
    assert torch.equal(painted[..., 12:], clips[..., 12:]) and plain.paint_still(clips) is clips
    with pytest.raises(ValueError, match="no still pixels"):
        plain.set_still(mask, frame)
    with pytest.raises(ValueError, match=r"\(32, 32\) mask"):
        still.set_still(mask[:16], frame)
    with pytest.raises(ValueError, match="other than 0 and 1"):
        still.set_still(mask * 0.5, frame)
    with pytest.raises(ValueError, match="outside 0..1"):
        still.set_still(mask, frame + 1.5)
    assert torch.equal(still.still_mask[0], mask) and torch.equal(still.still_frame, frame)   # refused: unchanged
    with pytest.raises(ValueError, match="still must be true or false"):
        GeneratorConfig(still=1)


def test_population_penalty_catches_chains_on_one_point():
    g = torch.Generator().manual_seed(5)
    spread = torch.randn(256, Z_DIM, generator=g)
    one_point = renormalise(torch.randn(1, Z_DIM, generator=g)).expand(256, -1)
    assert population_penalty(spread).item() < 0.05
    assert population_penalty(one_point).item() > 0.9   # per-sample moments are perfect, the batch is not
    assert moment_penalty(one_point).item() < 1.0


def test_return_penalty_is_near_zero_for_an_explorer_and_near_one_for_a_chain_that_stays():
    from duralava.models.latent import return_penalty

    g = torch.Generator().manual_seed(3)
    explorer = sample(16 * 8, generator=g).reshape(16, 8, Z_DIM)      # independent draws every tick
    assert return_penalty(explorer, torch.zeros(16, Z_DIM)).item() < 0.05
    spot = sample(16, generator=g)
    stayer = renormalise(spot[:, None] + 0.05 * torch.randn(16, 8, Z_DIM, generator=g))
    assert return_penalty(stayer, spot).item() > 0.9
    moved = stayer.clone().requires_grad_(True)
    return_penalty(moved, spot).backward()
    # The push is away from the trail: a small step along minus the gradient leaves the spot.
    step = renormalise((moved - 0.5 * moved.grad / moved.grad.norm(dim=-1, keepdim=True)).detach())
    assert (step - spot[:, None]).norm(dim=-1).mean() > (stayer - spot[:, None]).norm(dim=-1).mean()


def _few_directions(n: int, basis: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Latents (n, Z) that pass every per-sample test but all lie in the directions of ``basis`` (Z, k)."""
    return renormalise(torch.randn(n, basis.shape[1], generator=g) @ basis.T)


def _basis(dims: int, g: torch.Generator) -> torch.Tensor:
    return torch.linalg.qr(torch.randn(Z_DIM, dims, generator=g)).Q          # (Z, dims), orthonormal


def test_whiteness_penalty_tells_white_latents_from_ones_in_a_few_directions():
    from duralava.models.latent import covariance, directions, whiteness_penalty

    g = torch.Generator().manual_seed(7)
    basis = _basis(6, g)
    white_cov = covariance(sample(256, generator=g))
    few_cov = covariance(_few_directions(256, basis, g))
    for _ in range(200):       # the running average over many steps, as training keeps it
        white, white_cov = whiteness_penalty(sample(256, generator=g), white_cov, 0.02)
        few_states = _few_directions(256, basis, g)
        few, few_cov = whiteness_penalty(few_states, few_cov, 0.02)
    assert white.item() < 0.2 and directions(white_cov) > 50
    assert few.item() > 5 and directions(few_cov) < 6.5
    # The narrow lamp's latents look normal one by one: only the covariance over many ticks tells.
    assert moment_penalty(few_states).item() < 1.5 * moment_penalty(sample(256, generator=g)).item()


def test_whiteness_penalty_pushes_latents_into_the_directions_left_unused():
    from duralava.models.latent import covariance, directions, whiteness_penalty

    g = torch.Generator().manual_seed(8)
    basis = _basis(6, g)
    states = _few_directions(512, basis, g) + 0.1 * torch.randn(512, Z_DIM, generator=g)
    # What many steps of such latents average to: all the variance in the six directions.
    running = Z_DIM / 6 * basis @ basis.T + 0.01 * torch.eye(Z_DIM)
    moved = states.clone().requires_grad_(True)       # as training proposes them, before renormalising
    penalty, updated = whiteness_penalty(renormalise(moved), running, 0.01)
    penalty.backward()
    assert not updated.requires_grad
    assert torch.allclose(updated, running.lerp(covariance(renormalise(states)), 0.01), atol=1e-4)
    # The gradient reaches this step's latents in full, not scaled down by the averaging rate.
    assert moved.grad.norm() > 1e-3
    push = moved.grad / moved.grad.norm(dim=-1, keepdim=True)
    before = directions(covariance(states))
    # Downhill widens the latents into the unused directions; uphill narrows them further.
    assert directions(covariance(renormalise((moved - push).detach()))) > before + 0.3
    assert directions(covariance(renormalise((moved + push).detach()))) < before - 0.01


def test_discriminators_give_one_logit_per_frame_and_per_clip():
    from duralava.models.frame_discriminator import FrameDiscriminator, FrameDiscriminatorConfig
    from duralava.models.temporal_discriminator import TemporalDiscriminator, TemporalDiscriminatorConfig

    g = torch.Generator().manual_seed(0)
    frames = torch.rand(5, 3, 32, 32, generator=g)
    assert FrameDiscriminator(FrameDiscriminatorConfig(image_size=32, width=4))(frames).shape == (5,)
    d = TemporalDiscriminator(TemporalDiscriminatorConfig(image_size=32, width=4, features=16, hidden=16))
    logits = d(torch.rand(3, 6, 3, 32, 32, generator=g))
    assert logits.shape == (3,) and torch.isfinite(logits).all()
    with pytest.raises(ValueError, match="at least 2 frames"):
        d(torch.rand(3, 1, 3, 32, 32, generator=g))


@pytest.mark.parametrize("blur", [0, 3, 16, 2.0])
def test_temporal_discriminator_rejects_a_bad_blur(blur):
    from duralava.models.temporal_discriminator import TemporalDiscriminatorConfig

    with pytest.raises(ValueError, match="blur must be a power of 2"):
        TemporalDiscriminatorConfig(image_size=32, blur=blur)


def test_blurred_temporal_discriminator_judges_blocks_not_texture():
    """Two clips with the same 4x4 block averages and different texture inside the blocks look the same to
    a discriminator with blur 4, and different to one reading half resolution; a change of the blocks
    themselves is seen by both."""
    from duralava.models.temporal_discriminator import TemporalDiscriminator, TemporalDiscriminatorConfig

    g = torch.Generator().manual_seed(3)
    blocks = torch.rand(2, 5, 3, 8, 8, generator=g) * 0.6 + 0.2                    # (B, T, 3, 8, 8)
    clip = blocks.repeat_interleave(4, dim=-1).repeat_interleave(4, dim=-2)         # (B, T, 3, 32, 32)
    # A +-0.15 checker of 2x2 squares, flipping every tick: zero on average over each 4x4 block, not over 2x2.
    yy, xx = torch.meshgrid(torch.arange(32), torch.arange(32), indexing="ij")
    checker = ((yy // 2 + xx // 2) % 2 * 2 - 1).float() * 0.15
    flips = torch.tensor([(-1.0) ** k for k in range(5)])[None, :, None, None, None]
    textured = clip + checker * flips
    moved = clip.roll(4, dims=-1)
    torch.manual_seed(0)
    nets = {b: TemporalDiscriminator(TemporalDiscriminatorConfig(image_size=32, width=4, features=16, hidden=16,
                                                                 blur=b)) for b in (2, 4)}
    nets[4].load_state_dict(nets[2].state_dict())            # same weights: only the blur differs
    for d in nets.values():
        d.eval()                                                # spectral norm's estimate held still
    with torch.no_grad():
        base = {b: d(clip) for b, d in nets.items()}
        assert torch.allclose(nets[4](textured), base[4], atol=1e-5)
        assert (nets[2](textured) - base[2]).abs().max() > 1e-3
        assert (nets[4](moved) - base[4]).abs().max() > 1e-3
