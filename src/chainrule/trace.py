"""Traced training steps: record one eager step, replay it on new data with fixed buffers.

:func:`compile_step` turns the four lines of a training step::

    optimizer.zero_grad()
    loss = loss_fn(model(x), y)
    loss.backward()
    optimizer.step()

into a callable ``step(x, y) -> loss``. For each input signature (the shapes and dtypes of
``x`` and ``y`` and the train/eval mode of every module) the first calls run the step
eagerly while recording the primitives applied (every :class:`~chainrule.ops.Function`
call, with its inputs). Once two recorded steps on different data agree, the step is
*compiled*: a flat list of NumPy calls, each writing into a buffer allocated once,

- forward: one call (or a few) per primitive; shape-only operations (reshape, transpose,
  broadcast) become views of the buffers, computed once and free afterwards;
- backward: the formulas of the eager backward pass, node by node in the order of the
  eager graph walk, gradient contributions summed in the same order — so the replay gives
  the eager step's numbers (to the last bit, up to BLAS rounding on other layouts);
- the optimiser update: SGD (with momentum, Nesterov, weight decay), Adam and AdamW run
  in place with preallocated temporaries, the same operations as their ``step()``; any
  other optimiser's ``step()`` is called as is. The parameters of each optimiser group
  are *packed*: their ``.data`` become views into one flat array (the Parameter objects
  stay the same), and so do their gradients and the optimiser's state, so the update is a
  dozen NumPy calls for the whole group rather than a dozen per parameter.

Later calls with that signature copy ``x`` and ``y`` into the input buffers and run the
list: no Tensor, no graph node, no graph walk, no allocation per step. A new signature
(for example the smaller last batch of an epoch) is recorded and compiled the same way;
the eager step runs meanwhile.

What is checked, so that the replay is the eager step and never something else:

- every value that enters a primitive is classified as the input ``x`` or ``y``, a
  parameter or buffer of the model or optimiser (read live at every replay; the replay
  stops if a parameter's array is replaced or its ``requires_grad`` changes), the output
  of an earlier primitive, or a *constant*; constants must be equal in both recorded
  steps (a dropout mask, or an array computed from ``y`` outside the primitives, is not:
  such a step stays eager);
- module buffers must not change during a step (BatchNorm's running statistics in
  training mode do: such a step stays eager);
- integer class labels are checked against the number of classes before each replay
  (a bad label runs the eager step, which raises the usual error).

What is not checked (as with ``torch.jit.trace``): Python control flow that depends on
the *values* of tensors is frozen at the recorded branch, and changing the model's
structure (adding layers) after compiling needs a new ``compile_step``.

Example:
    >>> import numpy as np, chainrule as cr
    >>> from chainrule import nn, optim
    >>> from chainrule.nn import functional as F
    >>> from chainrule.trace import compile_step
    >>> model = nn.Sequential(nn.Linear(4, 8, seed=0), nn.ReLU(), nn.Linear(8, 3, seed=1))
    >>> opt = optim.SGD(model.parameters(), lr=0.1)
    >>> step = compile_step(model, F.mse_loss, opt)
    >>> rng = np.random.default_rng(0)
    >>> for _ in range(5):
    ...     x = rng.standard_normal((16, 4)).astype(np.float32)
    ...     loss = step(x, np.tanh(x[:, :3]))
    >>> step.stats["replayed"], loss.shape
    (3, ())
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from . import ops
from .autodiff import _state, _toposort
from .optim.adam import adam_hyperparameters, adam_step_parameter, adam_update
from .optim.sgd import sgd_hyperparameters, sgd_update
from .tensor import Tensor, _convert

__all__ = ["CompiledStep", "compile_step"]

_new = object.__new__

# shape-only primitives: when the output is a view of the input it is computed once
_VIEW_OPS = (ops.Reshape, ops.Transpose, ops.BroadcastTo, ops.GetItem)


class _UntraceableError(Exception):
    """The recorded step cannot be replayed faithfully (the message says why)."""


# ----------------------------------------------------------------------------- recording


class _Ref:
    """Where a value entering a primitive comes from: ``kind`` is ``"x"``, ``"y"``,
    ``"live"`` (index into the live tensors), ``"op"`` (index of the tape entry whose
    output it is) or ``"const"`` (``value``); ``tensor`` says whether it was a Tensor."""

    __slots__ = ("kind", "tensor", "value")

    def __init__(self, kind: str, value: Any, tensor: bool) -> None:
        self.kind = kind
        self.value = value
        self.tensor = tensor


class _Entry:
    """One recorded primitive call: its class, inputs, parameters, and whether the output
    requires grad (is part of the graph)."""

    __slots__ = ("cls", "params", "refs", "requires_grad")

    def __init__(self, cls: type, refs: list[_Ref], params: dict, requires_grad: bool):
        self.cls = cls
        self.refs = refs
        self.params = params
        self.requires_grad = requires_grad


class _Recording:
    """What one recorded step did, without holding on to its tensors."""

    __slots__ = ("entries", "live", "loss", "order", "x", "y")

    def __init__(self, entries, loss, order, x, y, live):
        self.live = live  # the live tensors the "live" references index
        self.entries: list[_Entry] = entries
        self.loss: int = loss
        self.order: list[tuple[str, int]] = order  # graph-walk order, parents first
        self.x = x
        self.y = y


def _same(a: Any, b: Any) -> bool:
    """Whether two recorded constants or parameters are the same value."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)):
            return False
        if a.dtype != b.dtype or a.shape != b.shape:
            return False
        return bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
    if isinstance(a, (tuple, list)):
        return (type(a) is type(b) and len(a) == len(b)
                and all(_same(u, v) for u, v in zip(a, b)))
    if isinstance(a, dict):
        return (isinstance(b, dict) and a.keys() == b.keys()
                and all(_same(a[k], b[k]) for k in a))
    if isinstance(a, slice):
        return isinstance(b, slice) and _same((a.start, a.stop, a.step),
                                              (b.start, b.stop, b.step))
    if type(a) is not type(b):
        return False
    try:
        return bool(a == b) or (a != a and b != b)
    except Exception:  # pragma: no cover - exotic objects
        return a is b


def _agree(r1: _Recording, r2: _Recording) -> str | None:
    """None if the two recordings describe the same computation, else why not."""
    if len(r1.entries) != len(r2.entries):
        return f"the steps applied {len(r1.entries)} and {len(r2.entries)} primitives"
    if r1.live is not r2.live:
        return "the model's or optimiser's parameters changed between the recorded steps"
    if r1.loss != r2.loss or r1.order != r2.order:
        return "the graphs of the two recorded steps differ"
    for k, (e1, e2) in enumerate(zip(r1.entries, r2.entries)):
        name = f"primitive {k} ({e1.cls.__name__})"
        if e1.cls is not e2.cls or e1.requires_grad != e2.requires_grad:
            return f"{name} differs between the recorded steps"
        if len(e1.refs) != len(e2.refs):
            return f"{name} had different inputs"
        for a, b in zip(e1.refs, e2.refs):
            if a.kind != b.kind or a.tensor != b.tensor:
                return f"{name} had inputs of different origin"
            if a.kind == "const" and not _same(a.value, b.value):
                return (f"{name} uses a constant that changed between steps (computed from "
                        "the data or random, outside the primitives)")
            if a.kind != "const" and a.value != b.value:
                return f"{name} had inputs of different origin"
        if not _same(e1.params, e2.params):
            return f"{name} had different parameters"
    return None


# ----------------------------------------------------------------------------- emitting


def _copy_call(buf: np.ndarray, fn: Callable, args: tuple) -> None:
    np.copyto(buf, fn(*args))


def _run_fwd(buf, fwd, ctx, ins, params) -> None:
    np.copyto(buf, fwd(ctx, *ins, **params))


def _run_bwd(bwd, ctx, out, g, copies) -> None:
    ctx.out = out
    gs = bwd(ctx, g)
    if type(gs) is not tuple:
        gs = (gs,)
    for i, buf in copies:
        np.copyto(buf, gs[i])


def _owned(res: Any) -> np.ndarray:
    """``res`` as an array this program owns (a fresh result is kept, anything else copied)."""
    if type(res) is np.ndarray and res.base is None and res.flags.writeable:
        return res
    return np.array(res)


class _Emitter:
    """Builds the instruction list. Every instruction is executed once as it is emitted
    (that is how each buffer gets its shape, dtype and layout: those of the eager result)."""

    def __init__(self) -> None:
        self.prog: list[tuple[Callable, tuple]] = []
        self.checks: list[Callable[[], bool]] = []
        self.outputs: set[int] = set()  # ids of the buffers instructions write

    def emit(self, fn: Callable, args: tuple, *outputs: np.ndarray) -> None:
        self.prog.append((fn, args))
        self.outputs.update(id(o) for o in outputs)

    def ufunc(self, f: Callable, *args: Any) -> np.ndarray:
        """``f(*args)`` into a new buffer (``f`` takes the output as last positional)."""
        buf = _owned(f(*args))
        self.emit(f, (*args, buf), buf)
        return buf

    def inplace(self, f: Callable, a: np.ndarray, b: Any) -> np.ndarray:
        f(a, b, a)
        self.prog.append((f, (a, b, a)))
        return a

    def reduce(self, uf: Any, x: np.ndarray, axes: Any, keepdims: bool) -> np.ndarray:
        buf = _owned(uf.reduce(x, axis=axes, keepdims=keepdims))
        self.emit(uf.reduce, (x, axes, None, buf, keepdims), buf)
        return buf

    def view(self, fn: Callable, src: np.ndarray, *extra: Any) -> np.ndarray:
        """``fn(src, …)``: a fixed view if it is one, else recomputed into a buffer."""
        res = fn(src, *extra)
        if isinstance(res, np.ndarray) and np.may_share_memory(res, src):
            return res
        buf = np.array(res)
        self.emit(_copy_call, (buf, fn, (src, *extra)), buf)
        return buf


def _reshape(a: np.ndarray, shape: tuple) -> np.ndarray:
    return a.reshape(shape)


def _unbroadcast(em: _Emitter, g: np.ndarray, shape: tuple) -> np.ndarray:
    """:func:`chainrule.ops.unbroadcast` on buffers (the same sum, the same reshape)."""
    if g.shape == shape:
        return g
    axes = ops.broadcast_axes(g.shape, shape)
    if axes:
        g = em.reduce(np.add, g, axes, True)
    return em.view(_reshape, g, shape)


# ------------------------------------------------------------------------------ lowering
#
# A lowering mirrors a primitive's forward and backward (first-order, on ndarrays) as calls
# into fixed buffers; the operations and their order are those of chainrule.ops, so the
# numbers are the same. Primitives without a lowering run their own forward/backward
# (generic path) and copy the results into buffers.


class _Node:
    """A primitive of the compiled program: input homes, output home, generic context."""

    __slots__ = ("cls", "ctx", "ins", "needs", "out", "params", "standins")

    def __init__(self, cls, ins, params, needs):
        self.cls = cls
        self.ins = ins
        self.params = params
        self.needs = needs
        self.ctx = None
        self.out = None
        self.standins = None


def _fwd_generic(em: _Emitter, node: _Node) -> np.ndarray:
    ctx = _new(node.cls)
    res = node.cls.forward(ctx, *node.ins, **node.params)
    if not isinstance(res, np.ndarray):
        res = np.asarray(res)
    node.ctx = ctx
    if issubclass(node.cls, _VIEW_OPS) and any(
        isinstance(h, np.ndarray) and np.may_share_memory(res, h) for h in node.ins
    ):
        return res
    buf = np.array(res)
    em.emit(_run_fwd, (buf, node.cls.forward, ctx, node.ins, node.params), buf)
    return buf


def _bwd_generic(em: _Emitter, node: _Node, g: np.ndarray) -> list[Any]:
    ctx = node.ctx
    if ctx is None:  # pragma: no cover - every lowered forward has a lowered backward
        raise _UntraceableError(f"{node.cls.__name__}: no context for the backward pass")
    ctx.parents = node.standins
    ctx.out = node.out
    gs = node.cls.backward(ctx, g)
    if type(gs) is not tuple:
        gs = (gs,)
    result: list[Any] = [None] * len(node.ins)
    copies = []
    for i, gp in enumerate(gs):
        if gp is None or i >= len(node.needs) or not node.needs[i]:
            continue
        if np.shape(gp) != np.shape(node.ins[i]):
            raise _UntraceableError(
                f"{node.cls.__name__}.backward returned a gradient of shape {np.shape(gp)} "
                f"for an input of shape {np.shape(node.ins[i])}"
            )
        if (issubclass(node.cls, _VIEW_OPS) and isinstance(gp, np.ndarray)
                and np.may_share_memory(gp, g)):
            result[i] = gp
            continue
        buf = np.array(gp)
        copies.append((i, buf))
        result[i] = buf
    if copies:
        em.emit(_run_bwd, (node.cls.backward, ctx, node.out, g, tuple(copies)),
                *(b for _, b in copies))
    return result


def _fwd_ufunc(f: Callable) -> Callable:
    def lower(em: _Emitter, node: _Node) -> np.ndarray:
        return em.ufunc(f, *node.ins)
    return lower


def _bwd_add(em, node, g):
    x, y = node.ins
    return [
        _unbroadcast(em, g, np.shape(x)) if node.needs[0] else None,
        _unbroadcast(em, g, np.shape(y)) if node.needs[1] else None,
    ]


def _bwd_sub(em, node, g):
    x, y = node.ins
    gy = None
    if node.needs[1]:
        gy = _unbroadcast(em, em.ufunc(np.negative, g), np.shape(y))
    return [_unbroadcast(em, g, np.shape(x)) if node.needs[0] else None, gy]


def _bwd_mul(em, node, g):
    x, y = node.ins
    return [
        _unbroadcast(em, em.ufunc(np.multiply, g, y), np.shape(x)) if node.needs[0] else None,
        _unbroadcast(em, em.ufunc(np.multiply, g, x), np.shape(y)) if node.needs[1] else None,
    ]


def _bwd_div(em, node, g):
    x, y = node.ins
    gx = gy = None
    if node.needs[0]:
        gx = _unbroadcast(em, em.ufunc(np.divide, g, y), np.shape(x))
    if node.needs[1]:  # −g ⊙ x / (y ⊙ y), in the eager order
        t = em.ufunc(np.multiply, em.ufunc(np.negative, g), x)
        gy = _unbroadcast(em, em.ufunc(np.divide, t, em.ufunc(np.multiply, y, y)), np.shape(y))
    return [gx, gy]


def _bwd_neg(em, node, g):
    return [em.ufunc(np.negative, g)]


def _fwd_matmul(em, node):
    x, y = node.ins
    if not (np.ndim(x) == 2 and np.ndim(y) == 2):
        return _fwd_generic(em, node)
    return em.ufunc(np.matmul, x, y)


def _bwd_matmul(em, node, g):
    if node.ctx is not None:  # not 2-D @ 2-D: the generic forward ran
        return _bwd_generic(em, node, g)
    x, y = node.ins
    return [
        em.ufunc(np.matmul, g, y.T) if node.needs[0] else None,
        em.ufunc(np.matmul, x.T, g) if node.needs[1] else None,
    ]


def _fwd_linear(em, node):
    x, W, b = node.ins if len(node.ins) == 3 else (*node.ins, None)
    z = em.ufunc(np.matmul, x, W.T)
    if b is not None:
        z = em.inplace(np.add, z, b) if z.ndim else em.ufunc(np.add, z, b)
    return z


def _bwd_linear(em, node, g):
    x, W = node.ins[0], node.ins[1]
    n_out, n_in = W.shape
    needs = (*node.needs, False, False)
    gx = gW = gb = None
    if needs[0]:
        gx = em.ufunc(np.matmul, g, W)
    if needs[1]:
        g2 = em.view(_reshape, g, (-1, n_out))
        gW = em.ufunc(np.matmul, g2.T, em.view(_reshape, x, (-1, n_in)))
    if needs[2]:
        gb = em.reduce(np.add, em.view(_reshape, g, (-1, n_out)), 0, False)
    return [gx, gW, gb][: len(node.ins)]


def _bwd_exp(em, node, g):
    return [em.ufunc(np.multiply, g, node.out)]


def _bwd_log(em, node, g):
    return [em.ufunc(np.divide, g, node.ins[0])]


def _bwd_tanh(em, node, g):  # g ⊙ (1 − z²)
    z = node.out
    return [em.ufunc(np.multiply, g, em.ufunc(np.subtract, 1.0, em.ufunc(np.multiply, z, z)))]


def _fwd_sigmoid(em, node):
    ops._expit(np.zeros(1))  # resolve the implementation
    if ops._EXPIT[0] is False:  # pragma: no cover - no SciPy: the NumPy formula, generic
        return _fwd_generic(em, node)
    return em.ufunc(ops._EXPIT[0], node.ins[0])


def _bwd_sigmoid(em, node, g):  # g ⊙ z ⊙ (1 − z)
    if node.ctx is not None:  # pragma: no cover - NumPy fallback ran generically
        return _bwd_generic(em, node, g)
    z = node.out
    return [em.ufunc(np.multiply, em.ufunc(np.multiply, g, z), em.ufunc(np.subtract, 1.0, z))]


def _relu(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0, out=out)


def _relu0(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0)


def _fwd_relu(em, node):
    x = node.ins[0]
    buf = _owned(_relu0(x))
    _relu(x, buf)
    em.emit(_relu, (x, buf), buf)
    return buf


def _bwd_relu(em, node, g):  # g ⊙ [z > 0]
    return [em.ufunc(np.multiply, g, em.ufunc(np.greater, node.out, 0))]


def _fwd_sum(em, node):
    x = node.ins[0]
    axes = ops._axes(node.params.get("axis"), np.ndim(x))
    return em.reduce(np.add, x, axes, bool(node.params.get("keepdims", False)))


def _bwd_sum(em, node, g):
    shape = np.shape(node.ins[0])
    axes = ops._axes(node.params.get("axis"), len(shape))
    gk = em.view(_reshape, g, ops._keepdims_shape(shape, axes))
    return [np.broadcast_to(gk, shape)]


def _fwd_softmax_xent(em, node):
    """SoftmaxCrossEntropy.forward on buffers; the label gather ``shifted[rows, y]`` as a
    ``take`` at the flat indices ``rows·C + y``."""
    x, y = node.ins[0], node.ins[1]
    reduction = node.params.get("reduction", "mean")
    if not (isinstance(y, np.ndarray) and np.ndim(x) == 2 and x.flags.c_contiguous
            and y.ndim == 1 and y.size and y.dtype.kind == "i"):
        return _fwd_generic(em, node)
    n, n_classes = x.shape
    em.checks.append(lambda: y.min() >= 0 and y.max() < n_classes)
    m = em.reduce(np.maximum, x, 1, True)
    shifted = em.ufunc(np.subtract, x, m)
    e = em.ufunc(np.exp, shifted)
    s = em.reduce(np.add, e, 1, True)
    flat = em.ufunc(np.add, np.arange(n) * n_classes, y)  # rows·C + y
    picked = _take(em, shifted.reshape(-1), flat)
    total = em.reduce(np.add, em.ufunc(np.subtract, em.ufunc(np.log, s[:, 0]), picked),
                      None, False)
    em.inplace(np.divide, e, s)  # the softmax, kept for the backward pass
    scale = 1.0 / n if reduction == "mean" else 1.0
    node.params = {"_softmax": e, "_flat": flat, "_scale": scale}
    return em.ufunc(np.multiply, total, scale) if reduction == "mean" else total


def _take(em: _Emitter, a: np.ndarray, idx: np.ndarray) -> np.ndarray:
    buf = np.take(a, idx)
    em.emit(np.take, (a, idx, None, buf), buf)
    return buf


def _bwd_softmax_xent(em, node, g):
    if "_softmax" not in node.params:
        return _bwd_generic(em, node, g)
    e, flat, scale = node.params["_softmax"], node.params["_flat"], node.params["_scale"]
    d = np.array(e)  # d = softmax.copy(); d[rows, y] -= 1; d *= g·scale
    em.emit(np.copyto, (d, e), d)
    d_flat = d.reshape(-1)
    picked = _take(em, d_flat, flat)
    em.inplace(np.subtract, picked, 1)
    np.put(d_flat, flat, picked)
    em.emit(np.put, (d_flat, flat, picked))
    em.inplace(np.multiply, d, em.ufunc(np.multiply, g, scale))
    return [d, None]


_LOWER: dict[type, tuple[Callable, Callable]] = {
    ops.Add: (_fwd_ufunc(np.add), _bwd_add),
    ops.Sub: (_fwd_ufunc(np.subtract), _bwd_sub),
    ops.Mul: (_fwd_ufunc(np.multiply), _bwd_mul),
    ops.Div: (_fwd_ufunc(np.divide), _bwd_div),
    ops.Neg: (_fwd_ufunc(np.negative), _bwd_neg),
    ops.MatMul: (_fwd_matmul, _bwd_matmul),
    ops.Linear: (_fwd_linear, _bwd_linear),
    ops.Exp: (_fwd_ufunc(np.exp), _bwd_exp),
    ops.Log: (_fwd_ufunc(np.log), _bwd_log),
    ops.Tanh: (_fwd_ufunc(np.tanh), _bwd_tanh),
    ops.Sigmoid: (_fwd_sigmoid, _bwd_sigmoid),
    ops.Relu: (_fwd_relu, _bwd_relu),
    ops.Sum: (_fwd_sum, _bwd_sum),
    ops.SoftmaxCrossEntropy: (_fwd_softmax_xent, _bwd_softmax_xent),
}


# ----------------------------------------------------------------------------- optimiser


class _GenericUpdate:
    """Any optimiser: its own ``step()`` on the gradients the replay left in ``.grad``."""

    def __init__(self, opt: Any) -> None:
        self.opt = opt

    def __call__(self) -> None:
        self.opt.step()


# Parameter packing. An update touching every parameter separately costs a dozen NumPy
# calls per parameter; with the parameters of a group stored as views into one flat array
# (and their gradients and optimiser state likewise), the update is a dozen calls for the
# whole group, whatever the number of parameters — elementwise, so the numbers do not
# change. The Parameter objects are kept; their ``.data`` become views of the flat array.

_STATE_KEYS = {"sgd": ("momentum_buffer",), "adam": ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")}


_ALIGN = 64  # bytes
_CHUNK = 32768  # elements per piece of a large elementwise update (128-256 KiB)


def _aligned_zeros(n: int, dtype: np.dtype) -> np.ndarray:
    """``np.zeros(n, dtype)`` starting on a 64-byte boundary."""
    pad = _ALIGN // dtype.itemsize
    raw = np.zeros(n + pad, dtype)
    start = (-raw.ctypes.data % _ALIGN) // dtype.itemsize
    return raw[start:start + n]


class _Scratch:
    """The temporaries of an update (shaped like ``like``), allocated on first use."""

    __slots__ = ("_a", "_b", "_c", "like")

    def __init__(self, like: np.ndarray) -> None:
        self.like = like
        self._a = self._b = self._c = None

    @property
    def chunk(self) -> np.ndarray:
        if self._c is None:
            self._c = np.empty(_CHUNK, self.like.dtype)
        return self._c

    @property
    def a(self) -> np.ndarray:
        if self._a is None:
            self._a = np.empty_like(self.like)
        return self._a

    @property
    def b(self) -> np.ndarray:
        if self._b is None:
            self._b = np.empty_like(self.like)
        return self._b


class _Pack:
    """One parameter group stored flat: ``theta`` (the parameters), ``grad`` and the
    optimiser's state arrays, each a 1-D array whose slices are the per-parameter views."""

    def __init__(self, params: list[Any], state: dict, keys: tuple[str, ...]) -> None:
        dtype = params[0].data.dtype
        per_line = max(1, _ALIGN // dtype.itemsize)  # each slice starts on a cache line
        slices = []
        n = 0
        for p in params:
            slices.append((n, p.data.size, p.data.shape))
            n += -(-p.data.size // per_line) * per_line
        self.params = params
        self._n, self._dtype = n, dtype
        self.theta = _aligned_zeros(n, dtype)  # the gaps stay 0 in every flat array
        self.grad = _aligned_zeros(n, dtype)
        self.scratch = _Scratch(self.theta)
        self.flat: dict[str, np.ndarray] = {}
        self.views: list[tuple[Any, np.ndarray]] = []  # (param, data view)
        self.gviews: dict[int, np.ndarray] = {}
        self.sviews: list[tuple[dict, str, np.ndarray]] = []  # (state of p, key, view)
        self.states = [state[p] for p in params]
        for p, (off, size, shape) in zip(params, slices):
            v = self.theta[off:off + size].reshape(shape)
            v[...] = p.data
            p.data = v
            self.views.append((p, v))
            self.gviews[id(p)] = self.grad[off:off + size].reshape(shape)
        self._slices = slices
        for key in keys:
            if all(key in st and st[key] is not None for st in self.states):
                self.add_state(key)

    def add_state(self, key: str, fill: Any = None) -> None:
        flat = _aligned_zeros(self._n, self._dtype)
        for st, (off, size, shape) in zip(self.states, self._slices):
            v = flat[off:off + size].reshape(shape)
            if fill is None:
                v[...] = st[key]
            else:
                v[...] = fill
            st[key] = v
            self.sviews.append((st, key, v))
        self.flat[key] = flat

    def valid(self, opt_state: dict | None = None) -> bool:
        """Whether the parameters and optimiser state still live in the flat arrays."""
        for p, v in self.views:
            if p.data is not v:
                return False
        if opt_state is not None:
            for p, st in zip(self.params, self.states):
                if opt_state.get(p) is not st:
                    return False
        for st, key, v in self.sviews:
            if st.get(key) is not v:
                return False
        return True


class _GroupUpdate:
    """An optimiser's step on fixed buffers: per group, the packed flat arrays (if any) and,
    per parameter, its array, gradient and scratch buffers."""

    def __init__(self, opt: Any, groups: list[tuple[Any, _Pack | None, list]]) -> None:
        self.opt = opt
        self.groups = [
            (group, pack, [(p, theta, g, _Scratch(theta)) for p, theta, g in items])
            for group, pack, items in groups
        ]


class _SGDUpdate(_GroupUpdate):
    """``optim.SGD.step`` on fixed buffers: the same in-place operations, in the same order
    (on the flat arrays of a packed group, or parameter by parameter)."""

    def __call__(self) -> None:
        state = self.opt.state
        for group, pack, items in self.groups:
            hp = sgd_hyperparameters(group)
            momentum = hp[1]
            if pack is not None and pack.valid(state) and (
                momentum == 0 or "momentum_buffer" in pack.flat
            ):
                _sgd(pack.theta, pack.grad, pack.flat, pack.scratch, hp)
                continue
            for p, theta, g, scratch in items:
                st = state.setdefault(p, {}) if momentum != 0 else None
                _sgd(theta, g, st, scratch, hp)


def _sgd(theta, g, state, scratch, hp):
    """One SGD update in place: ``optim.sgd.sgd_update`` on the step's scratch buffers, and
    the plain update ``θ −= lr·g`` of a large packed group in cache-sized pieces."""
    lr, momentum, _, weight_decay, _ = hp
    if momentum == 0 and weight_decay == 0 and theta.ndim == 1 and theta.size > 2 * _CHUNK:
        # in cache-sized pieces: lr·g never travels to memory and back
        tmp = scratch.chunk
        for i in range(0, theta.size, _CHUNK):
            t = theta[i:i + _CHUNK]
            tc = tmp[: t.size]
            np.multiply(g[i:i + _CHUNK], lr, tc)
            np.subtract(t, tc, t)
        return
    sgd_update(theta, g, state, hp, scratch.a, scratch.b)


class _AdamUpdate(_GroupUpdate):
    """``optim.Adam.step`` (and AdamW's) on fixed buffers, the same operations in order (on
    the flat arrays of a packed group, or parameter by parameter)."""

    def __call__(self) -> None:
        state_of = self.opt.state
        for group, pack, items in self.groups:
            hp = adam_hyperparameters(group)
            amsgrad = hp[5]
            if pack is not None and pack.valid(state_of) and "exp_avg" in pack.flat:
                steps = [st["step"] for st in pack.states]
                t = steps[0] + 1
                if all(s == t - 1 for s in steps):
                    for st in pack.states:
                        st["step"] = t
                    if amsgrad and "max_exp_avg_sq" not in pack.flat:
                        pack.add_state("max_exp_avg_sq", 0)
                    adam_update(pack.theta, pack.grad, pack.flat, t, hp, pack.scratch.a,
                                pack.scratch.b)
                    continue
            for p, theta, g, scratch in items:
                adam_step_parameter(theta, g, state_of.setdefault(p, {}), hp, scratch.a,
                                    scratch.b)


def _optimizer_kind(opt: Any) -> str | None:
    """``"sgd"`` or ``"adam"`` for the optimisers with a lowered update, else None."""
    try:
        from .optim.adam import Adam, AdamW
        from .optim.sgd import SGD, Momentum
    except ImportError:  # pragma: no cover
        return None
    if type(opt) in (SGD, Momentum):
        return "sgd"
    if type(opt) in (Adam, AdamW):
        return "adam"
    return None


# ------------------------------------------------------------------------------- program


def _same_params(a: list, b: list) -> bool:
    return len(a) == len(b) and all(u is v for u, v in zip(a, b))


def _arrays_in(obj: Any):
    """Every ndarray in an instruction's arguments (through tuples and lists)."""
    if isinstance(obj, np.ndarray):
        yield obj
    elif isinstance(obj, (tuple, list)):
        for o in obj:
            yield from _arrays_in(o)


def _renameable(buf: np.ndarray, em: _Emitter, loss: np.ndarray) -> bool:
    """Whether ``buf`` can be replaced by another array of its shape and dtype everywhere
    in the program: an instruction writes it (it is not a constant, a view or a
    parameter) and no instruction holds a view of it."""
    prog = em.prog
    if (id(buf) not in em.outputs or buf.base is not None or not buf.flags.writeable
            or buf is loss):
        return False
    for _, args in prog:
        for a in _arrays_in(args):
            if a.base is buf:
                return False
    return True


def _substitute(obj: Any, mapping: dict[int, np.ndarray]) -> Any:
    if isinstance(obj, np.ndarray):
        return mapping.get(id(obj), obj)
    if isinstance(obj, tuple):
        return tuple(_substitute(o, mapping) for o in obj)
    if isinstance(obj, list):
        return [_substitute(o, mapping) for o in obj]
    return obj


class _Program:
    """One compiled step: input buffers, the instruction list, the optimiser update."""

    def __init__(self, step: CompiledStep, rec: _Recording) -> None:
        self.step = step
        self.xbuf = np.array(rec.x)
        self.ybuf = np.array(rec.y)
        live = step._live
        opt = step.optimizer
        kind = _optimizer_kind(opt)
        with_grad = {id(live[i]) for k, i in rec.order if k == "live"}
        packs = step._packs_for(kind, with_grad) if kind is not None else {}
        # (packing may have re-homed parameters: read .data only now)
        self.live = [(t, t.data, t.requires_grad) for t in live]
        self.groups = [(g, g["params"], len(g["params"])) for g in opt.param_groups]
        em = _Emitter()
        homes: list[Any] = []

        def home(ref: _Ref) -> Any:
            if ref.kind == "op":
                return homes[ref.value]
            if ref.kind == "live":
                return live[ref.value].data
            if ref.kind == "x":
                return self.xbuf
            if ref.kind == "y":
                return self.ybuf
            return ref.value.data if isinstance(ref.value, Tensor) else ref.value

        def needs(ref: _Ref) -> bool:
            if ref.kind == "op":
                return rec.entries[ref.value].requires_grad
            if ref.kind == "live":
                return bool(self.live[ref.value][2])
            return False

        nodes: list[_Node] = []
        with np.errstate(all="ignore"):
            for e in rec.entries:
                ins = tuple(home(r) for r in e.refs)
                node = _Node(e.cls, ins, e.params, tuple(needs(r) for r in e.refs))
                fwd = _LOWER.get(e.cls, (_fwd_generic, _bwd_generic))[0]
                node.out = fwd(em, node)
                node.standins = tuple(
                    _standin(h, n) if r.tensor else h for h, n, r in zip(ins, node.needs, e.refs)
                )
                homes.append(node.out)
                nodes.append(node)
            self.loss = homes[rec.loss]
            grads = self._backward(em, rec, nodes)
        # each gradient, in its parameter's dtype (as the optimiser reads it), goes where the
        # update reads it: the flat gradient of a packed group, else its own buffer
        rename: dict[int, np.ndarray] = {}
        final: dict[int, np.ndarray] = {}
        for group in opt.param_groups:
            for p in group["params"]:
                g = grads.get(id(p))
                if g is None:
                    continue
                pack = packs.get(id(p))
                target = pack.gviews[id(p)] if pack is not None else None
                if g.dtype != p.data.dtype:
                    cast = target if target is not None else np.empty(g.shape, p.data.dtype)
                    em.prog.append((np.copyto, (cast, g)))
                    g = cast
                elif target is not None:
                    if _renameable(g, em, self.loss) and id(g) not in rename:
                        rename[id(g)] = target
                    else:
                        em.prog.append((np.copyto, (target, g)))
                    g = target
                final[id(p)] = g
        self.prog = _substitute(em.prog, rename) if rename else em.prog
        self.checks = em.checks
        self.grad_tensors = [
            (p, Tensor._wrap(final[id(p)]) if id(p) in final else None)
            for group in opt.param_groups for p in group["params"]
        ]
        if kind is None:
            self.update = _GenericUpdate(opt)
        else:
            groups = []
            for group in opt.param_groups:
                items = [(p, p.data, final[id(p)]) for p in group["params"] if id(p) in final]
                pack = packs.get(id(group["params"][0])) if group["params"] else None
                groups.append((group, pack, items))
            self.update = (_SGDUpdate if kind == "sgd" else _AdamUpdate)(opt, groups)

    def _backward(self, em: _Emitter, rec: _Recording, nodes: list[_Node]) -> dict[int, Any]:
        """Emit the backward pass exactly as autodiff._run_backward walks it."""
        live = self.step._live
        seed = np.ones_like(self.loss)
        grads: dict[tuple[str, int], tuple[np.ndarray, bool]] = {("op", rec.loss): (seed, False)}
        result: dict[int, Any] = {}
        for key in reversed(rec.order):
            entry = grads.pop(key, None)
            if entry is None:
                continue
            g = entry[0]
            kind, idx = key
            if kind == "live":
                result[id(live[idx])] = g
                continue
            node = nodes[idx]
            bwd = _LOWER.get(node.cls, (_fwd_generic, _bwd_generic))[1]
            gs = bwd(em, node, g)
            for ref, gp, need in zip(rec.entries[idx].refs, gs, node.needs):
                if gp is None or not need:
                    continue
                pkey = (ref.kind, ref.value)
                prev = grads.get(pkey)
                if prev is None:
                    grads[pkey] = (gp, False)
                elif prev[1] and np.result_type(prev[0], gp) == prev[0].dtype:
                    em.inplace(np.add, prev[0], gp)
                else:
                    grads[pkey] = (em.ufunc(np.add, prev[0], gp), True)
        return result

    def guard(self) -> bool:
        """Whether the program still describes the step (parameters not replaced, …)."""
        if not _state.enabled or _state.tape is not None:
            return False
        for t, arr, rg in self.live:
            if t.data is not arr or t.requires_grad is not rg:
                return False
        groups = self.step.optimizer.param_groups
        if len(groups) != len(self.groups):
            return False
        for group, (g, params, n) in zip(groups, self.groups):
            if group is not g or group["params"] is not params or len(params) != n:
                return False
        return True

    def run(self, x: np.ndarray, y: np.ndarray) -> Tensor | None:
        np.copyto(self.xbuf, x)
        np.copyto(self.ybuf, y)
        for check in self.checks:
            if not check():
                return None
        for fn, args in self.prog:
            fn(*args)
        for p, g in self.grad_tensors:
            p.grad = g
        self.update()
        return Tensor._wrap(np.array(self.loss))


def _standin(home: Any, requires_grad: bool) -> Tensor:
    t = Tensor._wrap(home)
    t.requires_grad = requires_grad
    return t


# -------------------------------------------------------------------------------- public


class CompiledStep:
    """A training step ``step(x, y) -> loss``, recorded once and replayed (see the module
    docstring). Create it with :func:`compile_step`.

    Attributes:
        stats: counts of ``"eager"`` steps (recording, fallback), ``"replayed"`` steps and
            ``"compiled"`` programs.
        untraceable: for each input signature that stays eager, the reason.
    """

    max_programs = 16

    def __init__(self, model: Any, loss_fn: Callable, optimizer: Any) -> None:
        self.model = model
        self.loss_fn = loss_fn
        self.optimizer = optimizer
        self._modules = list(model.modules()) if hasattr(model, "modules") else []
        self._refresh_live()
        self._programs: dict[Any, _Program] = {}
        self._packs: list[_Pack] = []
        self._pending: dict[Any, _Recording] = {}
        self.untraceable: dict[Any, str] = {}
        self._rejected_at: dict[Any, Any] = {}
        self.stats = {"eager": 0, "replayed": 0, "compiled": 0}

    def __call__(self, x: Any, y: Any) -> Tensor:
        """One training step on the batch ``(x, y)``; returns the loss (a 0-d Tensor)."""
        xa = _array(x)
        ya = _array(y)
        key = (xa.shape, xa.dtype, ya.shape, ya.dtype,
               tuple([m.training for m in self._modules]))
        prog = self._programs.get(key)
        if prog is not None:
            if prog.guard():
                loss = prog.run(xa, ya)
                if loss is not None:
                    self.stats["replayed"] += 1
                    return loss
            else:
                del self._programs[key]
        return self._eager(key, xa, ya)

    def _structure(self) -> tuple:
        """The optimiser's groups and their sizes (a change may make a step traceable)."""
        return tuple(len(g["params"]) for g in self.optimizer.param_groups)

    def _refresh_live(self) -> None:
        """The tensors read live by a replay: the model's parameters and buffers and the
        optimiser's parameters (looked up again before every recorded step)."""
        model, optimizer = self.model, self.optimizer
        live: list[Any] = []
        seen: set[int] = set()
        sources: list[Any] = []
        if hasattr(model, "parameters"):
            sources.append(model.parameters())
        if hasattr(model, "buffers"):
            sources.append(model.buffers())
        sources.append(p for g in optimizer.param_groups for p in g["params"])
        for src in sources:
            for t in src:
                if id(t) not in seen:
                    seen.add(id(t))
                    live.append(t)
        if getattr(self, "_live", None) is None or not _same_params(self._live, live):
            self._live = live
        self._buffers = list(model.buffers()) if hasattr(model, "buffers") else []

    def _packs_for(self, kind: str, with_grad: set[int]) -> dict[int, _Pack]:
        """The packed parameter groups, by ``id`` of each parameter: existing packs are
        reused (other programs keep working); a group is packed when every parameter gets
        a gradient, they share a float dtype and their optimiser state is in step."""
        opt = self.optimizer
        result: dict[int, _Pack] = {}
        valid = [pk for pk in self._packs if pk.valid(opt.state)]
        self._packs = valid
        for group in opt.param_groups:
            params = list(group["params"])
            if not params or any(id(p) not in with_grad for p in params):
                continue
            pack = next((pk for pk in valid if _same_params(pk.params, params)), None)
            if pack is None:
                if len({p.data.dtype for p in params}) != 1 or params[0].data.dtype.kind != "f":
                    continue
                states = [opt.state.get(p) for p in params]
                if kind == "sgd" and float(group["momentum"]) != 0 and not all(
                    st and st.get("momentum_buffer") is not None for st in states
                ):
                    continue
                if kind == "adam" and not (
                    all(st and "exp_avg" in st for st in states)
                    and len({st["step"] for st in states}) == 1
                ):
                    continue
                for p in params:
                    opt.state.setdefault(p, {})
                pack = _Pack(params, opt.state, _STATE_KEYS[kind])
                self._packs.append(pack)
            for p in params:
                result[id(p)] = pack
        return result

    # ------------------------------------------------------------------------- eager
    def _eager(self, key: Any, xa: np.ndarray, ya: np.ndarray) -> Tensor:
        self.stats["eager"] += 1
        shape = self._structure()
        if key in self.untraceable and self._rejected_at.get(key) != shape:
            del self.untraceable[key]  # the optimiser changed since: try again
        record = (key not in self.untraceable and _state.enabled and _state.tape is None
                  and len(self._programs) < self.max_programs)
        loss, rec = self._eager_step(xa, ya, record)
        if not record:
            return loss
        if isinstance(rec, str):
            self.untraceable[key] = rec
            self._rejected_at[key] = shape
            self._pending.pop(key, None)
            return loss
        first = self._pending.get(key)
        if first is None:
            self._pending[key] = rec
            return loss
        if first.live is not rec.live:  # parameters were added: start again from here
            self._pending[key] = rec
            return loss
        if _same(first.x, rec.x) and _same(first.y, rec.y):
            return loss  # the same data twice proves nothing about constants: wait
        reason = _agree(first, rec)
        del self._pending[key]
        if reason is not None:
            self.untraceable[key] = reason
            self._rejected_at[key] = shape
            return loss
        try:
            self._programs[key] = _Program(self, rec)
            self.stats["compiled"] += 1
        except _UntraceableError as err:
            self.untraceable[key] = str(err)
            self._rejected_at[key] = shape
        return loss

    def _eager_step(self, xa: np.ndarray, ya: np.ndarray, record: bool) -> tuple[Tensor, Any]:
        model, opt = self.model, self.optimizer
        x_t = Tensor._wrap(xa)
        y_t = Tensor._wrap(ya)
        opt.zero_grad()
        if not record:
            loss = self.loss_fn(model(x_t), y_t)
            loss.backward()
            opt.step()
            return loss.detach(), None
        self._refresh_live()
        before = [b.data.copy() for b in self._buffers]
        tape: list[Any] = []
        _state.tape = tape
        try:
            loss = self.loss_fn(model(x_t), y_t)
        finally:
            _state.tape = None
        loss.backward()
        order = _toposort([loss])
        opt.step()
        try:
            rec = self._describe(tape, loss, order, x_t, y_t, before)
        except _UntraceableError as err:
            rec = str(err)
        return loss.detach(), rec

    def _describe(self, tape, loss, order, x_t, y_t, before) -> _Recording:
        for b, old in zip(self._buffers, before):
            if not _same(b.data, old):
                raise _UntraceableError("the step changes module buffers (e.g. BatchNorm running "
                                   "statistics in training mode)")
        xa, ya = x_t.data, y_t.data
        out_index = {id(entry[3]): k for k, entry in enumerate(tape)}
        live_index = {id(t): i for i, t in enumerate(self._live)}

        def ref(a: Any) -> _Ref:
            if isinstance(a, Tensor):
                k = out_index.get(id(a))
                if k is not None:
                    return _Ref("op", k, True)
                i = live_index.get(id(a))
                if i is not None:
                    return _Ref("live", i, True)
                if a.data is xa:
                    return _Ref("x", 0, True)
                if a.data is ya:
                    return _Ref("y", 0, True)
                if a.requires_grad:
                    raise _UntraceableError("a tensor that requires grad is neither a parameter "
                                       "nor computed in the step")
                return _Ref("const", a.data, True)
            if a is xa:
                return _Ref("x", 0, False)
            if a is ya:
                return _Ref("y", 0, False)
            return _Ref("const", a, False)

        entries = [
            _Entry(cls, [ref(a) for a in args], dict(params), out.requires_grad)
            for cls, args, params, out in tape
        ]
        if id(loss) not in out_index:
            raise _UntraceableError("the loss is not computed by the step")
        walk = []
        for t in order:
            k = out_index.get(id(t))
            if k is not None:
                walk.append(("op", k))
                continue
            i = live_index.get(id(t))
            if i is None:
                raise _UntraceableError("a tensor that requires grad is neither a parameter "
                                   "nor computed in the step")
            walk.append(("live", i))
        opt_ids = {id(p) for g in self.optimizer.param_groups for p in g["params"]}
        for kind, i in walk:
            if kind == "live" and id(self._live[i]) not in opt_ids:
                raise _UntraceableError("a parameter that requires grad is not in the optimiser")
        return _Recording(entries, out_index[id(loss)], walk, np.array(xa), np.array(ya),
                          self._live)


def _array(v: Any) -> np.ndarray:
    if isinstance(v, Tensor):
        return v.data
    if type(v) is np.ndarray:
        return v
    return _convert(v)


def compile_step(model: Any, loss_fn: Callable, optimizer: Any) -> CompiledStep:
    """A traced training step: ``step(x, y)`` does ``optimizer.zero_grad();
    loss = loss_fn(model(x), y); loss.backward(); optimizer.step()`` and returns the loss.

    The first steps of each input signature run eagerly and are recorded; from the third
    on, the recorded step is replayed on fixed buffers (see :mod:`chainrule.trace`), with
    the same results as the eager step. Steps that cannot be replayed faithfully (dropout
    in training mode, BatchNorm running statistics, constants computed from the data
    outside the primitives) stay eager; ``step.untraceable`` says why.

    Args:
        model: a Module (or any callable; its parameters are read through the optimiser).
        loss_fn: ``loss_fn(output, y) -> scalar Tensor``, e.g. ``F.cross_entropy``.
        optimizer: an optimiser over the model's parameters.

    Returns:
        A :class:`CompiledStep`.

    Example:
        >>> import numpy as np, chainrule as cr
        >>> from chainrule import nn, optim
        >>> from chainrule.nn import functional as F
        >>> from chainrule.trace import compile_step
        >>> model = nn.Sequential(nn.Linear(2, 3, seed=0), nn.Sigmoid(), nn.Linear(3, 1, seed=1))
        >>> step = compile_step(model, F.mse_loss, optim.SGD(model.parameters(), lr=0.1))
        >>> x = np.array([[0.1, 0.2]], dtype=np.float32)
        >>> losses = [step(x * k, np.ones((1, 1), np.float32)).item() for k in range(1, 6)]
        >>> step.stats
        {'eager': 2, 'replayed': 3, 'compiled': 1}
    """
    return CompiledStep(model, loss_fn, optimizer)
