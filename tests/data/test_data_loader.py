"""Tests for chainrule.data.loader."""

import json

import numpy as np
import pytest

import chainrule
from chainrule.data import loader as L
from chainrule.data.augment import GaussianNoise, Mixup
from chainrule.data.loader import DataLoader
from doctest_helper import check_doctests


def test_docstring_examples():
    check_doctests(L)


def _data(n=103, d=3):
    X = np.arange(n, dtype=np.float64)[:, None] * np.ones((1, d))
    return X, np.arange(n)


def _epoch_ids(loader):
    return np.concatenate([yb for _, yb in loader])


@pytest.mark.parametrize("batch_size", [1, 16, 32, 103, 500])
def test_every_index_exactly_once_per_epoch(batch_size):
    X, y = _data()
    loader = DataLoader(X, y, batch_size=batch_size, seed=0)
    assert len(loader) == -(-103 // batch_size)
    for _ in range(3):
        batches = list(loader)
        assert len(batches) == len(loader)
        ids = np.concatenate([yb for _, yb in batches])
        assert sorted(ids.tolist()) == list(range(103))
        for xb, yb in batches:
            assert xb.shape == (len(yb), 3) and len(yb) <= batch_size
            np.testing.assert_array_equal(xb[:, 0], yb)  # pairs stay together


def test_reshuffled_every_epoch_and_same_seed_same_order():
    X, y = _data()
    a = DataLoader(X, y, batch_size=10, seed=7)
    b = DataLoader(X, y, batch_size=10, seed=7)
    a1, a2 = _epoch_ids(a), _epoch_ids(a)
    b1, b2 = _epoch_ids(b), _epoch_ids(b)
    np.testing.assert_array_equal(a1, b1)
    np.testing.assert_array_equal(a2, b2)
    assert not np.array_equal(a1, a2)
    assert not np.array_equal(a1, np.arange(103))
    c = DataLoader(X, y, batch_size=10, seed=8)
    assert not np.array_equal(_epoch_ids(c), a1)
    assert a.epoch == 2


def test_no_shuffle_in_order_and_drop_last():
    X, y = _data(10)
    loader = DataLoader(X, y, batch_size=4, shuffle=False)
    assert [yb.tolist() for _, yb in loader] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    loader = DataLoader(X, y, batch_size=4, shuffle=False, drop_last=True)
    assert len(loader) == 2
    assert [len(yb) for _, yb in loader] == [4, 4]
    shuffled = DataLoader(X, y, batch_size=4, seed=0, drop_last=True)
    ids = _epoch_ids(shuffled)
    assert len(ids) == 8 and len(set(ids.tolist())) == 8


def test_state_round_trip_gives_identical_next_epoch():
    X, y = _data()
    noise = GaussianNoise(0.5, seed=3)
    loader = DataLoader(X, y, batch_size=16, seed=11, transform=noise)
    list(loader)
    list(loader)
    state = json.loads(json.dumps(loader.state_dict()))  # storable as plain JSON
    assert state["epoch"] == 2
    expected = [(xb.copy(), yb.copy()) for xb, yb in loader]

    resumed = DataLoader(X, y, batch_size=16, seed=999, transform=GaussianNoise(0.5, seed=0))
    resumed.load_state_dict(state)
    assert resumed.epoch == 2
    got = list(resumed)
    assert len(got) == len(expected)
    for (xb, yb), (xe, ye) in zip(got, expected):
        np.testing.assert_array_equal(yb, ye)
        np.testing.assert_array_equal(xb, xe)  # the noise is identical too
    assert resumed.epoch == 3


def test_seed_none_uses_manual_seed_and_owns_its_generator():
    X, y = _data(20)
    chainrule.manual_seed(123)
    loader = DataLoader(X, y, batch_size=5)
    state = loader.state_dict()
    first = _epoch_ids(loader)
    chainrule.manual_seed(123)
    np.testing.assert_array_equal(_epoch_ids(DataLoader(X, y, batch_size=5)), first)
    other = DataLoader(X, y, batch_size=5)
    global_before = chainrule.rng.get_rng().bit_generator.state
    other.load_state_dict(state)
    assert chainrule.rng.get_rng().bit_generator.state == global_before  # global untouched
    assert other.rng is not chainrule.rng.get_rng()
    np.testing.assert_array_equal(_epoch_ids(other), first)


def test_transform_is_applied_to_x_only_and_mixup_gets_targets():
    X, y = _data(12)
    loader = DataLoader(X, y, batch_size=4, seed=0, transform=lambda xb: -xb)
    for xb, yb in loader:
        np.testing.assert_array_equal(xb[:, 0], -yb)
    labels = np.arange(12) % 3
    mix = Mixup(alpha=1.0, seed=0, num_classes=3)
    loader = DataLoader(X, labels, batch_size=4, seed=0, transform=mix)
    for _, yb in loader:
        assert yb.shape == (4, 3)
        np.testing.assert_allclose(yb.sum(axis=1), 1.0)
    mix.eval()
    for _, yb in loader:
        assert yb.shape == (4,)  # augmentation off: targets untouched


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"batch_size": 0}, ValueError, "batch_size must be a positive int, got 0"),
        ({"batch_size": -3}, ValueError, "batch_size must be a positive int, got -3"),
        ({"batch_size": 8.0}, TypeError, "batch_size must be a positive int, got float 8.0"),
        ({"shuffle": 1}, TypeError, "shuffle must be a bool"),
        ({"transform": 3}, TypeError, "transform must be callable"),
        ({"seed": "a"}, TypeError, "seed must be an int"),
        ({"batch_size": 64, "drop_last": True}, ValueError, "would give no batches"),
    ],
)
def test_argument_errors(kwargs, exc, match):
    X, y = _data(10)
    with pytest.raises(exc, match=match):
        DataLoader(X, y, **kwargs)


def test_length_mismatch_and_bad_state():
    X, y = _data(10)
    with pytest.raises(ValueError, match="X has 10 samples but y has 9"):
        DataLoader(X, y[:9])
    loader = DataLoader(X, y)
    with pytest.raises(ValueError, match=r"missing keys \['bit_generator'\]"):
        loader.load_state_dict({"epoch": 1})
    with pytest.raises(ValueError, match="state\\['epoch'\\] must be an int >= 0"):
        loader.load_state_dict({"epoch": -1, "bit_generator": {}})
