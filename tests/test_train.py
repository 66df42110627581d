"""`duralava train`: a dry run end to end, resuming, bad requests, and DistributedDataParallel on CPU."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from duralava.models import cli
from duralava.models.checkpoint import load_lamp, load_training_state, save_training_state
from duralava.models.dataset import write_frames


def train(*args: str) -> int:
    return cli.main(["train", "--threads", "1", "--no-progress", *args])


def test_dry_run_end_to_end(tmp_path, lamp_data):
    out = tmp_path / "run"
    assert train("--dry-run", "--data", str(lamp_data), "--out", str(out)) == 0
    lamp = load_lamp(out / "lamp.safetensors")
    assert lamp.meta["steps"] == 2 and lamp.image_size == 32
    assert lamp.meta["data"]["source"] == str(lamp_data.resolve())
    assert lamp.meta["command"].startswith("duralava train ") and "--dry-run" in lamp.meta["command"]
    with torch.no_grad():
        frame = lamp.generator(lamp.rnn(torch.randn(1, lamp.z_dim)))
    assert frame.shape == (1, 3, 32, 32) and torch.isfinite(frame).all()
    tensors, meta = load_training_state(out / "state.safetensors")
    assert tensors["carry.covariance"].shape == (lamp.z_dim, lamp.z_dim)
    assert meta["step"] == 2 and meta["images_seen"] == 2 * 4 * 4
    log = (out / "train.log").read_text()
    assert "start: duralava" in log and "step       2" in log and "finished at step 2" in log
    assert "wax_motion" in log and lamp.meta["training"]["wax_motion_weight"] == 1.0
    assert lamp.meta["training"]["frame_weight"] == 1.0
    assert "colour" in log and lamp.meta["training"]["colour_weight"] == 1.0
    assert "flicker" in log and lamp.meta["training"]["flicker_weight"] == 1.0
    assert "  height " in log and lamp.meta["training"]["height_weight"] == 0.0
    assert "  steady " in log and lamp.meta["training"]["steady_weight"] == 1.0
    assert "  liquid " in log and lamp.meta["training"]["liquid_weight"] == 0.0
    assert "wax_amount" in log and lamp.meta["training"]["wax_amount_weight"] == 0.0
    assert "  shape " in log and lamp.meta["training"]["shape_weight"] == 0.0
    assert "wax_spread" in log and lamp.meta["training"]["wax_spread_weight"] == 1.0
    assert "whiten" in log and "directions" in log and lamp.meta["training"]["whiten_weight"] == 0.0
    assert (out / "samples" / "latest.png").is_file() and (out / "samples" / "real.png").is_file()
    assert (out / "samples" / "timelapse.mp4").stat().st_size > 1000
    assert any((out / "tb").iterdir())
    assert not [p for p in out.rglob("*.tmp*")]


@pytest.mark.parametrize("term", ["wax_amount", "shape"])
def test_a_term_off_by_default_trains_when_asked(tmp_path, lamp_data, term):
    out = tmp_path / term
    flag = f"--{term.replace('_', '-')}-weight"
    assert train("--dry-run", "--data", str(lamp_data), "--out", str(out), flag, "1") == 0
    steps = [line.split() for line in (out / "train.log").read_text().splitlines() if " d_frame " in line]
    values = [float(words[words.index(term) + 1]) for words in steps]
    assert len(values) == 2 and all(np.isfinite(values)) and max(values) > 0
    assert load_lamp(out / "lamp.safetensors").meta["training"][f"{term}_weight"] == 1.0


def test_the_drive_travels_into_the_lamp_and_a_resume_can_change_it(tmp_path, lamp_data):
    out = tmp_path / "driven"
    assert train("--dry-run", "--data", str(lamp_data), "--out", str(out), "--drive", "0.7", "--wander", "0.1") == 0
    lamp = load_lamp(out / "lamp.safetensors")
    assert lamp.rnn.config.drive == 0.7 and lamp.meta["training"]["drive"] == 0.7
    assert lamp.rnn.config.wander == 0.1
    assert train("--dry-run", "--data", str(lamp_data), "--out", str(out), "--resume", "--drive", "0") == 0
    assert load_lamp(out / "lamp.safetensors").rnn.config.drive == 0.0


def test_a_resume_can_switch_the_generator_filter_on_and_the_lamp_keeps_it(tmp_path, lamp_data):
    out = tmp_path / "smooth"
    assert train("--dry-run", "--data", str(lamp_data), "--out", str(out), "--steps", "1") == 0
    plain = load_lamp(out / "lamp.safetensors")
    assert plain.generator.config.smooth is False
    assert train("--dry-run", "--data", str(lamp_data), "--out", str(out), "--steps", "1", "--resume",
                 "--smooth", "on") == 0
    lamp = load_lamp(out / "lamp.safetensors")
    assert lamp.generator.config.smooth is True and "--smooth on" in lamp.meta["command"]
    # The filter has no weights: the same stored tensors, a different (smoother) frame.
    assert lamp.generator.config.smooth and not plain.generator.config.smooth
    _, meta = load_training_state(out / "state.safetensors")
    assert meta["networks"]["generator"]["smooth"] is True and meta["step"] == 2
    # A later resume without the flag keeps the state's filter.
    assert train("--dry-run", "--data", str(lamp_data), "--out", str(out), "--steps", "1", "--resume") == 0
    assert load_lamp(out / "lamp.safetensors").generator.config.smooth is True


def test_a_new_lamp_draws_the_data_s_still_pixels_exactly_and_a_resume_can_switch_them(tmp_path, lamp_data):
    from duralava.models.dataset import open_frames, still_pixels

    out = tmp_path / "still"
    common = ["--dry-run", "--data", str(lamp_data), "--out", str(out), "--steps", "1"]
    assert train(*common) == 0
    lamp = load_lamp(out / "lamp.safetensors")
    still, colours = still_pixels(open_frames(lamp_data).frames)
    assert lamp.generator.config.still is True and 0.3 < still.mean() < 0.99     # the blob's path is not still
    assert np.array_equal(lamp.generator.still_mask[0].numpy() == 1, still)
    with torch.no_grad():
        frames = lamp.generator(torch.randn(8, lamp.z_dim))
    frames = (frames.permute(0, 2, 3, 1) * 255).round().to(torch.uint8).numpy()
    assert (frames[:, still] == colours[still]).all()                           # every latent, to the bit
    assert frames[:, ~still].std(0).mean() > 0                                 # and the rest is decoded
    # A resume can switch them off, and on again from the data; the lamp keeps its decoder.
    assert train(*common, "--resume", "--still", "off") == 0
    assert load_lamp(out / "lamp.safetensors").generator.still_mask is None
    assert "generator.still_mask" not in load_training_state(out / "state.safetensors")[0]
    assert train(*common, "--resume", "--still", "on") == 0
    again = load_lamp(out / "lamp.safetensors")
    assert again.generator.config.still is True and np.array_equal(again.generator.still_mask[0].numpy() == 1, still)
    assert train(*common, "--resume") == 0                                      # and keeps it
    _, meta = load_training_state(out / "state.safetensors")
    assert meta["networks"]["generator"]["still"] is True and meta["step"] == 4


def test_the_discriminators_see_real_clips_with_the_still_pixels_painted_in(tmp_path):
    from duralava.models.dataset import ClipSampler, open_frames, still_pixels
    from duralava.models.train import Trainer
    from duralava.models.train_cmd import TrainConfig

    # A lamp lit from the left: mirrored, as training shows half its clips, the background is not the data's.
    n, s = 60, 32
    yy, xx = np.mgrid[0:s, 0:s]
    frames = np.empty((n, s, s, 3), np.uint8)
    frames[:] = (60, 20, 90)
    frames[:, :, :6] = (120, 60, 150)
    for i in range(n):
        frames[i][(yy - (0.3 + 0.4 * i / n) * s) ** 2 + (xx - s / 2) ** 2 < 20] = (250, 120, 30)
    data = write_frames(tmp_path / "lit", frames, [n], {"source": "test"})
    trainer = Trainer(TrainConfig.dry(data=str(data), out=str(tmp_path / "run"), threads=1, judge=False))
    still, colours = still_pixels(open_frames(data).frames)
    assert still[:, :6].all() and still[:, -6:].all()
    seen = []
    trainer.d_frame.register_forward_pre_hook(lambda module, args: seen.append(args[0].detach().clone()))
    clip = torch.from_numpy(frames[:4]).float().div(255).permute(0, 3, 1, 2)
    real = torch.stack([clip, clip.flip(-1), clip, clip.flip(-1)])        # (B=4, T=4, 3, S, S), two mirrored
    trainer.train_step(real)
    judged = seen[0][: len(seen[0]) // 2]                                 # the discriminator's real half
    painted = torch.from_numpy(colours).float().div(255).permute(2, 0, 1)
    mask = torch.from_numpy(still)
    assert torch.equal(judged[:, :, mask], painted[:, mask].expand(len(judged), -1, -1))
    assert not torch.equal(clip.flip(-1)[:, :, mask], painted[:, mask].expand(4, -1, -1))   # as it came


def test_the_temporal_discriminator_blur_is_kept_an_old_state_reads_half_resolution_and_a_resume_changes_it(
        tmp_path, lamp_data):
    out = tmp_path / "blur"
    common = ["--dry-run", "--data", str(lamp_data), "--out", str(out), "--steps", "1"]
    assert train(*common) == 0
    tensors, meta = load_training_state(out / "state.safetensors")
    assert meta["networks"]["temporal_d"]["blur"] == 4                  # a new run blurs
    # A state written before the blur was kept: its discriminator read frames at half resolution.
    del meta["networks"]["temporal_d"]["blur"]
    save_training_state(out / "state.safetensors", tensors, meta)
    assert train(*common, "--resume") == 0
    assert load_training_state(out / "state.safetensors")[1]["networks"]["temporal_d"]["blur"] == 2
    assert train(*common, "--resume", "--clip-blur", "8") == 0
    assert load_training_state(out / "state.safetensors")[1]["networks"]["temporal_d"]["blur"] == 8
    assert train(*common, "--resume") == 0                              # and keeps it
    _, meta = load_training_state(out / "state.safetensors")
    assert meta["networks"]["temporal_d"]["blur"] == 8 and meta["step"] == 4


def test_resume_continues_the_step_count_and_matches_an_unbroken_run(tmp_path, lamp_data):
    common = ["--dry-run", "--data", str(lamp_data), "--seed", "3"]
    assert train(*common, "--out", str(tmp_path / "whole"), "--steps", "4") == 0
    assert train(*common, "--out", str(tmp_path / "split"), "--steps", "2") == 0
    assert train(*common, "--out", str(tmp_path / "split"), "--steps", "2", "--resume") == 0
    _, meta = load_training_state(tmp_path / "split" / "state.safetensors")
    assert meta["step"] == 4
    assert load_lamp(tmp_path / "split" / "lamp.safetensors").meta["steps"] == 4
    whole = load_file(str(tmp_path / "whole" / "state.safetensors"))
    split = load_file(str(tmp_path / "split" / "state.safetensors"))
    assert whole.keys() == split.keys()
    assert int(split["opt_g.0.step"]) == 4
    # Optimisers, RNG streams, latent carry-over and data order all resumed: the same weights.
    for name in ("generator.net.0.weight", "rnn.net.0.weight", "frame_d.head.parametrizations.weight.original",
                 "carry.z"):
        assert torch.allclose(whole[name], split[name], atol=1e-5), name
    assert "resume at step 2" in (tmp_path / "split" / "train.log").read_text()


def test_the_rnn_can_learn_alone_and_a_state_with_one_optimiser_group_resumes(tmp_path, lamp_data):
    out = tmp_path / "rnn"
    assert train("--dry-run", "--data", str(lamp_data), "--out", str(out), "--steps", "1") == 0
    before, meta = load_training_state(out / "state.safetensors")
    # A group each: the generator's weights, then the RNN's.
    assert [len(g["params"]) for g in meta["param_groups"]["opt_g"]] == [len(_params(before, "generator")),
                                                                          len(_params(before, "rnn"))]
    # A state written when the generator and the RNN shared one group: the same parameters, one group.
    g = meta["param_groups"]["opt_g"]
    meta["param_groups"]["opt_g"] = [{**g[0], "params": g[0]["params"] + g[1]["params"]}]
    save_training_state(out / "state.safetensors", before, meta)
    assert train("--dry-run", "--data", str(lamp_data), "--out", str(out), "--steps", "2", "--resume",
                 "--lr-g", "0", "--lr-rnn", "0.01", "--ema-decay", "0.5", "--from-average") == 0
    after, meta = load_training_state(out / "state.safetensors")
    assert meta["step"] == 3 and [g["lr"] for g in meta["param_groups"]["opt_g"]] == [0.0, 0.01]
    generator = _params(before, "generator")
    assert any(not torch.equal(before[n], before[n.replace("generator.", "generator_ema.")]) for n in generator)
    # Held whole: its BatchNorm's running statistics too, the lamp's, as the lamp draws with them.
    statistics = [k for k in before if k.startswith("generator_ema.") and ".running_" in k]
    assert statistics
    for name in statistics:
        assert torch.equal(after[name], before[name]) and torch.equal(after[name.replace("_ema.", ".", 1)], before[name])
    for name in generator:     # the lamp's generator, taken up by the training one, did not move
        kept = before[name.replace("generator.", "generator_ema.")]
        assert torch.equal(after[name], kept) and torch.equal(after[name.replace("generator.", "generator_ema.")], kept)
    assert any(not torch.equal(before[n], after[n]) for n in _params(before, "rnn"))
    lamp = load_lamp(out / "lamp.safetensors")
    assert lamp.meta["training"]["lr_rnn"] == 0.01 and lamp.meta["ema_decay"] == 0.5
    assert "--lr-rnn 0.01" in lamp.meta["command"] and "--from-average" in lamp.meta["command"]


def _params(tensors: dict, net: str) -> list[str]:
    """A network's trained weights in a training state (not its buffers: BatchNorm's running statistics)."""
    buffers = ("running_", "num_batches", "still_", "smooth")
    return [k for k in tensors if k.startswith(net + ".") and not k.split(".")[-1].startswith(buffers)]


def test_resume_without_a_state_starts_fresh(tmp_path, lamp_data):
    out = tmp_path / "fresh"
    assert train("--dry-run", "--data", str(lamp_data), "--out", str(out), "--resume", "--steps", "1") == 0
    assert load_training_state(out / "state.safetensors")[1]["step"] == 1


@pytest.mark.parametrize("args, match", [
    (["--batch", "0"], "--batch must be at least 1"),
    (["--seq", "1"], "--seq must be at least 2"),
    (["--minutes", "-1"], "--minutes must be positive"),
    (["--image-size", "64"], "pass --image-size 32"),
    (["--drive", "-1"], "--drive must be from 0 to 10"),
    (["--wander", "2"], "--wander must be from 0 to 1"),
    (["--reset-prob", "1.5"], "--reset-prob must be a probability"),
    (["--motion-weight", "-2"], "--motion-weight must not be negative"),
    (["--frame-weight", "-1"], "--frame-weight must not be negative"),
    (["--clip-weight", "-0.5"], "--clip-weight must not be negative"),
    (["--wax-motion-weight", "-1"], "--wax-motion-weight must not be negative"),
    (["--flicker-weight", "-1"], "--flicker-weight must not be negative"),
    (["--height-weight", "-3"], "--height-weight must not be negative"),
    (["--steady-weight", "-1"], "--steady-weight must not be negative"),
    (["--liquid-weight", "-1"], "--liquid-weight must not be negative"),
    (["--wax-amount-weight", "-1"], "--wax-amount-weight must not be negative"),
    (["--colour-weight", "-0.5"], "--colour-weight must not be negative"),
    (["--wax-spread-weight", "-2"], "--wax-spread-weight must not be negative"),
    (["--whiten-weight", "-0.5"], "--whiten-weight must not be negative"),
    (["--smooth", "yes"], "--smooth must be on or off"),
    (["--still", "1"], "--still must be on or off"),
    (["--clip-blur", "3"], "temporal discriminator blur must be a power of 2"),
    (["--lr-rnn", "-0.001"], "--lr-rnn must be from 0 to below 1"),
    (["--lr-g", "2"], "--lr-g must be from 0 to below 1"),
    (["--ema-decay", "1"], "--ema-decay must be from 0 to below 1"),
    (["--from-average"], "--from-average needs --resume"),
    (["--lr-g", "0"], "--lr-g and --lr-rnn cannot both be 0"),
])
def test_bad_requests_give_one_sentence(tmp_path, lamp_data, capsys, args, match):
    assert train("--dry-run", "--data", str(lamp_data), "--out", str(tmp_path / "r"), *args) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and match in err[0], err


def test_missing_data_and_damaged_state(tmp_path, lamp_data, capsys):
    assert train("--dry-run", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "r")) == 1
    assert "is not a directory" in capsys.readouterr().err
    out = tmp_path / "damaged"
    out.mkdir()
    (out / "state.safetensors").write_bytes(b"\x80\x04not a state")
    assert train("--dry-run", "--data", str(lamp_data), "--out", str(out), "--resume") == 1
    assert "not a safetensors file" in capsys.readouterr().err


@pytest.mark.slow
def test_dry_run_on_the_simulator(tmp_path):
    out = tmp_path / "sim"
    assert train("--dry-run", "--out", str(out)) == 0
    lamp = load_lamp(out / "lamp.safetensors")
    assert lamp.meta["data"]["source"] == "simulator" and lamp.meta["data"]["params"]["preset"] == "classic"
    assert (out / "frames" / "frames.npy").is_file()


@pytest.mark.slow
def test_two_processes_with_gloo(tmp_path, lamp_data):
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "-m", "duralava.models.cli", "train", "--dry-run", "--data", str(lamp_data), "--out", str(out),
         "--threads", "1", "--no-progress", "--steps", "3"],
        capture_output=True, text=True, timeout=240, env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    _, meta = load_training_state(out / "state.safetensors")
    assert meta["step"] == 3
    assert meta["images_seen"] == 3 * 4 * 4 * 2          # both processes' clips count
    assert "device cpu x2" in (out / "train.log").read_text()
    assert load_lamp(out / "lamp.safetensors").meta["steps"] == 3


def test_the_best_lamp_is_kept_and_a_resume_remembers_it(tmp_path, lamp_data):
    out = tmp_path / "judged"
    assert train("--dry-run", "--data", str(lamp_data), "--out", str(out), "--steps", "3") == 0
    best = load_lamp(out / "best.safetensors")
    judged = best.meta["judged"]
    assert judged["against"] == "the training data" and judged["floor"]["frame"] > 0
    ratios = [judged[k] for k in ("frame_start", "clip_start", "frame_later", "clip_later")]
    assert judged["score"] == pytest.approx(float(np.exp(np.mean(np.log(np.maximum(ratios, 1.0))))))
    assert best.meta["steps"] == judged["step"] <= 3
    log = (out / "train.log").read_text()
    checks = [line for line in log.splitlines() if "fidelity" in line and "x the floor" in line]
    assert len(checks) == 4                         # at the start, after each of the 3 steps (every 0 min)
    assert checks[0].rstrip().endswith("-> best.safetensors")
    # Each check also says which features keep the lamp off the data, frames and clips.
    assert sum("at the start, clips " in line and "furthest off: " in line for line in log.splitlines()) == 4
    _, meta = load_training_state(out / "state.safetensors")
    assert meta["best"]["score"] == judged["score"] and meta["best"]["step"] == judged["step"]
    # A resumed run starts from the best it had, not from nothing.
    assert train("--dry-run", "--data", str(lamp_data), "--out", str(out), "--steps", "1", "--resume") == 0
    resumed_log = (out / "train.log").read_text()[len(log):]
    assert f"best so far {judged['score']:.1f}x at step {judged['step']}" in resumed_log
    _, meta = load_training_state(out / "state.safetensors")
    assert meta["best"]["score"] <= judged["score"]
    assert meta["best"]["runs"] == {"drive": 1.0, "wander": 0.06, "warmup": 1000, "smooth": False, "still": True}
    # The resumed run took its floor from the state, as its reference came out the same.
    assert "; the resumed state's, for the same reference)" in resumed_log
    assert meta["judge"]["floor"] == judged["floor"] and len(meta["judge"]["reference"]) == 16
    # A resume that changes how the lamp runs scores a different lamp: its best starts afresh.
    before = (out / "train.log").read_text()
    assert train("--dry-run", "--data", str(lamp_data), "--out", str(out), "--steps", "1", "--resume",
                 "--wander", "0.15") == 0
    changed_log = (out / "train.log").read_text()[len(before):]
    assert ("ran with drive 1, wander 0.06, warmup 1000, smooth off, still on, this run's lamp with drive 1, wander 0.15"
            in changed_log)
    assert "best so far" not in changed_log
    _, meta = load_training_state(out / "state.safetensors")
    assert meta["best"]["runs"]["wander"] == 0.15
    assert load_lamp(out / "best.safetensors").rnn.config.wander == 0.15
    # A best scored against another floor is another judge's: it starts afresh, and the log says why.
    tensors, meta = load_training_state(out / "state.safetensors")
    meta["best"]["floor"]["frame"] *= 2
    save_training_state(out / "state.safetensors", tensors, meta)
    before = (out / "train.log").read_text()
    assert train("--dry-run", "--data", str(lamp_data), "--out", str(out), "--steps", "1", "--resume",
                 "--wander", "0.15") == 0
    rejudged_log = (out / "train.log").read_text()[len(before):]
    assert "the resumed best was scored by other fidelity checks" in rejudged_log
    assert "best so far" not in rejudged_log


def test_the_height_term_waits_for_each_chain_to_pass_the_warm_up(tmp_path, lamp_data):
    out = tmp_path / "aged"
    # seq 4: every chain is 4 ticks old after the first step, so only the later steps hold settled chains.
    assert train("--dry-run", "--data", str(lamp_data), "--out", str(out), "--warmup", "4", "--steps", "3",
                 "--reset-prob", "0", "--height-weight", "1") == 0
    heights = [float(line.split("  height ")[1].split()[0])
               for line in (out / "train.log").read_text().splitlines() if "  height " in line]
    assert len(heights) == 3 and heights[0] == 0.0 and min(heights[1:]) > 0.0
    tensors, _ = load_training_state(out / "state.safetensors")
    assert torch.equal(tensors["carry.age"], torch.full((4,), 12.0))
    assert train("--dry-run", "--data", str(lamp_data), "--out", str(out), "--steps", "1", "--resume",
                 "--reset-prob", "0") == 0
    assert torch.equal(load_training_state(out / "state.safetensors")[0]["carry.age"], torch.full((4,), 16.0))
    # A restarted chain begins after the warm-up, where the lamp is shown: settled from its first step.
    out = tmp_path / "restarted"
    assert train("--dry-run", "--data", str(lamp_data), "--out", str(out), "--warmup", "6", "--steps", "2",
                 "--reset-prob", "1", "--height-weight", "1") == 0
    heights = [float(line.split("  height ")[1].split()[0])
               for line in (out / "train.log").read_text().splitlines() if "  height " in line]
    assert len(heights) == 2 and min(heights) > 0.0
    assert torch.equal(load_training_state(out / "state.safetensors")[0]["carry.age"], torch.full((4,), 10.0))


def test_a_run_can_go_on_from_its_best_state(tmp_path, lamp_data):
    out = tmp_path / "from_best"
    assert train("--dry-run", "--data", str(lamp_data), "--out", str(out), "--steps", "3") == 0
    judged = load_lamp(out / "best.safetensors").meta["judged"]
    best_tensors, best_meta = load_training_state(out / "best.state.safetensors")
    # The state beside the best lamp is the one its EMA generator was drawn from.
    assert best_meta["step"] == judged["step"] and best_meta["best"]["score"] == judged["score"]
    lamp_weights = load_file(str(out / "best.safetensors"))
    for name, t in lamp_weights.items():
        if name.startswith("generator."):
            assert torch.equal(best_tensors["generator_ema." + name[len("generator."):]].float(), t.float())
    _, last = load_training_state(out / "state.safetensors")
    assert last["step"] == 3
    assert train("--dry-run", "--data", str(lamp_data), "--out", str(out), "--steps", "1", "--resume-best") == 0
    _, meta = load_training_state(out / "state.safetensors")
    assert meta["step"] == judged["step"] + 1     # from the best's step, not the last state's 3
    assert f"best so far {judged['score']:.1f}x at step {judged['step']}" in (out / "train.log").read_text()


def test_resume_best_without_a_best_state_is_one_sentence(tmp_path, lamp_data, capsys):
    out = tmp_path / "nobest"
    assert train("--dry-run", "--data", str(lamp_data), "--out", str(out), "--no-judge") == 0
    capsys.readouterr()
    assert train("--dry-run", "--data", str(lamp_data), "--out", str(out), "--resume-best") == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "best.state.safetensors to resume from" in err[0], err


def test_no_judge_leaves_no_best_lamp(tmp_path, lamp_data):
    out = tmp_path / "unjudged"
    assert train("--dry-run", "--data", str(lamp_data), "--out", str(out), "--no-judge") == 0
    assert (out / "lamp.safetensors").is_file() and not (out / "best.safetensors").exists()
    assert "fidelity" not in (out / "train.log").read_text().replace("fidelity checks", "")


def test_ctrl_c_while_the_judge_is_set_up_stops_at_once_and_quietly(tmp_path):
    # Setting the fidelity checks up simulates for minutes before the first step; Ctrl-C must not wait for it.
    import signal
    import time

    out = tmp_path / "stop"
    proc = subprocess.Popen(
        [sys.executable, "-m", "duralava.models.cli", "train", "--out", str(out), "--sim-frames", "256",
         "--batch", "4", "--steps", "5", "--threads", "1", "--no-progress"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    log = out / "train.log"
    try:
        deadline = time.monotonic() + 180
        while not (log.is_file() and "setting up fidelity checks" in log.read_text()):
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()[-2000:]
            time.sleep(0.2)
        time.sleep(2)                               # well inside the simulation of the reference
        proc.send_signal(signal.SIGINT)
        sent = time.monotonic()
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130 and err.strip() == "interrupted", err[-2000:]
    assert time.monotonic() - sent < 60             # the set-up alone runs for minutes
    assert "interrupted while setting up" in log.read_text()
    assert not (out / "state.safetensors").exists()   # no step ran, so nothing was saved
