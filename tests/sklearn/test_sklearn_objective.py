"""MLPClassifier / MLPRegressor report the objective they document, to the last digit.

At fixed weights (one full batch and a learning rate of 1e-300, so that no weight moves:
``w − 1e-300·g == w`` in float64) the first epoch's objective ``loss_curve_[0]`` and
``loss_`` are, with ``z`` the network's output computed here in NumPy from ``model_``,
``W`` its weight matrices (not the biases) and ``w`` the sample weights::

    J = Σᵢ wᵢ·ℓᵢ / Σᵢ wᵢ + α/(2·Σᵢ wᵢ)·‖W‖²

with ``ℓᵢ`` scikit-learn's per-sample loss: ``½·mean_k (z − y)²`` (squared error),
``mean_k |z − y|``, Huber (δ = 1) averaged over outputs, the half Poisson deviance
``y·log(y/μ) − y + μ`` with ``μ = exp(z)``, ``−log softmax(z)_y`` and the binary log-loss.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.special import expit, log_softmax, xlogy
from sklearn.exceptions import ConvergenceWarning

from chainrule import nn
from chainrule.sklearn import MLPClassifier, MLPRegressor

FROZEN = dict(hidden_layer_sizes=(5, 4), solver="sgd", momentum=0.0,
              learning_rate_init=1e-300, max_iter=2, shuffle=False, dtype="float64",
              random_state=0, tol=0.0, n_iter_no_change=50)


def _fit(est, X, y, sample_weight=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y, sample_weight=sample_weight)


def _forward(est, X):
    """The network's output z (relu hidden layers, linear output) and its weight matrices."""
    linears = [m for m in est.model_.modules() if isinstance(m, nn.Linear)]
    h = X
    for i, lin in enumerate(linears):
        h = h @ lin.weight.numpy().T + lin.bias.numpy()
        if i < len(linears) - 1:
            h = np.maximum(h, 0.0)
    return h, [lin.weight.numpy() for lin in linears]


def _objective(per_sample, W, alpha, w):
    """Σwℓ/Σw + α/(2Σw)·‖W‖²."""
    return (w @ per_sample) / w.sum() + alpha / (2 * w.sum()) * sum((m * m).sum() for m in W)


def _check(est, X, y, per_sample_fn, sample_weight=None):
    _fit(est, X, y, sample_weight)
    z, W = _forward(est, X)
    w = np.ones(len(X)) if sample_weight is None else np.asarray(sample_weight, float)
    expected = _objective(per_sample_fn(z), W, est.alpha, w)
    assert len(est.loss_curve_) == 2
    assert est.loss_curve_[0] == pytest.approx(expected, rel=1e-12)
    assert est.loss_ == pytest.approx(expected, rel=1e-12)
    return expected


def _data(n=40, n_out=1, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    Y = np.column_stack([X[:, 0] - 2 * X[:, 1] + 0.5, np.sin(X[:, 2]) * 3][:n_out])
    return X, Y[:, 0] if n_out == 1 else Y


def _huber(r, delta=1.0):
    a = np.abs(r)
    return np.where(a <= delta, 0.5 * r * r, delta * (a - 0.5 * delta))


@pytest.mark.parametrize("n_out", [1, 2])
@pytest.mark.parametrize("alpha", [0.0, 0.3])
def test_squared_error_is_half_the_mean_square(n_out, alpha):
    X, y = _data(n_out=n_out)
    Y = y.reshape(len(y), -1)
    _check(MLPRegressor(alpha=alpha, **FROZEN), X, y,
           lambda z: 0.5 * ((z - Y) ** 2).mean(axis=1))


@pytest.mark.parametrize("loss,per_element", [
    ("absolute_error", np.abs),
    ("huber", _huber),
])
def test_l1_and_huber_are_averaged_over_outputs(loss, per_element):
    X, y = _data(n_out=2)
    y = 3 * y  # residuals on both sides of Huber's δ = 1
    _check(MLPRegressor(loss=loss, alpha=0.1, **FROZEN), X, y,
           lambda z: per_element(z - y).mean(axis=1))


def test_poisson_is_the_half_deviance():
    X, _ = _data()
    rng = np.random.default_rng(1)
    y = rng.poisson(np.exp(0.5 * X[:, 0]), size=len(X)).astype(float)
    assert (y == 0).any() and (y > 1).any()  # xlogy(0, 0) = 0 is exercised
    Y = y[:, None]

    def half_deviance(z):  # y·log(y/μ) − y + μ, μ = exp(z): zero when μ = y, else > 0
        mu = np.exp(z)
        return (xlogy(Y, Y) - xlogy(Y, mu) - Y + mu).sum(axis=1)

    J = _check(MLPRegressor(loss="poisson", alpha=0.2, **FROZEN), X, y, half_deviance)
    assert J > 0


def test_sample_weights_and_penalty_scale_by_their_sum():
    X, y = _data()
    sw = np.random.default_rng(3).uniform(0.2, 3.0, len(y))
    _check(MLPRegressor(alpha=0.5, **FROZEN), X, y,
           lambda z: 0.5 * (z[:, 0] - y) ** 2, sample_weight=sw)


def test_multiclass_log_loss():
    X, _ = _data(n=45)
    y = np.arange(45) % 3
    _check(MLPClassifier(alpha=0.2, **FROZEN), X, y,
           lambda z: -log_softmax(z, axis=1)[np.arange(len(y)), y])


def test_binary_and_multilabel_log_loss():
    X, _ = _data()
    y = (X[:, 0] > 0).astype(int)

    def bce(z, Y):
        p = expit(z)
        return -(xlogy(Y, p) + xlogy(1 - Y, 1 - p)).sum(axis=1)

    _check(MLPClassifier(alpha=0.2, **FROZEN), X, y, lambda z: bce(z, y[:, None]))
    Y = np.column_stack([y, (X[:, 1] > 0).astype(int)])
    _check(MLPClassifier(alpha=0.2, **FROZEN), X, Y, lambda z: bce(z, Y))


def test_weights_are_frozen_by_the_tiny_rate():
    """The premise of this file: with lr = 1e-300 the fitted weights are the initial ones
    (a fresh fit stopped before its first update would have the same)."""
    X, y = _data()
    a = _fit(MLPRegressor(**{**FROZEN, "max_iter": 1}), X, y)
    b = _fit(MLPRegressor(**{**FROZEN, "max_iter": 2}), X, y)
    for p, q in zip(a.model_.parameters(), b.model_.parameters()):
        np.testing.assert_array_equal(p.numpy(), q.numpy())
