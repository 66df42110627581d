"""Panel section: screenshots (PNG) and recordings (MP4) of the lamp."""
from __future__ import annotations

from imgui_bundle import imgui


class CaptureWidget:
    def __init__(self, app):
        self.app = app

    def __call__(self) -> None:
        app = self.app
        _, app.capture_folder = imgui.input_text("folder", app.capture_folder)
        if imgui.button("screenshot (S)"):
            app.screenshot()
        imgui.same_line()
        recording = app.recorder is not None
        if imgui.button("stop recording" if recording else "record MP4"):
            app.toggle_recording()
        if recording:
            imgui.same_line()
            imgui.text_colored(imgui.ImVec4(1, 0.3, 0.3, 1), f"REC {app.recorder.seconds():.0f}s")
        if app.last_capture:
            imgui.text_disabled(app.last_capture)
