"""Checkpoints: the whole state of a training run in one safetensors file, written atomically.

A checkpoint holds a nested state (dicts, lists, tuples, numbers, strings and ndarrays):
the model's ``state_dict``, the optimiser's and the schedule's, the callbacks' (early
stopping keeps its best weights there), the history, the data loader's generator and every
other random generator of the run, and the epoch. The arrays are stored as safetensors
tensors, named by their path in the state (``model/0.weight``,
``optimizer/state/0/exp_avg``, …); everything else goes into the file's metadata as JSON,
with each array replaced by a reference to its tensor. Floats go through ``repr`` in JSON
and arrays are stored with their dtype, so a state read back is bit-for-bit the one written.

Writes are atomic: the bytes go to a temporary file in the same directory, are flushed and
``fsync``-ed, and the file is moved over the old one with ``os.replace`` (then the directory
is synced). A crash or ``kill -9`` at any moment therefore leaves either the previous
checkpoint or the new one, never a torn file.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from typing import Any

import numpy as np

__all__ = [
    "CHECKPOINT_FORMAT",
    "atomic_write_bytes",
    "load_checkpoint",
    "save_checkpoint",
]

CHECKPOINT_FORMAT = "chainrule.train.checkpoint/1"


# ------------------------------------------------------------------------ tree encoding
class _Encoder:
    """Replace the arrays of a nested state by references, collecting them by path."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}

    def _key(self, path: str) -> str:
        key = path or "value"
        n = 1
        while key in self.arrays:
            n += 1
            key = f"{path}#{n}"
        return key

    def encode(self, value: Any, path: str) -> Any:
        if isinstance(value, np.ndarray) or hasattr(value, "_ctx"):  # ndarray or Tensor
            arr = np.asarray(getattr(value, "data", value))
            if not arr.flags.c_contiguous:
                arr = arr.copy(order="C")  # (np.ascontiguousarray would turn 0-d into 1-d)
            if arr.dtype == object:
                raise TypeError(f"checkpoint: {path!r} is an object array; cannot store it")
            key = self._key(path)
            self.arrays[key] = arr
            return {"__array__": key}
        if isinstance(value, np.generic):
            key = self._key(path)
            self.arrays[key] = np.asarray(value)
            return {"__array__": key, "scalar": True}
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        if isinstance(value, tuple):
            return {"__tuple__": [self.encode(v, f"{path}/{i}") for i, v in enumerate(value)]}
        if isinstance(value, list):
            return [self.encode(v, f"{path}/{i}") for i, v in enumerate(value)]
        if isinstance(value, dict):
            if all(isinstance(k, str) and not k.startswith("__") for k in value):
                return {k: self.encode(v, f"{path}/{k}") for k, v in value.items()}
            items = []
            for k, v in value.items():
                if not isinstance(k, (str, int, float, bool, tuple)) and k is not None:
                    raise TypeError(f"checkpoint: key {k!r} in {path!r} is not storable")
                items.append([self.encode(k, f"{path}/key"), self.encode(v, f"{path}/{k}")])
            return {"__items__": items}
        raise TypeError(
            f"checkpoint: cannot store {type(value).__name__} at {path!r}; use numbers, "
            "strings, lists, tuples, dicts and ndarrays"
        )


def _decode(value: Any, arrays: dict[str, np.ndarray], where: str) -> Any:
    if isinstance(value, list):
        return [_decode(v, arrays, where) for v in value]
    if not isinstance(value, dict):
        return value
    if "__array__" in value:
        key = value["__array__"]
        if key not in arrays:
            raise ValueError(f"{where}: the metadata refers to a missing tensor {key!r}")
        arr = arrays[key]
        return arr[()] if value.get("scalar") else arr
    if "__tuple__" in value:
        return tuple(_decode(v, arrays, where) for v in value["__tuple__"])
    if "__items__" in value:
        out = {}
        for k, v in value["__items__"]:
            k = _decode(k, arrays, where)
            out[tuple(k) if isinstance(k, list) else k] = _decode(v, arrays, where)
        return out
    return {k: _decode(v, arrays, where) for k, v in value.items()}


# ------------------------------------------------------------------------------ files
def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: temp file in the same directory, fsync, replace.

    Example:
        >>> import tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "x.bin"); atomic_write_bytes(p, b"ok")
        >>> open(p, "rb").read()
        b'ok'
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    # make the rename itself durable (POSIX; not possible on every platform)
    with contextlib.suppress(OSError, AttributeError):
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def save_checkpoint(
    path: str | os.PathLike, state: dict[str, Any], metadata: dict[str, str] | None = None
) -> None:
    """Write a nested training state to one safetensors file, atomically.

    Args:
        path: the file (``.safetensors``); its directory must exist.
        state: a dict of dicts/lists/tuples/numbers/strings/ndarrays (Tensors are stored as
            their arrays).
        metadata: extra string metadata for the file header.

    Example:
        >>> import tempfile, os, numpy as np
        >>> p = os.path.join(tempfile.mkdtemp(), "ckpt.safetensors")
        >>> save_checkpoint(p, {"epoch": 3, "w": np.arange(3.0), "betas": (0.9, 0.999)})
        >>> s = load_checkpoint(p); s["epoch"], s["w"], s["betas"]
        (3, array([0., 1., 2.]), (0.9, 0.999))
    """
    from safetensors.numpy import save

    if not isinstance(state, dict):
        raise TypeError(f"state must be a dict, got {type(state).__name__}")
    enc = _Encoder()
    tree = enc.encode(state, "")
    meta = {"format": CHECKPOINT_FORMAT, "state": json.dumps(tree, allow_nan=True)}
    if metadata:
        for k, v in metadata.items():
            if k in meta:
                raise ValueError(f"metadata key {k!r} is reserved")
            meta[str(k)] = str(v)
    atomic_write_bytes(path, save(enc.arrays, metadata=meta))


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read a state written by :func:`save_checkpoint` (arrays come back as ndarrays).

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is not a chainrule checkpoint or is damaged (naming the file).

    Example:
        >>> import tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "c.safetensors")
        >>> save_checkpoint(p, {"a": {1: [2.5, None]}}); load_checkpoint(p)
        {'a': {1: [2.5, None]}}
    """
    from safetensors import safe_open

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no checkpoint file {path!r}")
    try:
        with safe_open(path, framework="numpy") as f:
            meta = f.metadata() or {}
            arrays = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as e:  # safetensors raises its own error types
        raise ValueError(f"{path!r} is not a readable safetensors file: {e}") from None
    if meta.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(
            f"{path!r} is not a chainrule training checkpoint (format "
            f"{meta.get('format')!r}, expected {CHECKPOINT_FORMAT!r})"
        )
    try:
        tree = json.loads(meta["state"])
    except (KeyError, json.JSONDecodeError) as e:
        raise ValueError(f"{path!r}: damaged checkpoint metadata ({e})") from None
    return _decode(tree, arrays, path)
