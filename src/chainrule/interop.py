"""Weights from other frameworks: load a PyTorch model's safetensors file by name.

chainrule's ``state_dict`` names and layouts are PyTorch's (``0.weight`` of shape
``(out_features, in_features)``, ``1.running_mean``, ``1.num_batches_tracked``, …), so the
same architecture exchanges weights both ways with no conversion table:

- chainrule → PyTorch: ``torch_model.load_state_dict({k: torch.from_numpy(v) for k, v in
  model.state_dict().items()})``;
- PyTorch → chainrule: ``safetensors.torch.save_file(torch_model.state_dict(), path)``, then
  ``cr.load_weights(model, path)``; or directly ``model.load_state_dict(torch_model
  .state_dict())`` (any array-like value is accepted).

Both give the same outputs (to float rounding) on the same inputs.
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["load_weights"]


def _prefix_hint(model_keys: list[str], file_keys: list[str]) -> str:
    """A suggestion when the file's names are the model's behind a common prefix."""
    firsts = {k.split(".", 1)[0] for k in file_keys if "." in k}
    if len(firsts) == 1 and all("." in k for k in file_keys):
        prefix = next(iter(firsts)) + "."
        stripped = {k[len(prefix):] for k in file_keys}
        if set(model_keys) <= stripped:
            return (f" (the file's names carry the prefix {prefix!r}, as a wrapped model's "
                    f"do: pass prefix={prefix!r})")
    return ""


def load_weights(
    model: Any,
    path: str | os.PathLike[str],
    *,
    strict: bool = True,
    prefix: str = "",
) -> Any:
    """Load the weights of a safetensors file — written by chainrule, by
    ``safetensors.torch.save_file(torch_model.state_dict(), path)`` or any other tool —
    into ``model`` by name: ``model.load_state_dict(file[prefix + name])``.

    Every name and shape is checked before anything changes; values are cast to the
    dtype of the parameter they replace (float32 PyTorch weights into a float64 model).

    Args:
        model: a ``chainrule.nn.Module`` with the architecture the weights were trained in.
        path: the safetensors file.
        strict: require exactly the model's names (default True); False loads the names
            both have and reports the others.
        prefix: only the file's names starting with it are used, without it (e.g.
            ``"module."`` for a model saved from ``torch.nn.DataParallel``, or
            ``"encoder."`` for a sub-network).

    Returns:
        ``IncompatibleKeys(missing_keys, unexpected_keys)`` (empty when strict).

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a safetensors file, or the names/shapes do not fit the model (the
            message names the file, every missing, unexpected or mis-shaped name with both
            shapes, and suggests a prefix when one would fit).
        TypeError: ``model`` is not a Module.

    Example:
        >>> import os, tempfile
        >>> import numpy as np, chainrule as cr
        >>> from chainrule import nn
        >>> path = os.path.join(tempfile.mkdtemp(), "w.safetensors")
        >>> cr.io.save_state_dict({"weight": np.ones((2, 3)), "bias": np.zeros(2)}, path)
        >>> layer = nn.Linear(3, 2, seed=0)
        >>> load_weights(layer, path)
        IncompatibleKeys(missing_keys=[], unexpected_keys=[])
        >>> layer.weight.numpy()
        array([[1., 1., 1.],
               [1., 1., 1.]], dtype=float32)
    """
    from .io import load_state_dict_file
    from .nn.module import Module

    if not isinstance(model, Module):
        raise TypeError(f"load_weights: expected a chainrule.nn.Module, got "
                        f"{type(model).__name__}")
    if not isinstance(prefix, str):
        raise TypeError(f"load_weights: prefix must be a str, got {type(prefix).__name__}")
    state, _ = load_state_dict_file(path)
    file_keys = list(state)
    if prefix:
        state = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
        if not state:
            raise ValueError(f"{os.fspath(path)}: no tensor name starts with prefix "
                             f"{prefix!r} (names: {', '.join(file_keys[:10])}"
                             f"{', …' if len(file_keys) > 10 else ''})")
    try:
        return model.load_state_dict(state, strict=strict)
    except ValueError as err:
        hint = "" if prefix else _prefix_hint(list(model.state_dict()), file_keys)
        raise ValueError(f"{os.fspath(path)}: the weights do not fit this "
                         f"{type(model).__name__}: {err}{hint}") from None
