"""Universal approximation: one hidden layer of sigmoids fitting a 1-D function.

The target is ``f(x) = sin(2πx) + 0.3·sin(6πx)`` on ``[0, 1]`` (``load_dataset("universal")``,
200 points). A network with one hidden layer of ``N`` sigmoid units computes::

    F(x) = Σ_{i=1..N} v_i σ(w_i x' + b_i) + c,       x' = 2x − 1 ∈ [−1, 1]

Each unit is a smoothed step at ``x' = −b_i/w_i`` of height ``v_i`` (see ``sigmoid_family``):
with enough steps any continuous function can be matched as closely as wanted (Cybenko
1989; Hornik 1991). The hidden layer starts as such a staircase — slopes
``w_i ~ N(0, 10²)``, step positions spread evenly over ``[−1, 1]`` — and every weight is
then trained by full-batch Adam with a cosine-decaying learning rate. The error on a fine
grid falls steadily as ``N`` grows.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .. import plots
from . import DemoResult
from ._common import mlp, predict, train_full_batch


def target(x: np.ndarray) -> np.ndarray:
    """``f(x) = sin(2πx) + 0.3·sin(6πx)``."""
    return np.sin(2 * np.pi * x) + 0.3 * np.sin(6 * np.pi * x)


def staircase_network(width: int, seed: int, slope: float = 10.0) -> Any:
    """``1 → width sigmoid units → 1``, hidden steps spread evenly over ``[−1, 1]``."""
    model = mlp([1, width, 1], "sigmoid", init="xavier", seed=seed)
    rng = np.random.default_rng(seed)
    w = slope * rng.standard_normal(width)
    centres = np.linspace(-1.0, 1.0, width) if width > 1 else np.zeros(1)
    model[0].weight.data[:, 0] = w
    model[0].bias.data[:] = -w * centres
    return model


def run(out_dir: Path, *, quick: bool = False, seed: int = 0,
        progress: Callable[[str], None]) -> DemoResult:
    """Fit networks of growing width; draw the fits and the error against width."""
    from chainrule.data import load_dataset

    ds = load_dataset("universal", n=200)
    X = 2.0 * ds.X - 1.0
    y = ds.y[:, None]
    widths = [1, 4, 16, 64] if quick else [1, 2, 4, 8, 16, 32, 64, 128]
    steps = 1500 if quick else 3000
    grid = np.linspace(0.0, 1.0, 1000)
    f_grid = target(grid)
    progress(f"{len(widths)} widths × {steps} full-batch Adam steps")
    rmse, max_err, fits = [], [], {}
    for h in widths:
        model = staircase_network(h, seed)
        train_full_batch(model, X, y, steps=steps, lr=0.02, cosine=True)
        out = predict(model, (2.0 * grid - 1.0)[:, None]).ravel()
        rmse.append(float(np.sqrt(np.mean((out - f_grid) ** 2))))
        max_err.append(float(np.max(np.abs(out - f_grid))))
        fits[f"N = {h}"] = out
    figures: list[Path] = []
    shown = {k: v for k, v in fits.items() if int(k.split()[-1]) in (1, 4, 16, widths[-1])}
    figures += plots.function_fits(
        grid, f_grid, shown, x_train=ds.X.ravel(), y_train=ds.y,
        title=r"One hidden layer of $N$ sigmoid units fitting "
              r"$f(x)=\sin 2\pi x + 0.3\sin 6\pi x$",
        path=out_dir / "fits")
    figures += plots.line_plot(
        {r"max error $\max_x |F(x) - f(x)|$": (widths, max_err),
         "RMS error": (widths, rmse)},
        xlabel="hidden units $N$ (log scale)", ylabel="error on a 1000-point grid (log scale)",
        logx=True, logy=True, title="Approximation error against width",
        path=out_dir / "error")
    figures += plots.sigmoid_family(path=out_dir / "sigmoid_steps")
    lines = ["Universal approximation: F(x) = sum_i v_i sigma(w_i x + b_i) + c fitting "
             "f(x) = sin(2 pi x) + 0.3 sin(6 pi x)",
             "width N   RMS error   max error"]
    lines += [f"{h:7d}  {r:10.4f}  {m:10.4f}" for h, r, m in zip(widths, rmse, max_err)]
    lines.append("figures: fits (F for several N), error (against N, log-log), "
                 "sigmoid_steps (the building block sigma(ax + b))")
    return DemoResult(name="universal", out_dir=out_dir, figures=figures,
                      summary="\n".join(lines),
                      metrics={"widths": widths, "rmse": rmse, "max_error": max_err})
