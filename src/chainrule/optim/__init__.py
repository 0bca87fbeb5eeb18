"""Optimisers, learning-rate schedules (``optim.lr_scheduler``) and gradient clipping.

Every optimiser follows ``torch.optim``'s update rule, hyperparameter names and defaults,
so a run can be compared with PyTorch step by step; each docstring gives the algorithm as
equations and notes where textbooks write it differently.

>>> import numpy as np, chainrule as cr
>>> from chainrule import optim
>>> w = cr.tensor(np.array([1.0, 2.0]), requires_grad=True)
>>> opt = optim.get_optimizer("adam", [w], lr=0.1)
>>> for _ in range(100):
...     opt.zero_grad(); (w * w).sum().backward(); opt.step()
>>> bool(np.abs(w.data).max() < 0.1)
True
"""

from __future__ import annotations

from typing import Any

from . import lr_scheduler
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .clip import clip_grad_norm_, clip_grad_value_, total_grad_norm
from .lr_scheduler import SCHEDULERS, get_scheduler
from .optimizer import Optimizer, ParamsT
from .rmsprop import RMSprop
from .sgd import SGD, Momentum

OPTIMIZERS: dict[str, type[Optimizer]] = {
    "sgd": SGD,
    "momentum": Momentum,
    "rmsprop": RMSprop,
    "adagrad": Adagrad,
    "adam": Adam,
    "adamw": AdamW,
}


def get_optimizer(name: str, params: ParamsT, **kwargs: Any) -> Optimizer:
    """The optimiser registered as ``name`` (see ``OPTIMIZERS``), built on ``params``.

    Names are case-insensitive. ``kwargs`` are the optimiser's hyperparameters.

    Raises:
        ValueError: unknown name (the message lists the valid ones).

    Example:
        >>> import chainrule as cr
        >>> from chainrule import optim
        >>> w = cr.tensor([1.0], requires_grad=True)
        >>> optim.get_optimizer("momentum", [w], lr=0.1).param_groups[0]["momentum"]
        0.9
    """
    if not isinstance(name, str):
        raise TypeError(f"optimizer name must be a str, got {type(name).__name__}")
    cls = OPTIMIZERS.get(name.lower())
    if cls is None:
        raise ValueError(
            f"unknown optimizer {name!r}; valid names: {', '.join(sorted(OPTIMIZERS))}"
        )
    return cls(params, **kwargs)


__all__ = [
    "OPTIMIZERS",
    "SCHEDULERS",
    "SGD",
    "Adagrad",
    "Adam",
    "AdamW",
    "Momentum",
    "Optimizer",
    "RMSprop",
    "clip_grad_norm_",
    "clip_grad_value_",
    "get_optimizer",
    "get_scheduler",
    "lr_scheduler",
    "total_grad_norm",
]
