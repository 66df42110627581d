"""Argument types shared by the command lines (``type=`` for argparse).

Each turns one string into a value or raises :class:`argparse.ArgumentTypeError`
with a short sentence; argparse shows it after the option's name, as
``argument --size: expected a whole number of at least 8, not '4'``.
"""
from __future__ import annotations

import argparse
import math
from typing import Callable


def whole_number(low: int = 1, *, separators: bool = False) -> Callable[[str], int]:
    """A parser of whole numbers of at least ``low``.

    With ``separators``, digit groups may be written ``1,000,000`` or ``1_000_000``.
    """
    def parse(text: str) -> int:
        try:
            value = int(text.replace("_", "").replace(",", "") if separators else text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"expected a whole number of at least {low}, not {text!r}")
        return value
    parse.__name__ = "whole_number"
    return parse


def positive_number(*, finite: bool = False) -> Callable[[str], float]:
    """A parser of numbers above 0 (NaN is refused; infinity too when ``finite``)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, not {text!r}") from None
        if not value > 0 or (finite and math.isinf(value)):
            what = "a finite number" if finite else "a number"
            raise argparse.ArgumentTypeError(f"expected {what} above 0, not {text!r}")
        return value
    parse.__name__ = "positive_number"
    return parse


positive_int = whole_number(1)
"""Whole numbers of at least 1."""
positive_float = positive_number()
"""Numbers above 0, infinity included."""

