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
    '{"advect_substeps": 1, "cap_temperature": 0.0, "conductivity": 0.03, "cooling": 0.06, "cooling_rows": 7, "dt": 2.0, "flicker": 0.25, "glass_cooling": 0.0005, "glass_top": 0.55, "heat": 0.02, "heat_rows": 3, "heat_width": 0.15, "interface": 1.0, "liquid_expansion": 0.004, "max_speed": 0.45, "mobility": 0.02, "neutral_temperature": 0.5, "nx": 36, "ny": 56, "surface_tension": 0.45, "viscosity": 1.0, "wall_repulsion": 2.0, "wax_expansion": 0.05, "wax_fraction": 0.16, "wax_stiffness": 0.6}':
        [1.3622, 1.2678, 1.0856, 0.8302, 0.6868, 0.6079, 0.5647, 0.5414, 0.5293, 0.524, 0.5229, 0.5246, 0.5279, 0.5324, 0.5376, 0.5433, 0.5494, 0.5557, 0.5621, 0.5684, 0.5743, 0.5796, 0.5841, 0.5876, 0.5902, 0.5919, 0.593, 0.5936, 0.5938, 0.5933, 0.592, 0.5896, 0.5861, 0.5814, 0.5755, 0.5686, 0.5605, 0.5516, 0.5416, 0.5305, 0.5179, 0.5037, 0.4872, 0.4676, 0.4437, 0.4134, 0.373, 0.316, 0.2286, 0.0839, 0.0295, 0.0099, 0.0032, 0.001, 0.0003, 0.0001],
    # overheated
    '{"advect_substeps": 1, "cap_temperature": 0.0, "conductivity": 0.03, "cooling": 0.08, "cooling_rows": 7, "dt": 2.0, "flicker": 0.25, "glass_cooling": 0.0005, "glass_top": 0.55, "heat": 0.035, "heat_rows": 3, "heat_width": 0.15, "interface": 1.0, "liquid_expansion": 0.004, "max_speed": 0.45, "mobility": 0.025, "neutral_temperature": 0.45, "nx": 36, "ny": 56, "surface_tension": 0.2, "viscosity": 1.0, "wall_repulsion": 2.0, "wax_expansion": 0.1, "wax_fraction": 0.16, "wax_stiffness": 0.0}':
        [1.5337, 1.3423, 1.0159, 0.6412, 0.4786, 0.4081, 0.3776, 0.3646, 0.3594, 0.3583, 0.3599, 0.3632, 0.3674, 0.3718, 0.376, 0.3798, 0.3831, 0.3866, 0.3907, 0.3954, 0.4006, 0.4062, 0.4121, 0.4184, 0.4253, 0.4328, 0.4412, 0.4505, 0.4608, 0.4717, 0.4833, 0.4956, 0.5087, 0.5225, 0.5367, 0.5507, 0.5634, 0.574, 0.582, 0.5872, 0.5897, 0.5896, 0.587, 0.5812, 0.5706, 0.5525, 0.5229, 0.4736, 0.3801, 0.1572, 0.0628, 0.0241, 0.0088, 0.003, 0.0009, 0.0003],
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
