"""Generic window glue: a pyglet GL 3.3 core window with moderngl and Dear ImGui (imgui-bundle).

Knows nothing about lamps. It fixes the pyglet backend's gotchas (its frame time
is computed wrongly, so ``io.delta_time`` is set here), keeps fullscreen and monitor
changes from crashing (a monitor that went away means windowed), and reads the back
buffer for screenshots.
"""
from __future__ import annotations

import sys
import time

import pyglet

# Faster, and ctx.screen.read() leaves a GL error that a debug_gl call would raise later.
pyglet.options["debug_gl"] = False

import moderngl  # noqa: E402
import numpy as np  # noqa: E402
from pyglet.window import Window  # noqa: E402


class WindowError(RuntimeError):
    """The window could not be opened; str() is one sentence."""


def screens() -> list:
    return list(pyglet.display.get_display().get_screens())


def pick_screen(index: int | None):
    """Screen ``index`` (0 is the first), or the default one if it is not there (with a note)."""
    found = screens()
    if index is None:
        return pyglet.display.get_display().get_default_screen(), ""
    if 0 <= index < len(found):
        return found[index], ""
    return (pyglet.display.get_display().get_default_screen(),
            f"there is no monitor {index} (found {len(found)}); using the default one.")


class GLWindow(Window):
    """A resizable window with a moderngl context, and optionally an ImGui layer on top."""

    def __init__(self, size: tuple[int, int] = (960, 720), caption: str = "window",
                 fullscreen: bool = False, monitor: int | None = None, ui: bool = True,
                 vsync: bool = True):
        screen, self.screen_note = pick_screen(monitor)
        config = pyglet.gl.Config(major_version=3, minor_version=3, forward_compatible=True,
                                  double_buffer=True, depth_size=0)
        try:
            # Fullscreen takes the monitor's own size; a size here would ask for a mode switch.
            width, height = (None, None) if fullscreen else size
            super().__init__(width=width, height=height, caption=caption, resizable=True,
                             config=config, vsync=vsync, screen=screen, fullscreen=fullscreen,
                             file_drops=True)
        except (pyglet.window.NoSuchConfigException, pyglet.gl.ContextException) as exc:
            raise WindowError(f"this display cannot give an OpenGL 3.3 core context: {exc}.") from None
        self.home_screen = screen
        self.windowed_size = size
        self.ctx = moderngl.create_context()
        self.ui = ui
        self._impl = None
        self._last_ui = time.perf_counter()
        if ui:
            from imgui_bundle import imgui, implot
            from imgui_bundle.python_backends import pyglet_backend

            imgui.create_context()
            implot.create_context()
            imgui.get_io().set_ini_filename("")  # no imgui.ini dropped into the working folder
            self._impl = pyglet_backend.create_renderer(self)
        if fullscreen:
            self.set_mouse_visible(not self.kiosk)

    kiosk = False  # a subclass sets it: no cursor in fullscreen

    # -- ImGui frame -------------------------------------------------------------------
    def begin_ui(self) -> None:
        from imgui_bundle import imgui

        io = imgui.get_io()
        now = time.perf_counter()
        # The backend's process_inputs() treats a tick delta as a timestamp; time it here.
        io.delta_time = min(max(now - self._last_ui, 1e-4), 0.5)
        self._last_ui = now
        io.display_size = self.get_size()
        imgui.new_frame()

    def end_ui(self) -> None:
        from imgui_bundle import imgui

        imgui.render()
        self._impl.render(imgui.get_draw_data())

    def ui_wants_keys(self) -> bool:
        if not self.ui:
            return False
        from imgui_bundle import imgui

        return imgui.get_io().want_text_input

    # -- fullscreen --------------------------------------------------------------------
    def toggle_fullscreen(self) -> str:
        """Switch fullscreen on the window's monitor; returns a note if it fell back to windowed."""
        want = not self.fullscreen
        screen = self.home_screen
        note = ""
        if want and not any(_same_screen(screen, s) for s in screens()):
            want, note = False, "the monitor went away; staying windowed."
        try:
            if want:
                self.set_fullscreen(True, screen=screen)
            else:
                self.set_fullscreen(False, width=self.windowed_size[0], height=self.windowed_size[1])
        except Exception as exc:  # a driver or a vanished screen must not end the lamp
            note = f"fullscreen failed ({exc}); staying windowed."
            try:
                self.set_fullscreen(False)
            except Exception:
                pass
        self.set_mouse_visible(not (self.fullscreen and self.kiosk))
        return note

    def check_monitor(self) -> str:
        """Leave fullscreen if its monitor went away (unplugged, display reconfigured)."""
        if not self.fullscreen:
            return ""
        try:
            present = any(_same_screen(self.home_screen, s) for s in screens())
        except Exception:  # the display server is busy reconfiguring; look again later
            return ""
        if present:
            return ""
        self.home_screen = pyglet.display.get_display().get_default_screen()
        try:
            self.set_fullscreen(False, width=self.windowed_size[0], height=self.windowed_size[1])
        except Exception:
            pass
        self.set_mouse_visible(True)
        return "the fullscreen monitor went away; back to a window."

    # -- pixels ------------------------------------------------------------------------
    def read_back(self) -> np.ndarray:
        """The back buffer as uint8 (H, W, 3), rows top-first: call before the flip."""
        width, height = self.get_framebuffer_size()
        data = self.ctx.screen.read(viewport=(0, 0, width, height), components=3, alignment=1)
        # The read leaves a stale GL error behind that PyOpenGL (the panel) would raise later.
        for _ in range(8):
            if self.ctx.error == "GL_NO_ERROR":
                break
        return np.frombuffer(data, np.uint8).reshape(height, width, 3)[::-1].copy()

    def shutdown_ui(self) -> None:
        if self._impl is not None:
            from imgui_bundle import imgui, implot

            self._impl.shutdown()
            implot.destroy_context()
            imgui.destroy_context()
            self._impl = None


def _same_screen(a, b) -> bool:
    return (a.x, a.y, a.width, a.height) == (b.x, b.y, b.width, b.height)


def warn(text: str) -> None:
    if text:
        print(f"duralava-viewer: {text}", file=sys.stderr)
