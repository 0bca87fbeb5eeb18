"""Higham & Higham's 2-2-3-2 sigmoid network, trained by stochastic gradient descent.

The running example of C. F. Higham and D. J. Higham, "Deep Learning: An Introduction for
Applied Mathematicians", SIAM Review 61(4):860–891, 2019 (§3–§4, Figures 1, 4 and 5): ten
points ``x_i`` in the unit square, class A (label 0, target ``y = (1, 0)``) and class B
(label 1, target ``y = (0, 1)``); a network with layers of 2, 2, 3 and 2 sigmoid neurons::

    a[1] = x,    a[l] = σ(W[l] a[l−1] + b[l])   for l = 2, 3, 4
    Cost = (1/10) Σ_i ½ ‖y_i − a[4](x_i)‖²

with ``W[2]`` of shape (2, 2), ``W[3]`` (3, 2), ``W[4]`` (2, 3), all weights and biases drawn
from ``0.5·N(0, 1)``. Each step of stochastic gradient descent picks one point ``x`` at
random and applies back-propagation (the paper's equations (3.7)–(3.10))::

    z[l] = W[l] a[l−1] + b[l],    D[l] = diag σ′(z[l]) = diag(a[l] ⊙ (1 − a[l]))
    δ[4] = σ′(z[4]) ⊙ (a[4] − y)
    δ[l] = σ′(z[l]) ⊙ (W[l+1]ᵀ δ[l+1])                    l = 3, 2
    W[l] ← W[l] − η δ[l] a[l−1]ᵀ,   b[l] ← b[l] − η δ[l]   η = 0.05

The paper runs 10⁶ such steps. An eager chainrule loop (Tensors, ``backward``) costs about
0.35 ms per step here — six minutes for the demo — because every step builds a graph of a
dozen tiny nodes. So :func:`sgd` writes the same equations out on Python floats, one line
per component (23 parameters), which takes about 4 µs per step: the 10⁶ steps run in a few
seconds. The tests check that one step of :func:`sgd` equals ``θ − η∇C_x(θ)`` with ``∇C_x``
from chainrule's autodiff (:func:`autodiff_cost`), and the final figures use chainrule
Tensors for the forward pass.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .. import plots
from . import DemoResult

#: Parameter names in the paper's notation, and their shapes.
SHAPES: dict[str, tuple[int, ...]] = {
    "W2": (2, 2), "b2": (2,), "W3": (3, 2), "b3": (3,), "W4": (2, 3), "b4": (2,),
}
ETA = 0.05
STEPS = 1_000_000
QUICK_STEPS = 300_000


def init_params(seed: int = 0) -> dict[str, np.ndarray]:
    """Weights and biases drawn from ``0.5·N(0, 1)`` (the paper's initialisation)."""
    rng = np.random.default_rng(seed)
    return {k: 0.5 * rng.standard_normal(s) for k, s in SHAPES.items()}


def _flatten(params: dict[str, np.ndarray]) -> list[float]:
    return np.concatenate([params[k].ravel() for k in SHAPES]).tolist()


def _unflatten(theta: list[float]) -> dict[str, np.ndarray]:
    out, i = {}, 0
    for k, s in SHAPES.items():
        n = int(np.prod(s))
        out[k] = np.array(theta[i:i + n], dtype=np.float64).reshape(s)
        i += n
    return out


def targets(y: np.ndarray) -> np.ndarray:
    """One-hot targets: class A (0) → ``(1, 0)``, class B (1) → ``(0, 1)``."""
    return np.eye(2)[np.asarray(y, dtype=np.int64)]


def _sigma(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def forward(params: dict[str, np.ndarray], X: np.ndarray) -> np.ndarray:
    """``a[4]`` for every row of ``X`` (shape (n, 2)), vectorised NumPy; returns (n, 2)."""
    a = np.asarray(X, dtype=np.float64)
    for layer in (2, 3, 4):
        a = _sigma(a @ params[f"W{layer}"].T + params[f"b{layer}"])
    return a


def cost(params: dict[str, np.ndarray], X: np.ndarray, Y: np.ndarray) -> float:
    """``(1/n) Σ_i ½ ‖y_i − a[4](x_i)‖²``."""
    a4 = forward(params, X)
    return float(0.5 * np.mean(np.sum((Y - a4) ** 2, axis=1)))


def autodiff_cost(params: dict[str, Any], X: np.ndarray, Y: np.ndarray) -> Any:
    """The same cost written with chainrule Tensors (``params`` values are Tensors)."""
    from ..tensor import Tensor

    a = Tensor(np.asarray(X, dtype=np.float64))
    for layer in (2, 3, 4):
        a = (a @ params[f"W{layer}"].T + params[f"b{layer}"]).sigmoid()
    r = Tensor(np.asarray(Y, dtype=np.float64)) - a
    return 0.5 * (r * r).sum(axis=1).mean()


def _steps(theta: list[float], xs: list[list[float]], ys: list[list[float]],
           order: list[int], eta: float) -> list[float]:
    """SGD steps on the points ``order[0], order[1], …``; returns the updated parameters.

    The equations of the module docstring, written per component on Python floats.
    Names: ``x`` = a[1], ``a`` = a[2], ``h`` = a[3], ``o`` = a[4]; ``g``, ``q``, ``r`` are
    δ[4], δ[3], δ[2]; ``w``, ``c`` are W[2], b[2]; ``v``, ``d`` are W[3], b[3]; ``u``, ``e``
    are W[4], b[4] (``w12`` = row 1, column 2).
    """
    (w11, w12, w21, w22, c1, c2,
     v11, v12, v21, v22, v31, v32, d1, d2, d3,
     u11, u12, u13, u21, u22, u23, e1, e2) = theta
    exp = math.exp
    for k in order:
        x1, x2 = xs[k]
        y1, y2 = ys[k]
        # forward: a[l] = σ(W[l] a[l−1] + b[l])
        a1 = 1.0 / (1.0 + exp(-(w11 * x1 + w12 * x2 + c1)))
        a2 = 1.0 / (1.0 + exp(-(w21 * x1 + w22 * x2 + c2)))
        h1 = 1.0 / (1.0 + exp(-(v11 * a1 + v12 * a2 + d1)))
        h2 = 1.0 / (1.0 + exp(-(v21 * a1 + v22 * a2 + d2)))
        h3 = 1.0 / (1.0 + exp(-(v31 * a1 + v32 * a2 + d3)))
        o1 = 1.0 / (1.0 + exp(-(u11 * h1 + u12 * h2 + u13 * h3 + e1)))
        o2 = 1.0 / (1.0 + exp(-(u21 * h1 + u22 * h2 + u23 * h3 + e2)))
        # backward: δ[4] = σ′(z[4]) ⊙ (a[4] − y),  δ[l] = σ′(z[l]) ⊙ W[l+1]ᵀ δ[l+1]
        g1 = o1 * (1.0 - o1) * (o1 - y1)
        g2 = o2 * (1.0 - o2) * (o2 - y2)
        q1 = h1 * (1.0 - h1) * (u11 * g1 + u21 * g2)
        q2 = h2 * (1.0 - h2) * (u12 * g1 + u22 * g2)
        q3 = h3 * (1.0 - h3) * (u13 * g1 + u23 * g2)
        r1 = a1 * (1.0 - a1) * (v11 * q1 + v21 * q2 + v31 * q3)
        r2 = a2 * (1.0 - a2) * (v12 * q1 + v22 * q2 + v32 * q3)
        # update: W[l] ← W[l] − η δ[l] a[l−1]ᵀ,  b[l] ← b[l] − η δ[l]
        u11 -= eta * g1 * h1
        u12 -= eta * g1 * h2
        u13 -= eta * g1 * h3
        e1 -= eta * g1
        u21 -= eta * g2 * h1
        u22 -= eta * g2 * h2
        u23 -= eta * g2 * h3
        e2 -= eta * g2
        v11 -= eta * q1 * a1
        v12 -= eta * q1 * a2
        d1 -= eta * q1
        v21 -= eta * q2 * a1
        v22 -= eta * q2 * a2
        d2 -= eta * q2
        v31 -= eta * q3 * a1
        v32 -= eta * q3 * a2
        d3 -= eta * q3
        w11 -= eta * r1 * x1
        w12 -= eta * r1 * x2
        c1 -= eta * r1
        w21 -= eta * r2 * x1
        w22 -= eta * r2 * x2
        c2 -= eta * r2
    return [w11, w12, w21, w22, c1, c2,
            v11, v12, v21, v22, v31, v32, d1, d2, d3,
            u11, u12, u13, u21, u22, u23, e1, e2]


def sgd(
    params: dict[str, np.ndarray],
    X: np.ndarray,
    Y: np.ndarray,
    *,
    steps: int = STEPS,
    eta: float = ETA,
    seed: int = 0,
    record_every: int = 1000,
    order: list[int] | None = None,
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Stochastic gradient descent, one uniformly random point per step.

    Args:
        params: initial ``W2, b2, W3, b3, W4, b4`` (not modified).
        X: the points, shape (n, 2); Y: their targets, shape (n, 2).
        steps: number of SGD steps.
        eta: the learning rate ``η``.
        seed: seed of the random choice of points.
        record_every: evaluate the full cost every this many steps.
        order: the indices of the points to use (overrides ``steps`` and ``seed``).

    Returns:
        The trained parameters, the step numbers at which the cost was recorded (0 first)
        and the costs there.
    """
    if order is None:
        if steps < 1:
            raise ValueError(f"steps must be >= 1, got {steps}")
        order = np.random.default_rng(seed).integers(0, len(X), steps).tolist()
    if record_every < 1:
        raise ValueError(f"record_every must be >= 1, got {record_every}")
    xs = np.asarray(X, dtype=np.float64).tolist()
    ys = np.asarray(Y, dtype=np.float64).tolist()
    theta = _flatten(params)
    recorded_steps, costs = [0], [cost(params, X, Y)]
    for start in range(0, len(order), record_every):
        chunk = order[start:start + record_every]
        theta = _steps(theta, xs, ys, chunk, eta)
        recorded_steps.append(start + len(chunk))
        costs.append(cost(_unflatten(theta), X, Y))
    return _unflatten(theta), np.array(recorded_steps), np.array(costs)


def predict(params: dict[str, np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    """A classifier of points (m, 2) → class (m,), evaluated with chainrule Tensors."""
    from ..autodiff import no_grad
    from ..tensor import Tensor

    tensors = {k: Tensor(v) for k, v in params.items()}

    def classify(P: np.ndarray) -> np.ndarray:
        with no_grad():
            a = Tensor(np.asarray(P, dtype=np.float64))
            for layer in (2, 3, 4):
                a = (a @ tensors[f"W{layer}"].T + tensors[f"b{layer}"]).sigmoid()
        return a.numpy().argmax(axis=1)

    return classify


def run(out_dir: Path, *, quick: bool = False, seed: int = 0,
        progress: Callable[[str], None]) -> DemoResult:
    """Train the network as in the paper and draw its cost curve and decision regions."""
    from ..data import load_dataset

    ds = load_dataset("higham")
    X, Y = ds.X, targets(ds.y)
    steps = QUICK_STEPS if quick else STEPS
    params = init_params(seed)
    progress(f"SGD: {steps:,} steps of one random point, eta = {ETA}")
    trained, at, costs = sgd(params, X, Y, steps=steps, eta=ETA, seed=seed + 1)
    labels = predict(trained)(X)
    correct = int((labels == ds.y).sum())
    drop = costs[0] / costs[-1]
    progress("drawing figures")
    figures = []
    figures += plots.cost_curve(
        costs, steps=at, xlabel="iteration (SGD steps, one random point each)",
        ylabel=r"Cost $=\frac{1}{10}\sum_{i}\,\frac{1}{2}\,\|y_i - a^{[4]}(x_i)\|_2^2$",
        title=f"2-2-3-2 sigmoid network, SGD with η = {ETA}",
        path=out_dir / "cost")
    figures += plots.decision_regions(
        predict(trained), X, ds.y, resolution=501, limits=((0.0, 1.0), (0.0, 1.0)),
        class_names=["A (target (1, 0))", "B (target (0, 1))"],
        title=f"Trained network: decision regions on a 501×501 grid ({correct}/10 correct)",
        path=out_dir / "regions")
    summary = "\n".join([
        "Higham & Higham (SIAM Review 2019): 2-2-3-2 sigmoid network on their 10 points",
        f"steps: {steps:,} (one random point per step), eta = {ETA}, seed = {seed}",
        f"cost: {costs[0]:.4g} -> {costs[-1]:.4g} (fell by a factor {drop:,.0f}, "
        f"{math.log10(drop):.1f} orders of magnitude)",
        f"points classified correctly: {correct}/10",
        "figures: cost.png (cost on a log axis), regions.png (decision regions, 501x501 grid)",
    ])
    return DemoResult(
        name="higham", out_dir=out_dir, figures=list(figures), summary=summary,
        metrics={"steps": steps, "initial_cost": float(costs[0]), "final_cost": float(costs[-1]),
                 "cost_drop": float(drop), "correct": correct, "n_points": len(X)},
    )
