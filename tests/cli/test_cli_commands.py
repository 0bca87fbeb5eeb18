"""`chainrule evaluate | predict | datasets | gradcheck | diagnose | demo` and the help texts."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from typer.testing import CliRunner

import chainrule as cr
from chainrule import nn
from chainrule.cli import _layer_gradcheck, app
from chainrule.data import load_dataset
from chainrule.ops import Function

runner = CliRunner()


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A small trained iris run shared by the tests of this module."""
    out = tmp_path_factory.mktemp("runs")
    result = runner.invoke(app, ["train", "--no-progress", "--data", "iris", "--hidden", "16",
                                 "--epochs", "30", "--lr", "0.01", "--name", "iris",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out / "iris"


@pytest.fixture(scope="module")
def regression_run_dir(tmp_path_factory):
    """A small trained house-prices run (standardised target) shared by the tests."""
    out = tmp_path_factory.mktemp("runs")
    result = runner.invoke(app, ["train", "--no-progress", "--formats", "png", "--data",
                                 "house_prices", "--hidden", "8", "--epochs", "10", "--lr",
                                 "0.01", "--name", "prices", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out / "prices"


def _library_outputs(run_dir, X):
    """model(standardise(X)) computed with the library, from the run's own files: the
    model and the saved standardisation (μ, σ) of ``preprocessing.json``; and that file."""
    import json

    from chainrule.data import Standardizer

    pre = json.loads((run_dir / "preprocessing.json").read_text())
    scaler = Standardizer().load_state_dict(
        {k: np.asarray(v) for k, v in pre["standardizer"].items()})
    model = cr.load(run_dir / "model.safetensors")
    model.eval()
    return model(cr.tensor(scaler.transform(np.asarray(X, dtype=np.float64)))).numpy(), pre


def _library_probabilities(run_dir, X):
    """softmax of :func:`_library_outputs`."""
    logits, _ = _library_outputs(run_dir, X)
    z = np.exp(logits - logits.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def _printed(stdout: str, quantity: str) -> float:
    """The value column of the evaluate table's row ``quantity``."""
    line = next(ln for ln in stdout.splitlines() if ln.strip("│ ").startswith(quantity))
    return float([c for c in line.split("│") if c.strip()][1])


def _write_csv(path, header, rows) -> None:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        if header is not None:
            w.writerow(header)
        w.writerows(rows)


def test_datasets_lists_the_registry():
    result = runner.invoke(app, ["datasets"])
    assert result.exit_code == 0, result.output
    for name in ("higham", "digits", "moons", "house_prices", "universal"):
        assert name in result.stdout
    assert "classification" in result.stdout and "regression" in result.stdout


def test_evaluate_on_the_test_split_and_on_other_data(run_dir, tmp_path):
    result = runner.invoke(app, ["evaluate", str(run_dir)])
    assert result.exit_code == 0, result.output
    assert "accuracy" in result.stdout and "test split" in result.stdout
    # the same data as a CSV, columns in another order, labels by name
    ds = load_dataset("iris")
    names = list(ds.feature_names)
    _write_csv(tmp_path / "all.csv", ["label", *names[::-1]],
               [[ds.target_names[y], *x[::-1]] for x, y in zip(ds.X, ds.y)])
    result = runner.invoke(app, ["evaluate", str(run_dir), "--data", str(tmp_path / "all.csv"),
                                 "--target", "label"])
    assert result.exit_code == 0, result.output
    assert "all 150 rows" in result.stdout
    # the printed accuracy and loss are the library's on the same rows after the saved
    # standardisation (CLI and library agree to the 6 digits printed)
    p = _library_probabilities(run_dir, ds.X)
    acc = float(np.mean(p.argmax(axis=1) == ds.y))
    loss = float(-np.mean(np.log(p[np.arange(len(ds.y)), ds.y])))
    assert _printed(result.stdout, "accuracy") == pytest.approx(acc, rel=1e-5)
    assert _printed(result.stdout, "loss") == pytest.approx(loss, rel=1e-5)
    assert acc > 0.8


def test_predict_writes_classes_and_probabilities(run_dir, tmp_path):
    ds = load_dataset("iris")
    _write_csv(tmp_path / "in.csv", ["extra", *ds.feature_names],
               [[7, *x] for x in ds.X[:12]])
    out = tmp_path / "pred" / "out.csv"
    result = runner.invoke(app, ["predict", str(run_dir), str(tmp_path / "in.csv"), "-o",
                                 str(out)])
    assert result.exit_code == 0, result.output
    assert "wrote 12 predictions" in result.stdout
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 12
    assert set(rows[0]) == {"prediction", *(f"p_{c}" for c in ds.target_names)}
    expected = _library_probabilities(run_dir, ds.X[:12])
    for r, p in zip(rows, expected):
        probs = [float(r[f"p_{c}"]) for c in ds.target_names]
        np.testing.assert_allclose(probs, p, rtol=1e-5, atol=1e-9)  # 6 digits printed
        assert r["prediction"] == ds.target_names[int(np.argmax(p))]
    # most of the first 12 flowers (all setosa) are recognised
    assert sum(r["prediction"] == ds.target_names[0] for r in rows) >= 10


def test_predict_from_the_model_file_alone_and_without_header(run_dir, tmp_path):
    """The model file carries its preprocessing; an unnamed CSV is matched by column count."""
    alone = tmp_path / "model.safetensors"
    alone.write_bytes((run_dir / "model.safetensors").read_bytes())
    ds = load_dataset("iris")
    _write_csv(tmp_path / "raw.csv", None, ds.X[:5].tolist())
    result = runner.invoke(app, ["predict", str(alone), str(tmp_path / "raw.csv")])
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "prediction," + ",".join(f"p_{c}" for c in ds.target_names)
    assert len(lines) == 6
    # the preprocessing embedded in the file alone gives the library's numbers
    expected = _library_probabilities(run_dir, ds.X[:5])
    got = np.array([[float(v) for v in line.split(",")[1:]] for line in lines[1:]])
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-9)
    assert [line.split(",")[0] for line in lines[1:]] == [
        ds.target_names[k] for k in expected.argmax(axis=1)]


def test_regression_predict_and_evaluate_are_the_librarys_numbers(regression_run_dir,
                                                                   tmp_path):
    """A standardised target: predictions y = y'·σ_y + μ_y in the target's units, and the
    printed RMSE, R² and loss are those of these predictions on the same rows."""
    from sklearn.metrics import r2_score

    run = regression_run_dir
    ds = load_dataset("house_prices")
    raw, pre = _library_outputs(run, ds.X)
    mean, std = pre["target_scale"]
    assert std > 10  # a scale far from 1: forgetting it (or the mean) shows
    expected = raw[:, 0] * std + mean
    _write_csv(tmp_path / "in.csv", ds.feature_names, ds.X[:20].tolist())
    result = runner.invoke(app, ["predict", str(run), str(tmp_path / "in.csv")])
    assert result.exit_code == 0, result.output
    lines = result.stdout.split()
    assert lines[0] == "prediction" and len(lines) == 21
    # 8 digits printed; the CLI feeds the float32 model float32 rows (here float64): ~3e-7
    np.testing.assert_allclose([float(v) for v in lines[1:]], expected[:20], rtol=2e-6)

    _write_csv(tmp_path / "all.csv", ["price", *ds.feature_names],
               [[y, *x] for x, y in zip(ds.X, ds.y)])
    result = runner.invoke(app, ["evaluate", str(run), "--data", str(tmp_path / "all.csv"),
                                 "--target", "price"])
    assert result.exit_code == 0, result.output
    assert "all 200 rows" in result.stdout
    rmse = np.sqrt(np.mean((expected - ds.y) ** 2))
    assert _printed(result.stdout, "rmse") == pytest.approx(rmse, rel=1e-5)
    assert _printed(result.stdout, "r2") == pytest.approx(r2_score(ds.y, expected), rel=1e-5)
    # the loss is the MSE on the standardised target: mean(((ŷ − y)/σ_y)²) = RMSE²/σ_y²
    assert _printed(result.stdout, "loss") == pytest.approx(rmse**2 / std**2, rel=1e-5)


def test_gradcheck_passes_on_the_trained_model(run_dir):
    result = runner.invoke(app, ["gradcheck", str(run_dir), "--batch", "8"])
    assert result.exit_code == 0, result.output
    assert "all passed" in result.stdout
    for name in ("0.weight", "0.bias", "3.weight", "3.bias"):
        assert name in result.stdout


class _WrongTanh(Function):
    """tanh with a deliberately wrong derivative (2·(1 − tanh²)): gradcheck must notice."""

    @staticmethod
    def forward(ctx, x):
        y = np.tanh(x)
        ctx.save(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * (2.0 * (1.0 - y * y))


class _WrongTanhModule(nn.Module):
    def forward(self, x):
        return _WrongTanh.apply(x)


def test_layer_gradcheck_detects_a_wrong_backward():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(6, 3)), rng.integers(0, 2, 6)
    good = nn.Sequential(nn.Linear(3, 4, seed=0), nn.Tanh(), nn.Linear(4, 2, seed=1))
    rows = _layer_gradcheck(good, "cross_entropy", X, y, 64, 1e-6, 0)
    assert max(r["rel_diff"] for r in rows) < 1e-7
    bad = nn.Sequential(nn.Linear(3, 4, seed=0), _WrongTanhModule(), nn.Linear(4, 2, seed=1))
    rows = {r["parameter"]: r["rel_diff"] for r in
            _layer_gradcheck(bad, "cross_entropy", X, y, 64, 1e-6, 0)}
    assert rows["0.weight"] > 0.1 and rows["0.bias"] > 0.1   # below the wrong derivative
    assert rows["2.weight"] < 1e-7                            # above it: still right


def _verdict(stdout: str) -> str:
    return next(ln for ln in stdout.splitlines() if ln.startswith("Diagnosis:"))[11:]


def test_diagnose_verdict_of_the_trained_run(run_dir):
    """The verdict from the run's own errors, by the rule computed here: avoidable bias
    E_train − 0 and variance E_dev − E_train against 0.02, and the variance only high when
    above two standard errors √(E_dev(1 − E_dev)/n_dev)."""
    import json

    m = json.loads((run_dir / "metrics.json").read_text())
    tr, dv = 1 - m["train"]["accuracy"], 1 - m["dev"]["accuracy"]
    bias, var = tr > 0.02, dv - tr > max(0.02, 2 * np.sqrt(dv * (1 - dv) / m["n_dev"]))
    expected = {(True, True): "high bias and high variance", (True, False): "high bias",
                (False, True): "high variance", (False, False): "fine"}[bias, var]
    result = runner.invoke(app, ["diagnose", str(run_dir)])
    assert result.exit_code == 0, result.output
    assert _verdict(result.stdout) == expected
    assert "train error rate (1 − accuracy)" in result.stdout or "train error" in result.stdout


@pytest.mark.parametrize(("train_acc", "dev_acc", "n_dev", "target", "expected"), [
    (0.80, 0.79, 1000, None, "high bias"),        # bias 0.20 > 0.02; variance −0.01
    (0.99, 0.90, 1000, None, "high variance"),    # variance 0.09 > 0.02 and > 2s = 0.019
    (0.80, 0.60, 1000, None, "high bias and high variance"),  # 0.20 and 0.20
    (0.99, 0.985, 1000, None, "fine"),            # 0.01 and 0.005
    (0.80, 0.79, 1000, 0.19, "fine"),             # bias 0.20 − 0.19 = 0.01
    (0.99, 0.95, 30, None, "fine"),               # 0.04 < 2s = 2·√(.05·.95/30) = 0.08
    (0.99, 0.95, 1000, None, "high variance"),    # the same gap with 2s = 0.014
])
def test_diagnose_verdict_follows_the_errors(tmp_path, train_acc, dev_acc, n_dev, target,
                                             expected):
    import json

    (tmp_path / "metrics.json").write_text(json.dumps({
        "task": "classification", "dataset": "iris", "n_dev": n_dev,
        "train": {"accuracy": train_acc}, "dev": {"accuracy": dev_acc}}))
    args = ["diagnose", str(tmp_path)]
    if target is not None:
        args += ["--target-error", str(target)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert _verdict(result.stdout) == expected
    if target is not None:
        assert f"target error: {target:.4g}" in result.stdout


def test_every_command_has_help():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for cmd in ("train", "evaluate", "predict", "datasets", "gradcheck", "diagnose", "demo"):
        assert cmd in result.stdout
        sub = runner.invoke(app, [cmd, "--help"])
        assert sub.exit_code == 0, cmd
        assert "Usage: chainrule" in sub.stdout and len(sub.stdout) > 120
    demo_help = runner.invoke(app, ["demo", "--help"]).stdout
    for name in ("higham", "optimizers", "vanishing", "bias-variance", "universal", "init"):
        assert name in demo_help
    train_help = runner.invoke(app, ["train", "--help"]).stdout
    for option in ("--data", "--hidden", "--optimizer", "--lr", "--momentum", "--schedule",
                   "--batch-norm", "--dropout", "--init", "--l1", "--l2", "--patience",
                   "--seed", "--config", "--resume", "--out", "--name"):
        assert option in train_help


def test_model_saved_by_train_loads_as_a_model(run_dir):
    import json

    model = cr.load(run_dir / "model.safetensors")
    assert isinstance(model, nn.Module)
    assert model(cr.ones(2, 4)).shape == (2, 3)
    # the loaded model is the trained one: its test accuracy is the run's recorded one
    from chainrule.cli import load_run, prepare_data

    art = load_run(run_dir)
    X, y = prepare_data(art.config).test
    model.eval()
    acc = float(np.mean(model(cr.tensor(X)).numpy().argmax(axis=1) == y))
    m = json.loads((run_dir / "metrics.json").read_text())
    assert acc == pytest.approx(m["test"]["accuracy"], abs=1e-12)
