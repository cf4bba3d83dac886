"""Argument checks for task constructors; each error names the argument and says what to pass."""

from __future__ import annotations

import math
from numbers import Real
from typing import Any

from .._validation import check_positive_int as _check_positive_int, nonnegative_int


def check_positive_int(value: Any, argument: str, meaning: str, example: str) -> int:
    """Return ``value`` as an int if it is an integer >= 1, else raise ValueError.

    ``meaning`` says what the argument holds and ``example`` a valid call, for the message.
    """
    return _check_positive_int(value, argument, meaning, example)


def check_positive_real(value: Any, argument: str, meaning: str, example: str) -> float:
    """Return ``value`` as a float if it is a finite real > 0, else raise ValueError."""
    if isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value) and value > 0:
        return float(value)
    raise ValueError(
        f"{argument}={value!r} is invalid: {meaning} must be a finite number > 0; pass e.g. {example}."
    )


def check_seed(value: Any, meaning: str) -> int:
    """Return ``value`` as an int if it is an integer >= 0 (a seed that fixes a task), else raise ValueError."""
    if nonnegative_int(value):
        return int(value)
    raise ValueError(f"seed={value!r} is invalid: {meaning} must be an integer >= 0, e.g. seed=0.")


def format_number(value: float) -> str:
    """Short form for task names: 6.0 -> '6', 2.5 -> '2.5'."""
    return f"{value:g}"
