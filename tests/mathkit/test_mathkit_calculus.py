"""Tests for chainrule.mathkit.calculus against closed forms, SciPy and finite differences."""

import doctest
import math

import numpy as np
import pytest
import scipy.integrate
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule.mathkit import calculus
from chainrule.mathkit.calculus import (
    classify_critical_point,
    derivative,
    finite_difference,
    finite_difference_errors,
    gradient,
    gradient_descent,
    hessian,
    integrate,
    integrate_with_error,
    jacobian,
    partial_derivative,
    tangent_line,
)
from chainrule.mathkit.probability import mle_by_gradient_ascent, mle_normal
from doctest_helper import check_doctests

EPS = np.finfo(np.float64).eps


def rosenbrock(x):
    return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2


def test_doctests():
    check_doctests(calculus, doctest.NORMALIZE_WHITESPACE, more_than=20)


# ------------------------------------------------------------------------ derivatives


@pytest.mark.parametrize(
    ("f", "df"),
    [
        (lambda x: x**3, lambda x: 3 * x**2),
        (lambda x: x.sin(), math.cos),
        (lambda x: x.cos(), lambda x: -math.sin(x)),
        (lambda x: x.exp(), math.exp),
        (lambda x: x.tanh(), lambda x: 1 - math.tanh(x) ** 2),
        (lambda x: x.sigmoid(), lambda x: math.exp(-x) / (1 + math.exp(-x)) ** 2),
        (lambda x: (x * x + 1).log(), lambda x: 2 * x / (x * x + 1)),
        (lambda x: 1 / (1 + x**2), lambda x: -2 * x / (1 + x**2) ** 2),
    ],
)
@pytest.mark.parametrize("x", [-1.3, 0.0, 0.7, 2.0])
def test_derivative_matches_closed_form(f, df, x):
    d = derivative(f)(x)
    assert isinstance(d, float)
    assert d == pytest.approx(df(x), rel=1e-12, abs=1e-14)


def test_derivative_higher_orders_and_nesting():
    f = lambda x: x**4  # noqa: E731
    assert derivative(f, order=2)(1.5) == pytest.approx(12 * 1.5**2)
    assert derivative(f, order=3)(1.5) == pytest.approx(24 * 1.5)
    assert derivative(f, order=4)(1.5) == pytest.approx(24.0)
    assert derivative(derivative(lambda x: x.sin()))(0.5) == pytest.approx(-math.sin(0.5))
    # f'' of sin is −sin everywhere
    xs = np.linspace(-3, 3, 7)
    np.testing.assert_allclose(derivative(lambda x: x.sin(), order=2)(xs), -np.sin(xs),
                               atol=1e-14)


def test_derivative_on_arrays_is_elementwise():
    xs = np.linspace(-2, 2, 9)
    out = derivative(lambda x: x.exp() * x)(xs)
    assert out.shape == (9,)
    np.testing.assert_allclose(out, np.exp(xs) * (1 + xs), rtol=1e-13)


def test_derivative_agrees_with_central_difference():
    f_t = lambda x: (x.sin() * x).exp()  # noqa: E731
    f_n = lambda x: np.exp(np.sin(x) * x)  # noqa: E731
    for x in [-1.0, 0.3, 1.7]:
        assert derivative(f_t)(x) == pytest.approx(finite_difference(f_n, x, 1e-6),
                                                   rel=1e-8)


def test_derivative_validates():
    with pytest.raises(ValueError, match="order must be an int >= 1, got 0"):
        derivative(lambda x: x, order=0)
    with pytest.raises(TypeError, match="f must be callable"):
        derivative(3.0)
    with pytest.raises(TypeError, match="f must return a Tensor"):
        derivative(lambda x: 1.0)(2.0)


# ----------------------------------------------------------------- finite differences


@pytest.mark.parametrize("scheme", ["forward", "backward", "central"])
def test_finite_difference_schemes(scheme):
    x = 0.4
    d = finite_difference(np.sin, x, h=1e-6, scheme=scheme)
    assert d == pytest.approx(math.cos(x), abs=1e-8 if scheme == "central" else 1e-6)


def test_finite_difference_truncation_error_orders():
    f, x, h = np.exp, 1.0, 1e-3
    fwd = finite_difference(f, x, h, "forward") - math.e
    bwd = finite_difference(f, x, h, "backward") - math.e
    cen = finite_difference(f, x, h, "central") - math.e
    assert fwd == pytest.approx(h * math.e / 2, rel=1e-3)  # h f''/2
    assert bwd == pytest.approx(-h * math.e / 2, rel=1e-3)
    assert cen == pytest.approx(h**2 * math.e / 6, rel=1e-3)  # h² f'''/6
    # exact on polynomials of low degree
    assert finite_difference(lambda t: 3 * t + 1, 2.0, 0.5, "forward") == 3.0
    assert finite_difference(lambda t: t**2, 2.0, 0.5, "central") == 4.0


def test_finite_difference_on_arrays():
    xs = np.linspace(0, 1, 5)
    np.testing.assert_allclose(finite_difference(np.exp, xs), np.exp(xs), rtol=1e-9)


def test_finite_difference_validates():
    with pytest.raises(ValueError, match=r"h must be a finite number > 0, got 0.0"):
        finite_difference(np.sin, 0.0, h=0.0)
    with pytest.raises(
        ValueError, match="scheme must be one of 'backward', 'central', 'forward', got 'mid'"
    ):
        finite_difference(np.sin, 0.0, scheme="mid")


def test_finite_difference_errors_v_shape():
    hs = np.logspace(-15, -1, 57)
    for scheme, h_best, slope in [("forward", math.sqrt(EPS), 1), ("central", EPS ** (1 / 3),
                                                                    2)]:
        err = finite_difference_errors(np.exp, np.exp, 1.0, hs, scheme)
        assert err.shape == hs.shape
        i = int(np.argmin(err))
        # bottom of the V within ~1.5 decades of the theory
        assert abs(math.log10(hs[i]) - math.log10(h_best)) < 1.5
        # both arms rise well above the bottom
        assert err[0] > 100 * err[i] and err[-1] > 100 * err[i]
        # right arm: truncation error ∝ h^slope
        fitted = np.polyfit(np.log10(hs[-9:]), np.log10(err[-9:]), 1)[0]
        assert fitted == pytest.approx(slope, abs=0.1)
        # left arm: round-off ∝ 1/h, on average
        fitted_left = np.polyfit(np.log10(hs[:12]), np.log10(err[:12]), 1)[0]
        assert -1.5 < fitted_left < -0.5


def test_finite_difference_errors_accepts_value_and_validates():
    err = finite_difference_errors(lambda t: t**2, 6.0, 3.0, [0.1, 0.01])
    np.testing.assert_allclose(err, [0.1, 0.01], rtol=1e-9)
    with pytest.raises(ValueError, match=r"hs must all be > 0, got min -0.1"):
        finite_difference_errors(np.sin, np.cos, 0.0, [0.1, -0.1])


def test_tangent_line():
    assert tangent_line(lambda x: x**2, 3.0) == (6.0, -9.0)
    slope, intercept = tangent_line(lambda x: x.sin(), 0.0)
    assert (slope, intercept) == (1.0, 0.0)
    slope, intercept = tangent_line(lambda x: x.exp(), 1.0)
    assert slope == pytest.approx(math.e) and intercept == pytest.approx(0.0, abs=1e-15)
    # the tangent touches the curve and approximates it to second order
    f, x0 = np.cosh, 0.8
    slope, intercept = tangent_line(lambda x: (x.exp() + (-x).exp()) / 2, x0)
    for h in [1e-2, 1e-3]:
        gap = f(x0 + h) - (slope * (x0 + h) + intercept)
        assert gap == pytest.approx(np.cosh(x0) * h**2 / 2, rel=1e-2)


# --------------------------------------------------------------------------- integrals


@pytest.mark.parametrize("method", ["trapezoid", "simpson", "gauss"])
def test_signed_area_of_sine_is_zero(method):
    assert integrate(np.sin, -np.pi, np.pi, method=method) == pytest.approx(0.0, abs=1e-12)
    # … while the unsigned area is 4
    assert integrate(lambda x: np.abs(np.sin(x)), -np.pi, np.pi, method, n=2000
                     if method != "gauss" else 200) == pytest.approx(4.0, rel=1e-4)
    assert integrate(np.sin, 0.0, np.pi, method) == pytest.approx(2.0, rel=1e-6)


@pytest.mark.parametrize("method", ["trapezoid", "simpson", "gauss"])
@pytest.mark.parametrize(
    ("f", "a", "b"),
    [(np.exp, 0.0, 1.0), (lambda x: 1 / (1 + x**2), -2.0, 3.0), (np.cos, 0.0, 10.0),
     (lambda x: np.exp(-(x**2)), -4.0, 4.0)],
)
def test_integrate_matches_quad(method, f, a, b):
    ref, _ = scipy.integrate.quad(f, a, b)
    tol = {"trapezoid": 1e-5, "simpson": 1e-10, "gauss": 1e-10}[method]
    assert integrate(f, a, b, method) == pytest.approx(ref, rel=tol, abs=tol)


def test_integrate_rules_match_scipy_on_the_same_grid():
    x = np.linspace(0.0, 2.0, 101)
    y = np.exp(x) * np.cos(x)
    f = lambda t: np.exp(t) * np.cos(t)  # noqa: E731
    assert integrate(f, 0.0, 2.0, "trapezoid", n=100) == pytest.approx(
        scipy.integrate.trapezoid(y, x), rel=1e-14)
    assert integrate(f, 0.0, 2.0, "simpson", n=100) == pytest.approx(
        scipy.integrate.simpson(y, x=x), rel=1e-14)
    assert integrate(f, 0.0, 2.0, "gauss", n=7) == pytest.approx(
        scipy.integrate.fixed_quad(f, 0.0, 2.0, n=7)[0], rel=1e-14)


@pytest.mark.parametrize("x", [-2.0, 0.0, 0.7, 3.0])
def test_fundamental_theorem_of_calculus(x):
    # F(x) = ∫₀ˣ cos t dt = sin x, and d/dx F(x) = cos x: differentiate the integral
    # numerically (central difference of Gauss–Legendre integrals, both ~exact here)
    def F(u):
        return integrate(np.cos, 0.0, float(u), method="gauss", n=32)

    assert F(x) == pytest.approx(math.sin(x), abs=1e-14)
    assert finite_difference(F, x, h=1e-4) == pytest.approx(math.cos(x), abs=1e-8)
    # the other half: ∫ₐᵇ f'(t) dt = f(b) − f(a), with f' by autodiff
    d_sin = derivative(lambda t: t.sin())
    assert integrate(d_sin, 0.0, x, method="gauss", n=32) == pytest.approx(
        math.sin(x), abs=1e-13
    )


def test_integrate_convergence_orders_and_exactness():
    exact = math.e - 1
    for method, ratio in [("trapezoid", 4.0), ("simpson", 16.0)]:
        e1 = abs(integrate(np.exp, 0.0, 1.0, method, n=16) - exact)
        e2 = abs(integrate(np.exp, 0.0, 1.0, method, n=32) - exact)
        assert e1 / e2 == pytest.approx(ratio, rel=0.02)
    cubic = lambda x: 4 * x**3 - 2 * x + 1  # noqa: E731  ∫_0^2 = 16 − 4 + 2 = 14
    assert integrate(cubic, 0.0, 2.0, "simpson", n=2) == pytest.approx(14.0, rel=1e-14)
    assert integrate(cubic, 0.0, 2.0, "gauss", n=2) == pytest.approx(14.0, rel=1e-14)
    assert integrate(lambda x: 3 * x + 2, 0.0, 1.0, "trapezoid", n=1) == pytest.approx(3.5)
    # Gauss with n nodes is exact up to degree 2n − 1 = 9, not 10
    assert integrate(lambda x: x**9, 0.0, 1.0, "gauss", n=5) == pytest.approx(0.1, rel=1e-14)
    assert integrate(lambda x: x**10, 0.0, 1.0, "gauss", n=5) != pytest.approx(1 / 11,
                                                                                rel=1e-12)


def test_integrate_orientation_non_vectorised_and_constants():
    assert integrate(np.exp, 1.0, 0.0) == pytest.approx(-(math.e - 1))
    assert integrate(np.exp, 2.0, 2.0) == 0.0
    assert integrate(math.sin, 0.0, math.pi) == pytest.approx(2.0)  # called point by point
    assert integrate(lambda x: 2.5, 1.0, 3.0, "gauss") == pytest.approx(5.0)


def test_integrate_validates():
    with pytest.raises(
        ValueError, match="method must be one of 'gauss', 'simpson', 'trapezoid', got 'euler'"
    ):
        integrate(np.sin, 0.0, 1.0, method="euler")
    with pytest.raises(ValueError, match="even number of subintervals n, got 3"):
        integrate(np.sin, 0.0, 1.0, "simpson", n=3)
    with pytest.raises(ValueError, match="n must be an int >= 1, got 0"):
        integrate(np.sin, 0.0, 1.0, "trapezoid", n=0)
    with pytest.raises(ValueError, match="b must be finite, got inf"):
        integrate(np.exp, 0.0, np.inf)
    with np.errstate(divide="ignore"), pytest.raises(ValueError, match="non-finite value"):
        integrate(lambda x: 1 / x, 0.0, 1.0, "trapezoid")


@pytest.mark.parametrize(("method", "n"), [("trapezoid", 10), ("simpson", 10), ("gauss", 3)])
def test_integrate_with_error_estimate(method, n):
    exact = math.e - 1
    value, err = integrate_with_error(np.exp, 0.0, 1.0, method, n)
    assert value == integrate(np.exp, 0.0, 1.0, method, 2 * n)
    actual = abs(value - exact)
    if method == "gauss":  # a conservative bound
        assert actual <= err
    else:  # Richardson: an estimate, sharp for smooth f (not a bound)
        assert err == pytest.approx(actual, rel=0.05)


# ------------------------------------------------------------ multivariable derivatives


def test_gradient_partial_jacobian_closed_forms():
    f = lambda x: x[0] ** 2 * x[1] + x[1].sin()  # noqa: E731
    x = np.array([1.5, -0.5])
    g = gradient(f, x)
    np.testing.assert_allclose(g, [2 * 1.5 * -0.5, 1.5**2 + math.cos(-0.5)], rtol=1e-14)
    assert partial_derivative(f, x, 0) == pytest.approx(g[0])
    assert partial_derivative(f, x, 1) == pytest.approx(g[1])
    A = np.array([[1.0, 2.0, 0.5], [-1.0, 0.0, 3.0]])
    J = jacobian(lambda v: cr.tensor(A) @ v, np.ones(3))
    np.testing.assert_allclose(J, A)
    J = jacobian(lambda v: v.tanh(), [0.2, -0.4])
    np.testing.assert_allclose(J, np.diag(1 - np.tanh([0.2, -0.4]) ** 2), rtol=1e-14)


def test_gradient_and_hessian_of_rosenbrock():
    x = np.array([-1.2, 1.0])
    g = gradient(rosenbrock, x)
    expected = [-2 * (1 - x[0]) - 400 * x[0] * (x[1] - x[0] ** 2), 200 * (x[1] - x[0] ** 2)]
    np.testing.assert_allclose(g, expected, rtol=1e-13)
    np.testing.assert_allclose(gradient(rosenbrock, [1.0, 1.0]), [0.0, 0.0])
    H = hessian(rosenbrock, [1.0, 1.0])
    np.testing.assert_allclose(H, [[802.0, -400.0], [-400.0, 200.0]])


def test_hessian_of_quadratic_form():
    A = np.random.default_rng(0).standard_normal((4, 4))
    At = cr.tensor(A)
    H = hessian(lambda x: 0.5 * (x @ (At @ x)), np.ones(4))
    np.testing.assert_allclose(H, (A + A.T) / 2, atol=1e-14)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(-2, 2), min_size=3, max_size=3))
def test_gradient_matches_central_differences(point):
    x = np.array(point)

    def f_t(v):
        return (v[0] * v[1]).sin() + (v[2] ** 2).exp() * v[0] + v.tanh().sum()

    def f_n(v):
        return np.sin(v[0] * v[1]) + np.exp(v[2] ** 2) * v[0] + np.tanh(v).sum()

    h = 1e-6
    numeric = [(f_n(x + h * e) - f_n(x - h * e)) / (2 * h) for e in np.eye(3)]
    np.testing.assert_allclose(gradient(f_t, x), numeric, rtol=1e-6, atol=1e-6)


def test_partial_derivative_validates():
    with pytest.raises(ValueError, match=r"i must be in \[0, 2\), got 2"):
        partial_derivative(rosenbrock, [1.0, 1.0], 2)
    with pytest.raises(ValueError, match=r"1-D vector, got an array of shape \(\)"):
        partial_derivative(lambda x: x**2, 1.0, 0)


@pytest.mark.parametrize(
    ("f", "x", "kind"),
    [
        (lambda x: x**2, 0.0, "minimum"),
        (lambda x: -(x**2), 0.0, "maximum"),
        (lambda x: x**3, 0.0, "inconclusive"),
        (lambda x: x**4, 0.0, "inconclusive"),
        (lambda x: x[0] ** 2 - x[1] ** 2, [0.0, 0.0], "saddle"),
        (lambda x: x[0] ** 2 + x[1] ** 2, [0.0, 0.0], "minimum"),
        (lambda x: -(x[0] ** 2) - 3 * x[1] ** 2, [0.0, 0.0], "maximum"),
        (lambda x: x[0] ** 2 + x[1] ** 3, [0.0, 0.0], "inconclusive"),
        (lambda x: x[0] * x[1], [0.0, 0.0], "saddle"),
        (rosenbrock, [1.0, 1.0], "minimum"),
        (lambda x: x.cos().sum(), [0.0, np.pi, 0.0], "saddle"),
        (lambda x: x.cos().sum(), [0.0, 0.0, 0.0], "maximum"),
    ],
)
def test_classify_critical_point(f, x, kind):
    assert classify_critical_point(f, x) == kind


def test_classify_critical_point_rejects_non_critical_points():
    with pytest.raises(ValueError, match=r"not a critical point: max .* = 2 > grad_tol"):
        classify_critical_point(lambda x: x**2, 1.0)
    # the check can be switched off: curvature alone
    assert classify_critical_point(lambda x: x**2, 1.0, grad_tol=None) == "minimum"
    with pytest.raises(ValueError, match=r"tol must be a finite number >= 0, got -1.0"):
        classify_critical_point(lambda x: x**2, 0.0, tol=-1.0)


def test_gradient_descent_on_quadratic_matches_closed_form():
    a, lr, x0 = 3.0, 0.1, np.array([2.0, -1.0])
    path = gradient_descent(lambda x: 0.5 * a * (x**2).sum(), x0, lr=lr, steps=20)
    assert path.shape == (21, 2)
    expected = x0 * (1 - lr * a) ** np.arange(21)[:, None]
    np.testing.assert_allclose(path, expected, rtol=1e-12)


def test_gradient_descent_rosenbrock_and_scalars():
    path = gradient_descent(rosenbrock, [-1.2, 1.0], lr=1e-3, steps=3000)
    values = [rosenbrock(p) for p in path]
    # fast down into the curved valley, then slowly along it towards (1, 1)
    assert values[-1] < 0.05 and values[-1] < 1e-2 * values[0]
    assert np.linalg.norm(path[-1] - 1.0) < 0.4 < np.linalg.norm(path[0] - 1.0)
    path = gradient_descent(lambda x: (x - 3.0) ** 2, 0.0, lr=0.25, steps=5)
    assert path.shape == (6, 1)
    assert path[-1, 0] == pytest.approx(3.0 - 3.0 * 0.5**5)
    assert gradient_descent(lambda x: (x**2).sum(), [1.0], steps=0).shape == (1, 1)


def test_gradient_descent_divergence_and_validation():
    # lr > 2/a: |1 − lr·a| > 1, each step grows x until it overflows
    with pytest.raises(ValueError, match=r"diverged at step .* lr=3.0"):
        gradient_descent(lambda x: (x**2).sum(), [1.0], lr=3.0, steps=2000)
    with pytest.raises(ValueError, match=r"lr must be a finite number > 0, got -0.1"):
        gradient_descent(lambda x: (x**2).sum(), [1.0], lr=-0.1)
    with pytest.raises(ValueError, match="steps must be an int >= 0, got -1"):
        gradient_descent(lambda x: (x**2).sum(), [1.0], steps=-1)


# ------------------------------------------------------------ MLE by gradient ascent


def test_mle_by_gradient_ascent_normal_matches_closed_form():
    data = np.random.default_rng(0).normal(2.0, 0.5, size=200)
    x = cr.tensor(data)

    def ll(theta):  # θ = (μ, log σ)
        mu, log_sigma = theta[0], theta[1]
        z = (x - mu) / log_sigma.exp()
        return (-0.5 * z**2 - log_sigma - 0.5 * math.log(2 * math.pi)).mean()

    theta = mle_by_gradient_ascent(ll, [0.0, 0.0], lr=0.1, steps=2000)
    mu, sigma = mle_normal(data)
    assert theta[0] == pytest.approx(mu, rel=1e-6)
    assert math.exp(theta[1]) == pytest.approx(sigma, rel=1e-6)


def test_mle_by_gradient_ascent_poisson():
    data = np.random.default_rng(1).poisson(4.0, size=300).astype(np.float64)
    x = cr.tensor(data)

    def ll(theta):  # θ = log λ; the log x! term does not depend on θ
        return (x * theta[0] - theta[0].exp()).mean()

    theta = mle_by_gradient_ascent(ll, [0.0], lr=0.1, steps=1000)
    assert math.exp(theta[0]) == pytest.approx(data.mean(), rel=1e-6)


def test_mle_by_gradient_ascent_validates():
    with pytest.raises(TypeError, match="log_likelihood must be callable"):
        mle_by_gradient_ascent(None, [0.0])
    with pytest.raises(ValueError, match="steps must be an int >= 1, got 0"):
        mle_by_gradient_ascent(lambda t: -(t**2).sum(), [0.0], steps=0)
    with pytest.raises(ValueError, match="gradient ascent diverged"):
        mle_by_gradient_ascent(lambda t: -(t**2).sum(), [1.0], lr=5.0, steps=2000)
