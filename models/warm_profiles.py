"""Measured warm temperature profiles of the preset lamps (see simulator.warm_profile).

Keyed by the lamp's parameters (as JSON), so a changed preset simply misses
here and is measured afresh. Regenerate with
``python -m duralava.models.warm_profiles``.
"""
from __future__ import annotations

PROFILES: dict[str, list[float]] = {
    # classic
    '{"advect_substeps": 1, "cap_temperature": 0.0, "conductivity": 0.05, "cooling": 0.06, "cooling_rows": 7, "dt": 2.0, "flicker": 0.25, "glass_cooling": 0.0005, "glass_top": 0.55, "heat": 0.02, "heat_rows": 3, "heat_width": 0.15, "interface": 1.0, "liquid_expansion": 0.004, "max_speed": 0.45, "mobility": 0.015, "neutral_temperature": 0.5, "nx": 36, "ny": 56, "surface_tension": 0.45, "viscosity": 1.0, "wall_repulsion": 2.0, "wax_expansion": 0.05, "wax_fraction": 0.18, "wax_stiffness": 0.6}':
        [1.254, 1.1926, 1.0695, 0.8857, 0.7662, 0.6906, 0.6432, 0.6139, 0.5962, 0.586, 0.581, 0.5793, 0.5799, 0.5822, 0.5854, 0.5894, 0.5936, 0.5978, 0.6018, 0.6054, 0.6085, 0.6112, 0.6132, 0.6147, 0.6154, 0.6154, 0.6147, 0.6132, 0.611, 0.608, 0.6043, 0.5999, 0.5946, 0.5884, 0.5812, 0.5727, 0.5629, 0.5517, 0.5389, 0.5244, 0.5077, 0.4886, 0.4663, 0.4399, 0.4083, 0.3698, 0.3219, 0.2609, 0.1808, 0.0741, 0.03, 0.0119, 0.0046, 0.0018, 0.0007, 0.0003],
    # overheated
    '{"advect_substeps": 1, "cap_temperature": 0.0, "conductivity": 0.05, "cooling": 0.08, "cooling_rows": 7, "dt": 2.0, "flicker": 0.25, "glass_cooling": 0.0005, "glass_top": 0.55, "heat": 0.035, "heat_rows": 3, "heat_width": 0.15, "interface": 1.0, "liquid_expansion": 0.004, "max_speed": 0.45, "mobility": 0.01, "neutral_temperature": 0.45, "nx": 36, "ny": 56, "surface_tension": 0.15, "viscosity": 1.0, "wall_repulsion": 2.0, "wax_expansion": 0.1, "wax_fraction": 0.18, "wax_stiffness": 0.0}':
        [1.4425, 1.2951, 1.029, 0.6951, 0.5115, 0.4177, 0.3704, 0.3474, 0.3369, 0.3326, 0.3317, 0.3329, 0.3352, 0.3384, 0.3422, 0.3465, 0.3514, 0.357, 0.3633, 0.3703, 0.378, 0.3863, 0.3953, 0.4049, 0.4151, 0.4258, 0.4369, 0.4487, 0.4609, 0.4736, 0.4866, 0.4995, 0.5119, 0.5234, 0.5335, 0.5421, 0.5491, 0.5548, 0.5593, 0.5625, 0.5643, 0.5641, 0.5614, 0.5554, 0.5451, 0.5289, 0.503, 0.4578, 0.3695, 0.1713, 0.0791, 0.035, 0.0149, 0.006, 0.0023, 0.001],
}


def _regenerate() -> str:
    import math

    from .simulator import PRESETS, _params_key, measure_warm_profile

    lines = []
    for name, params in PRESETS.items():
        profile = measure_warm_profile(params)
        if not all(math.isfinite(v) for v in profile):
            raise SystemExit(f"the {name} lamp is numerically unstable; nothing written.")
        lines.append(f"    # {name}\n    {_params_key(params)!r}:\n        {profile!r},")
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
