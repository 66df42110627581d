"""Shipped lamps: safetensors checkpoints with their provenance notes beside them."""
from __future__ import annotations

from importlib import resources
from pathlib import Path

DEFAULT = "default.safetensors"


def folder() -> Path:
    """The folder holding the shipped checkpoints (a checkout or an installed wheel)."""
    return Path(str(resources.files(__name__)))


def shipped() -> list[Path]:
    """Every shipped checkpoint, the default first."""
    files = sorted(folder().glob("*.safetensors"), key=lambda p: (p.name != DEFAULT, p.name))
    return files


def default_path() -> Path:
    return folder() / DEFAULT
