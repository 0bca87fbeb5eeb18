"""Bias/variance diagnosis (Andrew Ng's table) and k-fold cross-validation."""

import numpy as np
import pytest

from chainrule import data, nn
from chainrule.train import (
    HIGH_BIAS_REMEDIES,
    HIGH_VARIANCE_REMEDIES,
    CVResult,
    History,
    cross_validate,
    diagnose,
)


@pytest.mark.parametrize(
    "train, dev, verdict, bias, variance",
    [
        # Ng, "Bias/Variance": the four cases of the lecture, Bayes error ≈ 0
        (0.01, 0.11, "high variance", 0.01, 0.10),
        (0.15, 0.16, "high bias", 0.15, 0.01),
        (0.15, 0.30, "high bias and high variance", 0.15, 0.15),
        (0.005, 0.01, "fine", 0.005, 0.005),
    ],
)
def test_ng_table(train, dev, verdict, bias, variance):
    d = diagnose(train_error=train, dev_error=dev)
    assert d.verdict == verdict
    assert d.avoidable_bias == pytest.approx(bias)
    assert d.variance == pytest.approx(variance)
    assert (d.train_error, d.dev_error, d.target_error) == (train, dev, 0.0)


def test_remedies_follow_the_verdict():
    bias = diagnose(train_error=0.15, dev_error=0.16)
    assert bias.remedies == HIGH_BIAS_REMEDIES
    assert "bigger network (more hidden units or more layers)" in bias.remedies
    assert "train longer" in bias.remedies
    var = diagnose(train_error=0.01, dev_error=0.11)
    assert var.remedies == HIGH_VARIANCE_REMEDIES
    assert {"more training data", "regularisation (L2 weight decay, dropout)",
            "data augmentation"} <= set(var.remedies)
    both = diagnose(train_error=0.05, dev_error=0.30)  # variance 0.25 > bias 0.05: first
    assert both.remedies[0] == "more training data"
    assert not any(r.startswith("less regularisation") for r in both.remedies)
    assert diagnose(train_error=0.0, dev_error=0.0).remedies == ()


def test_target_error_and_thresholds():
    # human-level error 14 %: a train error of 15 % is only 1 point of avoidable bias
    assert diagnose(train_error=0.15, dev_error=0.16, target_error=0.14).verdict == "fine"
    assert diagnose(train_error=0.15, dev_error=0.16, target_error=0.14,
                    bias_threshold=0.005).verdict == "high bias"
    assert diagnose(train_error=0.01, dev_error=0.11, variance_threshold=0.2).verdict == "fine"
    # exactly at the threshold is not "high"
    assert diagnose(train_error=0.0, dev_error=0.5, variance_threshold=0.5).verdict == "fine"


def test_report_text():
    text = str(diagnose(train_error=0.01, dev_error=0.11))
    assert text.splitlines()[0] == "Diagnosis: high variance"
    assert "variance = dev − train = 0.1 (> 0.02)" in text
    assert "    - more training data" in text


def test_diagnose_reads_the_history_at_the_best_epoch():
    h = History([
        {"epoch": 1, "train_loss": 0.9, "dev_loss": 0.8, "train_accuracy": 0.70,
         "dev_accuracy": 0.68},
        {"epoch": 2, "train_loss": 0.2, "dev_loss": 0.5, "train_accuracy": 0.97,
         "dev_accuracy": 0.85},
        {"epoch": 3, "train_loss": 0.1, "dev_loss": 0.6, "train_accuracy": 0.99,
         "dev_accuracy": 0.84},
    ])
    d = diagnose(h)  # best dev loss: epoch 2
    assert (d.train_error, d.dev_error) == pytest.approx((0.03, 0.15))
    assert d.verdict == "high bias and high variance" and d.error_name == "error rate"
    last = diagnose(h, at="last")
    assert (last.train_error, last.dev_error) == pytest.approx((0.01, 0.16))
    assert last.verdict == "high variance"
    regression = History([{"epoch": 1, "train_loss": 4.0, "dev_loss": 9.0, "train_rmse": 2.0,
                           "dev_rmse": 3.0}])
    r = diagnose(regression, target_error=1.5, bias_threshold=1.0, variance_threshold=0.5)
    assert (r.error_name, r.avoidable_bias, r.variance, r.verdict) == (
        "rmse", 0.5, 1.0, "high variance")


def test_diagnose_errors():
    with pytest.raises(ValueError, match="needs a history or both train_error and dev_error"):
        diagnose(train_error=0.1)
    with pytest.raises(ValueError, match=r"dev_error must be a finite number >= 0, got -0\.1"):
        diagnose(train_error=0.1, dev_error=-0.1)
    with pytest.raises(ValueError, match="history has no dev_loss"):
        diagnose(History([{"epoch": 1, "train_loss": 0.3}]))
    with pytest.raises(ValueError, match="at must be 'best' or 'last'"):
        diagnose(History([{"epoch": 1, "train_loss": 0.3, "dev_loss": 0.4}]), at="first")
    with pytest.raises(TypeError, match="history must be a History"):
        diagnose({"train_loss": [0.1]})


def _iris_mlp(seed):
    return nn.Sequential(nn.Linear(4, 16, seed=seed), nn.Tanh(), nn.Linear(16, 3, seed=seed + 1))


def test_cross_validate_iris_five_folds():
    ds = data.load_dataset("iris")
    r = cross_validate(_iris_mlp, ds, k=5, loss="cross_entropy", optimizer="adam", epochs=40,
                       batch_size=16, seed=0, stratified=True, metric="accuracy",
                       optimizer_kwargs={"lr": 0.02})
    assert isinstance(r, CVResult) and r.metric == "accuracy"
    assert r.scores.shape == (5,) and len(r.histories) == 5
    # 30 held-out samples per fold: every score is a multiple of 1/30
    np.testing.assert_allclose(r.scores * 30, np.round(r.scores * 30), atol=1e-9)
    assert r.mean == pytest.approx(np.mean(r.scores)) and r.std == pytest.approx(np.std(r.scores))
    assert r.mean >= 0.9 and r.scores.min() >= 0.8
    assert all(len(h) == 40 for h in r.histories)
    assert str(r).startswith(f"accuracy: {r.mean:.4f} ± {r.std:.4f} over 5 folds")
    a, b = (cross_validate(_iris_mlp, ds, k=2, epochs=3, seed=s) for s in (1, 1))
    np.testing.assert_array_equal(a.scores, b.scores)  # same seed, same scores


def test_cross_validate_regression_and_arguments():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 2))
    y = X @ np.array([2.0, -1.0])

    def build():
        return nn.Sequential(nn.Linear(2, 1, seed=0, dtype=np.float64))

    r = cross_validate(build, (X, y), k=3, loss="mse", epochs=60, batch_size=10,
                       optimizer_kwargs={"lr": 0.05})
    assert r.metric == "rmse" and r.mean < 0.2  # a linear model fits a linear target
    with pytest.raises(ValueError, match="k must be an int >= 2, got 1"):
        cross_validate(build, (X, y), k=1, loss="mse")
    with pytest.raises(ValueError, match="fit_kwargs must not set 'epochs'"):
        cross_validate(build, (X, y), loss="mse", fit_kwargs={"epochs": 3})
    with pytest.raises(ValueError, match="unknown optimizer 'adamax'"):
        cross_validate(build, (X, y), loss="mse", optimizer="adamax")
