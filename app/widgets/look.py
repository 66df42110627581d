"""Panel section: how the lamp is drawn: interpolation, upscaler, colour, and which screen."""
from __future__ import annotations

import math

from imgui_bundle import imgui

from ..renderer import INTERPOLATIONS, UPSCALERS


class LookWidget:
    def __init__(self, app):
        self.app = app

    def __call__(self) -> None:
        app = self.app
        r = app.renderer
        modes = list(INTERPOLATIONS)
        changed, i = imgui.combo("between ticks", modes.index(r.interpolation), modes)
        if changed:
            app.set_interpolation(modes[i])
        names = list(UPSCALERS)
        labels = [UPSCALERS[n].label or n for n in names]
        current = names.index(r.upscaler) if r.upscaler in names else 0
        changed, i = imgui.combo("upscaler", current, labels)
        if changed:
            r.upscaler = names[i]
        look = r.look
        _, deg = imgui.slider_float("hue", math.degrees(look.hue), -180.0, 180.0, "%.0f deg")
        look.hue = math.radians(deg)
        _, look.saturation = imgui.slider_float("saturation", look.saturation, 0.0, 2.0, "%.2f")
        _, look.brightness = imgui.slider_float("brightness", look.brightness, 0.2, 2.0, "%.2f")
        _, look.glow = imgui.slider_float("glow", look.glow, 0.0, 1.0, "%.2f")
        if imgui.button("reset colours"):
            look.hue, look.saturation, look.brightness, look.glow = 0.0, 1.0, 1.0, 0.0
        self._screens()

    def _screens(self) -> None:
        from ..gl_window import screens

        app = self.app
        found = screens()
        labels = [f"monitor {i}: {s.width}x{s.height}" for i, s in enumerate(found)]
        current = next((i for i, s in enumerate(found) if (s.x, s.y, s.width, s.height) ==
                        (app.home_screen.x, app.home_screen.y, app.home_screen.width,
                         app.home_screen.height)), 0)
        changed, i = imgui.combo("monitor", current, labels)
        if changed:
            app.home_screen = found[i]
        changed, on = imgui.checkbox("fullscreen (F)", app.fullscreen)
        if changed and on != app.fullscreen:
            app.warn(app.toggle_fullscreen())
