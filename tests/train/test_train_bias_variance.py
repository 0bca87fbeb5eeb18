"""Tests for train.bias_variance_decomposition against the closed forms of least squares."""

import numpy as np
import pytest

from chainrule import train
from chainrule.train import (
    BiasVariance,
    bias_variance_decomposition,
    mlp_fitter,
    polynomial_fitter,
)
from doctest_helper import check_doctests


def test_doctests():
    check_doctests("chainrule.train.bias_variance")


def test_the_line_h_of_x_matches_the_closed_forms_of_least_squares():
    # Fixed design: h(x) = wx + b fitted by least squares to y = sin(x) + ε, ε ~ N(0, σ²).
    # With Φ = [1, x] the fit is linear in y, so for a test point φ₀ = (1, x₀):
    #   mean prediction h̄(x₀) = φ₀ᵀ (ΦᵀΦ)⁻¹ Φᵀ f(X)       (the fit of the noiseless f)
    #   variance            = σ² φ₀ᵀ (ΦᵀΦ)⁻¹ φ₀
    sigma = 0.5
    x = np.linspace(-2.0, 2.0, 12)
    x0 = np.linspace(-2.5, 2.5, 21)
    Phi, Phi0 = np.column_stack([np.ones_like(x), x]), np.column_stack([np.ones_like(x0), x0])
    G = np.linalg.inv(Phi.T @ Phi)
    h_bar = Phi0 @ G @ Phi.T @ np.sin(x)
    bias2 = np.mean((np.sin(x0) - h_bar) ** 2)
    variance = sigma**2 * np.mean(np.einsum("ij,jk,ik->i", Phi0, G, Phi0))

    bv = bias_variance_decomposition(polynomial_fitter(1), lambda X: np.sin(X[:, 0]), x0,
                                     X_train=x, noise=sigma, n_rounds=3000, seed=0)
    assert isinstance(bv, BiasVariance)
    assert bv.noise == sigma**2
    assert bv.predictions.shape == (3000, 21)
    np.testing.assert_allclose(bv.target, np.sin(x0))
    # Monte Carlo over 3000 rounds: a few percent of sampling error
    assert bv.variance == pytest.approx(variance, rel=0.06)
    assert bv.bias2 == pytest.approx(bias2, rel=0.03)
    np.testing.assert_allclose(bv.mean_prediction, h_bar, atol=0.05)
    # the measured error on fresh targets agrees with noise + bias² + variance
    assert bv.test_error == pytest.approx(bv.total, rel=0.03)


def test_the_decomposition_is_an_identity_of_the_estimates():
    # mean_{r,x} (f − h_r)² = mean_x (f − h̄)² + mean_{r,x} (h_r − h̄)² for the sample mean h̄
    bv = bias_variance_decomposition(polynomial_fitter(3), lambda X: np.cos(3 * X[:, 0]),
                                     np.linspace(-1, 1, 30),
                                     X_train=lambda rng: rng.uniform(-1, 1, 15),
                                     noise=0.2, n_rounds=40, seed=1)
    mse_to_f = np.mean((bv.predictions - bv.target) ** 2)
    assert mse_to_f == pytest.approx(bv.bias2 + bv.variance, rel=1e-12)
    assert str(bv).startswith("noise 0.04 + bias² ")


def test_bias_falls_and_variance_grows_with_the_degree():
    # 15 equally spaced points of sin(πx) on [−1, 1] (fixed design), noise σ = 0.3. sin is
    # odd, so only odd degrees add to the fit. In a fixed design the mean variance on the
    # training points is exactly σ²(d + 1)/n; on the grid it grows the same way.
    degrees = (0, 1, 3, 5, 9)
    results = [bias_variance_decomposition(
        polynomial_fitter(d), lambda X: np.sin(np.pi * X[:, 0]), np.linspace(-1, 1, 41),
        X_train=np.linspace(-1, 1, 15), noise=0.3, n_rounds=400, seed=2) for d in degrees]
    bias2 = [r.bias2 for r in results]
    variance = [r.variance for r in results]
    assert np.all(np.diff(bias2[:4]) < 0)
    assert np.all(np.diff(variance) > 0)
    totals = [r.total for r in results]
    assert int(np.argmin(totals)) == 2  # the U: degree 3 balances the two
    on_train = bias_variance_decomposition(
        polynomial_fitter(3), lambda X: np.sin(np.pi * X[:, 0]), np.linspace(-1, 1, 15),
        X_train=np.linspace(-1, 1, 15), noise=0.3, n_rounds=1000, seed=2)
    assert on_train.variance == pytest.approx(0.3**2 * 4 / 15, rel=0.08)


def test_the_same_seed_gives_the_same_estimate():
    kwargs = dict(X_train=lambda rng: rng.uniform(-1, 1, 10), noise=0.1, n_rounds=5)
    a = bias_variance_decomposition(polynomial_fitter(2), np.sin, [0.0, 0.5], seed=3, **kwargs)
    b = bias_variance_decomposition(polynomial_fitter(2), np.sin, [0.0, 0.5], seed=3, **kwargs)
    c = bias_variance_decomposition(polynomial_fitter(2), np.sin, [0.0, 0.5], seed=4, **kwargs)
    assert np.array_equal(a.predictions, b.predictions)
    assert not np.array_equal(a.predictions, c.predictions)


def test_an_mlp_one_unit_underfits_where_eight_do_not():
    # f(x) = sin(3x) on [−1, 1]: one tanh unit is a single smoothed step and cannot follow
    # the two bends; eight can. Few rounds and short training keep this fast.
    def f(X):
        return np.sin(3 * X[:, 0])

    grid = np.linspace(-1, 1, 25)
    kwargs = dict(X_train=lambda rng: rng.uniform(-1, 1, 30), noise=0.1, n_rounds=3, seed=0)
    narrow = bias_variance_decomposition(mlp_fitter(1, epochs=200, lr=0.05), f, grid, **kwargs)
    wide = bias_variance_decomposition(mlp_fitter(8, epochs=200, lr=0.05), f, grid, **kwargs)
    assert narrow.bias2 > 0.05 > 5 * wide.bias2
    assert wide.total < narrow.total


def test_bad_arguments_are_refused():
    grid = np.linspace(0, 1, 5)
    line = polynomial_fitter(1)
    with pytest.raises(ValueError, match="noise must be a standard deviation >= 0"):
        bias_variance_decomposition(line, np.sin, grid, X_train=grid, noise=-1.0)
    with pytest.raises(ValueError, match="n_rounds must be an int >= 2"):
        bias_variance_decomposition(line, np.sin, grid, X_train=grid, noise=0.1, n_rounds=1)
    with pytest.raises(TypeError, match="n_rounds must be an int"):
        bias_variance_decomposition(line, np.sin, grid, X_train=grid, noise=0.1, n_rounds=2.5)
    with pytest.raises(TypeError, match="fit must be callable"):
        bias_variance_decomposition("line", np.sin, grid, X_train=grid, noise=0.1)
    with pytest.raises(ValueError, match="same number of features"):
        bias_variance_decomposition(line, np.sin, grid, X_train=np.ones((5, 2)), noise=0.1)
    with pytest.raises(ValueError, match=r"f must return shape \(5,\) or \(5, 1\)"):
        bias_variance_decomposition(line, lambda X: np.ones(3), grid, X_train=grid, noise=0.1)
    with pytest.raises(ValueError, match="X_test must contain only finite values"):
        bias_variance_decomposition(line, np.sin, [0.0, np.nan], X_train=grid, noise=0.1)
    with pytest.raises(ValueError, match="degree must be an int >= 0"):
        polynomial_fitter(-1)
    with pytest.raises(ValueError, match="hidden must be a width >= 1"):
        mlp_fitter(0)
    with pytest.raises(ValueError, match="one input feature"):
        bias_variance_decomposition(line, lambda X: X[:, 0], np.ones((3, 2)),
                                    X_train=np.ones((4, 2)), noise=0.1)
    assert train.bias_variance_decomposition is bias_variance_decomposition
