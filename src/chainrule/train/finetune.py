"""Pre-training and fine-tuning: freeze layers, train the rest.

A network pre-trained on a large task has learnt features ``h(x)`` in its hidden layers.
On a small *related* task (the same features matter, the read-out differs) it is enough
to train the last layer — the head ``ŷ = W_head h(x) + b_head`` — on the few labelled
samples, keeping the pre-trained layers fixed: far fewer parameters are fitted to the
small data, so it overfits far less than a network trained from scratch on it. Freezing
a parameter is ``requires_grad = False``: no gradient is computed for it, and
:func:`~chainrule.train.fit`, the scikit-learn estimators and ``chainrule train`` update
only the parameters that require gradients. A frozen parameter stays bit for bit what it
was, in the eager and in the compiled step, whatever the optimiser: its update, its
weight decay and its L1/L2 penalty (``nn.weight_parameters`` leaves it out) are skipped.

The workflow, on two tasks that share the features ``tanh(X A)``:

>>> import copy
>>> import numpy as np
>>> from chainrule import nn
>>> from chainrule.train import fit, freeze
>>> rng = np.random.default_rng(0)
>>> A = np.array([[1.0, -1.0], [0.5, 2.0], [-1.0, 0.3]])
>>> X_big, X_small = rng.standard_normal((400, 3)), rng.standard_normal((10, 3))
>>> pre = nn.mlp([3, 16, 2], "tanh", seed=0)                     # 1. pre-train
>>> _ = fit(pre, "mse", "adam", (X_big, np.tanh(X_big @ A)), epochs=20, progress=False)
>>> model = copy.deepcopy(pre)                                    # (or cr.load(file))
>>> freeze(model, "hidden")                                       # 2. freeze the body
FrozenParameters(names=('0.weight', '0.bias'), n_frozen=64, n_total=98)
>>> Y_small = np.tanh(X_small @ A) @ [[2.0, 1.0], [0.0, -1.0]]   # another read-out
>>> history = fit(model, "mse", "adam", (X_small, Y_small),      # 3. train the head
...               epochs=50, batch_size=None, progress=False)
>>> history.n_frozen, history.frozen                              # what stayed fixed
(64, ('0.weight', '0.bias'))
>>> np.array_equal(model[0].weight.data, pre[0].weight.data)
True

Batch-norm layers in frozen layers keep updating their running statistics in training
mode (they are buffers, not parameters, as in PyTorch); call ``.eval()`` on such a layer
to keep them too.

From the command line: ``chainrule train --init-from RUN --freeze hidden`` (see
``chainrule train --help``); with scikit-learn: ``MLPRegressor(warm_start=True,
freeze="hidden")`` refitted on the small task.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

__all__ = ["FrozenParameters", "freeze", "frozen_parameters", "layer_names", "resolve_layers"]


class FrozenParameters(NamedTuple):
    """What :func:`frozen_parameters` reports.

    Attributes:
        names: the frozen parameters' names (``state_dict`` names, e.g. ``"0.weight"``).
        n_frozen: how many numbers they hold (the sum of their sizes).
        n_total: how many numbers all the parameters hold.
    """

    names: tuple[str, ...]
    n_frozen: int
    n_total: int

    @property
    def n_trainable(self) -> int:
        """``n_total − n_frozen``: the numbers training may change."""
        return self.n_total - self.n_frozen

    def describe(self) -> str:
        """One line for logs: ``"16,448 of 16,583 parameters frozen (0.weight, …)"``."""
        if not self.names:
            return f"no parameter frozen ({self.n_total:,} trainable)"
        names = ", ".join(self.names[:6]) + (", …" if len(self.names) > 6 else "")
        return f"{self.n_frozen:,} of {self.n_total:,} parameters frozen ({names})"


def frozen_parameters(model: Any) -> FrozenParameters:
    """The parameters of ``model`` that do not require gradients, and their count.

    Example:
        >>> from chainrule import nn
        >>> model = nn.Sequential(nn.Linear(4, 8, seed=0), nn.ReLU(), nn.Linear(8, 2, seed=1))
        >>> _ = model[0].requires_grad_(False)
        >>> frozen_parameters(model)  # 4·8 + 8 = 40 frozen of 40 + (8·2 + 2) = 58
        FrozenParameters(names=('0.weight', '0.bias'), n_frozen=40, n_total=58)
    """
    named = list(model.named_parameters())
    frozen = [(n, p) for n, p in named if not p.requires_grad]
    return FrozenParameters(tuple(n for n, _ in frozen),
                            int(sum(p.data.size for _, p in frozen)),
                            int(sum(p.data.size for _, p in named)))


def layer_names(model: Any) -> list[str]:
    """The names of ``model``'s top-level layers with parameters, in order (``"0"``,
    ``"2"``, … for a Sequential: the prefixes of its ``state_dict`` names, the ``layer``
    column of ``chainrule train``'s summary).

    Example:
        >>> from chainrule import nn
        >>> layer_names(nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)))
        ['0', '2']
    """
    return [n for n, m in model.named_children() if any(True for _ in m.parameters())]


def _describe_layers(model: Any) -> str:
    children = dict(model.named_children())
    return ", ".join(f"{n} ({type(children[n]).__name__})" for n in layer_names(model))


def resolve_layers(model: Any, layers: str | int | Iterable[str | int]) -> list[str]:
    """The top-level layer names that ``layers`` selects (see :func:`freeze`).

    Raises:
        ValueError: a name that is not a layer with parameters of the model (the message
            lists the valid ones), or ``"hidden"`` on a model with one layer.
        TypeError: ``layers`` is not a string, an int or an iterable of them.
    """
    valid = layer_names(model)
    if isinstance(layers, bool) or not isinstance(layers, (str, int, Iterable)):
        raise TypeError(f"freeze: layers must be 'hidden', a layer name or index, or a list "
                        f"of them, got {type(layers).__name__}")
    if isinstance(layers, str) and layers.strip().lower() in ("hidden", "body"):
        if len(valid) < 2:
            raise ValueError(f"freeze: 'hidden' freezes every layer but the last, and this "
                             f"model has {len(valid)} layer(s) with parameters "
                             f"({_describe_layers(model) or 'none'})")
        return valid[:-1]
    if isinstance(layers, (str, int)):
        items: list[Any] = [p for p in str(layers).split(",") if p.strip()] \
            if isinstance(layers, str) else [layers]
    else:
        items = list(layers)
    chosen: list[str] = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, (str, int)):
            raise TypeError(f"freeze: layer names must be strings or ints, got "
                            f"{type(item).__name__} ({item!r})")
        name = str(item).strip()
        if name.lower() in ("hidden", "body"):
            chosen += [n for n in resolve_layers(model, "hidden") if n not in chosen]
            continue
        if name not in valid:
            children = [n for n, _ in model.named_children()]
            why = "has no parameters" if name in children else "is not a layer of the model"
            raise ValueError(f"freeze: {name!r} {why}; layers with parameters: "
                             f"{_describe_layers(model) or 'none'}, or 'hidden' (all but the "
                             "last)")
        if name not in chosen:
            chosen.append(name)
    if not chosen:
        raise ValueError("freeze: no layer given; name layers with parameters "
                         f"({_describe_layers(model) or 'none'}) or 'hidden'")
    return chosen


def freeze(model: Any, layers: str | int | Iterable[str | int] = "hidden") -> FrozenParameters:
    """Freeze the parameters of some top-level layers of ``model`` (``requires_grad =
    False``); every other parameter is made trainable. Returns :func:`frozen_parameters`.

    Training then changes only the unfrozen parameters: with ``θ = (θ_frozen, θ_train)``,
    ``J(θ_train) = L(f_{θ_frozen, θ_train}(X), y) + Ω(θ_train)`` and ``θ_frozen`` stays as
    it is, bit for bit.

    Args:
        model: a Module whose layers are its children (``nn.Sequential``, ``nn.mlp``).
        layers: ``"hidden"`` (default: every layer with parameters but the last — fine-tune
            only the head), a layer name or index (``"0"``, ``0``: the prefix of its
            ``state_dict`` names), a comma-separated string (``"0,2"``) or a list of them.

    Raises:
        ValueError: a layer that does not exist or has no parameters (the message lists
            the valid names), or every parameter would be frozen; nothing is changed.

    Example:
        >>> from chainrule import nn
        >>> model = nn.mlp([4, 8, 8, 2], "relu", seed=0)   # layers 0, 2, 4 are Linear
        >>> freeze(model, "hidden").names
        ('0.weight', '0.bias', '2.weight', '2.bias')
        >>> freeze(model, [2]).n_frozen                      # 8·8 + 8
        72
    """
    chosen = set(resolve_layers(model, layers))
    if chosen == set(layer_names(model)) and not _direct_parameters(model):
        raise ValueError(f"freeze: {', '.join(sorted(chosen))} would freeze every parameter of "
                         "the model; leave at least one layer to train")
    model.requires_grad_(True)
    for name, m in model.named_children():
        if name in chosen:
            m.requires_grad_(False)
    return frozen_parameters(model)


def _direct_parameters(model: Any) -> list[Any]:
    """Parameters that belong to ``model`` itself rather than to one of its children."""
    inside = {id(p) for m in model.children() for p in m.parameters()}
    return [p for p in model.parameters() if id(p) not in inside]
