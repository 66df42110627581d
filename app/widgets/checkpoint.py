"""Panel section: which lamp is playing, and loading another (path, recent files, file dialog)."""
from __future__ import annotations

from pathlib import Path

from imgui_bundle import imgui

from duralava.models.lamp_cmd import retuned, retuning


def about(meta: dict) -> list[str]:
    """Lines about the playing lamp from its file's metadata: training, how it plays, any retuning."""
    meta = meta if isinstance(meta, dict) else {}
    data = meta.get("data") if isinstance(meta.get("data"), dict) else {}
    rnn = meta.get("rnn") if isinstance(meta.get("rnn"), dict) else {}
    lines = [f"{meta.get('steps', 0)} training steps, data: {data.get('source', '?')}"]
    if "wander" in rnn:
        lines.append(f"plays with drive {rnn.get('drive', 0):g}, wander {rnn['wander']:g}")
    lines += ["retuned: " + retuning(entry) for entry in retuned(meta)]
    return lines


class CheckpointWidget:
    def __init__(self, app):
        self.app = app
        self.path = ""
        self._dialog = None
        self._dialog_failed = ""

    def __call__(self) -> None:
        app = self.app
        last = app.last
        if last is not None:
            imgui.text(f"playing: {last.lamp}")
            imgui.push_text_wrap_pos(0)                    # records of retunings run long
            for line in about(app.engine.lamp.meta):
                imgui.text_disabled(line)
            imgui.pop_text_wrap_pos()
        imgui.set_next_item_width(-5 * imgui.get_font_size())
        entered, self.path = imgui.input_text("##path", self.path, imgui.InputTextFlags_.enter_returns_true)
        imgui.same_line()
        if (imgui.button("load") or entered) and self.path.strip():
            app.load(self.path.strip())
        if imgui.button("open..."):
            self._open_dialog()
        if app.recent:
            imgui.same_line()
            if imgui.begin_combo("##recent", "recent", imgui.ComboFlags_.no_preview.value | 0):
                for path in app.recent:
                    if imgui.selectable(Path(path).name + f"##{path}", False)[0]:
                        self.path = path
                        app.load(path)
                    if imgui.is_item_hovered():
                        imgui.set_tooltip(path)
                imgui.end_combo()
            imgui.same_line()
            imgui.text("recent")
        imgui.text_disabled("or drop a .safetensors file on the window")
        self._poll_dialog()
        if self._dialog_failed:
            imgui.text_disabled(self._dialog_failed)

    def _open_dialog(self) -> None:
        try:
            from imgui_bundle import portable_file_dialogs as pfd

            self._dialog = pfd.open_file("Open a lamp", str(Path.cwd()),
                                         ["Lamp files", "*.safetensors", "All files", "*"])
        except Exception as exc:  # no zenity/kdialog on this system: the path field still works
            self._dialog, self._dialog_failed = None, f"no file dialog here ({exc}); type a path."

    def _poll_dialog(self) -> None:
        if self._dialog is None or not self._dialog.ready(0):
            return
        chosen = self._dialog.result()
        self._dialog = None
        if chosen:
            self.path = chosen[0]
            self.app.load(chosen[0])
