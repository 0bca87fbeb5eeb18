"""Behaviour: on an ill-conditioned bowl, momentum and Adam beat plain gradient descent.

f(x) = ½ xᵀ diag(1, 100) x, condition number κ = 100, minimum 0 at x = 0, start (1, 1).
Gradient descent converges at best at rate (κ − 1)/(κ + 1) ≈ 0.98 per step (with
lr = 2/(μ + L) = 2/101); the heavy ball at (√κ − 1)/(√κ + 1) ≈ 0.82 (Polyak's tuning
lr = 4/(√L + √μ)² = 4/121, β = ((√κ − 1)/(√κ + 1))² = (9/11)²).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import chainrule as cr
from chainrule import optim

CURVATURES = np.array([1.0, 100.0])
TOL = 1e-6          # stop when f(x) < TOL
MAX_STEPS = 3000


def steps_to_tolerance(make: Callable[[list[cr.Tensor]], Any]) -> int:
    d = cr.tensor(CURVATURES)
    x = cr.tensor(np.array([1.0, 1.0]), requires_grad=True)
    opt = make([x])
    for k in range(1, MAX_STEPS + 1):
        opt.zero_grad()
        f = 0.5 * (d * x * x).sum()
        f.backward()
        opt.step()
        if 0.5 * float(CURVATURES @ (x.data * x.data)) < TOL:
            return k
    return MAX_STEPS + 1


def test_momentum_and_adam_need_fewer_steps_than_gradient_descent() -> None:
    # gradient descent gets its best learning rate from a grid that includes 2/(μ + L)
    gd = {lr: steps_to_tolerance(lambda p, lr=lr: optim.SGD(p, lr=lr))
          for lr in (0.005, 0.01, 0.015, 2 / 101)}
    best_lr, gd_steps = min(gd.items(), key=lambda kv: kv[1])
    momentum_steps = steps_to_tolerance(
        lambda p: optim.SGD(p, lr=4 / 121, momentum=(9 / 11) ** 2)
    )
    adam_steps = steps_to_tolerance(lambda p: optim.Adam(p, lr=0.1))
    report = (
        f"steps to f < {TOL:g}: gradient descent {gd_steps} (best lr {best_lr:.4g}; grid "
        f"{ {round(k, 4): v for k, v in gd.items()} }), momentum {momentum_steps}, "
        f"Adam {adam_steps}"
    )
    assert gd_steps <= MAX_STEPS, report
    # the theory says ≈ ln(1e-6 / f₀)/ln(0.98²) ≈ 350 for GD, about 5× fewer with momentum
    assert 300 < gd_steps < 600, report
    assert momentum_steps < gd_steps / 3, report
    assert adam_steps < gd_steps / 2, report


def test_adam_is_invariant_to_gradient_scale_on_the_first_step() -> None:
    """m_hat/√v_hat = g/|g| at t = 1: both coordinates move by lr whatever the curvature."""
    x = cr.tensor(np.array([1.0, 1.0]), requires_grad=True)
    opt = optim.Adam([x], lr=0.1)
    (0.5 * (cr.tensor(CURVATURES) * x * x).sum()).backward()
    opt.step()
    np.testing.assert_allclose(x.data, [0.9, 0.9], rtol=1e-8)   # eps shifts it by 1e-9
