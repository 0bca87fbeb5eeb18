"""The training loop: mini-batch gradient descent with evaluation, callbacks and resuming.

One epoch of :func:`fit` is, for every mini-batch ``(X_b, y_b)`` of the shuffled training
set::

    ŷ = model(X_b)                                   forward (training mode)
    J = L(ŷ, y_b) + λ₁ Σ|w| + (λ₂/2) Σ w²            data loss plus optional penalties
    ∂J/∂θ = backward(J)                              back-propagation
    θ ← optimizer.step(θ, ∂J/∂θ)                     the update rule

followed by an evaluation of the dev set in evaluation mode under ``no_grad``. The record
of the epoch goes into a :class:`~chainrule.train.History`; callbacks stop early, step the
learning-rate schedule, monitor gradients and write checkpoints. A run interrupted at any
point resumes from its last checkpoint with ``resume=True`` and ends with the same weights,
bit for bit, as the uninterrupted run: the checkpoint holds the model, optimiser, schedule,
callbacks, history, the data loader's generator and every generator in the model (e.g. a
Dropout layer's), and the interrupted epoch is replayed deterministically.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from .. import rng as _rng
from .._checks import check_int, check_nonneg
from ..autodiff import no_grad
from ..tensor import Tensor
from .callbacks import Callback, LRSchedulerCallback, ModelCheckpoint
from .checkpoint import load_checkpoint, validate_training_state
from .history import History
from .metrics import Metric, get_metric
from .progress import ProgressBar as _ProgressBar
from .step import TrainingStep

__all__ = [
    "NonFiniteLossError",
    "Trainer",
    "TrainingError",
    "evaluate",
    "fit",
    "get_loss",
    "predict",
]


class TrainingError(ValueError):
    """Training cannot continue (bad state found during a run, or an unusable checkpoint)."""


class NonFiniteLossError(TrainingError, FloatingPointError):
    """The loss became NaN or infinite; the message names the epoch and the batch.

    Subclasses both :class:`TrainingError` (a ``ValueError``) and ``FloatingPointError``.
    """


# ---------------------------------------------------------------------------- losses
def _loss_entry(loss_name: str) -> Any:
    """The registry entry (``nn.LOSSES``) of a canonical loss name, or None for a loss
    function of the user's that is not registered."""
    from .. import nn

    return nn.LOSSES.find(loss_name)


def _is_classification(loss_name: str, y: Any) -> bool:
    """The loss's registered task; for a loss without one, whether the targets are
    integers."""
    entry = _loss_entry(loss_name)
    if entry is not None and entry.task is not None:
        return entry.task == "classification"
    y = np.asarray(getattr(y, "data", y))
    return y.dtype.kind in "iub"


def _target_kind(loss_name: str) -> str | None:
    """What the loss expects as targets (its entry's ``target``; None: not checked)."""
    entry = _loss_entry(loss_name)
    return None if entry is None else entry.target


def get_loss(loss: Any) -> tuple[Callable[..., Tensor], str]:
    """The loss function and its canonical name, for a name, a loss Module or a function.

    Names are those of ``nn.LOSSES`` (``"cross_entropy"``, ``"ce"``, ``"mse"``,
    ``"bce_with_logits"``, …, and any loss registered there); a loss Module
    (``nn.CrossEntropyLoss(label_smoothing=0.1)``) or a function ``loss(output, target) ->
    scalar Tensor`` (``F.cross_entropy``) is used as is. The canonical name is the registry
    entry's (found by name, class or function name) or else the function's own name; the
    entry's metadata (task, targets, output transform) tells classification from
    regression.

    Raises:
        ValueError: unknown name (the message lists the valid names).

    Example:
        >>> fn, name = get_loss("ce"); name, type(fn).__name__
        ('cross_entropy', 'CrossEntropyLoss')
    """
    from .. import nn

    if isinstance(loss, str):
        entry = nn.LOSSES.entry(loss)
        return entry.obj(), entry.name
    if isinstance(loss, nn.Module) or callable(loss):
        entry = nn.LOSSES.find(loss)
        if entry is not None:
            return loss, entry.name
        name = type(loss).__name__ if isinstance(loss, nn.Module) else getattr(
            loss, "__name__", type(loss).__name__)
        return loss, name.lower()
    raise TypeError(f"loss must be a name, a loss Module or a function, got {type(loss).__name__}")


def _model_dtype(model: Any) -> np.dtype:
    for p in model.parameters():
        return p.data.dtype
    raise ValueError("the model has no parameters to train")


def _split_data(data: Any, name: str) -> tuple[Any, Any, Any]:
    """``(X, y, loader_or_None)`` from a pair, a Dataset or a DataLoader."""
    from ..data import DataLoader

    if isinstance(data, DataLoader):
        return data.X, data.y, data
    if hasattr(data, "X") and hasattr(data, "y"):  # Dataset, Part
        return data.X, data.y, None
    if isinstance(data, (tuple, list)):
        if len(data) != 2:
            raise ValueError(f"{name} must be a pair (X, y), got a sequence of length {len(data)}")
        return data[0], data[1], None
    raise TypeError(
        f"{name} must be a pair (X, y), a Dataset or a DataLoader, got {type(data).__name__}"
    )


def _prepare(
    X: Any, y: Any, name: str, dtype: np.dtype, loss_name: str,
    feature_names: Sequence[str] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Validate and convert one ``(X, y)`` pair (no copy when dtypes already match): inputs
    to the model's dtype, integer class indices to int64, other targets to the model's
    dtype."""
    from ..data import check_finite, check_lengths
    from ..data.preprocessing import check_cast_finite

    if isinstance(X, Tensor):
        X = X.data
    if isinstance(y, Tensor):
        y = y.data
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim == 0 or y.ndim == 0:
        raise ValueError(f"{name}: X and y need a samples axis, got shapes {X.shape} and {y.shape}")
    check_lengths(X, y, (f"{name} X", f"{name} y"))
    if X.shape[0] == 0:
        raise ValueError(f"{name} has no samples")
    for arr, part in ((X, "X"), (y, "y")):
        if arr.dtype.kind == "c":
            raise TypeError(f"{name} {part} is complex ({arr.dtype}); the model takes real "
                            "numbers (pass the real and imaginary parts as separate columns)")
    check_finite(X, f"{name} X", feature_names)
    if X.dtype != dtype:  # after a cast, check again: 1e39 is inf in float32
        with np.errstate(over="ignore"):
            X = X.astype(dtype)
        check_cast_finite(X, f"{name} X", feature_names)
    if y.dtype.kind in "iub" and _target_kind(loss_name) in ("index", None):
        y = y.astype(np.int64, copy=False)  # class indices (checked against the outputs later)
    else:
        check_finite(y, f"{name} y")
        if y.dtype != dtype:
            with np.errstate(over="ignore"):
                y = y.astype(dtype)
            check_cast_finite(y, f"{name} y")
    return X, y


def sample_output_shape(model: Any, x: np.ndarray) -> tuple[int, ...]:
    """Shape of ``model``'s output for one sample (the first row of ``x``), found in
    evaluation mode without gradients; the model's mode is restored."""
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            out = model(Tensor._wrap(x[:1]))
    finally:
        model.train(was_training)
    return tuple(out.shape[1:])


def _out_shape(out: tuple[int, ...]) -> str:
    return "(n" + "".join(f", {d}" for d in out) + ")"


def _check_targets(
    model: Any, X: np.ndarray, y: np.ndarray, loss_name: str, name: str
) -> np.ndarray:
    """Check targets against the model's outputs: class labels in ``0 … K−1`` for
    cross-entropy; for regression and binary losses, give ``(n,)`` targets the output's
    shape ``(n, 1)`` (so that the loss does not broadcast) and check the shapes match."""
    from ..data import check_labels

    out = sample_output_shape(model, X)
    kind = _target_kind(loss_name)
    if kind == "index":
        if y.dtype == np.int64:
            if len(out) != 1:
                raise ValueError(
                    f"{loss_name} needs outputs of shape (n, K), the model gives {_out_shape(out)}"
                )
            check_labels(y, out[0], f"{name} y")
        elif y.shape[1:] != out:
            hint = "; class indices must be an integer array" if y.ndim == 1 else ""
            raise ValueError(
                f"{name} y has shape {y.shape} but the model outputs {_out_shape(out)}{hint}"
            )
        return y
    if y.ndim == 1 and out == (1,):
        y = y.reshape(-1, 1)
    if kind is None:
        return y  # a loss function of the user's: its targets are its business
    if y.shape[1:] != out:
        raise ValueError(
            f"{name} y has shape {y.shape} but the model outputs {_out_shape(out)}; "
            "targets must match the outputs"
        )
    if kind == "probability":
        bad = (y < 0) | (y > 1)
        if bad.any():
            i = int(np.argmax(bad.reshape(-1)))
            raise ValueError(
                f"{name} y contains {y.reshape(-1)[i].item()!r}; {loss_name} needs targets in "
                "[0, 1]"
            )
    return y


def _default_metrics(loss_name: str) -> list[str]:
    """Accuracy for classification losses, rmse and r2 for regression losses (by their
    registered task); none for other losses (pass ``metrics=`` explicitly)."""
    entry = _loss_entry(loss_name)
    task = None if entry is None else entry.task
    if task == "classification":
        return ["accuracy"]
    if task == "regression":
        return ["rmse", "r2"]
    return []


def _output_fn(loss_name: str) -> Callable[[np.ndarray], np.ndarray] | None:
    """The registered transform from the model's output to a prediction (or None)."""
    entry = _loss_entry(loss_name)
    return None if entry is None else entry.output


# ------------------------------------------------------------------- generator states
def _model_generators(model: Any) -> dict[str, np.random.Generator]:
    """Every ``numpy.random.Generator`` held by a module of ``model``, keyed by path."""
    found: dict[str, np.random.Generator] = {}
    for mname, m in model.named_modules():
        for attr, value in vars(m).items():
            if isinstance(value, np.random.Generator):
                found[f"{mname or '<root>'}:{attr}"] = value
    return found


# -------------------------------------------------------------------------- evaluation
def _forward_batches(model: Any, X: np.ndarray, batch_size: int | None) -> Iterable[Any]:
    n = X.shape[0]
    step = n if batch_size is None else batch_size
    for start in range(0, n, step):
        yield start, model(Tensor._wrap(X[start : start + step]))


@contextlib.contextmanager
def _eval_mode(model: Any):
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            yield
    finally:
        model.train(was_training)


def predict(model: Any, X: Any, batch_size: int | None = None) -> np.ndarray:
    """The model's outputs for ``X`` in evaluation mode, without building a graph.

    .. math:: \\hat Y = f_θ(X)

    Args:
        model: a Module.
        X: inputs, shape ``(n, …)`` (converted to the model's dtype).
        batch_size: rows per forward pass (default: all at once).

    Returns:
        ndarray of outputs, shape ``(n, …)`` (logits for a classifier: ``argmax`` them).

    Example:
        >>> import numpy as np
        >>> from chainrule import nn
        >>> predict(nn.Linear(3, 2, seed=0), np.zeros((4, 3))).shape
        (4, 2)
    """
    dtype = _model_dtype(model)
    X = np.asarray(getattr(X, "data", X)).astype(dtype, copy=False)
    if batch_size is not None:
        batch_size = check_int(batch_size, "batch_size", 1)
    with _eval_mode(model):
        parts = [out.data for _, out in _forward_batches(model, X, batch_size)]
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _evaluate_arrays(
    model: Any,
    loss_fn: Callable[..., Tensor],
    X: np.ndarray,
    y: np.ndarray,
    metrics: Sequence[Metric],
    batch_size: int | None,
    output_fn: Callable[[np.ndarray], np.ndarray] | None,
) -> dict[str, float]:
    """Loss and metrics of the model as it is (the caller sets eval mode and no_grad)."""
    n = X.shape[0]
    total = 0.0
    outs = []
    for start, out in _forward_batches(model, X, batch_size):
        m = out.shape[0]
        value = float(loss_fn(out, Tensor._wrap(y[start : start + m])).data)
        total += value * m
        if metrics:
            outs.append(out.data)
    result = {"loss": total / n}
    if metrics:
        pred = outs[0] if len(outs) == 1 else np.concatenate(outs)
        if output_fn is not None:
            pred = output_fn(pred)
        for metric in metrics:
            result[metric.name] = float(metric(y, pred))
    return result


def evaluate(
    model: Any,
    loss: str | Callable[..., Tensor],
    data: Any,
    metrics: Sequence[Any] | None = None,
    batch_size: int | None = None,
) -> dict[str, float]:
    """Loss and metrics of ``model`` on ``data``, in evaluation mode under ``no_grad``.

    .. math:: L = \\frac{1}{n} \\sum_i \\ell(f_θ(x_i), y_i)

    The loss is the mean over samples (a batch-size-weighted mean of the batch losses);
    metrics are computed on all outputs at once. This is how :func:`fit` measures the dev
    set, so ``evaluate(model, loss, dev)["loss"]`` reproduces the history's ``dev_loss``.

    Args:
        model: a Module.
        loss: a loss name (``"cross_entropy"``, ``"mse"``, …) or function.
        data: ``(X, y)``, a Dataset or a DataLoader.
        metrics: metric names or functions (default: accuracy for classification losses,
            rmse and r2 for regression losses).
        batch_size: rows per forward pass (default: all at once).

    Returns:
        ``{"loss": …, "<metric>": …}``.

    Example:
        >>> import numpy as np
        >>> from chainrule import nn
        >>> data = (np.zeros((5, 2)), np.zeros(5, dtype=int))
        >>> r = evaluate(nn.Linear(2, 3, init="he", seed=0), "cross_entropy", data)
        >>> sorted(r), round(r["loss"], 4)  # zero inputs, zero bias: uniform, loss = ln 3
        (['accuracy', 'loss'], 1.0986)
    """
    loss_fn, loss_name = get_loss(loss)
    X, y, _ = _split_data(data, "data")
    dtype = _model_dtype(model)
    X, y = _prepare(X, y, "data", dtype, loss_name)
    y = _check_targets(model, X, y, loss_name, "data")
    if metrics is None:
        metrics = _default_metrics(loss_name)
    ms = [get_metric(m) for m in metrics]
    if batch_size is not None:
        batch_size = check_int(batch_size, "batch_size", 1)
    with _eval_mode(model):
        return _evaluate_arrays(model, loss_fn, X, y, ms, batch_size, _output_fn(loss_name))


# ----------------------------------------------------------------------------- trainer
def _overrides(cb: Any, hook: str) -> bool:
    return getattr(type(cb), hook, None) is not getattr(Callback, hook)


class Trainer:
    """The state of one training run; :func:`fit` builds one and calls :meth:`run`.

    Callbacks receive the trainer and may read its attributes:

    Attributes:
        model, optimizer: what is trained and how.
        loss_fn, loss_name: the loss function and its registry name.
        history: the :class:`History` so far.
        epochs: the number of epochs asked for.
        epoch: the current epoch (1-based; the number of completed epochs between epochs).
        batch: the current batch within the epoch (1-based).
        stop_training: set it to True to stop after the current epoch.
        has_dev: whether there is a dev set.
        loader: the training :class:`~chainrule.data.DataLoader`.
        callbacks: the callbacks, checkpoints last.
        metrics: the :class:`~chainrule.train.metrics.Metric` objects.
        checkpoint: the :class:`ModelCheckpoint` in use, if any.
        frozen: the :class:`~chainrule.train.FrozenParameters` of the model (those that
            training leaves as they are).

    The constructor takes the arguments of :func:`fit` (see there).
    """

    def __init__(
        self,
        model: Any,
        loss: str | Callable[..., Tensor],
        optimizer: Any,
        train_data: Any,
        dev_data: Any = None,
        *,
        epochs: int = 10,
        batch_size: int | None = 32,
        callbacks: Sequence[Callback] = (),
        seed: int | np.random.Generator | None = None,
        metrics: Sequence[Any] | None = None,
        scheduler: Any = None,
        l1: float = 0.0,
        l2: float = 0.0,
        checkpoint_dir: str | os.PathLike | None = None,
        resume: bool | str | os.PathLike = False,
        progress: bool | None = None,
        eval_batch_size: int | None = None,
        clip_grad_norm: float | None = None,
        compile: bool | str = "auto",
    ) -> None:
        from ..data import DataLoader

        # ---- the model, the loss and the optimiser
        if not (callable(model) and hasattr(model, "parameters") and hasattr(model, "train")):
            raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
        dtype = _model_dtype(model)
        self.loss_fn, self.loss_name = get_loss(loss)
        from .finetune import frozen_parameters

        self.frozen = frozen_parameters(model)
        if self.frozen.n_trainable == 0:
            raise ValueError(f"every parameter of the model is frozen (requires_grad=False: "
                             f"{self.frozen.describe()}); unfreeze the layers to train with "
                             "requires_grad_(True)")
        if isinstance(optimizer, str):
            from ..optim import get_optimizer

            optimizer = get_optimizer(optimizer, [p for p in model.parameters()
                                                  if p.requires_grad])
        if not (callable(getattr(optimizer, "step", None))
                and callable(getattr(optimizer, "zero_grad", None))):
            raise TypeError(
                f"optimizer must be an optimizer (with step and zero_grad) or a name, got "
                f"{type(optimizer).__name__}"
            )
        # ---- scalar arguments
        self.epochs = check_int(epochs, "epochs", 1)
        if batch_size is not None:
            batch_size = check_int(batch_size, "batch_size", 1)
        if eval_batch_size is not None:
            eval_batch_size = check_int(eval_batch_size, "eval_batch_size", 1)
        self.l1 = check_nonneg(l1, "l1")
        self.l2 = check_nonneg(l2, "l2")
        if clip_grad_norm is not None:
            clip_grad_norm = check_nonneg(clip_grad_norm, "clip_grad_norm")
            if clip_grad_norm == 0:
                raise ValueError("clip_grad_norm must be > 0 (or None for no clipping), got 0")
        self.clip_grad_norm = clip_grad_norm
        if not (compile is True or compile is False or compile == "auto"):
            raise ValueError(f"compile must be 'auto', True or False, got {compile!r}")
        if progress is not None and not isinstance(progress, bool):
            raise TypeError(f"progress must be None or a bool, got {type(progress).__name__}")
        if not isinstance(resume, (bool, str, os.PathLike)):
            raise TypeError(f"resume must be a bool or a checkpoint path, got {resume!r}")
        if resume is True and checkpoint_dir is None and not any(
            isinstance(cb, ModelCheckpoint) for cb in callbacks
        ):
            raise ValueError("resume=True needs checkpoint_dir (or a ModelCheckpoint callback)")
        if seed is None:
            seed = int(_rng.get_rng().integers(2**63))  # cr.manual_seed makes this repeatable

        # ---- data
        X, y, given_loader = _split_data(train_data, "train_data")
        self.classification = _is_classification(self.loss_name, y)
        names = getattr(train_data, "feature_names", None)
        X, y = _prepare(X, y, "train_data", dtype, self.loss_name, names)
        y = _check_targets(model, X, y, self.loss_name, "train_data")
        self._adapt: Callable[[Any, Any], tuple[Any, Any]] | None = None
        if given_loader is not None:
            if given_loader.X is not X or given_loader.y is not y:
                # the loader's batches need the conversions made above (dtype, target shape)
                x_dtype, y_dtype, y_tail = X.dtype, y.dtype, y.shape[1:]

                def adapt(xb: Any, yb: Any) -> tuple[Any, Any]:
                    xb = np.asarray(xb).astype(x_dtype, copy=False)
                    yb = np.asarray(yb).astype(y_dtype, copy=False).reshape((-1, *y_tail))
                    return xb, yb

                self._adapt = adapt
            self.loader = given_loader
        else:
            # full-batch gradient descent needs no shuffling (and no copy of X per epoch)
            self.loader = DataLoader(
                X, y, batch_size=batch_size if batch_size is not None else X.shape[0],
                shuffle=batch_size is not None, seed=seed,
            )
        self.dev: tuple[np.ndarray, np.ndarray] | None = None
        if dev_data is not None:
            Xd, yd, _ = _split_data(dev_data, "dev_data")
            Xd, yd = _prepare(Xd, yd, "dev_data", dtype, self.loss_name,
                              getattr(dev_data, "feature_names", None))
            yd = _check_targets(model, Xd, yd, self.loss_name, "dev_data")
            self.dev = (Xd, yd)
        self.has_dev = self.dev is not None
        self.n_train = int(X.shape[0])

        # ---- metrics
        if metrics is None:
            metrics = _default_metrics(self.loss_name)
        elif isinstance(metrics, (str, Metric)) or callable(metrics):
            metrics = [metrics]
        self.metrics = [get_metric(m) for m in metrics]
        names_seen = [m.name for m in self.metrics]
        if len(set(names_seen)) != len(names_seen):
            raise ValueError(f"metrics has duplicate names: {names_seen}")
        self._output_fn = _output_fn(self.loss_name)

        # ---- callbacks (checkpoints run last so they see every other callback's state)
        cbs = list(callbacks)
        for cb in cbs:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be Callback instances, got {type(cb).__name__}")
        if scheduler is not None:
            cbs.insert(0, LRSchedulerCallback(scheduler))
        if checkpoint_dir is not None and not any(isinstance(c, ModelCheckpoint) for c in cbs):
            cbs.append(ModelCheckpoint(checkpoint_dir))
        self.callbacks = [c for c in cbs if not isinstance(c, ModelCheckpoint)] + [
            c for c in cbs if isinstance(c, ModelCheckpoint)
        ]
        checkpoints = [c for c in self.callbacks if isinstance(c, ModelCheckpoint)]
        self.checkpoint = checkpoints[0] if checkpoints else None
        self._after_backward = [c for c in self.callbacks if _overrides(c, "on_after_backward")]
        self._batch_end = [c for c in self.callbacks if _overrides(c, "on_batch_end")]

        self.model = model
        from ..nn import Module

        modules = list(model.modules()) if isinstance(model, Module) else []
        # Module.train only sets ``training`` on every module: do that directly, unless a
        # module overrides train()
        plain = modules and all(type(m).train is Module.train for m in modules)
        self._modules: list[Any] | None = modules if plain else None
        self.optimizer = optimizer
        self.eval_batch_size = eval_batch_size
        self.history = History()
        self.epoch = 0
        self.batch = 0
        self.stop_training = False
        self.resume = resume
        self.progress = progress
        self.step = TrainingStep(
            model, self.loss_fn, optimizer, l1=self.l1, l2=self.l2,
            clip_grad_norm=self.clip_grad_norm, monitor=self._monitor if self._after_backward
            else None, compile=compile, keep_output=bool(self.metrics),
        )

    def _monitor(self) -> None:
        """The callbacks' ``on_after_backward`` (gradients in ``p.grad``, before clipping)."""
        for cb in self._after_backward:
            cb.on_after_backward(self)

    @property
    def compiled(self) -> bool:
        """Whether the last training step ran compiled (see :class:`TrainingStep`)."""
        return self.step.compiled

    @property
    def compile_reason(self) -> str | None:
        """Why the last training step ran eagerly (None when it ran compiled)."""
        return self.step.reason

    # ------------------------------------------------------------------ modes
    def _set_training(self, mode: bool) -> None:
        """``model.train(mode)``, without walking the module tree every epoch."""
        if self._modules is None:
            self.model.train(mode)
        else:
            for m in self._modules:
                m.training = mode

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue this run exactly (see :mod:`.checkpoint`)."""
        return {
            "epoch": self.epoch,
            "stop_training": self.stop_training,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "callbacks": [
                {"type": type(cb).__name__, "state": cb.state_dict()} for cb in self.callbacks
            ],
            "loader": self.loader.state_dict(),
            "generators": {
                k: g.bit_generator.state for k, g in _model_generators(self.model).items()
            },
            "global_rng": _rng.get_rng().bit_generator.state,
            "history": self.history.to_dict(),
            "data": {"n_train": self.n_train,
                     "n_dev": None if self.dev is None else int(self.dev[0].shape[0])},
        }

    def load_state_dict(self, state: dict[str, Any], source: str = "checkpoint") -> None:
        """Restore :meth:`state_dict` (the model, optimiser, callbacks, generators, …).

        Raises:
            TrainingError: the checkpoint does not fit this run (naming what differs);
                nothing is changed (the whole state is validated before any of it is applied).
        """
        validate_training_state(self, state, source)
        data = state.get("data", {})
        n_dev = None if self.dev is None else int(self.dev[0].shape[0])
        if data.get("n_train") != self.n_train or data.get("n_dev") != n_dev:
            raise TrainingError(
                f"{source} was written for {data.get('n_train')} training and "
                f"{data.get('n_dev')} dev samples; this run has {self.n_train} and {n_dev}"
            )
        saved_cbs = state["callbacks"]
        types = [type(cb).__name__ for cb in self.callbacks]
        if [c["type"] for c in saved_cbs] != types:
            raise TrainingError(
                f"{source} has callbacks {[c['type'] for c in saved_cbs]}, this run has "
                f"{types}; resume with the same callbacks"
            )
        gens = _model_generators(self.model)
        if set(state["generators"]) != set(gens):
            raise TrainingError(
                f"{source} has random generators {sorted(state['generators'])}, the model has "
                f"{sorted(gens)}"
            )
        try:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
        except (ValueError, TypeError, KeyError) as e:
            raise TrainingError(f"{source} does not fit this model/optimizer: {e}") from None
        for cb, saved in zip(self.callbacks, saved_cbs):
            cb.load_state_dict(saved["state"])
        self.loader.load_state_dict(state["loader"])
        for k, g in gens.items():
            g.bit_generator.state = state["generators"][k]
        _rng.get_rng().bit_generator.state = state["global_rng"]
        self.history = History.from_dict(state["history"])
        self.epoch = int(state["epoch"])
        self.stop_training = bool(state["stop_training"])

    def _resume_path(self) -> str | None:
        if isinstance(self.resume, (str, os.PathLike)):
            return os.fspath(self.resume)
        if self.resume and self.checkpoint is not None:
            return self.checkpoint.last_path
        return None

    # ------------------------------------------------------------------ running
    def _lr(self) -> float:
        groups = getattr(self.optimizer, "param_groups", None)
        if groups:
            return float(groups[0].get("lr", math.nan))
        return math.nan

    def _show_progress(self) -> bool:
        if self.progress is not None:
            return self.progress
        return sys.stderr.isatty()

    def run(self) -> History:
        """Train for the remaining epochs and return the history."""
        try:
            return self._run()
        finally:  # however training ends, the checkpoint directory's lock is released
            if self.checkpoint is not None:
                self.checkpoint.release()

    def _run(self) -> History:
        for cb in self.callbacks:
            cb.on_train_begin(self)
        path = self._resume_path()
        if path is not None and os.path.exists(path):
            self.load_state_dict(load_checkpoint(path), source=repr(path))
        elif isinstance(self.resume, (str, os.PathLike)):
            raise FileNotFoundError(f"resume: no checkpoint file {path!r}")
        self.history.frozen, self.history.n_frozen = self.frozen.names, self.frozen.n_frozen
        bar = _ProgressBar(self) if self._show_progress() else None
        try:
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                while not self.stop_training and self.epoch < self.epochs:
                    self.epoch += 1
                    self._run_epoch(bar)
        finally:
            if bar is not None:
                bar.close()
        for cb in self.callbacks:
            cb.on_train_end(self)
        self.model.eval()
        return self.history

    def _run_epoch(self, bar: _ProgressBar | None) -> None:
        epoch = self.epoch
        model, loss_fn = self.model, self.loss_fn
        start = time.perf_counter()
        lr = self._lr()
        for cb in self.callbacks:
            cb.on_epoch_begin(self, epoch)
        self._set_training(True)
        if bar is not None:
            bar.start_epoch(epoch, len(self.loader))
        keep_outputs = bool(self.metrics)
        outs: list[np.ndarray] = []
        targets: list[np.ndarray] = []
        total = 0.0
        seen = 0
        adapt = self._adapt
        step = self.step
        for b, (xb, yb) in enumerate(self.loader, start=1):
            self.batch = b
            if adapt is not None:
                xb, yb = adapt(xb, yb)
            result = step(xb, yb)
            value = result.loss
            if not math.isfinite(value) or not math.isfinite(result.objective):
                bad = value if not math.isfinite(value) else result.objective
                raise NonFiniteLossError(self._nonfinite_message(bad))
            m = xb.shape[0]
            total += value * m
            seen += m
            if keep_outputs:
                outs.append(result.output)
                targets.append(yb)
            for cb in self._batch_end:
                cb.on_batch_end(self, b, value)
            if bar is not None:
                bar.advance(value)
        self.history.compiled = step.compiled
        self.history.compile_reason = step.reason
        logs: dict[str, Any] = {"epoch": epoch, "train_loss": total / seen}
        if keep_outputs:
            pred = np.concatenate(outs)
            if self._output_fn is not None:
                pred = self._output_fn(pred)
            y_seen = np.concatenate(targets)
            for metric in self.metrics:
                logs[f"train_{metric.name}"] = float(metric(y_seen, pred))
        if self.dev is not None:
            self._set_training(False)
            with no_grad():
                res = _evaluate_arrays(model, loss_fn, self.dev[0], self.dev[1], self.metrics,
                                       self.eval_batch_size, self._output_fn)
            logs["dev_loss"] = res["loss"]
            for metric in self.metrics:
                logs[f"dev_{metric.name}"] = res[metric.name]
        logs["lr"] = lr
        logs["time"] = time.perf_counter() - start
        self.history.append(logs)
        for cb in self.callbacks:
            cb.on_epoch_end(self, epoch, logs)
        if bar is not None:
            bar.end_epoch(logs)

    def _nonfinite_message(self, value: float) -> str:
        where = f"the loss became {value} at epoch {self.epoch}, batch {self.batch}"
        hint = "; try a smaller learning rate, gradient clipping or standardised inputs"
        if self.checkpoint is not None and os.path.exists(self.checkpoint.last_path):
            saved = self.checkpoint.last_saved_epoch
            return (
                f"{where}{hint}. The last good checkpoint ({self.checkpoint.last_path!r}, "
                f"epoch {saved}) is intact"
            )
        return where + hint


def fit(
    model: Any,
    loss: str | Callable[..., Tensor],
    optimizer: Any,
    train_data: Any,
    dev_data: Any = None,
    *,
    epochs: int = 10,
    batch_size: int | None = 32,
    callbacks: Sequence[Callback] = (),
    seed: int | np.random.Generator | None = None,
    metrics: Sequence[Any] | None = None,
    scheduler: Any = None,
    l1: float = 0.0,
    l2: float = 0.0,
    checkpoint_dir: str | os.PathLike | None = None,
    resume: bool | str | os.PathLike = False,
    progress: bool | None = None,
    eval_batch_size: int | None = None,
    clip_grad_norm: float | None = None,
    compile: bool | str = "auto",
) -> History:
    """Train ``model`` by mini-batch gradient descent; return the per-epoch :class:`History`.

    For each mini-batch ``(X_b, y_b)`` (reshuffled every epoch)::

        J(θ) = (1/|b|) Σ_{i∈b} ℓ(f_θ(x_i), y_i) + λ₁ Σ_W |w| + (λ₂/2) Σ_W w²
        θ ← optimizer.step(θ, ∂J/∂θ)

    where the penalties run over the weight matrices (not biases). After each epoch the dev
    set is evaluated (eval mode, ``no_grad``) and the record ``{epoch, train_loss,
    dev_loss, train_<metric>, dev_<metric>, lr, time}`` is appended to the history; the
    training loss and metrics are averaged over the epoch's batches, as measured during
    training (dropout active). At the end the model is left in eval mode.

    Args:
        model: the ``nn.Module`` to train (in place).
        loss: a name (``"cross_entropy"``, ``"mse"``, ``"binary_cross_entropy"``,
            ``"binary_cross_entropy_with_logits"``, ``"l1"``, ``"huber"``, ``"nll"``;
            ``nn.LOSSES``), a loss Module, or a function ``loss(output, target) -> scalar Tensor``.
        optimizer: an optimiser over ``model.parameters()``, or a name
            (``"adam"``, ``"sgd"``, …) for one with default hyperparameters over the
            parameters that require gradients. Frozen parameters (``requires_grad=False``,
            see :func:`~chainrule.train.freeze`) are never changed, even when the
            optimiser holds them: no gradient, no update, no weight decay, no penalty;
            ``history.n_frozen`` and ``history.frozen`` say how many and which.
        train_data: ``(X, y)`` arrays, a Dataset, or a ``data.DataLoader`` (its batch
            size, shuffling and generator are used).
        dev_data: optional ``(X, y)`` or Dataset for the dev (validation) set.
        epochs: number of passes over the training set (int ≥ 1).
        batch_size: rows per mini-batch (int ≥ 1); ``None`` for full-batch gradient
            descent. Ignored when ``train_data`` is a DataLoader.
        callbacks: :class:`Callback` instances (EarlyStopping, GradientMonitor, …).
        seed: seed of the shuffling generator (int or Generator); ``None`` draws one from
            the library's global generator (``cr.manual_seed``).
        metrics: metric names or functions; default accuracy for classification losses,
            rmse and r2 for regression losses, none for other loss functions; ``()`` for
            none.
        scheduler: a learning-rate schedule, stepped once per epoch
            (``ReduceLROnPlateau`` with the dev loss); same as
            ``LRSchedulerCallback(scheduler)``.
        l1, l2: penalty weights ``λ₁``, ``λ₂`` (≥ 0) on the weight matrices
            (``nn.l1_penalty``, ``nn.l2_penalty``; the L2 gradient ``λ₂w`` is what
            ``SGD(weight_decay=λ₂)`` adds).
        checkpoint_dir: write ``last.safetensors`` there after every epoch (atomically).
        resume: ``True`` to continue from ``checkpoint_dir/last.safetensors`` when it
            exists (and start afresh otherwise), or the path of a checkpoint.
        progress: show a rich progress bar (default: only when stderr is a terminal).
        eval_batch_size: rows per forward pass in dev evaluation (default: all at once).
        clip_grad_norm: if given, rescale the gradients before each step so that their
            global 2-norm is at most this (``optim.clip_grad_norm_``); GradientMonitor
            sees them before clipping.
        compile: ``"auto"`` (default) runs the compiled training step wherever it replays
            the eager one faithfully and the eager step elsewhere; ``True`` raises
            ``ValueError`` with the reason when the step cannot be compiled; ``False``
            always trains eagerly. ``history.compiled`` and ``history.compile_reason`` tell
            what the last step did (see :class:`~chainrule.train.TrainingStep`).

    Returns:
        the :class:`History` (the model is trained in place).

    Raises:
        ValueError / TypeError: bad arguments or data (mismatched lengths, NaN or inf in
            the inputs naming row and column, labels out of range, bad epochs/batch_size,
            every parameter frozen).
        NonFiniteLossError: the loss became NaN or inf (naming the epoch and batch); the
            last checkpoint written stays intact.

    Example:
        >>> import numpy as np
        >>> from chainrule import nn, optim
        >>> from chainrule.train import fit
        >>> X = np.random.default_rng(0).normal(size=(64, 2)); y = (X[:, 0] > 0).astype(int)
        >>> model = nn.Sequential(nn.Linear(2, 8, seed=0), nn.ReLU(), nn.Linear(8, 2, seed=1))
        >>> h = fit(model, "cross_entropy", optim.Adam(model.parameters(), lr=0.05), (X, y),
        ...         epochs=20, batch_size=16, seed=0, progress=False)
        >>> h.records[-1]["train_accuracy"] > 0.9
        True
    """
    trainer = Trainer(
        model, loss, optimizer, train_data, dev_data,
        epochs=epochs, batch_size=batch_size, callbacks=callbacks, seed=seed,
        metrics=metrics, scheduler=scheduler, l1=l1, l2=l2, checkpoint_dir=checkpoint_dir,
        resume=resume, progress=progress, eval_batch_size=eval_batch_size,
        clip_grad_norm=clip_grad_norm, compile=compile,
    )
    return trainer.run()
