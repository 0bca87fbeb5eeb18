"""The search runner behind ``chainrule search`` (local joblib runs; Dask in test_sklearn_dask)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from chainrule.search import load_search_config, run_search
from chainrule.sklearn import MLPClassifier, MLPRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

BASE = """\
dataset = "iris"
cv = 3
cv_shuffle = true
n_jobs = 1
[estimator_params]
max_iter = 30
learning_rate_init = 0.02
random_state = 0
"""


def write(tmp_path, text, name="search.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_grid_search_writes_results_model_and_summary(tmp_path):
    config = write(tmp_path, BASE + "[param_grid]\nhidden_layer_sizes = [[2], [16, 8]]\n"
                   "alpha = [0.0001, 0.1]\n")
    result = run_search(config, out_dir=tmp_path / "out")
    assert result.n_candidates == 4 and result.scoring == "score"
    assert result.backend == "joblib (n_jobs=1)"
    table = rows(result.files["results"])
    assert len(table) == 4
    assert {"param_hidden_layer_sizes", "param_alpha", "mean_test_score", "rank_test_score",
            "split0_test_score", "params"} <= set(table[0])
    assert not any(key.startswith("param_mlp__") for key in table[0])
    assert json.loads(table[0]["params"]) == {"alpha": 0.0001, "hidden_layer_sizes": [2]}
    scores = [float(r["mean_test_score"]) for r in table]
    np.testing.assert_array_equal(scores, result.mean_test_scores)
    best = int(np.argmax(scores))
    assert table[best]["rank_test_score"] == "1"
    assert result.best_score == max(scores) > 0.85
    summary = json.loads(result.files["summary"].read_text())
    assert summary["best_params"] == result.best_params == json.loads(table[best]["params"])
    assert summary["n_candidates"] == 4 and summary["dataset"] == "iris"
    # the best model, refitted on all data, predicts class names after the saved scaling
    model = MLPClassifier.load(result.files["model"])
    assert list(model.classes_) == ["setosa", "versicolor", "virginica"]
    assert model.hidden_layer_sizes == tuple(result.best_params["hidden_layer_sizes"])
    pre = json.loads(result.files["preprocessing"].read_text())
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    Z = (X - np.array(pre["mean"])) / np.array(pre["scale"])
    accuracy = np.mean(model.predict(Z) == np.array(model.classes_)[y])
    assert accuracy > 0.9


def test_random_search_with_distributions_and_a_csv_file(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(120, 2))
    y = X[:, 0] - 2 * X[:, 1] + 0.01 * rng.standard_normal(120)
    data = tmp_path / "data.csv"
    with open(data, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["a", "b", "price"])
        writer.writerows(np.column_stack([X, y]).round(6).tolist())
    config = write(tmp_path, """\
estimator = "regressor"
dataset = "data.csv"
target = "price"
search = "random"
n_iter = 3
cv = 3
cv_shuffle = true
scoring = "r2"
n_jobs = 1
random_state = 0
[estimator_params]
max_iter = 40
random_state = 0
[param_grid]
learning_rate_init = { distribution = "loguniform", low = 0.001, high = 0.05 }
hidden_layer_sizes = [[8], [16]]
""")
    result = run_search(config, out_dir=tmp_path / "out")
    assert result.n_candidates == 3 and result.scoring == "r2"
    lrs = [float(r["param_learning_rate_init"]) for r in rows(result.files["results"])]
    assert all(0.001 <= lr <= 0.05 for lr in lrs) and len(set(lrs)) == 3
    assert isinstance(MLPRegressor.load(result.files["model"]), MLPRegressor)
    assert result.best_score > 0.5


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        (BASE + "[param_grid]\nhidden_layer_size = [[4]]\n",
         "'hidden_layer_size' is not a parameter.*hidden_layer_sizes"),
        ("colour = 1\n" + BASE + "[param_grid]\nalpha = [1]\n", "unknown key.*'colour'"),
        (BASE + "colour = 1\n[param_grid]\nalpha = [1]\n",
         "estimator_params: 'colour' not parameter"),
        (BASE, r"a \[param_grid\] table"),
        (BASE + "[param_grid]\nalpha = 0.1\n", "param_grid.alpha: expected a non-empty list"),
        (BASE + "[param_grid]\nalpha = { distribution = \"loguniform\", low = 1, high = 2 }\n",
         "distributions need search = \"random\""),
        ('estimator = "regressor"\n' + BASE + "[param_grid]\nalpha = [1]\n",
         "does not fit dataset 'iris', whose task is classification"),
        (BASE.replace('"iris"', '"irises"') + "[param_grid]\nalpha = [1]\n",
         "unknown dataset 'irises'"),
        (BASE.replace("cv = 3", "cv = 1") + "[param_grid]\nalpha = [1]\n",
         "cv must be an int >= 2"),
        (BASE + "[param_grid]\nalpha = [1\n", "invalid TOML"),
    ],
)
def test_configuration_errors_name_the_problem(text, pattern, tmp_path):
    with pytest.raises(ValueError, match=pattern):
        run_search(write(tmp_path, text), out_dir=tmp_path / "out")


def test_config_defaults_and_missing_file(tmp_path):
    cfg = load_search_config(write(tmp_path, "[param_grid]\nalpha = [0.1]\n"))
    assert (cfg["dataset"], cfg["cv"], cfg["search"], cfg["n_jobs"], cfg["standardize"]) == (
        "digits", 5, "grid", -1, True)
    with pytest.raises(FileNotFoundError, match=r"nope\.toml"):
        load_search_config(tmp_path / "nope.toml")


def cli_app() -> typer.Typer:
    """The ``chainrule`` console app (which registers the search command)."""
    from chainrule.cli import app

    return app


def test_search_command_locally_and_its_errors(tmp_path):
    config = write(tmp_path, BASE + "[param_grid]\nhidden_layer_sizes = [[4], [8]]\n")
    runner = CliRunner()
    ok = runner.invoke(cli_app(), ["search", str(config), "--out", str(tmp_path / "o"),
                                "--n-jobs", "1"])
    assert ok.exit_code == 0, ok.output
    assert "best score:" in ok.output and "joblib (n_jobs=1)" in ok.output
    assert (tmp_path / "o" / "cv_results.csv").is_file()
    bad = runner.invoke(cli_app(), ["search", str(write(tmp_path, "[param_grid]\nx = [1]\n",
                                                       "bad.toml"))])
    assert bad.exit_code == 2
    assert "error: param_grid: 'x' is not a parameter" in bad.output
    missing = runner.invoke(cli_app(), ["search", str(tmp_path / "missing.toml")])
    assert missing.exit_code == 2 and "no such configuration file" in missing.output


def test_a_failing_setting_scores_nan_with_one_warning_and_the_rest_is_kept(tmp_path):
    import warnings

    from sklearn.exceptions import FitFailedWarning

    config = write(tmp_path, BASE + "[param_grid]\nlearning_rate_init = [0.02, 1e300]\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = run_search(config, out_dir=tmp_path / "out")
    failures = [w for w in caught if issubclass(w.category, FitFailedWarning)]
    assert len(failures) == 1
    assert '[{"learning_rate_init": 1e+300}]' in str(failures[0].message)
    assert "1 of 2 settings failed" in str(failures[0].message)
    assert result.best_params == {"learning_rate_init": 0.02}
    assert np.isnan(result.mean_test_scores[1]) and result.mean_test_scores[0] > 0.8
    summary = json.loads(result.files["summary"].read_text())
    assert summary["failed_settings"] == [{"learning_rate_init": 1e300}]
    # each fitted fold was appended as it finished: the 3 folds of the setting that fitted
    lines = [json.loads(line) for line in result.files["scores"].read_text().splitlines()]
    assert [line["params"] for line in lines] == [{"learning_rate_init": 0.02}] * 3
    assert sum(line["n_test"] for line in lines) == 150
    assert np.mean([line["score"] for line in lines]) == pytest.approx(result.best_score)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_error_score_raise_stops_at_the_first_failure(tmp_path):
    config = write(tmp_path, 'error_score = "raise"\n' + BASE
                   + "[param_grid]\nlearning_rate_init = [1e300]\n")
    with pytest.raises(ValueError, match="non-finite parameter weights"):
        run_search(config, out_dir=tmp_path / "out")
    bad = write(tmp_path, 'error_score = "zero"\n' + BASE + "[param_grid]\nalpha = [0.1]\n")
    with pytest.raises(ValueError, match=r"error_score must be \"nan\", \"raise\" or a number"):
        load_search_config(bad)


def test_a_killed_search_keeps_the_scores_it_had(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    config = write(tmp_path, BASE + "[param_grid]\nalpha = [0.0001, 0.001, 0.01, 0.1, 1.0, "
                   "10.0]\nhidden_layer_sizes = [[8], [16], [32]]\n")
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys; from chainrule.search import run_search; "
         "run_search(sys.argv[1], out_dir=sys.argv[2])", str(config), str(out)],
        env={**os.environ, "OMP_NUM_THREADS": "1"}, stderr=subprocess.DEVNULL)
    scores = out / "scores.jsonl"
    deadline = time.monotonic() + 300
    while not (scores.exists() and scores.read_text().count("\n") >= 2):
        assert proc.poll() is None and time.monotonic() < deadline, "search ended early"
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    lines = [json.loads(line) for line in scores.read_text().splitlines()]
    assert len(lines) >= 2 and not (out / "cv_results.csv").exists()  # killed mid-search
    assert all({"params", "score", "n_test"} <= set(line) and 0 <= line["score"] <= 1
               for line in lines)
    assert lines[0]["params"] == {"alpha": 0.0001, "hidden_layer_sizes": [8]}
