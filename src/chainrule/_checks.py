"""Argument checks shared across the library (NumPy only, internal).

Each check returns the value converted (``int``, ``float``, ndarray) or raises a
``TypeError`` (wrong type) or ``ValueError`` (wrong value) whose message names the argument,
the expected range and the value received.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Collection
from typing import Any

import numpy as np


def check_int(value: Any, name: str, minimum: int) -> int:
    """``value`` as an int ``>= minimum``; a TypeError or ValueError naming it otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value}")
    return int(value)


def _number(value: Any, name: str) -> float:
    """``value`` as a float; a TypeError naming it unless it is a real number (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    return float(value)


def check_finite(value: Any, name: str) -> float:
    """``value`` as a finite float; a TypeError or ValueError naming it otherwise."""
    v = _number(value, name)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {value}")
    return v


def check_positive(value: Any, name: str) -> float:
    """``value`` as a finite float ``> 0``; a TypeError or ValueError naming it otherwise."""
    v = _number(value, name)
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value}")
    return v


def check_nonneg(value: Any, name: str) -> float:
    """``value`` as a finite float ``>= 0``; a TypeError or ValueError naming it otherwise."""
    v = _number(value, name)
    if not (math.isfinite(v) and v >= 0):
        raise ValueError(f"{name} must be a finite number >= 0, got {value}")
    return v


def check_real(value: Any, name: str, low: float, high: float = math.inf, *,
               low_open: bool = False, high_open: bool = True) -> float:
    """``value`` as a float in the interval from ``low`` to ``high`` (``[low, high)`` by
    default; ``low_open``/``high_open`` exclude an end)."""
    v = _number(value, name)
    above = v > low if low_open else v >= low
    below = v < high if high_open else v <= high
    if not (above and below):
        interval = (f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}")
        raise ValueError(f"{name} must be in {interval}, got {value!r}")
    return v


def check_bool(value: Any, name: str) -> bool:
    """``value`` as a bool (a NumPy bool is accepted)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__} {value!r}")
    return bool(value)


def check_choice(value: Any, name: str, choices: Collection[str]) -> str:
    """``value``, a string among ``choices``; the message lists them otherwise."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__} {value!r}")
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, sorted(choices)))}, "
                         f"got {value!r}")
    return value


def check_sample_weight(sample_weight: Any, n: int) -> np.ndarray:
    """Sample weights as a float64 array of shape ``(n,)``: ones for None, a number for
    every sample, or an array of ``n`` finite non-negative weights, not all zero."""
    if sample_weight is None:
        return np.ones(n)
    if isinstance(sample_weight, numbers.Number) and not isinstance(sample_weight, bool):
        sw = np.full(n, float(sample_weight))
    else:
        try:
            sw = np.array(sample_weight, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"sample_weight must be an array of numbers, got "
                            f"{type(sample_weight).__name__}") from None
        if sw.shape != (n,):
            raise ValueError(f"sample_weight must have shape ({n},), got {sw.shape}")
    if not np.all(np.isfinite(sw)):
        raise ValueError("sample_weight contains NaN or infinity")
    if np.any(sw < 0):
        raise ValueError(f"sample_weight must be >= 0, got a minimum of {sw.min()}")
    if n and not np.any(sw > 0):
        raise ValueError("sample_weight must contain at least one weight > 0, got all zeros")
    return sw
