"""Tests for chainrule.mathkit.linalg against NumPy, SciPy, scikit-learn and closed forms."""

import doctest
import warnings

import numpy as np
import pytest
import scipy.linalg
import sklearn.decomposition
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import chainrule as cr
from chainrule.mathkit import linalg
from chainrule.mathkit.linalg import (
    PCA,
    ConvergenceWarning,
    angle,
    cross,
    det,
    eig,
    frobenius_inner,
    gram_schmidt,
    inner,
    is_linear,
    is_orthogonal,
    is_orthonormal,
    low_rank_approximation,
    low_rank_approximation_error,
    lu,
    norm,
    power_iteration,
    svd,
    unit,
)
from doctest_helper import check_doctests

finite = st.floats(-100, 100, allow_nan=False, allow_infinity=False)


def test_doctests():
    check_doctests(linalg, doctest.NORMALIZE_WHITESPACE, more_than=30)


# ----------------------------------------------------------------------------- norms


@pytest.mark.parametrize("p", [1, 1.5, 2, 3, 7.25, np.inf])
def test_norm_matches_numpy(p):
    x = np.random.default_rng(0).standard_normal(17)
    assert norm(x, p) == pytest.approx(np.linalg.norm(x, ord=p), rel=1e-13)


@pytest.mark.parametrize("p", [1, 2, 3, np.inf])
def test_norm_of_zero_vector_is_zero(p):
    assert norm(np.zeros(5), p) == 0.0
    assert norm([], p) == 0.0


def test_norm_does_not_overflow_or_underflow():
    assert norm([3e200, 4e200]) == pytest.approx(5e200)
    assert norm([3e-200, 4e-200]) == pytest.approx(5e-200)
    assert norm([3e200, 4e200], p=3) == pytest.approx((27 + 64) ** (1 / 3) * 1e200)


def test_norm_closed_forms():
    assert norm([3.0, -4.0]) == 5.0
    assert norm([3.0, -4.0], 1) == 7.0
    assert norm([3.0, -4.0], np.inf) == 4.0


@pytest.mark.parametrize("p", [0.5, 0, -1, float("nan"), "two", True])
def test_norm_rejects_bad_p(p):
    with pytest.raises(ValueError, match="p must be a number >= 1"):
        norm([1.0, 2.0], p)


def test_norm_rejects_matrix_and_nan():
    with pytest.raises(ValueError, match=r"1-D vector, got an array of shape \(2, 2\)"):
        norm(np.eye(2))
    with pytest.raises(ValueError, match="finite"):
        norm([1.0, np.nan])


@settings(max_examples=60, deadline=None)
@given(
    arrays(np.float64, 6, elements=finite),
    arrays(np.float64, 6, elements=finite),
    st.sampled_from([1.0, 1.5, 2.0, 4.0, np.inf]),
)
def test_norm_triangle_inequality_and_homogeneity(x, y, p):
    assert norm(x + y, p) <= norm(x, p) + norm(y, p) + 1e-9
    assert norm(-2.5 * x, p) == pytest.approx(2.5 * norm(x, p), rel=1e-12, abs=1e-300)


# ---------------------------------------------------------------- inner product, angles


def test_inner_matches_numpy_and_induces_norm():
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal(9), rng.standard_normal(9)
    assert inner(x, y) == pytest.approx(np.dot(x, y), rel=1e-14)
    assert np.sqrt(inner(x, x)) == pytest.approx(norm(x), rel=1e-14)


def test_inner_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(2,\) and \(3,\)"):
        inner([1.0, 2.0], [1.0, 2.0, 3.0])


# ------------------------------------------------- unit vectors, cross and Frobenius products


def test_unit_has_norm_one_and_the_same_direction():
    # (3, 4) / 5 = (0.6, 0.8); the max-norm version divides by 4
    assert np.array_equal(unit([3.0, 4.0]), [0.6, 0.8])
    assert np.array_equal(unit([3.0, -4.0], p=np.inf), [0.75, -1.0])
    x = np.random.default_rng(1).standard_normal(9)
    for p in (1, 2, 3, np.inf):
        u = unit(x, p)
        assert np.linalg.norm(u, ord=p) == pytest.approx(1.0, rel=1e-14)
        assert angle(u, x) == pytest.approx(0.0, abs=1e-7)


def test_unit_of_zero_vector_raises():
    with pytest.raises(ValueError, match="zero vector has no direction"):
        unit([0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="1-D vector"):
        unit([[1.0, 2.0]])


def test_cross_closed_form_and_numpy():
    # e1 × e2 = e3, e2 × e3 = e1, e3 × e1 = e2 (right-hand rule)
    e = np.eye(3)
    assert np.array_equal(cross(e[0], e[1]), e[2])
    assert np.array_equal(cross(e[1], e[2]), e[0])
    assert np.array_equal(cross(e[2], e[0]), e[1])
    # (1,2,3) × (4,5,6) = (2·6−3·5, 3·4−1·6, 1·5−2·4) = (−3, 6, −3)
    assert np.array_equal(cross([1.0, 2.0, 3.0], [4.0, 5.0, 6.0]), [-3.0, 6.0, -3.0])
    rng = np.random.default_rng(2)
    a = rng.standard_normal((5, 3))
    b = rng.standard_normal((5, 3))
    c = cross(a, b)
    np.testing.assert_allclose(c, np.cross(a, b), rtol=1e-14, atol=1e-14)
    # orthogonal to both factors, anti-commutative, length ‖a‖‖b‖ sin θ
    np.testing.assert_allclose(np.sum(c * a, axis=1), 0.0, atol=1e-14)
    np.testing.assert_allclose(np.sum(c * b, axis=1), 0.0, atol=1e-14)
    np.testing.assert_array_equal(cross(b, a), -c)
    for ai, bi, ci in zip(a, b, c):
        area = np.linalg.norm(ai) * np.linalg.norm(bi) * np.sin(angle(ai, bi))
        assert np.linalg.norm(ci) == pytest.approx(area, rel=1e-12)
    # batched against a single vector broadcasts like NumPy
    batch = rng.standard_normal((2, 4, 3))
    np.testing.assert_allclose(cross(batch, a[0]), np.cross(batch, a[0]), rtol=1e-14)
    assert np.array_equal(cross(a[0], a[0]), np.zeros(3))


def test_cross_rejects_non_3_vectors():
    with pytest.raises(ValueError, match=r"a must hold 3-vectors.*\(2,\)"):
        cross([1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=r"b must hold 3-vectors"):
        cross([1.0, 2.0, 3.0], 4.0)
    with pytest.raises(ValueError, match=r"broadcast together.*\(2, 3\) and \(4, 3\)"):
        cross(np.ones((2, 3)), np.ones((4, 3)))


def test_frobenius_inner_closed_form_and_trace():
    # 1·5 + 2·6 + 3·7 + 4·8 = 5 + 12 + 21 + 32 = 70
    assert frobenius_inner([[1.0, 2.0], [3.0, 4.0]], [[5.0, 6.0], [7.0, 8.0]]) == 70.0
    rng = np.random.default_rng(3)
    A = rng.standard_normal((4, 3))
    B = rng.standard_normal((4, 3))
    assert frobenius_inner(A, B) == pytest.approx(np.trace(A.T @ B), rel=1e-13)
    assert frobenius_inner(A, B) == pytest.approx(frobenius_inner(B, A), rel=1e-15)
    assert np.sqrt(frobenius_inner(A, A)) == pytest.approx(np.linalg.norm(A, "fro"), rel=1e-14)


def test_frobenius_inner_rejects_mismatched_shapes_and_vectors():
    with pytest.raises(ValueError, match=r"same shape.*\(2, 2\) and \(2, 3\)"):
        frobenius_inner(np.ones((2, 2)), np.ones((2, 3)))
    with pytest.raises(ValueError, match="2-D matrix"):
        frobenius_inner([1.0, 2.0], [3.0, 4.0])


# ------------------------------------------------------ the seed's matrix product and its laws


def test_seed_matrix_product_worked_example():
    A = cr.tensor([[1.0, 2.0, 3.0, 4.0], [1.0, 1.0, 1.0, 1.0], [5.0, 6.0, 7.0, 8.0]])
    B = cr.tensor([[1.0, 5.0], [2.0, 6.0], [3.0, 7.0], [4.0, 8.0]])
    # row 1: 1·1+2·2+3·3+4·4 = 30,  1·5+2·6+3·7+4·8 = 70
    # row 2: 1+2+3+4 = 10,          5+6+7+8 = 26
    # row 3: 5+12+21+32 = 70,       25+36+49+64 = 174
    C = A @ B
    assert C.shape == (3, 2)
    assert np.array_equal(C.numpy(), [[30.0, 70.0], [10.0, 26.0], [70.0, 174.0]])
    with pytest.raises(ValueError):
        B @ B  # (4, 2) @ (4, 2): the inner sizes 2 and 4 differ


def test_matrix_product_laws():
    rng = np.random.default_rng(4)
    A, B, C = (cr.tensor(rng.standard_normal((3, 3))) for _ in range(3))
    D = cr.tensor(rng.standard_normal((3, 2)))
    # not commutative: AB ≠ BA for these (random) matrices
    assert not np.allclose((A @ B).numpy(), (B @ A).numpy())
    # distributive A(B + C) = AB + AC, associative (AB)D = A(BD), (AB)ᵀ = BᵀAᵀ
    np.testing.assert_allclose((A @ (B + C)).numpy(), (A @ B + A @ C).numpy(), atol=1e-14)
    np.testing.assert_allclose(((A @ B) @ D).numpy(), (A @ (B @ D)).numpy(), atol=1e-13)
    np.testing.assert_allclose((A @ D).T.numpy(), (D.T @ A.T).numpy(), atol=1e-14)
    # a worked pair: [[0,1],[0,0]]·[[0,0],[1,0]] = [[1,0],[0,0]] but the other order
    # gives [[0,0],[0,1]]
    P = cr.tensor([[0.0, 1.0], [0.0, 0.0]])
    Q = cr.tensor([[0.0, 0.0], [1.0, 0.0]])
    assert np.array_equal((P @ Q).numpy(), [[1.0, 0.0], [0.0, 0.0]])
    assert np.array_equal((Q @ P).numpy(), [[0.0, 0.0], [0.0, 1.0]])


def test_angle_known_values():
    assert angle([1.0, 0.0], [0.0, 3.0]) == pytest.approx(np.pi / 2)
    assert angle([1.0, 0.0], [-2.0, 0.0]) == pytest.approx(np.pi)
    assert angle([1.0, 0.0], [1.0, 1.0]) == pytest.approx(np.pi / 4)
    assert angle([1.0, 1.0], [5.0, 5.0]) == 0.0


def test_angle_matches_arccos_and_is_accurate_for_tiny_angles():
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal(5), rng.standard_normal(5)
    expected = np.arccos(np.dot(x, y) / np.linalg.norm(x) / np.linalg.norm(y))
    assert angle(x, y) == pytest.approx(expected, rel=1e-12)
    # arccos(1 − 5e-17) rounds to 0; the atan2 form recovers the 1e-8 angle.
    assert angle([1.0, 0.0], [1.0, 1e-8]) == pytest.approx(1e-8, rel=1e-8)


def test_angle_zero_vector_raises():
    with pytest.raises(ValueError, match="zero vector: y has norm 0"):
        angle([1.0, 2.0], [0.0, 0.0])
    with pytest.raises(ValueError, match="zero vector: x has norm 0"):
        angle([0.0, 0.0], [1.0, 2.0])


def test_is_orthogonal():
    assert is_orthogonal([1.0, 1.0], [1.0, -1.0])
    assert not is_orthogonal([1.0, 1.0], [1.0, 0.0])
    assert is_orthogonal([0.0, 0.0], [1.0, 5.0])
    # relative: scale does not matter
    assert is_orthogonal([1e8, 1e8], [1e8, -1e8])
    assert is_orthogonal([1.0, 0.0], [1e-3, 1.0], tol=1e-2)
    assert not is_orthogonal([1.0, 0.0], [1e-3, 1.0], tol=1e-4)
    with pytest.raises(ValueError, match="tol must be a finite number >= 0, got -1"):
        is_orthogonal([1.0], [1.0], tol=-1)


def test_is_orthonormal():
    Q, _ = np.linalg.qr(np.random.default_rng(3).standard_normal((6, 4)))
    assert is_orthonormal(Q)
    assert is_orthonormal(np.eye(3))
    assert not is_orthonormal(2 * np.eye(3))  # orthogonal but not unit
    assert not is_orthonormal([[1.0, 1.0], [0.0, 1.0]])
    assert is_orthonormal([0.6, 0.8])  # a single unit column


# ------------------------------------------------------------------------ Gram–Schmidt


def test_gram_schmidt_full_rank_matches_qr_up_to_sign():
    A = np.random.default_rng(4).standard_normal((7, 4))
    Q = gram_schmidt(A)
    assert Q.shape == (7, 4)
    assert is_orthonormal(Q, tol=1e-12)
    Q_np, R_np = np.linalg.qr(A)
    signs = np.sign(np.diag(R_np))
    np.testing.assert_allclose(Q, Q_np * signs, atol=1e-12)
    # same column space: projecting A onto span(Q) gives A back
    np.testing.assert_allclose(Q @ (Q.T @ A), A, atol=1e-12)


def test_gram_schmidt_drops_dependent_columns():
    rng = np.random.default_rng(5)
    B = rng.standard_normal((6, 3))
    A = np.column_stack([B[:, 0], B[:, 1], B[:, 0] + 2 * B[:, 1], np.zeros(6), B[:, 2]])
    Q = gram_schmidt(A)
    assert Q.shape == (6, 3)
    assert is_orthonormal(Q, tol=1e-12)
    np.testing.assert_allclose(Q @ (Q.T @ A), A, atol=1e-12)


def test_gram_schmidt_stays_orthonormal_when_ill_conditioned():
    # Columns of a Hilbert-like matrix are nearly parallel; classical GS loses orthogonality.
    n = 8
    A = 1.0 / (np.arange(n)[:, None] + np.arange(n)[None, :] + 1.0)
    Q = gram_schmidt(A, tol=1e-14)
    assert is_orthonormal(Q, tol=1e-12)


def test_gram_schmidt_zero_matrix_and_vector():
    assert gram_schmidt(np.zeros((3, 2))).shape == (3, 0)
    np.testing.assert_allclose(gram_schmidt([3.0, 4.0]), [[0.6], [0.8]])


# -------------------------------------------------------------------------- linearity


def test_is_linear():
    A = np.random.default_rng(6).standard_normal((3, 4))
    assert is_linear(lambda x: A @ x, dim=4)
    assert is_linear(lambda x: np.array([x.sum(), 0.0]), dim=3)
    c, s = np.cos(1.0), np.sin(1.0)
    assert is_linear(lambda x: np.array([[c, -s], [s, c]]) @ x, dim=2)  # a rotation
    assert not is_linear(lambda x: A @ x + 1.0, dim=4)  # affine: additivity fails
    assert not is_linear(lambda x: x**2, dim=4)
    assert not is_linear(np.abs, dim=4)  # additive only on an orthant; fails one trial
    assert not is_linear(lambda x: np.sqrt(x @ x) * np.ones(2), dim=2)  # homogeneous(c>0)


def test_is_linear_validates():
    with pytest.raises(ValueError, match="dim must be an int >= 1, got 0"):
        is_linear(lambda x: x, dim=0)
    with pytest.raises(TypeError, match="f must be callable"):
        is_linear(3, dim=2)


# ---------------------------------------------------------------- LU and determinants


@pytest.mark.parametrize("n", [1, 2, 3, 5, 10])
def test_lu_reconstructs_and_matches_scipy(n):
    A = np.random.default_rng(n).standard_normal((n, n))
    P, L, U = lu(A)
    np.testing.assert_allclose(P @ L @ U, A, atol=1e-12)
    np.testing.assert_allclose(L, np.tril(L))
    np.testing.assert_allclose(np.diag(L), 1.0)
    assert np.all(np.abs(L) <= 1.0 + 1e-15)  # partial pivoting bounds the multipliers
    np.testing.assert_allclose(U, np.triu(U))
    P_s, L_s, U_s = scipy.linalg.lu(A)
    np.testing.assert_allclose(P, P_s)
    np.testing.assert_allclose(L, L_s, atol=1e-12)
    np.testing.assert_allclose(U, U_s, atol=1e-12)


def test_lu_singular_and_zero_column():
    A = np.array([[0.0, 1.0, 2.0], [0.0, 3.0, 4.0], [0.0, 5.0, 7.0]])
    P, L, U = lu(A)
    np.testing.assert_allclose(P @ L @ U, A, atol=1e-14)
    assert U[0, 0] == 0.0


@pytest.mark.parametrize("n", [1, 2, 3, 4, 8, 20])
def test_det_matches_numpy(n):
    A = np.random.default_rng(10 + n).standard_normal((n, n))
    assert det(A) == pytest.approx(np.linalg.det(A), rel=1e-10)


def test_det_closed_forms():
    assert det([[2.0, 0.0], [0.0, 3.0]]) == 6.0
    assert det([[0.0, 1.0], [1.0, 0.0]]) == -1.0
    assert det([[1.0, 2.0], [3.0, 4.0]]) == pytest.approx(-2.0)
    assert det(np.zeros((0, 0))) == 1.0
    c, s = np.cos(0.7), np.sin(0.7)
    assert det([[c, -s], [s, c]]) == pytest.approx(1.0)  # rotations preserve area
    # a permutation with a 3-cycle is even
    assert det(np.eye(3)[[1, 2, 0]]) == 1.0
    assert det(np.eye(4)[[1, 0, 3, 2]]) == 1.0
    assert det(np.eye(4)[[1, 0, 2, 3]]) == -1.0


@pytest.mark.parametrize(
    "A",
    [
        [[1.0, 2.0], [2.0, 4.0]],
        [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]],
        np.zeros((3, 3)),
        [[1.0, 1.0, 1.0], [0.0, 0.0, 0.0], [2.0, 3.0, 4.0]],
        np.outer([1.0, 2.0, 3.0, 4.0], [0.5, -1.0, 2.0, 3.0]),
    ],
)
def test_det_of_singular_matrix_is_exactly_zero(A):
    assert det(A) == 0.0


def test_det_validates():
    with pytest.raises(ValueError, match=r"square matrix, got shape \(2, 3\)"):
        det(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"2-D matrix, got an array of shape \(3,\)"):
        det(np.ones(3))
    with pytest.raises(ValueError, match="finite"):
        det([[1.0, np.inf], [0.0, 1.0]])


@settings(max_examples=60, deadline=None)
@given(
    arrays(np.float64, (3, 3), elements=st.floats(-10, 10)),
    arrays(np.float64, (3, 3), elements=st.floats(-10, 10)),
)
def test_det_is_multiplicative(A, B):
    scale = (1 + np.abs(A).max()) ** 3 * (1 + np.abs(B).max()) ** 3
    assert det(A @ B) == pytest.approx(det(A) * det(B), rel=1e-8, abs=1e-10 * scale)


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, (4, 4), elements=st.floats(-10, 10)))
def test_det_transpose_and_numpy(A):
    scale = (1 + np.abs(A).max()) ** 4
    assert det(A.T) == pytest.approx(det(A), rel=1e-9, abs=1e-11 * scale)
    assert det(A) == pytest.approx(np.linalg.det(A), rel=1e-9, abs=1e-11 * scale)


# ------------------------------------------------------------- eigenvalues and the SVD


def test_power_iteration_symmetric():
    rng = np.random.default_rng(7)
    Q, _ = np.linalg.qr(rng.standard_normal((5, 5)))
    lams = np.array([10.0, -4.0, 3.0, 1.0, 0.5])
    A = Q @ np.diag(lams) @ Q.T
    lam, v = power_iteration(A, seed=0)
    assert lam == pytest.approx(10.0, rel=1e-9)
    np.testing.assert_allclose(np.abs(v), np.abs(Q[:, 0]), atol=1e-6)
    np.testing.assert_allclose(A @ v, lam * v, atol=1e-8)
    assert np.linalg.norm(v) == pytest.approx(1.0)


def test_power_iteration_negative_dominant_and_nonsymmetric():
    lam, v = power_iteration(np.diag([1.0, -3.0, 2.0]))
    assert lam == pytest.approx(-3.0, rel=1e-9)
    np.testing.assert_allclose(v, [0.0, 1.0, 0.0], atol=1e-6)
    A = np.array([[4.0, 1.0], [2.0, 3.0]])  # eigenvalues 5 and 2
    lam, v = power_iteration(A)
    assert lam == pytest.approx(np.max(np.linalg.eigvals(A).real), rel=1e-9)
    np.testing.assert_allclose(A @ v, lam * v, atol=1e-8)


def test_power_iteration_agrees_with_eig_and_is_deterministic():
    A = np.random.default_rng(8).standard_normal((6, 6))
    A = A @ A.T
    w, _ = eig(A)
    lam, v = power_iteration(A, seed=3)
    assert lam == pytest.approx(w[0], rel=1e-8)
    lam2, v2 = power_iteration(A, seed=3)
    assert lam2 == lam and np.array_equal(v, v2)


def test_power_iteration_zero_matrix_and_warning():
    lam, v = power_iteration(np.zeros((3, 3)))
    assert lam == 0.0 and np.linalg.norm(v) == pytest.approx(1.0)
    with pytest.warns(ConvergenceWarning, match="did not reach tol"):
        power_iteration(np.diag([1.0, -1.0]), num_iters=50)
    with pytest.raises(ValueError, match="num_iters must be an int >= 1, got 0"):
        power_iteration(np.eye(2), num_iters=0)


def test_eig_sorted_and_matches_numpy():
    A = np.random.default_rng(9).standard_normal((5, 5))
    S = A + A.T
    w, V = eig(S)
    np.testing.assert_allclose(np.sort(w), np.linalg.eigvalsh(S), atol=1e-12)
    assert np.all(np.diff(np.abs(w)) <= 1e-12)
    np.testing.assert_allclose(S @ V, V * w, atol=1e-10)
    assert is_orthonormal(V, tol=1e-12)
    assert w.dtype == np.float64


def test_eig_nonsymmetric_real_and_complex():
    A = np.array([[4.0, 1.0], [2.0, 3.0]])
    w, V = eig(A)
    np.testing.assert_allclose(w, [5.0, 2.0])
    assert w.dtype == np.float64
    np.testing.assert_allclose(A @ V, V * w, atol=1e-12)
    R = np.array([[0.0, -2.0], [2.0, 0.0]])  # rotation-scaling: eigenvalues ±2i
    w, V = eig(R)
    assert np.iscomplexobj(w)
    np.testing.assert_allclose(w, [2j, -2j], atol=1e-12)
    np.testing.assert_allclose(R @ V, V * w, atol=1e-12)


def test_svd_matches_numpy_and_sign_convention():
    A = np.random.default_rng(10).standard_normal((6, 4))
    U, S, Vt = svd(A)
    np.testing.assert_allclose(S, np.linalg.svd(A, compute_uv=False), rtol=1e-13)
    np.testing.assert_allclose(U * S @ Vt, A, atol=1e-12)
    assert is_orthonormal(U) and is_orthonormal(Vt.T)
    rows = np.arange(Vt.shape[0])
    assert np.all(Vt[rows, np.argmax(np.abs(Vt), axis=1)] > 0)
    U_f, S_f, Vt_f = svd(A, full_matrices=True)
    assert U_f.shape == (6, 6) and Vt_f.shape == (4, 4)
    np.testing.assert_allclose(U_f[:, :4] * S_f @ Vt_f, A, atol=1e-12)


def test_low_rank_approximation_eckart_young():
    A = np.random.default_rng(11).standard_normal((8, 5))
    S = np.linalg.svd(A, compute_uv=False)
    for k in range(6):
        A_k = low_rank_approximation(A, k)
        assert np.linalg.matrix_rank(A_k) == k
        err = np.linalg.norm(A - A_k, "fro")
        assert err == pytest.approx(np.sqrt(np.sum(S[k:] ** 2)), rel=1e-10, abs=1e-12)
        assert low_rank_approximation_error(A, k) == pytest.approx(err, rel=1e-10, abs=1e-12)
    np.testing.assert_allclose(low_rank_approximation(A, 5), A, atol=1e-12)


def test_low_rank_approximation_beats_random_rank_k_matrices():
    rng = np.random.default_rng(12)
    A = rng.standard_normal((6, 6))
    best = low_rank_approximation_error(A, 2)
    for _ in range(50):
        B = rng.standard_normal((6, 2)) @ rng.standard_normal((2, 6))
        assert np.linalg.norm(A - B, "fro") >= best


def test_low_rank_validates_k():
    with pytest.raises(ValueError, match=r"k must be between 0 and min\(m, n\) = 3, got 4"):
        low_rank_approximation(np.ones((3, 5)), 4)
    with pytest.raises(ValueError, match="k must be an int >= 0, got -1"):
        low_rank_approximation_error(np.ones((3, 5)), -1)
    with pytest.raises(TypeError, match="k must be an int"):
        low_rank_approximation(np.ones((3, 5)), 1.5)


# -------------------------------------------------------------------------------- PCA


def _data(n=40, d=5, seed=13):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)) @ rng.standard_normal((d, d)) + rng.standard_normal(d)


@pytest.mark.parametrize("n_components", [None, 1, 3, 5, 0.8, 0.95])
def test_pca_matches_sklearn(n_components):
    X = _data()
    ours = PCA(n_components).fit(X)
    ref = sklearn.decomposition.PCA(n_components, svd_solver="full").fit(X)
    assert ours.n_components_ == ref.n_components_
    np.testing.assert_allclose(ours.components_, ref.components_, atol=1e-10)
    for name in ["explained_variance_", "explained_variance_ratio_", "singular_values_",
                 "mean_"]:
        np.testing.assert_allclose(getattr(ours, name), getattr(ref, name), rtol=1e-10,
                                   atol=1e-12)
    assert ours.noise_variance_ == pytest.approx(ref.noise_variance_, rel=1e-10, abs=1e-12)
    X_new = _data(seed=14)
    np.testing.assert_allclose(ours.transform(X_new), ref.transform(X_new), atol=1e-10)
    np.testing.assert_allclose(PCA(n_components).fit_transform(X), ref.transform(X),
                               atol=1e-10)
    Z = ours.transform(X_new)
    np.testing.assert_allclose(ours.inverse_transform(Z), ref.inverse_transform(Z),
                               atol=1e-10)


def test_pca_wide_data_matches_sklearn():
    X = _data(n=6, d=10)
    ours, ref = PCA().fit(X), sklearn.decomposition.PCA(svd_solver="full").fit(X)
    assert ours.n_components_ == 6
    np.testing.assert_allclose(ours.components_, ref.components_, atol=1e-10)


def test_pca_full_rank_round_trip_and_reconstruction_is_best_rank_k():
    X = _data()
    pca = PCA().fit(X)
    np.testing.assert_allclose(pca.inverse_transform(pca.transform(X)), X, atol=1e-10)
    pca2 = PCA(2).fit(X)
    X_hat = pca2.inverse_transform(pca2.transform(X))
    Xc = X - X.mean(axis=0)
    np.testing.assert_allclose(X_hat - pca2.mean_, low_rank_approximation(Xc, 2), atol=1e-10)
    np.testing.assert_allclose(pca.explained_variance_,
                               np.sort(np.linalg.eigvalsh(np.cov(X.T)))[::-1], rtol=1e-10)


def test_pca_validates():
    with pytest.raises(ValueError, match="n_components must be >= 1, got 0"):
        PCA(0)
    with pytest.raises(ValueError, match=r"float n_components must be in \(0, 1\), got 1.5"):
        PCA(1.5)
    with pytest.raises(ValueError, match=r"n_components=6 must be between 1 and .*=5"):
        PCA(6).fit(_data())
    with pytest.raises(ValueError, match="not fitted"):
        PCA().transform(_data())
    with pytest.raises(ValueError, match="at least 2 samples"):
        PCA().fit(np.ones((1, 3)))
    pca = PCA(2).fit(_data())
    with pytest.raises(ValueError, match=r"X has 4 columns, expected 5"):
        pca.transform(np.ones((3, 4)))
    with pytest.raises(ValueError, match=r"Z has 3 columns, expected 2"):
        pca.inverse_transform(np.ones((3, 3)))


def test_no_warnings_on_normal_use():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lam, v = power_iteration(np.diag([3.0, 1.0]))
        assert lam == pytest.approx(3.0, rel=1e-12)  # the largest eigenvalue, e₁ its vector
        np.testing.assert_allclose(np.abs(v), [1.0, 0.0], atol=1e-8)
        assert det(np.ones((3, 3))) == 0.0  # equal rows: singular, without a warning
