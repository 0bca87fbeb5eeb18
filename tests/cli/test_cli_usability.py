"""The CLI as a user meets it: schedules with lists, interruption, ignored input, small
splits, units, progress, evaluation, the model summary and the tools around training."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from chainrule.cli import app

runner = CliRunner()
FAST = ("--no-progress", "--no-figures", "--hidden", "8", "--patience", "0")


def _ok(*args: str):
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result


def _fails(code: int, *args: str):
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, result.output
    return result


def _history_lrs(run) -> list[float]:
    lines = (run / "history.csv").read_text().splitlines()
    col = lines[0].split(",").index("lr")
    return [float(line.split(",")[col]) for line in lines[1:]]


# ------------------------------------------------------------------ 1: schedule arguments
@pytest.mark.parametrize("value", ["1,2", "[1,2]"])
def test_multistep_schedule_takes_a_list_of_milestones(tmp_path, value):
    _ok("train", *FAST, "--data", "iris", "--epochs", "3", "--lr", "0.1", "--schedule",
        "multistep", "--schedule-arg", f"milestones={value}", "--out", str(tmp_path),
        "--name", "m")
    # lr = 0.1 · 0.1^(milestones ≤ epoch): epochs 0, 1, 2 of the scheduler → 0.1, 0.01, 0.001
    np.testing.assert_allclose(_history_lrs(tmp_path / "m"), [0.1, 0.01, 0.001])


def test_toml_config_with_a_list_schedule_argument(tmp_path):
    cfg = tmp_path / "run.toml"
    cfg.write_text('data = "iris"\nepochs = 3\nlr = 0.1\nschedule = "multistep"\n'
                   "[schedule_args]\nmilestones = [2]\ngamma = 0.5\n")
    _ok("train", *FAST, "--config", str(cfg), "--out", str(tmp_path), "--name", "t")
    np.testing.assert_allclose(_history_lrs(tmp_path / "t"), [0.1, 0.1, 0.05])


def test_a_wrong_schedule_argument_lists_the_valid_ones_with_defaults():
    r = _fails(2, "train", "--schedule", "step", "--schedule-arg", "stepsize=2")
    assert "'stepsize' is not an argument of the 'step' schedule" in r.stderr
    assert "step_size" in r.stderr and "gamma=0.1" in r.stderr
    r = _fails(2, "train", "--schedule", "multistep")
    assert "needs milestones" in r.stderr


# ------------------------------------------------------------------ 2: Ctrl-C
def test_ctrl_c_names_the_epoch_the_checkpoint_and_the_resume_command(tmp_path, monkeypatch):
    from chainrule.train import GradientMonitor

    original = GradientMonitor.on_epoch_begin

    def interrupt(self, trainer, epoch):
        original(self, trainer, epoch)
        if epoch == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(GradientMonitor, "on_epoch_begin", interrupt)
    run = tmp_path / "x"
    r = _fails(130, "train", *FAST, "--data", "iris", "--epochs", "5", "--out", str(tmp_path),
               "--name", "x")
    assert "interrupted during epoch 3 of 5" in r.stderr
    assert "after epoch 2" in r.stderr  # the checkpoint written at the end of epoch 2
    assert f"chainrule train --resume {run}" in r.stderr
    assert "interrupted during epoch 3 of 5" in (run / "train.log").read_text()
    for command in (["evaluate", str(run)], ["predict", str(run), "in.csv"]):
        r = _fails(2, *command)
        assert "interrupted run" in r.stderr and f"--resume {run}" in r.stderr
    monkeypatch.setattr(GradientMonitor, "on_epoch_begin", original)
    r = _ok("train", "--resume", str(run), "--no-progress", "--no-figures")
    assert "resumed from epoch 2 of 5" in r.stderr
    assert json.loads((run / "metrics.json").read_text())["epochs_run"] == 5


# ------------------------------------------------------------------ 3: ignored input
def test_input_that_used_to_be_ignored_is_refused(tmp_path):
    r = _fails(2, "train", "--schedule-arg", "gamma=0.5")
    assert "given without a schedule" in r.stderr
    r = _fails(2, "train", "--threads", "0")
    assert "threads: must be >= 1 (got 0)" in r.stderr
    _ok("train", *FAST, "--data", "iris", "--epochs", "2", "--out", str(tmp_path), "--name", "f",
        "--schedule", "step")
    r = _fails(2, "train", "--resume", str(tmp_path / "f"))
    assert "is finished (2 of 2 epochs)" in r.stderr
    r = _fails(2, "train", "--resume", str(tmp_path / "f"), "--epochs", "1")
    assert "pass --epochs larger than 2 (got --epochs 1)" in r.stderr
    r = _ok("train", "--resume", str(tmp_path / "f"), "--epochs", "3", "--no-progress",
            "--no-figures")
    assert "for 3 epochs" in r.stdout
    # the resolved configuration records the defaults the schedule ran with
    config = (tmp_path / "f" / "config.toml").read_text()
    assert "[schedule_args]" in config and "step_size = 1" in config and "gamma = 0.5" in config


# ------------------------------------------------------------------ 4: tiny splits
def test_tiny_splits_are_flagged_with_intervals_and_diagnose_knows_the_run(tmp_path):
    r = _ok("train", *FAST, "--data", "higham", "--epochs", "2", "--out", str(tmp_path),
            "--name", "h")
    assert "warning: the test split has only 2 samples" in r.stderr
    m = json.loads((tmp_path / "h" / "metrics.json").read_text())
    lo, hi = m["intervals"]["test"]["accuracy"]
    assert lo < m["test"]["accuracy"] <= hi or m["test"]["accuracy"] == hi
    assert "95 % interval" in r.stdout
    # the case: 2 errors in 36 dev samples, none on train, early stopping already on
    m.update(train={**m["train"], "accuracy": 1.0}, dev={**m["dev"], "accuracy": 34 / 36},
             n_dev=36)
    (tmp_path / "h" / "metrics.json").write_text(json.dumps(m))
    config = tmp_path / "h" / "config.toml"
    config.write_text(config.read_text().replace("patience = 0", "patience = 20"))
    out = _ok("diagnose", str(tmp_path / "h")).stdout
    # dev error 2/36 = 0.0556; its standard error √(0.0556·0.944/36) = 0.0382; the variance
    # 0.0556 − 0 is below 2·0.0382 = 0.0764, so it is not called high
    assert "Diagnosis: fine" in out and "within two standard errors" in out
    assert "0.0382" in out
    from chainrule.train import diagnose

    d = diagnose(train_error=0.0, dev_error=0.2, n_dev=1000,
                 used={"early stopping": "on (patience 20)"})
    assert d.verdict == "high variance"
    assert not any("early stopping" in r for r in d.remedies)
    assert d.already_used == ("early stopping — early stopping: on (patience 20)",)


# ------------------------------------------------------------------ 5: regression units
def test_regression_is_reported_and_plotted_in_the_targets_units(tmp_path):
    r = _ok("train", "--no-progress", "--formats", "png", "--data", "diabetes", "--hidden",
            "8", "--epochs", "3", "--out", str(tmp_path), "--name", "d")
    run = tmp_path / "d"
    m = json.loads((run / "metrics.json").read_text())
    _, std = m["target_scale"]
    assert m["test"]["rmse"] == pytest.approx(std * np.sqrt(m["test"]["loss"]), rel=1e-6)
    assert f"test rmse {m['test']['rmse']:.4g}" in r.stdout
    assert (run / "predicted_vs_actual.png").is_file() and not (run / "curves.svg").exists()
    from chainrule.cli import _history_curves
    from chainrule.train import History

    h = History.from_csv(run / "history.csv")
    curves = _history_curves(h, "regression", m["target_scale"], "progression")
    assert curves["metric_name"] == "RMSE (progression units)"
    np.testing.assert_allclose(curves["dev_metric"], h.column("dev_rmse") * std)


# ------------------------------------------------------------------ 6: cr.load and .eval()
def test_readme_round_trip_predicts_the_same_twice(tmp_path, monkeypatch):
    import re
    from pathlib import Path

    import chainrule as cr

    assert ".eval()" in cr.load.__doc__
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```python\n(.*?)```", readme.split("## Use", 1)[1], re.S).group(1)
    monkeypatch.chdir(tmp_path)
    ns: dict = {}
    exec(compile(block, "README.md", "exec"), ns)
    model, x = ns["model"], cr.tensor(ns["xb"])
    assert not model.training  # Dropout(0.2) is off: two calls agree exactly
    np.testing.assert_array_equal(model(x).numpy(), model(x).numpy())


# ------------------------------------------------------------------ 7: start-up
_IMPORTS = """
import runpy, sys
sys.argv = ["chainrule", *sys.argv[1:]]
try:
    runpy.run_module("chainrule", run_name="__main__")
except SystemExit as e:
    assert not e.code, e.code
print(sorted({m.split(".")[0] for m in sys.modules} & {"sklearn", "scipy", "matplotlib"}))
"""


@pytest.mark.parametrize("args", [["--help"], ["datasets"],
                                  ["train", "--epochs", "1", "--no-figures", "--no-progress",
                                   "--hidden", "8"]])
def test_commands_import_no_heavy_library_they_do_not_use(tmp_path, args):
    import os
    import subprocess
    import sys
    from pathlib import Path

    src = str(Path(__file__).resolve().parents[2] / "src")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]))
    out = subprocess.run([sys.executable, "-c", _IMPORTS, *args], cwd=tmp_path, env=env,
                         capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[-1] == "[]", out


def test_bundled_tables_are_read_as_scikit_learn_reads_them():
    from chainrule.data.datasets import _read_sklearn_files
    from sklearn import datasets as skd

    for name, kwargs in [("load_iris", {}), ("load_wine", {}), ("load_breast_cancer", {}),
                         ("load_digits", {}), ("load_diabetes", {"scaled": False})]:
        ours, theirs = _read_sklearn_files(name, **kwargs), getattr(skd, name)(**kwargs)
        np.testing.assert_array_equal(ours.data, theirs.data, err_msg=name)
        np.testing.assert_array_equal(ours.target, theirs.target, err_msg=name)
        assert list(ours.feature_names) == [str(f) for f in theirs.feature_names], name
        if name != "load_diabetes":
            assert list(ours.target_names) == [str(t) for t in theirs.target_names], name


def test_figures_can_be_skipped_or_limited_to_one_format(tmp_path):
    common = ("train", "--no-progress", "--data", "iris", "--hidden", "8", "--epochs", "2",
              "--out", str(tmp_path))
    r = _ok(*common, "--name", "none", "--no-figures")
    assert not list((tmp_path / "none").glob("*.png")) and "figures:" not in r.stdout
    r = _ok(*common, "--name", "png", "--formats", "png")
    pngs = sorted(p.stem for p in (tmp_path / "png").glob("*.png"))
    # a constant learning rate draws no schedule figure
    assert pngs == ["confusion_matrix", "curves", "gradient_norms"]
    assert not list((tmp_path / "png").glob("*.svg"))
    assert "figures: confusion_matrix, curves, gradient_norms (png)" in r.stdout
    r = _fails(2, *common, "--name", "bad", "--formats", "gif")
    assert "formats: expected png, svg or both (got 'gif')" in r.stderr
    assert not (tmp_path / "bad").exists()
