"""Module and Parameter: the containers that hold a network's weights.

A :class:`Module` is a function with state. Its parameters are found by walking its
attributes (and the lists, tuples and dicts among them), so a layer only has to assign them::

    class Neuron(nn.Module):                  # a = σ(Wx + b)
        def __init__(self):
            super().__init__()
            self.W = nn.Parameter(np.zeros((1, 3)))
            self.b = nn.Parameter(np.zeros(1))

        def forward(self, x):
            return (x @ self.W.T + self.b).sigmoid()

Names follow PyTorch (``0.weight``, ``blocks.1.bias``); ``state_dict()``, ``parameters()``
and ``named_parameters()`` all use the same order: a module's own parameters (in the order
they were assigned), then its own buffers (``state_dict`` only), then each child module.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, NamedTuple

import numpy as np

from ..tensor import Tensor

# --------------------------------------------------------------------------- Parameter


class Parameter(Tensor):
    """A Tensor that is a learnable weight of a Module (``requires_grad=True`` by default).

    Assigning a Parameter to a Module attribute registers it: it then appears in
    ``parameters()``, ``named_parameters()`` and ``state_dict()``.

    Args:
        data: numbers, nested lists, an ndarray or a Tensor (copied; an ndarray keeps its
            dtype, Python floats become float32).
        requires_grad: whether back-propagation fills ``.grad`` (default True; False freezes).
        dtype: optional dtype to convert to.

    Example:
        >>> import numpy as np
        >>> from chainrule import nn
        >>> w = nn.Parameter(np.zeros((2, 3)))
        >>> isinstance(w, nn.Parameter), w.requires_grad, w.shape
        (True, True, (2, 3))
    """

    __slots__ = ()

    def __init__(self, data: Any, requires_grad: bool = True, dtype: Any = None) -> None:
        super().__init__(data, requires_grad=requires_grad, dtype=dtype)
        if self.data.dtype.kind != "f":
            raise TypeError(f"Parameter: data must be floating point, got dtype {self.dtype}")

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


# ------------------------------------------------------------------------------ helpers


class IncompatibleKeys(NamedTuple):
    """What ``load_state_dict(strict=False)`` skipped."""

    missing_keys: list[str]
    unexpected_keys: list[str]


def _as_array(value: Any, name: str) -> np.ndarray:
    if isinstance(value, Tensor):
        return value.data
    if isinstance(value, (np.ndarray, np.generic)):
        return np.asarray(value)
    if hasattr(value, "__array__") and not isinstance(value, (str, bytes)):
        try:  # an array-like of another library, e.g. a torch.Tensor of a state_dict
            return np.asarray(value)
        except (TypeError, ValueError, RuntimeError) as err:
            raise TypeError(
                f"load_state_dict: value for {name!r} ({type(value).__name__}) cannot be "
                f"converted to a NumPy array: {err}"
            ) from None
    raise TypeError(
        f"load_state_dict: value for {name!r} must be an ndarray or a Tensor (or an "
        f"array-like such as a torch.Tensor), got {type(value).__name__}"
    )


def _walk_container(name: str, value: Any, out: list[tuple[str, str, Any]]) -> None:
    """Entries of the Parameters and Modules inside a list, tuple or dict attribute."""
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for k, v in items:
        full = f"{name}.{k}"
        if isinstance(v, Parameter):
            out.append(("parameter", full, v))
        elif isinstance(v, Module):
            out.append(("module", full, v))
        elif isinstance(v, (list, tuple, dict)) and v:
            _walk_container(full, v, out)


# --------------------------------------------------------------------------------- Module


class Module:
    """Base class of every layer and model: a callable with parameters, buffers and children.

    Subclasses call ``super().__init__()``, assign Parameters, sub-Modules (directly or in
    lists/tuples/dicts) and buffers (:meth:`register_buffer`), and define ``forward``.
    Calling the module calls ``forward``.

    Attributes:
        training: True in training mode (Dropout drops, BatchNorm uses batch statistics),
            False after :meth:`eval`.

    Example:
        >>> from chainrule import nn
        >>> model = nn.Sequential(nn.Linear(3, 2, seed=0), nn.ReLU())
        >>> [name for name, _ in model.named_parameters()]
        ['0.weight', '0.bias']
        >>> model.eval().training
        False
    """

    training: bool = True

    def __init__(self) -> None:
        self.training = True
        self._buffer_names: list[str] = []

    # ------------------------------------------------------------------------- calling
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The computation of the module (subclasses define it)."""
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    # -------------------------------------------------------------------------- walking
    def _members(self) -> Iterable[tuple[str, Any]]:
        """(name, value) pairs holding this module's parameters, buffers and children."""
        return vars(self).items()

    def _entries(self) -> list[tuple[str, str, Any]]:
        """(kind, name, object) for own parameters, own buffers and children, in order."""
        buffers = getattr(self, "_buffer_names", ())
        out: list[tuple[str, str, Any]] = []
        for name, value in self._members():
            if isinstance(value, Tensor):
                if isinstance(value, Parameter):
                    out.append(("parameter", name, value))
                elif name in buffers:
                    out.append(("buffer", name, value))
            elif isinstance(value, Module):
                out.append(("module", name, value))
            elif isinstance(value, (list, tuple, dict)) and value and name != "_buffer_names":
                _walk_container(name, value, out)
        return out

    def _walk(self, prefix: str = "") -> Iterator[tuple[str, Module, list[Any]]]:
        """(name, module, its entries) for this module and its descendants, pre-order,
        each module once."""
        seen: set[int] = set()
        stack: list[tuple[str, Module]] = [(prefix, self)]
        while stack:
            name, m = stack.pop()
            if id(m) in seen:
                continue
            seen.add(id(m))
            entries = m._entries()
            yield name, m, entries
            for kind, n, obj in reversed(entries):
                if kind == "module":
                    stack.append((f"{name}.{n}" if name else n, obj))

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """Direct sub-modules with their names."""
        for kind, name, obj in self._entries():
            if kind == "module":
                yield name, obj

    def children(self) -> Iterator[Module]:
        """Direct sub-modules."""
        for _, m in self.named_children():
            yield m

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module and all its descendants (pre-order, each module once)."""
        for name, m, _ in self._walk(prefix):
            yield name, m

    def modules(self) -> Iterator[Module]:
        """This module and all its descendants."""
        for _, m, _ in self._walk():
            yield m

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Tensor]]:
        """``(name, parameter)`` pairs in ``state_dict`` order, each parameter once."""
        seen: set[int] = set()
        for mname, _, entries in self._walk(prefix):
            for kind, name, obj in entries:
                if kind == "parameter" and id(obj) not in seen:
                    seen.add(id(obj))
                    yield (f"{mname}.{name}" if mname else name), obj

    def parameters(self) -> Iterator[Tensor]:
        """The parameters, in ``state_dict`` order (each shared parameter once)."""
        seen: set[int] = set()
        for _, _, entries in self._walk():
            for kind, _, obj in entries:
                if kind == "parameter" and id(obj) not in seen:
                    seen.add(id(obj))
                    yield obj

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, Tensor]]:
        """``(name, buffer)`` pairs (e.g. BatchNorm's ``running_mean``)."""
        for mname, _, entries in self._walk(prefix):
            for kind, name, obj in entries:
                if kind == "buffer":
                    yield (f"{mname}.{name}" if mname else name), obj

    def buffers(self) -> Iterator[Tensor]:
        """The buffers."""
        for _, b in self.named_buffers():
            yield b

    def num_parameters(self) -> int:
        """Total number of scalar parameters."""
        return sum(p.size for p in self.parameters())

    def register_buffer(self, name: str, value: Any) -> None:
        """Store ``value`` (a Tensor without gradient) as a buffer, saved in ``state_dict``.

        Buffers are state that is not learned by gradient descent, such as BatchNorm's
        running statistics.
        """
        if not isinstance(name, str) or not name or "." in name:
            raise ValueError(f"register_buffer: invalid buffer name {name!r}")
        if "_buffer_names" not in vars(self):
            raise RuntimeError(
                f"{type(self).__name__}: call super().__init__() before register_buffer"
            )
        if value is not None and not isinstance(value, Tensor):
            value = Tensor(np.asarray(value))
        if name not in self._buffer_names:
            self._buffer_names.append(name)
        setattr(self, name, value)

    def apply(self, fn: Any) -> Module:
        """Call ``fn(module)`` on every descendant and then on this module; returns self.

        Example (re-initialise every Linear layer):
            >>> from chainrule import nn
            >>> def he(m):
            ...     if isinstance(m, nn.Linear):
            ...         nn.init.kaiming_normal(m.weight, seed=0)
            >>> model = nn.Sequential(nn.Linear(3, 2, seed=0)).apply(he)
        """
        for m in reversed(list(self.modules())):
            fn(m)
        return self

    # ---------------------------------------------------------------------------- modes
    def train(self, mode: bool = True) -> Module:
        """Set training mode (``mode=True``) or evaluation mode for this module and all
        its descendants; returns self."""
        if not isinstance(mode, bool):
            raise TypeError(f"train: mode must be a bool, got {type(mode).__name__}")
        for m in self.modules():
            m.training = mode
        return self

    def eval(self) -> Module:
        """Evaluation mode (``train(False)``): Dropout is the identity, BatchNorm uses its
        running statistics; returns self."""
        return self.train(False)

    def zero_grad(self) -> None:
        """Forget the accumulated gradients of all parameters (``p.grad = None``)."""
        for p in self.parameters():
            p.grad = None

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Freeze (False) or unfreeze (True) all parameters; returns self."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def to(self, dtype: Any) -> Module:
        """Convert every floating-point parameter and buffer to ``dtype`` in place.

        The Parameter objects stay the same (an optimiser holding them keeps working);
        their ``.data`` (and ``.grad``) are converted. Returns self.

        Example:
            >>> import numpy as np
            >>> from chainrule import nn
            >>> nn.Linear(2, 1, seed=0).to(np.float64).weight.dtype
            dtype('float64')
        """
        dtype = np.dtype(dtype)
        if dtype.kind != "f":
            raise ValueError(f"to: dtype must be a floating-point dtype, got {dtype}")
        for t in list(self.parameters()) + list(self.buffers()):
            if t.data.dtype.kind == "f":
                t.data = t.data.astype(dtype)
                if t.grad is not None:
                    t.grad = Tensor(t.grad.data.astype(dtype))
        return self

    def double(self) -> Module:
        """``to(np.float64)``."""
        return self.to(np.float64)

    def float(self) -> Module:
        """``to(np.float32)``."""
        return self.to(np.float32)

    # ----------------------------------------------------------------------- state dict
    def _state_items(self, prefix: str = "") -> Iterator[tuple[str, Tensor]]:
        entries = self._entries()
        for kind, name, obj in entries:
            if kind != "module":
                yield f"{prefix}{name}", obj
        for kind, name, obj in entries:
            if kind == "module":
                yield from obj._state_items(f"{prefix}{name}.")

    def state_dict(self) -> dict[str, np.ndarray]:
        """``{name: ndarray}`` of every parameter and buffer, in registration order.

        Names are PyTorch's (``0.weight``, ``0.bias``, ``1.running_mean``, …). The arrays
        are copies: later training does not change a state dict already taken.

        Example:
            >>> from chainrule import nn
            >>> sd = nn.Sequential(nn.Linear(3, 2, seed=0), nn.BatchNorm1d(2)).state_dict()
            >>> [(k, v.shape) for k, v in sd.items()]  # doctest: +NORMALIZE_WHITESPACE
            [('0.weight', (2, 3)), ('0.bias', (2,)), ('1.weight', (2,)), ('1.bias', (2,)),
             ('1.running_mean', (2,)), ('1.running_var', (2,)), ('1.num_batches_tracked', ())]
        """
        return {name: t.data.copy() for name, t in self._state_items()}

    def load_state_dict(
        self, state_dict: Mapping[str, Any], strict: bool = True
    ) -> IncompatibleKeys:
        """Copy parameters and buffers from ``state_dict`` (ndarrays, Tensors or array-likes
        such as the ``torch.Tensor`` values of a PyTorch ``state_dict()``).

        Every value is checked before anything changes: with ``strict=True`` a missing or
        unexpected key is an error, and a shape mismatch always is. Values are cast to the
        dtype of the parameter they replace; the Parameter objects themselves are kept.

        Args:
            state_dict: ``{name: ndarray | Tensor}`` as returned by :meth:`state_dict`.
            strict: require exactly the model's keys.

        Returns:
            ``IncompatibleKeys(missing_keys, unexpected_keys)`` (empty when strict).

        Raises:
            ValueError: naming every missing, unexpected or mis-shaped key (with both shapes).
            TypeError: a value is not an ndarray, a Tensor or an array-like.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(
                f"load_state_dict: expected a mapping name -> array, "
                f"got {type(state_dict).__name__}"
            )
        own = dict(self._state_items())
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        problems = []
        if strict and missing:
            problems.append("missing key(s): " + ", ".join(repr(k) for k in missing))
        if strict and unexpected:
            problems.append("unexpected key(s): " + ", ".join(repr(k) for k in unexpected))
        new: dict[str, np.ndarray] = {}
        for name, target in own.items():
            if name not in state_dict:
                continue
            arr = _as_array(state_dict[name], name)
            if arr.shape != target.data.shape:
                problems.append(
                    f"shape mismatch for {name!r}: the model has shape {target.data.shape}, "
                    f"the state dict has shape {arr.shape}"
                )
                continue
            try:
                new[name] = np.array(arr, dtype=target.data.dtype)
            except (TypeError, ValueError) as err:
                problems.append(f"cannot convert {name!r} to {target.data.dtype}: {err}")
        if problems:
            raise ValueError(
                f"load_state_dict for {type(self).__name__}: " + "; ".join(problems)
            )
        for name, arr in new.items():
            own[name].data = arr
        return IncompatibleKeys(missing if not strict else [], unexpected if not strict else [])

    # -------------------------------------------------------------------------- config
    def _config(self) -> dict[str, Any]:
        """Constructor arguments that rebuild this module (JSON-able; sub-modules allowed).

        Built-in layers define it so :func:`chainrule.io.load` can rebuild a model without
        the user's code. A custom module need not: save its weights and reload them with
        ``model.load_state_dict(...)``.
        """
        raise NotImplementedError(f"{type(self).__name__} does not define _config()")

    @classmethod
    def _from_config(cls, config: dict[str, Any]) -> Module:
        return cls(**config)

    # --------------------------------------------------------------------------- repr
    def extra_repr(self) -> str:
        """The text between the parentheses of this module's repr."""
        return ""

    def __repr__(self) -> str:
        kids = list(self.named_children())
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not kids:
            n = self.num_parameters()
            return head + ")" + (f"  # {n:,} parameters" if n else "")
        lines = [head]
        for name, child in kids:
            body = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {body}")
        lines.append(f")  # {self.num_parameters():,} parameters in total")
        return "\n".join(lines)


# ---------------------------------------------------------------------- registry of modules

MODULES: dict[str, type[Module]] = {}


def register_module(cls: type[Module]) -> type[Module]:
    """Class decorator: let :func:`chainrule.io.load` rebuild ``cls`` by name.

    The class needs ``_config()`` returning JSON-able constructor arguments. Built-in layers
    are registered; registering your own class is an explicit opt-in (loading a file never
    imports or runs code that was not registered).
    """
    if not (isinstance(cls, type) and issubclass(cls, Module)):
        raise TypeError(f"register_module: expected a Module subclass, got {cls!r}")
    MODULES[cls.__name__] = cls
    return cls


# ------------------------------------------------------------------------------ containers


def _check_module(m: Any, where: str) -> Module:
    if not isinstance(m, Module):
        raise TypeError(f"{where}: expected a Module, got {type(m).__name__}")
    return m


@register_module
class ModuleList(Module):
    """A list of modules whose parameters are registered as ``0.…``, ``1.…``.

    Args:
        modules: an iterable of Modules.

    Example:
        >>> from chainrule import nn
        >>> blocks = nn.ModuleList([nn.Linear(2, 2, seed=0), nn.Linear(2, 2, seed=1)])
        >>> len(blocks), len(list(blocks.parameters()))
        (2, 4)
    """

    def __init__(self, modules: Iterable[Module] = ()) -> None:
        super().__init__()
        self._items: list[Module] = [_check_module(m, type(self).__name__) for m in modules]

    def _members(self) -> Iterable[tuple[str, Any]]:
        return [(str(i), m) for i, m in enumerate(self._items)]

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._items)

    def __getitem__(self, idx: Any) -> Any:
        if isinstance(idx, slice):
            return type(self)(self._items[idx])
        return self._items[idx]

    def __setitem__(self, idx: int, module: Module) -> None:
        self._items[idx] = _check_module(module, type(self).__name__)

    def append(self, module: Module) -> ModuleList:
        """Add a module at the end; returns self."""
        self._items.append(_check_module(module, type(self).__name__))
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        """Add modules at the end; returns self."""
        for m in modules:
            self.append(m)
        return self

    def _config(self) -> dict[str, Any]:
        return {"modules": list(self._items)}

    @classmethod
    def _from_config(cls, config: dict[str, Any]) -> Module:
        return cls(config["modules"])


@register_module
class Sequential(ModuleList):
    """A chain of modules: ``f(x) = f_L(… f_2(f_1(x)))``.

    Indexable (``model[0]``, slices give a Sequential) and sized (``len(model)``); children
    are named ``0``, ``1``, … as in PyTorch.

    A ``Linear`` followed by ``Sigmoid``, ``Tanh`` or ``ReLU`` (neither forward overridden)
    runs as one graph node, :class:`~chainrule.ops.LinearActivation`: the same numbers, one
    node and one backward call per layer instead of two. Not while
    :func:`chainrule.record_modules` watches the module calls (each module is then called).

    Args:
        *modules: the layers, applied in order.

    Example:
        >>> import chainrule as cr
        >>> from chainrule import nn
        >>> model = nn.Sequential(nn.Linear(4, 3, seed=0), nn.Tanh(), nn.Linear(3, 1, seed=1))
        >>> model(cr.tensor([[1.0, 2.0, 3.0, 4.0]])).shape, len(model)
        ((1, 1), 3)
    """

    def __init__(self, *modules: Module) -> None:
        if len(modules) == 1 and isinstance(modules[0], (list, tuple)):
            modules = tuple(modules[0])
        super().__init__(modules)

    def __getitem__(self, idx: Any) -> Any:
        if isinstance(idx, slice):
            return type(self)(*self._items[idx])
        return self._items[idx]

    #: the modules paired for fusion, ``[(module, activation primitive or None), …]``
    #: (built on first use, forgotten when the list changes)
    _fusion: list[tuple[Module, Any]] | None = None

    def forward(self, x: Any) -> Any:
        if Module.__call__ is not _MODULE_CALL:  # module calls are observed (record_modules)
            for m in self._items:
                x = m(x)
            return x
        fusion = self._fusion
        if fusion is None:
            fusion = self._fusion = self._fusion_plan()
        for m, activation in fusion:
            x = m(x) if activation is None else m._forward_activation(x, activation)
        return x

    def _fusion_plan(self) -> list[tuple[Module, Any]]:
        """Each module with None, except a layer that fuses with the activation after it
        (``layer._fused_with(next)``, e.g. Linear + ReLU), which is paired with that
        activation's primitive and takes the activation's place."""
        plan: list[tuple[Module, Any]] = []
        items = self._items
        i = 0
        while i < len(items):
            m = items[i]
            fuse = getattr(m, "_fused_with", None)
            activation = fuse(items[i + 1]) if fuse is not None and i + 1 < len(items) else None
            plan.append((m, activation))
            i += 1 if activation is None else 2
        return plan

    def __setitem__(self, idx: int, module: Module) -> None:
        super().__setitem__(idx, module)
        self._fusion = None

    def append(self, module: Module) -> Sequential:
        """Add a module at the end; returns self."""
        super().append(module)
        self._fusion = None
        return self

    @classmethod
    def _from_config(cls, config: dict[str, Any]) -> Module:
        return cls(*config["modules"])


_MODULE_CALL = Module.__call__
