"""A layer-by-layer summary of a model: output shape and parameter count of each layer.

Like Keras's ``model.summary()``: the top-level layers of the model in order, each with the
shape of its output for a batch of ``N`` inputs and its number of parameters
(``Linear(n_in, n_out)`` has ``n_out·n_in + n_out``), then the total. When some parameters
are frozen (``requires_grad=False``, :func:`~chainrule.train.freeze`) a ``frozen`` column
says how many of each layer's are.

>>> from chainrule import nn
>>> model = nn.Sequential(nn.Linear(4, 8, seed=0), nn.ReLU(), nn.Linear(8, 3, seed=1))
>>> print(format_summary(model_summary(model, (4,))))
layer  kind    output shape  parameters
0      Linear  (N, 8)                40
1      ReLU    (N, 8)                 0
2      Linear  (N, 3)                27
total                                67
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

__all__ = ["LayerSummary", "format_summary", "model_summary"]


class LayerSummary(NamedTuple):
    """One row of :func:`model_summary` (``frozen``: how many of the parameters do not
    require gradients)."""

    name: str
    kind: str
    output_shape: tuple[int | str, ...]
    parameters: int
    frozen: int = 0


def _layers(model: Any) -> list[tuple[str, Any]]:
    children = list(model.named_children()) if hasattr(model, "named_children") else []
    return children or [(type(model).__name__, model)]


def model_summary(model: Any, input_shape: Sequence[int]) -> list[LayerSummary]:
    """Rows ``(name, kind, output shape, parameters)`` for the model's top-level layers.

    The shapes come from one forward pass of a zero batch of two samples (eval mode, no
    gradient); the batch axis is shown as ``"N"``.

    Args:
        model: an ``nn.Module`` (a ``Sequential`` lists its layers; another module is one
            row).
        input_shape: the shape of one input sample, e.g. ``(64,)``.
    """
    from ..autodiff import no_grad
    from ..tensor import Tensor

    dtype = next((p.data.dtype for p in model.parameters()), np.float32)
    x: Any = Tensor(np.zeros((2, *input_shape), dtype=dtype))
    was_training = getattr(model, "training", False)
    model.eval()
    rows = []
    try:
        with no_grad():
            for name, layer in _layers(model):
                x = layer(x)
                n = int(sum(p.data.size for p in layer.parameters()))
                frozen = int(sum(p.data.size for p in layer.parameters()
                                 if not p.requires_grad))
                rows.append(LayerSummary(name, type(layer).__name__,
                                         ("N", *x.shape[1:]), n, frozen))
    finally:
        model.train(was_training)
    return rows


def format_summary(rows: Sequence[LayerSummary]) -> str:
    """The rows of :func:`model_summary` as an aligned text table with a total (and a
    ``frozen`` column when some parameters are frozen).

    Example:
        >>> from chainrule import nn
        >>> model = nn.Sequential(nn.Linear(4, 8, seed=0), nn.ReLU(), nn.Linear(8, 3, seed=1))
        >>> _ = model[0].requires_grad_(False)
        >>> print(format_summary(model_summary(model, (4,))))
        layer  kind    output shape  parameters  frozen
        0      Linear  (N, 8)                40      40
        1      ReLU    (N, 8)                 0       0
        2      Linear  (N, 3)                27       0
        total                                67      40
    """
    frozen = any(r.frozen for r in rows)
    table = [("layer", "kind", "output shape", "parameters") + (("frozen",) if frozen else ())]
    for r in rows:
        shape = "(" + ", ".join(str(d) for d in r.output_shape) + ")"
        table.append((r.name, r.kind, shape, f"{r.parameters:,}")
                     + ((f"{r.frozen:,}",) if frozen else ()))
    table.append(("total", "", "", f"{sum(r.parameters for r in rows):,}")
                 + ((f"{sum(r.frozen for r in rows):,}",) if frozen else ()))
    ncols = len(table[0])
    widths = [max(len(row[i]) for row in table) for i in range(ncols)]
    lines = []
    for row in table:
        cells = [row[i].ljust(widths[i]) for i in range(3)] + [
            row[i].rjust(widths[i]) for i in range(3, ncols)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)
