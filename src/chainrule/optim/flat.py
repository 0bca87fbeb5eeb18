"""A group's parameters updated as one flat array.

The update protocol (:meth:`Optimizer.update`) works elementwise, so one call on the
parameters of a group laid end to end in one flat array gives the same numbers, bit for bit,
as one call per parameter, with one set of NumPy calls instead of one per parameter. For a
model of small layers that is most of the update's time: Adam's thirteen array operations
on 15,210 elements cost about what they cost on one 100-element bias.

- :class:`FlatState` keeps the optimiser's state arrays of such a group flat: one array per
  state name (``exp_avg``, ``exp_avg_sq``, …), each member's ``opt.state[p][name]`` being a
  view of its slice, so ``state_dict``, ``load_state_dict`` and a per-parameter step see
  what they always saw. Counters (``step``) stay per member, equal across the group.
- :class:`FlatGroup` is the eager step's use of it (:meth:`Optimizer.step`): the gradients
  and the parameters are gathered into flat arrays, updated in one call, and the parameters
  written back. The compiled training step (:mod:`chainrule.trace`) goes further for a
  group of at most :data:`FLAT_MAX` elements: it moves the parameters themselves into a flat
  array once (their ``data`` become views of it) and computes the gradients straight into
  another, so nothing is gathered; it keeps its state in a :class:`FlatState` too.

The eager step updates a group flat from its second step on, when the update keeps state
arrays (a stateless update, such as plain SGD's, is a call or two per parameter: gathering
would cost more than it saves), at least two of its parameters have a gradient, they share
one floating dtype, each gradient has its parameter's shape and dtype, together they hold at
most :data:`FLAT_MAX` elements, and their states are alike (the same names, equal counters).
Otherwise the step is per parameter; the numbers are the same either way.
"""

from __future__ import annotations

import itertools
import operator
from typing import Any

import numpy as np

from ..tensor import Tensor

__all__ = ["FLAT_MAX", "FlatGroup", "FlatState", "aligned_zeros", "held_flat", "layout"]

#: the most elements a group may hold to be gathered into flat arrays by the eager step or
#: packed by the compiled step (beyond it the per-call cost is small beside the arithmetic,
#: and gathering costs copies, packing a second copy of the parameters)
FLAT_MAX = 1 << 16

ALIGN = 64  # bytes: each member starts on a cache line


def aligned_zeros(n: int, dtype: np.dtype) -> np.ndarray:
    """``np.zeros(n, dtype)`` starting on a 64-byte boundary."""
    pad = ALIGN // dtype.itemsize
    raw = np.zeros(n + pad, dtype)
    start = (-raw.ctypes.data % ALIGN) // dtype.itemsize
    return raw[start:start + n]


def layout(params: list[Any], align: bool = True) -> tuple[list[tuple[int, int, tuple]], int]:
    """``(offset, size, shape)`` of each parameter in a flat array and the array's length;
    with ``align`` each starts on a cache line (the gaps stay 0), else they follow on."""
    per_line = max(1, ALIGN // params[0].data.dtype.itemsize) if align else 1
    slices = []
    n = 0
    for p in params:
        slices.append((n, p.data.size, p.data.shape))
        n += -(-p.data.size // per_line) * per_line
    return slices, n


class FlatState:
    """The state arrays of the parameters ``params`` of one optimiser, flat.

    Args:
        params: the members, in order.
        slices: ``(offset, size, shape)`` of each member in the flat arrays.
        size: the flat arrays' length.
        dtype: their dtype (the parameters').
    """

    def __init__(self, params: list[Any], slices: list[tuple[int, int, tuple]], size: int,
                 dtype: np.dtype) -> None:
        self.params = params
        self.slices = slices
        self.size = size
        self.dtype = dtype
        self.flat: dict[str, np.ndarray] = {}
        self.states: list[dict] | None = None
        self.counters: list[str] = []
        self._dicts: list[dict] = []  # the members' state dicts, keys and views handed out
        self._keys: list[str] = []
        self._views: list[np.ndarray] = []

    def pack(self, opt: Any) -> bool:
        """Move the members' state arrays in ``opt.state`` into flat arrays (the members
        keep views); False, changing nothing, when the members' states differ in kind (other
        names, other counters, an array not shaped like its parameter)."""
        states = [opt.state.get(p) for p in self.params]
        if any(st is None for st in states):
            return False
        first = states[0]
        names = type(opt).state_names
        for st, p in zip(states, self.params):
            if st.keys() != first.keys():
                return False
            for key, value in st.items():
                if isinstance(value, np.ndarray):
                    if key not in names or value.shape != p.data.shape:
                        return False
                elif isinstance(first[key], np.ndarray) or value != first[key]:
                    return False
        flat: dict[str, np.ndarray] = {}
        self._dicts, self._keys, self._views = [], [], []
        for key, value in first.items():
            if isinstance(value, np.ndarray):
                arr = aligned_zeros(self.size, self.dtype)
                for st, (off, size, shape) in zip(states, self.slices):
                    view = arr[off:off + size].reshape(shape)
                    view[...] = st[key]
                    st[key] = view
                    self._watch(st, key, view)
                flat[key] = arr
        self.flat, self.states = flat, states
        self.counters = [k for k, v in first.items() if not isinstance(v, np.ndarray)]
        return True

    def current(self, opt: Any) -> bool:
        """Whether the members' state is still this flat state: the same dicts holding the
        same views, the same keys, equal counters."""
        states = self.states
        if states is None:
            return False
        if not (all(map(operator.is_, map(opt.state.get, self.params), states))
                and all(map(operator.is_, map(dict.get, self._dicts, self._keys),
                            self._views))):
            return False
        first = states[0]
        if list(map(len, states)) != [len(first)] * len(states):
            return False
        for key in self.counters:
            if not all(map(operator.eq, map(dict.get, states, itertools.repeat(key)),
                           itertools.repeat(first[key]))):
                return False
        return True

    def update(self, opt: Any, theta: np.ndarray, grad: np.ndarray, hp: Any,
               scratch: Any) -> None:
        """``opt.update`` on the flat arrays ``theta`` and ``grad`` (laid out as
        ``slices``); counters and state arrays the update makes go back to the members."""
        state: dict[str, Any] = dict(self.flat)
        first = self.states[0]
        for key in self.counters:
            state[key] = first[key]
        opt.update(theta, grad, state, hp, scratch)
        for key, value in state.items():
            if isinstance(value, np.ndarray):
                if self.flat.get(key) is value:
                    continue
                if value.shape != theta.shape:
                    raise ValueError(f"{type(opt).__name__}.update made a state array "
                                     f"{key!r} of shape {value.shape} for a flat group")
                self.flat[key] = value
                for st, (off, size, shape) in zip(self.states, self.slices):
                    st[key] = view = value[off:off + size].reshape(shape)
                    self._watch(st, key, view)
            else:
                if key not in self.counters:
                    self.counters.append(key)
                for st in self.states:
                    st[key] = value

    def _watch(self, st: dict, key: str, view: np.ndarray) -> None:
        """Remember that ``st[key]`` is ``view`` (:meth:`current` checks it)."""
        self._dicts.append(st)
        self._keys.append(key)
        self._views.append(view)


def held_flat(params: list[Any]) -> bool:
    """Whether ``params`` (at least one) can be held in one flat array: they share one
    floating dtype and hold at most :data:`FLAT_MAX` elements together. The eager step
    gathers such a group (:class:`FlatGroup`), the compiled step packs it."""
    dtype = params[0].data.dtype
    return (dtype.kind == "f" and all(p.data.dtype == dtype for p in params)
            and sum(p.data.size for p in params) <= FLAT_MAX)


def _with_their_gradients(params: list[Any], dtype: np.dtype, shapes: list[tuple]) -> bool:
    """Whether each parameter has ``dtype`` and its shape in ``shapes``, and a Tensor
    gradient of that dtype and shape."""
    for p, shape in zip(params, shapes):
        g = p.grad
        if (p.data.dtype != dtype or p.data.shape != shape or not isinstance(g, Tensor)
                or g.data.dtype != dtype or g.data.shape != shape):
            return False
    return True


class FlatGroup:
    """The eager step of a group's parameters as one flat update (see the module
    docstring): ``params`` are the members (the group's parameters with a gradient)."""

    def __init__(self, group: dict[str, Any], params: list[Any], scratch: Any) -> None:
        self.group = group
        self.params = params
        self.dtype = params[0].data.dtype
        self.shapes = [p.data.shape for p in params]
        slices, n = layout(params, align=False)  # end to end: gathered by one concatenate
        self.state = FlatState(params, slices, n, self.dtype)
        self.theta = aligned_zeros(n, self.dtype)
        self.grad = aligned_zeros(n, self.dtype)
        self.theta_views = [self.theta[o:o + s].reshape(sh) for o, s, sh in slices]
        #: temporaries for the update, shaped like ``theta`` (an :class:`Optimizer`'s Scratch)
        self.scratch = scratch(self.theta)

    @staticmethod
    def eligible(params: list[Any]) -> bool:
        """Whether these parameters (each with a gradient) can be updated flat."""
        if len(params) < 2 or not held_flat(params):
            return False
        return _with_their_gradients(params, params[0].data.dtype,
                                     [p.data.shape for p in params])

    def fits(self, group: dict[str, Any], params: list[Any]) -> bool:
        """Whether this flat group still describes ``group``'s parameters with a gradient."""
        return (group is self.group and len(params) == len(self.params)
                and all(map(operator.is_, params, self.params))
                and _with_their_gradients(params, self.dtype, self.shapes))

    def step(self, opt: Any, hp: Any) -> None:
        """Gather the gradients and parameters, update them flat, write the parameters
        back."""
        params = self.params
        np.concatenate([p.grad.data.reshape(-1) for p in params], out=self.grad)
        np.concatenate([p.data.reshape(-1) for p in params], out=self.theta)
        self.state.update(opt, self.theta, self.grad, hp, self.scratch)
        for view, p in zip(self.theta_views, self.params):
            np.copyto(p.data, view)
