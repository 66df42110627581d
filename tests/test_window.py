"""The real window under Xvfb: it opens, draws the panel and the lamp, and its keys work.

Each test starts its own Xvfb on a free display number and runs the viewer in a
subprocess (GLX there; this test process stays free of GL).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytestmark = [pytest.mark.gl, pytest.mark.slow,
              pytest.mark.skipif(shutil.which("Xvfb") is None, reason="Xvfb is not installed")]


@pytest.fixture(scope="module")
def display():
    for number in range(140, 200):
        if not Path(f"/tmp/.X11-unix/X{number}").exists() and not Path(f"/tmp/.X{number}-lock").exists():
            break
    proc = subprocess.Popen(["Xvfb", f":{number}", "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not Path(f"/tmp/.X11-unix/X{number}").exists():
        assert proc.poll() is None and time.monotonic() < deadline, "Xvfb did not start"
        time.sleep(0.05)
    yield f":{number}"
    proc.terminate()
    proc.wait(10)


def env_for(display, tmp_path):
    env = dict(os.environ, DISPLAY=display, XDG_CONFIG_HOME=str(tmp_path / "config"))
    env.pop("PYOPENGL_PLATFORM", None)
    return env


def test_window_draws_the_panel_and_the_lamp(display, tmp_path, lamp_file):
    shot = tmp_path / "window.png"
    done = subprocess.run(
        [sys.executable, "-m", "duralava.app.viewer", "--checkpoint", str(lamp_file), "--size", "960x720",
         "--exit-after", "3", "--screenshot-at-exit", str(shot)],
        env=env_for(display, tmp_path), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    from PIL import Image

    img = np.asarray(Image.open(shot).convert("RGB")).astype(np.float32)
    assert img.shape == (720, 960, 3)
    panel, lamp = img[:, :300], img[60:660, 400:900]
    # The panel: ImGui's dark-blue frames and light text, not a flat colour.
    assert panel.std() > 15 and (panel[..., 2] > panel[..., 0] + 20).mean() > 0.05
    # The lamp: colourful structure beside the panel.
    assert lamp.std() > 20 and lamp.mean() > 40


def test_fullscreen_kiosk_shows_only_the_lamp(display, tmp_path, lamp_file):
    shot = tmp_path / "kiosk.png"
    done = subprocess.run(
        [sys.executable, "-m", "duralava.app.viewer", "--checkpoint", str(lamp_file), "--no-ui",
         "--fullscreen", "--monitor", "7", "--exit-after", "2", "--screenshot-at-exit", str(shot)],
        env=env_for(display, tmp_path), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    from PIL import Image

    img = np.asarray(Image.open(shot).convert("RGB")).astype(np.float32)
    assert "no monitor 7" in done.stderr  # a missing monitor falls back to the default one
    assert img.shape == (800, 1280, 3)  # fullscreen: the whole (virtual) monitor
    assert img[:, :240].max() == 0 and img[:, 1040:].max() == 0  # black bars either side
    assert img[:, 240:1040].std() > 20


DRIVER = r"""
import json, sys, time, argparse
from pathlib import Path
import pyglet
from duralava.app import viewer, window
from duralava.app.engine import Engine, EngineConfig, open_lamp
from pyglet.window import key

args = viewer.build_parser().parse_args(sys.argv[2:])
lamp, name, msg = open_lamp(args.checkpoint, "cpu")
engine = Engine(lamp, EngineConfig(tick_rate=20.0), name, msg).start()
win = window.LampWindow(engine, args)
win.sections = [(title, widget, True) for title, widget, _ in win.sections]  # every section drawn
out = {}

def pump(seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end and win.context is not None:
        win.dispatch_events()  # key presses wait in pyglet's queue until here
        pyglet.clock.tick()    # runs what the handlers scheduled (closing, for one)
        if win.context is None:
            break
        win.dispatch_event("on_draw")
        win.flip()
        time.sleep(1 / 60)

def press(symbol):
    win.dispatch_event("on_key_press", symbol, 0)
    pump(0.3)

pump(1.0)
out["ticked"] = engine.tick_index > 5
win.set_interpolation("flow"); pump(0.5)
out["motion_flow"] = win.last is not None and win.last.flow is not None
win.set_interpolation("latent")
press(key.SPACE); out["paused"] = engine.paused
held = engine.tick_index; pump(0.5); out["held"] = engine.tick_index - held
press(key.SPACE); out["unpaused"] = not engine.paused
seed = engine.seed; press(key.R); out["reseeded"] = engine.seed != seed
press(key.H); out["panel_hidden"] = not win.show_panel
press(key.H)
press(key.F); out["fullscreen_size"] = [win.width, win.height] if win.fullscreen else None
press(key.ESCAPE); out["left_fullscreen"] = [win.width, win.height] if not win.fullscreen else None
press(key.F)
win.home_screen = type("Gone", (), dict(x=-5000, y=0, width=640, height=480))()  # unplugged
out["monitor_gone"] = win.check_monitor()
out["windowed_again"] = not win.fullscreen
pump(0.3)
press(key.S); out["screenshot"] = win.last_capture
win.toggle_recording(); pump(1.0); win.toggle_recording()
out["recorded"] = win.last_capture
for size in ((300, 200), (1000, 700)):
    win.set_size(*size); pump(0.2)
win.dispatch_event("on_file_drop", 10, 10, [sys.argv[1]])
before = engine.tick_index
pump(1.5)
out["drop_error"] = (win.last.error if win.last else "")
out["kept_ticking"] = engine.tick_index - before
press(key.Q)
out["closed"] = [win.context is None, engine.running, getattr(win, "_closed", None)]
print("RESULT " + json.dumps(out))
"""


def test_keys_resizes_and_a_bad_drop(display, tmp_path, lamp_file):
    bad = tmp_path / "not_a_lamp.safetensors"
    bad.write_bytes(b"PK\x03\x04" + b"\0" * 200)
    cwd = tmp_path / "work"
    cwd.mkdir()
    done = subprocess.run(
        [sys.executable, "-c", DRIVER, str(bad), "--checkpoint", str(lamp_file), "--size", "800x600"],
        env=env_for(display, tmp_path), capture_output=True, text=True, timeout=180, cwd=cwd)
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(l for l in done.stdout.splitlines() if l.startswith("RESULT "))
    out = json.loads(line[len("RESULT "):])
    assert out["ticked"] and out["paused"] and out["unpaused"] and out["reseeded"]
    assert out["held"] == 0 and out["motion_flow"]
    assert "went away" in out["monitor_gone"] and out["windowed_again"]
    assert out["panel_hidden"]
    assert out["fullscreen_size"] == [1280, 800] and out["left_fullscreen"] == [800, 600]
    assert "saved" in out["screenshot"] and list(cwd.glob("duralava-*.png"))
    (video,) = cwd.glob("duralava-*.mp4")
    assert str(video) in out["recorded"] and video.stat().st_size > 1000
    assert str(bad) in out["drop_error"] and out["kept_ticking"] >= 5
    assert str(bad) in done.stderr  # the bad file is reported on stderr too
    assert out["closed"] == [True, False, True], out["closed"]
