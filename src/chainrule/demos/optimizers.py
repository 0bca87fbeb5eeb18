"""Optimiser paths: GD, momentum, Nesterov, RMSprop and Adam on two classic surfaces.

Each optimiser of :mod:`chainrule.optim` minimises a function of a single Tensor parameter
``θ = (θ₁, θ₂)`` from the same start, back-propagating ``f(θ)`` with chainrule's autodiff
at every step::

    quadratic   f(θ) = ½ (θ₁² + κ θ₂²),  κ = 25   (badly conditioned: the Hessian's
                                                    eigenvalues are 1 and 25)
    Rosenbrock  f(θ) = (1 − θ₁)² + 100 (θ₂ − θ₁²)²  (a curved, flat-bottomed valley,
                                                    minimum f(1, 1) = 0)

On the quadratic, plain gradient descent must keep ``η < 2/κ`` and then creeps along the
flat direction (rate ``1 − η`` per step) while zig-zagging across the steep one; momentum
and Nesterov average the zig-zag away; RMSprop and Adam rescale each coordinate by its
recent gradient size, so both directions progress alike. On Rosenbrock, the narrow curved
valley defeats plain GD, and the adaptive methods follow the valley floor.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .. import plots
from . import DemoResult

KAPPA = 25.0


def quadratic(x: Any, y: Any) -> Any:
    """``½(x² + κy²)``, on Tensors or ndarrays."""
    return 0.5 * (x * x + KAPPA * (y * y))


def rosenbrock(x: Any, y: Any) -> Any:
    """``(1 − x)² + 100(y − x²)²``, on Tensors or ndarrays."""
    return (1.0 - x) ** 2 + 100.0 * (y - x * x) ** 2


#: Surface → (function, start, minimiser, view limits, steps, steps when quick,
#: optimiser name → (registry name, hyperparameters)).
PROBLEMS: dict[str, dict[str, Any]] = {
    "quadratic": {
        "f": quadratic,
        "start": (-4.5, 1.6),
        "minimum": (0.0, 0.0),
        "limits": ((-5.0, 1.5), (-2.0, 2.0)),
        "steps": 100,
        "quick_steps": 60,
        "optimizers": {
            "GD (η = 0.075)": ("sgd", {"lr": 0.075}),
            "momentum (η = 0.02, β = 0.8)": ("sgd", {"lr": 0.02, "momentum": 0.8}),
            "Nesterov (η = 0.02, β = 0.8)": ("sgd", {"lr": 0.02, "momentum": 0.8,
                                                     "nesterov": True}),
            "RMSprop (η = 0.1)": ("rmsprop", {"lr": 0.1}),
            "Adam (η = 0.2)": ("adam", {"lr": 0.2}),
        },
    },
    "rosenbrock": {
        "f": rosenbrock,
        "start": (-1.5, 2.0),
        "minimum": (1.0, 1.0),
        "limits": ((-2.0, 2.0), (-1.0, 3.0)),
        "steps": 3000,
        "quick_steps": 600,
        "optimizers": {
            "GD (η = 0.001)": ("sgd", {"lr": 0.001}),
            "momentum (η = 0.0005, β = 0.9)": ("sgd", {"lr": 0.0005, "momentum": 0.9}),
            "Nesterov (η = 0.0005, β = 0.9)": ("sgd", {"lr": 0.0005, "momentum": 0.9,
                                                       "nesterov": True}),
            "RMSprop (η = 0.003)": ("rmsprop", {"lr": 0.003}),
            "Adam (η = 0.02)": ("adam", {"lr": 0.02}),
        },
    },
}


def trajectory(f: Callable[[Any, Any], Any], start: tuple[float, float], optimizer: str,
               hyper: dict[str, Any], steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Iterates ``θ₀ … θ_T`` (T = ``steps``) and ``f(θ_t)`` of a chainrule optimiser.

    Each step: ``opt.zero_grad(); f(θ).backward(); opt.step()`` on one float64 Tensor.
    Stops early if the iterate leaves the finite numbers (a diverging setting).
    """
    import chainrule as cr
    from chainrule import optim

    theta = cr.tensor(np.array(start, dtype=np.float64), requires_grad=True)
    opt = optim.get_optimizer(optimizer, [theta], **hyper)
    points = [theta.data.copy()]
    values = []
    for _ in range(steps):
        opt.zero_grad()
        value = f(theta[0], theta[1])
        value.backward()
        values.append(float(value.data))
        opt.step()
        if not np.all(np.isfinite(theta.data)):
            break
        points.append(theta.data.copy())
    values.append(float(f(*points[-1])))
    return np.array(points), np.array(values[: len(points)])


def run(out_dir: Path, *, quick: bool = False, seed: int = 0,
        progress: Callable[[str], None]) -> DemoResult:
    """Draw every optimiser's path over both surfaces, and f(θ_t) against t."""
    figures: list[Path] = []
    lines = ["Optimiser trajectories (chainrule.optim on one Tensor parameter, autodiff "
             "gradients)"]
    metrics: dict[str, Any] = {}
    for problem, spec in PROBLEMS.items():
        steps = spec["quick_steps"] if quick else spec["steps"]
        progress(f"{problem}: {len(spec['optimizers'])} optimisers × {steps} steps")
        paths, curves = {}, {}
        lines.append(f"\n{problem} (start {spec['start']}, minimum {spec['minimum']}, "
                     f"{steps} steps):")
        for label, (name, hyper) in spec["optimizers"].items():
            pts, vals = trajectory(spec["f"], spec["start"], name, hyper, steps)
            paths[label] = pts
            curves[label] = (np.arange(len(vals)), np.maximum(vals, 1e-16))
            dist = float(np.linalg.norm(pts[-1] - np.array(spec["minimum"])))
            metrics[f"{problem}/{label}"] = {"final_f": float(vals[-1]), "distance": dist}
            lines.append(f"  {label:34s} f = {vals[-1]:.3e}   |θ − θ*| = {dist:.3e}")
        title = ("Badly conditioned quadratic $f=\\frac{1}{2}(\\theta_1^2+25\\,\\theta_2^2)$"
                 if problem == "quadratic" else
                 "Rosenbrock $f=(1-\\theta_1)^2+100(\\theta_2-\\theta_1^2)^2$")
        figures += plots.optimizer_trajectories(
            lambda x, y, f=spec["f"]: f(x, y), paths, limits=spec["limits"],
            minimum=spec["minimum"], title=f"{title}: {steps} steps", path=out_dir /
            f"{problem}_paths", panels=problem == "rosenbrock")
        figures += plots.line_plot(
            curves, xlabel="step $t$", ylabel=r"$f(\theta_t)$ (log scale)", logy=True,
            title=f"{problem.capitalize()}: objective along each path",
            path=out_dir / f"{problem}_loss")
    # the idea behind every method above: near θ₀ the function is its tangent (its
    # first-order Taylor polynomial), so a small step along −f′ decreases f
    figures += plots.tangent_line(
        lambda t: (1.0 - t) ** 2 + 100.0 * (1.0 - t * t) ** 2, 0.8, x_range=(0.55, 1.15),
        label=r"$f(x) = (1-x)^2 + 100(1-x^2)^2$: Rosenbrock along $\theta_2 = 1$",
        path=out_dir / "tangent")
    lines.append("\nfigures: quadratic_paths, rosenbrock_paths (paths over contours), "
                 "quadratic_loss, rosenbrock_loss (f against step, log scale), tangent "
                 "(a slice of Rosenbrock with its tangent line: the local model gradient "
                 "descent trusts)")
    return DemoResult(name="optimizers", out_dir=out_dir, figures=figures,
                      summary="\n".join(lines), metrics=metrics)
