"""Convolution and pooling as functions of Tensors (``torch.nn.functional``'s names and
arguments); re-exported by :mod:`chainrule.nn.functional`.

Shapes: 1-D functions take ``(N, C, L)``, 2-D ones ``(N, C, H, W)``. Integer arguments
(``stride``, ``padding``, ``dilation``, ``kernel_size``) may be one int for every spatial
axis or a tuple with one per axis. Every function checks the shapes first and raises a
``ValueError`` naming them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..tensor import Tensor
from ._conv_ops import AvgPool, Conv, Geometry, MaxPool, PoolGeometry

__all__ = [
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "avg_pool1d",
    "avg_pool2d",
    "conv1d",
    "conv2d",
    "max_pool1d",
    "max_pool2d",
]

_LAYOUT = {1: "(N, C, L)", 2: "(N, C, H, W)"}


def _t(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def _ints(value: Any, nd: int, name: str, what: str, minimum: int) -> tuple[int, ...]:
    """``value`` (an int or a tuple of ``nd`` ints, each ≥ ``minimum``) as a tuple."""
    vals = (value,) * nd if isinstance(value, (int, np.integer)) else value
    if (not isinstance(vals, (tuple, list)) or len(vals) != nd
            or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) for v in vals)):
        raise TypeError(f"{name}: {what} must be an int or a tuple of {nd} ints, got {value!r}")
    if any(v < minimum for v in vals):
        raise ValueError(f"{name}: {what} must be >= {minimum}, got {value!r}")
    return tuple(int(v) for v in vals)


def _check_input(x: Tensor, nd: int, name: str) -> None:
    if x.ndim != nd + 2:
        raise ValueError(
            f"{name}: expected input of shape {_LAYOUT[nd]} ({nd + 2} dimensions), "
            f"got shape {x.shape}"
        )
    if x.dtype.kind != "f":
        raise TypeError(f"{name}: input must be floating point, got dtype {x.dtype}")


def _check_fits(x: Tensor, kernel: tuple[int, ...], dilation: tuple[int, ...],
                padding: tuple[tuple[int, int], ...], name: str) -> None:
    """Every window must fit in the padded input (at least one output position)."""
    for axis, (n, k, d, (lo, hi)) in enumerate(zip(x.shape[2:], kernel, dilation, padding)):
        extent = d * (k - 1) + 1
        if extent > n + lo + hi:
            raise ValueError(
                f"{name}: kernel of extent {extent} (size {k}, dilation {d}) is larger than "
                f"the padded input along spatial axis {axis}: {n} + {lo} + {hi} = "
                f"{n + lo + hi} (input shape {x.shape})"
            )


def _conv(nd: int, name: str, x: Any, weight: Any, bias: Any, stride: Any, padding: Any,
          dilation: Any, groups: Any) -> Tensor:
    x, W = _t(x), _t(weight)
    _check_input(x, nd, name)
    if W.ndim != nd + 2:
        raise ValueError(
            f"{name}: weight must have shape (out_channels, in_channels/groups, "
            f"{'kL' if nd == 1 else 'kH, kW'}), got {W.shape}"
        )
    if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ValueError(f"{name}: groups must be a positive int, got {groups!r}")
    C, O = x.shape[1], W.shape[0]
    if C % groups or O % groups:
        raise ValueError(
            f"{name}: groups={groups} must divide the input channels ({C}, input shape "
            f"{x.shape}) and the output channels ({O}, weight shape {W.shape})"
        )
    if W.shape[1] * groups != C:
        raise ValueError(
            f"{name}: input of shape {x.shape} has {C} channels but weight of shape {W.shape} "
            f"with groups={groups} expects {W.shape[1] * groups}"
        )
    kernel = tuple(W.shape[2:])
    s = _ints(stride, nd, name, "stride", 1)
    d = _ints(dilation, nd, name, "dilation", 1)
    pads = _padding(padding, nd, name, kernel, s, d)
    _check_fits(x, kernel, d, pads, name)
    b = None
    if bias is not None:
        b = _t(bias)
        if b.shape != (O,):
            raise ValueError(f"{name}: bias must have shape ({O},), got {b.shape}")
    return Conv.apply(x, W, b, geom=Geometry(s, pads, d, int(groups)))


def _padding(padding: Any, nd: int, name: str, kernel: tuple[int, ...],
             stride: tuple[int, ...], dilation: tuple[int, ...]
             ) -> tuple[tuple[int, int], ...]:
    """``(lo, hi)`` per spatial axis: ``"valid"`` is 0; ``"same"`` pads
    ``d(k − 1)`` in total, the extra one (if odd) after, as PyTorch."""
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * nd
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"{name}: padding='same' needs stride 1, got stride {stride}")
            total = [d * (k - 1) for k, d in zip(kernel, dilation)]
            return tuple((t // 2, t - t // 2) for t in total)
        raise ValueError(
            f"{name}: padding must be 'valid', 'same', an int or a tuple of {nd} ints, "
            f"got {padding!r}"
        )
    return tuple((p, p) for p in _ints(padding, nd, name, "padding", 0))


def conv1d(input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
           dilation: Any = 1, groups: int = 1) -> Tensor:
    """1-D convolution (cross-correlation, as PyTorch)::

        y[n, o, l] = b[o] + Σ_{c ∈ group(o)} Σ_k W[o, c, k] · x_pad[n, c, s·l + d·k]

    Args:
        input: ``x`` of shape ``(N, C_in, L)``.
        weight: ``W`` of shape ``(C_out, C_in/groups, K)``.
        bias: ``b`` of shape ``(C_out,)`` or None.
        stride: ``s`` (default 1).
        padding: zeros on both sides, an int, or ``"valid"`` (0) / ``"same"`` (output
            length = input length; stride 1 only).
        dilation: ``d``, spacing between kernel taps (default 1).
        groups: ``G``; input and output channels split into ``G`` groups, each convolved
            with its own filters (default 1).

    Returns:
        ``(N, C_out, L_out)``, ``L_out = ⌊(L + 2p − d(K − 1) − 1)/s⌋ + 1``.

    Example:
        >>> import chainrule as cr
        >>> from chainrule.nn import functional as F
        >>> x = cr.tensor([[[1.0, 2.0, 3.0, 4.0]]])
        >>> F.conv1d(x, cr.tensor([[[1.0, -1.0]]])).numpy()   # x[l] − x[l+1]
        array([[[-1., -1., -1.]]], dtype=float32)
    """
    return _conv(1, "conv1d", input, weight, bias, stride, padding, dilation, groups)


def conv2d(input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
           dilation: Any = 1, groups: int = 1) -> Tensor:
    """2-D convolution (cross-correlation, as PyTorch)::

        y[n, o, i, j] = b[o] + Σ_{c ∈ group(o)} Σ_{u,v} W[o, c, u, v]
                                 · x_pad[n, c, s₀·i + d₀·u, s₁·j + d₁·v]

    Args:
        input: ``x`` of shape ``(N, C_in, H, W)``.
        weight: ``W`` of shape ``(C_out, C_in/groups, kH, kW)``.
        bias, stride, padding, dilation, groups: as :func:`conv1d`, each int argument an
            int or a pair ``(along H, along W)``.

    Returns:
        ``(N, C_out, H_out, W_out)``.

    Example:
        >>> import chainrule as cr
        >>> from chainrule.nn import functional as F
        >>> F.conv2d(cr.ones(1, 1, 3, 3), cr.ones(1, 1, 2, 2), padding=1).numpy()[0, 0]
        array([[1., 2., 2., 1.],
               [2., 4., 4., 2.],
               [2., 4., 4., 2.],
               [1., 2., 2., 1.]], dtype=float32)
    """
    return _conv(2, "conv2d", input, weight, bias, stride, padding, dilation, groups)


# ---------------------------------------------------------------------------- pooling


def _pool_geometry(nd: int, name: str, x: Tensor, kernel_size: Any, stride: Any,
                   padding: Any, dilation: Any) -> PoolGeometry:
    _check_input(x, nd, name)
    k = _ints(kernel_size, nd, name, "kernel_size", 1)
    s = k if stride is None or stride == () else _ints(stride, nd, name, "stride", 1)
    p = _ints(padding, nd, name, "padding", 0)
    d = _ints(dilation, nd, name, "dilation", 1)
    if any(pi > ki // 2 for pi, ki in zip(p, k)):
        raise ValueError(
            f"{name}: padding {p} must be at most half the kernel size {k}"
        )
    pads = tuple((pi, pi) for pi in p)
    _check_fits(x, k, d, pads, name)
    return PoolGeometry(k, s, pads, d)


def _max_pool(nd: int, name: str, x: Any, kernel_size: Any, stride: Any, padding: Any,
              dilation: Any) -> Tensor:
    x = _t(x)
    return MaxPool.apply(x, pg=_pool_geometry(nd, name, x, kernel_size, stride, padding,
                                              dilation))


def max_pool1d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
               dilation: Any = 1) -> Tensor:
    """1-D max pooling: ``z[n, c, l] = max_k x_pad[n, c, s·l + d·k]`` (padding is −∞).

    The gradient goes to each window's maximum (the first one on a tie).

    Args:
        input: ``(N, C, L)``.
        kernel_size: ``K``.
        stride: ``s`` (default ``K``).
        padding: ``p`` on both sides, at most ``K/2`` (default 0).
        dilation: ``d`` (default 1).

    Example:
        >>> import chainrule as cr
        >>> from chainrule.nn import functional as F
        >>> F.max_pool1d(cr.tensor([[[1.0, 3.0, 2.0, 0.0]]]), 2).numpy()
        array([[[3., 2.]]], dtype=float32)
    """
    return _max_pool(1, "max_pool1d", input, kernel_size, stride, padding, dilation)


def max_pool2d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
               dilation: Any = 1) -> Tensor:
    """2-D max pooling: ``z[n, c, i, j] = max_{u,v} x_pad[n, c, s₀·i + d₀·u, s₁·j + d₁·v]``.

    Args:
        input: ``(N, C, H, W)``.
        kernel_size, stride, padding, dilation: as :func:`max_pool1d`, each an int or a
            pair ``(along H, along W)``.

    Example:
        >>> import chainrule as cr
        >>> from chainrule.nn import functional as F
        >>> F.max_pool2d(cr.tensor([[[[1.0, 2.0], [4.0, 3.0]]]]), 2).numpy()
        array([[[[4.]]]], dtype=float32)
    """
    return _max_pool(2, "max_pool2d", input, kernel_size, stride, padding, dilation)


def _avg_pool(nd: int, name: str, x: Any, kernel_size: Any, stride: Any, padding: Any,
              count_include_pad: bool) -> Tensor:
    x = _t(x)
    pg = _pool_geometry(nd, name, x, kernel_size, stride, padding, 1)
    return AvgPool.apply(x, pg=pg, count_include_pad=bool(count_include_pad))


def avg_pool1d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
               count_include_pad: bool = True) -> Tensor:
    """1-D average pooling: ``z[n, c, l] = (1/m) Σ_k x_pad[n, c, s·l + k]``.

    ``m = K``, or with ``count_include_pad=False`` the number of real (non-padding)
    positions in the window.

    Args:
        input: ``(N, C, L)``.
        kernel_size: ``K``.
        stride: ``s`` (default ``K``).
        padding: zeros on both sides, at most ``K/2`` (default 0).
        count_include_pad: count the padding in ``m`` (default True, as PyTorch).

    Example:
        >>> import chainrule as cr
        >>> from chainrule.nn import functional as F
        >>> F.avg_pool1d(cr.tensor([[[1.0, 3.0, 2.0, 0.0]]]), 2).numpy()
        array([[[2., 1.]]], dtype=float32)
    """
    return _avg_pool(1, "avg_pool1d", input, kernel_size, stride, padding, count_include_pad)


def avg_pool2d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
               count_include_pad: bool = True) -> Tensor:
    """2-D average pooling: ``z[n, c, i, j] = (1/m) Σ_{u,v} x_pad[n, c, s₀·i + u, s₁·j + v]``.

    Args:
        input: ``(N, C, H, W)``.
        kernel_size, stride, padding, count_include_pad: as :func:`avg_pool1d`, each int
            argument an int or a pair ``(along H, along W)``.

    Example:
        >>> import chainrule as cr
        >>> from chainrule.nn import functional as F
        >>> F.avg_pool2d(cr.tensor([[[[1.0, 2.0], [4.0, 3.0]]]]), 2).numpy()
        array([[[[2.5]]]], dtype=float32)
    """
    return _avg_pool(2, "avg_pool2d", input, kernel_size, stride, padding, count_include_pad)


def _bins(n: int, m: int, dtype: Any) -> np.ndarray:
    """The ``(m, n)`` averaging matrix of adaptive pooling: row ``i`` averages
    ``x[⌊i·n/m⌋ : ⌈(i+1)·n/m⌉]``."""
    P = np.zeros((m, n), dtype=dtype)
    for i in range(m):
        lo, hi = (i * n) // m, -((-(i + 1) * n) // m)
        P[i, lo:hi] = 1.0 / (hi - lo)
    return P


def _adaptive(nd: int, name: str, x: Any, output_size: Any) -> Tensor:
    x = _t(x)
    _check_input(x, nd, name)
    sizes = _ints(output_size, nd, name, "output_size", 1)
    z = x
    for axis, m in enumerate(sizes):
        n = x.shape[2 + axis]
        P = Tensor(_bins(n, m, x.dtype))
        # average along this axis: move it last, multiply by Pᵀ, move it back
        if axis == nd - 1:
            z = z @ P.T
        else:
            z = (z.swapaxes(2 + axis, -1) @ P.T).swapaxes(2 + axis, -1)
    return z


def adaptive_avg_pool1d(input: Any, output_size: Any) -> Tensor:
    """1-D adaptive average pooling to length ``m``::

        z[…, i] = mean of x[…, ⌊i·L/m⌋ : ⌈(i+1)·L/m⌉]      (PyTorch's bins)

    computed as ``z = x @ Pᵀ`` with the fixed ``(m, L)`` averaging matrix ``P``.

    Args:
        input: ``(N, C, L)``.
        output_size: ``m``.

    Example:
        >>> import chainrule as cr
        >>> from chainrule.nn import functional as F
        >>> F.adaptive_avg_pool1d(cr.tensor([[[1.0, 3.0, 2.0]]]), 2).numpy()
        array([[[2. , 2.5]]], dtype=float32)
    """
    return _adaptive(1, "adaptive_avg_pool1d", input, output_size)


def adaptive_avg_pool2d(input: Any, output_size: Any) -> Tensor:
    """2-D adaptive average pooling to ``(m_H, m_W)``: ``z = P_H · x · P_Wᵀ`` on each
    channel, with PyTorch's bins along each axis (see :func:`adaptive_avg_pool1d`).

    Args:
        input: ``(N, C, H, W)``.
        output_size: ``(m_H, m_W)``, or an int for both.

    Example:
        >>> import chainrule as cr
        >>> from chainrule.nn import functional as F
        >>> F.adaptive_avg_pool2d(cr.ones(2, 3, 5, 7), 1).shape
        (2, 3, 1, 1)
    """
    return _adaptive(2, "adaptive_avg_pool2d", input, output_size)

