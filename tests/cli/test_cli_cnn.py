"""`chainrule train --model cnn`: MNIST-1D and digits CNNs from the command line and from a
config file; the run folder saves, loads, evaluates and resumes the convolutional model."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from chainrule import nn
from chainrule.cli import app, load_run

runner = CliRunner()


def _train(*args: str):
    result = runner.invoke(app, ["train", "--no-progress", *args])
    assert result.exit_code == 0, result.output
    return result


def test_train_mnist1d_cnn_saves_evaluates_and_resumes(tmp_path):
    common = ["--data", "mnist1d", "--model", "cnn", "--batch-size", "100", "--lr", "0.01",
              "--dropout", "0", "--l2", "0", "--patience", "0", "--out", str(tmp_path)]
    _train(*common, "--epochs", "1", "--name", "cut")
    art = load_run(tmp_path / "cut")
    kinds = [type(m).__name__ for m in art.model]
    # the MNIST-1D paper's stack on (1, 40) signals
    assert kinds == ["Unflatten", "Conv1d", "ReLU", "Conv1d", "ReLU", "Conv1d", "ReLU",
                     "Flatten", "Linear"]
    assert art.model.num_parameters() == 5210
    ev = runner.invoke(app, ["evaluate", str(tmp_path / "cut")])
    assert ev.exit_code == 0, ev.output
    # back-propagated gradients of every conv parameter against finite differences
    gc = runner.invoke(app, ["gradcheck", str(tmp_path / "cut"), "--batch", "4",
                             "--max-entries", "8"])
    assert gc.exit_code == 0, gc.output
    assert "2.weight" in gc.stdout or "1.weight" in gc.stdout
    result = _train("--resume", str(tmp_path / "cut"), "--epochs", "3")
    assert "for 3 epochs" in result.stdout
    metrics = json.loads((tmp_path / "cut" / "metrics.json").read_text())
    # three epochs: measured 0.556 (chance is 0.10; the paper's 6,000 steps give 0.94)
    assert metrics["test"]["accuracy"] >= 0.45


def test_config_file_describes_a_2d_conv_stack(tmp_path):
    cfg = tmp_path / "cnn.toml"
    cfg.write_text('data = "digits"\nmodel = "cnn"\nconv = [[8, 3, 1, "same"], [16, 3]]\n'
                   'pool = 2\nepochs = 3\ndropout = 0.0\n')
    _train("--config", str(cfg), "--name", "d", "--out", str(tmp_path))
    model = load_run(tmp_path / "d").model
    convs = [m for m in model if isinstance(m, nn.Conv2d)]
    assert [(c.out_channels, c.padding) for c in convs] == [(8, "same"), (16, (0, 0))]
    # 8×8 → same conv 8×8 → pool 4×4 → conv 3×3 → 2×2 → pool 1×1: 16 features
    assert model[-1].weight.shape == (10, 16)
    metrics = json.loads((tmp_path / "d" / "metrics.json").read_text())
    # three epochs of this tiny network: measured 0.446 (chance is 0.10)
    assert metrics["test"]["accuracy"] >= 0.3


def test_cnn_errors_name_the_problem(tmp_path):
    result = runner.invoke(app, ["train", "--data", "iris", "--model", "cnn", "--epochs", "1",
                                 "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "no sample shape known for 'iris'" in result.stderr
    cfg = tmp_path / "bad.toml"
    cfg.write_text('data = "digits"\nmodel = "cnn"\nconv = [[8, 9]]\n')
    result = runner.invoke(app, ["train", "--config", str(cfg), "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "kernel of extent 9" in result.stderr
    result = runner.invoke(app, ["train", "--model", "rnn", "--out", str(tmp_path)])
    assert result.exit_code != 0 and "mlp or cnn" in result.stderr
