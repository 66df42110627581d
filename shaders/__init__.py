"""GLSL programs, one per file, loaded by name.

A program named ``upscale_bilinear`` lives in ``upscale_bilinear.glsl``; the file
holds both stages, separated by ``#if defined(VERTEX_SHADER)`` /
``#elif defined(FRAGMENT_SHADER)`` blocks, and :func:`load` returns the two
sources ready for ``ctx.program``.
"""
from __future__ import annotations

from importlib import resources

_STAGES = ("VERTEX_SHADER", "FRAGMENT_SHADER")


def names() -> list[str]:
    """Every program shipped in this folder, sorted."""
    return sorted(p.name[: -len(".glsl")] for p in resources.files(__name__).iterdir()
                  if p.name.endswith(".glsl"))


def source(name: str) -> str:
    """The raw text of one program file."""
    path = resources.files(__name__) / f"{name}.glsl"
    if not path.is_file():
        raise FileNotFoundError(f"no shader program named {name!r} (known: {', '.join(names())})")
    return path.read_text(encoding="utf-8")


def load(name: str, defines: dict[str, object] | None = None) -> dict[str, str]:
    """Vertex and fragment sources for ``ctx.program(**load(name))``.

    The file's first line must be its ``#version``; each stage gets the version line,
    its stage define and any extra ``defines`` prepended.
    """
    text = source(name)
    first, _, body = text.partition("\n")
    if not first.startswith("#version"):
        raise ValueError(f"shader {name!r} must start with a #version line")
    extra = "".join(f"#define {k} {v}\n" for k, v in (defines or {}).items())
    out = {}
    for stage, key in zip(_STAGES, ("vertex_shader", "fragment_shader")):
        out[key] = f"{first}\n#define {stage}\n{extra}#line 2\n{body}"
    return out
