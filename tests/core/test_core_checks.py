"""The shared argument checks: each returns the value converted, or raises a TypeError
(wrong type) or ValueError (wrong value) whose message names the argument, what was
expected and what was received."""

from __future__ import annotations

import math

import numpy as np
import pytest

from chainrule._checks import (
    check_bool,
    check_choice,
    check_finite,
    check_int,
    check_nonneg,
    check_positive,
    check_real,
)


def test_checks_return_the_converted_value() -> None:
    assert check_int(np.int64(3), "n", 1) == 3 and type(check_int(np.int64(3), "n", 1)) is int
    assert check_positive(2, "lr") == 2.0 and type(check_positive(2, "lr")) is float
    assert check_nonneg(0, "eps") == 0.0
    assert check_finite(-2, "mu") == -2.0 and type(check_finite(-2, "mu")) is float
    assert check_real(np.float32(0.5), "beta1", 0, 1) == 0.5
    assert check_bool(np.bool_(True), "nesterov") is True
    assert check_choice("min", "mode", ("min", "max")) == "min"


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: check_int(2.5, "n", 1), TypeError, r"^n must be an int, got float 2\.5$"),
        (lambda: check_int(True, "n", 1), TypeError, r"^n must be an int, got bool True$"),
        (lambda: check_int(0, "n", 1), ValueError, r"^n must be an int >= 1, got 0$"),
        (lambda: check_positive("a", "lr"), TypeError, r"^lr must be a number, got str 'a'$"),
        (lambda: check_positive(0.0, "lr"), ValueError,
         r"^lr must be a finite number > 0, got 0\.0$"),
        (lambda: check_positive(math.inf, "lr"), ValueError, r"> 0, got inf$"),
        (lambda: check_nonneg(-1, "eps"), ValueError,
         r"^eps must be a finite number >= 0, got -1$"),
        (lambda: check_nonneg(math.nan, "eps"), ValueError, r">= 0, got nan$"),
        (lambda: check_real(1.0, "beta1", 0, 1), ValueError,
         r"^beta1 must be in \[0, 1\), got 1\.0$"),
        (lambda: check_real(0, "f", 0, 1, low_open=True, high_open=False), ValueError,
         r"^f must be in \(0, 1\], got 0$"),
        (lambda: check_finite(math.inf, "b"), ValueError, r"^b must be finite, got inf$"),
        (lambda: check_finite(None, "b"), TypeError, r"^b must be a number, got NoneType None$"),
        (lambda: check_bool(1, "flag"), TypeError, r"^flag must be a bool, got int 1$"),
        (lambda: check_choice("up", "mode", ("min", "max")), ValueError,
         r"^mode must be one of 'max', 'min', got 'up'$"),
    ],
)
def test_checks_name_the_value_and_what_was_expected(call, error, message) -> None:
    with pytest.raises(error, match=message):
        call()


def test_interval_ends_are_included_or_excluded_as_asked() -> None:
    # [0, 1): 0 in, 1 out;  (0, 1]: 0 out, 1 in
    assert check_real(0, "x", 0, 1) == 0.0
    assert check_real(1, "x", 0, 1, low_open=True, high_open=False) == 1.0
    with pytest.raises(ValueError):
        check_real(1, "x", 0, 1)
    with pytest.raises(ValueError):
        check_real(0, "x", 0, 1, low_open=True)
