"""Activations, losses and layer computations as functions of Tensors.

Everything here is composed from the primitives of :mod:`chainrule.ops` (plus two fused
ones defined below, for dtype-faithful ``erf`` and a softplus whose gradient is exact at 0),
so it is differentiable as many times as you like. Inputs that are not Tensors are wrapped
(an ndarray keeps its dtype); float32 stays float32 (constants are Python floats).

Conventions follow ``torch.nn.functional``: losses take ``(input, target)`` with
``reduction='mean' | 'sum' | 'none'``; ``axis=`` (alias ``dim=``) selects softmax axes.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import rng as _rng
from ..ops import Erf, Function, Linear, SoftmaxCrossEntropy, SquaredError, Uniform
from ..tensor import Tensor, where

__all__ = [
    "REDUCTIONS",
    "batch_norm",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "dropout",
    "elu",
    "erf",
    "gelu",
    "huber_loss",
    "identity",
    "kl_div",
    "l1_loss",
    "layer_norm",
    "leaky_relu",
    "linear",
    "log_softmax",
    "mae_loss",
    "mse_loss",
    "nll_loss",
    "relu",
    "selu",
    "sigmoid",
    "silu",
    "softmax",
    "softplus",
    "swish",
    "tanh",
]

REDUCTIONS = ("mean", "sum", "none")

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


# ----------------------------------------------------------------------------- helpers


def _t(x: Any) -> Tensor:
    """``x`` as a Tensor (an ndarray keeps its dtype)."""
    return x if isinstance(x, Tensor) else Tensor(x)


def _t_like(x: Any, ref: Tensor) -> Tensor:
    """``x`` as a Tensor; non-Tensor floats take the dtype of ``ref`` (no silent upcast)."""
    if isinstance(x, Tensor):
        return x
    arr = np.asarray(x)
    if arr.dtype.kind in "biuf":
        arr = arr.astype(ref.dtype)
    return Tensor(arr)


def _axis(axis: Any, dim: Any, default: Any = -1) -> Any:
    if dim is not None:
        if axis is not None and axis != dim:
            raise ValueError(f"give axis= or its alias dim=, not both (axis={axis}, dim={dim})")
        return dim
    return default if axis is None else axis


def _check_reduction(reduction: str, name: str, extra: tuple[str, ...] = ()) -> None:
    valid = REDUCTIONS + extra
    if reduction not in valid:
        raise ValueError(f"{name}: reduction must be one of {valid}, got {reduction!r}")


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _same_shape(x: Tensor, y: Tensor, name: str) -> None:
    if x.shape != y.shape:
        raise ValueError(
            f"{name}: input and target must have the same shape, got input {x.shape} "
            f"and target {y.shape}"
        )


def _number(value: Any, name: str, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise TypeError(f"{name}: {what} must be a number, got {type(value).__name__}")
    return float(value)


# ---------------------------------------------------------------------- fused primitives
#
# A backward formula receives ndarrays in a first-order pass (the fast path) and Tensors when
# the backward pass is recorded (create_graph=True); these helpers dispatch on which.


def _exp(x: Any) -> Any:
    return x.exp() if isinstance(x, Tensor) else np.exp(x)


def _sigmoid(x: Any) -> Any:
    if isinstance(x, Tensor):
        return x.sigmoid()
    e = np.exp(-np.abs(x))
    r = 1.0 / (1.0 + e)
    return np.where(x >= 0, r, e * r)


class Softplus(Function):
    """z = log(1 + eˣ) = max(x, 0) + log(1 + e^(−|x|))  ;  ∂L/∂x = ∂L/∂z ⊙ σ(x)

    Fused: the stable right-hand form never overflows, and the backward is the exact
    derivative σ(x) everywhere (differentiating the composed form through ``max`` and
    ``|x|`` would give the subgradient 0 instead of ½ at x = 0).
    """

    @staticmethod
    def forward(ctx, x):
        ctx.save(x)
        return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * _sigmoid(x)


def erf(x: Any) -> Tensor:
    """The error function ``erf(x) = (2/√π) ∫₀ˣ e^(−t²) dt``, elementwise, dtype-preserving.

    Example:
        >>> import chainrule as cr
        >>> from chainrule.nn import functional as F
        >>> round(F.erf(cr.tensor([0.5])).item(), 4)
        0.5205
    """
    return Erf.apply(_t(x))


# ------------------------------------------------------------------------------ activations


def identity(x: Any) -> Tensor:
    """``f(x) = x``.

    Example:
        >>> import chainrule as cr
        >>> from chainrule.nn import functional as F
        >>> F.identity(cr.tensor([1.0, -2.0])).numpy()
        array([ 1., -2.], dtype=float32)
    """
    return _t(x)


def sigmoid(x: Any) -> Tensor:
    """Logistic sigmoid ``σ(x) = 1 / (1 + e^(−x))``; ``σ'(x) = σ(x)(1 − σ(x))``.

    Args:
        x: any shape.

    Example:
        >>> import chainrule as cr
        >>> from chainrule.nn import functional as F
        >>> F.sigmoid(cr.tensor([0.0, 2.0])).numpy().round(4)
        array([0.5   , 0.8808], dtype=float32)
    """
    return _t(x).sigmoid()


def tanh(x: Any) -> Tensor:
    """Hyperbolic tangent ``tanh(x) = (eˣ − e^(−x)) / (eˣ + e^(−x))``; ``tanh' = 1 − tanh²``.

    Args:
        x: any shape.

    Example:
        >>> import chainrule as cr
        >>> from chainrule.nn import functional as F
        >>> F.tanh(cr.tensor([0.0, 1.0])).numpy().round(4)
        array([0.    , 0.7616], dtype=float32)
    """
    return _t(x).tanh()


def relu(x: Any) -> Tensor:
    """Rectified linear unit ``relu(x) = max(x, 0)``; derivative ``[x > 0]`` (0 at x = 0).

    Args:
        x: any shape.

    Reference: Nair & Hinton, "Rectified Linear Units Improve Restricted Boltzmann
    Machines", ICML 2010.

    Example:
        >>> import chainrule as cr
        >>> from chainrule.nn import functional as F
        >>> F.relu(cr.tensor([-1.0, 0.0, 2.0])).numpy()
        array([0., 0., 2.], dtype=float32)
    """
    return _t(x).relu()


def leaky_relu(x: Any, negative_slope: float = 0.01) -> Tensor:
    """Leaky ReLU ``f(x) = x if x > 0 else negative_slope·x``.

    Args:
        x: any shape.
        negative_slope: slope for x ≤ 0 (default 0.01).

    Reference: Maas, Hannun & Ng, "Rectifier Nonlinearities Improve Neural Network Acoustic
    Models", ICML 2013.

    Example:
        >>> import chainrule as cr
        >>> from chainrule.nn import functional as F
        >>> F.leaky_relu(cr.tensor([-2.0, 3.0]), 0.1).numpy()
        array([-0.2,  3. ], dtype=float32)
    """
    negative_slope = _number(negative_slope, "leaky_relu", "negative_slope")
    x = _t(x)
    return where(x.data > 0, x, x * negative_slope)


def elu(x: Any, alpha: float = 1.0) -> Tensor:
    """Exponential linear unit ``f(x) = x if x > 0 else alpha·(eˣ − 1)``.

    The negative branch is evaluated on ``min(x, 0)`` so that ``eˣ`` cannot overflow for
    large positive x (which would turn the unused branch's gradient into 0·∞ = NaN).

    Args:
        x: any shape.
        alpha: the value approached as x → −∞ is ``−alpha`` (default 1.0).

    Reference: Clevert, Unterthiner & Hochreiter, "Fast and Accurate Deep Network Learning
    by Exponential Linear Units (ELUs)", ICLR 2016.

    Example:
        >>> import chainrule as cr
        >>> from chainrule.nn import functional as F
        >>> F.elu(cr.tensor([-1.0, 2.0])).numpy().round(4)
        array([-0.6321,  2.    ], dtype=float32)
    """
    alpha = _number(alpha, "elu", "alpha")
    x = _t(x)
    x_neg = x.clip(max=0.0)
    return where(x.data > 0, x, (x_neg.exp() - 1.0) * alpha)


def selu(x: Any) -> Tensor:
    """Scaled ELU ``f(x) = scale·(x if x > 0 else alpha·(eˣ − 1))``.

    ``alpha ≈ 1.6733`` and ``scale ≈ 1.0507`` (``SELU_ALPHA``, ``SELU_SCALE``) make zero
    mean / unit variance a fixed point of the layer map (self-normalising networks; pair
    with ``init="lecun"``).

    Args:
        x: any shape.

    Reference: Klambauer et al., "Self-Normalizing Neural Networks", NeurIPS 2017.

    Example:
        >>> import chainrule as cr
        >>> from chainrule.nn import functional as F
        >>> F.selu(cr.tensor([-1.0, 1.0])).numpy().round(4)
        array([-1.1113,  1.0507], dtype=float32)
    """
    return elu(x, SELU_ALPHA) * SELU_SCALE


def softplus(x: Any, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """Softplus ``f(x) = (1/beta)·log(1 + e^(beta·x))``, and ``f(x) = x`` where
    ``beta·x > threshold`` (as PyTorch, for numerical stability); ``f'(x) = σ(beta·x)``.

    Args:
        x: any shape.
        beta: sharpness (default 1.0, must be > 0).
        threshold: above this value of ``beta·x`` the function is linear (default 20).

    Reference: Dugas et al., "Incorporating Second-Order Functional Knowledge for Better
    Option Pricing", NeurIPS 2000.

    Example:
        >>> import chainrule as cr
        >>> from chainrule.nn import functional as F
        >>> F.softplus(cr.tensor([0.0, 30.0])).numpy().round(4)
        array([ 0.6931, 30.    ], dtype=float32)
    """
    beta = _number(beta, "softplus", "beta")
    threshold = _number(threshold, "softplus", "threshold")
    if beta <= 0:
        raise ValueError(f"softplus: beta must be > 0, got {beta}")
    x = _t(x)
    bx = x * beta if beta != 1.0 else x
    smooth = Softplus.apply(bx)
    if beta != 1.0:
        smooth = smooth / beta
    return where(bx.data > threshold, x, smooth)


def gelu(x: Any, approximate: str = "none") -> Tensor:
    """Gaussian error linear unit ``f(x) = x·Φ(x)``, ``Φ`` the standard normal CDF.

    Exact form (``approximate='none'``)::

        f(x) = ½·x·(1 + erf(x/√2))

    Tanh approximation (``approximate='tanh'``)::

        f(x) = ½·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))

    Args:
        x: any shape.
        approximate: ``'none'`` (default) or ``'tanh'``.

    Reference: Hendrycks & Gimpel, "Gaussian Error Linear Units (GELUs)", 2016.

    Example:
        >>> import chainrule as cr
        >>> from chainrule.nn import functional as F
        >>> F.gelu(cr.tensor([1.0])).numpy().round(4)
        array([0.8413], dtype=float32)
    """
    x = _t(x)
    if approximate == "none":
        return x * 0.5 * (Erf.apply(x * _INV_SQRT2) + 1.0)
    if approximate == "tanh":
        inner = (x + x * x * x * 0.044715) * _SQRT_2_OVER_PI
        return x * 0.5 * (inner.tanh() + 1.0)
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def silu(x: Any) -> Tensor:
    """Sigmoid linear unit ``f(x) = x·σ(x)`` (Swish with beta = 1).

    Args:
        x: any shape.

    Reference: Elfwing, Uchibe & Doya, "Sigmoid-Weighted Linear Units for Neural Network
    Function Approximation in Reinforcement Learning", 2017.

    Example:
        >>> import chainrule as cr
        >>> from chainrule.nn import functional as F
        >>> F.silu(cr.tensor([1.0])).numpy().round(4)
        array([0.7311], dtype=float32)
    """
    x = _t(x)
    return x * x.sigmoid()


def swish(x: Any, beta: float = 1.0) -> Tensor:
    """Swish ``f(x) = x·σ(beta·x)``; ``beta = 1`` is SiLU.

    Args:
        x: any shape.
        beta: slope inside the sigmoid (default 1.0).

    Reference: Ramachandran, Zoph & Le, "Searching for Activation Functions", 2017.

    Example:
        >>> import chainrule as cr
        >>> from chainrule.nn import functional as F
        >>> F.swish(cr.tensor([1.0]), beta=2.0).numpy().round(4)
        array([0.8808], dtype=float32)
    """
    beta = _number(beta, "swish", "beta")
    x = _t(x)
    return x * (x * beta).sigmoid()


def softmax(x: Any, axis: Any = None, *, dim: Any = None) -> Tensor:
    """Softmax ``softmax(x)_i = e^(x_i) / Σ_j e^(x_j)`` along ``axis`` (default −1).

    Computed as ``exp(log_softmax(x))``, stable for large inputs.

    Args:
        x: any shape.
        axis: the axis that sums to 1 (alias ``dim``; default the last).

    Example:
        >>> import chainrule as cr
        >>> from chainrule.nn import functional as F
        >>> F.softmax(cr.tensor([[0.0, 0.0]])).numpy()
        array([[0.5, 0.5]], dtype=float32)
    """
    return _t(x).softmax(axis=_axis(axis, dim))


def log_softmax(x: Any, axis: Any = None, *, dim: Any = None) -> Tensor:
    """Log-softmax ``log_softmax(x)_i = x_i − log Σ_j e^(x_j)`` along ``axis`` (default −1).

    Fused and stable (the maximum is subtracted before exponentiating).

    Args:
        x: any shape.
        axis: the reduced axis (alias ``dim``; default the last).

    Example:
        >>> import chainrule as cr
        >>> from chainrule.nn import functional as F
        >>> F.log_softmax(cr.tensor([[0.0, 0.0]])).numpy().round(4)
        array([[-0.6931, -0.6931]], dtype=float32)
    """
    return _t(x).log_softmax(axis=_axis(axis, dim))


# ---------------------------------------------------------------------------------- layers


def linear(x: Any, weight: Any, bias: Any = None) -> Tensor:
    """Affine map ``z = x @ Wᵀ + b`` (the textbook ``z = Wx + b`` applied to each row).

    Args:
        x: input of shape ``(*, in_features)``.
        weight: ``W`` of shape ``(out_features, in_features)``.
        bias: ``b`` of shape ``(out_features,)`` or None.

    Returns:
        Tensor of shape ``(*, out_features)``.

    Example:
        >>> import chainrule as cr
        >>> from chainrule.nn import functional as F
        >>> W = cr.tensor([[1.0, 2.0]]); b = cr.tensor([0.5])
        >>> F.linear(cr.tensor([[3.0, 4.0]]), W, b).numpy()
        array([[11.5]], dtype=float32)
    """
    x, W = _t(x), _t(weight)
    if W.ndim != 2:
        raise ValueError(f"linear: weight must be 2-D (out, in), got shape {W.shape}")
    if x.ndim == 0 or x.shape[-1] != W.shape[1]:
        raise ValueError(
            f"linear: input of shape {x.shape} does not fit weight of shape {W.shape} "
            f"(expected input shape (*, {W.shape[1]}))"
        )
    b = None
    if bias is not None:
        b = _t(bias)
        if b.shape != (W.shape[0],):
            raise ValueError(
                f"linear: bias must have shape ({W.shape[0]},) for weight {W.shape}, "
                f"got {b.shape}"
            )
    return Linear.apply(x, W, b)


def _check_p(p: Any, name: str) -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float, np.number)):
        raise TypeError(f"{name}: p must be a number, got {type(p).__name__}")
    if not 0.0 <= p < 1.0:
        raise ValueError(f"{name}: p must be in [0, 1), got {p}")
    return float(p)


def dropout(x: Any, p: float = 0.5, training: bool = True, seed: Any = None) -> Tensor:
    """Inverted dropout: ``z = x ⊙ m / (1 − p)`` with ``m_i ~ Bernoulli(1 − p)`` in training,
    ``z = x`` otherwise.

    Dividing by ``1 − p`` keeps ``E[z] = x``, so nothing changes at evaluation time.

    **Another convention.** The original paper (and many course notes) write ``p`` for the
    probability of *keeping* a unit, call it ``q = 1 − p``, and do not rescale in training:
    ``z = x ⊙ m``, ``m_i ~ Bernoulli(q)``, then multiply by ``q`` at test time,
    ``z = q x``. To port such code, pass ``p = 1 − q``. Both forms match the expected
    training activation to the test-time one (``E[x ⊙ m] = q x`` there, ``E[x ⊙ m/q] = x``
    here), and they compute the same functions: a next layer with weights ``W`` in the
    original form equals one with ``q W`` in the inverted form. The inverted form is the
    one used today (PyTorch, Keras) because the test-time network needs no change.

    Args:
        x: any shape.
        p: probability of zeroing an element, in ``[0, 1)`` (default 0.5).
        training: apply dropout (True) or return ``x`` unchanged (False).
        seed: int, ``numpy.random.Generator`` or None (the global generator).

    Reference: Srivastava et al., "Dropout: A Simple Way to Prevent Neural Networks from
    Overfitting", JMLR 2014.

    Example:
        >>> import chainrule as cr
        >>> from chainrule.nn import functional as F
        >>> z = F.dropout(cr.ones(1000), p=0.5, seed=0)
        >>> sorted(set(z.numpy().tolist()))          # dropped, or scaled by 1/(1 − p)
        [0.0, 2.0]
        >>> q = 0.8                                  # a keep probability, as in the paper
        >>> z = F.dropout(cr.ones(100_000), p=1 - q, seed=0)
        >>> round(float(z.numpy().mean()), 2)        # E[z] = x = 1
        1.0
    """
    p = _check_p(p, "dropout")
    x = _t(x)
    if not training or p == 0.0:
        return x
    _rng.get_rng(seed)  # checks the seed
    keep = Uniform.apply(shape=x.shape, seed=seed).data >= p
    m = keep.astype(x.dtype) * np.asarray(1.0 / (1.0 - p), dtype=x.dtype)
    return x * m


def _bn_axes(x: Tensor, name: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    if x.ndim not in (2, 3):
        raise ValueError(f"{name}: expected input of shape (N, C) or (N, C, L), got {x.shape}")
    axes = (0,) if x.ndim == 2 else (0, 2)
    shape = (1, x.shape[1]) if x.ndim == 2 else (1, x.shape[1], 1)
    return axes, shape


def batch_norm(
    x: Any,
    running_mean: Any = None,
    running_var: Any = None,
    weight: Any = None,
    bias: Any = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Batch normalisation over the batch (and length) axes, per channel ``C``::

        x̂ = (x − μ) / √(σ² + eps),    z = γ ⊙ x̂ + β

    In training ``μ`` and ``σ²`` are the batch mean and *biased* variance, and the running
    estimates (if given) are updated in place with the *unbiased* variance::

        running_mean ← (1 − momentum)·running_mean + momentum·μ
        running_var  ← (1 − momentum)·running_var  + momentum·σ²·n/(n − 1)

    Otherwise ``μ, σ²`` are ``running_mean, running_var``.

    Args:
        x: ``(N, C)`` or ``(N, C, L)``.
        running_mean, running_var: Tensors of shape ``(C,)`` or None.
        weight, bias: ``γ`` and ``β`` of shape ``(C,)`` or None.
        training: use batch statistics (always the case if the running estimates are None).
        momentum: update factor of the running estimates (default 0.1).
        eps: added to the variance (default 1e-5).

    Reference: Ioffe & Szegedy, "Batch Normalization: Accelerating Deep Network Training by
    Reducing Internal Covariate Shift", ICML 2015.

    Example:
        >>> import chainrule as cr
        >>> from chainrule.nn import functional as F
        >>> F.batch_norm(cr.tensor([[1.0], [3.0]]), training=True).numpy().round(3)
        array([[-1.],
               [ 1.]], dtype=float32)
    """
    x = _t(x)
    axes, shape = _bn_axes(x, "batch_norm")
    C = x.shape[1]
    for nm, v in (("running_mean", running_mean), ("running_var", running_var),
                  ("weight", weight), ("bias", bias)):
        if v is not None and tuple(np.shape(v.data if isinstance(v, Tensor) else v)) != (C,):
            raise ValueError(
                f"batch_norm: {nm} must have shape ({C},) for input {x.shape}, "
                f"got {np.shape(v.data if isinstance(v, Tensor) else v)}"
            )
    use_batch = training or running_mean is None or running_var is None
    if use_batch:
        n = x.size // C
        if n <= 1:
            raise ValueError(
                f"batch_norm: need more than 1 value per channel in training, "
                f"got input of shape {x.shape}"
            )
        mu = x.mean(axis=axes, keepdims=True)
        centred = x - mu
        var = (centred * centred).mean(axis=axes, keepdims=True)
        if training and running_mean is not None and running_var is not None:
            m = float(momentum)
            mu_d = mu.data.reshape(C)
            var_d = var.data.reshape(C) * (n / (n - 1))
            _update_running(running_mean, mu_d, m)
            _update_running(running_var, var_d, m)
        x_hat = centred / (var + eps).sqrt()
    else:
        rm = _t_like(running_mean, x).reshape(shape)
        rv = _t_like(running_var, x).reshape(shape)
        x_hat = (x - rm.detach()) / (rv.detach() + eps).sqrt()
    z = x_hat
    if weight is not None:
        z = z * _t_like(weight, x).reshape(shape)
    if bias is not None:
        z = z + _t_like(bias, x).reshape(shape)
    return z


def _update_running(running: Any, batch: np.ndarray, m: float) -> None:
    """``running ← (1 − m)·running + m·batch`` in place (a Tensor's array or an ndarray)."""
    r = running.data if isinstance(running, Tensor) else running
    r *= 1.0 - m
    r += (m * batch).astype(r.dtype, copy=False)


def layer_norm(
    x: Any,
    normalized_shape: Any,
    weight: Any = None,
    bias: Any = None,
    eps: float = 1e-5,
) -> Tensor:
    """Layer normalisation over the trailing ``normalized_shape`` axes of each sample::

        x̂ = (x − μ) / √(σ² + eps),    z = γ ⊙ x̂ + β

    with ``μ``, ``σ²`` the mean and biased variance over those axes.

    Args:
        x: ``(*, *normalized_shape)``.
        normalized_shape: int or tuple, the trailing shape to normalise over.
        weight, bias: ``γ``, ``β`` of shape ``normalized_shape`` or None.
        eps: added to the variance (default 1e-5).

    Reference: Ba, Kiros & Hinton, "Layer Normalization", 2016.

    Example:
        >>> import chainrule as cr
        >>> from chainrule.nn import functional as F
        >>> F.layer_norm(cr.tensor([[1.0, 3.0]]), 2).numpy().round(3)
        array([[-1.,  1.]], dtype=float32)
    """
    x = _t(x)
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(shape)
    if k == 0 or x.shape[x.ndim - k:] != shape or x.ndim < k:
        raise ValueError(
            f"layer_norm: input of shape {x.shape} does not end with normalized_shape {shape}"
        )
    axes = tuple(range(x.ndim - k, x.ndim))
    mu = x.mean(axis=axes, keepdims=True)
    centred = x - mu
    var = (centred * centred).mean(axis=axes, keepdims=True)
    z = centred / (var + eps).sqrt()
    if weight is not None:
        z = z * _t_like(weight, x)
    if bias is not None:
        z = z + _t_like(bias, x)
    return z


# ---------------------------------------------------------------------------------- losses


def mse_loss(input: Any, target: Any, reduction: str = "mean", half: bool = False) -> Tensor:
    """Mean squared error ``ℓ_i = (x_i − y_i)²``, or ``ℓ_i = ½(x_i − y_i)²`` with
    ``half=True`` (the textbook convention whose gradient is ``x − y``).

    Args:
        input: predictions ``x``, any shape.
        target: ``y``, the same shape.
        reduction: ``'mean'`` (default) over all elements, ``'sum'`` or ``'none'``.
        half: use the ½ convention (default False, as PyTorch).

    Example:
        >>> import chainrule as cr
        >>> from chainrule.nn import functional as F
        >>> F.mse_loss(cr.tensor([1.0, 2.0]), cr.tensor([0.0, 0.0])).item()
        2.5
    """
    _check_reduction(reduction, "mse_loss")
    x = _t(input)
    y = _t_like(target, x)
    _same_shape(x, y, "mse_loss")
    if reduction != "none" and x.size:
        # fused: c·Σ(x − y)² with c = ½ (half) and 1/n (mean)
        scale = (0.5 if half else 1.0) / (x.size if reduction == "mean" else 1)
        return SquaredError.apply(x, y, scale=scale)
    d = x - y
    loss = d * d
    if half:
        loss = loss * 0.5
    return _reduce(loss, reduction)


def l1_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Mean absolute error ``ℓ_i = |x_i − y_i|`` (subgradient 0 where ``x_i = y_i``).

    Args:
        input: predictions ``x``, any shape.
        target: ``y``, the same shape.
        reduction: ``'mean'`` (default), ``'sum'`` or ``'none'``.

    Example:
        >>> import chainrule as cr
        >>> from chainrule.nn import functional as F
        >>> F.l1_loss(cr.tensor([1.0, -3.0]), cr.tensor([0.0, 0.0])).item()
        2.0
    """
    _check_reduction(reduction, "l1_loss")
    x = _t(input)
    y = _t_like(target, x)
    _same_shape(x, y, "l1_loss")
    return _reduce((x - y).abs(), reduction)


mae_loss = l1_loss


def huber_loss(input: Any, target: Any, reduction: str = "mean", delta: float = 1.0) -> Tensor:
    """Huber loss, quadratic near 0 and linear beyond ``delta`` (with ``d = x − y``)::

        ℓ_i = ½·d_i²                    if |d_i| < delta
        ℓ_i = delta·(|d_i| − ½·delta)   otherwise

    Args:
        input: predictions ``x``, any shape.
        target: ``y``, the same shape.
        reduction: ``'mean'`` (default), ``'sum'`` or ``'none'``.
        delta: the switch point, > 0 (default 1.0).

    Reference: Huber, "Robust Estimation of a Location Parameter", Ann. Math. Stat. 1964.

    Example:
        >>> import chainrule as cr
        >>> from chainrule.nn import functional as F
        >>> F.huber_loss(cr.tensor([0.5, 3.0]), cr.tensor([0.0, 0.0]), reduction="none").numpy()
        array([0.125, 2.5  ], dtype=float32)
    """
    _check_reduction(reduction, "huber_loss")
    delta = _number(delta, "huber_loss", "delta")
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be > 0, got {delta}")
    x = _t(input)
    y = _t_like(target, x)
    _same_shape(x, y, "huber_loss")
    d = x - y
    abs_d = d.abs()
    loss = where(abs_d.data < delta, d * d * 0.5, (abs_d - 0.5 * delta) * delta)
    return _reduce(loss, reduction)


def _safe_log_clamped(p: Tensor) -> Tensor:
    """``max(log p, −100)``, with log 0 = −100 and no warning or NaN gradient at p = 0."""
    positive = p.data > 0
    safe = where(positive, p, 1.0)
    return where(positive, safe.log().clip(min=-100.0), -100.0)


def binary_cross_entropy(
    input: Any, target: Any, weight: Any = None, reduction: str = "mean"
) -> Tensor:
    """Binary cross-entropy on probabilities ``p ∈ [0, 1]``::

        ℓ_i = −w_i·(y_i·log p_i + (1 − y_i)·log(1 − p_i))

    Each log is clamped at −100 (as PyTorch), so ``p = 0`` or ``1`` gives a finite loss.
    Prefer :func:`binary_cross_entropy_with_logits` on raw scores: it is more stable.

    Args:
        input: probabilities ``p``, any shape, values in ``[0, 1]``.
        target: ``y``, the same shape (usually 0/1).
        weight: ``w``, broadcastable to the input, or None.
        reduction: ``'mean'`` (default), ``'sum'`` or ``'none'``.

    Example:
        >>> import chainrule as cr
        >>> from chainrule.nn import functional as F
        >>> round(F.binary_cross_entropy(cr.tensor([0.8]), cr.tensor([1.0])).item(), 4)
        0.2231
    """
    _check_reduction(reduction, "binary_cross_entropy")
    p = _t(input)
    y = _t_like(target, p)
    _same_shape(p, y, "binary_cross_entropy")
    if p.size and (np.any(p.data < 0) or np.any(p.data > 1) or np.any(np.isnan(p.data))):
        raise ValueError(
            "binary_cross_entropy: input must hold probabilities in [0, 1], got values in "
            f"[{np.nanmin(p.data)}, {np.nanmax(p.data)}] (for raw scores use "
            "binary_cross_entropy_with_logits)"
        )
    loss = -(y * _safe_log_clamped(p) + (1.0 - y) * _safe_log_clamped(1.0 - p))
    if weight is not None:
        loss = loss * _t_like(weight, p)
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(
    input: Any,
    target: Any,
    weight: Any = None,
    reduction: str = "mean",
    pos_weight: Any = None,
) -> Tensor:
    """Binary cross-entropy on logits ``x`` (``p = σ(x)``), computed stably::

        ℓ_i = w_i·((1 − y_i)·x_i + softplus(−x_i))
            = w_i·(max(x_i, 0) − x_i·y_i + log(1 + e^(−|x_i|)))

    and with ``pos_weight`` ``c`` (which multiplies the loss of the positive class)::

        ℓ_i = w_i·((1 − y_i)·x_i + (1 + (c − 1)·y_i)·softplus(−x_i))

    Its gradient is ``w_i·(σ(x_i) − y_i)`` (for ``c = 1``), exact at ``x = 0`` too.

    Args:
        input: logits ``x``, any shape.
        target: ``y``, the same shape.
        weight: ``w``, broadcastable to the input, or None.
        reduction: ``'mean'`` (default), ``'sum'`` or ``'none'``.
        pos_weight: ``c``, broadcastable to the input (one per class, last axis), or None.

    Example:
        >>> import chainrule as cr
        >>> from chainrule.nn import functional as F
        >>> round(F.binary_cross_entropy_with_logits(cr.tensor([0.0]), cr.tensor([1.0])).item(), 4)
        0.6931
    """
    _check_reduction(reduction, "binary_cross_entropy_with_logits")
    x = _t(input)
    y = _t_like(target, x)
    _same_shape(x, y, "binary_cross_entropy_with_logits")
    sp = Softplus.apply(-x)
    if pos_weight is None:
        loss = (1.0 - y) * x + sp
    else:
        c = _t_like(pos_weight, x)
        loss = (1.0 - y) * x + ((c - 1.0) * y + 1.0) * sp
    if weight is not None:
        loss = loss * _t_like(weight, x)
    return _reduce(loss, reduction)


def _class_layout(x: Tensor, name: str) -> tuple[Tensor, bool]:
    """Input with a batch axis (class axis 1) and whether one was added."""
    if x.ndim == 0:
        raise ValueError(f"{name}: input must have a class axis, got a 0-d tensor")
    if x.ndim == 1:
        return x.reshape(1, x.shape[0]), True
    return x, False


def _weighted_nll(
    log_p: Tensor,
    target: Any,
    weight: Any,
    ignore_index: int,
    reduction: str,
    label_smoothing: float,
    name: str,
    allow_probs: bool,
) -> Tensor:
    """``ℓ_n = −Σ_c T[n, c]·log_p[n, c]`` for the target matrix ``T`` of PyTorch's rules."""
    log_p, unbatched = _class_layout(log_p, name)
    C = log_p.shape[1]
    shape_b = (1, C) + (1,) * (log_p.ndim - 2)
    w = None
    if weight is not None:
        w = np.asarray(weight.data if isinstance(weight, Tensor) else weight)
        if w.shape != (C,):
            raise ValueError(f"{name}: weight must have shape ({C},) (one per class), "
                             f"got {w.shape}")
        w = w.astype(log_p.dtype)
    eps = label_smoothing
    t_arr = target.data if isinstance(target, Tensor) else np.asarray(target)
    if t_arr.dtype.kind == "f":
        if not allow_probs:
            raise TypeError(f"{name}: target must hold integer class indices, got {t_arr.dtype}")
        y = _t_like(target, log_p)
        if unbatched:
            y = y.reshape(1, C)
        if y.shape != log_p.shape:
            hint = ""
            if t_arr.shape == log_p.shape[:1] + log_p.shape[2:] or (unbatched and not t_arr.ndim):
                hint = (" (a float target of this shape looks like class indices: pass them "
                        "as integers, e.g. y.astype(np.int64))")
            raise ValueError(
                f"{name}: class-probability target must have the input's shape "
                f"{log_p.shape if not unbatched else (C,)}, got {t_arr.shape}{hint}"
            )
        if eps > 0:
            y = y * (1.0 - eps) + eps / C
        T = y if w is None else y * w.reshape(shape_b)
        loss = -(log_p * T).sum(axis=1)
        if unbatched:
            loss = loss.reshape(())
        return _reduce(loss, reduction)
    if t_arr.dtype.kind not in "iu":
        raise TypeError(f"{name}: target must be integer class indices or float "
                        f"probabilities, got dtype {t_arr.dtype}")
    t_arr = t_arr.reshape(1) if unbatched and t_arr.ndim == 0 else t_arr
    expected = log_p.shape[:1] + log_p.shape[2:]
    if t_arr.shape != expected:
        raise ValueError(
            f"{name}: class-index target must have shape {expected} for input "
            f"{log_p.shape if not unbatched else (C,)}, got {t_arr.shape}"
        )
    lo, hi = (int(t_arr.min()), int(t_arr.max())) if t_arr.size else (0, 0)
    if 0 <= lo and hi < C and not 0 <= ignore_index < C:
        valid = None  # the common case: every position counts
        t_safe = t_arr
    else:
        valid = t_arr != ignore_index
        bad = valid & ((t_arr < 0) | (t_arr >= C))
        if np.any(bad):
            raise ValueError(
                f"{name}: target class indices must be in [0, {C}) (or ignore_index="
                f"{ignore_index}), got {t_arr[bad].flat[0]}"
            )
        t_safe = np.where(valid, t_arr, 0)
    # T[n, c] = valid_n · w_c · ((1 − ε)·[c = y_n] + ε/C)
    dtype = log_p.dtype
    T = np.zeros_like(log_p.data, dtype=dtype)
    np.put_along_axis(T, np.expand_dims(t_safe, 1), 1.0, axis=1)
    if eps > 0:
        T = T * dtype.type(1.0 - eps) + dtype.type(eps / C)
    if w is not None:
        T = T * w.reshape(shape_b)
    if valid is not None:
        T = T * np.expand_dims(valid, 1)
    if reduction == "none":
        loss = WeightedSum.apply(log_p, T=T, axis=1, scale=-1.0)
        return loss.reshape(()) if unbatched else loss
    if reduction == "sum":
        return WeightedSum.apply(log_p, T=T, axis=None, scale=-1.0)
    if w is None:
        denom = float(t_safe.size if valid is None else np.count_nonzero(valid))
    else:
        w_n = w[t_safe] if valid is None else w[t_safe] * valid
        denom = float(w_n.sum(dtype=np.float64))
    with np.errstate(invalid="ignore", divide="ignore"):
        return WeightedSum.apply(log_p, T=T, axis=None, scale=-1.0 / denom if denom else
                                 -np.inf)


class WeightedSum(Function):
    """z = scale · Σ_axis (x ⊙ T), T a constant array  ;  ∂L/∂x = scale · ∂L/∂z ⊙ T

    The negative log-likelihood of every class-index loss, fused into one node:
    ``−(1/denominator)·Σ T ⊙ log p``. Linear in x, so its backward is differentiable too.
    """

    @staticmethod
    def forward(ctx, x, T, axis, scale):
        ctx.T, ctx.axis, ctx.scale = T, axis, scale
        return np.asarray(np.sum(x * T, axis=axis) * x.dtype.type(scale))

    @staticmethod
    def backward(ctx, g):
        Ts = ctx.T * ctx.T.dtype.type(ctx.scale)
        if ctx.axis is not None:
            g = g.unsqueeze(ctx.axis) if isinstance(g, Tensor) else np.expand_dims(g, ctx.axis)
        return g * Ts


def _check_smoothing(label_smoothing: Any, name: str) -> float:
    ls = _number(label_smoothing, name, "label_smoothing")
    if not 0.0 <= ls <= 1.0:
        raise ValueError(f"{name}: label_smoothing must be in [0, 1], got {ls}")
    return ls


def cross_entropy(
    input: Any,
    target: Any,
    weight: Any = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Categorical cross-entropy of logits ``x`` (classes on axis 1), as PyTorch.

    With ``log p = log_softmax(x)`` and class-index targets ``y_n``::

        ℓ_n = −w_{y_n}·log p[n, y_n]                          (label_smoothing ε = 0)
        ℓ_n = (1 − ε)·(−w_{y_n}·log p[n, y_n]) + (ε/C)·(−Σ_c w_c·log p[n, c])
        mean = Σ_n ℓ_n / Σ_n w_{y_n}       (ignored positions excluded from both sums)

    With class-probability targets ``q`` (same shape as ``x``; smoothed to
    ``(1 − ε)·q + ε/C``)::

        ℓ_n = −Σ_c w_c·q[n, c]·log p[n, c],      mean = Σ_n ℓ_n / N

    Args:
        input: logits, ``(N, C)``, ``(C,)`` or ``(N, C, d₁, …)``.
        target: int class indices ``(N,)`` / ``()`` / ``(N, d₁, …)``, or float probabilities
            of the input's shape.
        weight: per-class weights ``w`` of shape ``(C,)`` or None (all 1).
        ignore_index: class-index value that contributes nothing (default −100).
        reduction: ``'mean'`` (default), ``'sum'`` or ``'none'``.
        label_smoothing: ``ε`` in ``[0, 1]`` (default 0).

    Reference: PyTorch ``torch.nn.functional.cross_entropy``; label smoothing: Szegedy et
    al., "Rethinking the Inception Architecture for Computer Vision", CVPR 2016.

    Example:
        >>> import numpy as np, chainrule as cr
        >>> from chainrule.nn import functional as F
        >>> logits = cr.tensor([[2.0, 0.0, 0.0]])
        >>> round(F.cross_entropy(logits, np.array([0])).item(), 4)   # −log(e²/(e² + 2))
        0.2395
    """
    _check_reduction(reduction, "cross_entropy")
    eps = _check_smoothing(label_smoothing, "cross_entropy")
    x = _t(input)
    axis = 1 if x.ndim >= 2 else 0
    if x.ndim == 0:
        raise ValueError("cross_entropy: input must have a class axis, got a 0-d tensor")
    if x.ndim == 2 and weight is None and eps == 0 and reduction != "none":
        t_arr = target.data if isinstance(target, Tensor) else target
        C = x.shape[1]
        if (isinstance(t_arr, np.ndarray) and t_arr.dtype.kind in "iu" and t_arr.size
                and t_arr.shape == x.shape[:1] and not 0 <= ignore_index < C
                and SoftmaxCrossEntropy.labels_in_range(t_arr, C)):
            # the common case as one fused node (its backward is softmax − onehot)
            return SoftmaxCrossEntropy.apply(x, t_arr, reduction=reduction, checked=True)
    log_p = x.log_softmax(axis=axis)
    return _weighted_nll(log_p, target, weight, ignore_index, reduction, eps,
                         "cross_entropy", allow_probs=True)


def nll_loss(
    input: Any,
    target: Any,
    weight: Any = None,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> Tensor:
    """Negative log-likelihood of log-probabilities ``log p`` (classes on axis 1)::

        ℓ_n = −w_{y_n}·log p[n, y_n],        mean = Σ_n ℓ_n / Σ_n w_{y_n}

    ``nll_loss(log_softmax(x), y)`` equals ``cross_entropy(x, y)``.

    Args:
        input: log-probabilities, ``(N, C)``, ``(C,)`` or ``(N, C, d₁, …)``.
        target: int class indices ``(N,)`` / ``()`` / ``(N, d₁, …)``.
        weight: per-class weights ``(C,)`` or None.
        ignore_index: class-index value that contributes nothing (default −100).
        reduction: ``'mean'`` (default), ``'sum'`` or ``'none'``.

    Example:
        >>> import numpy as np, chainrule as cr
        >>> from chainrule.nn import functional as F
        >>> F.nll_loss(cr.tensor([[-0.5, -1.0]]), np.array([1])).item()
        1.0
    """
    _check_reduction(reduction, "nll_loss")
    return _weighted_nll(_t(input), target, weight, ignore_index, reduction, 0.0,
                         "nll_loss", allow_probs=False)


def kl_div(
    input: Any, target: Any, reduction: str = "mean", log_target: bool = False
) -> Tensor:
    """Kullback–Leibler divergence ``KL(q ‖ p)`` with ``input = log p`` (as PyTorch)::

        ℓ_i = q_i·(log q_i − log p_i)            (0 where q_i = 0)
        ℓ_i = e^(t_i)·(t_i − log p_i)            (log_target=True, t = log q)

    Args:
        input: log-probabilities ``log p``, any shape.
        target: probabilities ``q`` (or ``log q`` with ``log_target=True``), same shape.
        reduction: ``'mean'`` (default; the mean over *all* elements, as PyTorch),
            ``'batchmean'`` (sum / batch size: the true KL per sample), ``'sum'``, ``'none'``.
        log_target: whether ``target`` holds log-probabilities.

    Reference: Kullback & Leibler, "On Information and Sufficiency", Ann. Math. Stat. 1951.

    Example:
        >>> import numpy as np, chainrule as cr
        >>> from chainrule.nn import functional as F
        >>> log_p = cr.tensor(np.log([[0.5, 0.5]])); q = cr.tensor([[0.9, 0.1]])
        >>> round(F.kl_div(log_p, q, reduction="batchmean").item(), 4)
        0.3681
    """
    _check_reduction(reduction, "kl_div", ("batchmean",))
    x = _t(input)
    t = _t_like(target, x)
    _same_shape(x, t, "kl_div")
    if log_target:
        loss = t.exp() * (t - x)
    else:
        if t.size and np.any(t.data < 0):
            raise ValueError("kl_div: target probabilities must be >= 0 "
                             "(pass log_target=True for log-probabilities)")
        positive = t.data > 0
        log_t = where(positive, t, 1.0).log()
        loss = t * (log_t - x)
    if reduction == "batchmean":
        return loss.sum() / float(x.shape[0]) if x.ndim > 0 else loss.sum()
    return _reduce(loss, reduction)


# Convolution and pooling (their own module; re-exported here as torch.nn.functional has
# them): its __all__ is the one list of their names, for the import and for ours
from . import _conv_functional  # noqa: E402
from ._conv_functional import *  # noqa: E402, F403

__all__ += _conv_functional.__all__
