"""Pre-training and fine-tuning: train only the head on a small related task.

A family of related regressions shares its features. Inputs ``x ∈ ℝ¹⁰`` are standard
normal; a fixed *teacher* computes four features ``h*(x) = tanh(A x)`` (``A`` is 4×10);
a task is a read-out of them, ``y = Bᵀ h*(x) + ε`` with four outputs (``B`` is 4×4,
``ε ~ N(0, 0.05²)``). Two tasks of the family:

- the **source task** (read-out ``B_s``), with plenty of data: 2,000 labelled samples;
- the **target task** (another read-out ``B_t``), with few: ``n = 10 … 160`` samples.

A network ``10 → 64 → 16 → 4`` (tanh) is pre-trained on the source task. Its hidden layers
must compute the teacher's features to fit it, so on the target task it is enough to
re-train the last layer — 16·4 + 4 = 68 parameters instead of 1,812 — with the hidden
layers frozen (:func:`chainrule.train.freeze`). Three ways to learn the target task from
its ``n`` samples, all with the same optimiser (full-batch Adam, ``η = 10⁻²``, L2
``λ = 10⁻³``) and number of steps:

- **scratch**: a new network, every parameter trained;
- **head only**: the pre-trained network, hidden layers frozen, only the head trained;
- **all layers**: the pre-trained network as the starting point, every parameter trained.

The test error is the mean squared error on 2,000 fresh noiseless samples of the target
task (its variance is about 3). Each seed draws its own teacher, read-outs, data and
initial weights; the figure shows the median over seeds and the band from the lowest to
the highest. Measured (``chainrule demo finetune``, seeds 0–2, median test MSE): with
``n = 10`` labels the head alone reaches 0.013 where scratch stays at 1.7 (about 130×
lower); the lead shrinks as labels grow (``n = 40``: 0.008 vs 0.13; ``n = 160``: 0.006 vs
0.009) — pre-training helps where labelled data is scarce. Fine-tuning every layer from the
pre-trained start, at the same learning rate, does no better than scratch here: large
steps fitted to a few samples move the pre-trained features away; freezing them is what
keeps them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from . import DemoResult

D, M, K = 10, 4, 4          # inputs, teacher features, outputs
WIDTHS = (64, 16)           # hidden layers of the student network
NOISE = 0.05                # label noise σ
N_SOURCE = 2000             # labelled samples of the source task
N_TEST = 2000               # test samples of the target task
LR = 1e-2                   # fine-tuning learning rate (all three methods)
L2 = 1e-3                   # L2 penalty λ (all three methods)
METHODS = ("scratch", "head only", "all layers")


def make_family(seed: int) -> dict[str, np.ndarray]:
    """The teacher of one seed: ``A`` (4×10, rows of norm ≈ 2) and the read-outs ``B_s``,
    ``B_t`` (4×4, standard normal)."""
    rng = np.random.default_rng([seed, 18])
    return {"A": rng.standard_normal((M, D)) * (2.0 / np.sqrt(D)),
            "B_s": rng.standard_normal((M, K)), "B_t": rng.standard_normal((M, K))}


def sample(family: dict[str, np.ndarray], task: str, n: int, rng: np.random.Generator,
           noise: float = NOISE) -> tuple[np.ndarray, np.ndarray]:
    """``n`` samples ``(x, y = Bᵀ tanh(A x) + ε)`` of the ``"source"`` or ``"target"``
    task."""
    x = rng.standard_normal((n, D))
    B = family["B_s" if task == "source" else "B_t"]
    return x, np.tanh(x @ family["A"].T) @ B + noise * rng.standard_normal((n, K))


def network(seed: int) -> Any:
    """The student ``10 → 64 → 16 → 4`` (tanh, Xavier initialisation, float64)."""
    from chainrule import nn

    return nn.mlp([D, *WIDTHS, K], "tanh", init="xavier", seed=seed, dtype=np.float64)


def pretrain(family: dict[str, np.ndarray], seed: int, epochs: int) -> Any:
    """The network trained on ``N_SOURCE`` samples of the source task (Adam, η = 3·10⁻³,
    batches of 64)."""
    from chainrule import optim
    from chainrule.train import fit

    rng = np.random.default_rng([seed, 1])
    model = network(seed)
    fit(model, "mse", optim.Adam(model.parameters(), lr=3e-3),
        sample(family, "source", N_SOURCE, rng), epochs=epochs, batch_size=64, seed=seed,
        metrics=(), progress=False)
    return model


def learn_target(method: str, pretrained: Any, data: tuple[np.ndarray, np.ndarray],
                 seed: int, epochs: int) -> tuple[Any, Any]:
    """``(model, history)`` after learning the target task's ``data`` by ``method``
    (one of :data:`METHODS`)."""
    from chainrule import optim
    from chainrule.train import fit, freeze

    model = network(seed + 1000)
    if method != "scratch":
        model.load_state_dict(pretrained.state_dict())
    if method == "head only":
        freeze(model, "hidden")
    params = [p for p in model.parameters() if p.requires_grad]
    history = fit(model, "mse", optim.Adam(params, lr=LR), data, epochs=epochs,
                  batch_size=None, l2=L2, seed=seed, metrics=(), progress=False)
    return model, history


def run_finetune(seeds: list[int], ns: list[int], pretrain_epochs: int, epochs: int,
                 progress: Callable[[str], None] = lambda _m: None) -> dict[str, Any]:
    """Test MSE of every method, labelled-set size and seed: ``{"mse": {method:
    [[seed 0's errors over ns], …]}, "n_frozen": …, "n_total": …}``."""
    from chainrule.train import predict

    mse: dict[str, list[list[float]]] = {m: [] for m in METHODS}
    counts: tuple[int, int] = (0, 0)
    for s in seeds:
        family = make_family(s)
        progress(f"seed {s}: pre-training on {N_SOURCE} samples of the source task")
        pre = pretrain(family, s, pretrain_epochs)
        rng = np.random.default_rng([s, 2])
        X_test, Y_test = sample(family, "target", N_TEST, rng, noise=0.0)
        rows: dict[str, list[float]] = {m: [] for m in METHODS}
        for n in ns:
            data = sample(family, "target", n, rng)
            progress(f"seed {s}: target task with {n} labelled samples")
            for method in METHODS:
                model, history = learn_target(method, pre, data, s, epochs)
                err = float(np.mean((predict(model, X_test) - Y_test) ** 2))
                rows[method].append(err)
                if method == "head only":
                    counts = (history.n_frozen,
                              int(sum(p.data.size for p in model.parameters())))
        for m in METHODS:
            mse[m].append(rows[m])
    return {"mse": mse, "n_frozen": counts[0], "n_total": counts[1]}


def _figure(ns: list[int], mse: dict[str, list[list[float]]], path: Path) -> list[Path]:
    from matplotlib.ticker import NullLocator

    from .. import plots

    def draw(fig: Any, axes: Any) -> None:
        ax = axes[0, 0]
        for i, method in enumerate(METHODS):
            runs = np.array(mse[method])
            colour = plots.CLASS_COLOURS[i]
            ax.fill_between(ns, runs.min(axis=0), runs.max(axis=0), color=colour, alpha=0.18,
                            lw=0)
            ax.plot(ns, np.median(runs, axis=0), color=colour, marker=plots.MARKERS[i],
                    ls=plots.LINESTYLES[i], lw=1.8, ms=5, label=method)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(ns, [str(n) for n in ns])
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xlabel("labelled samples of the target task $n$ (log scale)")
        ax.set_ylabel("test mean squared error (log scale)")
        ax.set_title(f"Fine-tuning vs training from scratch ({len(mse[METHODS[0]])} seeds: "
                     "median, min–max)", fontsize=11)
        ax.legend()
        fig.tight_layout()

    paths = plots.custom_figure(draw, path=path)
    return [p for p in paths if p is not None]


def _table(ns: list[int], mse: dict[str, list[list[float]]], info: dict[str, Any],
           seeds: list[int], epochs: int) -> str:
    head = "     n  " + "  ".join(f"{m:>24}" for m in METHODS) + "  scratch / head"
    lines = [
        "Pre-training on a source task (2,000 samples), then learning a related target task "
        "from n samples",
        f"network {D}-{WIDTHS[0]}-{WIDTHS[1]}-{K} tanh; 'head only' trains "
        f"{info['n_total'] - info['n_frozen']:,} of {info['n_total']:,} parameters "
        f"({info['n_frozen']:,} frozen); {epochs} full-batch Adam steps each",
        f"test MSE on {N_TEST} noiseless target samples (target variance ≈ 3): median over "
        f"{len(seeds)} seeds [min – max]",
        head,
    ]
    for j, n in enumerate(ns):
        cells = []
        for m in METHODS:
            v = np.array([run[j] for run in mse[m]])
            cells.append(f"{np.median(v):.4f} [{v.min():.4f} – {v.max():.4f}]")
        ratio = np.median([a[j] for a in mse["scratch"]]) / np.median(
            [b[j] for b in mse["head only"]])
        lines.append(f"{n:6d}  " + "  ".join(f"{c:>24}" for c in cells) + f"  {ratio:14.1f}")
    lines.append("figure: finetune (test error against n, log-log)")
    return "\n".join(lines)


def run(out_dir: Path, *, quick: bool = False, seed: int = 0,
        progress: Callable[[str], None] = lambda _m: None) -> DemoResult:
    """Pre-train, then learn the target task by the three methods for several ``n`` and
    seeds; write the table (``summary.txt``) and the figure ``finetune.png/.svg``.
    ``quick``: two seeds, ``n`` = 10 and 40, shorter training (the head's lead already
    shows)."""
    seeds = [seed, seed + 1] if quick else [seed, seed + 1, seed + 2]
    ns = [10, 40] if quick else [10, 20, 40, 80, 160]
    pretrain_epochs, epochs = (20, 120) if quick else (60, 300)
    info = run_finetune(seeds, ns, pretrain_epochs, epochs, progress)
    summary = _table(ns, info["mse"], info, seeds, epochs)
    figures = _figure(ns, info["mse"], out_dir / "finetune")
    metrics = {"ns": ns, "seeds": seeds, "n_frozen": info["n_frozen"],
               "n_total": info["n_total"], **{f"mse/{m}": info["mse"][m] for m in METHODS}}
    return DemoResult("finetune", out_dir, figures, summary, metrics)
