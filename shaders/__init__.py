"""GLSL programs, one per file, loaded by name.

A program named ``upscale_bilinear`` lives in ``upscale_bilinear.glsl``. Most files
hold only the fragment stage and share the fullscreen-triangle vertex stage in
``fullscreen.vert``; a file that needs a vertex stage of its own holds both,
separated by ``#if defined(VERTEX_SHADER)`` / ``#elif defined(FRAGMENT_SHADER)``
blocks. :func:`load` returns the two sources ready for ``ctx.program``.
"""
from __future__ import annotations

from importlib import resources

_STAGES = ("VERTEX_SHADER", "FRAGMENT_SHADER")
_OWN_VERTEX = "#if defined(VERTEX_SHADER)"
SHARED_VERTEX = "fullscreen.vert"


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


def template(name: str) -> str:
    """The text of ``<name>.glsl.in``: the fixed part of a generated program, with ``$``
    placeholders that its generator fills (see :mod:`duralava.models.glsl_export`)."""
    path = resources.files(__name__) / f"{name}.glsl.in"
    if not path.is_file():
        raise FileNotFoundError(f"no shader template named {name!r}")
    return path.read_text(encoding="utf-8")


def has_own_vertex_stage(text: str) -> bool:
    """Whether a program file brings its own vertex stage (else it uses :data:`SHARED_VERTEX`)."""
    return _OWN_VERTEX in text


def _split_version(name: str, text: str) -> tuple[str, str]:
    first, _, body = text.partition("\n")
    if not first.startswith("#version"):
        raise ValueError(f"shader {name!r} must start with a #version line")
    return first, body


def _stage(version: str, stage: str, extra: str, body: str) -> str:
    return f"{version}\n#define {stage}\n{extra}#line 2\n{body}"


def load(name: str, defines: dict[str, object] | None = None) -> dict[str, str]:
    """Vertex and fragment sources for ``ctx.program(**load(name))``.

    The file's first line must be its ``#version``; each stage gets the version line,
    its stage define and any extra ``defines`` prepended. A file without an
    ``#if defined(VERTEX_SHADER)`` section is the fragment stage alone, and the
    vertex stage comes from :data:`SHARED_VERTEX` (prepared the same way).
    """
    text = source(name)
    version, body = _split_version(name, text)
    extra = "".join(f"#define {k} {v}\n" for k, v in (defines or {}).items())
    if has_own_vertex_stage(text):
        vertex = _stage(version, _STAGES[0], extra, body)
    else:
        shared = (resources.files(__name__) / SHARED_VERTEX).read_text(encoding="utf-8")
        shared_version, shared_body = _split_version(SHARED_VERTEX, shared)
        vertex = _stage(shared_version, _STAGES[0], extra, shared_body)
    return {"vertex_shader": vertex, "fragment_shader": _stage(version, _STAGES[1], extra, body)}
