"""The lamp's window: wires the Engine, the Renderer and the panel together, and handles keys.

Drawing runs at the display rate and never waits on torch: each frame takes the
newest tick result if there is one, uploads it, and draws the lamp as it is at
this moment (the renderer interpolates between ticks). The panel's widgets read
the last result and send commands to the engine.
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from .gl_window import GLWindow, WindowError, warn  # first: it sets pyglet's options

import pyglet  # noqa: E402
from pyglet.window import key  # noqa: E402

RECENT_MAX = 8
RECORD_SIZE = (720, 720)


def _config_file() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "duralava" / "viewer.json"


def load_recent() -> list[str]:
    try:
        recent = json.loads(_config_file().read_text(encoding="utf-8")).get("recent", [])
        return [str(p) for p in recent if isinstance(p, str)][:RECENT_MAX]
    except (OSError, ValueError, AttributeError):
        return []


def save_recent(recent: list[str]) -> None:
    path = _config_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".json.part")
        tmp.write_text(json.dumps({"recent": recent[:RECENT_MAX]}, indent=1), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass  # remembering recent files is a convenience, never a reason to stop


class LampWindow(GLWindow):
    def __init__(self, engine, args):
        from .renderer import Renderer

        size = args.size or (960, 720)
        self.kiosk = args.no_ui
        super().__init__(size, "duralava", fullscreen=args.fullscreen, monitor=args.monitor,
                         ui=not args.no_ui)
        warn(self.screen_note)
        self.engine = engine
        self.renderer = Renderer(self.ctx, engine.lamp.image_size, upscaler=args.upscaler,
                                 interpolation=args.interpolation)
        self.args = args
        self.last = None
        self.now = time.perf_counter()
        self.paused = False
        self.show_panel = not args.no_ui
        self.recent = load_recent()
        self.capture_folder = str(Path.cwd())
        self.last_capture = ""
        self.recorder = None
        self._record_target = None
        self._want_screenshot = ""
        self._last_draw = None
        self._cpu_mark = (time.perf_counter(), 0.0, 0.0)
        self._panel_right = 0.0
        self._reported = ("", engine.message)  # the start-up notice is already on stderr
        if self.ui:
            self._make_widgets()
        pyglet.clock.schedule_interval(self._watch_monitor, 2.0)
        if args.exit_after:
            pyglet.clock.schedule_once(lambda dt: self._exit_soon(), args.exit_after)
        self._exiting = ""
        if self.kiosk:
            self.set_mouse_visible(False)

    def _make_widgets(self) -> None:
        from .widgets.capture import CaptureWidget
        from .widgets.checkpoint import CheckpointWidget
        from .widgets.controls import ControlsWidget
        from .widgets.latent import LatentHistory, LatentWidget
        from .widgets.look import LookWidget
        from .widgets.performance import PerformanceWidget

        self.history = LatentHistory()
        self.perf = PerformanceWidget(self)
        self.controls = ControlsWidget(self)
        self.sections = [
            ("Lamp", CheckpointWidget(self), True),
            ("Motion", self.controls, True),
            ("Latent", LatentWidget(self), True),
            ("Look", LookWidget(self), False),
            ("Capture", CaptureWidget(self), False),
            ("Performance", self.perf, False),
        ]

    # -- actions (keys and panel) ------------------------------------------------------
    @staticmethod
    def warn(text: str) -> None:
        warn(text)

    def reseed(self) -> None:
        self.engine.reseed()

    def set_paused(self, paused: bool) -> None:
        self.paused = paused
        self.engine.set_paused(paused)

    def set_interpolation(self, mode: str) -> None:
        self.renderer.interpolation = mode
        self.engine.set_inbetweens(mode == "latent")
        self.engine.set_flow(mode == "flow")

    def max_tick_rate(self) -> float:
        """What the device sustains: leave the engine half of one core at most."""
        if self.last is None or self.last.tick_ms <= 0:
            return 30.0
        return float(min(120.0, max(10.0, 500.0 / self.last.tick_ms)))

    def load(self, path: str) -> None:
        path = str(Path(path).expanduser())
        self.engine.load(path)
        if path in self.recent:
            self.recent.remove(path)
        self.recent.insert(0, path)
        del self.recent[RECENT_MAX:]
        save_recent(self.recent)

    def engine_cpu_share(self) -> float:
        t0, cpu0, share = self._cpu_mark
        now, cpu = time.perf_counter(), self.engine.thread_cpu_s
        if now - t0 >= 1.0:
            share = (cpu - cpu0) / (now - t0)
            self._cpu_mark = (now, cpu, share)
        return share

    def screenshot(self, path: str | None = None) -> None:
        """Saved at the end of this frame, before the flip: what is on screen, panel and all."""
        from .capture import timestamped

        self._want_screenshot = path or str(timestamped(self.capture_folder, "duralava", ".png"))

    def toggle_recording(self) -> None:
        from .capture import CaptureError, Recorder, timestamped
        from .renderer import Offscreen

        if self.recorder is not None:
            done = self.recorder.stop()
            dropped = self.recorder.dropped
            self.recorder = None
            self.last_capture = f"saved {done}" + (f" ({dropped} frames dropped)" if dropped else "") \
                if done else "the recording was empty or failed; nothing saved."
            return
        try:
            self.recorder = Recorder(timestamped(self.capture_folder, "duralava", ".mp4"), RECORD_SIZE)
            if self._record_target is None:
                self._record_target = Offscreen(self.ctx, RECORD_SIZE)
            self.last_capture = ""
        except CaptureError as exc:
            self.last_capture = str(exc)

    def _watch_monitor(self, dt) -> None:
        warn(self.check_monitor())

    def _exit_soon(self) -> None:
        self._exiting = "now"
        if self.args.screenshot_at_exit:
            self.screenshot(self.args.screenshot_at_exit)

    # -- events ------------------------------------------------------------------------
    def on_key_press(self, symbol, modifiers):
        if self.ui_wants_keys():
            return pyglet.event.EVENT_HANDLED
        if symbol in (key.F, key.F11):
            warn(self.toggle_fullscreen())
        elif symbol == key.H and not self.kiosk:
            self.show_panel = not self.show_panel
        elif symbol == key.SPACE:
            self.set_paused(not self.paused)
        elif symbol == key.R:
            self.reseed()
        elif symbol == key.N:
            self.engine.kick(getattr(getattr(self, "controls", None), "kick", None))
        elif symbol == key.S:
            self.screenshot()
        elif symbol == key.ESCAPE:
            if self.fullscreen:
                warn(self.toggle_fullscreen())
            else:
                self._close_soon()
        elif symbol == key.Q:
            self._close_soon()
        # Handled here in every case: pyglet's own Escape-closes must not also fire.
        return pyglet.event.EVENT_HANDLED

    def on_file_drop(self, x, y, paths):
        if paths:
            self.load(paths[0])

    def on_resize(self, width, height):
        # Nothing to rebuild: the renderer draws to whatever size the screen has this frame.
        return pyglet.event.EVENT_HANDLED

    def _close_soon(self) -> None:
        # Not from inside an event handler: the platform layer is still walking its event queue.
        if self._exiting != "closing":
            self._exiting = "closing"
            pyglet.clock.schedule_once(lambda dt: self.close(), 0)

    def close(self):
        """Every way out (Q, Esc, the title bar, --exit-after) ends here: finish files, stop ticks."""
        if getattr(self, "_closed", False):
            return
        self._closed = True
        pyglet.clock.unschedule(self._watch_monitor)
        if self.recorder is not None:
            self.toggle_recording()
        self.engine.stop()
        self.shutdown_ui()
        self.renderer.release()
        if self._record_target is not None:
            self._record_target.release()
        super().close()

    def on_draw(self):
        now = time.perf_counter()
        if self._last_draw is not None and self.ui:
            self.perf.add_frame(now - self._last_draw)
        self._last_draw = self.now = now
        result = self.engine.poll()
        if result is not None:
            self.last = result
            self.renderer.push(result.frames(), now=now, duration=result.interval, flow=result.flow)
            if self.ui:
                self.history.add(now, result)
                self.controls.sync()
            self._report(result)
        width, height = self.get_framebuffer_size()
        if width < 1 or height < 1:  # minimised
            return
        if self.renderer.has_frame:
            self.renderer.draw(self.ctx.screen, now, (width, height), self._lamp_area(width, height))
            if self.recorder is not None:
                self.renderer.draw(self._record_target.fbo, now)
                self.recorder.add(self._record_target.read())
        else:
            self.ctx.screen.use()
            self.ctx.clear(0.0, 0.0, 0.0, 1.0)
        self.ctx.screen.use()
        self.ctx.screen.viewport = (0, 0, width, height)
        if self.ui and self.show_panel:
            self._draw_panel()
        if self._want_screenshot:
            self._save_screenshot()
        if self._exiting == "now":
            self._close_soon()

    def _lamp_area(self, width: int, height: int):
        """Beside the panel when there is room for a good-sized lamp there, else the whole window."""
        if not (self.ui and self.show_panel) or self._panel_right <= 0:
            return None
        right = int(self._panel_right * width / max(self.width, 1))
        if width - right < 0.45 * width:
            return None
        return (right, 0, width - right, height)

    def _report(self, result) -> None:
        """New errors and notices go to stderr as well as the panel."""
        if (result.error, result.message) != self._reported:
            if result.error and result.error != self._reported[0]:
                warn(result.error)
            if result.message and result.message != self._reported[1]:
                print(f"duralava-viewer: {result.message}", file=sys.stderr)
            self._reported = (result.error, result.message)

    def _draw_panel(self) -> None:
        from imgui_bundle import imgui

        self.begin_ui()
        em = imgui.get_font_size()
        imgui.set_next_window_pos(imgui.ImVec2(0.5 * em, 0.5 * em), imgui.Cond_.first_use_ever)
        imgui.set_next_window_size(imgui.ImVec2(28 * em, self.height - em), imgui.Cond_.first_use_ever)
        imgui.set_next_window_bg_alpha(0.82)
        expanded = imgui.begin("duralava (H hides)")[0]
        pos, size = imgui.get_window_pos(), imgui.get_window_size()
        self._panel_right = pos.x + size.x if expanded else 0.0
        if expanded:
            last = self.last
            error = (last.error if last is not None else "") or self.renderer.error
            if error:
                imgui.push_text_wrap_pos(0)
                imgui.text_colored(imgui.ImVec4(1.0, 0.45, 0.35, 1.0), error)
                imgui.pop_text_wrap_pos()
            elif last is not None and last.message:
                imgui.push_text_wrap_pos(0)
                imgui.text_disabled(last.message)
                imgui.pop_text_wrap_pos()
            for title, widget, open_at_start in self.sections:
                flags = imgui.TreeNodeFlags_.default_open if open_at_start else 0
                if imgui.collapsing_header(title, flags):
                    imgui.push_id(title)
                    widget()
                    imgui.pop_id()
            imgui.separator()
            imgui.text_disabled("F fullscreen  H panel  Space pause  R reseed")
            imgui.text_disabled("N kick  S screenshot  Esc/Q quit")
        imgui.end()
        self.end_ui()

    def _save_screenshot(self) -> None:
        from .capture import CaptureError, save_png

        path, self._want_screenshot = self._want_screenshot, ""
        try:
            self.last_capture = f"saved {save_png(path, self.read_back())}"
            print(f"duralava-viewer: {self.last_capture}", file=sys.stderr)
        except CaptureError as exc:
            self.last_capture = str(exc)
            warn(str(exc))


def run(args) -> int:
    """Open the window and play until it closes; 1 with one sentence on a bad start."""
    from .engine import Engine, EngineConfig, EngineError, start_lamp

    try:
        device, lamp, name, message = start_lamp(args.device, args.checkpoint)
    except EngineError as exc:
        print(f"duralava-viewer: {exc}", file=sys.stderr)
        return 1
    warn(message)
    try:
        engine = Engine(lamp, EngineConfig(tick_rate=args.tick_rate, seed=args.seed, device=str(device),
                                           inbetweens=args.interpolation == "latent",
                                           flow=args.interpolation == "flow"), name, message)
        window = LampWindow(engine, args)
    except (EngineError, WindowError) as exc:
        print(f"duralava-viewer: {exc}", file=sys.stderr)
        return 1
    engine.start()
    try:
        pyglet.app.run(interval=1 / 60)
    except KeyboardInterrupt:
        window.close()
    finally:
        engine.stop()
    return 0
