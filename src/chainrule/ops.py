"""The primitives: one :class:`Function` each, forward and backward side by side.

A primitive's ``forward`` maps ndarrays to an ndarray; its ``backward`` maps the gradient
of the loss with respect to the output, ``g = ∂L/∂z``, to one gradient per input, and is
written in Tensor operations so that it can itself be differentiated (higher-order
derivatives). Every binary primitive broadcasts like NumPy and sums its gradient back over
the broadcast axes (:func:`unbroadcast`).

Subgradient conventions (where the derivative does not exist):

- ``relu`` at 0: 0 (as PyTorch);
- ``abs`` at 0: 0 (``sign(0) = 0``);
- ``max``/``min`` with ties: the gradient is shared equally among the tied elements;
- ``clip`` at a bound: 1 (the bound is inside the pass-through region, as PyTorch).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import rng as _rng
from .autodiff import _node_numbers, _state
from .tensor import Tensor, _make

_new = object.__new__
_next_number = _node_numbers.__next__
_NO_PARAMS: dict[str, Any] = {}


def _reraise_broadcast(cls: type, err: ValueError, datas: list[Any]) -> None:
    if "broadcast" not in str(err):
        raise err
    shapes = " and ".join(str(np.shape(d)) for d in datas)
    raise ValueError(
        f"{cls.__name__.lower()}: shapes {shapes} cannot be broadcast together"
    ) from None


class Function:
    """Base class of a primitive: an instance is the graph node (the *context*).

    Subclasses define ``forward(ctx, *arrays, **params) -> ndarray`` and
    ``backward(ctx, g) -> Tensor | tuple[Tensor | None, ...]`` as static methods.
    In ``forward``, ``ctx.save(*arrays)`` keeps what ``backward`` needs and reads back as
    Tensors through ``ctx.saved_tensors``; during ``backward``, ``ctx.out`` is the output
    Tensor and ``ctx.parents`` the inputs.
    """

    parents: tuple[Any, ...]
    saved: tuple[Any, ...] = ()
    out: Tensor | None = None

    #: a primitive whose forward draws random numbers (the compiled step replays its
    #: forward, so that every step draws anew from the same generator, as eager does)
    stochastic = False

    #: an elementwise primitive of one input whose ``backward`` reads only ``g`` and
    #: ``ctx.out`` (σ, tanh, relu), and whose ``forward`` takes ``inplace=True`` to write
    #: over its input: it can run inside another primitive's node, after that one's
    #: forward and before its backward (:class:`LinearActivation`)
    pointwise_of_output = False

    #: the function's symbol where another node's rule names it (``σ`` in
    #: ``a = σ(x @ Wᵀ + b)``); the class name when unset
    symbol: str | None = None

    @classmethod
    def apply(cls, *args: Any, **params: Any) -> Tensor:
        """Run ``forward`` on the inputs' arrays; record the node if any input requires grad.

        The one applier of every primitive (the Tensor operators call it too). While
        :mod:`chainrule.trace` records a training step, it hands the call to the recorder:
        that is the compiled step's only hook in the core (the backward walk also asks
        the recorder one question: whether a gradient array stands for a new one, ``owns``).
        """
        tape = _state.tape
        if tape is not None:
            return tape.apply(cls, args, params)
        return _run(cls, args, params)

    def save(self, *values: Any) -> None:
        """Keep values for ``backward`` (inputs are given back as the input Tensors)."""
        self.saved = values

    @property
    def saved_tensors(self) -> tuple[Any, ...]:
        """The saved values as Tensors: an input's array comes back as that input Tensor.

        In a first-order backward pass (``ctx.out`` is then an ndarray) they come back as
        the raw arrays: the backward formulas are written so that they hold for both.
        """
        if isinstance(self.out, np.ndarray):
            return self.saved
        result = []
        for v in self.saved:
            found = None
            for p in self.parents:
                if isinstance(p, Tensor) and p.data is v:
                    found = p
                    break
            if found is None:
                # Python scalars stay scalars so they do not promote float32 to float64
                found = Tensor._wrap(v) if isinstance(v, np.ndarray) else v
            result.append(found)
        return tuple(result)

    def needs_grad(self, i: int) -> bool:
        """Whether input ``i`` requires a gradient."""
        p = self.parents[i]
        return isinstance(p, Tensor) and p.requires_grad

    @staticmethod
    def forward(ctx: Any, *args: Any, **params: Any) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Any:  # pragma: no cover
        raise NotImplementedError


def _run(cls: Any, args: tuple[Any, ...], params: dict[str, Any]) -> Tensor:
    """``cls.forward`` on the arrays of ``args``, and the graph node when it is needed."""
    ctx = _new(cls)
    datas = [a.data if isinstance(a, Tensor) else a for a in args]
    try:
        out = cls.forward(ctx, *datas, **params)
    except ValueError as err:
        _reraise_broadcast(cls, err, datas)
    if _state.enabled:
        for a in args:
            if isinstance(a, Tensor) and a.requires_grad:
                ctx.parents = args
                ctx._seq = _next_number()
                return _make(out, True, ctx)
    return _make(out, False, None)


def _shape(x: Any) -> tuple[int, ...]:
    return x.data.shape if isinstance(x, Tensor) else np.shape(x)


def broadcast_axes(gshape: tuple[int, ...], shape: tuple[int, ...]) -> tuple[int, ...]:
    """The axes of ``gshape`` along which an array of ``shape`` was broadcast up to it: the
    leading axes it lacks and those where it has length 1."""
    lead = len(gshape) - len(shape)
    return tuple(range(lead)) + tuple(
        lead + i for i, s in enumerate(shape) if s == 1 and gshape[lead + i] != 1
    )


def unbroadcast(g: Tensor, shape: tuple[int, ...]) -> Tensor:
    """Sum ``g`` over the axes along which an input of ``shape`` was broadcast.

    If ``z = x + y`` broadcasts ``x`` of shape ``shape`` up to ``g.shape``, then
    ``∂L/∂x = Σ_{broadcast axes} ∂L/∂z``, reshaped to ``shape``.
    """
    gshape = g.shape
    if gshape == shape:
        return g
    axes = broadcast_axes(gshape, shape)
    if isinstance(g, np.ndarray):
        return (np.add.reduce(g, axis=axes, keepdims=True) if axes else g).reshape(shape)
    if axes:
        g = Sum.apply(g, axis=axes, keepdims=True)
    return Reshape.apply(g, shape=shape)


# Backward formulas receive Tensors (when the backward pass is itself recorded, for
# higher-order derivatives) or plain ndarrays (first-order, the fast path). These helpers
# dispatch on which, so that every formula is written once.


def _exp(x: Any) -> Any:
    return Exp.apply(x) if isinstance(x, Tensor) else np.exp(x)


def _log(x: Any) -> Any:
    return Log.apply(x) if isinstance(x, Tensor) else np.log(x)


def _sin(x: Any) -> Any:
    return Sin.apply(x) if isinstance(x, Tensor) else np.sin(x)


def _cos(x: Any) -> Any:
    return Cos.apply(x) if isinstance(x, Tensor) else np.cos(x)


def _dot(x: Any, W: Any) -> Any:
    """``x @ W`` for a 2-D ``W`` (``np.dot``: the same product, less overhead on small
    arrays)."""
    if isinstance(x, Tensor) or isinstance(W, Tensor):
        return MatMul.apply(x, W)
    return np.dot(x, W)


_ONES: dict[tuple[int, Any], np.ndarray] = {}


def _ones(n: int, dtype: Any) -> np.ndarray:
    """A read-only vector of ``n`` ones of ``dtype``, made once (products with it sum the
    rows or the columns of a matrix)."""
    key = (n, dtype)
    ones = _ONES.get(key)
    if ones is None:
        if len(_ONES) >= 64:
            _ONES.clear()
        ones = _ONES[key] = np.ones(n, dtype)
        ones.flags.writeable = False
    return ones


def _column_sums(g: Any) -> Any:
    """``Σ_rows g`` of a 2-D ``g``: for an ndarray, the product ``1ᵀ g`` with a vector of
    ones (one BLAS call: 3–5× faster than ``np.add.reduce(g, axis=0)`` on a batch of 100)."""
    if isinstance(g, np.ndarray):
        return np.dot(_ones(g.shape[0], g.dtype), g)
    return g.sum(axis=0)


def _where(c: Any, x: Any, y: Any) -> Any:
    if isinstance(x, Tensor) or isinstance(y, Tensor):
        return Where.apply(c, x, y)
    return np.where(c, x, y)


def _broadcast_to(g: Any, shape: tuple[int, ...]) -> Any:
    if isinstance(g, Tensor):
        return BroadcastTo.apply(g, shape=shape)
    if g.size == 1 and math.prod(shape) <= 4096:
        out = np.empty_like(g, shape=shape)  # small: a filled array is cheaper than a view
        np.copyto(out, g)
        return out
    return np.broadcast_to(g, shape)


def _data(x: Any) -> Any:
    return x.data if isinstance(x, Tensor) else x


# --------------------------------------------------------------------------- arithmetic


class Add(Function):
    """z = x + y  ;  ∂L/∂x = ∂L/∂z,  ∂L/∂y = ∂L/∂z  (summed over broadcast axes)"""

    @staticmethod
    def forward(ctx, x, y):
        return x + y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.parents
        return (
            unbroadcast(g, _shape(x)) if ctx.needs_grad(0) else None,
            unbroadcast(g, _shape(y)) if ctx.needs_grad(1) else None,
        )


class Sub(Function):
    """z = x − y  ;  ∂L/∂x = ∂L/∂z,  ∂L/∂y = −∂L/∂z"""

    @staticmethod
    def forward(ctx, x, y):
        return x - y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.parents
        return (
            unbroadcast(g, _shape(x)) if ctx.needs_grad(0) else None,
            unbroadcast(-g, _shape(y)) if ctx.needs_grad(1) else None,
        )


class Mul(Function):
    """z = x ⊙ y  ;  ∂L/∂x = ∂L/∂z ⊙ y,  ∂L/∂y = ∂L/∂z ⊙ x"""

    @staticmethod
    def forward(ctx, x, y):
        ctx.saved = (x, y)
        return x * y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        return (
            unbroadcast(g * y, _shape(x)) if ctx.needs_grad(0) else None,
            unbroadcast(g * x, _shape(y)) if ctx.needs_grad(1) else None,
        )


class Div(Function):
    """z = x / y  ;  ∂L/∂x = ∂L/∂z / y,  ∂L/∂y = −∂L/∂z ⊙ x / y²"""

    @staticmethod
    def forward(ctx, x, y):
        ctx.saved = (x, y)
        return x / y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        return (
            unbroadcast(g / y, _shape(x)) if ctx.needs_grad(0) else None,
            unbroadcast(-g * x / (y * y), _shape(y)) if ctx.needs_grad(1) else None,
        )


class Neg(Function):
    """z = −x  ;  ∂L/∂x = −∂L/∂z"""

    @staticmethod
    def forward(ctx, x):
        return -x

    @staticmethod
    def backward(ctx, g):
        return -g


class Pow(Function):
    """z = x^p  ;  ∂L/∂x = ∂L/∂z ⊙ p·x^(p−1),  ∂L/∂p = ∂L/∂z ⊙ z·ln x"""

    @staticmethod
    def forward(ctx, x, p):
        ctx.save(x, p)
        return x**p

    @staticmethod
    def backward(ctx, g):
        x, p = ctx.saved_tensors
        gx = gp = None
        if ctx.needs_grad(0):
            gx = unbroadcast(g * p * x ** (p - 1), _shape(x))
        if ctx.needs_grad(1):
            # ln x is undefined for x ≤ 0; where x = 0 the term z·ln x is taken as 0
            xd = np.asanyarray(_data(x))
            if isinstance(x, Tensor) or isinstance(g, np.ndarray):
                log_x = _log(_where(xd > 0, x, 1.0))
            else:  # a constant base inside a recorded backward
                log_x = Tensor._wrap(np.log(np.where(xd > 0, xd, 1.0)).astype(g.dtype))
            gp = unbroadcast(g * ctx.out * log_x, _shape(p))
        return gx, gp


class MatMul(Function):
    """z = x @ y  ;  ∂L/∂x = ∂L/∂z @ yᵀ,  ∂L/∂y = xᵀ @ ∂L/∂z  (NumPy semantics, 1-D included)"""

    @staticmethod
    def forward(ctx, x, y):
        xs, ys = np.shape(x), np.shape(y)
        if len(xs) == 0 or len(ys) == 0:
            raise ValueError(f"matmul: {xs} @ {ys}: both operands need at least one dimension")
        kx = xs[-1]
        ky = ys[-2] if len(ys) >= 2 else ys[0]
        if kx != ky:
            raise ValueError(
                f"matmul: {xs} @ {ys}: inner dimensions {kx} and {ky} differ"
            )
        ctx.saved = (x, y)
        return x @ y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        xs, ys = x.data.shape, y.data.shape
        x2 = x.reshape((1,) + xs) if len(xs) == 1 else x
        y2 = y.reshape(ys + (1,)) if len(ys) == 1 else y
        g2 = g
        if len(xs) == 1:
            g2 = g2.reshape(g2.shape[:-1] + (1,) + g2.shape[-1:]) if len(ys) > 1 else g2
        if len(ys) == 1:
            g2 = g2.reshape(g2.shape + (1,))
        if len(xs) == 1 and len(ys) == 1:
            g2 = g.reshape((1, 1))
        gx = gy = None
        if ctx.needs_grad(0):
            gx = unbroadcast(g2 @ y2.swapaxes(-1, -2), x2.shape).reshape(xs)
        if ctx.needs_grad(1):
            gy = unbroadcast(x2.swapaxes(-1, -2) @ g2, y2.shape).reshape(ys)
        return gx, gy


class Linear(Function):
    """z = x @ Wᵀ + b  ;  ∂L/∂x = ∂L/∂z @ W,  ∂L/∂W = (∂L/∂z)ᵀ @ x,  ∂L/∂b = Σ_rows ∂L/∂z

    The affine map of a layer, fused: ``W`` has shape ``(out, in)`` (the textbook matrix of
    ``z = Wx + b``), ``x`` has shape ``(*, in)`` and ``b`` (optional, may be None) ``(out,)``.
    One node instead of three (transpose, matmul, add), and every gradient is a fresh
    C-contiguous array (∂L/∂W is computed as ``gᵀx``, already in ``W``'s layout), so it
    can become ``.grad`` without a copy.
    """

    @staticmethod
    def forward(ctx, x, W, b=None):
        ctx.saved = (x, W)
        z = np.dot(x, W.T)  # as x @ Wᵀ (Wᵀ is 2-D), with less overhead on small arrays
        if b is not None:
            if z.ndim:
                z += b
            else:
                z = z + b
        return z

    @staticmethod
    def backward(ctx, g):
        x, W = ctx.saved_tensors
        n_out, n_in = W.shape
        g2 = g if g.ndim == 2 else g.reshape(-1, n_out)  # the rows of g (and of x)
        gx = gW = gb = None
        if ctx.needs_grad(0):
            gx = _dot(g, W)
        if ctx.needs_grad(1):
            gW = _dot(g2.T, x if x.ndim == 2 else x.reshape(-1, n_in))
        if ctx.needs_grad(2):
            gb = _column_sums(g2)
        return gx, gW, gb


class LinearActivation(Function):
    """a = φ(x @ Wᵀ + b) ; ∂L/∂x = (∂L/∂a⊙φ′) @ W, ∂L/∂W = (∂L/∂a⊙φ′)ᵀ @ x, ∂L/∂b = Σ_rows ∂L/∂a⊙φ′

    The neuron ``a = φ(Wx + b)`` of a layer as one node: :class:`Linear` followed by an
    elementwise ``activation`` primitive ``φ`` whose backward reads only its output
    (``pointwise_of_output``: :class:`Sigmoid`, :class:`Tanh`, :class:`Relu`). Both halves
    are those primitives' own ``forward`` and ``backward``, run in one node: one graph node
    and one backward call per layer instead of two, and the pre-activation ``z`` is a
    temporary that ``φ`` may overwrite. Differentiable again (``create_graph``) like its
    halves. ``nn.Sequential`` uses it for a ``Linear`` followed by such an activation.
    ``φ′`` is the activation's derivative at this layer's ``z = x @ Wᵀ + b``; a drawn graph
    names the activation the node ran (:meth:`rule_symbols`).
    """

    @staticmethod
    def forward(ctx, x, W, b=None, activation=None):
        z = Linear.forward(ctx, x, W, b)
        ctx.act = act = _new(activation)
        return activation.forward(act, z, inplace=True)

    @staticmethod
    def rule_symbols(ctx) -> dict[str, str]:
        """The activation this node ran, for the rule above: ``{"φ": "σ"}`` for a sigmoid
        (a drawn graph then reads ``a = σ(x @ Wᵀ + b)`` and ``(∂L/∂a ⊙ σ′)ᵀ @ x``)."""
        act = type(ctx.act)
        return {"φ": act.symbol or act.__name__}

    @staticmethod
    def backward(ctx, g):
        act = ctx.act
        act.out = ctx.out
        gz = act.backward(act, g)
        act.out = None
        return Linear.backward(ctx, gz)


# ------------------------------------------------------------------------- elementwise


class Exp(Function):
    """z = eˣ  ;  ∂L/∂x = ∂L/∂z ⊙ z"""

    @staticmethod
    def forward(ctx, x):
        return np.exp(x)

    @staticmethod
    def backward(ctx, g):
        return g * ctx.out


class Log(Function):
    """z = ln x  ;  ∂L/∂x = ∂L/∂z / x"""

    @staticmethod
    def forward(ctx, x):
        ctx.save(x)
        return np.log(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g / x


class Log1p(Function):
    """z = ln(1 + x)  ;  ∂L/∂x = ∂L/∂z / (1 + x)   (accurate for small x)"""

    @staticmethod
    def forward(ctx, x):
        ctx.save(x)
        return np.log1p(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g / (x + 1.0)


class Sqrt(Function):
    """z = √x  ;  ∂L/∂x = ∂L/∂z / (2z)"""

    @staticmethod
    def forward(ctx, x):
        return np.sqrt(x)

    @staticmethod
    def backward(ctx, g):
        return g / (ctx.out * 2.0)


class Sin(Function):
    """z = sin x  ;  ∂L/∂x = ∂L/∂z ⊙ cos x"""

    @staticmethod
    def forward(ctx, x):
        ctx.save(x)
        return np.sin(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * _cos(x)


class Cos(Function):
    """z = cos x  ;  ∂L/∂x = −∂L/∂z ⊙ sin x"""

    @staticmethod
    def forward(ctx, x):
        ctx.save(x)
        return np.cos(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return -g * _sin(x)


class Tanh(Function):
    """z = tanh x  ;  ∂L/∂x = ∂L/∂z ⊙ (1 − z²)"""

    pointwise_of_output = True
    symbol = "tanh"

    @staticmethod
    def forward(ctx, x, *, inplace=False):
        return np.tanh(x, out=x if inplace else None)

    @staticmethod
    def backward(ctx, g):
        z = ctx.out
        return g * (1.0 - z * z)


class Sigmoid(Function):
    """z = σ(x) = 1 / (1 + e⁻ˣ)  ;  ∂L/∂x = ∂L/∂z ⊙ z(1 − z)

    Fused and stable: with ``e = exp(−|x|)`` (never overflows),
    ``σ(x) = 1/(1+e)`` for x ≥ 0 and ``e/(1+e)`` for x < 0 (SciPy's ``expit``, one ufunc,
    when SciPy is installed; the same formula in NumPy otherwise).
    """

    pointwise_of_output = True
    symbol = "σ"

    @staticmethod
    def forward(ctx, x, *, inplace=False):
        return _expit(x, out=x if inplace else None)

    @staticmethod
    def backward(ctx, g):
        z = ctx.out
        return g * z * (1.0 - z)


def _expit_numpy(x: Any) -> np.ndarray:
    e = np.exp(-np.abs(x))
    r = 1.0 / (1.0 + e)
    return np.where(x >= 0, r, e * r)


def _expit(x: Any, out: Any = None) -> Any:
    """σ(x), stable, as one ufunc (``scipy.special.expit``) where available."""
    f = _EXPIT[0]
    if f is None:
        try:
            from scipy.special import expit as f
        except ImportError:  # pragma: no cover - scipy is part of the 'all' extra
            f = None
        _EXPIT[0] = f = f if f is not None else False
    if f is False:  # pragma: no cover
        if out is None:
            return _expit_numpy(x)
        out[...] = _expit_numpy(x)
        return out
    return f(x) if out is None else f(x, out=out)


_EXPIT: list[Any] = [None]


class Erf(Function):
    """z = erf x = (2/√π) ∫₀ˣ e^(−t²) dt  ;  ∂L/∂x = ∂L/∂z ⊙ (2/√π) e^(−x²)"""

    @staticmethod
    def forward(ctx, x):
        ctx.save(x)
        return _erf(np.asanyarray(x))

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * _TWO_OVER_SQRT_PI * _exp(-(x * x))


_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)  # a Python float: float32 stays float32


def _erf(x: np.ndarray) -> np.ndarray:
    try:
        from scipy.special import erf
    except ImportError:  # pragma: no cover - scipy is part of the 'all' extra
        import math

        return np.vectorize(math.erf, otypes=[x.dtype if x.dtype.kind == "f" else float])(x)
    return erf(x)


class Relu(Function):
    """z = max(x, 0)  ;  ∂L/∂x = ∂L/∂z ⊙ [x > 0]   (subgradient 0 at x = 0)"""

    pointwise_of_output = True
    symbol = "relu"

    @staticmethod
    def forward(ctx, x, *, inplace=False):
        return np.maximum(x, 0, out=x if inplace else None)

    @staticmethod
    def backward(ctx, g):
        return g * (_data(ctx.out) > 0)


class Abs(Function):
    """z = |x|  ;  ∂L/∂x = ∂L/∂z ⊙ sign(x)   (subgradient 0 at x = 0)"""

    @staticmethod
    def forward(ctx, x):
        ctx.save(x)
        return np.abs(x)

    @staticmethod
    def backward(ctx, g):
        return g * np.sign(ctx.saved[0])


class Clip(Function):
    """z = min(max(x, lo), hi)  ;  ∂L/∂x = ∂L/∂z ⊙ [lo ≤ x ≤ hi]"""

    @staticmethod
    def forward(ctx, x, lo=None, hi=None):
        ctx.save(x)
        ctx.lo, ctx.hi = lo, hi
        return np.clip(x, lo, hi)

    @staticmethod
    def backward(ctx, g):
        x = ctx.saved[0]
        mask = np.ones_like(x, dtype=bool)
        if ctx.lo is not None:
            mask &= x >= ctx.lo
        if ctx.hi is not None:
            mask &= x <= ctx.hi
        return g * mask


class Where(Function):
    """z = c ? x : y  ;  ∂L/∂x = ∂L/∂z ⊙ c,  ∂L/∂y = ∂L/∂z ⊙ (1 − c)   (c has no gradient)"""

    @staticmethod
    def forward(ctx, c, x, y):
        c = np.asanyarray(c)
        ctx.cond = c if c.dtype == bool else c.astype(bool)
        return np.where(ctx.cond, x, y)

    @staticmethod
    def backward(ctx, g):
        _, x, y = ctx.parents
        c = ctx.cond
        gx = unbroadcast(_where(c, g, 0.0), _shape(x)) if ctx.needs_grad(1) else None
        gy = unbroadcast(_where(c, 0.0, g), _shape(y)) if ctx.needs_grad(2) else None
        return None, gx, gy


# --------------------------------------------------------------------------- reductions


def _axes(axis: Any, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, int):
        axis = (axis,)
    out = []
    for a in axis:
        if not -ndim <= a < max(ndim, 1):
            raise ValueError(f"axis {a} is out of range for a tensor with {ndim} dimensions")
        out.append(a % ndim if ndim else 0)
    return tuple(sorted(out))


def _drop_axes(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(s for i, s in enumerate(shape) if i not in axes)


def _keepdims_shape(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(1 if i in axes else s for i, s in enumerate(shape))


class Sum(Function):
    """z = Σ_axis x  ;  ∂L/∂x = ∂L/∂z broadcast back over the summed axes"""

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        ctx.axes = _axes(axis, np.ndim(x))
        return np.add.reduce(x, axis=ctx.axes, keepdims=keepdims)

    @staticmethod
    def backward(ctx, g):
        shape = _shape(ctx.parents[0])
        g = g.reshape(_keepdims_shape(shape, ctx.axes))
        return _broadcast_to(g, shape)


class BroadcastTo(Function):
    """z = x broadcast to ``shape``  ;  ∂L/∂x = Σ over the broadcast axes of ∂L/∂z"""

    @staticmethod
    def forward(ctx, x, shape):
        return np.broadcast_to(x, shape)

    @staticmethod
    def backward(ctx, g):
        return unbroadcast(g, _shape(ctx.parents[0]))


class Max(Function):
    """z = max_axis x  ;  ∂L/∂x = ∂L/∂z ⊙ [x = z] / (number of ties)

    Ties share the gradient equally (the subgradient that keeps ``max`` symmetric).
    """

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False, minimum=False):
        ctx.axes = _axes(axis, np.ndim(x))
        op = np.min if minimum else np.max
        zk = op(x, axis=ctx.axes, keepdims=True)
        mask = x == zk
        ctx.weights = mask / mask.sum(axis=ctx.axes, keepdims=True)
        return zk if keepdims else zk.reshape(_drop_axes(np.shape(zk), ctx.axes))

    @staticmethod
    def backward(ctx, g):
        shape = _shape(ctx.parents[0])
        g = g.reshape(_keepdims_shape(shape, ctx.axes))
        return g * ctx.weights.astype(g.dtype, copy=False)


class LogSumExp(Function):
    """z = log Σ_axis eˣ (stable: m + log Σ e^(x−m), m = max x)  ;  ∂L/∂x = ∂L/∂z ⊙ e^(x−z)"""

    @staticmethod
    def forward(ctx, x, axis=-1, keepdims=False):
        ctx.axes = _axes(axis, np.ndim(x))
        ctx.save(x)
        m = np.max(x, axis=ctx.axes, keepdims=True)
        m = np.where(np.isfinite(m), m, 0)
        z = np.log(np.sum(np.exp(x - m), axis=ctx.axes, keepdims=True)) + m
        return z if keepdims else z.reshape(_drop_axes(np.shape(z), ctx.axes))

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        kshape = _keepdims_shape(x.shape, ctx.axes)
        z = ctx.out.reshape(kshape)
        return g.reshape(kshape) * _exp(x - z)


class LogSoftmax(Function):
    """z = x − logΣ_axis eˣ  ;  ∂L/∂x = ∂L/∂z − softmax(x) ⊙ Σ_axis ∂L/∂z

    Fused and stable (the maximum is subtracted before exponentiating).
    """

    @staticmethod
    def forward(ctx, x, axis=-1):
        ctx.axis = axis
        m = np.max(x, axis=axis, keepdims=True)
        m = np.where(np.isfinite(m), m, 0)
        shifted = x - m
        return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))

    @staticmethod
    def backward(ctx, g):
        softmax = _exp(ctx.out)
        return g - softmax * g.sum(axis=ctx.axis, keepdims=True)


# the unsigned integer type of each native signed one (its labels' view, a look-up)
_UNSIGNED = {np.dtype(t): np.dtype(t.replace("i", "u")) for t in ("i1", "i2", "i4", "i8")}


class SoftmaxCrossEntropy(Function):
    """ℓ = (1/N) Σ_n (log Σ_c e^(x_nc) − x_{n,y_n})  ;  ∂ℓ/∂x = (softmax(x) − onehot(y)) / N

    Softmax cross-entropy of logits ``x`` (shape ``(N, C)``) against integer class indices
    ``y`` (shape ``(N,)``, each in ``[0, C)``; no gradient), fused: the softmax computed
    in the forward pass (stably, the row maximum subtracted) is the backward pass: the
    forward leaves ``(softmax(x) − onehot(y)) / N`` in the softmax's array, and a first-order
    backward scales it by ``∂L/∂ℓ``. With ``reduction="sum"`` the ``1/N`` is dropped.
    ``checked=True`` says the caller has tested ``y`` with :meth:`labels_in_range`;
    otherwise a label outside ``[0, C)`` raises ``ValueError``.

    The row sums ``Σ_c e^(x_nc − m_n)`` are a product with a vector of ones (one BLAS
    call; a reduction over a short axis costs NumPy a loop per row), and ``x_{n,y_n}``
    is read and written at the flat indices ``n·C + y_n`` of the C-ordered arrays.
    """

    @staticmethod
    def labels_in_range(y: np.ndarray, c: int) -> bool:
        """Whether every label of the integer array ``y`` (not empty) is in ``[0, c)``.

        One reduction: signed labels are read as unsigned integers of the same width, so
        a negative label is larger than any class (−1 as ``uint64`` is 2⁶⁴ − 1).
        """
        if y.dtype.kind == "i":
            y = y.view(_UNSIGNED.get(y.dtype) or y.dtype.str.replace("i", "u"))
        return bool(np.maximum.reduce(y, axis=None) < c)

    @staticmethod
    def forward(ctx, x, y, reduction="mean", checked=False):
        n, c = x.shape
        if not checked:
            y = y if isinstance(y, np.ndarray) else np.asarray(y)
            if y.dtype.kind not in "iu":
                raise TypeError("SoftmaxCrossEntropy: y must hold integer class indices, "
                                f"got {y.dtype}")
            if y.shape != (n,):
                raise ValueError(f"SoftmaxCrossEntropy: y must have shape ({n},), "
                                 f"got {y.shape}")
            if n and not SoftmaxCrossEntropy.labels_in_range(y, c):
                bad = y[(y < 0) | (y >= c)][0]
                raise ValueError(f"SoftmaxCrossEntropy: label {bad} is not in [0, {c})")
        if not x.flags.c_contiguous:
            x = np.ascontiguousarray(x)
        # the row maxima as a reduction over the outer axis of a transposed copy (NumPy
        # reduces a short inner axis row by row, twice as slow); a maximum is exact in
        # any order
        m = np.maximum.reduce(x.T.copy(), axis=0)
        shifted = x - m[:, None]
        e = np.exp(shifted)
        s = np.dot(e, _ones(c, e.dtype))  # Σ_c e^(x_nc − m_n)
        if y.dtype != np.intp:
            y = y.astype(np.intp)
        idx = y + np.arange(0, n * c, c)  # flat index n·C + y_n
        total = np.log(s)
        total -= shifted.ravel()[idx]
        total = np.add.reduce(total)
        ctx.idx = idx
        ctx.scale = 1.0 / n if reduction == "mean" else 1.0
        e /= s[:, None]
        flat = e.ravel()  # e is C-ordered: a view
        target = flat[idx]
        target -= 1
        flat[idx] = target
        if reduction == "mean":
            e *= ctx.scale
        ctx.grad_x = e  # ∂ℓ/∂x
        return total * ctx.scale if reduction == "mean" else total

    @staticmethod
    def backward(ctx, g):
        if isinstance(g, Tensor):  # recorded: the softmax must itself be differentiable
            x = ctx.parents[0]
            onehot = np.zeros_like(x.data)
            np.put(onehot, ctx.idx, 1)  # flat indices in C order, whatever the layout
            p = x.log_softmax(axis=1).exp()
            return (p - Tensor._wrap(onehot)) * (g * ctx.scale), None
        return ctx.grad_x * g, None


class SquaredError(Function):
    """z = c · Σ (x − y)²  ;  ∂L/∂x = 2c · ∂L/∂z ⊙ (x − y),  ∂L/∂y = −2c · ∂L/∂z ⊙ (x − y)

    The summed squared error of ``x`` against ``y`` (the same shape), scaled by ``c``
    (``1/n`` for the mean squared error, ``1/2`` for the quadratic cost ``½‖x − y‖²``),
    fused: one node instead of four (difference, square, sum, scale). A first-order
    backward reuses the forward's ``x − y``; a recorded one forms it from the inputs, so it
    can be differentiated again.
    """

    @staticmethod
    def forward(ctx, x, y, scale=1.0):
        ctx.saved = (x, y)
        ctx.scale = scale
        ctx.d = d = x - y
        return np.vdot(d, d) * scale  # Σ d², one call

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        d = ctx.d if isinstance(g, np.ndarray) else x - y
        gd = d * (g * (2.0 * ctx.scale))
        return gd if ctx.needs_grad(0) else None, -gd if ctx.needs_grad(1) else None


# ------------------------------------------------------------------------------- shapes


class Reshape(Function):
    """z = x reshaped  ;  ∂L/∂x = ∂L/∂z reshaped back"""

    @staticmethod
    def forward(ctx, x, shape):
        try:
            return np.reshape(x, shape)
        except ValueError:
            raise ValueError(
                f"reshape: cannot reshape a tensor of shape {np.shape(x)} into {shape}"
            ) from None

    @staticmethod
    def backward(ctx, g):
        return g.reshape(_shape(ctx.parents[0]))


class Transpose(Function):
    """z = x with axes permuted  ;  ∂L/∂x = ∂L/∂z with the inverse permutation"""

    @staticmethod
    def forward(ctx, x, axes=None):
        ndim = np.ndim(x)
        ctx.axes = tuple(reversed(range(ndim))) if axes is None else tuple(a % ndim for a in axes)
        if sorted(ctx.axes) != list(range(ndim)):
            raise ValueError(f"transpose: axes {axes} are not a permutation of {ndim} dimensions")
        return np.transpose(x, ctx.axes)

    @staticmethod
    def backward(ctx, g):
        return g.transpose(tuple(int(a) for a in np.argsort(ctx.axes)))


def _normalise_index(idx: Any) -> Any:
    if isinstance(idx, Tensor):
        return idx.data
    if isinstance(idx, tuple):
        return tuple(i.data if isinstance(i, Tensor) else i for i in idx)
    if isinstance(idx, list):
        return np.asarray(idx)
    return idx


class GetItem(Function):
    """z = x[idx]  ;  ∂L/∂x = zeros with ∂L/∂z scattered (added) at idx (repeats accumulate)"""

    @staticmethod
    def forward(ctx, x, idx):
        ctx.idx = idx
        return x[idx]

    @staticmethod
    def backward(ctx, g):
        shape = _shape(ctx.parents[0])
        if isinstance(g, Tensor):
            return ScatterAdd.apply(g, idx=ctx.idx, shape=shape)
        return ScatterAdd.forward(ctx, g, ctx.idx, shape)


class ScatterAdd(Function):
    """z = zeros(shape) with x added at idx  ;  ∂L/∂x = (∂L/∂z)[idx]"""

    @staticmethod
    def forward(ctx, x, idx, shape):
        ctx.idx = idx
        z = np.zeros_like(x, shape=shape, dtype=np.result_type(x))
        np.add.at(z, idx, x)
        return z

    @staticmethod
    def backward(ctx, g):
        return g[ctx.idx]


class Concatenate(Function):
    """z = [x₁, x₂, …] joined along ``axis``  ;  ∂L/∂x_k = the slice of ∂L/∂z that x_k filled"""

    @staticmethod
    def forward(ctx, *xs, axis=0):
        shapes = [np.shape(x) for x in xs]
        ndim = len(shapes[0])
        ctx.axis = axis % ndim if ndim else 0
        for s in shapes[1:]:
            if len(s) != ndim or any(
                a != b for i, (a, b) in enumerate(zip(s, shapes[0])) if i != ctx.axis
            ):
                raise ValueError(
                    f"concatenate: shapes {shapes} differ outside axis {axis}"
                )
        ctx.sizes = [s[ctx.axis] for s in shapes]
        return np.concatenate(xs, axis=ctx.axis)

    @staticmethod
    def backward(ctx, g):
        grads = []
        start = 0
        for size in ctx.sizes:
            idx = (slice(None),) * ctx.axis + (slice(start, start + size),)
            grads.append(g[idx])
            start += size
        return tuple(grads)


class Uniform(Function):
    """z ~ U[0, 1) of ``shape`` drawn from the generator of ``seed`` (no inputs, no gradient)

    The random draw of stochastic layers (dropout's mask). ``seed`` is resolved at every
    draw (:func:`chainrule.rng.get_rng`: None is the global generator as it is then, an
    int a new generator, a Generator itself), and the primitive is ``stochastic``, so that
    a compiled step draws anew at every step, as the eager step does.
    """

    stochastic = True

    @staticmethod
    def forward(ctx, shape, seed=None, dtype=np.float64):
        return _rng.get_rng(seed).random(shape, dtype=dtype)

    @staticmethod
    def backward(ctx, g):  # pragma: no cover - it has no inputs
        return ()


class Cast(Function):
    """z = x converted to ``dtype``  ;  ∂L/∂x = ∂L/∂z converted back to x's dtype"""

    @staticmethod
    def forward(ctx, x, dtype):
        ctx.src = np.result_type(x)
        return np.asanyarray(x).astype(dtype)

    @staticmethod
    def backward(ctx, g):
        return g.astype(ctx.src)
