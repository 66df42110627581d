"""Fixtures shared by several test files."""
from __future__ import annotations

import pytest
import torch

from duralava.models.checkpoint import random_lamp, save_lamp


@pytest.fixture(scope="module")
def lamp_file(tmp_path_factory):
    """A real lamp file whose generator draws visible structure (one per test module)."""
    lamp = random_lamp(0)
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in lamp.generator.modules():
            if isinstance(m, torch.nn.ConvTranspose2d):
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * 0.1)
    path = tmp_path_factory.mktemp("lamps") / "patterned.safetensors"
    save_lamp(path, lamp.generator, lamp.rnn, {"steps": 0})
    return path
