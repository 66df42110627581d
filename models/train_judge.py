"""A fidelity check during training, so a run keeps the best lamp it drew and not just its last.

An adversarial run does not improve steadily: the lamp a few hundred steps
apart can score several times better or worse against the data. Every few
minutes the judge plays the EMA lamp from fixed seeds (after the lamp's own
warm-up, then again ``later`` ticks on), scores its frames and clips with the
same features and Frechet distance as ``duralava eval``, and divides by the
floor. A lamp trained on the simulator is judged as ``duralava eval`` judges it:
the same reference run, the same floor (four draws of 100 simulator lamps) and
a draw of 100 seeds; eval averages four draws, so a check's figure is the
noisier. One trained on footage or a dataset is judged against two disjoint
parts of its data.

The judge's seeds are not eval's. A run keeps the lamp whose check was best,
and some of that is the luck of the seeds checked (below): picked on eval's own
seeds, a lamp brings that luck into eval's figures (one lamp's clip distance
was 0.18 on eval's 400 seeds and 0.26 on the next 400), so a pick is measured
on seeds it was not picked on.
The run writes ``best.safetensors`` whenever the score improves.

Fewer seeds make a cheaper check but a worse pick: a lamp's seeds keep their pace
for a while, so the clip figure moves with the seeds drawn (about twice as much
over sets of 32 seeds as over sets of 100) and a run keeps whichever lamp had
lucky seeds. The floor takes most of the set-up's minutes, so a training state
remembers it beside a fingerprint of the reference, and a resumed run whose
reference comes out the same takes it from there.

The score is the geometric mean of the four ratios (frame and clip, at the
start and later), each counted as at least 1: one number, lower is better, 1 is
as good as the data. A ratio under 1 is the luck of the sample (the floor is as
close as the data comes to itself), so it cannot make up for another ratio: a
lamp with frames at 0.6x and clips at 15x is not better than one with frames at
1.5x and clips at 8x, and ``duralava eval``'s target holds each ratio alone.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from .fidelity import FidelityJudge, FidelityPlan
from .lamp_frames import FRAMES_PER_LAMP


# Seeds the checks play from: far above eval's draws (0 up, 100 a draw) and the colour fit's (10,000 up).
JUDGE_FIRST_SEED = 50_000


@dataclass
class JudgePlan:
    seeds: int = 100             # lamps played side by side, from fixed seeds
    first_seed: int = JUDGE_FIRST_SEED  # the first of them: none of eval's (which start at 0)
    later: int = 10_000          # ticks run between the two looks
    ticks_per_seed: int = 64     # consecutive frames decoded per seed and look
    n_frames: int = 1000
    n_clips: int = 100
    clip_len: int = 16
    reference_frames: int = 32_000  # simulator reference frames, or data frames in each of the two parts
    floor_draws: int = 4            # simulator floor draws averaged
    data_run: int = FRAMES_PER_LAMP  # frames each simulated data lamp ran (ages of the simulator lamps)

    @staticmethod
    def tiny() -> "JudgePlan":
        return JudgePlan(seeds=2, later=8, ticks_per_seed=8, n_frames=8, n_clips=4, clip_len=4, reference_frames=24,
                         floor_draws=1, data_run=32)

    def fidelity_plan(self) -> FidelityPlan:
        """The sample counts for :class:`FidelityJudge`, checked against the frames ``seeds`` lamps give."""
        plan = FidelityPlan(ticks_per_seed=self.ticks_per_seed, n_frames=self.n_frames, n_clips=self.n_clips,
                            clip_len=self.clip_len, reference_frames=self.reference_frames, lamps=self.seeds,
                            draws=self.floor_draws, data_run=self.data_run)
        plan.check_counts()
        return plan


def tick_runs(frames: np.ndarray, segments: list[int], stride: int) -> list[np.ndarray]:
    """Each segment as the frames one tick apart (every ``stride``-th frame), as index arrays."""
    runs, at = [], 0
    for s in segments:
        runs.append(np.arange(at, at + s, max(1, stride)))
        at += s
    return runs


def split_data(frames: np.ndarray, segments: list[int], stride: int, cap: int, min_run: int
               ) -> tuple[tuple[np.ndarray, list[int]], tuple[np.ndarray, list[int]]]:
    """Two disjoint parts of the data, (frames, segments) each, of at most ``cap`` frames.

    Segments go alternately to the two parts (independent lamps stay whole); a
    single long segment is cut in half. Each part's runs are trimmed evenly to fit
    ``cap``, never below ``min_run`` ticks.
    """
    runs = [r for r in tick_runs(frames, segments, stride) if len(r) >= min_run]
    if len(runs) == 1:
        half = len(runs[0]) // 2
        runs = [runs[0][:half], runs[0][half:]]
    if len(runs) < 2 or min(len(r) for r in runs[:2]) < min_run:
        raise ValueError(f"the training data holds too few runs of {min_run} ticks to judge the lamp against.")
    parts = []
    for group in (runs[0::2], runs[1::2]):
        keep = max(min_run, cap // len(group))
        group = [r[:keep] for r in group]
        while sum(len(r) for r in group) > cap and len(group) > 1:
            group = group[:-1]
        index = np.concatenate(group)
        parts.append((np.asarray(frames[index]), [len(r) for r in group]))
    return parts[0], parts[1]


class TrainJudge:
    """Scores lamps against a reference and its floor; remembers the best score seen."""

    def __init__(self, judge: FidelityJudge, plan: JudgePlan, against: str):
        self.judge, self.plan, self.against = judge, plan, against
        self.reference = fingerprint(judge.reference, judge.reference_segments)
        self.where: list[str] = []     # where the last lamp's distances at the start lie, in words

    @property
    def floor(self) -> dict:
        """{'frame', 'clip', ...}: worked out (minutes for the simulator) on first use unless taken over."""
        return self.judge.floor

    @classmethod
    def from_simulator(cls, meta: dict, size: int, plan: JudgePlan) -> "TrainJudge":
        """The reference and floor ``duralava eval`` draws (simulator seeds 1, then 2, 3, ...), for a simulated lamp."""
        from .fidelity import simulator_settings

        settings = simulator_settings(meta)
        return cls(FidelityJudge(settings, size, plan.fidelity_plan()), plan, settings.describe())

    @classmethod
    def from_data(cls, frames: np.ndarray, segments: list[int], stride: int, plan: JudgePlan) -> "TrainJudge":
        """Two disjoint parts of the training data as reference and floor run (footage, datasets)."""
        reference, other = split_data(frames, segments, stride, plan.reference_frames, max(plan.clip_len, 2))
        size = int(reference[0].shape[1])
        return cls(FidelityJudge(None, size, plan.fidelity_plan(), reference=reference, other=other), plan,
                   "the training data")

    def describe(self) -> dict:
        return {"plan": asdict(self.plan), "against": self.against, "reference": self.reference,
                "floor": {k: float(self.floor[k]) for k in ("frame", "clip")}}

    def take_floor(self, record: dict | None) -> bool:
        """Use the floor of ``record`` (a :meth:`describe` kept in a training state) if this judge would
        work out the same one: the same plan, data and reference frames. True if it was taken."""
        if not self._same(record, seeds=False):      # the floor is the simulator's alone: any lamp seeds
            return False
        floor = _floor_of(record)
        if not all(_positive(floor.get(k)) for k in ("frame", "clip")):
            return False
        self.judge.use_floor({k: float(floor[k]) for k in ("frame", "clip")})
        return True

    def _same(self, record: dict | None, seeds: bool = True) -> bool:
        plan = asdict(self.plan)
        kept = record.get("plan") if isinstance(record, dict) else None
        if not seeds and isinstance(kept, dict):
            kept = {**kept, "first_seed": plan["first_seed"]}
        return (isinstance(record, dict) and kept == plan
                and record.get("against") == self.against and record.get("reference", self.reference) == self.reference)

    @torch.no_grad()
    def score(self, rnn: nn.Module, generator: nn.Module) -> dict:
        """{'score', 'frame_start', 'clip_start', 'frame_later', 'clip_later'}: ratios to the floor."""
        from .endurance import advance, start_latents
        from .fidelity import lamp_frames, where_it_lies

        plan, floor = self.plan, self.floor
        z_dim = generator.z_dim
        device = next(generator.parameters()).device
        start = start_latents(rnn, plan.seeds, z_dim, first_seed=plan.first_seed).to(device)
        later = advance(rnn, start, plan.later)
        out = {}
        for when, z in (("start", start), ("later", later)):
            frames, segments = lamp_frames(rnn, generator, z, plan.ticks_per_seed)
            s = self.judge.score(frames, segments)
            for kind in ("frame", "clip"):
                out[f"{kind}_{when}"] = float(s[kind] / floor[kind]) if floor[kind] > 0 else float("inf")
            if when == "start":
                self.where = where_it_lies(s)
        out["score"] = combined(out)
        return out

    def made(self, record: dict | None) -> bool:
        """Whether ``record`` (a best kept in a training state) was scored by this same judge."""
        if not self._same(record):
            return False
        floor = _floor_of(record)
        return all(isinstance(floor.get(k), (int, float)) and math.isclose(floor[k], self.floor[k], rel_tol=1e-6)
                   for k in ("frame", "clip"))


def fingerprint(frames: np.ndarray, segments: list[int]) -> str:
    """A short hash of a reference's frames and segments: the same text only for the same reference."""
    h = hashlib.sha256(np.asarray(segments, np.int64).tobytes())
    h.update(str(frames.shape).encode())
    h.update(np.ascontiguousarray(frames).data)      # hashed in place, not copied
    return h.hexdigest()[:16]


def _floor_of(record: dict) -> dict:
    return record.get("floor") if isinstance(record.get("floor"), dict) else {}


def _positive(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0


RATIOS = ("frame_start", "clip_start", "frame_later", "clip_later")


def combined(record: dict) -> float:
    """A check's score from its four ratios: their geometric mean, each counted as at least 1 (inf
    if one is missing or not a positive number). Comparisons recompute it, so a best recorded when
    ratios under 1 still counted is weighed as a new check is."""
    ratios = [record.get(k) for k in RATIOS]
    if not all(isinstance(r, (int, float)) and math.isfinite(r) and r > 0 for r in ratios):
        return float("inf")
    return float(math.exp(np.mean(np.log(np.maximum(ratios, 1.0)))))


def beats(result: dict, best: dict | None) -> bool:
    """Whether a check's ``result`` is better than the ``best`` so far (lower score; a non-finite one never is)."""
    score = combined(result)
    return math.isfinite(score) and (best is None or score < combined(best))


def summary(result: dict) -> str:
    return (f"fidelity {result['score']:.1f}x the floor (frame {result['frame_start']:.1f}x/"
            f"{result['frame_later']:.1f}x, clip {result['clip_start']:.1f}x/{result['clip_later']:.1f}x "
            f"at start/later)")
