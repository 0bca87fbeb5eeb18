"""Tests for chainrule.data.preprocessing."""


import numpy as np
import pytest

from chainrule.data import preprocessing as P
from chainrule.data.preprocessing import (
    MinMaxScaler,
    NotFittedError,
    Standardizer,
    check_finite,
    check_labels,
    check_lengths,
    check_seed,
    one_hot,
)
from doctest_helper import check_doctests
from sklearn import preprocessing as skp


def test_docstring_examples():
    check_doctests(P, more_than=5)


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X_train = rng.normal([3.0, -2.0, 100.0], [1.0, 0.1, 25.0], size=(200, 3))
    X_test = rng.normal([3.0, -2.0, 100.0], [1.0, 0.1, 25.0], size=(50, 3))
    return X_train, X_test


def test_standardizer_matches_sklearn(data):
    X_train, X_test = data
    ours = Standardizer().fit(X_train)
    ref = skp.StandardScaler().fit(X_train)
    np.testing.assert_allclose(ours.mean_, ref.mean_, rtol=1e-12)
    np.testing.assert_allclose(ours.scale_, ref.scale_, rtol=1e-12)
    np.testing.assert_allclose(ours.var_, ref.var_, rtol=1e-12)
    np.testing.assert_allclose(ours.transform(X_test), ref.transform(X_test), atol=1e-12)
    np.testing.assert_allclose(
        ours.inverse_transform(X_test), ref.inverse_transform(X_test), rtol=1e-12
    )


def test_standardizer_equation_and_training_stats_only(data):
    X_train, X_test = data
    s = Standardizer()
    Z = s.fit_transform(X_train)
    np.testing.assert_allclose(Z.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(Z.std(axis=0), 1.0, rtol=1e-12)
    # the test set uses the training mu and sigma, so it is not exactly standardised
    mu, sigma = X_train.mean(axis=0), X_train.std(axis=0)
    np.testing.assert_allclose(s.transform(X_test), (X_test - mu) / sigma, rtol=1e-12)
    assert np.abs(s.transform(X_test).mean(axis=0)).max() > 1e-3
    np.testing.assert_allclose(s.inverse_transform(s.transform(X_test)), X_test, rtol=1e-12)


def test_standardizer_constant_column_uses_sigma_one():
    X = np.array([[1.0, 0.1, 5.0], [2.0, 0.1, 7.0], [3.0, 0.1, 9.0]])
    s = Standardizer().fit(X)
    assert s.scale_[1] == 1.0 and s.var_[1] == 0.0 and s.mean_[1] == 0.1
    Z = s.transform(X)
    assert np.all(Z[:, 1] == 0.0)
    assert np.all(np.isfinite(Z))
    np.testing.assert_allclose(s.inverse_transform(Z), X)


def test_standardizer_keeps_float32():
    X = np.arange(6, dtype=np.float32).reshape(3, 2)
    assert Standardizer().fit_transform(X).dtype == np.float32
    assert Standardizer().fit_transform(X.astype(int)).dtype == np.float64


def test_standardizer_state_dict_round_trip(data, tmp_path):
    X_train, X_test = data
    s = Standardizer().fit(X_train)
    state = s.state_dict()
    assert set(state) == {"mean", "scale", "var"}
    assert all(type(v) is np.ndarray for v in state.values())
    np.savez(tmp_path / "s.npz", **state)
    with np.load(tmp_path / "s.npz") as f:
        restored = Standardizer().load_state_dict(dict(f))
    np.testing.assert_array_equal(restored.transform(X_test), s.transform(X_test))
    state["scale"] = state["scale"][:2]
    with pytest.raises(ValueError, match="state\\['scale'\\] must be 1-D with shape"):
        Standardizer().load_state_dict(state)
    with pytest.raises(ValueError, match="missing keys \\['var'\\]"):
        Standardizer().load_state_dict({"mean": np.zeros(2), "scale": np.ones(2)})


def test_standardizer_errors(data):
    X_train, _ = data
    with pytest.raises(NotFittedError, match="Standardizer is not fitted yet"):
        Standardizer().transform(X_train)
    with pytest.raises(NotFittedError):
        Standardizer().state_dict()
    s = Standardizer().fit(X_train)
    with pytest.raises(ValueError, match="X has 2 features, but Standardizer was fitted with 3"):
        s.transform(X_train[:, :2])
    with pytest.raises(ValueError, match=r"X must be 2-D.*got shape \(5,\).*reshape\(-1, 1\)"):
        Standardizer().fit(np.zeros(5))
    bad = X_train.copy()
    bad[7, 2] = np.nan
    with pytest.raises(ValueError, match="X contains NaN at row 7, column 2"):
        Standardizer().fit(bad)
    with pytest.raises(ValueError, match="X contains NaN at row 7, column 2"):
        s.transform(bad)
    with pytest.raises(TypeError, match="must hold numbers"):
        Standardizer().fit([["a", "b"]])


def test_minmax_matches_sklearn(data):
    X_train, X_test = data
    for fr in [(0.0, 1.0), (-1.0, 1.0)]:
        ours = MinMaxScaler(feature_range=fr).fit(X_train)
        ref = skp.MinMaxScaler(feature_range=fr).fit(X_train)
        for attr in ("data_min_", "data_max_", "scale_", "min_"):
            np.testing.assert_allclose(getattr(ours, attr), getattr(ref, attr), rtol=1e-12)
        np.testing.assert_allclose(ours.transform(X_test), ref.transform(X_test), atol=1e-12)
        np.testing.assert_allclose(ours.inverse_transform(ours.transform(X_test)), X_test)
    Z = MinMaxScaler((-1.0, 1.0)).fit_transform(X_train)
    np.testing.assert_allclose(Z.min(axis=0), -1.0)
    np.testing.assert_allclose(Z.max(axis=0), 1.0)


def test_minmax_constant_column_state_and_errors():
    X = np.array([[1.0, 4.0], [3.0, 4.0]])
    m = MinMaxScaler((2.0, 3.0)).fit(X)
    np.testing.assert_allclose(m.transform(X), [[2.0, 2.0], [3.0, 2.0]])
    restored = MinMaxScaler().load_state_dict(m.state_dict())
    assert restored.feature_range == (2.0, 3.0)
    np.testing.assert_array_equal(restored.transform(X), m.transform(X))
    with pytest.raises(ValueError, match=r"feature_range must satisfy a < b, got \(1, 0\)"):
        MinMaxScaler((1, 0))
    with pytest.raises(TypeError, match="feature_range must be a pair"):
        MinMaxScaler(5)
    with pytest.raises(ValueError, match="X contains inf at row 1, column 0"):
        MinMaxScaler().fit([[0.0], [np.inf]])


def test_one_hot():
    Y = one_hot(np.array([2, 0, 1, 2]))
    np.testing.assert_array_equal(Y, np.eye(3)[[2, 0, 1, 2]])
    assert one_hot([0, 1], num_classes=4).shape == (2, 4)
    assert one_hot([0, 1], dtype=np.float32).dtype == np.float32
    np.testing.assert_array_equal(one_hot(np.array([1.0, 0.0])), [[0, 1], [1, 0]])
    with pytest.raises(ValueError, match=r"label 3, which is not one of the classes \[0, 1, 2\]"):
        one_hot([0, 3], num_classes=3)
    with pytest.raises(ValueError, match="label -1"):
        one_hot([0, -1])
    with pytest.raises(TypeError, match="integer class indices"):
        one_hot([0.5, 1.0])
    with pytest.raises(ValueError, match="must be 1-D"):
        one_hot([[0, 1]])


def test_check_finite_names_row_and_column():
    X = np.zeros((4, 3))
    X[2, 1] = -np.inf
    X[3, 0] = np.nan
    with pytest.raises(ValueError, match=r"X contains -inf at row 2, column 1 \('rooms'\)"):
        check_finite(X, feature_names=["size", "rooms", "age"])
    with pytest.raises(ValueError, match="y contains NaN at index 1"):
        check_finite(np.array([0.0, np.nan]), "y")
    ints = np.arange(3)
    assert check_finite(ints) is ints


def test_check_labels_and_lengths():
    assert check_labels(np.array([0, 1, 1]), [0, 1]).tolist() == [0, 1, 1]
    with pytest.raises(ValueError, match=r"y contains label 7, which is not one of the classes"):
        check_labels([0, 7, 1], [0, 1, 2])
    with pytest.raises(ValueError, match=r"label 'dog'.*\['cat', 'cow'\]"):
        check_labels(["cat", "dog"], ["cat", "cow"])
    check_lengths(np.zeros((3, 2)), np.zeros(3))
    with pytest.raises(ValueError, match="X has 3 samples but y has 2"):
        check_lengths(np.zeros((3, 2)), np.zeros(2))
    with pytest.raises(ValueError, match="inputs has 1 samples but targets has 2"):
        check_lengths([1], [1, 2], names=("inputs", "targets"))


def test_check_seed():
    g = np.random.default_rng(5)
    assert check_seed(g) is g
    assert check_seed(5).random() == np.random.default_rng(5).random()
    assert isinstance(check_seed(None), np.random.Generator)
    with pytest.raises(TypeError, match=r"seed must be an int.*got bool True"):
        check_seed(True)
    with pytest.raises(TypeError, match="got RandomState"):
        check_seed(np.random.RandomState(0))
