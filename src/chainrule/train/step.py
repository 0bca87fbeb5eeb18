"""The one training step: forward → loss → penalty → backward → clip → update.

Every path that trains a network — :func:`~chainrule.train.fit` and its
:class:`~chainrule.train.Trainer`, the scikit-learn estimators, ``chainrule train``,
``cross_validate``, ``diagnose`` and the demos — runs its mini-batches through a
:class:`TrainingStep`. One call on a batch ``(X_b, y_b)`` with sample weights ``w`` is::

    ŷ = f_θ(X_b)                                      forward (training mode)
    L = ℓ(ŷ, y_b)            or  ℓ(ŷ, y_b, w)         the data loss (weighted)
    Ω = λ₁ Σ_W |w| + (λ₂/2) Σ_W w²                    the penalty on the weight matrices
        (divided by Σᵢ wᵢ — or by the batch size — with ``penalty_per_weight``)
    J = L + Ω
    ∂J/∂θ = backward(J)
    monitor(); clip ‖∂J/∂θ‖₂ to clip_grad_norm        gradients seen, then rescaled in place
    θ ← optimizer.step(θ, ∂J/∂θ)

It is *compiled* where that is faithful (``compile="auto"``): the engine in
:mod:`chainrule.trace` records the eager step and replays the primitives on fixed
buffers; the monitor and the clipping run live between backward and update. Where the
step cannot be replayed faithfully it runs eagerly, and :attr:`TrainingStep.reason`
says why; ``compile=True`` raises ``ValueError`` with that reason instead, and
``compile=False`` always runs eagerly.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from .._checks import check_nonneg
from ..tensor import Tensor

__all__ = ["StepResult", "TrainingStep", "step_schedule"]

class StepResult(NamedTuple):
    """What one :class:`TrainingStep` call returns.

    Attributes:
        objective: ``J = L + Ω``, the value that was differentiated (a float).
        loss: the data loss ``L`` (a float).
        output: the model's output ``ŷ`` on the batch (an ndarray of its own), when the
            step was built with ``keep_output=True``; else None.
    """

    objective: float
    loss: float
    output: np.ndarray | None


class TrainingStep:
    """One training step on a mini-batch, compiled where faithful (see the module text).

    Args:
        model: the ``nn.Module`` being trained (its mode is left as it is: call
            ``model.train()`` first).
        loss: ``loss(output, target) -> scalar Tensor`` — and, for weighted batches,
            ``loss(output, target, sample_weight)`` — or a name of ``nn.LOSSES``.
        optimizer: an optimiser over the model's parameters.
        l1, l2: penalty weights ``λ₁, λ₂ ≥ 0`` on the weight matrices
            (``nn.weight_parameters``); ``Ω = λ₁Σ|w| + (λ₂/2)Σw²``.
        clip_grad_norm: rescale the gradients so that their global 2-norm is at most this
            (``optim.clip_grad_norm_``), or None.
        monitor: a function called with no argument after backward, before clipping and the
            update (e.g. to record gradient norms); it may read ``p.grad`` and change
            ``p.grad.data`` in place only.
        compile: ``"auto"`` (compiled where faithful), ``True`` (compiled or
            ``ValueError``) or ``False`` (always eager).
        penalty_per_weight: divide ``Ω`` by the batch's total sample weight ``Σwᵢ`` (the
            batch size when unweighted) — scikit-learn's scaling of ``alpha``.
        keep_output: return the model's output with each step (for training metrics).

    Attributes:
        compiled: whether the last call ran the compiled (replayed) step.
        reason: why the last call ran eagerly (None when it was replayed).

    Example:
        >>> import numpy as np
        >>> from chainrule import nn, optim
        >>> model = nn.Linear(2, 1, seed=0)
        >>> step = TrainingStep(model, "mse", optim.SGD(model.parameters(), lr=0.1), l2=0.01)
        >>> X, y = np.ones((4, 2), np.float32), np.zeros((4, 1), np.float32)
        >>> r = step(X, y)
        >>> r.objective > r.loss > 0
        True
    """

    def __init__(
        self,
        model: Any,
        loss: Any,
        optimizer: Any,
        *,
        l1: float = 0.0,
        l2: float = 0.0,
        clip_grad_norm: float | None = None,
        monitor: Callable[[], Any] | None = None,
        compile: bool | str = "auto",
        penalty_per_weight: bool = False,
        keep_output: bool = False,
    ) -> None:
        from .. import nn

        if isinstance(loss, str):
            loss = nn.get_loss(loss)
        if not callable(loss):
            raise TypeError(f"loss must be a function, a loss Module or a name, got "
                            f"{type(loss).__name__}")
        if not (callable(getattr(optimizer, "step", None))
                and callable(getattr(optimizer, "zero_grad", None))):
            raise TypeError(f"optimizer must have step() and zero_grad(), got "
                            f"{type(optimizer).__name__}")
        if not (compile is True or compile is False or compile == "auto"):
            raise ValueError(f"compile must be 'auto', True or False, got {compile!r}")
        if clip_grad_norm is not None:
            clip_grad_norm = check_nonneg(clip_grad_norm, "clip_grad_norm")
            if clip_grad_norm == 0:
                raise ValueError("clip_grad_norm must be > 0 (or None for no clipping), got 0")
        if monitor is not None and not callable(monitor):
            raise TypeError(f"monitor must be a function or None, got {type(monitor).__name__}")
        self.model = model
        self.loss_fn = loss
        self.optimizer = optimizer
        self.l1 = check_nonneg(l1, "l1")
        self.l2 = check_nonneg(l2, "l2")
        self.clip_grad_norm = clip_grad_norm
        self.monitor = monitor
        self.compile = compile
        self.penalty_per_weight = bool(penalty_per_weight)
        self.keep_output = bool(keep_output)
        self.weights = nn.weight_parameters(model) if (self.l1 or self.l2) else []
        self._params = list(model.parameters())
        self.compiled = False
        self.reason: str | None = None
        self._compiled: Any = None

    # ---------------------------------------------------------------- the mathematics
    def penalty(self) -> Tensor | None:
        """``Ω = λ₁ Σ|w| + (λ₂/2) Σ w²`` over the weight matrices (None when λ₁ = λ₂ = 0)."""
        from .. import nn

        total = None
        if self.l1:
            total = nn.l1_penalty(self.weights, self.l1)
        if self.l2:
            sq = nn.l2_penalty(self.weights, self.l2)
            total = sq if total is None else total + sq
        return total

    def objective(self, output: Tensor, target: Tensor,
                  sample_weight: Tensor | None = None) -> tuple[Tensor, ...]:
        """``(J, L)`` — and ``ŷ`` last with ``keep_output`` — for one batch's output.

        Pure: no side effect, so the compiled step may replay it without running it.
        """
        if sample_weight is None:
            data = self.loss_fn(output, target)
        else:
            data = self.loss_fn(output, target, sample_weight)
        if data.data.size != 1:
            raise ValueError(
                f"the loss must return a scalar (reduction='mean'), got shape {data.shape}"
            )
        J = data
        if self.weights:
            omega = self.penalty()
            if self.penalty_per_weight:
                omega = omega / (output.shape[0] if sample_weight is None
                                 else sample_weight.sum())
            J = data + omega
        return (J, data, output) if self.keep_output else (J, data)

    def _before_update(self) -> None:
        """Between backward and the update: the monitor, then the clipping (in place)."""
        if self.monitor is not None:
            self.monitor()
        if self.clip_grad_norm is not None:
            from ..optim import clip_grad_norm_

            clip_grad_norm_(self._params, self.clip_grad_norm)

    # ---------------------------------------------------------------------- running
    def _engine(self) -> Any:
        """The step of :func:`chainrule.trace.compile_step` that runs every call (built on
        first use): eager, recorded or replayed as it decides."""
        if self._compiled is None:
            from ..trace import compile_step

            hook = _weak(self._before_update) if (self.monitor is not None
                                                  or self.clip_grad_norm is not None) else None
            self._compiled = compile_step(self.model, _weak(self.objective), self.optimizer,
                                          compile=self.compile, before_update=hook)
        return self._compiled

    def __call__(self, x: Any, y: Any, sample_weight: Any = None) -> StepResult:
        """One step on the batch ``(x, y)`` (arrays or Tensors) with optional weights ``w``
        (shape ``(n,)``); returns a :class:`StepResult`.

        Raises:
            ValueError: ``compile=True`` and the step cannot be compiled (the reason).
        """
        engine = self._compiled or self._engine()
        r = engine.values(x, y, sample_weight)
        self.compiled = engine.compiled
        self.reason = engine.reason
        output = r[2].copy() if self.keep_output else None
        return StepResult(float(r[0]), float(r[1]), output)


def _weak(method: Callable) -> Callable:
    """``method`` (bound to a :class:`TrainingStep`) as a function that refers to its
    step weakly: the step holds its engine, which holds this function, and a strong
    reference would make a cycle that keeps a finished run's arrays (parameters, gradients,
    the replay's buffers) allocated until the garbage collector runs — the next run then
    takes fresh memory from the system, page by page."""
    ref = weakref.WeakMethod(method)

    def call(*args: Any) -> Any:
        return ref()(*args)

    call.__doc__ = method.__doc__
    return call


def step_schedule(scheduler: Any, monitored: float | None = None) -> None:
    """Step a learning-rate schedule once: ``ReduceLROnPlateau`` (a schedule registered with
    ``monitored=True``) with the monitored value (``scheduler.step(monitored)``), any other
    with ``scheduler.step()``.

    Example:
        >>> import chainrule as cr
        >>> from chainrule import optim
        >>> opt = optim.SGD([cr.tensor([1.0], requires_grad=True)], lr=1.0)
        >>> sched = optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0)
        >>> step_schedule(sched, 1.0); step_schedule(sched, 2.0); opt.param_groups[0]["lr"]
        0.1
    """
    if _is_plateau(scheduler):
        if monitored is None or not isinstance(monitored, (int, float)):
            raise ValueError("ReduceLROnPlateau steps on a monitored value; got none")
        scheduler.step(monitored)
    else:
        scheduler.step()


def _is_plateau(scheduler: Any) -> bool:
    """Whether ``scheduler.step`` wants the monitored value: its ``optim.SCHEDULERS`` entry
    says ``monitored`` (ReduceLROnPlateau), or it is a ReduceLROnPlateau by name."""
    from ..optim import SCHEDULERS

    entry = SCHEDULERS.find(scheduler)
    if entry is not None:
        return bool(entry.get("monitored", False))
    return type(scheduler).__name__ == "ReduceLROnPlateau"
