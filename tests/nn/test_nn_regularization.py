"""L1/L2 penalties: values and gradients against torch, what a Module contributes by default,
and the behaviour they exist for (larger λ, smaller weights)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from torch_oracle import check_fn

import chainrule as cr
from chainrule import nn
from chainrule.nn import functional as F


def test_penalties_match_torch_values_and_gradients():
    r = np.random.default_rng(0)
    a, b = r.standard_normal((3, 4)), r.standard_normal((2, 3))
    check_fn(lambda x, y: nn.l1_penalty([x, y], 0.3),
             lambda x, y: 0.3 * (x.abs().sum() + y.abs().sum()), a, b)
    check_fn(lambda x, y: nn.l2_penalty([x, y], 0.3, m=10),
             lambda x, y: 0.3 / (2 * 10) * ((x**2).sum() + (y**2).sum()), a, b)
    check_fn(lambda x: nn.l2_penalty(x, 0.3), lambda x: 0.15 * (x**2).sum(), a)


def test_l2_gradient_is_weight_decay():
    # ∂/∂θ (λ/2)‖θ‖² = λθ, the term SGD(weight_decay=λ) adds
    w = cr.tensor(np.array([[1.0, -2.0], [0.5, 3.0]]), requires_grad=True)
    nn.l2_penalty([w], 0.1).backward()
    np.testing.assert_allclose(w.grad.numpy(), 0.1 * w.numpy())


def test_module_penalises_weights_not_biases():
    model = nn.Sequential(nn.Linear(3, 4, seed=0), nn.BatchNorm1d(4), nn.ReLU(),
                          nn.Linear(4, 2, seed=1))
    W1, W2 = model[0].weight.numpy(), model[3].weight.numpy()
    expected = 0.5 * ((W1.astype(np.float64) ** 2).sum() + (W2.astype(np.float64) ** 2).sum())
    np.testing.assert_allclose(nn.l2_penalty(model, 1.0).item(), expected, rtol=1e-6)
    assert [p.shape for p in nn.weight_parameters(model)] == [(4, 3), (2, 4)]
    model(cr.tensor(np.ones((5, 3), dtype=np.float32))).sum()
    penalty = nn.l1_penalty(model, 0.2)
    penalty.backward()
    assert model[0].bias.grad is None and model[1].weight.grad is None
    np.testing.assert_allclose(model[0].weight.grad.numpy(), 0.2 * np.sign(W1))
    # the caller decides: everything, biases included
    all_params = nn.l1_penalty(model.parameters(), 1.0).item()
    assert all_params > nn.l1_penalty(model, 1.0).item()


def test_penalty_is_usable_in_a_loss_and_keeps_float32():
    model = nn.Linear(3, 1, seed=0)
    x, y = cr.tensor(np.ones((4, 3), np.float32)), cr.tensor(np.zeros((4, 1), np.float32))
    loss = F.mse_loss(model(x), y) + nn.l2_penalty(model, 0.01, m=4)
    assert loss.dtype == np.float32
    loss.backward()
    assert model.weight.grad.dtype == np.float32


def test_validation():
    with pytest.raises(ValueError, match="lam must be >= 0, got -1"):
        nn.l2_penalty([cr.tensor([1.0])], -1.0)
    with pytest.raises(ValueError, match="m must be a positive int or None, got 0"):
        nn.l2_penalty([cr.tensor([1.0])], 1.0, m=0)
    with pytest.raises(TypeError, match="must hold Tensors"):
        nn.l1_penalty([np.ones(2)], 1.0)
    assert nn.l2_penalty([], 1.0).item() == 0.0


def _train(lam, steps=300, lr=0.1):
    """Plain full-batch gradient descent on a noisy linear regression with more features
    than the signal needs; returns ‖W‖² of the trained network's weights."""
    r = np.random.default_rng(0)
    X = r.standard_normal((40, 10))
    y = X[:, :2] @ np.array([[2.0], [-1.0]]) + 0.5 * r.standard_normal((40, 1))
    X, y = cr.tensor(X), cr.tensor(y)
    model = nn.Sequential(nn.Linear(10, 8, seed=1, dtype=np.float64), nn.Tanh(),
                          nn.Linear(8, 1, seed=2, dtype=np.float64))
    for _ in range(steps):
        model.zero_grad()
        loss = F.mse_loss(model(X), y, half=True) + nn.l2_penalty(model, lam, m=1)
        loss.backward()
        with cr.no_grad():
            for p in model.parameters():
                p.data = p.data - lr * p.grad.data
    return sum(float((p.data**2).sum()) for p in nn.weight_parameters(model))


def test_larger_l2_penalty_gives_smaller_trained_weights():
    norms = [_train(lam) for lam in (0.0, 0.01, 0.1, 1.0)]
    assert all(a > b for a, b in itertools.pairwise(norms)), norms
    assert norms[-1] < 0.5 * norms[0], norms
