"""Tensor: an ndarray plus its place in the computational graph.

A :class:`Tensor` holds ``data`` (a NumPy array), ``requires_grad`` and, once
back-propagation has reached it, ``grad`` (a Tensor of the same shape holding ``∂L/∂x``).
A tensor produced by an operation also remembers the node that made it (``_ctx``, a
:class:`~chainrule.ops.Function`), so that :meth:`Tensor.backward` can apply the chain rule
from the output back to the leaves. Operators and methods delegate to the primitives in
:mod:`chainrule.ops`; composites (softmax, mean, var, …) are written from them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

DEFAULT_DTYPE = np.float32


def _convert(data: Any, dtype: Any = None) -> np.ndarray:
    """Array for ``data`` with ``torch.tensor``'s dtype rules (copying, never aliasing)."""
    if isinstance(data, Tensor):
        data = data.data
    if dtype is not None:
        return np.array(data, dtype=dtype)
    if isinstance(data, (np.ndarray, np.generic)):
        return np.array(data)
    arr = np.array(data)
    if arr.dtype.kind == "f":
        return arr.astype(DEFAULT_DTYPE)
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64)
    if arr.dtype.kind == "b":
        return arr
    raise TypeError(
        f"tensor: cannot make a tensor from {type(data).__name__} (dtype {arr.dtype}); "
        "expected numbers, nested lists of numbers or an ndarray"
    )


def _make(data: Any, requires_grad: bool, ctx: Any) -> Tensor:
    """Fast Tensor constructor for results of primitives (no conversion, no checks)."""
    t = object.__new__(Tensor)
    t.data = data if isinstance(data, np.ndarray) else np.asarray(data)
    t.grad = None
    t.requires_grad = requires_grad
    t._ctx = ctx
    t._retain = False
    return t


def _axis(axis: Any, dim: Any) -> Any:
    if dim is not None:
        if axis is not None and axis != dim:
            raise ValueError(f"give axis= or its alias dim=, not both (axis={axis}, dim={dim})")
        return dim
    return axis


class Tensor:
    """An n-dimensional array that records the operations applied to it.

    Args:
        data: numbers, nested lists or an ndarray. An ndarray keeps its dtype; Python floats
            become float32, integers int64 (see :func:`tensor`).
        requires_grad: whether back-propagation computes ``∂L/∂self`` into ``self.grad``.
            Only floating-point tensors may require gradients.
        dtype: optional dtype to convert to.

    Example:
        >>> import chainrule as cr
        >>> x = cr.Tensor([1.0, 2.0], requires_grad=True)
        >>> (x * x).sum().backward()
        >>> x.grad.numpy()                     # ∂(Σx²)/∂x = 2x
        array([2., 4.], dtype=float32)
    """

    __slots__ = ("__weakref__", "_ctx", "_retain", "data", "grad", "requires_grad")
    __array_ufunc__ = None  # ndarray ∘ Tensor defers to Tensor's reflected operators

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        arr = _convert(data, dtype)
        if requires_grad and arr.dtype.kind not in "fc":
            raise TypeError(
                f"only floating-point tensors can require gradients, got dtype {arr.dtype}"
            )
        self.data = arr
        self.grad: Tensor | None = None
        self.requires_grad = bool(requires_grad)
        self._ctx = None
        self._retain = False

    @classmethod
    def _wrap(cls, data: Any) -> Tensor:
        """A constant tensor around ``data`` (no copy)."""
        return _make(data, False, None)

    # ------------------------------------------------------------------ basic properties
    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of ``data``."""
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        """The dtype of ``data``."""
        return self.data.dtype

    @property
    def ndim(self) -> int:
        """Number of dimensions."""
        return self.data.ndim

    @property
    def size(self) -> int:
        """Number of elements."""
        return self.data.size

    @property
    def T(self) -> Tensor:
        """The transpose (axes reversed)."""
        return self.transpose()

    @property
    def is_leaf(self) -> bool:
        """True for tensors created by the user rather than by an operation."""
        return self._ctx is None

    def numpy(self) -> np.ndarray:
        """The underlying ndarray (shares memory with the tensor)."""
        return self.data

    def item(self) -> Any:
        """The value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"item: only one-element tensors convert, got shape {self.shape}")
        return self.data.item()

    def tolist(self) -> Any:
        """The data as nested Python lists."""
        return self.data.tolist()

    def detach(self) -> Tensor:
        """A tensor sharing ``data`` but cut from the graph (``requires_grad=False``)."""
        return Tensor._wrap(self.data)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set ``requires_grad`` in place and return self."""
        if requires_grad and self.data.dtype.kind not in "fc":
            raise TypeError(
                f"only floating-point tensors can require gradients, got dtype {self.dtype}"
            )
        self.requires_grad = requires_grad
        return self

    def retain_grad(self) -> None:
        """Keep ``.grad`` for this non-leaf tensor during backward."""
        self._retain = True

    def astype(self, dtype: Any) -> Tensor:
        """A copy converted to ``dtype`` (differentiable for float → float)."""
        dtype = np.dtype(dtype)
        if dtype == self.data.dtype:
            return self
        if dtype.kind == "f" and self.requires_grad:
            return _ops.Cast.apply(self, dtype=dtype)
        return Tensor._wrap(self.data.astype(dtype))

    to = astype

    def float(self) -> Tensor:
        """Convert to float32."""
        return self.astype(np.float32)

    def double(self) -> Tensor:
        """Convert to float64."""
        return self.astype(np.float64)

    def backward(self, grad: Any = None, create_graph: bool = False) -> None:
        """Back-propagate from this tensor: ``x.grad += ∂self/∂x`` for every leaf ``x``.

        Args:
            grad: the gradient flowing into this tensor; required unless it is a scalar.
            create_graph: record the backward pass (for higher-order derivatives).
        """
        _autodiff.backward(self, grad, create_graph)

    def zero_grad(self) -> None:
        """Forget the accumulated gradient."""
        self.grad = None

    # ---------------------------------------------------------------------- printing
    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="tensor(")
        extra = ""
        if self.data.dtype != DEFAULT_DTYPE and self.data.dtype.kind == "f":
            extra += f", dtype={self.data.dtype}"
        if self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __bool__(self) -> bool:
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self.data if dtype is None else self.data.astype(dtype)

    __hash__ = object.__hash__

    # --------------------------------------------------------------------- operators
    def __matmul__(self, other: Any) -> Tensor:
        return _ops.MatMul.apply(self, _as_operand(other))

    def __rmatmul__(self, other: Any) -> Tensor:
        return _ops.MatMul.apply(_as_operand(other), self)

    def __neg__(self) -> Tensor:
        return _ops.Neg.apply(self)

    def __pos__(self) -> Tensor:
        return self

    def __abs__(self) -> Tensor:
        return _ops.Abs.apply(self)

    def _compare(self, other: Any, op: Any) -> Tensor:
        other = other.data if isinstance(other, Tensor) else other
        return Tensor._wrap(op(self.data, other))

    def __lt__(self, other: Any) -> Tensor:
        return self._compare(other, np.less)

    def __le__(self, other: Any) -> Tensor:
        return self._compare(other, np.less_equal)

    def __gt__(self, other: Any) -> Tensor:
        return self._compare(other, np.greater)

    def __ge__(self, other: Any) -> Tensor:
        return self._compare(other, np.greater_equal)

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return self._compare(other, np.equal)

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return self._compare(other, np.not_equal)

    def __getitem__(self, idx: Any) -> Tensor:
        return _ops.GetItem.apply(self, idx=_ops._normalise_index(idx))

    # ---------------------------------------------------------------------- reductions
    def sum(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None) -> Tensor:
        """``Σ x`` over ``axis`` (all axes by default)."""
        return _ops.Sum.apply(self, axis=_axis(axis, dim), keepdims=keepdims)

    def mean(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None) -> Tensor:
        """``(1/n) Σ x`` over ``axis``, n the number of elements reduced."""
        axis = _axis(axis, dim)
        n = _count(self.data.shape, axis)
        return _ops.Sum.apply(self, axis=axis, keepdims=keepdims) * (1.0 / n)

    def var(
        self, axis: Any = None, keepdims: bool = False, ddof: int = 0, *, dim: Any = None
    ) -> Tensor:
        """``(1/(n − ddof)) Σ (x − x̄)²`` over ``axis`` (population variance by default)."""
        axis = _axis(axis, dim)
        n = _count(self.data.shape, axis)
        if n - ddof <= 0:
            raise ValueError(f"var: ddof={ddof} leaves no degrees of freedom for n={n}")
        centred = self - self.mean(axis=axis, keepdims=True)
        return (centred * centred).sum(axis=axis, keepdims=keepdims) * (1.0 / (n - ddof))

    def std(
        self, axis: Any = None, keepdims: bool = False, ddof: int = 0, *, dim: Any = None
    ) -> Tensor:
        """``√var`` over ``axis``."""
        return self.var(axis=axis, keepdims=keepdims, ddof=ddof, dim=dim).sqrt()

    def max(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None) -> Tensor:
        """Maximum over ``axis``; ties share the gradient equally."""
        return _ops.Max.apply(self, axis=_axis(axis, dim), keepdims=keepdims)

    def min(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None) -> Tensor:
        """Minimum over ``axis``; ties share the gradient equally."""
        return _ops.Max.apply(self, axis=_axis(axis, dim), keepdims=keepdims, minimum=True)

    def argmax(self, axis: Any = None, *, dim: Any = None) -> Tensor:
        """Index of the maximum (no gradient)."""
        return Tensor._wrap(np.argmax(self.data, axis=_axis(axis, dim)))

    def argmin(self, axis: Any = None, *, dim: Any = None) -> Tensor:
        """Index of the minimum (no gradient)."""
        return Tensor._wrap(np.argmin(self.data, axis=_axis(axis, dim)))

    def logsumexp(self, axis: Any = -1, keepdims: bool = False, *, dim: Any = None) -> Tensor:
        """``log Σ eˣ`` over ``axis``, computed stably."""
        return _ops.LogSumExp.apply(self, axis=_axis(axis, dim), keepdims=keepdims)

    def log_softmax(self, axis: int = -1, *, dim: Any = None) -> Tensor:
        """``x − log Σ eˣ`` over ``axis``, computed stably."""
        return _ops.LogSoftmax.apply(self, axis=_axis(axis, dim))

    def softmax(self, axis: int = -1, *, dim: Any = None) -> Tensor:
        """``eˣ / Σ eˣ`` over ``axis`` (as ``exp(log_softmax(x))``, stable)."""
        return self.log_softmax(axis=axis, dim=dim).exp()

    # -------------------------------------------------------------------------- shapes
    def reshape(self, *shape: Any) -> Tensor:
        """The same data with a new shape (one ``-1`` allowed)."""
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return _ops.Reshape.apply(self, shape=shape)

    view = reshape

    def flatten(self, start_axis: int = 0) -> Tensor:
        """Collapse the axes from ``start_axis`` on into one."""
        lead = self.data.shape[:start_axis]
        return self.reshape(*lead, -1)

    def transpose(self, *axes: Any) -> Tensor:
        """Permute the axes (reverse them when none are given)."""
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        return _ops.Transpose.apply(self, axes=axes or None)

    permute = transpose

    def swapaxes(self, a: int, b: int) -> Tensor:
        """Exchange two axes."""
        perm = list(range(self.data.ndim))
        perm[a], perm[b] = perm[b], perm[a]
        return _ops.Transpose.apply(self, axes=tuple(perm))

    def unsqueeze(self, axis: int) -> Tensor:
        """Insert an axis of length 1 at ``axis``."""
        shape = list(self.data.shape)
        axis = axis % (len(shape) + 1)
        shape.insert(axis, 1)
        return self.reshape(*shape)

    expand_dims = unsqueeze

    def squeeze(self, axis: Any = None) -> Tensor:
        """Remove axes of length 1."""
        return self.reshape(*np.squeeze(self.data, axis=axis).shape)

    def broadcast_to(self, shape: Sequence[int]) -> Tensor:
        """Repeat along axes of length 1 (and new leading axes) to ``shape``."""
        return _ops.BroadcastTo.apply(self, shape=tuple(shape))

    # --------------------------------------------------------------------- elementwise
    def exp(self) -> Tensor:
        """``eˣ``."""
        return _ops.Exp.apply(self)

    def log(self) -> Tensor:
        """Natural logarithm ``ln x``."""
        return _ops.Log.apply(self)

    def log1p(self) -> Tensor:
        """``ln(1 + x)``, accurate near 0."""
        return _ops.Log1p.apply(self)

    def sqrt(self) -> Tensor:
        """``√x``."""
        return _ops.Sqrt.apply(self)

    def sin(self) -> Tensor:
        """``sin x``."""
        return _ops.Sin.apply(self)

    def cos(self) -> Tensor:
        """``cos x``."""
        return _ops.Cos.apply(self)

    def tanh(self) -> Tensor:
        """``tanh x``."""
        return _ops.Tanh.apply(self)

    def sigmoid(self) -> Tensor:
        """``σ(x) = 1 / (1 + e⁻ˣ)``, computed stably."""
        return _ops.Sigmoid.apply(self)

    def relu(self) -> Tensor:
        """``max(x, 0)``."""
        return _ops.Relu.apply(self)

    def abs(self) -> Tensor:
        """``|x|``."""
        return _ops.Abs.apply(self)

    def erf(self) -> Tensor:
        """The error function ``erf x``."""
        return _ops.Erf.apply(self)

    def clip(self, min: Any = None, max: Any = None) -> Tensor:
        """``min(max(x, min), max)``; gradient 1 inside ``[min, max]``, 0 outside."""
        if min is None and max is None:
            raise ValueError("clip: give at least one of min and max")
        return _ops.Clip.apply(self, lo=min, hi=max)

    clamp = clip


def _count(shape: tuple[int, ...], axis: Any) -> int:
    if axis is None:
        return int(np.prod(shape))
    axes = (axis,) if isinstance(axis, int) else axis
    return int(np.prod([shape[a] for a in axes]))


def _as_operand(x: Any) -> Any:
    if isinstance(x, Tensor) or isinstance(x, np.ndarray):
        return x
    return np.asarray(x)


def tensor(data: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Create a Tensor, with ``torch.tensor``'s dtype rules.

    An ndarray keeps its dtype (float64 stays float64); Python floats and lists of them
    become float32 (the default); integer data becomes int64 (class labels; it cannot
    require grad); ``dtype`` overrides. The data are copied.

    Example:
        >>> import numpy as np, chainrule as cr
        >>> cr.tensor([1.0, 2.0]).dtype, cr.tensor(np.zeros(2)).dtype, cr.tensor([1, 2]).dtype
        (dtype('float32'), dtype('float64'), dtype('int64'))
    """
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def where(condition: Any, x: Any, y: Any) -> Tensor:
    """``z = x`` where ``condition`` holds, else ``y`` (broadcasting; no gradient to the condition).

    Example:
        >>> import chainrule as cr
        >>> cr.where(cr.tensor([True, False]), cr.tensor([1.0, 2.0]), 0.0).numpy()
        array([1., 0.], dtype=float32)
    """
    c = condition.data if isinstance(condition, Tensor) else np.asarray(condition)
    return _ops.Where.apply(c, x, y)


def concatenate(tensors: Sequence[Any], axis: int = 0, *, dim: Any = None) -> Tensor:
    """Join tensors along an existing axis; the gradient is split back into the pieces."""
    if len(tensors) == 0:
        raise ValueError("concatenate: need at least one tensor")
    return _ops.Concatenate.apply(*tensors, axis=_axis(axis, dim))


cat = concatenate


def stack(tensors: Sequence[Any], axis: int = 0, *, dim: Any = None) -> Tensor:
    """Join tensors along a new axis (they must share one shape)."""
    if len(tensors) == 0:
        raise ValueError("stack: need at least one tensor")
    axis = _axis(axis, dim)
    shapes = {np.shape(t.data if isinstance(t, Tensor) else t) for t in tensors}
    if len(shapes) != 1:
        raise ValueError(f"stack: all tensors need the same shape, got {sorted(shapes)}")
    expanded = [t.unsqueeze(axis) if isinstance(t, Tensor) else np.expand_dims(t, axis)
                for t in tensors]
    return _ops.Concatenate.apply(*expanded, axis=axis)


def zeros(*shape: Any, dtype: Any = DEFAULT_DTYPE, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return Tensor(np.zeros(shape, dtype=dtype), requires_grad=requires_grad)


def ones(*shape: Any, dtype: Any = DEFAULT_DTYPE, requires_grad: bool = False) -> Tensor:
    """A tensor of ones."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return Tensor(np.ones(shape, dtype=dtype), requires_grad=requires_grad)


from . import autodiff as _autodiff  # noqa: E402
from . import ops as _ops  # noqa: E402


# ``+ - * / **`` call the primitives' one applier directly (a reflected operator swaps the
# operands: ``2 - t`` is ``Sub(2, t)``).
def _operators(fn: Any) -> tuple[Any, Any]:
    apply = fn.apply

    def op(a: Any, b: Any) -> Tensor:
        return apply(a, b)

    def rop(a: Any, b: Any) -> Tensor:
        return apply(b, a)

    return op, rop


for _name, _fn in (
    ("add", _ops.Add), ("sub", _ops.Sub), ("mul", _ops.Mul), ("truediv", _ops.Div),
    ("pow", _ops.Pow),
):
    _op, _rop = _operators(_fn)
    setattr(Tensor, f"__{_name}__", _op)
    setattr(Tensor, f"__r{_name}__", _rop)
del _name, _fn, _op, _rop
