"""Training and the engine on a CUDA device, and a training state that moves between CUDA and the CPU.

Skipped where torch sees no CUDA device (the CPU-only test machine); run on a GPU machine.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from duralava.app.engine import Engine, EngineConfig
from duralava.models import cli
from duralava.models.checkpoint import load_lamp, load_training_state

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="torch sees no CUDA device")


def train(*args: str) -> int:
    return cli.main(["train", "--threads", "1", "--no-progress", "--dry-run", *args])


def test_a_state_moves_from_the_cpu_to_cuda_and_back(tmp_path, lamp_data):
    out = tmp_path / "run"
    assert train("--data", str(lamp_data), "--out", str(out), "--device", "cpu") == 0
    assert train("--data", str(lamp_data), "--out", str(out), "--device", "cuda", "--resume", "--steps", "3") == 0
    assert "device cuda" in (out / "train.log").read_text()
    tensors, meta = load_training_state(out / "state.safetensors")
    assert meta["step"] == 5
    assert all(t.device.type == "cpu" and torch.isfinite(t.float()).all() for t in tensors.values()
               if t.is_floating_point())
    assert train("--data", str(lamp_data), "--out", str(out), "--device", "cpu", "--resume", "--steps", "1") == 0
    lamp = load_lamp(out / "lamp.safetensors")
    assert lamp.meta["steps"] == 6


def test_the_engine_decodes_on_cuda(lamp_file):
    lamp = load_lamp(lamp_file, device=torch.device("cuda"))
    engine = Engine(lamp, EngineConfig(device="cuda", inbetweens=False), name="patterned")
    assert engine.device.type == "cuda"
    frames = [engine.tick() for _ in range(20)]
    last = frames[-1]
    assert last.frame.shape == (64, 64, 3) and last.frame.dtype == np.uint8
    assert abs(last.mean) < 0.5 and abs(last.std - 1) < 0.5
    assert np.abs(frames[0].frame.astype(int) - last.frame.astype(int)).mean() > 0, "the frames did not move"
