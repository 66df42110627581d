"""Fidelity of a lamp against the simulator it learned from, at the start of a run and after a long one.

The simulator settings (palette, preset or parameters, stride) come from the
lamp's own provenance, so a lamp is compared with the lamp it was trained to
be. Every distance is quoted beside the floor: how far the simulator is from
itself, measured the way the lamp is. A lamp's sample is many seeds, a short run
each; the floor's is as many independent simulator lamps, a short run each, caught
at ages spread as the training data's are, with the same sample counts and wax
segmenter. One such draw swings several-fold with which lamps it happens to hold
(a few simulator lamps break their wax into many small blobs for thousands of
frames), so the floor and each of the lamp's figures are means over several draws.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from .endurance import to_uint8
from .lamp_frames import FRAMES_PER_LAMP


# Frames of each simulator lamp in the reference: many lamps (64 in 32,000 frames), since
# a lamp can keep an unusual state (its wax in many small blobs) for all its 2,000 frames.
REFERENCE_RUN = 500


# Names a lamp's data source goes by when its frames came from the simulator.
SIMULATED = ("simulator", "sim")


class FidelityError(ValueError):
    """A fidelity measurement that cannot be made; ``str()`` is one sentence for the user."""


@dataclass
class SimulatorSettings:
    """What the simulator needs to draw the lamp a checkpoint was trained on."""
    palette: str = "classic"
    stride: int | None = None            # None: the simulator's default
    preset: str | None = None
    params: dict = field(default_factory=dict)
    note: str = ""                       # why these settings, when they are a guess

    def describe(self) -> str:
        what = self.preset or ("custom parameters" if self.params else "classic")
        stride = "default stride" if self.stride is None else f"stride {self.stride}"
        return f"simulator ({what}, palette {self.palette}, {stride})"


def simulator_settings(meta: dict) -> SimulatorSettings:
    """Read the data source from a lamp's provenance; an untrained or footage lamp gets the classic simulator.

    A tick spans ``training.stride`` dataset frames, each ``data.params.stride``
    simulator steps, so the reference is simulated at their product.
    """
    data = meta.get("data") if isinstance(meta.get("data"), dict) else {}
    params = data.get("params") if isinstance(data.get("params"), dict) else {}
    palette = params.get("palette", meta.get("palette", "classic"))
    # Trained straight from the simulator, or from a folder that `duralava sim` wrote.
    source = str(data.get("source", "unknown"))
    simulated = source in SIMULATED or str(params.get("source")) in SIMULATED
    out = SimulatorSettings(palette=str(palette) if palette else "classic")
    if not simulated:
        out.note = f"the lamp's data source is {source!r}, so it is compared with the classic simulator"
        return out
    training = meta.get("training") if isinstance(meta.get("training"), dict) else {}
    sim_stride, frames_per_tick = params.get("stride"), training.get("stride", 1)
    if sim_stride is not None:
        out.stride = int(sim_stride) * int(frames_per_tick or 1)
    elif frames_per_tick not in (None, 1):
        from .simulator import DEFAULT_STRIDE

        out.stride = DEFAULT_STRIDE * int(frames_per_tick)
    out.preset = params.get("preset")
    lamp = params.get("params")
    out.params = dict(lamp) if isinstance(lamp, dict) else {}
    return out


def simulator_frames(settings: SimulatorSettings, n_frames: int, size: int, seed: int,
                     n_lamps: int | None = None, progress: bool = False,
                     ages: list[int] | None = None) -> tuple[np.ndarray, list[int]]:
    """(N, S, S, 3) uint8 frames and their segments from the simulator with a lamp's settings."""
    from . import simulator

    try:
        params = None
        if settings.params:
            params = simulator.LampParams.from_dict(settings.params)
        elif settings.preset:
            params = simulator.preset(settings.preset)
        kwargs = dict(size=size, seed=seed, palette=settings.palette, params=params, n_lamps=n_lamps,
                      progress=progress, ages=ages)
        if settings.stride is not None:
            kwargs["stride"] = settings.stride
        frames, segments = simulator.simulate_frames(n_frames, **kwargs)
    except simulator.SimulatorError as e:
        raise FidelityError(f"the simulator cannot draw this lamp's training data: {e}") from None
    return np.asarray(frames), [int(s) for s in segments]


def reference_motion(frames: np.ndarray, segments: list[int]) -> float:
    """Mean |frame difference| between consecutive frames of each segment, 0-255 units."""
    diffs, at = [], 0
    for s in segments:
        seg = frames[at:at + s].astype(np.int16)
        if s >= 2:
            diffs.append(np.abs(seg[1:] - seg[:-1]).reshape(s - 1, -1).mean(1))
        at += s
    if not diffs:
        raise FidelityError("the simulator's frames hold no consecutive pair to measure motion on.")
    return float(np.concatenate(diffs).mean())


@torch.inference_mode()
def lamp_frames(rnn: nn.Module, generator: nn.Module, start: torch.Tensor, ticks: int,
                batch: int = 64, progress: bool = False, desc: str = "decoding") -> tuple[np.ndarray, list[int]]:
    """Decode ``ticks`` consecutive ticks from each starting latent (B, Z): (B * ticks, S, S, 3) uint8, segments."""
    from tqdm.auto import tqdm

    z = start.float()
    noise_rng = torch.Generator().manual_seed(30_011)
    latents = torch.empty((ticks,) + tuple(z.shape))                   # (T, B, Z)
    for t in range(ticks):
        z = rnn.tick(z, generator=noise_rng)
        latents[t] = z.cpu()
    flat = latents.transpose(0, 1).reshape(-1, z.shape[1])             # seed-major: (B * T, Z)
    frames = []
    device = start.device
    for i in tqdm(range(0, flat.shape[0], batch), disable=not progress, desc=desc, unit="batch"):
        f = to_uint8(generator(flat[i:i + batch].to(device)).float())  # (b, 3, S, S)
        frames.append(f.nan_to_num(0.0).permute(0, 2, 3, 1).to(torch.uint8).cpu().numpy())
    return np.concatenate(frames), [ticks] * z.shape[0]


@dataclass
class FidelityPlan:
    ticks_per_seed: int = 64      # consecutive frames decoded per seed
    n_frames: int = 1000          # frames sampled for frame features
    n_clips: int = 100            # clips sampled for clip (motion) features
    clip_len: int = 16
    reference_frames: int = 32000  # simulator frames of the reference: runs of REFERENCE_RUN frames, one a lamp
    lamps: int = 100              # seeds decoded per draw; simulator lamps per floor draw
    draws: int = 4                # draws the floor and each of the lamp's figures are averaged over
    data_run: int = FRAMES_PER_LAMP  # frames each training-data lamp ran; simulator lamps are caught at ages over them

    def __post_init__(self) -> None:
        for name in ("ticks_per_seed", "n_frames", "n_clips", "clip_len", "reference_frames", "lamps", "draws",
                     "data_run"):
            v = getattr(self, name)
            least = 1 if name == "draws" else 2
            if not isinstance(v, int) or isinstance(v, bool) or v < least:
                raise FidelityError(f"fidelity {name.replace('_', ' ')} must be a whole number of at least {least}, "
                                    f"not {v!r}.")
        if self.clip_len > self.ticks_per_seed:
            raise FidelityError(f"clips of {self.clip_len} frames do not fit in {self.ticks_per_seed} ticks per seed.")

    def check_counts(self) -> None:
        """Raise FidelityError unless the decoded seeds and the simulator hold enough frames for the samples."""
        seeds = self.lamps
        frames = seeds * self.ticks_per_seed
        clips = seeds * (self.ticks_per_seed - self.clip_len + 1)
        if self.n_frames > min(frames, self.reference_frames):
            raise FidelityError(f"{self.n_frames} sampled frames need at least that many decoded and simulated "
                                f"frames; {seeds} seeds x {self.ticks_per_seed} ticks give {frames} and the "
                                f"simulator {self.reference_frames}.")
        if self.n_clips > clips:
            raise FidelityError(f"{self.n_clips} clips of {self.clip_len} frames do not fit in {seeds} seeds x "
                                f"{self.ticks_per_seed} ticks ({clips} possible clips); sample fewer or decode more.")


def simulator_lamps(settings: SimulatorSettings, lamps: int, ticks: int, size: int, seed: int,
                    progress: bool = False, data_run: int = FRAMES_PER_LAMP) -> tuple[np.ndarray, list[int]]:
    """``lamps`` independent simulator lamps, ``ticks`` consecutive frames of each: a draw shaped like a lamp's.

    The training data runs each lamp for ``data_run`` frames from its warm start, so a data
    frame's age is spread evenly over them; each lamp here is caught at such an age (drawn from
    ``seed``), as a lamp's seeds are caught wherever their warm-up left them.
    """
    ages = np.sort(np.random.default_rng(seed).integers(0, max(data_run - ticks, 0) + 1, lamps))
    return simulator_frames(settings, lamps * ticks, size, seed=seed, ages=[int(a) for a in ages],
                            progress=progress)


AVERAGED = ("frame", "clip", "frame_mean_part", "clip_mean_part")


def mean_of_draws(draws: list[dict]) -> dict:
    """One figure from several draws' scores: each distance's mean (and its means' part, and each
    feature's offset, where the draws have them), the draws kept beside it."""
    out = {k: v for k, v in draws[0].items() if k not in AVERAGED and not k.endswith("_offsets")}
    for key in AVERAGED:
        if all(key in d for d in draws):
            out[key] = float(np.mean([d[key] for d in draws]))
    for kind in ("frame", "clip"):
        if all(f"{kind}_offsets" in d for d in draws):
            out[f"{kind}_offsets"] = np.mean([d[f"{kind}_offsets"] for d in draws], axis=0).tolist()
    out["draws"] = [{"frame": float(d["frame"]), "clip": float(d["clip"])} for d in draws]
    return out


def where_it_lies(score: dict, top: int = 3) -> list[str]:
    """Where the frame and clip distances of ``score`` lie, in words, one line each: the part the
    features' means make and the ``top`` features furthest off (the lamp's mean less the
    reference's, in the reference's sd). No line for a kind without offsets."""
    from .metrics import FEATURE_NAMES

    lines = []
    for kind, names in FEATURE_NAMES.items():
        offsets, part = score.get(f"{kind}_offsets"), score.get(f"{kind}_mean_part")
        if offsets is None or part is None:
            continue
        total = score[kind]
        share = f" ({part / total:.0%})" if total > 0 else ""
        order = np.argsort(-np.abs(offsets), kind="stable")[:top]
        furthest = ", ".join(f"{names[i]} {offsets[i]:+.2f} sd" for i in order)
        lines.append(f"{kind}s {total:.3g}: the means make {part:.3g}{share}; furthest off: {furthest}")
    return lines


class FidelityJudge:
    """The simulator reference (and, on first use, its floor), against which lamp frames are scored."""

    def __init__(self, settings: SimulatorSettings | None, size: int, plan: FidelityPlan, progress: bool = False,
                 reference: tuple[np.ndarray, list[int]] | None = None,
                 other: tuple[np.ndarray, list[int]] | None = None):
        """Simulate the reference (seed 1) and, when the floor is asked for, ``plan.draws`` draws of
        ``plan.lamps`` lamps (seeds 2, 3, ...); or, given ``reference`` and ``other`` (frames,
        segments), use those two runs instead (one draw: footage has no simulator to draw more from)."""
        from .metrics import FidelityConfig, WaxSegmenter

        self.plan, self.settings, self.size, self.progress = plan, settings, size, progress
        self.config = FidelityConfig(n_frames=plan.n_frames, n_clips=plan.n_clips, clip_len=plan.clip_len)
        if reference is None:
            lamps = max(1, plan.reference_frames // REFERENCE_RUN)
            reference = simulator_lamps(settings, lamps, plan.reference_frames // lamps, size, seed=1,
                                        progress=progress, data_run=plan.data_run)
        self.reference, self.reference_segments = reference
        self._other = other
        self.segmenter = WaxSegmenter.fit(self.reference)
        self.motion = reference_motion(self.reference, self.reference_segments)
        self._floor: dict | None = None

    @property
    def floor(self) -> dict:
        """The same scores for the simulator itself, drawn as a lamp is: what 'as good as the simulator'
        measures. The mean of the draws, each draw's scores under ``draws``."""
        if self._floor is None:
            if self._other is not None:
                draws = [self.score(*self._other)]
            else:
                plan = self.plan
                draws = [self.score(*simulator_lamps(self.settings, plan.lamps, plan.ticks_per_seed, self.size,
                                                     seed=2 + k, progress=self.progress, data_run=plan.data_run))
                         for k in range(plan.draws)]
            self._floor = mean_of_draws(draws)
            self._other = None
        return self._floor

    def use_floor(self, floor: dict) -> None:
        """Take a floor worked out before for this same reference and plan ({'frame', 'clip', ...})."""
        self._floor, self._other = dict(floor), None

    def score(self, frames: np.ndarray, segments: list[int]) -> dict:
        """{'frame': distance, 'clip': distance, ...} of these frames against the reference."""
        from .metrics import MetricsError, fidelity

        try:
            return fidelity(frames, self.reference, segments, self.reference_segments,
                            config=self.config, segmenter=self.segmenter)
        except MetricsError as e:
            raise FidelityError(f"the frames cannot be scored: {e}") from None


def fidelity_checks(scores: dict[str, dict], floor: dict, limit: float = 3.0) -> list[dict]:
    """Rows for each measured point ('start', 'tick 1,000,000', ...): frame and clip distance <= limit x floor.

    A figure averaged over draws (a ``draws`` list) also shows the range of its draws' ratios.
    """
    def ratio(d: float, f: float) -> float:
        return d / f if f > 0 else float("inf")

    floor_draws = len(floor.get("draws", ())) or 1
    rows = []
    for when, s in scores.items():
        for kind in ("frame", "clip"):
            wanted = f"<= {limit:g}x floor {floor[kind]:.3g}" + (
                f" (mean of {floor_draws} draws)" if floor_draws > 1 else "")
            measured = f"{s[kind]:.3g} ({ratio(s[kind], floor[kind]):.2f}x floor)"
            if len(s.get("draws", ())) > 1:
                each = [ratio(d[kind], floor[kind]) for d in s["draws"]]
                measured += f"; {len(each)} draws {min(each):.2f}x..{max(each):.2f}x"
            rows.append({"name": f"{kind} Frechet at {when}", "wanted": wanted, "measured": measured,
                         "passed": bool(s[kind] <= limit * floor[kind])})
    return rows


def contact_sheet(rows: dict[str, np.ndarray], per_row: int = 8, scale: int = 2):
    """A Pillow image: one labelled row of ``per_row`` frames (evenly spaced picks) per entry of ``rows``."""
    from PIL import Image, ImageDraw

    from .eval_plot import INK, _font

    size = next(iter(rows.values())).shape[1] * scale
    label_h, gap = 20, 6
    img = Image.new("RGB", (per_row * (size + gap) + gap, len(rows) * (size + label_h + gap) + gap), "white")
    draw = ImageDraw.Draw(img)
    for k, (label, frames) in enumerate(rows.items()):
        top = gap + k * (size + label_h + gap)
        draw.text((gap, top + 3), label, fill=INK, font=_font(13))
        picks = np.linspace(0, len(frames) - 1, min(per_row, len(frames))).round().astype(int)
        for j, i in enumerate(picks):
            tile = Image.fromarray(frames[i]).resize((size, size), Image.NEAREST)
            img.paste(tile, (gap + j * (size + gap), top + label_h))
    return img
