"""RMSprop: divide the gradient by a running root mean square of recent gradients."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from .._checks import check_bool, check_nonneg, check_positive
from .adam import _lerp_
from .optimizer import Optimizer, ParamsT, Scratch, coupled_weight_decay

__all__ = ["RMSprop"]


class RMSpropHyperparameters(NamedTuple):
    """The hyperparameters of :class:`RMSprop`, as :meth:`RMSprop.update` reads them."""

    lr: float
    alpha: float
    eps: float
    weight_decay: float
    momentum: float
    centered: bool


class RMSprop(Optimizer):
    r"""RMSprop, optionally centred and with momentum (PyTorch's algorithm).

    One step for every parameter ``θ`` with gradient ``g``. The state keeps ``v``
    (``"square_avg"``), ``g_avg`` (``"grad_avg"``, centred only), ``b``
    (``"momentum_buffer"``, momentum only), all starting at 0, and ``"step"``::

        g = g + weight_decay·θ                  (L2 penalty, if > 0)
        v = alpha·v + (1 − alpha)·g²
        g_avg = alpha·g_avg + (1 − alpha)·g     (centered=True)
        s = √(v − g_avg²) + eps                 (centered=True: a running standard deviation)
        s = √v + eps                            (otherwise)
        b = momentum·b + g / s ;  θ = θ − lr·b  (momentum > 0)
        θ = θ − lr·g / s                        (otherwise)

    Where ``eps`` goes: PyTorch (and this) add it outside the square root, ``√v + eps``, as
    does Ng's course (``√S_dW + ε``); TensorFlow/Keras put it inside, ``√(v + eps)``;
    Hinton's slides have none. ``alpha`` is the decay rate that others call ``ρ`` or ``β``.

    Args:
        params: Tensors or parameter groups.
        lr: learning rate (> 0). Default 1e-2.
        alpha: smoothing constant of ``v`` (>= 0). Default 0.99.
        eps: added to the denominator (>= 0). Default 1e-8.
        weight_decay: L2 penalty ``λ`` (>= 0). Default 0.
        momentum: ``β`` of the momentum buffer (>= 0). Default 0.
        centered: divide by the estimated standard deviation instead of the RMS (Graves).

    References:
        Hinton, Srivastava, Swersky, *Neural Networks for Machine Learning*, lecture 6e
        (2012); Graves, *Generating Sequences With Recurrent Neural Networks* (2013),
        eq. 38–45 (centred form with momentum).

    Example:
        >>> import numpy as np, chainrule as cr
        >>> from chainrule import optim
        >>> w = cr.tensor(np.array([1.0, -100.0]), requires_grad=True)
        >>> opt = optim.RMSprop([w], lr=0.01, alpha=0.99)
        >>> (w * w).sum().backward(); opt.step()   # v = 0.01·g², step = lr·g/(0.1|g|)
        >>> w.data.round(6)
        array([  0.9, -99.9])
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "alpha": alpha,
            "eps": eps,
            "weight_decay": weight_decay,
            "momentum": momentum,
            "centered": centered,
        }
        super().__init__(params, defaults)

    def _validate(self, hp: Mapping[str, Any], where: str) -> None:
        check_positive(hp["lr"], where + "lr")
        check_nonneg(hp["alpha"], where + "alpha")
        check_nonneg(hp["eps"], where + "eps")
        check_nonneg(hp["weight_decay"], where + "weight_decay")
        check_nonneg(hp["momentum"], where + "momentum")
        check_bool(hp["centered"], where + "centered")

    Hyperparameters = RMSpropHyperparameters
    state_names = ("square_avg", "grad_avg", "momentum_buffer")

    def init_state(self, theta: np.ndarray, hp: RMSpropHyperparameters) -> dict[str, Any]:
        """``t = 0`` and ``v = 0``."""
        return {"step": 0, "square_avg": np.zeros_like(theta)}

    @staticmethod
    def update(
        theta: np.ndarray, g: np.ndarray, state: dict[str, Any], hp: RMSpropHyperparameters,
        scratch: Scratch,
    ) -> None:
        """One RMSprop step of ``theta`` in place, in ``torch.optim.RMSprop``'s order of
        operations (the equations are in the class docstring)."""
        lr, alpha, eps, weight_decay, momentum, centered = hp
        state["step"] += 1
        if weight_decay != 0:
            g = coupled_weight_decay(theta, g, weight_decay, scratch)
        v = state["square_avg"]
        s = np.multiply(g, 1 - alpha, out=scratch.a)
        s *= g
        v *= alpha
        v += s
        if centered:
            g_avg = state.get("grad_avg")
            if g_avg is None:
                g_avg = state["grad_avg"] = np.zeros_like(theta)
            _lerp_(g_avg, g, 1 - alpha, s)
            np.multiply(g_avg, g_avg, out=s)
            np.subtract(v, s, out=s)
            np.sqrt(s, out=s)
        else:
            np.sqrt(v, out=s)
        s += eps
        np.divide(g, s, out=s)
        if momentum > 0:
            b = state.get("momentum_buffer")
            if b is None:
                b = state["momentum_buffer"] = np.zeros_like(theta)
            b *= momentum
            b += s
            np.multiply(b, lr, out=s)
        else:
            s *= lr
        theta -= s
