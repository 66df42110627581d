"""The Renderer under headless EGL: frames in, a lamp out, for every upscaler and the look controls."""
from __future__ import annotations

import moderngl
import numpy as np
import pytest

from duralava.app.renderer import UPSCALERS, Offscreen, Renderer, fit_square

pytestmark = pytest.mark.gl

S = 64
LIQUID = np.array([40, 12, 80], np.float32)
WAX = np.array([245, 120, 25], np.float32)


def lamp_frame(blobs=((30, 20, 9), (40, 45, 6), (18, 50, 4))) -> np.ndarray:
    """A two-material picture like a lamp's: round wax blobs, shaded, in a dark liquid."""
    yy, xx = np.mgrid[0:S, 0:S].astype(np.float32)
    frame = np.broadcast_to(LIQUID, (S, S, 3)).copy()
    for x, y, r in blobs:
        inside = (xx - x) ** 2 + (yy - y) ** 2 < r * r
        shade = 0.85 + 0.15 * (1 - yy[inside] / S)
        frame[inside] = WAX * shade[:, None]
    return frame.clip(0, 255).astype(np.uint8)


def block_mean(img: np.ndarray, k: int) -> np.ndarray:
    h, w, c = img.shape
    return img.reshape(h // k, k, w // k, k, c).astype(np.float32).mean(axis=(1, 3))


@pytest.fixture(scope="module")
def ctx():
    ctx = moderngl.create_standalone_context(backend="egl")
    yield ctx
    ctx.release()


@pytest.fixture
def renderer(ctx):
    r = Renderer(ctx, S)
    yield r
    r.release()


@pytest.mark.parametrize("upscaler", list(UPSCALERS))
def test_each_upscaler_draws_the_frame(ctx, renderer, upscaler):
    frame = lamp_frame()
    renderer.upscaler = upscaler
    renderer.push(frame, now=0.0, duration=0.1)
    out = Offscreen(ctx, (320, 320))
    renderer.draw(out.fbo, now=1.0)
    img = out.read()
    out.release()
    assert img.shape == (320, 320, 3)
    assert img.mean() > 20 and img.std() > 20, "black or flat"
    # Shrunk back to the frame's size it is the frame (edges blur a little).
    err = np.abs(block_mean(img, 5) - frame.astype(np.float32))
    assert err.mean() < 6, err.mean()
    # Rows top-first, like the frame: the big blob is in the upper half.
    assert img[:160].mean() > img[160:].mean()


def edge_width(row: np.ndarray) -> int:
    """Pixels strictly between liquid and wax along a row (the blur of an edge)."""
    red = row[:, 0].astype(np.float32)
    lo, hi = LIQUID[0], WAX[0] * 0.85
    return int(((red > lo + 0.2 * (hi - lo)) & (red < lo + 0.8 * (hi - lo))).sum())


def test_lava_upscaler_keeps_wax_edges_crisp_at_ten_times(ctx, renderer):
    renderer.push(lamp_frame(), now=0.0, duration=0.1)
    out = Offscreen(ctx, (640, 640))
    widths = {}
    for name in ("bilinear", "bicubic", "lava"):
        renderer.upscaler = name
        renderer.draw(out.fbo, now=1.0)
        widths[name] = edge_width(out.read()[200])  # through the middle of the big blob
    out.release()
    # Two edges cross the row; 10x bilinear smears each over ~8 px, lava keeps ~1-2 px.
    assert widths["bilinear"] >= 10, widths
    assert widths["lava"] <= 6, widths
    assert widths["lava"] * 2 < widths["bicubic"], widths


def soft(frame: np.ndarray) -> np.ndarray:
    """Edges blurred over a couple of texels, as a generator draws them."""
    f = frame.astype(np.float32)
    for axis in (0, 1):
        f = (np.roll(f, 1, axis) + 2 * f + np.roll(f, -1, axis)) / 4
    return f.round().astype(np.uint8)


def test_lava_upscaler_sharpens_soft_edges_and_leaves_gradients_alone(ctx, renderer):
    out = Offscreen(ctx, (640, 640))
    renderer.push(soft(lamp_frame()), now=0.0, duration=0.1)
    widths = {}
    for name in ("bilinear", "lava"):
        renderer.upscaler = name
        renderer.draw(out.fbo, now=1.0)
        widths[name] = edge_width(out.read()[200])
    assert widths["lava"] * 3 <= widths["bilinear"], widths
    # A smooth glow (a vertical ramp of colour) must not be cut into steps.
    ramp = np.zeros((S, S, 3), np.uint8)
    ramp[...] = np.linspace(20, 230, S, dtype=np.float32)[:, None, None].round().astype(np.uint8)
    ramp[..., 2] = 90
    renderer.push(ramp, now=2.0, duration=0.1)
    shots = {}
    for name in ("bilinear", "lava"):
        renderer.upscaler = name
        renderer.draw(out.fbo, now=3.0)
        shots[name] = out.read().astype(np.float32)
    out.release()
    assert np.abs(shots["lava"] - shots["bilinear"]).max() <= 6


def test_lamp_is_centred_in_a_wide_target(ctx, renderer):
    renderer.push(lamp_frame(), now=0.0, duration=0.1)
    out = Offscreen(ctx, (400, 200))
    rect = renderer.draw(out.fbo, now=1.0)
    img = out.read()
    out.release()
    assert rect == fit_square(400, 200) == (100, 0, 200, 200)
    assert img[:, :100].max() == 0 and img[:, 300:].max() == 0, "bars must be black"
    assert img[:, 100:300].mean() > 20


def test_crossfade_blends_between_ticks(ctx, renderer):
    a, b = lamp_frame(((20, 20, 8),)), lamp_frame(((44, 44, 8),))
    renderer.upscaler = "nearest"
    renderer.interpolation = "crossfade"
    out = Offscreen(ctx, (64, 64))
    renderer.push(a, now=0.0, duration=1.0)
    renderer.push(b, now=10.0, duration=1.0)  # the lamp moves from a to b over 10..11 s
    shots = {}
    for t in (10.0, 10.5, 11.0, 20.0):
        renderer.draw(out.fbo, now=t)
        shots[t] = out.read().astype(np.float32)
    out.release()
    assert np.abs(shots[10.0] - a).max() <= 2
    assert np.abs(shots[11.0] - b).max() <= 2
    assert np.abs(shots[20.0] - b).max() <= 2
    assert np.abs(shots[10.5] - (a.astype(np.float32) + b) / 2).max() <= 2
    renderer.interpolation = "none"
    renderer.push(a, now=30.0, duration=1.0)
    out = Offscreen(ctx, (64, 64))
    renderer.draw(out.fbo, now=30.5)
    assert np.abs(out.read().astype(np.float32) - a).max() <= 2
    out.release()


def test_inbetweens_play_in_order(ctx, renderer):
    frames = np.stack([lamp_frame(((10 + 10 * i, 32, 6),)) for i in range(4)])
    renderer.upscaler = "nearest"
    renderer.push(frames[0], now=0.0, duration=1.0)
    renderer.push(frames[1:], now=1.0, duration=3.0)  # three frames over three seconds
    out = Offscreen(ctx, (64, 64))
    for i, t in enumerate((1.0, 2.0, 3.0, 4.0)):
        renderer.draw(out.fbo, now=t)
        assert np.abs(out.read().astype(np.float32) - frames[i]).max() <= 2, i
    out.release()


def test_frames_upload_only_when_new(ctx, renderer):
    renderer.push(lamp_frame(), now=0.0, duration=0.1)
    out = Offscreen(ctx, (128, 128))
    before = renderer.uploads
    for i in range(5):
        renderer.draw(out.fbo, now=0.1 * i)
    out.release()
    assert renderer.uploads == before == 1


def test_look_controls_change_the_colours(ctx, renderer):
    renderer.push(lamp_frame(), now=0.0, duration=0.1)
    renderer.upscaler = "bilinear"
    out = Offscreen(ctx, (128, 128))

    def shot():
        renderer.draw(out.fbo, now=1.0)
        return out.read().astype(np.float32)

    plain = shot()
    renderer.look.brightness = 0.5
    dim = shot()
    renderer.look.brightness = 1.0
    renderer.look.hue = np.pi * 2 / 3
    shifted = shot()
    renderer.look.hue = 0.0
    renderer.look.glow = 1.0
    glowing = shot()
    out.release()
    assert abs(dim.mean() / plain.mean() - 0.5) < 0.05
    # A third of a turn moves red into green: the wax is no longer the reddest thing.
    assert shifted[..., 1].mean() > plain[..., 1].mean() + 10
    # Liquid just outside the big blob (centre (60, 40), radius 18 here) catches its light.
    near = (slice(38, 43), slice(82, 86))
    assert glowing[near].sum(-1).mean() > plain[near].sum(-1).mean() + 30
    assert np.abs(glowing[:, :8] - plain[:, :8]).max() <= 2, "far liquid stays as it was"



def test_a_new_frame_size_is_taken_in_stride(ctx, renderer):
    big = np.repeat(np.repeat(lamp_frame(), 2, 0), 2, 1)  # 128x128
    renderer.push(big, now=0.0, duration=0.1)
    assert renderer.frame_size == 128
    out = Offscreen(ctx, (256, 256))
    renderer.draw(out.fbo, now=1.0)
    err = np.abs(block_mean(out.read(), 2) - big.astype(np.float32)).mean()
    out.release()
    assert err < 6


def test_bad_frames_are_refused(renderer):
    with pytest.raises(ValueError, match="uint8"):
        renderer.push(np.zeros((64, 64, 3), np.float32), now=0.0, duration=0.1)
    with pytest.raises(ValueError, match="uint8"):
        renderer.push(np.zeros((64, 32, 3), np.uint8), now=0.0, duration=0.1)


def test_an_upscaler_that_cannot_build_falls_back_to_bilinear(ctx, renderer, monkeypatch):
    from duralava.app.renderer import UpscalerSpec

    monkeypatch.setitem(UPSCALERS, "missing", UpscalerSpec("no_such_program"))
    renderer.push(lamp_frame(), now=0.0, duration=0.1)
    renderer.upscaler = "missing"
    out = Offscreen(ctx, (128, 128))
    renderer.draw(out.fbo, now=1.0)
    img = out.read()
    out.release()
    assert renderer.upscaler == "bilinear" and "missing" in renderer.error
    assert img.std() > 20


def test_flow_mode_moves_a_blob_along_its_flow(ctx, renderer):
    a, b = lamp_frame(((24, 32, 7),)), lamp_frame(((36, 32, 7),))  # the blob moves 12 texels right
    flow = np.zeros((S, S, 2), np.float32)
    flow[..., 0] = 12.0
    renderer.upscaler = "nearest"
    renderer.interpolation = "flow"
    out = Offscreen(ctx, (64, 64))
    renderer.push(a, now=0.0, duration=1.0)
    renderer.push(b, now=1.0, duration=1.0, flow=flow)
    renderer.draw(out.fbo, now=1.5)
    half = out.read().astype(np.float32)
    renderer.draw(out.fbo, now=2.0)
    end = out.read().astype(np.float32)
    out.release()
    assert np.abs(end - b).mean() < 1.5
    # Halfway, one whole blob half way along (a crossfade would show two faint ones).
    red = half[..., 0] > (LIQUID[0] + WAX[0] * 0.85) / 2
    xs = np.nonzero(red)[1]
    assert abs(xs.mean() - 30) < 1.5 and red.sum() > 0.8 * (np.pi * 49)


def soft_blob(x: float, y: float = 32, r: float = 8, width: float = 1.5) -> np.ndarray:
    """A wax blob drawn the way lamps draw them: its edge a sigmoid of the distance."""
    yy, xx = np.mgrid[0:S, 0:S].astype(np.float32)
    share = 1 / (1 + np.exp((np.hypot(xx - x, yy - y) - r) / width))
    frame = LIQUID + share[..., None] * (np.asarray(WAX, np.float32) - LIQUID)
    return frame.clip(0, 255).astype(np.uint8)


def test_motion_mode_slides_a_blob_without_a_flow_field(ctx, renderer):
    a, b = soft_blob(28), soft_blob(34)  # the blob moves 6 texels right
    renderer.upscaler = "nearest"
    renderer.interpolation = "motion"
    out = Offscreen(ctx, (64, 64))
    renderer.push(a, now=0.0, duration=1.0)
    renderer.push(b, now=1.0, duration=1.0)
    renderer.draw(out.fbo, now=1.5)
    half = out.read().astype(np.float32)
    renderer.interpolation = "crossfade"
    renderer.draw(out.fbo, now=1.5)
    faded = out.read().astype(np.float32)
    renderer.interpolation = "motion"
    renderer.draw(out.fbo, now=2.0)
    end = out.read().astype(np.float32)
    out.release()
    assert np.abs(end - b).mean() < 1.5
    # Halfway the edges have moved half way: much closer to the true in-between than a crossfade.
    truth = soft_blob(31).astype(np.float32)
    assert np.abs(half - truth).mean() < 0.6 * np.abs(faded - truth).mean()
