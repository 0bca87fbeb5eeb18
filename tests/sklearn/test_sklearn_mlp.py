"""Behaviour of chainrule.sklearn.MLPClassifier / MLPRegressor beyond scikit-learn's checks."""

from __future__ import annotations

import io as _io
import math
import pickle
import warnings
from contextlib import redirect_stdout

import numpy as np
import pytest
from sklearn.datasets import load_iris, make_multilabel_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score, cross_validate
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.class_weight import compute_sample_weight

import chainrule as cr
from chainrule import nn, optim
from chainrule.sklearn import MLPClassifier, MLPRegressor, load

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="module")
def regression():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(240, 3))
    y = np.column_stack([X[:, 0] * X[:, 1] + X[:, 2], np.sin(2 * X[:, 0])])
    return X, y


def weights(est):
    return [p.data.copy() for p in est.model_.parameters()]


def assert_same_weights(a, b):
    wa, wb = weights(a), weights(b)
    assert len(wa) == len(wb)
    for x, y in zip(wa, wb):
        np.testing.assert_array_equal(x, y)


# ----------------------------------------------------------------------- scikit-learn tools


def test_pipeline_grid_search_and_cross_val_score(iris):
    X, y = load_iris(return_X_y=True)
    pipe = make_pipeline(
        StandardScaler(),
        MLPClassifier(hidden_layer_sizes=(8,), learning_rate_init=0.01, max_iter=60,
                      random_state=0),
    )
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.shape == (3,) and scores.mean() > 0.85

    grid = GridSearchCV(
        Pipeline([("scale", StandardScaler()),
                  ("mlp", MLPClassifier(max_iter=150, learning_rate_init=0.01,
                                        random_state=0))]),
        {"mlp__hidden_layer_sizes": [(1,), (16,)], "mlp__alpha": [1e-4, 1e-2]},
        cv=3,
    )
    grid.fit(X, y)
    assert len(grid.cv_results_["params"]) == 4
    assert grid.best_params_["mlp__hidden_layer_sizes"] == (16,)
    assert grid.best_score_ > 0.9
    assert grid.best_estimator_.named_steps["mlp"].n_features_in_ == 4

    reg = MLPRegressor(hidden_layer_sizes=(16,), learning_rate_init=0.01, max_iter=50,
                       random_state=0)
    folds = KFold(3, shuffle=True, random_state=0)
    res = cross_validate(reg, iris[0][:, :3], iris[0][:, 3], cv=folds, scoring="r2")
    assert res["test_score"].mean() > 0.8


def test_digits_like_accuracy_and_fitted_attributes(iris):
    X, y = iris
    clf = MLPClassifier(hidden_layer_sizes=(16, 8), learning_rate_init=0.01, max_iter=100,
                        random_state=0).fit(X, y)
    assert clf.score(X, y) > 0.95
    assert clf.n_features_in_ == 4 and clf.n_outputs_ == 3
    assert clf.out_activation_ == "softmax"
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    assert len(clf.loss_curve_) == clf.n_iter_ == 100
    assert clf.best_loss_ == min(clf.loss_curve_)
    assert clf.loss_curve_[-1] < clf.loss_curve_[0] / 4
    assert clf.validation_scores_ is None and clf.validation_loss_curve_ is None
    assert isinstance(clf.model_, nn.Sequential)
    assert isinstance(clf.optimizer_, optim.Adam)
    assert [c.shape for c in clf.coefs_] == [(4, 16), (16, 8), (8, 3)]  # scikit-learn's layout
    assert [b.shape for b in clf.intercepts_] == [(16,), (8,), (3,)]
    assert clf.model_[0].weight.dtype == np.float64  # the data's dtype, as scikit-learn
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(axis=1)], clf.predict(X))
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X)), proba, rtol=1e-10)
    # the fitted network is the estimator's: its output gives the same probabilities
    with cr.no_grad():
        logits = clf.model_(cr.tensor(X.astype(np.float64))).numpy()
    np.testing.assert_allclose(
        np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True), proba, rtol=1e-9)


def test_string_labels_and_binary_targets(iris):
    X, y = iris
    labels = np.array(["setosa", "versicolor", "virginica"], dtype=object)[y]
    binary = np.where(y == 2, "yes", "no")
    clf = MLPClassifier(hidden_layer_sizes=(16,), learning_rate_init=0.01, max_iter=100,
                        random_state=0)
    assert set(clf.fit(X, labels).predict(X)) <= set(labels)
    clf.fit(X, binary)
    assert clf.out_activation_ == "logistic" and clf.n_outputs_ == 1
    np.testing.assert_array_equal(clf.classes_, ["no", "yes"])
    proba = clf.predict_proba(X)
    assert proba.shape == (150, 2)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[(proba[:, 1] > 0.5).astype(int)])
    assert clf.score(X, binary) > 0.9


# ------------------------------------------------------------------ partial_fit, warm_start


@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
def test_partial_fit_n_times_equals_fit_n_epochs(cls, iris):
    X, y = iris
    target = y if cls is MLPClassifier else X[:, 0] * 2.0 - X[:, 1]
    features = X if cls is MLPClassifier else X[:, 1:]
    params = dict(hidden_layer_sizes=(12,), batch_size=32, dropout=0.1, random_state=3,
                  n_iter_no_change=1000, learning_rate_init=0.005)
    n = 7
    fitted = cls(max_iter=n, **params).fit(features, target)
    partial = cls(**params)
    for _ in range(n):
        if cls is MLPClassifier:
            partial.partial_fit(features, target, classes=np.unique(y))
        else:
            partial.partial_fit(features, target)
    assert_same_weights(fitted, partial)
    assert partial.loss_curve_ == fitted.loss_curve_
    assert partial.n_iter_ == 1 and fitted.n_iter_ == n
    assert partial.t_ == fitted.t_ == n * len(features)
    steps = {s["step"] for s in partial.optimizer_.state.values()}
    assert steps == {n * math.ceil(len(features) / 32)}


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_warm_start_continues_the_optimizer_state(solver, iris):
    X, y = iris
    params = dict(hidden_layer_sizes=(10,), batch_size=50, solver=solver, random_state=1,
                  learning_rate_init=0.01, n_iter_no_change=1000)
    k, m = 4, 6
    once = MLPClassifier(max_iter=k + m, **params).fit(X, y)
    twice = MLPClassifier(max_iter=k, **params).fit(X, y)
    twice.set_params(warm_start=True, max_iter=m).fit(X, y)
    assert_same_weights(once, twice)
    assert twice.loss_curve_ == once.loss_curve_
    for state in twice.optimizer_.state.values():
        if solver == "adam":
            assert state["step"] == (k + m) * 3
    # restarting the optimiser (what a cold start does) gives other weights
    cold = MLPClassifier(max_iter=k, **params).fit(X, y)
    cold.optimizer_ = optim.get_optimizer(
        solver, list(cold.model_.parameters()), **cold._optimizer_kwargs())
    cold.set_params(warm_start=True, max_iter=m).fit(X, y)
    assert not np.array_equal(weights(cold)[0], weights(once)[0])


def test_warm_start_checks(iris):
    X, y = iris
    clf = MLPClassifier(hidden_layer_sizes=(5,), max_iter=2, warm_start=True,
                        random_state=0).fit(X, y)
    with pytest.raises(ValueError, match=r"architecture changed"):
        clf.set_params(hidden_layer_sizes=(6,)).fit(X, y)
    clf.set_params(hidden_layer_sizes=(5,), learning_rate_init=0.05).fit(X, y)
    assert clf.optimizer_.param_groups[0]["lr"] == 0.05  # new settings, moments kept
    with pytest.raises(ValueError, match=r"warm_start can only be used where `y` has the "
                       r"same classes.*\[0 1 7\]"):
        clf.fit(X, np.where(y == 2, 7, y))
    with pytest.raises(ValueError, match=r"classes must be passed"):
        MLPClassifier().partial_fit(X, y)
    with pytest.raises(ValueError, match=r"early_stopping"):
        MLPClassifier(early_stopping=True).partial_fit(X, y, classes=[0, 1, 2])
    with pytest.raises(ValueError, match=r"validation_fraction must be > 0, got 0.0"):
        MLPClassifier(early_stopping=True, validation_fraction=0.0).fit(X, y)


# ---------------------------------------------------------------- weights and targets


def test_sample_weight_integer_equals_repeated_rows(iris):
    X, y = iris
    rng = np.random.default_rng(0)
    sw = rng.integers(0, 3, size=len(y))
    # fewer than 200 rows either way: batch_size="auto" makes one full batch of each
    params = dict(hidden_layer_sizes=(8,), shuffle=False, max_iter=15, random_state=0,
                  dtype="float64", learning_rate_init=0.01)
    weighted = MLPClassifier(**params).fit(X, y, sample_weight=sw)
    repeated = MLPClassifier(**params).fit(np.repeat(X, sw, axis=0), np.repeat(y, sw))
    np.testing.assert_allclose(weighted.predict_proba(X), repeated.predict_proba(X),
                               rtol=1e-9, atol=1e-12)
    # and the weights matter
    plain = MLPClassifier(**params).fit(X, y)
    assert np.abs(plain.predict_proba(X) - weighted.predict_proba(X)).max() > 1e-3


def test_class_weight_is_a_sample_weight(iris):
    X, y = iris
    keep = (y != 2) | (np.arange(len(y)) % 5 == 0)  # class 2 becomes rare
    X, y = X[keep], y[keep]
    params = dict(hidden_layer_sizes=(8,), max_iter=10, random_state=0)
    by_class = MLPClassifier(class_weight="balanced", **params).fit(X, y)
    by_sample = MLPClassifier(**params).fit(
        X, y, sample_weight=compute_sample_weight("balanced", y))
    assert_same_weights(by_class, by_sample)
    # counts 50/50/10: "balanced" is n/(3·n_c) = (0.73, 0.73, 3.67), proportional to (1, 1, 5);
    # a weighted mean ignores a common factor, so a dict must break the proportion to matter
    mapping = {0: 1.0, 1: 3.0, 2: 0.5}
    by_dict = MLPClassifier(class_weight=mapping, **params).fit(X, y)
    by_dict_sample = MLPClassifier(**params).fit(
        X, y, sample_weight=np.array([mapping[c] for c in y]))
    assert_same_weights(by_dict, by_dict_sample)
    plain = MLPClassifier(**params).fit(X, y)
    for other in (plain, by_class):  # the weights matter, beyond rounding
        gap = max(np.abs(a - b).max() for a, b in zip(weights(by_dict), weights(other)))
        assert gap > 1e-3, gap
    with pytest.raises(ValueError, match=r"balanced.*partial_fit"):
        MLPClassifier(class_weight="balanced").partial_fit(X, y, classes=[0, 1, 2])


def test_multilabel_classification():
    X, Y = make_multilabel_classification(n_samples=300, n_features=10, n_classes=4,
                                          random_state=0)
    clf = MLPClassifier(hidden_layer_sizes=(32,), learning_rate_init=0.01, max_iter=150,
                        random_state=0).fit(X, Y)
    assert clf.out_activation_ == "logistic" and clf.n_outputs_ == 4
    np.testing.assert_array_equal(clf.classes_, np.arange(4))
    pred = clf.predict(X)
    assert pred.shape == (300, 4) and set(np.unique(pred)) <= {0, 1}
    proba = clf.predict_proba(X)
    assert proba.shape == (300, 4) and np.all((proba > 0) & (proba < 1))
    np.testing.assert_array_equal(pred, (proba > 0.5).astype(int))
    majority = np.mean([max(col.mean(), 1 - col.mean()) for col in Y.T])  # 0.56
    assert (pred == Y).mean() > majority + 0.25  # per-label accuracy (0.86)
    assert clf.score(X, Y) > 0.55  # subset accuracy: all four labels right (0.61)


def test_multi_output_regression(regression):
    X, y = regression
    reg = MLPRegressor(hidden_layer_sizes=(32, 32), learning_rate_init=0.01, max_iter=200,
                       random_state=0).fit(X, y)
    assert reg.n_outputs_ == 2 and reg.predict(X).shape == (240, 2)
    assert reg.score(X, y) > 0.95
    single = MLPRegressor(hidden_layer_sizes=(8,), max_iter=5, random_state=0).fit(X, y[:, 0])
    assert single.predict(X).shape == (240,)


@pytest.mark.parametrize("loss", ["absolute_error", "huber", "poisson"])
def test_regression_losses(loss, regression):
    X, y = regression
    target = np.exp(y[:, 0]) if loss == "poisson" else y[:, 0]
    reg = MLPRegressor(loss=loss, hidden_layer_sizes=(16,), learning_rate_init=0.01,
                       max_iter=150, random_state=0).fit(X, target)
    assert reg.score(X, target) > 0.8
    if loss == "poisson":
        assert reg.out_activation_ == "exp" and np.all(reg.predict(X) > 0)
        with pytest.raises(ValueError, match=r"non-negative targets.*-1"):
            reg.fit(X, -np.ones_like(target))


def test_float64_dtype(iris):
    X, y = iris
    # dtype="auto" follows the data (scikit-learn): float32 X trains float32 parameters
    clf32 = MLPClassifier(hidden_layer_sizes=(8,), max_iter=20,
                          random_state=0).fit(X.astype(np.float32), y)
    # a named dtype overrides the data's
    clf64 = MLPClassifier(hidden_layer_sizes=(8,), max_iter=20, random_state=0,
                          dtype=np.float64).fit(X.astype(np.float32), y)
    assert all(p.dtype == np.float64 for p in clf64.model_.parameters())
    assert clf32.model_[0].weight.dtype == np.float32
    assert all(c.dtype == np.float32 for c in clf32.coefs_ + clf32.intercepts_)
    reg = MLPRegressor(hidden_layer_sizes=(4,), max_iter=3).fit(X.astype(np.float32), y)
    assert reg.predict(X).dtype == np.float32
    assert MLPRegressor(hidden_layer_sizes=(4,), max_iter=3).fit(X, y).predict(X).dtype == \
        np.float64
    np.testing.assert_allclose(clf64.predict_proba(X), clf32.predict_proba(X), atol=1e-4)
    with pytest.raises(ValueError, match=r"dtype.*float16"):
        MLPClassifier(dtype="float16").fit(X, y)


# ------------------------------------------------------------------ training options


def test_early_stopping_restores_the_best_weights(iris):
    X, y = iris
    params = dict(hidden_layer_sizes=(16,), learning_rate_init=0.02, early_stopping=True,
                  validation_fraction=0.2, n_iter_no_change=5, random_state=0)
    clf = MLPClassifier(max_iter=300, **params).fit(X, y)
    assert clf.n_iter_ < 300
    assert len(clf.validation_scores_) == len(clf.validation_loss_curve_) == clf.n_iter_
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    best_epoch = int(np.argmax(clf.validation_scores_)) + 1
    # the same run stopped at the best epoch ends with the weights that were restored
    short = MLPClassifier(max_iter=best_epoch, **params).fit(X, y)
    assert short.validation_scores_[-1] == clf.best_validation_score_
    assert_same_weights(clf, short)
    last = MLPClassifier(max_iter=300, restore_best_weights=False, **params).fit(X, y)
    assert last.n_iter_ == clf.n_iter_
    if best_epoch < clf.n_iter_:
        assert not np.array_equal(weights(last)[0], weights(clf)[0])


def test_l2_and_l1_shrink_the_weights(iris):
    X, y = iris
    def norms(**kw):
        clf = MLPClassifier(hidden_layer_sizes=(16,), max_iter=60, learning_rate_init=0.01,
                            random_state=0, **kw).fit(X, y)
        W = np.concatenate([c.ravel() for c in clf.coefs_])
        return np.sum(W**2), np.sum(np.abs(W) < 1e-3), clf
    l2_none, _, plain = norms(alpha=0.0)
    l2_big, _, ridge = norms(alpha=5.0)
    _, small_plain, _ = norms(alpha=0.0)
    _, small_l1, _ = norms(alpha=0.0, l1=0.5)
    assert l2_big < 0.5 * l2_none
    assert small_l1 > small_plain
    # the reported loss includes the penalty: alpha/(2n)‖W‖² at the final weights
    assert ridge.loss_ > plain.loss_


def test_batch_norm_dropout_and_initialisers(iris):
    X, y = iris
    clf = MLPClassifier(hidden_layer_sizes=(32, 16), batch_norm=True, dropout=0.2,
                        init="he", activation="gelu", learning_rate_init=0.01, max_iter=80,
                        batch_size=31, random_state=0).fit(X, y)
    kinds = [type(m).__name__ for m in clf.model_]
    assert kinds == ["Linear", "BatchNorm1d", "GELU", "Dropout",
                     "Linear", "BatchNorm1d", "GELU", "Dropout", "Linear"]
    assert not clf.model_.training
    assert clf.score(X, y) > 0.9
    np.testing.assert_array_equal(clf.predict(X), clf.predict(X))  # eval mode: deterministic


@pytest.mark.parametrize("solver", sorted(optim.OPTIMIZERS))
def test_every_solver_learns(solver, iris):
    X, y = iris
    lr = {"sgd": 0.1, "momentum": 0.05, "adagrad": 0.1}.get(solver, 0.01)
    clf = MLPClassifier(hidden_layer_sizes=(16,), solver=solver, learning_rate_init=lr,
                        max_iter=80, random_state=0).fit(X, y)
    assert isinstance(clf.optimizer_, optim.OPTIMIZERS[solver])
    assert clf.score(X, y) > 0.9


def test_learning_rate_schedules(iris):
    X, y = iris
    step = MLPClassifier(hidden_layer_sizes=(4,), max_iter=10, schedule="step",
                         schedule_params={"step_size": 3, "gamma": 0.5},
                         learning_rate_init=0.1, random_state=0).fit(X, y)
    assert step.optimizer_.param_groups[0]["lr"] == pytest.approx(0.1 * 0.5**3)
    inv = MLPClassifier(hidden_layer_sizes=(4,), max_iter=4, solver="sgd",
                        learning_rate="invscaling", power_t=0.5, learning_rate_init=0.1,
                        random_state=0).fit(X, y)
    assert inv.optimizer_.param_groups[0]["lr"] == pytest.approx(0.1 / (4 * 150 + 1) ** 0.5)
    adaptive = MLPClassifier(hidden_layer_sizes=(4,), max_iter=40, solver="sgd",
                             learning_rate="adaptive", n_iter_no_change=1, tol=10.0,
                             learning_rate_init=0.1, random_state=0).fit(X, y)
    # the loss never improves by tol=10, so every second epoch divides lr by 5, down to 1e-6
    assert adaptive.optimizer_.param_groups[0]["lr"] <= 1e-6 < 0.1
    assert adaptive.n_iter_ < 40
    with pytest.raises(ValueError, match=r"schedule='step' or learning_rate='adaptive'"):
        MLPClassifier(schedule="step", schedule_params={"step_size": 1},
                      learning_rate="adaptive").fit(X, y)
    with pytest.raises(ValueError, match=r"schedule_params.*step"):
        MLPClassifier(schedule="step", max_iter=1).fit(X, y)


def test_stopping_on_the_training_loss_and_convergence_warning(iris):
    X, y = iris
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=500, tol=0.5, n_iter_no_change=2,
                        random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf.fit(X, y)  # no warning: it stopped before max_iter
    # epoch 1 sets the best loss; epochs 2, 3, 4 fail to improve it by tol=0.5, and the
    # third such epoch makes the count exceed n_iter_no_change=2 (scikit-learn's rule)
    assert clf.n_iter_ == 4
    with pytest.warns(ConvergenceWarning, match=r"Maximum iterations \(2\)"):
        MLPClassifier(hidden_layer_sizes=(8,), max_iter=2).fit(X, y)


def test_verbose_prints_the_loss(iris):
    X, y = iris
    out = _io.StringIO()
    with redirect_stdout(out):
        MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, verbose=True,
                      early_stopping=True, random_state=0).fit(X, y)
    text = out.getvalue()
    assert "Iteration 1, loss = " in text and "Iteration 2, loss = " in text
    assert "Validation score: " in text


# ------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("params", "error", "pattern"),
    [
        ({"alpha": -1.0}, ValueError, r"alpha must be a finite number >= 0, got -1.0"),
        ({"solver": "lbgfs"}, ValueError, r"solver must be one of .*adam.*; got 'lbgfs'"),
        # softmax is registered as output-only (hidden=False): not a hidden activation
        ({"activation": "softmax"}, ValueError, r"activation must be one of .*; got 'softmax'"),
        ({"dropout": 1.0}, ValueError, r"dropout must be in \[0, 1\), got 1.0"),
        ({"hidden_layer_sizes": (4, 0)}, ValueError,
         "hidden_layer_sizes must hold positive ints.*0"),
        ({"schedule": "warp"}, ValueError, r"schedule must be one of .*cosine.*; got 'warp'"),
        ({"init": "ones_and_zeros"}, ValueError, r"init must be one of .*; got 'ones_and_zeros'"),
        ({"optimizer_params": {"amsgrad": True, "bogus": 1}}, ValueError,
         "optimizer_params.*bogus"),
        ({"batch_norm": "yes"}, TypeError, r"batch_norm must be a bool, got str 'yes'"),
        ({"learning_rate_init": 0.0}, ValueError, r"learning_rate_init must be in \(0, inf\)"),
        ({"dtype": "float16"}, ValueError, r"dtype must be 'auto', 'float32' or 'float64'"),
        ({"class_weight": "even"}, ValueError, r"class_weight must be a dict.*'even'"),
    ],
)
def test_parameter_errors_name_the_value(params, error, pattern, iris):
    X, y = iris
    est = MLPClassifier(max_iter=1, **params)
    with pytest.raises(error, match=pattern):
        est.fit(X, y)
    if "optimizer_params" not in params:  # (found when the optimiser is built)
        assert not hasattr(est, "model_")  # raised before anything was fitted


def test_feature_names_from_a_dataframe(iris):
    X, y = iris
    frame, other = _frame(X, ["sl", "sw", "pl", "pw"]), _frame(X, ["sw", "sl", "pl", "pw"])
    clf = MLPClassifier(hidden_layer_sizes=(4,), max_iter=3, random_state=0).fit(frame, y)
    np.testing.assert_array_equal(clf.feature_names_in_, ["sl", "sw", "pl", "pw"])
    with pytest.warns(UserWarning, match=r"X does not have valid feature names"):
        np.testing.assert_array_equal(clf.predict(frame), clf.predict(X))
    with pytest.raises(ValueError, match=r"feature names should match"):
        clf.predict(other)
    plain = MLPClassifier(hidden_layer_sizes=(4,), max_iter=3).fit(X, y)
    assert not hasattr(plain, "feature_names_in_")


def _frame(X, columns):
    """A pandas DataFrame if pandas is installed, else the stand-in below."""
    import importlib.util

    if importlib.util.find_spec("pandas") is not None:
        import pandas as pd

        return pd.DataFrame(X, columns=columns)
    return _Frame(X, columns)


class _Frame:
    """The smallest table with column names that scikit-learn reads through narwhals
    (used when pandas is not installed)."""

    def __init__(self, data, columns):
        from narwhals._utils import Implementation, Version

        self._data = np.asarray(data)
        self._columns = list(columns)
        self._version = Version.V2
        self._implementation = Implementation.UNKNOWN

    def __array__(self, dtype=None, copy=None):
        return self._data if dtype is None else self._data.astype(dtype)

    def __narwhals_dataframe__(self):
        return self

    def _with_version(self, version):
        return self

    @property
    def columns(self):
        return list(self._columns)

    @property
    def shape(self):
        return self._data.shape

    def __len__(self):
        return len(self._data)


# ------------------------------------------------------------------------- persistence


def _continue(est, X, y):
    est.set_params(warm_start=True, max_iter=3)
    return est.fit(X, y)


def test_pickle_round_trip_keeps_training_state(iris):
    X, y = iris
    clf = MLPClassifier(hidden_layer_sizes=(8,), dropout=0.1, max_iter=5,
                        random_state=0).fit(X, y)
    copy = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(copy.predict_proba(X), clf.predict_proba(X))
    assert_same_weights(_continue(copy, X, y), _continue(clf, X, y))


@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
def test_save_and_load(cls, iris, tmp_path):
    X, y = iris
    if cls is MLPClassifier:
        target = np.array(["setosa", "versicolor", "virginica"], dtype=object)[y]
        frame = _frame(X, ["sl", "sw", "pl", "pw"])
    else:
        target, frame = X[:, :2] @ [1.0, -2.0], X
    est = cls(hidden_layer_sizes=(8, 4), batch_norm=True, dropout=0.1, early_stopping=True,
              schedule="cosine", schedule_params={"T_max": 20}, max_iter=6, random_state=0,
              optimizer_params={"amsgrad": True})
    est.fit(frame, target)
    path = tmp_path / "model.safetensors"
    est.save(path)
    back = cls.load(path)
    assert type(back) is cls and back.get_params() == est.get_params()
    np.testing.assert_array_equal(back.predict(frame), est.predict(frame))
    for attr in ("n_features_in_", "n_outputs_", "n_iter_", "t_", "loss_curve_", "best_loss_",
                 "validation_scores_", "validation_loss_curve_", "out_activation_"):
        assert getattr(back, attr) == getattr(est, attr), attr
    if cls is MLPClassifier:
        np.testing.assert_array_equal(back.classes_, est.classes_)
        assert back.classes_.dtype == est.classes_.dtype
        np.testing.assert_array_equal(back.feature_names_in_, ["sl", "sw", "pl", "pw"])
        np.testing.assert_array_equal(back.predict_proba(frame), est.predict_proba(frame))
    assert load(path).__class__ is cls
    # training resumes exactly: optimiser moments, schedule and random generators are saved
    assert_same_weights(_continue(back, frame, target), _continue(est, frame, target))
    other = MLPRegressor if cls is MLPClassifier else MLPClassifier
    with pytest.raises(ValueError, match=f"holds a {cls.__name__}, not a {other.__name__}"):
        other.load(path)


def test_load_rejects_other_files(iris, tmp_path):
    X, y = iris
    path = tmp_path / "net.safetensors"
    cr.save(nn.Sequential(nn.Linear(2, 2, seed=0)), path)
    with pytest.raises(ValueError, match=r"not a chainrule.sklearn estimator file"):
        MLPClassifier.load(path)
    (tmp_path / "junk.safetensors").write_bytes(b"not a model at all")
    with pytest.raises(ValueError, match=r"junk.safetensors"):
        load(tmp_path / "junk.safetensors")
    clf = MLPClassifier(hidden_layer_sizes=(3,), max_iter=1,
                        init=nn.init.xavier_normal).fit(X, y)
    with pytest.raises(ValueError, match=r"init is a callable"):
        clf.save(tmp_path / "x.safetensors")
    with pytest.raises(Exception, match=r"not fitted"):
        MLPClassifier().save(tmp_path / "y.safetensors")
