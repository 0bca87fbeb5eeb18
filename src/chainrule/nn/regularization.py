"""Regularisation penalties, added to a loss: ``J(θ) = L(θ) + penalty(θ)``.

Both penalties return a scalar Tensor in the graph, so ``(loss + penalty).backward()``
differentiates them with the rest. Given a Module, they penalise its *weights* — the
parameters with at least two dimensions (the matrices ``W``) — and not its biases or
normalisation scales/shifts (1-D), as is customary (Goodfellow et al., *Deep Learning*,
§7.1). Pass any iterable of Tensors to penalise exactly what you choose.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ..tensor import Tensor
from .module import Module

__all__ = ["l1_penalty", "l2_penalty", "weight_parameters"]


def weight_parameters(module: Module) -> list[Tensor]:
    """The parameters of ``module`` that the penalties use by default: those with
    ``ndim ≥ 2`` (weight matrices) that are trained (``requires_grad``), in
    ``parameters()`` order. A frozen weight is a constant: its penalty would only shift
    ``J`` and its weight decay would change what is meant to stay fixed.

    Example:
        >>> from chainrule import nn
        >>> model = nn.Sequential(nn.Linear(3, 4, seed=0), nn.ReLU(), nn.Linear(4, 1, seed=0))
        >>> [p.shape for p in nn.weight_parameters(model)]
        [(4, 3), (1, 4)]
    """
    return [p for p in module.parameters() if p.ndim >= 2 and p.requires_grad]


def _params(params: Any, name: str) -> list[Tensor]:
    if isinstance(params, Module):
        return weight_parameters(params)
    if isinstance(params, Tensor):
        return [params]
    if not isinstance(params, Iterable):
        raise TypeError(f"{name}: params must be a Module or an iterable of Tensors, "
                        f"got {type(params).__name__}")
    out = list(params)
    for p in out:
        if not isinstance(p, Tensor):
            raise TypeError(f"{name}: params must hold Tensors, got {type(p).__name__}")
    return out


def _lam(lam: Any, name: str) -> float:
    if isinstance(lam, bool) or not isinstance(lam, (int, float, np.number)):
        raise TypeError(f"{name}: lam must be a number, got {type(lam).__name__}")
    if not lam >= 0:
        raise ValueError(f"{name}: lam must be >= 0, got {lam}")
    return float(lam)


def l1_penalty(params: Any, lam: float) -> Tensor:
    """L1 (lasso) penalty ``Ω(θ) = λ·Σ_k |θ_k|``; its subgradient ``λ·sign(θ)`` drives
    small weights to exactly 0 (sparsity).

    Args:
        params: a Module (its weights, see :func:`weight_parameters`) or an iterable of
            Tensors.
        lam: ``λ ≥ 0``.

    Returns:
        A scalar Tensor in the graph (0 if there is nothing to penalise).

    Reference: Tibshirani, "Regression Shrinkage and Selection via the Lasso", 1996.

    Example:
        >>> import chainrule as cr
        >>> from chainrule import nn
        >>> nn.l1_penalty([cr.tensor([[1.0, -2.0]])], lam=0.5).item()
        1.5
    """
    lam = _lam(lam, "l1_penalty")
    ps = _params(params, "l1_penalty")
    if not ps:
        return Tensor(np.array(0.0, dtype=np.float32))
    total = ps[0].abs().sum()
    for p in ps[1:]:
        total = total + p.abs().sum()
    return total * lam


def l2_penalty(params: Any, lam: float, m: int | None = None) -> Tensor:
    """L2 (ridge, weight-decay) penalty ``Ω(θ) = λ/(2m)·‖θ‖² = λ/(2m)·Σ_k θ_k²``.

    ``m`` is the number of training examples when the loss is an average over them (the
    textbook form, ``J = (1/m)Σᵢ ℓᵢ + λ/(2m)‖W‖²``; scikit-learn's ``alpha`` is this λ).
    With ``m=None`` the penalty is ``(λ/2)‖θ‖²``, whose gradient ``λθ`` is exactly what
    ``SGD(weight_decay=λ)`` adds.

    Args:
        params: a Module (its weights, see :func:`weight_parameters`) or an iterable of
            Tensors.
        lam: ``λ ≥ 0``.
        m: positive int, or None (= 1).

    Returns:
        A scalar Tensor in the graph (0 if there is nothing to penalise).

    Reference: Krogh & Hertz, "A Simple Weight Decay Can Improve Generalization", NeurIPS
    1991.

    Example:
        >>> import chainrule as cr
        >>> from chainrule import nn
        >>> nn.l2_penalty([cr.tensor([[1.0, -2.0]])], lam=0.5, m=5).item()   # 0.5/10 · 5
        0.25
    """
    lam = _lam(lam, "l2_penalty")
    if m is not None and (isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m <= 0):
        raise ValueError(f"l2_penalty: m must be a positive int or None, got {m!r}")
    ps = _params(params, "l2_penalty")
    if not ps:
        return Tensor(np.array(0.0, dtype=np.float32))
    total = (ps[0] * ps[0]).sum()
    for p in ps[1:]:
        total = total + (p * p).sum()
    return total * (lam / (2.0 * (1 if m is None else int(m))))
