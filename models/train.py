"""The training loop: generator, latent RNN and both discriminators, one adversarial step at a time.

Each step rolls the RNN ``seq`` ticks from latents carried over from the last
batch (a few chains restart from fresh noise), decodes every tick into a frame,
then (1) updates the frame and temporal discriminators with a hinge loss and
(2) updates the generator and RNN against both, plus the moment penalty on
every tick's proposal. Carrying latents across batches is what teaches the RNN
to continue from its own states indefinitely, as the viewer will ask it to.

:class:`Trainer` owns everything; ``run()`` loops with a progress bar and saves
the viewer's lamp (EMA weights) and the resumable training state every few
minutes, atomically. The same code runs under ``torchrun`` with
DistributedDataParallel (gloo on CPU).
"""
from __future__ import annotations

import copy
import json
import os
import signal
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn

from . import latent
from .checkpoint import CheckpointError, load_training_state, save_lamp, save_training_state
from .data_terms import data_terms
from .frame_discriminator import FrameDiscriminator, FrameDiscriminatorConfig
from .generator import Generator, GeneratorConfig
from .rnn import LatentRNN, RNNConfig
from .temporal_discriminator import TemporalDiscriminator, TemporalDiscriminatorConfig
from .wax_motion import SoftWax
from .train_cmd import LOSS_WEIGHTS, WAX_TERMS, TrainConfig, TrainError

# Steps over which the chains' latent covariance is averaged for the whiteness penalty: a chain
# forgets where it was within about a hundred ticks (a dozen steps), so this spans hundreds of
# independent latents per chain.
COVARIANCE_STEPS = 100


def pick_device(name: str = "auto") -> torch.device:
    """CUDA, then Apple MPS, then CPU, unless one is named."""
    if name == "auto":
        if torch.cuda.is_available():
            name = "cuda"
        elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            name = "mps"
        else:
            name = "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise TrainError("--device cuda was asked for, but torch sees no CUDA device here.")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise TrainError("--device mps was asked for, but torch sees no Apple MPS device here.")
    if name not in ("cpu", "cuda", "mps"):
        raise TrainError(f"unknown device {name!r}; choose cpu, cuda or mps.")
    return torch.device(name)


class LampRoll(nn.Module):
    """Generator and RNN as one module (one DDP wrapper): roll ``T`` ticks and decode each."""

    def __init__(self, generator: Generator, rnn: LatentRNN):
        super().__init__()
        self.generator, self.rnn = generator, rnn

    def forward(self, z0: Tensor, noise: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        # z0: (B, Z), noise: (B, T, Z) -> frames (B, T, 3, S, S), proposals (B, T, Z), z_T (B, Z)
        z, proposals, states = z0, [], []
        for t in range(noise.shape[1]):
            raw = self.rnn.propose(z, noise[:, t])
            z = latent.renormalise(raw)
            proposals.append(raw)
            states.append(z)
        zs = torch.stack(states, dim=1)                                   # (B, T, Z)
        frames = self.generator(zs.flatten(0, 1))                         # (B*T, 3, S, S)
        return frames.unflatten(0, zs.shape[:2]), torch.stack(proposals, dim=1), z


def d_loss(kind: str, real: Tensor, fake: Tensor) -> Tensor:
    if kind == "hinge":
        return F.relu(1 - real).mean() + F.relu(1 + fake).mean()
    return F.softplus(-real).mean() + F.softplus(fake).mean()   # logistic


def g_loss(kind: str, fake: Tensor) -> Tensor:
    # Non-saturating for the logistic loss: strong gradients while the generator is still bad.
    return -fake.mean() if kind == "hinge" else F.softplus(-fake).mean()


class Trainer:
    def __init__(self, cfg: TrainConfig):
        from .dataset import open_training_data

        self.cfg = cfg
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        device = pick_device(cfg.device)
        if device.type == "cuda" and self.world > 1:
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        self.device = device
        if device.type == "cpu":
            torch.set_num_threads(max(1, cfg.threads))
        if self.world > 1 and not dist.is_initialized():
            dist.init_process_group("gloo" if device.type == "cpu" else "nccl")
        self.out = Path(cfg.out)
        self.is_main = self.rank == 0
        torch.manual_seed(cfg.seed * 7919 + self.rank)
        self.rng = torch.Generator().manual_seed(cfg.seed * 7919 + self.rank + 1)

        state_path = self.out / ("best.state.safetensors" if cfg.resume_best else "state.safetensors")
        if cfg.resume_best and not state_path.exists():
            raise TrainError(f"there is no {state_path} to resume from: it is written beside best.safetensors "
                             f"when a fidelity check finds a new best.")
        resumed = None
        if cfg.resume and state_path.exists():
            resumed = load_training_state(state_path)
        nets = resumed[1]["networks"] if resumed else {
            "generator": asdict(GeneratorConfig(image_size=cfg.image_size, width=cfg.g_width, still=True)),
            "rnn": asdict(RNNConfig(hidden=cfg.rnn_hidden)),
            "frame_d": asdict(FrameDiscriminatorConfig(image_size=cfg.image_size, width=cfg.d_width)),
            "temporal_d": asdict(TemporalDiscriminatorConfig(image_size=cfg.image_size, width=cfg.td_width,
                                                             features=16 * cfg.td_width, hidden=16 * cfg.td_width)),
        }
        # The drive is how the lamp runs, not a weight: a resumed run may change it.
        nets = {**nets, "rnn": {**nets["rnn"], "drive": float(cfg.drive), "wander": float(cfg.wander),
                                  "warmup": int(cfg.warmup)}}
        # So is the generator's logit filter: it has no weights (off unless asked for, or resumed with it).
        if cfg.smooth is not None:
            nets["generator"] = {**nets["generator"], "smooth": bool(cfg.smooth)}
        # And its still pixels, which come from the data (a state from before them had none).
        if cfg.still is not None:
            nets["generator"] = {**nets["generator"], "still": bool(cfg.still)}
        # And the temporal discriminator's blur: a state from before it was kept read frames at half resolution.
        blur = cfg.clip_blur if cfg.clip_blur is not None else nets["temporal_d"].get("blur", 2)
        nets["temporal_d"] = {**nets["temporal_d"], "blur": blur}
        self.net_configs = nets
        try:
            self.generator = Generator(GeneratorConfig(**nets["generator"]))
            self.rnn = LatentRNN(RNNConfig(**nets["rnn"]))
            self.d_frame = FrameDiscriminator(FrameDiscriminatorConfig(**nets["frame_d"]))
            self.d_temporal = TemporalDiscriminator(TemporalDiscriminatorConfig(**nets["temporal_d"]))
        except (TypeError, ValueError, KeyError) as e:
            raise TrainError(f"the network settings are unusable: {e}.") from None
        self.image_size = self.generator.config.image_size
        cl = torch.channels_last if device.type == "cpu" else torch.contiguous_format
        for net in (self.generator, self.rnn, self.d_frame, self.d_temporal):
            net.to(device=device, memory_format=cl)
        self.memory_format = cl
        self.g_ema = copy.deepcopy(self.generator).eval().requires_grad_(False)
        self.rnn_ema = copy.deepcopy(self.rnn).eval().requires_grad_(False)

        # One optimiser, a group each for the generator and the RNN (their own learning rates).
        g_groups = [{"params": list(self.generator.parameters()), "lr": cfg.lr_g},
                    {"params": list(self.rnn.parameters()), "lr": cfg.rnn_lr}]
        d_params = list(self.d_frame.parameters()) + list(self.d_temporal.parameters())
        self.opt_g = torch.optim.Adam(g_groups, lr=cfg.lr_g, betas=cfg.betas)
        self.opt_d = torch.optim.Adam(d_params, lr=cfg.lr_d, betas=cfg.betas)
        # A network that does not learn needs no gradients for its weights (the RNN's flow through the generator).
        self.generator.requires_grad_(cfg.lr_g > 0)
        self.rnn.requires_grad_(cfg.rnn_lr > 0)
        if cfg.lr_g == 0:
            # Held whole: its BatchNorm draws with the statistics it has, as the lamp does, and keeps them
            # (in training mode it would normalise by each batch and move its running statistics).
            self.generator.eval()

        self.roll = LampRoll(self.generator, self.rnn)
        self.roll_ddp, self.d_frame_ddp, self.d_temporal_ddp = self.roll, self.d_frame, self.d_temporal
        if self.world > 1:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [device.index] if device.type == "cuda" else None
            self.roll_ddp = DDP(self.roll, device_ids=ids)
            self.d_frame_ddp = DDP(self.d_frame, device_ids=ids)
            self.d_temporal_ddp = DDP(self.d_temporal, device_ids=ids)

        self.step = 0
        self.wall_time_s = 0.0
        self.images_seen = 0
        self.data, self.data_info = open_training_data(cfg, self.image_size, self.rank, self.world)
        if self.generator.config.still:
            self._find_still()
        self.carry = latent.sample(cfg.batch, self.generator.z_dim, generator=self.rng).to(device)
        self.trail = torch.zeros_like(self.carry)      # each chain's slow average of its past latents
        self.age = torch.zeros(cfg.batch, device=device)   # ticks since each chain last restarted
        self.latent_cov: Tensor | None = None          # the chains' latent covariance, averaged over steps
        self.best: dict | None = None                  # the best fidelity check so far (see train_judge)
        self.judged: dict | None = None                # the judge's plan, reference and floor, kept for a resume
        self.wax, self.wax_missing = None, None         # the wax terms' soft mask, or why there is none
        if any(getattr(cfg, f"{term}_weight") > 0 for term in WAX_TERMS):
            self._find_wax()
        if resumed:
            self._restore(*resumed)
        else:
            self._start_from_data()

    def _find_wax(self) -> None:
        """The data's wax, found by colour, for the terms in WAX_TERMS; else why not."""
        from .features import MetricsError

        try:
            self.wax = SoftWax.fit(self.data.frames.frames, self.device)
        except MetricsError as e:
            self.wax_missing = str(e)

    def _find_still(self) -> None:
        """Give both generators the data's still pixels (the same on every process: all read all frames)."""
        from .dataset import still_pixels

        still, frame = still_pixels(self.data.frames.frames)
        mask = torch.from_numpy(still).float()
        colours = torch.from_numpy(frame).float().div(255).permute(2, 0, 1)
        for g in (self.generator, self.g_ema):
            g.set_still(mask, colours)

    @torch.no_grad()
    def _start_from_data(self, clips: int = 16) -> None:
        """Start the generator's base frame at the mean of some real frames (same on every process)."""
        frames = self.data.frames.frames
        index = np.linspace(0, len(frames) - 1, min(len(frames), clips * self.cfg.seq)).astype(np.int64)
        mean = torch.from_numpy(np.asarray(frames[index])).float().mean(dim=0).div(255).permute(2, 0, 1)
        for g in (self.generator, self.g_ema):
            g.start_from_mean_frame(mean.to(self.device))

    # --- one step -------------------------------------------------------------------------------

    def train_step(self, real: Tensor) -> dict[str, float]:
        cfg, dev = self.cfg, self.device
        real = real.to(dev, non_blocking=True)                                    # (B, T, 3, S, S)
        real = self.generator.paint_still(real)        # as the lamp draws them (see Generator.paint_still)
        b, t = real.shape[:2]
        z_dim = self.generator.z_dim
        if self.carry.shape[0] != b:
            self.carry = latent.sample(b, z_dim, generator=self.rng).to(dev)
            self.trail = torch.zeros_like(self.carry)
            self.age = torch.zeros(b, device=dev)
        fresh = latent.sample(b, z_dim, generator=self.rng).to(dev)
        restart = (torch.rand(b, generator=self.rng) < cfg.reset_prob).to(dev)
        # A restarted chain starts as the lamp is shown: a fresh latent run through the warm-up. From a
        # bare draw the RNN would only learn to go on from chains long in training, and a lamp may have
        # a second home that fresh latents settle in and training chains never visit.
        warm = self.rnn.config.warmup
        if warm > 0 and bool(restart.any()):
            with torch.no_grad():
                fresh[restart] = self.rnn.warm_up(fresh[restart], generator=self.rng)
        z0 = torch.where(restart[:, None], fresh, self.carry)
        trail = torch.where(restart[:, None], torch.zeros_like(self.trail), self.trail)   # a new chain has no past
        age = torch.where(restart, torch.full_like(self.age, float(warm)), self.age)
        self.age = age + t
        # Every chain is fed the lamp's drive; a few get an extra stir, as the viewer's control gives.
        stir = (torch.rand(b, 1, 1, generator=self.rng) < cfg.noise_prob) * torch.rand(b, 1, 1, generator=self.rng)
        noise = ((cfg.drive + stir) * torch.randn(b, t, z_dim, generator=self.rng)).to(dev)   # (B, T, Z)

        fake, proposals, z_last = self.roll_ddp(z0, noise)
        self.carry = z_last.detach()
        states = latent.renormalise(proposals)                                   # (B, T, Z): the rollout's latents
        with torch.no_grad():
            rate = 1.0 / max(cfg.trail_ticks, 1.0)
            new_trail = trail.clone()
            for k in range(t):
                new_trail.lerp_(states[:, k], rate)
            self.trail = new_trail
        # The frame discriminator judges a few frames per clip: neighbours in a clip are near copies.
        k = min(cfg.frame_d_frames, t)
        rows = torch.arange(b, device=dev)[:, None]
        pick = torch.rand(b, t, generator=self.rng).argsort(dim=1)[:, :k].to(dev)  # (B, k)
        real_f = real[rows, pick].flatten(0, 1).contiguous(memory_format=self.memory_format)
        fake_f = fake[rows, pick].flatten(0, 1).contiguous(memory_format=self.memory_format)

        # (1) update D: one forward per discriminator over real and fake together.
        n = real_f.shape[0]
        frame_logits = self.d_frame_ddp(torch.cat([real_f, fake_f.detach()]))
        clip_logits = self.d_temporal_ddp(torch.cat([real, fake.detach()]))
        loss_d_frame = d_loss(cfg.loss, frame_logits[:n], frame_logits[n:])
        loss_d_clip = d_loss(cfg.loss, clip_logits[:b], clip_logits[b:])
        self.opt_d.zero_grad(set_to_none=True)
        (loss_d_frame + loss_d_clip).backward()
        self.opt_d.step()

        # (2) update G and the RNN: against the updated discriminators, plus the moment penalty.
        for d in (self.d_frame, self.d_temporal):
            d.requires_grad_(False)
        loss_g_frame = g_loss(cfg.loss, self.d_frame(fake_f))
        loss_g_clip = g_loss(cfg.loss, self.d_temporal(fake))
        penalty = latent.moment_penalty(proposals)
        spread = latent.population_penalty(proposals)
        calm = (stir.flatten() == 0).to(dev)          # chains left to the lamp's own drive
        terms = data_terms(cfg, self.wax, fake, real, calm, age >= warm)
        returning = latent.return_penalty(states, trail)
        flat = states.flatten(0, 1)
        if self.latent_cov is None:
            self.latent_cov = latent.covariance(flat.detach())
        # Logged at any weight (the latent directions in use); its graph only built when it trains.
        watched = flat if cfg.whiten_weight > 0 else flat.detach()
        whiten, self.latent_cov = latent.whiteness_penalty(watched, self.latent_cov, 1.0 / COVARIANCE_STEPS)
        self.opt_g.zero_grad(set_to_none=True)
        loss = (cfg.frame_weight * loss_g_frame + cfg.clip_weight * loss_g_clip + cfg.moment_weight * penalty
                + cfg.spread_weight * spread)
        for name, term in terms.items():
            loss = loss + getattr(cfg, f"{name}_weight") * term
        (loss + cfg.return_weight * returning + cfg.whiten_weight * whiten).backward()
        self.opt_g.step()
        for d in (self.d_frame, self.d_temporal):
            d.requires_grad_(True)
        self._update_ema()

        self.step += 1
        self.images_seen += b * t * self.world
        with torch.no_grad():
            mean, std, skew, kurt = latent.moments(proposals.detach())
        return {
            "loss/d_frame": loss_d_frame.item(), "loss/d_clip": loss_d_clip.item(),
            "loss/g_frame": loss_g_frame.item(), "loss/g_clip": loss_g_clip.item(),
            "loss/moments": penalty.item(), "loss/spread": spread.item(),
            **{f"loss/{name}": term.item() for name, term in terms.items()},
            "loss/return": returning.item(), "loss/whiten": whiten.item(),
            "latent/directions": latent.directions(self.latent_cov),
            "latent/mean": mean.mean().item(), "latent/std": std.mean().item(),
            "latent/skew": skew.mean().item(), "latent/kurt": kurt.mean().item(),
            "d/real_frame": frame_logits[:n].mean().item(), "d/fake_frame": frame_logits[n:].mean().item(),
        }

    @torch.no_grad()
    def _update_ema(self) -> None:
        # Ramp the decay in, so early lamps are not dominated by the random initial weights.
        decay = min(self.cfg.ema_decay, (1 + self.step) / (10 + self.step))
        for ema, live in ((self.g_ema, self.generator), (self.rnn_ema, self.rnn)):
            for pe, p in zip(ema.parameters(), live.parameters()):
                pe.lerp_(p, 1 - decay)
            for be, b in zip(ema.buffers(), live.buffers()):
                be.copy_(b)

    def run_settings(self) -> dict:
        """How this run's lamp runs (not weights): a best scored under other settings is another lamp."""
        c = self.rnn.config
        return {"drive": c.drive, "wander": c.wander, "warmup": c.warmup, "smooth": self.generator.config.smooth,
                "still": self.generator.config.still}

    # --- files ----------------------------------------------------------------------------------

    def lamp_meta(self) -> dict:
        return {
            "steps": self.step, "wall_time_s": round(self.wall_time_s, 1), "images_seen": self.images_seen,
            "data": self.data_info, "palette": self.data_info.get("params", {}).get("palette", self.cfg.palette),
            "command": self.cfg.command, "ema_decay": self.cfg.ema_decay,
            "training": {**{k: self.cfg.__dict__[k] for k in ("batch", "seq", "stride", "lr_g", "lr_d",
                                                             "moment_weight", "reset_prob", "noise_prob", "drive",
                                                             "wander", "trail_ticks", *LOSS_WEIGHTS)},
                         "lr_rnn": self.cfg.rnn_lr},
        }

    def save_lamp(self, path: Path | None = None, extra: dict | None = None) -> Path:
        path = path or self.out / "lamp.safetensors"
        g, r = copy.deepcopy(self.g_ema).cpu(), copy.deepcopy(self.rnn_ema).cpu()
        meta = {**self.lamp_meta(), **(extra or {})}
        save_lamp(path, g.to(memory_format=torch.contiguous_format), r, meta, fp16=self.cfg.fp16_lamp)
        return path

    def save_state(self, path: Path | None = None) -> Path:
        path = path or self.out / "state.safetensors"
        tensors: dict[str, Tensor] = {}
        nets = {"generator": self.generator, "rnn": self.rnn, "generator_ema": self.g_ema, "rnn_ema": self.rnn_ema,
                "frame_d": self.d_frame, "temporal_d": self.d_temporal}
        for prefix, net in nets.items():
            for name, t in net.state_dict().items():
                tensors[f"{prefix}.{name}"] = t.detach().cpu().contiguous()
        groups = {}
        for prefix, opt in (("opt_g", self.opt_g), ("opt_d", self.opt_d)):
            sd = opt.state_dict()
            for idx, st in sd["state"].items():
                for key, val in st.items():
                    tensors[f"{prefix}.{idx}.{key}"] = torch.as_tensor(val).detach().cpu().contiguous()
            groups[prefix] = sd["param_groups"]
        tensors["carry.z"] = self.carry.detach().cpu()
        tensors["carry.trail"] = self.trail.detach().cpu()
        tensors["carry.age"] = self.age.detach().cpu()
        if self.latent_cov is not None:
            tensors["carry.covariance"] = self.latent_cov.detach().cpu()
        tensors["rng.torch"] = torch.get_rng_state()
        tensors["rng.trainer"] = self.rng.get_state()
        meta = {"step": self.step, "wall_time_s": self.wall_time_s, "images_seen": self.images_seen,
                "networks": self.net_configs, "param_groups": groups, "data": self.data_info,
                "data_rng": self.data.state() if hasattr(self.data, "state") else None,
                "config": {k: v for k, v in asdict(self.cfg).items()}, "best": self.best,
                "judge": self.judged}
        save_training_state(path, tensors, json.loads(json.dumps(meta, default=str)))
        return path

    def _restore(self, tensors: dict[str, Tensor], meta: dict) -> None:
        nets = {"generator": self.generator, "rnn": self.rnn, "generator_ema": self.g_ema, "rnn_ema": self.rnn_ema,
                "frame_d": self.d_frame, "temporal_d": self.d_temporal}
        try:
            for prefix, net in nets.items():
                sd = {k[len(prefix) + 1:]: v for k, v in tensors.items() if k.startswith(prefix + ".")}
                if prefix.startswith("generator"):
                    # The still pixels are this run's data's, found above, whether the state had them or not.
                    sd = {**{k: v for k, v in sd.items() if not k.startswith("still_")},
                          **{k: v for k, v in net.state_dict().items() if k.startswith("still_")}}
                net.load_state_dict(sd, strict=True)
            if self.cfg.from_average:
                self.generator.load_state_dict(self.g_ema.state_dict())
                self.rnn.load_state_dict(self.rnn_ema.state_dict())
            for prefix, opt in (("opt_g", self.opt_g), ("opt_d", self.opt_d)):
                state: dict[int, dict] = {}
                for k, v in tensors.items():
                    if k.startswith(prefix + "."):
                        _, idx, key = k.split(".", 2)
                        state.setdefault(int(idx), {})[key] = v.to(self.device) if key != "step" else v
                groups = _fit_groups(meta["param_groups"][prefix], opt)
                opt.load_state_dict({"state": state, "param_groups": groups})
        except (RuntimeError, KeyError, ValueError) as e:
            raise CheckpointError(f"the training state does not fit these networks ({str(e).splitlines()[0]}).") from None
        # Learning rates come from this run's settings, so a resumed run can change them.
        for g, lr in zip(self.opt_g.param_groups + self.opt_d.param_groups,
                         (self.cfg.lr_g, self.cfg.rnn_lr, self.cfg.lr_d)):
            g["lr"], g["betas"] = lr, tuple(self.cfg.betas)
        self.step = int(meta["step"])
        self.wall_time_s = float(meta.get("wall_time_s", 0.0))
        self.images_seen = int(meta.get("images_seen", 0))
        self.best = meta.get("best") if isinstance(meta.get("best"), dict) else None
        self.judged = meta.get("judge") if isinstance(meta.get("judge"), dict) else None
        if self.rank == 0 and tensors["carry.z"].shape[0] == self.cfg.batch:
            self.carry = tensors["carry.z"].to(self.device)
            if "carry.trail" in tensors:
                self.trail = tensors["carry.trail"].to(self.device)
            # A state from before ages were kept: its chains have run a while; count them as settled.
            age = tensors.get("carry.age")
            self.age = (age.to(self.device) if age is not None and age.shape == self.age.shape
                        else torch.full_like(self.age, float(self.rnn.config.warmup)))
        z_dim = self.generator.z_dim
        if "carry.covariance" in tensors and tensors["carry.covariance"].shape == (z_dim, z_dim):
            self.latent_cov = tensors["carry.covariance"].to(self.device)
        if self.rank == 0:
            torch.set_rng_state(tensors["rng.torch"])
            self.rng.set_state(tensors["rng.trainer"])
            if meta.get("data_rng") and hasattr(self.data, "set_state"):
                self.data.set_state(meta["data_rng"])


def _fit_groups(saved: list[dict], opt: torch.optim.Optimizer) -> list[dict]:
    """A state's parameter groups for this optimiser: a state from before the generator and the RNN had
    a group each holds one group of the same parameters in the same order, split here likewise."""
    if len(saved) == len(opt.param_groups) or len(saved) != 1:
        return saved       # the same layout, or one load_state_dict refuses in its own words
    params, groups, at = saved[0]["params"], [], 0
    for group in opt.param_groups:
        n = len(group["params"])
        groups.append({**saved[0], "params": params[at:at + n]})
        at += n
    return groups if at == len(params) else saved


def run(cfg: TrainConfig) -> Trainer:
    """Train until the step or time budget is spent (or SIGINT/SIGTERM), saving as it goes."""
    from .train_log import TrainLog

    trainer = Trainer(cfg)
    log = TrainLog(trainer)
    stop = {"signal": None}

    def _stop(signum, _frame):
        stop["signal"] = signum

    old = {}
    try:
        log.begin()
        try:
            log.judge()     # setting the judge up takes minutes: Ctrl-C stops it at once, as no step has run yet
        except KeyboardInterrupt:
            log.interrupted()
            raise
        old = {s: signal.signal(s, _stop) for s in (signal.SIGTERM, signal.SIGINT)} if _in_main_thread() else {}
        start, first_step = time.monotonic(), trainer.step
        last_save = last_sample = last_judge = start
        while stop["signal"] is None:
            done = trainer.step - first_step
            elapsed = time.monotonic() - start
            if cfg.steps is not None and done >= cfg.steps:
                break
            if cfg.minutes is not None and elapsed >= cfg.minutes * 60:
                break
            t0 = time.monotonic()
            stats = trainer.train_step(next(trainer.data))
            dt = time.monotonic() - t0
            trainer.wall_time_s += dt
            if not all(np.isfinite(v) for v in stats.values()):
                raise TrainError(f"training diverged at step {trainer.step} (a loss became NaN or infinite); "
                                 f"resume from the last saved state with a lower learning rate.")
            log.step(stats, dt)
            now = time.monotonic()
            if now - last_sample >= cfg.sample_every_min * 60:
                log.samples()
                last_sample = now
            if now - last_save >= cfg.save_every_min * 60:
                log.save()
                last_save = now
            if now - last_judge >= cfg.judge_every_min * 60:
                log.judge()
                last_judge = time.monotonic()
        log.judge()
        log.save()
        log.samples()
        log.end(stop["signal"])
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        log.close()
        if trainer.world > 1 and dist.is_initialized():
            # Tear gloo down together: a rank that leaves while its peer still talks can abort at exit.
            try:
                dist.barrier()
            finally:
                dist.destroy_process_group()
    return trainer


def _in_main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()
