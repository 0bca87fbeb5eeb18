"""Layers: Linear (the neuron ``a = σ(Wx + b)`` without its σ), Dropout, BatchNorm1d,
LayerNorm, Residual and Flatten."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import rng as _rng
from .._checks import check_int
from ..ops import Linear as _LinearOp
from ..ops import LinearActivation as _LinearActivationOp
from ..tensor import Tensor
from . import functional as F
from . import init as _init
from .activations import _Pointwise
from .module import Module, Parameter, register_module

__all__ = ["BatchNorm1d", "Dropout", "Flatten", "LayerNorm", "Linear", "Residual"]


def _positive_int(value: Any, name: str, what: str) -> int:
    """``value`` as an int >= 1; the message names the layer: ``Linear: in_features …``."""
    return check_int(value, f"{name}: {what}", 1)


def _float_dtype(dtype: Any, name: str) -> np.dtype:
    dt = np.dtype(dtype)
    if dt.kind != "f":
        raise ValueError(f"{name}: dtype must be floating point, got {dt}")
    return dt


@register_module
class Linear(Module):
    """Fully connected layer ``z = x @ Wᵀ + b`` — the textbook ``z = Wx + b`` on each row.

    Parameters ``weight`` (``W``, shape ``(out_features, in_features)``) and ``bias``
    (``b``, shape ``(out_features,)``).

    Initialisation (``init``):

    - ``None`` or ``"auto"`` (default): PyTorch's scheme, ``kaiming_uniform(a=√5)``, i.e.
      ``W_ij ~ U(−1/√in, 1/√in)`` and ``b_i ~ U(−1/√in, 1/√in)``. It is deliberately the
      same as ``torch.nn.Linear`` so results can be compared with PyTorch; for deep ReLU
      networks prefer ``init="he"``, for tanh/sigmoid ``"xavier"``, for SELU ``"lecun"``.
    - the name of the activation that follows the layer (``"relu"``, ``"tanh"``,
      ``"sigmoid"``, ``"selu"``, …): the initialiser suited to it is chosen
      (:data:`chainrule.nn.init.FOR_ACTIVATION`: He ``Var(W) = 2/in`` for the ReLU family,
      Xavier ``Var(W) = g²·2/(in + out)`` with the tanh/sigmoid gain ``g``, LeCun
      ``Var(W) = 1/in`` for SELU), and the bias starts at 0;
    - a name of :data:`chainrule.nn.init.INITIALIZERS` (``"he"``, ``"xavier"``, …) or a
      callable ``f(shape, seed=..., dtype=...)``: the weight is drawn from it and the bias
      starts at 0.

    Args:
        in_features: size of each input row.
        out_features: size of each output row.
        bias: learn the bias ``b`` (default True).
        init: initialiser for ``W`` (see above).
        seed: int, Generator or None (global generator).
        dtype: parameter dtype (default float32).

    Shapes: input ``(*, in_features)`` → output ``(*, out_features)``.

    Example:
        >>> import chainrule as cr
        >>> from chainrule import nn
        >>> layer = nn.Linear(3, 2, init="he", seed=0)
        >>> layer.weight.shape, layer(cr.ones(5, 3)).shape
        ((2, 3), (5, 2))
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        init: Any = None,
        seed: Any = None,
        dtype: Any = np.float32,
    ) -> None:
        super().__init__()
        self.in_features = _positive_int(in_features, "Linear", "in_features")
        self.out_features = _positive_int(out_features, "Linear", "out_features")
        dt = _float_dtype(dtype, "Linear")
        w, b, self.init = _init.layer_parameters(
            (self.out_features, self.in_features), init, bias=bias, seed=seed, dtype=dt,
            layer="Linear")
        self.weight = Parameter(w)
        self.bias = Parameter(b) if bias else None

    def forward(self, x: Any) -> Tensor:
        if isinstance(x, Tensor) and x.data.ndim and x.data.shape[-1] == self.in_features:
            return _LinearOp.apply(x, self.weight, self.bias)  # the checks F.linear makes
        return F.linear(x, self.weight, self.bias)

    def _fused_with(self, nxt: Module) -> Any:
        """The primitive ``φ`` of ``nxt`` if this layer followed by ``nxt`` computes
        ``φ(x @ Wᵀ + b)`` with both modules' own forwards (neither overridden), so that
        ``nn.Sequential`` can run the pair as one :class:`~chainrule.ops.LinearActivation`
        node; else None."""
        if not isinstance(nxt, _Pointwise):
            return None
        own = type(self).forward is Linear.forward and type(nxt).forward is _Pointwise.forward
        plain_call = type(self).__call__ is Module.__call__ is type(nxt).__call__
        patched = "forward" in vars(self) or "forward" in vars(nxt)
        primitive = nxt.primitive
        if own and plain_call and not patched and primitive.pointwise_of_output:
            return primitive
        return None

    def _forward_activation(self, x: Any, primitive: Any) -> Tensor:
        """``φ(self(x))`` for the activation primitive ``φ`` of :meth:`_fused_with`."""
        if isinstance(x, Tensor) and x.data.ndim and x.data.shape[-1] == self.in_features:
            return _LinearActivationOp.apply(x, self.weight, self.bias, activation=primitive)
        return primitive.apply(F.linear(x, self.weight, self.bias))

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")

    def _config(self) -> dict[str, Any]:
        return {"in_features": self.in_features, "out_features": self.out_features,
                "bias": self.bias is not None, "dtype": str(self.weight.dtype)}


@register_module
class Dropout(Module):
    """Inverted dropout: ``z = x ⊙ m / (1 − p)``, ``m_i ~ Bernoulli(1 − p)``, in training
    mode; the identity in evaluation mode (``model.eval()``).

    Args:
        p: probability of zeroing an element, in ``[0, 1)`` (default 0.5). Where a text
            gives the probability ``q`` of *keeping* a unit (and scales by ``q`` at test
            time), pass ``p = 1 − q``: see :func:`chainrule.nn.functional.dropout` for why
            both conventions give the same expectation.
        seed: int or Generator for a reproducible mask sequence, or None (the global
            generator, see ``cr.manual_seed``).

    Reference: Srivastava et al., "Dropout: A Simple Way to Prevent Neural Networks from
    Overfitting", JMLR 2014.

    Example:
        >>> import chainrule as cr
        >>> from chainrule import nn
        >>> drop = nn.Dropout(0.25, seed=0)
        >>> sorted({round(v, 4) for v in drop(cr.ones(100)).numpy().tolist()})
        [0.0, 1.3333]
        >>> drop.eval()(cr.ones(3)).numpy()
        array([1., 1., 1.], dtype=float32)
    """

    def __init__(self, p: float = 0.5, seed: Any = None) -> None:
        super().__init__()
        self.p = F._check_p(p, "Dropout")
        self._gen = None if seed is None else _rng.get_rng(seed)

    def forward(self, x: Any) -> Tensor:
        return F.dropout(x, self.p, training=self.training, seed=self._gen)

    def extra_repr(self) -> str:
        return f"p={self.p}"

    def _config(self) -> dict[str, Any]:
        return {"p": self.p}


@register_module
class BatchNorm1d(Module):
    """Batch normalisation per feature (channel) ``C``::

        x̂ = (x − μ) / √(σ² + eps),    z = γ ⊙ x̂ + β

    Training mode: ``μ``, ``σ²`` are the batch mean and biased variance (over the batch
    axis, and the length axis for 3-D input), and the buffers are updated as PyTorch does::

        running_mean ← (1 − momentum)·running_mean + momentum·μ
        running_var  ← (1 − momentum)·running_var  + momentum·σ²·n/(n − 1)   (unbiased)
        num_batches_tracked ← num_batches_tracked + 1

    (``momentum=None``: cumulative average, factor ``1/num_batches_tracked``.) Evaluation
    mode: ``μ, σ² = running_mean, running_var``.

    Args:
        num_features: ``C``.
        eps: added to the variance (default 1e-5).
        momentum: running-average factor (default 0.1) or None.
        affine: learn ``γ`` (``weight``, init 1) and ``β`` (``bias``, init 0) (default True).
        track_running_stats: keep the running estimates (default True); if False, batch
            statistics are used in both modes.
        dtype: parameter dtype (default float32).

    Shapes: ``(N, C)`` or ``(N, C, L)``, output the same.

    Reference: Ioffe & Szegedy, ICML 2015.

    Example:
        >>> import chainrule as cr
        >>> from chainrule import nn
        >>> bn = nn.BatchNorm1d(1)
        >>> bn(cr.tensor([[1.0], [3.0]])).numpy().round(3).ravel().tolist()
        [-1.0, 1.0]
        >>> bn.running_mean.numpy(), bn.running_var.numpy()   # 0.9·0 + 0.1·2, 0.9·1 + 0.1·2
        (array([0.2], dtype=float32), array([1.1], dtype=float32))
    """

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        dtype: Any = np.float32,
    ) -> None:
        super().__init__()
        self.num_features = _positive_int(num_features, "BatchNorm1d", "num_features")
        if not eps > 0:
            raise ValueError(f"BatchNorm1d: eps must be > 0, got {eps}")
        if momentum is not None and not 0.0 <= momentum <= 1.0:
            raise ValueError(f"BatchNorm1d: momentum must be in [0, 1] or None, got {momentum}")
        dt = _float_dtype(dtype, "BatchNorm1d")
        self.eps = float(eps)
        self.momentum = None if momentum is None else float(momentum)
        self.affine = bool(affine)
        self.track_running_stats = bool(track_running_stats)
        C = self.num_features
        self.weight = Parameter(np.ones(C, dtype=dt)) if affine else None
        self.bias = Parameter(np.zeros(C, dtype=dt)) if affine else None
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(C, dtype=dt)))
            self.register_buffer("running_var", Tensor(np.ones(C, dtype=dt)))
            self.register_buffer("num_batches_tracked", Tensor(np.array(0, dtype=np.int64)))
        else:
            self.running_mean = self.running_var = self.num_batches_tracked = None

    def forward(self, x: Any) -> Tensor:
        x = F._t(x)
        if x.ndim not in (2, 3) or x.shape[1] != self.num_features:
            raise ValueError(
                f"BatchNorm1d({self.num_features}): expected input of shape "
                f"(N, {self.num_features}) or (N, {self.num_features}, L), got {x.shape}"
            )
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.data += 1
            if self.momentum is None:
                factor = 1.0 / float(self.num_batches_tracked.data)
        use_running = not self.training and self.track_running_stats
        return F.batch_norm(
            x,
            self.running_mean if (use_running or self.training) else None,
            self.running_var if (use_running or self.training) else None,
            self.weight,
            self.bias,
            training=self.training or not self.track_running_stats,
            momentum=factor,
            eps=self.eps,
        )

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")

    def _config(self) -> dict[str, Any]:
        dt = self.weight.dtype if self.weight is not None else (
            self.running_mean.dtype if self.running_mean is not None else np.dtype(np.float32))
        return {"num_features": self.num_features, "eps": self.eps, "momentum": self.momentum,
                "affine": self.affine, "track_running_stats": self.track_running_stats,
                "dtype": str(dt)}


@register_module
class LayerNorm(Module):
    """Layer normalisation over the trailing ``normalized_shape`` axes of each sample::

        x̂ = (x − μ) / √(σ² + eps),    z = γ ⊙ x̂ + β

    ``μ``, ``σ²``: mean and biased variance over those axes; the same in both modes.

    Args:
        normalized_shape: int or tuple, the trailing input shape.
        eps: added to the variance (default 1e-5).
        elementwise_affine: learn ``γ`` (``weight``, init 1) and ``β`` (default True).
        bias: learn ``β`` (``bias``, init 0) when affine (default True).
        dtype: parameter dtype (default float32).

    Shapes: ``(*, *normalized_shape)``, output the same.

    Reference: Ba, Kiros & Hinton, "Layer Normalization", 2016.

    Example:
        >>> import chainrule as cr
        >>> from chainrule import nn
        >>> nn.LayerNorm(2)(cr.tensor([[1.0, 3.0]])).numpy().round(3)
        array([[-1.,  1.]], dtype=float32)
    """

    def __init__(
        self,
        normalized_shape: Any,
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        dtype: Any = np.float32,
    ) -> None:
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, (int, np.integer)) else \
            tuple(normalized_shape)
        if not shape:
            raise ValueError("LayerNorm: normalized_shape must not be empty")
        self.normalized_shape = tuple(
            _positive_int(s, "LayerNorm", "normalized_shape entries") for s in shape)
        if not eps > 0:
            raise ValueError(f"LayerNorm: eps must be > 0, got {eps}")
        dt = _float_dtype(dtype, "LayerNorm")
        self.eps = float(eps)
        self.elementwise_affine = bool(elementwise_affine)
        self.weight = Parameter(np.ones(self.normalized_shape, dtype=dt)) \
            if elementwise_affine else None
        self.bias = Parameter(np.zeros(self.normalized_shape, dtype=dt)) \
            if elementwise_affine and bias else None

    def forward(self, x: Any) -> Tensor:
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")

    def _config(self) -> dict[str, Any]:
        dt = self.weight.dtype if self.weight is not None else np.dtype(np.float32)
        return {"normalized_shape": list(self.normalized_shape), "eps": self.eps,
                "elementwise_affine": self.elementwise_affine, "bias": self.bias is not None,
                "dtype": str(dt)}


@register_module
class Residual(Module):
    """Residual (skip) connection ``z = x + f(x)``.

    Args:
        module: ``f``, a Module whose output has the input's shape.

    Reference: He et al., "Deep Residual Learning for Image Recognition", CVPR 2016.

    Example:
        >>> import chainrule as cr
        >>> from chainrule import nn
        >>> block = nn.Residual(nn.Sequential(nn.Linear(4, 4, seed=0), nn.ReLU()))
        >>> block(cr.ones(2, 4)).shape, [n for n, _ in block.named_parameters()]
        ((2, 4), ['module.0.weight', 'module.0.bias'])
    """

    def __init__(self, module: Module) -> None:
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"Residual: expected a Module, got {type(module).__name__}")
        self.module = module

    def forward(self, x: Any) -> Tensor:
        x = F._t(x)
        fx = self.module(x)
        if fx.shape != x.shape:
            raise ValueError(
                f"Residual: f(x) has shape {fx.shape} but x has shape {x.shape}; "
                "x + f(x) needs them equal"
            )
        return x + fx

    def _config(self) -> dict[str, Any]:
        return {"module": self.module}


@register_module
class Flatten(Module):
    """Collapse axes ``start_dim … end_dim`` into one: ``(N, d₁, d₂, …) → (N, d₁·d₂·…)``.

    Args:
        start_dim: first axis to flatten (default 1, keeping the batch axis).
        end_dim: last axis to flatten (default −1).

    Example:
        >>> import chainrule as cr
        >>> from chainrule import nn
        >>> nn.Flatten()(cr.ones(2, 3, 4)).shape
        (2, 12)
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = int(start_dim)
        self.end_dim = int(end_dim)

    def forward(self, x: Any) -> Tensor:
        x = F._t(x)
        nd = x.ndim
        s = self.start_dim % nd if nd else 0
        e = self.end_dim % nd if nd else 0
        if not (-nd <= self.start_dim < max(nd, 1) and -nd <= self.end_dim < max(nd, 1)) \
                or s > e:
            raise ValueError(
                f"Flatten: start_dim={self.start_dim}, end_dim={self.end_dim} do not fit an "
                f"input of shape {x.shape}"
            )
        shape = x.shape[:s] + (-1,) + x.shape[e + 1:]
        if x.size == 0:
            shape = x.shape[:s] + (int(np.prod(x.shape[s:e + 1])),) + x.shape[e + 1:]
        return x.reshape(*shape)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"

    def _config(self) -> dict[str, Any]:
        return {"start_dim": self.start_dim, "end_dim": self.end_dim}
