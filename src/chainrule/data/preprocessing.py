"""Preprocessing: input checks, z-score and min-max scaling, one-hot encoding.

The scalers follow scikit-learn's shape of API (``fit`` / ``transform`` / ``fit_transform`` /
``inverse_transform``, fitted attributes ending in ``_``) and are fitted on the training set
only: the dev and test sets are transformed with the training statistics, never refitted,
so no information leaks from them into the model.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "MinMaxScaler",
    "NotFittedError",
    "Standardizer",
    "check_finite",
    "check_labels",
    "check_lengths",
    "check_seed",
    "one_hot",
]

Seed = int | np.random.Generator | None


class NotFittedError(ValueError, AttributeError):
    """Raised when ``transform`` (or ``state_dict``) is called before ``fit``.

    Subclasses ``ValueError`` and ``AttributeError``, like scikit-learn's error of the
    same name.

    >>> try:
    ...     Standardizer().transform([[1.0]])
    ... except NotFittedError as e:
    ...     print(e)
    Standardizer is not fitted yet; call fit(X) first
    """


# ---------------------------------------------------------------------------------------------
# input checks
# ---------------------------------------------------------------------------------------------


def check_seed(seed: Seed, name: str = "seed", own: bool = False) -> np.random.Generator:
    """Turn a seed into a ``numpy.random.Generator``.

    An int gives a new generator ``numpy.random.default_rng(seed)`` (same int, same stream);
    a ``Generator`` is returned as is (it is shared, and advances with every draw); ``None``
    means the library's global generator, which ``chainrule.manual_seed`` resets.

    Parameters
    ----------
    seed : int >= 0, numpy.random.Generator or None
    name : str, default "seed"
        Used in the error message.
    own : bool, default False
        With ``seed=None``, return a new generator seeded by one draw from the global one,
        for objects that keep a generator and restore its state (``DataLoader``,
        augmentations): reproducible after ``manual_seed``, and restoring it never
        touches the global generator.

    >>> int(check_seed(0).integers(10)) == int(check_seed(0).integers(10))
    True
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        from ..rng import get_rng  # NumPy only; the package root has imported it already

        shared = get_rng(None)
        return np.random.default_rng(int(shared.integers(2**63))) if own else shared
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(
            f"{name} must be an int, a numpy.random.Generator or None, "
            f"got {type(seed).__name__} {seed!r}"
        )
    if seed < 0:
        raise ValueError(f"{name} must be a non-negative int, got {seed}")
    return np.random.default_rng(int(seed))


def _numeric_array(X: Any, name: str) -> np.ndarray:
    """``np.asarray(X)`` with a clear ``TypeError`` for non-numeric data."""
    arr = np.asarray(X)
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
    ):
        raise TypeError(f"{name} must hold numbers, got an array of dtype {arr.dtype}")
    return arr


def check_finite(
    X: Any, name: str = "X", feature_names: Sequence[str] | None = None
) -> np.ndarray:
    """Check that an array holds no NaN or ±inf; return it as an ndarray.

    The error names the row and column of the first bad value (row-major order), so the
    offending cell can be found in the source file.

    Parameters
    ----------
    X : array_like, shape (n,) or (n, d) (any further axes are reported as an index)
    name : str, default "X"
        The array's name in the message.
    feature_names : sequence of str, optional
        Column names; when given the message also names the column.

    Raises
    ------
    ValueError
        ``X contains NaN at row 3, column 1 ('rooms')``.
    TypeError
        If ``X`` is not numeric.

    >>> check_finite([[1.0, 2.0], [3.0, float("nan")]])
    Traceback (most recent call last):
    ...
    ValueError: X contains NaN at row 1, column 1
    """
    arr = _numeric_array(X, name)
    if not np.issubdtype(arr.dtype, np.inexact):
        return arr  # integers and booleans are always finite
    bad = ~np.isfinite(arr)
    if not bad.any():
        return arr
    where = tuple(int(i) for i in np.argwhere(bad)[0])
    value = arr[where]
    what = "NaN" if np.isnan(value) else ("inf" if np.real(value) > 0 else "-inf")
    if arr.ndim == 0:
        raise ValueError(f"{name} is {what}")
    if arr.ndim == 1:
        raise ValueError(f"{name} contains {what} at index {where[0]}")
    column = f"column {where[1]}"
    if feature_names is not None and where[1] < len(feature_names):
        column += f" ({feature_names[where[1]]!r})"
    rest = f", index {where[2:]}" if arr.ndim > 2 else ""
    raise ValueError(f"{name} contains {what} at row {where[0]}, {column}{rest}")


def check_cast_finite(
    X: np.ndarray, name: str = "X", feature_names: Sequence[str] | None = None
) -> np.ndarray:
    """Check an array *after* its cast to a model's float dtype: a finite value that became
    ±inf overflowed the dtype (``1e39`` in float32); the error names its row and column.

    >>> X = np.array([[1.0, np.inf]], dtype=np.float32)  # 1e39 after a cast to float32
    >>> check_cast_finite(X, feature_names=["a", "b"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: X contains inf at row 0, column 1 ('b'): a finite value overflowed float32 ...
    """
    try:
        return check_finite(X, name, feature_names)
    except ValueError as e:
        big = np.finfo(X.dtype).max if X.dtype.kind == "f" else None
        raise ValueError(f"{e}: a finite value overflowed {X.dtype} (largest {big:.4g}); "
                         "rescale the column or use a float64 model") from None


def check_labels(y: Any, classes: Any, name: str = "y") -> np.ndarray:
    """Check that every label in ``y`` is one of ``classes``; return ``y`` as an ndarray.

    Parameters
    ----------
    y : array_like, shape (n,)
        Class labels.
    classes : array_like or int
        The valid labels; an int ``K`` means ``range(K)``.
    name : str, default "y"

    Raises
    ------
    ValueError
        ``y contains label 5, which is not one of the classes [0, 1, 2]``.

    >>> check_labels([0, 2, 1], 3)
    array([0, 2, 1])
    """
    arr = np.asarray(y)
    if isinstance(classes, numbers.Integral) and not isinstance(classes, bool):
        valid = np.arange(int(classes))
    else:
        valid = np.asarray(classes)
    ok = np.isin(arr, valid)
    if not ok.all():
        first = arr.reshape(-1)[np.argmin(ok.reshape(-1))]
        shown = valid.tolist()
        if len(shown) > 20:
            shown = [*shown[:10], "...", *shown[-10:]]
        raise ValueError(
            f"{name} contains label {_py(first)!r}, which is not one of the classes {shown}"
        )
    return arr


def _py(value: Any) -> Any:
    """A NumPy scalar as a plain Python value (for messages)."""
    return value.item() if isinstance(value, np.generic) else value


def check_lengths(X: Any, y: Any, names: tuple[str, str] = ("X", "y")) -> None:
    """Check that ``X`` and ``y`` have the same number of samples (first axis).

    Parameters
    ----------
    X, y : array_like, first axis = samples
    names : (str, str), default ("X", "y")

    Raises
    ------
    ValueError
        ``X has 10 samples but y has 9``.

    >>> check_lengths(np.zeros((3, 2)), np.zeros(3))
    """
    nx = _n_samples(X, names[0])
    ny = _n_samples(y, names[1])
    if nx != ny:
        raise ValueError(f"{names[0]} has {nx} samples but {names[1]} has {ny}")


def check_samples(X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    """``X`` and ``y`` as arrays with a samples axis of the same length.

    >>> [a.shape for a in check_samples([[1, 2], [3, 4]], [0, 1])]
    [(2, 2), (2,)]
    """
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim == 0 or y.ndim == 0:
        raise ValueError(f"X and y need a samples axis, got shapes {X.shape} and {y.shape}")
    check_lengths(X, y)
    return X, y


def _n_samples(a: Any, name: str) -> int:
    shape = np.shape(a)
    if len(shape) == 0:
        raise ValueError(f"{name} must have a samples axis, got a scalar")
    return int(shape[0])


def _check_2d(X: Any, name: str = "X") -> np.ndarray:
    arr = _numeric_array(X, name)
    if arr.ndim != 2:
        hint = "; use X.reshape(-1, 1) for a single feature" if arr.ndim == 1 else ""
        raise ValueError(
            f"{name} must be 2-D (n_samples, n_features), got shape {arr.shape}{hint}"
        )
    return arr


def _float_dtype(arr: np.ndarray) -> np.dtype:
    """float32/float16 stay as they are; everything else computes in float64."""
    if arr.dtype in (np.float16, np.float32, np.float64):
        return arr.dtype
    return np.dtype(np.float64)


# ---------------------------------------------------------------------------------------------
# scalers
# ---------------------------------------------------------------------------------------------


class _Scaler:
    """Shared plumbing: fitted checks, feature-count checks, state dicts."""

    _state_keys: tuple[str, ...] = ()

    def _check_fitted(self) -> None:
        if getattr(self, "n_features_in_", None) is None:
            raise NotFittedError(f"{type(self).__name__} is not fitted yet; call fit(X) first")

    def _check_input(self, X: Any, name: str = "X") -> np.ndarray:
        self._check_fitted()
        arr = _check_2d(X, name)
        if arr.shape[1] != self.n_features_in_:
            raise ValueError(
                f"{name} has {arr.shape[1]} features, but {type(self).__name__} was fitted "
                f"with {self.n_features_in_}"
            )
        check_finite(arr, name)
        return arr

    @staticmethod
    def _fit_input(X: Any) -> np.ndarray:
        """``X`` for ``fit``: 2-D, at least one sample, finite; as float64."""
        arr = _check_2d(X)
        if arr.shape[0] == 0:
            raise ValueError(f"X must have at least one sample, got shape {arr.shape}")
        check_finite(arr)
        return arr.astype(np.float64)

    def fit_transform(self, X: Any) -> np.ndarray:
        """``fit(X)`` then ``transform(X)``; only for the training set."""
        return self.fit(X).transform(X)

    def state_dict(self) -> dict[str, np.ndarray]:
        """The fitted statistics as plain ndarrays (store with ``np.savez`` or safetensors)."""
        self._check_fitted()
        return {k: np.array(getattr(self, k + "_"), dtype=np.float64) for k in self._state_keys}

    def load_state_dict(self, state: dict[str, Any]) -> _Scaler:
        """Restore the statistics saved by ``state_dict()``; returns ``self``."""
        if not isinstance(state, dict):
            raise TypeError(f"state must be a dict, got {type(state).__name__}")
        missing = [k for k in self._state_keys if k not in state]
        if missing:
            raise ValueError(
                f"state is missing keys {missing}; expected keys {list(self._state_keys)}"
            )
        arrays = {k: np.asarray(state[k], dtype=np.float64) for k in self._state_keys}
        d = arrays[self._state_keys[0]].shape
        for k, a in arrays.items():
            if a.ndim != 1 or a.shape != d:
                raise ValueError(
                    f"state[{k!r}] must be 1-D with shape {d}, got shape {a.shape}"
                )
            check_finite(a, f"state[{k!r}]")
        for k, a in arrays.items():
            setattr(self, k + "_", a.copy())
        self.n_features_in_ = int(d[0])
        return self


class Standardizer(_Scaler):
    """Z-score scaling fitted on the training data: ``z = (x − μ) / σ`` per column.

    ``μ`` is the column mean and ``σ`` the column standard deviation (population form,
    ``ddof=0``, as scikit-learn's ``StandardScaler``) of the data passed to ``fit``.
    Standardised inputs make the loss surface ``J(θ)`` rounder, so gradient descent needs
    fewer steps. Fit on the training set only and reuse ``μ, σ`` for the dev and test sets.

    A constant column (every value equal, ``σ = 0``) would divide by zero; its ``σ`` is set
    to ``1`` so the column maps to exactly ``0`` (its ``μ`` is its value).

    Attributes
    ----------
    mean_ : ndarray, shape (d,)
        ``μ``.
    scale_ : ndarray, shape (d,)
        ``σ`` (``1`` for constant columns).
    var_ : ndarray, shape (d,)
        ``σ²`` as measured (``0`` for constant columns).
    n_features_in_ : int

    >>> s = Standardizer()
    >>> s.fit_transform([[1.0, 5.0], [3.0, 5.0]])
    array([[-1.,  0.],
           [ 1.,  0.]])
    >>> s.mean_, s.scale_
    (array([2., 5.]), array([1., 1.]))
    """

    _state_keys = ("mean", "scale", "var")

    def __init__(self) -> None:
        self.mean_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None
        self.var_: np.ndarray | None = None
        self.n_features_in_: int | None = None

    def fit(self, X: Any) -> Standardizer:
        """Estimate ``μ`` and ``σ`` from ``X`` of shape (n, d), n >= 1; returns ``self``."""
        x = self._fit_input(X)
        mu = x.mean(axis=0)
        var = x.var(axis=0)
        constant = (x == x[0]).all(axis=0)
        mu[constant] = x[0, constant]  # exact, so a constant column maps to exactly 0
        var[constant] = 0.0
        sigma = np.sqrt(var)
        sigma[constant] = 1.0
        self.mean_, self.scale_, self.var_ = mu, sigma, var
        self.n_features_in_ = x.shape[1]
        return self

    def transform(self, X: Any) -> np.ndarray:
        """``z = (x − μ) / σ`` for ``X`` of shape (n, d); float32 input stays float32."""
        arr = self._check_input(X)
        z = (arr - self.mean_) / self.scale_
        return z.astype(_float_dtype(arr), copy=False)

    def inverse_transform(self, Z: Any) -> np.ndarray:
        """``x = z·σ + μ`` for ``Z`` of shape (n, d)."""
        arr = self._check_input(Z, "Z")
        x = arr * self.scale_ + self.mean_
        return x.astype(_float_dtype(arr), copy=False)

    def __repr__(self) -> str:
        return "Standardizer()"


class MinMaxScaler(_Scaler):
    """Min-max scaling to ``feature_range = (a, b)`` fitted on the training data.

    Per column, with ``x_min, x_max`` the training minimum and maximum::

        scale = (b − a) / (x_max − x_min)
        x' = x·scale + min,   min = a − x_min·scale

    (scikit-learn's ``MinMaxScaler``). A constant column (``x_max = x_min``) uses a range
    of ``1``, so it maps to ``a``. Values outside the training range map outside ``[a, b]``.

    Parameters
    ----------
    feature_range : (float, float), default (0.0, 1.0)
        ``(a, b)`` with ``a < b``.

    Attributes
    ----------
    data_min_, data_max_, scale_, min_ : ndarray, shape (d,)
    n_features_in_ : int

    >>> MinMaxScaler().fit_transform([[0.0], [5.0], [10.0]]).ravel()
    array([0. , 0.5, 1. ])
    """

    _state_keys = ("data_min", "data_max", "scale", "min")

    def __init__(self, feature_range: tuple[float, float] = (0.0, 1.0)) -> None:
        try:
            a, b = (float(v) for v in feature_range)
        except (TypeError, ValueError):
            raise TypeError(
                f"feature_range must be a pair of numbers (a, b), got {feature_range!r}"
            ) from None
        if not (np.isfinite(a) and np.isfinite(b) and a < b):
            raise ValueError(f"feature_range must satisfy a < b, got {feature_range!r}")
        self.feature_range = (a, b)
        self.data_min_: np.ndarray | None = None
        self.data_max_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None
        self.min_: np.ndarray | None = None
        self.n_features_in_: int | None = None

    def fit(self, X: Any) -> MinMaxScaler:
        """Record ``x_min, x_max`` of ``X`` (n, d) and derive ``scale``, ``min``."""
        x = self._fit_input(X)
        a, b = self.feature_range
        x_min, x_max = x.min(axis=0), x.max(axis=0)
        data_range = x_max - x_min
        data_range[data_range == 0.0] = 1.0
        scale = (b - a) / data_range
        self.data_min_, self.data_max_ = x_min, x_max
        self.scale_, self.min_ = scale, a - x_min * scale
        self.n_features_in_ = x.shape[1]
        return self

    def transform(self, X: Any) -> np.ndarray:
        """``x' = x·scale + min`` for ``X`` of shape (n, d)."""
        arr = self._check_input(X)
        out = arr * self.scale_ + self.min_
        return out.astype(_float_dtype(arr), copy=False)

    def inverse_transform(self, Z: Any) -> np.ndarray:
        """``x = (x' − min) / scale`` for ``Z`` of shape (n, d)."""
        arr = self._check_input(Z, "Z")
        out = (arr - self.min_) / self.scale_
        return out.astype(_float_dtype(arr), copy=False)

    def state_dict(self) -> dict[str, np.ndarray]:
        """The fitted statistics and ``feature_range`` as plain ndarrays."""
        state = super().state_dict()
        state["feature_range"] = np.array(self.feature_range, dtype=np.float64)
        return state

    def load_state_dict(self, state: dict[str, Any]) -> MinMaxScaler:
        """Restore the statistics saved by ``state_dict()``; returns ``self``."""
        if isinstance(state, dict) and "feature_range" in state:
            a, b = (float(v) for v in np.asarray(state["feature_range"]).reshape(2))
            if not a < b:
                raise ValueError(f"state['feature_range'] must satisfy a < b, got {(a, b)}")
            self.feature_range = (a, b)
        super().load_state_dict(state)
        return self

    def __repr__(self) -> str:
        return f"MinMaxScaler(feature_range={self.feature_range})"


# ---------------------------------------------------------------------------------------------
# encoding
# ---------------------------------------------------------------------------------------------


def one_hot(y: Any, num_classes: int | None = None, dtype: Any = np.float64) -> np.ndarray:
    """One-hot encode class indices: ``Y[i, k] = 1 if y[i] == k else 0``.

    Parameters
    ----------
    y : array_like of int, shape (n,)
        Class indices in ``0 … K−1``.
    num_classes : int, optional
        ``K``; default ``max(y) + 1``.
    dtype : default float64

    Returns
    -------
    ndarray, shape (n, K)

    >>> one_hot([0, 2, 1])
    array([[1., 0., 0.],
           [0., 0., 1.],
           [0., 1., 0.]])
    """
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise ValueError(f"y must be 1-D class indices, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if not np.issubdtype(arr.dtype, np.number) or not np.all(np.mod(arr, 1) == 0):
            raise TypeError(f"y must hold integer class indices, got dtype {arr.dtype}")
    labels = arr.astype(np.int64)
    if num_classes is None:
        num_classes = int(labels.max()) + 1 if labels.size else 0
    elif isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral):
        raise TypeError(f"num_classes must be an int, got {type(num_classes).__name__}")
    elif num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    check_labels(labels, int(num_classes))
    out = np.zeros((labels.shape[0], int(num_classes)), dtype=dtype)
    out[np.arange(labels.shape[0]), labels] = 1
    return out
