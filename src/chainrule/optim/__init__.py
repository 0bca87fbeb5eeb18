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

from ..registry import Registry
from . import lr_scheduler
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .clip import clip_grad_norm_, clip_grad_value_, total_grad_norm
from .lr_scheduler import SCHEDULERS, get_scheduler
from .optimizer import Optimizer, ParamsT
from .rmsprop import RMSprop
from .sgd import SGD, Momentum

OPTIMIZERS = Registry("optimizer")
"""Optimiser classes by name, with their metadata: ``sklearn_params``, the constructor
arguments that scikit-learn's settings feed (``betas`` ← ``beta_1, beta_2``, ``eps`` ←
``epsilon``, ``momentum``, ``nesterov`` ← ``nesterovs_momentum``) in the estimators.
``OPTIMIZERS.register(name, cls)`` adds one (``lr`` is always passed)."""
OPTIMIZERS.register("sgd", SGD, sklearn="sgd", sklearn_params=("momentum", "nesterov"))
OPTIMIZERS.register("momentum", Momentum, sklearn_params=("momentum",))
OPTIMIZERS.register("rmsprop", RMSprop, sklearn_params=("eps",))
OPTIMIZERS.register("adagrad", Adagrad, sklearn_params=("eps",))
OPTIMIZERS.register("adam", Adam, sklearn="adam", sklearn_params=("betas", "eps"))
OPTIMIZERS.register("adamw", AdamW, sklearn_params=("betas", "eps"))


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
    return OPTIMIZERS.lookup(name)(params, **kwargs)


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
