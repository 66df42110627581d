"""Panel section: the latent's four moments over the last minutes, and z against N(0, 1)."""
from __future__ import annotations

import math
from collections import deque

import numpy as np
from imgui_bundle import imgui, implot

HISTORY_S = 180.0  # the plots cover the last three minutes
BANDS = {"mean": (0.0, -0.5, 0.5), "std": (1.0, 0.5, 1.5), "skew": (0.0, -1.0, 1.0), "kurt": (3.0, 1.0, 5.0)}


class LatentHistory:
    """Moments of the recent ticks, by wall time; bounded so it never grows."""

    def __init__(self, seconds: float = HISTORY_S, max_ticks: int = 20_000):
        self.seconds = seconds
        self.times: deque[float] = deque(maxlen=max_ticks)
        self.values = {k: deque(maxlen=max_ticks) for k in BANDS}

    def add(self, t: float, result) -> None:
        self.times.append(t)
        for k in BANDS:
            self.values[k].append(getattr(result, k))
        while self.times and self.times[0] < t - self.seconds:
            self.times.popleft()
            for d in self.values.values():
                d.popleft()

    def arrays(self, now: float) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        xs = np.fromiter(self.times, np.float64, len(self.times)) - now  # seconds ago (negative)
        return xs, {k: np.fromiter(v, np.float64, len(v)) for k, v in self.values.items()}


class LatentWidget:
    def __init__(self, app):
        self.app = app
        self.grid = np.linspace(-4, 4, 81)
        self.normal = np.exp(-0.5 * self.grid ** 2) / math.sqrt(2 * math.pi)

    def __call__(self) -> None:
        app, em = self.app, imgui.get_font_size()
        xs, values = app.history.arrays(app.now)
        last = app.last
        if last is not None:
            imgui.text(f"mean {last.mean:+.3f}  std {last.std:.3f}  skew {last.skew:+.2f}  kurt {last.kurt:.2f}")
        width = imgui.get_content_region_avail().x
        if implot.begin_plot("##moments", imgui.ImVec2(width, 12 * em), implot.Flags_.no_mouse_text):
            implot.setup_axes("seconds ago", "", 0, implot.AxisFlags_.auto_fit)
            span = min(app.history.seconds, max(10.0, -float(xs[0]) if len(xs) else 0.0))
            implot.setup_axis_limits(implot.ImAxis_.x1, -span, 0, implot.Cond_.always)
            if len(xs):
                for name, ys in values.items():
                    target = BANDS[name][0]
                    # Drawn as distance from N(0,1)'s value so all four share one axis.
                    implot.plot_line(f"{name} - {target:g}" if target else name, xs, ys - target)
            implot.end_plot()
        if last is not None and implot.begin_plot("z against N(0, 1)", imgui.ImVec2(width, 9 * em),
                                                  implot.Flags_.no_mouse_text):
            implot.setup_axes("", "", 0, 0)
            implot.setup_axes_limits(-4, 4, 0, 0.6, implot.Cond_.always)
            implot.plot_histogram("z", np.ascontiguousarray(last.z, np.float64), 16,
                                  1.0, implot.Range(-4, 4),
                                  _spec(flags=implot.HistogramFlags_.density))
            implot.plot_line("N(0,1)", self.grid, self.normal)
            implot.end_plot()


def _spec(**kw):
    spec = implot.Spec()
    for k, v in kw.items():
        setattr(spec, k, v)
    return spec
