"""Tests for chainrule.mathkit.probability against SciPy and closed forms."""

import doctest
import math

import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate

from chainrule.mathkit import probability
from chainrule.mathkit.probability import (
    Bernoulli,
    Categorical,
    Normal,
    Poisson,
    aic,
    bayes,
    bic,
    cross_entropy,
    dice_game,
    entropy,
    entropy_continuous,
    expectation,
    expectation_continuous,
    gaussian_log_likelihood,
    kl_divergence,
    kl_normal,
    law_of_large_numbers,
    mle_bernoulli,
    mle_normal,
    mle_poisson,
    variance,
    variance_continuous,
)
from doctest_helper import check_doctests


def test_doctests():
    check_doctests(probability, doctest.NORMALIZE_WHITESPACE, more_than=30)


def _normal_pdf(mu, sigma):
    return lambda x: scipy.stats.norm.pdf(x, mu, sigma)


# -------------------------------------------------------------- expectation, variance


def test_expectation_and_variance_fair_die():
    faces, probs = np.arange(1, 7), np.full(6, 1 / 6)
    assert expectation(faces, probs) == pytest.approx(3.5)
    assert variance(faces, probs) == pytest.approx(35 / 12)


def test_expectation_and_variance_match_scipy_rv_discrete():
    rng = np.random.default_rng(0)
    values = np.arange(8)
    probs = rng.dirichlet(np.ones(8))
    rv = scipy.stats.rv_discrete(values=(values, probs))
    assert expectation(values, probs) == pytest.approx(rv.mean(), rel=1e-12)
    assert variance(values, probs) == pytest.approx(rv.var(), rel=1e-10)


def test_variance_is_stable_for_large_mean():
    # E[X²] − μ² would lose every digit here.
    assert variance([1e9, 1e9 + 1], [0.5, 0.5]) == pytest.approx(0.25, rel=1e-12)


def test_dice_game():
    values, probs = dice_game()
    assert expectation(values, probs) == pytest.approx(-100 / 3)
    assert round(expectation(values, probs), 2) == -33.33
    # E[X²] − E[X]² = (300²·2 + 200²·4)/6 − (100/3)²
    assert variance(values, probs) == pytest.approx((90000 * 2 + 40000 * 4) / 6 - (100 / 3) ** 2)


@pytest.mark.parametrize(
    ("probs", "match"),
    [
        ([0.5, 0.4], "must sum to 1 .*got sum 0.9"),
        ([0.5, 0.6], "got sum 1.1"),
        ([1.5, -0.5], "non-negative, got min -0.5"),
        ([0.5, np.nan], "finite"),
        ([[0.5, 0.5]], r"1-D array, got shape \(1, 2\)"),
        ([], "non-empty"),
    ],
)
def test_probs_validation(probs, match):
    with pytest.raises(ValueError, match=match):
        expectation(np.zeros(np.shape(probs)[-1] if np.ndim(probs) else 0), probs)


def test_values_probs_shape_mismatch():
    with pytest.raises(ValueError, match=r"\(3,\) and \(2,\)"):
        variance([1, 2, 3], [0.5, 0.5])


def test_probs_tolerance():
    # within PROB_ATOL (1e-6): accepted and used as given, E = 0·0.5 + 1·(0.5 + 1e-9)
    assert expectation([0, 1], [0.5, 0.5 + 1e-9]) == pytest.approx(0.5 + 1e-9, abs=1e-15)
    with pytest.raises(ValueError, match="sum to 1"):  # beyond it: rejected
        expectation([0, 1], [0.5, 0.5 + 1e-5])


def test_law_of_large_numbers():
    values, probs = dice_game()
    means = law_of_large_numbers(values, probs, n=200_000, seed=0)
    assert means.shape == (200_000,)
    sd = math.sqrt(variance(values, probs))
    # 5 standard errors: fails with probability < 1e-6 for a fixed seed it is deterministic
    assert abs(means[-1] - (-100 / 3)) < 5 * sd / math.sqrt(200_000)
    # running mean of the first draw is the draw itself
    assert means[0] in (300.0, -200.0)
    # the error shrinks: late errors are smaller than early ones on average
    assert abs(means[-1] + 100 / 3) < np.mean(np.abs(means[:100] + 100 / 3))
    np.testing.assert_array_equal(means, law_of_large_numbers(values, probs, 200_000, seed=0))


def test_law_of_large_numbers_validates_n():
    with pytest.raises(ValueError, match="n must be an int >= 1, got 0"):
        law_of_large_numbers([0, 1], [0.5, 0.5], n=0)
    with pytest.raises(TypeError, match="seed must be"):
        law_of_large_numbers([0, 1], [0.5, 0.5], n=3, seed="x")


def test_expectation_continuous_normal_and_exponential():
    mu, sigma = 1.5, 0.7
    pdf = _normal_pdf(mu, sigma)
    assert expectation_continuous(pdf, -np.inf, np.inf) == pytest.approx(mu, rel=1e-9)
    assert variance_continuous(pdf, -np.inf, np.inf) == pytest.approx(sigma**2, rel=1e-9)
    second = expectation_continuous(pdf, -np.inf, np.inf, g=lambda x: x**2)
    assert second == pytest.approx(mu**2 + sigma**2, rel=1e-9)
    lam = 2.0
    expo = lambda x: lam * math.exp(-lam * x)  # noqa: E731
    assert expectation_continuous(expo, 0, np.inf) == pytest.approx(1 / lam, rel=1e-9)
    assert variance_continuous(expo, 0, np.inf) == pytest.approx(1 / lam**2, rel=1e-9)


def test_expectation_continuous_validates():
    with pytest.raises(ValueError, match=r"pdf must integrate to 1 on .*got 0.5"):
        expectation_continuous(lambda x: 0.5, 0.0, 1.0)
    with pytest.raises(ValueError, match=r"a < b, got a=1.0, b=0.0"):
        expectation_continuous(lambda x: 1.0, 1.0, 0.0)
    with pytest.raises(TypeError, match="pdf must be callable"):
        expectation_continuous(3.0, 0.0, 1.0)


# ---------------------------------------------------------------- information theory


@pytest.mark.parametrize("base", [np.e, 2, 10])
def test_entropy_matches_scipy(base):
    p = np.random.default_rng(1).dirichlet(np.ones(7))
    assert entropy(p, base) == pytest.approx(scipy.stats.entropy(p, base=base), rel=1e-12)


def test_entropy_closed_forms_and_zero_log_zero():
    assert entropy([0.5, 0.5], base=2) == 1.0
    assert entropy(np.full(1024, 1 / 1024), base=2) == pytest.approx(10.0)
    assert entropy([1.0, 0.0, 0.0]) == 0.0
    assert entropy([0.5, 0.0, 0.5], base=2) == 1.0
    assert entropy(np.full(6, 1 / 6)) == pytest.approx(math.log(6))


def test_entropy_validates_base():
    with pytest.raises(ValueError, match=r"base must be > 0 and != 1, got 1.0"):
        entropy([0.5, 0.5], base=1)
    with pytest.raises(ValueError, match=r"base must be > 0 and != 1, got -2.0"):
        kl_divergence([0.5, 0.5], [0.5, 0.5], base=-2)


@pytest.mark.parametrize("base", [np.e, 2])
def test_kl_and_cross_entropy_match_scipy(base):
    rng = np.random.default_rng(2)
    p, q = rng.dirichlet(np.ones(5)), rng.dirichlet(np.ones(5))
    ref = scipy.stats.entropy(p, q, base=base)
    assert kl_divergence(p, q, base) == pytest.approx(ref, rel=1e-12)
    assert cross_entropy(p, q, base) == pytest.approx(entropy(p, base) + ref, rel=1e-12)
    assert cross_entropy(p, q, base) == pytest.approx(
        -np.sum(p * np.log(q)) / np.log(base), rel=1e-12
    )


def test_kl_properties_and_infinities():
    p, q = np.array([0.2, 0.8]), np.array([0.6, 0.4])
    assert kl_divergence(p, p) == 0.0
    assert kl_divergence(p, q) > 0
    assert kl_divergence(p, q) != pytest.approx(kl_divergence(q, p))  # not symmetric
    assert kl_divergence([0.5, 0.5], [1.0, 0.0]) == math.inf
    assert kl_divergence([1.0, 0.0], [0.5, 0.5]) == pytest.approx(math.log(2))  # 0·log 0
    assert cross_entropy([0.5, 0.5], [1.0, 0.0]) == math.inf
    assert cross_entropy([1.0, 0.0], [1.0, 0.0]) == 0.0
    assert cross_entropy([1.0, 0.0, 0.0], [0.7, 0.2, 0.1]) == pytest.approx(-math.log(0.7))


def test_kl_shape_mismatch():
    with pytest.raises(ValueError, match=r"\(2,\) and \(3,\)"):
        kl_divergence([0.5, 0.5], [0.2, 0.3, 0.5])
    with pytest.raises(ValueError, match="q must sum to 1"):
        cross_entropy([0.5, 0.5], [0.5, 0.6])


@pytest.mark.parametrize(("mu1", "s1", "mu2", "s2"),
                         [(0, 1, 0, 1), (1, 1, 0, 1), (0.3, 0.5, -1.0, 2.0), (2, 3, 1, 0.8)])
def test_kl_normal_matches_numerical_integral(mu1, s1, mu2, s2):
    def integrand(x):
        return scipy.stats.norm.pdf(x, mu1, s1) * (
            scipy.stats.norm.logpdf(x, mu1, s1) - scipy.stats.norm.logpdf(x, mu2, s2)
        )

    ref, _ = integrate.quad(integrand, -np.inf, np.inf)
    assert kl_normal(mu1, s1, mu2, s2) == pytest.approx(ref, rel=1e-7, abs=1e-12)


def test_kl_normal_validates():
    with pytest.raises(ValueError, match=r"sigma2 must be a finite number > 0, got 0$"):
        kl_normal(0, 1, 0, 0)
    with pytest.raises(ValueError, match=r"sigma1 must be a finite number > 0, got -1$"):
        kl_normal(0, -1, 0, 1)


def test_entropy_continuous_normal_and_uniform():
    sigma = 0.1
    h = entropy_continuous(_normal_pdf(0.0, sigma), -np.inf, np.inf)
    assert h == pytest.approx(scipy.stats.norm(0, sigma).entropy(), rel=1e-8)
    assert h < 0  # differential entropy can be negative
    assert entropy_continuous(lambda x: 0.25, 0, 4, base=2) == pytest.approx(2.0)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(0.01, 1.0), min_size=2, max_size=6),
       st.lists(st.floats(0.01, 1.0), min_size=2, max_size=6))
def test_gibbs_inequality(a, b):
    n = min(len(a), len(b))
    p = np.array(a[:n]) / sum(a[:n])
    q = np.array(b[:n]) / sum(b[:n])
    assert kl_divergence(p, q) >= 0.0
    assert cross_entropy(p, q) >= entropy(p) - 1e-12
    assert entropy(p) <= math.log(n) + 1e-12


# ----------------------------------------------------------------------- Bayes' rule


def test_bayes_disease_test():
    prevalence, sensitivity, false_positive = 0.01, 0.99, 0.05
    posterior = bayes([prevalence, 1 - prevalence], [sensitivity, false_positive])
    expected = sensitivity * prevalence / (sensitivity * prevalence + false_positive * 0.99)
    np.testing.assert_allclose(posterior, [expected, 1 - expected])
    assert posterior.sum() == pytest.approx(1.0)
    evidence = sensitivity * prevalence + false_positive * (1 - prevalence)
    assert bayes(prevalence, sensitivity, evidence) == pytest.approx(expected)


def test_bayes_with_explicit_evidence_and_uniform_prior():
    likelihood = np.array([0.2, 0.6, 0.2])
    posterior = bayes(np.full(3, 1 / 3), likelihood)
    np.testing.assert_allclose(posterior, likelihood / likelihood.sum())
    np.testing.assert_allclose(bayes([0.5, 0.5], [0.2, 0.4], evidence=0.3), [1 / 3, 2 / 3])


def test_bayes_validates():
    with pytest.raises(ValueError, match="evidence P\\(D\\) is required"):
        bayes(0.3, 0.5)
    with pytest.raises(ValueError, match=r"prior must be in \[0, 1\], got 1.5"):
        bayes(1.5, 0.5, 0.9)
    with pytest.raises(ValueError, match="likelihood must be >= 0"):
        bayes([0.5, 0.5], [-0.1, 0.5])
    with pytest.raises(ValueError, match=r"evidence must be a finite number > 0, got 0.0"):
        bayes(0.5, 0.5, 0.0)
    with pytest.raises(ValueError, match="smaller than likelihood \\* prior"):
        bayes(0.5, 0.8, 0.1)
    with pytest.raises(ValueError, match="prior must sum to 1"):
        bayes([0.5, 0.6], [0.1, 0.2])
    with pytest.raises(ValueError, match="evidence is 0"):
        bayes([1.0, 0.0], [0.0, 0.7])
    with pytest.raises(ValueError, match=r"same shape, got \(2,\) and \(3,\)"):
        bayes([0.5, 0.5], [0.1, 0.2, 0.3])


# ----------------------------------------------------------------- maximum likelihood


def test_mle_bernoulli():
    x = Bernoulli(0.3).sample(20_000, seed=0)
    assert mle_bernoulli(x) == pytest.approx(x.mean())
    assert mle_bernoulli(x) == pytest.approx(0.3, abs=0.02)
    assert mle_bernoulli([True, False, True, True]) == 0.75
    with pytest.raises(ValueError, match=r"only 0 and 1, got 2.0"):
        mle_bernoulli([0, 1, 2])
    with pytest.raises(ValueError, match="non-empty 1-D"):
        mle_bernoulli([])


def test_mle_normal_matches_scipy_fit_and_uses_1_over_n():
    x = Normal(2.0, 3.0).sample(500, seed=1)
    mu, sigma = mle_normal(x)
    mu_ref, sigma_ref = scipy.stats.norm.fit(x)
    assert mu == pytest.approx(mu_ref, rel=1e-12)
    assert sigma == pytest.approx(sigma_ref, rel=1e-10)
    assert sigma == pytest.approx(np.std(x, ddof=0), rel=1e-12)
    assert sigma < np.std(x, ddof=1)
    assert mle_normal([5.0]) == (5.0, 0.0)


def test_mle_normal_maximises_the_log_likelihood():
    x = Normal(-1.0, 0.5).sample(100, seed=2)
    mu, sigma = mle_normal(x)

    def loglik(m, s):
        return np.sum(scipy.stats.norm.logpdf(x, m, s))

    best = loglik(mu, sigma)
    for dm, ds in [(1e-3, 0), (-1e-3, 0), (0, 1e-3), (0, -1e-3)]:
        assert loglik(mu + dm, sigma + ds) < best


def test_mle_poisson():
    x = Poisson(4.0).sample(10_000, seed=3)
    assert mle_poisson(x) == pytest.approx(x.mean())
    assert mle_poisson(x) == pytest.approx(4.0, abs=0.1)
    with pytest.raises(ValueError, match=r"non-negative integer counts, got -1.0"):
        mle_poisson([1, -1])
    with pytest.raises(ValueError, match=r"non-negative integer counts, got 1.5"):
        mle_poisson([1, 1.5])


# ---------------------------------------------------------------------- distributions


def test_normal_matches_scipy():
    d = Normal(1.0, 2.0)
    x = np.linspace(-5, 5, 11)
    np.testing.assert_allclose(d.log_prob(x), scipy.stats.norm.logpdf(x, 1, 2), rtol=1e-13)
    np.testing.assert_allclose(d.prob(x), scipy.stats.norm.pdf(x, 1, 2), rtol=1e-13)
    assert d.entropy() == pytest.approx(scipy.stats.norm(1, 2).entropy(), rel=1e-13)
    assert (d.mean, d.variance) == (1.0, 4.0)
    assert isinstance(d.log_prob(0.0), float)
    s = d.sample(50_000, seed=0)
    assert s.shape == (50_000,) and s.dtype == np.float64
    assert s.mean() == pytest.approx(1.0, abs=0.05)
    assert s.var() == pytest.approx(4.0, rel=0.05)


@pytest.mark.parametrize("p", [0.0, 0.25, 0.5, 1.0])
def test_bernoulli_matches_scipy(p):
    d = Bernoulli(p)
    x = np.array([0, 1, 2, -1, 0.5])
    with np.errstate(divide="ignore"):
        ref = scipy.stats.bernoulli.logpmf(x, p)
    np.testing.assert_allclose(d.log_prob(x), ref)
    assert d.entropy() == pytest.approx(float(scipy.stats.bernoulli(p).entropy()), abs=1e-15)
    assert d.mean == pytest.approx(scipy.stats.bernoulli(p).mean())
    assert d.variance == pytest.approx(scipy.stats.bernoulli(p).var())
    s = d.sample(1000, seed=1)
    assert s.dtype == np.int64 and set(np.unique(s)) <= {0, 1}


def test_bernoulli_degenerate_entropy_is_zero():
    assert Bernoulli(0.0).entropy() == 0.0
    assert Bernoulli(1.0).entropy() == 0.0
    assert Bernoulli(0.5).entropy() == pytest.approx(math.log(2))
    assert np.all(Bernoulli(1.0).sample(100, seed=0) == 1)
    assert np.all(Bernoulli(0.0).sample(100, seed=0) == 0)


def test_categorical():
    probs = np.array([0.1, 0.0, 0.6, 0.3])
    d = Categorical(probs)
    with np.errstate(divide="ignore"):
        np.testing.assert_allclose(d.log_prob([0, 1, 2, 3]), np.log(probs))
    assert d.log_prob(4) == -math.inf and d.log_prob(-1) == -math.inf
    assert d.log_prob(1.5) == -math.inf
    assert d.entropy() == pytest.approx(scipy.stats.entropy(probs))
    rv = scipy.stats.rv_discrete(values=(np.arange(4), probs))
    assert d.mean == pytest.approx(rv.mean()) and d.variance == pytest.approx(rv.var())
    s = d.sample(40_000, seed=2)
    assert s.dtype == np.int64
    assert not np.any(s == 1)
    np.testing.assert_allclose(np.bincount(s, minlength=4) / s.size, probs, atol=0.01)


@pytest.mark.parametrize("rate", [0.0, 0.5, 3.0, 40.0, 500.0])
def test_poisson_matches_scipy(rate):
    d = Poisson(rate)
    k = np.array([0, 1, 2, 5, 30, 10_000])
    with np.errstate(divide="ignore"):
        ref = scipy.stats.poisson.logpmf(k, rate)
    np.testing.assert_allclose(d.log_prob(k), ref, rtol=1e-10)
    assert d.entropy() == pytest.approx(float(scipy.stats.poisson(rate).entropy()),
                                        rel=1e-9, abs=1e-12)
    assert d.mean == d.variance == rate
    assert d.log_prob(1.5) == -math.inf and d.log_prob(-1) == -math.inf


def test_poisson_entropy_large_rate_matches_asymptotic_series():
    # h(λ) = ½ log(2πeλ) − 1/(12λ) − 1/(24λ²) + O(λ⁻³); SciPy's own sum fails to converge.
    lam = 1e4
    expected = 0.5 * math.log(2 * math.pi * math.e * lam) - 1 / (12 * lam) - 1 / (24 * lam**2)
    assert Poisson(lam).entropy() == pytest.approx(expected, rel=1e-10)


def test_poisson_sample():
    s = Poisson(3.0).sample(30_000, seed=4)
    assert s.dtype == np.int64
    assert s.mean() == pytest.approx(3.0, abs=0.05)
    assert s.var() == pytest.approx(3.0, rel=0.05)
    np.testing.assert_array_equal(s, Poisson(3.0).sample(30_000, seed=4))


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: Normal(0.0, 0.0), "sigma must be a finite number > 0, got 0.0"),
        (lambda: Normal(0.0, -2.0), "sigma must be a finite number > 0, got -2.0"),
        (lambda: Bernoulli(1.2), r"p must be in \[0, 1\], got 1.2"),
        (lambda: Bernoulli(-0.1), r"p must be in \[0, 1\], got -0.1"),
        (lambda: Poisson(-1.0), "rate must be a finite number >= 0, got -1.0"),
        (lambda: Categorical([0.2, 0.2]), "probs must sum to 1"),
        (lambda: Normal(np.nan, 1.0), "mu must be finite, got nan"),
    ],
)
def test_degenerate_parameters_raise(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_sample_validates_n():
    with pytest.raises(ValueError, match="n must be an int >= 1, got 0"):
        Normal().sample(0)
    with pytest.raises(TypeError, match=r"n must be an int, got float 2.5"):
        Poisson(1.0).sample(2.5)


# ------------------------------------------------------------------------ AIC and BIC


def test_gaussian_log_likelihood_matches_scipy():
    r = np.random.default_rng(5).normal(0.0, 0.3, size=40)
    assert gaussian_log_likelihood(r, sigma=0.25) == pytest.approx(
        scipy.stats.norm.logpdf(r, 0.0, 0.25).sum(), rel=1e-13
    )
    sigma_hat = np.sqrt(np.mean(r**2))  # the MLE of σ with μ = 0
    assert gaussian_log_likelihood(r) == pytest.approx(
        scipy.stats.norm.logpdf(r, 0.0, sigma_hat).sum(), rel=1e-13
    )
    # the MLE maximises it over σ
    for s in (0.5 * sigma_hat, 0.9 * sigma_hat, 1.1 * sigma_hat):
        assert gaussian_log_likelihood(r, sigma=s) < gaussian_log_likelihood(r)
    # a column (n, 1) is accepted like a vector
    assert gaussian_log_likelihood(r[:, None]) == gaussian_log_likelihood(r)


def test_gaussian_log_likelihood_bad_input():
    with pytest.raises(ValueError, match="all zero"):
        gaussian_log_likelihood([0.0, 0.0])
    with pytest.raises(ValueError, match="sigma must be a finite number > 0"):
        gaussian_log_likelihood([1.0], sigma=0.0)
    with pytest.raises(ValueError, match="residuals must be a non-empty 1-D"):
        gaussian_log_likelihood(np.ones((3, 2)))


def test_aic_bic_worked_example():
    # log L = −10, k = 3, n = 100: AIC = 2·3 + 20 = 26, BIC = 3·log 100 + 20 = 33.8155…
    assert aic(-10.0, 3) == 26.0
    assert bic(-10.0, 3, 100) == pytest.approx(3 * math.log(100) + 20.0, rel=1e-15)
    # BIC charges log n > 2 per parameter from n = 8 on (log 8 = 2.079)
    assert bic(-10.0, 3, 8) > aic(-10.0, 3) > bic(-10.0, 3, 7)
    with pytest.raises(ValueError, match="n_params must be an int >= 0"):
        aic(-1.0, -1)
    with pytest.raises(TypeError, match="n_params must be an int"):
        aic(-1.0, 2.5)
    with pytest.raises(ValueError, match="n_samples must be an int >= 1"):
        bic(-1.0, 2, 0)
    with pytest.raises(ValueError, match="log_likelihood must be finite"):
        aic(float("nan"), 2)


def test_aic_and_bic_choose_the_true_polynomial_degree():
    # y = x³ − x + ε, ε ~ N(0, 0.1²): least-squares polynomials of degree 0…8; each has
    # degree + 1 coefficients plus σ. Both criteria are smallest at the true degree 3,
    # while the training log-likelihood keeps growing with the degree.
    rng = np.random.default_rng(6)
    x = rng.uniform(-1.5, 1.5, size=120)
    y = x**3 - x + rng.normal(0.0, 0.1, size=x.size)
    lls, aics, bics = [], [], []
    for degree in range(9):
        residuals = y - np.polyval(np.polyfit(x, y, degree), x)
        ll = gaussian_log_likelihood(residuals)
        lls.append(ll)
        aics.append(aic(ll, degree + 2))
        bics.append(bic(ll, degree + 2, x.size))
    assert np.all(np.diff(lls) >= -1e-9)  # nested models fit better
    assert int(np.argmin(aics)) == 3
    assert int(np.argmin(bics)) == 3
