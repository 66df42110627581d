"""The Engine: ticks, repairs, commands and checkpoint loading, with real torch networks."""
from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from duralava.app.engine import Engine, EngineConfig, EngineError, open_lamp, pick_device
from duralava.models.checkpoint import Lamp, random_lamp, save_lamp

torch.set_num_threads(1)


def patterned_lamp(seed: int = 0) -> Lamp:
    """An untrained lamp whose generator draws visible structure (DCGAN's init draws flat grey)."""
    lamp = random_lamp(seed)
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for m in lamp.generator.modules():
            if isinstance(m, torch.nn.ConvTranspose2d):
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * 0.1)
    return lamp


def wait_for(predicate, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def test_a_tick_gives_a_frame_and_healthy_moments():
    engine = Engine(patterned_lamp(), EngineConfig(inbetweens=False))
    r = engine.tick()
    assert r.tick == 1 and r.frame.shape == (64, 64, 3) and r.frame.dtype == np.uint8
    assert r.frame.std() > 10, "a flat frame"
    assert abs(r.mean) < 1e-3 and abs(r.std - 1) < 1e-3 and abs(r.skew) < 1.5 and 1 < r.kurt < 6
    assert r.z.shape == (64,) and r.error == "" and r.inbetweens is None
    assert engine.tick().tick == 2


def test_reseed_changes_the_frame_and_is_reproducible():
    a = Engine(patterned_lamp(), EngineConfig(seed=3, inbetweens=False))
    b = Engine(patterned_lamp(), EngineConfig(seed=3, inbetweens=False))
    fa, fb = a.tick().frame, b.tick().frame
    assert np.array_equal(fa, fb)
    a.reseed(99)
    ra = a.tick()
    assert ra.seed == 99 and "seed 99" in ra.message
    assert np.abs(ra.frame.astype(int) - b.tick().frame).mean() > 5


@pytest.mark.parametrize("amount", [0.2, 0.5])
def test_a_kick_moves_the_latent_by_about_the_amount_set(amount):
    calm = Engine(patterned_lamp(), EngineConfig(seed=1, inbetweens=False))
    kicked = Engine(patterned_lamp(), EngineConfig(seed=1, inbetweens=False))
    kicked.kick(amount)
    moved = np.sqrt(np.mean((kicked.tick().z - calm.tick().z) ** 2))
    assert 0.7 * amount < moved < 1.3 * amount, moved


def test_injected_noise_moves_the_latent_more_the_more_there_is():
    def drift(amplitude):
        calm = Engine(random_lamp(0), EngineConfig(seed=1, inbetweens=False))
        noisy = Engine(random_lamp(0), EngineConfig(seed=1, inbetweens=False))
        noisy.set_noise(amplitude)
        return np.sqrt(np.mean((noisy.tick().z - calm.tick().z) ** 2))

    assert drift(0.0) == 0.0
    assert 0 < drift(0.5) < drift(2.0)


def test_a_driven_lamp_moves_on_its_own_and_the_panel_adds_to_its_drive():
    def step(drive, extra):
        lamp = random_lamp(0)
        lamp.rnn.config.drive = drive
        engine = Engine(lamp, EngineConfig(seed=1, inbetweens=False))
        engine.set_noise(extra)
        return engine.tick().z

    still = step(0.0, 0.0)
    driven = step(1.0, 0.0)
    assert np.sqrt(np.mean((driven - still) ** 2)) > 1e-3       # its own drive moves it
    assert np.array_equal(driven, step(0.0, 1.0))              # drive and panel noise add up the same way
    assert np.sqrt(np.mean((step(1.0, 2.0) - still) ** 2)) > np.sqrt(np.mean((driven - still) ** 2))


def test_a_lamp_with_a_warm_up_starts_where_its_warm_up_ends():
    cold, warm = random_lamp(0), random_lamp(0)
    for lamp in (cold, warm):
        lamp.rnn.config.drive = 1.0
    warm.rnn.config.warmup = 50
    a = Engine(cold, EngineConfig(seed=4, inbetweens=False))
    b = Engine(warm, EngineConfig(seed=4, inbetweens=False))
    assert np.sqrt(np.mean((a.z.cpu().numpy() - b.z.cpu().numpy()) ** 2)) > 0.05   # it ran its warm-up
    again = Engine(warm, EngineConfig(seed=4, inbetweens=False))
    assert np.array_equal(b.z.cpu().numpy(), again.z.cpu().numpy())               # and the same one each time
    r = b.tick()
    assert abs(r.mean) < 1e-3 and abs(r.std - 1) < 1e-3


def test_a_latent_gone_nan_is_repaired_and_counted():
    lamp = patterned_lamp()
    engine = Engine(lamp, EngineConfig(inbetweens=False))
    good = engine.tick()
    with torch.no_grad():
        lamp.rnn.net[-1].bias.fill_(float("nan"))
    r = engine.tick()
    assert r.repairs == 1 and "reseeded" in r.error
    assert np.isfinite(r.z).all() and abs(r.std - 1) < 1e-3
    assert r.frame.std() > 10 and not np.array_equal(r.frame, good.frame)


def test_inbetweens_come_when_asked_for():
    engine = Engine(patterned_lamp(), EngineConfig(tick_rate=2.0, inbetween_budget=0.5))
    results = [engine.tick() for _ in range(3)]
    r = results[-1]
    assert r.inbetweens is not None and 1 <= len(r.inbetweens) <= engine.config.max_inbetweens
    frames = r.frames()
    assert frames.shape == (len(r.inbetweens) + 1, 64, 64, 3)
    # The in-betweens lie between the last frame and this one.
    prev = results[-2].frame.astype(np.float32)
    first_step = np.abs(frames[0].astype(np.float32) - prev).mean()
    whole_step = np.abs(r.frame.astype(np.float32) - prev).mean()
    assert first_step < whole_step
    engine.set_inbetweens(False)
    assert engine.tick().inbetweens is None


def test_the_worker_ticks_pauses_and_steps():
    with Engine(patterned_lamp(), EngineConfig(tick_rate=20.0, inbetweens=False)) as engine:
        assert wait_for(lambda: engine.tick_index >= 5)
        engine.set_paused(True)
        assert wait_for(lambda: engine.paused)
        time.sleep(0.2)
        held = engine.tick_index
        time.sleep(0.3)
        assert engine.tick_index == held
        engine.step()
        assert wait_for(lambda: engine.tick_index == held + 1)
        engine.set_paused(False)
        assert wait_for(lambda: engine.tick_index >= held + 5)
    assert not engine.running


def test_poll_hands_over_each_result_once():
    with Engine(patterned_lamp(), EngineConfig(tick_rate=50.0, inbetweens=False)) as engine:
        assert wait_for(lambda: engine.tick_index >= 3)
        engine.set_paused(True)
        time.sleep(0.2)
        engine.poll()
        assert engine.poll() is None


def test_a_bad_checkpoint_keeps_the_lamp_running(tmp_path):
    bad = tmp_path / "lamp.safetensors"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    good = tmp_path / "good.safetensors"
    save_lamp(good, patterned_lamp(5).generator, patterned_lamp(5).rnn, {"steps": 1})
    with Engine(patterned_lamp(), EngineConfig(tick_rate=20.0, inbetweens=False)) as engine:
        assert wait_for(lambda: engine.tick_index >= 2)
        engine.load(bad)
        assert wait_for(lambda: engine.error != "")
        before = engine.tick_index
        assert wait_for(lambda: engine.tick_index >= before + 3), "the lamp stopped"
        r = engine.poll() or engine.tick()
        assert str(bad) in r.error and r.error.endswith(".") and r.lamp == "untrained"
        engine.load(good)
        assert wait_for(lambda: engine.lamp_name == "good.safetensors")
        assert wait_for(lambda: (r := engine.poll()) is not None and "loaded" in r.message)
        assert engine.error == ""


def test_bad_settings_are_one_sentence():
    with pytest.raises(EngineError, match="not a torch device"):
        pick_device("toaster:9")
    if not torch.cuda.is_available():
        with pytest.raises(EngineError, match="CUDA is not available"):
            pick_device("cuda")
    assert pick_device("cpu").type == "cpu"
    with pytest.raises(EngineError, match="tick rate"):
        Engine(random_lamp(0), EngineConfig(tick_rate=0))


def test_a_bad_start_up_checkpoint_falls_back_with_a_message(tmp_path):
    missing = tmp_path / "nowhere.safetensors"
    lamp, name, message = open_lamp(missing, "cpu")
    assert lamp.image_size == 64 and str(missing) in message
    assert name in ("untrained", "default.safetensors")


def test_motion_between_ticks_is_estimated_only_when_asked_for():
    engine = Engine(patterned_lamp(), EngineConfig(inbetweens=False, flow=True))
    assert engine.tick().flow is None  # nothing to compare the first frame with
    flow = engine.tick().flow
    assert flow.shape == (64, 64, 2) and flow.dtype == np.float32 and np.isfinite(flow).all()
    engine.set_flow(False)
    assert engine.tick().flow is None
