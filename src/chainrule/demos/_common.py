"""Small helpers shared by the demos: an MLP and a full-batch training loop."""

from __future__ import annotations

from typing import Any

import numpy as np


def mlp(sizes: list[int], activation: str = "tanh", init: Any = "xavier", seed: int = 0,
        dtype: Any = np.float64) -> Any:
    """``Linear → activation → … → Linear`` with the given layer sizes (input first):
    ``nn.mlp`` with the demos' defaults (tanh, Xavier, float64)."""
    from chainrule import nn

    return nn.mlp(sizes, activation, init=init, seed=seed, dtype=dtype)


def train_full_batch(model: Any, X: np.ndarray, y: np.ndarray, *, steps: int, lr: float,
                     l2: float = 0.0, loss: str = "mse", cosine: bool = False) -> list[float]:
    """Full-batch Adam on ``J = loss + (λ/2)‖W‖²`` for ``steps`` steps; returns ``J`` per step.

    ``y`` of a regression must have the model's output shape (``(n, 1)`` for one output);
    a classification passes integer labels with ``loss="cross_entropy"``. With ``cosine``
    the learning rate follows ``η_t = η·½(1 + cos(πt/T))`` (``optim.CosineAnnealingLR``).
    Each step is a ``train.TrainingStep``.
    """
    from chainrule import optim
    from chainrule.nn import functional as F
    from chainrule.train import TrainingStep, step_schedule

    opt = optim.Adam(model.parameters(), lr=lr)
    schedule = optim.get_scheduler("cosine", opt, T_max=steps) if cosine else None
    Xa = np.asarray(X, dtype=np.float64)
    ya = np.asarray(y) if loss == "cross_entropy" else np.asarray(y, dtype=np.float64)
    loss_fn = F.cross_entropy if loss == "cross_entropy" else F.mse_loss
    step = TrainingStep(model, loss_fn, opt, l2=l2)
    history = []
    model.train()
    for _ in range(steps):
        history.append(step(Xa, ya).objective)
        if schedule is not None:
            step_schedule(schedule)
    model.eval()
    return history


def predict(model: Any, X: np.ndarray) -> np.ndarray:
    """The model's outputs on ``X`` in eval mode, without a graph."""
    import chainrule as cr

    model.eval()
    with cr.no_grad():
        return model(cr.tensor(np.asarray(X, dtype=np.float64))).numpy()
