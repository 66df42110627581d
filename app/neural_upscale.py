"""The neural upscaler in the viewer: the generated ``neural_upscale_*`` passes as one upscaler.

``duralava upscaler export`` writes one pre-pass per network layer and a
composite pass; the third line of each file (``// duralava-pass: ...``) says
how many RGBA8 targets it writes. This module reads those lines and builds the
renderer's :class:`~duralava.app.renderer.UpscalerSpec`, so the viewer needs no
knowledge of the network's shape, and a re-exported network of another depth
just works. Register it with ``register(UPSCALERS)``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from duralava import shaders

PREFIX = "neural_upscale"
NAME = "neural"
LABEL = "neural (tiny CNN, trained on the simulator)"
_META = re.compile(r"^// duralava-pass: (?:layer (?P<i>\d+)|(?P<composite>composite)); "
                   r"outputs (?P<outputs>\d+)$", re.M)


class NeuralUpscaleError(RuntimeError):
    """The generated passes are missing or do not chain; the message says which."""


@dataclass(frozen=True)
class PassInfo:
    name: str
    outputs: int          # RGBA8 targets written (multiple render targets)


def pass_chain(prefix: str = PREFIX) -> tuple[list[PassInfo], str]:
    """The generated pre-passes in order and the composite's program name."""
    layers: dict[int, PassInfo] = {}
    composite = None
    for name in shaders.names():
        if not name.startswith(prefix + "_"):
            continue
        m = _META.search(shaders.source(name))
        if m is None:
            raise NeuralUpscaleError(f"shader {name!r} has no '// duralava-pass:' line; "
                                     "regenerate it with `duralava upscaler export`")
        if m["composite"]:
            composite = name
        else:
            layers[int(m["i"])] = PassInfo(name, int(m["outputs"]))
    if composite is None or not layers or sorted(layers) != list(range(len(layers))):
        raise NeuralUpscaleError("the neural upscaler's passes are missing or incomplete; "
                                 "run `duralava upscaler export`")
    return [layers[i] for i in range(len(layers))], composite


def spec():
    """The renderer's description of the neural upscaler (pre-passes at the frame's size)."""
    from .renderer import Prepass, UpscalerSpec

    prepasses, final = pass_chain()
    return UpscalerSpec(final, tuple(Prepass(p.name, outputs=p.outputs) for p in prepasses),
                        {}, LABEL)


def register(upscalers: dict) -> bool:
    """Add the neural upscaler to a renderer registry if its passes are shipped; True if it is there."""
    if NAME in upscalers:
        return True
    try:
        upscalers[NAME] = spec()
    except NeuralUpscaleError:
        return False
    return True
