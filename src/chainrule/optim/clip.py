"""Gradient clipping: rescale the gradients by their global norm, or clamp each entry."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from ..autodiff import no_grad

__all__ = ["clip_grad_norm_", "clip_grad_value_", "total_grad_norm"]


def _grads(parameters: Any) -> list[Any]:
    """The gradient Tensors of ``parameters`` (one Tensor or an iterable), skipping None."""
    if hasattr(parameters, "grad") and isinstance(getattr(parameters, "data", None), np.ndarray):
        parameters = [parameters]
    elif not isinstance(parameters, Iterable):
        raise TypeError(
            "parameters must be a Tensor or an iterable of Tensors, got "
            f"{type(parameters).__name__}"
        )
    grads = []
    for p in parameters:
        if not hasattr(p, "grad"):
            raise TypeError(f"expected Tensors, got {type(p).__name__}")
        if p.grad is not None:
            g = p.grad
            if not g.data.flags.writeable:
                g.data = g.data.copy()
            grads.append(g)
    return grads


def _norm_type(norm_type: Any) -> float:
    p = float(norm_type)
    if not (p > 0):  # also rejects nan
        raise ValueError(f"norm_type must be > 0 (or inf), got {norm_type}")
    return p


def total_grad_norm(parameters: Any, norm_type: float = 2.0) -> np.floating:
    r"""The norm of all gradients taken together, as if concatenated into one vector.

    ::

        ‖g‖_p = (Σ_i ‖g_i‖_p^p)^(1/p)          ‖g‖_∞ = max_i max |g_i|

    computed, as PyTorch, as the p-norm of the per-tensor p-norms.

    Args:
        parameters: a Tensor or an iterable of Tensors (those without ``grad`` are skipped).
        norm_type: ``p`` (> 0), or ``inf`` / ``"inf"`` for the max norm. Default 2.

    Returns:
        The norm as a NumPy float (of the gradients' dtype; 0.0 when there are none).

    Example:
        >>> import numpy as np, chainrule as cr
        >>> w = cr.tensor(np.zeros(2), requires_grad=True)
        >>> w.grad = cr.tensor(np.array([3.0, 4.0]))
        >>> from chainrule import optim
        >>> float(optim.total_grad_norm([w])), float(optim.total_grad_norm([w], "inf"))
        (5.0, 4.0)
    """
    p = _norm_type(norm_type)
    grads = _grads(parameters)
    return _total_norm([g.data for g in grads], p)


def _total_norm(arrays: list[np.ndarray], p: float) -> np.floating:
    if not arrays:
        return np.float64(0.0)
    norms = np.array([np.linalg.norm(a.ravel(), ord=p) if a.size else a.dtype.type(0)
                      for a in arrays])
    return np.linalg.norm(norms, ord=p) if len(norms) > 1 else norms[0]


def clip_grad_norm_(
    parameters: Any,
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
) -> np.floating:
    r"""Rescale all gradients together so that their global norm is at most ``max_norm``.

    With ``total_norm`` the p-norm of all gradients concatenated (:func:`total_grad_norm`)::

        clip_coef = min(max_norm / (total_norm + 1e-6), 1)
        g = clip_coef · g                     (for every gradient, in place)

    The direction of the update is kept; only its length is capped (the ``1e-6`` is
    PyTorch's guard against division by zero, so a norm exactly at ``max_norm`` is scaled
    by slightly less than 1, as in PyTorch).

    Args:
        parameters: a Tensor or an iterable of Tensors (those without ``grad`` are skipped).
        max_norm: the largest allowed norm (>= 0).
        norm_type: ``p`` (> 0), or ``inf`` / ``"inf"`` for the max norm. Default 2.
        error_if_nonfinite: raise if the total norm is nan or inf. Default False.

    Returns:
        The total norm *before* clipping, as a NumPy float (it has ``.item()``).

    Reference:
        Pascanu, Mikolov, Bengio, *On the difficulty of training recurrent neural networks*,
        ICML 2013; ``torch.nn.utils.clip_grad_norm_``.

    Example:
        >>> import numpy as np, chainrule as cr
        >>> from chainrule import optim
        >>> w = cr.tensor(np.zeros(2), requires_grad=True)
        >>> w.grad = cr.tensor(np.array([3.0, 4.0]))
        >>> float(optim.clip_grad_norm_([w], max_norm=1.0))
        5.0
        >>> w.grad.data.round(6)               # [3, 4]/5: norm 1, same direction
        array([0.6, 0.8])
    """
    p = _norm_type(norm_type)
    if not float(max_norm) >= 0:
        raise ValueError(f"max_norm must be >= 0, got {max_norm}")
    with no_grad():
        grads = _grads(parameters)
        total_norm = _total_norm([g.data for g in grads], p)
        if error_if_nonfinite and not math.isfinite(float(total_norm)):
            raise RuntimeError(
                f"the total norm of order {norm_type} of the gradients is non-finite "
                f"({float(total_norm)}), so it cannot be clipped; pass "
                "error_if_nonfinite=False to scale by it anyway"
            )
        clip_coef = float(max_norm) / (total_norm + 1e-6)
        if clip_coef < 1 or not math.isfinite(float(clip_coef)):
            clip_coef = min(clip_coef, 1.0)  # nan stays nan (a nan norm poisons, as torch)
            for g in grads:
                np.multiply(g.data, clip_coef, out=g.data, casting="same_kind")
    return total_norm


def clip_grad_value_(parameters: Any, clip_value: float) -> None:
    r"""Clamp every gradient entry to ``[−clip_value, clip_value]`` in place.

    ::

        g = min(max(g, −clip_value), clip_value)

    Unlike :func:`clip_grad_norm_` this changes the direction of the gradient.

    Args:
        parameters: a Tensor or an iterable of Tensors (those without ``grad`` are skipped).
        clip_value: the largest allowed magnitude (>= 0).

    Reference: ``torch.nn.utils.clip_grad_value_``.

    Example:
        >>> import numpy as np, chainrule as cr
        >>> from chainrule import optim
        >>> w = cr.tensor(np.zeros(3), requires_grad=True)
        >>> w.grad = cr.tensor(np.array([-3.0, 0.5, 2.0]))
        >>> optim.clip_grad_value_([w], 1.0); w.grad.data
        array([-1. ,  0.5,  1. ])
    """
    clip_value = float(clip_value)
    if not clip_value >= 0:
        raise ValueError(f"clip_value must be >= 0, got {clip_value}")
    with no_grad():
        for g in _grads(parameters):
            np.clip(g.data, -clip_value, clip_value, out=g.data)
