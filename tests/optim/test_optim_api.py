"""Optimiser API: validation messages, registry, dtype preservation, zero_grad, closures."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import optim


def _w(dtype: Any = np.float64) -> cr.Tensor:
    return cr.tensor(np.array([1.0, -2.0, 0.5], dtype=dtype), requires_grad=True)


@pytest.mark.parametrize(
    ("cls", "kwargs", "message"),
    [
        (optim.SGD, {"lr": -0.1}, r"^lr must be a finite number > 0, got -0\.1$"),
        (optim.SGD, {"lr": 0.0}, r"^lr must be a finite number > 0, got 0\.0$"),
        (optim.SGD, {"lr": float("nan")}, r"lr must be a finite number > 0, got nan"),
        (optim.SGD, {"lr": float("inf")}, r"lr must be a finite number > 0, got inf"),
        (optim.SGD, {"lr": 0.1, "momentum": -0.5},
         r"momentum must be a finite number >= 0, got -0\.5"),
        (optim.SGD, {"lr": 0.1, "weight_decay": -1},
         r"weight_decay must be a finite number >= 0, got -1"),
        (optim.SGD, {"lr": 0.1, "nesterov": True},
         r"nesterov=True needs momentum > 0 and dampening = 0, got momentum=0.0"),
        (optim.SGD, {"lr": 0.1, "momentum": 0.9, "dampening": 0.1, "nesterov": True},
         r"dampening=0\.1"),
        (optim.Adam, {"betas": (1.0, 0.999)}, r"beta1 must be in \[0, 1\), got 1\.0"),
        (optim.Adam, {"betas": (0.9, -0.1)}, r"beta2 must be in \[0, 1\), got -0\.1"),
        (optim.Adam, {"betas": (0.9,)}, r"betas must be a pair"),
        (optim.Adam, {"eps": -1e-8}, r"eps must be a finite number >= 0, got -1e-08"),
        (optim.AdamW, {"weight_decay": -0.01},
         r"weight_decay must be a finite number >= 0, got -0\.01"),
        (optim.RMSprop, {"alpha": -0.9}, r"alpha must be a finite number >= 0, got -0\.9"),
        (optim.RMSprop, {"momentum": -1.0}, r"momentum must be a finite number >= 0"),
        (optim.Adagrad, {"lr_decay": -1.0}, r"lr_decay must be a finite number >= 0, got -1\.0"),
        (optim.Adagrad, {"initial_accumulator_value": -1.0},
         r"initial_accumulator_value must be a finite number >= 0"),
    ],
)
def test_hyperparameters_validated_up_front(cls: Any, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        cls([_w()], **kwargs)


def test_group_hyperparameters_validated_with_group_index() -> None:
    a, b = _w(), _w()
    with pytest.raises(ValueError,
                       match=r"^param group 1: lr must be a finite number > 0, got -3$"):
        optim.SGD([{"params": [a]}, {"params": [b], "lr": -3}], lr=0.1)
    with pytest.raises(ValueError, match=r"param group 0: beta1 must be in \[0, 1\), got 1.5"):
        optim.Adam([{"params": [a], "betas": (1.5, 0.9)}])


def test_type_errors() -> None:
    with pytest.raises(TypeError, match="lr must be a number, got str"):
        optim.SGD([_w()], lr="0.1")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="amsgrad must be a bool"):
        optim.Adam([_w()], amsgrad=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"of dicts \(parameter groups\), got Tensor"):
        optim.SGD(_w(), lr=0.1)
    with pytest.raises(TypeError, match="can only update Tensors, got ndarray"):
        optim.SGD([np.ones(2)], lr=0.1)
    with pytest.raises(TypeError, match="dtype int64"):
        optim.SGD([cr.tensor([1, 2])], lr=0.1)


def test_empty_and_duplicate_parameters() -> None:
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.Adam([])
    w = _w()
    with pytest.raises(ValueError, match="appears twice"):
        optim.Adam([w, w])
    opt = optim.Adam([w])
    with pytest.raises(ValueError, match="appears twice"):
        opt.add_param_group({"params": [w]})


def test_add_param_group_uses_defaults() -> None:
    a, b = _w(), _w()
    opt = optim.SGD([a], lr=0.1, momentum=0.9)
    opt.add_param_group({"params": b, "lr": 0.01})
    assert opt.param_groups[1]["lr"] == 0.01 and opt.param_groups[1]["momentum"] == 0.9
    assert opt.param_groups[1]["params"] == [b]


def test_registry() -> None:
    assert set(optim.OPTIMIZERS) == {"sgd", "momentum", "rmsprop", "adagrad", "adam", "adamw"}
    opt = optim.get_optimizer("AdamW", [_w()], lr=0.01)
    assert type(opt) is optim.AdamW and opt.param_groups[0]["weight_decay"] == 1e-2
    assert optim.get_optimizer("momentum", [_w()], lr=0.1).param_groups[0]["momentum"] == 0.9
    with pytest.raises(
        ValueError,
        match=r"unknown optimizer 'adamax'; valid names: adagrad, adam, adamw, momentum, "
        r"rmsprop, sgd",
    ):
        optim.get_optimizer("adamax", [_w()])


@pytest.mark.parametrize("name", sorted(optim.OPTIMIZERS))
def test_float32_parameters_stay_float32(name: str) -> None:
    extra = {"rmsprop": {"momentum": 0.5, "centered": True}, "adam": {"amsgrad": True},
             "sgd": {"momentum": 0.9, "nesterov": True, "weight_decay": 0.1}}.get(name, {})
    w = _w(np.float32)
    before = w.data.copy()
    buffer = w.data
    opt = optim.get_optimizer(name, [w], lr=0.1, **extra)
    for _ in range(3):
        opt.zero_grad()
        (w * w * w).sum().backward()
        opt.step()
    assert w.data is buffer, "the update must run in place on p.data"
    assert w.data.dtype == np.float32
    assert not np.array_equal(w.data, before)
    for value in opt.state[w].values():
        if isinstance(value, np.ndarray):
            assert value.dtype == np.float32


def test_zero_grad() -> None:
    w = _w()
    opt = optim.SGD([w], lr=0.1)
    (w * w).sum().backward()
    grad_array = w.grad.data
    opt.zero_grad(set_to_none=False)
    assert w.grad is not None and w.grad.data is grad_array
    np.testing.assert_array_equal(w.grad.data, 0.0)
    opt.zero_grad()
    assert w.grad is None


def test_zero_grad_false_then_step_is_a_no_op_for_sgd() -> None:
    w = _w()
    opt = optim.SGD([w], lr=0.1)
    (w * w).sum().backward()
    opt.zero_grad(set_to_none=False)
    opt.step()
    np.testing.assert_array_equal(w.data, [1.0, -2.0, 0.5])


def test_step_with_closure_returns_the_loss() -> None:
    w = _w()
    opt = optim.SGD([w], lr=0.25)

    def closure() -> cr.Tensor:
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    with cr.no_grad():  # the closure still records its graph
        loss = opt.step(closure)
    assert loss.item() == pytest.approx(1 + 4 + 0.25)
    np.testing.assert_allclose(w.data, [0.5, -1.0, 0.25])     # θ − 0.25·2θ


def test_update_runs_under_no_grad() -> None:
    w = _w()
    opt = optim.Adam([w], lr=0.1)
    (w * w).sum().backward()
    opt.step()
    assert w.requires_grad and w.is_leaf


def test_repr_lists_groups() -> None:
    text = repr(optim.SGD([{"params": [_w()]}, {"params": [_w()], "lr": 0.5}], lr=0.1))
    assert text.startswith("SGD (") and "Parameter Group 1" in text and "lr: 0.5" in text


def test_sgd_hand_computed_momentum_and_nesterov() -> None:
    """f(θ) = θ²/2 so g = θ; θ₀ = 1, lr = 0.1, β = 0.5 (arithmetic in the comments)."""

    def two_steps(nesterov: bool) -> list[float]:
        w = cr.tensor(np.array([1.0]), requires_grad=True)
        opt = optim.SGD([w], lr=0.1, momentum=0.5, nesterov=nesterov)
        trace = []
        for _ in range(2):
            opt.zero_grad()
            (w * w * 0.5).sum().backward()
            opt.step()
            trace.append(w.data[0])
        return trace

    trace = two_steps(nesterov=False)
    # b₁ = g₁ = 1 → θ₁ = 0.9 ; b₂ = 0.5·1 + 0.9 = 1.4 → θ₂ = 0.9 − 0.14 = 0.76
    np.testing.assert_allclose(trace, [0.9, 0.76], rtol=1e-15)
    trace = two_steps(nesterov=True)
    # b₁ = 1, step g + βb = 1.5 → θ₁ = 0.85 ; b₂ = 0.5 + 0.85 = 1.35,
    # step 0.85 + 0.675 = 1.525 → θ₂ = 0.85 − 0.1525 = 0.6975
    np.testing.assert_allclose(trace, [0.85, 0.6975], rtol=1e-15)


@pytest.mark.parametrize("shape", [(300, 256), (70_000,), (3, 100, 250)])
def test_plain_sgd_on_a_large_array_is_done_in_pieces_without_a_temporary(shape) -> None:
    """θ ← θ − lr·g on an array of more than 2·CHUNK elements, whatever its shape: the
    same numbers as ``theta - lr * g`` (elementwise, so bit for bit), computed through the
    CHUNK-sized scratch without a temporary the size of θ."""
    from chainrule.optim.optimizer import Scratch

    rng = np.random.default_rng(0)
    theta = rng.standard_normal(shape).astype(np.float32)
    g = rng.standard_normal(shape).astype(np.float32)
    assert theta.size > 2 * Scratch.CHUNK
    expected = theta - np.float32(0.1) * g
    scratch = Scratch(theta)
    hp = optim.SGD.Hyperparameters(lr=0.1, momentum=0.0, dampening=0.0, weight_decay=0.0,
                                   nesterov=False)
    optim.SGD.update(theta, g, {}, hp, scratch)
    np.testing.assert_array_equal(theta, expected)
    assert scratch._a is None and scratch._b is None  # no θ-sized temporary was made
    assert scratch._c is not None and scratch._c.size == Scratch.CHUNK
    # a non-contiguous θ (a transposed view) takes the general path, with the same numbers
    theta_t = rng.standard_normal(shape[::-1]).astype(np.float32).T
    g_t = np.ascontiguousarray(rng.standard_normal(theta_t.shape).astype(np.float32))
    expected_t = theta_t - np.float32(0.1) * g_t
    optim.SGD.update(theta_t, g_t, {}, hp, Scratch(theta_t))
    np.testing.assert_array_equal(theta_t, expected_t)


def test_sgd_dampened_momentum_is_ngs_exponentially_weighted_average() -> None:
    """SGD(momentum=β, dampening=β) ≡ v = βv + (1−β)g, θ = θ − αv, except v₁ = g."""
    rng = np.random.default_rng(0)
    grads = rng.normal(size=(6, 3))
    beta, alpha = 0.9, 0.1
    w = cr.tensor(np.zeros(3), requires_grad=True)
    opt = optim.SGD([w], lr=alpha, momentum=beta, dampening=beta)
    theta, v = np.zeros(3), None
    for g in grads:
        w.grad = cr.tensor(g)
        opt.step()
        v = g.copy() if v is None else beta * v + (1 - beta) * g
        theta = theta - alpha * v
    np.testing.assert_allclose(w.data, theta, rtol=1e-14, atol=1e-15)


def test_named_parameters_are_accepted_and_names_kept() -> None:
    a, b = _w(), _w()
    opt = optim.SGD([("0.weight", a), ("0.bias", b)], lr=0.1, momentum=0.9)
    assert opt.param_groups[0]["params"] == [a, b]
    assert opt.param_groups[0]["param_names"] == ["0.weight", "0.bias"]
    (a * b).sum().backward()
    opt.step()
    sd = opt.state_dict()
    assert sd["param_groups"][0]["param_names"] == ["0.weight", "0.bias"]
    fresh = optim.SGD([_w(), _w()], lr=0.1, momentum=0.9)
    fresh.load_state_dict(sd)
    assert fresh.param_groups[0]["param_names"] == ["0.weight", "0.bias"]
