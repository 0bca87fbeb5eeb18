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


# ------------------------------------------------------------------ 10: evaluate
def test_evaluate_shows_per_class_scores_and_the_confusion_matrix(tmp_path):
    _ok("train", *FAST, "--data", "iris", "--epochs", "3", "--out", str(tmp_path), "--name", "e")
    run = tmp_path / "e"
    m = json.loads((run / "metrics.json").read_text())
    test = m["per_class"]["test"]
    assert set(test) == {"setosa", "versicolor", "virginica"}
    assert sum(r["support"] for r in test.values()) == m["n_test"]
    out = _ok("evaluate", str(run)).stdout
    assert "Per class" in out and "precision" in out and "Confusion matrix" in out
    # the table's rows agree with metrics.json: precision of each class to 3 decimals
    for name, r in test.items():
        row = next(line for line in out.splitlines() if f"│ {name} " in line and "." in line)
        assert f"{r['precision']:.3f}" in row and f"{r['f1']:.3f}" in row
    title = next(line for line in out.splitlines() if "Evaluation of" in line)
    assert "Evaluation of e on iris, test split" in title  # on one line, not wrapped


def test_evaluate_of_a_regression_model_draws_predicted_against_actual(tmp_path):
    _ok("train", *FAST, "--data", "diabetes", "--epochs", "2", "--out", str(tmp_path),
        "--name", "r")
    out = _ok("evaluate", str(tmp_path / "r"), "--split", "dev").stdout
    assert (tmp_path / "r" / "predicted_vs_actual_dev.png").stat().st_size > 5_000
    assert "95 % interval" in out and "rmse" in out


# ------------------------------------------------------------------ 11: the small things
def test_version_module_entry_summary_usage_and_column_errors(tmp_path):
    import subprocess
    import sys

    import chainrule

    assert _ok("--version").stdout.strip() == f"chainrule {chainrule.__version__}"
    env_src = str(__import__("pathlib").Path(chainrule.__file__).parents[1])
    proc = subprocess.run([sys.executable, "-m", "chainrule", "--version"], capture_output=True,
                          text=True, env={"PYTHONPATH": env_src, "PATH": ""}, check=True)
    assert proc.stdout.strip() == f"chainrule {chainrule.__version__}"
    for command in ("evaluate", "predict", "gradcheck", "diagnose", "export"):
        usage = next(line for line in _ok(command, "--help").stdout.splitlines()
                     if line.startswith("Usage:"))
        args = usage.split("[OPTIONS]")[1].split()
        assert all(a.strip("{}[]").split(".")[0].isupper() for a in args), usage
    r = _ok("train", "--no-figures", "--data", "iris", "--hidden", "8", "--epochs", "1",
            "--out", str(tmp_path), "--name", "s")
    # 4 inputs → Linear(4, 8): 4·8 + 8 = 40 parameters; ReLU, Dropout none; Linear(8, 3): 27
    lines = r.stderr.splitlines()
    assert any(line.split()[:2] == ["0", "Linear"] and line.endswith(" 40") for line in lines)
    assert any(line.split()[:2] == ["3", "Linear"] and line.endswith(" 27") for line in lines)
    assert any(line.startswith("total") and line.endswith(" 67") for line in lines)
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    r = _fails(2, "predict", str(tmp_path / "s"), str(bad))
    assert "(its columns: a, b)" in r.stderr


# ------------------------------------------------------------------ 8: progress
def test_progress_off_a_terminal_is_one_line_per_epoch_and_train_log_keeps_it(tmp_path):
    r = _ok("train", "--no-figures", "--data", "iris", "--hidden", "8", "--patience", "0",
            "--epochs", "3", "--out", str(tmp_path), "--name", "p")
    epoch_lines = [line for line in r.stderr.splitlines() if line.startswith("epoch ")]
    assert [line.split()[1] for line in epoch_lines] == ["1/3", "2/3", "3/3"]
    assert all(" eta " in line and "dev_accuracy" in line for line in epoch_lines)
    assert epoch_lines[-1].endswith("eta 0 s")  # no epoch left
    log = (tmp_path / "p" / "train.log").read_text()
    assert log.count("\nepoch ") == 3 and "finished: 3 epochs" in log
    quiet = _ok("train", *FAST, "--data", "iris", "--epochs", "2", "--out", str(tmp_path),
                "--name", "q")
    assert "epoch 1/2" not in quiet.stderr
    assert "epoch 1/2" in (tmp_path / "q" / "train.log").read_text()


def test_live_progress_keeps_the_final_line_and_shows_batches_of_long_epochs(monkeypatch):
    import io

    from rich.console import Console

    from chainrule import nn, optim
    from chainrule.train import fit, progress

    monkeypatch.setattr(progress, "BATCH_BAR_AFTER", 0.0)  # every epoch counts as long
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=120)
    X = np.random.default_rng(0).normal(size=(64, 2))
    y = (X[:, 0] > 0).astype(int)
    model = nn.Sequential(nn.Linear(2, 2, seed=0))
    fit(model, "cross_entropy", optim.SGD(model.parameters(), lr=0.1), (X, y), (X, y),
        epochs=3, batch_size=16, seed=0, progress=False,
        callbacks=[progress.ProgressCallback(console, live=True)])
    text = buf.getvalue()
    assert "batch (epoch 2)" in text  # the per-batch bar of a long epoch
    assert "3/3" in text and "eta" in text
    # the final state stays on screen: the last drawn frame holds the epoch bar at 3/3
    last_frame = [line for line in text.splitlines() if "epoch" in line][-1]
    assert "3/3" in last_frame and "batch" not in text.rsplit("3/3", 1)[1]


# ------------------------------------------------------------------ 12: learning-rate finder
def test_lr_find_sweeps_exponentially_and_stops_past_the_stability_limit():
    from chainrule import nn, optim
    from chainrule.train.lr_find import lr_find

    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 1))
    y = 3.0 * X
    model = nn.Linear(1, 1, bias=False, seed=0)
    before = model.weight.data.copy()
    r = lr_find(model, "mse", optim.SGD(model.parameters(), lr=0.1), (X, y), start_lr=1e-3,
                end_lr=100.0, num_steps=50, batch_size=64)
    # η_i = 1e-3 · (1e5)^(i/49): the first two rates
    np.testing.assert_allclose(r.lrs[:2], [1e-3, 1e-3 * 1e5 ** (1 / 49)])
    # full-batch gradient descent on L(w) = mean((w x − y)²) has L'' = 2·mean(x²), so it
    # diverges once η > 2 / L'' = 1 / mean(x²) (≈ 1 here): the sweep stops past that limit and
    # suggests a rate below it
    limit = 1 / np.mean(X ** 2)
    assert r.stopped_early and r.lrs[-1] > limit
    assert 1e-3 < r.suggestion < limit
    np.testing.assert_array_equal(model.weight.data, before)  # the sweep only looked


def test_lr_find_command_prints_the_suggestion_and_its_rule(tmp_path):
    fig = tmp_path / "lr.png"
    out = _ok("lr-find", "--data", "iris", "--hidden", "8", "--steps", "60", "--start-lr",
              "1e-4", "--end-lr", "10", "--figure", str(fig)).stdout
    assert "suggested learning rate" in out and "steepest descent" in out
    assert "train with: chainrule train --lr" in out
    assert fig.stat().st_size > 5_000


# ------------------------------------------------------------------ 14: datasets export
def test_datasets_export_writes_a_csv_that_predict_and_evaluate_read(tmp_path):
    from chainrule.data import load_dataset

    path = tmp_path / "iris.csv"
    _ok("datasets", "export", "iris", str(path))
    ds = load_dataset("iris")
    lines = path.read_text().splitlines()
    assert lines[0] == ",".join([*ds.feature_names, "target"]) and len(lines) == 151
    assert lines[1] == "5.1,3.5,1.4,0.2,setosa"  # Fisher's first flower
    _ok("train", *FAST, "--data", "iris", "--epochs", "2", "--out", str(tmp_path), "--name", "i")
    pred = _ok("predict", str(tmp_path / "i"), str(path)).stdout.splitlines()
    assert len(pred) == 151 and pred[0].startswith("prediction,p_setosa")
    out = _ok("evaluate", str(tmp_path / "i"), "--data", str(path)).stdout
    assert "all 150 rows" in out
    r = _fails(2, "datasets", "exprt", "iris")
    assert "chainrule datasets export NAME OUT.csv" in r.stderr


# ------------------------------------------------------------------ 13: loggers
def _read_events(folder) -> dict[str, list[tuple[int, float]]]:
    """Scalars of TensorBoard event files, read as TensorBoard reads them: TFRecords
    (length, masked CRC, an Event protobuf, masked CRC) decoded with the Event schema."""
    import struct

    from tensorboardX.proto.event_pb2 import Event

    scalars: dict[str, list[tuple[int, float]]] = {}
    for path in sorted(folder.glob("events.out.tfevents.*")):
        data = path.read_bytes()
        i = 0
        while i < len(data):
            (n,) = struct.unpack("<Q", data[i:i + 8])
            event = Event.FromString(data[i + 12:i + 12 + n])
            i += 12 + n + 4
            for v in event.summary.value:
                scalars.setdefault(v.tag, []).append((event.step, v.simple_value))
    return scalars


def test_tensorboard_logger_writes_the_history_as_scalars(tmp_path):
    pytest.importorskip("tensorboardX")
    board = tmp_path / "tb"
    _ok("train", *FAST, "--data", "iris", "--epochs", "3", "--out", str(tmp_path), "--name",
        "t", "--tensorboard", str(board))
    scalars = _read_events(board)
    rows = (tmp_path / "t" / "history.csv").read_text().splitlines()
    header = rows[0].split(",")
    dev_acc = [float(r.split(",")[header.index("dev_accuracy")]) for r in rows[1:]]
    assert [s for s, _ in scalars["accuracy/dev"]] == [1, 2, 3]
    np.testing.assert_allclose([v for _, v in scalars["accuracy/dev"]], dev_acc, rtol=1e-6)
    assert {"loss/train", "loss/dev", "lr", "grad_norm/0"} <= set(scalars)


def test_csv_logger_appends_one_row_per_epoch_as_training_goes(tmp_path):
    from chainrule import nn, optim
    from chainrule.train import CSVLogger, fit

    X = np.random.default_rng(0).normal(size=(40, 2))
    y = (X[:, 0] > 0).astype(int)
    path = tmp_path / "log" / "epochs.csv"
    seen = []

    class Peek(CSVLogger):
        def on_epoch_end(self, trainer, epoch, logs):
            super().on_epoch_end(trainer, epoch, logs)
            seen.append(len(path.read_text().splitlines()))  # header + one row per epoch

    model = nn.Sequential(nn.Linear(2, 2, seed=0))
    h = fit(model, "cross_entropy", optim.SGD(model.parameters(), lr=0.1), (X, y), epochs=3,
            seed=0, progress=False, callbacks=[Peek(path)])
    assert seen == [2, 3, 4]
    lines = path.read_text().splitlines()
    assert [float(r.split(",")[1]) for r in lines[1:]] == list(h.column("train_loss"))
    fit(model, "cross_entropy", optim.SGD(model.parameters(), lr=0.1), (X, y), epochs=2,
        seed=0, progress=False, callbacks=[CSVLogger(path, append=True)])
    assert len(path.read_text().splitlines()) == 1 + 3 + 2


# ------------------------------------------------------------------ 15: figures
def test_decision_regions_mark_splits_and_circle_the_misclassified(tmp_path, monkeypatch):
    from chainrule import plots

    seen = {}

    def keep(fig, path):
        seen["labels"] = [t.get_text() for t in fig.legends[0].get_texts()]
        seen["offsets"] = [c.get_offsets() for c in fig.axes[0].collections
                           if len(c.get_offsets()) and c.get_edgecolor().size
                           and tuple(c.get_edgecolor()[0][:3]) == (0.8156862745098039, 0, 0)]
        return plots.FigurePaths(None, None)

    monkeypatch.setattr(plots, "_save", keep)
    X = np.array([[-2.0, 0], [-1, 1], [1, 0], [2, 1], [-0.5, -1], [0.5, -1]])
    y = np.array([0, 0, 1, 1, 1, 0])  # the rule x₁ > 0 gets the last two wrong
    plots.decision_regions(lambda P: (P[:, 0] > 0).astype(int), X, y, resolution=20,
                           split=["train", "train", "train", "train", "test", "test"],
                           path=tmp_path / "d")
    assert "misclassified (2 of 6)" in seen["labels"]
    assert "train (4)" in seen["labels"] and "test (2)" in seen["labels"]
    np.testing.assert_array_equal(seen["offsets"][0], X[4:])  # the circled points
    with pytest.raises(ValueError, match="split entries must be train, dev or test"):
        plots.decision_regions(lambda P: P[:, 0] > 0, X, y, split=["x"] * 6, path=tmp_path / "e")
    # through the CLI: a 2-D run draws them
    monkeypatch.undo()
    _ok("train", "--no-progress", "--formats", "png", "--data", "moons", "--hidden", "8",
        "--epochs", "2", "--out", str(tmp_path), "--name", "m")
    assert (tmp_path / "m" / "decision_regions.png").stat().st_size > 5_000


def test_rosenbrock_panels_ridge_histograms_and_training_points(tmp_path, monkeypatch):
    from chainrule import plots

    figs = []

    def keep(fig, path):
        figs.append(fig)
        return plots.FigurePaths(None, None)

    monkeypatch.setattr(plots, "_save", keep)
    paths = {"GD": np.array([[-1.5, 2.0], [-1.0, 1.0]]),
             "Adam": np.array([[-1.5, 2.0], [0.0, 0.0], [0.9, 0.8]])}
    plots.optimizer_trajectories(lambda x, y: (1 - x) ** 2 + 100 * (y - x ** 2) ** 2, paths,
                                 limits=((-2, 2), (-1, 3)), minimum=(1, 1), panels=True,
                                 path=tmp_path / "r")
    visible = [ax for ax in figs[-1].axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == ["GD", "Adam"]  # one panel per optimiser
    rng = np.random.default_rng(0)
    plots.histograms({"He": [rng.normal(size=100) for _ in range(3)]}, xlabel="a", title="t",
                     path=tmp_path / "h")
    ax = figs[-1].axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["layer 1", "layer 2", "layer 3"]
    # ridges: layer j's curve lies in [j, j + 1) — no two layers share a band
    tops = [line.get_ydata() for line in ax.lines if len(line.get_ydata()) > 2]
    assert [int(np.floor(t.min())) for t in tops] == [0, 1, 2]
    assert all(t.max() < j + 1 for j, t in enumerate(tops))
    x = np.linspace(0, 1, 20)
    plots.function_fits(x, np.sin(x), {"fit": np.sin(x)}, x_train=x, y_train=np.sin(x),
                        path=tmp_path / "f")
    labels = [t.get_text() for t in figs[-1].axes[0].get_legend().get_texts()]
    assert "training samples (20)" in labels


def test_error_curves_average_seeds_with_a_band(tmp_path, monkeypatch):
    from chainrule import plots

    figs = []
    monkeypatch.setattr(plots, "_save",
                        lambda fig, path: figs.append(fig) or plots.FigurePaths(None, None))
    runs_tr = [[0.3, 0.1, 0.0], [0.1, 0.1, 0.0]]
    runs_dv = [[0.4, 0.2, 0.3], [0.2, 0.2, 0.1]]
    plots.error_curves([1, 4, 16], runs_tr, runs_dv, xlabel="h", logx=True, title="t",
                       path=tmp_path / "w")
    ax = figs[-1].axes[0]
    train_line, dev_line = ax.lines[0], ax.lines[1]
    np.testing.assert_allclose(train_line.get_ydata(), [0.2, 0.1, 0.0])  # (0.3 + 0.1)/2, …
    np.testing.assert_allclose(dev_line.get_ydata(), [0.3, 0.2, 0.2])
    assert len(ax.collections) == 2  # one min–max band per curve
    assert "mean of 2 seeds" in train_line.get_label()
    # the lowest mean dev error is at h = 4 (0.2 ties 0.2 at h = 16: the first wins)
    assert "lowest dev error (4)" in [t.get_text() for t in ax.get_legend().get_texts()]


# ------------------------------------------------------------------ 9: search
def test_search_counts_non_converged_fits_once_and_shows_fit_progress(tmp_path):
    cfg = tmp_path / "s.toml"
    cfg.write_text('dataset = "iris"\ncv = 2\nn_jobs = 2\n[estimator_params]\nmax_iter = 3\n'
                   "learning_rate_init = 0.01\nrandom_state = 0\n[param_grid]\n"
                   "hidden_layer_sizes = [[4], [8]]\n")
    r = _ok("search", str(cfg), "--out", str(tmp_path / "out"))
    # 2 settings × 2 folds = 4 fits, each stopped by max_iter = 3 in worker processes
    assert "warning: 4 of 4 fits reached max_iter before converging" in r.stderr
    assert "ConvergenceWarning:" not in r.stderr and "site-packages" not in r.stderr
    assert "fits [" in r.stderr and "4/4" in r.stderr
    assert (tmp_path / "out" / "search.json").read_text().endswith("}\n")
