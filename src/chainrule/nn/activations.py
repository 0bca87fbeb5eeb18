"""Activation functions as modules (``σ`` in ``a = σ(Wx + b)``), and their registry.

Each module applies the function of the same name in :mod:`chainrule.nn.functional`
elementwise (Softmax/LogSoftmax along an axis); the equations are repeated here.
"""

from __future__ import annotations

from typing import Any, ClassVar

from .. import ops as _ops
from ..registry import Registry
from ..tensor import Tensor
from . import functional as F
from .module import Module, register_module

__all__ = [
    "ACTIVATIONS",
    "ELU",
    "GELU",
    "SELU",
    "Identity",
    "LeakyReLU",
    "LogSoftmax",
    "ReLU",
    "SiLU",
    "Sigmoid",
    "Softmax",
    "Softplus",
    "Swish",
    "Tanh",
    "get_activation",
]


class _Activation(Module):
    """An activation without parameters (its config is its constructor arguments)."""

    def _config(self) -> dict[str, Any]:
        return {}


class _Pointwise(_Activation):
    """An activation that is one primitive, ``primitive`` (``pointwise_of_output``): a
    ``Linear`` before it in a ``Sequential`` runs with it as one node
    (:class:`~chainrule.ops.LinearActivation`)."""

    primitive: ClassVar[type[_ops.Function]]

    def forward(self, x: Any) -> Tensor:
        return self.primitive.apply(F._t(x))


@register_module
class Identity(_Activation):
    """``f(x) = x`` (a placeholder layer; accepts and ignores any constructor arguments).

    Example:
        >>> import chainrule as cr
        >>> from chainrule import nn
        >>> nn.Identity()(cr.tensor([1.0, 2.0])).numpy()
        array([1., 2.], dtype=float32)
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, x: Any) -> Tensor:
        return F.identity(x)


@register_module
class Sigmoid(_Pointwise):
    """``σ(x) = 1 / (1 + e^(−x))``; ``σ' = σ(1 − σ)``. Input: any shape.

    Example:
        >>> import chainrule as cr
        >>> from chainrule import nn
        >>> nn.Sigmoid()(cr.tensor([0.0])).numpy()
        array([0.5], dtype=float32)
    """

    primitive = _ops.Sigmoid


@register_module
class Tanh(_Pointwise):
    """``tanh(x) = (eˣ − e^(−x)) / (eˣ + e^(−x))``; ``tanh' = 1 − tanh²``. Input: any shape.

    Example:
        >>> import chainrule as cr
        >>> from chainrule import nn
        >>> nn.Tanh()(cr.tensor([0.0])).numpy()
        array([0.], dtype=float32)
    """

    primitive = _ops.Tanh


@register_module
class ReLU(_Pointwise):
    """``relu(x) = max(x, 0)``; derivative ``[x > 0]`` (0 at x = 0). Input: any shape.

    Reference: Nair & Hinton, ICML 2010.

    Example:
        >>> import chainrule as cr
        >>> from chainrule import nn
        >>> nn.ReLU()(cr.tensor([-1.0, 2.0])).numpy()
        array([0., 2.], dtype=float32)
    """

    primitive = _ops.Relu


@register_module
class LeakyReLU(_Activation):
    """``f(x) = x if x > 0 else negative_slope·x``. Input: any shape.

    Args:
        negative_slope: slope for x ≤ 0 (default 0.01).

    Reference: Maas, Hannun & Ng, ICML 2013.

    Example:
        >>> import chainrule as cr
        >>> from chainrule import nn
        >>> nn.LeakyReLU(0.1)(cr.tensor([-1.0, 2.0])).numpy()
        array([-0.1,  2. ], dtype=float32)
    """

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.negative_slope = F._number(negative_slope, "LeakyReLU", "negative_slope")

    def forward(self, x: Any) -> Tensor:
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"

    def _config(self) -> dict[str, Any]:
        return {"negative_slope": self.negative_slope}


@register_module
class ELU(_Activation):
    """``f(x) = x if x > 0 else alpha·(eˣ − 1)`` (negative branch on ``min(x, 0)``).

    Args:
        alpha: ``−alpha`` is the limit as x → −∞ (default 1.0).

    Reference: Clevert et al., ICLR 2016.

    Example:
        >>> import chainrule as cr
        >>> from chainrule import nn
        >>> nn.ELU()(cr.tensor([0.0, 1.0])).numpy()
        array([0., 1.], dtype=float32)
    """

    def __init__(self, alpha: float = 1.0) -> None:
        super().__init__()
        self.alpha = F._number(alpha, "ELU", "alpha")

    def forward(self, x: Any) -> Tensor:
        return F.elu(x, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"

    def _config(self) -> dict[str, Any]:
        return {"alpha": self.alpha}


@register_module
class SELU(_Activation):
    """``f(x) = scale·(x if x > 0 else alpha·(eˣ − 1))``, alpha ≈ 1.6733, scale ≈ 1.0507.

    Reference: Klambauer et al., "Self-Normalizing Neural Networks", NeurIPS 2017.

    Example:
        >>> import chainrule as cr
        >>> from chainrule import nn
        >>> nn.SELU()(cr.tensor([1.0])).numpy().round(4)
        array([1.0507], dtype=float32)
    """

    def forward(self, x: Any) -> Tensor:
        return F.selu(x)


@register_module
class Softplus(_Activation):
    """``f(x) = (1/beta)·log(1 + e^(beta·x))``, linear where ``beta·x > threshold``.

    Args:
        beta: sharpness, > 0 (default 1).
        threshold: linear above this value of ``beta·x`` (default 20).

    Example:
        >>> import chainrule as cr
        >>> from chainrule import nn
        >>> nn.Softplus()(cr.tensor([0.0])).numpy().round(4)
        array([0.6931], dtype=float32)
    """

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta = F._number(beta, "Softplus", "beta")
        self.threshold = F._number(threshold, "Softplus", "threshold")
        if self.beta <= 0:
            raise ValueError(f"Softplus: beta must be > 0, got {beta}")

    def forward(self, x: Any) -> Tensor:
        return F.softplus(x, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"

    def _config(self) -> dict[str, Any]:
        return {"beta": self.beta, "threshold": self.threshold}


@register_module
class GELU(_Activation):
    """``f(x) = x·Φ(x) = ½·x·(1 + erf(x/√2))``, or with ``approximate='tanh'``
    ``½·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))``.

    Args:
        approximate: ``'none'`` (default, exact) or ``'tanh'``.

    Reference: Hendrycks & Gimpel, 2016.

    Example:
        >>> import chainrule as cr
        >>> from chainrule import nn
        >>> nn.GELU()(cr.tensor([1.0])).numpy().round(4)
        array([0.8413], dtype=float32)
    """

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x: Any) -> Tensor:
        return F.gelu(x, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"

    def _config(self) -> dict[str, Any]:
        return {"approximate": self.approximate}


@register_module
class SiLU(_Activation):
    """``f(x) = x·σ(x)`` (Swish with beta = 1).

    Reference: Elfwing, Uchibe & Doya, 2017.

    Example:
        >>> import chainrule as cr
        >>> from chainrule import nn
        >>> nn.SiLU()(cr.tensor([0.0])).numpy()
        array([0.], dtype=float32)
    """

    def forward(self, x: Any) -> Tensor:
        return F.silu(x)


@register_module
class Swish(_Activation):
    """``f(x) = x·σ(beta·x)``; ``beta = 1`` is :class:`SiLU`.

    Args:
        beta: slope inside the sigmoid (default 1.0).

    Reference: Ramachandran, Zoph & Le, "Searching for Activation Functions", 2017.

    Example:
        >>> import chainrule as cr
        >>> from chainrule import nn
        >>> nn.Swish()(cr.tensor([1.0])).numpy().round(4)
        array([0.7311], dtype=float32)
    """

    def __init__(self, beta: float = 1.0) -> None:
        super().__init__()
        self.beta = F._number(beta, "Swish", "beta")

    def forward(self, x: Any) -> Tensor:
        return F.swish(x, self.beta)

    def extra_repr(self) -> str:
        return f"beta={self.beta}"

    def _config(self) -> dict[str, Any]:
        return {"beta": self.beta}


class _AlongAxis(_Activation):
    """An activation along one ``axis`` (alias ``dim``; default −1): softmax, log-softmax."""

    def __init__(self, axis: int | None = None, *, dim: int | None = None) -> None:
        super().__init__()
        self.axis = F._axis(axis, dim)

    def extra_repr(self) -> str:
        return f"axis={self.axis}"

    def _config(self) -> dict[str, Any]:
        return {"axis": self.axis}


@register_module
class Softmax(_AlongAxis):
    """``softmax(x)_i = e^(x_i) / Σ_j e^(x_j)`` along ``axis``.

    Args:
        axis: the axis that sums to 1 (alias ``dim``; default −1).

    Example:
        >>> import chainrule as cr
        >>> from chainrule import nn
        >>> nn.Softmax()(cr.tensor([[1.0, 1.0]])).numpy()
        array([[0.5, 0.5]], dtype=float32)
    """

    def forward(self, x: Any) -> Tensor:
        return F.softmax(x, axis=self.axis)


@register_module
class LogSoftmax(_AlongAxis):
    """``log_softmax(x)_i = x_i − log Σ_j e^(x_j)`` along ``axis`` (stable).

    Args:
        axis: the reduced axis (alias ``dim``; default −1).

    Example:
        >>> import chainrule as cr
        >>> from chainrule import nn
        >>> nn.LogSoftmax()(cr.tensor([[0.0, 0.0]])).numpy().round(4)
        array([[-0.6931, -0.6931]], dtype=float32)
    """

    def forward(self, x: Any) -> Tensor:
        return F.log_softmax(x, axis=self.axis)


ACTIVATIONS = Registry("activation")
"""Activation module classes by name, with their metadata (``sklearn``: scikit-learn's
name, ``logistic`` and ``identity``; ``hidden=False`` for the output-only softmax and
log-softmax). ``ACTIVATIONS.register(name, cls)`` adds one."""
ACTIVATIONS.register("identity", Identity, aliases=("linear", "none"), sklearn="identity")
ACTIVATIONS.register("sigmoid", Sigmoid, aliases=("logistic",), sklearn="logistic")
ACTIVATIONS.register("tanh", Tanh, sklearn="tanh")
ACTIVATIONS.register("relu", ReLU, sklearn="relu")
ACTIVATIONS.register("leaky_relu", LeakyReLU, aliases=("leakyrelu",))
ACTIVATIONS.register("elu", ELU)
ACTIVATIONS.register("selu", SELU)
ACTIVATIONS.register("softplus", Softplus)
ACTIVATIONS.register("gelu", GELU)
ACTIVATIONS.register("silu", SiLU)
ACTIVATIONS.register("swish", Swish)
ACTIVATIONS.register("softmax", Softmax, hidden=False)
ACTIVATIONS.register("log_softmax", LogSoftmax, aliases=("logsoftmax",), hidden=False)


def get_activation(name: Any, **kwargs: Any) -> Module:
    """A new activation module for ``name`` (case-insensitive); a Module is returned as is.

    Args:
        name: a key of :data:`ACTIVATIONS` or a Module instance.
        **kwargs: constructor arguments (e.g. ``negative_slope=0.2``).

    Raises:
        ValueError: unknown name (the message lists the valid names).

    Example:
        >>> from chainrule import nn
        >>> nn.get_activation("leaky_relu", negative_slope=0.2)
        LeakyReLU(negative_slope=0.2)
    """
    if isinstance(name, Module):
        return name
    if not isinstance(name, str):
        raise TypeError(f"activation must be a name or a Module, got {type(name).__name__}")
    return ACTIVATIONS.lookup(name)(**kwargs)
