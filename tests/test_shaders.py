"""Every GLSL program in shaders/ builds under headless EGL and follows the pass conventions."""
from __future__ import annotations

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


@pytest.mark.parametrize("name", shaders.names())
def test_program_compiles_and_links(ctx, name):
    text = shaders.source(name)
    assert text.startswith("#version 330 core\n")
    assert "#if defined(VERTEX_SHADER)" in text and "#elif defined(FRAGMENT_SHADER)" in text
    prog = ctx.program(**shaders.load(name))
    try:
        # Every pass samples its input through u_src0 (texture unit 0).
        assert "u_src0" in prog
    finally:
        prog.release()


def test_a_broken_program_is_a_compile_error(ctx):
    src = shaders.load("upscale_bilinear")
    broken = dict(src, fragment_shader=src["fragment_shader"].replace("f_color =", "f_colour ="))
    with pytest.raises(moderngl.Error):
        ctx.program(**broken)
