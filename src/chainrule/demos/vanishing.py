"""Vanishing and exploding gradients: per-layer gradient norms of deep networks.

**The linear case.** A chain of ``L`` layers ``a_l = W_l a_{l−1}`` with identity activation
and ``W_l = w·I`` back-propagates ``δ_l = ∂C/∂a_l`` as::

    δ_{l−1} = W_lᵀ δ_l = w δ_l,   so   ‖δ_1‖ = w^(L−1) ‖δ_L‖

— a geometric decay for ``w = 0.5`` (``0.5^(L−1)``: the first layers get almost no signal)
and an explosion for ``w = 1.5`` (``1.5^(L−1)``). chainrule's autodiff reproduces the law
to rounding error; the figure draws it against the theory line.

**Deep networks.** The same depth with non-linear layers, at initialisation, on one batch
of the digits set: a sigmoid network (Xavier init; ``σ′ ≤ ¼`` shrinks every backward step),
a ReLU network (He init, which keeps the variance of the gradients) and a residual network
with batch norm (``a_l = a_{l−1} + f(a_{l−1})``, so ``∂a_l/∂a_{l−1} = I + ∂f/∂a``: the
identity path carries the gradient through). Each weight matrix's gradient norm
``‖∂C/∂W_l‖_F`` is drawn against its layer, and the three networks are trained for a few
epochs to show what the gradient profile means for learning.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .. import plots
from . import DemoResult

LR = 0.01


def linear_chain_deltas(w: float, depth: int, width: int = 8, seed: int = 0) -> np.ndarray:
    """``‖δ_l‖ / ‖δ_L‖`` for ``l = 1 … L`` in a chain of ``W = w·I`` layers (autodiff).

    The chain is built from ``nn.Linear`` layers (weights ``w·I``, zero bias) with identity
    activation; ``C = r · a_L`` for a fixed random ``r``, so ``δ_L = r``.
    """
    import chainrule as cr
    from chainrule import nn

    rng = np.random.default_rng(seed)
    layers = []
    for _ in range(depth):
        layer = nn.Linear(width, width, dtype=np.float64)
        layer.weight.data[...] = w * np.eye(width)
        layer.bias.data[...] = 0.0
        layers.append(layer)
    a = cr.tensor(rng.standard_normal((1, width)))
    outs = []
    for layer in layers:
        a = layer(a)
        a.retain_grad()
        outs.append(a)
    r = cr.tensor(rng.standard_normal((1, width)))
    (a * r).sum().backward()
    norms = np.array([np.linalg.norm(o.grad.numpy()) for o in outs])
    return norms / norms[-1]


def deep_network(kind: str, depth: int, width: int, n_in: int, n_out: int, seed: int) -> Any:
    """A network with ``depth`` weight layers: ``sigmoid``, ``relu`` or ``residual``."""
    from chainrule import nn

    layers: list[Any] = [nn.Linear(n_in, width, init="xavier" if kind == "sigmoid" else "he",
                                   seed=seed)]
    layers.append(nn.Sigmoid() if kind == "sigmoid" else nn.ReLU())
    for i in range(depth - 2):
        s = seed + 1 + i
        if kind == "sigmoid":
            layers += [nn.Linear(width, width, init="xavier", seed=s), nn.Sigmoid()]
        elif kind == "relu":
            layers += [nn.Linear(width, width, init="he", seed=s), nn.ReLU()]
        else:
            block = nn.Sequential(nn.Linear(width, width, init="he", seed=s),
                                  nn.BatchNorm1d(width), nn.ReLU())
            layers.append(nn.Residual(block))
    layers.append(nn.Linear(width, n_out, init="xavier", seed=seed + depth))
    return nn.Sequential(*layers)


def weight_gradient_norms(model: Any, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``‖∂C/∂W_l‖_F`` of every weight matrix (2-D parameter), first layer first."""
    import chainrule as cr
    from chainrule.nn import functional as F

    model.train()
    for p in model.parameters():
        p.grad = None
    F.cross_entropy(model(cr.tensor(X.astype(np.float32))), cr.tensor(y)).backward()
    return np.array([np.linalg.norm(p.grad.numpy()) for name, p in model.named_parameters()
                     if p.ndim == 2])


def run(out_dir: Path, *, quick: bool = False, seed: int = 0,
        progress: Callable[[str], None]) -> DemoResult:
    """Draw the linear law, the per-layer norms of three deep networks and their training."""
    from chainrule import data, optim, train

    figures: list[Path] = []
    depth = 30
    progress(f"linear chain of {depth} layers, w = 0.5, 1.0, 1.5")
    measured, theory = {}, {}
    worst = 0.0
    for w in (0.5, 1.0, 1.5):
        rel = linear_chain_deltas(w, depth, seed=seed)
        law = w ** (depth - np.arange(1, depth + 1, dtype=np.float64))
        worst = max(worst, float(np.max(np.abs(rel / law - 1))))
        measured[f"autodiff, w = {w:g}"] = rel
        theory[f"theory $w^{{L-l}}$, w = {w:g}"] = law
    figures += plots.layer_gradient_norms(
        measured, reference=theory, ylabel=r"$\|\delta_l\| / \|\delta_L\|$ (log scale)",
        title=f"Linear chain, $W_l = w I$, L = {depth}: "
              r"$\|\delta_1\| = w^{L-1}\|\delta_L\|$",
        path=out_dir / "linear_chain")

    ds = data.load_dataset("digits")
    Xs = data.Standardizer().fit_transform(ds.X)
    deep = 12 if quick else 20
    width = 32
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(Xs), 256, replace=False)
    kinds = {"sigmoid": "sigmoid (Xavier)", "relu": "ReLU (He)",
             "residual": "residual + batch norm (He)"}
    progress(f"{deep}-layer networks: gradient norms at initialisation")
    norms = {}
    for kind, label in kinds.items():
        model = deep_network(kind, deep, width, Xs.shape[1], 10, seed=seed * 100 + 1)
        norms[label] = weight_gradient_norms(model, Xs[idx], ds.y[idx])
    figures += plots.layer_gradient_norms(
        norms, title=f"{deep}-layer networks at initialisation (digits, batch of 256)",
        path=out_dir / "deep_networks")

    epochs = 3 if quick else 8
    progress(f"training each network for {epochs} epochs")
    split = data.train_dev_test_split(Xs, ds.y, stratify=True, seed=seed)
    curves, finals = {}, {}
    for kind, label in kinds.items():
        model = deep_network(kind, deep, width, Xs.shape[1], 10, seed=seed * 100 + 1)
        opt = optim.SGD(model.parameters(), lr=LR, momentum=0.9)
        hist = train.fit(model, "cross_entropy", opt, split.train, split.dev, epochs=epochs,
                         batch_size=64, seed=seed, progress=False)
        curves[label] = (hist.column("epoch"), hist.column("dev_accuracy"))
        finals[label] = float(hist.column("dev_accuracy")[-1])
    figures += plots.line_plot(
        curves, xlabel="epoch", ylabel="dev accuracy", ylim=(0.0, 1.02),
        hlines={"chance (10 classes)": 0.1},
        title=f"{deep}-layer networks trained with SGD + momentum (η = {LR})",
        path=out_dir / "deep_training")

    lines = [
        "Vanishing and exploding gradients",
        f"linear chain, L = {depth}, W = w*I: |delta_1|/|delta_L| = w^(L-1)",
        f"  w = 0.5: {measured['autodiff, w = 0.5'][0]:.3e} (theory {0.5 ** (depth - 1):.3e})",
        f"  w = 1.0: {measured['autodiff, w = 1'][0]:.3e} (theory 1)",
        f"  w = 1.5: {measured['autodiff, w = 1.5'][0]:.3e} (theory {1.5 ** (depth - 1):.3e})",
        f"  largest relative deviation from the law: {worst:.1e}",
        f"{deep}-layer networks, |dC/dW_1| / |dC/dW_L| at initialisation:",
    ]
    ratios = {}
    for label, v in norms.items():
        ratios[label] = float(v[0] / v[-1])
        lines.append(f"  {label:28s} {ratios[label]:.3e}")
    lines.append(f"dev accuracy after {epochs} epochs:")
    for label, acc in finals.items():
        lines.append(f"  {label:28s} {acc:.3f}")
    lines.append("figures: linear_chain, deep_networks (gradient norm per layer, log scale), "
                 "deep_training (dev accuracy per epoch)")
    return DemoResult(
        name="vanishing", out_dir=out_dir, figures=figures, summary="\n".join(lines),
        metrics={"linear_first_over_last": {str(w): float(measured[k][0]) for w, k in
                                            zip((0.5, 1.0, 1.5), measured)},
                 "linear_max_rel_error": worst, "first_over_last": ratios,
                 "dev_accuracy": finals, "depth": depth, "deep_depth": deep},
    )
