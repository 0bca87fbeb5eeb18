"""chainrule.sklearn estimators: ``freeze`` keeps layers fixed while fitting (fine-tuning
a warm-started network); the count of frozen numbers is ``n_frozen_parameters_``."""

from __future__ import annotations

import numpy as np
import pytest

from chainrule.sklearn import MLPClassifier, MLPRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _regression(rng, n):
    X = rng.standard_normal((n, 3))
    return X, np.tanh(X @ np.array([1.0, -2.0, 0.5])) + 0.1 * X[:, 2]


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_warm_start_with_frozen_hidden_layers(rng, solver):
    X, y = _regression(rng, 80)
    reg = MLPRegressor(hidden_layer_sizes=(6, 4), solver=solver, max_iter=20,
                       warm_start=True, alpha=0.1, random_state=0).fit(X, y)
    assert reg.n_frozen_parameters_ == 0
    coefs, intercepts = reg.coefs_, reg.intercepts_
    reg.set_params(freeze="hidden").fit(X[:20], -y[:20])
    # coefs_[0] (3×6) + intercepts_[0] (6) + coefs_[1] (6×4) + intercepts_[1] (4) = 52
    assert reg.n_frozen_parameters_ == 3 * 6 + 6 + 6 * 4 + 4
    for i in (0, 1):
        assert np.array_equal(reg.coefs_[i], coefs[i])
        assert np.array_equal(reg.intercepts_[i], intercepts[i])
    assert not np.array_equal(reg.coefs_[2], coefs[2])
    assert not np.array_equal(reg.intercepts_[2], intercepts[2])


def test_freeze_indices_include_the_batch_norm_after_the_layer(rng):
    X = rng.standard_normal((60, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    clf = MLPClassifier(hidden_layer_sizes=(5,), batch_norm=True, max_iter=3,
                        random_state=0).fit(X, y)
    before = {k: v.copy() for k, v in clf.model_.state_dict().items()}
    clf.set_params(warm_start=True, freeze=[0]).fit(X, y)
    after = clf.model_.state_dict()
    # Linear 0 (4·5 + 5) and its BatchNorm1d's scale and shift (5 + 5): 35 numbers
    assert clf.n_frozen_parameters_ == 35
    for name in ("0.weight", "0.bias", "1.weight", "1.bias"):
        assert np.array_equal(after[name], before[name]), name
    assert not np.array_equal(after["3.weight"], before["3.weight"])
    # unfreezing trains everything again
    clf.set_params(freeze=None).fit(X, y)
    assert clf.n_frozen_parameters_ == 0
    assert not np.array_equal(clf.model_.state_dict()["0.weight"], before["0.weight"])


@pytest.mark.parametrize("freeze, error, message", [
    ("body", ValueError, "freeze must be None, 'hidden' or layer indices 0…2"),
    ([3], ValueError, "layer indices must be ints in 0…2 (one per coefs_ entry), got 3"),
    ([True], ValueError, "got True"),
    ([0, 1, 2], ValueError, "freezes every layer"),
    (1.5, TypeError, "got float"),
])
def test_bad_freeze_values(rng, freeze, error, message):
    X, y = _regression(rng, 20)
    reg = MLPRegressor(hidden_layer_sizes=(4, 4), max_iter=2, freeze=freeze)
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        reg.fit(X, y)
    assert not hasattr(reg, "model_")  # refused before anything was fitted
    with pytest.raises(ValueError, match="needs a hidden layer"):
        MLPRegressor(hidden_layer_sizes=(), freeze="hidden").fit(X, y)


def test_verbose_fit_says_what_is_frozen(rng, capsys):
    X, y = _regression(rng, 20)
    MLPRegressor(hidden_layer_sizes=(4,), max_iter=1, freeze="hidden", verbose=True).fit(X, y)
    # layer 0: 3·4 + 4 = 16 of 16 + (4·1 + 1) = 21
    assert "Frozen layers [0]: 16 of 21 parameters kept fixed" in capsys.readouterr().out


def test_saved_estimator_keeps_its_frozen_layers(rng, tmp_path):
    X, y = _regression(rng, 40)
    reg = MLPRegressor(hidden_layer_sizes=(4,), max_iter=5, random_state=0, freeze=[0]).fit(X, y)
    reg.save(tmp_path / "reg.safetensors")
    back = MLPRegressor.load(tmp_path / "reg.safetensors")
    assert back.freeze == [0] and back.n_frozen_parameters_ == 3 * 4 + 4
    assert [p.requires_grad for p in back.model_.parameters()] == [False, False, True, True]
