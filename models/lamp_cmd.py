"""`duralava lamp`: what a lamp file is, and a copy of it that plays differently.

``duralava lamp PATH`` prints what the file says about itself (networks, how it
runs, where it came from, how it scored) after validating it as the viewer would.
``duralava lamp PATH --wander W --out NEW`` writes a copy whose networks are the
same tensors but whose playback settings (drive, wander, warm-up) are changed,
or whose weights are stored in float16. ``--fit-colours`` fits the lamp's colour
curve (models/colour_curve.py) to its data: the simulator it was trained on, or
``--data DIR``; both its parts, or one (``--fit-colours place`` or ``off-line``).
``--blend OTHER`` makes the copy's weights a mean of its own and another lamp's from
the same training (models/lamp_blend.py), ``--share`` the other's part.
The copy keeps its training provenance untouched and adds a ``retuned`` entry:
what changed, from what, by which command.
"""
from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

# Playback settings of the RNN a copy may change: RNNConfig field (and flag) -> its type.
PLAYBACK = {"drive": float, "wander": float, "warmup": int}
# The simulator lamps the colours are fitted to, and the frames of each: each lamp caught at an age spread
# over the training data's run, as eval's reference catches them (lamps all caught young have less wax).
FIT_DATA_LAMPS, FIT_DATA_TICKS = 32, 500
# What --fit-colours fits: each colour's place between liquid and wax, its distance off that line, or both.
COLOUR_PARTS = {"both": ("place", "off-line"), "place": ("place",), "off-line": ("off-line",)}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", type=Path, metavar="PATH", help="the lamp file (.safetensors)")
    p.add_argument("--out", type=Path, help="write the changed copy here (required with any change)")
    p.add_argument("--drive", type=float, help="noise amplitude of the lamp's own motion, fed every tick")
    p.add_argument("--wander", type=float,
                   help="share of that noise added straight onto the latent: more keeps long runs further "
                        "from where they have been, too much and the picture jitters")
    p.add_argument("--warmup", type=int, help="ticks run from a fresh latent before the lamp is shown")
    p.add_argument("--fp16", action="store_true", help="store the copy's weights in float16 (half the size)")
    p.add_argument("--fit-colours", nargs="?", const="both", choices=list(COLOUR_PARTS), metavar="PART",
                   help="fit the copy's colour curve to its data (the simulator it was trained on, or --data): "
                        "'place' spreads its colours from liquid to wax as the data's, 'off-line' brings them as "
                        "near that line as the data's are on average; 'both' (the default)")
    p.add_argument("--data", type=Path, metavar="DIR",
                   help="with --fit-colours: the dataset directory to fit to, for a lamp trained on one")
    p.add_argument("--blend", type=Path, metavar="OTHER",
                   help="blend the copy's weights with another lamp's of the same networks and data (two checks "
                        "of one training run, say); a lamp with a colour curve needs --fit-colours with it")
    p.add_argument("--share", type=float, metavar="A",
                   help="with --blend: the other lamp's part of each weight, between 0 and 1 (default 0.5)")
    p.add_argument("--force", action="store_true", help="replace --out if it exists")


class LampCommandError(ValueError):
    """A request this command cannot carry out; its message is one sentence."""


def _changes(args, rnn_config) -> dict[str, list]:
    """field -> [old, new] for every playback setting asked for that differs from the file's."""
    out = {}
    for name, kind in PLAYBACK.items():
        value = getattr(args, name)
        if value is not None and kind(value) != getattr(rnn_config, name):
            out[name] = [getattr(rnn_config, name), kind(value)]
    return out


def describe(path: Path, meta: dict) -> list[tuple[str, str]]:
    """(label, value) rows of what a lamp file says about itself."""
    gen, rnn, data = meta["generator"], meta["rnn"], meta.get("data") or {}
    params = data.get("params") or {}
    rows = [
        ("file", f"{path} ({path.stat().st_size / 1e6:.1f} MB, {meta.get('dtype', 'float32')})"),
        ("frames", f"{meta['image_size']}x{meta['image_size']} from a {meta['z_dim']}-number latent"),
        ("generator", f"width {gen.get('width')}, logit filter {'on' if gen.get('smooth') else 'off'}, "
                      f"still pixels {'on' if gen.get('still') else 'off'}, "
                      f"colour curve {'on' if gen.get('colour_knots') else 'off'}"),
        ("latent RNN", f"hidden {rnn['hidden']} x {rnn['layers']} layers"
                       + (", residual" if rnn.get("residual") else "")),
        ("plays with", f"drive {rnn['drive']:g}, wander {rnn['wander']:g}, warm-up {rnn['warmup']} ticks"),
        ("trained on", str(data.get("source", "?"))
         + (f" ({', '.join(f'{k} {v}' for k, v in params.items() if k in ('preset', 'palette', 'stride'))})"
            if params else "")),
        ("training", f"{meta.get('steps', 0):,} steps, {float(meta.get('wall_time_s', 0)) / 60:.1f} min"),
        ("command", str(meta.get("command") or "?")),
    ]
    judged = meta.get("judged")
    if isinstance(judged, dict) and "score" in judged:
        rows.append(("checked", _readable(lambda: f"{judged['score']:.1f}x the floor at step {judged['step']:,} "
                                                  f"(frame {judged['frame_start']:.1f}x, "
                                                  f"clip {judged['clip_start']:.1f}x at the start)")))
    for entry in retuned(meta):
        rows.append(("retuned", retuning(entry) + f" by {entry.get('command', '?')}"))
    return rows


def retuned(meta: dict) -> list:
    """The lamp's earlier retunings (a list of dicts; anything else in the file counts as none)."""
    entries = meta.get("retuned")
    return [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []


def retuning(entry: dict) -> str:
    """What one retuning changed ("wander 0.15 -> 0.22", "stored as float16", "colours fitted to ..."),
    or that it cannot be read."""
    def text() -> str:
        parts = [f"{k} {a:g} -> {b:g}" for k, (a, b) in entry["changed"].items()]
        if "blended" in entry:
            other = entry["blended"]
            parts.append(f"weights blended with {other['with']} (its share {other['share']:g}, "
                         f"its step {other['steps']:,})")
        if "colours" in entry:
            fit = entry["colours"]
            how = {"place": "along the liquid -> wax line", "off-line": "off the line only"}.get(fit.get("parts"), "")
            scale = f", off-line scale {fit['off_line_scale']:g}" if "off_line_scale" in fit else ""
            parts.append(f"colours fitted {how + ' ' if how else ''}to {fit['data']} ({fit['knots']} knots{scale})")
        return ", ".join(parts) or "stored as " + entry["dtype"]
    return _readable(text)


def _readable(text) -> str:
    """``text()``, or a note that the file's record could not be read (metadata is not validated beyond
    what playing the lamp needs, so a hand-edited record must not stop the rest from showing)."""
    try:
        return text()
    except (KeyError, TypeError, ValueError, AttributeError):
        return "(a record in the file that cannot be read)"


def _command(args) -> str:
    words = ["duralava", "lamp", str(args.path)]
    for name in (*PLAYBACK, "out"):
        if getattr(args, name) is not None:
            words += [f"--{name}", str(getattr(args, name))]
    words += ["--fp16"] * bool(args.fp16)
    if args.blend is not None:
        words += ["--blend", str(args.blend), "--share", f"{_share(args):g}"]
    if args.fit_colours:
        words += ["--fit-colours"] + [args.fit_colours] * (args.fit_colours != "both")
    if args.data is not None:
        words += ["--data", str(args.data)]
    return shlex.join(words)


def fit_colours(lamp, data: Path | None, parts: str = "both"):
    """The lamp's generator with a colour curve fitted to its data (the parts COLOUR_PARTS names); returns
    (generator, what was fitted to what)."""
    from .colour_curve import with_fitted_colours
    from .dataset import DatasetError, open_frames
    from .features import MetricsError
    from .fidelity import FidelityError, simulator_lamps, simulator_settings

    if data is not None:
        try:
            frames = open_frames(data).frames
        except DatasetError as e:
            raise LampCommandError(str(e).rstrip(".") + ".") from None
        what = str(data)
    else:
        settings = simulator_settings(lamp.meta)
        if settings.note:
            raise LampCommandError(f"{settings.note.split(',')[0]}; pass --data DIR to fit its colours to.")
        params = (lamp.meta.get("data") or {}).get("params") or {}
        seed = params.get("seed", 0) if isinstance(params.get("seed", 0), int) else 0
        try:
            frames, _ = simulator_lamps(settings, FIT_DATA_LAMPS, FIT_DATA_TICKS, lamp.image_size, seed,
                                        progress=True)
        except FidelityError as e:
            raise LampCommandError(str(e)) from None
        what = f"the simulator ({settings.preset or 'its settings'}, palette {settings.palette})"
    if frames.shape[1] != lamp.image_size:
        raise LampCommandError(f"the data's frames are {frames.shape[1]} pixels wide, the lamp's "
                               f"{lamp.image_size}.")
    try:
        fitted = COLOUR_PARTS[parts]
        generator = with_fitted_colours(lamp.generator, lamp.rnn, frames,
                                        place="place" in fitted, off_line="off-line" in fitted)
    except (MetricsError, ValueError) as e:
        raise LampCommandError(f"the colours cannot be fitted: {e}.") from None
    curve = generator.colour_curve
    record = {"data": what, "knots": len(curve.knots_from), "parts": parts}
    if curve.shrink is not None:
        record["off_line_scale"] = round(float(curve.shrink), 4)
    return generator, record


def _share(args) -> float:
    return 0.5 if args.share is None else args.share


def blend_with(lamp, args) -> dict:
    """Blend ``lamp``'s weights with those of the lamp at ``args.blend``; returns the record of it."""
    from .checkpoint import load_lamp
    from .lamp_blend import BlendError, blend

    if not args.blend.is_file():
        raise LampCommandError(f"{args.blend} is not a file.")
    if args.blend.resolve() == args.path.resolve():
        raise LampCommandError("--blend must name another lamp, not the one it is blended into.")
    if lamp.generator.colour_curve is not None and not args.fit_colours:
        raise LampCommandError(f"{args.path} has a colour curve fitted to its own colours; pass --fit-colours "
                               "to fit the blend's again.")
    other = load_lamp(args.blend)
    try:
        blend(lamp, other, _share(args))
    except BlendError as e:
        raise LampCommandError(f"{e}.") from None
    return {"with": str(args.blend), "share": _share(args), "steps": int(other.meta.get("steps", 0)),
            "command": str(other.meta.get("command") or "?")}


def retune(args) -> dict:
    """Write the changed copy; returns its meta as read back. Raises LampCommandError or CheckpointError."""
    from dataclasses import replace

    from .checkpoint import load_lamp, save_lamp

    lamp = load_lamp(args.path)
    changed = _changes(args, lamp.rnn.config)
    to_fp16 = args.fp16 and lamp.meta.get("dtype") != "float16"
    if not changed and not to_fp16 and not args.fit_colours and args.blend is None:
        raise LampCommandError(f"{args.path} already plays with those settings; nothing to write.")
    try:
        lamp.rnn.config = replace(lamp.rnn.config, **{k: new for k, (_, new) in changed.items()})
    except ValueError as e:
        raise LampCommandError(f"{e}.") from None
    out = args.out
    if out.resolve() == args.path.resolve():
        raise LampCommandError("--out must be a new file, not the lamp it is made from.")
    if args.blend is not None and out.resolve() == args.blend.resolve():
        raise LampCommandError("--out must be a new file, not the lamp blended in.")
    if out.exists() and not args.force:
        raise LampCommandError(f"{out} exists; pass --force to replace it.")
    if out.exists() and not out.is_file():
        raise LampCommandError(f"{out} is not a file.")
    meta = {k: v for k, v in lamp.meta.items() if k not in ("generator", "rnn", "dtype")}
    entry = {"changed": changed, "command": _command(args),
             "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    if to_fp16:
        entry["dtype"] = "float16"
    if args.blend is not None:
        entry["blended"] = blend_with(lamp, args)
    generator = lamp.generator
    if args.fit_colours:
        generator, entry["colours"] = fit_colours(lamp, args.data, args.fit_colours)
    meta["retuned"] = [*retuned(lamp.meta), entry]
    save_lamp(out, generator, lamp.rnn, meta, fp16=args.fp16 or lamp.meta.get("dtype") == "float16")
    return load_lamp(out).meta  # what was written reads back as a lamp


def run(args) -> int:
    from .checkpoint import CheckpointError, read_lamp_header

    changing = (any(getattr(args, name) is not None for name in PLAYBACK) or args.fp16 or args.fit_colours
                or args.blend is not None)
    try:
        if changing and args.out is None:
            raise LampCommandError("pass --out NEW: a lamp is changed into a copy, never in place.")
        if not changing and args.out is not None:
            raise LampCommandError("--out needs something to change: --drive, --wander, --warmup, --fp16, "
                                   "--fit-colours or --blend.")
        if args.share is not None and args.blend is None:
            raise LampCommandError("--share is the part of the lamp --blend names; pass both or neither.")
        if args.data is not None and not args.fit_colours:
            raise LampCommandError("--data is what --fit-colours fits to; pass both or neither.")
        if not args.path.is_file():
            raise LampCommandError(f"{args.path} is not a file.")
        path = args.out if changing else args.path
        meta = retune(args) if changing else read_lamp_header(path)
    except (LampCommandError, CheckpointError) as e:
        print(f"duralava lamp: {e}", file=sys.stderr)
        return 1
    if changing:
        print(f"wrote {path}")
    rows = describe(path, meta)
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    return 0
