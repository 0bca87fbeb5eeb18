"""The compiled training step: record the NumPy calls of one eager step, replay them.

:func:`compile_step` turns a training step::

    optimizer.zero_grad()
    loss = loss_fn(model(x), y)          # or loss_fn(model(x), y, sample_weight)
    loss.backward()
    before_update()                      # optional: clipping, gradient monitoring
    optimizer.step()

into a callable ``step(x, y, sample_weight=None) -> loss``. It is built on the core's own
definitions, not beside them. While a step is being *recorded*, the arrays that flow
through it — the inputs, the parameters and buffers, and everything computed from them —
are :class:`Traced` arrays: NumPy hands every ufunc and array function applied to them to
the recorder, which runs it and notes the call with the arrays it read and wrote. So the
primitives' own ``forward`` and ``backward`` (a user's :class:`~chainrule.ops.Function`
subclass included), the graph walk of :mod:`chainrule.autodiff`, its gradient sums and
``unbroadcast``, and everything else the step computes, are recorded as they run; nothing
of them is written a second time here. A later step with the same input signature (the
shapes and dtypes of the inputs and the train/eval mode of every module) copies the new
inputs into the recorded input arrays and runs the recorded calls again, each writing into
the array it wrote when it was recorded: no Tensor, no graph node, no graph walk and no
allocation per step — the eager step's numbers, from its own formulas.

Before it is replayed, the recorded program is simplified as a compiler would, knowing
which arrays each call reads and writes: a copy into an array is coalesced with the call
that computed its source (so the gradients are computed straight into the packed array),
calls that read only the step's own constants are folded (the seed of the backward pass),
``x · 1`` becomes ``x``, a computation repeated on unchanged arrays is shared, calls whose
results nothing reads are dropped, an elementwise call whose input is dead afterwards
writes over it (``z = xWᵀ + b`` and ``relu(z)`` in the product's array), and every call is
put in the form NumPy runs fastest with the same bits (see ``_Passes`` and ``_lowered``).
Only arrays the program owns are merged, dropped or left unwritten.

The optimiser update is not recorded: it runs live after every replay, through the
optimiser's update protocol (:meth:`~chainrule.optim.Optimizer.update`), so learning-rate
schedules and any change of a group's hyperparameters take effect. For it, the
parameters of each optimiser group of at most :data:`~chainrule.optim.flat.FLAT_MAX`
elements are *packed*: their ``.data`` become views into one flat array (the Parameter
objects stay the same and always hold the live values), and so do their gradients and
their state, so the update is a handful of NumPy calls for the whole group; the protocol's
update is elementwise, so packing does not change the numbers. A larger group is updated
parameter by parameter, its gradients left in the replay's own arrays: there the calls
cost little beside the arithmetic, and packing would hold a second copy of the model.

What makes a replay faithful, and what is checked:

- two steps are recorded on different data before a step is compiled, and their
  recordings must be the same program: an array computed from the data outside the
  recorded calls (for example with ``np.array(x)``, which NumPy does not hand over) shows
  up as a constant that changed, and the step stays eager with that reason;
- a value read back into Python (``if``, ``float()``, ``.item()``) becomes a *guard*: a
  replay compares it with the recorded value and, if it differs, undoes what it wrote to
  module buffers and runs the step eagerly instead;
- random draws go through a stochastic primitive (:class:`~chainrule.ops.Uniform`), whose
  forward the replay runs again, so dropout draws from the same generator in the same
  order as the eager step;
- a replay stops being used when a parameter's array is replaced, its ``requires_grad``
  changes, or the optimiser's groups change.

Not checked (as with ``torch.jit.trace``): writes made with plain NumPy to an array that
was taken out of the recording (``np.asarray(x)[...] = …``), and module state kept in
Python numbers rather than in buffers.

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
    >>> step.stats["replayed"], step.compiled, loss.shape
    (3, True, ())
"""

from __future__ import annotations

import functools
import operator
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from . import rng as _rng
from .autodiff import _state
from .ops import _run
from .optim.flat import FlatState, aligned_zeros, held_flat, layout
from .optim.optimizer import Optimizer, Scratch
from .tensor import Tensor, _convert

__all__ = ["CompiledStep", "Traced", "compile_step"]

_TRAINING = operator.attrgetter("training")
_DATA = operator.attrgetter("data")
_SHAPE = operator.attrgetter("shape")
_DTYPE = operator.attrgetter("dtype")
_REQUIRES_GRAD = operator.attrgetter("requires_grad")
_PARAMS = operator.itemgetter("params")


class _UntraceableError(Exception):
    """The step cannot be recorded faithfully (the message says why)."""


class _GuardError(Exception):
    """A replay found a guard whose value differs from the recorded one."""


# ------------------------------------------------------------------------ traced arrays


def _plain(a: Any) -> Any:
    return a.view(np.ndarray) if isinstance(a, Traced) else a


def _plain_tree(obj: Any) -> Any:
    if isinstance(obj, Traced):
        return obj.view(np.ndarray)
    if isinstance(obj, tuple):
        return tuple(_plain_tree(o) for o in obj)
    if isinstance(obj, list):
        return [_plain_tree(o) for o in obj]
    if isinstance(obj, dict):
        return {k: _plain_tree(v) for k, v in obj.items()}
    return obj


def _has_traced(obj: Any) -> bool:
    if isinstance(obj, Traced):
        return True
    if isinstance(obj, (tuple, list)):
        return any(_has_traced(o) for o in obj)
    return False


def _recorder() -> _Recorder | None:
    tape = _state.tape
    return tape if isinstance(tape, _Recorder) else None


class Traced(np.ndarray):
    """An ndarray whose operations are recorded while a training step is being recorded.

    Outside a recording it behaves as a plain ndarray (its results are plain arrays).
    """

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        rec = _recorder()
        if rec is not None:
            return rec.ufunc(ufunc, method, inputs, kwargs)
        out = kwargs.get("out")
        if out is not None:
            kwargs["out"] = tuple(_plain(o) for o in out)
        res = getattr(ufunc, method)(*(_plain(i) for i in inputs), **kwargs)
        if out is not None:
            return out[0] if len(out) == 1 else out
        return res

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        rec = _recorder()
        if rec is None:
            return func(*_plain_tree(args), **_plain_tree(kwargs))
        return rec.function(func, args, kwargs)

    # indexing: a view is free; a gather or a write is recorded
    def __getitem__(self, idx: Any) -> Any:
        rec = _recorder()
        if rec is None:
            return np.ndarray.__getitem__(self.view(np.ndarray), _plain_tree(idx))
        return rec.getitem(self, idx)

    def __setitem__(self, idx: Any, value: Any) -> None:
        rec = _recorder()
        if rec is None:
            np.ndarray.__setitem__(self.view(np.ndarray), _plain_tree(idx), _plain(value))
            return
        rec.setitem(self, idx, value)

    # methods that may copy are sent through the NumPy functions (and so recorded)
    def reshape(self, *shape: Any, **kwargs: Any) -> Any:
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return np.reshape(self, shape, **kwargs)

    def copy(self, order: str = "C") -> Any:
        return _astype(self, self.dtype)

    def astype(self, dtype: Any, order: str = "K", casting: str = "unsafe",
               subok: bool = True, copy: bool = True) -> Any:
        if not copy and np.dtype(dtype) == self.dtype:
            return self
        return _astype(self, np.dtype(dtype))

    def flatten(self, order: str = "C") -> Any:
        return _astype(self, self.dtype).reshape(-1)

    def ravel(self, order: str = "C") -> Any:
        return np.ravel(self, order=order)

    def fill(self, value: Any) -> None:
        self[...] = value

    def sort(self, *args: Any, **kwargs: Any) -> None:
        self[...] = np.sort(self, *args, **kwargs)

    # reading a value back into Python makes a guard
    def _value(self, how: Callable[[np.ndarray], Any]) -> Any:
        rec = _recorder()
        plain = self.view(np.ndarray)
        return how(plain) if rec is None else rec.value(plain, how)

    def __bool__(self) -> bool:
        return self._value(bool)

    def __float__(self) -> float:
        return self._value(float)

    def __int__(self) -> int:
        return self._value(int)

    def __index__(self) -> int:
        return self._value(operator.index)

    def __complex__(self) -> complex:
        return self._value(complex)

    def item(self, *args: Any) -> Any:
        return self._value(lambda a: a.item(*args))

    def tolist(self) -> Any:
        return self._value(np.ndarray.tolist)


def _astype(a: np.ndarray, dtype: np.dtype) -> Any:
    out = np.empty_like(a, dtype=dtype, order="C")
    np.copyto(out, a, casting="unsafe")
    return out


def _through(name: str) -> Callable[..., Any]:
    fn = getattr(np, name)

    def method(self: Traced, *args: Any, **kwargs: Any) -> Any:
        return fn(self, *args, **kwargs)

    method.__name__ = name
    return method


for _name in ("sum", "mean", "max", "min", "prod", "any", "all", "std", "var", "argmax",
              "argmin", "cumsum", "cumprod", "clip", "dot", "round", "take", "repeat",
              "nonzero", "argsort", "trace", "searchsorted", "compress", "ptp"):
    if hasattr(np, _name):
        setattr(Traced, _name, _through(_name))
del _name


# functions whose result depends only on shapes and dtypes: never recorded, never guarded
_STATIC = frozenset(
    getattr(np, n) for n in (
        "shape", "ndim", "size", "result_type", "can_cast", "iscomplexobj", "isrealobj",
        "min_scalar_type", "may_share_memory", "shares_memory", "broadcast_shapes",
    ) if hasattr(np, n)
)
# creation functions: a new array, set to its first value again at that point of every replay
_CREATE = frozenset(getattr(np, n) for n in ("zeros_like", "ones_like", "full_like"))
# functions that write into their first argument
_WRITE = frozenset(
    getattr(np, n) for n in ("copyto", "put", "place", "putmask", "fill_diagonal",
                             "put_along_axis")
    if hasattr(np, n)
)
# functions that accept ``out=``: the replay computes straight into the recorded array
_OUT = frozenset(
    getattr(np, n) for n in (
        "sum", "prod", "max", "min", "amax", "amin", "mean", "dot", "concatenate", "take",
        "einsum", "cumsum", "cumprod", "clip", "around", "round", "matmul",
    ) if hasattr(np, n)
)


# reductions recorded as the ufunc's own reduce (what these functions call, without their
# Python wrappers): (function, ufunc, whether the function's second argument is dtype)
_REDUCTIONS = {
    getattr(np, name): uf for name, uf in (
        ("sum", np.add), ("prod", np.multiply), ("max", np.maximum), ("amax", np.maximum),
        ("min", np.minimum), ("amin", np.minimum),
    ) if hasattr(np, name)
}

# ufuncs whose output NumPy wants by name (a third positional argument is deprecated)
_OUT_BY_NAME = frozenset((np.maximum, np.minimum, np.fmax, np.fmin))

# ------------------------------------------------------------------------------ replay


def _into(out: np.ndarray, fn: Callable, args: tuple, kwargs: dict) -> None:
    np.copyto(out, fn(*args, **kwargs), casting="unsafe")


def _into_many(outs: tuple, fn: Callable, args: tuple, kwargs: dict) -> None:
    for o, r in zip(outs, fn(*args, **kwargs)):
        np.copyto(o, r, casting="unsafe")


def _gather(out: np.ndarray, a: np.ndarray, idx: Any) -> None:
    np.copyto(out, a[idx])


def _scatter(a: np.ndarray, idx: Any, value: Any) -> None:
    a[idx] = value


def _guard(a: np.ndarray, how: Callable, expected: Any) -> None:
    value = how(a)
    if value != expected and not (value != value and expected != expected):
        raise _GuardError


def _rerun(out: np.ndarray, cls: Any, args: tuple, params: dict) -> None:
    np.copyto(out, cls.forward(object.__new__(cls), *args, **params))


def _root(a: Any) -> Any:
    """The array that owns ``a``'s memory (through views and stride tricks)."""
    while True:
        base = a.base
        if base is None:
            return a
        if not isinstance(base, np.ndarray):
            inner = getattr(base, "base", None)
            if not isinstance(inner, np.ndarray):
                return a
            base = inner
        a = base


# ---------------------------------------------------------------------------- recorder


class _Recorder:
    """Records one step: every call made on traced arrays, and where each array lives.

    An array *lives* in a home: an input (``("in", i)``), a live parameter or buffer
    (``("live", j)``), the result of a recorded call (``("op", n)``), or an array made by
    ``np.zeros_like``-style functions from an array of the step (``("new", n)``, set to
    its first value again at that point of every replay). Anything else is a constant.
    """

    def __init__(self) -> None:
        self.calls: list[tuple[Callable, tuple]] = []
        self.descs: list[Any] = []
        self.homes: dict[int, tuple[str, int]] = {}
        self.keep: list[Any] = []  # the homes, alive while their ids are keys
        self.n = 0
        self.where = "the step"
        self.live_written: set[int] = set()
        self.guarded = False
        self.generators: dict[int, tuple[Any, Any]] = {}  # state before the first draw
        self.internal: set[int] = set()  # ids of constants the step made (see _Passes)
        self.adopted: dict[int, Traced] = {}  # the views handed out for adopted results

    # ----------------------------------------------------------------------- homes
    def add_home(self, root: Any, key: tuple[str, int]) -> None:
        self.homes[id(root)] = key
        self.keep.append(root)

    def fresh(self, shape: tuple, dtype: Any) -> Traced:
        """A new result array (owning its memory) registered as a home."""
        buf = Traced(shape, dtype)
        self.add_home(buf, ("op", self.n))
        self.n += 1
        return buf

    def fresh_like(self, res: Any, adopt: bool = False) -> tuple[Traced, np.ndarray]:
        """A home holding ``res``: ``res`` itself with ``adopt`` when it is a new array
        that owns its memory (a ufunc's result: nothing else refers to it), else a copy."""
        res = np.asarray(res)
        if (adopt and type(res) is np.ndarray and res.base is None
                and res.flags.c_contiguous and res.flags.writeable):
            self.add_home(res, ("op", self.n))
            self.n += 1
            view = self.adopted[id(res)] = res.view(Traced)
            return view, res
        buf = self.fresh(res.shape, res.dtype)
        plain = buf.view(np.ndarray)
        np.copyto(plain, res)
        return buf, plain

    def owns(self, a: Any) -> bool:
        """Whether ``a`` is the view handed out for an adopted result (:meth:`fresh_like`):
        it stands for that new array, which owns its memory in an eager step and which
        nothing else refers to (:mod:`chainrule.autodiff` then keeps it as a ``.grad``
        without a copy, as it keeps the eager array)."""
        view = self.adopted.get(id(a.base))
        return view is a

    def describe(self, obj: Any) -> Any:
        """How a value entering a call is compared between two recordings."""
        if isinstance(obj, np.ndarray):
            root = _root(obj)
            key = self.homes.get(id(root))
            if key is None:
                return ("const", obj)
            offset = obj.__array_interface__["data"][0] - root.__array_interface__["data"][0]
            return ("home", key, offset, obj.shape, obj.strides, obj.dtype.str)
        if isinstance(obj, (tuple, list)):
            return (type(obj).__name__, tuple(self.describe(o) for o in obj))
        if isinstance(obj, dict):
            return ("dict", tuple((k, self.describe(v)) for k, v in obj.items()))
        if isinstance(obj, slice):
            return ("slice", obj.start, obj.stop, obj.step)
        return ("obj", obj)

    def record(self, fn: Callable, args: tuple, kwargs: dict | None = None) -> None:
        if kwargs:
            self.calls.append((functools.partial(fn, **kwargs), args))
        else:
            self.calls.append((fn, args))
        self.descs.append((fn, self.where, self.describe(args), self.describe(kwargs or {})))

    def before_write(self, dst: np.ndarray) -> None:
        """``dst`` is about to be written by a recorded call: it must live in a home (an
        array made outside the step could be read later by unrecorded NumPy code)."""
        root = _root(dst)
        key = self.homes.get(id(root))
        if key is not None:
            if key[0] == "live":
                self.live_written.add(id(root))
            return
        raise _UntraceableError(
            f"{self.where} writes values computed in the step into an array made outside it "
            "(with np.zeros, np.ones, np.empty, ...): make it from an array of the step, "
            "e.g. np.zeros_like(x), so that the step can be recorded")

    def value(self, plain: np.ndarray, how: Callable) -> Any:
        v = how(plain)
        if id(_root(plain)) in self.homes:
            self.record(_guard, (plain, how, v))
            self.guarded = True
        return v

    # ----------------------------------------------------------------- primitives
    def apply(self, cls: Any, args: tuple, params: dict) -> Tensor:
        """The applier's hook: run the primitive (its NumPy calls are recorded as they run);
        a stochastic primitive's forward is run again by every replay."""
        if cls.stochastic:
            seed = params.get("seed")
            if seed is None or isinstance(seed, np.random.Generator):
                gen = _rng.get_rng(seed)
                if id(gen) not in self.generators:
                    self.generators[id(gen)] = (gen, gen.bit_generator.state)
            plain = _plain_tree(args)
            result = _run(cls, plain, params)
            buf, out = self.fresh_like(result.data)
            self.record(_rerun, (out, cls, plain, params))
            result.data = buf
            return result
        previous, self.where = self.where, cls.__name__
        try:
            return _run(cls, args, params)
        finally:
            self.where = previous

    # ---------------------------------------------------------------------- ufuncs
    def ufunc(self, uf: Any, method: str, inputs: tuple, kwargs: dict) -> Any:
        ins = tuple(_plain(i) for i in inputs)
        out = kwargs.pop("out", None)
        fn = uf if method == "__call__" else getattr(uf, method)
        if method == "at":
            self.before_write(ins[0])
            fn(*ins, **kwargs)
            self.record(fn, ins, kwargs)
            return None
        if out is not None:
            outs = tuple(_plain(o) for o in out)
            for o in outs:
                self.before_write(o)
            if method == "__call__" and uf not in _OUT_BY_NAME:
                fn(*ins, *outs, **kwargs)
                self.record(fn, ins + outs, kwargs)
            else:
                fn(*ins, out=outs[0] if len(outs) == 1 else outs, **kwargs)
                self.record(fn, ins, {**kwargs, "out": outs[0] if len(outs) == 1 else outs})
            return out[0] if len(out) == 1 else out
        res = fn(*ins, **kwargs)
        results = res if isinstance(res, tuple) else (res,)
        bufs, plains = zip(*(self.fresh_like(r, adopt=True) for r in results))
        if method == "__call__" and uf not in _OUT_BY_NAME:
            self.record(fn, ins + plains, kwargs)
        else:
            self.record(fn, ins, {**kwargs, "out": plains[0] if len(plains) == 1 else plains})
        return bufs if isinstance(res, tuple) else bufs[0]

    # ------------------------------------------------------------------- functions
    def function(self, func: Any, args: tuple, kwargs: dict) -> Any:
        pargs, pkw = _plain_tree(args), _plain_tree(kwargs)
        if func in _STATIC:
            return func(*pargs, **pkw)
        if func in _CREATE or func is np.empty_like:
            res = np.asarray(func(*pargs, **pkw))
            buf = Traced(res.shape, res.dtype)
            self.add_home(buf, ("new", self.n))
            self.n += 1
            if func is not np.empty_like:
                np.copyto(buf.view(np.ndarray), res)
                self.record(np.copyto, (buf.view(np.ndarray), res))
                self.internal.add(id(res))
            return buf
        if func in _WRITE:
            self.before_write(pargs[0])
            func(*pargs, **pkw)
            self.record(func, pargs, pkw)
            return None
        res = func(*pargs, **pkw)
        if isinstance(res, np.ndarray) or isinstance(res, np.generic):
            uf = _REDUCTIONS.get(func)
            if uf is not None and len(pargs) == 1 and set(pkw) <= {"axis", "keepdims", "dtype"}:
                return self._reduction(uf, pargs[0], pkw, res)
            return self._result(func, pargs, pkw, res)
        if isinstance(res, (tuple, list)) and res and all(
            isinstance(r, np.ndarray) for r in res
        ):
            views = [self._view_of(r, pargs) for r in res]
            if all(v is not None for v in views):
                return type(res)(views)
            bufs, plains = zip(*(self.fresh_like(r) for r in res))
            self.record(_into_many, (plains, func, pargs, pkw))
            return type(res)(bufs)
        if isinstance(res, (bool, int, float, complex)) and _has_traced(args):
            # a value computed from traced arrays and returned to Python: guard it
            self.record(_guard, ((func, pargs, pkw), _call_guard, res))
            self.guarded = True
        return res

    def _reduction(self, uf: Any, a: np.ndarray, kw: dict, res: Any) -> Traced:
        """``np.sum(a, …)`` and its kin as ``ufunc.reduce(a, axis, dtype, out, keepdims)``."""
        buf, plain = self.fresh_like(res, adopt=True)
        axis = kw.get("axis")
        self.record(uf.reduce, (a, axis if axis is not None else tuple(range(a.ndim)),
                                kw.get("dtype"), plain, bool(kw.get("keepdims", False))))
        return buf

    def _view_of(self, res: np.ndarray, pargs: Any) -> Any:
        for a in _arrays(pargs):
            if np.may_share_memory(res, a):
                return res.view(Traced)
        return None

    def _result(self, func: Any, pargs: tuple, pkw: dict, res: Any) -> Any:
        if isinstance(res, np.ndarray):
            view = self._view_of(res, pargs)
            if view is not None:
                return view
        buf, plain = self.fresh_like(res, adopt=func in _OUT)  # these make new arrays
        if func in _OUT:
            self.record(func, pargs, {**pkw, "out": plain})
        else:
            self.record(_into, (plain, func, pargs, pkw))
        return buf

    # -------------------------------------------------------------------- indexing
    def getitem(self, a: Traced, idx: Any) -> Any:
        plain = a.view(np.ndarray)
        pidx = _plain_tree(idx)
        res = plain[pidx]
        if isinstance(res, np.ndarray) and np.may_share_memory(res, plain) and not (
            _has_traced(idx)
        ):
            return res.view(Traced)
        buf, out = self.fresh_like(res, adopt=True)
        self.record(_gather, (out, plain, pidx))
        return buf

    def setitem(self, a: Traced, idx: Any, value: Any) -> None:
        plain = a.view(np.ndarray)
        pidx = _plain_tree(idx)
        pval = _plain(value)
        self.before_write(plain)
        plain[pidx] = pval
        self.record(_scatter, (plain, pidx, pval))


def _call_guard(spec: tuple) -> Any:
    func, args, kwargs = spec
    return func(*args, **kwargs)


def _arrays(obj: Any):
    if isinstance(obj, np.ndarray):
        yield obj
    elif isinstance(obj, (tuple, list)):
        for o in obj:
            yield from _arrays(o)
    elif isinstance(obj, dict):
        for o in obj.values():
            yield from _arrays(o)


def _same(a: Any, b: Any) -> bool:
    """Whether two descriptions (of :meth:`_Recorder.describe`) are the same program."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)
                and a.dtype == b.dtype and a.shape == b.shape
                and bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")))
    if a is b:
        return True
    if isinstance(a, tuple):
        if not (isinstance(b, tuple) and len(a) == len(b)):
            return False
        if len(a) == 6 and type(a[0]) is str and a[0] == "home":
            return a == b  # where an array lives: numbers and strings only
        return all(map(_same, a, b))
    if type(a) is not type(b):
        return False
    if isinstance(a, functools.partial):
        return a.func == b.func and _same(a.args, b.args) and _same(
            tuple(sorted(a.keywords.items())), tuple(sorted(b.keywords.items())))
    try:
        return bool(a == b) or (a != a and b != b)
    except Exception:  # pragma: no cover - exotic objects
        return a is b


# ----------------------------------------------------------------------------- packing


class _Pack:
    """One optimiser group stored flat: ``theta`` (the parameters' arrays are views of
    it), ``grad`` (their gradients', in a replay) and ``state``, the optimiser's state
    arrays of the group (a :class:`~chainrule.optim.flat.FlatState`, packed once the
    optimiser has state). Gaps between parameters stay 0."""

    def __init__(self, params: list[Any]) -> None:
        dtype = params[0].data.dtype
        self.params = params
        self.slices, n = layout(params)
        self.theta = aligned_zeros(n, dtype)
        self.grad = aligned_zeros(n, dtype)
        self.scratch = Scratch(self.theta)
        self.views = []
        for p, (off, size, shape) in zip(params, self.slices):
            v = self.theta[off:off + size].reshape(shape)
            v[...] = p.data
            p.data = v
            self.views.append(v)
        self.gviews = [self.grad[o:o + s].reshape(sh) for o, s, sh in self.slices]
        self.state = FlatState(params, self.slices, n, dtype)

    def valid(self) -> bool:
        """Whether the parameters still live in ``theta``."""
        return all(p.data is v for p, v in zip(self.params, self.views))

    def update(self, opt: Any, hp: Any) -> bool:
        """The optimiser's update on the flat arrays, the state packed again first if a
        step outside the replay (an eager step, ``load_state_dict``) replaced it; False,
        updating nothing, when the members' states differ in kind."""
        state = self.state
        if not state.current(opt) and not state.pack(opt):
            return False
        state.update(opt, self.theta, self.grad, hp, self.scratch)
        return True


# ------------------------------------------------------------------------------ program


def _rebase(a: np.ndarray, old: np.ndarray, new: np.ndarray) -> np.ndarray:
    """The view of ``new`` that ``a`` is of ``old`` (same offset, shape and strides)."""
    offset = a.__array_interface__["data"][0] - old.__array_interface__["data"][0]
    return np.ndarray(a.shape, a.dtype, buffer=new, offset=offset, strides=a.strides)


def _substitute(obj: Any, roots: dict[int, tuple[np.ndarray, np.ndarray]]) -> Any:
    if isinstance(obj, np.ndarray):
        hit = roots.get(id(_root(obj)))
        return obj if hit is None else _rebase(obj, *hit)
    if isinstance(obj, tuple):
        return tuple(_substitute(o, roots) for o in obj)
    if isinstance(obj, list):
        return [_substitute(o, roots) for o in obj]
    if isinstance(obj, dict):
        return {k: _substitute(v, roots) for k, v in obj.items()}
    if isinstance(obj, functools.partial):
        return functools.partial(obj.func, *_substitute(obj.args, roots),
                                 **_substitute(obj.keywords, roots))
    return obj


class _Recording:
    """What one recorded step did: its calls and their descriptions, its inputs and
    outputs, and the home of every parameter's gradient."""

    def __init__(self, rec: _Recorder, inputs: list, outputs: list, grads: dict,
                 live: list, tuple_result: bool) -> None:
        self.calls = rec.calls
        self.descs = rec.descs
        self.live_written = [r for r in (rec.keep) if id(r) in rec.live_written]
        self.guarded = rec.guarded
        self.homes = rec.homes
        self.internal = rec.internal
        self.inputs = inputs  # plain arrays the replay copies the new inputs into
        self.outputs = outputs  # plain arrays holding the returned values
        self.grads = grads  # id(param) -> plain gradient array
        self.live = live
        self.tuple_result = tuple_result

    def differs(self, other: _Recording) -> str | None:
        """None if ``other`` is the same program, else why not."""
        if len(self.descs) != len(other.descs):
            return (f"the two recorded steps made {len(self.descs)} and {len(other.descs)} "
                    "NumPy calls")
        for k, (a, b) in enumerate(zip(self.descs, other.descs)):
            if not _same(a, b):
                name = getattr(a[0], "__name__", type(a[0]).__name__)
                return (f"call {k} ({name} in {a[1]}) uses an array that changed between "
                        "the recorded steps but is not computed by the recorded calls "
                        "(made from the data outside them, e.g. with np.array(), or random)")
        if [self.describe_outputs()] != [other.describe_outputs()]:
            return "the two recorded steps returned different values"
        return None

    def describe_outputs(self) -> tuple:
        return tuple(sorted(self.grads)), len(self.outputs), self.tuple_result

    def slim(self) -> _Recording:
        """Keep only what comparing with the next recording needs (:meth:`differs`,
        ``live``, ``inputs``), so that the step's intermediate arrays are freed while the
        next step is recorded (the program is built from that one); returns self."""
        self.calls = []
        self.homes, self.internal, self.live_written = {}, set(), []
        self.grads = dict.fromkeys(self.grads)
        self.outputs = [None] * len(self.outputs)
        return self


class _Program:
    """A compiled step: the recorded calls, rewritten to leave every gradient in its
    packed array and simplified (see the program passes), and the live update."""

    def __init__(self, step: CompiledStep, rec: _Recording, packs: dict[int, _Pack]) -> None:
        # the optimiser, not the step: the step holds its programs, and a cycle would keep
        # a finished training run's arrays alive until the garbage collector ran
        self.optimizer = step.optimizer
        self.tensors = list(rec.live)
        self.arrays = [t.data for t in rec.live]
        self.requires = [t.requires_grad for t in rec.live]
        self.inputs = rec.inputs
        #: the batch's values when the program was recorded on one batch given twice
        #: (it then replays only on equal values); None otherwise
        self.pinned: list[np.ndarray] | None = None
        self.tuple_result = rec.tuple_result
        opt = step.optimizer
        self.group_dicts = list(opt.param_groups)
        self.group_params = [g["params"] for g in opt.param_groups]
        self.group_sizes = [len(g["params"]) for g in opt.param_groups]
        tail: list[tuple[Callable, tuple]] = []
        grads: list[tuple[Any, np.ndarray | None]] = []
        for group in opt.param_groups:
            for p in group["params"]:
                g = rec.grads.get(id(p))
                pack = None if g is None else packs.get(id(p))
                if pack is not None:
                    target = pack.gviews[next(i for i, q in enumerate(pack.params) if q is p)]
                    tail.append((np.copyto, (target, g)))
                    g = target
                grads.append((p, g))
        private = {r for r, key in rec.homes.items() if key[0] in ("op", "new")}
        kept = list(rec.outputs) + [g for _, g in grads if g is not None]
        self.recorded = len(rec.calls) + len(tail)  # calls before the passes
        self.calls, kept = _Passes(rec.calls + tail, private, rec.internal, kept).run()
        self.outputs = kept[:len(rec.outputs)]
        it = iter(kept[len(rec.outputs):])
        self.grad_tensors = [(p, None if g is None else Tensor._wrap(next(it)))
                             for p, g in grads]
        self.packed = []  # per group: its pack, when the whole group is updated flat
        for group in opt.param_groups:
            params = group["params"]
            pack = packs.get(id(params[0])) if params else None
            whole = (pack is not None and _same_list(pack.params, params) and pack.valid()
                     and all(id(p) in rec.grads for p in params))
            # valid() then checks that the parameters still live in the pack
            self.packed.append(pack if whole else None)
        self.restore = rec.live_written if rec.guarded else []

    def valid(self) -> bool:
        """Whether the program still describes the step (parameters not replaced, …)."""
        if not _state.enabled or _state.tape is not None:
            return False
        tensors = self.tensors
        if not (all(map(operator.is_, map(_DATA, tensors), self.arrays))
                and all(map(operator.is_, map(_REQUIRES_GRAD, tensors), self.requires))):
            return False
        groups = self.optimizer.param_groups
        return (len(groups) == len(self.group_dicts)
                and all(map(operator.is_, groups, self.group_dicts))
                and all(map(operator.is_, map(_PARAMS, groups), self.group_params))
                and list(map(len, self.group_params)) == self.group_sizes)

    def run(self, arrays: list[np.ndarray]) -> list[np.ndarray] | None:
        """Replay on ``arrays``: the output arrays (the program's own), or None when a
        guard failed or a call raised (the live arrays it wrote are put back)."""
        for buf, a in zip(self.inputs, arrays):
            np.copyto(buf, a)
        saved = [b.copy() for b in self.restore] if self.restore else None
        try:
            for fn, args in self.calls:
                fn(*args)
        except Exception:  # a guard, or an error the eager step will report
            for b, s in zip(self.restore, saved or ()):
                np.copyto(b, s)
            return None
        for p, g in self.grad_tensors:
            p.grad = g
        return self.outputs


def _same_list(a: list, b: list) -> bool:
    return len(a) == len(b) and all(u is v for u, v in zip(a, b))


# ------------------------------------------------------------------- program passes
# The recorded calls are a straight-line program over fixed arrays. Before it is replayed
# it is simplified as a compiler would, knowing which arrays each call reads and writes:
# copies into an array nobody reads afterwards are coalesced, calls that read only
# constants are folded, repeated computations are shared and calls whose results nothing
# reads are dropped. Only the arrays the program owns (the results of recorded calls and
# the arrays made in the step: its *private* arrays) are merged, dropped or left
# unwritten; the inputs, the live parameters and buffers, the packed gradients and
# everything the step hands out are read and written as the eager step does.


class _Node:
    """One recorded call with its effects: the arrays it reads and writes, and their
    memory spans (``known``: whether the effects are known; an unknown call is taken to
    read and write every array it is given)."""

    __slots__ = ("args", "fn", "known", "reads", "roots", "rspans", "writes", "wroots",
                 "wspans")

    def __init__(self, fn: Callable, args: tuple) -> None:
        self.fn, self.args = fn, args
        effects = _effects(fn, args)
        self.known = effects is not None
        if effects is None:
            every = list(_arrays((args, getattr(fn, "keywords", None))))
            effects = every, every
        self.reads, self.writes = effects
        self.rspans = [_span(a) for a in self.reads]
        self.wspans = [_span(a) for a in self.writes]
        self.wroots = {id(_root(a)) for a in self.writes}
        self.roots = self.wroots | {id(_root(a)) for a in self.reads}

    def touches(self, spans: list) -> bool:
        return _overlap(spans, self.rspans) or _overlap(spans, self.wspans)


def _effects(fn: Callable, args: tuple) -> tuple[list, list] | None:
    """``(read, written)`` arrays of a recorded call, or None when they are not known."""
    kw: dict = {}
    if isinstance(fn, functools.partial):
        fn, kw, args = fn.func, fn.keywords, fn.args + args
    extra = [a for k, v in kw.items() if k != "out" for a in _arrays(v)]
    out = list(_arrays(kw.get("out")))
    masked = out if "where" in kw else []  # a masked write keeps what it does not write
    if fn is _guard:
        return list(_arrays(args[0])), []
    if fn is _into or fn is _gather or fn is _rerun:
        return list(_arrays(args[1:])), [args[0]]
    if fn is _into_many:
        return list(_arrays(args[1:])), list(args[0])
    if fn is _scatter:
        return list(_arrays(args)), [args[0]]
    if fn is np.copyto:
        reads = list(_arrays(args[1:])) + extra
        return reads + ([args[0]] if "where" in kw else []), [args[0]]
    if isinstance(fn, np.ufunc):
        if out:
            return list(_arrays(args)) + extra + masked, out
        ins, outs = list(_arrays(args[:fn.nin])), list(_arrays(args[fn.nin:]))
        return ins + extra + (outs if "where" in kw else []), outs
    owner = getattr(fn, "__self__", None)
    if isinstance(owner, np.ufunc):  # reduce, accumulate, outer, at, …
        if fn.__name__ == "at":
            return list(_arrays(args)), [args[0]]
        if out:
            return list(_arrays(args)) + extra + masked, out
        if fn.__name__ == "reduce" and len(args) >= 4:  # (a, axis, dtype, out, keepdims)
            return [args[0]], [args[3]]
        return None
    if fn in _WRITE:
        return list(_arrays(args)) + extra, [args[0]]
    if out:
        return list(_arrays(args)) + extra + masked, out
    return None


def _span(a: np.ndarray) -> tuple[int, int]:
    """The bytes ``[lo, hi)`` that ``a`` may touch."""
    lo = hi = a.__array_interface__["data"][0]
    if a.size == 0:
        return lo, lo
    for n, s in zip(a.shape, a.strides):
        if s < 0:
            lo += (n - 1) * s
        else:
            hi += (n - 1) * s
    return lo, hi + a.itemsize


def _overlap(spans: list, others: list) -> bool:
    return any(lo < h and low < hi for lo, hi in spans for low, h in others)


def _whole(a: np.ndarray) -> bool:
    """Whether ``a`` is all of its root's memory, C-contiguous (so it can be rebased)."""
    root = _root(a)
    return (a.flags.c_contiguous and a.dtype == root.dtype and a.size == root.size
            and a.__array_interface__["data"][0] == root.__array_interface__["data"][0])


def _cse_key(n: _Node) -> Any:
    """What makes two plain ufunc calls the same computation (None: not a candidate)."""
    fn = n.fn
    if not (isinstance(fn, np.ufunc) and fn.nout == 1 and len(n.args) == fn.nin + 1):
        return None
    key: list[Any] = [fn]
    for a in n.args[:fn.nin]:
        if isinstance(a, np.ndarray):
            key.append((a.__array_interface__["data"][0], a.shape, a.strides, a.dtype.str))
        elif isinstance(a, (bool, int, float, np.generic)):
            key.append((type(a).__name__, repr(a)))
        else:
            return None
    return tuple(key)


_ONE_ELEMENT = {np.add: "add 0", np.multiply: "copy", np.maximum: "copy", np.minimum: "copy"}
# read-only arrays of one repeated value, shared by the programs: (dtype, value's bytes) ->
# the largest made so far (a program's views keep theirs alive)
_FILLED: weakref.WeakValueDictionary = weakref.WeakValueDictionary()


def _filled(value: np.ndarray, shape: tuple) -> np.ndarray:
    """A read-only C-ordered array of ``shape`` holding the 0-d ``value`` everywhere."""
    key = (value.dtype.str, value.tobytes())
    size = int(np.prod(shape))
    buf = _FILLED.get(key)
    if buf is None or buf.size < size:
        buf = np.full(size, value)
        buf.flags.writeable = False
        _FILLED[key] = buf
    return buf[:size].reshape(shape)


def _spread(args: tuple, out: Any) -> tuple | None:
    """``(x, c)`` or ``(c, x)`` with ``c`` a number, as arrays of ``x``'s shape (None when
    not of that form): NumPy's maximum and minimum are vectorised only for two arrays
    (on (100, 100) float32, 3× faster), with the same result bit for bit, NaN and −0
    included (not so ``fmax`` and ``fmin``, whose loops differ on ±0)."""
    if not isinstance(out, np.ndarray) or out.dtype.kind != "f":
        return None
    arrays = [a for a in args if isinstance(a, np.ndarray) and a.ndim]
    if len(arrays) != 1 or arrays[0].shape != out.shape or arrays[0].dtype != out.dtype:
        return None
    spread = []
    for a in args:
        if a is not arrays[0]:
            if type(a) in (int, float) or (isinstance(a, np.ndarray) and a.dtype == out.dtype):
                a = _filled(np.array(a, out.dtype), out.shape)
            else:
                return None
        spread.append(a)
    return tuple(spread)


def _lowered(fn: Callable, args: tuple) -> tuple[Callable, tuple]:
    """A call in the form NumPy runs fastest, with the same result bit for bit: a plain
    ufunc gets its array operands at the output's number of dimensions and its Python
    numbers as 0-d arrays of the operands' float dtype (the dtype they take anyway); a
    reduction is positional, and over axes of length 1 it is a copy (``0 + x`` for a sum,
    whose −0 becomes +0); a gather at an array of integer indices is ``take`` along axis 0
    (what ``a[idx]`` is, straight into the output), a scatter is ``operator.setitem``,
    keyword arguments that are accepted by position are passed by position, and a maximum
    or minimum with a number compares with an array of it (see ``_spread``)."""
    if fn is _gather:
        out, a, idx = args
        if isinstance(idx, np.ndarray) and idx.ndim and idx.dtype.kind == "i":
            return np.ndarray.take, (a, idx, 0, out)
        return fn, args
    if fn is _scatter:
        return operator.setitem, args
    if isinstance(fn, np.ufunc):
        if len(args) != fn.nin + fn.nout:
            return fn, args
        ins, outs = args[:fn.nin], args[fn.nin:]
        if not all(isinstance(o, np.ndarray) for o in outs):
            return fn, args
        nd = max(o.ndim for o in outs)
        dtypes = {a.dtype for a in ins if isinstance(a, np.ndarray)}
        dtype = dtypes.pop() if len(dtypes) == 1 else None
        lowered = []
        for a in ins:
            if isinstance(a, np.ndarray) and 0 < a.ndim < nd:
                a = a[(None,) * (nd - a.ndim)]
            elif type(a) in (float, int) and dtype is not None and dtype.kind == "f":
                a = np.array(a, dtype)
            lowered.append(a)
        return fn, (*lowered, *outs)
    kw: dict = {}
    if isinstance(fn, functools.partial):
        fn, kw, args = fn.func, fn.keywords, fn.args + args
    if fn is np.dot and set(kw) == {"out"} and len(args) == 2:
        return np.dot, (*args, kw["out"])
    if fn is np.copyto and set(kw) == {"casting"} and len(args) == 2:
        return np.copyto, (*args, kw["casting"])
    if (fn is np.maximum or fn is np.minimum) and set(kw) == {"out"} and len(args) == 2:
        spread = _spread(args, kw["out"])
        if spread is not None:
            return functools.partial(fn, out=kw["out"]), spread
    uf = getattr(fn, "__self__", None)
    if not (isinstance(uf, np.ufunc) and fn.__name__ == "reduce"):
        return (functools.partial(fn, **kw) if kw else fn), args
    names = ("axis", "dtype", "out", "keepdims")
    if len(args) > 5 or set(kw) - set(names) or any(n in kw for n in names[:len(args) - 1]):
        return functools.partial(fn, **kw), args
    a, *rest = args
    spec = dict(zip(names, rest)) | kw
    axis, dtype, out = spec.get("axis", 0), spec.get("dtype"), spec.get("out")
    keepdims = bool(spec.get("keepdims", False))
    if not isinstance(a, np.ndarray) or not isinstance(out, np.ndarray):
        return (functools.partial(fn, **kw) if kw else fn), args
    axes = tuple(range(a.ndim)) if axis is None else (axis,) if isinstance(
        axis, (int, np.integer)) else tuple(axis)
    axes = tuple(int(k) % a.ndim for k in axes) if a.ndim else ()
    how = _ONE_ELEMENT.get(uf)
    if how is not None and dtype is None and a.dtype == out.dtype and a.ndim and all(
            a.shape[k] == 1 for k in axes):
        view = a[(*((slice(None) if keepdims else 0) if k in axes else slice(None)
                    for k in range(a.ndim)), ...)]  # ... : a 0-d view, never a scalar
        if view.shape == out.shape:
            if how == "copy":
                return np.copyto, (out, view)
            return np.add, (view, np.zeros((), a.dtype), out)
    return fn, (a, axes, dtype, out, keepdims)


class _Passes:
    """The passes over a recorded program (:meth:`run`). ``private``: ids of the roots the
    program owns; ``internal``: ids of the constant arrays the step made itself (never
    seen by the user); ``kept``: the arrays read after it runs (outputs, gradients)."""

    def __init__(self, calls: list, private: set[int], internal: set[int],
                 kept: list) -> None:
        self.nodes = [_Node(fn, args) for fn, args in calls]
        self.private = private
        self.internal = internal
        self.kept = kept

    def run(self) -> tuple[list[tuple[Callable, tuple]], list]:
        """The simplified calls, and ``kept`` where they now are."""
        self._coalesce()
        self._fold()
        if self._unit_products():
            self._coalesce()
        while self._share_one():
            pass
        self._drop_dead()
        self._in_place()
        return [_lowered(n.fn, n.args) for n in self.nodes], self.kept

    def _rename(self, old_root: np.ndarray, new: np.ndarray) -> None:
        """Every use of ``old_root``'s memory moves to ``new`` (of the same layout)."""
        rid = id(old_root)
        table = {rid: (old_root, new)}
        self.nodes = [_Node(_substitute(n.fn, table), _substitute(n.args, table))
                      if rid in n.roots else n for n in self.nodes]
        self.kept = [_substitute(a, table) for a in self.kept]

    def _private(self, a: np.ndarray) -> bool:
        return id(_root(a)) in self.private

    def _computed(self, rid: int) -> bool:
        """Whether the program writes all of the root ``rid`` before anything reads it:
        its values are the step's own, never carried over from the step before (a
        folded constant's are)."""
        for n in self.nodes:
            if rid in n.roots:
                return (any(id(_root(w)) == rid and _whole(w) for w in n.writes)
                        and all(id(_root(r)) != rid for r in n.reads))
        return False

    def _coalesce(self) -> None:
        """``copyto(dst, src)`` where ``src`` is private and nothing reads it afterwards:
        what wrote ``src`` writes ``dst`` instead, and the copy goes."""
        kept = [_span(a) for a in self.kept]
        i = 0
        while i < len(self.nodes):
            if self._coalesce_at(i, kept):
                kept = [_span(a) for a in self.kept]
            else:
                i += 1

    def _coalesce_at(self, i: int, kept: list) -> bool:
        """Coalesce the copy at ``i`` if it is one that can be (see :meth:`_coalesce`)."""
        fn, args = self.nodes[i].fn, self.nodes[i].args
        if isinstance(fn, functools.partial):
            if fn.func is not np.copyto or set(fn.keywords) - {"casting"}:
                return False
        elif fn is not np.copyto:
            return False
        if len(args) != 2:
            return False
        dst, src = args
        if not (isinstance(src, np.ndarray) and isinstance(dst, np.ndarray)
                and src.shape == dst.shape and src.dtype == dst.dtype
                and dst.flags.c_contiguous and self._private(src) and _whole(src)
                and self._computed(id(_root(src)))):
            return False
        # src is all of its root: a call touches it when it uses that root
        rs, rd = id(_root(src)), id(_root(dst))
        if _overlap([_span(src)], kept) or any(rs in m.roots for m in self.nodes[i + 1:]):
            return False
        first = next(k for k, m in enumerate(self.nodes) if rs in m.roots)
        d = [_span(dst)]
        if any(rd in m.roots and m.touches(d) for m in self.nodes[first:i]):
            return False
        del self.nodes[i]
        self._rename(_root(src), dst)
        return True

    def _fold(self) -> None:
        """Calls that read only constants (the step's own constants, e.g. the seed of the
        backward pass, and private arrays that only such calls write) computed the same
        values when the step was recorded: the values stay in their arrays, the calls go."""
        kept = {id(_root(a)) for a in self.kept}

        def candidate(n: _Node) -> bool:
            return (n.known and n.fn is not _guard and n.fn is not _rerun and bool(n.wroots)
                    and all(r in self.private and r not in kept for r in n.wroots)
                    and all(id(_root(a)) in self.private or id(a) in self.internal
                            for a in n.reads))

        varying: set[int] = set()
        changed = True
        while changed:
            changed = False
            for n in self.nodes:
                if (not candidate(n) or any(id(_root(a)) in varying for a in n.reads)) and (
                        not n.wroots <= varying):
                    varying |= n.wroots
                    changed = True
        self.nodes = [n for n in self.nodes if not (
            candidate(n) and not n.wroots & varying
            and not any(id(_root(a)) in varying for a in n.reads))]

    def _unit_products(self) -> bool:
        """``multiply(x, c, out)`` with ``c`` a constant of ones and ``out`` like ``x`` is
        ``copyto(out, x)`` (``x · 1 = x`` exactly), which coalescing may then remove."""
        written = set().union(*(n.wroots for n in self.nodes))
        changed = False
        for k, n in enumerate(self.nodes):
            if n.fn is not np.multiply or len(n.args) != 3:
                continue
            a, b, out = n.args
            for x, c in ((a, b), (b, a)):
                if (isinstance(x, np.ndarray) and isinstance(c, np.ndarray)
                        and x.shape == out.shape and x.dtype == out.dtype
                        and (id(c) in self.internal or (id(_root(c)) in self.private
                                                         and id(_root(c)) not in written))
                        and c.dtype.kind in "fc" and bool(np.all(c == 1))):
                    self.nodes[k] = _Node(np.copyto, (out, x))
                    changed = True
                    break
        return changed

    def _share_one(self) -> bool:
        """The same ufunc on the same arrays with nothing written to them in between: the
        second call's result is the first's."""
        seen: dict[Any, int] = {}
        kept = {id(_root(a)) for a in self.kept}
        for j, n in enumerate(self.nodes):
            key = _cse_key(n)
            if key is None:
                continue
            i = seen.setdefault(key, j)
            if i == j:
                continue
            first = self.nodes[i]
            out_i, out_j = first.writes[0], n.writes[0]
            ri, rj = id(_root(out_i)), id(_root(out_j))
            watched = first.rspans + first.wspans
            if (out_i.shape == out_j.shape and out_i.dtype == out_j.dtype
                    and out_i.flags.c_contiguous and _whole(out_j) and ri != rj
                    and ri in self.private and rj in self.private and rj not in kept
                    and not _overlap(first.wspans, first.rspans)
                    and not any(_overlap(watched, m.wspans) for m in self.nodes[i + 1:j])
                    and not any(ri in m.wroots for m in self.nodes if m is not first)
                    and not any(rj in m.wroots for m in self.nodes if m is not n)):
                del self.nodes[j]
                self._rename(_root(out_j), out_i)
                return True
            seen[key] = j
        return False

    def _in_place(self) -> None:
        """An elementwise ufunc whose input nothing reads afterwards writes its result over
        that input (as ``z += b`` would), so the program touches fewer arrays."""
        kept = {id(_root(a)) for a in self.kept}
        first: dict[int, int] = {}
        last: dict[int, int] = {}
        for k, n in enumerate(self.nodes):
            for r in n.roots:
                first.setdefault(r, k)
                last[r] = k
        for k, n in enumerate(self.nodes):
            fn, args = n.fn, n.args
            if isinstance(fn, functools.partial) and set(fn.keywords) == {"out"}:
                fn, args = fn.func, (*fn.args, *args, fn.keywords["out"])
            if not (isinstance(fn, np.ufunc) and fn.signature is None and fn.nout == 1
                    and len(args) == fn.nin + 1 and isinstance(args[-1], np.ndarray)):
                continue
            out = args[-1]
            ro = id(_root(out))
            if (ro not in self.private or ro in kept or first.get(ro) != k
                    or not _whole(out)):
                continue
            for a in args[:fn.nin]:
                if not isinstance(a, np.ndarray):
                    continue
                ra = id(_root(a))
                if (ra in self.private and ra not in kept and last.get(ra) == k and ra != ro
                        and a.shape == out.shape and a.dtype == out.dtype
                        and a.flags.c_contiguous and self._computed(ra)):
                    self._rename(_root(out), a)
                    last[ra] = last.pop(ro)  # a's memory now lives as long as out did
                    first.pop(ro)
                    break

    def _drop_dead(self) -> None:
        """Calls that write only private arrays nothing reads afterwards go."""
        needed = {id(_root(a)) for a in self.kept}
        alive = []
        for n in reversed(self.nodes):
            if (not n.known or n.fn is _guard or n.fn is _rerun or not n.wroots
                    or any(r in needed or r not in self.private for r in n.wroots)):
                alive.append(n)
                needed.update(id(_root(a)) for a in n.reads)
        self.nodes = alive[::-1]


# -------------------------------------------------------------------------------- public


def _immutable(v: Any) -> bool:
    """Whether ``v`` is a value that cannot change in place (a number, a string, None, or a
    tuple of them)."""
    if type(v) is tuple:
        return all(map(_immutable, v))
    return v is None or type(v) in (float, int, bool, str)


def _array(v: Any) -> np.ndarray | None:
    if v is None:
        return None
    if isinstance(v, Tensor):
        return v.data
    if type(v) is np.ndarray:
        return v
    return _convert(v)


class CompiledStep:
    """A training step ``step(x, y, sample_weight=None)``, recorded and replayed (see the
    module docstring). Create it with :func:`compile_step`.

    Attributes:
        compiled: whether the last call was a replay.
        reason: why the last call ran eagerly (None after a replay).
        stats: counts of ``"eager"`` steps (recording or fallback), ``"replayed"`` steps
            and ``"compiled"`` programs.
        untraceable: for each input signature that stays eager, the reason.
    """

    max_programs = 16
    max_aborts = 3

    def __init__(self, model: Any, loss_fn: Callable, optimizer: Any, *,
                 compile: bool | str = "auto", before_update: Callable | None = None) -> None:
        if compile not in ("auto", True, False):
            raise ValueError(f"compile must be 'auto', True or False, got {compile!r}")
        if before_update is not None and not callable(before_update):
            raise TypeError(f"before_update must be callable, got {type(before_update).__name__}")
        self.model = model
        self.loss_fn = loss_fn
        self.optimizer = optimizer
        self.mode = compile
        self.before_update = before_update
        self.compiled = False
        self.reason: str | None = None
        self.stats = {"eager": 0, "replayed": 0, "compiled": 0}
        self.untraceable: dict[Any, str] = {}
        self._programs: dict[Any, _Program] = {}
        self._pending: dict[Any, _Recording] = {}
        self._aborts: dict[Any, int] = {}
        self._packs: dict[int, _Pack] = {}
        self._modules = list(model.modules()) if hasattr(model, "modules") else []
        self._hp: dict[int, tuple] = {}  # id(group) -> (group, class, values, hyperparameters)

    # ------------------------------------------------------------------------- calls
    def __call__(self, x: Any, y: Any, sample_weight: Any = None) -> Any:
        """One training step on the batch; returns ``loss_fn``'s value(s) as 0-d Tensors."""
        prog, out = self._step(x, y, sample_weight)
        if prog is None:
            return out
        values = tuple([Tensor._wrap(o.copy()) for o in out])
        return values if prog.tuple_result else values[0]

    def values(self, x: Any, y: Any, sample_weight: Any = None) -> tuple[np.ndarray, ...]:
        """One training step on the batch, like calling the step, but returning
        ``loss_fn``'s value(s) as a tuple of ndarrays that are only valid until the next
        step (a replay leaves them in its own arrays): read them, do not keep or write them.
        """
        prog, out = self._step(x, y, sample_weight)
        if prog is None:
            return tuple([t.data for t in out]) if isinstance(out, tuple) else (out.data,)
        return out

    def _step(self, x: Any, y: Any, sample_weight: Any) -> tuple[Any, Any]:
        """``(program, its output arrays)`` after a replay, ``(None, result)`` after an
        eager step."""
        arrays = [x if type(x) is np.ndarray else _array(x),
                  y if type(y) is np.ndarray else _array(y)]
        if sample_weight is not None:
            arrays.append(_array(sample_weight))
        key = (*map(_SHAPE, arrays), *map(_DTYPE, arrays), *map(_TRAINING, self._modules),
               *map(len, map(_PARAMS, self.optimizer.param_groups)))
        prog = self._programs.get(key)
        if prog is not None:
            if prog.pinned is not None and not all(map(np.array_equal, arrays, prog.pinned)):
                del self._programs[key]  # recorded on one repeated batch; this one differs
                prog = None
            elif prog.valid():
                out = prog.run(arrays)
                if out is not None:
                    if self._aborts:
                        self._aborts.pop(key, None)
                    self._finish(prog)
                    self.stats["replayed"] += 1
                    self.compiled, self.reason = True, None
                    return prog, out
                n = self._aborts[key] = self._aborts.get(key, 0) + 1
                if n >= self.max_aborts:
                    del self._programs[key]
                    self.untraceable[key] = ("a value read back into Python during the step "
                                             "(if, float(), .item()) keeps changing")
            else:
                del self._programs[key]
        return None, self._eager(key, arrays)

    def _finish(self, prog: _Program) -> None:
        """Clipping/monitoring and the update, after a replay left the gradients in place:
        a packed group in one flat update, any other parameter by itself."""
        if self.before_update is not None:
            self.before_update()
        opt = self.optimizer
        for group, pack in zip(opt.param_groups, prog.packed):
            if pack is None or not pack.update(opt, self._hyperparameters(opt, group)):
                opt._step_group(group)

    def _hyperparameters(self, opt: Any, group: dict) -> Any:
        """``opt.hyperparameters(group)``, read again only when a value of the group is no
        longer the same object (values of immutable types only; anything else is read
        every step)."""
        cls = type(opt)
        if cls.hyperparameters is not Optimizer.hyperparameters:
            return opt.hyperparameters(group)
        names = cls.Hyperparameters._fields
        values = tuple(map(group.__getitem__, names))
        cached = self._hp.get(id(group))
        if (cached is not None and cached[0] is group and cached[1] is cls
                and all(map(operator.is_, values, cached[2]))):
            return cached[3]
        hp = opt.hyperparameters(group)
        if all(map(_immutable, values)):
            self._hp[id(group)] = (group, cls, values, hp)
        return hp

    # ------------------------------------------------------------------------- eager
    def _eager(self, key: Any, arrays: list[np.ndarray]) -> Any:
        self.stats["eager"] += 1
        self.compiled = False
        reason = self._cannot_record(key)
        if reason is not None:
            if self.mode is True:
                raise ValueError(f"compile=True: this step cannot be compiled: {reason}")
            self.reason = reason
            return self._plain_step(arrays)
        try:
            out, rec = self._record_step(arrays)
        except _UntraceableError as err:
            self.untraceable[key] = self.reason = str(err)
            self._pending.pop(key, None)
            if self.mode is True:
                raise ValueError(f"compile=True: this step cannot be compiled: {err}") from None
            return self._plain_step(arrays)
        self.reason = "recording (the first two steps of a new input signature run eagerly)"
        first = self._pending.get(key)
        if first is None or len(first.live) != len(rec.live) or not all(
                a is b for a, b in zip(first.live, rec.live)):
            self._pending[key] = rec.slim()
            return out
        # The same data twice (a full batch) cannot tell what the step computes from the
        # data from what is constant: the program is then pinned to these values and
        # replays only while the batch equals them (another batch records anew).
        same = all(np.array_equal(a, b) for a, b in zip(first.inputs, rec.inputs))
        del self._pending[key]
        why = first.differs(rec)
        if why is not None:
            self.untraceable[key] = self.reason = why
            return out
        for group in self.optimizer.param_groups:
            pack = self._packs.get(id(group["params"][0])) if group["params"] else None
            if pack is not None and pack.state.states is None:
                pack.state.pack(self.optimizer)
        prog = self._programs[key] = _Program(self, rec, self._packs)
        if same:
            prog.pinned = [np.array(a, copy=True) for a in rec.inputs]
        self.stats["compiled"] += 1
        return out

    def _cannot_record(self, key: Any) -> str | None:
        if self.mode is False:
            return "compile=False"
        if key in self.untraceable:
            return self.untraceable[key]
        why = self.optimizer.follows_protocol() if hasattr(
            self.optimizer, "follows_protocol") else "the optimizer is not a chainrule Optimizer"
        if why is not None:
            return why
        if not _state.enabled:
            return "gradients are disabled (no_grad)"
        if _state.tape is not None:
            return "a step is already being recorded"
        if len(self._programs) >= self.max_programs:
            return f"more than {self.max_programs} input signatures"
        return None

    def _call_loss(self, out: Any, tensors: list[Tensor]) -> Any:
        if len(tensors) == 2:
            return self.loss_fn(out, tensors[1])
        return self.loss_fn(out, tensors[1], tensors[2])

    def _plain_step(self, arrays: list[np.ndarray]) -> Any:
        opt = self.optimizer
        tensors = [Tensor._wrap(a) for a in arrays]
        opt.zero_grad()
        r = self._call_loss(self.model(tensors[0]), tensors)
        (r[0] if isinstance(r, tuple) else r).backward()
        if self.before_update is not None:
            self.before_update()
        opt.step()
        if isinstance(r, tuple):
            return tuple(t.detach() for t in r)
        return r.detach()

    def _live(self) -> list[Any]:
        """The tensors a replay reads live: parameters, buffers, the optimiser's params."""
        live: list[Any] = []
        seen: set[int] = set()
        sources: list[Any] = []
        if hasattr(self.model, "parameters"):
            sources.append(self.model.parameters())
        if hasattr(self.model, "buffers"):
            sources.append(self.model.buffers())
        sources.append(p for g in self.optimizer.param_groups for p in g["params"])
        for src in sources:
            for t in src:
                if id(t) not in seen:
                    seen.add(id(t))
                    live.append(t)
        return live

    def _pack(self) -> None:
        """Pack each optimiser group whose parameters share one float dtype and hold at
        most ``FLAT_MAX`` elements (once)."""
        for group in self.optimizer.param_groups:
            params = list(group["params"])
            if not params:
                continue
            pack = self._packs.get(id(params[0]))
            if pack is not None and _same_list(pack.params, params) and pack.valid():
                continue
            if not held_flat(params):
                continue  # another dtype, or large: updated per parameter (as cheap, then)
            pack = _Pack(params)
            for p in params:
                self._packs[id(p)] = pack

    def _record_step(self, arrays: list[np.ndarray]) -> tuple[Any, _Recording]:
        self._pack()
        opt = self.optimizer
        live = self._live()
        rec = _Recorder()
        inputs = []
        tensors = []
        for i, a in enumerate(arrays):
            buf = Traced(a.shape, a.dtype)
            np.copyto(buf.view(np.ndarray), a)
            rec.add_home(buf, ("in", i))
            inputs.append(buf.view(np.ndarray))
            tensors.append(Tensor._wrap(buf))
        in_opt = {id(p) for g in opt.param_groups for p in g["params"]}
        if any(t.requires_grad and id(t) not in in_opt for t in live):
            raise _UntraceableError("a parameter that requires grad is not in the optimizer (its "
                               "gradient would accumulate from step to step)")
        originals = [t.data for t in live]
        roots: list[int] = []
        for t in live:
            root = _root(t.data)
            if id(root) not in rec.homes:
                rec.add_home(root, ("live", len(roots)))
                roots.append(id(root))
        buffers = [t.data.copy() for t in live if not t.requires_grad]
        traced = [t.data.view(Traced) for t in live]
        for t, v in zip(live, traced):
            t.data = v
        opt.zero_grad()
        _state.tape = rec
        try:
            r = self._call_loss(self.model(tensors[0]), tensors)
            values = r if isinstance(r, tuple) else (r,)
            if not all(isinstance(v, Tensor) for v in values):
                raise _UntraceableError("the loss function must return a Tensor or a tuple of "
                                        "Tensors")
            values[0].backward()
        except BaseException:
            self._undo(live, originals, buffers, rec)
            raise
        finally:
            _state.tape = None
        rebound = [t for t, v in zip(live, traced) if t.data is not v]
        for t, o in zip(live, originals):
            t.data = o
        if rebound:
            self._undo(live, originals, buffers, rec)
            raise _UntraceableError(
                f"the step replaces the array of a parameter or buffer of shape "
                f"{rebound[0].data.shape} instead of updating it in place")
        grads: dict[int, np.ndarray] = {}
        for group in opt.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    g = _plain(p.grad.data)
                    p.grad = Tensor._wrap(g)
                    grads[id(p)] = g
        outputs = [_plain(v.data) for v in values]
        recording = _Recording(rec, inputs, outputs, grads, live, isinstance(r, tuple))
        if self.before_update is not None:
            self.before_update()
        opt.step()
        result = tuple(Tensor._wrap(o.copy()) for o in outputs)
        return (result if isinstance(r, tuple) else result[0]), recording

    @staticmethod
    def _undo(live: list, originals: list, buffers: list, rec: _Recorder) -> None:
        """Put back the live arrays, the buffers' values and the random generators' states
        after a failed recording (the eager step that follows draws what it would have)."""
        for gen, state in rec.generators.values():
            gen.bit_generator.state = state
        it = iter(buffers)
        for t, o in zip(live, originals):
            t.data = o
            if not t.requires_grad:
                np.copyto(o, next(it))


def compile_step(model: Any, loss_fn: Callable, optimizer: Any, *,
                 compile: bool | str = "auto",
                 before_update: Callable | None = None) -> CompiledStep:
    """A compiled training step: ``step(x, y, sample_weight=None)`` does ::

        optimizer.zero_grad()
        r = loss_fn(model(x), y)            # loss_fn(model(x), y, sample_weight) if given
        (r[0] if isinstance(r, tuple) else r).backward()
        before_update()                     # if given: clipping, monitoring (in place)
        optimizer.step()

    and returns ``r`` (0-d Tensors). The first two steps of each input signature run
    eagerly and are recorded; later ones replay the recording (see :mod:`chainrule.trace`)
    with the eager step's numbers. A step that cannot be replayed faithfully stays eager
    and ``step.reason`` says why.

    Args:
        model: a Module (or any callable; its parameters are read through the optimiser).
        loss_fn: ``loss_fn(output, y[, sample_weight])`` returning a scalar Tensor, or a
            tuple of them whose first is minimised (return everything you need: a replay
            does not run the function's Python code).
        optimizer: an optimiser over the model's parameters; compiled when it follows the
            update protocol (:class:`~chainrule.optim.Optimizer`), else the step is eager.
        compile: ``"auto"`` (compile where faithful), ``True`` (raise ``ValueError`` with
            the reason where not) or ``False`` (always eager).
        before_update: called after every backward pass, before the update; it must
            change ``p.grad.data`` in place (never rebind ``p.grad``).

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
    return CompiledStep(model, loss_fn, optimizer, compile=compile, before_update=before_update)
