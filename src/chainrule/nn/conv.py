"""Convolution and pooling layers with PyTorch's names, arguments and weight layouts:
``Conv1d``, ``Conv2d``, ``MaxPool1d/2d``, ``AvgPool1d/2d``, ``AdaptiveAvgPool1d/2d``, and
``Unflatten`` (flat feature rows to ``(C, L)`` or ``(C, H, W)`` samples)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import rng as _rng
from ..tensor import Tensor
from . import _conv_functional as CF
from . import init as _init
from .layers import _float_dtype, _positive_int
from .module import Module, Parameter, register_module

__all__ = [
    "AdaptiveAvgPool1d",
    "AdaptiveAvgPool2d",
    "AvgPool1d",
    "AvgPool2d",
    "Conv1d",
    "Conv2d",
    "MaxPool1d",
    "MaxPool2d",
    "Unflatten",
    "cnn",
]


def _tuple(value: Any, nd: int, name: str, what: str) -> tuple[int, ...]:
    return CF._ints(value, nd, name, what, 1)


def _jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


class _ConvNd(Module):
    _nd = 0
    _fn: Any = None

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, dilation: Any = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", init: Any = None, seed: Any = None,
                 dtype: Any = np.float32) -> None:
        super().__init__()
        name = type(self).__name__
        nd = self._nd
        self.in_channels = _positive_int(in_channels, name, "in_channels")
        self.out_channels = _positive_int(out_channels, name, "out_channels")
        self.groups = _positive_int(groups, name, "groups")
        if self.in_channels % self.groups or self.out_channels % self.groups:
            raise ValueError(
                f"{name}: groups={self.groups} must divide in_channels={self.in_channels} "
                f"and out_channels={self.out_channels}"
            )
        if padding_mode != "zeros":
            raise ValueError(f"{name}: only padding_mode='zeros' is supported, got "
                             f"{padding_mode!r}")
        self.kernel_size = _tuple(kernel_size, nd, name, "kernel_size")
        self.stride = _tuple(stride, nd, name, "stride")
        self.dilation = _tuple(dilation, nd, name, "dilation")
        # validated (and 'same' checked against the stride) by the functional form
        CF._padding(padding, nd, name, self.kernel_size, self.stride, self.dilation)
        self.padding = padding if isinstance(padding, str) else \
            CF._ints(padding, nd, name, "padding", 0)
        self.padding_mode = padding_mode
        dt = _float_dtype(dtype, name)
        w, b, self.init = _init.layer_parameters(
            (self.out_channels, self.in_channels // self.groups) + self.kernel_size, init,
            bias=bias, seed=seed, dtype=dt, layer=name)
        self.weight = Parameter(w)
        self.bias = Parameter(b) if bias else None

    def forward(self, x: Any) -> Tensor:
        return type(self)._fn(x, self.weight, self.bias, self.stride, self.padding,
                              self.dilation, self.groups)

    def padding_pairs(self) -> tuple[tuple[int, int], ...]:
        """The zeros ``(before, after)`` this layer pads on each spatial axis: ``"valid"``
        is none, ``"same"`` pads ``d·(k − 1)`` in total (the odd one after, as PyTorch).

        >>> from chainrule import nn
        >>> nn.Conv1d(1, 1, 4, padding="same").padding_pairs()
        ((1, 2),)
        """
        return CF._padding(self.padding, self._nd, type(self).__name__, self.kernel_size,
                           self.stride, self.dilation)

    def extra_repr(self) -> str:
        k = self.kernel_size if self._nd > 1 else self.kernel_size[0]
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={k}, "
                f"stride={self.stride}, padding={self.padding}, dilation={self.dilation}, "
                f"groups={self.groups}, bias={self.bias is not None}")

    def _config(self) -> dict[str, Any]:
        return {"in_channels": self.in_channels, "out_channels": self.out_channels,
                "kernel_size": list(self.kernel_size), "stride": list(self.stride),
                "padding": _jsonable(self.padding), "dilation": list(self.dilation),
                "groups": self.groups, "bias": self.bias is not None,
                "dtype": str(self.weight.dtype)}

    @classmethod
    def _from_config(cls, config: dict[str, Any]) -> Module:
        config = {k: tuple(v) if isinstance(v, list) else v for k, v in config.items()}
        return cls(**config)


_CONV_DOC = """{nd}-D convolution layer: ``y = conv{nd}d(x, W) + b`` (see
:func:`chainrule.nn.functional.conv{nd}d` for the equation).

Parameters ``weight`` (``W``, shape ``(out_channels, in_channels/groups, {k})``, PyTorch's
layout) and ``bias`` (``b``, shape ``(out_channels,)``).

Initialisation (``init``): ``None``/``"auto"`` is PyTorch's default,
``W, b ~ U(−1/√fan_in, 1/√fan_in)`` with ``fan_in = in_channels/groups · ∏kernel_size``;
any other name of :func:`chainrule.nn.init.get_initializer` (``"he"``, ``"xavier"``, the
activation that follows, …) or a callable draws ``W`` from it and starts ``b`` at 0.

Args:
    in_channels, out_channels: ``C_in``, ``C_out``.
    kernel_size: int{pair}.
    stride, dilation: int{pair} (default 1).
    padding: int{pair}, ``"valid"`` or ``"same"`` (default 0).
    groups: channel groups, dividing both channel counts (default 1).
    bias: learn ``b`` (default True).
    padding_mode: only ``"zeros"``.
    init, seed, dtype: initialiser, int/Generator/None, parameter dtype (float32).

Shapes: ``{shape_in}`` → ``{shape_out}``.

Example:
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> layer = nn.Conv{nd}d(1, 25, 5, stride=2, padding=1, seed=0)
    >>> layer.weight.shape, layer(cr.ones({example_in})).shape
    {example_out}
"""


@register_module
class Conv1d(_ConvNd):
    _nd = 1
    _fn = staticmethod(CF.conv1d)
    __doc__ = _CONV_DOC.format(nd=1, k="K", pair="", shape_in="(N, C_in, L)",
                               shape_out="(N, C_out, L_out)", example_in="100, 1, 40",
                               example_out="((25, 1, 5), (100, 25, 19))")


@register_module
class Conv2d(_ConvNd):
    _nd = 2
    _fn = staticmethod(CF.conv2d)
    __doc__ = _CONV_DOC.format(nd=2, k="kH, kW", pair=" or pair", shape_in="(N, C_in, H, W)",
                               shape_out="(N, C_out, H_out, W_out)",
                               example_in="2, 1, 28, 28",
                               example_out="((25, 1, 5, 5), (2, 25, 13, 13))")


class _PoolNd(Module):
    _nd = 0
    _max = True

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 dilation: Any = 1, count_include_pad: bool = True) -> None:
        super().__init__()
        name, nd = type(self).__name__, self._nd
        self.kernel_size = _tuple(kernel_size, nd, name, "kernel_size")
        self.stride = self.kernel_size if stride is None else _tuple(stride, nd, name,
                                                                     "stride")
        self.padding = CF._ints(padding, nd, name, "padding", 0)
        self.dilation = _tuple(dilation, nd, name, "dilation")
        self.count_include_pad = bool(count_include_pad)

    def forward(self, x: Any) -> Tensor:
        if self._max:
            fn = CF.max_pool1d if self._nd == 1 else CF.max_pool2d
            return fn(x, self.kernel_size, self.stride, self.padding, self.dilation)
        fn = CF.avg_pool1d if self._nd == 1 else CF.avg_pool2d
        return fn(x, self.kernel_size, self.stride, self.padding, self.count_include_pad)

    def extra_repr(self) -> str:
        extra = f", dilation={self.dilation}" if self._max else \
            f", count_include_pad={self.count_include_pad}"
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}{extra}")

    def _config(self) -> dict[str, Any]:
        config = {"kernel_size": list(self.kernel_size), "stride": list(self.stride),
                  "padding": list(self.padding)}
        if self._max:
            config["dilation"] = list(self.dilation)
        else:
            config["count_include_pad"] = self.count_include_pad
        return config

    @classmethod
    def _from_config(cls, config: dict[str, Any]) -> Module:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in config.items()})



class _MaxPoolNd(_PoolNd):
    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 dilation: Any = 1) -> None:
        super().__init__(kernel_size, stride, padding, dilation)


class _AvgPoolNd(_PoolNd):
    _max = False

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 count_include_pad: bool = True) -> None:
        super().__init__(kernel_size, stride, padding, 1, count_include_pad)


@register_module
class MaxPool1d(_MaxPoolNd):
    """Max pooling over windows of length ``kernel_size``:
    ``z[n, c, l] = max_k x_pad[n, c, s·l + d·k]`` (:func:`~chainrule.nn.functional.max_pool1d`).

    Args:
        kernel_size: ``K``.
        stride: ``s`` (default ``K``).
        padding: ``−∞`` padding on both sides, at most ``K/2`` (default 0).
        dilation: ``d`` (default 1).

    Shapes: ``(N, C, L)`` → ``(N, C, L_out)``.

    Example:
        >>> import chainrule as cr
        >>> from chainrule import nn
        >>> nn.MaxPool1d(2)(cr.tensor([[[1.0, 3.0, 2.0, 0.0]]])).numpy()
        array([[[3., 2.]]], dtype=float32)
    """

    _nd = 1


@register_module
class MaxPool2d(_MaxPoolNd):
    """2-D max pooling: ``z[n, c, i, j] = max_{u,v} x_pad[n, c, s₀·i + d₀·u, s₁·j + d₁·v]``
    (:func:`~chainrule.nn.functional.max_pool2d`).

    Args:
        kernel_size, stride, padding, dilation: as :class:`MaxPool1d`, each an int or a pair.

    Shapes: ``(N, C, H, W)`` → ``(N, C, H', W')``.

    Example:
        >>> import chainrule as cr
        >>> from chainrule import nn
        >>> nn.MaxPool2d(2)(cr.ones(1, 3, 28, 28)).shape
        (1, 3, 14, 14)
    """

    _nd = 2


@register_module
class AvgPool1d(_AvgPoolNd):
    """Average pooling: ``z[n, c, l] = (1/m) Σ_k x_pad[n, c, s·l + k]``
    (:func:`~chainrule.nn.functional.avg_pool1d`; ``m = K``, or the number of real
    positions with ``count_include_pad=False``).

    Args:
        kernel_size: ``K``.
        stride: ``s`` (default ``K``).
        padding: zeros on both sides, at most ``K/2`` (default 0).
        count_include_pad: count the padding in ``m`` (default True).

    Shapes: ``(N, C, L)`` → ``(N, C, L_out)``.

    Example:
        >>> import chainrule as cr
        >>> from chainrule import nn
        >>> nn.AvgPool1d(2)(cr.tensor([[[1.0, 3.0, 2.0, 0.0]]])).numpy()
        array([[[2., 1.]]], dtype=float32)
    """

    _nd = 1


@register_module
class AvgPool2d(_AvgPoolNd):
    """2-D average pooling: ``z[n, c, i, j] = (1/m) Σ_{u,v} x_pad[n, c, s₀·i + u, s₁·j + v]``
    (:func:`~chainrule.nn.functional.avg_pool2d`).

    Args:
        kernel_size, stride, padding, count_include_pad: as :class:`AvgPool1d`, each int
            argument an int or a pair.

    Example:
        >>> import chainrule as cr
        >>> from chainrule import nn
        >>> nn.AvgPool2d(2)(cr.ones(1, 3, 8, 8)).shape
        (1, 3, 4, 4)
    """

    _nd = 2


class _AdaptiveAvgPoolNd(Module):
    _nd = 0

    def __init__(self, output_size: Any) -> None:
        super().__init__()
        self.output_size = _tuple(output_size, self._nd, type(self).__name__, "output_size")

    def forward(self, x: Any) -> Tensor:
        fn = CF.adaptive_avg_pool1d if self._nd == 1 else CF.adaptive_avg_pool2d
        return fn(x, self.output_size)

    def averaging_matrix(self, n: int, axis: int = 0, dtype: Any = np.float64) -> np.ndarray:
        """The ``(m, n)`` matrix ``P`` this layer applies along spatial axis ``axis`` of
        length ``n`` (``m = output_size[axis]``): row ``i`` averages
        ``x[⌊i·n/m⌋ : ⌈(i+1)·n/m⌉]``.

        >>> from chainrule import nn
        >>> nn.AdaptiveAvgPool1d(2).averaging_matrix(3).tolist()
        [[0.5, 0.5, 0.0], [0.0, 0.5, 0.5]]
        """
        return CF._bins(n, self.output_size[axis], dtype)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"

    def _config(self) -> dict[str, Any]:
        return {"output_size": list(self.output_size)}

    @classmethod
    def _from_config(cls, config: dict[str, Any]) -> Module:
        return cls(tuple(config["output_size"]))


@register_module
class AdaptiveAvgPool1d(_AdaptiveAvgPoolNd):
    """Average pooling to a fixed length ``m`` whatever the input length (PyTorch's bins):
    ``z[…, i] = mean of x[…, ⌊i·L/m⌋ : ⌈(i+1)·L/m⌉]``.

    Args:
        output_size: ``m``.

    Shapes: ``(N, C, L)`` → ``(N, C, m)``.

    Example:
        >>> import chainrule as cr
        >>> from chainrule import nn
        >>> nn.AdaptiveAvgPool1d(1)(cr.tensor([[[1.0, 3.0, 2.0]]])).numpy()
        array([[[2.]]], dtype=float32)
    """

    _nd = 1


@register_module
class AdaptiveAvgPool2d(_AdaptiveAvgPoolNd):
    """2-D adaptive average pooling to ``(m_H, m_W)``: ``z = P_H · x · P_Wᵀ`` per channel,
    with PyTorch's bins along each axis.

    Args:
        output_size: ``(m_H, m_W)``, or an int for both.

    Shapes: ``(N, C, H, W)`` → ``(N, C, m_H, m_W)``.

    Example:
        >>> import chainrule as cr
        >>> from chainrule import nn
        >>> nn.AdaptiveAvgPool2d(1)(cr.ones(2, 8, 5, 5)).shape
        (2, 8, 1, 1)
    """

    _nd = 2


@register_module
class Unflatten(Module):
    """Split axis ``dim`` into ``unflattened_size``: ``(N, C·L) → (N, C, L)`` — how a
    convolutional network reads samples stored as flat feature rows.

    Args:
        dim: the axis to split (default 1).
        unflattened_size: the new axes' sizes (their product must equal the axis length).

    Example:
        >>> import chainrule as cr
        >>> from chainrule import nn
        >>> nn.Unflatten(1, (1, 8, 8))(cr.ones(5, 64)).shape
        (5, 1, 8, 8)
    """

    def __init__(self, dim: int, unflattened_size: Any) -> None:
        super().__init__()
        self.dim = int(dim)
        sizes = tuple(unflattened_size)
        self.unflattened_size = tuple(_positive_int(s, "Unflatten", "unflattened_size entries")
                                      for s in sizes)

    def forward(self, x: Any) -> Tensor:
        x = CF._t(x)
        if not -x.ndim <= self.dim < x.ndim:
            raise ValueError(f"Unflatten: dim={self.dim} is out of range for input of shape "
                             f"{x.shape}")
        d = self.dim % x.ndim
        if x.shape[d] != math.prod(self.unflattened_size):
            raise ValueError(
                f"Unflatten: axis {self.dim} of input shape {x.shape} has length {x.shape[d]}, "
                f"not {math.prod(self.unflattened_size)} = ∏{self.unflattened_size}"
            )
        return x.reshape(*(x.shape[:d] + self.unflattened_size + x.shape[d + 1:]))

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"

    def _config(self) -> dict[str, Any]:
        return {"dim": self.dim, "unflattened_size": list(self.unflattened_size)}


# ------------------------------------------------------------------------------- builder

PAPER_CONV = ((25, 5, 2, 1), (25, 3, 2, 1), (25, 3, 2, 1))
"""The MNIST-1D paper's convolutional stack, ``(out_channels, kernel, stride, padding)``."""


def cnn(input_shape: Any, n_out: int, conv: Any = None, *, pool: int = 0,
        activation: str = "relu", init: Any = None, seed: Any = None,
        dtype: Any = np.float32) -> Module:
    """A convolutional network on flat feature rows::

        Unflatten(input_shape) → [Conv → σ → (MaxPool(pool))] per row of ``conv``
                               → Flatten → Linear(n_out)

    1-D or 2-D convolutions by the length of ``input_shape`` (``(C, L)`` or ``(C, H, W)``).

    Args:
        input_shape: the shape of one sample, e.g. ``(1, 40)`` or ``(1, 8, 8)``.
        n_out: output width (classes).
        conv: rows ``(out_channels, kernel_size[, stride[, padding]])`` (stride 1 and
            padding 0 when left out; padding may be ``"same"``); default
            :data:`PAPER_CONV`, the MNIST-1D paper's stack.
        pool: max-pooling kernel after each activation (0: none).
        activation: a name of ``nn.ACTIVATIONS`` (default ``"relu"``).
        init: weight initialiser of every layer (None: PyTorch's default).
        seed: int ``s`` (layer ``i`` seeded ``1000·s + i``), Generator or None.
        dtype: parameter dtype.

    Raises:
        ValueError: a malformed row or a stack that shrinks the input to nothing (the
            message names the layer and the shapes).

    Example:
        >>> import chainrule as cr
        >>> from chainrule import nn
        >>> model = nn.cnn((1, 40), 10, seed=0)   # the MNIST-1D paper's CNN
        >>> model(cr.ones(2, 40)).shape, model.num_parameters()
        ((2, 10), 5210)
    """
    from ..autodiff import no_grad
    from ..tensor import Tensor as _Tensor
    from .activations import get_activation
    from .layers import Flatten, Linear
    from .module import Sequential

    shape = tuple(int(s) for s in input_shape)
    if len(shape) not in (2, 3) or any(s < 1 for s in shape):
        raise ValueError(f"cnn: input_shape must be (C, L) or (C, H, W) of positive sizes, "
                         f"got {input_shape}")
    nd = len(shape) - 1
    rows = PAPER_CONV if conv is None else conv
    gen = _rng.get_rng(seed) if not isinstance(seed, (int, np.integer)) else None

    def layer_seed(i: int) -> Any:
        return gen if gen is not None else 1000 * int(seed) + i

    conv_cls, pool_cls = (Conv1d, MaxPool1d) if nd == 1 else (Conv2d, MaxPool2d)
    layers: list[Module] = [Unflatten(1, shape)]
    channels = shape[0]
    for i, row in enumerate(rows):
        row = list(row)
        if not 2 <= len(row) <= 4:
            raise ValueError(f"cnn: conv row {i} must be (out_channels, kernel_size[, stride"
                             f"[, padding]]), got {row}")
        out, k, s, p = (row + [1, 0][len(row) - 2:])[:4]
        layers.append(conv_cls(channels, out, k, stride=s, padding=p, init=init,
                               seed=layer_seed(i), dtype=dtype))
        layers.append(get_activation(activation))
        if pool:
            layers.append(pool_cls(pool))
        channels = out
    # the flattened size: one sample of zeros through the stack (shapes are checked there)
    probe = _Tensor(np.zeros((1, math.prod(shape)), dtype=dtype))
    with no_grad():
        for layer in layers:
            try:
                probe = layer(probe)
            except ValueError as err:
                raise ValueError(f"cnn: the stack does not fit input_shape {shape}: {err}") \
                    from None
    layers += [Flatten(), Linear(probe.size, n_out, init=init, seed=layer_seed(len(rows)),
                                 dtype=dtype)]
    return Sequential(*layers)
