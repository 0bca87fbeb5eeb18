"""History, metrics and checkpoint files: tables, round trips and exact values."""

import math

import numpy as np
import pytest

from chainrule.train import History, load_checkpoint, save_checkpoint
from chainrule.train.metrics import accuracy, get_metric, mae, metric_mode, r2_score, rmse
from doctest_helper import check_doctests


def _history() -> History:
    return History(
        [
            {"epoch": 1, "train_loss": 0.9, "dev_loss": 1.0, "dev_accuracy": 0.5, "lr": 0.1},
            {"epoch": 2, "train_loss": 0.5, "dev_loss": 0.7, "dev_accuracy": 0.8, "lr": 0.1},
            {"epoch": 3, "train_loss": 0.3, "dev_loss": 0.8, "dev_accuracy": 0.9, "lr": 0.01},
        ],
        [{"0": 0.5, "2": 0.25}, {"0": 0.4, "2": 0.2}, {"0": 0.3, "2": 0.1}],
    )


def test_history_columns_and_best_epoch():
    h = _history()
    np.testing.assert_array_equal(h.column("dev_loss"), [1.0, 0.7, 0.8])
    assert h.best_epoch("dev_loss") == 2  # minimum loss
    assert h.best_epoch("dev_accuracy") == 3  # accuracy is maximised ("auto")
    assert h.best_epoch("dev_accuracy", mode="min") == 1
    np.testing.assert_array_equal(h.grad_norm("2"), [0.25, 0.2, 0.1])
    with pytest.raises(KeyError, match="no column 'dev_rmse'"):
        h.column("dev_rmse")
    with pytest.raises(ValueError, match="mode must be"):
        h.best_epoch("dev_loss", mode="lowest")


def test_history_missing_values_are_nan_and_skipped():
    h = History([{"epoch": 1, "train_loss": 2.0}, {"epoch": 2, "train_loss": 1.0, "dev_loss": 3.0}])
    col = h.column("dev_loss")
    assert math.isnan(col[0]) and col[1] == 3.0
    assert h.best_epoch("dev_loss") == 2


def test_history_csv_round_trip_is_exact(tmp_path):
    h = _history()
    h.records[0]["train_loss"] = 1 / 3  # needs all 17 digits
    path = tmp_path / "history.csv"
    h.to_csv(path)
    back = History.from_csv(path)
    assert back.records == h.records
    assert back.grad_norms == h.grad_norms
    assert open(path).readline().strip().split(",")[-2:] == ["grad_norm:0", "grad_norm:2"]


def test_history_from_csv_rejects_bad_files(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_text("loss\n0.5\n")
    with pytest.raises(ValueError, match="no 'epoch' column"):
        History.from_csv(p)
    p.write_text("epoch,loss\n1,abc\n")
    with pytest.raises(ValueError, match="line 2, column 'loss': 'abc' is not a number"):
        History.from_csv(p)


def test_metrics_values():
    assert accuracy([0, 1, 2, 1], np.eye(3)[[0, 1, 1, 1]]) == 0.75
    assert accuracy(np.eye(2)[[0, 1]], [[0.9, 0.1], [0.2, 0.8]]) == 1.0  # one-hot targets
    assert accuracy([1, 0, 1], [0.7, 0.2, 0.4]) == pytest.approx(2 / 3)  # probabilities
    assert rmse([0.0, 0.0], [3.0, 4.0]) == pytest.approx(math.sqrt(12.5))
    assert mae([[1.0], [2.0]], [[2.0], [4.0]]) == 1.5
    # R² = 1 − SS_res/SS_tot = 1 − (0 + 0 + 1)/((−1)² + 0² + 1²) = 0.5
    assert r2_score([1.0, 2.0, 3.0], [1.0, 2.0, 4.0]) == 0.5
    assert metric_mode("dev_accuracy") == "max" and metric_mode("dev_loss") == "min"
    with pytest.raises(ValueError, match="unknown metric 'f1'; valid names: accuracy"):
        get_metric("f1")
    with pytest.raises(ValueError, match="shape"):
        rmse([1.0, 2.0], [1.0, 2.0, 3.0])


def test_checkpoint_round_trip_is_bit_exact(tmp_path):
    gen = np.random.default_rng(5)
    gen.random(3)
    state = {
        "epoch": 7,
        "model": {"0.weight": np.random.default_rng(0).normal(size=(3, 2)).astype(np.float32)},
        "optimizer": {"state": {0: {"step": 4, "exp_avg": np.full(2, 1 / 3)}},
                      "param_groups": [{"lr": 0.1 / 3, "betas": (0.9, 0.999), "params": [0]}]},
        "rng": gen.bit_generator.state,
        "scalar": np.float32(1.5),
        "zero_d": np.array(3, dtype=np.int64),  # BatchNorm's num_batches_tracked
        "nothing": None,
    }
    path = tmp_path / "c.safetensors"
    save_checkpoint(path, state)
    back = load_checkpoint(path)
    assert back["epoch"] == 7 and back["nothing"] is None
    assert back["model"]["0.weight"].dtype == np.float32
    np.testing.assert_array_equal(back["model"]["0.weight"], state["model"]["0.weight"])
    assert back["optimizer"]["state"][0]["step"] == 4  # int keys survive
    assert back["optimizer"]["param_groups"][0]["betas"] == (0.9, 0.999)  # tuples too
    assert back["optimizer"]["param_groups"][0]["lr"] == 0.1 / 3
    assert back["scalar"] == np.float32(1.5) and back["scalar"].dtype == np.float32
    assert back["zero_d"].shape == () and back["zero_d"] == 3
    restored = np.random.default_rng()
    restored.bit_generator.state = back["rng"]
    assert restored.random() == gen.random()
    assert [p.name for p in tmp_path.iterdir()] == ["c.safetensors"]  # no temp file left


def test_load_checkpoint_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint file"):
        load_checkpoint(tmp_path / "missing.safetensors")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a safetensors file")
    with pytest.raises(ValueError, match=r"bad\.safetensors.*not a safetensors file"):
        load_checkpoint(bad)
    from safetensors.numpy import save_file

    other = tmp_path / "weights.safetensors"
    save_file({"w": np.zeros(2)}, str(other))
    with pytest.raises(ValueError, match="not a chainrule training checkpoint"):
        load_checkpoint(other)


@pytest.mark.parametrize("name", ["", ".callbacks", ".checkpoint", ".diagnosis", ".history",
                                  ".loop", ".metrics"])
def test_docstring_examples(name):
    check_doctests(f"chainrule.train{name}")
