"""The spatial prior of a convolution: MLP vs CNN on MNIST-1D and on its shuffled version.

Greydanus & Kobak's control experiment: permute the 40 positions of every MNIST-1D signal
by one fixed permutation. An MLP's first layer ``z = Wx + b`` sees the same information in
any order (permuting ``x`` permutes the columns of ``W``), so its accuracy does not move
(paper: 68 % → 68 %). A CNN's filters look at neighbouring positions — the prior that
nearby samples belong together — and the permutation destroys the neighbourhoods (paper:
94 % → 56 %).

The models and the training protocol are the paper's: the CNN is Conv1d 1→25 (k5 s2 p1),
Conv1d 25→25 (k3 s2 p1) twice, ReLU after each, Linear 125→10; the MLP is 40→100→100→10
with ReLU; Adam (lr 1e-2), batches of 100 taken in order through the 4,000 training
signals, 6,000 steps, accuracy on the 1,000 test signals. Each number is the mean over
three seeds (the model's initialisation), with the spread (min–max) beside it.

Also here: the paper's models as builders (:func:`mnist1d_cnn`, :func:`mnist1d_mlp`), a
small CNN for the 8×8 digits (:func:`digits_cnn`) and the training loop
(:func:`train_classifier`, the compiled step of :func:`chainrule.trace.compile_step`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from . import DemoResult

STEPS = 6000
BATCH = 100
LR = 1e-2
PAPER = {("mlp", "mnist1d"): 0.68, ("mlp", "mnist1d_shuffled"): 0.68,
         ("cnn", "mnist1d"): 0.94, ("cnn", "mnist1d_shuffled"): 0.56}


def mnist1d_cnn(seed: int = 0) -> Any:
    """The MNIST-1D paper's CNN (input ``(N, 1, 40)``; lengths 40 → 19 → 10 → 5).

    >>> import chainrule as cr
    >>> model = mnist1d_cnn(seed=0)
    >>> model(cr.ones(2, 1, 40)).shape, model.num_parameters()
    ((2, 10), 5210)
    """
    from chainrule import nn

    return nn.Sequential(
        nn.Conv1d(1, 25, 5, stride=2, padding=1, seed=seed), nn.ReLU(),
        nn.Conv1d(25, 25, 3, stride=2, padding=1, seed=seed + 1), nn.ReLU(),
        nn.Conv1d(25, 25, 3, stride=2, padding=1, seed=seed + 2), nn.ReLU(),
        nn.Flatten(), nn.Linear(125, 10, seed=seed + 3),
    )


def mnist1d_mlp(seed: int = 0) -> Any:
    """The MNIST-1D paper's MLP: 40 → 100 → 100 → 10 with ReLU (input ``(N, 40)``).

    >>> mnist1d_mlp().num_parameters()
    15210
    """
    from chainrule import nn

    return nn.Sequential(nn.Linear(40, 100, seed=seed), nn.ReLU(),
                         nn.Linear(100, 100, seed=seed + 1), nn.ReLU(),
                         nn.Linear(100, 10, seed=seed + 2))


def digits_cnn(seed: int = 0) -> Any:
    """A CNN for the 8×8 digits (input ``(N, 1, 8, 8)``): 3×3 convolutions with 'same'
    padding and ReLU — 32 and 32 channels, 2×2 max pooling, 64 channels, 2×2 max pooling —
    then Linear 256 → 10.

    >>> import chainrule as cr
    >>> digits_cnn()(cr.ones(3, 1, 8, 8)).shape
    (3, 10)
    """
    from chainrule import nn

    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1, seed=seed), nn.ReLU(),
        nn.Conv2d(32, 32, 3, padding=1, seed=seed + 1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1, seed=seed + 2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(256, 10, seed=seed + 3),
    )


def digits_split(seed: int = 0) -> tuple[np.ndarray, ...]:
    """``(X_train, y_train, X_test, y_test)``: the 1,797 digits as ``(n, 1, 8, 8)`` float32
    images scaled to ``[0, 1]``, split 80/20 with the classes stratified."""
    from chainrule import data

    ds = data.digits()
    X = (data.as_images(ds) / 16.0).astype(np.float32)
    tr, dev, te = data.train_dev_test_split(X, ds.y, fractions=(0.7, 0.1, 0.2),
                                            stratify=True, seed=seed)
    return (np.concatenate([tr.X, dev.X]), np.concatenate([tr.y, dev.y]), te.X, te.y)


def shift_augment(X: np.ndarray, y: np.ndarray, radius: int = 1) -> tuple[np.ndarray, ...]:
    """Every image of ``X`` (``(n, C, H, W)``) shifted by ``(dy, dx)`` for each
    ``|dy|, |dx| ≤ radius`` (zeros fill the border): ``(2r + 1)²`` copies of the set.

    >>> X2, y2 = shift_augment(np.ones((2, 1, 8, 8)), np.array([0, 1]))
    >>> X2.shape, int(X2[0].sum()), y2[:4].tolist()
    ((18, 1, 8, 8), 49, [0, 1, 0, 1])
    """
    H, W = X.shape[-2:]
    xs, ys = [], []
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            Z = np.zeros_like(X)
            Z[..., max(dy, 0):H + min(dy, 0), max(dx, 0):W + min(dx, 0)] = \
                X[..., max(-dy, 0):H + min(-dy, 0), max(-dx, 0):W + min(-dx, 0)]
            xs.append(Z)
            ys.append(y)
    return np.concatenate(xs), np.concatenate(ys)


def train_digits_cnn(seed: int = 0, steps: int = 3000) -> tuple[Any, float]:
    """:func:`digits_cnn` trained with Adam (lr 2e-3 annealed to 0 along half a cosine over
    the ``steps``, batches of 32 in a random order) on the shift-augmented training part
    of :func:`digits_split`; returns the model and its test accuracy."""
    Xtr, ytr, Xte, yte = digits_split()
    Xa, ya = shift_augment(Xtr, ytr)
    model = train_classifier(digits_cnn(seed), Xa, ya, steps=steps, batch_size=32, lr=2e-3,
                             shuffle_seed=seed, cosine=True)
    return model, accuracy(model, Xte, yte)


def accuracy(model: Any, X: np.ndarray, y: np.ndarray, batch: int = 1000) -> float:
    """Fraction of rows of ``X`` whose arg-max logit is ``y`` (evaluation mode, no graph)."""
    import chainrule as cr

    was = model.training
    model.eval()
    try:
        with cr.no_grad():
            pred = np.concatenate([model(X[i:i + batch]).numpy().argmax(1)
                                   for i in range(0, len(X), batch)])
    finally:
        model.train(was)
    return float(np.mean(pred == y))


def train_classifier(model: Any, X: np.ndarray, y: np.ndarray, *, steps: int,
                     batch_size: int = BATCH, lr: float = LR, shuffle_seed: int | None = None,
                     weight_decay: float = 0.0, cosine: bool = False) -> Any:
    """Train ``model`` with Adam on cross-entropy for ``steps`` mini-batch steps.

    Batch ``t`` is rows ``[t·B mod n, t·B mod n + B)`` (the MNIST-1D paper's order), or, with
    ``shuffle_seed``, rows in a fresh random order each epoch. Each step is a
    ``train.TrainingStep`` (compiled where faithful). With ``cosine``, the learning rate
    of step ``t`` is ``lr·(1 + cos(π t / steps))/2`` (``CosineAnnealingLR(T_max=steps)``).

    Returns:
        The model (trained in place).
    """
    from chainrule import optim
    from chainrule.nn import functional as F
    from chainrule.train import TrainingStep

    opt = optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    step = TrainingStep(model, F.cross_entropy, opt)
    schedule = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps) if cosine else None
    n = len(X)
    rng = None if shuffle_seed is None else np.random.default_rng(shuffle_seed)
    order = np.arange(n)
    per_epoch = max(n // batch_size, 1)
    for t in range(steps):
        if rng is not None:
            if t % per_epoch == 0:
                order = rng.permutation(n)
            idx = order[(t % per_epoch) * batch_size:(t % per_epoch + 1) * batch_size]
            step(X[idx], y[idx])
        else:
            b = (t * batch_size) % n
            step(X[b:b + batch_size], y[b:b + batch_size])
        if schedule is not None:
            schedule.step()
    return model


def mnist1d_arrays(shuffled: bool, images: bool) -> tuple[np.ndarray, ...]:
    """``(X_train, y_train, X_test, y_test)`` of MNIST-1D as float32 (``(n, 1, 40)`` when
    ``images``, else ``(n, 40)``)."""
    from chainrule import data

    name = "mnist1d_shuffled" if shuffled else "mnist1d"
    out = []
    for split in ("train", "test"):
        ds = data.load_dataset(name, split=split)
        X = data.as_images(ds) if images else ds.X
        out += [X.astype(np.float32), ds.y]
    return tuple(out)


def run_spatial_prior(seeds: list[int], steps: int,
                      progress: Callable[[str], None] = lambda _m: None
                      ) -> dict[tuple[str, str], list[float]]:
    """Test accuracy per ``(model, dataset)`` and seed."""
    results: dict[tuple[str, str], list[float]] = {}
    for dataset in ("mnist1d", "mnist1d_shuffled"):
        for kind, build in (("mlp", mnist1d_mlp), ("cnn", mnist1d_cnn)):
            Xtr, ytr, Xte, yte = mnist1d_arrays(dataset.endswith("shuffled"), kind == "cnn")
            accs = []
            for s in seeds:
                model = train_classifier(build(seed=1000 * s), Xtr, ytr, steps=steps)
                accs.append(accuracy(model, Xte, yte))
                progress(f"{kind} on {dataset}, seed {s}: {accs[-1]:.3f}")
            results[(kind, dataset)] = accs
    return results


def _table(results: dict[tuple[str, str], list[float]], steps: int, seeds: list[int]) -> str:
    lines = [
        f"Test accuracy on MNIST-1D (1,000 test signals), {steps} Adam steps, mean over "
        f"seeds {seeds} [min–max]; paper in parentheses.",
        "",
        f"{'model':<6}{'mnist1d':>36}{'shuffled':>36}",
    ]
    for kind in ("mlp", "cnn"):
        cells = []
        for ds in ("mnist1d", "mnist1d_shuffled"):
            a = np.array(results[(kind, ds)])
            cells.append(f"{a.mean():.3f} [{a.min():.3f}–{a.max():.3f}] ({PAPER[(kind, ds)]:.2f})")
        lines.append(f"{kind:<6}{cells[0]:>36}{cells[1]:>36}")
    cnn = np.mean(results[("cnn", "mnist1d")]) - np.mean(results[("cnn", "mnist1d_shuffled")])
    mlp = np.mean(results[("mlp", "mnist1d")]) - np.mean(results[("mlp", "mnist1d_shuffled")])
    lines += ["", f"Shuffling the positions costs the CNN {cnn:.3f} and the MLP {mlp:.3f}: "
              "the convolution's advantage is its spatial prior."]
    return "\n".join(lines)


def _figure(results: dict[tuple[str, str], list[float]], path: Path) -> list[Path]:
    from .. import plots

    def draw(fig: Any, axes: Any) -> None:
        ax = axes[0, 0]
        width = 0.38
        for j, (kind, colour) in enumerate((("mlp", plots.CLASS_COLOURS[0]),
                                            ("cnn", plots.CLASS_COLOURS[1]))):
            accs = [np.array(results[(kind, ds)]) for ds in ("mnist1d", "mnist1d_shuffled")]
            means = [a.mean() for a in accs]
            err = np.array([[m - a.min() for m, a in zip(means, accs)],
                            [a.max() - m for m, a in zip(means, accs)]])
            xs = np.arange(2) + (j - 0.5) * width
            ax.bar(xs, means, width, yerr=err, capsize=4, color=colour, label=kind.upper())
            for x, m, a in zip(xs, means, accs):
                ax.text(x, a.max() + 0.015, f"{m:.2f}", ha="center", fontsize=9)
        ax.set_xticks(range(2), ["MNIST-1D", "shuffled positions"])
        ax.set_ylim(0, 1.05)
        ax.set_ylabel("test accuracy")
        ax.set_title("The spatial prior: CNN vs MLP")
        ax.legend(loc="upper right")

    return list(plots.custom_figure(draw, path=path, size=(6.0, 4.0)))


def run(out_dir: Path, *, quick: bool = False, seed: int = 0,
        progress: Callable[[str], None] = lambda _m: None) -> DemoResult:
    """Train the paper's MLP and CNN on MNIST-1D and its shuffled version over three seeds;
    write the table (``summary.txt``) and the bar chart ``spatial_prior.png/.svg``.
    ``quick``: two seeds and 300 steps (the CNN's lead and its loss under shuffling already
    show)."""
    seeds = [seed, seed + 1] if quick else [seed, seed + 1, seed + 2]
    steps = 300 if quick else STEPS
    results = run_spatial_prior(seeds, steps, progress)
    summary = _table(results, steps, seeds)
    figures = _figure(results, out_dir / "spatial_prior")
    metrics = {f"{kind}/{ds}": results[(kind, ds)] for kind, ds in results}
    return DemoResult("spatial-prior", out_dir, figures, summary, metrics)
