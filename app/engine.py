"""The Engine: owns torch, the lamp's networks and its latent ``z``; ticks on its own thread.

Each tick steps the latent RNN once, repairs a latent that went bad, decodes the
frame (and, when asked and there is headroom, a few frames at latents between the
last tick and this one) and publishes a plain :class:`TickResult`. The draw loop
takes the newest result without waiting; nothing here ever raises into drawing.
Commands (noise, kick, reseed, rate, pause, step, load) are queued and applied at
the next tick. A checkpoint loads on a thread of its own so the lamp keeps moving.
"""
from __future__ import annotations

import os
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from duralava import checkpoints
from duralava.models.checkpoint import CheckpointError, Lamp, load_lamp, random_lamp
from duralava.models.latent import is_healthy, moments, renormalise

MAX_TICK_RATE = 120.0


class EngineError(ValueError):
    """A bad engine setting (device, rate); str() is one sentence for the user."""


@dataclass
class EngineConfig:
    tick_rate: float = 6.0          # ticks per second
    seed: int = 0
    device: str | None = None       # None: CUDA, then MPS, then CPU
    noise: float = 0.0              # noise amplitude fed to the RNN every tick, on top of the lamp's drive
    kick: float = 0.6               # how far a kick pushes z (in units of its std)
    inbetweens: bool = True         # decode latents between ticks when there is headroom
    max_inbetweens: int = 4
    inbetween_budget: float = 0.06  # share of one core the in-betweens may use
    fixed_inbetweens: int | None = None  # always this many (exports: the same video every run)
    flow: bool = False              # estimate the wax's motion between ticks (for "flow" drawing)


@dataclass
class TickResult:
    tick: int
    frame: np.ndarray                   # (S, S, 3) uint8, rows top-first
    inbetweens: np.ndarray | None       # (K, S, S, 3) uint8 between the previous frame and this one
    z: np.ndarray                       # (Z,) float32, the latent after this tick
    mean: float
    std: float
    skew: float
    kurt: float
    tick_ms: float                      # wall time the tick took
    interval: float                     # seconds until the next tick is due
    repairs: int                        # latents repaired since start
    lamp: str                           # what is playing (a file name, or "untrained")
    error: str = ""                     # the last problem, for the panel; empty when none
    message: str = ""                   # the last notice (loaded, fell back, ...)
    paused: bool = False
    seed: int = 0
    flow: np.ndarray | None = None      # (S, S, 2) float32 motion from the previous frame, in texels

    def frames(self) -> np.ndarray:
        """In-betweens then the frame: (K+1, S, S, 3), what the renderer plays over one tick."""
        if self.inbetweens is None or len(self.inbetweens) == 0:
            return self.frame[None]
        return np.concatenate([self.inbetweens, self.frame[None]], axis=0)


def pick_device(name: str | None = None) -> torch.device:
    """The device named, or the best present: CUDA, then Apple MPS, then the CPU."""
    if name in (None, "", "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise EngineError(f"{name!r} is not a torch device; use cpu, cuda, cuda:N or mps.") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise EngineError(f"device {name!r} was asked for but CUDA is not available here.")
    if device.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise EngineError(f"device {name!r} was asked for but Apple MPS is not available here.")
    if device.type not in ("cpu", "cuda", "mps"):
        raise EngineError(f"device {name!r} is not supported; use cpu, cuda or mps.")
    return device


def lamp_name(path) -> str:
    return Path(path).name if path else "untrained"


def open_lamp(path, device) -> tuple[Lamp, str, str]:
    """The lamp to start with: ``path``, else the shipped default, else an untrained one.

    Returns (lamp, name, message); the message says what fell back and why (empty if nothing did).
    """
    notes = []
    if path:
        try:
            return load_lamp(path, device=device), lamp_name(path), ""
        except CheckpointError as exc:
            notes.append(str(exc))
    default = checkpoints.default_path()
    if default.is_file():
        try:
            lamp = load_lamp(default, device=device)
            notes.append(f"playing the shipped lamp {default.name}." if path else "")
            return lamp, default.name, " ".join(n for n in notes if n)
        except CheckpointError as exc:
            notes.append(str(exc))
    notes.append("no trained lamp was found, so an untrained one is playing (train one, or pass --checkpoint).")
    return random_lamp(0, device=device), "untrained", " ".join(notes)


def start_lamp(device_name: str | None, path) -> tuple[torch.device, Lamp, str, str]:
    """What the window and the benchmark start from: (device, lamp, name, message).

    Torch gets one CPU thread (the engine's worker must not starve the draw loop);
    the device is :func:`pick_device`'s (an :class:`EngineError` if it is not there),
    the lamp, its name and the fallback message :func:`open_lamp`'s.
    """
    torch.set_num_threads(1)
    device = pick_device(device_name)
    lamp, name, message = open_lamp(path, device)
    return device, lamp, name, message


class Engine:
    """The lamp's clock. ``start()`` runs ticks on a worker; ``tick()`` runs one in the caller."""

    def __init__(self, lamp: Lamp, config: EngineConfig | None = None, name: str = "untrained",
                 message: str = ""):
        self.config = config = config or EngineConfig()
        if not 0 < config.tick_rate <= MAX_TICK_RATE:
            raise EngineError(f"the tick rate must be above 0 and at most {MAX_TICK_RATE:g} Hz, "
                              f"not {config.tick_rate!r}.")
        self.device = pick_device(config.device)
        self.lamp = lamp
        self.lamp_name = name
        self.message = message
        self.error = ""
        self.tick_index = 0
        self.repairs = 0
        self.paused = False
        self.seed = config.seed
        self._commands: queue.SimpleQueue = queue.SimpleQueue()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._latest: TickResult | None = None
        self._latest_lock = threading.Lock()
        self._step_requested = False
        self._kick_pending = 0.0
        self._decode_s = 0.0           # running estimate of one frame's decode time
        self._loading: set[str] = set()
        self._failed: dict[tuple, str] = {}  # (path, mtime, size) -> why: bad files are not retried
        self._last_frame: np.ndarray | None = None
        self.thread_cpu_s = 0.0        # CPU time the worker thread has used
        self._reseed(config.seed)

    # -- commands (any thread) ---------------------------------------------------------
    def _post(self, name: str, arg=None) -> None:
        self._commands.put((name, arg))
        self._wake.set()

    def set_noise(self, amplitude: float) -> None:
        self._post("noise", float(amplitude))

    def kick(self, amplitude: float | None = None) -> None:
        self._post("kick", self.config.kick if amplitude is None else float(amplitude))

    def reseed(self, seed: int | None = None) -> None:
        self._post("reseed", seed)

    def set_tick_rate(self, hz: float) -> None:
        self._post("rate", float(hz))

    def set_paused(self, paused: bool) -> None:
        self._post("pause", bool(paused))

    def step(self) -> None:
        """One tick now, paused or not."""
        self._post("step")

    def set_inbetweens(self, on: bool) -> None:
        self._post("inbetweens", bool(on))

    def set_flow(self, on: bool) -> None:
        self._post("flow", bool(on))

    def load(self, path) -> None:
        """Load a checkpoint off the draw thread; the current lamp plays until it is ready."""
        path = str(path)
        try:
            st = os.stat(path)
            key = (os.path.abspath(path), st.st_mtime_ns, st.st_size)
        except OSError:
            key = (os.path.abspath(path), None, None)
        if key in self._failed:
            self._post("load_failed", self._failed[key])
            return
        if path in self._loading:
            return
        self._loading.add(path)
        threading.Thread(target=self._load_worker, args=(path, key), name="lamp-loader", daemon=True).start()

    def _load_worker(self, path: str, key: tuple) -> None:
        try:
            lamp = load_lamp(path, device=self.device)
        except CheckpointError as exc:
            self._failed[key] = str(exc)
            self._post("load_failed", str(exc))
        except Exception as exc:  # a loader bug must not take the lamp down
            msg = f"{path} could not be loaded: {exc}."
            self._failed[key] = msg
            self._post("load_failed", msg)
        else:
            self._post("swap", (lamp, path))
        finally:
            self._loading.discard(path)

    def _apply(self, name: str, arg) -> None:
        if name == "noise":
            self.config.noise = min(max(arg, 0.0), 10.0)
        elif name == "kick":
            self._kick_pending = max(self._kick_pending, min(max(arg, 0.0), 10.0))
        elif name == "reseed":
            self._reseed(self.seed + 1 if arg is None else int(arg))
            self.message = f"reseeded with seed {self.seed}."
        elif name == "rate":
            if 0 < arg <= MAX_TICK_RATE:
                self.config.tick_rate = arg
            else:
                self.error = f"tick rate {arg:g} Hz is out of range (0 to {MAX_TICK_RATE:g} Hz)."
        elif name == "pause":
            self.paused = arg
        elif name == "step":
            self._step_requested = True
        elif name == "inbetweens":
            self.config.inbetweens = arg
        elif name == "flow":
            self.config.flow = arg
        elif name == "load_failed":
            self.error = arg
        elif name == "swap":
            lamp, path = arg
            old_dim = self.lamp.z_dim
            self.lamp, self.lamp_name = lamp, lamp_name(path)
            if lamp.z_dim != old_dim:
                self._reseed(self.seed)
            self.error = ""
            self.message = f"loaded {path}."

    def _drain(self) -> None:
        while True:
            try:
                name, arg = self._commands.get_nowait()
            except queue.Empty:
                return
            self._apply(name, arg)

    # -- the tick ----------------------------------------------------------------------
    def _reseed(self, seed: int) -> None:
        self.seed = int(seed)
        self._rng = torch.Generator().manual_seed(self.seed)
        self.z = self._fresh_latent()

    def _fresh_latent(self) -> torch.Tensor:
        """A new start: a normal draw, then the lamp's own warm-up ticks (none for most lamps)."""
        z = renormalise(torch.randn(1, self.lamp.z_dim, generator=self._rng)).to(self.device)
        return self.lamp.rnn.warm_up(z, generator=self._rng)

    def _randn(self) -> torch.Tensor:
        return torch.randn(1, self.lamp.z_dim, generator=self._rng).to(self.device)

    def _repair(self, z: torch.Tensor) -> torch.Tensor:
        """A latent the generator has never seen is put back in band (or restarted)."""
        if not bool(torch.isfinite(z).all()):
            self.repairs += 1
            self.error = f"tick {self.tick_index}: the latent went NaN/Inf and was reseeded."
            return self._fresh_latent()
        if not is_healthy(z):
            self.repairs += 1
            return renormalise(z)
        return z

    def _inbetween_count(self) -> int:
        if not self.config.inbetweens:
            return 0
        if self.config.fixed_inbetweens is not None:
            return max(0, min(self.config.fixed_inbetweens, self.config.max_inbetweens))
        if self._decode_s <= 0:
            return 0
        budget = self.config.inbetween_budget / self.config.tick_rate
        return int(min(self.config.max_inbetweens, budget // self._decode_s))

    def _flow(self, previous: np.ndarray | None, frame: np.ndarray) -> np.ndarray | None:
        """The wax's motion between two frames, here rather than on the draw thread (ms of numpy)."""
        if not self.config.flow or previous is None or previous.shape != frame.shape:
            return None
        from .motion_interp import estimate_flow

        return estimate_flow(previous, frame)

    @torch.inference_mode()
    def _decode(self, z: torch.Tensor) -> np.ndarray:
        # (B, Z) -> (B, S, S, 3) uint8
        images = self.lamp.generator(z)
        if not bool(torch.isfinite(images).all()):
            raise FloatingPointError("the generator produced NaN/Inf pixels")
        return (images.clamp(0, 1) * 255 + 0.5).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()

    @torch.inference_mode()
    def tick(self) -> TickResult:
        """Apply queued commands, advance the lamp one tick and return the result. Never raises."""
        self._drain()
        self._step_requested = False
        t0 = time.perf_counter()
        try:
            z_prev = self.z
            # The lamp's own drive (if it was trained with one) plus whatever the panel adds.
            z = self.lamp.rnn.tick(z_prev, stir=self.config.noise, generator=self._rng)
            if self._kick_pending > 0:
                z = renormalise(z + self._kick_pending * self._randn())
                self._kick_pending = 0.0
            z = self._repair(z)
            k = self._inbetween_count()
            ts = torch.arange(1, k + 2, device=self.device, dtype=z.dtype)[:, None] / (k + 1)
            # Straight lines between latents are renormalised to stay on the shell the generator knows.
            path = renormalise(z_prev + (z - z_prev) * ts) if k else z
            t_dec = time.perf_counter()
            images = self._decode(path)
            decode_s = (time.perf_counter() - t_dec) / len(path)
            # Quick to follow, so a slow first (warm-up) decode does not hold the in-betweens back for long.
            self._decode_s = decode_s if self._decode_s == 0 else 0.5 * (self._decode_s + decode_s)
            self.z = z
            self.tick_index += 1
            frame, inbetweens = images[-1], (images[:-1] if k else None)
            flow = self._flow(self._last_frame, frame)
            self._last_frame = frame
        except Exception as exc:  # keep the lamp on screen whatever went wrong
            self.error = f"tick {self.tick_index} failed: {exc}."
            self.z = self._fresh_latent()
            self.repairs += 1
            frame = self._last_frame if self._last_frame is not None else \
                np.zeros((self.lamp.image_size, self.lamp.image_size, 3), np.uint8)
            inbetweens = flow = None
        mean, std, skew, kurt = (float(m[0]) for m in moments(self.z.float()))
        return TickResult(
            tick=self.tick_index, frame=frame, inbetweens=inbetweens,
            z=self.z[0].float().cpu().numpy(), mean=mean, std=std, skew=skew, kurt=kurt,
            tick_ms=(time.perf_counter() - t0) * 1e3, interval=1.0 / self.config.tick_rate,
            repairs=self.repairs, lamp=self.lamp_name, error=self.error, message=self.message,
            paused=self.paused, seed=self.seed, flow=flow)

    # -- the worker --------------------------------------------------------------------
    def start(self) -> "Engine":
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="lamp-engine", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def __enter__(self) -> "Engine":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def poll(self) -> TickResult | None:
        """The newest result not yet taken, or None; never waits."""
        with self._latest_lock:
            result, self._latest = self._latest, None
        return result

    def _publish(self, result: TickResult) -> None:
        with self._latest_lock:
            self._latest = result

    def _run(self) -> None:
        # One intra-op thread: calm latency, and the renderer keeps the other core.
        torch.set_num_threads(1)
        cpu0 = time.thread_time()
        due = time.perf_counter()
        while not self._stop.is_set():
            now = time.perf_counter()
            wait = 0.25 if self.paused and not self._step_requested else max(0.0, due - now)
            if wait > 0 and self._wake.wait(wait):
                self._wake.clear()
            self._drain()
            if self._stop.is_set():
                break
            now = time.perf_counter()
            if self._step_requested or (not self.paused and now >= due):
                self._publish(self.tick())
                interval = 1.0 / self.config.tick_rate
                # Keep the beat; after a stall, start a fresh beat rather than rush to catch up.
                due = due + interval if now - due < interval else now + interval
            elif self.paused:
                due = now
            self.thread_cpu_s = time.thread_time() - cpu0
