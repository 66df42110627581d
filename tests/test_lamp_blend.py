"""`duralava lamp --blend`: a copy whose weights are a weighted mean of two lamps' from one training."""
from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from duralava.models import cli
from duralava.models.checkpoint import lamp_meta, load_lamp, random_lamp, save_lamp
from duralava.models.generator import Generator, GeneratorConfig
from duralava.models.lamp_blend import BlendError, blend
from duralava.models.rnn import RNNConfig
from test_lamp_cmd import disc_data


def write(path, lamp, **meta):
    lamp.rnn.config = RNNConfig(drive=1.0, wander=0.15, warmup=10)
    keep = {k: v for k, v in lamp.meta.items() if k not in ("generator", "rnn")}
    save_lamp(path, lamp.generator, lamp.rnn, {**keep, **meta})
    return path


@pytest.fixture()
def pair(tmp_path):
    """Two lamps of one training: the same networks and data, different weights and step counts."""
    first, second = random_lamp(seed=3), random_lamp(seed=4)
    first.generator.net[1].num_batches_tracked.fill_(7)
    second.generator.net[1].num_batches_tracked.fill_(99)
    with torch.no_grad():                                  # BatchNorm statistics as training leaves them
        second.generator.net[1].running_mean.add_(0.5)
    a = write(tmp_path / "a.safetensors", first, steps=1000, command="duralava train --out runs/a")
    b = write(tmp_path / "b.safetensors", second, steps=1500, command="duralava train --out runs/b",
              data=first.meta["data"])
    return a, b


def lamp(*args) -> int:
    return cli.main(["lamp", *map(str, args)])


def test_a_blend_is_the_weighted_mean_of_every_trained_tensor_and_says_so(pair, tmp_path, capsys):
    a, b = pair
    out = tmp_path / "blend.safetensors"
    assert lamp(a, "--blend", b, "--share", "0.25", "--out", out) == 0
    shown = capsys.readouterr().out
    assert f"weights blended with {b} (its share 0.25, its step 1,500)" in shown
    ta, tb, tout = load_file(str(a)), load_file(str(b)), load_file(str(out))
    assert tout.keys() == ta.keys()
    blended = 0
    for key, t in tout.items():
        if t.is_floating_point():
            assert torch.equal(t, 0.75 * ta[key] + 0.25 * tb[key]), key
            blended += not torch.equal(ta[key], tb[key])
        else:                                              # step counters: the first lamp's own
            assert torch.equal(t, ta[key]), key
    assert blended > 10 and tout["generator.net.1.num_batches_tracked"].item() == 7
    # The first lamp's provenance, the blend on record beside it; it plays unlike either lamp.
    before, other, after = load_lamp(a), load_lamp(b), load_lamp(out)
    assert after.meta["steps"] == 1000 and after.meta["command"] == "duralava train --out runs/a"
    (entry,) = after.meta["retuned"]
    assert entry["blended"] == {"with": str(b), "share": 0.25, "steps": 1500, "command": "duralava train --out runs/b"}
    assert "--blend" in entry["command"] and "--share 0.25" in entry["command"]
    z, noise = torch.randn(4, 64), torch.randn(4, 64)
    with torch.no_grad():
        steps = [lamp_.rnn(z, noise) for lamp_ in (before, other, after)]
        frames = [lamp_.generator(z) for lamp_ in (before, other, after)]
    assert (steps[2] - steps[0]).abs().mean() > 1e-2 and (steps[2] - steps[1]).abs().mean() > 1e-2
    assert not torch.equal(frames[2], frames[0]) and not torch.equal(frames[2], frames[1])


def test_the_share_defaults_to_half_and_the_playback_change_goes_with_it(pair, tmp_path):
    a, b = pair
    out = tmp_path / "half.safetensors"
    assert lamp(a, "--blend", b, "--wander", "0.2", "--out", out) == 0
    after = load_lamp(out)
    (entry,) = after.meta["retuned"]
    assert entry["blended"]["share"] == 0.5 and entry["changed"] == {"wander": [0.15, 0.2]}
    assert after.rnn.config.wander == 0.2
    ta, tb, tout = load_file(str(a)), load_file(str(b)), load_file(str(out))
    key = "rnn.net.0.weight"
    assert torch.equal(tout[key], 0.5 * ta[key] + 0.5 * tb[key])


def test_a_lamp_with_a_colour_curve_is_blended_only_with_its_colours_fitted_again(pair, tmp_path, capsys):
    a, b = pair
    _, data = disc_data(tmp_path)
    curved = tmp_path / "curved.safetensors"
    assert lamp(a, "--fit-colours", "off-line", "--data", data, "--out", curved) == 0
    capsys.readouterr()
    out = tmp_path / "blend.safetensors"
    assert lamp(curved, "--blend", b, "--out", out) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pass --fit-colours to fit the blend's again" in err[0] and not out.exists()
    assert lamp(curved, "--blend", b, "--fit-colours", "off-line", "--data", data, "--out", out) == 0
    entry = load_lamp(out).meta["retuned"][-1]
    assert entry["blended"]["share"] == 0.5 and entry["colours"]["parts"] == "off-line"
    assert 0.5 <= entry["colours"]["off_line_scale"] <= 1.0


@pytest.mark.parametrize("args, match", [
    (["--blend", "{c}", "--out", "{tmp}/x.safetensors"], "trained on different data"),
    (["--blend", "{narrow}", "--out", "{tmp}/x.safetensors"], "generators differ (width 32 against 8)"),
    (["--blend", "{b}", "--share", "0", "--out", "{tmp}/x.safetensors"], "between 0 and 1"),
    (["--blend", "{b}", "--share", "1.5", "--out", "{tmp}/x.safetensors"], "between 0 and 1"),
    (["--blend", "{b}", "--share", "nan", "--out", "{tmp}/x.safetensors"], "between 0 and 1"),
    (["--share", "0.3", "--wander", "0.2", "--out", "{tmp}/x.safetensors"], "pass both or neither"),
    (["--blend", "{a}", "--out", "{tmp}/x.safetensors"], "not the one it is blended into"),
    (["--blend", "{tmp}/none.safetensors", "--out", "{tmp}/x.safetensors"], "is not a file"),
    (["--blend", "{junk}", "--out", "{tmp}/x.safetensors"], "not a safetensors file"),
    (["--blend", "{b}", "--out", "{b}"], "not the lamp blended in"),
    (["--blend", "{b}"], "pass --out NEW"),
])
def test_bad_blends_give_one_sentence_and_touch_nothing(pair, tmp_path, capsys, args, match):
    a, b = pair
    c = write(tmp_path / "c.safetensors", random_lamp(seed=5))                    # other data
    narrow = Generator(GeneratorConfig(width=8))
    other = random_lamp(seed=4)
    write(tmp_path / "narrow.safetensors", other.__class__(
        generator=narrow.eval(), rnn=other.rnn, meta=lamp_meta(narrow, other.rnn, {"data": load_lamp(a).meta["data"]})))
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x80\x04not a lamp")
    files = {p: p.read_bytes() for p in (a, b, c)}
    args = [x.format(tmp=tmp_path, a=a, b=b, c=c, narrow=tmp_path / "narrow.safetensors", junk=junk) for x in args]
    assert lamp(a, *args) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and match in err[0], err
    assert all(p.read_bytes() == content for p, content in files.items())
    assert not (tmp_path / "x.safetensors").exists()


def test_blend_refuses_latent_rnns_of_other_sizes(pair):
    a, _ = pair
    first = load_lamp(a)
    other = random_lamp(seed=4)
    from duralava.models.rnn import LatentRNN
    rnn = LatentRNN(RNNConfig(hidden=256))
    other.rnn, other.meta = rnn, lamp_meta(other.generator, rnn, {"data": first.meta["data"]})
    before = {k: t.clone() for k, t in first.rnn.state_dict().items()}
    with pytest.raises(BlendError, match=r"latent RNNs differ \(hidden 512 against 256\)"):
        blend(first, other, 0.5)
    assert all(torch.equal(before[k], t) for k, t in first.rnn.state_dict().items())
