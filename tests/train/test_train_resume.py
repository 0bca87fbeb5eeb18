"""Resuming: a run killed with SIGKILL at any point ends with the same weights, bit for bit.

The training runs in subprocesses (tests/train/train_resume_worker.py): a reference run
goes uninterrupted; each other run is killed with ``kill -9`` at a chosen batch (or in the
middle of a checkpoint write), then restarted with ``resume=True`` and run to the end.
Its final weights must equal the reference's exactly (``np.array_equal``), and so must its
history. The model has two Dropout layers, BatchNorm, Adam, a StepLR schedule and early
stopping with best-weight restoration, so every piece of saved state matters.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.train import (
    EarlyStopping,
    GradientMonitor,
    ModelCheckpoint,
    TrainingError,
    fit,
    load_checkpoint,
)

WORKER = Path(__file__).with_name("train_resume_worker.py")
BATCHES_PER_EPOCH = 10  # 200 samples / batch size 20
EPOCHS = 6


def _start(ckpt: Path, out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(WORKER), str(ckpt), str(out), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 600.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text():
            return path.read_text()
        if proc.poll() is not None:
            raise AssertionError(f"worker ended early: {proc.communicate()[1].decode()}")
        time.sleep(0.02)
    proc.kill()
    raise AssertionError("worker never reached its pause point")


def _finish(proc: subprocess.Popen) -> None:
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()


def _load(out: Path) -> tuple[dict, list]:
    with np.load(out) as f:
        weights = {k: f[k] for k in f.files if k != "history"}
        history = json.loads(str(f["history"]))
    return weights, history


def test_sigkill_at_any_point_then_resume_gives_identical_weights(tmp_path):
    rng = np.random.default_rng(2024)
    total = BATCHES_PER_EPOCH * EPOCHS
    kill_points = [
        ("--pause-at", 4),  # in the first epoch: no checkpoint yet, starts afresh
        ("--pause-at", int(rng.integers(11, 20))),  # in the 2nd epoch
        ("--pause-at", 3 * BATCHES_PER_EPOCH),  # last batch of epoch 3, before its checkpoint
        ("--pause-at", int(rng.integers(41, total))),  # late in the run
        ("--pause-in-replace", 3),  # during the 3rd checkpoint write (temp file complete)
    ]
    reference = _start(tmp_path / "ref", tmp_path / "ref.npz")
    killed = []
    for i, (flag, k) in enumerate(kill_points):
        sig = tmp_path / f"signal{i}"
        proc = _start(tmp_path / f"run{i}", tmp_path / f"run{i}.npz", flag, str(k),
                      "--signal", str(sig))
        killed.append((proc, sig))
    for i, (proc, sig) in enumerate(killed):
        where = _wait_for(sig, proc)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL
        assert not (tmp_path / f"run{i}.npz").exists(), where
    # the kill inside the write left the temp file, and the previous checkpoint intact
    leftovers = [p.name for p in (tmp_path / "run4").iterdir()]
    assert "last.safetensors" in leftovers and any(n.endswith(".tmp") for n in leftovers)
    assert load_checkpoint(tmp_path / "run4" / "last.safetensors")["epoch"] == 2
    resumed = [_start(tmp_path / f"run{i}", tmp_path / f"run{i}.npz")
               for i in range(len(kill_points))]
    _finish(reference)
    ref_weights, ref_history = _load(tmp_path / "ref.npz")
    assert len(ref_history) == EPOCHS
    assert [r["lr"] for r in ref_history] == [0.01, 0.01, 0.005, 0.005, 0.0025, 0.0025]
    for i, proc in enumerate(resumed):
        _finish(proc)
        weights, history = _load(tmp_path / f"run{i}.npz")
        assert weights.keys() == ref_weights.keys()
        for name, value in ref_weights.items():
            assert np.array_equal(weights[name], value), (kill_points[i], name)
        assert history == ref_history, kill_points[i]
        assert not any(p.name.endswith(".tmp") for p in (tmp_path / f"run{i}").iterdir())


# ----------------------------------------------------------------- in-process resuming
def _setup(dropout_seed=5):
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 12, seed=0), nn.ReLU(), nn.Dropout(0.25, seed=dropout_seed),
                          nn.Linear(12, 2, seed=1))
    opt = optim.Adam(model.parameters(), lr=0.02)
    sched = optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=0, threshold=0.1)
    return model, opt, sched


def _data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(150, 3))
    y = (X[:, 0] * X[:, 1] > 0).astype(np.int64)
    return (X[:100], y[:100]), (X[100:], y[100:])


def _run(ckpt, epochs, **kw):
    model, opt, sched = _setup()
    train, dev = _data()
    h = fit(model, "cross_entropy", opt, train, dev, epochs=epochs, batch_size=16, seed=9,
            scheduler=sched, callbacks=[GradientMonitor(warn=False)], checkpoint_dir=ckpt,
            progress=False, **kw)
    return model, opt, h


def test_resume_extends_a_finished_run_exactly(tmp_path):
    full_model, full_opt, full_h = _run(tmp_path / "a", 8)
    _run(tmp_path / "b", 5)
    model, opt, h = _run(tmp_path / "b", 8, resume=True)  # continues with epochs 6–8
    for a, b in zip(full_model.parameters(), model.parameters()):
        assert np.array_equal(a.data, b.data)
    assert [r["lr"] for r in h.records] == [r["lr"] for r in full_h.records]
    assert len({r["lr"] for r in h.records}) > 1  # the plateau schedule did act
    assert h.grad_norms == full_h.grad_norms
    assert [r["dev_loss"] for r in h.records] == [r["dev_loss"] for r in full_h.records]
    assert opt.state_dict()["param_groups"] == full_opt.state_dict()["param_groups"]


def test_resume_true_without_a_checkpoint_starts_afresh(tmp_path):
    a, _, _ = _run(tmp_path / "a", 3, resume=True)
    b, _, _ = _run(tmp_path / "b", 3)
    assert all(np.array_equal(p.data, q.data) for p, q in zip(a.parameters(), b.parameters()))


def test_checkpoint_holds_everything(tmp_path):
    _run(tmp_path, 2)
    state = load_checkpoint(tmp_path / "last.safetensors")
    assert state["epoch"] == 2 and len(state["history"]["records"]) == 2
    assert set(state) >= {"model", "optimizer", "callbacks", "loader", "generators",
                          "global_rng", "history"}
    assert list(state["generators"]) == ["2:_gen"]  # the Dropout layer's generator
    assert [c["type"] for c in state["callbacks"]] == [
        "LRSchedulerCallback", "GradientMonitor", "ModelCheckpoint"]
    assert state["callbacks"][0]["state"]["scheduler"]["last_epoch"] == 2
    assert state["optimizer"]["state"][0]["step"] == 2 * 7  # 100 samples / 16 → 7 batches


def test_resume_refuses_a_checkpoint_that_does_not_fit(tmp_path):
    _run(tmp_path, 2)
    model, opt, sched = _setup()
    train, dev = _data()
    with pytest.raises(TrainingError, match="written for 100 training and 50 dev samples"):
        fit(model, "cross_entropy", opt, (train[0][:90], train[1][:90]), dev, epochs=3,
            scheduler=sched, callbacks=[GradientMonitor(warn=False)], checkpoint_dir=tmp_path,
            resume=True, progress=False)
    with pytest.raises(TrainingError, match="has callbacks"):
        fit(model, "cross_entropy", opt, train, dev, epochs=3, checkpoint_dir=tmp_path,
            resume=True, progress=False)
    other = nn.Sequential(nn.Linear(3, 4, seed=0), nn.ReLU(), nn.Dropout(0.25, seed=1),
                          nn.Linear(4, 2, seed=1))
    opt = optim.Adam(other.parameters())
    with pytest.raises(TrainingError, match="does not fit this model"):
        fit(other, "cross_entropy", opt, train, dev, epochs=3,
            scheduler=optim.lr_scheduler.ReduceLROnPlateau(opt),
            callbacks=[GradientMonitor(warn=False)], checkpoint_dir=tmp_path, resume=True,
            progress=False)


def test_resume_from_an_explicit_path(tmp_path):
    _run(tmp_path / "a", 4)
    ref, _, _ = _run(tmp_path / "ref", 6)
    model, _, h = _run(tmp_path / "b", 6, resume=tmp_path / "a" / "last.safetensors")
    assert len(h) == 6
    assert all(np.array_equal(p.data, q.data) for p, q in zip(ref.parameters(), model.parameters()))
    with pytest.raises(FileNotFoundError, match="no checkpoint file"):
        _run(tmp_path / "c", 6, resume=tmp_path / "nothing.safetensors")


def test_early_stopped_run_resumes_to_the_same_end(tmp_path):
    def run(epochs, resume=False):
        model, opt, _ = _setup()
        train, dev = _data()
        es = EarlyStopping(patience=2)
        h = fit(model, "cross_entropy", opt, train, dev, epochs=epochs, batch_size=16, seed=9,
                callbacks=[es, ModelCheckpoint(tmp_path / str(epochs), every=1)], resume=resume,
                progress=False)
        return model, h

    ref, h_ref = run(60)
    assert h_ref.stopped_epoch is not None and len(h_ref) < 60
    again, h_again = run(60, resume=True)  # resuming a finished run trains no further
    assert len(h_again) == len(h_ref)
    assert all(np.array_equal(p.data, q.data) for p, q in zip(ref.parameters(),
                                                              again.parameters()))
