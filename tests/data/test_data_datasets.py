"""Tests for chainrule.data.datasets."""

import dataclasses
import doctest

import numpy as np
import pytest

import chainrule
from chainrule.data import datasets as D
from chainrule.data.datasets import (
    DATASETS,
    Dataset,
    higham,
    list_datasets,
    load_csv,
    load_dataset,
    load_npz,
)
from doctest_helper import check_doctests

GENERATED = ["spirals", "moons", "circles", "xor", "house_prices", "universal"]


def test_docstring_examples():
    check_doctests(D, doctest.ELLIPSIS, more_than=10)


def test_higham_points_exact():
    ds = higham()
    x1 = [0.1, 0.3, 0.1, 0.6, 0.4, 0.6, 0.5, 0.9, 0.4, 0.7]
    x2 = [0.1, 0.4, 0.5, 0.9, 0.2, 0.3, 0.6, 0.2, 0.4, 0.6]
    assert ds.X.shape == (10, 2) and ds.X.dtype == np.float64
    assert ds.X[:, 0].tolist() == x1
    assert ds.X[:, 1].tolist() == x2
    assert ds.y.dtype == np.int64
    assert ds.y.tolist() == [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]
    assert ds.target_names == ("A", "B")
    assert ds.task == "classification" and ds.n_classes == 2
    assert "SIAM Review" in ds.description


def test_dataset_is_frozen_and_unpacks():
    ds = higham()
    with pytest.raises(dataclasses.FrozenInstanceError):
        ds.name = "other"
    X, y = ds
    assert X is ds.X and y is ds.y
    assert ds.classes.tolist() == [0, 1]
    assert "higham" in repr(ds)


def test_dataset_validates_its_fields():
    X = np.zeros((3, 2))
    with pytest.raises(ValueError, match="X has 3 samples but y has 2"):
        Dataset(X, np.zeros(2), "t", "regression", "", ("a", "b"), ("t",))
    with pytest.raises(ValueError, match="task must be one of"):
        Dataset(X, np.zeros(3), "t", "clustering", "", ("a", "b"), ("t",))
    with pytest.raises(TypeError, match="int64"):
        Dataset(X, np.zeros(3), "t", "classification", "", ("a", "b"), ("0",))
    with pytest.raises(ValueError, match="feature_names has 1 names"):
        Dataset(X, np.zeros(3), "t", "regression", "", ("a",), ("t",))


@pytest.mark.parametrize("name", GENERATED)
def test_generated_same_seed_same_arrays(name):
    loader = DATASETS[name]
    kwargs = {"noise": 0.1} if name == "universal" else {}
    a = loader(n=50, seed=3, **kwargs)
    b = loader(n=50, seed=3, **kwargs)
    c = loader(n=50, seed=np.random.default_rng(3), **kwargs)
    d = loader(n=50, seed=4, **kwargs)
    assert a.X.shape[0] == 50 and a.y.shape == (50,)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.y, b.y)
    np.testing.assert_array_equal(a.X, c.X)  # an int seed and default_rng(int) agree
    assert not (np.array_equal(a.X, d.X) and np.array_equal(a.y, d.y))
    if a.task == "classification":
        assert a.y.dtype == np.int64
        assert sorted(np.unique(a.y).tolist()) == [0, 1]
    else:
        assert a.y.dtype == np.float64


def test_seed_none_follows_manual_seed():
    chainrule.manual_seed(7)
    a = D.moons(n=30, seed=None)
    chainrule.manual_seed(7)
    b = D.moons(n=30, seed=None)
    np.testing.assert_array_equal(a.X, b.X)
    assert not np.array_equal(D.moons(n=30, seed=None).X, a.X)  # the global stream moved on


@pytest.mark.parametrize("name", ["spirals", "moons", "circles"])
def test_two_class_generators_are_balanced(name):
    ds = DATASETS[name](n=101, seed=0)
    assert np.bincount(ds.y).tolist() == [51, 50]


def test_moons_without_noise_lie_on_the_half_circles():
    ds = D.moons(n=40, noise=0.0)
    X0, X1 = ds.X[ds.y == 0], ds.X[ds.y == 1]
    np.testing.assert_allclose(np.hypot(X0[:, 0], X0[:, 1]), 1.0)
    np.testing.assert_allclose(np.hypot(X1[:, 0] - 1, X1[:, 1] - 0.5), 1.0)
    assert X0[:, 1].min() >= -1e-12 and X1[:, 1].max() <= 0.5 + 1e-12


def test_circles_radii():
    ds = D.circles(n=60, noise=0.0, factor=0.3)
    r = np.hypot(ds.X[:, 0], ds.X[:, 1])
    np.testing.assert_allclose(r[ds.y == 0], 1.0)
    np.testing.assert_allclose(r[ds.y == 1], 0.3)


def test_spirals_without_noise_have_radius_from_angle():
    ds = D.spirals(n=100, noise=0.0, turns=1.0)
    r = np.hypot(ds.X[:, 0], ds.X[:, 1])
    assert r.max() <= 1.0 + 1e-12
    # class 1 is class 0 rotated by pi: the angle of x equals 2*pi*r (+ pi for class 1)
    phi = np.arctan2(ds.X[:, 1], ds.X[:, 0])
    expected = 2 * np.pi * r + np.pi * ds.y
    diff = np.angle(np.exp(1j * (phi - expected)))
    np.testing.assert_allclose(diff, 0.0, atol=1e-9)


def test_xor_truth_table():
    ds = D.xor(n=4, noise=0.0)
    rows = sorted(zip(ds.X[:, 0].tolist(), ds.X[:, 1].tolist(), ds.y.tolist()))
    assert rows == [(0.0, 0.0, 0), (0.0, 1.0, 1), (1.0, 0.0, 1), (1.0, 1.0, 0)]
    noisy = D.xor(n=400, noise=0.1, seed=1)
    corner = np.round(noisy.X).clip(0, 1)
    assert np.mean((corner[:, 0] != corner[:, 1]) == noisy.y) > 0.95


def test_house_prices_formula():
    ds = D.house_prices(n=300, noise=0.0, seed=2)
    size, rooms = ds.X[:, 0], ds.X[:, 1]
    assert ds.task == "regression" and ds.feature_names == ("size_m2", "rooms")
    np.testing.assert_allclose(ds.y, 50 + 2 * size + 15 * rooms)
    assert size.min() >= 40 and size.max() <= 250
    assert set(np.unique(rooms)) <= set(range(1, 9))
    assert np.corrcoef(size, rooms)[0, 1] > 0.8
    noisy = D.house_prices(n=2000, noise=20.0, seed=2)
    resid = noisy.y - (50 + 2 * noisy.X[:, 0] + 15 * noisy.X[:, 1])
    assert abs(resid.std() - 20.0) < 1.5


def test_universal_function():
    ds = D.universal(n=101)
    x = ds.X[:, 0]
    assert ds.X.shape == (101, 1)
    np.testing.assert_allclose(x, np.linspace(0, 1, 101))
    np.testing.assert_allclose(ds.y, np.sin(2 * np.pi * x) + 0.3 * np.sin(6 * np.pi * x))


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"n": 0}, ValueError, "n must be an int >= 2, got 0"),
        ({"n": 10.0}, TypeError, "n must be an int"),
        ({"noise": -1.0}, ValueError, "noise must be a finite number >= 0, got -1.0"),
        ({"seed": 1.5}, TypeError, "seed must be an int, a numpy.random.Generator or None"),
        ({"seed": -1}, ValueError, "seed must be a non-negative int, got -1"),
    ],
)
def test_generator_argument_errors(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        D.moons(**kwargs)


@pytest.mark.parametrize(
    ("name", "shape", "n_classes"),
    [
        ("digits", (1797, 64), 10),
        ("iris", (150, 4), 3),
        ("wine", (178, 13), 3),
        ("breast_cancer", (569, 30), 2),
        ("diabetes", (442, 10), None),
    ],
)
def test_bundled_datasets(name, shape, n_classes):
    ds = load_dataset(name)
    assert ds.X.shape == shape and ds.X.dtype == np.float64
    assert ds.y.shape == (shape[0],)
    assert ds.n_classes == n_classes
    assert len(ds.feature_names) == shape[1]
    assert "scikit-learn" in ds.description
    if n_classes:
        assert ds.y.dtype == np.int64
        assert np.unique(ds.y).tolist() == list(range(n_classes))
    else:
        assert ds.task == "regression" and ds.y.dtype == np.float64


def test_diabetes_is_unscaled_and_iris_names():
    assert D.diabetes().X[:, 0].max() > 50  # age in years, not the scaled version
    assert D.iris().target_names == ("setosa", "versicolor", "virginica")
    assert D.digits().X.max() == 16.0


# --- files -----------------------------------------------------------------------------------


def test_load_csv_numeric_regression(tmp_path):
    p = tmp_path / "houses.csv"
    p.write_text("size,rooms,price\n50,2,210.5\n80,3,300.25\n120,4,410.0\n")
    ds = load_csv(p, target="price")
    assert ds.name == "houses" and ds.task == "regression"
    assert ds.feature_names == ("size", "rooms")
    np.testing.assert_array_equal(ds.X, [[50, 2], [80, 3], [120, 4]])
    np.testing.assert_array_equal(ds.y, [210.5, 300.25, 410.0])


def test_load_csv_classification_with_text_and_integer_labels(tmp_path):
    p = tmp_path / "flowers.csv"
    p.write_text("species,a,b\nvirginica,1,2\nsetosa,3,4\nvirginica,5,6\n")
    ds = load_csv(p, target="species")
    assert ds.task == "classification"
    assert ds.target_names == ("setosa", "virginica")
    assert ds.y.tolist() == [1, 0, 1] and ds.y.dtype == np.int64
    assert ds.X.tolist() == [[1, 2], [3, 4], [5, 6]]
    q = tmp_path / "ints.csv"
    q.write_text("a,label\n0.5,2\n1.5,5\n2.5,2\n")
    ds = load_csv(q, target="label")
    assert ds.task == "classification" and ds.target_names == ("2", "5")
    assert ds.y.tolist() == [0, 1, 0]
    ds = load_csv(q, target="label", task="regression")
    assert ds.y.tolist() == [2.0, 5.0, 2.0]


def test_load_csv_missing_column_lists_available(tmp_path):
    p = tmp_path / "d.csv"
    p.write_text("size,rooms,price\n1,2,3\n")
    with pytest.raises(ValueError) as info:
        load_csv(p, target="prize")
    msg = str(info.value)
    assert "'prize'" in msg and "'size'" in msg and "'rooms'" in msg and "'price'" in msg


def test_load_csv_non_numeric_cell_names_row_and_column(tmp_path):
    p = tmp_path / "d.csv"
    p.write_text("size,rooms,price\n1,2,3\n4,five,6\n")
    with pytest.raises(ValueError, match=r"'five'.*row 2, column 'rooms'"):
        load_csv(p, target="price")
    p.write_text("size,rooms,price\n1,2,3\n4,,6\n")
    with pytest.raises(ValueError, match=r"empty cell.*row 2, column 'rooms'"):
        load_csv(p, target="price")
    p.write_text("size,rooms,price\n1,2,3\n4,6\n")
    with pytest.raises(ValueError, match=r"row 2 .* has 2 fields, but the header has 3"):
        load_csv(p, target="price")
    p.write_text("size,rooms,price\n1,2,3\n4,5,lots\n")
    with pytest.raises(ValueError, match=r"'lots'.*row 2, column 'price'"):
        load_csv(p, target="price", task="regression")


def test_load_npz(tmp_path):
    p = tmp_path / "arr.npz"
    X = np.arange(12.0).reshape(3, 2, 2)
    np.savez(p, features=X, labels=np.array([4, 2, 4]))
    ds = load_npz(p, x_key="features", y_key="labels")
    assert ds.X.shape == (3, 4) and ds.task == "classification"
    assert ds.y.tolist() == [1, 0, 1] and ds.target_names == ("2", "4")
    with pytest.raises(ValueError, match=r"x_key='X' not found.*\['features', 'labels'\]"):
        load_npz(p)
    q = tmp_path / "reg.npz"
    np.savez(q, X=np.ones(4), y=np.linspace(0, 1, 4))
    ds = load_npz(q)
    assert ds.X.shape == (4, 1) and ds.task == "regression"
    r = tmp_path / "bad.npz"
    np.savez(r, X=np.ones((4, 2)), y=np.zeros(3))
    with pytest.raises(ValueError, match="X has 4 samples but y has 3"):
        load_npz(r)


# --- registry --------------------------------------------------------------------------------


def test_registry_names_and_unknown_name():
    assert set(DATASETS) == {
        "higham", "spirals", "moons", "circles", "xor", "house_prices", "universal",
        "digits", "iris", "wine", "breast_cancer", "diabetes", "mnist1d", "mnist1d_shuffled",
    }
    with pytest.raises(ValueError) as info:
        load_dataset("mnist")
    msg = str(info.value)
    assert "'mnist'" in msg
    assert all(name in msg for name in DATASETS)
    assert load_dataset("Breast-Cancer").name == "breast_cancer"
    assert load_dataset("moons", n=30, seed=1).n_samples == 30


def test_registry_dispatches_paths(tmp_path):
    p = tmp_path / "t.CSV"
    p.write_text("a,y\n1,0.5\n2,1.5\n3,2.25\n")
    assert load_dataset(str(p), target="y").task == "regression"
    q = tmp_path / "t.npz"
    np.savez(q, X=np.eye(3), y=np.array([0, 1, 1]))
    assert load_dataset(q).n_classes == 2


def test_list_datasets_rows():
    rows = list_datasets()
    assert [r.name for r in rows] == list(DATASETS)
    by_name = {r.name: r for r in rows}
    assert tuple(by_name["iris"][:5]) == ("iris", "classification", 150, 4, 3)
    assert tuple(by_name["diabetes"][:5]) == ("diabetes", "regression", 442, 10, None)
    for r in rows:
        assert r.description and r.description.endswith(".")
        assert r.description.count(". ") == 0  # just the first sentence
