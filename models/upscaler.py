"""The neural upscaler: a tiny convolutional network that sharpens 64x64 lamp frames at any scale.

Instead of painting output pixels (which would tie it to one scale), the network
reads the 64x64 frame and writes, at 64x64, the parts of a two-layer picture:
a liquid colour ``base``, a wax colour ``wax`` and a signed distance ``d`` to
the wax edge (in texels). At output size those fields are upsampled bilinearly
and composited as ``mix(base, wax, sigmoid(gain * d * scale))``, which is how
the lamp itself is drawn (wax alpha is a sigmoid of a smooth field, about one
pixel wide): edges stay sharp at 4x, 8x or 17x for a few texel reads per
output pixel. Everything before the composite runs at
64x64 and is exported to GLSL passes by :mod:`duralava.models.glsl_export`.

The checkpoint is safetensors with the config as JSON metadata; nothing is
unpickled.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

FORMAT = "duralava-upscaler/1"
# The composite reads two RGBA textures: (base.rgb, wax logit) and (wax.rgb, unused).
FIELDS = 8
# The viewer's passes read at most four input textures: three of features plus the frame.
MAX_CHANNELS = 12


class UpscalerError(ValueError):
    """An upscaler checkpoint or input that cannot be used; the message says why."""


@dataclass
class UpscalerConfig:
    channels: int = 12          # feature width; a multiple of 4 (one RGBA texture per 4)
    mapping_layers: int = 2     # 3x3 layers between feature extraction and the head
    kernel: int = 3             # every layer's kernel (odd)
    edge_range: float = 2.0     # wax edge distance (texels) kept, stored as 0.5 + d / (2 * range)
    edge_gain: float = 3.0      # alpha = sigmoid(gain * d * output pixels per texel)

    def validate(self) -> "UpscalerConfig":
        if self.channels <= 0 or self.channels % 4 or self.channels > MAX_CHANNELS:
            raise UpscalerError(f"channels must be 4, 8 or 12, got {self.channels}")
        if not 0 <= self.mapping_layers <= 8:
            raise UpscalerError(f"mapping_layers must be 0..8, got {self.mapping_layers}")
        if self.kernel not in (1, 3, 5):
            raise UpscalerError(f"kernel must be 1, 3 or 5, got {self.kernel}")
        if not 0.25 <= self.edge_range <= 16.0:
            raise UpscalerError(f"edge_range must be in 0.25..16 texels, got {self.edge_range}")
        if not 0.1 <= self.edge_gain <= 100.0:
            raise UpscalerError(f"edge_gain must be in 0.1..100, got {self.edge_gain}")
        return self


def store8(x: Tensor) -> Tensor:
    """What an RGBA8 texture keeps of ``x``: clamped to [0, 1] and rounded to 1/255.

    The rounding passes gradients straight through, so training sees the
    quantisation the shaders will have and still learns.
    """
    x = x.clamp(0.0, 1.0)
    return x + (torch.round(x * 255.0) / 255.0 - x).detach()


class TinyUpscaler(nn.Module):
    """frame (N, 3, 64, 64) in [0, 1] -> fields (N, 8, 64, 64) -> picture (N, 3, S, S).

    Every intermediate is what the GLSL passes store in RGBA8 textures, so the
    torch network and the shaders agree to the rounding.
    """

    def __init__(self, config: UpscalerConfig | None = None):
        super().__init__()
        self.config = cfg = (config or UpscalerConfig()).validate()
        pad = cfg.kernel // 2
        # Replicate padding is what texelFetch with clamped coordinates does in the shader.
        conv = lambda i, o: nn.Conv2d(i, o, cfg.kernel, padding=pad, padding_mode="replicate")
        layers = [conv(3, cfg.channels)]
        layers += [conv(cfg.channels, cfg.channels) for _ in range(cfg.mapping_layers)]
        self.body = nn.ModuleList(layers)
        self.head = conv(cfg.channels, 7)
        # Start close to "plain bilinear" (base = wax = the frame) with the wax layer
        # mostly off: alpha < 1/2 makes base and wax get different gradients, which
        # they would not at alpha = 1/2, and the wax layer could never form.
        nn.init.normal_(self.head.weight, std=1e-3)
        nn.init.zeros_(self.head.bias)
        with torch.no_grad():
            self.head.bias[3] = -0.05

    def fields(self, frame: Tensor) -> Tensor:
        """The 64x64 fields as stored: (N, 8, H, W) = base.rgb, edge distance code, wax.rgb, 0."""
        x = frame
        for layer in self.body:
            x = store8(layer(x))                          # (N, C, H, W), a ReLU capped at 1
        y = self.head(x)                                  # (N, 7, H, W)
        # Colours are corrections to the frame, so an untrained head is a bilinear upscale.
        base = store8(frame + y[:, 0:3])
        code = store8(0.5 + y[:, 3:4] / (2.0 * self.config.edge_range))
        wax = store8(frame + y[:, 4:7])
        return torch.cat([base, code, wax, torch.zeros_like(code)], dim=1)

    def composite(self, fields: Tensor, size: tuple[int, int]) -> Tensor:
        """Fields (N, 8, h, w) -> picture (N, 3, *size): the shader's final pass."""
        # align_corners=False samples at pixel centres, as GL's linear filter does.
        up = F.interpolate(fields, size=size, mode="bilinear", align_corners=False)
        base, code, wax = up[:, 0:3], up[:, 3:4], up[:, 4:7]
        # The edge is a signed distance in texels; scaled to output pixels, the
        # sigmoid keeps it about one pixel wide at any size, as the lamp draws it.
        dist = (code - 0.5) * (2.0 * self.config.edge_range)
        scale = size[0] / fields.shape[-2]
        alpha = torch.sigmoid(self.config.edge_gain * scale * dist)
        return (base + alpha * (wax - base)).clamp(0.0, 1.0)

    def forward(self, frame: Tensor, size: tuple[int, int]) -> Tensor:
        return self.composite(self.fields(frame), size)

    def n_weights(self) -> int:
        return sum(p.numel() for p in self.parameters())


def frames_to_tensor(frames) -> Tensor:
    """uint8 (N, H, W, 3) numpy frames -> float (N, 3, H, W) in [0, 1]."""
    t = torch.as_tensor(frames)
    if t.dtype != torch.uint8 or t.ndim != 4 or t.shape[-1] != 3:
        raise UpscalerError(f"frames must be uint8 (N, H, W, 3), got {t.dtype} {tuple(t.shape)}")
    return t.permute(0, 3, 1, 2).float().div(255.0)


def tensor_to_frames(x: Tensor):
    """float (N, 3, H, W) in [0, 1] -> uint8 (N, H, W, 3) numpy frames."""
    return (x.clamp(0, 1).mul(255.0).round().to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy())


def save(model: TinyUpscaler, path: str | Path, provenance: dict | None = None) -> Path:
    """Write weights + config JSON as safetensors, atomically (temp file, then rename)."""
    from safetensors.torch import save_file

    path = Path(path)
    meta = {"format": FORMAT, "config": json.dumps(asdict(model.config)),
            "provenance": json.dumps(provenance or {})}
    tensors = {k: v.detach().contiguous().clone() for k, v in model.state_dict().items()}
    tmp = path.with_name(path.name + ".tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        save_file(tensors, str(tmp), metadata=meta)
        tmp.chmod(0o644)            # a shipped file: readable by everyone, like the code
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def load(path: str | Path) -> tuple[TinyUpscaler, dict]:
    """Rebuild the network from a safetensors file; the config is checked before any weight."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise UpscalerError(f"no upscaler checkpoint at {path}")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            if meta.get("format") != FORMAT:
                raise UpscalerError(f"{path} is not an upscaler checkpoint (format {meta.get('format')!r}, want {FORMAT!r})")
            raw = json.loads(meta["config"])
            known = {f.name for f in fields(UpscalerConfig)}
            if not isinstance(raw, dict) or set(raw) - known:
                raise UpscalerError(f"{path} has an unknown upscaler config: {raw!r}")
            model = TinyUpscaler(UpscalerConfig(**raw))
            want = model.state_dict()
            if set(f.keys()) != set(want):
                raise UpscalerError(f"{path} holds different weights than its config describes")
            state = {}
            for k in want:
                t = f.get_tensor(k)
                if t.shape != want[k].shape:
                    raise UpscalerError(f"{path}: weight {k} has shape {tuple(t.shape)}, want {tuple(want[k].shape)}")
                if not torch.isfinite(t).all():
                    raise UpscalerError(f"{path}: weight {k} holds NaN or Inf")
                state[k] = t
            provenance = json.loads(meta.get("provenance", "{}"))
    except UpscalerError:
        raise
    except Exception as e:  # truncated or hostile files: one sentence, never a traceback
        raise UpscalerError(f"{path} is not a readable upscaler checkpoint ({type(e).__name__}: {e})") from None
    model.load_state_dict(state)
    model.eval()
    return model, provenance


def default_path() -> Path:
    from duralava.checkpoints import folder

    return folder() / "upscaler.safetensors"
