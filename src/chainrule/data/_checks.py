"""Argument checks shared by chainrule.data and chainrule.train (NumPy only, private)."""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from .preprocessing import check_lengths


def check_int(value: Any, name: str, minimum: int) -> int:
    """``value`` as an int ``>= minimum``; a TypeError or ValueError naming it otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value}")
    return int(value)


def check_nonneg(value: Any, name: str) -> float:
    """``value`` as a finite float ``>= 0``; a TypeError or ValueError naming it otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value}")
    return float(value)


def check_samples(X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    """``X`` and ``y`` as arrays with a samples axis of the same length."""
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim == 0 or y.ndim == 0:
        raise ValueError(f"X and y need a samples axis, got shapes {X.shape} and {y.shape}")
    check_lengths(X, y)
    return X, y
