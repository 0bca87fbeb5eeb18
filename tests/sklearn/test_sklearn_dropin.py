"""Drop-in behaviour against scikit-learn's own MLP: same seed, same weights; lbfgs; sparse
input; dtypes; settable coefs_/intercepts_; partial_fit only for stochastic solvers."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

from chainrule.sklearn import MLPClassifier, MLPRegressor
from sklearn import neural_network as sk


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def _params(est):
    return est.coefs_ + est.intercepts_


@pytest.mark.parametrize("settings", [
    {"solver": "lbfgs", "max_iter": 15},
    {"solver": "sgd", "max_iter": 5, "shuffle": False, "momentum": 0.9,
     "learning_rate_init": 0.1},
])
def test_same_seed_same_weights_as_scikit_learn(iris, settings):
    # init="auto" draws scikit-learn's initial weights from RandomState(0) in its order;
    # L-BFGS-B on the same objective and plain SGD (no shuffling) then follow the same path:
    # the weights agree to rounding (measured ≤ 4e-14) after 15 iterations / 5 epochs
    X, y = iris
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref = sk.MLPClassifier(hidden_layer_sizes=(5,), random_state=0, **settings).fit(X, y)
        ours = MLPClassifier(hidden_layer_sizes=(5,), random_state=0, **settings).fit(X, y)
    assert ours.n_iter_ == ref.n_iter_
    for a, b in zip(_params(ours), _params(ref), strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-10)
    assert ours.loss_ == pytest.approx(ref.loss_, rel=1e-12)


def test_lbfgs_gradient_is_the_finite_difference_of_the_loss(iris):
    # _loss_grad_lbfgs returns J(θ) and ∂J/∂θ; central differences with h = 1e-6 in float64
    # agree to ~1e-8 (truncation h² and rounding ε/h)
    X, y = iris
    clf = MLPClassifier(hidden_layer_sizes=(3,), solver="lbfgs", max_iter=2, alpha=0.1,
                        random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    Y = np.eye(3)[y]
    theta = clf._flat()
    assert theta.size == 4 * 3 + 3 * 3 + 3 + 3
    value, grad = clf._loss_grad_lbfgs(theta, X, Y)
    h = 1e-6
    numeric = np.array([
        (clf._loss_grad_lbfgs(theta + h * e, X, Y)[0]
         - clf._loss_grad_lbfgs(theta - h * e, X, Y)[0]) / (2 * h)
        for e in np.eye(theta.size)
    ])
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-8)
    # the value is the mean cross-entropy plus alpha/(2n)·Σ‖W‖² at θ
    clf._set_flat(theta)
    p = clf.predict_proba(X)
    ce = -np.mean(np.log(p[np.arange(len(y)), y]))
    l2 = 0.1 / (2 * len(y)) * sum(np.sum(c**2) for c in clf.coefs_)
    assert value == pytest.approx(ce + l2, rel=1e-12)


def test_lbfgs_stops_at_max_fun_with_a_warning(iris):
    X, y = iris
    clf = MLPClassifier(hidden_layer_sizes=(8,), solver="lbfgs", max_fun=5, random_state=0)
    with pytest.warns(ConvergenceWarning, match="lbfgs failed to converge"):
        clf.fit(X, y)
    assert 1 <= clf.n_iter_ <= 5
    assert len(clf.loss_curve_) == clf.n_iter_ and clf.loss_ <= clf.loss_curve_[0]
    assert not hasattr(clf, "partial_fit")  # only the stochastic solvers have it
    assert hasattr(MLPClassifier(solver="sgd"), "partial_fit")
    with pytest.raises(ValueError, match="dropout"):
        MLPClassifier(solver="lbfgs", dropout=0.2).fit(X, y)


@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_sparse_input_trains_as_the_dense_one(iris, fmt):
    # batches are densified one at a time: the same arithmetic as dense input, bit for bit
    X, y = iris
    Xs = sp.csr_matrix(X) if fmt == "csr" else sp.csc_matrix(X)
    kw = {"hidden_layer_sizes": (6,), "max_iter": 4, "batch_size": 32, "random_state": 0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        dense = MLPRegressor(**kw).fit(X, y)
        sparse = MLPRegressor(**kw).fit(Xs, y)
    for a, b in zip(_params(dense), _params(sparse), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(dense.predict(X), sparse.predict(Xs))


def test_dtype_follows_the_data_and_coefs_write_through(iris):
    X, y = iris
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg = MLPRegressor(hidden_layer_sizes=(4,), max_iter=3, random_state=0).fit(
            X.astype(np.float32), y)
    assert [c.dtype for c in reg.coefs_ + reg.intercepts_] == [np.float32] * 4
    assert reg.predict(X).dtype == np.float32
    assert (reg.n_layers_, reg.n_outputs_, reg.out_activation_) == (3, 1, "identity")
    # assigned weights go into the network: zero weights and biases b make predict = b₂
    reg.coefs_ = [np.zeros((4, 4)), np.zeros((4, 1))]
    reg.intercepts_ = [np.zeros(4), np.array([2.5])]
    np.testing.assert_array_equal(reg.predict(X[:3]), [2.5, 2.5, 2.5])
    with pytest.raises(ValueError, match=r"coefs_\[1\] must have shape \(4, 1\)"):
        reg.coefs_ = [np.zeros((4, 4)), np.zeros((1, 4))]


def test_early_stopping_attributes_have_scikit_learns_meaning(iris):
    X, y = iris
    clf = MLPClassifier(hidden_layer_sizes=(4,), early_stopping=True, max_iter=30,
                        random_state=0, n_iter_no_change=100)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    assert clf.best_loss_ is None
    assert len(clf.validation_scores_) == clf.n_iter_ == 30
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    with pytest.raises(ValueError, match=r"not the same as on the last call"):
        MLPClassifier(solver="sgd").partial_fit(X, y, classes=[0, 1, 2]).partial_fit(
            X, y, classes=[0, 1, 2, 3])


@pytest.mark.parametrize(("solver", "dtype"), [("lbfgs", np.float64), ("adam", np.float32)])
def test_save_and_load_keep_the_solver_and_the_dtype(iris, tmp_path, solver, dtype):
    X, y = iris
    X = X.astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = MLPClassifier(hidden_layer_sizes=(5,), solver=solver, max_iter=10,
                            random_state=0).fit(X, y)
        clf.save(tmp_path / "m.safetensors")
        back = MLPClassifier.load(tmp_path / "m.safetensors")
        assert back.coefs_[0].dtype == dtype and back.n_layers_ == 3
        np.testing.assert_array_equal(back.predict_proba(X), clf.predict_proba(X))
        back.set_params(warm_start=True).fit(X, y)  # training goes on from the file
    assert back.n_iter_ >= 1


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_a_diverging_run_with_early_stopping_warns_and_keeps_the_best_weights(iris):
    # learning rate 1 on unscaled iris with a linear network overflows within a few epochs:
    # the validation score turns NaN, training stops by the patience rule, and the weights
    # of the best epoch come back (finite) with a warning instead of an error
    X, y = load_iris(return_X_y=True)
    reg = MLPRegressor(hidden_layer_sizes=100, activation="identity", solver="sgd",
                       learning_rate_init=1, max_iter=20, early_stopping=True, random_state=0)
    with pytest.warns(ConvergenceWarning, match="diverged"):
        reg.fit(X, y)
    assert np.isnan(reg.validation_scores_[-1])
    assert reg.best_validation_score_ == max(s for s in reg.validation_scores_ if s == s)
    assert np.all(np.isfinite(reg.predict(X)))
