"""The learning-rate range test (Smith, 2015): sweep the rate, watch the loss, pick a rate.

Train for ``N`` mini-batch steps while the learning rate grows exponentially from
``start_lr`` to ``end_lr``::

    η_i = η_start · (η_end / η_start)^(i / (N − 1)),     i = 0 … N − 1

and record the loss ``L_i`` of each step. The loss first stays flat (the rate is too small
to move), then falls, then explodes (too large). The record is smoothed with a
bias-corrected exponential moving average (``β = 0.9`` by default: a window of about ten
steps, so that on a sweep of a few hundred steps the curve lags by a fraction of a decade;
fastai's 0.98 lags by about fifty steps)::

    m_i = β m_{i−1} + (1 − β) L_i,        L̂_i = m_i / (1 − β^{i+1})

and the sweep stops early once ``L̂_i > diverge · min_j L̂_j``. The suggested rate is the
one where the smoothed loss falls fastest — the minimum of ``dL̂ / d log η`` before the
loss's minimum (fastai's "steepest" rule); ``lr_min / 10`` (the rate at the minimum, divided
by ten) is reported as a more cautious alternative. The model and the optimiser are put
back as they were: the sweep only looks.

Reference: L. N. Smith, "Cyclical Learning Rates for Training Neural Networks" (2015,
arXiv:1506.01186), section 3.3; fastai's ``lr_find``.
"""

from __future__ import annotations

import copy
import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._checks import check_int

__all__ = ["LRFinderResult", "lr_find"]

RULE = ("steepest descent of the smoothed loss: the rate where dL̂/d(log η) is most "
        "negative, before the loss's minimum")


@dataclass(frozen=True)
class LRFinderResult:
    """The outcome of :func:`lr_find`.

    Attributes:
        lrs: the rate of each step, shape (n,).
        losses: the raw loss of each step, shape (n,).
        smoothed: the bias-corrected moving average ``L̂``, shape (n,).
        suggestion: the suggested rate (by :data:`RULE`).
        lr_min: the rate at the smallest smoothed loss.
        rule: how ``suggestion`` was chosen, in words.
        stopped_early: whether the sweep stopped because the loss diverged.
    """

    lrs: np.ndarray
    losses: np.ndarray
    smoothed: np.ndarray
    suggestion: float
    lr_min: float
    rule: str
    stopped_early: bool

    def __str__(self) -> str:
        return (f"suggested learning rate {self.suggestion:.3g} ({self.rule}); the smoothed "
                f"loss is lowest at {self.lr_min:.3g} (a cautious choice: {self.lr_min / 10:.3g})"
                f"; {len(self.lrs)} steps from {self.lrs[0]:.3g} to {self.lrs[-1]:.3g}"
                + (", stopped when the loss diverged" if self.stopped_early else ""))

    def plot(self, path: str | os.PathLike, title: str = "Learning-rate range test") -> Any:
        """Draw loss against rate (log x) with the suggestion marked; returns the paths."""
        from .. import plots

        return plots.lr_finder(self.lrs, self.losses, self.smoothed, self.suggestion,
                               lr_min=self.lr_min, rule=self.rule, title=title, path=path)


def _suggest(lrs: np.ndarray, smoothed: np.ndarray) -> tuple[float, float]:
    """``(steepest, lr_min)`` of a smoothed loss record."""
    k = int(np.argmin(smoothed))
    lr_min = float(lrs[k])
    if k < 2:
        return lr_min, lr_min
    slope = np.gradient(smoothed[: k + 1], np.log(lrs[: k + 1]))
    return float(lrs[int(np.argmin(slope))]), lr_min


def lr_find(
    model: Any,
    loss: Any,
    optimizer: Any,
    train_data: Any,
    *,
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    num_steps: int = 100,
    batch_size: int = 32,
    beta: float = 0.9,
    diverge: float = 4.0,
    seed: int | None = 0,
) -> LRFinderResult:
    """Run the learning-rate range test (see the module text) and suggest a rate.

    Args:
        model: the ``nn.Module``; its parameters, buffers and mode are restored afterwards.
        loss: a loss name (``"cross_entropy"``, ``"mse"``, …) or function.
        optimizer: the optimiser to test (its state and rates are restored afterwards).
        train_data: ``(X, y)`` arrays; the batches cycle through them, reshuffled each pass.
        start_lr, end_lr: the sweep's range, ``0 < start_lr < end_lr``.
        num_steps: steps ``N ≥ 5`` (one mini-batch each).
        batch_size: rows per step.
        beta: smoothing factor ``β`` in [0, 1).
        diverge: stop once the smoothed loss exceeds this multiple (> 1) of its minimum.
        seed: seed of the batch order.

    Returns:
        An :class:`LRFinderResult` (``str()`` states the suggestion and its rule).

    Example:
        >>> import numpy as np
        >>> from chainrule import nn, optim
        >>> X = np.random.default_rng(0).normal(size=(256, 2)); y = (X[:, 0] > 0).astype(int)
        >>> model = nn.Sequential(nn.Linear(2, 16, seed=0), nn.ReLU(), nn.Linear(16, 2, seed=1))
        >>> before = model.state_dict()["0.weight"].copy()
        >>> r = lr_find(model, "cross_entropy", optim.SGD(model.parameters(), lr=0.1), (X, y),
        ...             start_lr=1e-4, end_lr=100, num_steps=60)
        >>> 1e-4 <= r.suggestion <= 100, np.array_equal(model.state_dict()["0.weight"], before)
        (True, True)
    """
    from ..data import DataLoader
    from .step import TrainingStep

    if not 0 < start_lr < end_lr or not math.isfinite(end_lr):
        raise ValueError(f"need 0 < start_lr < end_lr, got start_lr={start_lr}, "
                         f"end_lr={end_lr}")
    num_steps = check_int(num_steps, "num_steps", 5)
    if not 0 <= beta < 1:
        raise ValueError(f"beta must be in [0, 1), got {beta}")
    if not diverge > 1:
        raise ValueError(f"diverge must be > 1, got {diverge}")
    X, y = train_data
    loader = DataLoader(np.asarray(X), np.asarray(y), batch_size=batch_size, shuffle=True,
                        seed=seed)
    saved_model = copy.deepcopy(model.state_dict())
    saved_opt = copy.deepcopy(optimizer.state_dict())
    was_training = model.training
    # the rate changes at every step: the eager step reads it from the optimiser each time
    step = TrainingStep(model, loss, optimizer, compile=False)
    lrs = start_lr * (end_lr / start_lr) ** (np.arange(num_steps) / (num_steps - 1))
    losses: list[float] = []
    smoothed: list[float] = []
    m = 0.0
    best = math.inf
    stopped = False
    batches = iter(loader)
    model.train()
    try:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for i, lr in enumerate(lrs):
                for group in optimizer.param_groups:
                    group["lr"] = float(lr)
                try:
                    xb, yb = next(batches)
                except StopIteration:
                    batches = iter(loader)
                    xb, yb = next(batches)
                value = step(xb, yb).loss
                if not math.isfinite(value):
                    stopped = True
                    break
                m = beta * m + (1 - beta) * value
                s = m / (1 - beta ** (i + 1))
                losses.append(value)
                smoothed.append(s)
                best = min(best, s)
                if s > diverge * best:
                    stopped = True
                    break
    finally:
        model.load_state_dict(saved_model)
        optimizer.load_state_dict(saved_opt)
        model.train(was_training)
    if len(losses) < 3:
        raise ValueError(f"the loss diverged within {len(losses) + 1} steps from "
                         f"{start_lr:g}; lower start_lr")
    n = len(losses)
    sm = np.asarray(smoothed)
    suggestion, lr_min = _suggest(lrs[:n], sm)
    return LRFinderResult(lrs=lrs[:n].copy(), losses=np.asarray(losses), smoothed=sm,
                          suggestion=suggestion, lr_min=lr_min, rule=RULE,
                          stopped_early=stopped)
