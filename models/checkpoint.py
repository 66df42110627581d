"""The lamp file: a generator and a latent RNN in one safetensors file, with their configs as JSON.

Layout: tensors ``generator.<name>`` and ``rnn.<name>`` (float32, or float16 for
a small file), and safetensors metadata ``format``, ``format_version`` and
``lamp`` (JSON: configs and provenance). Everything in the header is checked
before a single weight is read, so a wrong, truncated or hostile file costs a
few bytes of reading and gives one clear sentence. Pickles are never loaded.
"""
from __future__ import annotations

import json
import os
import struct
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from .generator import Generator, GeneratorConfig
from .latent import Z_DIM
from .rnn import LatentRNN, RNNConfig

FORMAT = "duralava-lamp"
FORMAT_VERSION = 1
# A lamp's header is a few kilobytes; anything past this is not ours.
MAX_HEADER_BYTES = 16 * 1024 * 1024
FLOAT_DTYPES = {"F32": torch.float32, "F16": torch.float16}
OTHER_DTYPES = {"I64": torch.int64}
DTYPE_BYTES = {"F32": 4, "F16": 2, "I64": 8, "U8": 1}


class CheckpointError(ValueError):
    """A lamp file that cannot be used; ``str()`` is one sentence for the user."""


@dataclass
class Lamp:
    generator: Generator
    rnn: LatentRNN
    meta: dict

    @property
    def z_dim(self) -> int:
        return self.generator.config.z_dim

    @property
    def image_size(self) -> int:
        return self.generator.config.image_size


def lamp_meta(generator: Generator, rnn: LatentRNN, meta: dict | None = None) -> dict:
    """Provenance ``meta`` completed with what the networks themselves say (those keys always win)."""
    out = {
        "steps": 0,
        "wall_time_s": 0.0,
        "data": {"source": "none", "params": {}},
        "palette": "classic",
        "command": "",
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    out.update(meta or {})
    out.update({
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "z_dim": generator.config.z_dim,
        "image_size": generator.config.image_size,
        "generator": generator.config.to_dict(),
        "rnn": rnn.config.to_dict(),
    })
    return out


def atomic_save_safetensors(tensors: dict[str, torch.Tensor], metadata: dict[str, str], path: Path) -> None:
    """Write a safetensors file beside ``path`` and rename it into place: never a half-written file."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, tmp, metadata=metadata)
        os.chmod(tmp, 0o644)  # mkstemp makes files private; a lamp is meant to be shared and shipped
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_lamp(path, generator: Generator, rnn: LatentRNN, meta: dict, fp16: bool = False) -> None:
    """Save both networks and their provenance to ``path`` (atomically)."""
    meta = lamp_meta(generator, rnn, meta)
    meta["dtype"] = "float16" if fp16 else "float32"
    tensors = {}
    for prefix, net in (("generator", generator), ("rnn", rnn)):
        for name, t in net.state_dict().items():
            t = t.detach().cpu()
            if t.is_floating_point():
                t = t.half() if fp16 else t.float()
            tensors[f"{prefix}.{name}"] = t
    metadata = {"format": FORMAT, "format_version": str(FORMAT_VERSION), "lamp": json.dumps(meta)}
    atomic_save_safetensors(tensors, metadata, Path(path))


def read_safetensors_header(path, what: str = "lamp file") -> tuple[dict, dict[str, str]]:
    """The raw header of a safetensors file: ({tensor: {dtype, shape, data_offsets}}, metadata).

    Checks that the file exists, that the header is a sane JSON object and that
    every tensor's bytes lie inside the file, reading nothing but the header.
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{what} {path} does not exist.")
    if path.is_dir():
        raise CheckpointError(f"{what} {path} is a directory, not a file.")
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(8)
            if size == 0:
                raise CheckpointError(f"{what} {path} is empty.")
            if len(head) < 8:
                raise CheckpointError(f"{what} {path} is too short to be a safetensors file ({size} bytes).")
            (n,) = struct.unpack("<Q", head)
            if n < 2 or n > MAX_HEADER_BYTES or n > size - 8:
                raise CheckpointError(f"{what} {path} is not a safetensors file (its first bytes do not "
                                      f"announce a readable header).")
            raw = f.read(n)
    except OSError as e:
        raise CheckpointError(f"{what} {path} cannot be read: {e.strerror or e}.") from None
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise CheckpointError(f"{what} {path} is not a safetensors file (its header is not JSON).") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{what} {path} is not a safetensors file (its header is not a JSON object).")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise CheckpointError(f"{what} {path} has malformed safetensors metadata.")
    data_bytes = size - 8 - n
    for name, info in header.items():
        ok = (isinstance(info, dict) and info.get("dtype") in DTYPE_BYTES
              and isinstance(info.get("shape"), list) and all(isinstance(d, int) and 0 <= d < 2**31 for d in info["shape"])
              and isinstance(info.get("data_offsets"), list) and len(info["data_offsets"]) == 2
              and all(isinstance(o, int) for o in info["data_offsets"]))
        if not ok:
            raise CheckpointError(f"{what} {path} describes tensor {name!r} in a way this program does not read.")
        begin, end = info["data_offsets"]
        count = 1
        for d in info["shape"]:
            count *= d
        if not 0 <= begin <= end or end - begin != count * DTYPE_BYTES[info["dtype"]]:
            raise CheckpointError(f"{what} {path} gives tensor {name!r} a size that does not match its shape.")
        if end > data_bytes:
            raise CheckpointError(f"{what} {path} is truncated: tensor {name!r} runs past the end of the file.")
    return header, metadata


def _parse_lamp_meta(path: Path, metadata: dict[str, str]) -> dict:
    fmt = metadata.get("format")
    if fmt != FORMAT:
        raise CheckpointError(f"{path} is a safetensors file but not a duralava lamp "
                              f"(its format is {fmt!r}, expected {FORMAT!r}).")
    version = metadata.get("format_version")
    if version != str(FORMAT_VERSION):
        raise CheckpointError(f"{path} is a duralava lamp of format version {version}, "
                              f"but this program reads version {FORMAT_VERSION}.")
    try:
        meta = json.loads(metadata.get("lamp", ""))
    except json.JSONDecodeError:
        raise CheckpointError(f"{path} has a lamp description that is not valid JSON.") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path} has a lamp description that is not a JSON object.")
    return meta


def _configs(path: Path, meta: dict) -> tuple[GeneratorConfig, RNNConfig]:
    try:
        gen = GeneratorConfig(**meta["generator"])
        rnn = RNNConfig(**meta["rnn"])
    except KeyError as e:
        raise CheckpointError(f"{path} lacks the {e.args[0]} configuration.") from None
    except TypeError as e:
        raise CheckpointError(f"{path} has a network configuration this program does not know ({e}).") from None
    except ValueError as e:
        raise CheckpointError(f"{path} has an impossible network configuration: {e}.") from None
    if gen.z_dim != rnn.z_dim:
        raise CheckpointError(f"{path} pairs a generator for {gen.z_dim}-dim latents with an RNN for {rnn.z_dim}.")
    if meta.get("z_dim") != gen.z_dim or meta.get("image_size") != gen.image_size:
        raise CheckpointError(f"{path} states z_dim {meta.get('z_dim')} and image size {meta.get('image_size')}, "
                              f"which disagree with its generator configuration.")
    return gen, rnn


def _expected_tensors(generator: nn.Module, rnn: nn.Module) -> dict[str, tuple[tuple[int, ...], bool]]:
    """name -> (shape, is_float) for every tensor a lamp of these networks must hold."""
    out = {}
    for prefix, net in (("generator", generator), ("rnn", rnn)):
        for name, t in net.state_dict().items():
            out[f"{prefix}.{name}"] = (tuple(t.shape), t.is_floating_point())
    return out


def _check_tensors(path: Path, header: dict, expected: dict, what: str = "lamp") -> None:
    missing = sorted(set(expected) - set(header))
    extra = sorted(set(header) - set(expected))
    if missing:
        raise CheckpointError(f"{path} does not match its configuration: tensor {missing[0]!r} is missing"
                              f"{f' (and {len(missing) - 1} more)' if len(missing) > 1 else ''}.")
    if extra:
        raise CheckpointError(f"{path} does not match its configuration: it holds an unexpected tensor {extra[0]!r}.")
    for name, (shape, is_float) in expected.items():
        info = header[name]
        if tuple(info["shape"]) != shape:
            raise CheckpointError(f"{path} does not match its configuration: {name} has shape "
                                  f"{tuple(info['shape'])} but the {what} configuration needs {shape}.")
        allowed = FLOAT_DTYPES if is_float else OTHER_DTYPES
        if info["dtype"] not in allowed:
            raise CheckpointError(f"{path} stores {name} as {info['dtype']}, which should be one of {sorted(allowed)}.")


def read_lamp_header(path) -> dict:
    """Validate a lamp file and return its meta (configs + provenance) without reading any weight."""
    path = Path(path)
    header, metadata = read_safetensors_header(path)
    meta = _parse_lamp_meta(path, metadata)
    gen_cfg, rnn_cfg = _configs(path, meta)
    with torch.device("meta"):
        expected = _expected_tensors(Generator(gen_cfg), LatentRNN(rnn_cfg))
    _check_tensors(path, header, expected)
    return meta


def load_lamp(path, device="cpu") -> Lamp:
    """Load a lamp for playing: both networks in eval mode on ``device``. Raises CheckpointError."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    meta = read_lamp_header(path)
    gen_cfg, rnn_cfg = _configs(path, meta)
    generator, rnn = Generator(gen_cfg), LatentRNN(rnn_cfg)
    try:
        tensors = load_file(str(path), device="cpu")
    except (SafetensorError, OSError, RuntimeError) as e:
        raise CheckpointError(f"{path} could not be read as safetensors: {e}.") from None
    for name, t in tensors.items():
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise CheckpointError(f"{path} holds NaN or infinite weights in {name}.")
    for prefix, net in (("generator", generator), ("rnn", rnn)):
        state = {k[len(prefix) + 1:]: (v.float() if v.is_floating_point() else v)
                 for k, v in tensors.items() if k.startswith(prefix + ".")}
        try:
            net.load_state_dict(state, strict=True)
        except RuntimeError as e:
            raise CheckpointError(f"{path} does not fit its {prefix} configuration ({str(e).splitlines()[0]}).") from None
    try:
        generator.check_buffers()
    except ValueError as e:
        raise CheckpointError(f"{path} is not a usable lamp: {e}.") from None
    try:
        generator, rnn = generator.to(device).eval(), rnn.to(device).eval()
    except (RuntimeError, AssertionError) as e:
        raise CheckpointError(f"cannot place the lamp on device {device!r}: {e}.") from None
    return Lamp(generator=generator, rnn=rnn, meta=meta)


def random_lamp(seed: int = 0, device="cpu") -> Lamp:
    """Untrained networks with a valid meta: for tests, and for a first run before any checkpoint exists."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        generator, rnn = Generator(GeneratorConfig(z_dim=Z_DIM)), LatentRNN(RNNConfig(z_dim=Z_DIM))
    meta = lamp_meta(generator, rnn, {"data": {"source": "untrained", "params": {"seed": seed}}, "steps": 0})
    return Lamp(generator=generator.to(device).eval(), rnn=rnn.to(device).eval(), meta=meta)


# --- Training state: everything needed to resume, separate from the lamp a viewer plays. ---

STATE_FORMAT = "duralava-train-state"
STATE_FORMAT_VERSION = 1


def save_training_state(path, tensors: dict[str, torch.Tensor], meta: dict) -> None:
    """Tensors (networks, optimisers, latent carry-over, RNG) plus JSON meta, written atomically."""
    metadata = {"format": STATE_FORMAT, "format_version": str(STATE_FORMAT_VERSION), "state": json.dumps(meta)}
    atomic_save_safetensors(tensors, metadata, Path(path))


def load_training_state(path) -> tuple[dict[str, torch.Tensor], dict]:
    """Read a training state file back; raises CheckpointError for anything that is not one."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    _, metadata = read_safetensors_header(path, what="training state")
    if metadata.get("format") != STATE_FORMAT:
        raise CheckpointError(f"{path} is not a duralava training state (its format is {metadata.get('format')!r}).")
    if metadata.get("format_version") != str(STATE_FORMAT_VERSION):
        raise CheckpointError(f"{path} is a training state of version {metadata.get('format_version')}, "
                              f"but this program reads version {STATE_FORMAT_VERSION}.")
    try:
        meta = json.loads(metadata.get("state", ""))
        tensors = load_file(str(path), device="cpu")
    except json.JSONDecodeError:
        raise CheckpointError(f"{path} has a training description that is not valid JSON.") from None
    except (SafetensorError, OSError, RuntimeError) as e:
        raise CheckpointError(f"{path} could not be read as safetensors: {e}.") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path} has a training description that is not a JSON object.")
    for name, t in tensors.items():
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise CheckpointError(f"{path} holds NaN or infinite values in {name}; resume from an earlier state.")
    return tensors, meta
