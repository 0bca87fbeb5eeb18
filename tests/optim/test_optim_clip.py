"""Gradient clipping against torch.nn.utils.clip_grad_norm_ / clip_grad_value_."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from optim_testkit import cr_loss, cr_params, initial_weights, torch_loss, torch_params

import chainrule as cr
from chainrule import optim

SHAPES = [(3, 4), (4,), (2, 2, 3), (1,)]


def _pair(seed: int, scale: float = 1.0, dtype: Any = np.float64) -> tuple[list, list]:
    """The same parameters with the same gradients in chainrule and torch (the third
    parameter has no gradient in either)."""
    rng = np.random.default_rng(seed)
    ours, theirs = [], []
    for i, shape in enumerate(SHAPES):
        data, grad = rng.normal(size=shape).astype(dtype), (scale * rng.normal(size=shape))
        p = cr.tensor(data, requires_grad=True)
        tp = torch.tensor(data, requires_grad=True)
        if i != 2:
            p.grad = cr.tensor(grad.astype(dtype))
            tp.grad = torch.tensor(grad.astype(dtype))
        ours.append(p)
        theirs.append(tp)
    return ours, theirs


@pytest.mark.parametrize("norm_type", [2.0, float("inf"), "inf", 1.0, 3.0, 0.5])
@pytest.mark.parametrize("max_norm", [0.3, 1.0, 100.0])
def test_clip_grad_norm_matches_torch(norm_type: Any, max_norm: float) -> None:
    ours, theirs = _pair(seed=1, scale=0.7)
    total = optim.clip_grad_norm_(ours, max_norm=max_norm, norm_type=norm_type)
    t_total = torch.nn.utils.clip_grad_norm_(theirs, max_norm=max_norm,
                                             norm_type=float(norm_type), foreach=False)
    assert isinstance(total, np.floating)
    assert float(total) == pytest.approx(t_total.item(), rel=1e-13)
    for p, tp in zip(ours, theirs):
        if tp.grad is None:
            assert p.grad is None
            continue
        np.testing.assert_allclose(p.grad.data, tp.grad.numpy(), rtol=1e-13, atol=0)
    new_norm = float(optim.total_grad_norm(ours, norm_type))
    if float(total) > max_norm:
        assert new_norm == pytest.approx(max_norm, rel=1e-5)
    else:
        assert new_norm == pytest.approx(float(total), rel=1e-15)


def test_clip_grad_norm_known_values() -> None:
    """Two gradients [3, 4] and [12]: 2-norm √(9 + 16 + 144) = 13, ∞-norm 12."""
    a = cr.tensor(np.zeros(2), requires_grad=True)
    b = cr.tensor(np.zeros(1), requires_grad=True)
    a.grad, b.grad = cr.tensor(np.array([3.0, 4.0])), cr.tensor(np.array([12.0]))
    assert float(optim.total_grad_norm([a, b], float("inf"))) == 12.0
    assert float(optim.clip_grad_norm_([a, b], max_norm=6.5)) == 13.0
    # clip_coef = 6.5/(13 + 1e-6) ≈ 1/2
    np.testing.assert_allclose(a.grad.data, [1.5, 2.0], rtol=1e-7)
    np.testing.assert_allclose(b.grad.data, [6.0], rtol=1e-7)


def test_clip_grad_norm_on_real_gradients_and_a_single_tensor() -> None:
    weights = initial_weights(seed=2)
    x = np.random.default_rng(3).normal(size=(8, 4))
    y = np.ones((8, 2))
    ours, theirs = cr_params(weights), torch_params(weights)
    cr_loss(ours, x, y).backward()
    torch_loss(theirs, x, y).backward()
    total = optim.clip_grad_norm_(ours, 0.1)
    t_total = torch.nn.utils.clip_grad_norm_(theirs, 0.1, foreach=False)
    assert float(total) == pytest.approx(t_total.item(), rel=1e-12) and float(total) > 0.1
    for p, tp in zip(ours, theirs):
        np.testing.assert_allclose(p.grad.data, tp.grad.numpy(), rtol=1e-12, atol=1e-15)
    # a single Tensor is accepted too
    single = optim.clip_grad_norm_(ours[0], 0.01, norm_type="inf")
    t_single = torch.nn.utils.clip_grad_norm_(theirs[0], 0.01, norm_type="inf", foreach=False)
    assert float(single) == pytest.approx(t_single.item(), rel=1e-12)
    np.testing.assert_allclose(ours[0].grad.data, theirs[0].grad.numpy(), rtol=1e-12)


def test_clip_grad_norm_float32_keeps_dtype_and_matches_torch() -> None:
    ours, theirs = _pair(seed=4, dtype=np.float32)
    total = optim.clip_grad_norm_(ours, 0.5)
    t_total = torch.nn.utils.clip_grad_norm_(theirs, 0.5, foreach=False)
    assert float(total) == pytest.approx(t_total.item(), rel=1e-6)
    for p, tp in zip(ours, theirs):
        if p.grad is not None:
            assert p.grad.data.dtype == np.float32
            np.testing.assert_allclose(p.grad.data, tp.grad.numpy(), rtol=1e-6)


@pytest.mark.parametrize("clip_value", [0.0, 0.25, 1.0, 10.0])
def test_clip_grad_value_matches_torch(clip_value: float) -> None:
    ours, theirs = _pair(seed=5, scale=2.0)
    assert optim.clip_grad_value_(ours, clip_value) is None
    torch.nn.utils.clip_grad_value_(theirs, clip_value, foreach=False)
    for p, tp in zip(ours, theirs):
        if tp.grad is not None:
            np.testing.assert_array_equal(p.grad.data, tp.grad.numpy())
            assert np.abs(p.grad.data).max() <= clip_value


def test_no_gradients_gives_zero_norm() -> None:
    p = cr.tensor(np.ones(3), requires_grad=True)
    assert float(optim.clip_grad_norm_([p], 1.0)) == 0.0
    assert p.grad is None


def test_nonfinite_norm() -> None:
    p = cr.tensor(np.ones(2), requires_grad=True)
    p.grad = cr.tensor(np.array([np.inf, 1.0]))
    with pytest.raises(RuntimeError, match="non-finite"):
        optim.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    np.testing.assert_array_equal(p.grad.data, [np.inf, 1.0])   # left untouched


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda ps: optim.clip_grad_norm_(ps, 1.0, norm_type=0), ValueError,
         r"norm_type must be > 0 \(or inf\), got 0"),
        (lambda ps: optim.clip_grad_norm_(ps, -1.0), ValueError, r"max_norm must be >= 0, got -1"),
        (lambda ps: optim.clip_grad_value_(ps, -0.5), ValueError,
         r"clip_value must be >= 0, got -0.5"),
        (lambda ps: optim.clip_grad_norm_(3.0, 1.0), TypeError, r"got float"),
    ],
)
def test_clip_validation(call: Any, error: type, message: str) -> None:
    ours, _ = _pair(seed=6)
    with pytest.raises(error, match=message):
        call(ours)
