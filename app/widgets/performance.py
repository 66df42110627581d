"""Panel section: how fast things run: draw rate, frame times, tick time, engine CPU use."""
from __future__ import annotations

from collections import deque

import numpy as np
from imgui_bundle import imgui, implot


class PerformanceWidget:
    def __init__(self, app, frames: int = 600):
        self.app = app
        self.frame_ms: deque[float] = deque(maxlen=frames)

    def add_frame(self, seconds: float) -> None:
        self.frame_ms.append(seconds * 1e3)

    def fps(self) -> float:
        if not self.frame_ms:
            return 0.0
        return 1e3 / max(float(np.median(np.fromiter(self.frame_ms, float))), 1e-3)

    def __call__(self) -> None:
        app = self.app
        last = app.last
        imgui.text(f"draw {self.fps():5.1f} fps   window {app.width}x{app.height}")
        if last is not None:
            imgui.text(f"tick {last.tick}  {last.tick_ms:5.1f} ms  every {last.interval * 1e3:.0f} ms  "
                       f"in-betweens {0 if last.inbetweens is None else len(last.inbetweens)}")
        imgui.text(f"engine CPU {app.engine_cpu_share() * 100:4.1f}% of a core on {app.engine.device}")
        if last is not None and last.repairs:
            imgui.text_colored(imgui.ImVec4(1, 0.8, 0.3, 1), f"latents repaired: {last.repairs}")
        if self.frame_ms:
            ys = np.fromiter(self.frame_ms, np.float64)
            if implot.begin_plot("##frame times", imgui.ImVec2(-1, 6 * imgui.get_font_size()),
                                 implot.Flags_.no_mouse_text | implot.Flags_.no_legend):
                implot.setup_axes("", "ms", implot.AxisFlags_.no_tick_labels, implot.AxisFlags_.auto_fit)
                implot.setup_axis_limits(implot.ImAxis_.x1, 0, len(ys), implot.Cond_.always)
                implot.plot_line("frame ms", ys)
                implot.end_plot()
