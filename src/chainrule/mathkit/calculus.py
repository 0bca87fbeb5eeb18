"""Calculus, executable: derivatives, integrals, gradients, Hessians, gradient descent.

Two kinds of function appear here, and each function says which one it takes:

- **Tensor functions** ``f(x: Tensor) -> Tensor``, written with chainrule's operations
  (``x ** 2``, ``x.sin()``, ``x.exp()``, ``x @ A``…), are differentiated exactly by
  automatic differentiation (``chainrule.grad`` / ``jacobian`` / ``hessian``): used by
  :func:`derivative`, :func:`tangent_line`, :func:`gradient`, :func:`partial_derivative`,
  :func:`jacobian`, :func:`hessian`, :func:`classify_critical_point`,
  :func:`gradient_descent`. Points are float64.
- **Numeric functions** ``f(x: float | ndarray) -> float | ndarray`` (``np.sin``, a
  lambda on floats) are used by the approximations: :func:`finite_difference`,
  :func:`finite_difference_errors`, :func:`integrate`, :func:`integrate_with_error`.

References
----------
G. Strang, *Calculus*, 3rd ed., Wellesley-Cambridge, 2017.
R. L. Burden and J. D. Faires, *Numerical Analysis*, 9th ed., Brooks/Cole, 2011, ch. 4.
A. Griewank and A. Walther, *Evaluating Derivatives*, 2nd ed., SIAM, 2008.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .. import autodiff as _ad
from .._checks import check_choice, check_finite, check_int, check_nonneg, check_positive
from ..tensor import Tensor

__all__ = [
    "FD_SCHEMES",
    "INTEGRATION_METHODS",
    "classify_critical_point",
    "derivative",
    "finite_difference",
    "finite_difference_errors",
    "gradient",
    "gradient_descent",
    "hessian",
    "integrate",
    "integrate_with_error",
    "jacobian",
    "partial_derivative",
    "tangent_line",
]

FD_SCHEMES = ("forward", "backward", "central")
"""Valid ``scheme`` names of :func:`finite_difference`."""

INTEGRATION_METHODS = ("trapezoid", "simpson", "gauss")
"""Valid ``method`` names of :func:`integrate`."""

_DEFAULT_N = {"trapezoid": 1000, "simpson": 1000, "gauss": 32}
_ORDER = {"trapezoid": 2, "simpson": 4}

TensorFn = Callable[[Tensor], Tensor]

# ----------------------------------------------------------------------------- helpers


def _callable(f: object, name: str = "f") -> None:
    if not callable(f):
        raise TypeError(f"{name} must be callable, got {f!r}")


def _point(x: ArrayLike, name: str = "x") -> np.ndarray:
    """``x`` as a finite float64 array (a copy), for the autodiff transforms."""
    if isinstance(x, Tensor):
        x = x.data
    try:
        a = np.array(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a real number or array, got {x!r}") from exc
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must contain only finite values, got {a}")
    return a


def _vector_point(x: ArrayLike, name: str = "x") -> np.ndarray:
    a = _point(x, name)
    if a.ndim != 1:
        raise ValueError(f"{name} must be a 1-D vector, got an array of shape {a.shape}")
    return a


def derivative(f: TensorFn, order: int = 1) -> Callable[[Any], Any]:
    """The derivative ``f'`` (or ``f⁽ⁿ⁾``) of a scalar Tensor function, by autodiff.

    ``f'(x) = lim_{h→0} (f(x + h) − f(x)) / h``, computed exactly (to round-off) by
    reverse-mode automatic differentiation: the chain rule applied to the operations
    that build ``f`` — no step ``h``, no truncation error. ``order = n`` nests the
    transform ``n`` times, ``f⁽ⁿ⁾ = (f⁽ⁿ⁻¹⁾)'``.

    On an array ``x`` the result is ``∂(Σ_i f(x)_i)/∂x``, which is the elementwise
    derivative ``f'(x_i)`` when ``f`` acts elementwise (``x.sin()``, ``x ** 3``…) — handy
    for plotting ``f'`` on a grid.

    Parameters
    ----------
    f : callable Tensor -> Tensor
        Built from chainrule operations.
    order : int, default 1
        ``n ≥ 1``.

    Returns
    -------
    callable
        ``x -> f⁽ⁿ⁾(x)``: a float for a scalar ``x``, an ndarray for an array, and a
        differentiable Tensor when called on a Tensor inside another transform (so
        ``derivative(derivative(f))`` also works).

    References
    ----------
    A. G. Baydin et al., "Automatic differentiation in machine learning: a survey",
    JMLR 18 (2018).

    Examples
    --------
    >>> df = derivative(lambda x: x ** 3)        # 3x²
    >>> df(2.0)
    12.0
    >>> derivative(lambda x: x ** 3, order=2)(2.0)  # 6x
    12.0
    >>> derivative(lambda x: x.sin())(np.array([0.0, np.pi]))
    array([ 1., -1.])
    """
    _callable(f)
    order = check_int(order, "order", 1)
    g: Callable[[Any], Any] = f
    for _ in range(order):
        g = _elementwise_grad(g)

    def df(x: Any) -> Any:
        if isinstance(x, Tensor) and _ad.is_grad_enabled() and x.requires_grad:
            return g(x)  # nested: a differentiable Tensor
        scalar = np.ndim(x.data if isinstance(x, Tensor) else x) == 0
        out = np.asarray(g(_point(x)), dtype=np.float64)
        return float(out) if scalar else out

    return df


def _elementwise_grad(g: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def total(t: Tensor) -> Tensor:
        out = g(t)
        if not isinstance(out, Tensor):
            raise TypeError(f"f must return a Tensor, got {type(out).__name__}")
        return out.sum()

    return _ad.grad(total)


def finite_difference(
    f: Callable[[Any], Any], x: ArrayLike, h: float = 1e-5, scheme: str = "central"
) -> float | np.ndarray:
    """A finite-difference approximation of ``f'(x)`` for a numeric function.

    - ``"forward"``:  ``(f(x + h) − f(x)) / h``, error ``≈ h f''(x) / 2`` — order 1;
    - ``"backward"``: ``(f(x) − f(x − h)) / h``, order 1;
    - ``"central"``:  ``(f(x + h) − f(x − h)) / (2h)``, error ``≈ h² f'''(x) / 6`` —
      order 2.

    Smaller ``h`` shrinks this *truncation* error but, in floating point, the
    *round-off* error ``≈ ε |f(x)| / h`` grows (``ε`` the machine epsilon): the total
    is smallest near ``h ≈ sqrt(ε) ≈ 1e-8`` for the one-sided schemes and
    ``h ≈ ε^(1/3) ≈ 6e-6`` for the central one (see :func:`finite_difference_errors`).

    Parameters
    ----------
    f : callable float -> float
        Plain numeric function (applied elementwise when ``x`` is an array).
    x : float or array_like
    h : float, default 1e-5
        Step, ``h > 0``.
    scheme : {"forward", "backward", "central"}, default "central"

    Returns
    -------
    float or ndarray (same shape as ``x``)

    References
    ----------
    Burden & Faires, *Numerical Analysis*, §4.1.

    Examples
    --------
    >>> round(finite_difference(np.sin, 0.0), 10)  # cos 0
    1.0
    >>> d = finite_difference(lambda x: x ** 2, 3.0, h=1e-3, scheme="forward")
    >>> round(d, 6)  # 2x + h
    6.001
    """
    _callable(f)
    h = check_positive(h, "h")
    scheme = check_choice(scheme, "scheme", FD_SCHEMES)
    xa = _point(x)
    if scheme == "forward":
        d = (np.asarray(f(xa + h)) - np.asarray(f(xa))) / h
    elif scheme == "backward":
        d = (np.asarray(f(xa)) - np.asarray(f(xa - h))) / h
    else:
        d = (np.asarray(f(xa + h)) - np.asarray(f(xa - h))) / (2.0 * h)
    d = np.asarray(d, dtype=np.float64)
    return float(d) if d.ndim == 0 else d


def finite_difference_errors(
    f: Callable[[Any], Any],
    df: Callable[[Any], Any] | float,
    x: float,
    hs: ArrayLike,
    scheme: str = "forward",
) -> np.ndarray:
    """The absolute error of :func:`finite_difference` for each step ``h``.

    ``err(h) = |D_h f(x) − f'(x)|``. On log-log axes it draws a V: on the right the
    truncation error falls like ``h`` (forward/backward) or ``h²`` (central); on the
    left the round-off error ``≈ ε |f(x)| / h`` rises with slope −1. The bottom of the V
    is the best step, ``≈ sqrt(ε)`` (one-sided) or ``≈ ε^(1/3)`` (central).

    Parameters
    ----------
    f : callable float -> float
    df : callable float -> float, or float
        The exact derivative ``f'`` (or its value at ``x``).
    x : float
    hs : array_like, shape (k,)
        Steps, all ``> 0`` (e.g. ``np.logspace(-16, -1, 31)``).
    scheme : {"forward", "backward", "central"}, default "forward"

    Returns
    -------
    ndarray, shape (k,)

    Examples
    --------
    >>> hs = np.logspace(-15, -1, 15)
    >>> err = finite_difference_errors(np.exp, np.exp, 1.0, hs)
    >>> float(hs[np.argmin(err)])  # the bottom of the V, near sqrt(eps)
    1e-08
    """
    _callable(f)
    x = check_finite(x, "x")
    exact = float(df(x)) if callable(df) else check_finite(df, "df")
    steps = _point(hs, "hs")
    if steps.ndim != 1 or steps.size == 0:
        raise ValueError(f"hs must be a non-empty 1-D array of steps, got shape {steps.shape}")
    if np.any(steps <= 0):
        raise ValueError(f"hs must all be > 0, got min {steps.min()}")
    scheme = check_choice(scheme, "scheme", FD_SCHEMES)
    return np.array([abs(finite_difference(f, x, float(h), scheme) - exact) for h in steps])


def tangent_line(f: TensorFn, x0: float) -> tuple[float, float]:
    """The tangent line of ``f`` at ``x0``: ``y = slope · x + intercept``.

    ``slope = f'(x0)`` (by autodiff) and ``intercept = f(x0) − f'(x0) · x0``, so that
    ``y = f(x0) + f'(x0)(x − x0)``: the best linear approximation of ``f`` near ``x0``,
    the limit of the secants through ``(x0, f(x0))`` and ``(x0 + h, f(x0 + h))``.

    Parameters
    ----------
    f : callable Tensor -> Tensor
        Scalar function of a scalar.
    x0 : float

    Returns
    -------
    slope : float
    intercept : float

    Examples
    --------
    >>> tangent_line(lambda x: x ** 2, 3.0)  # y = 6x − 9
    (6.0, -9.0)
    """
    _callable(f)
    x0 = check_finite(x0, "x0")
    slope = derivative(f)(x0)
    with _ad.no_grad():
        y0 = f(Tensor(np.float64(x0)))
    y0 = float(np.asarray(y0.data if isinstance(y0, Tensor) else y0))
    return slope, y0 - slope * x0


# --------------------------------------------------------------------------- integrals


def _evaluate(f: Callable[[Any], Any], x: np.ndarray) -> np.ndarray:
    """``f`` on the nodes ``x``: vectorised if possible, point by point otherwise."""
    try:
        y = np.asarray(f(x), dtype=np.float64)
    except TypeError:  # e.g. math.sin on an array
        y = None
    if y is None or y.shape != x.shape:
        if y is not None and y.ndim == 0:
            y = np.full(x.shape, float(y))  # a constant function
        else:
            y = np.array([float(f(float(t))) for t in x])
    if not np.all(np.isfinite(y)):
        raise ValueError("f returned a non-finite value on the integration nodes")
    return y


def _rule(f: Callable[[Any], Any], a: float, b: float, method: str, n: int) -> float:
    if method == "trapezoid":
        x = np.linspace(a, b, n + 1)
        y = _evaluate(f, x)
        h = (b - a) / n
        return float(h * (0.5 * y[0] + y[1:-1].sum() + 0.5 * y[-1]))
    if method == "simpson":
        x = np.linspace(a, b, n + 1)
        y = _evaluate(f, x)
        h = (b - a) / n
        return float(h / 3.0 * (y[0] + 4.0 * y[1:-1:2].sum() + 2.0 * y[2:-1:2].sum() + y[-1]))
    nodes, weights = np.polynomial.legendre.leggauss(n)
    x = 0.5 * (b - a) * nodes + 0.5 * (a + b)
    return float(0.5 * (b - a) * np.dot(weights, _evaluate(f, x)))


def _check_integrate(
    f: object, a: object, b: object, method: object, n: object
) -> tuple[float, float, str, int]:
    _callable(f)
    a = check_finite(a, "a")
    b = check_finite(b, "b")
    method = check_choice(method, "method", INTEGRATION_METHODS)
    n = _DEFAULT_N[method] if n is None else check_int(n, "n", 1)
    if method == "simpson" and n % 2:
        raise ValueError(f"simpson needs an even number of subintervals n, got {n}")
    return a, b, method, n


def integrate(
    f: Callable[[Any], Any],
    a: float,
    b: float,
    method: str = "simpson",
    n: int | None = None,
) -> float:
    """The definite integral ``∫_a^b f(x) dx``: the signed area under the curve.

    With ``h = (b − a)/n`` and nodes ``x_i = a + i h``:

    - ``"trapezoid"``: ``h (f(x_0)/2 + f(x_1) + … + f(x_{n−1}) + f(x_n)/2)``, error
      ``−(b − a) h² f''(ξ) / 12`` — order 2;
    - ``"simpson"``: ``h/3 (f(x_0) + 4f(x_1) + 2f(x_2) + … + 4f(x_{n−1}) + f(x_n))``
      (``n`` even), error ``−(b − a) h⁴ f⁽⁴⁾(ξ) / 180`` — order 4;
    - ``"gauss"``: Gauss–Legendre with ``n`` nodes ``t_i`` and weights ``w_i`` on
      ``[−1, 1]``, ``(b − a)/2 · Σ_i w_i f((b − a)/2 · t_i + (a + b)/2)``, exact for
      polynomials of degree ``≤ 2n − 1``.

    Area below the axis counts negative: ``∫_{−π}^{π} sin x dx = 0``. ``a > b`` gives
    ``−∫_b^a``. Infinite intervals are not handled here (use ``scipy.integrate.quad``
    or :func:`chainrule.mathkit.probability.expectation_continuous`).

    Parameters
    ----------
    f : callable
        Numeric function; called once on the array of nodes if it is vectorised
        (``np.sin``), else point by point (``math.sin``).
    a, b : float
        Finite bounds.
    method : {"trapezoid", "simpson", "gauss"}, default "simpson"
    n : int, optional
        Subintervals for trapezoid/simpson (default 1000; even for simpson), nodes for
        gauss (default 32).

    Returns
    -------
    float

    References
    ----------
    Burden & Faires, *Numerical Analysis*, §4.3–4.7.

    Examples
    --------
    >>> abs(integrate(np.sin, -np.pi, np.pi)) < 1e-12
    True
    >>> round(integrate(lambda x: x ** 2, 0.0, 3.0, method="gauss", n=2), 12)  # x³/3
    9.0
    """
    a, b, method, n = _check_integrate(f, a, b, method, n)
    if a == b:
        return 0.0
    return _rule(f, a, b, method, n)


def integrate_with_error(
    f: Callable[[Any], Any],
    a: float,
    b: float,
    method: str = "simpson",
    n: int | None = None,
) -> tuple[float, float]:
    """The integral ``∫_a^b f(x) dx`` with an estimate of its error.

    Computes ``I_n`` and ``I_2n`` (twice as many subintervals or nodes) and returns
    ``I_2n`` with the error estimate

    - ``|I_2n − I_n| / (2^p − 1)`` for trapezoid (``p = 2``) and simpson (``p = 4``):
      Richardson's estimate, since the error of an order-``p`` rule shrinks by ``2^p``
      when ``h`` halves;
    - ``|I_2n − I_n|`` for gauss (a conservative bound: ``I_2n`` converges much faster
      than ``I_n``).

    Parameters
    ----------
    f, a, b, method, n
        As in :func:`integrate`.

    Returns
    -------
    value : float
        ``I_2n``.
    error : float
        The estimate of ``|I_2n − ∫_a^b f(x) dx|``.

    References
    ----------
    L. F. Richardson, "The deferred approach to the limit", Phil. Trans. R. Soc. A 226
    (1927).

    Examples
    --------
    >>> value, error = integrate_with_error(np.exp, 0.0, 1.0, method="trapezoid", n=10)
    >>> bool(abs(value - (np.e - 1)) < 2 * error)
    True
    """
    a, b, method, n = _check_integrate(f, a, b, method, n)
    if a == b:
        return 0.0, 0.0
    coarse = _rule(f, a, b, method, n)
    fine = _rule(f, a, b, method, 2 * n)
    if method == "gauss":
        return fine, abs(fine - coarse)
    return fine, abs(fine - coarse) / (2 ** _ORDER[method] - 1)


# ------------------------------------------------------------ multivariable derivatives


def gradient(f: TensorFn, x: ArrayLike) -> np.ndarray:
    """The gradient ``∇f(x) = (∂f/∂x_1, …, ∂f/∂x_n)`` of a scalar function, by autodiff.

    It points in the direction of steepest ascent; ``−∇f`` is the direction gradient
    descent follows. One reverse pass (``chainrule.grad``) gives all ``n`` partials.

    Parameters
    ----------
    f : callable Tensor -> Tensor
        Returns a scalar.
    x : array_like
        The point (any shape; the gradient has the same shape).

    Returns
    -------
    ndarray, same shape as ``x``

    Examples
    --------
    >>> gradient(lambda x: (x ** 2).sum(), [1.0, -2.0])  # 2x
    array([ 2., -4.])
    """
    _callable(f)
    return np.asarray(_ad.grad(f)(_point(x)), dtype=np.float64)


def partial_derivative(f: TensorFn, x: ArrayLike, i: int) -> float:
    """The partial derivative ``∂f/∂x_i`` at ``x``: the slope along the ``i``-th axis.

    ``∂f/∂x_i(x) = lim_{h→0} (f(x + h e_i) − f(x)) / h``, all other coordinates held
    fixed; component ``i`` of :func:`gradient`.

    Parameters
    ----------
    f : callable Tensor -> Tensor
        Scalar function of a vector of shape (n,).
    x : array_like, shape (n,)
    i : int
        ``0 ≤ i < n``.

    Returns
    -------
    float

    Examples
    --------
    >>> partial_derivative(lambda x: x[0] ** 2 * x[1], [3.0, 2.0], 1)  # x₀²
    9.0
    """
    xa = _vector_point(x)
    if not 0 <= check_int(i, "i", 0) < xa.size:
        raise ValueError(f"i must be in [0, {xa.size}), got {i}")
    return float(gradient(f, xa)[int(i)])


def jacobian(f: TensorFn, x: ArrayLike) -> np.ndarray:
    """The Jacobian ``J_ki = ∂f_k/∂x_i`` of a vector function, by autodiff.

    Row ``k`` is the gradient of the component ``f_k``; ``J`` is the total derivative,
    the matrix of the best linear approximation ``f(x + d) ≈ f(x) + J d``. The chain rule
    in matrix form reads ``J_{g∘f}(x) = J_g(f(x)) J_f(x)``.

    Parameters
    ----------
    f : callable Tensor -> Tensor
    x : array_like

    Returns
    -------
    ndarray, shape ``f(x).shape + x.shape``

    Examples
    --------
    >>> jacobian(lambda x: x ** 2, [1.0, 3.0])
    array([[2., 0.],
           [0., 6.]])
    """
    _callable(f)
    return np.asarray(_ad.jacobian(f)(_point(x)), dtype=np.float64)


def hessian(f: TensorFn, x: ArrayLike) -> np.ndarray:
    """The Hessian ``H_ij = ∂²f/∂x_i∂x_j`` of a scalar function, by autodiff.

    The Jacobian of the gradient, symmetric for twice continuously differentiable
    ``f``; it gives the second-order Taylor model
    ``f(x + d) ≈ f(x) + ∇f(x)ᵀd + ½ dᵀ H d``.

    Parameters
    ----------
    f : callable Tensor -> Tensor
        Returns a scalar.
    x : array_like

    Returns
    -------
    ndarray, shape ``x.shape + x.shape``

    Examples
    --------
    >>> hessian(lambda x: x[0] ** 2 * x[1], [1.0, 2.0])
    array([[4., 2.],
           [2., 0.]])
    """
    _callable(f)
    return np.asarray(_ad.hessian(f)(_point(x)), dtype=np.float64)


def classify_critical_point(
    f: TensorFn, x: ArrayLike, tol: float = 1e-8, grad_tol: float | None = 1e-6
) -> str:
    """Classify a critical point (``∇f(x) = 0``) by the second-derivative test.

    With ``λ_i`` the eigenvalues of the Hessian ``H(x)`` (symmetrised) and
    ``τ = tol · max(1, max_i |λ_i|)``:

    - all ``λ_i > τ`` (``H`` positive definite): ``"minimum"``;
    - all ``λ_i < −τ`` (negative definite): ``"maximum"``;
    - some ``λ_i > τ`` and some ``λ_j < −τ`` (indefinite): ``"saddle"``;
    - otherwise some ``|λ_i| ≤ τ`` and the test says nothing: ``"inconclusive"``
      (``x³`` at 0, but also ``x⁴`` at 0, which is a minimum).

    In one variable this is the sign of ``f''(x)``; in two, the sign of
    ``det H = λ_1 λ_2`` separates saddles (``< 0``) from extrema (``> 0``).

    Parameters
    ----------
    f : callable Tensor -> Tensor
        Scalar function (of a scalar or a vector).
    x : array_like
        The critical point.
    tol : float, default 1e-8
        Relative threshold for a zero eigenvalue, ``≥ 0``.
    grad_tol : float or None, default 1e-6
        ``x`` is rejected as not critical when ``‖∇f(x)‖_∞ > grad_tol``; ``None`` skips
        the check.

    Returns
    -------
    {"minimum", "maximum", "saddle", "inconclusive"}

    Examples
    --------
    >>> classify_critical_point(lambda x: x ** 2, 0.0)
    'minimum'
    >>> classify_critical_point(lambda x: x[0] ** 2 - x[1] ** 2, [0.0, 0.0])
    'saddle'
    >>> classify_critical_point(lambda x: x ** 3, 0.0)
    'inconclusive'
    """
    _callable(f)
    tol = check_nonneg(tol, "tol")
    xa = _point(x)
    if grad_tol is not None:
        grad_tol = check_finite(grad_tol, "grad_tol")
        g = gradient(f, xa)
        g_max = float(np.max(np.abs(g), initial=0.0))
        if g_max > grad_tol:
            raise ValueError(
                f"x is not a critical point: max |∂f/∂x_i| = {g_max:.3g} > "
                f"grad_tol = {grad_tol}"
            )
    d = xa.size
    H = hessian(f, xa).reshape(d, d)
    lam = np.linalg.eigvalsh(0.5 * (H + H.T))
    tau = tol * max(1.0, float(np.max(np.abs(lam), initial=0.0)))
    if np.all(lam > tau):
        return "minimum"
    if np.all(lam < -tau):
        return "maximum"
    if np.any(lam > tau) and np.any(lam < -tau):
        return "saddle"
    return "inconclusive"


def gradient_descent(
    f: TensorFn, x0: ArrayLike, lr: float = 0.1, steps: int = 100
) -> np.ndarray:
    """Plain gradient descent on a scalar function; returns the whole trajectory.

    ``x_{t+1} = x_t − lr · ∇f(x_t)``, for ``t = 0, …, steps − 1``, with the gradient by
    autodiff. For ``f(x) = ½ a x²`` each step multiplies ``x`` by ``1 − lr · a``: it
    converges for ``0 < lr < 2/a`` and oscillates or diverges beyond.

    Parameters
    ----------
    f : callable Tensor -> Tensor
        Receives a Tensor of shape (d,) and returns a scalar.
    x0 : float or array_like, shape (d,)
        Starting point (a scalar is treated as ``d = 1``).
    lr : float, default 0.1
        Learning rate (step size), ``lr > 0``.
    steps : int, default 100
        ``steps ≥ 0``.

    Returns
    -------
    ndarray, shape (steps + 1, d)
        ``x_0, x_1, …, x_steps``.

    Raises
    ------
    ValueError
        If an iterate becomes non-finite (the learning rate is too large).

    References
    ----------
    A. Cauchy, "Méthode générale pour la résolution des systèmes d'équations
    simultanées", C. R. Acad. Sci. Paris 25 (1847).

    Examples
    --------
    >>> path = gradient_descent(lambda x: (x ** 2).sum(), [1.0, -2.0], lr=0.25, steps=3)
    >>> path  # each step halves x
    array([[ 1.   , -2.   ],
           [ 0.5  , -1.   ],
           [ 0.25 , -0.5  ],
           [ 0.125, -0.25 ]])
    """
    _callable(f)
    x = np.atleast_1d(_point(x0, "x0"))
    if x.ndim != 1:
        raise ValueError(f"x0 must be a scalar or a 1-D vector, got shape {x.shape}")
    lr = check_positive(lr, "lr")
    steps = check_int(steps, "steps", 0)
    grad_f = _ad.grad(f)
    path = np.empty((steps + 1, x.size))
    path[0] = x
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(steps):
            x = x - lr * np.asarray(grad_f(x), dtype=np.float64)
            if not np.all(np.isfinite(x)):
                raise ValueError(
                    f"gradient descent diverged at step {t + 1} with lr={lr}; "
                    "try a smaller learning rate"
                )
            path[t + 1] = x
    return path
