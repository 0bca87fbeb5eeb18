"""`chainrule train --init-from RUN --freeze LAYERS`: fine-tuning a saved run's model."""

from __future__ import annotations

import json
import tomllib

import numpy as np
import pytest
from typer.testing import CliRunner

import chainrule as cr
from chainrule.cli import app

runner = CliRunner()


def _csv(path, rng, n, n_features=4, n_classes=3, shift=0.0):
    """A CSV of ``n`` rows: features f0…, class = which of the first n_classes features
    (plus ``shift``) is largest."""
    X = rng.standard_normal((n, n_features))
    y = np.argmax(X[:, :n_classes] + shift, axis=1)
    header = ",".join([f"f{j}" for j in range(n_features)] + ["label"])
    rows = [",".join([f"{v:.6f}" for v in x] + [f"c{k}"]) for x, k in zip(X, y)]
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return str(path)


def _train(*args):
    return runner.invoke(app, ["train", "--no-progress", "--no-figures", *args])


@pytest.fixture
def pretrained(tmp_path, rng):
    """A run folder ``pre``: 4 features → Linear(8) → ReLU → Dropout → Linear(3)."""
    big = _csv(tmp_path / "big.csv", rng, 150)
    r = _train("--data", big, "--hidden", "8", "--epochs", "3", "--name", "pre", "--out",
               str(tmp_path))
    assert r.exit_code == 0, r.output
    return tmp_path / "pre"


def test_init_from_with_frozen_hidden_layer(tmp_path, rng, pretrained):
    small = _csv(tmp_path / "small.csv", rng, 60, shift=np.array([0.3, 0.0, -0.3]))
    r = _train("--data", small, "--init-from", str(pretrained), "--freeze", "hidden",
               "--epochs", "2", "--name", "tuned", "--out", str(tmp_path))
    assert r.exit_code == 0, r.output
    run = tmp_path / "tuned"
    pre = cr.load(pretrained / "model.safetensors").state_dict()
    tuned = cr.load(run / "model.safetensors").state_dict()
    # layer 0 (4·8 + 8 = 40 numbers) frozen, bit for bit; the head (8·3 + 3 = 27) trained
    assert np.array_equal(tuned["0.weight"], pre["0.weight"])
    assert np.array_equal(tuned["0.bias"], pre["0.bias"])
    assert not np.array_equal(tuned["3.weight"], pre["3.weight"])
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["n_frozen_parameters"] == 40 and metrics["n_parameters"] == 67
    assert "trained 27 of 67 parameters (40 frozen)" in r.stdout
    config = tomllib.loads((run / "config.toml").read_text())
    assert config["init_from"] == str(pretrained) and config["freeze"] == ["hidden"]
    assert config["hidden"] == [8]  # the saved run's architecture, not the default 256
    summary = (run / "train.log").read_text()
    header = next(line for line in summary.splitlines() if line.startswith("layer"))
    assert header.split() == ["layer", "kind", "output", "shape", "parameters", "frozen"]
    total = next(line for line in summary.splitlines() if line.startswith("total"))
    assert total.split() == ["total", "67", "40"]

    # --resume re-applies the freezing: two more epochs leave layer 0 as it was
    r = runner.invoke(app, ["train", "--no-progress", "--no-figures", "--resume", str(run),
                            "--epochs", "4"])
    assert r.exit_code == 0, r.output
    again = cr.load(run / "model.safetensors").state_dict()
    assert np.array_equal(again["0.weight"], pre["0.weight"])
    assert json.loads((run / "metrics.json").read_text())["epochs_run"] == 4


def test_freeze_by_layer_name_without_init_from(tmp_path, rng):
    data = _csv(tmp_path / "d.csv", rng, 60)
    r = _train("--data", data, "--hidden", "8", "--freeze", "3", "--epochs", "2", "--name",
               "head-frozen", "--out", str(tmp_path))
    assert r.exit_code == 0, r.output
    metrics = json.loads((tmp_path / "head-frozen" / "metrics.json").read_text())
    assert metrics["n_frozen_parameters"] == 8 * 3 + 3


@pytest.mark.parametrize("args, message", [
    (["--freeze", "7"], "error: freeze: '7' is not a layer of the model; layers with "
                        "parameters: 0 (Linear), 3 (Linear), or 'hidden'"),
    (["--freeze", "1"], "error: freeze: '1' has no parameters"),
    (["--freeze", "0,3"], "would freeze every parameter"),
    (["--hidden", "16"], "error: hidden: the architecture comes from --init-from"),
])
def test_bad_freeze_and_architecture_settings(tmp_path, rng, pretrained, args, message):
    small = _csv(tmp_path / "small.csv", rng, 60)
    r = _train("--data", small, "--init-from", str(pretrained), "--epochs", "1", "--name",
               "bad", "--out", str(tmp_path), *args)
    assert r.exit_code == 2, r.output
    assert message in " ".join(r.output.split())
    assert not (tmp_path / "bad" / "model.safetensors").exists()


def test_data_must_match_the_saved_model(tmp_path, rng, pretrained):
    wide = _csv(tmp_path / "wide.csv", rng, 60, n_features=5)
    r = _train("--data", wide, "--init-from", str(pretrained), "--name", "w", "--out",
               str(tmp_path))
    assert r.exit_code == 2
    assert ("init_from: the model of " in r.output and "takes 4 features (f0, f1, f2, f3), "
            "the data has 5" in " ".join(r.output.split()))
    two = _csv(tmp_path / "two.csv", rng, 60, n_classes=2)
    r = _train("--data", two, "--init-from", str(pretrained), "--name", "t", "--out",
               str(tmp_path))
    assert r.exit_code == 2
    assert "has 3 classes (c0, c1, c2), the data has 2" in " ".join(r.output.split())
    reg = tmp_path / "reg.csv"
    reg.write_text("f0,f1,f2,f3,y\n" + "\n".join(
        ",".join(f"{v:.4f}" for v in row) for row in rng.standard_normal((60, 5))) + "\n")
    r = _train("--data", str(reg), "--init-from", str(pretrained), "--name", "r", "--out",
               str(tmp_path))
    assert r.exit_code == 2
    assert "was trained for classification, the data is a regression set" in r.output


def test_init_from_must_be_a_finished_run(tmp_path, rng):
    data = _csv(tmp_path / "d.csv", rng, 30)
    r = _train("--data", data, "--init-from", str(tmp_path / "nothing"), "--out",
               str(tmp_path))
    assert r.exit_code == 2
    assert "init_from: no run folder there" in r.output
    (tmp_path / "empty").mkdir()
    r = _train("--data", data, "--init-from", str(tmp_path / "empty"), "--out", str(tmp_path))
    assert r.exit_code == 2
    assert "init_from: " in r.output and "is not a run folder: it has no model.safetensors" \
        in " ".join(r.output.split())
