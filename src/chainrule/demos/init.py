"""Initialisation: zero vs constant vs small random vs Xavier vs He vs large weights.

The same network — five hidden tanh layers of 64 units on the standardised digits set — is
started from different weights (biases zero) and trained with the same SGD + momentum:

- **zeros**: every hidden unit computes ``tanh(0) = 0`` and receives the same (zero)
  gradient, so the units stay identical — *symmetry* is never broken and the network can
  only learn the output bias (the class frequencies);
- **constant** (all weights 0.05): the units are identical again; they do learn, but as
  one unit copied 64 times — the first layer's rows stay equal;
- **small random** ``N(0, 0.01²)``: the symmetry is broken, but each layer multiplies the
  signal by about ``√64·0.01 = 0.08``; activations and gradients shrink layer by layer and
  learning crawls;
- **Xavier** ``Var(W) = 2/(fan_in + fan_out)``: activations keep their spread through the
  depth (Glorot & Bengio 2010) — the right scale for tanh;
- **He** ``Var(W) = 2/fan_in``: right for ReLU; for tanh a little large, pushing more units
  towards ``±1``;
- **large** ``N(0, 1)``: pre-activations of size ``√64 = 8``: nearly every tanh is
  *saturated* at ``±1``, where ``tanh′ ≈ 0``, and the gradients vanish.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .. import plots
from . import DemoResult

DEPTH = 5
WIDTH = 64
LR = 0.02


def initialisers() -> dict[str, Any]:
    """Name → initialiser accepted by ``nn.Linear(init=...)``."""
    from chainrule.nn import init

    return {
        "zeros": "zeros",
        "constant 0.05": functools.partial(init.constant, val=0.05),
        "small N(0, 0.01²)": functools.partial(init.normal, std=0.01),
        "Xavier": "xavier",
        "He": "he",
        "large N(0, 1)": functools.partial(init.normal, std=1.0),
    }


def network(init: Any, n_in: int, n_out: int, seed: int) -> Any:
    """``DEPTH`` hidden tanh layers of ``WIDTH`` units, every weight from ``init``."""
    from chainrule import nn

    layers: list[Any] = []
    width = n_in
    for i in range(DEPTH):
        layers += [nn.Linear(width, WIDTH, init=init, seed=seed + i), nn.Tanh()]
        width = WIDTH
    layers.append(nn.Linear(width, n_out, init=init, seed=seed + DEPTH))
    return nn.Sequential(*layers)


def hidden_activations(model: Any, X: np.ndarray) -> list[np.ndarray]:
    """The output of every tanh layer on ``X`` (eval mode, no graph)."""
    import chainrule as cr
    from chainrule import nn

    acts = []
    with cr.no_grad():
        a = cr.tensor(X.astype(np.float32))
        for layer in model:
            a = layer(a)
            if isinstance(layer, nn.Tanh):
                acts.append(a.numpy().copy())
    return acts


def distinct_units(W: np.ndarray, tol: float = 1e-6) -> int:
    """Number of distinct rows of ``W`` (hidden units with different incoming weights)."""
    rows: list[np.ndarray] = []
    for r in W:
        if not any(np.max(np.abs(r - q)) <= tol * max(1.0, np.abs(q).max()) for q in rows):
            rows.append(r)
    return len(rows)


def run(out_dir: Path, *, quick: bool = False, seed: int = 0,
        progress: Callable[[str], None]) -> DemoResult:
    """Train the network from each initialisation; draw activations, losses and weights."""
    from chainrule import data, optim, train

    ds = data.load_dataset("digits")
    split = data.train_dev_test_split(ds.X, ds.y, stratify=True, seed=seed)
    scaler = data.Standardizer().fit(split.train.X)
    Xtr, Xdv = scaler.transform(split.train.X), scaler.transform(split.dev.X)
    epochs = 6 if quick else 20
    inits = initialisers()
    acts_at_init: dict[str, list[np.ndarray]] = {}
    curves: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    first_layer: dict[str, np.ndarray] = {}
    results: dict[str, dict[str, Any]] = {}
    progress(f"{len(inits)} initialisations × {epochs} epochs of SGD + momentum")
    for name, init in inits.items():
        model = network(init, Xtr.shape[1], 10, seed=seed * 100)
        acts = hidden_activations(model, Xtr[:500])
        acts_at_init[name] = acts
        opt = optim.SGD(model.parameters(), lr=LR, momentum=0.9)
        hist = train.fit(model, "cross_entropy", opt, (Xtr, split.train.y),
                         (Xdv, split.dev.y), epochs=epochs, batch_size=64, seed=seed,
                         progress=False)
        curves[name] = (hist.column("epoch"), hist.column("train_loss"))
        W1 = model[0].weight.numpy().astype(np.float64)
        first_layer[name] = W1
        last = acts[-1]
        results[name] = {
            "dev_accuracy": float(hist.column("dev_accuracy")[-1]),
            "train_loss": float(hist.column("train_loss")[-1]),
            "distinct_units": distinct_units(W1),
            "last_layer_std": float(last.std()),
            "saturated": float(np.mean(np.abs(np.concatenate([a.ravel() for a in acts]))
                                       > 0.99)),
        }
    figures: list[Path] = []
    figures += plots.histograms(
        {k: v for k, v in acts_at_init.items()}, xlabel="hidden activation $\\tanh(z)$",
        bins=60, range_=(-1.0, 1.0),
        title=f"Hidden activations at initialisation, layers 1–{DEPTH} (digits, 500 samples)",
        path=out_dir / "activations")
    figures += plots.line_plot(
        curves, xlabel="epoch", ylabel="training loss (cross-entropy, log scale)", logy=True,
        hlines={r"$\ln 10$: uniform guess": float(np.log(10))},
        title=f"Training from each initialisation (SGD, η = {LR}, β = 0.9)",
        path=out_dir / "training")
    def units(k: str) -> str:
        d = results[k]["distinct_units"]
        return f"{k}: {d} distinct unit{'s' if d != 1 else ''}"

    shown = {units(k): first_layer[k][:, :32] for k in ("zeros", "constant 0.05", "Xavier")}
    figures += plots.matrices(
        shown, xlabel="input pixel $j$ (first 32)", ylabel="hidden unit $i$",
        title="First-layer weights $W_{ij}$ after training: symmetric starts stay symmetric",
        path=out_dir / "symmetry")
    figures += plots.activations(("tanh", "sigmoid", "relu"), path=out_dir /
                                 "activation_functions")
    lines = [f"Initialisation on a {DEPTH}x{WIDTH} tanh network (digits), {epochs} epochs of "
             f"SGD (lr {LR}, momentum 0.9)",
             f"{'init':18s} {'dev acc':>8s} {'train loss':>11s} {'distinct units':>15s} "
             f"{'std(a_5) at init':>17s} {'|a|>0.99 at init':>17s}"]
    for name, r in results.items():
        lines.append(f"{name:18s} {r['dev_accuracy']:8.3f} {r['train_loss']:11.4f} "
                     f"{r['distinct_units']:15d} {r['last_layer_std']:17.3g} "
                     f"{r['saturated']:17.1%}")
    lines.append("figures: activations (histograms per layer at initialisation), training "
                 "(loss per epoch), symmetry (first-layer weights), activation_functions")
    return DemoResult(name="init", out_dir=out_dir, figures=figures, summary="\n".join(lines),
                      metrics=results)
