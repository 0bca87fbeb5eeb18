"""`chainrule train`: run folders, figures, configs, CSV data, resume and the default run."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from chainrule.cli import app
from chainrule.data import load_dataset

runner = CliRunner()
MIN_BYTES = 5_000
RUN_FILES = ("config.toml", "history.csv", "metrics.json", "model.safetensors",
             "preprocessing.json")


def _train(*args: str):
    result = runner.invoke(app, ["train", "--no-progress", *args])
    assert result.exit_code == 0, result.output
    return result


def _history(path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _check_figures(folder, stems) -> None:
    for stem in stems:
        for suffix in (".png", ".svg"):
            f = folder / f"{stem}{suffix}"
            assert f.is_file(), f
            assert f.stat().st_size > MIN_BYTES, f


def test_train_writes_a_complete_run_folder(tmp_path):
    result = _train("--epochs", "3", "--hidden", "32", "--name", "small", "--out",
                    str(tmp_path))
    run = tmp_path / "small"
    for name in RUN_FILES:
        assert (run / name).is_file(), name
    assert (run / "checkpoints" / "last.safetensors").is_file()
    _check_figures(run, ("curves", "confusion_matrix", "gradient_norms"))
    assert not (run / "lr_schedule.png").exists()  # a constant rate draws no schedule
    assert "test accuracy:" in result.stdout
    assert str(run) in result.stdout
    rows = _history(run / "history.csv")
    assert [int(float(r["epoch"])) for r in rows] == [1, 2, 3]
    assert {"train_loss", "dev_loss", "train_accuracy", "dev_accuracy", "lr"} <= set(rows[0])
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["task"] == "classification" and metrics["epochs_run"] == 3
    assert 0.5 < metrics["test"]["accuracy"] <= 1.0
    assert metrics["n_train"] + metrics["n_dev"] + metrics["n_test"] == 1797
    config = (run / "config.toml").read_text()
    assert "hidden = [" in config and "epochs = 3" in config


def test_rerunning_the_saved_config_reproduces_the_run(tmp_path):
    _train("--epochs", "2", "--hidden", "16", "--data", "iris", "--name", "a", "--out",
           str(tmp_path), "--lr", "0.01", "--optimizer", "sgd", "--momentum", "0.9")
    _train("--config", str(tmp_path / "a" / "config.toml"), "--name", "b")
    ha = _history(tmp_path / "a" / "history.csv")
    hb = _history(tmp_path / "b" / "history.csv")
    assert [r["train_loss"] for r in ha] == [r["train_loss"] for r in hb]
    cfg = (tmp_path / "b" / "config.toml").read_text()
    assert 'optimizer = "sgd"' in cfg and "momentum = 0.9" in cfg


def test_toml_config_file_with_options_overriding_it(tmp_path):
    cfg = tmp_path / "run.toml"
    cfg.write_text(
        f'data = "moons"\nhidden = [16, 16]\nbatch-norm = true\nepochs = 3\n'
        f'out = "{tmp_path.as_posix()}"\nname = "from-file"\nschedule = "step"\n'
        f'[schedule_args]\nstep_size = 1\ngamma = 0.5\n')
    _train("--config", str(cfg), "--epochs", "2")
    run = tmp_path / "from-file"
    rows = _history(run / "history.csv")
    assert len(rows) == 2  # the command line wins over the file
    lrs = [float(r["lr"]) for r in rows]
    assert lrs[1] == pytest.approx(lrs[0] * 0.5)  # the step schedule was applied
    # 2-D inputs: the decision regions are drawn
    _check_figures(run, ("decision_regions", "curves"))


def test_regression_run(tmp_path):
    result = _train("--data", "house_prices", "--epochs", "10", "--hidden", "8", "--name",
                    "r", "--out", str(tmp_path), "--lr", "0.01", "--l1", "1e-4")
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert metrics["task"] == "regression" and metrics["loss"] == "mse"
    assert "rmse" in metrics["test"] and "r2" in metrics["test"]
    assert "test loss (on the standardised target):" in result.stdout
    assert not (tmp_path / "r" / "confusion_matrix.png").exists()
    # the target was standardised for training; RMSE is reported in its own units
    mean, std = metrics["target_scale"]
    y = load_dataset("house_prices").y
    assert mean == pytest.approx(y.mean(), rel=0.2) and std == pytest.approx(y.std(), rel=0.3)
    assert metrics["test"]["rmse"] == pytest.approx(
        std * np.sqrt(metrics["test"]["loss"]), rel=1e-6)
    # predictions come back in the target's units
    ds = load_dataset("house_prices")
    with (tmp_path / "in.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(ds.feature_names)
        w.writerows(ds.X[:20].tolist())
    pred = runner.invoke(app, ["predict", str(tmp_path / "r"), str(tmp_path / "in.csv")])
    assert pred.exit_code == 0, pred.output
    values = np.array([float(v) for v in pred.stdout.split()[1:]])
    assert len(values) == 20
    assert abs(values.mean() - ds.y[:20].mean()) < 0.5 * ds.y.std()


def test_csv_data_with_target_column(tmp_path):
    ds = load_dataset("iris")
    path = tmp_path / "flowers.csv"
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["species", *ds.feature_names])
        for x, y in zip(ds.X, ds.y):
            w.writerow([ds.target_names[y], *x])
    _train("--data", str(path), "--target", "species", "--epochs", "5", "--hidden", "8",
           "--name", "csv", "--out", str(tmp_path / "runs"))
    pre = json.loads((tmp_path / "runs" / "csv" / "preprocessing.json").read_text())
    assert pre["feature_names"] == list(ds.feature_names)
    assert pre["target_names"] == list(ds.target_names)
    assert pre["target"] == "species"


def test_resume_continues_an_interrupted_run(tmp_path):
    common = ["--data", "iris", "--hidden", "8", "--patience", "0", "--out", str(tmp_path)]
    _train(*common, "--epochs", "4", "--name", "whole")
    _train(*common, "--epochs", "2", "--name", "cut")   # as if stopped after epoch 2
    result = _train("--resume", str(tmp_path / "cut"), "--epochs", "4")
    assert "for 4 epochs" in result.stdout
    whole = _history(tmp_path / "whole" / "history.csv")
    resumed = _history(tmp_path / "cut" / "history.csv")
    assert [r["epoch"] for r in resumed] == [r["epoch"] for r in whole]
    np.testing.assert_allclose([float(r["train_loss"]) for r in resumed],
                               [float(r["train_loss"]) for r in whole], rtol=1e-6)
    m1 = json.loads((tmp_path / "whole" / "metrics.json").read_text())
    m2 = json.loads((tmp_path / "cut" / "metrics.json").read_text())
    assert m1["test"]["loss"] == pytest.approx(m2["test"]["loss"], rel=1e-6)


def test_resume_refuses_other_settings_and_existing_runs_are_kept(tmp_path):
    _train("--data", "iris", "--epochs", "1", "--name", "x", "--out", str(tmp_path))
    result = runner.invoke(app, ["train", "--resume", str(tmp_path / "x"), "--lr", "0.1"])
    assert result.exit_code == 2
    assert "only --epochs may change" in result.stderr
    result = runner.invoke(app, ["train", "--data", "iris", "--epochs", "1", "--name", "x",
                                 "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "already holds a run" in result.stderr


@pytest.mark.slow
def test_default_train_is_accurate(tmp_path, monkeypatch):
    """`chainrule train` with no options: digits, >= 97 % test accuracy (its speed is
    measured by bench/startup.py and bench/run.py, not asserted: the machine may be busy)."""
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["train"])
    assert result.exit_code == 0, result.output
    runs = list((tmp_path / "runs").iterdir())
    assert len(runs) == 1 and runs[0].name.startswith("digits-")
    metrics = json.loads((runs[0] / "metrics.json").read_text())
    assert metrics["dataset"] == "digits"
    assert metrics["test"]["accuracy"] >= 0.97, metrics["test"]
    assert f"test accuracy: {metrics['test']['accuracy']:.4f}" in result.stdout


def test_build_model_follows_the_config():
    from chainrule import nn
    from chainrule.cli import build_model
    from chainrule.config import RunConfig

    cfg = RunConfig(hidden=[8, 8, 4], activation="tanh", dropout=0.1, batch_norm=True,
                    residual=True, init="xavier")
    model = build_model(cfg, 3, 2)
    kinds = [type(m).__name__ for m in model]
    # 3→8 plain; 8→8 wrapped in a residual block (same width); 8→4 plain; output 4→2
    assert kinds == ["Linear", "BatchNorm1d", "Tanh", "Dropout", "Residual",
                     "Linear", "BatchNorm1d", "Tanh", "Dropout", "Linear"]
    assert [type(m).__name__ for m in model[4].module] == ["Linear", "BatchNorm1d", "Tanh",
                                                           "Dropout"]
    assert model[-1].weight.shape == (2, 4)
    linear = build_model(RunConfig(hidden=[]), 5, 3)
    assert len(linear) == 1 and isinstance(linear[0], nn.Linear)
    same = build_model(cfg, 3, 2)
    for (n1, p1), (_, p2) in zip(model.named_parameters(), same.named_parameters()):
        np.testing.assert_array_equal(p1.data, p2.data, err_msg=n1)   # seeded
