"""Model files: weights in the safetensors format, the architecture as JSON in its metadata.

``cr.save(model, path)`` writes every parameter and buffer (``model.state_dict()``) as a
safetensors file, with the architecture and the library version as JSON strings in the
file's metadata, so ``cr.load(path)`` rebuilds the model without the code that made it::

    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    cr.save(model, "model.safetensors")
    same = cr.load("model.safetensors")          # same class, same weights, same outputs

Every built-in module can be rebuilt (each defines ``_config()`` and is listed in
``chainrule.nn.MODULES``). A model that contains a module of your own is saved too (its
weights and the names of its classes), but ``load`` refuses to guess how to construct it;
rebuild it in code and load the weights::

    model = MyNet(...)
    state, _ = chainrule.io.load_state_dict_file("model.safetensors")
    model.load_state_dict(state)

(or opt in with :func:`chainrule.nn.register_module` and a ``_config()`` method).

Safety and robustness:

- Loading never executes code: the file holds raw arrays and JSON; classes are looked up by
  name among the registered modules only (no pickle).
- Writes are atomic: the bytes go to a temporary file in the same directory, which is
  flushed, ``fsync``-ed and then moved over the target with ``os.replace`` — a crash leaves
  the old file or the new one, never half of one.
- A truncated, corrupted or foreign file raises ``ValueError`` naming the file and what is
  wrong; a missing file raises ``FileNotFoundError`` naming it.
- Every file chainrule writes carries the SHA-256 of its tensor bytes in its metadata
  (``sha256``); loading recomputes it, so a flipped byte is a clear corruption error instead
  of silently different weights. Files of other tools, without the key, load as before.
- Sizes and nesting declared in a file are checked against the tensors actually present
  before anything is built: a small file declaring huge layers, a deeply nested
  architecture or tensors of an unsupported dtype (BF16, F8) is a ``ValueError`` naming
  the file, found in milliseconds.
- Files are byte-reproducible (tensors and metadata in sorted order), and a new file gets
  mode ``0o644`` (an existing file keeps its mode), like checkpoints.

:func:`save_state_dict` / :func:`load_state_dict_file` are the general building blocks:
``{name: ndarray}`` plus a JSON-able metadata dict (training checkpoints use them).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import struct
from collections.abc import Mapping
from typing import Any

import numpy as np

from .tensor import Tensor

__all__ = [
    "architecture",
    "build",
    "load",
    "load_state_dict_file",
    "save",
    "save_state_dict",
]

FORMAT = "chainrule"
_KEY_FORMAT = "format"
_KEY_VERSION = "chainrule_version"
_KEY_METADATA = "metadata"
_KEY_ARCH = "architecture"
_KEY_ORDER = "keys"
_KEY_SHA256 = "sha256"
_MODULE_TAG = "__module__"
# safetensors dtype name <-> NumPy dtype (little-endian, as the format requires)
_DTYPES = {"F16": "<f2", "F32": "<f4", "F64": "<f8", "I8": "i1", "I16": "<i2", "I32": "<i4",
           "I64": "<i8", "U8": "u1", "U16": "<u2", "U32": "<u4", "U64": "<u8", "BOOL": "?"}
_UNSUPPORTED_DTYPES = {"BF16", "F8_E4M3", "F8_E5M2", "F8_E4M3FNUZ", "F8_E5M2FNUZ", "C64",
                       "F4", "F6_E2M3", "F6_E3M2", "F8_E8M0"}
_NAME_OF_DTYPE = {np.dtype(v): k for k, v in _DTYPES.items()}
MAX_DEPTH = 200
"""The deepest nesting of JSON (architecture, metadata, checkpoint state) a file may hold."""
BUILD_BUDGET_FACTOR = 16
"""An architecture may declare at most this many times the elements its file holds (plus
2**20) before anything is built (see :func:`check_architecture`)."""


def _version() -> str:
    from . import __version__

    return __version__


def _safetensors_numpy() -> Any:
    try:
        import safetensors.numpy as stn
    except ImportError as err:  # pragma: no cover - safetensors is part of the 'all' extra
        raise ImportError(
            "chainrule.io needs the 'safetensors' package: pip install safetensors"
        ) from err
    return stn


# ------------------------------------------------------------------------------- writing


def _arrays(state: Mapping[str, Any]) -> dict[str, np.ndarray]:
    if not isinstance(state, Mapping):
        raise TypeError(f"state must be a mapping name -> array, got {type(state).__name__}")
    out = {}
    for name, value in state.items():
        if not isinstance(name, str):
            raise TypeError(f"state keys must be strings, got {name!r}")
        arr = value.data if isinstance(value, Tensor) else value
        if not isinstance(arr, (np.ndarray, np.generic)):
            raise TypeError(
                f"state[{name!r}] must be an ndarray or a Tensor, got {type(value).__name__}"
            )
        arr = np.asarray(arr, order="C")  # (np.ascontiguousarray would turn 0-d into 1-d)
        if arr.dtype.kind not in "biuf" or arr.dtype.itemsize > 8:
            raise ValueError(
                f"state[{name!r}] has dtype {arr.dtype}, which safetensors cannot store "
                "(use bool, integer or float arrays)"
            )
        out[name] = arr
    return out


def _json(value: Any, what: str) -> str:
    try:
        return json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{what} must be JSON-serialisable: {err}") from None


def save_state_dict(
    state: Mapping[str, Any], path: str | os.PathLike[str], metadata: Any = None
) -> None:
    """Write ``{name: ndarray | Tensor}`` and a JSON-able ``metadata`` to a safetensors file.

    Atomic (temporary file, fsync, ``os.replace``). The metadata comes back from
    :func:`load_state_dict_file`.

    Args:
        state: arrays by name (bool, integer or float; any shape, 0-d included).
        path: destination file (its directory must exist).
        metadata: any JSON-serialisable value (dicts, lists, numbers, strings), or None.

    Raises:
        TypeError: a key is not a string, a value not an array, or metadata not JSON-able.
        ValueError: an array dtype safetensors cannot store.

    Example:
        >>> import numpy as np, os, tempfile
        >>> from chainrule import io
        >>> path = os.path.join(tempfile.mkdtemp(), "state.safetensors")
        >>> io.save_state_dict({"w": np.eye(2)}, path, metadata={"epoch": 3})
        >>> state, meta = io.load_state_dict_file(path)
        >>> state["w"].tolist(), meta
        ([[1.0, 0.0], [0.0, 1.0]], {'epoch': 3})
    """
    _write(state, path, metadata, None)


def _write(state: Mapping[str, Any], path: Any, metadata: Any, arch: Any) -> None:
    path = os.fspath(path)
    arrays = _arrays(state)
    header = {_KEY_FORMAT: FORMAT, _KEY_VERSION: _version(),
              _KEY_METADATA: _json(metadata, "metadata"),
              _KEY_ORDER: json.dumps(list(arrays))}  # the file itself sorts the tensors
    if arch is not None:
        header[_KEY_ARCH] = _json(arch, "architecture")
    from .train.checkpoint import atomic_write_bytes

    atomic_write_bytes(path, serialize(arrays, header))


def _tensor_digest(data: bytes | memoryview, start: int, header: Mapping[str, Any]) -> str:
    """SHA-256 over the tensors' bytes, taken in the order of their sorted names."""
    h = hashlib.sha256()
    for name in sorted(k for k in header if k != "__metadata__"):
        begin, end = header[name]["data_offsets"]
        h.update(data[start + begin:start + end])
    return h.hexdigest()


def serialize(arrays: Mapping[str, np.ndarray], metadata: Mapping[str, str]) -> bytes:
    """The bytes of a safetensors file holding ``arrays`` and string ``metadata``.

    Deterministic: tensors in the data section and keys of the header are in sorted order,
    so the same arrays and metadata give the same bytes in every process. The SHA-256 of
    the tensor bytes is added to the metadata as ``sha256`` (checked by every reader here).

    Example:
        >>> import numpy as np
        >>> a = serialize({"b": np.ones(2, np.float32), "a": np.zeros(1)}, {"k": "v"})
        >>> a == serialize({"a": np.zeros(1), "b": np.ones(2, np.float32)}, {"k": "v"})
        True
    """
    entries: dict[str, Any] = {}
    chunks = []
    offset = 0
    for name in sorted(arrays):
        arr = np.asarray(arrays[name])
        kind = _NAME_OF_DTYPE.get(arr.dtype.newbyteorder("<") if arr.dtype.byteorder == ">"
                                  else arr.dtype)
        if kind is None:
            raise ValueError(f"state[{name!r}] has dtype {arr.dtype}, which safetensors "
                             "cannot store (use bool, integer or float arrays)")
        raw = np.ascontiguousarray(arr, dtype=_DTYPES[kind]).tobytes()
        entries[name] = {"dtype": kind, "shape": list(arr.shape),
                         "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    body = b"".join(chunks)
    meta = {str(k): str(v) for k, v in metadata.items()}
    if _KEY_SHA256 in meta:
        raise ValueError(f"metadata key {_KEY_SHA256!r} is reserved")
    meta[_KEY_SHA256] = _tensor_digest(body, 0, entries)
    header = {"__metadata__": dict(sorted(meta.items())), **entries}
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)  # the data section starts 8-byte aligned
    return struct.pack("<Q", len(text)) + text + body


# ------------------------------------------------------------------------------- reading


def _check_layout(path: str, data: bytes) -> dict[str, Any]:
    """Validate the safetensors framing with messages that say what is wrong."""
    size = len(data)
    if size < 8:
        raise ValueError(f"{path}: not a safetensors file (only {size} bytes; a safetensors "
                         "file starts with an 8-byte header length)")
    (n,) = struct.unpack("<Q", data[:8])
    looks_like_header = data[8:9] == b"{"
    if n > size - 8:
        if looks_like_header:
            raise ValueError(f"{path}: truncated safetensors file (the header needs {n} bytes "
                             f"but only {size - 8} follow)")
        raise ValueError(f"{path}: not a safetensors file (it does not start with a "
                         "safetensors header)")
    try:
        header = json.loads(data[8:8 + n].decode("utf-8"))
    except RecursionError:
        raise ValueError(f"{path}: corrupted safetensors file (its header is nested too "
                         "deeply)") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        kind = "corrupted safetensors file" if looks_like_header else "not a safetensors file"
        raise ValueError(f"{path}: {kind} (its header is not valid JSON: {err})") from None
    if not isinstance(header, dict):
        raise ValueError(f"{path}: corrupted safetensors file (the header is not a JSON object)")
    available = size - 8 - n
    for name, entry in header.items():
        if name == "__metadata__":
            if not isinstance(entry, dict):
                raise ValueError(f"{path}: corrupted safetensors file (bad __metadata__)")
            continue
        if isinstance(entry, dict) and entry.get("dtype") in _UNSUPPORTED_DTYPES:
            raise ValueError(f"{path}: tensor {name!r} has dtype {entry['dtype']}, which "
                             f"chainrule does not support (supported: {', '.join(_DTYPES)})")
        if not (isinstance(entry, dict) and entry.get("dtype") in _DTYPES
                and isinstance(entry.get("shape"), list)
                and all(type(d) is int and d >= 0 for d in entry["shape"])
                and isinstance(entry.get("data_offsets"), list)
                and len(entry["data_offsets"]) == 2
                and all(type(o) is int for o in entry["data_offsets"])):
            raise ValueError(f"{path}: corrupted safetensors file (bad entry for tensor "
                             f"{name!r}: {entry!r:.200})")
        begin, end = entry["data_offsets"]
        if end > available:
            raise ValueError(f"{path}: truncated safetensors file (tensor {name!r} needs bytes "
                             f"up to {end} of the data section, which has only {available})")
        need = math.prod(entry["shape"]) * np.dtype(_DTYPES[entry["dtype"]]).itemsize
        if not 0 <= begin <= end or end - begin != need:
            raise ValueError(f"{path}: corrupted safetensors file (tensor {name!r} of shape "
                             f"{entry['shape']} needs {need} bytes, its offsets give "
                             f"{end - begin})")
    meta = header.get("__metadata__") or {}
    digest = meta.get(_KEY_SHA256)
    if digest is not None and digest != _tensor_digest(memoryview(data), 8 + n, header):
        raise ValueError(f"{path}: corrupted file: the SHA-256 of its tensor bytes does not "
                         "match the one recorded when it was written (the file was damaged "
                         "after writing)")
    return header


def read_safetensors(path: Any) -> tuple[str, dict[str, np.ndarray], dict[str, str]]:
    """Read and check a safetensors file: ``(path, arrays, metadata)``.

    ``path`` comes back as a string, ``arrays`` maps names to writable ndarrays in the order
    they were saved, ``metadata`` is the file's raw ``{str: str}`` metadata (empty if none).
    The layout and, for a chainrule file, the SHA-256 of the tensor bytes are checked
    first. :func:`load`, :func:`load_state_dict_file` and training checkpoints read
    through it.

    Raises:
        FileNotFoundError: the file does not exist (the message names it).
        ValueError: the path is a directory, or the file is truncated, corrupted or not a
            safetensors file (the message names the file and the problem).
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such file: {path}")
    if os.path.isdir(path):
        raise ValueError(f"{path}: is a directory, not a safetensors file")
    with open(path, "rb") as f:
        data = f.read()
    header = _check_layout(path, data)
    try:
        arrays = _safetensors_numpy().load(data)
    except Exception as err:  # safetensors raises its own error types
        raise ValueError(f"{path}: corrupted safetensors file ({err})") from None
    meta = header.get("__metadata__") or {}
    order = [k for k in header if k != "__metadata__"]
    if meta.get(_KEY_FORMAT) == FORMAT and _KEY_ORDER in meta:
        saved_order = _decode_json(path, meta, _KEY_ORDER)
        if isinstance(saved_order, list) and sorted(saved_order) == sorted(order):
            order = saved_order
    return path, {k: np.array(arrays[k]) for k in order}, meta


def json_depth(value: Any) -> int:
    """The nesting depth of a JSON value (0 for a scalar), computed without recursion.

    Example:
        >>> json_depth({"a": [1, {"b": []}]}), json_depth(3)
        (4, 0)
    """
    depth = 0
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, (list, tuple)):
            children = item
        else:
            continue
        depth = max(depth, level)
        stack.extend((child, level + 1) for child in children)
    return depth


def loads_bounded(text: str, where: str, what: str) -> Any:
    """``json.loads`` that refuses nesting deeper than :data:`MAX_DEPTH` with a
    ``ValueError`` naming ``where`` (never a ``RecursionError``)."""
    try:
        value = json.loads(text)
    except RecursionError:
        value = None
        depth = math.inf
    except (TypeError, json.JSONDecodeError) as err:
        raise ValueError(f"{where}: corrupted {what} (not valid JSON: {err})") from None
    else:
        depth = json_depth(value)
    if depth > MAX_DEPTH:
        raise ValueError(f"{where}: {what} is nested more than {MAX_DEPTH} levels deep; "
                         "refusing to read it")
    return value


def _decode_json(path: str, meta: Mapping[str, str], key: str) -> Any:
    return loads_bounded(meta[key], path, f"metadata {key!r}")


def load_state_dict_file(path: str | os.PathLike[str]) -> tuple[dict[str, np.ndarray], Any]:
    """Read a safetensors file: ``(state, metadata)``.

    ``state`` maps names to (writable) ndarrays, in the order they were saved.
    ``metadata`` is what
    :func:`save_state_dict` (or :func:`save`) stored; for a safetensors file written by
    another tool it is that file's raw ``{str: str}`` metadata (possibly empty).

    Raises:
        FileNotFoundError: the file does not exist (the message names it).
        ValueError: the file is truncated, corrupted or not a safetensors file (the message
            names the file and the problem).

    Example:
        >>> import numpy as np, os, tempfile
        >>> from chainrule import io
        >>> path = os.path.join(tempfile.mkdtemp(), "s.safetensors")
        >>> io.save_state_dict({"b": np.zeros(3, np.float32)}, path)
        >>> io.load_state_dict_file(path)[0]["b"].dtype
        dtype('float32')
    """
    path, arrays, meta = read_safetensors(path)
    if meta.get(_KEY_FORMAT) == FORMAT and _KEY_METADATA in meta:
        return arrays, _decode_json(path, meta, _KEY_METADATA)
    return arrays, dict(meta)


# ------------------------------------------------------------------------- architecture


def _spec(module: Any) -> dict[str, Any]:
    from .nn.module import MODULES

    cls = type(module)
    registered = MODULES.get(cls.__name__) is cls
    name = cls.__name__ if registered else f"{cls.__module__}.{cls.__qualname__}"
    config = None
    if registered:
        with contextlib.suppress(NotImplementedError):
            config = _encode(module._config())
    spec: dict[str, Any] = {"class": name, "config": config}
    if config is None:
        spec["children"] = {n: _spec(c) for n, c in module.named_children()}
    return spec


def _encode(value: Any) -> Any:
    from .nn.module import Module

    if isinstance(value, Module):
        return {_MODULE_TAG: _spec(value)}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _encode(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    return value


def architecture(model: Any) -> dict[str, Any]:
    """The JSON-able description of ``model`` that :func:`save` stores and :func:`build`
    reads: ``{"class": name, "config": constructor arguments}``, nested for containers.

    A module that cannot be rebuilt (not registered, or without ``_config``) is described
    by its qualified class name with ``"config": null`` (and its children, for reference).

    Example:
        >>> from chainrule import nn, io
        >>> io.architecture(nn.Linear(3, 2, seed=0))     # doctest: +NORMALIZE_WHITESPACE
        {'class': 'Linear', 'config': {'in_features': 3, 'out_features': 2, 'bias': True,
         'dtype': 'float32'}}
        >>> io.architecture(nn.Sequential(nn.ReLU()))["config"]["modules"]
        [{'__module__': {'class': 'ReLU', 'config': {}}}]
    """
    from .nn.module import Module

    if not isinstance(model, Module):
        raise TypeError(f"expected a chainrule.nn.Module, got {type(model).__name__}")
    return _spec(model)


def _decode(value: Any, where: str) -> Any:
    if isinstance(value, dict):
        if set(value) == {_MODULE_TAG}:
            return build(value[_MODULE_TAG], where)
        return {k: _decode(v, where) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v, where) for v in value]
    return value


def _declared_elements(spec: Any) -> tuple[int, list[tuple[str, int]]]:
    """Over-estimate of the elements building ``spec`` allocates: for each module, the
    product of the positive integers of its own configuration (``in × out`` for Linear;
    channels × kernel × … for convolutions), summed; without recursion."""
    total = 0
    largest: list[tuple[str, int]] = []
    stack = [spec]
    while stack:
        node = stack.pop()
        if not isinstance(node, Mapping):
            continue
        ints: list[int] = []
        values = [node.get("config")]
        while values:
            v = values.pop()
            if isinstance(v, Mapping):
                if set(v) == {_MODULE_TAG}:
                    stack.append(v[_MODULE_TAG])
                else:
                    values.extend(v.values())
            elif isinstance(v, list):
                values.extend(v)
            elif type(v) is int and v > 1:
                ints.append(v)
        if ints:
            n = math.prod(ints)
            total += n
            largest.append((str(node.get("class")), n))
        children = node.get("children")
        if isinstance(children, Mapping):
            stack.extend(children.values())
    return total, largest


def check_architecture(spec: Any, arrays: Mapping[str, np.ndarray], where: str) -> None:
    """Refuse, before building anything, an architecture that declares far more than the
    file holds.

    The sizes a description declares (the product of the integers of each module's
    configuration, an over-estimate of what its constructor allocates) may add up to at
    most ``BUILD_BUDGET_FACTOR`` times the elements of the tensors present, plus ``2**20``.
    A real model is far inside this bound (its weights *are* the tensors present); a file
    of a kilobyte declaring ``Linear(10**9, 10**9)`` is refused at once instead of
    allocating gigabytes. The nesting depth is bounded by :data:`MAX_DEPTH`.

    Raises:
        ValueError: naming ``where``, the declared and present sizes.
    """
    if json_depth(spec) > MAX_DEPTH:
        raise ValueError(f"{where}: the architecture is nested more than {MAX_DEPTH} levels "
                         "deep; refusing to build it")
    declared, parts = _declared_elements(spec)
    present = sum(int(a.size) for a in arrays.values())
    budget = BUILD_BUDGET_FACTOR * present + 2**20
    if declared > budget:
        name, n = max(parts, key=lambda p: p[1])
        raise ValueError(
            f"{where}: the architecture declares about {declared:,} elements (the largest, a "
            f"{name}, about {n:,}) but the file holds tensors of only {present:,} elements; "
            "refusing to build it (the file is corrupted or hostile)"
        )


def build(spec: Mapping[str, Any], where: str = "architecture") -> Any:
    """Construct a model (with fresh weights) from :func:`architecture`'s description.

    Only registered module classes (``chainrule.nn.MODULES``) are constructed.

    Raises:
        ValueError: the description names an unknown module or is malformed.
    """
    from .nn.module import MODULES

    if not isinstance(spec, Mapping) or not isinstance(spec.get("class"), str):
        raise ValueError(f"{where}: malformed architecture entry {spec!r:.200}")
    name = spec["class"]
    cls = MODULES.get(name)
    if cls is None or spec.get("config") is None:
        why = ("is not a built-in or registered chainrule module" if cls is None
               else "was saved without a constructor configuration")
        raise ValueError(
            f"{where}: the architecture names module {name!r}, which {why}, so it cannot be "
            "rebuilt from the file. Construct the model in code and load the weights: "
            "model.load_state_dict(chainrule.io.load_state_dict_file(path)[0]) "
            "(or register the class with chainrule.nn.register_module and give it "
            f"_config()). Known modules: {', '.join(sorted(MODULES))}"
        )
    config = _decode(spec["config"], where)
    if not isinstance(config, dict):
        raise ValueError(f"{where}: malformed configuration for {name}: {config!r:.200}")
    try:
        return cls._from_config(config)
    except (TypeError, ValueError, KeyError) as err:
        raise ValueError(f"{where}: cannot construct {name} from {config!r:.200}: {err}") \
            from None


# --------------------------------------------------------------------------- save / load


def save(model: Any, path: str | os.PathLike[str], metadata: Any = None) -> None:
    """Save ``model``'s parameters, buffers and architecture to a safetensors file.

    Args:
        model: a ``chainrule.nn.Module``.
        path: destination file (written atomically).
        metadata: optional JSON-able value stored alongside (read it back with
            :func:`load_state_dict_file`).

    Example:
        >>> import os, tempfile, chainrule as cr
        >>> from chainrule import nn
        >>> model = nn.Sequential(nn.Linear(3, 2, seed=0), nn.Tanh())
        >>> path = os.path.join(tempfile.mkdtemp(), "model.safetensors")
        >>> cr.save(model, path)
        >>> x = cr.ones(1, 3)
        >>> bool((cr.load(path)(x).numpy() == model(x).numpy()).all())
        True
    """
    arch = {"model": architecture(model), "training": bool(model.training)}
    _write(model.state_dict(), path, metadata, arch)


def load(path: str | os.PathLike[str]) -> Any:
    """Rebuild the model saved by :func:`save` (same classes, weights, buffers and mode).

    The model comes back in the mode it was saved in — usually training mode, as in
    PyTorch — so Dropout stays active and BatchNorm uses batch statistics. Call
    ``.eval()`` before predicting, or two calls on the same input differ::

        model = cr.load("model.safetensors").eval()

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is truncated, corrupted, not a safetensors file, holds no
            chainrule architecture, names a module that cannot be rebuilt, or its weights
            do not fit the architecture (the message names the key and both shapes).
    """
    path, arrays, meta = read_safetensors(path)
    if meta.get(_KEY_FORMAT) != FORMAT or _KEY_ARCH not in meta:
        raise ValueError(
            f"{path}: holds weights but no chainrule architecture (it was written by another "
            "tool or by save_state_dict). Construct the model in code and use "
            "model.load_state_dict(chainrule.io.load_state_dict_file(path)[0])"
        )
    arch = _decode_json(path, meta, _KEY_ARCH)
    if not isinstance(arch, dict) or "model" not in arch:
        raise ValueError(f"{path}: corrupted architecture metadata")
    check_architecture(arch["model"], arrays, path)
    model = build(arch["model"], where=path)
    try:
        model.load_state_dict(arrays, strict=True)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{path}: the weights do not fit the architecture: {err}") from None
    model.train(bool(arch.get("training", True)))
    return model
