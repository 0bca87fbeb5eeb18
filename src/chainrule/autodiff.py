"""Reverse-mode automatic differentiation: the graph walk and the functional transforms.

A computation on :class:`~chainrule.tensor.Tensor` objects records, for every result, the
:class:`~chainrule.ops.Function` that made it and its inputs (its *parents*). Back-propagation
walks this directed acyclic graph from the output to the leaves in reverse topological order
and applies the chain rule at every node::

    ∂L/∂x = Σ_k (∂L/∂z_k)(∂z_k/∂x)          (sum over every use z_k of x)

The walk is iterative (no recursion limit, so a graph 100,000 nodes deep is fine) and
deterministic (the same graph is always visited in the same order). The backward pass runs
under :func:`no_grad` unless ``create_graph=True``; with it, the gradients are themselves
differentiable tensors, which is how second derivatives (:func:`hessian`) are computed.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from heapq import heappop, heappush
from typing import Any

import numpy as np


class _GradState:
    """Whether operations record the graph (``no_grad`` switches it off), and the recorder
    that :mod:`chainrule.trace` uses to record one training step (None: not recording)."""

    __slots__ = ("enabled", "tape")

    def __init__(self) -> None:
        self.enabled = True
        self.tape: Any = None


_state = _GradState()

#: numbers the graph nodes in the order they are recorded (``ctx._seq``): a node's number
#: is larger than its inputs' nodes', which is the order the backward pass needs
_node_numbers = itertools.count()


class _GradMode(contextlib.ContextDecorator):
    """Set whether operations record the graph inside a ``with`` block (or a decorated
    function), and restore the previous setting after it."""

    __slots__ = ("_enabled", "_previous")

    def __init__(self, enabled: bool) -> None:
        self._enabled = enabled
        self._previous = True

    def __enter__(self) -> None:
        self._previous = _state.enabled
        _state.enabled = self._enabled

    def __exit__(self, *exc: Any) -> None:
        _state.enabled = self._previous


def no_grad() -> contextlib.AbstractContextManager[None]:
    """Context manager in which operations do not record the computational graph.

    Use it for evaluation and for parameter updates: results have ``requires_grad=False``
    and no graph node is built, so it is also faster. It also decorates a function.

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([1.0, 2.0], requires_grad=True)
        >>> with cr.no_grad():
        ...     y = x * 2
        >>> y.requires_grad
        False
    """
    return _GradMode(False)


def enable_grad() -> contextlib.AbstractContextManager[None]:
    """Context manager that switches graph recording back on inside :func:`no_grad`."""
    return _GradMode(True)


def is_grad_enabled() -> bool:
    """Return whether operations currently record the computational graph."""
    return _state.enabled


def _run_backward(
    roots: Sequence[Any],
    grad_roots: Sequence[Any],
    create_graph: bool,
    inputs: Sequence[Any] | None,
) -> dict[int, Any]:
    """Propagate ``grad_roots`` from ``roots`` through the graph.

    With ``inputs=None`` gradients of leaves (and of tensors that called ``retain_grad``)
    are accumulated into their ``.grad``; otherwise the gradients of ``inputs`` are returned
    in a dict keyed by ``id`` and no ``.grad`` is touched.

    The nodes are visited latest first: every node is numbered when the applier records it
    (``ctx._seq``), after its inputs, so the largest number is always a node whose every
    user has been visited and whose gradient is complete. A heap of the nodes that have
    received a gradient gives that order in one pass (no separate topological sort); it is
    deterministic, and a node is visited once however many paths lead to it.
    """
    # First order (the common case): gradients flow as plain ndarrays and the backward
    # formulas run on them directly. With create_graph they flow as Tensors, recorded.
    raw = not create_graph
    grads: dict[Any, Any] = {}  # keyed by Tensor (identity hash): nodes waiting, and leaves
    heap: list[tuple[int, Any]] = []
    for r, g in zip(roots, grad_roots):
        g = g.data if raw and isinstance(g, Tensor) else g
        prev = grads.get(r)
        if prev is None:
            grads[r] = g
            if r._ctx is not None:
                heappush(heap, (-r._ctx._seq, r))
        else:
            grads[r] = prev + g
    wanted = None if inputs is None else {id(t) for t in inputs}
    result: dict[int, Any] = {}
    # ids of arrays handed to more than one place (pass-through gradients such as the two
    # inputs of an addition): a leaf must not keep such an array as its own .grad
    shared: set[int] = set()
    retained: list[tuple[Any, Any]] = []  # non-leaf tensors that keep their .grad
    # a step being recorded (chainrule.trace) hands out its new arrays as views standing
    # for them: the tape says which, so that they are kept as .grad as the eager ones are
    tape = _state.tape
    previous = _state.enabled
    _state.enabled = create_graph
    try:
        while heap:
            t = heappop(heap)[1]
            g = grads.pop(t)
            if wanted is None:
                if t._retain:
                    retained.append((t, g))
            elif id(t) in wanted:
                result[id(t)] = Tensor._wrap(g) if raw else g
            ctx = t._ctx
            ctx.out = t.data if raw else t
            gs = ctx.backward(ctx, g)
            ctx.out = None
            if type(gs) is not tuple:
                gs = (gs,)
            for p, gp in zip(ctx.parents, gs):
                if gp is None or not isinstance(p, Tensor) or not p.requires_grad:
                    continue
                if gp.shape != p.data.shape:
                    raise RuntimeError(
                        f"{type(ctx).__name__}.backward returned a gradient of shape "
                        f"{gp.shape} for an input of shape {p.data.shape}"
                    )
                if gp is g:
                    shared.add(id(g))
                prev = grads.get(p)
                if prev is None:
                    grads[p] = gp
                    if p._ctx is not None:
                        heappush(heap, (-p._ctx._seq, p))
                else:
                    grads[p] = prev + gp
        # what is left in grads are the leaves, their gradients complete
        if wanted is not None:
            for t, g in grads.items():
                if id(t) in wanted:
                    result[id(t)] = Tensor._wrap(g) if raw else g
            return result
        retained.extend(grads.items())
        # .grad ← .grad + g, or g on first use: then a raw .grad owns its array (a copy of
        # a view, of an array handed to several places or kept elsewhere)
        for t, g in retained:
            old = t.grad
            if not raw:
                t.grad = g if old is None else old + g
            elif old is not None:
                t.grad = _make(old.data + g, False, None)
            else:
                if (g.base is not None and not (tape is not None and tape.owns(g))) or (
                    id(g) in shared or t._retain or not g.flags.writeable
                ):
                    g = g.copy()
                t.grad = _make(g, False, None)
    finally:
        _state.enabled = previous
    return result


def _as_grad_tensor(t: Any, grad: Any) -> Any:
    """The seed gradient ``∂L/∂t``: ones for a scalar, else ``grad`` checked against ``t``."""
    if grad is None:
        if t.data.size != 1:
            raise ValueError(
                f"backward: grad can be implied only for a scalar output, got shape "
                f"{t.data.shape}; pass grad= with that shape (e.g. ones for a sum)"
            )
        return Tensor._wrap(np.ones_like(t.data))
    if not isinstance(grad, Tensor):
        grad = Tensor._wrap(np.asarray(grad, dtype=t.data.dtype))
    if grad.data.shape != t.data.shape:
        raise ValueError(
            f"backward: grad has shape {grad.data.shape} but the output has shape {t.data.shape}"
        )
    return grad


def backward(tensor: Any, grad: Any = None, create_graph: bool = False) -> None:
    """Back-propagate from ``tensor``, accumulating ``∂L/∂x`` into every leaf's ``.grad``.

    Args:
        tensor: the output ``L`` (a scalar unless ``grad`` is given).
        grad: ``∂(something)/∂L`` with the shape of ``tensor``; defaults to 1 for a scalar.
        create_graph: record the backward pass itself so the gradients can be
            differentiated again (higher-order derivatives).

    Raises:
        ValueError: ``tensor`` is not a scalar and no ``grad`` is given, or shapes differ.
        RuntimeError: ``tensor`` does not require grad.
    """
    if not tensor.requires_grad:
        raise RuntimeError(
            "backward: the tensor does not require grad (no input had requires_grad=True, "
            "or it was computed under no_grad)"
        )
    if grad is None and not create_graph and tensor.data.ndim == 0:  # a scalar loss
        g = np.empty_like(tensor.data)
        g.fill(1)
    else:
        g = _as_grad_tensor(tensor, grad)
    _run_backward((tensor,), (g,), create_graph, None)


def autograd_grad(
    outputs: Any,
    inputs: Sequence[Any],
    grad_outputs: Any = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> list[Any]:
    """Gradients of ``outputs`` with respect to ``inputs``, without touching ``.grad``.

    The counterpart of ``torch.autograd.grad``: returns ``[∂L/∂x for x in inputs]`` as
    Tensors, where ``L = Σ grad_outputs ⊙ outputs``. An input the outputs do not depend on
    gets a zero gradient (or ``None`` when ``allow_unused=True``).
    """
    outs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
    if grad_outputs is None:
        gouts = [None] * len(outs)
    elif isinstance(grad_outputs, (list, tuple)):
        gouts = list(grad_outputs)
    else:
        gouts = [grad_outputs]
    roots, seeds = [], []
    for o, go in zip(outs, gouts):
        if o.requires_grad:
            roots.append(o)
            seeds.append(_as_grad_tensor(o, go))
    found = _run_backward(roots, seeds, create_graph, inputs) if roots else {}
    result = []
    for x in inputs:
        g = found.get(id(x))
        if g is None and not allow_unused:
            g = Tensor._wrap(np.zeros_like(x.data))
        result.append(g)
    return result


# ----------------------------------------------------------------------------- transforms


def _prepare_args(args: tuple[Any, ...], argnums: tuple[int, ...]) -> list[Any]:
    prepared = list(args)
    for i in argnums:
        if i >= len(args):
            raise ValueError(f"argnums {i} is out of range for {len(args)} positional arguments")
        a = args[i]
        data = a.data if isinstance(a, Tensor) else a
        arr = np.array(data, dtype=np.float64 if not _is_float(data) else None)
        prepared[i] = Tensor(arr, requires_grad=True)
    return prepared


def _is_float(data: Any) -> bool:
    return isinstance(data, np.ndarray) and np.issubdtype(data.dtype, np.floating)


def _normalise_argnums(argnums: int | Sequence[int]) -> tuple[tuple[int, ...], bool]:
    if isinstance(argnums, int):
        return (argnums,), True
    nums = tuple(argnums)
    if not nums or not all(isinstance(i, int) and i >= 0 for i in nums):
        raise ValueError(f"argnums must be a non-negative int or a tuple of them, got {argnums!r}")
    return nums, False


def grad(f: Callable[..., Any], argnums: int | Sequence[int] = 0) -> Callable[..., Any]:
    """Transform a scalar function ``f`` into the function computing its gradient ``∇f``.

    ``grad(f)(x)[i] = ∂f/∂x_i``. ``f`` receives Tensors (float inputs keep their dtype;
    Python numbers and lists become float64) and must return a scalar Tensor. Returns an
    ndarray, or a tuple of them when ``argnums`` is a tuple. Called on a Tensor that
    requires grad (inside another transform), it returns a differentiable Tensor instead,
    so transforms nest: ``grad(lambda x: grad(f)(x))`` is the second derivative ``f''``.

    Example:
        >>> import numpy as np, chainrule as cr
        >>> cr.grad(lambda x: (x ** 3).sum())(np.array([1.0, 2.0]))   # 3x²
        array([ 3., 12.])
    """
    nums, single = _normalise_argnums(argnums)

    def grad_f(*args: Any) -> Any:
        if _state.enabled and any(_is_tracked(args[i]) for i in nums if i < len(args)):
            # nested use, e.g. grad(lambda x: grad(f)(x))(x0): differentiate through the
            # gradient itself, so return Tensors recorded with create_graph=True
            out = f(*args)
            _check_scalar_output(out, "grad")
            gs = autograd_grad(out, [args[i] for i in nums], create_graph=True)
            return gs[0] if single else tuple(gs)
        prepared = _prepare_args(args, nums)
        with enable_grad():
            out = f(*prepared)
        _check_scalar_output(out, "grad")
        gs = autograd_grad(out, [prepared[i] for i in nums])
        arrays = tuple(g.data for g in gs)
        return arrays[0] if single else arrays

    return grad_f


def _is_tracked(x: Any) -> bool:
    return getattr(x, "requires_grad", False) is True and hasattr(x, "_ctx")


def _check_scalar_output(out: Any, name: str) -> None:
    if not isinstance(out, Tensor):
        raise TypeError(f"{name}: f must return a Tensor, got {type(out).__name__}")
    if out.data.size != 1:
        raise ValueError(f"{name}: f must return a scalar, got shape {out.data.shape}")


def _jacobian_of(out: Any, x: Any, create_graph: bool) -> Any:
    """Rows ``∂out_k/∂x`` stacked: an ndarray (or Tensor list) of shape out.shape + x.shape."""
    rows = []
    flat_n = out.data.size
    for k in range(flat_n):
        seed = np.zeros(flat_n, dtype=out.data.dtype)
        seed[k] = 1.0
        if out.requires_grad:
            (g,) = autograd_grad(
                out, [x], Tensor._wrap(seed.reshape(out.data.shape)), create_graph=create_graph
            )
        else:
            g = Tensor._wrap(np.zeros_like(x.data))
        rows.append(g)
    return rows


def jacobian(f: Callable[..., Any], argnums: int = 0) -> Callable[..., np.ndarray]:
    """Transform ``f: ℝⁿ → ℝᵐ`` into the function computing its Jacobian ``J``.

    ``J[k, i] = ∂f_k/∂x_i``, of shape ``f(x).shape + x.shape``, computed by one backward
    pass per output component (reverse mode). Returns an ndarray.

    Example:
        >>> import numpy as np, chainrule as cr
        >>> A = np.array([[1.0, 2.0], [3.0, 4.0]])
        >>> cr.jacobian(lambda x: cr.tensor(A) @ x)(np.array([1.0, 1.0]))
        array([[1., 2.],
               [3., 4.]])
    """
    if not isinstance(argnums, int):
        raise ValueError(f"jacobian: argnums must be an int, got {argnums!r}")

    def jac_f(*args: Any) -> np.ndarray:
        prepared = _prepare_args(args, (argnums,))
        x = prepared[argnums]
        with enable_grad():
            out = f(*prepared)
        if not hasattr(out, "data"):
            raise TypeError(f"jacobian: f must return a Tensor, got {type(out).__name__}")
        rows = _jacobian_of(out, x, create_graph=False)
        return np.stack([r.data for r in rows]).reshape(out.data.shape + x.data.shape)

    return jac_f


def hessian(f: Callable[..., Any], argnums: int = 0) -> Callable[..., np.ndarray]:
    """Transform a scalar ``f`` into the function computing its Hessian ``H``.

    ``H[i, j] = ∂²f/∂x_i∂x_j``, of shape ``x.shape + x.shape``: the Jacobian of the
    gradient, obtained by back-propagating through a backward pass recorded with
    ``create_graph=True``. For ``f(x) = ½xᵀAx`` it is ``(A + Aᵀ)/2``.

    Example:
        >>> import numpy as np, chainrule as cr
        >>> cr.hessian(lambda x: (x[0] ** 2) * x[1])(np.array([1.0, 2.0]))
        array([[4., 2.],
               [2., 0.]])
    """
    if not isinstance(argnums, int):
        raise ValueError(f"hessian: argnums must be an int, got {argnums!r}")

    def hess_f(*args: Any) -> np.ndarray:
        prepared = _prepare_args(args, (argnums,))
        x = prepared[argnums]
        with enable_grad():
            out = f(*prepared)
            _check_scalar_output(out, "hessian")
            (g,) = autograd_grad(out, [x], create_graph=True)
            rows = _jacobian_of(g, x, create_graph=False)
        return np.stack([r.data for r in rows]).reshape(x.data.shape + x.data.shape)

    return hess_f


# ------------------------------------------------------------------------------ gradcheck


@dataclass
class GradcheckReport:
    """Result of :func:`gradcheck`: truthy when every input passed.

    Attributes:
        passed: every relative difference is at most ``tol``.
        rel_diffs: per input, ``‖g_num − g‖ / (‖g_num‖ + ‖g‖)``.
        worst_input: index of the input with the largest relative difference.
        max_rel_diff: that largest relative difference.
        tol: the threshold used.
    """

    passed: bool
    rel_diffs: list[float] = field(default_factory=list)
    worst_input: int = 0
    max_rel_diff: float = 0.0
    tol: float = 1e-6

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        verdict = "passed" if self.passed else "FAILED"
        diffs = ", ".join(f"{d:.2e}" for d in self.rel_diffs)
        return (
            f"gradcheck {verdict}: worst input {self.worst_input} with relative difference "
            f"{self.max_rel_diff:.3e} (tol {self.tol:.1e}); per input [{diffs}]"
        )


def gradcheck(
    f: Callable[..., Any],
    *inputs: Any,
    eps: float = 1e-6,
    tol: float = 1e-6,
    seed: int = 0,
) -> GradcheckReport:
    """Compare back-propagated gradients with central finite differences, in float64.

    The scalar checked is ``L = Σ r ⊙ f(x₁, …, xₙ)`` with a fixed random ``r`` (so every
    output component matters). For each input ``x``::

        g_num[i] = (L(x + ε·e_i) − L(x − ε·e_i)) / (2ε)
        rel_diff = ‖g_num − g‖ / (‖g_num‖ + ‖g‖)          (0 when both are 0)

    Args:
        f: function of Tensors returning a Tensor.
        *inputs: arrays or Tensors; every floating one is checked (converted to float64).
        eps: finite-difference step ``ε``.
        tol: largest relative difference accepted.
        seed: seed of the projection ``r``.

    Returns:
        A :class:`GradcheckReport` (truthy when passed) naming the worst input.

    Example:
        >>> import numpy as np, chainrule as cr
        >>> bool(cr.gradcheck(lambda x: x.tanh() * x, np.array([0.3, -1.2])))
        True
    """
    if eps <= 0:
        raise ValueError(f"gradcheck: eps must be > 0, got {eps}")
    if tol <= 0:
        raise ValueError(f"gradcheck: tol must be > 0, got {tol}")
    arrays = []
    checked = []
    for i, a in enumerate(inputs):
        data = np.array(a.data if isinstance(a, Tensor) else a)
        if np.issubdtype(data.dtype, np.floating):
            data = data.astype(np.float64)
            checked.append(i)
        arrays.append(data)
    if not checked:
        raise ValueError("gradcheck: no floating-point input to check")

    def scalar(arrs: list[np.ndarray], track: bool) -> tuple[Any, list[Any]]:
        ts = [Tensor(a, requires_grad=track and i in checked) for i, a in enumerate(arrs)]
        with enable_grad():
            out = f(*ts)
        r = np.random.default_rng(seed).standard_normal(out.data.shape)
        return (out * Tensor._wrap(r)).sum(), ts

    loss, ts = scalar(arrays, True)
    analytic = autograd_grad(loss, [ts[i] for i in checked]) if loss.requires_grad else None
    diffs = []
    with no_grad():
        for k, i in enumerate(checked):
            x = arrays[i]
            g_num = np.zeros_like(x)
            flat = x.reshape(-1)
            gflat = g_num.reshape(-1)
            for j in range(flat.size):
                orig = flat[j]
                flat[j] = orig + eps
                lp = scalar(arrays, False)[0].data
                flat[j] = orig - eps
                lm = scalar(arrays, False)[0].data
                flat[j] = orig
                gflat[j] = (lp - lm) / (2 * eps)
            g = analytic[k].data if analytic is not None else np.zeros_like(x)
            denom = np.linalg.norm(g_num) + np.linalg.norm(g)
            diffs.append(0.0 if denom == 0 else float(np.linalg.norm(g_num - g) / denom))
    worst = int(np.argmax(diffs))
    return GradcheckReport(
        passed=bool(max(diffs) <= tol),
        rel_diffs=diffs,
        worst_input=checked[worst],
        max_rel_diff=diffs[worst],
        tol=tol,
    )


from .tensor import Tensor, _make  # noqa: E402  (tensor imports this module first)
