"""Tests for chainrule.data.splits."""

import math

import numpy as np
import pytest

from chainrule.data import splits as S
from chainrule.data.splits import (
    KFold,
    StratifiedKFold,
    default_fractions,
    train_dev_test_split,
)
from doctest_helper import check_doctests
from sklearn import model_selection as skms


def test_docstring_examples():
    check_doctests(S, more_than=5)


# --- default fractions -----------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 10, 1000, 10_000])
def test_default_fractions_small(n):
    assert default_fractions(n) == (0.6, 0.2, 0.2)


@pytest.mark.parametrize("n", [10**6, 5 * 10**6, 10**9])
def test_default_fractions_large(n):
    assert default_fractions(n) == (0.98, 0.01, 0.01)


def test_default_fractions_in_between_is_the_documented_power_law():
    f = default_fractions(10**5)  # t = 1/2
    assert f[1] == f[2] == pytest.approx(0.2 * math.sqrt(0.05))
    assert sum(f) == pytest.approx(1.0)
    ns = np.unique(np.logspace(4, 6, 200).astype(int))
    dev = np.array([default_fractions(int(n))[1] for n in ns])
    assert np.all(np.diff(dev) <= 0)  # the dev fraction shrinks with n ...
    assert np.all(np.diff(ns * dev) >= 0)  # ... but the dev set never gets smaller
    # continuous at both ends
    assert default_fractions(10_001)[1] == pytest.approx(0.2, rel=1e-4)
    assert default_fractions(999_999)[1] == pytest.approx(0.01, rel=1e-5)


def test_default_fractions_validates():
    with pytest.raises(ValueError, match="n must be an int >= 1, got 0"):
        default_fractions(0)
    with pytest.raises(TypeError, match="n must be an int"):
        default_fractions(1e5)


# --- train / dev / test ----------------------------------------------------------------------


def _ids(n):
    X = np.arange(n, dtype=float)[:, None] * np.ones((1, 2))
    return X, np.arange(n)


def test_split_sizes_n1000_and_partition():
    X, y = _ids(1000)
    split = train_dev_test_split(X, y, seed=0)
    (Xtr, ytr), (Xd, yd), (Xte, yte) = split
    assert (len(Xtr), len(Xd), len(Xte)) == (600, 200, 200)
    assert split.train.X is Xtr and split.test.y is yte
    ids = np.concatenate([ytr, yd, yte])
    assert sorted(ids.tolist()) == list(range(1000))  # disjoint and complete
    np.testing.assert_array_equal(Xtr[:, 0], ytr)  # rows stay paired with their targets
    assert not np.array_equal(ytr, np.sort(ytr))  # shuffled


def test_split_explicit_fractions_and_seed():
    X, y = _ids(50)
    a = train_dev_test_split(X, y, fractions=(0.7, 0.1, 0.2), seed=3)
    b = train_dev_test_split(X, y, fractions=[0.7, 0.1, 0.2], seed=np.random.default_rng(3))
    c = train_dev_test_split(X, y, fractions=(0.7, 0.1, 0.2), seed=4)
    assert [len(p.y) for p in a] == [35, 5, 10]
    for pa, pb in zip(a, b):
        np.testing.assert_array_equal(pa.y, pb.y)
    assert not np.array_equal(a.train.y, c.train.y)


def test_split_stratified_keeps_class_proportions():
    y = np.repeat([0, 1, 2], [500, 300, 200])
    X = np.arange(1000.0)[:, None]
    split = train_dev_test_split(X, y, stratify=True, seed=1)
    sizes = [len(p.y) for p in split]
    assert sizes == [600, 200, 200]
    for part, m in zip(split, sizes):
        counts = np.bincount(part.y, minlength=3)
        expected = np.array([500, 300, 200]) * m / 1000
        assert np.all(np.abs(counts - expected) <= 1), (counts, expected)
        assert not np.array_equal(part.y, np.sort(part.y))  # not grouped by class
    ids = np.concatenate([p.X[:, 0] for p in split]).astype(int)
    assert sorted(ids.tolist()) == list(range(1000))


def test_split_stratified_uneven_and_rare_classes():
    rng = np.random.default_rng(0)
    y = rng.choice(4, size=777, p=[0.6, 0.25, 0.1, 0.05])
    X = rng.normal(size=(777, 3))
    split = train_dev_test_split(X, y, fractions=(0.5, 0.25, 0.25), stratify=True, seed=2)
    total = np.bincount(y, minlength=4)
    sizes = [len(p.y) for p in split]
    assert sum(sizes) == 777 and sizes[1] == sizes[2] == 194
    for part, m in zip(split, sizes):
        counts = np.bincount(part.y, minlength=4)
        assert np.all(np.abs(counts - total * m / 777) <= 1.5)
    # stratifying by string labels through an explicit array
    labels = np.where(y == 0, "a", "b")
    split = train_dev_test_split(X, y, fractions=(0.5, 0.25, 0.25), stratify=labels, seed=2)
    share = [np.mean(p.y == 0) for p in split]
    assert max(share) - min(share) < 0.01


def test_split_stratified_beats_random_on_small_data():
    y = np.repeat([0, 1], [90, 10])
    X = np.zeros((100, 1))
    split = train_dev_test_split(X, y, stratify=True, seed=0)
    assert [int(p.y.sum()) for p in split] == [6, 2, 2]


@pytest.mark.parametrize(
    ("fractions", "exc", "match"),
    [
        ((0.6, 0.3, 0.2), ValueError, "fractions must sum to 1"),
        ((0.8, 0.2), ValueError, "fractions must be three numbers"),
        ((1.0, 0.0, 0.0), ValueError, r"the train fraction must be in \(0, 1\), got 1.0"),
        ((0.9, -0.1, 0.2), ValueError, r"the dev fraction must be in \(0, 1\), got -0.1"),
        ("abc", TypeError, "fractions must be three numbers"),
    ],
)
def test_split_validates_fractions(fractions, exc, match):
    X, y = _ids(20)
    with pytest.raises(exc, match=match):
        train_dev_test_split(X, y, fractions=fractions)


def test_split_other_errors():
    X, y = _ids(20)
    with pytest.raises(ValueError, match="X has 20 samples but y has 19"):
        train_dev_test_split(X, y[:-1])
    with pytest.raises(ValueError, match="need at least 3 samples"):
        train_dev_test_split(X[:2], y[:2])
    with pytest.raises(ValueError, match="non-integer values"):
        train_dev_test_split(X, np.linspace(0, 1, 20), stratify=True)


# --- k-fold ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "k"), [(10, 5), (11, 3), (7, 7), (100, 10)])
def test_kfold_matches_sklearn(n, k):
    X = np.zeros((n, 2))
    ours = list(KFold(k).split(X))
    ref = list(skms.KFold(k).split(X))
    assert len(ours) == len(ref) == k
    for (tr, va), (rtr, rva) in zip(ours, ref):
        np.testing.assert_array_equal(tr, rtr)
        np.testing.assert_array_equal(va, rva)


def test_kfold_shuffle_partitions_and_is_reproducible():
    X = np.zeros((23, 1))
    folds = list(KFold(4, shuffle=True, seed=0).split(X))
    again = list(KFold(4, shuffle=True, seed=0).split(X))
    val = np.concatenate([v for _, v in folds])
    assert sorted(val.tolist()) == list(range(23))
    assert [len(v) for _, v in folds] == [6, 6, 6, 5]
    for (tr, va), (_, va2) in zip(folds, again):
        assert np.intersect1d(tr, va).size == 0 and len(tr) + len(va) == 23
        np.testing.assert_array_equal(va, va2)
        np.testing.assert_array_equal(va, np.sort(va))
    assert not np.array_equal(folds[0][1], np.arange(6))
    splitter = KFold(4, shuffle=True, seed=np.random.default_rng(0))
    first, second = list(splitter.split(X)), list(splitter.split(X))
    assert not np.array_equal(first[0][1], second[0][1])  # a Generator advances


def test_kfold_validation():
    with pytest.raises(ValueError, match="n_splits must be an int >= 2, got 1"):
        KFold(1)
    with pytest.raises(TypeError, match="n_splits must be an int"):
        KFold(2.5)
    with pytest.raises(ValueError, match="seed has no effect when shuffle=False"):
        KFold(3, seed=0)
    with pytest.raises(ValueError, match="n_splits=5 cannot be greater than the number of "
                                         "samples n=4"):
        list(KFold(5).split(np.zeros(4)))
    assert KFold(3).get_n_splits() == 3


@pytest.mark.parametrize(
    "y",
    [
        np.array([0, 0, 0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 2]),
        np.array([2, 1, 1, 0, 2, 2, 1, 0, 0, 2, 1, 1, 1, 0, 2]),
        np.array(["b", "a", "b", "a", "b", "b", "a", "b"]),
    ],
)
def test_stratified_kfold_matches_sklearn(y):
    X = np.zeros((len(y), 1))
    ours = list(StratifiedKFold(3).split(X, y))
    ref = list(skms.StratifiedKFold(3).split(X, y))
    for (tr, va), (rtr, rva) in zip(ours, ref):
        np.testing.assert_array_equal(tr, rtr)
        np.testing.assert_array_equal(va, rva)


def test_stratified_kfold_shuffle_proportions():
    rng = np.random.default_rng(1)
    y = rng.choice(3, size=300, p=[0.5, 0.3, 0.2])
    counts = np.bincount(y)
    folds = list(StratifiedKFold(5, shuffle=True, seed=1).split(np.zeros(300), y))
    assert sorted(np.concatenate([v for _, v in folds]).tolist()) == list(range(300))
    for _, va in folds:
        assert np.all(np.abs(np.bincount(y[va], minlength=3) - counts / 5) <= 1)


def test_stratified_kfold_validation():
    y = np.array([0, 0, 1, 1, 1, 1])
    with pytest.raises(ValueError, match="cannot be greater than the number of members"):
        list(StratifiedKFold(5).split(np.zeros(6), np.array([0, 0, 0, 1, 1, 1])))
    with pytest.warns(UserWarning, match="least populated class in y has only 2 members"):
        list(StratifiedKFold(3).split(np.zeros(6), y))
    with pytest.raises(ValueError, match="needs the class labels y"):
        list(StratifiedKFold(2).split(np.zeros(6)))
