"""Argument checks shared across modules (ValueError naming the argument and value)."""

from __future__ import annotations

import math
import numbers


def check_positive(value, name: str) -> float:
    """Returns ``value`` as a float if it is a finite real number > 0, else raises ValueError."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        v = float(value)
        if math.isfinite(v) and v > 0:
            return v
    raise ValueError(f"{name} must be a finite number > 0. Received: {name}={value!r}")


def check_positive_int(value, name: str) -> int:
    """Returns ``value`` as an int if it is an integer > 0 (not a bool), else raises ValueError."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool) and int(value) > 0:
        return int(value)
    raise ValueError(f"{name} must be a positive int. Received: {name}={value!r}")
