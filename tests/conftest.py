"""Fixtures shared by several test files."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from duralava.models.checkpoint import random_lamp, save_lamp
from duralava.models.dataset import write_frames


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


@pytest.fixture(scope="module")
def lamp_data(tmp_path_factory):
    """A small dataset of moving blobs (32 px), so tests need not wait for the simulator."""
    n, s = 120, 32
    yy, xx = np.mgrid[0:s, 0:s]
    frames = np.empty((n, s, s, 3), np.uint8)
    frames[:] = (60, 20, 90)
    for i in range(n):
        wax = (yy - (0.5 + 0.3 * np.sin(i / 9)) * s) ** 2 + (xx - s / 2) ** 2 < 30
        frames[i][wax] = (250, 120, 30)
    return write_frames(tmp_path_factory.mktemp("data") / "blobs", frames, [60, 60], {"source": "test"})
