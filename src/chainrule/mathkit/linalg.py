"""Linear algebra, executable: norms, inner products, bases, determinants, SVD and PCA.

Every function takes array-likes, computes in float64 and validates its input up front.
Scalars are returned as Python ``float``; vectors and matrices as ``numpy.ndarray``.

References
----------
S. Axler, *Linear Algebra Done Right*, 3rd ed., Springer, 2015.
G. H. Golub and C. F. Van Loan, *Matrix Computations*, 4th ed., JHU Press, 2013.
L. N. Trefethen and D. Bau, *Numerical Linear Algebra*, SIAM, 1997.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike

from .._checks import check_int, check_nonneg

__all__ = [
    "PCA",
    "ConvergenceWarning",
    "angle",
    "cross",
    "det",
    "eig",
    "frobenius_inner",
    "gram_schmidt",
    "inner",
    "is_linear",
    "is_orthogonal",
    "is_orthonormal",
    "low_rank_approximation",
    "low_rank_approximation_error",
    "lu",
    "norm",
    "power_iteration",
    "svd",
    "unit",
]

_EPS = np.finfo(np.float64).eps


class ConvergenceWarning(UserWarning):
    """Warning raised when an iterative method stops before reaching its tolerance."""


# --------------------------------------------------------------------------- validation


def _float64(x: ArrayLike, name: str) -> np.ndarray:
    """``x`` as a float64 array, or a TypeError naming it (finiteness is not checked)."""
    try:
        return np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be an array of real numbers, got {x!r}") from exc


def _vector(x: ArrayLike, name: str = "x") -> np.ndarray:
    """Return ``x`` as a finite 1-D float64 array, or raise a ValueError naming it."""
    v = _float64(x, name)
    if v.ndim != 1:
        raise ValueError(f"{name} must be a 1-D vector, got an array of shape {v.shape}")
    if not np.all(np.isfinite(v)):
        raise ValueError(f"{name} must contain only finite values, got {v}")
    return v


def _matrix(A: ArrayLike, name: str = "A", square: bool = False) -> np.ndarray:
    """Return ``A`` as a finite 2-D float64 array, or raise a ValueError naming it."""
    M = _float64(A, name)
    if M.ndim != 2:
        raise ValueError(f"{name} must be a 2-D matrix, got an array of shape {M.shape}")
    if square and M.shape[0] != M.shape[1]:
        raise ValueError(f"{name} must be a square matrix, got shape {M.shape}")
    if not np.all(np.isfinite(M)):
        raise ValueError(f"{name} must contain only finite values")
    return M


def _same_shape(x: np.ndarray, y: np.ndarray) -> None:
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same shape, got {x.shape} and {y.shape}")


def _rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    """A Generator for ``seed``; ``None`` is chainrule's global one (``cr.manual_seed``)."""
    from ..rng import get_rng

    return get_rng(seed)


# --------------------------------------------------------------------- vectors and norms


def norm(x: ArrayLike, p: float = 2) -> float:
    """The p-norm of a vector.

    ``‖x‖_p = (Σ_i |x_i|^p)^(1/p)`` for ``p ≥ 1``, and ``‖x‖_∞ = max_i |x_i|`` for
    ``p = np.inf``. ``p = 2`` is the Euclidean length, the norm induced by the inner
    product: ``‖x‖_2 = sqrt(⟨x, x⟩)``. For ``p < 1`` the formula is not a norm (the
    triangle inequality fails), so it is refused.

    The sum is computed as ``m · (Σ_i (|x_i| / m)^p)^(1/p)`` with ``m = ‖x‖_∞``, so
    large or tiny entries neither overflow nor underflow.

    Parameters
    ----------
    x : array_like, shape (n,)
        The vector. The zero vector (and the empty vector) has norm 0.
    p : float, default 2
        The order, ``p ≥ 1`` or ``np.inf``.

    Returns
    -------
    float

    References
    ----------
    Golub & Van Loan, *Matrix Computations*, §2.2.

    Examples
    --------
    >>> norm([3.0, -4.0])
    5.0
    >>> norm([3.0, -4.0], p=1)
    7.0
    >>> norm([3.0, -4.0], p=np.inf)
    4.0
    """
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not p >= 1:
        raise ValueError(f"p must be a number >= 1 or np.inf, got {p!r}")
    x = _vector(x)
    if x.size == 0:
        return 0.0
    m = float(np.max(np.abs(x)))
    if p == np.inf or m == 0.0:
        return m
    r = np.abs(x) / m
    if p == 1:
        return float(m * np.sum(r))
    if p == 2:
        return float(m * np.sqrt(np.dot(r, r)))
    return float(m * np.sum(r**p) ** (1.0 / p))


def inner(x: ArrayLike, y: ArrayLike) -> float:
    """The Euclidean inner product of two vectors.

    ``⟨x, y⟩ = Σ_i x_i y_i``. It is bilinear, symmetric and positive definite
    (``⟨x, x⟩ > 0`` unless ``x = 0``), and induces the 2-norm ``‖x‖_2 = sqrt(⟨x, x⟩)``.

    Parameters
    ----------
    x, y : array_like, shape (n,)

    Returns
    -------
    float

    Examples
    --------
    >>> inner([1.0, 2.0, 3.0], [4.0, 5.0, 6.0])
    32.0
    """
    x = _vector(x, "x")
    y = _vector(y, "y")
    _same_shape(x, y)
    return float(np.dot(x, y))


def angle(x: ArrayLike, y: ArrayLike) -> float:
    """The angle between two non-zero vectors, in radians, in ``[0, π]``.

    ``θ = arccos(⟨x, y⟩ / (‖x‖ ‖y‖))``. The code evaluates the equivalent, numerically
    stable form ``θ = 2 · atan2(‖u − v‖, ‖u + v‖)`` with ``u = x/‖x‖`` and ``v = y/‖y‖``,
    which stays accurate for nearly parallel vectors where ``arccos`` loses half the
    digits.

    Parameters
    ----------
    x, y : array_like, shape (n,)
        Non-zero vectors (the angle with the zero vector is undefined).

    Returns
    -------
    float

    References
    ----------
    W. Kahan, *How Futile are Mindless Assessments of Roundoff in Floating-Point
    Computation?*, 2006, §12.

    Examples
    --------
    >>> round(angle([1.0, 0.0], [0.0, 2.0]), 12) == round(np.pi / 2, 12)
    True
    >>> angle([1.0, 1.0], [2.0, 2.0])
    0.0
    """
    x = _vector(x, "x")
    y = _vector(y, "y")
    _same_shape(x, y)
    nx, ny = norm(x), norm(y)
    if nx == 0.0 or ny == 0.0:
        which = "x" if nx == 0.0 else "y"
        raise ValueError(f"the angle is undefined for a zero vector: {which} has norm 0")
    u = x / nx
    v = y / ny
    return float(2.0 * np.arctan2(norm(u - v), norm(u + v)))


def unit(x: ArrayLike, p: float = 2) -> np.ndarray:
    """The unit vector in the direction of ``x``.

    ``û = x / ‖x‖_p``, so ``‖û‖_p = 1`` and ``û`` points the same way as ``x``. The zero
    vector has no direction, so it is refused.

    Parameters
    ----------
    x : array_like, shape (n,)
        A non-zero vector.
    p : float, default 2
        The norm that is made equal to one (see :func:`norm`).

    Returns
    -------
    numpy.ndarray, shape (n,)

    Examples
    --------
    >>> unit([3.0, 4.0])
    array([0.6, 0.8])
    >>> unit([3.0, -4.0], p=np.inf)
    array([ 0.75, -1.  ])
    """
    x = _vector(x, "x")
    n = norm(x, p)
    if n == 0.0:
        raise ValueError(f"the zero vector has no direction: x = {x} has norm 0")
    return x / n


def cross(a: ArrayLike, b: ArrayLike) -> np.ndarray:
    """The cross product of 3-vectors (or of two batches of them, along the last axis).

    ``a × b = (a₂b₃ − a₃b₂, a₃b₁ − a₁b₃, a₁b₂ − a₂b₁)``: orthogonal to both ``a`` and ``b``,
    of length ``‖a‖ ‖b‖ sin θ`` (the area of the parallelogram they span), oriented by the
    right-hand rule. It is anti-commutative, ``a × b = −(b × a)``, and ``a × a = 0``.

    Parameters
    ----------
    a, b : array_like, shape (..., 3)
        Vectors in the last axis; leading axes broadcast against each other like NumPy's.

    Returns
    -------
    numpy.ndarray, shape (..., 3)
        The broadcast shape of ``a`` and ``b``.

    Examples
    --------
    >>> cross([1.0, 0.0, 0.0], [0.0, 1.0, 0.0])
    array([0., 0., 1.])
    >>> cross([[1.0, 2.0, 3.0], [0.0, 0.0, 1.0]], [4.0, 5.0, 6.0])
    array([[-3.,  6., -3.],
           [-5.,  4.,  0.]])
    """
    a = _float64(a, "a")
    b = _float64(b, "b")
    for name, v in (("a", a), ("b", b)):
        if v.ndim == 0 or v.shape[-1] != 3:
            raise ValueError(
                f"{name} must hold 3-vectors along its last axis, got shape {v.shape}"
            )
        if not np.all(np.isfinite(v)):
            raise ValueError(f"{name} must contain only finite values")
    try:
        np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ValueError(
            f"a and b must broadcast together, got shapes {a.shape} and {b.shape}"
        ) from None
    a1, a2, a3 = a[..., 0], a[..., 1], a[..., 2]
    b1, b2, b3 = b[..., 0], b[..., 1], b[..., 2]
    return np.stack([a2 * b3 - a3 * b2, a3 * b1 - a1 * b3, a1 * b2 - a2 * b1], axis=-1)


def frobenius_inner(A: ArrayLike, B: ArrayLike) -> float:
    """The Frobenius inner product of two matrices of the same shape.

    ``⟨A, B⟩_F = Σ_ij A_ij B_ij = tr(Aᵀ B)``: the matrices read as long vectors, so it has
    every property of :func:`inner`, and it induces the Frobenius norm
    ``‖A‖_F = sqrt(⟨A, A⟩_F)`` (which :func:`norm`, a vector norm, does not take).

    Parameters
    ----------
    A, B : array_like, shape (m, n)

    Returns
    -------
    float

    Examples
    --------
    >>> frobenius_inner([[1.0, 2.0], [3.0, 4.0]], [[5.0, 6.0], [7.0, 8.0]])
    70.0
    """
    A = _matrix(A, "A")
    B = _matrix(B, "B")
    if A.shape != B.shape:
        raise ValueError(f"A and B must have the same shape, got {A.shape} and {B.shape}")
    return float(np.dot(A.ravel(), B.ravel()))


def is_orthogonal(x: ArrayLike, y: ArrayLike, tol: float = 1e-10) -> bool:
    """Whether two vectors are orthogonal: ``⟨x, y⟩ = 0`` up to a relative tolerance.

    Tests ``|⟨x, y⟩| ≤ tol · ‖x‖ ‖y‖``, i.e. ``|cos θ| ≤ tol``, so the answer does not
    depend on the scale of the vectors. The zero vector is orthogonal to every vector.

    Parameters
    ----------
    x, y : array_like, shape (n,)
    tol : float, default 1e-10
        Tolerance on ``|cos θ|``, ``tol ≥ 0``.

    Returns
    -------
    bool

    Examples
    --------
    >>> is_orthogonal([1.0, 1.0], [1.0, -1.0])
    True
    >>> is_orthogonal([1.0, 1.0], [1.0, 0.0])
    False
    """
    tol = check_nonneg(tol, "tol")
    x = _vector(x, "x")
    y = _vector(y, "y")
    _same_shape(x, y)
    return bool(abs(inner(x, y)) <= tol * norm(x) * norm(y))


def is_orthonormal(Q: ArrayLike, tol: float = 1e-10) -> bool:
    """Whether the columns of ``Q`` are orthonormal: ``Qᵀ Q = I`` up to ``tol``.

    Tests ``max_ij |(Qᵀ Q − I)_ij| ≤ tol``: each column has unit 2-norm and distinct
    columns are orthogonal. A square ``Q`` passing the test is an orthogonal matrix.

    Parameters
    ----------
    Q : array_like, shape (n, k)
        A 1-D vector is treated as a single column.
    tol : float, default 1e-10

    Returns
    -------
    bool

    Examples
    --------
    >>> c, s = np.cos(0.3), np.sin(0.3)
    >>> is_orthonormal([[c, -s], [s, c]])
    True
    >>> is_orthonormal([[1.0, 1.0], [0.0, 1.0]])
    False
    """
    tol = check_nonneg(tol, "tol")
    Q = np.asarray(Q, dtype=np.float64)
    if Q.ndim == 1:
        Q = Q[:, None]
    Q = _matrix(Q, "Q")
    G = Q.T @ Q
    return bool(np.max(np.abs(G - np.eye(G.shape[0])), initial=0.0) <= tol)


def gram_schmidt(A: ArrayLike, tol: float = 1e-10) -> np.ndarray:
    """An orthonormal basis of the column space of ``A``, by Gram–Schmidt.

    For each column ``a_j`` in order: ``v = a_j − Σ_i ⟨q_i, a_j⟩ q_i`` over the basis
    vectors ``q_i`` found so far, then ``q_j = v / ‖v‖``. The code uses the modified
    form (subtracting one projection at a time) and repeats the sweep once
    ("twice is enough"), which keeps ``Qᵀ Q = I`` to machine precision even for
    ill-conditioned ``A``.

    Rank-deficient input: a column whose remainder satisfies ``‖v‖ ≤ tol · max_j ‖a_j‖``
    lies (numerically) in the span of the previous columns and is dropped, so the result
    has ``rank(A)`` columns — ``(n, 0)`` for a zero matrix.

    Parameters
    ----------
    A : array_like, shape (n, k)
        The spanning vectors, as columns. A 1-D vector is a single column.
    tol : float, default 1e-10
        Relative threshold for a dependent column, ``tol ≥ 0``.

    Returns
    -------
    Q : ndarray, shape (n, r)
        Orthonormal columns spanning the same space as the columns of ``A``, with
        ``r = rank(A)``; ``Q[:, :j]`` spans the first independent columns of ``A``.

    References
    ----------
    Trefethen & Bau, *Numerical Linear Algebra*, Lecture 8; L. Giraud et al.,
    "Rounding error analysis of the classical Gram–Schmidt orthogonalization process",
    Numer. Math. 101 (2005).

    Examples
    --------
    >>> Q = gram_schmidt([[1.0, 1.0, 2.0], [0.0, 1.0, 1.0], [0.0, 0.0, 0.0]])
    >>> Q.shape  # the third column is the sum of the first two: dropped
    (3, 2)
    >>> np.round(Q, 12) + 0.0
    array([[1., 0.],
           [0., 1.],
           [0., 0.]])
    """
    tol = check_nonneg(tol, "tol")
    A = np.asarray(A, dtype=np.float64)
    if A.ndim == 1:
        A = A[:, None]
    A = _matrix(A, "A")
    n, k = A.shape
    scale = float(np.max(np.linalg.norm(A, axis=0), initial=0.0))
    basis: list[np.ndarray] = []
    for j in range(k):
        v = A[:, j].copy()
        for _ in range(2):
            for q in basis:
                v -= np.dot(q, v) * q
        length = norm(v)
        if scale == 0.0 or length <= tol * scale:
            continue
        basis.append(v / length)
    if not basis:
        return np.zeros((n, 0))
    return np.stack(basis, axis=1)


def is_linear(
    f: Callable[[np.ndarray], ArrayLike],
    dim: int,
    trials: int = 20,
    seed: int | np.random.Generator | None = 0,
    tol: float = 1e-8,
) -> bool:
    """Numerically test whether ``f`` is a linear map ``Rᵈⁱᵐ → Rᵐ``.

    ``f`` is linear when, for all vectors ``x, y`` and scalars ``c``,

    - additivity: ``f(x + y) = f(x) + f(y)``,
    - homogeneity: ``f(c x) = c f(x)``.

    Both identities are checked on ``trials`` random draws ``x, y ~ N(0, I)``,
    ``c ~ N(0, 3²)``, with ``numpy.allclose(lhs, rhs, rtol=tol, atol=tol · s)`` where
    ``s`` is the largest magnitude involved. A random test can prove non-linearity (one
    counterexample suffices) but only gives evidence of linearity.

    Parameters
    ----------
    f : callable
        Takes an ndarray of shape ``(dim,)`` and returns an array-like (any fixed shape).
    dim : int
        Dimension of the input, ``dim ≥ 1``.
    trials : int, default 20
        Number of random draws, ``trials ≥ 1``.
    seed : int, numpy.random.Generator or None, default 0
    tol : float, default 1e-8

    Returns
    -------
    bool

    Examples
    --------
    >>> A = np.array([[1.0, 2.0], [3.0, 4.0]])
    >>> is_linear(lambda x: A @ x, dim=2)
    True
    >>> is_linear(lambda x: A @ x + 1.0, dim=2)  # affine, not linear
    False
    >>> is_linear(np.tanh, dim=2)
    False
    """
    dim = check_int(dim, "dim", 1)
    trials = check_int(trials, "trials", 1)
    tol = check_nonneg(tol, "tol")
    if not callable(f):
        raise TypeError(f"f must be callable, got {f!r}")
    rng = _rng(seed)

    def close(lhs: np.ndarray, rhs: np.ndarray) -> bool:
        if lhs.shape != rhs.shape:
            return False
        s = max(float(np.max(np.abs(lhs), initial=0.0)),
                float(np.max(np.abs(rhs), initial=0.0)), 1.0)
        return bool(np.allclose(lhs, rhs, rtol=tol, atol=tol * s))

    def F(v: np.ndarray) -> np.ndarray:
        return np.asarray(f(v), dtype=np.float64)

    for _ in range(trials):
        x = rng.standard_normal(dim)
        y = rng.standard_normal(dim)
        c = 3.0 * rng.standard_normal()
        if not close(F(x + y), F(x) + F(y)):
            return False
        if not close(F(c * x), c * F(x)):
            return False
    return True


# ------------------------------------------------------------------ LU and determinants


def lu(A: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """LU factorisation with partial pivoting: ``A = P L U``.

    Gaussian elimination: at step ``k`` the row with the largest ``|U[i, k]|``
    (``i ≥ k``) is swapped into position ``k`` (partial pivoting, which keeps
    ``|L_ij| ≤ 1``), then ``L[i, k] = U[i, k] / U[k, k]`` and
    ``U[i, :] ← U[i, :] − L[i, k] · U[k, :]`` for ``i > k``. If the whole column below
    the diagonal is zero the step is skipped (the matrix is singular and ``U[k, k] = 0``).
    The convention is SciPy's: ``A = P @ L @ U``, with ``P`` a permutation matrix.

    Parameters
    ----------
    A : array_like, shape (n, n)

    Returns
    -------
    P : ndarray, shape (n, n)
        Permutation matrix.
    L : ndarray, shape (n, n)
        Unit lower-triangular.
    U : ndarray, shape (n, n)
        Upper-triangular.

    References
    ----------
    Golub & Van Loan, *Matrix Computations*, Algorithm 3.4.1; ``scipy.linalg.lu``.

    Examples
    --------
    >>> A = np.array([[1.0, 2.0], [3.0, 4.0]])
    >>> P, L, U = lu(A)
    >>> L
    array([[1.        , 0.        ],
           [0.33333333, 1.        ]])
    >>> U
    array([[3.        , 4.        ],
           [0.        , 0.66666667]])
    >>> np.allclose(P @ L @ U, A)
    True
    """
    U = _matrix(A, "A", square=True).copy()
    n = U.shape[0]
    L = np.eye(n)
    perm = np.arange(n)
    for k in range(n - 1):
        pivot = k + int(np.argmax(np.abs(U[k:, k])))
        if pivot != k:
            U[[k, pivot], :] = U[[pivot, k], :]
            L[[k, pivot], :k] = L[[pivot, k], :k]
            perm[[k, pivot]] = perm[[pivot, k]]
        if U[k, k] == 0.0:
            continue  # the column is zero from row k down: nothing to eliminate
        l = U[k + 1 :, k] / U[k, k]
        L[k + 1 :, k] = l
        U[k + 1 :, k:] -= np.outer(l, U[k, k:])
        U[k + 1 :, k] = 0.0
    # Row i of P L U is row perm[i] of A, i.e. P_r A = L U with P_r = I[perm]; P = P_rᵀ.
    P = np.eye(n)[:, perm]
    return P, L, U


def det(A: ArrayLike) -> float:
    """The determinant, by LU factorisation with partial pivoting.

    Geometrically, ``det(A)`` is the signed volume scaling factor of the linear map
    ``x ↦ A x``: the unit cube is mapped to a parallelepiped of volume ``|det(A)|``, and
    the sign is negative when the map reverses orientation. ``det(A) = 0`` exactly when
    the map flattens space onto a lower-dimensional subspace (``A`` is singular).

    From ``A = P L U`` and ``det(AB) = det(A) det(B)``:
    ``det(A) = det(P) · Π_k U_kk``, since ``det(L) = 1`` and ``det(P) = (−1)^s`` for a
    permutation made of ``s`` row swaps. This costs ``O(n³)`` instead of the ``O(n!)``
    of the permutation-sum definition.

    Singular matrices: if some pivot satisfies ``|U_kk| ≤ n · ε · max_ij |A_ij|`` (``ε``
    the float64 machine epsilon) the matrix is singular to working precision and the
    result is exactly ``0.0`` (NumPy would return round-off such as ``6.7e-16`` for
    ``[[1, 2, 3], [4, 5, 6], [7, 8, 9]]``).

    Parameters
    ----------
    A : array_like, shape (n, n)

    Returns
    -------
    float
        ``1.0`` for the empty ``0 × 0`` matrix.

    References
    ----------
    Golub & Van Loan, *Matrix Computations*, §3.4; G. Strang, *Introduction to Linear
    Algebra*, ch. 5.

    Examples
    --------
    >>> det([[2.0, 0.0], [0.0, 3.0]])  # stretches areas by 6
    6.0
    >>> det([[0.0, 1.0], [1.0, 0.0]])  # a reflection reverses orientation
    -1.0
    >>> det([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]])
    0.0
    """
    M = _matrix(A, "A", square=True)
    n = M.shape[0]
    if n == 0:
        return 1.0
    P, _, U = lu(M)
    diag = np.diag(U)
    threshold = n * _EPS * float(np.max(np.abs(M)))
    if np.any(np.abs(diag) <= threshold):
        return 0.0
    # det(P) = ±1: the sign of the permutation (−1 per row swap).
    return _permutation_sign(P) * float(np.prod(diag))


def _permutation_sign(P: np.ndarray) -> float:
    """Sign (+1 or −1) of a permutation matrix, by counting the cycles."""
    perm = np.argmax(P, axis=0)
    seen = np.zeros(len(perm), dtype=bool)
    sign = 1.0
    for start in range(len(perm)):
        if seen[start]:
            continue
        length = 0
        i = start
        while not seen[i]:
            seen[i] = True
            i = perm[i]
            length += 1
        if length % 2 == 0:
            sign = -sign
    return sign


# ------------------------------------------------------------ eigenvalues and the SVD


def power_iteration(
    A: ArrayLike,
    num_iters: int = 1000,
    tol: float = 1e-10,
    seed: int | np.random.Generator | None = 0,
) -> tuple[float, np.ndarray]:
    """The dominant eigenpair of ``A`` by power iteration.

    Repeats ``v ← A v / ‖A v‖`` from a random unit vector; the component along the
    eigenvector of the eigenvalue of largest magnitude ``λ_1`` grows like ``|λ_1|^t``
    and wins at the rate ``|λ_2 / λ_1|`` per step. The eigenvalue is read off with the
    Rayleigh quotient ``λ = vᵀ A v`` (``‖v‖ = 1``). Stops when the residual
    ``‖A v − λ v‖ ≤ tol · max(|λ|, ‖A‖_max)`` or after ``num_iters`` steps (then a
    :class:`ConvergenceWarning` is issued). Converges when ``|λ_1| > |λ_2|`` and
    ``λ_1`` is real; a complex or sign-flipping tie (e.g. ``λ = ±1``) does not converge.

    The eigenvector's sign is fixed so that its largest-magnitude entry is positive.

    Parameters
    ----------
    A : array_like, shape (n, n)
    num_iters : int, default 1000
        Maximum number of multiplications by ``A``, ``≥ 1``.
    tol : float, default 1e-10
        Relative tolerance on the residual, ``≥ 0``.
    seed : int, numpy.random.Generator or None, default 0
        For the random starting vector.

    Returns
    -------
    eigenvalue : float
    eigenvector : ndarray, shape (n,)
        Unit 2-norm.

    References
    ----------
    Trefethen & Bau, *Numerical Linear Algebra*, Lecture 27.

    Examples
    --------
    >>> lam, v = power_iteration([[2.0, 1.0], [1.0, 2.0]])
    >>> round(lam, 8)
    3.0
    >>> np.round(v, 8)
    array([0.70710678, 0.70710678])
    """
    M = _matrix(A, "A", square=True)
    num_iters = check_int(num_iters, "num_iters", 1)
    tol = check_nonneg(tol, "tol")
    n = M.shape[0]
    if n == 0:
        raise ValueError("A must be at least 1 x 1, got shape (0, 0)")
    rng = _rng(seed)
    scale = float(np.max(np.abs(M)))
    v = rng.standard_normal(n)
    v /= np.linalg.norm(v)
    lam = 0.0
    converged = scale == 0.0  # the zero matrix: every vector is an eigenvector for λ = 0
    if not converged:
        for _ in range(num_iters):
            w = M @ v
            length = np.linalg.norm(w)
            if length == 0.0:  # v is in the null space: an eigenvector for λ = 0
                lam = 0.0
                converged = True
                break
            v = w / length
            Av = M @ v
            lam = float(v @ Av)
            if np.linalg.norm(Av - lam * v) <= tol * max(abs(lam), scale):
                converged = True
                break
    if not converged:
        warnings.warn(
            f"power_iteration did not reach tol={tol} in num_iters={num_iters} steps; "
            "the two largest eigenvalues may have (nearly) equal magnitude",
            ConvergenceWarning,
            stacklevel=2,
        )
    v = v * np.sign(v[np.argmax(np.abs(v))])
    return lam, v


def eig(A: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues and eigenvectors, ``A v_i = λ_i v_i``, sorted by decreasing ``|λ_i|``.

    A wrapper over NumPy: ``numpy.linalg.eigh`` when ``A`` is symmetric (real eigenvalues,
    orthonormal eigenvectors), ``numpy.linalg.eig`` otherwise. The order — decreasing
    magnitude, ties broken by decreasing real part — puts first the eigenvalue that
    :func:`power_iteration` finds. If every eigenvalue is real (always for symmetric
    ``A``) the results are real arrays, otherwise complex. Eigenvectors are unit columns;
    their sign (or complex phase) is arbitrary, as in NumPy.

    Parameters
    ----------
    A : array_like, shape (n, n)

    Returns
    -------
    eigenvalues : ndarray, shape (n,)
    eigenvectors : ndarray, shape (n, n)
        Column ``i`` is the eigenvector for ``eigenvalues[i]``.

    Examples
    --------
    >>> w, V = eig([[2.0, 0.0], [0.0, -5.0]])
    >>> w
    array([-5.,  2.])
    >>> np.allclose(np.array([[2.0, 0.0], [0.0, -5.0]]) @ V, V * w)
    True
    """
    M = _matrix(A, "A", square=True)
    if np.array_equal(M, M.T):
        w, V = np.linalg.eigh(M)
    else:
        w, V = np.linalg.eig(M)
        if np.all(w.imag == 0.0):
            w, V = w.real, V.real
    order = np.lexsort((-np.real(w), -np.abs(w)))
    return w[order], V[:, order]


def svd(A: ArrayLike, full_matrices: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Singular value decomposition ``A = U Σ Vᵀ`` with a deterministic sign.

    ``U`` and ``V`` have orthonormal columns and ``Σ = diag(S)`` with
    ``S_1 ≥ S_2 ≥ … ≥ 0``: every matrix maps the unit sphere to an ellipsoid with
    semi-axes ``S_i U[:, i]``. Computed by ``numpy.linalg.svd``; each pair
    ``(U[:, i], Vt[i])`` is then multiplied by ±1 so that the largest-magnitude entry of
    ``Vt[i]`` is positive (scikit-learn's ``svd_flip(u_based_decision=False)``, which
    PCA uses), making the output reproducible across LAPACK builds.

    Parameters
    ----------
    A : array_like, shape (m, n)
    full_matrices : bool, default False
        If False, ``U`` is ``(m, r)`` and ``Vt`` is ``(r, n)`` with ``r = min(m, n)``.

    Returns
    -------
    U : ndarray, shape (m, r) or (m, m)
    S : ndarray, shape (r,)
    Vt : ndarray, shape (r, n) or (n, n)

    References
    ----------
    Trefethen & Bau, *Numerical Linear Algebra*, Lectures 4–5.

    Examples
    --------
    >>> U, S, Vt = svd([[3.0, 0.0], [0.0, -2.0]])
    >>> S
    array([3., 2.])
    >>> np.allclose(U * S @ Vt, [[3.0, 0.0], [0.0, -2.0]])
    True
    """
    M = _matrix(A, "A")
    U, S, Vt = np.linalg.svd(M, full_matrices=bool(full_matrices))
    r = S.shape[0]
    U, Vt = U.copy(), Vt.copy()
    if r > 0 and Vt.shape[1] > 0:
        rows = Vt[:r]
        signs = np.sign(rows[np.arange(r), np.argmax(np.abs(rows), axis=1)])
        signs[signs == 0] = 1.0
        U[:, :r] *= signs
        Vt[:r] *= signs[:, None]
    return U, S, Vt


def _check_rank(M: np.ndarray, k: object) -> int:
    k = check_int(k, "k", 0)
    if k > min(M.shape):
        raise ValueError(f"k must be between 0 and min(m, n) = {min(M.shape)}, got {k}")
    return k


def low_rank_approximation(A: ArrayLike, k: int) -> np.ndarray:
    """The best rank-``k`` approximation of ``A`` (Eckart–Young–Mirsky).

    ``A_k = Σ_{i<k} S_i U[:, i] Vt[i] = U[:, :k] diag(S[:k]) Vt[:k]``: keep the ``k``
    largest singular values of the SVD and drop the rest. No matrix of rank ``≤ k`` is
    closer to ``A`` in the Frobenius norm (nor the spectral norm); the error is
    ``‖A − A_k‖_F = sqrt(Σ_{i≥k} S_i²)`` with the code's 0-based ``S`` (in the one-based
    ``σ₁ ≥ σ₂ ≥ …`` of textbooks, ``sqrt(Σ_{i>k} σ_i²)``), see
    :func:`low_rank_approximation_error`.

    Parameters
    ----------
    A : array_like, shape (m, n)
    k : int
        Target rank, ``0 ≤ k ≤ min(m, n)``.

    Returns
    -------
    A_k : ndarray, shape (m, n)

    References
    ----------
    C. Eckart and G. Young, "The approximation of one matrix by another of lower rank",
    Psychometrika 1 (1936).

    Examples
    --------
    >>> A = np.diag([5.0, 3.0, 1.0])
    >>> low_rank_approximation(A, 2)
    array([[5., 0., 0.],
           [0., 3., 0.],
           [0., 0., 0.]])
    """
    M = _matrix(A, "A")
    k = _check_rank(M, k)
    U, S, Vt = svd(M)
    return (U[:, :k] * S[:k]) @ Vt[:k]


def low_rank_approximation_error(A: ArrayLike, k: int) -> float:
    """The Frobenius error of the best rank-``k`` approximation: ``sqrt(Σ_{i≥k} S_i²)``.

    By the Eckart–Young theorem ``‖A − A_k‖_F = sqrt(S_k² + S_{k+1}² + …)`` (0-based
    ``S``, as in the code; one-based, ``sqrt(Σ_{i>k} σ_i²)``): the energy in the dropped
    singular values.

    Parameters
    ----------
    A : array_like, shape (m, n)
    k : int
        Target rank, ``0 ≤ k ≤ min(m, n)``.

    Returns
    -------
    float

    Examples
    --------
    >>> low_rank_approximation_error(np.diag([5.0, 3.0, 4.0]), 1)
    5.0
    """
    M = _matrix(A, "A")
    k = _check_rank(M, k)
    S = np.linalg.svd(M, compute_uv=False)
    return float(np.sqrt(np.sum(S[k:] ** 2)))


# ------------------------------------------------------------------------------ PCA


class PCA:
    """Principal component analysis by the SVD of the centred data.

    With ``X_c = X − mean_`` and ``X_c = U Σ Vᵀ``, the principal axes are the rows of
    ``Vᵀ`` (the eigenvectors of the sample covariance ``X_cᵀ X_c / (n − 1)``), the
    explained variances are ``S² / (n − 1)``, and the projection is
    ``Z = X_c Vᵀ[:k]ᵀ``. ``inverse_transform`` maps back, ``X̂ = Z Vᵀ[:k] + mean_``:
    the best rank-``k`` reconstruction (Eckart–Young).

    Attribute names, the ``n_components`` options and the component signs match
    ``sklearn.decomposition.PCA`` (full SVD solver, ``whiten=False``): each component
    has its largest-magnitude entry positive (``svd_flip(u_based_decision=False)``), so
    ``components_`` compare directly.

    Parameters
    ----------
    n_components : int, float or None, default None
        ``None`` keeps ``min(n_samples, n_features)`` components; an int ``k`` with
        ``1 ≤ k ≤ min(n_samples, n_features)`` keeps ``k``; a float in ``(0, 1)`` keeps
        the fewest components whose cumulative explained variance ratio exceeds it.

    Attributes
    ----------
    components_ : ndarray, shape (n_components_, n_features)
        Principal axes, unit rows, by decreasing explained variance.
    explained_variance_ : ndarray, shape (n_components_,)
    explained_variance_ratio_ : ndarray, shape (n_components_,)
        Fraction of the total variance explained by each component.
    singular_values_ : ndarray, shape (n_components_,)
    mean_ : ndarray, shape (n_features,)
    n_components_ : int
    n_samples_ : int
    n_features_in_ : int
    noise_variance_ : float
        Mean of the discarded explained variances (probabilistic PCA), 0 if none.

    References
    ----------
    I. T. Jolliffe, *Principal Component Analysis*, 2nd ed., Springer, 2002;
    ``sklearn.decomposition.PCA``.

    Examples
    --------
    >>> X = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    >>> pca = PCA(n_components=1).fit(X)
    >>> np.round(pca.components_, 6)
    array([[0.707107, 0.707107]])
    >>> np.round(pca.explained_variance_ratio_, 6)
    array([1.])
    >>> np.allclose(pca.inverse_transform(pca.transform(X)), X)
    True
    """

    def __init__(self, n_components: int | float | None = None) -> None:
        if n_components is not None:
            if isinstance(n_components, bool) or not isinstance(n_components, numbers.Real):
                raise TypeError(
                    f"n_components must be an int, a float in (0, 1) or None, "
                    f"got {n_components!r}"
                )
            if isinstance(n_components, numbers.Integral):
                if n_components < 1:
                    raise ValueError(f"n_components must be >= 1, got {n_components}")
            elif not 0.0 < n_components < 1.0:
                raise ValueError(
                    f"a float n_components must be in (0, 1), got {n_components}"
                )
        self.n_components = n_components

    def __repr__(self) -> str:
        return f"PCA(n_components={self.n_components!r})"

    def fit(self, X: ArrayLike, y: object = None) -> PCA:
        """Fit the principal axes to ``X`` of shape (n_samples, n_features); returns self."""
        self._fit(X)
        return self

    def fit_transform(self, X: ArrayLike, y: object = None) -> np.ndarray:
        """Fit to ``X`` and return its projection ``Z = U[:, :k] Σ[:k]``, (n_samples, k)."""
        U, S = self._fit(X)
        k = self.n_components_
        return U[:, :k] * S[:k]

    def transform(self, X: ArrayLike) -> np.ndarray:
        """Project onto the principal axes: ``Z = (X − mean_) components_ᵀ``."""
        X = self._check_fitted_input(X, "n_features_in_", "X")
        return (X - self.mean_) @ self.components_.T

    def inverse_transform(self, Z: ArrayLike) -> np.ndarray:
        """Map projections back to feature space: ``X̂ = Z components_ + mean_``."""
        Z = self._check_fitted_input(Z, "n_components_", "Z")
        return Z @ self.components_ + self.mean_

    def _check_fitted_input(self, X: ArrayLike, width_attr: str, name: str) -> np.ndarray:
        if not hasattr(self, "components_"):
            raise ValueError("this PCA instance is not fitted yet; call fit(X) first")
        width = getattr(self, width_attr)
        M = _matrix(X, name)
        if M.shape[1] != width:
            raise ValueError(
                f"{name} has {M.shape[1]} columns, expected {width} "
                f"(got shape {M.shape})"
            )
        return M

    def _fit(self, X: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        X = _matrix(X, "X")
        n_samples, n_features = X.shape
        if n_samples < 2:
            raise ValueError(f"PCA needs at least 2 samples, got X of shape {X.shape}")
        if n_features < 1:
            raise ValueError(f"PCA needs at least 1 feature, got X of shape {X.shape}")
        max_k = min(n_samples, n_features)
        k = self.n_components
        if isinstance(k, numbers.Integral) and k > max_k:
            raise ValueError(
                f"n_components={k} must be between 1 and "
                f"min(n_samples, n_features)={max_k}"
            )
        self.mean_ = X.mean(axis=0)
        U, S, Vt = svd(X - self.mean_)
        explained_variance = S**2 / (n_samples - 1)
        total_var = float(np.sum(explained_variance))
        if total_var > 0.0:
            explained_variance_ratio = explained_variance / total_var
        else:
            explained_variance_ratio = np.zeros_like(explained_variance)
        if k is None:
            k = max_k
        elif not isinstance(k, numbers.Integral):
            k = int(np.searchsorted(np.cumsum(explained_variance_ratio), k, side="right")) + 1
            k = min(k, max_k)
        k = int(k)
        self.n_components_ = k
        self.n_samples_ = n_samples
        self.n_features_in_ = n_features
        self.components_ = Vt[:k].copy()
        self.explained_variance_ = explained_variance[:k].copy()
        self.explained_variance_ratio_ = explained_variance_ratio[:k].copy()
        self.singular_values_ = S[:k].copy()
        self.noise_variance_ = float(np.mean(explained_variance[k:])) if k < max_k else 0.0
        return U, S
