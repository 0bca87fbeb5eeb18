"""Checkpoints: the whole state of a training run in one safetensors file, written atomically.

A checkpoint holds a nested state (dicts, lists, tuples, numbers, strings and ndarrays):
the model's ``state_dict``, the optimiser's and the schedule's, the callbacks' (early
stopping keeps its best weights there), the history, the data loader's generator and every
other random generator of the run, and the epoch. The arrays are stored as safetensors
tensors, named by their path in the state (``model/0.weight``,
``optimizer/state/0/exp_avg``, …); everything else goes into the file's metadata as JSON,
with each array replaced by a reference to its tensor. Floats go through ``repr`` in JSON
and arrays are stored with their dtype, so a state read back is bit-for-bit the one written.
The file records the SHA-256 of its tensor bytes, checked on load.

Writes are atomic (:func:`atomic_write_bytes`, and :func:`atomic_write_text` /
:func:`atomic_write_json` for the text files of a run folder): the bytes go to a temporary
file in the same directory, are flushed and ``fsync``-ed, and the file is moved over the old
one with ``os.replace`` (then the directory is synced). A crash or ``kill -9`` at any moment
therefore leaves either the previous file or the new one, never a torn file. A new file gets
mode ``0o644``; a file that is replaced keeps its mode.

One writer per folder: :func:`lock_folder` takes an exclusive lock on a run folder or a
checkpoint directory (a ``.lock`` file holding the holder's process id; POSIX ``flock``, so
the lock of a process that died is free again; the file is removed on release). A second
process is refused with
:class:`FolderLockedError` naming the holder's pid.

Resuming is all-or-nothing: :func:`validate_training_state` checks a whole saved state
against a :class:`~chainrule.train.Trainer` (types, ranges, the optimiser's hyperparameter
and state names, the loader's and generators' states, the callbacks' states) before
anything is applied.

Testing hook (inert unless set): the environment variable ``CHAINRULE_FAULT`` =
``NAME:N:ACTION`` acts inside the ``N``-th atomic write of a file called ``NAME`` in this
process: ``kill`` writes half of the bytes to the temporary file and kills the process
(``SIGKILL``); ``wait=PATH`` creates ``PATH.ready`` and waits (up to 60 s) until ``PATH``
exists before finishing the write.
"""

from __future__ import annotations

import contextlib
import copy
import errno
import json
import numbers
import os
import secrets
import signal
import time
from typing import Any

import numpy as np

__all__ = [
    "CHECKPOINT_FORMAT",
    "FolderLock",
    "FolderLockedError",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "load_checkpoint",
    "lock_folder",
    "remove_stale_temporaries",
    "save_checkpoint",
    "validate_training_state",
]

CHECKPOINT_FORMAT = "chainrule.train.checkpoint/1"
NEW_FILE_MODE = 0o644
LOCK_FILE = ".lock"
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
_FAULT_COUNTS: dict[str, int] = {}


def _fault(name: str) -> tuple[str, str] | None:
    """The testing hook's action for this write of ``name`` (see the module docstring)."""
    spec = os.environ.get("CHAINRULE_FAULT")
    if not spec:
        return None
    target, _, rest = spec.partition(":")
    count, _, action = rest.partition(":")
    if target != name:
        return None
    _FAULT_COUNTS[name] = _FAULT_COUNTS.get(name, 0) + 1
    if str(_FAULT_COUNTS[name]) != count:
        return None
    kind, _, arg = action.partition("=")
    return kind, arg


def _act(fault: tuple[str, str], f: Any, data: bytes) -> None:
    kind, arg = fault
    if kind == "kill":
        f.write(data[: len(data) // 2])
        f.flush()
        os.fsync(f.fileno())
        os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(60)  # pragma: no cover - the signal ends the process
    elif kind == "wait":
        with open(arg + ".ready", "w") as ready:
            ready.write(str(os.getpid()))
        deadline = time.monotonic() + 60
        while not os.path.exists(arg) and time.monotonic() < deadline:
            time.sleep(0.01)


def pid_alive(pid: int) -> bool:
    """Whether a process with id ``pid`` exists (on this machine)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def _temporary_prefix(name: str) -> str:
    return f".{name}."


def remove_stale_temporaries(directory: str | os.PathLike, names: list[str]) -> list[str]:
    """Remove the temporary files that interrupted atomic writes of ``names`` left in
    ``directory``; only those of this process or of processes that no longer exist (a
    temporary file's name holds its writer's pid), never one another process is writing.

    Returns the removed paths.
    """
    directory = os.fspath(directory)
    removed = []
    try:
        entries = os.listdir(directory)
    except OSError:
        return removed
    for entry in entries:
        for name in names:
            prefix = _temporary_prefix(name)
            if not (entry.startswith(prefix) and entry.endswith(".tmp")):
                continue
            pid_text = entry[len(prefix):].split(".", 1)[0]
            if not pid_text.isdigit():
                continue
            pid = int(pid_text)
            if pid == os.getpid() or not pid_alive(pid):
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(directory, entry))
                    removed.append(os.path.join(directory, entry))
    return removed


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: temp file in the same directory, fsync, replace.

    The temporary file is ``.<name>.<pid>.<random>.tmp`` (so that only its writer, or a
    later process once the writer is gone, removes it). A new file gets mode ``0o644``; a
    replaced file keeps its mode.

    Example:
        >>> import tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "x.bin"); atomic_write_bytes(p, b"ok")
        >>> open(p, "rb").read(), oct(os.stat(p).st_mode & 0o777)
        (b'ok', '0o644')
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"cannot write {path}: directory {directory} does not exist")
    name = os.path.basename(path)
    fault = _fault(name)
    tmp = os.path.join(
        directory, f"{_temporary_prefix(name)}{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        mode = os.stat(path).st_mode & 0o777
    except OSError:
        mode = NEW_FILE_MODE
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0),
                 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            if fault is not None:
                _act(fault, f, data)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
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


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically (see :func:`atomic_write_bytes`).

    Example:
        >>> import tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "a.txt"); atomic_write_text(p, "é\\n")
        >>> open(p, encoding="utf-8").read()
        'é\\n'
    """
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, value: Any, default: Any = None) -> None:
    """Write ``value`` as indented JSON (keys in the given order, then a newline) to ``path``
    atomically; ``default`` converts what ``json`` cannot (as in ``json.dumps``).

    Example:
        >>> import tempfile, os, json
        >>> p = os.path.join(tempfile.mkdtemp(), "m.json"); atomic_write_json(p, {"a": [1]})
        >>> json.load(open(p))
        {'a': [1]}
    """
    atomic_write_text(path, json.dumps(value, indent=2, default=default) + "\n")


# ------------------------------------------------------------------------------ locks
class FolderLockedError(BlockingIOError):
    """Another process holds the lock of the folder (the message names its pid)."""


class FolderLock:
    """An exclusive, per-process lock on a folder, as :func:`lock_folder` returns it (taken;
    ``release()`` it, or use it in a ``with`` block).

    Attributes:
        folder: the folder; ``path``: its lock file.
    """

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.path = os.path.join(folder, LOCK_FILE)
        self._fd: int | None = None
        self._count = 0

    @property
    def held(self) -> bool:
        """Whether this process holds the lock."""
        return self._fd is not None

    def _holder(self) -> str:
        try:
            with open(self.path, encoding="utf-8") as f:
                text = f.read().strip()
        except OSError:
            text = ""
        return f"process {text}" if text.isdigit() else "another process"

    def _refuse(self, holder: str) -> FolderLockedError:
        return FolderLockedError(
            errno.EWOULDBLOCK,
            f"{self.folder} is in use by {holder} (lock file {self.path}); wait for it to "
            "finish, or stop it. A lock left by a process that no longer runs is taken over "
            "automatically")

    def acquire(self) -> FolderLock:
        """Take the lock (re-entrant within this process).

        Raises:
            FolderLockedError: another live process holds it.
        """
        if self._fd is not None:
            self._count += 1
            return self
        os.makedirs(self.folder, exist_ok=True)
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX: a pid file checked for liveness
            fcntl = None
        if fcntl is not None:
            while True:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0),
                             0o644)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    os.close(fd)
                    raise self._refuse(self._holder()) from None
                try:  # the holder before us may have removed the file we opened: retry
                    same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
                except FileNotFoundError:
                    same = False
                if same:
                    break
                os.close(fd)
            os.ftruncate(fd, 0)
            os.write(fd, str(os.getpid()).encode())
        else:  # pragma: no cover
            while True:
                try:
                    fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
                    break
                except FileExistsError:
                    holder = self._holder()
                    pid = int(holder.split()[-1]) if holder[-1].isdigit() else -1
                    if pid_alive(pid):
                        raise self._refuse(holder) from None
                    with contextlib.suppress(OSError):
                        os.unlink(self.path)  # a dead process's lock: take it over
            os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        self._count = 1
        return self

    def release(self) -> None:
        """Release one acquisition; the last one frees the lock."""
        if self._fd is None:
            return
        self._count -= 1
        if self._count > 0:
            return
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):
            os.unlink(self.path)  # while still holding it (a waiter then retries)
        os.close(fd)
        _LOCKS.pop(self.folder, None)

    def __enter__(self) -> FolderLock:
        return self  # taken by lock_folder; released on leaving the block

    def __exit__(self, *exc: Any) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"FolderLock({self.folder!r}, held={self.held})"


_LOCKS: dict[str, FolderLock] = {}


def lock_folder(folder: str | os.PathLike) -> FolderLock:
    """Take the exclusive lock of ``folder`` (created if missing) for this process.

    The lock is a ``.lock`` file in the folder holding the holder's process id, locked with
    POSIX ``flock``: when the holder ends, however it ends (even ``kill -9``), the lock is
    free again, and the next process takes it over. Within one process the lock is
    re-entrant (each :func:`lock_folder` needs one ``release``).

    Raises:
        FolderLockedError: another running process holds the lock (the message names its
            pid).

    Example:
        >>> import tempfile
        >>> folder = tempfile.mkdtemp()
        >>> with lock_folder(folder) as lock:
        ...     open(lock.path).read() == str(os.getpid())
        True
    """
    key = os.path.realpath(os.fspath(folder))
    lock = _LOCKS.get(key)
    if lock is None:
        lock = FolderLock(key)
    lock.acquire()
    _LOCKS[key] = lock
    return lock


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
    from ..io import serialize

    if not isinstance(state, dict):
        raise TypeError(f"state must be a dict, got {type(state).__name__}")
    enc = _Encoder()
    tree = enc.encode(state, "")
    meta = {"format": CHECKPOINT_FORMAT, "state": json.dumps(tree, allow_nan=True)}
    if metadata:
        for k, v in metadata.items():
            if k in meta or k == "sha256":
                raise ValueError(f"metadata key {k!r} is reserved")
            meta[str(k)] = str(v)
    atomic_write_bytes(path, serialize(enc.arrays, meta))


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read a state written by :func:`save_checkpoint` (arrays come back as ndarrays).

    The SHA-256 of the tensor bytes recorded at writing is checked, and the nesting of the
    state is bounded (``chainrule.io.MAX_DEPTH``).

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is not a chainrule checkpoint or is damaged (naming the file).

    Example:
        >>> import tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "c.safetensors")
        >>> save_checkpoint(p, {"a": {1: [2.5, None]}}); load_checkpoint(p)
        {'a': {1: [2.5, None]}}
    """
    from ..io import loads_bounded, read_safetensors

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no checkpoint file {path!r}")
    path, arrays, meta = read_safetensors(path)
    if meta.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(
            f"{path!r} is not a chainrule training checkpoint (format "
            f"{meta.get('format')!r}, expected {CHECKPOINT_FORMAT!r})"
        )
    if "state" not in meta:
        raise ValueError(f"{path!r}: damaged checkpoint metadata (no 'state')")
    tree = loads_bounded(meta["state"], repr(path), "checkpoint state")
    return _decode(tree, arrays, path)


# ------------------------------------------------------------------ resume validation
_STATE_KEYS = ("epoch", "stop_training", "model", "optimizer", "callbacks", "loader",
               "generators", "global_rng", "history", "data")


def _kind(value: Any) -> str:
    if value is None:
        return "None"
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, numbers.Real):
        return "number"
    if isinstance(value, str):
        return "str"
    if isinstance(value, np.ndarray):
        return "array"
    if isinstance(value, dict):
        return "dict"
    if isinstance(value, (list, tuple)):
        return "list"
    return type(value).__name__


def _same_structure(current: Any, saved: Any, field: str, depth: int = 0) -> None:
    """Check that ``saved`` has the kinds of value ``current`` has (numbers where numbers
    are, arrays of the same shape, the same dict keys where ``current`` has some); ``None``
    on either side is not checked (optional values)."""
    if current is None or saved is None or depth > 50:
        return
    a, b = _kind(current), _kind(saved)
    if a != b:
        raise ValueError(f"{field}: expected a {a}, got {b} {saved!r:.80}")
    if a == "array":
        if saved.shape != current.shape:
            raise ValueError(f"{field}: expected shape {current.shape}, got {saved.shape}")
    elif a == "dict" and current:
        missing = sorted(map(str, set(current) - set(saved)))
        extra = sorted(map(str, set(saved) - set(current)))
        if missing or extra:
            raise ValueError(f"{field}: expected the keys {sorted(map(str, current))}"
                             + (f"; missing {missing}" if missing else "")
                             + (f"; unexpected {extra}" if extra else ""))
        for k, v in current.items():
            _same_structure(v, saved[k], f"{field}[{k!r}]", depth + 1)


def _check_finite_arrays(arrays: dict[str, Any], field: str) -> None:
    for name, arr in arrays.items():
        if isinstance(arr, np.ndarray) and arr.dtype.kind in "fc" and not np.isfinite(arr).all():
            raise ValueError(f"{field}[{name!r}] holds NaN or inf values")


def _check_int(value: Any, field: str, low: int = 0) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{field} must be an int, got {value!r:.80}")
    if value < low:
        raise ValueError(f"{field} must be >= {low}, got {value}")
    return int(value)


def _check_generator_state(gen: np.random.Generator, saved: Any, field: str) -> None:
    fresh = type(gen.bit_generator)()
    try:
        fresh.state = copy.deepcopy(saved)
    except (TypeError, ValueError, KeyError, AttributeError) as e:
        raise ValueError(f"{field}: not a state of a {type(gen.bit_generator).__name__} "
                         f"generator ({e})") from None


def _trial(obj: Any, saved: Any, field: str) -> None:
    """Load ``saved`` into ``obj`` and put ``obj``'s own state back, whatever happens."""
    before = obj.state_dict()
    try:
        obj.load_state_dict(copy.deepcopy(saved))
    except (TypeError, ValueError, KeyError, AttributeError, IndexError) as e:
        raise ValueError(f"{field}: {e}") from None
    finally:
        obj.load_state_dict(before)


def validate_training_state(trainer: Any, state: Any, source: str = "checkpoint") -> None:
    """Check a whole training state against ``trainer`` before any of it is applied.

    Checked: the keys and types of the state; ``epoch`` an int ≥ 0 equal to the number of
    history records; ``stop_training`` a bool; the data sizes; the model's tensor names,
    shapes and finiteness; the optimiser's groups, hyperparameter names and kinds, and its
    per-parameter state (arrays of the parameter's shape, finite); the callbacks' types and
    states (each loaded into its callback and taken back); the data loader's and every
    generator's state. :meth:`Trainer.load_state_dict` calls it first, so a bad checkpoint
    changes nothing.

    Raises:
        TrainingError: (a ``ValueError``) naming ``source`` and the field that is wrong.
    """
    from .loop import TrainingError, _model_generators

    def fail(message: str) -> TrainingError:
        return TrainingError(f"{source}: {message}")

    try:
        _validate(trainer, state, _model_generators)
    except TrainingError:
        raise
    except ValueError as e:
        raise fail(str(e)) from None


def _validate(trainer: Any, state: Any, model_generators: Any) -> None:
    from .loop import TrainingError

    if not isinstance(state, dict):
        raise ValueError(f"the training state must be a dict, got {type(state).__name__}")
    missing = [k for k in _STATE_KEYS if k not in state]
    if missing:
        raise ValueError(f"the training state lacks {missing}")
    # ---- data sizes
    data = state["data"]
    n_dev = None if trainer.dev is None else int(trainer.dev[0].shape[0])
    if not isinstance(data, dict) or data.get("n_train") != trainer.n_train or \
            data.get("n_dev") != n_dev:
        got = data if isinstance(data, dict) else {}
        raise TrainingError(
            f"was written for {got.get('n_train')} training and {got.get('n_dev')} dev "
            f"samples; this run has {trainer.n_train} and {n_dev}")
    # ---- epoch, history, stop flag
    epoch = _check_int(state["epoch"], "epoch")
    history = state["history"]
    if not isinstance(history, dict) or not isinstance(history.get("records", []), list):
        raise ValueError("history must be a dict with a list of 'records'")
    records = history.get("records", [])
    if not all(isinstance(r, dict) for r in records):
        raise ValueError("history['records'] must be a list of dicts (one per epoch)")
    if len(records) != epoch:
        raise ValueError(f"epoch is {epoch} but the history holds {len(records)} epochs")
    if not isinstance(history.get("grad_norms", []), list):
        raise ValueError("history['grad_norms'] must be a list")
    stopped = history.get("stopped_epoch")
    if stopped is not None:
        _check_int(stopped, "history['stopped_epoch']", 1)
    if not isinstance(state["stop_training"], (bool, np.bool_)):
        raise ValueError(f"stop_training must be a bool, got {state['stop_training']!r:.80}")
    # ---- model
    model = state["model"]
    own = trainer.model.state_dict()
    if not isinstance(model, dict):
        raise ValueError(f"model must be a dict of arrays, got {type(model).__name__}")
    if set(model) != set(own):
        raise TrainingError(
            f"does not fit this model: its tensors are {sorted(model)}, the model has "
            f"{sorted(own)}")
    for name, arr in model.items():
        if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "biuf":
            raise ValueError(f"model[{name!r}] must be a numeric array, got {arr!r:.80}")
        if arr.shape != own[name].shape:
            raise TrainingError(f"does not fit this model: model[{name!r}] has shape "
                                f"{arr.shape}, the model's has {own[name].shape}")
    _check_finite_arrays(model, "model")
    # ---- optimiser: groups, hyperparameter names and kinds, per-parameter state
    opt = state["optimizer"]
    mine = trainer.optimizer.state_dict() if hasattr(trainer.optimizer, "state_dict") else None
    if mine is not None:
        if not isinstance(opt, dict) or not isinstance(opt.get("param_groups"), list) \
                or not isinstance(opt.get("state"), dict):
            raise ValueError("optimizer must be a dict with 'state' (a dict) and "
                             "'param_groups' (a list)")
        groups = opt["param_groups"]
        if len(groups) != len(mine["param_groups"]):
            raise TrainingError(
                f"does not fit this optimizer: {len(groups)} parameter groups, this "
                f"optimizer has {len(mine['param_groups'])}")
        shapes = {}
        for i, (saved, group) in enumerate(zip(groups, mine["param_groups"])):
            if not isinstance(saved, dict) or not isinstance(saved.get("params"), list):
                raise ValueError(f"optimizer['param_groups'][{i}] must be a dict with "
                                 "'params'")
            names = set(group) - {"params", "param_names"}
            got = set(saved) - {"params", "param_names"}
            if names != got:
                raise TrainingError(
                    f"does not fit this optimizer ({type(trainer.optimizer).__name__}): its "
                    f"parameter group {i} has the hyperparameters {sorted(got)}, this "
                    f"optimizer's has {sorted(names)} (was it written by another optimizer?)")
            if len(saved["params"]) != len(group["params"]):
                raise TrainingError(
                    f"does not fit this optimizer: parameter group {i} has "
                    f"{len(saved['params'])} parameters, this optimizer's has "
                    f"{len(group['params'])}")
            for k in names:
                _same_structure(group[k], saved[k], f"optimizer['param_groups'][{i}][{k!r}]")
            params = trainer.optimizer.param_groups[i]["params"]
            for index, p in zip(saved["params"], params):
                shapes[_check_int(index, f"optimizer['param_groups'][{i}]['params']")] = \
                    p.data.shape
        state_names: set[str] | None = None
        for key, entry in opt["state"].items():
            field = f"optimizer['state'][{key!r}]"
            try:
                index = int(key)
            except (TypeError, ValueError):
                raise ValueError(f"{field}: not a parameter index") from None
            if index not in shapes or not isinstance(entry, dict):
                raise ValueError(f"{field}: no such parameter, or not a dict of buffers")
            if state_names is None:
                state_names = set(entry)
            elif set(entry) != state_names:
                raise ValueError(f"{field}: state names {sorted(entry)} differ from the other "
                                 f"parameters' {sorted(state_names)}")
            for name, value in entry.items():
                if isinstance(value, np.ndarray) and value.ndim > 0:
                    if value.shape != shapes[index]:
                        raise ValueError(f"{field}[{name!r}] has shape {value.shape}, its "
                                         f"parameter {shapes[index]}")
                elif value is not None and _kind(value) not in ("number", "array"):
                    raise ValueError(f"{field}[{name!r}] must be an array or a number, got "
                                     f"{value!r:.80}")
            _check_finite_arrays(entry, field)
        mine_names = {n for e in mine["state"].values() for n in e}
        if mine_names and state_names is not None and state_names != mine_names:
            raise TrainingError(
                f"does not fit this optimizer: its state names are {sorted(state_names)}, "
                f"this optimizer's {sorted(mine_names)}")
        _trial(trainer.optimizer, opt, "optimizer")
    # ---- callbacks
    saved_cbs = state["callbacks"]
    types = [type(cb).__name__ for cb in trainer.callbacks]
    if not isinstance(saved_cbs, list) or not all(
            isinstance(c, dict) and "type" in c and "state" in c for c in saved_cbs):
        raise ValueError("callbacks must be a list of {'type', 'state'} dicts")
    if [c["type"] for c in saved_cbs] != types:
        raise TrainingError(
            f"has callbacks {[c['type'] for c in saved_cbs]}, this run has {types}; resume "
            "with the same callbacks")
    for i, (cb, saved) in enumerate(zip(trainer.callbacks, saved_cbs)):
        field = f"callbacks[{i}] ({types[i]})"
        _same_structure(cb.state_dict(), saved["state"], field)
        _trial(cb, saved["state"], field)
    # ---- loader and generators
    loader = state["loader"]
    if not isinstance(loader, dict):
        raise ValueError(f"loader must be a dict, got {type(loader).__name__}")
    _trial(trainer.loader, loader, "loader")
    gens = model_generators(trainer.model)
    saved_gens = state["generators"]
    if not isinstance(saved_gens, dict) or set(saved_gens) != set(gens):
        got = sorted(saved_gens) if isinstance(saved_gens, dict) else saved_gens
        raise TrainingError(f"has random generators {got}, the model has {sorted(gens)}")
    for k, g in gens.items():
        _check_generator_state(g, saved_gens[k], f"generators[{k!r}]")
    from .. import rng as _rng

    _check_generator_state(_rng.get_rng(), state["global_rng"], "global_rng")
