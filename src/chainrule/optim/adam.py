"""Adam and AdamW: adaptive moment estimation, with L2 or decoupled weight decay."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from .._checks import check_bool, check_nonneg, check_positive, check_real
from .optimizer import Optimizer, ParamsT, Scratch, coupled_weight_decay

__all__ = ["Adam", "AdamHyperparameters", "AdamW"]


def _lerp_(m: np.ndarray, g: np.ndarray, w: float, tmp: np.ndarray) -> None:
    """``m ← m + w·(g − m)`` in place (PyTorch's ``lerp_``, whose branch is kept for
    accuracy: for ``w ≥ ½`` it computes ``g − (g − m)(1 − w)``)."""
    np.subtract(g, m, out=tmp)
    if abs(w) < 0.5:
        tmp *= w
        m += tmp
    else:
        tmp *= 1 - w
        np.subtract(g, tmp, out=m)


class AdamHyperparameters(NamedTuple):
    """The hyperparameters of :class:`Adam` and :class:`AdamW`, as :meth:`Adam.update` reads
    them (a group's ``betas`` is split into ``beta1`` and ``beta2``)."""

    lr: float
    beta1: float
    beta2: float
    eps: float
    weight_decay: float
    amsgrad: bool
    decoupled: bool


class Adam(Optimizer):
    r"""Adam: momentum on the gradient and RMSprop-style scaling, both bias-corrected.

    One step at count ``t`` (1, 2, …), for every parameter ``θ`` with gradient ``g``; the
    state keeps ``m`` (``"exp_avg"``), ``v`` (``"exp_avg_sq"``), ``v_max``
    (``"max_exp_avg_sq"``, AMSGrad only) and ``t`` (``"step"``), ``m = v = 0`` at first::

        g = g + weight_decay·θ                 (Adam: L2 penalty in the gradient)
        θ = θ − lr·weight_decay·θ              (AdamW / decoupled_weight_decay=True instead)
        m = beta1·m + (1 − beta1)·g            (first moment, computed as m + (1−beta1)(g−m))
        v = beta2·v + (1 − beta2)·g²           (second moment)
        v_max = max(v_max, v)                  (amsgrad=True; then v_max replaces v below)
        m_hat = m / (1 − beta1ᵗ)
        v_hat = v / (1 − beta2ᵗ)
        θ = θ − lr·m_hat / (√v_hat + eps)

    As in PyTorch the last line is evaluated as
    ``θ − (lr / (1 − beta1ᵗ))·m / (√v / √(1 − beta2ᵗ) + eps)``.

    Where ``eps`` goes: here (Kingma & Ba's Algorithm 1, PyTorch) ``eps`` is added to the
    bias-corrected ``√v_hat``. The paper's "more efficient" variant, used by TensorFlow/Keras,
    adds its ``ε̂`` to the uncorrected ``√v``: ``θ − lr·√(1−beta2ᵗ)/(1−beta1ᵗ)·m/(√v + ε̂)``,
    which is the same only for ``ε̂ = eps·√(1−beta2ᵗ)``. ``eps`` is outside the square root
    in both.

    Args:
        params: Tensors or parameter groups.
        lr: learning rate (> 0). Default 1e-3.
        betas: ``(beta1, beta2)``, each in [0, 1). Default (0.9, 0.999).
        eps: added to the denominator for stability (>= 0). Default 1e-8.
        weight_decay: ``λ`` (>= 0). Default 0.
        amsgrad: use the running maximum ``v_max`` of ``v`` (AMSGrad). Default False.
        decoupled_weight_decay: decay ``θ`` directly (AdamW) instead of adding ``λθ`` to
            the gradient. Default False.

    References:
        Kingma & Ba, *Adam: A Method for Stochastic Optimization*, ICLR 2015;
        Reddi, Kale, Kumar, *On the Convergence of Adam and Beyond*, ICLR 2018 (AMSGrad).

    Example:
        >>> import numpy as np, chainrule as cr
        >>> from chainrule import optim
        >>> w = cr.tensor(np.array([3.0, -0.5]), requires_grad=True)
        >>> opt = optim.Adam([w], lr=0.1)
        >>> (w * w).sum().backward(); opt.step()
        >>> w.data.round(6)      # the first step is ≈ lr·sign(g), whatever the gradient's size
        array([ 2.9, -0.4])
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        *,
        decoupled_weight_decay: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "betas": tuple(betas) if isinstance(betas, list) else betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
            "decoupled_weight_decay": decoupled_weight_decay,
        }
        super().__init__(params, defaults)

    def _validate(self, hp: Mapping[str, Any], where: str) -> None:
        check_positive(hp["lr"], where + "lr")
        betas = hp["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"{where}betas must be a pair (beta1, beta2), got {betas!r}")
        check_real(betas[0], where + "beta1", 0, 1)
        check_real(betas[1], where + "beta2", 0, 1)
        check_nonneg(hp["eps"], where + "eps")
        check_nonneg(hp["weight_decay"], where + "weight_decay")
        check_bool(hp["amsgrad"], where + "amsgrad")
        check_bool(hp["decoupled_weight_decay"], where + "decoupled_weight_decay")

    Hyperparameters = AdamHyperparameters
    state_names = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")

    def hyperparameters(self, group: dict[str, Any]) -> AdamHyperparameters:
        """The group's hyperparameters, ``betas`` split into ``beta1`` and ``beta2``."""
        beta1, beta2 = group["betas"]
        return AdamHyperparameters(
            float(group["lr"]), float(beta1), float(beta2), float(group["eps"]),
            float(group["weight_decay"]), bool(group["amsgrad"]),
            bool(group["decoupled_weight_decay"]),
        )

    def init_state(self, theta: np.ndarray, hp: AdamHyperparameters) -> dict[str, Any]:
        """``t = 0``, ``m = v = 0`` (and ``v_max = 0`` with AMSGrad)."""
        state = {"step": 0, "exp_avg": np.zeros_like(theta), "exp_avg_sq": np.zeros_like(theta)}
        if hp.amsgrad:
            state["max_exp_avg_sq"] = np.zeros_like(theta)
        return state

    @staticmethod
    def update(
        theta: np.ndarray, g: np.ndarray, state: dict[str, Any], hp: AdamHyperparameters,
        scratch: Scratch,
    ) -> None:
        """One Adam/AdamW step of ``theta`` in place, in ``torch.optim.Adam``'s order of
        operations (the equations are in the class docstring): counts ``t ← t + 1`` in
        ``state["step"]`` and updates ``m``, ``v`` (and ``v_max``) in place."""
        lr, beta1, beta2, eps, weight_decay, amsgrad, decoupled = hp
        state["step"] += 1
        t = state["step"]
        m, v = state["exp_avg"], state["exp_avg_sq"]
        tmp = scratch.a
        if weight_decay != 0:
            if decoupled:
                theta *= 1 - lr * weight_decay
            else:
                g = coupled_weight_decay(theta, g, weight_decay, scratch)
        _lerp_(m, g, 1 - beta1, tmp)
        np.multiply(g, 1 - beta2, out=tmp)
        tmp *= g
        v *= beta2
        v += tmp
        bias_correction1 = 1 - beta1**t
        bias_correction2 = 1 - beta2**t
        step_size = lr / bias_correction1
        if amsgrad:
            v_max = state.get("max_exp_avg_sq")
            if v_max is None:
                v_max = state["max_exp_avg_sq"] = np.zeros_like(theta)
            np.maximum(v_max, v, out=v_max)
            v = v_max
        # denominator √v/√(1 − beta2ᵗ) + eps, then the step lr/(1 − beta1ᵗ)·m/denominator
        np.sqrt(v, out=tmp)
        tmp /= math.sqrt(bias_correction2)
        tmp += eps
        np.divide(m, tmp, out=tmp)
        tmp *= step_size
        theta -= tmp


class AdamW(Adam):
    r"""AdamW: Adam with decoupled weight decay (the decay does not pass through ``m``, ``v``).

    The update of :class:`Adam` with ``decoupled_weight_decay=True``; first, on its own::

        θ = θ − lr·weight_decay·θ
        m = beta1·m + (1 − beta1)·g ;  v = beta2·v + (1 − beta2)·g²
        m_hat = m / (1 − beta1ᵗ) ;  v_hat = v / (1 − beta2ᵗ)
        θ = θ − lr·m_hat / (√v_hat + eps)

    With Adam's L2 form the penalty's gradient ``λθ`` is divided by ``√v_hat`` like the rest,
    so weights with large gradients are barely regularised; decoupling restores a uniform
    decay. Convention: as PyTorch, the decay is multiplied by ``lr``; Loshchilov & Hutter
    multiply ``λ`` by the schedule factor ``η_t`` only, so with a constant schedule their
    ``λ`` corresponds to ``weight_decay·lr`` here.

    Args:
        params: Tensors or parameter groups.
        lr: learning rate (> 0). Default 1e-3.
        betas: ``(beta1, beta2)`` in [0, 1). Default (0.9, 0.999).
        eps: denominator term (>= 0). Default 1e-8.
        weight_decay: ``λ`` (>= 0). Default 1e-2 (PyTorch's).
        amsgrad: AMSGrad's running maximum of ``v``. Default False.

    Reference:
        Loshchilov & Hutter, *Decoupled Weight Decay Regularization*, ICLR 2019.

    Example:
        >>> import numpy as np, chainrule as cr
        >>> from chainrule import optim
        >>> w = cr.tensor(np.array([1.0]), requires_grad=True)
        >>> opt = optim.AdamW([w], lr=0.1, weight_decay=0.5)
        >>> w.grad = cr.tensor(np.array([0.0]))     # no gradient signal: only the decay acts
        >>> opt.step(); w.data                      # θ = (1 − 0.1·0.5)·θ
        array([0.95])
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
    ) -> None:
        super().__init__(
            params, lr, betas, eps, weight_decay, amsgrad, decoupled_weight_decay=True
        )

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """As :meth:`Optimizer.load_state_dict`; AdamW stays decoupled whatever was saved."""
        super().load_state_dict(state_dict)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True
