"""The optimiser base class: parameter groups, ``step``, ``zero_grad`` and the state dict.

An optimiser updates parameters ``θ`` from their gradients ``g = ∂J/∂θ``. It holds
``param_groups``, a list of dicts, each with the key ``"params"`` (the Tensors of that group)
and one value per hyperparameter (``"lr"``, ``"momentum"``, …), so different groups can use
different settings; values a group does not give come from ``defaults``. Per-parameter
state (momentum buffers, moment estimates, step counts) lives in ``state[p]``.

This is ``torch.optim.Optimizer``'s design, kept so that trajectories can be compared with
PyTorch step by step and code ports by changing the import. Updates are NumPy in-place
operations on ``p.data`` and keep its dtype (float32 parameters stay float32).

``state_dict()`` has PyTorch's layout with plain values only — ndarrays, numbers, strings,
booleans, lists and dicts — so it can be written as safetensors (the arrays) plus JSON (the
rest)::

    {"state": {0: {"step": 3, "exp_avg": ndarray, ...}, 1: {...}},
     "param_groups": [{"lr": 0.001, "betas": (0.9, 0.999), ..., "params": [0, 1]}]}

Parameters are numbered in the order the groups list them; after a JSON round trip the
state keys may be strings (``"0"``) and tuples lists, which ``load_state_dict`` accepts.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, ClassVar, NamedTuple

import numpy as np

from ..autodiff import enable_grad, no_grad
from ..tensor import Tensor
from .flat import FlatGroup

ParamsT = Iterable[Any] | Iterable[dict[str, Any]]

__all__ = ["Optimizer", "ParamsT", "Scratch"]


_FIELDS: dict[Any, list[tuple[str, Any]]] = {}  # Hyperparameters class → (field, type)


def _same(value: Any) -> Any:
    return value


def _is_param(p: Any) -> bool:
    return isinstance(getattr(p, "data", None), np.ndarray) and hasattr(p, "grad")


def _grad_array(p: Any) -> np.ndarray | None:
    """``p.grad`` as an ndarray of ``p``'s dtype, or None when there is no gradient."""
    grad = p.grad
    if grad is None:
        return None
    g = grad.data if hasattr(grad, "data") else np.asarray(grad)
    if g.dtype != p.data.dtype:
        g = g.astype(p.data.dtype)
    if g.shape != p.data.shape:
        raise ValueError(
            f"gradient of shape {g.shape} does not match its parameter of shape {p.data.shape}"
        )
    return g


class Scratch:
    """Temporaries for an update, shaped like ``like`` and allocated on first use.

    ``a`` and ``b`` are arrays like ``like``; ``chunk`` is a small 1-D array (``CHUNK``
    elements) for updates done in cache-sized pieces. The compiled step keeps one Scratch
    per packed group, so its updates allocate nothing; :meth:`Optimizer.step` keeps one per
    parameter of at most ``CHUNK`` elements (where allocating would cost more than the
    update itself) and makes a new one per step for a larger parameter (so that the
    temporaries do not double the memory of a large model).
    """

    CHUNK = 32768  # elements: 128-256 KiB, a piece of a large update that stays in cache

    __slots__ = ("_a", "_b", "_c", "like")

    def __init__(self, like: np.ndarray) -> None:
        self.like = like
        self._a = self._b = self._c = None

    @property
    def a(self) -> np.ndarray:
        """A first temporary shaped like ``like``."""
        if self._a is None:
            self._a = np.empty_like(self.like)
        return self._a

    @property
    def b(self) -> np.ndarray:
        """A second temporary shaped like ``like``."""
        if self._b is None:
            self._b = np.empty_like(self.like)
        return self._b

    @property
    def chunk(self) -> np.ndarray:
        """A 1-D temporary of ``CHUNK`` elements."""
        if self._c is None:
            self._c = np.empty(self.CHUNK, self.like.dtype)
        return self._c


def coupled_weight_decay(
    theta: np.ndarray, g: np.ndarray, weight_decay: float, scratch: Scratch
) -> np.ndarray:
    """``g + weight_decay·θ``, the gradient of the L2 penalty ``(λ/2)‖θ‖²`` added to ``g``
    (PyTorch's coupled weight decay), computed into ``scratch.b``."""
    d = np.multiply(theta, weight_decay, out=scratch.b)
    d += g
    return d


# ---------------------------------------------------------------------------- the base class
class Optimizer:
    """Base class of the optimisers: parameter groups, ``step``, ``zero_grad``, state dict.

    Subclasses pass their hyperparameters as ``defaults`` and check them in ``_validate``.
    The update itself is stated by the *update protocol*, which :meth:`step` and the
    compiled training step (:mod:`chainrule.trace`) both use, so they compute the same
    numbers:

    - ``Hyperparameters``: a named tuple class; :meth:`hyperparameters` reads one from a
      group (override it when a group key is not a field, e.g. Adam's ``betas``);
    - ``state_names``: the per-parameter state arrays (shaped like the parameter);
    - :meth:`init_state`: the state of a parameter before its first update;
    - :meth:`update`: ``update(theta, g, state, hp, scratch)``, one step in place. It must
      work elementwise, so that it gives the same numbers on one parameter and on a group's
      parameters packed into one flat array (the compiled step does that).

    An optimiser that overrides ``step`` or ``_step_group`` instead is still usable
    everywhere; the compiled step then runs eagerly and says why.

    Args:
        params: an iterable of Tensors, or of ``(name, Tensor)`` pairs (``named_parameters()``;
            the names are kept in ``group["param_names"]``), or of dicts
            ``{"params": [...], "lr": ..., ...}`` (parameter groups; missing hyperparameters
            come from ``defaults``).
        defaults: the default value of every hyperparameter.

    Example:
        >>> import numpy as np, chainrule as cr
        >>> from chainrule import optim
        >>> w, b = cr.tensor(np.ones(2), requires_grad=True), cr.tensor(0.0, requires_grad=True)
        >>> opt = optim.SGD([{"params": [w]}, {"params": [b], "lr": 0.5}], lr=0.1)
        >>> [g["lr"] for g in opt.param_groups]
        [0.1, 0.5]
    """

    Hyperparameters: ClassVar[type[NamedTuple] | None] = None
    state_names: ClassVar[tuple[str, ...]] = ()

    def __init__(self, params: ParamsT, defaults: dict[str, Any]) -> None:
        self.defaults: dict[str, Any] = dict(defaults)
        self._validate(self.defaults, "")
        self.state: dict[Any, dict[str, Any]] = {}
        self.param_groups: list[dict[str, Any]] = []
        self._scratches: dict[Any, Scratch] = {}  # per small parameter, kept between steps
        if _is_param(params) or isinstance(params, (np.ndarray, dict)) or not isinstance(
            params, Iterable
        ):
            raise TypeError(
                "params must be an iterable of Tensors or of dicts (parameter groups), got "
                f"{type(params).__name__}"
            )
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # ------------------------------------------------------------------------ groups
    def _validate(self, hp: Mapping[str, Any], where: str) -> None:
        """Check the hyperparameters in ``hp``; ``where`` prefixes error messages."""

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own hyperparameters (others from ``defaults``).

        Useful to start training a frozen layer: ``opt.add_param_group({"params": [w]})``.
        """
        if not isinstance(param_group, dict):
            raise TypeError(f"a parameter group must be a dict, got {type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError("a parameter group needs the key 'params'")
        params = param_group["params"]
        params = [params] if _is_param(params) else list(params)
        index = len(self.param_groups)
        names = None
        if params and all(isinstance(p, tuple) and len(p) == 2 for p in params):
            # named parameters, e.g. model.named_parameters(): keep the names (as torch)
            names = [str(n) for n, _ in params]
            params = [p for _, p in params]
        seen: set[int] = {id(p) for g in self.param_groups for p in g["params"]}
        for p in params:
            if not _is_param(p):
                raise TypeError(
                    f"param group {index}: optimizers can only update Tensors, got "
                    f"{type(p).__name__}"
                )
            if p.data.dtype.kind not in "fc":
                raise TypeError(
                    f"param group {index}: cannot optimise a tensor of dtype {p.data.dtype}"
                )
            if id(p) in seen:
                raise ValueError(
                    f"param group {index}: a parameter appears twice (in this or another "
                    "group); each parameter may belong to one group only"
                )
            seen.add(id(p))
        group = {k: v for k, v in param_group.items() if k != "params"}
        if names is not None:
            group["param_names"] = names
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        self._validate(group, f"param group {index}: ")
        group["params"] = params
        self.param_groups.append(group)

    # ------------------------------------------------------------------------- updates
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient, once; return ``closure()`` if given.

        ``closure`` re-evaluates the model and returns the loss (it runs with gradients on,
        before the update). Parameters whose ``grad`` is None are skipped.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with no_grad():
            for group in self.param_groups:
                self._step_group(group)
        return loss

    def _step_group(self, group: dict[str, Any]) -> None:
        """One update of the parameters of ``group`` that have a gradient (the protocol):
        as one flat update when the group allows it (:mod:`chainrule.optim.flat`; the same
        numbers), else parameter by parameter."""
        hp = self.hyperparameters(group)
        flat = self._flat_group(group)
        if flat is not None:
            flat.step(self, hp)
            return
        # the default init_state is empty: no need to ask it at every step
        init_state = None if type(self).init_state is Optimizer.init_state else self.init_state
        states, update, scratches = self.state, self.update, self._scratches
        for p in group["params"]:
            grad = p.grad
            if grad is None:
                continue
            theta = p.data
            g = grad.data if isinstance(grad, Tensor) else None
            if g is None or g.dtype != theta.dtype or g.shape != theta.shape:
                g = _grad_array(p)
            state = states.get(p)
            if state is None:
                state = states[p] = {}
            if not state and init_state is not None:
                state.update(init_state(theta, hp))
            scratch = scratches.get(p)
            if scratch is None or scratch.like is not theta:
                scratch = Scratch(theta)
                if theta.size <= Scratch.CHUNK:
                    scratches[p] = scratch
            update(theta, g, state, hp, scratch)

    def _flat_group(self, group: dict[str, Any]) -> FlatGroup | None:
        """The group's parameters with a gradient as a :class:`FlatGroup` whose state is
        packed, or None when they are updated one by one: always at a group's first step
        (which makes the states) and when the update keeps no state array (a stateless
        update is a call or two per parameter: gathering would cost more than it saves)."""
        params = [p for p in group["params"] if p.grad is not None]
        state = self.state.get(params[0]) if params else None
        if not state or not any(isinstance(v, np.ndarray) for v in state.values()):
            return None
        flats = self.__dict__.setdefault("_flat_groups", {})
        flat = flats.get(id(group))
        if flat is None or not flat.fits(group, params):
            if not FlatGroup.eligible(params):
                flats.pop(id(group), None)
                return None
            flat = flats[id(group)] = FlatGroup(group, params, Scratch)
        if flat.state.current(self) or flat.state.pack(self):
            return flat
        return None

    def __getstate__(self) -> dict[str, Any]:
        # a copy (copy.deepcopy, pickle) keeps the state's values but not the flat arrays
        # they are views of: its flat groups are made again at its first step
        state = self.__dict__.copy()
        state.pop("_flat_groups", None)
        return state

    # ---------------------------------------------------------------- update protocol
    def hyperparameters(self, group: dict[str, Any]) -> Any:
        """The hyperparameters of ``group`` as this optimiser's ``Hyperparameters`` tuple."""
        cls = type(self).Hyperparameters
        fields = _FIELDS.get(cls)
        if fields is None:
            if cls is None:
                raise NotImplementedError(f"{type(self).__name__} states no Hyperparameters")
            kinds = {"float": float, "bool": bool, "int": int}
            hints = cls.__annotations__
            fields = _FIELDS[cls] = [(name, kinds.get(str(hints.get(name)), _same))
                                     for name in cls._fields]
        return cls(*[convert(group[name]) for name, convert in fields])

    def init_state(self, theta: np.ndarray, hp: Any) -> dict[str, Any]:
        """The state of a parameter ``theta`` before its first update (default: empty)."""
        return {}

    @staticmethod
    def update(
        theta: np.ndarray, g: np.ndarray, state: dict[str, Any], hp: Any, scratch: Scratch
    ) -> None:
        """One update of ``theta`` in place from its gradient ``g`` and its ``state``."""
        raise NotImplementedError

    @classmethod
    def follows_protocol(cls) -> str | None:
        """None if :meth:`step` is the update protocol's, else why not (for the compiled step)."""
        if cls.update is Optimizer.update or (cls.Hyperparameters is None and (
            cls.hyperparameters is Optimizer.hyperparameters
        )):
            return f"{cls.__name__} does not implement the update protocol (update, " \
                   "Hyperparameters)"
        if cls.step is not Optimizer.step or cls._step_group is not Optimizer._step_group:
            return f"{cls.__name__} overrides step(), so its update is not the protocol's"
        return None

    @staticmethod
    def _with_grads(group: dict[str, Any]) -> Iterator[tuple[Any, np.ndarray, np.ndarray]]:
        """``(p, θ, g)`` for the parameters of ``group`` that have a gradient."""
        for p in group["params"]:
            g = _grad_array(p)
            if g is not None:
                yield p, p.data, g

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients: ``p.grad = None`` (default) or fill them with zeros in place."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    g = p.grad.data
                    if not g.flags.writeable:
                        p.grad.data = g = g.copy()
                    g.fill(0)

    # ---------------------------------------------------------------------- state dict
    def state_dict(self) -> dict[str, Any]:
        """The optimiser's state as plain values: ``{"state": ..., "param_groups": ...}``.

        ``state`` maps a parameter's index (its position over all groups) to a dict of
        copies of its buffers (ndarrays) and counters (ints); ``param_groups`` lists each
        group's hyperparameters with ``"params"`` as the indices of its parameters.
        Nothing in it aliases the optimiser: later steps do not change it.
        """
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            packed["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(packed)
        state: dict[int, dict[str, Any]] = {}
        for group in self.param_groups:
            for p in group["params"]:
                s = self.state.get(p)
                if s:
                    state[index[id(p)]] = {
                        k: (v.copy() if isinstance(v, np.ndarray) else copy.deepcopy(v))
                        for k, v in s.items()
                    }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore the state saved by :meth:`state_dict` (after a JSON round trip too).

        The groups must have the same sizes as this optimiser's. Buffers are copied and cast
        to their parameter's dtype; hyperparameters (including ``lr``) are taken from the
        saved groups. Load after constructing a learning-rate scheduler (the scheduler's
        construction sets ``lr``), then load the scheduler's own state.
        """
        if not isinstance(state_dict, Mapping) or not {"state", "param_groups"} <= set(
            state_dict
        ):
            raise ValueError(
                "load_state_dict: expected a dict with keys 'state' and 'param_groups'"
            )
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"load_state_dict: the saved state has {len(saved_groups)} parameter groups, "
                f"this optimizer has {len(self.param_groups)}"
            )
        id_map: dict[int, Any] = {}
        for i, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(
                    f"load_state_dict: saved param group {i} has {len(saved['params'])} "
                    f"parameters, this optimizer's has {len(group['params'])}"
                )
            for k, p in zip(saved["params"], group["params"]):
                id_map[int(k)] = p
        new_state: dict[Any, dict[str, Any]] = {}
        for key, values in state_dict["state"].items():
            k = int(key)
            if k not in id_map:
                raise ValueError(
                    f"load_state_dict: state for parameter {k}, but the optimizer has "
                    f"{len(id_map)} parameters"
                )
            p = id_map[k]
            new_state[p] = {name: _restore(name, v, p) for name, v in values.items()}
        new_groups = []
        for i, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            new = {}
            for key, value in saved.items():
                if key == "params":
                    continue
                value = copy.deepcopy(value)
                if isinstance(group.get(key), tuple) and isinstance(value, list):
                    value = tuple(value)
                new[key] = value
            self._validate({**self.defaults, **new}, f"saved param group {i}: ")
            if "param_names" in group and "param_names" not in new:
                new["param_names"] = list(group["param_names"])
            new["params"] = group["params"]
            new_groups.append(new)
        self.state = new_state
        self.param_groups = new_groups

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(k for k in group if k != "params"):
                lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)


def _restore(name: str, value: Any, p: Any) -> Any:
    """A saved state entry as this optimiser keeps it (counters as numbers, buffers as arrays
    of the parameter's dtype and shape)."""
    if value is None:
        return None
    if name == "step":
        step = np.asarray(value).item()
        return int(step) if float(step).is_integer() else step
    if hasattr(value, "data") and isinstance(value.data, np.ndarray):
        value = value.data
    arr = np.array(value, dtype=p.data.dtype)
    if arr.shape != p.data.shape:
        raise ValueError(
            f"load_state_dict: state {name!r} has shape {arr.shape}, its parameter has shape "
            f"{p.data.shape}"
        )
    return arr
