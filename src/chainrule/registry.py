"""Name registries: one per concept (losses, activations, initialisers, optimisers,
schedules), each entry carrying its metadata.

A :class:`Registry` maps names to objects — ``nn.LOSSES["mse"]`` is ``nn.MSELoss`` — and
behaves like the dict it replaces (``in``, iteration over the names, ``sorted``,
``registry[name] = obj``, ``del``). Every object has one :class:`Entry`: its canonical
name, aliases and metadata, which is all that code selecting by name reads:

- ``task``: ``"classification"``, ``"regression"`` or another word (``None`` when the
  data decide), for losses — :func:`~chainrule.train.fit` chooses its metrics and target
  checks from it;
- ``target``: what a loss expects as targets — ``"index"`` (class indices),
  ``"probability"`` (values in [0, 1] shaped like the output), ``"value"`` (shaped like the
  output) or ``None`` (not checked);
- ``output``: the transform from the model's raw output to a prediction, a function on
  ndarrays (the sigmoid for ``binary_cross_entropy_with_logits``), or ``None``;
- ``sklearn``: the name scikit-learn uses for the same thing (``"logistic"``,
  ``"squared_error"``), or ``None``;
- anything else a concept needs (``hidden=False`` for output-only activations, the
  scikit-learn settings an optimiser takes, …) in :attr:`Entry.extra`.

Registering makes a name usable everywhere at once — ``fit``, ``chainrule train`` and its
configuration files, the scikit-learn estimators:

>>> from chainrule import nn
>>> from chainrule.nn import functional as F
>>> class LogCosh(nn.Module):
...     def forward(self, y_hat, y):
...         d = y_hat - y
...         return (d.exp() + (-d).exp()).log().mean() - 0.6931471805599453
>>> _ = nn.LOSSES.register("logcosh", LogCosh, task="regression", target="value")
>>> nn.LOSSES.entry("LOGCOSH").task, nn.LOSSES.entry(LogCosh()).name
('regression', 'logcosh')
>>> del nn.LOSSES["logcosh"]
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Entry", "Registry"]


@dataclass(frozen=True)
class Entry:
    """One registered object and its metadata (see the module text).

    Attributes:
        name: the canonical name.
        obj: the class or function.
        aliases: other names that select it.
        task, target, output, sklearn: the metadata read by ``fit``, the CLI and the
            estimators (None when not given).
        extra: further metadata of the concept.
    """

    name: str
    obj: Any
    aliases: tuple[str, ...] = ()
    task: str | None = None
    target: str | None = None
    output: Callable[[Any], Any] | None = None
    sklearn: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        """A metadata value of :attr:`extra` (``default`` when absent)."""
        return self.extra.get(key, default)


def _key(name: str) -> str:
    return name.strip().lower().replace("-", "_")


class Registry(MutableMapping):
    """Names → objects of one concept, each object with one :class:`Entry`.

    Names are case-insensitive (``-`` reads as ``_``); an object's own ``__name__`` (a
    class name such as ``"StepLR"``) selects it too. Iteration yields every name,
    canonical names and aliases, in registration order.

    Args:
        kind: what is registered, for error messages (``"loss"``, ``"optimizer"``).

    Example:
        >>> reg = Registry("colour")
        >>> _ = reg.register("red", 0xFF0000, aliases=("rouge",))
        >>> reg["ROUGE"], sorted(reg), reg.names()
        (16711680, ['red', 'rouge'], ['red'])
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry] = {}  # canonical name → entry
        self._names: dict[str, str] = {}  # every name → canonical name

    # ----------------------------------------------------------------- registering
    def register(self, name: str, obj: Any = None, *, aliases: tuple[str, ...] = (),
                 task: str | None = None, target: str | None = None,
                 output: Callable[[Any], Any] | None = None, sklearn: str | None = None,
                 **extra: Any) -> Any:
        """Register ``obj`` as ``name`` (replacing what had that name); returns ``obj``, so
        it also works as a class or function decorator: ``@LOSSES.register("logcosh",
        task="regression")``.

        Raises:
            TypeError: ``name`` or an alias is not a non-empty string.
        """
        if obj is None:
            return lambda o: self.register(name, o, aliases=aliases, task=task, target=target,
                                           output=output, sklearn=sklearn, **extra)
        names = (name, *aliases)
        for n in names:
            if not isinstance(n, str) or not n.strip():
                raise TypeError(f"{self.kind} names must be non-empty strings, got {n!r}")
        canonical = _key(name)
        for n in names:
            if _key(n) in self._names:
                self._drop(_key(n))
        entry = Entry(canonical, obj, tuple(_key(a) for a in aliases), task, target, output,
                      sklearn, dict(extra))
        self._entries[canonical] = entry
        for n in names:
            self._names[_key(n)] = canonical
        return obj

    def _drop(self, key: str) -> None:
        canonical = self._names.pop(key)
        entry = self._entries[canonical]
        if key == canonical:  # the canonical name goes: its aliases go with it
            del self._entries[canonical]
            for a in entry.aliases:
                self._names.pop(a, None)
        else:
            self._entries[canonical] = Entry(
                entry.name, entry.obj, tuple(a for a in entry.aliases if a != key),
                entry.task, entry.target, entry.output, entry.sklearn, entry.extra)

    # --------------------------------------------------------------------- looking up
    def find(self, key: Any) -> Entry | None:
        """The entry of a name, of a registered object, of an instance of a registered
        class, or of a function whose ``__name__`` is a registered name; else None."""
        if isinstance(key, str):
            k = _key(key)
            canonical = self._names.get(k)
            if canonical is not None:
                return self._entries[canonical]
            for entry in self._entries.values():
                if getattr(entry.obj, "__name__", "").lower() == k:
                    return entry
            return None
        for entry in self._entries.values():
            if entry.obj is key:
                return entry
        for entry in self._entries.values():
            if isinstance(entry.obj, type) and type(key) is entry.obj:
                return entry
        name = getattr(key, "__name__", None)
        return self.find(name) if isinstance(name, str) else None

    def entry(self, key: Any) -> Entry:
        """Like :meth:`find`, but an unknown name raises ``ValueError`` listing the valid
        names (``KeyError`` is not raised, so the message reaches the user)."""
        entry = self.find(key)
        if entry is None:
            raise ValueError(f"unknown {self.kind} {key!r}; valid names: "
                             f"{', '.join(sorted(self))}")
        return entry

    def lookup(self, name: str) -> Any:
        """The object registered as ``name`` (``ValueError`` listing the names if none)."""
        if not isinstance(name, str):
            raise TypeError(f"{self.kind} name must be a str, got {type(name).__name__}")
        return self.entry(name).obj

    def names(self) -> list[str]:
        """The canonical names, in registration order."""
        return list(self._entries)

    def entries(self) -> list[Entry]:
        """Every entry, in registration order."""
        return list(self._entries.values())

    # ------------------------------------------------------------------ the mapping
    def __getitem__(self, name: str) -> Any:
        canonical = self._names.get(_key(name)) if isinstance(name, str) else None
        if canonical is None:
            raise KeyError(name)
        return self._entries[canonical].obj

    def __setitem__(self, name: str, obj: Any) -> None:
        self.register(name, obj)

    def __delitem__(self, name: str) -> None:
        k = _key(name) if isinstance(name, str) else None
        if k not in self._names:
            raise KeyError(name)
        self._drop(k)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and _key(name) in self._names

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._names))

    def __len__(self) -> int:
        return len(self._names)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.names()})"
