"""Bad input ends every command with one line on stderr, a non-zero code and no traceback."""

from __future__ import annotations

import csv

import pytest
from typer.testing import CliRunner

from chainrule.cli import app
from chainrule.config import ConfigError, RunConfig, format_validation_error, load_config

runner = CliRunner()


def _fails(args, *fragments, code=2):
    result = runner.invoke(app, args)
    assert result.exit_code == code, (result.exit_code, result.output)
    err = result.stderr
    assert "Traceback" not in result.output
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    assert not isinstance(result.exception, Exception) or isinstance(result.exception,
                                                                     SystemExit)
    return lines[0]


@pytest.mark.parametrize(("args", "expected"), [
    (["--lr", "-0.1"], "lr: must be > 0 (got -0.1)"),
    (["--dropout", "1.5"], "dropout: must be in [0, 1) (got 1.5)"),
    (["--hidden", "64,x"], "hidden: must be comma-separated layer sizes"),
    (["--activation", "swishy"], "activation: unknown activation; valid:"),
    (["--optimizer", "adamm"], "optimizer: unknown optimizer; valid: adagrad, adam"),
    (["--init", "glorious"], "init: unknown initialiser; valid:"),
    (["--schedule", "sometimes"], "schedule: unknown schedule; valid:"),
    (["--epochs", "0"], "epochs: must be >= 1 (got 0)"),
    (["--nesterov"], "nesterov: needs momentum > 0"),
    (["--momentum", "1.0"], "momentum: must be in [0, 1) (got 1.0)"),
    (["--name", "a/b"], "name: must be a plain folder name"),
])
def test_bad_option_values_stop_before_any_work(tmp_path, args, expected):
    line = _fails(["train", "--out", str(tmp_path / "runs"), *args], expected)
    assert line.count("\n") == 0
    assert not (tmp_path / "runs").exists()  # nothing was written


def test_bad_values_in_a_config_file(tmp_path):
    cfg = tmp_path / "run.toml"
    cfg.write_text('lr = 0.01\nbatch_size = "big"\n')
    _fails(["train", "--config", str(cfg)], "batch_size:", "(got 'big')")
    cfg.write_text('lr = 0.01\nlearning_rate = 3\n')
    _fails(["train", "--config", str(cfg)], "learning_rate: unknown setting; valid: data")
    cfg.write_text('lr = = 0.01\n')
    _fails(["train", "--config", str(cfg)], "config: cannot parse run.toml")
    _fails(["train", "--config", str(tmp_path / "missing.toml")], "config: file not found")


def test_unknown_dataset():
    _fails(["train", "--data", "mnist"], "data: unknown dataset; valid:", "digits",
           "(got 'mnist')")


def test_csv_without_the_target_column(tmp_path, monkeypatch):
    path = tmp_path / "d.csv"
    path.write_text("a,b,y\n1,2,0\n3,4,1\n")
    _fails(["train", "--data", str(path), "--target", "label", "--out", str(tmp_path)],
           "target column 'label' not found", "'a', 'b', 'y'")
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)  # the default --out is runs/ below the current folder
    _fails(["train", "--data", str(tmp_path / "nope.csv")], "data: file not found")
    _fails(["train", "--data", "iris", "--target", "y"], "target: only used with a CSV file")
    assert list(cwd.iterdir()) == []  # a failed run leaves neither its folder nor runs/


def test_a_file_that_is_not_a_model(tmp_path):
    bad = tmp_path / "model.safetensors"
    bad.write_bytes(b"this is not a safetensors file at all" * 10)
    inp = tmp_path / "in.csv"
    inp.write_text("a,b\n1,2\n")
    _fails(["predict", str(bad), str(inp)], "is not a chainrule model file")
    _fails(["predict", str(bad), str(inp)], "(not a safetensors file")
    empty = tmp_path / "empty"
    empty.mkdir()
    _fails(["evaluate", str(empty)], "is not a run folder")
    _fails(["gradcheck", str(tmp_path / "missing")], "no run folder or model file")
    _fails(["diagnose", str(tmp_path)], "is not a finished run folder")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    result = runner.invoke(app, ["train", "--no-progress", "--data", "iris", "--hidden", "4",
                                 "--epochs", "1", "--name", "t", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out / "t"


def test_predict_checks_the_columns(tiny_run, tmp_path):
    path = tmp_path / "x.csv"
    with path.open("w", newline="") as fh:
        csv.writer(fh).writerows([["sepal length (cm)", "petal width (cm)"], [1, 2]])
    _fails(["predict", str(tiny_run), str(path)], "lacks the model's columns",
           "sepal width (cm)")
    path.write_text("1,2,3\n4,5,6\n")
    _fails(["predict", str(tiny_run), str(path)], "has 3 columns but the model expects 4")
    path.write_text("a,b,c,d\n1,2,3,4\n")
    _fails(["predict", str(tiny_run), str(path)], "do not match the model's features")
    path.write_text("1,2,3,x\n")
    _fails(["predict", str(tiny_run), str(path)])
    path.write_text("1,2,3,4\n1,2,3,oops\n")
    _fails(["predict", str(tiny_run), str(path)], "non-numeric value 'oops' at row 2")


def test_evaluate_checks_the_data(tiny_run):
    _fails(["evaluate", str(tiny_run), "--data", "wine"], "feature columns but the model "
           "expects 4")
    _fails(["evaluate", str(tiny_run), "--split", "holdout"], "split: must be train, dev or "
           "test")


def test_unknown_demo_lists_the_demos():
    _fails(["demo", "mandelbrot"], "unknown demo 'mandelbrot'", "higham, optimizers, "
           "vanishing, bias-variance, universal, init")


def test_resume_of_a_folder_without_a_run(tmp_path):
    _fails(["train", "--resume", str(tmp_path)], "is not a run folder")


def test_config_api_reports_one_line():
    with pytest.raises(ConfigError, match=r"^l2: must be >= 0 \(got -1\)$"):
        load_config(l2=-1)
    try:
        RunConfig(batch_size=0)
    except Exception as e:  # pydantic's ValidationError
        assert format_validation_error(e) == "batch_size: must be >= 1 (got 0)"
    else:  # pragma: no cover
        pytest.fail("batch_size=0 was accepted")
