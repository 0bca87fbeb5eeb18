"""Convolution and pooling primitives (1-D and 2-D, one code path for both).

Notation, for one spatial axis (the 2-D case applies it to each axis): input ``x`` of shape
``(N, C, L)``, weight ``W`` of shape ``(O, C/G, K)`` (``G`` groups), stride ``s``, dilation
``d``, padding ``p`` (zeros, ``p_lo`` before and ``p_hi`` after), output length
``L_out = ⌊(L + p_lo + p_hi − d(K − 1) − 1) / s⌋ + 1``::

    y[n, o, l] = b[o] + Σ_{c ∈ group(o)} Σ_k W[o, c, k] · x_pad[n, c, s·l + d·k]

Computed as im2col and one matrix product per group: the windows of the padded input are a
strided view (``sliding_window_view``), copied once into the columns ``cols`` of shape
``(G, C/G·K, N·L_out)``; then ``y = W @ cols``. The three maps of the bilinear form
``B(x, W, g) = ⟨g, conv(x, W)⟩`` are each a primitive, and each one's backward is written
with the other two, so derivatives of any order exist:

- :class:`Conv` ``y = conv(x, W) + b``:
  ``∂L/∂x = conv_input_grad(g, W)``, ``∂L/∂W = conv_weight_grad(x, g)``, ``∂L/∂b = Σ g``;
- :class:`ConvInputGrad` ``z = conv_input_grad(g, W)`` (the transposed convolution, col2im:
  ``z_pad[n, c, s·l + d·k] += Σ_o W[o, c, k] g[n, o, l]``, one strided add per kernel
  offset): ``∂/∂g = conv(gz, W)``, ``∂/∂W = conv_weight_grad(gz, g)``;
- :class:`ConvWeightGrad` ``z = conv_weight_grad(x, g)``
  (``z[o, c, k] = Σ_{n,l} g[n, o, l] x_pad[n, c, s·l + d·k]``):
  ``∂/∂x = conv_input_grad(g, gz)``, ``∂/∂g = conv(x, gz)``.

Pooling: :class:`MaxPool` gathers the window maximum (its flat position in the padded input
is remembered); its backward scatters ``g`` back there (:class:`WindowScatter`), whose
backward gathers (:class:`WindowGather`), and so on. :class:`AvgPool` sums one strided
slice per kernel offset and divides; its transpose :class:`AvgPoolTranspose` adds ``g``
back into each slice.

Backward formulas receive ndarrays in a first-order pass (then the kernels run directly,
re-using the ``cols`` of the forward pass) and Tensors when the backward pass is recorded
(``create_graph=True``; then they call the primitives).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..ops import Function
from ..tensor import Tensor

__all__ = [
    "AvgPool",
    "AvgPoolTranspose",
    "Conv",
    "ConvInputGrad",
    "ConvWeightGrad",
    "Geometry",
    "MaxPool",
    "PoolGeometry",
    "WindowGather",
    "WindowScatter",
]


class Geometry(NamedTuple):
    """How a convolution slides: per spatial axis ``stride``, ``padding`` as ``(lo, hi)``
    pairs, ``dilation``; and the number of channel ``groups``."""

    stride: tuple[int, ...]
    padding: tuple[tuple[int, int], ...]
    dilation: tuple[int, ...]
    groups: int


class PoolGeometry(NamedTuple):
    """How a pooling window slides: per spatial axis ``kernel``, ``stride``, ``padding``
    as ``(lo, hi)`` pairs and ``dilation``."""

    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    padding: tuple[tuple[int, int], ...]
    dilation: tuple[int, ...]


# ------------------------------------------------------------------------- shape helpers


def out_size(size: int, pad: tuple[int, int], k: int, s: int, d: int) -> int:
    """``⌊(size + p_lo + p_hi − d(k − 1) − 1) / s⌋ + 1``."""
    return (size + pad[0] + pad[1] - d * (k - 1) - 1) // s + 1


def _out_shape(spatial: tuple[int, ...], kernel: tuple[int, ...], stride: tuple[int, ...],
               padding: tuple[tuple[int, int], ...], dilation: tuple[int, ...]
               ) -> tuple[int, ...]:
    return tuple(out_size(*a) for a in zip(spatial, padding, kernel, stride, dilation))


def _pad(x: Any, padding: tuple[tuple[int, int], ...], value: float = 0.0) -> Any:
    """``x`` with its trailing ``len(padding)`` axes padded by ``value``."""
    if not any(lo or hi for lo, hi in padding):
        return x
    nd = len(padding)
    shape = tuple(x.shape[:-nd]) + tuple(
        n + lo + hi for n, (lo, hi) in zip(x.shape[-nd:], padding))
    xp = np.full_like(x, value, shape=shape)  # cheaper than np.pad for these small arrays
    xp[(Ellipsis,) + tuple(slice(lo, lo + n) for n, (lo, _) in zip(x.shape[-nd:], padding))] = x
    return xp


def _unpad(xp: Any, padding: tuple[tuple[int, int], ...]) -> Any:
    if not any(lo or hi for lo, hi in padding):
        return xp
    lead = (slice(None),) * (xp.ndim - len(padding))
    return xp[lead + tuple(slice(lo, n - hi) for (lo, hi), n in
                           zip(padding, xp.shape[-len(padding):]))]


def _windows(xp: Any, kernel: tuple[int, ...], stride: tuple[int, ...],
             dilation: tuple[int, ...], out: tuple[int, ...]) -> Any:
    """The view ``(…, *out, *kernel)`` of the windows of the (padded) input ``xp``."""
    nd = len(kernel)
    extent = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    w = sliding_window_view(xp, extent, axis=tuple(range(xp.ndim - nd, xp.ndim)), subok=True)
    idx = (Ellipsis,) + tuple(slice(0, s * (n - 1) + 1, s) for s, n in zip(stride, out)) \
        + tuple(slice(None, None, d) for d in dilation)
    return w[idx]


def _offset_slices(kernel: tuple[int, ...], stride: tuple[int, ...],
                   dilation: tuple[int, ...], out: tuple[int, ...]) -> list[tuple[Any, ...]]:
    """For each kernel offset ``k`` (row-major), ``(k, slices)``: the slices of the padded
    input that offset ``k`` reads, ``x_pad[…, d·k : d·k + s(L_out − 1) + 1 : s]``."""
    return [
        (k, tuple(slice(d * ki, d * ki + s * (n - 1) + 1, s)
                  for ki, s, d, n in zip(k, stride, dilation, out)))
        for k in np.ndindex(*kernel)
    ]


def _any_tensor(*values: Any) -> bool:
    return any(isinstance(v, Tensor) for v in values)


# ------------------------------------------------------------------ convolution kernels


def _im2col(x: Any, wshape: tuple[int, ...], geom: Geometry) -> tuple[Any, tuple[int, ...]]:
    """``cols`` of shape ``(G, C/G·K, N·P)`` (``P`` output positions; the output position
    innermost, so the copy reads the input in runs) and the output shape."""
    N, C = x.shape[:2]
    G = geom.groups
    kernel = tuple(wshape[2:])
    nd = len(kernel)
    xp = _pad(x, geom.padding)
    out = _out_shape(x.shape[2:], kernel, geom.stride, geom.padding, geom.dilation)
    w = _windows(xp, kernel, geom.stride, geom.dilation, out)  # (N, C, *out, *kernel)
    w = w.reshape((N, G, C // G) + out + kernel)
    perm = (1, 2, *range(3 + nd, 3 + 2 * nd), 0, *range(3, 3 + nd))
    cols = w.transpose(perm).reshape(G, (C // G) * math.prod(kernel), N * math.prod(out))
    return cols, out


def _to_cols(g: Any, G: int) -> Any:
    """``g`` of shape ``(N, O, *out)`` as ``(G, O/G, N·P)``."""
    N, O = g.shape[:2]
    P = math.prod(g.shape[2:])
    return g.reshape(N, G, O // G, P).transpose(1, 2, 0, 3).reshape(G, O // G, N * P)


def _from_cols(y: Any, N: int, out: tuple[int, ...]) -> Any:
    """``(G, O/G, N·P)`` back to ``(N, O, *out)`` (a view when ``G = 1``)."""
    G, Og, _ = y.shape
    return y.reshape(G, Og, N, math.prod(out)).transpose(2, 0, 1, 3).reshape(
        (N, G * Og) + out)


def _w_rows(W: Any, G: int) -> Any:
    """``W`` of shape ``(O, C/G, *K)`` as ``(G, O/G, C/G·K)``."""
    return W.reshape(G, W.shape[0] // G, -1)


def _bmm(a: Any, b: Any) -> Any:
    """``a @ b`` over the group axis; one plain 2-D product (one GEMM) when ``G = 1``."""
    if a.shape[0] == 1:
        return (a[0] @ b[0])[None]
    return a @ b


def _conv_kernel(x: Any, W: Any, geom: Geometry, b: Any = None) -> tuple[Any, Any]:
    """``(conv(x, W) + b, cols)`` on ndarrays: ``y = W @ cols`` per group."""
    cols, out = _im2col(x, W.shape, geom)
    y = _bmm(_w_rows(W, geom.groups), cols)  # (G, O/G, N·P)
    if b is not None:
        y += b.reshape(geom.groups, -1, 1)
    return _from_cols(y, x.shape[0], out), cols


def _col2im(gcols: Any, x_shape: tuple[int, ...], kernel: tuple[int, ...],
            geom: Geometry, out: tuple[int, ...]) -> Any:
    """Add the columns ``gcols`` of shape ``(G, C/G·K, N·P)`` back into the input positions
    their window read (one strided add per kernel offset) and drop the padding."""
    N, C = x_shape[:2]
    G = geom.groups
    nd = len(kernel)
    padded = tuple(n + lo + hi for n, (lo, hi) in zip(x_shape[2:], geom.padding))
    gcols = gcols.reshape((G, C // G) + kernel + (N,) + out)
    gxp = np.zeros_like(gcols, shape=(N, G, C // G) + padded)
    perm = (2, 0, 1, *range(3, 3 + nd))
    lead = (slice(None),) * 3
    for k, sl in _offset_slices(kernel, geom.stride, geom.dilation, out):
        dst = gxp[lead + sl]  # added in place (``a[i] += b`` would also write a[i] back)
        np.add(dst, gcols[(slice(None), slice(None)) + k].transpose(perm), out=dst)
    return _unpad(gxp, geom.padding).reshape(x_shape)


def _transposed_as_conv(g: Any, W: Any, geom: Geometry) -> Any:
    """With stride 1 the transposed convolution is a convolution of ``g`` with the kernel
    flipped and its channel axes swapped (per group), padded by ``d(K − 1) − p``:
    ``z[n, c, i] = Σ_{o,k} W[o, c, k] g[n, o, i + p_lo − d·k]``. One im2col and one GEMM
    instead of a strided add per kernel offset."""
    G = geom.groups
    O, Cg = W.shape[:2]
    kernel = tuple(W.shape[2:])
    nd = len(kernel)
    Wt = W.reshape((G, O // G, Cg) + kernel).swapaxes(1, 2)
    Wt = Wt[(Ellipsis,) + (slice(None, None, -1),) * nd].reshape((G * Cg, O // G) + kernel)
    pads = tuple((d * (k - 1) - lo, d * (k - 1) - hi)
                 for k, d, (lo, hi) in zip(kernel, geom.dilation, geom.padding))
    return _conv_kernel(g, Wt, Geometry(geom.stride, pads, geom.dilation, G))[0]


def _input_grad_kernel(g: Any, W: Any, geom: Geometry, x_shape: tuple[int, ...],
                       gc: Any = None) -> Any:
    G = geom.groups
    if all(s == 1 for s in geom.stride) and all(
            max(lo, hi) <= d * (k - 1)
            for k, d, (lo, hi) in zip(W.shape[2:], geom.dilation, geom.padding)):
        return _transposed_as_conv(g, W, geom)
    gc = _to_cols(g, G) if gc is None else gc
    return _col2im(_bmm(_w_rows(W, G).transpose(0, 2, 1), gc), x_shape, tuple(W.shape[2:]),
                   geom, tuple(g.shape[2:]))


def _weight_grad_kernel(x: Any, g: Any, geom: Geometry, w_shape: tuple[int, ...],
                        cols: Any = None, gc: Any = None) -> Any:
    G = geom.groups
    if cols is None:
        cols, _ = _im2col(x, w_shape, geom)
    gc = _to_cols(g, G) if gc is None else gc
    return _bmm(gc, cols.transpose(0, 2, 1)).reshape(w_shape)


def _shape(v: Any) -> tuple[int, ...]:
    return tuple(v.shape)


# ------------------------------------------------------------------------ the primitives


class _Kernel(Function):
    """A primitive whose forward is its ndarray ``kernel``, with its inputs saved and its
    keyword parameters kept as ``ctx.params``. A backward formula calls another primitive
    through :meth:`call`: the primitive on Tensors (recorded, so differentiable again), its
    kernel alone on ndarrays (a first-order backward pass builds no node)."""

    @staticmethod
    def kernel(*arrays: Any, **params: Any) -> Any:  # pragma: no cover
        raise NotImplementedError

    @staticmethod
    def forward(ctx, *arrays, **params):
        ctx.params = params
        ctx.save(*arrays)
        return type(ctx).kernel(*arrays, **params)

    @classmethod
    def call(cls, *args: Any, **params: Any) -> Any:
        """``cls.apply`` if an argument is a Tensor, else ``cls.kernel``."""
        if _any_tensor(*args):
            return cls.apply(*args, **params)
        return cls.kernel(*args, **params)


# --------------------------------------------------------------------- the convolutions


class Conv(_Kernel):
    """y = conv(x, W) + b  ;  ∂L/∂x = conv_input_grad(g, W),  ∂L/∂W = conv_weight_grad(x, g),
    ∂L/∂b = Σ_{n, positions} g

    ``x``: ``(N, C, *S)``; ``W``: ``(O, C/G, *K)``; ``b``: ``(O,)`` or None; ``geom``: a
    :class:`Geometry`. The shapes are checked by :func:`chainrule.nn.functional.conv1d` /
    ``conv2d`` before this runs.
    """

    @staticmethod
    def kernel(x, W, b=None, geom=None):
        return _conv_kernel(x, W, geom, b)[0]

    @staticmethod
    def forward(ctx, x, W, b=None, geom=None):
        ctx.geom = geom
        ctx.save(x, W)
        y, ctx.cols = _conv_kernel(x, W, geom, b)
        return y

    @staticmethod
    def backward(ctx, g):
        x, W = ctx.saved_tensors
        geom = ctx.geom
        gx = gW = gb = None
        if _any_tensor(g, x, W):
            if ctx.needs_grad(0):
                gx = ConvInputGrad.apply(g, W, geom=geom, x_shape=_shape(x))
            if ctx.needs_grad(1):
                gW = ConvWeightGrad.apply(x, g, geom=geom, w_shape=_shape(W))
        else:
            gc = _to_cols(g, geom.groups)  # (G, O/G, N·P): every sum below is contiguous
            if ctx.needs_grad(0):
                gx = _input_grad_kernel(g, W, geom, x.shape, gc)
            if ctx.needs_grad(1):
                gW = _weight_grad_kernel(x, g, geom, W.shape, ctx.cols, gc)
            if len(ctx.parents) > 2 and ctx.needs_grad(2):
                gb = gc.sum(axis=2).reshape(-1)
            return gx, gW, gb
        if len(ctx.parents) > 2 and ctx.needs_grad(2):
            gb = g.sum(axis=(0, *range(2, g.ndim)))
        return gx, gW, gb


class ConvInputGrad(_Kernel):
    """z = conv_input_grad(g, W) (transposed convolution)  ;  ∂L/∂g = conv(∂L/∂z, W),
    ∂L/∂W = conv_weight_grad(∂L/∂z, g)"""

    kernel = staticmethod(_input_grad_kernel)  # (g, W, geom, x_shape)

    @staticmethod
    def backward(ctx, gz):
        g, W = ctx.saved_tensors
        geom = ctx.params["geom"]
        d_g = Conv.call(gz, W, geom=geom) if ctx.needs_grad(0) else None
        d_W = ConvWeightGrad.call(gz, g, geom=geom, w_shape=_shape(W)) \
            if ctx.needs_grad(1) else None
        return d_g, d_W


class ConvWeightGrad(_Kernel):
    """z = conv_weight_grad(x, g)  ;  ∂L/∂x = conv_input_grad(g, ∂L/∂z),
    ∂L/∂g = conv(x, ∂L/∂z)"""

    kernel = staticmethod(_weight_grad_kernel)  # (x, g, geom, w_shape)

    @staticmethod
    def backward(ctx, gz):
        x, g = ctx.saved_tensors
        geom = ctx.params["geom"]
        d_x = ConvInputGrad.call(g, gz, geom=geom, x_shape=_shape(x)) \
            if ctx.needs_grad(0) else None
        d_g = Conv.call(x, gz, geom=geom) if ctx.needs_grad(1) else None
        return d_x, d_g


# ---------------------------------------------------------------------------- max pooling


def _max_positions(x: Any, pg: PoolGeometry) -> tuple[Any, Any, tuple[int, ...]]:
    """``(z, flat, out)``: the window maxima ``z`` of shape ``(N, C, *out)`` and the flat
    index ``flat`` (shape ``(N, C, P)``) of each in the padded input's spatial positions."""
    N, C = x.shape[:2]
    xp = _pad(x, pg.padding, -np.inf)
    out = _out_shape(x.shape[2:], pg.kernel, pg.stride, pg.padding, pg.dilation)
    P, Kp = math.prod(out), math.prod(pg.kernel)
    w = _windows(xp, pg.kernel, pg.stride, pg.dilation, out).reshape(N, C, P, Kp)
    a = w.argmax(axis=-1)[..., None]
    z = np.take_along_axis(w, a, axis=-1).reshape((N, C) + out)
    # flat index = (window start) + (offset of the maximum inside the window)
    space = xp.shape[2:]
    pstrides = [math.prod(space[i + 1:]) for i in range(len(space))]  # row-major
    starts = sum(np.arange(n).reshape((-1,) + (1,) * (len(out) - 1 - i)) * (s * st)
                 for i, (n, s, st) in enumerate(zip(out, pg.stride, pstrides)))
    offsets = sum(np.arange(k).reshape((-1,) + (1,) * (len(out) - 1 - i)) * (d * st)
                  for i, (k, d, st) in enumerate(zip(pg.kernel, pg.dilation, pstrides)))
    flat = np.reshape(starts, P)[:, None] + np.reshape(offsets, Kp)[a]
    return z, flat[..., 0], out


def _overlapping(pg: PoolGeometry) -> bool:
    return any(s < d * (k - 1) + 1 for k, s, d in zip(pg.kernel, pg.stride, pg.dilation))


def _scatter_kernel(g: Any, flat: Any, x_shape: tuple[int, ...], pg: PoolGeometry) -> Any:
    N, C = x_shape[:2]
    padded = tuple(n + lo + hi for n, (lo, hi) in zip(x_shape[2:], pg.padding))
    gv = g.reshape(N, C, -1)
    z = np.zeros_like(gv, shape=(N, C, math.prod(padded)))
    if _overlapping(pg):  # windows share positions: contributions must accumulate
        np.add.at(z, (np.arange(N)[:, None, None], np.arange(C)[None, :, None], flat), gv)
    else:
        np.put_along_axis(z, flat, gv, axis=-1)
    return _unpad(z.reshape((N, C) + padded), pg.padding)


def _gather_kernel(x: Any, flat: Any, out: tuple[int, ...], pg: PoolGeometry) -> Any:
    N, C = x.shape[:2]
    xp = _pad(x, pg.padding).reshape(N, C, -1)
    return np.take_along_axis(xp, flat, axis=-1).reshape((N, C) + out)


class MaxPool(Function):
    """z = max over each window of x  ;  ∂L/∂x = ∂L/∂z scattered to the position of each
    window's maximum (added where windows overlap; the first maximum of a window wins a tie,
    as PyTorch). Padding is −∞."""

    @staticmethod
    def forward(ctx, x, pg=None):
        z, ctx.flat, _ = _max_positions(x, pg)
        ctx.pg, ctx.x_shape = pg, x.shape
        return z

    @staticmethod
    def backward(ctx, g):
        return WindowScatter.call(g, flat=ctx.flat, x_shape=ctx.x_shape, pg=ctx.pg)


class WindowScatter(_Kernel):
    """z = zeros(x_shape) with g added at the positions ``flat``  ;  ∂L/∂g = (∂L/∂z)[flat]"""

    kernel = staticmethod(_scatter_kernel)  # (g, flat, x_shape, pg)

    @staticmethod
    def backward(ctx, gz):
        q = ctx.params
        return WindowGather.call(gz, flat=q["flat"], out=ctx.saved[0].shape[2:], pg=q["pg"])


class WindowGather(_Kernel):
    """z = x[flat] (the positions of the window maxima)  ;  ∂L/∂x = ∂L/∂z scattered back"""

    kernel = staticmethod(_gather_kernel)  # (x, flat, out, pg)

    @staticmethod
    def backward(ctx, g):
        q = ctx.params
        return WindowScatter.call(g, flat=q["flat"], x_shape=ctx.saved[0].shape, pg=q["pg"])


# ------------------------------------------------------------------------ average pooling


def _avg_scale(spatial: tuple[int, ...], pg: PoolGeometry, count_include_pad: bool,
               dtype: Any) -> Any:
    """``1 / divisor``: ``1/∏K`` (a Python float), or, without counting the padding, one
    value per output position (from the shapes only)."""
    if count_include_pad or not any(lo or hi for lo, hi in pg.padding):
        return 1.0 / math.prod(pg.kernel)
    ones = np.ones((1, 1) + spatial, dtype=dtype)
    return 1.0 / _window_sum(_pad(ones, pg.padding), pg,
                             _out_shape(spatial, pg.kernel, pg.stride, pg.padding,
                                        pg.dilation))


def _window_sum(xp: Any, pg: PoolGeometry, out: tuple[int, ...]) -> Any:
    """``Σ_k x_pad[…, d·k : … : s]``, one strided slice per kernel offset."""
    lead = (slice(None),) * (xp.ndim - len(out))
    z = None
    for _, sl in _offset_slices(pg.kernel, pg.stride, pg.dilation, out):
        if z is None:
            z = xp[lead + sl].copy()
        else:
            z += xp[lead + sl]
    return z


def _avg_kernel(x: Any, pg: PoolGeometry, count_include_pad: bool) -> Any:
    out = _out_shape(x.shape[2:], pg.kernel, pg.stride, pg.padding, pg.dilation)
    z = _window_sum(_pad(x, pg.padding), pg, out)
    z *= _avg_scale(tuple(x.shape[2:]), pg, count_include_pad, x.dtype)
    return z


def _avg_t_kernel(g: Any, x_shape: tuple[int, ...], pg: PoolGeometry, scale: Any) -> Any:
    out = tuple(g.shape[2:])
    padded = tuple(n + lo + hi for n, (lo, hi) in zip(x_shape[2:], pg.padding))
    gs = g * scale
    z = np.zeros_like(gs, shape=tuple(x_shape[:2]) + padded)
    lead = (slice(None),) * 2
    for _, sl in _offset_slices(pg.kernel, pg.stride, pg.dilation, out):
        dst = z[lead + sl]
        np.add(dst, gs, out=dst)
    return _unpad(z, pg.padding)


def _avg_t(g: Any, x_shape: tuple[int, ...], pg: PoolGeometry,
           count_include_pad: bool) -> Any:
    return _avg_t_kernel(g, x_shape, pg, _avg_scale(tuple(x_shape[2:]), pg,
                                                     count_include_pad, g.dtype))


class AvgPool(_Kernel):
    """z = (1/m) Σ_window x  ;  ∂L/∂x = avg_pool_transpose(∂L/∂z)

    ``m`` is the window size ``∏K``, or with ``count_include_pad=False`` the number of
    non-padding positions in the window.
    """

    kernel = staticmethod(_avg_kernel)  # (x, pg, count_include_pad)

    @staticmethod
    def backward(ctx, g):
        return AvgPoolTranspose.call(g, x_shape=ctx.saved[0].shape, **ctx.params)


class AvgPoolTranspose(_Kernel):
    """z = avg_pool_transpose(g): each ``g/m`` added to the positions of its window
    ;  ∂L/∂g = avg_pool(∂L/∂z)"""

    kernel = staticmethod(_avg_t)  # (g, x_shape, pg, count_include_pad)

    @staticmethod
    def backward(ctx, gz):
        q = ctx.params
        return AvgPool.call(gz, pg=q["pg"], count_include_pad=q["count_include_pad"])
