"""Warm starts: the temperature profile of a lamp that has run for a long time.

The heat budget takes thousands of steps to settle; starting every lamp from
the settled profile (plus a short settle for the flow) makes frame 0 look like
frame 100,000. Profiles of the preset lamps are stored below, keyed by the
lamp's parameters (as JSON), so a changed preset simply misses here and is
measured afresh, once per process (a few seconds). Regenerate the table with
``python -m duralava.models.warm_profiles``.
"""
from __future__ import annotations

import json

import numpy as np

_WARM_SAMPLES = (3000, 1500)     # steps to settle the heat budget, then to average over


def warm_profile(params) -> np.ndarray:
    """(ny,) mean temperature by row of a long-running lamp with these LampParams."""
    key = params_key(params)
    if key not in PROFILES:
        PROFILES[key] = measure_warm_profile(params)
    return np.asarray(PROFILES[key], np.float64)


def params_key(params) -> str:
    d = params.to_dict()
    d.pop("settle_steps")                 # does not change where the heat settles
    return json.dumps(d, sort_keys=True)


def measure_warm_profile(params, lamps: int = 2, seed: int = 987654) -> list[float]:
    from .simulator import LavaLamp

    settle, average = _WARM_SAMPLES
    lamp = LavaLamp(lamps, seed=seed, params=params, warm=False)
    lamp.step(settle)
    rows = []
    for _ in range(average // 100):
        lamp.step(100)
        rows.append(lamp.temperature.mean(axis=(1, 2)))
    return [round(float(v), 4) for v in np.mean(rows, axis=0)]


PROFILES: dict[str, list[float]] = {
    # classic
    '{"advect_substeps": 1, "cap_temperature": 0.0, "conductivity": 0.03, "cooling": 0.06, "cooling_rows": 7, "dt": 2.0, "flicker": 0.25, "glass_cooling": 0.0005, "glass_top": 0.55, "heat": 0.02, "heat_rows": 3, "heat_width": 0.15, "interface": 1.0, "liquid_expansion": 0.004, "max_speed": 0.45, "mobility": 0.02, "neutral_temperature": 0.5, "nx": 36, "ny": 56, "surface_tension": 0.45, "viscosity": 1.0, "wall_repulsion": 2.0, "wax_conductivity": 0.03, "wax_expansion": 0.05, "wax_fraction": 0.16, "wax_stiffness": 0.6}':
        [1.4817, 1.3766, 1.1746, 0.8972, 0.738, 0.6493, 0.6004, 0.5741, 0.5604, 0.554, 0.5519, 0.5528, 0.5557, 0.5598, 0.5648, 0.5701, 0.5755, 0.5807, 0.5856, 0.5901, 0.5942, 0.598, 0.6014, 0.6043, 0.6068, 0.6086, 0.6096, 0.6096, 0.6086, 0.6066, 0.6035, 0.5997, 0.5951, 0.5899, 0.5843, 0.578, 0.571, 0.5631, 0.5539, 0.543, 0.5301, 0.5146, 0.4961, 0.4737, 0.4464, 0.4123, 0.3681, 0.3076, 0.2189, 0.0785, 0.0271, 0.0091, 0.0029, 0.0009, 0.0003, 0.0001],
    # overheated
    '{"advect_substeps": 1, "cap_temperature": 0.0, "conductivity": 0.03, "cooling": 0.08, "cooling_rows": 7, "dt": 2.0, "flicker": 0.25, "glass_cooling": 0.0005, "glass_top": 0.55, "heat": 0.035, "heat_rows": 3, "heat_width": 0.15, "interface": 1.0, "liquid_expansion": 0.004, "max_speed": 0.45, "mobility": 0.05, "neutral_temperature": 0.45, "nx": 36, "ny": 56, "surface_tension": 0.2, "viscosity": 1.0, "wall_repulsion": 2.0, "wax_conductivity": 0.005, "wax_expansion": 0.1, "wax_fraction": 0.15, "wax_stiffness": 0.0}':
        [1.5785, 1.4193, 1.1179, 0.7195, 0.5329, 0.4519, 0.4202, 0.4084, 0.4055, 0.4066, 0.4094, 0.4131, 0.4173, 0.4221, 0.4274, 0.4334, 0.4398, 0.4464, 0.4529, 0.4594, 0.4654, 0.471, 0.4764, 0.4821, 0.4884, 0.4955, 0.5033, 0.5118, 0.5207, 0.5294, 0.5378, 0.5461, 0.5549, 0.5651, 0.5769, 0.5899, 0.6037, 0.6179, 0.6321, 0.6462, 0.6596, 0.6709, 0.6782, 0.6793, 0.6729, 0.6576, 0.63, 0.5789, 0.4671, 0.1823, 0.07, 0.0262, 0.0094, 0.0031, 0.0009, 0.0003],
}


def _regenerate() -> str:
    import math

    from .simulator import PRESETS

    lines = []
    for name, params in PRESETS.items():
        profile = measure_warm_profile(params)
        if not all(math.isfinite(v) for v in profile):
            raise SystemExit(f"the {name} lamp is numerically unstable; nothing written.")
        lines.append(f"    # {name}\n    {params_key(params)!r}:\n        {profile!r},")
    return "PROFILES: dict[str, list[float]] = {\n" + "\n".join(lines) + "\n}\n"


if __name__ == "__main__":
    import pathlib
    import re

    from .lamp_frames import single_thread_blas

    single_thread_blas()
    path = pathlib.Path(__file__)
    text = path.read_text()
    text = re.sub(r"PROFILES: dict\[str, list\[float\]\] = \{(\}|.*?\n\})\n", _regenerate(), text, flags=re.S)
    path.write_text(text)
