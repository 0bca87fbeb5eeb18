"""Small helpers shared by the demos: an MLP builder and a full-batch training loop."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np


def mlp(sizes: list[int], activation: str = "tanh", init: Any = "xavier", seed: int = 0,
        dtype: Any = np.float64) -> Any:
    """``Linear → activation → … → Linear`` with the given layer sizes (input first)."""
    from chainrule import nn

    layers: list[Any] = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Linear(a, b, init=init, seed=seed * 1000 + i, dtype=dtype))
        if i < len(sizes) - 2:
            layers.append(nn.get_activation(activation))
    return nn.Sequential(*layers)


def train_full_batch(model: Any, X: np.ndarray, y: np.ndarray, *, steps: int, lr: float,
                     l2: float = 0.0, loss: str = "mse", cosine: bool = False) -> list[float]:
    """Full-batch Adam on ``J = loss + (λ/2)‖W‖²`` for ``steps`` steps; returns ``J`` per step.

    ``y`` of a regression must have the model's output shape (``(n, 1)`` for one output);
    a classification passes integer labels with ``loss="cross_entropy"``. With ``cosine``
    the learning rate follows ``η_t = η·½(1 + cos(πt/T))`` (``optim.CosineAnnealingLR``).
    """
    import chainrule as cr
    from chainrule import nn, optim
    from chainrule.nn import functional as F

    opt = optim.Adam(model.parameters(), lr=lr)
    schedule = optim.get_scheduler("cosine", opt, T_max=steps) if cosine else None
    Xt = cr.tensor(np.asarray(X, dtype=np.float64))
    yt = cr.tensor(y if loss == "cross_entropy" else np.asarray(y, dtype=np.float64))
    weights = nn.weight_parameters(model) if l2 > 0 else []
    history = []
    model.train()
    for _ in range(steps):
        out = model(Xt)
        J = F.cross_entropy(out, yt) if loss == "cross_entropy" else F.mse_loss(out, yt)
        if weights:
            J = J + nn.l2_penalty(weights, l2)
        opt.zero_grad()
        J.backward()
        opt.step()
        if schedule is not None:
            schedule.step()
        history.append(float(J.data))
    model.eval()
    return history


def predict(model: Any, X: np.ndarray) -> np.ndarray:
    """The model's outputs on ``X`` in eval mode, without a graph."""
    import chainrule as cr

    model.eval()
    with cr.no_grad():
        return model(cr.tensor(np.asarray(X, dtype=np.float64))).numpy()
