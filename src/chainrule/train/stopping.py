"""Patience: the one early-stopping rule (best value, epochs without improvement, best
weights), used by :class:`~chainrule.train.EarlyStopping` and the scikit-learn estimators.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["Patience"]


class Patience:
    """Count the epochs in a row without improvement of a monitored value ``v``.

    With ``v*`` the best value so far and ``δ = min_delta``, an epoch *improves* when::

        v < v* − δ            (mode "min"; "max": v > v* + δ)
        v ≤ v* − δ            (with inclusive=True, scikit-learn's rule with δ = tol)

    The first value always improves; NaN never does. ``v*`` moves to ``v`` on an
    improvement — or, with ``track_any=True`` (scikit-learn's ``best_loss_`` and
    ``best_validation_score_``), whenever ``v`` is strictly better than ``v*``, by any
    margin. :meth:`update` returns True once
    ``wait``, the count of epochs without improvement, reaches ``patience``. With a model,
    the weights are copied whenever ``v*`` moves (:attr:`best_state`).

    Args:
        mode: ``"min"`` or ``"max"``.
        min_delta: ``δ ≥ 0``.
        patience: epochs without improvement that stop (≥ 1; ``math.inf`` never stops).
        inclusive: count ``v = v* − δ`` as an improvement.
        track_any: move ``v*`` on every strictly better value.
        best: the starting ``v*`` (None: none yet).

    Attributes:
        best, best_epoch, best_state: the best value, its epoch and a copy of the weights.
        wait: epochs in a row without improvement.

    Example:
        >>> p = Patience("min", 0.0, patience=2)
        >>> [p.update(v, epoch=e) for e, v in enumerate([3.0, 2.0, 2.5, 2.0], start=1)]
        [False, False, False, True]
        >>> p.best, p.best_epoch
        (2.0, 2)
    """

    def __init__(self, mode: str, min_delta: float, patience: int, *, inclusive: bool = False,
                 track_any: bool = False, best: float | None = None) -> None:
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        self.mode = mode
        self.min_delta = float(min_delta)
        self.patience = patience
        self.inclusive = bool(inclusive)
        self.track_any = bool(track_any)
        self.best: float | None = best
        self.best_epoch: int | None = None
        self.best_state: dict[str, Any] | None = None
        self.wait = 0

    def _better(self, value: float, margin: float, inclusive: bool) -> bool:
        if self.mode == "min":
            bound = self.best - margin
            return value <= bound if inclusive else value < bound
        bound = self.best + margin
        return value >= bound if inclusive else value > bound

    def improved(self, value: float) -> bool:
        """Whether ``value`` counts as an improvement on the best so far."""
        if math.isnan(value):
            return False
        if self.best is None:
            return True
        return self._better(value, self.min_delta, self.inclusive)

    def update(self, value: float, epoch: int | None = None, model: Any = None) -> bool:
        """Take the epoch's value (keep ``model``'s weights if it is the best); return
        whether ``patience`` epochs have passed without improvement."""
        value = float(value)
        improved = self.improved(value)
        if self.track_any:
            moved = not math.isnan(value) and (self.best is None
                                                or self._better(value, 0.0, False))
        else:
            moved = improved
        if moved:
            self.best = value
            self.best_epoch = epoch
            if model is not None:
                self.best_state = model.state_dict()  # copies
        if improved:
            self.wait = 0
        else:
            self.wait += 1
        return self.wait >= self.patience
