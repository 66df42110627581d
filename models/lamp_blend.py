"""Blending two lamps: each trained tensor of both networks a weighted mean of the two lamps' tensors.

Two lamps drawn from one training run (two checks of it, or two runs resumed from one
state) sit near each other in weight space, and the mean of their weights is a lamp too,
often with something of each: one lamp's motion, the other's frames. Lamps of different
networks or different data are refused, as are lamps that share nothing but a shape (a
blend of unrelated weights draws noise, and nothing here can tell, so the data must match).

What is not trained is taken from the first lamp whole: its still pixels, its colour
curve (fitted to its own colours: a blend's colours want fitting again), its BatchNorm
step counters, its playback settings.
"""
from __future__ import annotations

# Generator and RNN config fields two lamps must share to be blended (the rest is playback or colour).
GENERATOR_FIELDS = ("z_dim", "image_size", "width", "norm", "smooth", "still")
RNN_FIELDS = ("z_dim", "hidden", "layers", "residual")
# Generator tensors that are not trained weights: taken from the first lamp.
KEPT_PREFIXES = ("still_", "colour_curve.")


class BlendError(ValueError):
    """Two lamps that cannot be blended; ``str()`` is one sentence for the user."""


def check_blendable(first, second) -> None:
    """Raise BlendError unless the two lamps have the same networks and were trained on the same data."""
    for name, fields in (("generator", GENERATOR_FIELDS), ("rnn", RNN_FIELDS)):
        a, b = first.meta[name], second.meta[name]
        differ = [f for f in fields if a.get(f) != b.get(f)]
        if differ:
            what = "generators" if name == "generator" else "latent RNNs"
            shown = ", ".join(f"{f} {a.get(f)!r} against {b.get(f)!r}" for f in differ)
            raise BlendError(f"the two lamps' {what} differ ({shown}), so their weights cannot be blended")
    if first.meta.get("data") != second.meta.get("data"):
        raise BlendError("the two lamps were trained on different data, so a blend of their weights would be "
                         "noise; blend lamps from one training run")


def blend(first, second, share: float) -> None:
    """Make ``first``'s networks (1 - share) x its own weights + share x ``second``'s, in place.

    ``share`` is the second lamp's part, strictly between 0 and 1. Float tensors that training sets
    (weights, biases, BatchNorm statistics) are blended; the rest is ``first``'s own."""
    if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 < share < 1:
        raise BlendError(f"the blend's share must be a number between 0 and 1 (not either), not {share!r}")
    share = float(share)
    check_blendable(first, second)
    for name in ("generator", "rnn"):
        own, other = getattr(first, name), getattr(second, name).state_dict()
        mixed = {}
        for key, tensor in own.state_dict().items():
            if not tensor.is_floating_point() or key.startswith(KEPT_PREFIXES):
                continue
            theirs = other.get(key)
            if theirs is None or theirs.shape != tensor.shape:
                raise BlendError(f"the second lamp's {name} has no tensor {key} of shape {tuple(tensor.shape)}")
            mixed[key] = ((1 - share) * tensor.float() + share * theirs.float()).to(tensor.dtype)
        own.load_state_dict(mixed, strict=False)
