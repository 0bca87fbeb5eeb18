"""Datasets: generated, bundled with scikit-learn, and loaded from the user's files.

Every loader returns a :class:`Dataset` and nothing is downloaded at run time: the generated
sets are computed from a formula (documented on each function), the bundled ones ship inside
scikit-learn (``sklearn.datasets.load_*``), and ``load_csv`` / ``load_npz`` read local files.

Select by name with :func:`load_dataset` (the CLI and config files do this) and list the
choices with :func:`list_datasets`.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from .._checks import check_int, check_nonneg
from .preprocessing import Seed, check_lengths, check_seed

__all__ = [
    "DATASETS",
    "IMAGE_SHAPES",
    "MNIST1D_SPLIT",
    "Dataset",
    "DatasetInfo",
    "as_images",
    "breast_cancer",
    "cache_dir",
    "circles",
    "diabetes",
    "digits",
    "higham",
    "house_prices",
    "iris",
    "list_datasets",
    "load_csv",
    "load_dataset",
    "load_npz",
    "mnist1d",
    "mnist1d_shuffled",
    "moons",
    "spirals",
    "universal",
    "wine",
    "xor",
]

TASKS = ("classification", "regression")


@dataclass(frozen=True, eq=False)
class Dataset:
    """A dataset: features ``X``, targets ``y`` and what they mean.

    Parameters
    ----------
    X : ndarray of float, shape (n, d)
        One sample per row.
    y : ndarray, shape (n,) or (n, k)
        int64 class indices ``0 … K−1`` for classification, float for regression.
    name : str
    task : {"classification", "regression"}
    description : str
        A few sentences, including the source.
    feature_names : tuple of str, length d
    target_names : tuple of str
        Class names (index ``k`` names class ``k``) for classification; the name of each
        target column for regression.

    A ``Dataset`` unpacks like a pair, so ``X, y = iris()`` works.

    >>> ds = higham()
    >>> ds.X.shape, ds.y.shape, ds.n_classes
    ((10, 2), (10,), 2)
    >>> X, y = ds
    """

    X: np.ndarray
    y: np.ndarray
    name: str
    task: str
    description: str
    feature_names: tuple[str, ...]
    target_names: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {self.task!r}")
        if not isinstance(self.X, np.ndarray) or self.X.ndim != 2:
            raise ValueError(f"X must be a 2-D ndarray (n, d), got shape {np.shape(self.X)}")
        if not np.issubdtype(self.X.dtype, np.floating):
            raise TypeError(f"X must be a float array, got dtype {self.X.dtype}")
        if not isinstance(self.y, np.ndarray) or self.y.ndim not in (1, 2):
            raise ValueError(f"y must be a 1-D or 2-D ndarray, got shape {np.shape(self.y)}")
        check_lengths(self.X, self.y)
        if len(self.feature_names) != self.X.shape[1]:
            raise ValueError(
                f"feature_names has {len(self.feature_names)} names but X has "
                f"{self.X.shape[1]} columns"
            )
        if self.task == "classification":
            if self.y.dtype != np.int64 or self.y.ndim != 1:
                raise TypeError(
                    f"classification y must be int64 of shape (n,), got {self.y.dtype} "
                    f"{self.y.shape}"
                )
            if self.y.size and (self.y.min() < 0 or self.y.max() >= len(self.target_names)):
                raise ValueError(
                    f"class labels must lie in 0..{len(self.target_names) - 1} "
                    f"(one per target name), got {self.y.min()}..{self.y.max()}"
                )
        elif not np.issubdtype(self.y.dtype, np.floating):
            raise TypeError(f"regression y must be float, got dtype {self.y.dtype}")

    @property
    def n_samples(self) -> int:
        """``n``, the number of rows."""
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        """``d``, the number of columns of ``X``."""
        return int(self.X.shape[1])

    @property
    def n_classes(self) -> int | None:
        """``K`` for classification, ``None`` for regression."""
        return len(self.target_names) if self.task == "classification" else None

    @property
    def classes(self) -> np.ndarray | None:
        """The class indices ``[0, …, K−1]`` (``None`` for regression)."""
        k = self.n_classes
        return None if k is None else np.arange(k, dtype=np.int64)

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter((self.X, self.y))

    def __repr__(self) -> str:
        extra = f", n_classes={self.n_classes}" if self.task == "classification" else ""
        return (
            f"Dataset(name={self.name!r}, task={self.task!r}, n_samples={self.n_samples}, "
            f"n_features={self.n_features}{extra})"
        )


def _two_class(
    X0: np.ndarray, X1: np.ndarray, rng: np.random.Generator, noise: float
) -> tuple[np.ndarray, np.ndarray]:
    """Stack two classes, add ``N(0, noise²)`` to every coordinate, shuffle the rows."""
    X = np.vstack([X0, X1])
    y = np.concatenate([np.zeros(len(X0), np.int64), np.ones(len(X1), np.int64)])
    if noise > 0:
        X = X + noise * rng.standard_normal(X.shape)
    order = rng.permutation(len(X))
    return np.ascontiguousarray(X[order]), y[order]


# ---------------------------------------------------------------------------------------------
# generated datasets
# ---------------------------------------------------------------------------------------------

_HIGHAM_X1 = (0.1, 0.3, 0.1, 0.6, 0.4, 0.6, 0.5, 0.9, 0.4, 0.7)
_HIGHAM_X2 = (0.1, 0.4, 0.5, 0.9, 0.2, 0.3, 0.6, 0.2, 0.4, 0.6)


def higham() -> Dataset:
    """The 10-point two-class set of Higham & Higham (2019), their Figure 1.

    Points ``(x₁, x₂)`` in the unit square; the first five are class A (label 0), the last
    five class B (label 1). No two lines separate them, so a small network with a hidden
    layer is needed. Deterministic: no ``seed``.

    Reference: C. F. Higham and D. J. Higham, "Deep Learning: An Introduction for Applied
    Mathematicians", SIAM Review 61(4):860–891, 2019.

    >>> ds = higham()
    >>> ds.X[0], ds.y.tolist()
    (array([0.1, 0.1]), [0, 0, 0, 0, 0, 1, 1, 1, 1, 1])
    """
    X = np.column_stack([_HIGHAM_X1, _HIGHAM_X2]).astype(np.float64)
    y = np.array([0] * 5 + [1] * 5, dtype=np.int64)
    return Dataset(
        X=X,
        y=y,
        name="higham",
        task="classification",
        description=(
            "Ten points in the unit square in two classes, the running example of Higham "
            "and Higham (2019). Source: C. F. Higham and D. J. Higham, Deep Learning: An "
            "Introduction for Applied Mathematicians, SIAM Review 61(4), 2019. The first "
            "five points are class A (label 0), the last five class B (label 1)."
        ),
        feature_names=("x1", "x2"),
        target_names=("A", "B"),
    )


def spirals(n: int = 200, noise: float = 0.05, seed: Seed = 0, turns: float = 1.5) -> Dataset:
    """Two interleaved spirals (class 0 and class 1), a classic non-linear benchmark.

    For sample ``i`` of class ``k`` with ``u ~ U(0, 1)``::

        θ = 2π·turns·√u,   r = θ / (2π·turns)  (so r ∈ [0, 1])
        x = r·(cos(θ + kπ), sin(θ + kπ)) + ε,   ε ~ N(0, noise²·I)

    The second spiral is the first rotated by ``π``. ``√u`` spreads the points evenly
    along the curve.

    Parameters
    ----------
    n : int, default 200
        Total samples; class 0 gets ``⌈n/2⌉``, class 1 ``⌊n/2⌋``.
    noise : float >= 0, default 0.05
    seed : int, Generator or None, default 0
    turns : float > 0, default 1.5
        Turns of each spiral.

    >>> spirals(100).X.shape
    (100, 2)
    """
    n = check_int(n, "n", 2)
    noise = check_nonneg(noise, "noise")
    turns = check_nonneg(turns, "turns")
    if turns == 0:
        raise ValueError("turns must be > 0, got 0")
    rng = check_seed(seed)
    parts = []
    for k, m in enumerate((n - n // 2, n // 2)):
        theta = 2 * np.pi * turns * np.sqrt(rng.random(m))
        r = theta / (2 * np.pi * turns)
        phi = theta + k * np.pi
        parts.append(np.column_stack([r * np.cos(phi), r * np.sin(phi)]))
    X, y = _two_class(parts[0], parts[1], rng, noise)
    return Dataset(
        X=X,
        y=y,
        name="spirals",
        task="classification",
        description=(
            "Two interleaved spirals in the plane, one per class. Generated by chainrule: "
            "theta = 2*pi*turns*sqrt(u), r = theta/(2*pi*turns), the second spiral rotated by "
            "pi, plus Gaussian noise. A linear model fails; a small MLP separates them."
        ),
        feature_names=("x1", "x2"),
        target_names=("0", "1"),
    )


def moons(n: int = 200, noise: float = 0.1, seed: Seed = 0) -> Dataset:
    """Two interleaving half circles ("moons"), as scikit-learn's ``make_moons``.

    With ``t`` evenly spaced on ``[0, π]``::

        class 0:  (cos t, sin t)
        class 1:  (1 − cos t, 1 − sin t − 0.5)

    plus ``ε ~ N(0, noise²·I)``; rows are shuffled.

    Parameters
    ----------
    n : int >= 2, default 200
        Total samples; class 0 gets ``⌈n/2⌉``.
    noise : float >= 0, default 0.1
    seed : int, Generator or None, default 0

    >>> moons(10, noise=0.0).y.sum()
    np.int64(5)
    """
    n = check_int(n, "n", 2)
    noise = check_nonneg(noise, "noise")
    rng = check_seed(seed)
    n0, n1 = n - n // 2, n // 2
    t0, t1 = np.linspace(0, np.pi, n0), np.linspace(0, np.pi, n1)
    X0 = np.column_stack([np.cos(t0), np.sin(t0)])
    X1 = np.column_stack([1 - np.cos(t1), 1 - np.sin(t1) - 0.5])
    X, y = _two_class(X0, X1, rng, noise)
    return Dataset(
        X=X,
        y=y,
        name="moons",
        task="classification",
        description=(
            "Two interleaving half circles, one per class. Generated by chainrule with the "
            "formula of scikit-learn's make_moons plus Gaussian noise. Not linearly separable."
        ),
        feature_names=("x1", "x2"),
        target_names=("0", "1"),
    )


def circles(n: int = 200, noise: float = 0.05, seed: Seed = 0, factor: float = 0.5) -> Dataset:
    """A large circle (class 0) around a smaller one (class 1), as ``make_circles``.

    With ``t`` evenly spaced on ``[0, 2π)``::

        class 0:  (cos t, sin t)
        class 1:  factor·(cos t, sin t)

    plus ``ε ~ N(0, noise²·I)``; rows are shuffled.

    Parameters
    ----------
    n : int >= 2, default 200
    noise : float >= 0, default 0.05
    seed : int, Generator or None, default 0
    factor : float in (0, 1), default 0.5
        Radius of the inner circle.

    >>> X, y = circles(8, noise=0.0)
    >>> np.round(np.hypot(X[:, 0], X[:, 1])[y == 1], 6).tolist()
    [0.5, 0.5, 0.5, 0.5]
    """
    n = check_int(n, "n", 2)
    noise = check_nonneg(noise, "noise")
    if not 0 < factor < 1:
        raise ValueError(f"factor must be in (0, 1), got {factor}")
    rng = check_seed(seed)
    n0, n1 = n - n // 2, n // 2
    t0 = np.linspace(0, 2 * np.pi, n0, endpoint=False)
    t1 = np.linspace(0, 2 * np.pi, n1, endpoint=False)
    X0 = np.column_stack([np.cos(t0), np.sin(t0)])
    X1 = factor * np.column_stack([np.cos(t1), np.sin(t1)])
    X, y = _two_class(X0, X1, rng, noise)
    return Dataset(
        X=X,
        y=y,
        name="circles",
        task="classification",
        description=(
            "A circle of radius 1 (class 0) around a circle of radius factor (class 1). "
            "Generated by chainrule with the formula of scikit-learn's make_circles plus "
            "Gaussian noise."
        ),
        feature_names=("x1", "x2"),
        target_names=("0", "1"),
    )


def xor(n: int = 200, noise: float = 0.1, seed: Seed = 0) -> Dataset:
    """The XOR problem: noisy copies of the four corners of the unit square.

    Sample ``i`` is the corner ``c = (c₁, c₂) ∈ {0, 1}²`` number ``i mod 4`` plus noise, and
    its label is ``y = c₁ XOR c₂``::

        x = c + ε,   ε ~ N(0, noise²·I),   y = c₁ ⊕ c₂

    No line separates the classes (Minsky and Papert's example); one hidden layer does.
    With ``n=4, noise=0`` it is the truth table. Rows are shuffled.

    Parameters
    ----------
    n : int >= 1, default 200
    noise : float >= 0, default 0.1
    seed : int, Generator or None, default 0

    >>> X, y = xor(4, noise=0.0)
    >>> bool(np.all(y == (X[:, 0] != X[:, 1])))
    True
    """
    n = check_int(n, "n", 1)
    noise = check_nonneg(noise, "noise")
    rng = check_seed(seed)
    corners = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    c = corners[np.arange(n) % 4]
    y = (c[:, 0] != c[:, 1]).astype(np.int64)
    X = c + noise * rng.standard_normal(c.shape) if noise > 0 else c.copy()
    order = rng.permutation(n)
    return Dataset(
        X=np.ascontiguousarray(X[order]),
        y=y[order],
        name="xor",
        task="classification",
        description=(
            "Noisy copies of the four corners of the unit square labelled x1 XOR x2. "
            "Generated by chainrule. The classic problem a single neuron cannot solve."
        ),
        feature_names=("x1", "x2"),
        target_names=("0", "1"),
    )


def house_prices(n: int = 200, noise: float = 20.0, seed: Seed = 0) -> Dataset:
    """Synthetic house prices from size and number of rooms (regression).

    The single-neuron example of the textbook (price from size), with a second feature::

        size  ~ U(40, 250)                                   (m²)
        rooms = clip(round(size / 35 + η), 1, 8),  η ~ N(0, 0.5²)
        price = 50 + 2·size + 15·rooms + ε,        ε ~ N(0, noise²)   (thousands)

    Parameters
    ----------
    n : int >= 1, default 200
    noise : float >= 0, default 20.0
        Standard deviation of ``ε``, in thousands.
    seed : int, Generator or None, default 0

    Returns
    -------
    Dataset
        ``X`` columns ``("size_m2", "rooms")``, ``y`` float64 of shape (n,).

    >>> ds = house_prices(5, noise=0.0)
    >>> bool(np.allclose(ds.y, 50 + 2 * ds.X[:, 0] + 15 * ds.X[:, 1]))
    True
    """
    n = check_int(n, "n", 1)
    noise = check_nonneg(noise, "noise")
    rng = check_seed(seed)
    size = rng.uniform(40.0, 250.0, n)
    rooms = np.clip(np.round(size / 35.0 + 0.5 * rng.standard_normal(n)), 1, 8)
    price = 50.0 + 2.0 * size + 15.0 * rooms
    if noise > 0:
        price = price + noise * rng.standard_normal(n)
    return Dataset(
        X=np.column_stack([size, rooms]),
        y=price,
        name="house_prices",
        task="regression",
        description=(
            "Synthetic house prices (thousands) from size in square metres and number of "
            "rooms. Generated by chainrule: price = 50 + 2*size + 15*rooms + N(0, noise^2), "
            "size ~ U(40, 250), rooms = clip(round(size/35 + N(0, 0.25)), 1, 8)."
        ),
        feature_names=("size_m2", "rooms"),
        target_names=("price_k",),
    )


def universal(n: int = 200, noise: float = 0.0, seed: Seed = 0) -> Dataset:
    """A bumpy 1-D function for the universal approximation theorem (regression).

    On an even grid ``x ∈ [0, 1]``::

        f(x) = sin(2πx) + 0.3·sin(6πx)
        y = f(x) + ε,   ε ~ N(0, noise²)

    One hidden layer with enough units approximates ``f`` as closely as wanted.

    Parameters
    ----------
    n : int >= 2, default 200
    noise : float >= 0, default 0.0
    seed : int, Generator or None, default 0
        Used only when ``noise > 0``.

    >>> ds = universal(3)
    >>> ds.X.ravel().tolist(), np.round(ds.y, 6).tolist()
    ([0.0, 0.5, 1.0], [0.0, 0.0, -0.0])
    """
    n = check_int(n, "n", 2)
    noise = check_nonneg(noise, "noise")
    rng = check_seed(seed)
    x = np.linspace(0.0, 1.0, n)
    y = np.sin(2 * np.pi * x) + 0.3 * np.sin(6 * np.pi * x)
    if noise > 0:
        y = y + noise * rng.standard_normal(n)
    return Dataset(
        X=x[:, None],
        y=y,
        name="universal",
        task="regression",
        description=(
            "The function f(x) = sin(2 pi x) + 0.3 sin(6 pi x) on an even grid of [0, 1], "
            "optionally with Gaussian noise. Generated by chainrule to illustrate the "
            "universal approximation theorem."
        ),
        feature_names=("x",),
        target_names=("f(x)",),
    )


# ---------------------------------------------------------------------------------------------
# bundled with scikit-learn (no download)
# ---------------------------------------------------------------------------------------------


_SKLEARN_FEATURES = {
    "load_iris": ("sepal length (cm)", "sepal width (cm)", "petal length (cm)",
                  "petal width (cm)"),
    "load_wine": ("alcohol", "malic_acid", "ash", "alcalinity_of_ash", "magnesium",
                  "total_phenols", "flavanoids", "nonflavanoid_phenols", "proanthocyanins",
                  "color_intensity", "hue", "od280/od315_of_diluted_wines", "proline"),
    "load_breast_cancer": tuple(
        f"{kind}{what}{suffix}" for kind, suffix in (("mean ", ""), ("", " error"),
                                                    ("worst ", ""))
        for what in ("radius", "texture", "perimeter", "area", "smoothness", "compactness",
                     "concavity", "concave points", "symmetry", "fractal dimension")),
    "load_diabetes": ("age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"),
}
_SKLEARN_CSV = {"load_iris": "iris.csv", "load_wine": "wine_data.csv",
                "load_breast_cancer": "breast_cancer.csv"}


class _Bunch(NamedTuple):
    data: np.ndarray
    target: np.ndarray
    target_names: tuple[str, ...]
    feature_names: tuple[str, ...]


def _read_sklearn_files(loader_name: str, **kwargs: Any) -> _Bunch | None:
    """The data files scikit-learn bundles, read without importing scikit-learn.

    Importing ``sklearn.datasets`` costs a second or more (it pulls in SciPy); the files
    are plain CSV in ``sklearn/datasets/data`` and read the way scikit-learn's loaders read
    them (tested against them). Returns None when scikit-learn or a file is missing, or for
    arguments other than the defaults used here, so the caller falls back to scikit-learn.
    """
    import gzip
    import importlib.util

    spec = importlib.util.find_spec("sklearn")  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = os.path.join(next(iter(spec.submodule_search_locations)), "datasets", "data")
    try:
        if loader_name in _SKLEARN_CSV and not kwargs:
            with open(os.path.join(folder, _SKLEARN_CSV[loader_name]), encoding="utf-8") as f:
                head = next(csv.reader(f))
                table = np.loadtxt(f, delimiter=",", ndmin=2)
            n, d = int(head[0]), int(head[1])
            if table.shape != (n, d + 1):
                return None
            return _Bunch(table[:, :d], table[:, d].astype(np.int64), tuple(head[2:]),
                          _SKLEARN_FEATURES[loader_name])
        if loader_name == "load_digits" and not kwargs:
            with gzip.open(os.path.join(folder, "digits.csv.gz"), "rt") as f:
                table = np.loadtxt(f, delimiter=",", ndmin=2)
            names = tuple(f"pixel_{i}_{j}" for i in range(8) for j in range(8))
            return _Bunch(table[:, :-1], table[:, -1].astype(np.int64),
                          tuple(str(k) for k in range(10)), names)
        if loader_name == "load_diabetes" and kwargs == {"scaled": False}:
            with gzip.open(os.path.join(folder, "diabetes_data_raw.csv.gz"), "rt") as f:
                X = np.loadtxt(f, ndmin=2)
            with gzip.open(os.path.join(folder, "diabetes_target.csv.gz"), "rt") as f:
                y = np.loadtxt(f)
            return _Bunch(X, y, ("target",), _SKLEARN_FEATURES[loader_name])
    except (OSError, ValueError, StopIteration):
        return None
    return None


def _from_sklearn(
    loader_name: str,
    name: str,
    task: str,
    description: str,
    target_names: Sequence[str] | None = None,
    **kwargs: Any,
) -> Dataset:
    bunch = _read_sklearn_files(loader_name, **kwargs)
    if bunch is None:
        from sklearn import datasets as skd  # heavy import, only when needed

        bunch = getattr(skd, loader_name)(**kwargs)
    X = np.ascontiguousarray(bunch.data, dtype=np.float64)
    if task == "classification":
        y = np.asarray(bunch.target, dtype=np.int64)
        names = tuple(str(t) for t in (target_names or bunch.target_names))
    else:
        y = np.asarray(bunch.target, dtype=np.float64)
        names = tuple(target_names or ("target",))
    return Dataset(
        X=X,
        y=y,
        name=name,
        task=task,
        description=description,
        feature_names=tuple(str(f) for f in bunch.feature_names),
        target_names=names,
    )


def digits() -> Dataset:
    """Handwritten digits: 1797 images of 8×8 pixels, 10 classes (0–9).

    ``X[i]`` is the image flattened row by row (64 values, grey levels ``0 … 16``); reshape
    with ``X.reshape(-1, 8, 8)``. Bundled with scikit-learn.

    >>> digits().X.shape
    (1797, 64)
    """
    return _from_sklearn(
        "load_digits",
        "digits",
        "classification",
        (
            "1797 handwritten digits as 8x8 images of grey levels 0 to 16, ten classes. "
            "Source: UCI ML hand-written digits (optical recognition) data set, bundled with "
            "scikit-learn. Pixels are flattened row by row into 64 features."
        ),
        target_names=[str(k) for k in range(10)],
    )


# ---------------------------------------------------------------------------------------------
# MNIST-1D, generated locally by the mnist1d package's own generator (no download, no pickle)
# ---------------------------------------------------------------------------------------------

MNIST1D_SPLIT = 4000
"""The paper's split: the first 4,000 rows of :func:`mnist1d` are its training set, the
last 1,000 its test set."""

IMAGE_SHAPES: dict[str, tuple[int, ...]] = {
    "digits": (1, 8, 8),
    "mnist1d": (1, 40),
    "mnist1d_shuffled": (1, 40),
}
"""The sample shape ``(C, L)`` or ``(C, H, W)`` a convolutional network reads for the
datasets whose rows are flattened signals or images (see :func:`as_images`)."""


def cache_dir() -> str:
    """The folder where generated datasets are cached: ``$CHAINRULE_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/chainrule``, else ``~/.cache/chainrule``."""
    env = os.environ.get("CHAINRULE_CACHE_DIR")
    if env:
        return env
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "chainrule")


def _mnist1d_arrays(shuffle_positions: bool) -> dict[str, np.ndarray]:
    """The generator's output (``x``, ``y``, ``x_test``, ``y_test``, ``t``), cached as
    ``.npz`` (written atomically; read with ``allow_pickle=False``)."""
    from importlib.metadata import version

    try:
        ver = version("mnist1d")
    except Exception as err:  # PackageNotFoundError
        raise ImportError(
            "mnist1d: the generator is the 'mnist1d' package: pip install 'chainrule[all]' "
            "(or pip install mnist1d)"
        ) from err
    folder = cache_dir()
    path = os.path.join(folder, f"mnist1d-{ver}-{'shuffled' if shuffle_positions else 'plain'}"
                        ".npz")
    if os.path.exists(path):
        with np.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    import random

    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()  # the paper's defaults: 5,000 samples, length 40, seed 42
    args.shuffle_seq = bool(shuffle_positions)
    # the generator seeds NumPy's and Python's global generators: restore them afterwards
    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        raw = make_dataset(args)
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    arrays = {k: np.asarray(raw[k]) for k in ("x", "y", "x_test", "y_test", "t")}
    os.makedirs(folder, exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp.npz"
    np.savez(tmp, **arrays)
    os.replace(tmp, path)
    return arrays


def mnist1d(split: str = "all", shuffle_positions: bool = False) -> Dataset:
    """MNIST-1D: 5,000 one-dimensional signals of length 40, ten classes (Greydanus 2020).

    Each signal is one of ten fixed templates (the digits' strokes as 1-D curves) padded,
    translated, scaled, sheared, with correlated and white noise added and resampled to 40
    points; a linear model reaches ~32 %, an MLP ~68 %, a CNN ~94 %. Generated locally by
    the ``mnist1d`` package's own ``make_dataset`` with the paper's default arguments
    (seed 42), so the numbers are the paper's; cached as ``.npz`` under :func:`cache_dir`
    (nothing is downloaded, nothing is unpickled). The first call takes a few seconds.

    Parameters
    ----------
    split : {"all", "train", "test"}
        ``"train"``: the paper's 4,000 training rows; ``"test"``: its 1,000 test rows;
        ``"all"``: both, training rows first (:data:`MNIST1D_SPLIT`).
    shuffle_positions : bool
        The paper's control: the 40 positions permuted by one fixed permutation (the same
        for every signal), which destroys the spatial structure a CNN relies on and leaves
        an MLP unaffected.

    Reference: S. Greydanus and D. Kobak, "Scaling Down Deep Learning with MNIST-1D",
    ICML 2024 (arXiv:2011.14439).

    >>> ds = mnist1d("train")
    >>> ds.X.shape, ds.n_classes, as_images(ds).shape
    ((4000, 40), 10, (4000, 1, 40))
    """
    if split not in ("all", "train", "test"):
        raise ValueError(f"mnist1d: split must be 'all', 'train' or 'test', got {split!r}")
    a = _mnist1d_arrays(bool(shuffle_positions))
    parts = {"train": [("x", "y")], "test": [("x_test", "y_test")],
             "all": [("x", "y"), ("x_test", "y_test")]}[split]
    X = np.ascontiguousarray(np.concatenate([a[x] for x, _ in parts]), dtype=np.float64)
    y = np.concatenate([a[t] for _, t in parts]).astype(np.int64)
    name = "mnist1d_shuffled" if shuffle_positions else "mnist1d"
    return Dataset(
        X=X,
        y=y,
        name=name,
        task="classification",
        description=(
            "MNIST-1D: one-dimensional signals of length 40 in ten classes, generated by the "
            "mnist1d package with the paper's default arguments (5,000 samples; the first "
            "4,000 train, the last 1,000 test). Source: Greydanus and Kobak, Scaling Down "
            "Deep Learning with MNIST-1D, ICML 2024."
            + (" Positions permuted by one fixed permutation." if shuffle_positions else "")
        ),
        feature_names=tuple(f"x{i}" for i in range(X.shape[1])),
        target_names=tuple(str(k) for k in range(10)),
    )


def mnist1d_shuffled(split: str = "all") -> Dataset:
    """:func:`mnist1d` with its positions permuted (``shuffle_positions=True``).

    >>> mnist1d_shuffled("test").X.shape
    (1000, 40)
    """
    return mnist1d(split, shuffle_positions=True)


def as_images(ds: Dataset, shape: Sequence[int] | None = None) -> np.ndarray:
    """The rows of ``ds.X`` reshaped to samples of ``shape`` (default
    :data:`IMAGE_SHAPES` for the dataset): ``(n, C, L)`` or ``(n, C, H, W)`` for a CNN.

    Raises
    ------
    ValueError
        No shape known for the dataset, or one that does not hold ``n_features`` values.

    >>> as_images(digits()).shape
    (1797, 1, 8, 8)
    """
    if shape is None:
        if ds.name not in IMAGE_SHAPES:
            raise ValueError(
                f"as_images: no image shape known for dataset {ds.name!r} (known: "
                f"{', '.join(IMAGE_SHAPES)}); pass shape=(C, L) or (C, H, W)"
            )
        shape = IMAGE_SHAPES[ds.name]
    shape = tuple(int(s) for s in shape)
    if int(np.prod(shape)) != ds.n_features:
        raise ValueError(
            f"as_images: shape {shape} holds {int(np.prod(shape))} values but {ds.name!r} "
            f"has {ds.n_features} features per row"
        )
    return ds.X.reshape((ds.n_samples,) + shape)


def iris() -> Dataset:
    """Fisher's iris flowers: 150 samples, 4 measurements (cm), 3 species.

    >>> iris().target_names
    ('setosa', 'versicolor', 'virginica')
    """
    return _from_sklearn(
        "load_iris",
        "iris",
        "classification",
        (
            "150 iris flowers, four measurements in cm, three species. Source: R. A. Fisher "
            "(1936), UCI ML repository, bundled with scikit-learn."
        ),
    )


def wine() -> Dataset:
    """Wine recognition: 178 wines, 13 chemical measurements, 3 cultivars.

    >>> wine().X.shape
    (178, 13)
    """
    return _from_sklearn(
        "load_wine",
        "wine",
        "classification",
        (
            "178 Italian wines, 13 results of chemical analysis, three cultivars. Source: "
            "UCI ML wine recognition data set, bundled with scikit-learn. Features have very "
            "different scales, so standardise them."
        ),
    )


def breast_cancer() -> Dataset:
    """Breast cancer Wisconsin (diagnostic): 569 tumours, 30 features, 2 classes.

    Label 0 is malignant, 1 benign (scikit-learn's coding).

    >>> breast_cancer().target_names
    ('malignant', 'benign')
    """
    return _from_sklearn(
        "load_breast_cancer",
        "breast_cancer",
        "classification",
        (
            "569 breast tumours described by 30 features of cell nuclei, malignant (0) or "
            "benign (1). Source: Breast Cancer Wisconsin (Diagnostic), UCI ML repository, "
            "bundled with scikit-learn."
        ),
    )


def diabetes() -> Dataset:
    """Diabetes progression: 442 patients, 10 baseline variables, regression target.

    The raw (unscaled) variables: age, sex, BMI, blood pressure and six blood serum
    measurements; ``y`` is a measure of disease progression one year after baseline.

    >>> diabetes().task
    'regression'
    """
    return _from_sklearn(
        "load_diabetes",
        "diabetes",
        "regression",
        (
            "442 diabetes patients, ten baseline variables (age, sex, BMI, blood pressure, six "
            "serum measurements), target a measure of disease progression one year later. "
            "Source: Efron et al. (2004), Least Angle Regression, bundled with scikit-learn. "
            "Features are unscaled."
        ),
        target_names=["progression"],
        scaled=False,
    )


# ---------------------------------------------------------------------------------------------
# user files
# ---------------------------------------------------------------------------------------------


def _encode_classes(values: np.ndarray) -> tuple[np.ndarray, tuple[str, ...]]:
    """Class values → indices ``0 … K−1`` (sorted order) and their names."""
    classes, y = np.unique(values, return_inverse=True)
    names = []
    for c in classes:
        c = c.item() if isinstance(c, np.generic) else c
        if isinstance(c, float) and c.is_integer():
            c = int(c)
        names.append(str(c))
    return y.astype(np.int64).reshape(-1), tuple(names)


def _is_class_like(values: np.ndarray) -> bool:
    """Integer-valued with at most 20 distinct values: treat as class labels."""
    if np.issubdtype(values.dtype, np.bool_) or np.issubdtype(values.dtype, np.integer):
        return len(np.unique(values)) <= 20
    if not np.issubdtype(values.dtype, np.floating) or not np.all(np.isfinite(values)):
        return False
    return bool(np.all(values == np.round(values))) and len(np.unique(values)) <= 20


def _check_task(task: str) -> str:
    if task not in ("auto", *TASKS):
        raise ValueError(f"task must be one of {('auto', *TASKS)}, got {task!r}")
    return task


def _dataset_name(path: str | os.PathLike) -> str:
    return os.path.splitext(os.path.basename(os.fspath(path)))[0]


def load_csv(
    path: str | os.PathLike,
    target: str,
    task: str = "auto",
    delimiter: str = ",",
    name: str | None = None,
) -> Dataset:
    """Load a CSV file with a header row; the column named ``target`` becomes ``y``.

    Every other column must be numeric (``nan``/``inf`` are read as such; fit-time checks
    report them). The target decides the task when ``task="auto"``: text labels or at most 20
    distinct integer values mean classification (labels are encoded as ``0 … K−1`` in
    sorted order, ``target_names`` keeps the original values); anything else is regression.

    Parameters
    ----------
    path : str or PathLike
    target : str
        Name of the target column in the header.
    task : {"auto", "classification", "regression"}, default "auto"
    delimiter : str, default ","
    name : str, optional
        Dataset name; default the file name without extension.

    Raises
    ------
    ValueError
        A missing target column (the message lists the columns), a non-numeric or empty
        cell (the message names its row and column), a row of the wrong length.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = p.write_text("a,b,label\\n1,2,cat\\n3,4,dog\\n")
    >>> ds = load_csv(p, target="label")
    >>> ds.X.tolist(), ds.y.tolist(), ds.target_names
    ([[1.0, 2.0], [3.0, 4.0]], [0, 1], ('cat', 'dog'))
    """
    if not isinstance(target, str):
        raise TypeError(f"target must be a column name (str), got {type(target).__name__}")
    _check_task(task)
    fname = os.fspath(path)
    with open(fname, newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh, delimiter=delimiter))
    rows = [r for r in rows if any(cell.strip() for cell in r)]  # skip blank lines
    if not rows:
        raise ValueError(f"{fname} is empty; expected a header row")
    header = [h.strip() for h in rows[0]]
    if target not in header:
        raise ValueError(
            f"target column {target!r} not found in {fname}; available columns: "
            f"{', '.join(repr(h) for h in header)}"
        )
    if len(rows) < 2:
        raise ValueError(f"{fname} has a header but no data rows")
    t = header.index(target)
    features = [j for j in range(len(header)) if j != t]
    X = np.empty((len(rows) - 1, len(features)), dtype=np.float64)
    raw_y: list[str] = []
    for i, row in enumerate(rows[1:], start=1):
        if len(row) != len(header):
            raise ValueError(
                f"row {i} of {fname} has {len(row)} fields, but the header has {len(header)}"
            )
        for c, j in enumerate(features):
            X[i - 1, c] = _parse_float(row[j], fname, i, header[j])
        raw_y.append(row[t].strip())
    try:
        numeric: np.ndarray | None = np.array([float(v) for v in raw_y], dtype=np.float64)
    except ValueError:
        numeric = None
    if task == "auto":
        class_like = numeric is None or _is_class_like(numeric)
        task = "classification" if class_like else "regression"
    if task == "regression":
        y = np.array(
            [_parse_float(v, fname, i, target) for i, v in enumerate(raw_y, start=1)]
        )
        names: tuple[str, ...] = (target,)
    else:
        for i, v in enumerate(raw_y, start=1):
            if v == "":
                raise ValueError(f"empty cell in {fname} at row {i}, column {target!r}")
        y, names = _encode_classes(numeric if numeric is not None else np.array(raw_y))
    return Dataset(
        X=X,
        y=y,
        name=name or _dataset_name(fname),
        task=task,
        description=(
            f"Loaded from the CSV file {os.path.basename(fname)} with target column {target!r}. "
            f"{X.shape[0]} rows, {X.shape[1]} feature columns."
        ),
        feature_names=tuple(header[j] for j in features),
        target_names=names,
    )


def _parse_float(cell: str, fname: str, row: int, column: str) -> float:
    text = cell.strip()
    if text == "":
        raise ValueError(f"empty cell in {fname} at row {row}, column {column!r}")
    try:
        return float(text)
    except ValueError:
        raise ValueError(
            f"non-numeric value {text!r} in {fname} at row {row}, column {column!r}"
        ) from None


def load_npz(
    path: str | os.PathLike,
    x_key: str = "X",
    y_key: str = "y",
    task: str = "auto",
    name: str | None = None,
) -> Dataset:
    """Load ``X`` and ``y`` from a NumPy ``.npz`` archive (no pickles are loaded).

    ``X`` of shape (n,) becomes (n, 1); shape (n, …) is flattened to (n, d). With
    ``task="auto"``, integer, boolean or text ``y`` means classification (labels encoded as
    ``0 … K−1`` in sorted order, ``target_names`` keeps the originals), float ``y``
    regression.

    Parameters
    ----------
    path : str or PathLike
    x_key, y_key : str, default "X", "y"
        Names of the arrays in the archive.
    task : {"auto", "classification", "regression"}, default "auto"
    name : str, optional

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.npz"
    >>> np.savez(p, X=np.eye(2), y=np.array([3, 7]))
    >>> ds = load_npz(p)
    >>> ds.y.tolist(), ds.target_names
    ([0, 1], ('3', '7'))
    """
    _check_task(task)
    fname = os.fspath(path)
    try:
        archive = np.load(fname, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise ValueError(f"cannot read {fname} as a .npz archive: {e}") from None
    with archive:
        keys = list(archive.keys())
        for key, what in ((x_key, "x_key"), (y_key, "y_key")):
            if key not in keys:
                raise ValueError(
                    f"{what}={key!r} not found in {fname}; available arrays: {keys}"
                )
        X = np.asarray(archive[x_key])
        y = np.asarray(archive[y_key])
    if X.ndim == 0 or y.ndim == 0:
        raise ValueError(f"X and y must have a samples axis, got shapes {X.shape}, {y.shape}")
    check_lengths(X, y, (x_key, y_key))
    if not (np.issubdtype(X.dtype, np.number) or X.dtype == np.bool_):
        raise TypeError(f"{x_key} in {fname} must be numeric, got dtype {X.dtype}")
    X = X.reshape(X.shape[0], -1).astype(np.float64)
    is_numeric = np.issubdtype(y.dtype, np.number) or y.dtype == np.bool_
    if task == "auto":
        task = "regression" if np.issubdtype(y.dtype, np.floating) else "classification"
    if task == "classification":
        if y.ndim != 1:
            raise ValueError(f"classification {y_key} must be 1-D, got shape {y.shape}")
        y, names = _encode_classes(y)
    else:
        if not is_numeric:
            raise TypeError(f"regression {y_key} must be numeric, got dtype {y.dtype}")
        y = y.astype(np.float64)
        names = (y_key,) if y.ndim == 1 else tuple(f"{y_key}{k}" for k in range(y.shape[1]))
    return Dataset(
        X=X,
        y=y,
        name=name or _dataset_name(fname),
        task=task,
        description=(
            f"Loaded from the NumPy archive {os.path.basename(fname)} (arrays {x_key!r}, "
            f"{y_key!r}). {X.shape[0]} samples, {X.shape[1]} features."
        ),
        feature_names=tuple(f"x{j}" for j in range(X.shape[1])),
        target_names=names,
    )


# ---------------------------------------------------------------------------------------------
# registry
# ---------------------------------------------------------------------------------------------

DATASETS: dict[str, Callable[..., Dataset]] = {
    "higham": higham,
    "spirals": spirals,
    "moons": moons,
    "circles": circles,
    "xor": xor,
    "house_prices": house_prices,
    "universal": universal,
    "digits": digits,
    "mnist1d": mnist1d,
    "mnist1d_shuffled": mnist1d_shuffled,
    "iris": iris,
    "wine": wine,
    "breast_cancer": breast_cancer,
    "diabetes": diabetes,
}
"""Registry of built-in datasets: name → loader (called with keyword arguments)."""


def load_dataset(name: str | os.PathLike, **kwargs: Any) -> Dataset:
    """Load a dataset by registry name, or from a ``.csv`` / ``.npz`` path.

    Names are those of :data:`DATASETS` (case-insensitive, ``-`` accepted for ``_``);
    keyword arguments go to the loader (``load_dataset("moons", n=500, noise=0.2)``,
    ``load_dataset("houses.csv", target="price")``).

    Raises
    ------
    ValueError
        An unknown name; the message lists the valid names.

    >>> load_dataset("iris").name
    'iris'
    """
    if not isinstance(name, (str, os.PathLike)):
        raise TypeError(f"name must be a str or path, got {type(name).__name__}")
    text = os.fspath(name)
    lower = text.lower()
    if lower.endswith(".csv"):
        return load_csv(text, **kwargs)
    if lower.endswith(".npz"):
        return load_npz(text, **kwargs)
    key = lower.strip().replace("-", "_")
    if key not in DATASETS:
        raise ValueError(
            f"unknown dataset {text!r}; valid names: {', '.join(DATASETS)} "
            "(or a path ending in .csv or .npz)"
        )
    return DATASETS[key](**kwargs)


class DatasetInfo(NamedTuple):
    """One row of :func:`list_datasets`."""

    name: str
    task: str
    n_samples: int
    n_features: int
    n_classes: int | None
    description: str


def _first_sentence(text: str) -> str:
    parts = re.split(r"(?<=[.!?])\s+(?=[A-Z])", text.strip(), maxsplit=1)
    return parts[0]


def list_datasets() -> list[DatasetInfo]:
    """One row per built-in dataset (default arguments), for a table.

    Each row is ``(name, task, n_samples, n_features, n_classes, description)`` with the
    first sentence of the description; ``n_classes`` is ``None`` for regression.

    >>> list_datasets()[0][:5]
    ('higham', 'classification', 10, 2, 2)
    """
    rows = []
    for key, loader in DATASETS.items():
        ds = loader()
        rows.append(
            DatasetInfo(
                key, ds.task, ds.n_samples, ds.n_features, ds.n_classes,
                _first_sentence(ds.description),
            )
        )
    return rows
