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
