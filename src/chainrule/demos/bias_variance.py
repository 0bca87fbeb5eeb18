"""Bias and variance: train and dev error against model width and against L2 strength.

Noisy two-moons data (noise 0.35): 40 training points and 2000 dev points drawn from the
same distribution. Networks with two hidden tanh layers of ``h`` units are trained to
convergence (full-batch Adam on the cross-entropy) on the training points only:

- **width** ``h = 1 … 64`` without regularisation: ``h = 1`` cannot bend the boundary and
  underfits (high bias: train and dev error both high); from a few units on, the network
  classifies every training point correctly but its dev error climbs again — it has
  fitted the noise (high variance: dev error far above train error);
- **L2 strength** ``λ`` on a wide network (penalty ``(λ/2)‖W‖²``): ``λ = 0`` overfits, a
  large ``λ`` shrinks the weights until the network underfits; in between the gap closes.

The decision regions of an underfitting, the best and an overfitting width show the same
story in the plane.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .. import plots
from . import DemoResult
from ._common import mlp, predict, train_full_batch

NOISE = 0.35
N_TRAIN = 40
LR = 0.01


def make_data(seed: int) -> tuple[Any, Any]:
    """``(train, dev)`` noisy-moons Datasets (40 and 2000 points, independent draws)."""
    from chainrule.data import load_dataset

    train = load_dataset("moons", n=N_TRAIN, noise=NOISE, seed=2 * seed + 1)
    dev = load_dataset("moons", n=2000, noise=NOISE, seed=2 * seed + 2)
    return train, dev


def _error(model: Any, ds: Any) -> float:
    return float(np.mean(predict(model, ds.X).argmax(axis=1) != ds.y))


def _fit(width: int, train: Any, steps: int, lam: float, seed: int) -> Any:
    model = mlp([2, width, width, 2], "tanh", seed=seed)
    train_full_batch(model, train.X, train.y, steps=steps, lr=LR, l2=lam, loss="cross_entropy")
    return model


def run(out_dir: Path, *, quick: bool = False, seed: int = 0,
        progress: Callable[[str], None]) -> DemoResult:
    """Sweep width and L2 strength; draw error curves and three decision-region panels."""
    train, dev = make_data(seed)
    steps = 1000 if quick else 2000
    widths = [1, 2, 8, 32] if quick else [1, 2, 3, 4, 8, 16, 32, 64]
    lams = [0.0, 3e-3, 3e-2, 3e-1] if quick else [0.0, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1]
    wide = 32
    figures: list[Path] = []
    seeds = [seed + k for k in range(2 if quick else 3)]
    progress(f"width sweep: {len(widths)} networks × {len(seeds)} seeds × {steps} "
             "full-batch Adam steps")
    runs_tr, runs_dv, models = [], [], {}
    for s in seeds:  # each seed: its own draw of the data and of the initial weights
        train_s, dev_s = (train, dev) if s == seed else make_data(s)
        row_tr, row_dv = [], []
        for h in widths:
            model = _fit(h, train_s, steps, 0.0, s)
            row_tr.append(_error(model, train_s))
            row_dv.append(_error(model, dev_s))
            if s == seed:
                models[h] = model
        runs_tr.append(row_tr)
        runs_dv.append(row_dv)
    tr_w = [float(v) for v in np.mean(runs_tr, axis=0)]
    dv_w = [float(v) for v in np.mean(runs_dv, axis=0)]
    figures += plots.error_curves(
        widths, runs_tr, runs_dv, xlabel="hidden units per layer $h$ (log scale)",
        ylabel="error rate (1 − accuracy)", logx=True,
        title=f"Error against width ({N_TRAIN} training points, noisy moons)",
        path=out_dir / "width")

    progress(f"L2 sweep on width {wide}: {len(lams)} networks")
    tr_l, dv_l = [], []
    for lam in lams:
        model = _fit(wide, train, steps, lam, seed)
        tr_l.append(_error(model, train))
        dv_l.append(_error(model, dev))
    smallest = min(v for v in lams if v > 0)
    shown = [v if v > 0 else smallest / 10 for v in lams]
    figures += plots.error_curves(
        shown, tr_l, dv_l, xlabel=r"L2 strength $\lambda$ (log scale, with $\lambda = 0$ "
        "at the left)", ylabel="error rate (1 − accuracy)", logx=True,
        xticklabels=[f"{v:g}" for v in lams],
        title=f"Error against L2 strength (width {wide})", path=out_dir / "l2")

    best = widths[int(np.argmin(dv_w))]
    tr0, dv0 = runs_tr[0], runs_dv[0]  # the panels show the first seed's networks
    panels = {f"h = {widths[0]}: underfits\n(train {tr0[0]:.0%}, dev {dv0[0]:.0%})":
              models[widths[0]]}
    panels[f"h = {best}: lowest dev error\n(train {tr0[widths.index(best)]:.0%}, dev "
           f"{dv0[widths.index(best)]:.0%})"] = models[best]
    panels[f"h = {widths[-1]}: overfits\n(train {tr0[-1]:.0%}, dev {dv0[-1]:.0%})"] = \
        models[widths[-1]]
    figures += plots.decision_regions(
        {k: (lambda P, m=m: predict(m, P)) for k, m in panels.items()}, train.X, train.y,
        resolution=301, title="Training points and decision regions of three widths",
        path=out_dir / "regions")

    lines = [f"Bias and variance on noisy moons (noise {NOISE}), {N_TRAIN} training and "
             f"{len(dev.y)} dev points; two tanh layers of h units, {steps} Adam steps",
             f"width h  train error  dev error   (means over {len(seeds)} seeds)"]
    lines += [f"{h:7d}  {a:11.3f}  {b:9.3f}" for h, a, b in zip(widths, tr_w, dv_w)]
    lines.append(f"L2 strength (h = {wide})  train error  dev error")
    lines += [f"{lam:20g}  {a:11.3f}  {b:9.3f}" for lam, a, b in zip(lams, tr_l, dv_l)]
    lines.append(f"lowest dev error: width {best} ({min(dv_w):.3f}); with L2 at width {wide}: "
                 f"lambda = {lams[int(np.argmin(dv_l))]:g} ({min(dv_l):.3f})")
    lines.append("figures: width, l2 (train and dev error), regions (three widths)")
    return DemoResult(
        name="bias-variance", out_dir=out_dir, figures=figures, summary="\n".join(lines),
        metrics={"widths": widths, "train_width": tr_w, "dev_width": dv_w, "lambdas": lams,
                 "train_l2": tr_l, "dev_l2": dv_l},
    )
