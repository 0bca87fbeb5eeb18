"""Grid search on a Dask cluster gives the same results as plain joblib.

One ``LocalCluster`` (two worker processes, loopback only) serves both tests and is closed
at the end of the module.
"""

from __future__ import annotations

import csv
import json
import logging
import time
import warnings

import joblib
import numpy as np
import pytest
import typer
from sklearn.datasets import load_iris
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from typer.testing import CliRunner

from chainrule.search import run_search
from chainrule.sklearn import MLPClassifier

distributed = pytest.importorskip("dask.distributed")

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def cluster():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Dask's notes about ports and resources
        cluster = distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            silence_logs=logging.ERROR,
        )
    try:
        yield cluster
    finally:
        cluster.close()
        assert cluster.status.name == "closed"


def _grid() -> GridSearchCV:
    pipe = make_pipeline(
        StandardScaler(),
        MLPClassifier(max_iter=40, learning_rate_init=0.03, random_state=0),
    )
    return GridSearchCV(
        pipe,
        {"mlpclassifier__hidden_layer_sizes": [(4,), (16,)],
         "mlpclassifier__alpha": [1e-4, 1.0]},
        cv=StratifiedKFold(3, shuffle=True, random_state=0),
        n_jobs=2,
    )


def test_grid_search_on_dask_equals_joblib(cluster):
    X, y = load_iris(return_X_y=True)
    local = _grid().fit(X, y)
    with distributed.Client(cluster) as client:
        with distributed.get_task_stream(client) as stream:
            with joblib.parallel_backend("dask", client=client):
                remote = _grid().fit(X, y)
        workers = set(client.scheduler_info()["workers"])
    # the fits ran as tasks on the cluster's two worker processes
    assert len(stream.data) > 0
    assert {task["worker"] for task in stream.data} <= workers and len(workers) == 2
    np.testing.assert_array_equal(remote.cv_results_["mean_test_score"],
                                  local.cv_results_["mean_test_score"])
    for k in range(3):
        np.testing.assert_array_equal(remote.cv_results_[f"split{k}_test_score"],
                                      local.cv_results_[f"split{k}_test_score"])
    assert remote.best_params_ == local.best_params_
    assert local.cv_results_["mean_test_score"].max() > 0.9  # a real search, not constants


CONFIG = """\
estimator = "classifier"
dataset = "iris"
cv = 3
cv_shuffle = true
random_state = 0
scoring = "accuracy"

[estimator_params]
max_iter = 40
learning_rate_init = 0.03
random_state = 0

[param_grid]
hidden_layer_sizes = [[4], [16]]
alpha = [1e-4, 1.0]
"""


def cli_app() -> typer.Typer:
    """The ``chainrule`` console app (which registers the search command)."""
    from chainrule.cli import app

    return app


def _scores(path) -> list[float]:
    with open(path, newline="") as fh:
        return [float(row["mean_test_score"]) for row in csv.DictReader(fh)]


def test_search_command_through_the_scheduler(cluster, tmp_path):
    config = tmp_path / "search.toml"
    config.write_text(CONFIG)
    local = run_search(config, out_dir=tmp_path / "local", n_jobs=2)

    result = CliRunner().invoke(cli_app(), [
        "search", str(config), "--scheduler", cluster.scheduler_address,
        "--out", str(tmp_path / "dask"),
    ])
    assert result.exit_code == 0, result.output
    assert "best accuracy:" in result.output
    assert f"dask ({cluster.scheduler_address})" in result.output
    remote_scores = _scores(tmp_path / "dask" / "cv_results.csv")
    assert remote_scores == _scores(tmp_path / "local" / "cv_results.csv")
    np.testing.assert_array_equal(remote_scores, local.mean_test_scores)
    assert len(remote_scores) == 4
    assert (tmp_path / "dask" / "best_model.safetensors").is_file()


def test_a_worker_killed_in_the_middle_of_a_search_does_not_change_the_result(cluster,
                                                                             tmp_path):
    import os
    import signal
    import threading

    config = tmp_path / "search.toml"
    config.write_text(CONFIG)
    local = run_search(config, out_dir=tmp_path / "local", n_jobs=1)
    with distributed.Client(cluster) as client:
        victim = next(iter(client.run(os.getpid).values()))  # one worker process
    scores = tmp_path / "dask" / "scores.jsonl"
    killed: list[bool] = []

    def kill_after_the_first_score() -> None:
        deadline = time.monotonic() + 120  # a watchdog: stop polling a search that hangs
        while time.monotonic() < deadline:
            if scores.exists() and scores.read_text().count("\n") >= 1:
                killed.append(True)  # recorded before the signal: read below, no clocks
                os.kill(victim, signal.SIGKILL)
                return
            time.sleep(0.005)

    killer = threading.Thread(target=kill_after_the_first_score)
    killer.start()
    remote = run_search(config, scheduler=cluster.scheduler_address, out_dir=tmp_path / "dask")
    killed_during_search = bool(killed)  # read as the search returns, before the join
    killer.join()
    assert killed_during_search  # the worker was killed while the search ran
    np.testing.assert_array_equal(remote.mean_test_scores, local.mean_test_scores)
    assert remote.best_params == local.best_params
    # the rescheduled folds were recorded too: every setting has its lines
    settings = {json.dumps(r["params"], sort_keys=True)
                for r in map(json.loads, scores.read_text().splitlines())}
    assert len(settings) == 4
