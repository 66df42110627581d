"""Panel section: the lamp's motion: noise, kick, reseed, tick rate, pause and single step."""
from __future__ import annotations

from imgui_bundle import imgui


class ControlsWidget:
    def __init__(self, app):
        self.app = app
        self.noise = app.engine.config.noise
        self.kick = app.engine.config.kick
        self.seed = app.engine.seed
        self.rate = app.engine.config.tick_rate

    def __call__(self) -> None:
        app = self.app
        engine = app.engine
        changed, self.noise = imgui.slider_float("inject noise", self.noise, 0.0, 2.0, "%.2f")
        if changed:
            engine.set_noise(self.noise)
        drive = engine.lamp.rnn.config.drive
        if drive > 0 and imgui.is_item_hovered():
            imgui.set_tooltip(f"added to the lamp's own drive ({drive:.2f}): its motion is noise-driven")
        _, self.kick = imgui.slider_float("kick size", self.kick, 0.05, 3.0, "%.2f")
        if imgui.button("kick (N)"):
            engine.kick(self.kick)
        imgui.same_line()
        if imgui.button("reseed (R)"):
            app.reseed()
        imgui.same_line()
        imgui.set_next_item_width(6 * imgui.get_font_size())
        changed, self.seed = imgui.input_int("seed", self.seed)
        if changed:
            engine.reseed(self.seed)
        changed, self.rate = imgui.slider_float("tick rate (Hz)", self.rate, 0.5, app.max_tick_rate(), "%.1f",
                                                imgui.SliderFlags_.logarithmic)
        if changed:
            engine.set_tick_rate(self.rate)
        changed, paused = imgui.checkbox("pause (Space)", app.paused)
        if changed:
            app.set_paused(paused)
        imgui.same_line()
        if imgui.button("single step"):
            engine.step()

    def sync(self) -> None:
        """Take what keys changed behind the panel's back."""
        self.seed = self.app.engine.seed
