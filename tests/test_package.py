"""The installed layout: everything under the `duralava` namespace, data found at run time."""
from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_namespaced_imports_and_data_folders():
    import duralava.checkpoints
    import duralava.shaders

    assert duralava.checkpoints.folder().is_dir()
    for name in duralava.shaders.names():
        src = duralava.shaders.load(name)
        assert src["vertex_shader"].startswith("#version")
        assert "#define FRAGMENT_SHADER" in src["fragment_shader"]


def test_unknown_shader_is_a_clear_error():
    import duralava.shaders

    with pytest.raises(FileNotFoundError, match="no shader program named"):
        duralava.shaders.source("no_such_program")


@pytest.mark.slow
def test_wheel_is_namespaced_and_carries_package_data(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "-w", str(tmp_path), str(ROOT)],
        capture_output=True, text=True,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    (wheel,) = tmp_path.glob("duralava_viewer-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith((".dist-info", ".data"))}
    assert top == {"duralava"}, top
    assert "duralava/app/viewer.py" in names
    assert "duralava/models/cli.py" in names
    shipped_shaders = sorted(p.name for p in (ROOT / "shaders").glob("*.glsl"))
    shipped_shaders += ["fullscreen.vert"]
    assert all(f"duralava/shaders/{n}" in names for n in shipped_shaders)
    shipped_ckpt = sorted(p.name for p in (ROOT / "checkpoints").glob("*.safetensors"))
    assert all(f"duralava/checkpoints/{n}" in names for n in shipped_ckpt)
