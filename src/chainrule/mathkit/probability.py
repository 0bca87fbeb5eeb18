"""Probability, executable: expectation, entropy, Bayes' rule, maximum likelihood, distributions.

Discrete distributions are given as arrays ``probs`` (validated: finite, non-negative,
summing to 1 within ``PROB_ATOL``); continuous ones as a density ``pdf`` on an interval,
integrated with ``scipy.integrate.quad`` (SciPy is imported only when needed).

Logarithms are natural unless a ``base`` is given (``base=2`` gives bits), and the
convention ``0 · log 0 = 0`` holds throughout.

The four distribution classes share one interface: ``sample(n, seed)``, ``log_prob(x)``,
``prob(x)`` and ``entropy()`` are methods; ``mean`` and ``variance`` are read-only
**properties** (no parentheses), like the parameters they are computed from.

Random functions take ``seed``: an int, a ``numpy.random.Generator``, or ``None`` for
chainrule's global generator (reset by ``chainrule.manual_seed``).

References
----------
C. M. Bishop, *Pattern Recognition and Machine Learning*, Springer, 2006, ch. 1–2.
T. M. Cover and J. A. Thomas, *Elements of Information Theory*, 2nd ed., Wiley, 2006.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .._checks import check_finite, check_int, check_nonneg, check_positive
from .linalg import _float64, _rng

__all__ = [
    "PROB_ATOL",
    "Bernoulli",
    "Categorical",
    "Normal",
    "Poisson",
    "aic",
    "bayes",
    "bic",
    "cross_entropy",
    "dice_game",
    "entropy",
    "entropy_continuous",
    "expectation",
    "expectation_continuous",
    "gaussian_log_likelihood",
    "kl_divergence",
    "kl_normal",
    "law_of_large_numbers",
    "mle_bernoulli",
    "mle_by_gradient_ascent",
    "mle_normal",
    "mle_poisson",
    "variance",
    "variance_continuous",
]

PROB_ATOL = 1e-6
"""Absolute tolerance on ``|Σ p_i − 1|`` when validating a probability vector."""

Seed = int | np.random.Generator | None

# ------------------------------------------------------------------------- validation


def _array(x: ArrayLike, name: str) -> np.ndarray:
    a = _float64(x, name)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must contain only finite values, got {a}")
    return a


def _probs(p: ArrayLike, name: str = "probs") -> np.ndarray:
    """A validated probability vector: 1-D, non-negative, sums to 1 within PROB_ATOL."""
    a = _array(p, name)
    if a.ndim != 1 or a.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array, got shape {a.shape}")
    if np.any(a < 0):
        raise ValueError(f"{name} must be non-negative, got min {a.min()}")
    total = float(a.sum())
    if abs(total - 1.0) > PROB_ATOL:
        raise ValueError(f"{name} must sum to 1 (within {PROB_ATOL}), got sum {total}")
    return a


def _values_probs(values: ArrayLike, probs: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    p = _probs(probs)
    v = _array(values, "values")
    if v.shape != p.shape:
        raise ValueError(
            f"values and probs must have the same shape, got {v.shape} and {p.shape}"
        )
    return v, p


def _base(base: object) -> float:
    b = check_finite(base, "base")
    if b <= 0 or b == 1:
        raise ValueError(f"base must be > 0 and != 1, got {b}")
    return b


def _sample_1d(x: ArrayLike, name: str = "x") -> np.ndarray:
    a = _array(x, name)
    if a.ndim != 1 or a.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array of samples, got shape {a.shape}")
    return a


def _xlogy(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``x · log y`` elementwise with ``0 · log y = 0`` (even for y = 0)."""
    out = np.zeros(np.broadcast(x, y).shape)
    x, y = np.broadcast_arrays(x, y)
    mask = x != 0
    with np.errstate(divide="ignore"):
        out[mask] = x[mask] * np.log(y[mask])
    return out


# --------------------------------------------------------------- expectation, variance


def expectation(values: ArrayLike, probs: ArrayLike) -> float:
    """The expected value of a discrete random variable.

    ``E[X] = Σ_i x_i p_i`` where ``X`` takes the value ``values[i]`` with probability
    ``probs[i]``: the long-run average of independent draws (see
    :func:`law_of_large_numbers`).

    Parameters
    ----------
    values : array_like, shape (k,)
    probs : array_like, shape (k,)
        Non-negative, summing to 1 (within ``PROB_ATOL``).

    Returns
    -------
    float

    Examples
    --------
    >>> expectation([1, 2, 3, 4, 5, 6], [1 / 6] * 6)  # a fair die
    3.5
    >>> round(expectation(*dice_game()), 2)
    -33.33
    """
    v, p = _values_probs(values, probs)
    return float(np.dot(v, p))


def variance(values: ArrayLike, probs: ArrayLike) -> float:
    """The variance of a discrete random variable.

    ``Var[X] = E[(X − μ)²] = Σ_i (x_i − μ)² p_i`` with ``μ = E[X]``. (The two-pass form
    is used; ``E[X²] − μ²`` cancels catastrophically when ``|μ| ≫ σ``.)

    Parameters
    ----------
    values : array_like, shape (k,)
    probs : array_like, shape (k,)

    Returns
    -------
    float

    Examples
    --------
    >>> round(variance([1, 2, 3, 4, 5, 6], [1 / 6] * 6), 6)  # 35/12
    2.916667
    """
    v, p = _values_probs(values, probs)
    mu = float(np.dot(v, p))
    return float(np.dot((v - mu) ** 2, p))


def dice_game() -> tuple[np.ndarray, np.ndarray]:
    """The dice game of the roadmap: win 300 on a 1 or 2, lose 200 on a 3, 4, 5 or 6.

    Returns the payoff of each face of a fair die and its probability, ready for
    :func:`expectation`: ``E[X] = 300 · 2/6 − 200 · 4/6 = −100/3 ≈ −33.33``. The expected
    gain per round is negative, so by the law of large numbers a long session loses
    money — whatever the luck of the first rounds.

    Returns
    -------
    values : ndarray, shape (6,)
        ``[300, 300, −200, −200, −200, −200]``
    probs : ndarray, shape (6,)
        ``1/6`` each.

    Examples
    --------
    >>> values, probs = dice_game()
    >>> round(expectation(values, probs), 2)
    -33.33
    >>> means = law_of_large_numbers(values, probs, n=100_000, seed=0)
    >>> bool(abs(means[-1] - (-100 / 3)) < 3)
    True
    """
    values = np.array([300.0, 300.0, -200.0, -200.0, -200.0, -200.0])
    probs = np.full(6, 1.0 / 6.0)
    return values, probs


def law_of_large_numbers(values: ArrayLike, probs: ArrayLike, n: int, seed: Seed = None
                         ) -> np.ndarray:
    """Running means of ``n`` independent draws, which converge to ``E[X]``.

    ``X̄_t = (1/t) Σ_{s≤t} X_s`` for ``t = 1, …, n``, with ``X_s`` i.i.d. copies of the
    discrete variable ``(values, probs)``. The (strong) law of large numbers says
    ``X̄_t → E[X]`` almost surely; the error shrinks like ``σ / sqrt(t)``. It says nothing
    about the next draw: past losses do not make a win "due".

    Parameters
    ----------
    values, probs : array_like, shape (k,)
    n : int
        Number of draws, ``n ≥ 1``.
    seed : int, numpy.random.Generator or None
        ``None`` uses chainrule's global generator.

    Returns
    -------
    ndarray, shape (n,)
        ``X̄_1, …, X̄_n``.

    Examples
    --------
    >>> means = law_of_large_numbers([0, 1], [0.5, 0.5], n=10_000, seed=1)
    >>> means.shape
    (10000,)
    >>> bool(abs(means[-1] - 0.5) < 0.02)
    True
    """
    v, p = _values_probs(values, probs)
    n = check_int(n, "n", 1)
    rng = _rng(seed)
    draws = rng.choice(v, size=n, p=p / p.sum())
    return np.cumsum(draws) / np.arange(1, n + 1)


def _interval(a: object, b: object) -> tuple[float, float]:
    for name, value in (("a", a), ("b", b)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(value):
            raise ValueError(f"{name} must be a real number (or ±inf), got {value!r}")
    if not a < b:
        raise ValueError(f"the interval must have a < b, got a={a}, b={b}")
    return float(a), float(b)


def _quad(fun: Callable[[float], float], a: float, b: float) -> float:
    from scipy import integrate

    value, _ = integrate.quad(fun, a, b, limit=200)
    return float(value)


def _check_pdf(pdf: Callable[[float], float], a: float, b: float, atol: float) -> None:
    if not callable(pdf):
        raise TypeError(f"pdf must be callable, got {pdf!r}")
    mass = _quad(lambda x: float(pdf(x)), a, b)
    if abs(mass - 1.0) > atol:
        raise ValueError(f"pdf must integrate to 1 on [{a}, {b}], got {mass}")


def expectation_continuous(
    pdf: Callable[[float], float],
    a: float,
    b: float,
    g: Callable[[float], float] | None = None,
    atol: float = 1e-6,
) -> float:
    """The expectation of ``g(X)`` for a continuous ``X`` with density ``pdf`` on ``[a, b]``.

    ``E[g(X)] = ∫_a^b g(x) p(x) dx`` (``g(x) = x`` by default, giving ``E[X]``), computed
    with adaptive Gauss–Kronrod quadrature (``scipy.integrate.quad``). The bounds may be
    infinite. The density is first checked to integrate to 1 on ``[a, b]``.

    Parameters
    ----------
    pdf : callable float -> float
    a, b : float
        ``a < b``; ``-np.inf`` / ``np.inf`` allowed.
    g : callable float -> float, optional
    atol : float, default 1e-6
        Tolerance of the check ``|∫_a^b p(x) dx − 1| ≤ atol``.

    Returns
    -------
    float

    Examples
    --------
    >>> uniform = lambda x: 1.0  # on [0, 1]
    >>> round(expectation_continuous(uniform, 0.0, 1.0), 12)
    0.5
    >>> round(expectation_continuous(uniform, 0.0, 1.0, g=lambda x: x**2), 12)
    0.333333333333
    """
    a, b = _interval(a, b)
    _check_pdf(pdf, a, b, atol)
    if g is None:
        return _quad(lambda x: x * float(pdf(x)), a, b)
    if not callable(g):
        raise TypeError(f"g must be callable or None, got {g!r}")
    return _quad(lambda x: float(g(x)) * float(pdf(x)), a, b)


def variance_continuous(
    pdf: Callable[[float], float], a: float, b: float, atol: float = 1e-6
) -> float:
    """The variance of a continuous ``X`` with density ``pdf`` on ``[a, b]``.

    ``Var[X] = ∫_a^b (x − μ)² p(x) dx`` with ``μ = ∫_a^b x p(x) dx``.

    Parameters
    ----------
    pdf : callable float -> float
    a, b : float
        ``a < b``; infinite bounds allowed.
    atol : float, default 1e-6

    Returns
    -------
    float

    Examples
    --------
    >>> round(variance_continuous(lambda x: 1.0, 0.0, 1.0), 12)  # 1/12
    0.083333333333
    """
    mu = expectation_continuous(pdf, a, b, atol=atol)
    return _quad(lambda x: (x - mu) ** 2 * float(pdf(x)), a, b)


# ------------------------------------------------------------------ information theory


def entropy(p: ArrayLike, base: float = np.e) -> float:
    """The Shannon entropy of a discrete distribution.

    ``H(p) = −Σ_i p_i log p_i`` with ``0 · log 0 = 0``, in nats (``base = e``), bits
    (``base = 2``) or any ``base > 0, ≠ 1`` (divide by ``log base``). It is the average
    number of yes/no questions (bits) needed to identify an outcome: 0 for a certain
    outcome, ``log k`` — the maximum — for the uniform distribution on ``k`` outcomes.

    Parameters
    ----------
    p : array_like, shape (k,)
        A probability vector.
    base : float, default e

    Returns
    -------
    float

    References
    ----------
    Cover & Thomas, *Elements of Information Theory*, §2.1; ``scipy.stats.entropy``.

    Examples
    --------
    >>> entropy([0.5, 0.5], base=2)
    1.0
    >>> round(entropy([1 / 1024] * 1024, base=2), 12)  # a number in 1..1024: 10 questions
    10.0
    >>> entropy([1.0, 0.0])
    0.0
    """
    p = _probs(p, "p")
    b = _base(base)
    h = -float(np.sum(_xlogy(p, p)))
    return (h / math.log(b)) + 0.0  # + 0.0 turns −0.0 into 0.0


def _pq(p: ArrayLike, q: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    p = _probs(p, "p")
    q = _probs(q, "q")
    if p.shape != q.shape:
        raise ValueError(f"p and q must have the same shape, got {p.shape} and {q.shape}")
    return p, q


def cross_entropy(p: ArrayLike, q: ArrayLike, base: float = np.e) -> float:
    """The cross-entropy of ``q`` relative to ``p``.

    ``H(p, q) = −Σ_i p_i log q_i = H(p) + KL(p ‖ q)``: the average code length when
    outcomes drawn from ``p`` are coded with a code optimal for ``q``. With ``p`` the
    one-hot true label and ``q`` the predicted class probabilities it is the
    classification loss. Terms with ``p_i = 0`` contribute 0; if ``q_i = 0`` where
    ``p_i > 0`` the result is ``inf``.

    Parameters
    ----------
    p, q : array_like, shape (k,)
        Probability vectors.
    base : float, default e

    Returns
    -------
    float

    Examples
    --------
    >>> round(cross_entropy([1.0, 0.0, 0.0], [0.7, 0.2, 0.1]), 6)  # −log 0.7
    0.356675
    >>> cross_entropy([0.5, 0.5], [0.5, 0.5], base=2)
    1.0
    """
    p, q = _pq(p, q)
    b = _base(base)
    return -float(np.sum(_xlogy(p, q))) / math.log(b) + 0.0


def kl_divergence(p: ArrayLike, q: ArrayLike, base: float = np.e) -> float:
    """The Kullback–Leibler divergence of ``q`` from ``p``.

    ``KL(p ‖ q) = Σ_i p_i log(p_i / q_i) = H(p, q) − H(p) ≥ 0``, with equality iff
    ``p = q``; not symmetric. Terms with ``p_i = 0`` contribute 0. If ``q_i = 0`` where
    ``p_i > 0`` (``p`` is not absolutely continuous with respect to ``q``) the
    divergence is ``inf``.

    Parameters
    ----------
    p, q : array_like, shape (k,)
        Probability vectors.
    base : float, default e

    Returns
    -------
    float

    References
    ----------
    S. Kullback and R. A. Leibler, "On information and sufficiency", Ann. Math.
    Statist. 22 (1951); ``scipy.stats.entropy(p, q)``.

    Examples
    --------
    >>> kl_divergence([0.5, 0.5], [0.5, 0.5])
    0.0
    >>> round(kl_divergence([0.5, 0.5], [0.9, 0.1], base=2), 6)
    0.736966
    >>> kl_divergence([0.5, 0.5], [1.0, 0.0])
    inf
    """
    p, q = _pq(p, q)
    b = _base(base)
    mask = p > 0
    if np.any(q[mask] == 0):
        return math.inf
    kl = float(np.sum(p[mask] * np.log(p[mask] / q[mask])))
    # Round-off can make KL(p ‖ p) a tiny negative number; the divergence is ≥ 0.
    return max(kl, 0.0) / math.log(b) + 0.0


def kl_normal(mu1: float, sigma1: float, mu2: float, sigma2: float) -> float:
    """The KL divergence between two univariate normals, in closed form (nats).

    ``KL(N(μ₁, σ₁²) ‖ N(μ₂, σ₂²)) = log(σ₂/σ₁) + (σ₁² + (μ₁ − μ₂)²) / (2σ₂²) − 1/2``,
    the term that appears in the loss of a variational autoencoder.

    Parameters
    ----------
    mu1, sigma1 : float
        Mean and standard deviation of the first normal, ``sigma1 > 0``.
    mu2, sigma2 : float
        Mean and standard deviation of the second normal, ``sigma2 > 0``.

    Returns
    -------
    float

    References
    ----------
    D. P. Kingma and M. Welling, "Auto-Encoding Variational Bayes", ICLR 2014, App. B.

    Examples
    --------
    >>> kl_normal(0.0, 1.0, 0.0, 1.0)
    0.0
    >>> kl_normal(1.0, 1.0, 0.0, 1.0)  # (μ₁ − μ₂)² / 2
    0.5
    """
    mu1 = check_finite(mu1, "mu1")
    mu2 = check_finite(mu2, "mu2")
    sigma1 = check_positive(sigma1, "sigma1")
    sigma2 = check_positive(sigma2, "sigma2")
    kl = (
        math.log(sigma2 / sigma1)
        + (sigma1**2 + (mu1 - mu2) ** 2) / (2.0 * sigma2**2)
        - 0.5
    )
    return max(kl, 0.0)


def entropy_continuous(
    pdf: Callable[[float], float], a: float, b: float, base: float = np.e, atol: float = 1e-6
) -> float:
    """The differential entropy of a density ``pdf`` on ``[a, b]``.

    ``h(p) = −∫_a^b p(x) log p(x) dx`` (with ``0 · log 0 = 0``), by ``scipy.integrate.quad``.
    Unlike the discrete entropy it can be negative (a density narrower than 1).

    Parameters
    ----------
    pdf : callable float -> float
    a, b : float
        ``a < b``; infinite bounds allowed.
    base : float, default e
    atol : float, default 1e-6
        Tolerance of the check ``|∫_a^b p(x) dx − 1| ≤ atol``.

    Returns
    -------
    float

    Examples
    --------
    >>> round(entropy_continuous(lambda x: 0.5, 0.0, 2.0, base=2), 12)  # log2(2)
    1.0
    """
    a, b = _interval(a, b)
    lb = _base(base)
    _check_pdf(pdf, a, b, atol)

    def integrand(x: float) -> float:
        px = float(pdf(x))
        return -px * math.log(px) if px > 0 else 0.0

    return _quad(integrand, a, b) / math.log(lb)


# ------------------------------------------------------------------------- Bayes' rule


def bayes(
    prior: float | ArrayLike,
    likelihood: float | ArrayLike,
    evidence: float | None = None,
) -> float | np.ndarray:
    """Bayes' rule: the posterior from the prior and the likelihood.

    ``P(H | D) = P(D | H) · P(H) / P(D)``, i.e. ``posterior = likelihood · prior /
    evidence``. For a single hypothesis (scalars) the evidence ``P(D)`` must be given.
    For an array of mutually exclusive, exhaustive hypotheses ``H_i`` (``prior`` sums to
    1) the evidence defaults to the law of total probability,
    ``P(D) = Σ_i P(D | H_i) P(H_i)``, and the posterior is a probability vector.

    Parameters
    ----------
    prior : float in [0, 1], or array_like of shape (k,) summing to 1
    likelihood : float or array_like of shape (k,)
        ``P(D | H)`` (a probability or a density value), ``≥ 0``.
    evidence : float, optional
        ``P(D) > 0``. Required for scalars; computed for arrays when omitted.

    Returns
    -------
    float or ndarray, shape (k,)

    Examples
    --------
    A test with 99 % sensitivity and a 5 % false-positive rate, for a disease with 1 %
    prevalence. Given a positive test, P(disease) is only 1/6:

    >>> posterior = bayes([0.01, 0.99], [0.99, 0.05])
    >>> np.round(posterior, 4)
    array([0.1667, 0.8333])
    >>> round(bayes(0.01, 0.99, evidence=0.01 * 0.99 + 0.99 * 0.05), 4)
    0.1667
    """
    prior_arr = _array(prior, "prior")
    like_arr = _array(likelihood, "likelihood")
    if np.any(like_arr < 0):
        raise ValueError(f"likelihood must be >= 0, got {like_arr}")
    if evidence is not None:
        evidence = check_positive(evidence, "evidence")
    if prior_arr.ndim == 0:
        p = float(prior_arr)
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"prior must be in [0, 1], got {p}")
        if like_arr.ndim != 0:
            raise ValueError(
                f"a scalar prior needs a scalar likelihood, got shape {like_arr.shape}"
            )
        if evidence is None:
            raise ValueError(
                "evidence P(D) is required for a scalar prior; pass arrays over all "
                "hypotheses to compute it by the law of total probability"
            )
        joint = float(like_arr) * p
        if joint > evidence * (1.0 + 1e-9):
            raise ValueError(
                f"evidence={evidence} is smaller than likelihood * prior = {joint}: "
                "P(D) >= P(D | H) P(H) must hold"
            )
        return joint / evidence
    prior_arr = _probs(prior_arr, "prior")
    if like_arr.shape != prior_arr.shape:
        raise ValueError(
            f"prior and likelihood must have the same shape, got {prior_arr.shape} "
            f"and {like_arr.shape}"
        )
    joint_arr = like_arr * prior_arr
    if evidence is None:
        evidence = float(joint_arr.sum())  # law of total probability
        if evidence == 0.0:
            raise ValueError("evidence is 0: the data has zero likelihood under every "
                             "hypothesis with non-zero prior")
    return joint_arr / evidence


# ----------------------------------------------------------------- maximum likelihood


def mle_bernoulli(x: ArrayLike) -> float:
    """Maximum-likelihood estimate of a Bernoulli parameter: the fraction of ones.

    ``log L(p) = Σ_i [x_i log p + (1 − x_i) log(1 − p)]``; setting ``d log L / dp = 0``
    gives ``p̂ = (1/n) Σ_i x_i``.

    Parameters
    ----------
    x : array_like, shape (n,)
        Observations in ``{0, 1}`` (booleans allowed), ``n ≥ 1``.

    Returns
    -------
    float

    Examples
    --------
    >>> mle_bernoulli([1, 0, 1, 1])
    0.75
    """
    a = _sample_1d(x)
    bad = a[(a != 0) & (a != 1)]
    if bad.size:
        raise ValueError(f"x must contain only 0 and 1, got {bad[0]}")
    return float(a.mean())


def mle_normal(x: ArrayLike) -> tuple[float, float]:
    """Maximum-likelihood estimates of a normal's mean and standard deviation.

    ``log L(μ, σ) = −(n/2) log(2πσ²) − Σ_i (x_i − μ)² / (2σ²)`` is maximised by
    ``μ̂ = (1/n) Σ_i x_i`` and ``σ̂² = (1/n) Σ_i (x_i − μ̂)²``. Note the ``1/n``: the MLE
    of the variance is biased, ``E[σ̂²] = (n−1)/n · σ²``; the unbiased sample variance
    divides by ``n − 1`` instead (``numpy.var(x, ddof=1)``). ``scipy.stats.norm.fit``
    returns the same MLE as this function.

    Parameters
    ----------
    x : array_like, shape (n,)
        Observations, ``n ≥ 1``.

    Returns
    -------
    mu : float
    sigma : float
        ``sqrt(σ̂²)`` (0 for constant data).

    Examples
    --------
    >>> mle_normal([1.0, 2.0, 3.0, 4.0])
    (2.5, 1.118033988749895)
    """
    a = _sample_1d(x)
    mu = float(a.mean())
    sigma = float(np.sqrt(np.mean((a - mu) ** 2)))
    return mu, sigma


def mle_poisson(x: ArrayLike) -> float:
    """Maximum-likelihood estimate of a Poisson rate: the sample mean.

    ``log L(λ) = Σ_i [x_i log λ − λ − log x_i!]``; ``d log L / dλ = Σ_i x_i / λ − n = 0``
    gives ``λ̂ = (1/n) Σ_i x_i``.

    Parameters
    ----------
    x : array_like, shape (n,)
        Counts: non-negative integers, ``n ≥ 1``.

    Returns
    -------
    float

    Examples
    --------
    >>> mle_poisson([2, 3, 4])
    3.0
    """
    a = _sample_1d(x)
    bad = a[(a < 0) | (a != np.floor(a))]
    if bad.size:
        raise ValueError(f"x must contain non-negative integer counts, got {bad[0]}")
    return float(a.mean())


def mle_by_gradient_ascent(
    log_likelihood: Callable[..., object],
    theta0: ArrayLike,
    lr: float = 0.01,
    steps: int = 1000,
) -> np.ndarray:
    """Maximum likelihood by gradient ascent, with the gradient from chainrule's autodiff.

    ``θ_{t+1} = θ_t + lr · ∇_θ ℓ(θ_t)`` for ``t = 0, …, steps − 1``, where ``ℓ`` is the
    log-likelihood of the data and ``∇_θ ℓ`` comes from ``chainrule.grad``. It is
    gradient descent on the negative log-likelihood — the loss a network minimises.
    Use the *mean* log-likelihood ``(1/n) Σ_i log p(x_i | θ)`` so that ``lr`` does not
    depend on the sample size, and an unconstrained parametrisation (``log σ``,
    ``logit p``, ``log λ``) so that no step leaves the parameter space.

    Parameters
    ----------
    log_likelihood : callable Tensor -> Tensor
        Receives ``θ`` as a float64 Tensor of shape (k,) and returns a scalar Tensor.
    theta0 : float or array_like, shape (k,)
        Starting point (a scalar is treated as ``k = 1``).
    lr : float, default 0.01
        Step size, ``lr > 0``.
    steps : int, default 1000
        ``steps ≥ 1``.

    Returns
    -------
    ndarray, shape (k,)
        The final ``θ``.

    Raises
    ------
    ValueError
        If an iterate becomes non-finite (the step size is too large).

    Examples
    --------
    The Bernoulli parameter as ``p = sigmoid(θ)``; 7 ones out of 10 give ``p̂ = 0.7``:

    >>> import chainrule as cr
    >>> x = cr.tensor(np.array([1, 1, 1, 1, 1, 1, 1, 0, 0, 0], dtype=np.float64))
    >>> def ll(theta):
    ...     p = theta[0].sigmoid()
    ...     return (x * p.log() + (1 - x) * (1 - p).log()).mean()
    >>> theta = mle_by_gradient_ascent(ll, [0.0], lr=1.0, steps=500)
    >>> round(float(1 / (1 + np.exp(-theta[0]))), 6)
    0.7
    """
    from .calculus import gradient_descent

    if not callable(log_likelihood):
        raise TypeError(f"log_likelihood must be callable, got {log_likelihood!r}")
    steps = check_int(steps, "steps", 1)

    def negative(theta: Any) -> Any:
        return -log_likelihood(theta)

    try:
        path = gradient_descent(negative, theta0, lr=lr, steps=steps)
    except ValueError as exc:
        if "diverged" in str(exc):
            raise ValueError(str(exc).replace("gradient descent", "gradient ascent")) from None
        raise
    return path[-1]


# ------------------------------------------------------------------ comparing fitted models


def gaussian_log_likelihood(residuals: ArrayLike, sigma: float | None = None) -> float:
    """The log-likelihood of regression residuals under Gaussian noise ``ε ~ N(0, σ²)``.

    ``log L = −(n/2) log(2πσ²) − Σ_i r_i² / (2σ²)`` with ``r_i = y_i − ŷ_i``. With no
    ``sigma`` the noise variance is estimated by maximum likelihood, ``σ̂² = (1/n) Σ_i r_i²``
    (the mean squared error, as in :func:`mle_normal` with ``μ = 0``), which gives the
    maximised value ``log L̂ = −(n/2)(log(2πσ̂²) + 1)`` — the number :func:`aic` and
    :func:`bic` take for a model fitted by least squares (count ``σ`` as one more
    parameter).

    Parameters
    ----------
    residuals : array_like, shape (n,) or (n, 1)
        ``y − ŷ``, ``n ≥ 1``.
    sigma : float, optional
        The noise standard deviation, ``σ > 0``; default its MLE ``sqrt(mean(r²))``.

    Returns
    -------
    float

    Examples
    --------
    >>> round(gaussian_log_likelihood([1.0, -1.0]), 6)  # σ̂² = 1: −(2/2)(log 2π + 1)
    -2.837877
    """
    r = _float64(residuals, "residuals")
    if r.ndim == 2 and r.shape[1] == 1:
        r = r[:, 0]
    r = _sample_1d(r, "residuals")
    n = r.size
    rss = float(np.dot(r, r))
    if sigma is None:
        if rss == 0.0:
            raise ValueError(
                "the residuals are all zero: the MLE of σ is 0 and log L is +inf; "
                "pass sigma"
            )
        return -0.5 * n * (math.log(2.0 * math.pi * rss / n) + 1.0)
    sigma = check_positive(sigma, "sigma")
    return -0.5 * n * math.log(2.0 * math.pi * sigma**2) - rss / (2.0 * sigma**2)


def _information_args(log_likelihood: object, n_params: object) -> tuple[float, int]:
    return check_finite(log_likelihood, "log_likelihood"), check_int(n_params, "n_params", 0)


def aic(log_likelihood: float, n_params: int) -> float:
    """Akaike's information criterion: ``AIC = 2k − 2 log L̂``.

    ``L̂`` is the maximised likelihood of a fitted model and ``k`` its number of free
    parameters. Among models fitted to the same data, the one with the smallest AIC is
    expected to lose the least information about the process that generated them:
    ``−2 log L̂`` rewards fit, ``2k`` charges for complexity (it is the first-order bias of
    ``log L̂`` as an estimate of the out-of-sample log-likelihood). Only differences
    between models matter.

    Parameters
    ----------
    log_likelihood : float
        ``log L̂`` (natural log), e.g. :func:`gaussian_log_likelihood` of the residuals.
    n_params : int
        ``k ≥ 0``.

    Returns
    -------
    float

    References
    ----------
    H. Akaike, "A new look at the statistical model identification", IEEE Trans.
    Automatic Control 19 (1974).

    Examples
    --------
    >>> aic(-10.0, 3)  # 2·3 + 20
    26.0
    """
    ll, k = _information_args(log_likelihood, n_params)
    return 2.0 * k - 2.0 * ll


def bic(log_likelihood: float, n_params: int, n_samples: int) -> float:
    """The Bayesian (Schwarz) information criterion: ``BIC = k log n − 2 log L̂``.

    Like :func:`aic` with the price of a parameter raised from 2 to ``log n`` (larger as
    soon as ``n ≥ 8``), so it prefers smaller models; it approximates ``−2 log`` of the
    model's marginal likelihood, and picks the true model among the candidates with a
    probability tending to 1 as ``n`` grows. Smaller is better.

    Parameters
    ----------
    log_likelihood : float
        ``log L̂`` (natural log).
    n_params : int
        ``k ≥ 0``.
    n_samples : int
        ``n ≥ 1``, the number of observations the likelihood was computed on.

    Returns
    -------
    float

    References
    ----------
    G. Schwarz, "Estimating the dimension of a model", Annals of Statistics 6 (1978).

    Examples
    --------
    >>> round(bic(-10.0, 3, 100), 4)  # 3 log 100 + 20
    33.8155
    """
    ll, k = _information_args(log_likelihood, n_params)
    n = check_int(n_samples, "n_samples", 1)
    return k * math.log(n) - 2.0 * ll


# ----------------------------------------------------------------------- distributions


def _lgamma(x: np.ndarray) -> np.ndarray:
    return np.vectorize(math.lgamma, otypes=[np.float64])(x)


class _Distribution:
    """Shared interface: ``sample``, ``log_prob``, ``prob``, ``entropy``, ``mean``, ``variance``."""

    @property
    def mean(self) -> float:
        raise NotImplementedError

    @property
    def variance(self) -> float:
        raise NotImplementedError

    def log_prob(self, x: ArrayLike) -> np.ndarray | float:
        raise NotImplementedError

    def prob(self, x: ArrayLike) -> np.ndarray | float:
        """The density / mass at ``x``: ``exp(log_prob(x))``."""
        lp = self.log_prob(x)
        return float(np.exp(lp)) if np.ndim(lp) == 0 else np.exp(lp)

    def entropy(self) -> float:
        raise NotImplementedError

    def sample(self, n: int, seed: Seed = None) -> np.ndarray:
        raise NotImplementedError


def _out(a: np.ndarray) -> np.ndarray | float:
    return float(a) if a.ndim == 0 else a


class Normal(_Distribution):
    """The normal (Gaussian) distribution ``N(mu, sigma²)``.

    ``p(x) = exp(−(x − mu)² / (2 sigma²)) / sqrt(2π sigma²)``;
    ``log p(x) = −log(sigma) − ½ log(2π) − (x − mu)² / (2 sigma²)``;
    entropy ``½ log(2πe sigma²)``; ``mean = mu``, ``variance = sigma²`` (properties).

    Parameters
    ----------
    mu : float, default 0
    sigma : float, default 1
        Standard deviation, ``sigma > 0``.

    Examples
    --------
    >>> d = Normal(0.0, 1.0)
    >>> round(d.log_prob(0.0), 6)  # −½ log(2π)
    -0.918939
    >>> d.mean, d.variance
    (0.0, 1.0)
    >>> d.sample(3, seed=0).shape
    (3,)
    """

    def __init__(self, mu: float = 0.0, sigma: float = 1.0) -> None:
        self.mu = check_finite(mu, "mu")
        self.sigma = check_positive(sigma, "sigma")

    def __repr__(self) -> str:
        return f"Normal(mu={self.mu}, sigma={self.sigma})"

    @property
    def mean(self) -> float:
        """``mu``."""
        return self.mu

    @property
    def variance(self) -> float:
        """``sigma²``."""
        return self.sigma**2

    def log_prob(self, x: ArrayLike) -> np.ndarray | float:
        """``log p(x) = −log(sigma) − ½ log(2π) − (x − mu)² / (2 sigma²)``."""
        x = np.asarray(x, dtype=np.float64)
        z = (x - self.mu) / self.sigma
        return _out(-math.log(self.sigma) - 0.5 * math.log(2 * math.pi) - 0.5 * z**2)

    def entropy(self) -> float:
        """``½ log(2πe sigma²)`` nats."""
        return 0.5 * math.log(2 * math.pi * math.e * self.sigma**2)

    def sample(self, n: int, seed: Seed = None) -> np.ndarray:
        """``n`` independent draws, float64 array of shape (n,)."""
        n = check_int(n, "n", 1)
        return _rng(seed).normal(self.mu, self.sigma, size=n)


class Bernoulli(_Distribution):
    """The Bernoulli distribution: ``X = 1`` with probability ``p``, else ``X = 0``.

    ``P(x) = p^x (1 − p)^(1 − x)`` for ``x ∈ {0, 1}``; ``mean = p``,
    ``variance = p(1 − p)`` (properties); entropy ``−p log p − (1 − p) log(1 − p)``,
    which is 0 for the degenerate ``p = 0`` or ``p = 1`` (``0 · log 0 = 0``).

    Parameters
    ----------
    p : float
        Probability of a one, ``0 ≤ p ≤ 1``.

    Examples
    --------
    >>> d = Bernoulli(0.3)
    >>> round(d.prob(1), 12), round(d.prob(0), 12)
    (0.3, 0.7)
    >>> Bernoulli(1.0).entropy()
    0.0
    """

    def __init__(self, p: float) -> None:
        self.p = check_finite(p, "p")
        if not 0.0 <= self.p <= 1.0:
            raise ValueError(f"p must be in [0, 1], got {self.p}")

    def __repr__(self) -> str:
        return f"Bernoulli(p={self.p})"

    @property
    def mean(self) -> float:
        """``p``."""
        return self.p

    @property
    def variance(self) -> float:
        """``p (1 − p)``."""
        return self.p * (1.0 - self.p)

    def log_prob(self, x: ArrayLike) -> np.ndarray | float:
        """``x log p + (1 − x) log(1 − p)`` on ``{0, 1}``; ``−inf`` elsewhere (as SciPy)."""
        x = np.asarray(x, dtype=np.float64)
        with np.errstate(divide="ignore"):
            log_p, log_q = np.log(self.p), np.log1p(-self.p)
        out = np.where(x == 1, log_p, np.where(x == 0, log_q, -np.inf))
        return _out(np.asarray(out, dtype=np.float64))

    def entropy(self) -> float:
        """``−p log p − (1 − p) log(1 − p)`` nats; 0 when ``p ∈ {0, 1}``."""
        return entropy([self.p, 1.0 - self.p])

    def sample(self, n: int, seed: Seed = None) -> np.ndarray:
        """``n`` independent draws, int64 array of 0s and 1s, shape (n,)."""
        n = check_int(n, "n", 1)
        return (_rng(seed).random(n) < self.p).astype(np.int64)


class Categorical(_Distribution):
    """The categorical distribution on the classes ``0, …, k − 1``: ``P(X = i) = probs[i]``.

    ``log P(i) = log probs[i]``; entropy ``−Σ_i probs[i] log probs[i]``. ``mean`` and
    ``variance`` (properties) are those of the class index as a number,
    ``Σ_i i probs[i]`` and ``Σ_i (i − mean)² probs[i]``.

    Parameters
    ----------
    probs : array_like, shape (k,)
        Non-negative, summing to 1 (within ``PROB_ATOL``).

    Examples
    --------
    >>> d = Categorical([0.2, 0.5, 0.3])
    >>> round(d.prob(1), 12)
    0.5
    >>> round(d.mean, 12)
    1.1
    >>> d.sample(4, seed=0).dtype
    dtype('int64')
    """

    def __init__(self, probs: ArrayLike) -> None:
        self.probs = _probs(probs)

    def __repr__(self) -> str:
        return f"Categorical(probs={self.probs.tolist()})"

    @property
    def mean(self) -> float:
        """``Σ_i i probs[i]``."""
        return float(np.dot(np.arange(self.probs.size), self.probs))

    @property
    def variance(self) -> float:
        """``Σ_i (i − mean)² probs[i]``."""
        return variance(np.arange(self.probs.size), self.probs)

    def log_prob(self, x: ArrayLike) -> np.ndarray | float:
        """``log probs[x]`` for an integer ``0 ≤ x < k``; ``−inf`` elsewhere."""
        x = np.asarray(x, dtype=np.float64)
        k = self.probs.size
        valid = (x >= 0) & (x < k) & (x == np.floor(x))
        index = np.where(valid, x, 0).astype(np.int64)
        with np.errstate(divide="ignore"):
            out = np.where(valid, np.log(self.probs[index]), -np.inf)
        return _out(np.asarray(out, dtype=np.float64))

    def entropy(self) -> float:
        """``−Σ_i probs[i] log probs[i]`` nats."""
        return entropy(self.probs)

    def sample(self, n: int, seed: Seed = None) -> np.ndarray:
        """``n`` independent class indices, int64 array of shape (n,)."""
        n = check_int(n, "n", 1)
        p = self.probs / self.probs.sum()
        return _rng(seed).choice(self.probs.size, size=n, p=p).astype(np.int64)


class Poisson(_Distribution):
    """The Poisson distribution of counts with rate ``rate``.

    ``P(k) = rate^k e^(−rate) / k!`` for ``k = 0, 1, 2, …``;
    ``log P(k) = k log(rate) − rate − log k!``; ``mean = variance = rate`` (properties).
    The entropy has no closed form: it is summed over ``k ≤ rate + 12 sqrt(rate) + 30``
    (the tail beyond is below float64 resolution). ``rate = 0`` is the point mass at 0.

    Parameters
    ----------
    rate : float
        ``rate ≥ 0``.

    Examples
    --------
    >>> d = Poisson(2.0)
    >>> round(d.prob(0), 6)  # e^−2
    0.135335
    >>> d.mean, d.variance
    (2.0, 2.0)
    """

    def __init__(self, rate: float) -> None:
        self.rate = check_nonneg(rate, "rate")

    def __repr__(self) -> str:
        return f"Poisson(rate={self.rate})"

    @property
    def mean(self) -> float:
        """``rate``."""
        return self.rate

    @property
    def variance(self) -> float:
        """``rate``."""
        return self.rate

    def log_prob(self, x: ArrayLike) -> np.ndarray | float:
        """``k log(rate) − rate − log k!`` for integer ``k ≥ 0``; ``−inf`` elsewhere."""
        x = np.asarray(x, dtype=np.float64)
        valid = (x >= 0) & (x == np.floor(x)) & np.isfinite(x)
        k = np.where(valid, x, 0.0)
        out = _xlogy(k, np.full_like(k, self.rate)) - self.rate - _lgamma(k + 1.0)
        return _out(np.where(valid, out, -np.inf))

    def entropy(self) -> float:
        """``−Σ_k P(k) log P(k)`` nats, summed numerically."""
        if self.rate == 0.0:
            return 0.0
        k_max = math.ceil(self.rate + 12.0 * math.sqrt(self.rate) + 30.0)
        log_p = np.asarray(self.log_prob(np.arange(k_max + 1)))
        return float(-np.sum(np.exp(log_p) * log_p))

    def sample(self, n: int, seed: Seed = None) -> np.ndarray:
        """``n`` independent counts, int64 array of shape (n,)."""
        n = check_int(n, "n", 1)
        return _rng(seed).poisson(self.rate, size=n).astype(np.int64)
