"""One registry per concept: a loss registered in a test trains through fit, through a
`chainrule train` configuration file and through the estimators."""

from __future__ import annotations

import json

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.registry import Registry
from chainrule.train import evaluate, fit, get_loss

LN2 = float(np.log(2.0))


class LogCoshLoss(nn.Module):
    """``mean log cosh(ŷ − y)``, written ``log(e^d + e^{−d}) − log 2``."""

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = reduction

    def forward(self, y_hat, y):
        d = y_hat - y
        per = (d.exp() + (-d).exp()).log() - LN2
        return per if self.reduction == "none" else per.mean()


@pytest.fixture
def logcosh():
    nn.LOSSES.register("logcosh", LogCoshLoss, aliases=("log_cosh",), task="regression",
                       target="value")
    yield
    del nn.LOSSES["logcosh"]


def test_registry_behaves_like_the_dict_it_replaces():
    reg = Registry("thing")
    reg.register("alpha", 1, aliases=("a", "First"), task="x")
    reg["beta"] = 2
    assert sorted(reg) == ["a", "alpha", "beta", "first"] and len(reg) == 4
    assert reg["FIRST"] == 1 and "A" in reg and reg.get("gamma") is None
    assert reg.entry("a").name == "alpha" and reg.entry(1).task == "x"
    del reg["a"]  # an alias goes alone
    assert sorted(reg) == ["alpha", "beta", "first"] and reg.entry("alpha").aliases == ("first",)
    del reg["alpha"]  # the canonical name takes its aliases
    assert sorted(reg) == ["beta"]
    with pytest.raises(ValueError, match=r"unknown thing 'zeta'; valid names: beta"):
        reg.entry("zeta")
    with pytest.raises(KeyError):
        reg["zeta"]


def test_builtin_losses_carry_their_metadata():
    ce = nn.LOSSES.entry("ce")
    assert (ce.name, ce.task, ce.target, ce.sklearn) == (
        "cross_entropy", "classification", "index", "log_loss")
    np.testing.assert_allclose(ce.output(np.array([[0.0, np.log(3.0)]])), [[0.25, 0.75]])
    bce = nn.LOSSES.entry(nn.BCEWithLogitsLoss())
    assert bce.name == "binary_cross_entropy_with_logits" and bce.output(np.zeros(1)) == 0.5
    assert nn.LOSSES.entry("squared_error").obj is nn.MSELoss
    assert get_loss(nn.functional.mse_loss)[1] == "mse"  # a function found by its name
    assert get_loss("CrossEntropyLoss")[1] == "cross_entropy"  # and a class by its name


def test_a_registered_loss_trains_through_fit(logcosh):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(128, 2))
    y = X @ np.array([1.5, -0.5]) + 0.3
    model = nn.Linear(2, 1, seed=0, dtype=np.float64)
    before = evaluate(model, "logcosh", (X, y))
    h = fit(model, "log_cosh", optim.Adam(model.parameters(), lr=0.05), (X, y), (X, y),
            epochs=60, batch_size=32, seed=0, progress=False)
    # its task, from the registry, gives the regression metrics; (n,) targets take the
    # output's shape (n, 1)
    assert {"train_rmse", "dev_rmse", "dev_r2"} <= set(h.keys())
    assert h.last["dev_loss"] < 0.01 * before["loss"]
    assert h.last["dev_r2"] > 0.99
    np.testing.assert_allclose(model.weight.data, [[1.5, -0.5]], atol=0.05)
    # log cosh d ≈ d²/2 near 0: the loss of a tiny residual is half its square
    d = np.array([[1e-3]])
    value = LogCoshLoss()(cr.tensor(d), cr.tensor(np.zeros((1, 1)))).item()
    assert value == pytest.approx(1e-6 / 2, rel=1e-5)


def test_a_registered_loss_trains_through_a_cli_config_file(logcosh, tmp_path):
    from typer.testing import CliRunner

    from chainrule.cli import app

    cfg = tmp_path / "run.toml"
    cfg.write_text('data = "diabetes"\nloss = "logcosh"\nhidden = [16]\nepochs = 3\n'
                   f'name = "lc"\nout = "{tmp_path.as_posix()}"\n')
    result = CliRunner().invoke(app, ["train", "--no-progress", "--config", str(cfg)])
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "lc" / "metrics.json").read_text())
    assert metrics["loss"] == "logcosh" and metrics["task"] == "regression"
    assert np.isfinite(metrics["test"]["loss"]) and metrics["epochs_run"] == 3
    assert "logcosh" in (tmp_path / "lc" / "config.toml").read_text()


def test_an_unknown_loss_name_lists_the_registered_ones(logcosh):
    with pytest.raises(ValueError, match=r"unknown loss 'nope'; valid names: .*logcosh"):
        get_loss("nope")


def test_a_registered_loss_trains_the_regressor_and_bad_names_are_refused(logcosh):
    from sklearn.exceptions import ConvergenceWarning

    from chainrule.sklearn import MLPRegressor

    rng = np.random.default_rng(1)
    X = rng.uniform(-1, 1, size=(200, 2))
    y = 2.0 * X[:, 0] - X[:, 1]
    reg = MLPRegressor(loss="logcosh", hidden_layer_sizes=(), learning_rate_init=0.05,
                       max_iter=300, alpha=0.0, tol=0.0, n_iter_no_change=1000,
                       random_state=0, dtype="float64")
    with pytest.warns(ConvergenceWarning, match="Maximum iterations") as record:
        reg.fit(X, y)
    assert record[0].filename == __file__  # the warning points at the caller
    assert reg.score(X, y) > 0.999
    np.testing.assert_allclose(reg.coefs_[0][:, 0], [2.0, -1.0], atol=0.02)
    # the loss curve is the registered loss: log cosh of the residuals, near ½ mean d²
    resid = reg.predict(X) - y
    assert reg.loss_ == pytest.approx(np.mean(np.log(np.cosh(resid))), rel=0.05, abs=1e-6)
    with pytest.raises(ValueError, match=r"loss must be one of .*logcosh.*; got 'ce'"):
        MLPRegressor(loss="ce").fit(X, y)  # a classification loss is not a regression loss
    with pytest.raises(ValueError, match=r"activation must be one of .*; got 'softmax'"):
        MLPRegressor(activation="softmax").fit(X, y)  # output-only (hidden=False)
