"""Every GLSL program in shaders/ builds under headless EGL and follows the pass conventions."""
from __future__ import annotations

from pathlib import Path

import moderngl
import pytest

import duralava.shaders as shaders
from duralava.app.renderer import UPSCALERS

pytestmark = pytest.mark.gl


@pytest.fixture(scope="module")
def ctx():
    ctx = moderngl.create_standalone_context(backend="egl")
    yield ctx
    ctx.release()


def test_there_are_programs_for_every_pass():
    names = set(shaders.names())
    assert "interpolate" in names
    for spec in UPSCALERS.values():
        assert spec.final in names
        assert all(p.program in names for p in spec.prepasses)


def _shared_vertex() -> str:
    return (Path(shaders.__file__).parent / shaders.SHARED_VERTEX).read_text(encoding="utf-8")


def _links_and_samples_u_src0(ctx, src):
    prog = ctx.program(**src)
    try:
        # Every pass samples its input through u_src0 (texture unit 0).
        assert "u_src0" in prog
    finally:
        prog.release()


@pytest.mark.parametrize("name", shaders.names())
def test_program_compiles_and_links(ctx, name):
    text = shaders.source(name)
    assert text.startswith("#version 330 core\n")
    src = shaders.load(name)
    if shaders.has_own_vertex_stage(text):
        # Both stages in one file, and the vertex stage is not the shared one copied in.
        assert "#elif defined(FRAGMENT_SHADER)" in text
        shared_code = "\n".join(line for line in _shared_vertex().splitlines()[1:] if not line.startswith("//"))
        assert shared_code not in text
    else:
        # The fragment stage alone: the vertex stage is the shared one, not a copy.
        assert "VERTEX_SHADER" not in text and "gl_Position" not in text
        assert "gl_Position" in src["vertex_shader"]
    _links_and_samples_u_src0(ctx, src)


def test_the_shared_vertex_stage_is_not_a_program():
    vert = _shared_vertex()
    assert vert.startswith("#version 330 core\n")
    assert "VERTEX_SHADER" not in vert
    assert Path(shaders.SHARED_VERTEX).stem not in shaders.names()
    src = shaders.load("upscale_bilinear", {"SCALE": 2})
    assert src["vertex_shader"].startswith("#version 330 core\n#define VERTEX_SHADER\n#define SCALE 2\n")
    assert src["vertex_shader"].endswith(vert.partition("\n")[2])


def test_a_program_with_its_own_vertex_stage(ctx, monkeypatch):
    own = """#version 330 core
#if defined(VERTEX_SHADER)
out vec2 v_uv;
void main() {
    vec2 p = vec2(float(gl_VertexID & 1), float(gl_VertexID >> 1));
    v_uv = p * 0.5;
    gl_Position = vec4(p * 2.0 - 1.0, 0.0, 1.0);
}
#elif defined(FRAGMENT_SHADER)
in vec2 v_uv;
out vec4 f_color;
uniform sampler2D u_src0;
void main() {
    f_color = texture(u_src0, v_uv);
}
#endif
"""
    monkeypatch.setattr(shaders, "source", lambda name: own)
    src = shaders.load("own_vertex")
    assert "v_uv = p * 0.5;" in src["vertex_shader"]
    _links_and_samples_u_src0(ctx, src)


def test_a_broken_program_is_a_compile_error(ctx):
    src = shaders.load("upscale_bilinear")
    broken = dict(src, fragment_shader=src["fragment_shader"].replace("f_color =", "f_colour ="))
    with pytest.raises(moderngl.Error):
        ctx.program(**broken)
