"""Initialisers: sample mean and variance against the stated formulas (within sampling
error), seeding, in-place filling, gains like torch, the registry, and the zeros trap."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn
from chainrule.nn import init

SHAPE = (300, 400)          # fan_out = 300, fan_in = 400, n = 120 000 samples
FAN_OUT, FAN_IN = SHAPE
N = FAN_OUT * FAN_IN
SQ3 = math.sqrt(3.0)

# name -> (call, mean, variance, formula, distribution kurtosis excess for the error bar)
CASES = {
    "normal": (lambda s: init.normal(SHAPE, 0.5, 2.0, seed=s), 0.5, 4.0,
               "N(mean=0.5, std=2): var = std² = 4", 0.0),
    "uniform": (lambda s: init.uniform(SHAPE, -1.0, 3.0, seed=s), 1.0, 16 / 12,
                "U(a=-1, b=3): mean = (a+b)/2, var = (b-a)²/12", -1.2),
    "xavier_uniform": (lambda s: init.xavier_uniform(SHAPE, gain=2.0, seed=s), 0.0,
                       4.0 * 2 / (FAN_IN + FAN_OUT),
                       "xavier_uniform: var = gain²·2/(fan_in+fan_out)", -1.2),
    "xavier_normal": (lambda s: init.xavier_normal(SHAPE, seed=s), 0.0,
                      2 / (FAN_IN + FAN_OUT), "xavier_normal: var = 2/(fan_in+fan_out)", 0.0),
    "kaiming_uniform": (lambda s: init.kaiming_uniform(SHAPE, seed=s), 0.0, 2 / FAN_IN,
                        "kaiming_uniform (relu gain √2): var = 2/fan_in", -1.2),
    "kaiming_normal_fan_out": (
        lambda s: init.kaiming_normal(SHAPE, mode="fan_out", nonlinearity="relu", seed=s),
        0.0, 2 / FAN_OUT, "kaiming_normal(mode=fan_out): var = 2/fan_out", 0.0),
    "kaiming_normal_leaky": (
        lambda s: init.kaiming_normal(SHAPE, a=0.2, seed=s), 0.0,
        2 / (1 + 0.2**2) / FAN_IN, "kaiming_normal(a=0.2): var = 2/((1+a²)·fan_in)", 0.0),
    "lecun_normal": (lambda s: init.lecun_normal(SHAPE, seed=s), 0.0, 1 / FAN_IN,
                     "lecun_normal: var = 1/fan_in", 0.0),
    "lecun_uniform": (lambda s: init.lecun_uniform(SHAPE, seed=s), 0.0, 1 / FAN_IN,
                      "lecun_uniform: var = 1/fan_in", -1.2),
    "torch_default": (lambda s: init.torch_default_weight(SHAPE, seed=s), 0.0, 1 / (3 * FAN_IN),
                      "PyTorch Linear default U(±1/√fan_in): var = 1/(3·fan_in)", -1.2),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_sample_mean_and_variance_match_the_formula(name):
    call, mean, var, formula, kurt = CASES[name]
    w = call(0).astype(np.float64)
    # standard errors: mean σ/√n ; variance σ²·√((2 + κ)/n), κ the excess kurtosis
    se_mean = math.sqrt(var / N)
    se_var = var * math.sqrt((2 + kurt) / N)
    assert abs(w.mean() - mean) < 5 * se_mean, \
        f"{formula}: sample mean {w.mean():.6g}, expected {mean} ± {5 * se_mean:.2g}"
    assert abs(w.var() - var) < 5 * se_var, \
        f"{formula}: sample variance {w.var():.6g}, expected {var:.6g} ± {5 * se_var:.2g}"


@pytest.mark.parametrize("name", sorted(CASES))
def test_same_seed_same_weights(name):
    call = CASES[name][0]
    np.testing.assert_array_equal(call(3), call(3))
    assert not np.array_equal(call(3), call(4))
    gen_a, gen_b = np.random.default_rng(9), np.random.default_rng(9)
    np.testing.assert_array_equal(call(gen_a), call(gen_b))


def test_uniform_bounds_match_formulas():
    w = init.xavier_uniform(SHAPE, seed=0)
    a = math.sqrt(6 / (FAN_IN + FAN_OUT))
    assert np.abs(w).max() <= a and np.abs(w).max() > 0.99 * a
    w = init.kaiming_uniform(SHAPE, nonlinearity="relu", seed=0)
    bound = SQ3 * math.sqrt(2 / FAN_IN)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound


def test_fills_tensors_in_place_keeping_dtype():
    p = nn.Parameter(np.zeros((4, 5)))
    assert init.xavier_normal(p, seed=0) is p
    assert p.dtype == np.float64 and np.any(p.numpy() != 0)
    q = nn.Parameter(np.zeros((4, 5), dtype=np.float32))
    init.constant(q, 0.3)
    np.testing.assert_array_equal(q.numpy(), np.full((4, 5), 0.3, np.float32))
    assert init.ones(3).dtype == np.float32
    assert init.normal((2, 2), dtype=np.float64, seed=0).dtype == np.float64
    with pytest.raises(ValueError, match="conflicts"):
        init.zeros(p, dtype=np.float32)


def test_fans_like_torch_for_higher_rank_weights():
    w = init.xavier_normal((16, 8, 3, 3), seed=0)
    t = torch.empty(16, 8, 3, 3)
    fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(t)
    assert abs(w.var() - 2 / (fan_in + fan_out)) < 0.1 * 2 / (fan_in + fan_out)
    with pytest.raises(ValueError, match=r"at least 2 dimensions.*\(5,\)"):
        init.kaiming_normal((5,))


@pytest.mark.parametrize("name,param", [("linear", None), ("sigmoid", None), ("tanh", None),
                                        ("relu", None), ("leaky_relu", None),
                                        ("leaky_relu", 0.2), ("selu", None),
                                        ("conv2d", None)])
def test_calculate_gain_matches_torch(name, param):
    assert init.calculate_gain(name, param) == pytest.approx(
        torch.nn.init.calculate_gain(name, param), rel=1e-12)


def test_calculate_gain_validation():
    with pytest.raises(ValueError, match="unsupported nonlinearity 'softsign'"):
        init.calculate_gain("softsign")
    with pytest.raises(ValueError, match="not a valid number"):
        init.calculate_gain("leaky_relu", "big")


def test_registry_aliases_and_errors():
    assert init.get_initializer("he")((64, 32), seed=0).var() == pytest.approx(2 / 32, rel=0.1)
    assert init.get_initializer("Glorot") is init.xavier_uniform
    assert init.get_initializer("xavier") is init.xavier_uniform
    assert init.get_initializer("lecun") is init.lecun_normal
    assert init.get_initializer("zeros") is init.zeros
    np.testing.assert_array_equal(init.get_initializer("kaiming")((3, 4), seed=1),
                                  init.get_initializer("he")((3, 4), seed=1))
    for name, fn in nn.INITIALIZERS.items():
        out = fn((6, 5), seed=0, dtype=np.float32)
        assert out.shape == (6, 5) and out.dtype == np.float32, name
    with pytest.raises(ValueError, match=r"unknown initialiser 'orthogonal'; valid names: "
                                         r".*glorot.*he.*lecun.*xavier"):
        init.get_initializer("orthogonal")


def test_validation():
    with pytest.raises(ValueError, match="std must be >= 0"):
        init.normal((2,), std=-1.0)
    with pytest.raises(ValueError, match="need a <= b"):
        init.uniform((2,), 1.0, 0.0)
    with pytest.raises(ValueError, match="mode must be 'fan_in' or 'fan_out'"):
        init.kaiming_uniform((2, 2), mode="fan")
    with pytest.raises(ValueError, match="dtype must be floating point"):
        init.zeros((2,), dtype=np.int32)


def test_zero_init_never_breaks_symmetry():
    """With W = 0 everywhere every hidden unit computes the same function and receives the
    same gradient, so after any number of gradient steps the units are still identical."""
    r = np.random.default_rng(0)
    X = cr.tensor(r.standard_normal((32, 3)))
    y = cr.tensor((r.standard_normal((32, 1)) > 0).astype(np.float64))
    model = nn.Sequential(nn.Linear(3, 5, init="zeros", dtype=np.float64), nn.Sigmoid(),
                          nn.Linear(5, 1, init="zeros", dtype=np.float64))
    first, second = model[0], model[2]
    for _ in range(50):
        model.zero_grad()
        nn.functional.binary_cross_entropy_with_logits(model(X), y).backward()
        with cr.no_grad():
            for p in model.parameters():
                p.data = p.data - 0.5 * p.grad.data
    W1, W2 = first.weight.numpy(), second.weight.numpy()
    assert np.abs(W1).max() > 1e-3 and np.abs(W2).max() > 1e-3, "training moved the weights"
    np.testing.assert_allclose(W1, np.broadcast_to(W1[:1], W1.shape), rtol=0, atol=1e-15,
                               err_msg="rows of W1 (hidden units) stayed identical")
    np.testing.assert_allclose(W2, np.broadcast_to(W2[:, :1], W2.shape), atol=1e-15)
    # with a random initialisation the hidden units differ
    assert np.ptp(nn.Linear(3, 5, seed=0).weight.numpy(), axis=0).min() > 0


@pytest.mark.parametrize(
    ("activation", "expected_var"),
    [
        # Var(W) for a 400-in, 300-out layer followed by the named activation
        ("relu", 2 / 400),                            # He: 2/fan_in
        ("gelu", 2 / 400),
        ("tanh", (5 / 3) ** 2 * 2 / (400 + 300)),     # Xavier with the tanh gain 5/3
        ("sigmoid", 2 / (400 + 300)),                 # Xavier, gain 1
        ("identity", 2 / (400 + 300)),
        ("selu", 1 / 400),                            # LeCun: 1/fan_in
    ],
)
def test_linear_initialised_for_the_activation_that_follows(activation, expected_var):
    layer = nn.Linear(400, 300, init=activation, seed=0, dtype=np.float64)
    w = layer.weight.numpy()
    n = w.size
    # the sample variance of n normal draws has standard error σ²·√(2/(n−1)); allow 5 of them
    tol = 5 * expected_var * np.sqrt(2 / (n - 1))
    assert abs(w.var() - expected_var) < tol, (
        f"init={activation!r}: Var(W) = {w.var():.3e}, formula gives {expected_var:.3e}"
    )
    assert abs(w.mean()) < 5 * np.sqrt(expected_var / n)
    np.testing.assert_array_equal(layer.bias.numpy(), 0.0)


def test_unknown_initialiser_lists_names_and_activations():
    with pytest.raises(ValueError, match=r"unknown initialiser 'rleu'.*xavier.*relu, selu"):
        nn.Linear(3, 2, init="rleu")
