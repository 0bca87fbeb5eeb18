"""Callbacks: code that :func:`~chainrule.train.fit` runs at fixed points of training.

A callback subclasses :class:`Callback` and overrides the hooks it needs; each hook
receives the :class:`~chainrule.train.Trainer`, whose attributes (``model``,
``optimizer``, ``history``, ``epoch``, ``batch``, ``stop_training``, …) it may read and,
for ``stop_training``, set. The order of events in a run::

    on_train_begin
    for each epoch:   on_epoch_begin
                      for each batch:  forward, loss, backward
                                       on_after_backward     (gradients are in p.grad)
                                       optimizer.step()
                                       on_batch_end
                      evaluate on dev; append the epoch's record to the history
                      on_epoch_end       (in list order; checkpoints always last)
    on_train_end

Callbacks that carry state across epochs (early stopping's counter and best weights, a
schedule's position) return it from ``state_dict`` so that a resumed run continues exactly
where the interrupted one stopped.
"""

from __future__ import annotations

import math
import numbers
import os
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from .._checks import check_bool, check_int, check_nonneg
from .checkpoint import lock_folder, remove_stale_temporaries, save_checkpoint
from .metrics import _check_mode
from .step import _is_plateau, step_schedule
from .stopping import Patience

if TYPE_CHECKING:  # pragma: no cover
    from .loop import Trainer

__all__ = [
    "Callback",
    "EarlyStopping",
    "GradientMonitor",
    "LRSchedulerCallback",
    "ModelCheckpoint",
]


class Callback:
    """Base class: every hook does nothing; override the ones you need.

    Example:
        >>> class PrintLoss(Callback):
        ...     def on_epoch_end(self, trainer, epoch, logs):
        ...         print(epoch, round(logs["train_loss"], 3))
    """

    def on_train_begin(self, trainer: Trainer) -> None:
        """Before the first epoch (also when resuming, before the state is restored)."""

    def on_epoch_begin(self, trainer: Trainer, epoch: int) -> None:
        """Before the first batch of ``epoch`` (1-based)."""

    def on_after_backward(self, trainer: Trainer) -> None:
        """After ``loss.backward()``, before ``optimizer.step()``: gradients are available."""

    def on_batch_end(self, trainer: Trainer, batch: int, loss: float) -> None:
        """After the update of ``batch`` (1-based within the epoch); ``loss`` its data loss."""

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, Any]) -> None:
        """After the epoch's record ``logs`` has been appended to the history."""

    def on_train_end(self, trainer: Trainer) -> None:
        """After the last epoch (or early stop)."""

    def state_dict(self) -> dict[str, Any]:
        """State to keep in checkpoints (plain values and ndarrays)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""


def _check_monitor(trainer: Trainer, monitor: str, who: str) -> None:
    if monitor.startswith("dev_") and not trainer.has_dev:
        raise ValueError(
            f"{who}: monitor={monitor!r} needs dev_data; pass dev_data to fit or monitor a "
            "train_ quantity"
        )


def _monitored(logs: dict[str, Any], monitor: str, who: str) -> float:
    if monitor not in logs:
        raise ValueError(
            f"{who}: monitor={monitor!r} is not in the epoch's record; available: "
            f"{sorted(k for k in logs if k not in ('epoch', 'time'))}"
        )
    return float(logs[monitor])


class EarlyStopping(Callback):
    """Stop when the monitored quantity has stopped improving; restore the best weights.

    After each epoch the value ``v`` of ``monitor`` is compared with the best so far
    ``v*``: it improves when ``v < v* − min_delta`` (mode ``"min"``) or
    ``v > v* + min_delta`` (mode ``"max"``; the rule is :class:`~chainrule.train.Patience`,
    shared with the scikit-learn estimators). After ``patience`` epochs in a row without
    improvement training stops. With ``restore_best`` the model ends with the weights of
    the best epoch (``history.best_epoch(monitor)``), whether training stopped early or ran
    to the last epoch.

    Early stopping regularises by limiting how far the weights travel from their
    (small) initial values, much like an L2 penalty (Goodfellow et al., *Deep Learning*,
    §7.8).

    Args:
        monitor: a history column, default ``"dev_loss"``.
        patience: epochs without improvement before stopping (int ≥ 1, default 5).
        min_delta: the smallest change that counts as improvement (≥ 0, default 0).
        mode: ``"min"``, ``"max"`` or ``"auto"`` (from the name: ``max`` for accuracy).
        restore_best: load the best weights at the end (default True).

    Attributes:
        best_epoch, best_score: the best epoch so far and its value.
        stopped_epoch: the epoch after which training stopped (None if it did not).

    Example:
        >>> es = EarlyStopping(patience=3)
        >>> es.monitor, es.mode
        ('dev_loss', 'min')
    """

    def __init__(
        self,
        monitor: str = "dev_loss",
        patience: int = 5,
        min_delta: float = 0.0,
        mode: str = "auto",
        restore_best: bool = True,
    ) -> None:
        if not isinstance(monitor, str) or not monitor:
            raise TypeError(f"monitor must be a column name, got {monitor!r}")
        check_int(patience, "patience", 1)
        check_nonneg(min_delta, "min_delta")
        check_bool(restore_best, "restore_best")
        self.monitor = monitor
        self.patience = int(patience)
        self.min_delta = float(min_delta)
        self.mode = _check_mode(mode, monitor)
        self.restore_best = restore_best
        self._reset()

    def _reset(self) -> None:
        self._rule = Patience(self.mode, self.min_delta, self.patience)
        self.stopped_epoch: int | None = None

    # the rule's state, under the names this callback has always had
    best_score = property(lambda self: self._rule.best,
                          lambda self, v: setattr(self._rule, "best", v))
    best_epoch = property(lambda self: self._rule.best_epoch,
                          lambda self, v: setattr(self._rule, "best_epoch", v))
    best_state = property(lambda self: self._rule.best_state,
                          lambda self, v: setattr(self._rule, "best_state", v))
    wait = property(lambda self: self._rule.wait, lambda self, v: setattr(self._rule, "wait", v))

    def on_train_begin(self, trainer: Trainer) -> None:
        """Check that the monitored quantity will exist; reset the counters."""
        _check_monitor(trainer, self.monitor, "EarlyStopping")
        self._reset()

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, Any]) -> None:
        """Update the best value, keep the best weights, and stop after ``patience``."""
        value = _monitored(logs, self.monitor, "EarlyStopping")
        model = trainer.model if self.restore_best else None
        if self._rule.update(value, epoch, model):
            self.stopped_epoch = epoch
            trainer.stop_training = True
            trainer.history.stopped_epoch = epoch

    def on_train_end(self, trainer: Trainer) -> None:
        """Load the best weights into the model (``restore_best``)."""
        if self.restore_best and self.best_state is not None:
            trainer.model.load_state_dict(self.best_state)

    def state_dict(self) -> dict[str, Any]:
        """Counters, best value and best weights."""
        return {
            "best_score": self.best_score,
            "best_epoch": self.best_epoch,
            "wait": self.wait,
            "stopped_epoch": self.stopped_epoch,
            "best_state": self.best_state,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` (checked first: nothing changes on a bad state)."""
        best_score, best_state = state["best_score"], state["best_state"]
        if best_score is not None and (
                isinstance(best_score, bool) or not isinstance(best_score, numbers.Real)):
            raise ValueError(f"best_score must be a number or None, got {best_score!r:.80}")
        for key in ("best_epoch", "stopped_epoch", "wait"):
            v = state[key]
            if (v is not None or key == "wait") and (
                    isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 0):
                raise ValueError(f"{key} must be an int >= 0, got {v!r:.80}")
        if best_state is not None and not (isinstance(best_state, dict) and all(
                isinstance(v, np.ndarray) for v in best_state.values())):
            raise ValueError("best_state must be None or a dict of arrays")
        self.best_score = best_score
        self.best_epoch = state["best_epoch"]
        self.wait = int(state["wait"])
        self.stopped_epoch = state["stopped_epoch"]
        self.best_state = best_state

    def __repr__(self) -> str:
        return (
            f"EarlyStopping(monitor={self.monitor!r}, patience={self.patience}, "
            f"min_delta={self.min_delta}, mode={self.mode!r}, restore_best={self.restore_best})"
        )


class LRSchedulerCallback(Callback):
    """Step a learning-rate schedule once per epoch (or per batch).

    Epoch schedules are stepped after the epoch's record is written, so the ``lr`` column
    of the history is the rate used *during* that epoch. ``ReduceLROnPlateau`` is stepped
    with the monitored value, ``scheduler.step(logs[monitor])``; the others with
    ``scheduler.step()``. ``fit(scheduler=s)`` wraps ``s`` in this callback.

    Args:
        scheduler: an ``optim.lr_scheduler`` schedule (anything with ``step()``; its
            ``state_dict``/``load_state_dict`` are used in checkpoints).
        monitor: the history column for ``ReduceLROnPlateau`` (default ``"dev_loss"``).
        interval: ``"epoch"`` (default) or ``"batch"`` (for one-cycle or warm-up schedules
            counted in steps).

    Example:
        >>> import chainrule as cr
        >>> from chainrule import optim
        >>> opt = optim.SGD([cr.tensor([1.0], requires_grad=True)], lr=0.1)
        >>> cb = LRSchedulerCallback(optim.lr_scheduler.StepLR(opt, step_size=2))
        >>> cb.interval
        'epoch'
    """

    def __init__(
        self, scheduler: Any, monitor: str = "dev_loss", interval: str = "epoch"
    ) -> None:
        if not callable(getattr(scheduler, "step", None)):
            raise TypeError(
                f"scheduler must have a step() method, got {type(scheduler).__name__}"
            )
        if interval not in ("epoch", "batch"):
            raise ValueError(f"interval must be 'epoch' or 'batch', got {interval!r}")
        self.scheduler = scheduler
        self.monitor = monitor
        self.interval = interval
        self.plateau = _is_plateau(scheduler)
        if self.plateau and interval == "batch":
            raise ValueError("ReduceLROnPlateau steps on a monitored value: use interval='epoch'")

    def on_train_begin(self, trainer: Trainer) -> None:
        """Check the monitored quantity (ReduceLROnPlateau only)."""
        if self.plateau:
            _check_monitor(trainer, self.monitor, "LRSchedulerCallback")

    def on_batch_end(self, trainer: Trainer, batch: int, loss: float) -> None:
        """Step a per-batch schedule."""
        if self.interval == "batch":
            self.scheduler.step()

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, Any]) -> None:
        """Step a per-epoch schedule (with the monitored value for ReduceLROnPlateau)."""
        if self.interval != "epoch":
            return
        value = _monitored(logs, self.monitor, "LRSchedulerCallback") if self.plateau else None
        step_schedule(self.scheduler, value)

    def state_dict(self) -> dict[str, Any]:
        """The schedule's own state dict."""
        fn = getattr(self.scheduler, "state_dict", None)
        return {"scheduler": fn() if callable(fn) else None}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the schedule's state."""
        if state.get("scheduler") is not None:
            self.scheduler.load_state_dict(state["scheduler"])

    def __repr__(self) -> str:
        return (
            f"LRSchedulerCallback({type(self.scheduler).__name__}, monitor={self.monitor!r}, "
            f"interval={self.interval!r})"
        )


def _layer_of(name: str) -> str:
    """The layer a parameter belongs to: ``"0.weight"`` → ``"0"``, ``"w"`` → ``"w"``."""
    return name.rsplit(".", 1)[0] if "." in name else name


class GradientMonitor(Callback):
    """Record each layer's gradient norm every epoch; warn when it vanishes or explodes.

    For layer ``l`` with parameters ``θ_l`` (``0.weight`` and ``0.bias`` form layer ``0``)
    the norm after batch ``b`` is ``‖g_l‖₂ = √(Σ_{θ ∈ θ_l} Σ (∂J/∂θ)²)``; the epoch's value is
    the mean over its batches, stored in ``history.grad_norms`` (one dict per epoch) and
    returned by ``history.grad_norm(layer)``. ``warnings.warn`` (a :class:`UserWarning`)
    names the layer and the epoch when the norm is below ``vanish`` (vanishing gradients:
    the layer stops learning — try ReLU, He initialisation, batch norm, residual
    connections) or above ``explode`` (exploding gradients — try a smaller learning rate,
    gradient clipping, better initialisation).

    Args:
        vanish: lower threshold (default 1e-7).
        explode: upper threshold (default 1e3).
        warn: whether to warn (default True).

    Example:
        >>> GradientMonitor().vanish, GradientMonitor().explode
        (1e-07, 1000.0)
    """

    def __init__(self, vanish: float = 1e-7, explode: float = 1e3, warn: bool = True) -> None:
        for name, v in (("vanish", vanish), ("explode", explode)):
            if isinstance(v, bool) or not isinstance(v, numbers.Real):
                raise TypeError(f"{name} must be a number, got {type(v).__name__}")
            if not v > 0:
                raise ValueError(f"{name} must be > 0, got {v}")
        if not vanish < explode:
            raise ValueError(f"vanish must be < explode, got vanish={vanish}, explode={explode}")
        self.vanish = float(vanish)
        self.explode = float(explode)
        self.warn = bool(warn)
        self._sums: dict[str, float] = {}
        self._count = 0
        self._groups: list[tuple[str, list[Any]]] = []

    def on_train_begin(self, trainer: Trainer) -> None:
        """Group the parameters by layer."""
        groups: dict[str, list[Any]] = {}
        for name, p in trainer.model.named_parameters():
            groups.setdefault(_layer_of(name), []).append(p)
        self._groups = list(groups.items())

    def on_epoch_begin(self, trainer: Trainer, epoch: int) -> None:
        """Start the epoch's sums."""
        self._sums = dict.fromkeys((layer for layer, _ in self._groups), 0.0)
        self._count = 0

    def on_after_backward(self, trainer: Trainer) -> None:
        """Add this batch's per-layer norms."""
        for layer, params in self._groups:
            sq = 0.0
            for p in params:
                if p.grad is not None:
                    g = p.grad.data.ravel()
                    sq += float(np.dot(g, g))
            self._sums[layer] += math.sqrt(sq)
        self._count += 1

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, Any]) -> None:
        """Store the epoch's mean norms and warn about vanishing or exploding layers."""
        n = max(self._count, 1)
        norms = {layer: s / n for layer, s in self._sums.items()}
        trainer.history.grad_norms.append(norms)
        if not self.warn:
            return
        for layer, value in norms.items():
            if value < self.vanish:
                warnings.warn(
                    f"GradientMonitor: vanishing gradient in layer {layer!r} at epoch {epoch}: "
                    f"‖g‖ = {value:.3g} < {self.vanish:g}",
                    UserWarning,
                    stacklevel=2,
                )
            elif value > self.explode or not math.isfinite(value):
                warnings.warn(
                    f"GradientMonitor: exploding gradient in layer {layer!r} at epoch {epoch}: "
                    f"‖g‖ = {value:.3g} > {self.explode:g}",
                    UserWarning,
                    stacklevel=2,
                )

    def __repr__(self) -> str:
        return f"GradientMonitor(vanish={self.vanish:g}, explode={self.explode:g})"


class ModelCheckpoint(Callback):
    """Save the full training state every ``every`` epochs, atomically, for resuming.

    Writes ``<dirpath>/last.safetensors`` (the state after the latest saved epoch: model,
    optimiser, schedule, callbacks, history, generators — see
    :mod:`chainrule.train.checkpoint`), and with ``monitor`` also ``best.safetensors``
    whenever the monitored value improves. Each write goes to a temporary file in the same
    directory, is fsync-ed and renamed over the old file, so an interrupted run (even
    ``kill -9``) always leaves a complete checkpoint. The last epoch is always saved.
    ``fit(checkpoint_dir=d)`` adds ``ModelCheckpoint(d)`` when no ModelCheckpoint is given;
    ``fit(..., resume=True)`` restarts from ``last.safetensors``.

    Only finite states are saved: when the weights, the optimiser's state or the epoch's
    losses hold NaN or inf, nothing is written and training stops with a
    :class:`~chainrule.train.NonFiniteLossError` naming the epoch of the last checkpoint
    (read back and checked). While training, the directory is locked
    (:func:`~chainrule.train.checkpoint.lock_folder`): a second process training into it is
    refused with an error naming the first one's pid.

    Args:
        dirpath: directory (created if missing).
        every: save every ``every`` epochs (int ≥ 1, default 1).
        monitor: optional history column for ``best.safetensors``.
        mode: ``"min"``, ``"max"`` or ``"auto"``.

    Example:
        >>> import tempfile, os
        >>> ModelCheckpoint(tempfile.mkdtemp()).last_path.endswith("last.safetensors")
        True
    """

    LAST = "last.safetensors"
    BEST = "best.safetensors"

    def __init__(
        self,
        dirpath: str | os.PathLike,
        every: int = 1,
        monitor: str | None = None,
        mode: str = "auto",
    ) -> None:
        if not isinstance(dirpath, (str, os.PathLike)):
            raise TypeError(f"dirpath must be a str or path, got {type(dirpath).__name__}")
        check_int(every, "every", 1)
        self.dirpath = os.fspath(dirpath)
        self.every = int(every)
        self.monitor = monitor
        self.mode = _check_mode(mode, monitor) if monitor is not None else None
        self.best_score: float | None = None
        self.last_saved_epoch: int | None = None
        self._lock: Any = None

    @property
    def last_path(self) -> str:
        """Path of the latest checkpoint."""
        return os.path.join(self.dirpath, self.LAST)

    @property
    def best_path(self) -> str:
        """Path of the best checkpoint (with ``monitor``)."""
        return os.path.join(self.dirpath, self.BEST)

    def on_train_begin(self, trainer: Trainer) -> None:
        """Lock the directory (created if missing); remove the temporary files that
        interrupted writes of this process or of dead ones left."""
        if self.monitor is not None:
            _check_monitor(trainer, self.monitor, "ModelCheckpoint")
        if self._lock is None:
            self._lock = lock_folder(self.dirpath)
        remove_stale_temporaries(self.dirpath, [self.LAST, self.BEST])

    def _nonfinite(self, trainer: Trainer, epoch: int, logs: dict[str, Any]) -> str | None:
        """What is not finite at the end of ``epoch`` (None when everything is)."""
        for key in ("train_loss", "dev_loss"):
            value = logs.get(key)
            if isinstance(value, float) and not math.isfinite(value):
                return f"the {key.replace('_', ' ')} is {value}"
        for name, p in trainer.model.state_dict().items():
            if p.dtype.kind in "fc" and not np.isfinite(p).all():
                return f"the weights {name!r} hold NaN or inf"
        opt_state = getattr(trainer.optimizer, "state", {})
        for buffers in opt_state.values():
            for name, value in buffers.items():
                arr = np.asarray(value)
                if arr.dtype.kind in "fc" and not np.isfinite(arr).all():
                    return f"the optimizer's {name!r} holds NaN or inf"
        return None

    def _refuse_nonfinite(self, epoch: int, what: str) -> None:
        from .checkpoint import load_checkpoint
        from .loop import NonFiniteLossError

        where = (f"after epoch {epoch} {what}; try a smaller learning rate, gradient clipping "
                 "or standardised inputs. Nothing was saved for this epoch")
        if os.path.exists(self.last_path):
            try:
                saved = load_checkpoint(self.last_path)
                good = all(np.isfinite(a).all() for a in saved["model"].values()
                           if a.dtype.kind in "fc")
                saved_epoch = saved["epoch"]
            except (ValueError, KeyError, TypeError):
                good, saved_epoch = False, None
            if good:
                raise NonFiniteLossError(
                    f"{where}; the last checkpoint ({self.last_path!r}, epoch {saved_epoch}) "
                    "holds finite weights (checked)")
        raise NonFiniteLossError(f"{where}; no finite checkpoint has been written yet")

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, Any]) -> None:
        """Save ``last`` every ``every`` epochs and at the end; ``best`` on improvement;
        refuse a state that is not finite."""
        improved = False
        if self.monitor is not None:
            value = _monitored(logs, self.monitor, "ModelCheckpoint")
            if not math.isnan(value) and (
                self.best_score is None
                or (value < self.best_score if self.mode == "min" else value > self.best_score)
            ):
                improved = True
        final = trainer.stop_training or epoch >= trainer.epochs
        if epoch % self.every == 0 or final or improved:
            what = self._nonfinite(trainer, epoch, logs)
            if what is not None:
                self._refuse_nonfinite(epoch, what)
            if improved:
                self.best_score = value
            write_last = epoch % self.every == 0 or final
            if write_last:
                self.last_saved_epoch = epoch
            state = trainer.state_dict()
            if write_last:
                save_checkpoint(self.last_path, state)
            if improved:
                save_checkpoint(self.best_path, state)

    def on_train_end(self, trainer: Trainer) -> None:
        """Release the directory's lock."""
        self.release()

    def release(self) -> None:
        """Release the directory's lock (also done at the end of training)."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def state_dict(self) -> dict[str, Any]:
        """The best monitored value and the last saved epoch."""
        return {"best_score": self.best_score, "last_saved_epoch": self.last_saved_epoch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        best, last = state.get("best_score"), state.get("last_saved_epoch")
        if best is not None and (isinstance(best, bool) or not isinstance(best, numbers.Real)):
            raise ValueError(f"best_score must be a number or None, got {best!r:.80}")
        if last is not None and (isinstance(last, bool) or not isinstance(last, numbers.Integral)):
            raise ValueError(f"last_saved_epoch must be an int or None, got {last!r:.80}")
        self.best_score = best
        self.last_saved_epoch = last

    def __repr__(self) -> str:
        return f"ModelCheckpoint({self.dirpath!r}, every={self.every}, monitor={self.monitor!r})"
