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
    '{"advect_substeps": 1, "cap_temperature": 0.0, "conductivity": 0.03, "cooling": 0.06, "cooling_rows": 7, "dt": 2.0, "flicker": 0.25, "glass_cooling": 0.0005, "glass_top": 0.55, "heat": 0.02, "heat_rows": 3, "heat_width": 0.15, "interface": 1.0, "liquid_expansion": 0.004, "max_speed": 0.45, "mobility": 0.02, "neutral_temperature": 0.5, "nx": 36, "ny": 56, "surface_tension": 0.45, "viscosity": 1.0, "wall_repulsion": 2.0, "wax_expansion": 0.05, "wax_fraction": 0.18, "wax_stiffness": 0.6}':
        [1.4881, 1.3793, 1.1727, 0.8935, 0.7348, 0.6469, 0.5983, 0.5719, 0.5578, 0.5511, 0.5487, 0.5491, 0.5512, 0.5544, 0.5584, 0.5628, 0.5675, 0.5725, 0.5775, 0.5824, 0.5871, 0.5915, 0.5956, 0.5993, 0.6027, 0.6055, 0.6076, 0.6088, 0.6088, 0.6077, 0.6055, 0.6023, 0.5983, 0.5935, 0.5881, 0.5819, 0.5748, 0.5666, 0.557, 0.5457, 0.5326, 0.517, 0.4986, 0.4764, 0.4495, 0.4155, 0.3714, 0.3107, 0.2212, 0.0794, 0.0274, 0.0091, 0.0029, 0.0009, 0.0003, 0.0001],
    # overheated
    '{"advect_substeps": 1, "cap_temperature": 0.0, "conductivity": 0.03, "cooling": 0.08, "cooling_rows": 7, "dt": 2.0, "flicker": 0.25, "glass_cooling": 0.0005, "glass_top": 0.55, "heat": 0.035, "heat_rows": 3, "heat_width": 0.15, "interface": 1.0, "liquid_expansion": 0.004, "max_speed": 0.45, "mobility": 0.025, "neutral_temperature": 0.45, "nx": 36, "ny": 56, "surface_tension": 0.2, "viscosity": 1.0, "wall_repulsion": 2.0, "wax_expansion": 0.1, "wax_fraction": 0.18, "wax_stiffness": 0.0}':
        [1.5374, 1.3769, 1.081, 0.7021, 0.5203, 0.4346, 0.3946, 0.3765, 0.3691, 0.3676, 0.3691, 0.372, 0.3752, 0.3784, 0.3814, 0.3843, 0.3877, 0.392, 0.3978, 0.4053, 0.4145, 0.4248, 0.4354, 0.4462, 0.4574, 0.4691, 0.4814, 0.4942, 0.5072, 0.5203, 0.5329, 0.5448, 0.5554, 0.5643, 0.5713, 0.5768, 0.5818, 0.5866, 0.591, 0.5944, 0.5962, 0.5955, 0.5919, 0.5851, 0.5743, 0.5578, 0.532, 0.4872, 0.3967, 0.1677, 0.0698, 0.0284, 0.0111, 0.0041, 0.0013, 0.0005],
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
