"""The one multi-layer-perceptron builder used by the CLI, the estimators and the demos."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from numbers import Integral
from typing import Any

import numpy as np

from .activations import get_activation
from .layers import BatchNorm1d, Dropout, Linear, Residual
from .module import Sequential

__all__ = ["mlp"]


def _sizes(sizes: Any) -> list[int]:
    if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence):
        raise TypeError(f"mlp: sizes must be a sequence of ints, got {type(sizes).__name__}")
    out = list(sizes)
    if len(out) < 2:
        raise ValueError(f"mlp: sizes needs the input and output widths at least, got {out}")
    for s in out:
        if isinstance(s, bool) or not isinstance(s, Integral) or s <= 0:
            raise ValueError(f"mlp: sizes must hold positive ints, got {out}")
    return [int(s) for s in out]


def mlp(
    sizes: Sequence[int],
    activation: str = "relu",
    *,
    init: Any = None,
    batch_norm: bool = False,
    dropout: float = 0.0,
    residual: bool = False,
    seed: int | np.random.Generator | None = None,
    dtype: Any = np.float32,
) -> Sequential:
    """A multi-layer perceptron ``a⁽ˡ⁾ = σ(W⁽ˡ⁾ a⁽ˡ⁻¹⁾ + b⁽ˡ⁾)`` with a linear output layer.

    ``sizes = [n_in, h₁, …, h_L, n_out]``; every hidden layer is the block::

        Linear(hₗ₋₁ → hₗ, init) → [BatchNorm1d(hₗ)] → σ → [Dropout(dropout)]

    wrapped in ``Residual`` (``a ↦ a + block(a)``) when ``residual`` and ``hₗ₋₁ = hₗ``;
    then ``Linear(h_L → n_out)`` with no activation (the loss supplies the output
    transform: softmax, sigmoid or none).

    Seeds, so that the same arguments give the same network bit for bit:

    - ``seed`` an int ``s``: Linear layer ``i`` (0-based, the output layer last) is seeded
      with ``1000·s + i`` and the Dropout of hidden layer ``i`` with ``1000·s + 500 + i``;
    - ``seed`` a ``numpy.random.Generator`` ``g``: one Dropout generator
      ``default_rng(g.integers(2⁶³))`` is drawn first and shared by every Dropout layer, then
      each Linear layer draws its weights from ``g`` in turn;
    - ``None``: the library's global generator (``cr.manual_seed``).

    Args:
        sizes: layer widths, input first and output last (ints ≥ 1, at least two).
        activation: a name of ``nn.ACTIVATIONS`` (default ``"relu"``).
        init: weight initialiser (a name of ``nn.INITIALIZERS`` or a callable), or None for
            ``Linear``'s default.
        batch_norm: BatchNorm1d after every hidden Linear layer.
        dropout: drop probability after every hidden activation, in [0, 1).
        residual: residual blocks where the width is unchanged.
        seed: int, Generator or None (see above).
        dtype: parameter dtype (default float32).

    Returns:
        an ``nn.Sequential``.

    Example:
        >>> from chainrule import nn
        >>> model = nn.mlp([4, 8, 3], "tanh", dropout=0.1, seed=0)
        >>> [type(m).__name__ for m in model], model[0].weight.shape
        (['Linear', 'Tanh', 'Dropout', 'Linear'], (8, 4))
    """
    widths = _sizes(sizes)
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float, np.floating)):
        raise TypeError(f"mlp: dropout must be a number, got {type(dropout).__name__}")
    if not 0 <= dropout < 1:
        raise ValueError(f"mlp: dropout must be in [0, 1), got {dropout}")
    if seed is not None and not isinstance(seed, (Integral, np.random.Generator)):
        raise TypeError(f"mlp: seed must be an int, a Generator or None, got {seed!r}")
    get_activation(activation)  # an unknown name fails before anything is built
    shared = isinstance(seed, np.random.Generator)
    drop_gen = None
    if shared and dropout > 0:
        drop_gen = np.random.default_rng(seed.integers(2**63))

    def linear_seed(i: int) -> Any:
        return seed if shared or seed is None else int(seed) * 1000 + i

    def dropout_seed(i: int) -> Any:
        return drop_gen if shared or seed is None else int(seed) * 1000 + 500 + i

    layers: list[Any] = []
    hidden = widths[1:-1]
    for i, (fan_in, fan_out) in enumerate(itertools.pairwise(widths[:-1])):
        block: list[Any] = [Linear(fan_in, fan_out, init=init, seed=linear_seed(i), dtype=dtype)]
        if batch_norm:
            block.append(BatchNorm1d(fan_out, dtype=dtype))
        block.append(get_activation(activation))
        if dropout > 0:
            block.append(Dropout(float(dropout), seed=dropout_seed(i)))
        if residual and fan_in == fan_out:
            layers.append(Residual(Sequential(*block)))
        else:
            layers.extend(block)
    layers.append(Linear(widths[-2], widths[-1], init=init, seed=linear_seed(len(hidden)),
                         dtype=dtype))
    return Sequential(*layers)
