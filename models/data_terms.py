"""The generator's terms that hold the lamp's clips to the data's, beside the adversarial loss.

Each term is zero when the lamp's clips agree with the data's on what it measures; training
adds each times its ``<name>_weight`` from the training config. They are worked out here in
the order the loss sums them.
"""
from __future__ import annotations

from torch import Tensor

from .pixel_motion import flicker_mismatch, motion_mismatch, steadiness_mismatch

NAMES = ("motion", "flicker", "steady", "liquid", "wax_amount", "wax_motion", "wax_flux", "wax_spread", "colour",
         "height", "shape")


def data_terms(cfg, wax, fake: Tensor, real: Tensor, calm: Tensor, settled: Tensor) -> dict[str, Tensor]:
    """{name: term} for NAMES, from the lamp's clips ``fake`` and the data's ``real`` (B, T, 3, S, S).

    ``wax`` is the data's soft wax (None when the wax cannot be found by colour: its terms are
    then zero); ``calm`` marks the chains left to the lamp's own drive and ``settled`` those
    past its warm-up (bool, (B,)). A term whose weight is 0 is not worked out, apart from
    the pace of the pixels and the wax, which are always logged.
    """
    terms = {name: fake.new_zeros(()) for name in NAMES}
    if wax is not None and cfg.colour_weight > 0:
        terms["colour"] = wax.colour_mismatch(fake, real)
    if wax is not None and cfg.shape_weight > 0:
        terms["shape"] = wax.shape_mismatch(fake, real)
    # The liquid stays still on every chain, stirred or not: only the wax moves.
    if wax is not None and cfg.liquid_weight > 0:
        terms["liquid"] = wax.liquid_mismatch(fake, real)
    # The amount of wax holds on every chain too: the wax moves, it does not come and go.
    if wax is not None and cfg.wax_amount_weight > 0:
        terms["wax_amount"] = wax.amount_mismatch(fake, real)
    # Where the wax spends its time, on the chains past the lamp's warm-up, as the lamp is shown:
    # a young chain's wax still sits where a fresh latent puts it.
    if wax is not None and cfg.height_weight > 0 and bool(settled.any()):
        terms["height"] = wax.height_mismatch(fake[settled])
    # Speed is matched on the chains left to the lamp's own drive: stirred ones are meant to move more.
    if bool(calm.any()):
        calm_fake = fake[calm]
        terms["motion"] = motion_mismatch(calm_fake, real)
        if cfg.flicker_weight > 0:
            terms["flicker"] = flicker_mismatch(calm_fake, real)
        if cfg.steady_weight > 0:
            terms["steady"] = steadiness_mismatch(calm_fake, real)
        if wax is not None:
            terms["wax_motion"], uneven, coupling = wax.speed_mismatches(calm_fake, real)
            if cfg.wax_flux_weight > 0:
                terms["wax_flux"] = wax.flux_mismatch(calm_fake, real)
            if cfg.wax_spread_weight > 0:
                terms["wax_spread"] = uneven
            if cfg.flicker_weight > 0:
                terms["flicker"] = terms["flicker"] + coupling
    return terms
