"""Stochastic gradient descent: plain, mini-batch, with momentum and Nesterov momentum."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from .._checks import check_bool, check_nonneg, check_positive
from .optimizer import Optimizer, ParamsT, Scratch, coupled_weight_decay

__all__ = ["SGD", "Momentum", "SGDHyperparameters"]


class SGDHyperparameters(NamedTuple):
    """The hyperparameters of :class:`SGD` (a group's values, as :meth:`SGD.update` reads them)."""

    lr: float
    momentum: float
    dampening: float
    weight_decay: float
    nesterov: bool


class SGD(Optimizer):
    r"""Gradient descent, optionally with momentum, Nesterov momentum and weight decay.

    One step, for every parameter ``θ`` with gradient ``g = ∂J/∂θ`` (``b`` is the momentum
    buffer, ``state[p]["momentum_buffer"]``)::

        g = g + weight_decay·θ                                  (L2 penalty, if > 0)
        b = g                                                   (first step, if momentum > 0)
        b = momentum·b + (1 − dampening)·g                      (later steps)
        g = g + momentum·b                                      (nesterov=True)
        g = b                                                   (otherwise, if momentum > 0)
        θ = θ − lr·g

    The gradient is whatever the loss gives: over the whole training set this is (batch)
    gradient descent, over a mini-batch mini-batch SGD, over one example stochastic
    gradient descent — the optimiser is the same.

    Momentum conventions:

    - PyTorch's (this) form ``b = βb + g; θ = θ − α·b`` is Polyak's heavy ball; Sutskever
      et al. write ``v = βv − αg; θ = θ + v``, the same when ``α`` is constant.
    - Andrew Ng's course writes momentum as an exponentially weighted average,
      ``v = βv + (1 − β)∇J; θ = θ − αv``: use ``SGD(momentum=β, dampening=β)``. One
      difference remains: here the first step sets ``b = g`` (no dampening; PyTorch's
      rule), where Ng starts from ``v = 0`` so that ``v₁ = (1 − β)g``. The averaged form
      takes steps ``1/(1 − β)`` times smaller than the heavy ball for the same ``α``.
    - Nesterov momentum follows Sutskever et al.'s reformulation (as PyTorch): the step
      uses ``g + β·b`` — the gradient plus the look-ahead momentum.

    Args:
        params: Tensors, or parameter groups (dicts with ``"params"`` and hyperparameters).
        lr: learning rate ``α`` (> 0). Default 1e-3.
        momentum: ``β`` (>= 0); 0 is plain gradient descent. Default 0.
        dampening: scales the gradient added to the buffer by ``1 − dampening``
            (>= 0). Default 0.
        weight_decay: L2 penalty ``λ`` added to the gradient as ``λθ`` (>= 0). Default 0.
        nesterov: Nesterov momentum; needs ``momentum > 0`` and ``dampening = 0``.
            Default False. (Positional order as ``torch.optim.SGD``.)

    References:
        Polyak, *Some methods of speeding up the convergence of iteration methods* (1964);
        Sutskever, Martens, Dahl, Hinton, *On the importance of initialization and momentum
        in deep learning*, ICML 2013.

    Example:
        >>> import numpy as np, chainrule as cr
        >>> from chainrule import optim
        >>> w = cr.tensor(np.array([1.0, -2.0]), requires_grad=True)
        >>> opt = optim.SGD([w], lr=0.1)
        >>> (w * w).sum().backward()            # g = 2w = [2, -4]
        >>> opt.step()                          # θ = θ − 0.1·g
        >>> w.data
        array([ 0.8, -1.6])
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "nesterov": nesterov,
            "weight_decay": weight_decay,
        }
        super().__init__(params, defaults)

    def _validate(self, hp: Mapping[str, Any], where: str) -> None:
        check_positive(hp["lr"], where + "lr")
        check_nonneg(hp["momentum"], where + "momentum")
        check_nonneg(hp["dampening"], where + "dampening")
        check_nonneg(hp["weight_decay"], where + "weight_decay")
        check_bool(hp["nesterov"], where + "nesterov")
        if hp["nesterov"] and (hp["momentum"] <= 0 or hp["dampening"] != 0):
            raise ValueError(
                f"{where}nesterov=True needs momentum > 0 and dampening = 0, got "
                f"momentum={hp['momentum']}, dampening={hp['dampening']}"
            )

    Hyperparameters = SGDHyperparameters
    state_names = ("momentum_buffer",)

    @staticmethod
    def update(
        theta: np.ndarray, g: np.ndarray, state: dict[str, Any], hp: SGDHyperparameters,
        scratch: Scratch,
    ) -> None:
        """One SGD step of ``theta`` in place, in ``torch.optim.SGD``'s order of operations
        (the equations are in the class docstring); ``state`` holds ``momentum_buffer``
        (``b``, created on the first step as ``b = g``) when ``momentum > 0``."""
        lr, momentum, dampening, weight_decay, nesterov = hp
        lr = float(lr)
        if momentum == 0 and weight_decay == 0 and theta.size > 2 * scratch.CHUNK and (
            theta.flags.c_contiguous and g.flags.c_contiguous
        ):
            # a large array (a flat group, a weight matrix) in cache-sized pieces of its
            # flat view: lr·g never travels to memory and back, and no temporary the size
            # of θ is made
            flat, gflat = theta.reshape(-1), g.reshape(-1)
            tmp, n = scratch.chunk, scratch.CHUNK
            for i in range(0, flat.size, n):
                t = flat[i:i + n]
                tc = tmp[: t.size]
                np.multiply(gflat[i:i + n], lr, tc)
                np.subtract(t, tc, t)
            return
        owned = False  # whether g is a temporary of ours (free to overwrite)
        if weight_decay != 0:
            g, owned = coupled_weight_decay(theta, g, weight_decay, scratch), True
        if momentum != 0:
            b = state.get("momentum_buffer")
            if b is None:  # the first step: b = g
                b = state["momentum_buffer"] = g.copy()
            else:
                b *= momentum
                if dampening == 0:
                    b += g
                else:
                    b += np.multiply(g, 1 - dampening, out=scratch.a)
            if nesterov:
                d = np.multiply(b, momentum, out=scratch.a)
                d += g
                g, owned = d, True
            else:
                g, owned = b, False
        if owned:
            g *= lr
            theta -= g
        else:
            theta -= np.multiply(g, lr, out=scratch.a)


class Momentum(SGD):
    r"""SGD with momentum ``β = 0.9`` by default: the preset behind the name ``"momentum"``.

    The same update as :class:`SGD` (``b = βb + (1 − dampening)g; θ = θ − lr·b``); only the
    default of ``momentum`` differs. ``Momentum(params, lr, momentum=β, dampening=β)`` is
    Ng's exponentially-weighted-average form (see :class:`SGD`).

    Args:
        params: Tensors or parameter groups.
        lr: learning rate (> 0). Default 1e-3.
        momentum: ``β`` (>= 0). Default 0.9.
        dampening, weight_decay, nesterov: as :class:`SGD`.

    Reference:
        Polyak (1964), see :class:`SGD`.

    Example:
        >>> import numpy as np, chainrule as cr
        >>> from chainrule import optim
        >>> w = cr.tensor(np.array([1.0]), requires_grad=True)
        >>> opt = optim.Momentum([w], lr=0.1)
        >>> for _ in range(2):
        ...     opt.zero_grad(); (w * w).sum().backward(); opt.step()
        >>> w.data          # b₁ = 2, θ₁ = 0.8; b₂ = 0.9·2 + 1.6 = 3.4, θ₂ = 0.8 − 0.34
        array([0.46])
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        momentum: float = 0.9,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ) -> None:
        super().__init__(params, lr, momentum, dampening, weight_decay, nesterov)
