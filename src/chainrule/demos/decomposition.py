"""The bias–variance decomposition: noise + bias² + variance against model complexity.

Data: ``y = f(x) + ε`` with ``f(x) = sin(πx)``, ``x ~ U(−1, 1)``, ``ε ~ N(0, 0.3²)``;
every training set has 20 points, drawn afresh (inputs and noise) for each fit. For each
model :func:`chainrule.train.bias_variance_decomposition` fits it on many such training
sets and splits its expected squared error on a grid of test points into

    E[(y − h_D(x))²] = σ² (noise) + (f(x) − h̄(x))² (bias²) + E_D[(h_D(x) − h̄(x))²] (variance)

- **polynomial degree** ``0 … 9`` (degree 1 is the straight line ``h(x) = wx + b``):
  bias² falls as the degree grows, variance rises, and their sum with the noise is
  U-shaped, lowest at degree 3 (``f`` is odd: an even degree adds a term that only adds
  variance, hence the zigzag). At high degrees a few training sets give wild fits near the
  ends of the interval, and the estimate of bias², which carries ``variance/R`` with it,
  rises with them;
- **MLP width** (one hidden tanh layer, full-batch Adam with ``train.fit``): the same
  trade-off with the number of hidden units;
- the fitted curves of 20 training sets for an underfitting, a balanced and an overfitting
  degree show what bias (the mean curve misses ``f``) and variance (the curves scatter) are.

The measured error on fresh noisy targets is drawn too: it lies on the sum of the terms.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .. import plots
from . import DemoResult

NOISE = 0.3
N_TRAIN = 20


def target(X: np.ndarray) -> np.ndarray:
    """``f(x) = sin(πx)`` on inputs of shape ``(n, 1)``."""
    return np.sin(np.pi * X[:, 0])


def draw_inputs(rng: np.random.Generator) -> np.ndarray:
    """A fresh training input set: ``N_TRAIN`` points uniform on ``[−1, 1]``."""
    return rng.uniform(-1.0, 1.0, size=(N_TRAIN, 1))


def _sweep(fitters: dict[Any, Any], grid: np.ndarray, rounds: int, seed: int,
           progress: Callable[[str], None], what: str) -> dict[Any, Any]:
    from chainrule.train import bias_variance_decomposition

    results = {}
    for key, fitter in fitters.items():
        progress(f"{what} {key}: {rounds} training sets")
        results[key] = bias_variance_decomposition(
            fitter, target, grid, X_train=draw_inputs, noise=NOISE, n_rounds=rounds,
            seed=seed)
    return results


def _terms_plot(results: dict[Any, Any], *, xlabel: str, title: str, logx: bool,
                path: Path) -> Any:
    xs = list(results)
    return plots.line_plot(
        {"bias²": (xs, [r.bias2 for r in results.values()]),
         "variance": (xs, [r.variance for r in results.values()]),
         "noise + bias² + variance": (xs, [r.total for r in results.values()]),
         "measured test error": (xs, [r.test_error for r in results.values()])},
        hlines={f"noise σ² = {NOISE**2:g}": NOISE**2},
        xlabel=xlabel, ylabel="squared error (log scale)", logx=logx, logy=True,
        title=title, path=path)


def _fits_figure(results: dict[int, Any], grid: np.ndarray, shown: int, path: Path) -> Any:
    def draw(fig: Any, axes: Any) -> None:
        for ax, (degree, r) in zip(axes[0], results.items()):
            for h in r.predictions[:shown]:
                ax.plot(grid, h, color="#56B4E9", lw=0.8, alpha=0.6)
            ax.plot(grid, r.target, color="black", lw=2.2, label="$f(x) = \\sin \\pi x$")
            ax.plot(grid, r.mean_prediction, color="#D55E00", lw=2.0, ls="--",
                    label="mean fit $\\bar h(x)$")
            ax.set_ylim(-2.0, 2.0)
            ax.set_xlabel("$x$")
            ax.set_title(f"degree {degree}: bias² {r.bias2:.3f}, variance {r.variance:.3f}",
                         fontsize=10)
        axes[0, 0].plot([], [], color="#56B4E9", lw=0.8, label=f"fits of {shown} training sets")
        axes[0, 0].legend(fontsize=8, loc="lower right")
        fig.suptitle(f"Polynomials fitted to {N_TRAIN} noisy points, one curve per training set")
        fig.tight_layout()

    return plots.custom_figure(draw, path=path, ncols=len(results),
                               size=(4.0 * len(results), 3.8))


def run(out_dir: Path, *, quick: bool = False, seed: int = 0,
        progress: Callable[[str], None]) -> DemoResult:
    """Decompose the error of polynomials (by degree) and MLPs (by width); draw the terms."""
    from chainrule.train import mlp_fitter, polynomial_fitter

    grid = np.linspace(-1.0, 1.0, 101)[:, None]
    degrees = [0, 1, 3, 6] if quick else list(range(10))
    widths = [1, 16] if quick else [1, 2, 4, 8, 16, 64]
    poly_rounds, mlp_rounds, epochs = (30, 3, 200) if quick else (300, 12, 1000)
    poly = _sweep({d: polynomial_fitter(d) for d in degrees}, grid, poly_rounds, seed,
                  progress, "degree")
    mlp = _sweep({h: mlp_fitter(h, epochs=epochs, lr=0.02) for h in widths}, grid,
                 mlp_rounds, seed, progress, "width")
    figures: list[Path] = []
    figures += _terms_plot(poly, xlabel="polynomial degree",
                           title=f"Bias² and variance against the degree ({poly_rounds} "
                                 f"training sets of {N_TRAIN} points)",
                           logx=False, path=out_dir / "degree")
    figures += _terms_plot(mlp, xlabel="hidden tanh units (log scale)",
                           title=f"Bias² and variance against the width ({mlp_rounds} "
                                 f"training sets, {epochs} Adam epochs)",
                           logx=True, path=out_dir / "width")
    shown_degrees = [d for d in (1, 3, degrees[-1]) if d in poly]
    figures += _fits_figure({d: poly[d] for d in shown_degrees}, grid[:, 0],
                            min(20, poly_rounds), out_dir / "fits")

    best_degree = min(poly, key=lambda d: poly[d].total)
    best_width = min(mlp, key=lambda h: mlp[h].total)
    header = "  noise    bias²  variance    total  measured"
    lines = [f"Bias-variance decomposition: y = sin(pi x) + N(0, {NOISE}^2), {N_TRAIN} "
             f"training points x ~ U(-1, 1), errors averaged over {len(grid)} test points",
             f"polynomials ({poly_rounds} training sets each)", "degree" + header]
    lines += [f"{d:6d}  {r.noise:5.3f}  {r.bias2:7.4f}  {r.variance:8.4g}  {r.total:7.4g}  "
              f"{r.test_error:8.4g}" for d, r in poly.items()]
    lines += [f"one hidden tanh layer, {epochs} full-batch Adam epochs ({mlp_rounds} "
              "training sets each)", " width" + header]
    lines += [f"{h:6d}  {r.noise:5.3f}  {r.bias2:7.4f}  {r.variance:8.4g}  {r.total:7.4g}  "
              f"{r.test_error:8.4g}" for h, r in mlp.items()]
    lines.append(f"lowest expected error: degree {best_degree} ({poly[best_degree].total:.4f}),"
                 f" width {best_width} ({mlp[best_width].total:.4f})")
    lines.append("(the estimate of bias^2 includes variance/R, R the number of training sets: "
                 "at the highest degrees that term dominates it)")
    lines.append("figures: degree, width (the three terms and the measured error), fits "
                 "(fitted curves of several training sets for three degrees)")

    def terms(results: dict[Any, Any], name: str) -> dict[str, list[float]]:
        return {f"{name}_{t}": [getattr(r, t) for r in results.values()]
                for t in ("bias2", "variance", "total", "test_error")}

    return DemoResult(
        name="bias-variance-decomposition", out_dir=out_dir, figures=figures,
        summary="\n".join(lines),
        metrics={"degrees": degrees, "widths": widths, "noise": NOISE**2,
                 "best_degree": best_degree, "best_width": best_width,
                 **terms(poly, "degree"), **terms(mlp, "width")},
    )
