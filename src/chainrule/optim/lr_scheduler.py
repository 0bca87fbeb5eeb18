"""Learning-rate schedules: the textbook decay laws and PyTorch's schedulers.

A scheduler changes ``group["lr"]`` of an optimiser's parameter groups once per epoch (or
per step — whatever unit ``step()`` is called at). As in ``torch.optim.lr_scheduler``:

- constructing a scheduler performs its first ``step()``: the learning rate in use during
  epoch 0 is the schedule's value at ``epoch = 0`` (usually the optimiser's ``lr``, ``α₀``);
  call ``scheduler.step()`` after ``optimizer.step()``, once per epoch;
- ``α₀`` is remembered per group as ``group["initial_lr"]`` (and in ``base_lrs``);
- PyTorch's schedulers are *chainable*: each computes the new rate from the group's current
  ``lr`` (``StepLR`` multiplies it by ``gamma``…), so several schedulers on one optimiser
  compose (a ``LinearLR`` warm-up times an ``ExponentialLR`` decay). The closed forms in the
  docstrings are what one scheduler alone produces. ``LambdaLR`` and the textbook laws
  (``InverseTimeDecay``, ``ExponentialDecay``, ``SqrtDecay``, ``StaircaseDecay``) set
  ``lr = α₀·factor(epoch)`` directly;
- ``state_dict()`` holds plain numbers and lists (JSON-ready); to resume, build the
  optimiser and the scheduler, then load the optimiser's state, then the scheduler's.

The textbook laws (Andrew Ng, *Improving Deep Neural Networks*, week 2 "learning rate
decay") count epochs from 0 here, so that epoch 0 trains at ``α₀`` like every other
scheduler; Ng's ``epoch_num`` starts at 1 (``epoch_num = epoch + 1``).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from .._checks import check_choice, check_int, check_nonneg, check_positive, check_real
from ..registry import Registry
from .optimizer import Optimizer

__all__ = [
    "SCHEDULERS",
    "CosineAnnealingLR",
    "ExponentialDecay",
    "ExponentialLR",
    "InverseTimeDecay",
    "LRScheduler",
    "LambdaLR",
    "LinearLR",
    "MultiStepLR",
    "ReduceLROnPlateau",
    "SqrtDecay",
    "StaircaseDecay",
    "StepLR",
    "get_scheduler",
]


def _check_optimizer(optimizer: Any) -> None:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(
            f"a scheduler needs a chainrule.optim.Optimizer, got {type(optimizer).__name__}"
        )


class LRScheduler:
    """Base class of the epoch-indexed schedulers (PyTorch's ``LRScheduler``).

    Subclasses implement ``get_lr()``: the learning rate of every group at epoch
    ``last_epoch`` (already advanced), usually from the current ``group["lr"]``.

    Args:
        optimizer: the optimiser whose learning rates are scheduled.
        last_epoch: index of the last epoch seen; -1 (default) starts a new schedule.
            Another value needs ``"initial_lr"`` in every group (a resumed optimiser).
    """

    _is_initial: bool = False
    _not_saved: tuple[str, ...] = ("optimizer",)

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        _check_optimizer(optimizer)
        check_int(last_epoch, "last_epoch", -1)
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise ValueError(
                        f"last_epoch={last_epoch} resumes a schedule, but param group {i} has "
                        "no 'initial_lr': load the optimizer's state first, or use -1"
                    )
        self.base_lrs: list[float] = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> list[float]:
        """The learning rate of every group for epoch ``last_epoch``."""
        raise NotImplementedError

    def step(self) -> None:
        """Advance one epoch and set every group's ``lr`` to the schedule's value."""
        self._step_count += 1
        self.last_epoch += 1
        values = self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, values):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self) -> list[float]:
        """The learning rates set by the last ``step()`` (one per group)."""
        return list(self._last_lr)

    def state_dict(self) -> dict[str, Any]:
        """Everything but the optimiser (and functions), as plain values."""
        return {
            key: copy.deepcopy(value)
            for key, value in self.__dict__.items()
            if key not in self._not_saved and not key.startswith("_is_")
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the state saved by :meth:`state_dict`."""
        unknown = set(state_dict) - set(self.state_dict())
        if unknown:
            raise ValueError(
                f"load_state_dict: unknown keys {sorted(unknown)} for {type(self).__name__}"
            )
        self.__dict__.update(copy.deepcopy(dict(state_dict)))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(last_epoch={self.last_epoch}, lr={self.get_last_lr()})"


# ----------------------------------------------------------------------- PyTorch's schedules
class StepLR(LRScheduler):
    r"""Multiply the learning rate by ``gamma`` every ``step_size`` epochs.

    Closed form (alone)::

        lr = α₀ · gamma^⌊epoch / step_size⌋

    Chainable: at epochs that are a positive multiple of ``step_size``, ``lr = gamma·lr``.

    Args:
        optimizer: the optimiser.
        step_size: period in epochs (>= 1).
        gamma: multiplicative factor (> 0). Default 0.1.
        last_epoch: -1 to start (see :class:`LRScheduler`).

    Reference: ``torch.optim.lr_scheduler.StepLR``.

    Example:
        >>> import chainrule as cr
        >>> from chainrule import optim
        >>> opt = optim.SGD([cr.tensor([1.0], requires_grad=True)], lr=1.0)
        >>> sched = optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
        >>> lrs = []
        >>> for epoch in range(6):
        ...     lrs.append(sched.get_last_lr()[0]); sched.step()
        >>> lrs
        [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]
    """

    def __init__(
        self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1
    ) -> None:
        check_int(step_size, "step_size", 1)
        check_positive(gamma, "gamma")
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        groups = self.optimizer.param_groups
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return [group["lr"] for group in groups]
        return [group["lr"] * self.gamma for group in groups]


class MultiStepLR(LRScheduler):
    r"""Multiply the learning rate by ``gamma`` at each milestone epoch.

    Closed form (alone), with ``milestones`` ``m₁ ≤ m₂ ≤ …``::

        lr = α₀ · gamma^(number of milestones ≤ epoch)

    Args:
        optimizer: the optimiser.
        milestones: epochs (ints >= 0; a repeated one applies ``gamma`` twice).
        gamma: multiplicative factor (> 0). Default 0.1.
        last_epoch: -1 to start.

    Reference: ``torch.optim.lr_scheduler.MultiStepLR``.

    Example:
        >>> import chainrule as cr
        >>> from chainrule import optim
        >>> opt = optim.SGD([cr.tensor([1.0], requires_grad=True)], lr=1.0)
        >>> sched = optim.lr_scheduler.MultiStepLR(opt, milestones=[1, 3], gamma=0.1)
        >>> lrs = []
        >>> for epoch in range(4):
        ...     lrs.append(sched.get_last_lr()[0]); sched.step()
        >>> [round(x, 12) for x in lrs]
        [1.0, 0.1, 0.1, 0.01]
    """

    def __init__(
        self,
        optimizer: Optimizer,
        milestones: Iterable[int],
        gamma: float = 0.1,
        last_epoch: int = -1,
    ) -> None:
        milestones = sorted(milestones)
        for m in milestones:
            check_int(m, "milestone", 0)
        check_positive(gamma, "gamma")
        self.milestones: list[int] = [int(m) for m in milestones]
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        groups = self.optimizer.param_groups
        count = self.milestones.count(self.last_epoch)
        if count == 0:
            return [group["lr"] for group in groups]
        return [group["lr"] * self.gamma**count for group in groups]


class ExponentialLR(LRScheduler):
    r"""Multiply the learning rate by ``gamma`` every epoch.

    Closed form (alone)::

        lr = α₀ · gamma^epoch

    With ``gamma = 0.95`` this is the exponential decay of Ng's course (see also
    :class:`ExponentialDecay`, which sets the closed form directly).

    Args:
        optimizer: the optimiser.
        gamma: multiplicative factor per epoch (> 0).
        last_epoch: -1 to start.

    Reference: ``torch.optim.lr_scheduler.ExponentialLR``.

    Example:
        >>> import chainrule as cr
        >>> from chainrule import optim
        >>> opt = optim.SGD([cr.tensor([1.0], requires_grad=True)], lr=0.2)
        >>> sched = optim.lr_scheduler.ExponentialLR(opt, gamma=0.5)
        >>> sched.step(); sched.step(); sched.get_last_lr()
        [0.05]
    """

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        check_positive(gamma, "gamma")
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        groups = self.optimizer.param_groups
        if self._is_initial:
            return [group["lr"] for group in groups]
        return [group["lr"] * self.gamma for group in groups]


class CosineAnnealingLR(LRScheduler):
    r"""Anneal the learning rate from ``α₀`` to ``eta_min`` along half a cosine.

    Closed form (alone), for ``0 ≤ epoch ≤ T_max``::

        lr = eta_min + (α₀ − eta_min)·(1 + cos(π·epoch / T_max)) / 2

    Computed, as PyTorch, by the recursion
    ``lr_e = eta_min + (lr_{e−1} − eta_min)·(1 + cos(π e/T_max)) / (1 + cos(π (e−1)/T_max))``
    (so it chains with other schedulers); past ``T_max`` the cosine continues, rising back
    to ``α₀`` at ``2·T_max`` (no restart).

    Args:
        optimizer: the optimiser.
        T_max: half-period in epochs (>= 1).
        eta_min: the minimum learning rate (>= 0). Default 0.
        last_epoch: -1 to start.

    Reference:
        Loshchilov & Hutter, *SGDR: Stochastic Gradient Descent with Warm Restarts*,
        ICLR 2017; ``torch.optim.lr_scheduler.CosineAnnealingLR``.

    Example:
        >>> import chainrule as cr
        >>> from chainrule import optim
        >>> opt = optim.SGD([cr.tensor([1.0], requires_grad=True)], lr=1.0)
        >>> sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=4)
        >>> lrs = []
        >>> for epoch in range(5):
        ...     lrs.append(round(sched.get_last_lr()[0], 6)); sched.step()
        >>> lrs
        [1.0, 0.853553, 0.5, 0.146447, 0.0]
    """

    def __init__(
        self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1
    ) -> None:
        check_int(T_max, "T_max", 1)
        check_nonneg(eta_min, "eta_min")
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        groups = self.optimizer.param_groups
        e, T, eta_min = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return [group["lr"] for group in groups]
        if self._step_count == 1 and e > 0:
            return [
                eta_min + (base_lr - eta_min) * (1 + math.cos(e * math.pi / T)) / 2
                for base_lr in self.base_lrs
            ]
        if (e - 1 - T) % (2 * T) == 0:
            # at the bottom of the cosine the recursion would divide by 0: step up instead
            return [
                group["lr"] + (base_lr - eta_min) * (1 - math.cos(math.pi / T)) / 2
                for base_lr, group in zip(self.base_lrs, groups)
            ]
        return [
            (1 + math.cos(math.pi * e / T))
            / (1 + math.cos(math.pi * (e - 1) / T))
            * (group["lr"] - eta_min)
            + eta_min
            for group in groups
        ]


class LinearLR(LRScheduler):
    r"""Linear warm-up (or decay): scale ``α₀`` from ``start_factor`` to ``end_factor``.

    Closed form (alone)::

        lr = α₀ · (start_factor + (end_factor − start_factor)·min(epoch, total_iters)
                   / total_iters)

    Computed, as PyTorch, by multiplying the current ``lr`` by the ratio of successive
    factors (chainable). After ``total_iters`` epochs the factor stays ``end_factor``.

    Args:
        optimizer: the optimiser.
        start_factor: factor at epoch 0, in (0, 1]. Default 1/3.
        end_factor: factor from epoch ``total_iters`` on, in [0, 1]. Default 1.
        total_iters: length of the ramp in epochs (>= 1). Default 5.
        last_epoch: -1 to start.

    Reference:
        Goyal et al., *Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour* (2017),
        gradual warm-up; ``torch.optim.lr_scheduler.LinearLR``.

    Example:
        >>> import chainrule as cr
        >>> from chainrule import optim
        >>> opt = optim.SGD([cr.tensor([1.0], requires_grad=True)], lr=1.0)
        >>> sched = optim.lr_scheduler.LinearLR(opt, start_factor=0.25, total_iters=3)
        >>> lrs = []
        >>> for epoch in range(5):
        ...     lrs.append(round(sched.get_last_lr()[0], 12)); sched.step()
        >>> lrs
        [0.25, 0.5, 0.75, 1.0, 1.0]
    """

    def __init__(
        self,
        optimizer: Optimizer,
        start_factor: float = 1.0 / 3,
        end_factor: float = 1.0,
        total_iters: int = 5,
        last_epoch: int = -1,
    ) -> None:
        check_real(start_factor, "start_factor", 0, 1, low_open=True, high_open=False)
        check_real(end_factor, "end_factor", 0, 1, high_open=False)
        check_int(total_iters, "total_iters", 1)
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        groups = self.optimizer.param_groups
        e = self.last_epoch
        if e == 0:
            return [group["lr"] * self.start_factor for group in groups]
        if self._is_initial or e > self.total_iters:
            return [group["lr"] for group in groups]
        delta = self.end_factor - self.start_factor
        ratio = 1.0 + delta / (self.total_iters * self.start_factor + (e - 1) * delta)
        return [group["lr"] * ratio for group in groups]


class LambdaLR(LRScheduler):
    r"""Set the learning rate to ``α₀`` times a function of the epoch.

    ::

        lr = α₀ · lr_lambda(epoch)

    Args:
        optimizer: the optimiser.
        lr_lambda: a function of the epoch (int) returning a factor, or one per group.
        last_epoch: -1 to start.

    The functions are not part of ``state_dict()``; pass the same ones when resuming.

    Reference: ``torch.optim.lr_scheduler.LambdaLR``.

    Example:
        >>> import chainrule as cr
        >>> from chainrule import optim
        >>> opt = optim.SGD([cr.tensor([1.0], requires_grad=True)], lr=0.1)
        >>> sched = optim.lr_scheduler.LambdaLR(opt, lambda epoch: 1 / (epoch + 1))
        >>> sched.step(); sched.step(); round(sched.get_last_lr()[0], 12)
        0.033333333333
    """

    _not_saved = ("optimizer", "lr_lambdas")

    def __init__(
        self,
        optimizer: Optimizer,
        lr_lambda: Callable[[int], float] | Sequence[Callable[[int], float]],
        last_epoch: int = -1,
    ) -> None:
        _check_optimizer(optimizer)
        n = len(optimizer.param_groups)
        if isinstance(lr_lambda, (list, tuple)):
            if len(lr_lambda) != n:
                raise ValueError(f"expected {n} lr_lambdas (one per group), got {len(lr_lambda)}")
            lambdas = list(lr_lambda)
        else:
            lambdas = [lr_lambda] * n
        for fn in lambdas:
            if not callable(fn):
                raise TypeError(f"lr_lambda must be callable, got {type(fn).__name__}")
        self.lr_lambdas: list[Callable[[int], float]] = lambdas
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [
            base_lr * fn(self.last_epoch) for fn, base_lr in zip(self.lr_lambdas, self.base_lrs)
        ]


# ------------------------------------------------------------------- the textbook decay laws
class _ClosedForm(LRScheduler):
    """``lr = α₀ · factor(epoch)``, set directly (not chained)."""

    def multiplier(self, epoch: int) -> float:
        """The factor applied to ``α₀`` at ``epoch``."""
        raise NotImplementedError

    def get_lr(self) -> list[float]:
        f = self.multiplier(self.last_epoch)
        return [base_lr * f for base_lr in self.base_lrs]


class InverseTimeDecay(_ClosedForm):
    r"""Inverse-time decay: the learning rate falls like ``1/epoch``.

    ::

        α = α₀ / (1 + decay_rate · epoch)

    ``epoch`` counts from 0, so epoch 0 trains at ``α₀`` (Keras' ``InverseTimeDecay`` with
    ``decay_steps=1``). Ng's course writes ``α₀ / (1 + decay_rate · epoch_num)`` with
    ``epoch_num`` from 1, i.e. one epoch later: its first rate is ``α₀/(1 + decay_rate)``.

    Args:
        optimizer: the optimiser.
        decay_rate: ``decay_rate`` (>= 0). Default 1.
        last_epoch: -1 to start.

    Reference: Ng, *Improving Deep Neural Networks* (Coursera), "Learning rate decay".

    Example:
        >>> import chainrule as cr
        >>> from chainrule import optim
        >>> opt = optim.SGD([cr.tensor([1.0], requires_grad=True)], lr=0.2)
        >>> sched = optim.lr_scheduler.InverseTimeDecay(opt, decay_rate=1.0)
        >>> lrs = []
        >>> for epoch in range(4):
        ...     lrs.append(round(sched.get_last_lr()[0], 12)); sched.step()
        >>> lrs                           # 0.2/1, 0.2/2, 0.2/3, 0.2/4
        [0.2, 0.1, 0.066666666667, 0.05]
    """

    def __init__(self, optimizer: Optimizer, decay_rate: float = 1.0, last_epoch: int = -1) -> None:
        check_nonneg(decay_rate, "decay_rate")
        self.decay_rate = decay_rate
        super().__init__(optimizer, last_epoch)

    def multiplier(self, epoch: int) -> float:
        return 1.0 / (1.0 + self.decay_rate * epoch)


class ExponentialDecay(_ClosedForm):
    r"""Exponential decay: the learning rate shrinks by the factor ``gamma`` per epoch.

    ::

        α = gamma^epoch · α₀            (Ng: α = 0.95^epoch_num · α₀)

    The closed form of :class:`ExponentialLR` (same values; this one sets ``lr`` directly
    rather than multiplying the current one, so it does not chain). ``epoch`` counts from 0.

    Args:
        optimizer: the optimiser.
        gamma: factor per epoch (> 0). Default 0.95.
        last_epoch: -1 to start.

    Reference: Ng, *Improving Deep Neural Networks* (Coursera), "Learning rate decay".

    Example:
        >>> import chainrule as cr
        >>> from chainrule import optim
        >>> opt = optim.SGD([cr.tensor([1.0], requires_grad=True)], lr=1.0)
        >>> sched = optim.lr_scheduler.ExponentialDecay(opt)
        >>> sched.step(); sched.step(); round(sched.get_last_lr()[0], 12)   # 0.95²
        0.9025
    """

    def __init__(self, optimizer: Optimizer, gamma: float = 0.95, last_epoch: int = -1) -> None:
        check_positive(gamma, "gamma")
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def multiplier(self, epoch: int) -> float:
        return self.gamma**epoch


class SqrtDecay(_ClosedForm):
    r"""Inverse-square-root decay.

    ::

        α = k / √(epoch + 1) · α₀

    Ng writes ``k/√epoch_num · α₀`` with ``epoch_num`` from 1; with ``epoch`` counted from 0
    here, ``epoch + 1`` is that ``epoch_num``, so epoch 0 trains at ``k·α₀`` and nothing
    divides by zero.

    Args:
        optimizer: the optimiser.
        k: constant factor (> 0). Default 1.
        last_epoch: -1 to start.

    Reference: Ng, *Improving Deep Neural Networks* (Coursera), "Learning rate decay".

    Example:
        >>> import chainrule as cr
        >>> from chainrule import optim
        >>> opt = optim.SGD([cr.tensor([1.0], requires_grad=True)], lr=0.1)
        >>> sched = optim.lr_scheduler.SqrtDecay(opt, k=1.0)
        >>> for _ in range(3):
        ...     sched.step()
        >>> round(sched.get_last_lr()[0], 12)                           # 0.1/√4
        0.05
    """

    def __init__(self, optimizer: Optimizer, k: float = 1.0, last_epoch: int = -1) -> None:
        check_positive(k, "k")
        self.k = k
        super().__init__(optimizer, last_epoch)

    def multiplier(self, epoch: int) -> float:
        return self.k / math.sqrt(epoch + 1)


class StaircaseDecay(_ClosedForm):
    r"""Discrete staircase: multiply the learning rate by ``factor`` every ``step_size`` epochs.

    ::

        α = factor^⌊epoch / step_size⌋ · α₀

    Ng's "discrete staircase" (halve the rate every so often: ``factor = 0.5``); the closed
    form of :class:`StepLR`.

    Args:
        optimizer: the optimiser.
        step_size: epochs per stair (>= 1). Default 10.
        factor: multiplier per stair (> 0). Default 0.5.
        last_epoch: -1 to start.

    Reference: Ng, *Improving Deep Neural Networks* (Coursera), "Learning rate decay".

    Example:
        >>> import chainrule as cr
        >>> from chainrule import optim
        >>> opt = optim.SGD([cr.tensor([1.0], requires_grad=True)], lr=0.8)
        >>> sched = optim.lr_scheduler.StaircaseDecay(opt, step_size=2)
        >>> lrs = []
        >>> for epoch in range(5):
        ...     lrs.append(sched.get_last_lr()[0]); sched.step()
        >>> lrs
        [0.8, 0.8, 0.4, 0.4, 0.2]
    """

    def __init__(
        self, optimizer: Optimizer, step_size: int = 10, factor: float = 0.5, last_epoch: int = -1
    ) -> None:
        check_int(step_size, "step_size", 1)
        check_positive(factor, "factor")
        self.step_size = step_size
        self.factor = factor
        super().__init__(optimizer, last_epoch)

    def multiplier(self, epoch: int) -> float:
        return self.factor ** (epoch // self.step_size)


# --------------------------------------------------------------------------- on plateau
class ReduceLROnPlateau:
    r"""Reduce the learning rate when a monitored metric stops improving (PyTorch's rules).

    Call ``step(metric)`` once per epoch with the validation loss (``mode="min"``) or a
    score (``mode="max"``). With ``best`` the best value so far, a value ``a`` *improves*
    when::

        mode="min", threshold_mode="rel":  a < best · (1 − threshold)
        mode="min", threshold_mode="abs":  a < best − threshold
        mode="max", threshold_mode="rel":  a > best · (1 + threshold)
        mode="max", threshold_mode="abs":  a > best + threshold

    Each epoch without improvement adds one bad epoch (an improvement resets the count);
    during a cooldown bad epochs are not counted. When there are more than ``patience`` bad
    epochs, every group's rate becomes ``lr = max(lr·factor, min_lr)`` — unless that changes
    it by ``eps`` or less — and a cooldown of ``cooldown`` epochs starts.

    Args:
        optimizer: the optimiser.
        mode: ``"min"`` or ``"max"``. Default ``"min"``.
        factor: multiplier of the rate, in [0, 1). Default 0.1.
        patience: bad epochs tolerated before reducing (>= 0). Default 10.
        threshold: minimal significant change (>= 0). Default 1e-4.
        threshold_mode: ``"rel"`` or ``"abs"``. Default ``"rel"``.
        cooldown: epochs to wait after a reduction before counting again (>= 0). Default 0.
        min_lr: lower bound on the rate, one for all groups or one per group. Default 0.
        eps: smallest change of the rate worth making (>= 0). Default 1e-8.

    Reference: ``torch.optim.lr_scheduler.ReduceLROnPlateau``.

    Example:
        >>> import chainrule as cr
        >>> from chainrule import optim
        >>> opt = optim.SGD([cr.tensor([1.0], requires_grad=True)], lr=1.0)
        >>> sched = optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=1)
        >>> for loss in [1.0, 0.9, 0.9, 0.9, 0.9, 0.9]:
        ...     sched.step(loss)
        >>> sched.get_last_lr()          # every 2nd epoch without improvement halves the rate
        [0.25]
    """

    def __init__(
        self,
        optimizer: Optimizer,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr: float | Sequence[float] = 0.0,
        eps: float = 1e-8,
    ) -> None:
        _check_optimizer(optimizer)
        check_choice(mode, "mode", ("min", "max"))
        check_choice(threshold_mode, "threshold_mode", ("rel", "abs"))
        check_real(factor, "factor", 0, 1)
        check_int(patience, "patience", 0)
        check_nonneg(threshold, "threshold")
        check_int(cooldown, "cooldown", 0)
        check_nonneg(eps, "eps")
        n = len(optimizer.param_groups)
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != n:
                raise ValueError(f"expected {n} min_lrs (one per group), got {len(min_lr)}")
            for value in min_lr:
                check_nonneg(value, "min_lr")
            self.default_min_lr: float | None = None
            self.min_lrs = [float(v) for v in min_lr]
        else:
            check_nonneg(min_lr, "min_lr")
            self.default_min_lr = float(min_lr)
            self.min_lrs = [float(min_lr)] * n
        self.optimizer = optimizer
        self.mode = mode
        self.factor = factor
        self.patience = patience
        self.threshold = threshold
        self.threshold_mode = threshold_mode
        self.cooldown = cooldown
        self.eps = eps
        self.last_epoch = 0
        self.mode_worse = math.inf if mode == "min" else -math.inf
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0
        self._last_lr = [group["lr"] for group in optimizer.param_groups]

    @property
    def in_cooldown(self) -> bool:
        """Whether bad epochs are currently ignored (after a reduction)."""
        return self.cooldown_counter > 0

    def is_better(self, a: float, best: float) -> bool:
        """Whether ``a`` improves on ``best`` by more than the threshold."""
        if self.mode == "min" and self.threshold_mode == "rel":
            return a < best * (1.0 - self.threshold)
        if self.mode == "min":
            return a < best - self.threshold
        if self.threshold_mode == "rel":
            return a > best * (self.threshold + 1.0)
        return a > best + self.threshold

    def step(self, metrics: Any) -> None:
        """Record this epoch's metric and reduce the learning rate if it has plateaued."""
        current = float(metrics)
        self.last_epoch += 1
        if self.is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs in the cooldown do not count
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def _reduce_lr(self) -> None:
        groups = self.optimizer.param_groups
        if len(groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                raise ValueError(
                    f"the optimizer has {len(groups)} param groups but min_lr gave "
                    f"{len(self.min_lrs)}; set min_lrs to one value per group"
                )
            self.min_lrs = [self.default_min_lr] * len(groups)
        for group, min_lr in zip(groups, self.min_lrs):
            old_lr = float(group["lr"])
            new_lr = max(old_lr * self.factor, min_lr)
            if old_lr - new_lr > self.eps:
                group["lr"] = new_lr

    def get_last_lr(self) -> list[float]:
        """The learning rates after the last ``step`` (one per group)."""
        return list(self._last_lr)

    def state_dict(self) -> dict[str, Any]:
        """Everything but the optimiser, as plain values (``best`` may be ±inf)."""
        return {k: copy.deepcopy(v) for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the state saved by :meth:`state_dict`."""
        unknown = set(state_dict) - set(self.state_dict())
        if unknown:
            raise ValueError(
                f"load_state_dict: unknown keys {sorted(unknown)} for ReduceLROnPlateau"
            )
        self.__dict__.update(copy.deepcopy(dict(state_dict)))

    def __repr__(self) -> str:
        return (
            f"ReduceLROnPlateau(mode={self.mode!r}, best={self.best}, "
            f"num_bad_epochs={self.num_bad_epochs}, lr={self.get_last_lr()})"
        )


# ------------------------------------------------------------------------------ registry
SCHEDULERS = Registry("scheduler")
"""Learning-rate schedule classes by name (class names select them too);
``SCHEDULERS.register(name, cls)`` adds one. ``plateau`` is stepped with the monitored
value (``monitored=True``)."""
SCHEDULERS.register("step", StepLR)
SCHEDULERS.register("multistep", MultiStepLR)
SCHEDULERS.register("exponential", ExponentialLR)
SCHEDULERS.register("cosine", CosineAnnealingLR)
SCHEDULERS.register("linear", LinearLR)
SCHEDULERS.register("lambda", LambdaLR)
SCHEDULERS.register("plateau", ReduceLROnPlateau, monitored=True)
SCHEDULERS.register("inverse_time", InverseTimeDecay)
SCHEDULERS.register("exponential_decay", ExponentialDecay)
SCHEDULERS.register("sqrt", SqrtDecay)
SCHEDULERS.register("staircase", StaircaseDecay)


def get_scheduler(name: str, optimizer: Optimizer, **kwargs: Any) -> Any:
    """The schedule registered as ``name`` (see ``SCHEDULERS``) on ``optimizer``.

    Names are case-insensitive; class names (``"StepLR"``, ``"CosineAnnealingLR"``) work too.

    Raises:
        ValueError: unknown name (the message lists the valid ones).

    Example:
        >>> import chainrule as cr
        >>> from chainrule import optim
        >>> opt = optim.SGD([cr.tensor([1.0], requires_grad=True)], lr=0.1)
        >>> type(optim.get_scheduler("cosine", opt, T_max=10)).__name__
        'CosineAnnealingLR'
    """
    return SCHEDULERS.lookup(name)(optimizer, **kwargs)
