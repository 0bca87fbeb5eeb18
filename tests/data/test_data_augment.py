"""Tests for chainrule.data.augment."""


import numpy as np
import pytest

from chainrule.data import augment as A
from chainrule.data.augment import Compose, GaussianNoise, Mixup, RandomShift
from chainrule.data.preprocessing import one_hot
from doctest_helper import check_doctests


def test_docstring_examples():
    check_doctests(A, more_than=3)


def test_gaussian_noise_statistics_and_dtype():
    x = np.ones((400, 50))
    out = GaussianNoise(0.3, seed=0)(x)
    eps = out - x
    assert abs(eps.mean()) < 0.01
    assert abs(eps.std() - 0.3) < 0.01
    assert np.all(x == 1.0)  # input untouched
    assert GaussianNoise(0.3, seed=0)(x.astype(np.float32)).dtype == np.float32
    np.testing.assert_array_equal(GaussianNoise(0.0, seed=0)(x), x)


def test_noise_off_in_eval_and_back_on():
    x = np.zeros((5, 4))
    aug = GaussianNoise(1.0, seed=0)
    assert aug.training
    assert aug.eval() is aug and not aug.training
    assert aug(x) is x
    aug.train()
    assert np.abs(aug(x)).sum() > 0


def test_same_seed_same_noise_and_state_round_trip():
    x = np.zeros((3, 3))
    a, b = GaussianNoise(1.0, seed=4), GaussianNoise(1.0, seed=4)
    np.testing.assert_array_equal(a(x), b(x))
    state = a.state_dict()
    nxt = a(x)
    c = GaussianNoise(1.0, seed=0).load_state_dict(state)
    np.testing.assert_array_equal(c(x), nxt)


def test_random_shift_1d_circular_is_a_roll():
    x = np.tile(np.arange(10.0), (200, 1))
    aug = RandomShift(3, seed=0, mode="circular")
    out = aug(x)
    seen = set()
    for row in out:
        s = int((-row[0]) % 10)  # out[j] = x[(j - s) mod d], so out[0] = (-s) mod d
        s = s - 10 if s > 5 else s
        assert -3 <= s <= 3
        np.testing.assert_array_equal(row, np.roll(np.arange(10.0), s))
        seen.add(s)
    assert seen == set(range(-3, 4))


def test_random_shift_1d_zero_padding():
    x = np.tile(np.arange(1.0, 9.0), (100, 1))
    out = RandomShift(2, seed=1)(x)
    for row in out:
        k = np.flatnonzero(row)[0]  # s > 0: k = s leading zeros; s <= 0: row starts at 1 - s
        s = k if row[k] == 1.0 else -(int(row[0]) - 1)
        expected = np.zeros(8)
        if s >= 0:
            expected[s:] = np.arange(1.0, 9.0)[: 8 - s]
        else:
            expected[:s] = np.arange(1.0, 9.0)[-s:]
        np.testing.assert_array_equal(row, expected)


def test_random_shift_images():
    rng = np.random.default_rng(0)
    images = rng.random((50, 8, 8)) + 1.0  # strictly positive
    flat = images.reshape(50, 64)
    out = RandomShift(2, seed=3, image_shape=(8, 8), mode="circular")(flat)
    assert out.shape == (50, 64)
    for img, shifted in zip(images, out.reshape(50, 8, 8)):
        matches = [
            (dr, dc)
            for dr in range(-2, 3)
            for dc in range(-2, 3)
            if np.array_equal(np.roll(img, (dr, dc), axis=(0, 1)), shifted)
        ]
        assert len(matches) == 1
    zero = RandomShift(1, seed=3, mode="zero")(images)  # (n, H, W) batches work directly
    assert zero.shape == images.shape
    for img, shifted in zip(images, zero):
        nz = shifted != 0
        assert nz.sum() in (64, 56, 49)  # no shift, shift along one axis, or both
        assert np.isin(shifted[nz], img).all()


def test_random_shift_errors():
    with pytest.raises(ValueError, match="max_shift must be an int >= 0, got -1"):
        RandomShift(-1)
    with pytest.raises(ValueError, match="mode must be 'zero' or 'circular'"):
        RandomShift(1, mode="reflect")
    with pytest.raises(ValueError, match="image_shape must be two positive ints"):
        RandomShift(1, image_shape=(8,))
    with pytest.raises(ValueError, match=r"image_shape \(8, 8\) needs 64 values"):
        RandomShift(1, seed=0, image_shape=(8, 8))(np.zeros((2, 63)))
    with pytest.raises(ValueError, match="x must be a batch"):
        RandomShift(1, seed=0)(np.zeros(5))


def test_mixup_is_a_convex_combination_of_pairs():
    n, k = 16, 4
    labels = np.arange(n) % k
    mix = Mixup(alpha=0.4, seed=0, num_classes=k)
    for _ in range(5):
        M, y_mix = mix(np.eye(n), labels)  # with X = I, x̃ = M is the mixing matrix
        lam = mix.lam_
        assert 0.0 < lam < 1.0
        # M = λ·I + (1 − λ)·P with P a permutation matrix (the partner j of each i)
        P = (M - lam * np.eye(n)) / (1.0 - lam)
        np.testing.assert_allclose(P, np.round(P), atol=1e-9)
        np.testing.assert_array_equal(np.round(P).sum(axis=0), 1)
        np.testing.assert_array_equal(np.round(P).sum(axis=1), 1)
        np.testing.assert_allclose(M.sum(axis=1), 1.0)
        # ỹ uses the same λ and the same partner: ỹ = M · onehot(y)
        np.testing.assert_allclose(y_mix, M @ one_hot(labels, k))


def test_mixup_lambda_distribution_and_float_targets():
    mix = Mixup(alpha=0.2, seed=1)
    x = np.arange(6.0).reshape(3, 2)
    t = np.array([[1.0], [2.0], [3.0]])
    lams = []
    for _ in range(2000):
        xm, tm = mix(x, t)
        lams.append(mix.lam_)
    lams = np.array(lams)
    assert abs(lams.mean() - 0.5) < 0.03  # E[Beta(a, a)] = 1/2
    assert abs(lams.var() - 1 / (4 * (2 * 0.2 + 1))) < 0.01  # Var = 1/(4(2a+1))
    # targets mixed like the inputs (x[:, 0] = 2(t - 1))
    np.testing.assert_allclose(xm[:, 0], 2 * (tm[:, 0] - 1))


def test_mixup_eval_and_errors():
    mix = Mixup(alpha=1.0, seed=0, num_classes=2).eval()
    x, y = np.eye(2), np.array([0, 1])
    xo, yo = mix(x, y)
    assert xo is x and yo is y
    with pytest.raises(ValueError, match="alpha must be a finite number > 0, got 0"):
        Mixup(alpha=0)
    with pytest.raises(ValueError, match="num_classes=None"):
        Mixup(alpha=1.0, seed=0)(x, y)
    with pytest.raises(TypeError, match=r"call it as mixup\(x, y\)"):
        Mixup(alpha=1.0, seed=0)(x)
    with pytest.raises(ValueError, match="x has 2 samples but y has 3"):
        Mixup(alpha=1.0, seed=0, num_classes=2)(x, np.array([0, 1, 1]))


def test_compose_train_eval_and_state():
    x = np.tile(np.arange(6.0), (4, 1))
    aug = Compose([RandomShift(1, seed=0), GaussianNoise(0.1, seed=1)])
    state = aug.state_dict()
    out = aug(x)
    assert out.shape == x.shape and not np.array_equal(out, x)
    np.testing.assert_array_equal(aug.load_state_dict(state)(x), out)
    aug.eval()
    assert all(not t.training for t in aug.transforms)
    assert aug(x) is x
    with_mix = Compose([GaussianNoise(0.1, seed=0), Mixup(1.0, seed=0, num_classes=2)])
    assert with_mix.transforms_targets
    _, ym = with_mix(x, np.array([0, 1, 0, 1]))
    assert ym.shape == (4, 2)
