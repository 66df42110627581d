"""The colour curve: nothing until fitted; fitted, a lamp's colours spread along the liquid -> wax line as
its data's do, in the order they had."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from duralava.models.colour_curve import ColourCurve, check_curve
from duralava.models.generator import Generator, GeneratorConfig

torch.set_num_threads(1)

LIQUID, WAX = np.array([70, 30, 120], np.float32), np.array([240, 120, 30], np.float32)


def lamp_like(n: int, seed: int, push: float) -> np.ndarray:
    """Moving discs of wax on liquid, with a soft edge; ``push`` > 0 drives the colours past both ends of
    the line (brighter wax, deeper liquid), as a lamp that overshoots draws them."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:32, :32].astype(np.float32)
    out = np.empty((n, 32, 32, 3), np.uint8)
    for i in range(n):
        cy, cx, r = rng.uniform(8, 24), rng.uniform(8, 24), rng.uniform(4, 8)
        t = np.clip(r - np.hypot(yy - cy, xx - cx), 0, 1)[..., None]      # 0 liquid .. 1 wax
        t = t * (1 + 2 * push) - push + rng.normal(0, 0.03, t.shape)     # overshoot and a little grain
        out[i] = np.clip(LIQUID + t * (WAX - LIQUID), 0, 255).round()
    return out


def places(curve: ColourCurve, frames: np.ndarray) -> torch.Tensor:
    return curve.place(torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255).reshape(-1)


def test_an_unfitted_curve_changes_nothing_and_a_generator_with_one_draws_as_before():
    frames = torch.rand(2, 3, 16, 16)
    assert torch.equal(ColourCurve()(frames), frames)
    plain = Generator(GeneratorConfig(image_size=32, width=4)).eval()
    curved = Generator(GeneratorConfig(image_size=32, width=4, colour_knots=9)).eval()
    missing = curved.load_state_dict(plain.state_dict(), strict=False).missing_keys
    assert sorted(missing) == [f"colour_curve.{k}" for k in ("centres", "knots_from", "knots_to", "step")]
    z = torch.randn(3, 64)
    with torch.no_grad():
        assert torch.equal(curved(z), plain(z))


def test_a_fitted_curve_gives_the_data_s_spread_and_keeps_the_order():
    data, overshooting = lamp_like(200, 0, 0.0), lamp_like(200, 1, 0.25)
    curve = ColourCurve()
    curve.fit(overshooting, data)
    assert curve.fitted
    q = torch.linspace(0.02, 0.98, 25)
    target = torch.quantile(places(curve, data), q)
    before = torch.quantile(places(curve, overshooting), q)
    fresh = lamp_like(200, 2, 0.25)                                      # frames the curve was not fitted on
    x = torch.from_numpy(fresh).permute(0, 3, 1, 2).float() / 255
    with torch.no_grad():
        y = curve(x)
    after = torch.quantile(curve.place(y).reshape(-1), q)
    assert (before - target).abs().max() > 0.15                          # far apart to begin with
    assert (after - target).abs().max() < 0.05                           # and near after the curve
    a, b = curve.place(x).reshape(-1), curve.place(y).reshape(-1)       # what was more waxy stays so
    order = torch.argsort(a)
    assert (b[order][1:] - b[order][:-1] > -0.02).all()
    assert 0 <= y.min() and y.max() <= 1


def test_knots_that_fall_or_are_not_finite_and_a_line_of_one_colour_are_refused():
    curve = ColourCurve(5)
    check_curve(curve)
    curve.knots_from.copy_(torch.linspace(1, 0, 5))
    with pytest.raises(ValueError, match="from-knots do not rise"):
        check_curve(curve)
    curve = ColourCurve(5)
    curve.knots_to[2] = float("nan")
    with pytest.raises(ValueError, match="to-knots are not all finite"):
        check_curve(curve)
    curve = ColourCurve(5)
    curve.centres[1] = curve.centres[0]
    with pytest.raises(ValueError, match="joins a colour to itself"):
        check_curve(curve)
    with pytest.raises(ValueError, match="from 2 to 1024 knots"):
        ColourCurve(1)
    with pytest.raises(ValueError, match="colour_knots must be 0 or a whole number"):
        GeneratorConfig(colour_knots=1)


def grainy(frames: np.ndarray, sd: float, seed: int) -> np.ndarray:
    """The frames with RGB grain of ``sd`` levels: it puts the colours off the liquid -> wax line."""
    noise = np.random.default_rng(seed).normal(0, sd, frames.shape)
    return np.clip(frames + noise, 0, 255).round().astype(np.uint8)


def test_an_off_line_scale_brings_the_colours_as_near_the_line_as_the_data_s_and_keeps_each_place():
    from duralava.models.features import WaxSegmenter

    data, lamp = grainy(lamp_like(200, 0, 0.0), 3.0, 0), grainy(lamp_like(200, 1, 0.0), 5.0, 1)
    curve = ColourCurve(shrink=True)
    assert not curve.fitted
    curve.fit(lamp, data, place=False)
    assert curve.fitted and 0.5 <= float(curve.shrink) < 0.8
    seg = WaxSegmenter.fit(data)
    fresh = grainy(lamp_like(200, 2, 0.0), 5.0, 2)                      # frames the curve was not fitted on
    x = torch.from_numpy(fresh).permute(0, 3, 1, 2).float() / 255
    with torch.no_grad():
        y = curve(x)
    drawn = (y * 255).round().byte().permute(0, 2, 3, 1).numpy()
    off = {name: float(seg.off_line(f).mean()) for name, f in
           (("data", data), ("before", fresh), ("after", drawn))}
    assert off["before"] > 1.4 * off["data"]                             # far off the line to begin with
    assert abs(off["after"] / off["data"] - 1) < 0.1                    # and as near as the data's after
    inside = ((y > 0) & (y < 1)).all(1).reshape(-1)                      # pixels the [0, 1] clamp does not touch
    moved = (curve.place(y) - curve.place(x)).reshape(-1)
    assert inside.float().mean() > 0.99 and moved[inside].abs().max() < 1e-4   # every colour keeps its place
    assert moved.abs().max() < 0.01                                      # the clamped ones nearly
    assert torch.equal(curve.knots_from, curve.knots_to)                # and no place map came with it


def test_an_off_line_scale_out_of_range_or_a_curve_without_knots_is_refused():
    curve = ColourCurve(5, shrink=True)
    check_curve(curve)
    curve.shrink.fill_(3.0)
    with pytest.raises(ValueError, match="off-line scale is 3, not from 0.5 to 1.5"):
        check_curve(curve)
    curve.shrink.fill_(float("nan"))
    with pytest.raises(ValueError, match="off-line scale"):
        check_curve(curve)
    curve = ColourCurve(5, shrink=True)
    curve.liquid[0] = 2.0
    with pytest.raises(ValueError, match="liquid colour is not in 0..1"):
        check_curve(curve)
    with pytest.raises(ValueError, match="colour_shrink needs a colour curve"):
        GeneratorConfig(colour_shrink=True)
    with pytest.raises(ValueError, match="colour_shrink must be true or false"):
        GeneratorConfig(colour_knots=5, colour_shrink="yes")
