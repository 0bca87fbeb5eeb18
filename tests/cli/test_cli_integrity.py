"""Run folders under faults: kills at random points and inside every write, two processes on
one folder, damaged files, resuming before the first checkpoint.

The fault-injection test runs `chainrule train` in subprocesses and kills them with the
library's test hook (``CHAINRULE_FAULT=NAME:N:kill`` writes half of the N-th write of NAME to
its temporary file, then sends itself SIGKILL) and at random moments; every interrupted
folder is continued (``--resume`` when it has a configuration, the original command
otherwise) until the run completes, and must end bit-identical to an uninterrupted run.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from chainrule import io
from chainrule.cli import app
from chainrule.train import load_checkpoint, save_checkpoint

runner = CliRunner()
SETTINGS = ["--data", "iris", "--hidden", "8", "--epochs", "4", "--batch-size", "16",
            "--patience", "0", "--dropout", "0.2", "--seed", "1", "--no-progress"]


def _cli(out: Path, *args: str, fault: str | None = None) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    env.pop("CHAINRULE_FAULT", None)
    if fault:
        env["CHAINRULE_FAULT"] = fault
    return subprocess.Popen(
        [sys.executable, "-c", "from chainrule.cli import main; main()", *args],
        cwd=out, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {os.fspath(p.relative_to(folder)): p.read_bytes() if p.is_file() else b"<dir>"
            for p in sorted(folder.rglob("*"))}


def _weights(folder: Path) -> dict[str, np.ndarray]:
    return io.load_state_dict_file(folder / "model.safetensors")[0]


def _losses(folder: Path) -> list[tuple[str, ...]]:
    with open(folder / "history.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return [(r["epoch"], r["train_loss"], r["dev_loss"], r["lr"]) for r in rows]


def _config(folder: Path) -> list[str]:
    return [line for line in (folder / "config.toml").read_text().splitlines()
            if not line.startswith("name =")]


# ------------------------------------------------------------------ fault injection
def _chain(out: Path, name: str, steps: list[tuple[list[str], str | None]]) -> list[str]:
    """Run the attempts of one interrupted run: each step is (extra options, fault); a
    fault ``after=SECONDS`` kills the process at that moment. Returns what happened."""
    log = []
    for extra, fault in steps:
        folder = out / name
        if (folder / "config.toml").is_file():
            args = ["train", "--resume", name, "--no-progress", *extra]
        else:
            args = ["train", *SETTINGS, "--name", name, "--out", str(out), *extra]
        timer = fault.startswith("after=") if fault else False
        proc = _cli(out, *args, fault=None if timer else fault)
        if timer:
            time.sleep(float(fault.split("=")[1]))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate(timeout=600)
        log.append(f"{' '.join(args[:2])} [{fault}] -> {proc.returncode}")
        if timer and (proc.returncode == 0 or (folder / "metrics.json").is_file()):
            # the run had written its results before that moment (a fast machine): a whole
            # run, which --resume rightly calls finished; nothing is left to interrupt
            break
        if fault is None:
            assert proc.returncode == 0, "\n".join([*log, err])
        elif not timer:
            assert proc.returncode == -signal.SIGKILL, "\n".join([*log, err])
    return log


def test_kills_anywhere_including_inside_every_write_then_resume_end_bit_identical(tmp_path):
    rng = np.random.default_rng(13)
    k = int(rng.integers(1, 4))
    chains = {
        # killed inside the configuration's write (nothing to resume: the command reruns),
        # inside the preprocessing's (resumed before any checkpoint: starts over), inside
        # a checkpoint's, then inside the model file's
        "a": [([], "config.toml:1:kill"), ([], "preprocessing.json:1:kill"),
              ([], "last.safetensors:2:kill"), ([], None)],
        # at a random moment, then inside a random checkpoint write and the model file's
        "b": [([], f"after={rng.uniform(1.0, 3.0):.2f}"), ([], f"last.safetensors:{k}:kill"),
              ([], "model.safetensors:1:kill"), ([], None)],
        # a finished 2-epoch run extended to 4: killed inside the resume's configuration
        # write (which records the new number of epochs)
        "c": [(["--epochs", "2"], None), (["--epochs", "4"], "config.toml:1:kill"),
              (["--epochs", "4"], None)],
    }
    with ThreadPoolExecutor(len(chains) + 1) as pool:
        ref = pool.submit(_chain, tmp_path, "ref", [([], None)])
        runs = {name: pool.submit(_chain, tmp_path, name, steps)
                for name, steps in chains.items()}
        ref.result()
        logs = {name: f.result() for name, f in runs.items()}
    reference = _weights(tmp_path / "ref")
    for name in chains:
        folder = tmp_path / name
        weights = _weights(folder)
        assert weights.keys() == reference.keys(), logs[name]
        for key, value in reference.items():
            assert np.array_equal(weights[key], value), (name, key, logs[name])
        assert _losses(folder) == _losses(tmp_path / "ref"), logs[name]
        assert _config(folder) == _config(tmp_path / "ref"), logs[name]
        assert (folder / "preprocessing.json").read_bytes() == \
            (tmp_path / "ref" / "preprocessing.json").read_bytes()
        metrics = json.loads((folder / "metrics.json").read_text())
        assert metrics["test"] == json.loads((tmp_path / "ref" / "metrics.json").read_text())[
            "test"]
        assert not list(folder.rglob("*.tmp")), logs[name]  # stale temporaries cleaned up


def test_two_trainings_on_one_name_exactly_one_runs(tmp_path):
    release = tmp_path / "release"
    first = _cli(tmp_path, "train", *SETTINGS, "--name", "race", "--out", str(tmp_path),
                 fault=f"last.safetensors:1:wait={release}")
    deadline = time.monotonic() + 60
    while not Path(f"{release}.ready").exists():
        assert first.poll() is None and time.monotonic() < deadline, first.communicate()
        time.sleep(0.02)
    # the first run is now inside its first checkpoint write, holding the folder
    second = _cli(tmp_path, "train", *SETTINGS, "--name", "race", "--seed", "2", "--out",
                  str(tmp_path))
    _, err = second.communicate(timeout=600)
    release.write_text("go")
    _, first_err = first.communicate(timeout=600)
    assert first.returncode == 0, first_err
    assert second.returncode != 0
    assert f"is in use by process {first.pid}" in err, err
    assert err.startswith("error: run folder") and "Traceback" not in err
    folder = tmp_path / "race"
    assert "seed = 1" in (folder / "config.toml").read_text()  # one consistent run
    assert load_checkpoint(folder / "checkpoints" / "last.safetensors")["epoch"] == 4
    result = runner.invoke(app, ["evaluate", str(folder)])
    assert result.exit_code == 0, result.output
    test_loss = json.loads((folder / "metrics.json").read_text())["test"]["loss"]
    assert f"{test_loss:.6g}" in result.output  # the model and the split of one run


# ------------------------------------------------------------------ damaged run folders
@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    result = runner.invoke(app, ["train", *SETTINGS, "--epochs", "3", "--name", "base",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out / "base"


def _copy(run: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "run"
    shutil.copytree(run, folder)
    cfg = (folder / "config.toml").read_text().replace(f'out = "{run.parent}"',
                                                       f'out = "{tmp_path}"')
    (folder / "config.toml").write_text(cfg.replace('name = "base"', 'name = "run"'))
    return folder


@pytest.mark.parametrize("file,content,message", [
    ("config.toml", "", r"config\.toml is empty"),
    ("config.toml", "hidden = [", r"config\.toml: config: cannot parse"),
    ("config.toml", 'data = "iris"\nlr = -1\n', r"config\.toml: lr"),
    ("preprocessing.json", "{", r"preprocessing\.json is not valid JSON"),
    ("preprocessing.json", "[1, 2]", r"preprocessing\.json must hold a JSON object"),
])
def test_a_resume_with_a_damaged_file_names_it_and_changes_nothing(
        finished_run, tmp_path, file, content, message):
    folder = _copy(finished_run, tmp_path)
    (folder / file).write_text(content)
    before = _snapshot(folder)
    result = runner.invoke(app, ["train", "--resume", str(folder), "--epochs", "5",
                                 "--no-progress"])
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: ")
    import re

    assert re.search(message, result.output), result.output
    assert _snapshot(folder) == before


@pytest.mark.parametrize("field,value", [("epoch", 2.7), ("epoch", -100)])
def test_a_resume_from_a_bad_checkpoint_is_one_line_and_changes_nothing(
        finished_run, tmp_path, field, value):
    folder = _copy(finished_run, tmp_path)
    ckpt = folder / "checkpoints" / "last.safetensors"
    state = load_checkpoint(ckpt)
    state[field] = value
    save_checkpoint(ckpt, state)
    before = _snapshot(folder)
    result = runner.invoke(app, ["train", "--resume", str(folder), "--epochs", "5",
                                 "--no-progress"])
    assert result.exit_code != 0 and isinstance(result.exception, SystemExit), result.output
    error = result.output.splitlines()[-1]
    assert error.startswith("error: ") and f"{field} must be" in error, result.output
    assert "Traceback" not in result.output
    after = _snapshot(folder)
    log = after.pop("train.log")  # the log records the failed attempt; nothing else changed
    before.pop("train.log", None)
    assert after == before and b"failed: " in log


def test_resuming_before_the_first_checkpoint_starts_over_with_the_saved_settings(
        finished_run, tmp_path):
    folder = _copy(finished_run, tmp_path)
    for name in ("model.safetensors", "metrics.json", "history.csv",
                 "checkpoints/last.safetensors"):
        (folder / name).unlink()
    result = runner.invoke(app, ["train", "--resume", str(folder), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "no checkpoint in" in result.output and "from the beginning" in result.output
    reference, weights = _weights(finished_run), _weights(folder)
    assert all(np.array_equal(weights[k], v) for k, v in reference.items())


def test_train_seconds_counts_every_segment_of_a_resumed_run(finished_run, tmp_path):
    folder = _copy(finished_run, tmp_path)
    result = runner.invoke(app, ["train", "--resume", str(folder), "--epochs", "5",
                                 "--no-progress"])
    assert result.exit_code == 0, result.output
    with open(folder / "history.csv", newline="") as fh:
        times = [float(r["time"]) for r in csv.DictReader(fh)]
    assert len(times) == 5
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["train_seconds"] == round(sum(times), 3)


def test_json_files_that_are_not_objects_are_named(finished_run, tmp_path):
    folder = _copy(finished_run, tmp_path)
    (folder / "metrics.json").write_text("[1, 2]")
    result = runner.invoke(app, ["diagnose", str(folder)])
    assert result.exit_code == 2
    assert "metrics.json must hold a JSON object, got a list" in result.output
    (folder / "preprocessing.json").write_text("")
    result = runner.invoke(app, ["evaluate", str(folder)])
    assert result.exit_code == 2
    assert "preprocessing.json is empty" in result.output


def test_a_model_larger_than_memory_is_refused_before_allocating(tmp_path):
    result = runner.invoke(app, ["train", "--data", "iris", "--hidden", "100000000,100000000",
                                 "--out", str(tmp_path), "--name", "huge", "--no-progress"])
    assert result.exit_code == 2, result.output
    # 4·10⁸ + 10⁸ (layer 1) + 10¹⁶ + 10⁸ (layer 2) + 3·10⁸ + 3 (output) = 10¹⁶ + 9·10⁸ + 3
    assert "hidden: the model would have 10,000,000,900,000,003 parameters" in result.output
    assert not (tmp_path / "huge").exists()  # a run that could not start leaves no folder


def test_csv_names_with_dollar_signs_are_drawn_literally(tmp_path):
    rng = np.random.default_rng(5)
    X = rng.normal(size=(60, 2))
    labels = np.where(X[:, 0] > 0, "$a", "b$")
    path = tmp_path / "d$ta.csv"
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([r"$\frac{a$", "x", "$y$"])
        writer.writerows([[f"{a:.6f}", f"{b:.6f}", c] for (a, b), c in zip(X, labels)])
    result = runner.invoke(app, ["train", "--data", str(path), "--hidden", "4", "--epochs", "2",
                                 "--out", str(tmp_path), "--name", "dollars", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "dollars" / "decision_regions.png").is_file()
    assert (tmp_path / "dollars" / "confusion_matrix.svg").is_file()
