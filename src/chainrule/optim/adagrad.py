"""Adagrad: per-coordinate learning rates from the sum of all past squared gradients."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from .._checks import check_nonneg, check_positive
from .optimizer import Optimizer, ParamsT, Scratch, coupled_weight_decay

__all__ = ["Adagrad"]


class AdagradHyperparameters(NamedTuple):
    """The hyperparameters of :class:`Adagrad`, as :meth:`Adagrad.update` reads them."""

    lr: float
    lr_decay: float
    weight_decay: float
    initial_accumulator_value: float
    eps: float


class Adagrad(Optimizer):
    r"""Adagrad: scale each coordinate's step by ``1/√(Σ g²)`` of its own past gradients.

    One step at count ``t`` (1, 2, …) for every parameter ``θ`` with gradient ``g``; the
    state keeps the accumulator ``G`` (``"sum"``, starting at ``initial_accumulator_value``)
    and ``t`` (``"step"``)::

        g = g + weight_decay·θ                     (L2 penalty, if > 0)
        lr_t = lr / (1 + (t − 1)·lr_decay)
        G = G + g²
        θ = θ − lr_t·g / (√G + eps)

    Coordinates with large past gradients take small steps and rare features large ones;
    because ``G`` only grows, the steps shrink for ever (RMSprop and Adam replace the sum by
    a decaying average). As in PyTorch, ``eps`` is added outside the square root; Duchi et
    al. write ``δ`` in the same place.

    Args:
        params: Tensors or parameter groups.
        lr: learning rate (> 0). Default 1e-2.
        lr_decay: inverse-time decay of the learning rate per step (>= 0). Default 0.
        weight_decay: L2 penalty ``λ`` (>= 0). Default 0.
        initial_accumulator_value: starting value of ``G`` (>= 0). Default 0.
        eps: added to the denominator (>= 0). Default 1e-10.

    Reference:
        Duchi, Hazan, Singer, *Adaptive Subgradient Methods for Online Learning and
        Stochastic Optimization*, JMLR 12 (2011).

    Example:
        >>> import numpy as np, chainrule as cr
        >>> from chainrule import optim
        >>> w = cr.tensor(np.array([1.0, -3.0]), requires_grad=True)
        >>> opt = optim.Adagrad([w], lr=0.5)
        >>> (w * w).sum().backward(); opt.step()   # G = g², step = lr·g/|g| = lr·sign(g)
        >>> w.data
        array([ 0.5, -2.5])
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
    ) -> None:
        defaults = {
            "lr": lr,
            "lr_decay": lr_decay,
            "weight_decay": weight_decay,
            "initial_accumulator_value": initial_accumulator_value,
            "eps": eps,
        }
        super().__init__(params, defaults)

    def _validate(self, hp: Mapping[str, Any], where: str) -> None:
        check_positive(hp["lr"], where + "lr")
        check_nonneg(hp["lr_decay"], where + "lr_decay")
        check_nonneg(hp["weight_decay"], where + "weight_decay")
        check_nonneg(hp["initial_accumulator_value"], where + "initial_accumulator_value")
        check_nonneg(hp["eps"], where + "eps")

    Hyperparameters = AdagradHyperparameters
    state_names = ("sum",)

    def init_state(self, theta: np.ndarray, hp: AdagradHyperparameters) -> dict[str, Any]:
        """``t = 0`` and ``G = initial_accumulator_value``."""
        return {"step": 0, "sum": np.full_like(theta, hp.initial_accumulator_value)}

    @staticmethod
    def update(
        theta: np.ndarray, g: np.ndarray, state: dict[str, Any], hp: AdagradHyperparameters,
        scratch: Scratch,
    ) -> None:
        """One Adagrad step of ``theta`` in place, in ``torch.optim.Adagrad``'s order of
        operations (the equations are in the class docstring)."""
        lr, lr_decay, weight_decay, _, eps = hp
        state["step"] += 1
        t = state["step"]
        if weight_decay != 0:
            g = coupled_weight_decay(theta, g, weight_decay, scratch)
        lr_t = lr / (1 + (t - 1) * lr_decay)
        G = state["sum"]
        s = np.multiply(g, g, out=scratch.a)
        G += s
        np.sqrt(G, out=s)
        s += eps
        np.divide(g, s, out=s)
        s *= lr_t
        theta -= s
