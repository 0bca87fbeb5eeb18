"""The bias–variance decomposition of the expected squared error, estimated by refitting.

Let the data come from ``y = f(x) + ε`` with ``E[ε] = 0`` and ``Var[ε] = σ²``, and let
``h_D`` be the model fitted on a training set ``D``. At a test point ``x`` the squared
error, averaged over the training sets and the noise of a new target, splits into three
terms (Geman, Bienenstock & Doursat, 1992)::

    E_{D,ε}[(y − h_D(x))²] = σ²                      noise: no model can remove it
                           + (f(x) − h̄(x))²           bias², h̄(x) = E_D[h_D(x)]
                           + E_D[(h_D(x) − h̄(x))²]    variance of the fitted models

A model too simple for ``f`` has a large bias (it underfits whatever the data); a model
flexible enough to follow the noise of each training set has a large variance (it
overfits). :func:`bias_variance_decomposition` estimates the three terms by drawing many
training sets from the same distribution, fitting a model on each and comparing the
predictions on a fixed grid of test points; :func:`polynomial_fitter` (degree 1 is the
straight line ``h(x) = wx + b``) and :func:`mlp_fitter` build the models.

>>> import numpy as np
>>> from chainrule import train
>>> bv = train.bias_variance_decomposition(
...     train.polynomial_fitter(1), np.sin, np.linspace(-3, 3, 50)[:, None],
...     X_train=np.linspace(-3, 3, 20)[:, None], noise=0.3, n_rounds=200, seed=0)
>>> bv.bias2 > bv.variance > 0, round(bv.noise, 2)
(True, 0.09)
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .._checks import check_int

__all__ = [
    "BiasVariance",
    "bias_variance_decomposition",
    "mlp_fitter",
    "polynomial_fitter",
]

Predictor = Callable[[np.ndarray], ArrayLike]
Fitter = Callable[[np.ndarray, np.ndarray, int], Predictor]


@dataclass(frozen=True)
class BiasVariance:
    """The three terms of the expected squared error, averaged over the test points.

    Attributes:
        noise: ``σ²``, the variance of the noise on the targets.
        bias2: ``mean_x (f(x) − h̄(x))²``, with ``h̄`` the mean prediction over the rounds.
        variance: ``mean_x mean_D (h_D(x) − h̄(x))²`` (the ``1/R`` variance over ``R``
            rounds).
        test_error: the squared error measured on fresh noisy targets
            ``y = f(x) + ε`` (one draw per round and test point): an independent Monte
            Carlo estimate of ``noise + bias2 + variance``.
        predictions: ``h_D(x)`` of every round, shape ``(R, n_test)``.
        target: ``f(x)`` on the test points, shape ``(n_test,)``.
    """

    noise: float
    bias2: float
    variance: float
    test_error: float
    predictions: np.ndarray
    target: np.ndarray

    @property
    def total(self) -> float:
        """``noise + bias2 + variance``: the expected squared error the terms predict."""
        return self.noise + self.bias2 + self.variance

    @property
    def mean_prediction(self) -> np.ndarray:
        """``h̄(x) = mean_D h_D(x)`` on the test points, shape ``(n_test,)``."""
        return self.predictions.mean(axis=0)

    def __str__(self) -> str:
        return (f"noise {self.noise:.4g} + bias² {self.bias2:.4g} + variance "
                f"{self.variance:.4g} = {self.total:.4g} (measured test error "
                f"{self.test_error:.4g})")


def _inputs(X: Any, name: str) -> np.ndarray:
    try:
        a = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be an array of real numbers, got {X!r}") from exc
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2 or a.shape[0] == 0:
        raise ValueError(f"{name} must have shape (n,) or (n, d) with n >= 1, got {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must contain only finite values")
    return a


def _values(v: Any, n: int, what: str) -> np.ndarray:
    a = np.asarray(v, dtype=np.float64)
    if a.shape not in ((n,), (n, 1)):
        raise ValueError(f"{what} must return shape ({n},) or ({n}, 1), got {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{what} returned non-finite values")
    return a.reshape(n)


def bias_variance_decomposition(
    fit: Fitter,
    f: Callable[[np.ndarray], ArrayLike],
    X_test: ArrayLike,
    *,
    X_train: ArrayLike | Callable[[np.random.Generator], ArrayLike],
    noise: float,
    n_rounds: int = 50,
    seed: int | np.random.Generator | None = 0,
) -> BiasVariance:
    """Estimate ``noise + bias² + variance`` of a model by refitting on resampled data.

    For ``r = 1 … R`` (``R = n_rounds``): draw a training set ``D_r`` — inputs ``X_train``
    (fixed, or drawn by ``X_train(rng)``) and targets ``y = f(X) + ε``,
    ``ε ~ N(0, noise²)`` — fit ``h_r = fit(X, y, seed_r)`` and predict ``h_r(x)`` on the
    test points. Then, averaging over the ``n_test`` test points::

        h̄(x)     = (1/R) Σ_r h_r(x)
        bias²    = mean_x (f(x) − h̄(x))²
        variance = mean_x (1/R) Σ_r (h_r(x) − h̄(x))²
        noise    = σ²

    and ``test_error`` = ``mean_{r,x} (f(x) + ε'_{r,x} − h_r(x))²`` on fresh noise, which
    the sum of the three terms predicts. With a fixed ``X_train`` only the noise of the
    targets changes between rounds (a fixed design); with a callable the inputs are
    redrawn too. The estimate of ``bias²`` carries a small upward bias of ``variance/R``.

    Args:
        fit: ``fit(X, y, seed) -> predict`` with ``X`` of shape ``(n, d)``, ``y`` of shape
            ``(n,)``, ``seed`` an int for the model's own randomness, and ``predict``
            mapping ``(m, d)`` inputs to ``(m,)`` or ``(m, 1)`` predictions; e.g.
            :func:`polynomial_fitter` or :func:`mlp_fitter`.
        f: the true regression function, ``(n, d)`` inputs to ``(n,)`` or ``(n, 1)``.
        X_test: test points, shape ``(n_test,)`` or ``(n_test, d)``.
        X_train: training inputs, shape ``(n,)`` or ``(n, d)``, or a function of a
            ``numpy.random.Generator`` returning a fresh draw of them.
        noise: the noise standard deviation ``σ ≥ 0``.
        n_rounds: ``R ≥ 2``, the number of training sets.
        seed: int or Generator for the noise, the inputs and the seeds given to ``fit``.

    Returns:
        a :class:`BiasVariance`.

    Raises:
        ValueError / TypeError: bad arguments, or ``f`` / ``predict`` returning the wrong
            shape.

    Reference: S. Geman, E. Bienenstock and R. Doursat, "Neural networks and the
    bias/variance dilemma", Neural Computation 4 (1992).

    Example:
        The straight line ``h(x) = wx + b`` fitted to ``f(x) = x²`` on ``[−1, 1]``: its
        bias is the part of the parabola no line can follow.

        >>> import numpy as np
        >>> bv = bias_variance_decomposition(
        ...     polynomial_fitter(1), lambda X: X[:, 0] ** 2, np.linspace(-1, 1, 41),
        ...     X_train=lambda rng: rng.uniform(-1, 1, 30), noise=0.1, n_rounds=300)
        >>> bool(bv.bias2 > 5 * bv.variance), abs(bv.total - bv.test_error) < 0.01
        (True, True)
    """
    from ..rng import get_rng

    if not callable(fit):
        raise TypeError(f"fit must be callable fit(X, y, seed) -> predict, got {fit!r}")
    if not callable(f):
        raise TypeError(f"f must be callable, got {f!r}")
    if isinstance(noise, bool) or not isinstance(noise, numbers.Real) or not noise >= 0:
        raise ValueError(f"noise must be a standard deviation >= 0, got {noise!r}")
    check_int(n_rounds, "n_rounds", 2)
    X_te = _inputs(X_test, "X_test")
    draw_inputs = callable(X_train)
    X_fixed = None if draw_inputs else _inputs(X_train, "X_train")
    if X_fixed is not None and X_fixed.shape[1] != X_te.shape[1]:
        raise ValueError(f"X_train and X_test must have the same number of features, got "
                         f"{X_fixed.shape[1]} and {X_te.shape[1]}")
    rng = get_rng(seed)
    sigma = float(noise)
    n_test = len(X_te)
    f_test = _values(f(X_te), n_test, "f")
    predictions = np.empty((int(n_rounds), n_test))
    squared_errors = 0.0
    for r in range(int(n_rounds)):
        X = _inputs(X_train(rng), "X_train(rng)") if draw_inputs else X_fixed
        y = _values(f(X), len(X), "f") + sigma * rng.standard_normal(len(X))
        predict = fit(X, y, int(rng.integers(2**31)))
        h = _values(predict(X_te), n_test, "predict")
        predictions[r] = h
        y_new = f_test + sigma * rng.standard_normal(n_test)
        squared_errors += float(np.mean((y_new - h) ** 2))
    h_bar = predictions.mean(axis=0)
    return BiasVariance(
        noise=sigma**2,
        bias2=float(np.mean((f_test - h_bar) ** 2)),
        variance=float(np.mean((predictions - h_bar) ** 2)),
        test_error=squared_errors / n_rounds,
        predictions=predictions,
        target=f_test,
    )


def polynomial_fitter(degree: int) -> Fitter:
    """Least-squares polynomials of one input: ``h(x) = Σ_{j=0..degree} w_j x^j``.

    ``degree = 1`` is the straight line ``h(x) = wx + b`` fitted by the mean squared error;
    the fit solves the least-squares problem on the Vandermonde matrix ``V_ij = x_i^j``
    (``numpy.linalg.lstsq``, so a degree above ``n − 1`` gives the minimum-norm fit).

    Args:
        degree: ``≥ 0``.

    Returns:
        ``fit(X, y, seed) -> predict`` for :func:`bias_variance_decomposition` (``X`` of
        shape ``(n, 1)``; ``seed`` is unused: the fit is deterministic).

    Example:
        >>> import numpy as np
        >>> predict = polynomial_fitter(1)(np.array([[0.0], [1.0], [2.0]]),
        ...                                np.array([1.0, 3.0, 5.0]), 0)
        >>> np.round(predict(np.array([[3.0]])), 10)   # y = 2x + 1
        array([7.])
    """
    check_int(degree, "degree", 0)
    powers = np.arange(int(degree) + 1)

    def fit(X: np.ndarray, y: np.ndarray, seed: int) -> Predictor:
        if X.shape[1] != 1:
            raise ValueError(f"polynomial_fitter takes one input feature, got {X.shape[1]}")
        w = np.linalg.lstsq(X[:, :1] ** powers, y, rcond=None)[0]
        return lambda X_new: np.asarray(X_new, dtype=np.float64)[:, :1] ** powers @ w

    return fit


def mlp_fitter(
    hidden: int | tuple[int, ...],
    *,
    activation: str = "tanh",
    epochs: int = 500,
    lr: float = 0.01,
    l2: float = 0.0,
    batch_size: int | None = None,
) -> Fitter:
    """Multilayer perceptrons ``d → hidden … → 1`` trained by :func:`chainrule.train.fit`.

    Each call builds a fresh float64 network (``nn.mlp`` with default initialisation,
    seeded by ``seed``) and trains it on the mean squared error with Adam
    (full batch by default), with an optional L2 penalty ``(l2/2)‖W‖²``.

    Args:
        hidden: width of the hidden layer, or a tuple of widths.
        activation: a name of ``nn.ACTIVATIONS`` (default ``"tanh"``).
        epochs: passes over the training set.
        lr: Adam's learning rate.
        l2: L2 penalty weight ``λ₂ ≥ 0``.
        batch_size: rows per step; ``None`` for full-batch gradient descent.

    Returns:
        ``fit(X, y, seed) -> predict`` for :func:`bias_variance_decomposition`.

    Example:
        >>> import numpy as np
        >>> X = np.linspace(-1, 1, 20)[:, None]
        >>> predict = mlp_fitter(8, epochs=300, lr=0.05)(X, X[:, 0] ** 2, 0)
        >>> float(np.max(np.abs(predict(X)[:, 0] - X[:, 0] ** 2))) < 0.1
        True
    """
    widths = (hidden,) if isinstance(hidden, numbers.Integral) else tuple(hidden)
    if not widths or any(isinstance(h, bool) or not isinstance(h, numbers.Integral) or h < 1
                         for h in widths):
        raise ValueError(f"hidden must be a width >= 1 or a tuple of them, got {hidden!r}")

    def fit_mlp(X: np.ndarray, y: np.ndarray, seed: int) -> Predictor:
        from .. import nn, optim
        from . import fit, predict

        model = nn.mlp([X.shape[1], *widths, 1], activation, seed=seed, dtype=np.float64)
        fit(model, "mse", optim.Adam(model.parameters(), lr=lr), (X, y[:, None]),
            epochs=epochs, batch_size=batch_size, l2=l2, seed=seed, metrics=(),
            progress=False)
        return lambda X_new: predict(model, X_new)

    return fit_mlp
