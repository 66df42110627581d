"""The lamp file: round trips, and one clear sentence for every kind of bad file."""
from __future__ import annotations

import json
import pickle
import struct

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from duralava.models.checkpoint import (
    FORMAT, FORMAT_VERSION, CheckpointError, Lamp, load_lamp, random_lamp, read_lamp_header, save_lamp,
)
from duralava.models.generator import Generator, GeneratorConfig
from duralava.models.rnn import LatentRNN, RNNConfig

torch.set_num_threads(1)


@pytest.fixture
def lamp_file(tmp_path):
    lamp = random_lamp(seed=7)
    # Give BatchNorm real running stats, so the round trip covers buffers too.
    lamp.generator.train()
    with torch.no_grad():
        lamp.generator(torch.randn(16, lamp.z_dim))
    lamp.generator.eval()
    path = tmp_path / "lamp.safetensors"
    save_lamp(path, lamp.generator, lamp.rnn, {"steps": 123, "command": "duralava train", "palette": "classic"})
    return lamp, path


def _rewrite(src, dst, tensors=None, meta_edit=None, metadata=None):
    """Copy a lamp file with its tensors or its metadata changed: how real bad files arise."""
    tensors = tensors if tensors is not None else load_file(str(src))
    from safetensors import safe_open
    with safe_open(str(src), "pt") as f:
        md = dict(f.metadata())
    if meta_edit:
        meta = json.loads(md["lamp"])
        meta_edit(meta)
        md["lamp"] = json.dumps(meta)
    if metadata is not None:
        md = metadata
    save_file(tensors, str(dst), metadata=md)
    return dst


def test_round_trip_gives_identical_outputs(lamp_file):
    lamp, path = lamp_file
    loaded = load_lamp(path)
    assert isinstance(loaded, Lamp)
    assert not loaded.generator.training and not loaded.rnn.training
    z = torch.randn(4, lamp.z_dim)
    with torch.no_grad():
        assert torch.equal(loaded.generator(z), lamp.generator(z))
        assert torch.equal(loaded.rnn(z), lamp.rnn(z))
        assert torch.equal(loaded.rnn(z, z), lamp.rnn(z, z))
    assert loaded.z_dim == 64 and loaded.image_size == 64
    meta = loaded.meta
    assert meta["format"] == FORMAT and meta["version"] == FORMAT_VERSION
    assert meta["steps"] == 123 and meta["command"] == "duralava train"
    assert meta["generator"] == lamp.generator.config.to_dict()
    assert meta["rnn"] == lamp.rnn.config.to_dict()
    assert "created" in meta and "wall_time_s" in meta and "data" in meta


def test_header_is_read_without_weights(lamp_file):
    _, path = lamp_file
    meta = read_lamp_header(path)
    assert meta["steps"] == 123 and meta["image_size"] == 64


def test_fp16_file_is_half_the_size_and_close(tmp_path, lamp_file):
    lamp, path = lamp_file
    half = tmp_path / "half.safetensors"
    save_lamp(half, lamp.generator, lamp.rnn, {}, fp16=True)
    assert half.stat().st_size < 0.55 * path.stat().st_size
    loaded = load_lamp(half)
    z = torch.randn(2, 64)
    with torch.no_grad():
        assert (loaded.generator(z) - lamp.generator(z)).abs().max() < 5e-3
    assert loaded.meta["dtype"] == "float16"


def test_other_sizes_round_trip(tmp_path):
    g, r = Generator(GeneratorConfig(image_size=32, width=8, norm="pixel")), LatentRNN(RNNConfig(hidden=32, layers=1))
    save_lamp(tmp_path / "small.safetensors", g, r, {})
    loaded = load_lamp(tmp_path / "small.safetensors")
    assert loaded.image_size == 32 and loaded.rnn.config.hidden == 32


def test_save_is_atomic_and_leaves_no_temp_files(tmp_path, lamp_file):
    lamp, _ = lamp_file
    out = tmp_path / "sub" / "x.safetensors"
    save_lamp(out, lamp.generator, lamp.rnn, {})
    save_lamp(out, lamp.generator, lamp.rnn, {"steps": 5})  # overwrite in place
    assert read_lamp_header(out)["steps"] == 5
    assert [p.name for p in out.parent.iterdir()] == ["x.safetensors"]
    assert out.stat().st_mode & 0o777 == 0o644


def _bad(path, match):
    with pytest.raises(CheckpointError, match=match) as info:
        load_lamp(path)
    msg = str(info.value)
    assert msg.endswith(".") and "\n" not in msg
    return msg


def test_missing_file_and_directory(tmp_path):
    _bad(tmp_path / "nope.safetensors", "does not exist")
    _bad(tmp_path, "is a directory")


def test_empty_file(tmp_path):
    p = tmp_path / "empty.safetensors"
    p.write_bytes(b"")
    _bad(p, "is empty")


def test_truncated_file(tmp_path, lamp_file):
    _, path = lamp_file
    data = path.read_bytes()
    p = tmp_path / "cut.safetensors"
    p.write_bytes(data[: len(data) // 2])
    _bad(p, "truncated")
    p.write_bytes(data[:5])
    _bad(p, "too short")
    (n,) = struct.unpack("<Q", data[:8])
    p.write_bytes(data[: 8 + n // 2])  # cut inside the header
    _bad(p, "not a safetensors file")


def test_pickle_is_refused_and_never_loaded(tmp_path, lamp_file):
    lamp, _ = lamp_file
    # A torch checkpoint (a zip of pickles) and a bare pickle whose loading would leave a mark.
    pt = tmp_path / "lamp.pt"
    torch.save(lamp.generator.state_dict(), pt)
    _bad(pt, "not a safetensors file")
    marker = tmp_path / "pwned"

    class Hostile:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    pk = tmp_path / "lamp.pkl"
    pk.write_bytes(pickle.dumps(Hostile()))
    _bad(pk, "not a safetensors file")
    assert not marker.exists()


def test_png_is_refused(tmp_path):
    from PIL import Image

    p = tmp_path / "lamp.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(p)
    _bad(p, "not a safetensors file")


def test_safetensors_without_our_metadata(tmp_path):
    p = tmp_path / "plain.safetensors"
    save_file({"w": torch.zeros(3)}, str(p))
    _bad(p, "not a duralava lamp")


def test_wrong_format_version(tmp_path, lamp_file):
    _, path = lamp_file
    from safetensors import safe_open
    with safe_open(str(path), "pt") as f:
        md = dict(f.metadata())
    md["format_version"] = "99"
    p = _rewrite(path, tmp_path / "v99.safetensors", metadata=md)
    _bad(p, "format version 99")


def test_config_that_disagrees_with_tensors(tmp_path, lamp_file):
    _, path = lamp_file
    p = _rewrite(path, tmp_path / "wide.safetensors", meta_edit=lambda m: m["generator"].update(width=16))
    msg = _bad(p, "does not match its configuration")
    assert "generator." in msg
    p = _rewrite(path, tmp_path / "unknown.safetensors", meta_edit=lambda m: m["rnn"].update(cells="lstm"))
    _bad(p, "configuration this program does not know")
    p = _rewrite(path, tmp_path / "size.safetensors", meta_edit=lambda m: m.update(image_size=128))
    _bad(p, "disagree")
    tensors = load_file(str(path))
    del tensors["rnn.net.0.weight"]
    p = _rewrite(path, tmp_path / "missing.safetensors", tensors=tensors)
    _bad(p, "rnn.net.0.weight.*missing")


def test_smooth_generator_round_trips_and_a_bad_smooth_setting_is_refused(tmp_path, lamp_file):
    lamp, path = lamp_file
    smooth = Generator(GeneratorConfig(width=lamp.generator.config.width, smooth=True)).eval()
    smooth.load_state_dict(lamp.generator.state_dict())
    p = tmp_path / "smooth.safetensors"
    save_lamp(p, smooth, lamp.rnn, {"steps": 1})
    assert load_file(str(p)).keys() == load_file(str(path)).keys()     # the filter is not stored
    loaded = load_lamp(p)
    assert loaded.generator.config.smooth is True and loaded.meta["generator"]["smooth"] is True
    z = torch.randn(3, lamp.z_dim)
    with torch.no_grad():
        assert torch.equal(loaded.generator(z), smooth(z))
        assert not torch.equal(loaded.generator(z), lamp.generator(z))
    bad = _rewrite(path, tmp_path / "bad_smooth.safetensors", meta_edit=lambda m: m["generator"].update(smooth="yes"))
    _bad(bad, "impossible network configuration: generator smooth must be true or false")


def test_still_pixels_round_trip_and_a_bad_still_mask_is_refused(tmp_path, lamp_file):
    lamp, path = lamp_file
    still = Generator(GeneratorConfig(width=lamp.generator.config.width, still=True)).eval()
    sd = lamp.generator.state_dict()
    sd.update({k: v for k, v in still.state_dict().items() if k.startswith("still_")})
    still.load_state_dict(sd)
    mask = torch.zeros(64, 64)
    mask[40:] = 1
    still.set_still(mask, torch.rand(3, 64, 64))
    p = tmp_path / "still.safetensors"
    save_lamp(p, still, lamp.rnn, {"steps": 1})
    assert set(load_file(str(p))) - set(load_file(str(path))) == {"generator.still_mask", "generator.still_frame"}
    loaded = load_lamp(p)
    assert loaded.generator.config.still is True and loaded.generator.still_share == 24 / 64
    z = torch.randn(3, lamp.z_dim)
    with torch.no_grad():
        assert torch.equal(loaded.generator(z), still(z))
    half = tmp_path / "still16.safetensors"                   # float16 keeps 0s, 1s and the colours
    save_lamp(half, still, lamp.rnn, {"steps": 1}, fp16=True)
    with torch.no_grad():
        assert (load_lamp(half).generator(z) - still(z))[..., 40:, :].abs().max() < 1e-3
    tensors = load_file(str(p))
    tensors["generator.still_mask"][0, 0, 0] = 0.5
    _bad(_rewrite(p, tmp_path / "blend.safetensors", tensors=tensors),
         "is not a usable lamp: its still mask holds values other than 0 and 1")
    tensors = load_file(str(p))
    tensors["generator.still_frame"][1, 5, 5] = -3.0
    _bad(_rewrite(p, tmp_path / "dark.safetensors", tensors=tensors),
         "is not a usable lamp: its still frame holds colours outside 0..1")
    tensors = load_file(str(p))
    del tensors["generator.still_mask"]
    _bad(_rewrite(p, tmp_path / "half.safetensors", tensors=tensors), "generator.still_mask")


def test_a_colour_curve_round_trips_and_falling_knots_are_refused(tmp_path, lamp_file):
    lamp, path = lamp_file
    curved = Generator(GeneratorConfig(width=lamp.generator.config.width, colour_knots=5)).eval()
    curved.load_state_dict(lamp.generator.state_dict(), strict=False)
    curve = curved.colour_curve
    curve.knots_from.copy_(torch.tensor([-0.5, 0.0, 0.3, 0.7, 1.5]))
    curve.knots_to.copy_(torch.tensor([-0.1, 0.05, 0.4, 0.8, 1.1]))
    p = tmp_path / "curved.safetensors"
    save_lamp(p, curved, lamp.rnn, {"steps": 1})
    loaded = load_lamp(p)
    assert loaded.generator.config.colour_knots == 5 and loaded.generator.colour_curve.fitted
    z = torch.randn(3, lamp.z_dim)
    with torch.no_grad():
        assert torch.equal(loaded.generator(z), curved(z))
        assert not torch.equal(loaded.generator(z), lamp.generator(z))
    tensors = load_file(str(p))
    tensors["generator.colour_curve.knots_from"][3] = -1.0
    _bad(_rewrite(p, tmp_path / "falling.safetensors", tensors=tensors),
         "is not a usable lamp: its colour curve's from-knots do not rise from one to the next")


def test_nan_weights(tmp_path, lamp_file):
    _, path = lamp_file
    tensors = load_file(str(path))
    tensors["generator.net.0.weight"][0, 0, 0, 0] = float("nan")
    p = _rewrite(path, tmp_path / "nan.safetensors", tensors=tensors)
    read_lamp_header(p)  # the header alone is fine
    _bad(p, "NaN or infinite weights in generator.net.0.weight")


def test_absurd_sizes_in_header(tmp_path, lamp_file):
    _, path = lamp_file
    p = tmp_path / "huge.safetensors"
    p.write_bytes(struct.pack("<Q", 2**60) + b"{}")
    _bad(p, "not a safetensors file")
    header = {"__metadata__": {"format": FORMAT, "format_version": "1"},
              "generator.net.0.weight": {"dtype": "F32", "shape": [2**30, 2**30], "data_offsets": [0, 16]}}
    raw = json.dumps(header).encode()
    p.write_bytes(struct.pack("<Q", len(raw)) + raw + bytes(16))
    _bad(p, "does not match its shape")
    header["generator.net.0.weight"] = {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}
    header["__metadata__"]["lamp"] = json.dumps({"generator": {"width": 10**9}, "rnn": {}})
    raw = json.dumps(header).encode()
    p.write_bytes(struct.pack("<Q", len(raw)) + raw + bytes(16))
    _bad(p, "impossible network configuration")


def test_random_lamp_is_valid_and_seeded():
    a, b, c = random_lamp(0), random_lamp(0), random_lamp(1)
    z = torch.randn(2, 64)
    with torch.no_grad():
        assert torch.equal(a.generator(z), b.generator(z))
        assert not torch.equal(a.generator(z), c.generator(z))
    assert a.meta["format"] == FORMAT and a.meta["steps"] == 0
