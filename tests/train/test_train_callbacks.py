"""Callbacks: early stopping, schedules, gradient monitoring, checkpoints, non-finite loss."""

import math
import warnings

import numpy as np
import pytest

from chainrule import nn, optim
from chainrule.train import (
    Callback,
    EarlyStopping,
    GradientMonitor,
    LRSchedulerCallback,
    ModelCheckpoint,
    NonFiniteLossError,
    TrainingError,
    evaluate,
    fit,
    load_checkpoint,
)


def _overfit_data():
    """Few noisy samples, many hidden units: the dev loss turns up after a while."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(80, 5))
    y = (X[:, 0] + rng.normal(scale=1.0, size=80) > 0).astype(np.int64)
    return (X[:40], y[:40]), (X[40:], y[40:])


def _big_mlp():
    return nn.Sequential(nn.Linear(5, 64, seed=0), nn.ReLU(), nn.Linear(64, 2, seed=1))


def test_early_stopping_restores_the_best_dev_loss_weights():
    train, dev = _overfit_data()
    model = _big_mlp()
    es = EarlyStopping(patience=5)
    h = fit(model, "cross_entropy", optim.Adam(model.parameters(), lr=0.01), train, dev,
            epochs=300, batch_size=8, seed=0, callbacks=[es], progress=False)
    dev_losses = h.column("dev_loss")
    best = int(np.argmin(dev_losses))
    assert h.stopped_epoch == len(h) < 300  # it did stop early …
    assert len(h) == best + 1 + 5  # … `patience` epochs after the best one
    assert es.best_epoch == h.best_epoch("dev_loss") == best + 1
    # evaluating the restored model on dev gives the minimum dev loss of the history
    assert evaluate(model, "cross_entropy", dev)["loss"] == dev_losses.min()
    assert dev_losses[-1] > dev_losses.min()


def test_early_stopping_without_restore_keeps_the_last_weights():
    train, dev = _overfit_data()
    model = _big_mlp()
    h = fit(model, "cross_entropy", optim.Adam(model.parameters(), lr=0.01), train, dev,
            epochs=300, batch_size=8, seed=0, progress=False,
            callbacks=[EarlyStopping(patience=5, restore_best=False)])
    assert evaluate(model, "cross_entropy", dev)["loss"] == h.records[-1]["dev_loss"]


def test_early_stopping_on_accuracy_and_min_delta():
    train, dev = _overfit_data()
    model = _big_mlp()
    es = EarlyStopping("dev_accuracy", patience=3, min_delta=0.5)  # nothing improves by 0.5
    h = fit(model, "cross_entropy", optim.Adam(model.parameters(), lr=0.01), train, dev,
            epochs=50, seed=0, callbacks=[es], progress=False)
    assert es.mode == "max" and es.best_epoch == 1 and len(h) == 4


def test_early_stopping_arguments():
    with pytest.raises(ValueError, match="patience must be an int >= 1, got 0"):
        EarlyStopping(patience=0)
    with pytest.raises(ValueError, match="min_delta must be a finite number >= 0, got -1"):
        EarlyStopping(min_delta=-1)
    with pytest.raises(ValueError, match="mode must be 'min', 'max' or 'auto'"):
        EarlyStopping(mode="best")
    train, dev = _overfit_data()
    model = _big_mlp()
    with pytest.raises(ValueError, match="monitor='dev_f1' is not in the epoch's record"):
        fit(model, "cross_entropy", "sgd", train, dev, epochs=2,
            callbacks=[EarlyStopping("dev_f1")], progress=False)


def test_callback_hooks_run_in_order():
    events = []

    class Recorder(Callback):
        def on_train_begin(self, trainer):
            events.append("train_begin")

        def on_epoch_begin(self, trainer, epoch):
            events.append(f"epoch_begin {epoch}")

        def on_after_backward(self, trainer):
            assert all(p.grad is not None for p in trainer.model.parameters())
            events.append(f"backward {trainer.epoch}.{trainer.batch}")

        def on_batch_end(self, trainer, batch, loss):
            assert math.isfinite(loss)
            events.append(f"batch_end {trainer.epoch}.{batch}")

        def on_epoch_end(self, trainer, epoch, logs):
            assert trainer.history.records[-1] is not logs or logs["epoch"] == epoch
            events.append(f"epoch_end {epoch}")

        def on_train_end(self, trainer):
            events.append("train_end")

    train, _ = _overfit_data()
    fit(_big_mlp(), "cross_entropy", "sgd", train, epochs=2, batch_size=20,
        callbacks=[Recorder()], progress=False)
    assert events == [
        "train_begin",
        "epoch_begin 1", "backward 1.1", "batch_end 1.1", "backward 1.2", "batch_end 1.2",
        "epoch_end 1",
        "epoch_begin 2", "backward 2.1", "batch_end 2.1", "backward 2.2", "batch_end 2.2",
        "epoch_end 2",
        "train_end",
    ]


def test_scheduler_argument_steps_per_epoch_and_lr_column_records_it():
    train, _ = _overfit_data()
    model = _big_mlp()
    opt = optim.SGD(model.parameters(), lr=0.1)
    h = fit(model, "cross_entropy", opt, train, epochs=5, seed=0, progress=False,
            scheduler=optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.1))
    np.testing.assert_allclose(h.column("lr"), [0.1, 0.1, 0.01, 0.01, 0.001])


def test_reduce_lr_on_plateau_gets_the_monitored_value():
    train, dev = _overfit_data()
    model = _big_mlp()
    opt = optim.Adam(model.parameters(), lr=0.01)
    sched = optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=1)
    h = fit(model, "cross_entropy", opt, train, dev, epochs=40, batch_size=8, seed=0,
            scheduler=sched, progress=False)
    # replay the rule on the recorded dev losses: the lr column must follow it
    lr, best, bad, expected = 0.01, math.inf, 0, []
    for loss in h.column("dev_loss"):
        expected.append(lr)
        if loss < best * (1 - 1e-4):
            best, bad = loss, 0
        else:
            bad += 1
        if bad > 1:
            lr, bad = lr * 0.5, 0
    assert h.column("lr").tolist() == expected
    assert expected[-1] < 0.01


def test_batch_interval_schedule():
    train, _ = _overfit_data()
    model = _big_mlp()
    opt = optim.SGD(model.parameters(), lr=1.0)
    cb = LRSchedulerCallback(optim.lr_scheduler.StepLR(opt, step_size=4, gamma=0.5),
                             interval="batch")
    h = fit(model, "cross_entropy", opt, train, epochs=3, batch_size=10, seed=0,
            callbacks=[cb], progress=False)  # 4 batches per epoch: halves once per epoch
    assert h.column("lr").tolist() == [1.0, 0.5, 0.25]
    with pytest.raises(ValueError, match="interval must be 'epoch' or 'batch'"):
        LRSchedulerCallback(cb.scheduler, interval="step")


def test_gradient_monitor_records_layers_and_warns_on_vanishing():
    train, _ = _overfit_data()
    model = nn.Sequential(nn.Linear(5, 8, seed=0), nn.ReLU(), nn.Linear(8, 2, seed=1))
    model[0].bias.data[:] = -100.0  # every ReLU is dead: no gradient reaches layer 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        h = fit(model, "cross_entropy", "sgd", train, epochs=2, seed=0,
                callbacks=[GradientMonitor()], progress=False)
    assert [str(w.message) for w in caught] == [
        f"GradientMonitor: vanishing gradient in layer '0' at epoch {e}: ‖g‖ = 0 < 1e-07"
        for e in (1, 2)
    ]
    assert [list(g) for g in h.grad_norms] == [["0", "2"], ["0", "2"]]
    assert h.grad_norm("0").tolist() == [0.0, 0.0]
    # layer 2 gets only its bias gradient (its inputs are all 0): ‖mean(softmax − onehot)‖
    assert np.all(h.grad_norm("2") > 0.01)


def test_gradient_monitor_warns_on_exploding_and_is_quiet_otherwise():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(32, 3))
    y = 1e5 * X[:, 0]  # enormous targets: enormous gradients
    model = nn.Sequential(nn.Linear(3, 4, seed=0), nn.Tanh(), nn.Linear(4, 1, seed=1))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        h = fit(model, "mse", optim.SGD(model.parameters(), lr=1e-12), (X, y), epochs=1,
                callbacks=[GradientMonitor()], progress=False)
    messages = [str(w.message) for w in caught]
    assert len(messages) == 2 and all(w.category is UserWarning for w in caught)
    for layer, msg in zip(("0", "2"), messages):
        assert msg.startswith(f"GradientMonitor: exploding gradient in layer '{layer}' at epoch 1")
        assert h.grad_norms[0][layer] > 1e3
    train, _ = _overfit_data()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit(_big_mlp(), "cross_entropy", "sgd", train, epochs=2,
            callbacks=[GradientMonitor()], progress=False)


def test_model_checkpoint_every_and_best(tmp_path):
    train, dev = _overfit_data()
    model = _big_mlp()

    class Spy(Callback):
        pass

    ckpt = ModelCheckpoint(tmp_path / "ck", every=2, monitor="dev_accuracy")
    h = fit(model, "cross_entropy", optim.Adam(model.parameters(), lr=0.01), train, dev,
            epochs=5, seed=0, callbacks=[ckpt, Spy()], progress=False)
    last = load_checkpoint(ckpt.last_path)
    best = load_checkpoint(ckpt.best_path)
    assert last["epoch"] == 5  # the final epoch is always saved
    assert [c["type"] for c in last["callbacks"]] == ["Spy", "ModelCheckpoint"]  # last
    assert best["epoch"] == h.best_epoch("dev_accuracy")
    assert sorted(p.name for p in (tmp_path / "ck").iterdir()) == [
        "best.safetensors", "last.safetensors"]
    for k, v in last["model"].items():
        np.testing.assert_array_equal(v, model.state_dict()[k])
    with pytest.raises(ValueError, match="every must be an int >= 1"):
        ModelCheckpoint(tmp_path, every=0)


def test_non_finite_loss_names_epoch_and_batch_and_keeps_the_checkpoint(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 3))
    y = X @ np.array([1.0, -2.0, 0.5])
    model = nn.Sequential(nn.Linear(3, 8, seed=0), nn.Tanh(), nn.Linear(8, 1, seed=1))
    opt = optim.SGD(model.parameters(), lr=0.01)
    # a sane rate for two epochs, then an absurd one (η = 1e28) from epoch 3 on
    sched = optim.lr_scheduler.LambdaLR(opt, lambda e: 1.0 if e < 2 else 1e30)
    with pytest.raises(NonFiniteLossError, match=r"loss became (inf|nan) at epoch 3, batch \d"
                       ) as info:
        fit(model, "mse", opt, (X, y), (X, y), epochs=5, batch_size=16, seed=0,
            scheduler=sched, checkpoint_dir=tmp_path, progress=False)
    assert isinstance(info.value, TrainingError) and isinstance(info.value, ValueError)
    assert isinstance(info.value, FloatingPointError)
    assert "last good checkpoint" in str(info.value) and "epoch 2" in str(info.value)
    state = load_checkpoint(tmp_path / "last.safetensors")
    assert state["epoch"] == 2
    fresh = nn.Sequential(nn.Linear(3, 8, seed=5), nn.Tanh(), nn.Linear(8, 1, seed=6))
    fresh.load_state_dict(state["model"])
    assert all(np.isfinite(p.data).all() for p in fresh.parameters())
    dev_loss = evaluate(fresh, "mse", (X, y))["loss"]
    assert dev_loss == state["history"]["records"][-1]["dev_loss"]
