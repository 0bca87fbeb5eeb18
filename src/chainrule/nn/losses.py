"""Losses as modules (``loss_fn(input, target)``), and their registry.

Each module calls the function of the same name in :mod:`chainrule.nn.functional`, where
the full equations are; ``reduction`` is ``'mean'`` (default), ``'sum'`` or ``'none'``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..registry import Registry
from ..tensor import Tensor
from . import functional as F
from .module import Module

__all__ = [
    "LOSSES",
    "BCELoss",
    "BCEWithLogitsLoss",
    "CrossEntropyLoss",
    "HuberLoss",
    "KLDivLoss",
    "L1Loss",
    "MSELoss",
    "NLLLoss",
    "get_loss",
]


class _Loss(Module):
    def __init__(self, reduction: str = "mean", extra: tuple[str, ...] = ()) -> None:
        super().__init__()
        F._check_reduction(reduction, type(self).__name__, extra)
        self.reduction = reduction

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


def _const(value: Any) -> Any:
    if value is None:
        return None
    return np.array(value.data if isinstance(value, Tensor) else value)


class MSELoss(_Loss):
    """Mean squared error ``ℓ_i = (x_i − y_i)²`` (``½(x_i − y_i)²`` with ``half=True``).

    Args:
        reduction: ``'mean'`` (default), ``'sum'`` or ``'none'``.
        half: use the ½ convention (default False).

    Shapes: input and target the same (any shape).

    Example:
        >>> import chainrule as cr
        >>> from chainrule import nn
        >>> nn.MSELoss(half=True)(cr.tensor([2.0]), cr.tensor([0.0])).item()
        2.0
    """

    def __init__(self, reduction: str = "mean", half: bool = False) -> None:
        super().__init__(reduction)
        self.half = bool(half)

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.mse_loss(input, target, self.reduction, half=self.half)


class L1Loss(_Loss):
    """Mean absolute error ``ℓ_i = |x_i − y_i|``.

    Args:
        reduction: ``'mean'`` (default), ``'sum'`` or ``'none'``.

    Example:
        >>> import chainrule as cr
        >>> from chainrule import nn
        >>> nn.L1Loss()(cr.tensor([2.0, -1.0]), cr.tensor([0.0, 0.0])).item()
        1.5
    """

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__(reduction)

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.l1_loss(input, target, self.reduction)


class HuberLoss(_Loss):
    """Huber loss: ``½d²`` if ``|d| < delta`` else ``delta·(|d| − ½·delta)``, ``d = x − y``.

    Args:
        reduction: ``'mean'`` (default), ``'sum'`` or ``'none'``.
        delta: the switch point, > 0 (default 1.0).

    Reference: Huber, Ann. Math. Stat. 1964.

    Example:
        >>> import chainrule as cr
        >>> from chainrule import nn
        >>> nn.HuberLoss(delta=1.0)(cr.tensor([3.0]), cr.tensor([0.0])).item()
        2.5
    """

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction)
        if not float(delta) > 0:
            raise ValueError(f"HuberLoss: delta must be > 0, got {delta}")
        self.delta = float(delta)

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.huber_loss(input, target, self.reduction, self.delta)


class BCELoss(_Loss):
    """Binary cross-entropy on probabilities:
    ``ℓ_i = −w_i·(y_i·log p_i + (1 − y_i)·log(1 − p_i))``, logs clamped at −100.

    Args:
        weight: ``w``, broadcastable to the input, or None.
        reduction: ``'mean'`` (default), ``'sum'`` or ``'none'``.

    Example:
        >>> import chainrule as cr
        >>> from chainrule import nn
        >>> round(nn.BCELoss()(cr.tensor([0.5]), cr.tensor([1.0])).item(), 4)
        0.6931
    """

    def __init__(self, weight: Any = None, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.weight = _const(weight)

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.binary_cross_entropy(input, target, self.weight, self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy on logits, stable:
    ``ℓ_i = w_i·(max(x_i, 0) − x_i·y_i + log(1 + e^(−|x_i|)))`` (see
    :func:`~chainrule.nn.functional.binary_cross_entropy_with_logits` for ``pos_weight``).

    Args:
        weight: ``w``, broadcastable to the input, or None.
        reduction: ``'mean'`` (default), ``'sum'`` or ``'none'``.
        pos_weight: weight ``c`` of positive examples (per class, last axis), or None.

    Example:
        >>> import chainrule as cr
        >>> from chainrule import nn
        >>> round(nn.BCEWithLogitsLoss()(cr.tensor([0.0]), cr.tensor([0.0])).item(), 4)
        0.6931
    """

    def __init__(
        self, weight: Any = None, reduction: str = "mean", pos_weight: Any = None
    ) -> None:
        super().__init__(reduction)
        self.weight = _const(weight)
        self.pos_weight = _const(pos_weight)

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.binary_cross_entropy_with_logits(
            input, target, self.weight, self.reduction, self.pos_weight)


class CrossEntropyLoss(_Loss):
    """Categorical cross-entropy of logits (classes on axis 1), PyTorch's semantics:
    ``ℓ_n = −w_{y_n}·log softmax(x_n)_{y_n}``, weighted mean ``Σ ℓ_n / Σ w_{y_n}``; also
    class-probability targets and label smoothing (see
    :func:`~chainrule.nn.functional.cross_entropy`).

    Args:
        weight: per-class weights ``(C,)`` or None.
        ignore_index: class index that contributes nothing (default −100).
        reduction: ``'mean'`` (default), ``'sum'`` or ``'none'``.
        label_smoothing: ``ε`` in ``[0, 1]`` (default 0).

    Shapes: input ``(N, C)``; target ``(N,)`` int or ``(N, C)`` float.

    Example:
        >>> import numpy as np, chainrule as cr
        >>> from chainrule import nn
        >>> round(nn.CrossEntropyLoss()(cr.tensor([[0.0, 0.0]]), np.array([1])).item(), 4)
        0.6931
    """

    def __init__(
        self,
        weight: Any = None,
        ignore_index: int = -100,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__(reduction)
        self.weight = _const(weight)
        self.ignore_index = int(ignore_index)
        self.label_smoothing = F._check_smoothing(label_smoothing, "CrossEntropyLoss")

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.cross_entropy(input, target, self.weight, self.ignore_index, self.reduction,
                               self.label_smoothing)


class NLLLoss(_Loss):
    """Negative log-likelihood of log-probabilities: ``ℓ_n = −w_{y_n}·log p[n, y_n]``,
    weighted mean ``Σ ℓ_n / Σ w_{y_n}``.

    Args:
        weight: per-class weights ``(C,)`` or None.
        ignore_index: class index that contributes nothing (default −100).
        reduction: ``'mean'`` (default), ``'sum'`` or ``'none'``.

    Example:
        >>> import numpy as np, chainrule as cr
        >>> from chainrule import nn
        >>> nn.NLLLoss()(cr.tensor([[-2.0, -0.5]]), np.array([0])).item()
        2.0
    """

    def __init__(
        self, weight: Any = None, ignore_index: int = -100, reduction: str = "mean"
    ) -> None:
        super().__init__(reduction)
        self.weight = _const(weight)
        self.ignore_index = int(ignore_index)

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.nll_loss(input, target, self.weight, self.ignore_index, self.reduction)


class KLDivLoss(_Loss):
    """Kullback–Leibler divergence with ``input = log p``: ``ℓ_i = q_i·(log q_i − log p_i)``.

    Args:
        reduction: ``'mean'`` (default, over all elements), ``'batchmean'`` (the true KL per
            sample), ``'sum'`` or ``'none'``.
        log_target: the target holds ``log q`` (default False).

    Example:
        >>> import numpy as np, chainrule as cr
        >>> from chainrule import nn
        >>> p = cr.tensor(np.log([[0.5, 0.5]]))
        >>> nn.KLDivLoss(reduction="batchmean")(p, np.array([[0.5, 0.5]])).item()
        0.0
    """

    def __init__(self, reduction: str = "mean", log_target: bool = False) -> None:
        super().__init__(reduction, ("batchmean",))
        self.log_target = bool(log_target)

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.kl_div(input, target, self.reduction, self.log_target)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    """``σ(z) = 1/(1 + e^{−z}) = ½(1 + tanh(z/2))`` on an ndarray (no overflow)."""
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _softmax(z: np.ndarray) -> np.ndarray:
    """``softmax(z)_k = e^{z_k − max z} / Σ_j e^{z_j − max z}`` over the last axis."""
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


LOSSES = Registry("loss")
"""Loss module classes by name, with their metadata (``task``, ``target``, ``output``,
``sklearn``; see :mod:`chainrule.registry`): for ``fit``, the CLI, configuration files and
the estimators. ``LOSSES.register(name, cls, task=..., target=...)`` adds one; a
``task="regression"`` loss whose class takes ``reduction="none"`` is also a ``loss`` of
``MLPRegressor`` (``sklearn_kwargs``: constructor arguments giving scikit-learn's form,
the ½ of its squared error)."""
LOSSES.register("mse", MSELoss, aliases=("mse_loss", "squared_error", "l2"),
                task="regression", target="value", sklearn="squared_error",
                sklearn_kwargs={"half": True})
LOSSES.register("l1", L1Loss, aliases=("mae", "l1_loss", "mae_loss", "absolute_error"),
                task="regression", target="value", sklearn="absolute_error")
LOSSES.register("huber", HuberLoss, aliases=("huber_loss",), task="regression",
                target="value", sklearn="huber")
LOSSES.register("binary_cross_entropy", BCELoss, aliases=("bce",), task="classification",
                target="probability")
LOSSES.register("binary_cross_entropy_with_logits", BCEWithLogitsLoss,
                aliases=("bce_with_logits",), task="classification", target="probability",
                output=_sigmoid)
LOSSES.register("cross_entropy", CrossEntropyLoss, aliases=("categorical_cross_entropy", "ce"),
                task="classification", target="index", output=_softmax, sklearn="log_loss")
LOSSES.register("nll", NLLLoss, aliases=("nll_loss",), task="classification", target="index",
                output=np.exp)
LOSSES.register("kl_div", KLDivLoss, aliases=("kl",), task="distribution", target="value")


def get_loss(name: Any, **kwargs: Any) -> Module:
    """A new loss module for ``name`` (case-insensitive); a Module is returned as is.

    Args:
        name: a key of :data:`LOSSES` or a Module instance.
        **kwargs: constructor arguments (e.g. ``reduction="sum"``).

    Raises:
        ValueError: unknown name (the message lists the valid names).

    Example:
        >>> from chainrule import nn
        >>> nn.get_loss("cross_entropy", label_smoothing=0.1)
        CrossEntropyLoss(reduction='mean')
    """
    if isinstance(name, Module):
        return name
    if not isinstance(name, str):
        raise TypeError(f"loss must be a name or a Module, got {type(name).__name__}")
    return LOSSES.lookup(name)(**kwargs)
