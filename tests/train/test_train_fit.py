"""fit / evaluate / predict: records, determinism, penalties and argument checks."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import data, nn, optim
from chainrule.train import EarlyStopping, History, evaluate, fit, predict


def _blobs(n=120, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(np.int64)
    return X, y


def _mlp(seed=0, out=2, dtype=np.float32):
    return nn.Sequential(
        nn.Linear(2, 16, seed=seed, dtype=dtype), nn.Tanh(), nn.Linear(16, out, seed=seed + 1,
                                                                       dtype=dtype)
    )


def _fit(model=None, **kw):
    X, y = _blobs()
    model = model or _mlp()
    args = dict(epochs=5, batch_size=16, seed=0, progress=False)
    args.update(kw)
    opt = optim.Adam(model.parameters(), lr=0.02)
    return model, fit(model, "cross_entropy", opt, (X[:90], y[:90]), (X[90:], y[90:]), **args)


def test_fit_records_every_epoch_and_learns():
    model, h = _fit(epochs=8)
    assert isinstance(h, History) and len(h) == 8
    assert list(h.records[0]) == ["epoch", "train_loss", "train_accuracy", "dev_loss",
                                  "dev_accuracy", "lr", "time"]
    assert h.column("epoch").tolist() == list(range(1, 9))
    assert np.all(h.column("lr") == 0.02)
    assert h.column("train_loss")[-1] < 0.5 * h.column("train_loss")[0]
    assert h.records[-1]["dev_accuracy"] >= 0.9
    # dev_loss is exactly what evaluate() reports for the final model
    X, y = _blobs()
    assert evaluate(model, "cross_entropy", (X[90:], y[90:]))["loss"] == h.records[-1]["dev_loss"]
    assert not model.training  # left in eval mode


def test_train_loss_is_the_batch_size_weighted_mean():
    # with lr = 0 the model never changes, so the epoch's train loss is the loss of the data
    X, y = _blobs()
    model = _mlp()
    opt = optim.SGD(model.parameters(), lr=1e-30)
    h = fit(model, "cross_entropy", opt, (X[:90], y[:90]), epochs=1, batch_size=16, seed=0,
            progress=False)
    full = evaluate(model, "cross_entropy", (X[:90], y[:90]))
    assert h.records[0]["train_loss"] == pytest.approx(full["loss"], rel=1e-6)
    assert h.records[0]["train_accuracy"] == full["accuracy"]
    assert "dev_loss" not in h.records[0]


def test_same_seed_same_weights_other_seed_different():
    a, _ = _fit(seed=3)
    b, _ = _fit(seed=3)
    c, _ = _fit(seed=4)
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values()):
        assert np.array_equal(va, vb), k
    assert not all(np.array_equal(va, vc) for va, vc in
                   zip(a.state_dict().values(), c.state_dict().values()))


def test_regression_reshapes_targets_and_reports_rmse_r2():
    rng = np.random.default_rng(1)
    X = rng.uniform(-1, 1, size=(200, 2))
    y = X[:, 0] - 2 * X[:, 1] + 0.5  # shape (n,); the model outputs (n, 1)
    model = _mlp(out=1, dtype=np.float64)
    h = fit(model, "mse", optim.Adam(model.parameters(), lr=0.02), (X[:150], y[:150]),
            (X[150:], y[150:]), epochs=40, batch_size=32, seed=0, progress=False)
    rec = h.records[-1]
    assert {"train_rmse", "train_r2", "dev_rmse", "dev_r2"} <= set(rec)
    assert rec["dev_rmse"] ** 2 == pytest.approx(rec["dev_loss"])  # rmse = √mse
    assert rec["dev_r2"] > 0.98
    assert predict(model, X[150:]).shape == (50, 1)


def test_l2_penalty_gives_smaller_weights():
    norms = []
    for l2 in (0.0, 0.1):
        model, _ = _fit(epochs=10, l2=l2)
        norms.append(sum(float((p.data ** 2).sum()) for p in nn.weight_parameters(model)))
    assert norms[1] < 0.7 * norms[0]


def test_l1_penalty_gives_sparser_weights():
    small = []
    for l1 in (0.0, 0.01):
        model, _ = _fit(epochs=20, l1=l1)
        w = np.concatenate([p.data.ravel() for p in nn.weight_parameters(model)])
        small.append(np.mean(np.abs(w) < 1e-2))
    assert small[1] > small[0] + 0.1


def test_loss_accepts_names_modules_and_functions():
    X, y = _blobs()
    results = []
    for loss in ("ce", nn.CrossEntropyLoss(), nn.functional.cross_entropy):
        model = _mlp()
        h = fit(model, loss, optim.SGD(model.parameters(), lr=0.1), (X, y), epochs=2, seed=0,
                progress=False)
        results.append(h.column("train_loss"))
        assert "train_accuracy" in h.records[0]
    np.testing.assert_array_equal(results[0], results[1])
    np.testing.assert_array_equal(results[0], results[2])


def test_binary_cross_entropy_with_logits_and_optimizer_by_name():
    X, y = _blobs()
    model = _mlp(out=1)
    h = fit(model, "bce_with_logits", "adam", (X, y.astype(np.float32)), epochs=20, seed=0,
            progress=False)
    assert h.records[-1]["train_accuracy"] > 0.9


def test_dataloader_and_dataset_inputs():
    ds = data.load_dataset("moons", n=100, seed=0)
    model = _mlp()
    loader = data.DataLoader(ds.X, ds.y, batch_size=25, seed=1)
    h = fit(model, "cross_entropy", optim.Adam(model.parameters(), lr=0.01), loader, ds,
            epochs=3, progress=False)
    assert len(h) == 3 and loader.epoch == 3  # the loader's own batches were used


def test_progress_bar_prints_a_line_per_epoch(capsys):
    _fit(epochs=2, progress=True)
    err = capsys.readouterr().err
    assert "epoch 1/2" in err and "epoch 2/2" in err and "dev_loss" in err


def test_global_seed_makes_seed_none_repeatable():
    cr.manual_seed(11)
    a, _ = _fit(seed=None)
    cr.manual_seed(11)
    b, _ = _fit(seed=None)
    assert all(np.array_equal(x, y) for x, y in zip(a.state_dict().values(),
                                                     b.state_dict().values()))


# ------------------------------------------------------------------------- bad input
def _bad(**overrides):
    X, y = _blobs()
    model = _mlp()
    args = dict(model=model, loss="cross_entropy", optimizer=optim.SGD(model.parameters(), lr=0.1),
                train_data=(X, y), epochs=1, progress=False)
    args.update(overrides)
    return fit(**args)


def test_mismatched_lengths():
    X, y = _blobs()
    with pytest.raises(ValueError, match="train_data X has 120 samples but train_data y has 119"):
        _bad(train_data=(X, y[:-1]))
    with pytest.raises(ValueError, match="dev_data X has 10 samples but dev_data y has 9"):
        _bad(dev_data=(X[:10], y[:9]))


def test_nan_in_inputs_names_row_and_column():
    X, y = _blobs()
    X = X.copy()
    X[7, 1] = np.nan
    with pytest.raises(ValueError, match="train_data X contains NaN at row 7, column 1"):
        _bad(train_data=(X, y))
    ds = data.load_dataset("moons", n=20, seed=0)
    Xd = ds.X.copy()
    Xd[3, 0] = np.inf
    bad = data.Dataset(Xd, ds.y, "m", "classification", "", ("width", "height"), ("a", "b"))
    with pytest.raises(ValueError, match=r"inf at row 3, column 0 \('width'\)"):
        _bad(dev_data=bad)


def test_labels_out_of_range():
    X, y = _blobs()
    y = y.copy()
    y[4] = 2  # the model has 2 outputs: classes 0 and 1
    msg = r"contains label 2, which is not one of the classes \[0, 1\]"
    with pytest.raises(ValueError, match=msg):
        _bad(train_data=(X, y))
    y[4] = -1
    with pytest.raises(ValueError, match="label -1"):
        _bad(train_data=(X, y))


@pytest.mark.parametrize(
    "kw, exc, msg",
    [
        ({"epochs": 0}, ValueError, "epochs must be an int >= 1, got 0"),
        ({"epochs": 2.5}, TypeError, "epochs must be an int, got float 2.5"),
        ({"batch_size": 0}, ValueError, "batch_size must be an int >= 1, got 0"),
        ({"batch_size": "32"}, TypeError, "batch_size must be an int, got str"),
        ({"l2": -0.1}, ValueError, "l2 must be a finite number >= 0, got -0.1"),
        ({"loss": "hinge"}, ValueError, "unknown loss 'hinge'; valid names"),
        ({"optimizer": 3}, TypeError, "optimizer must be"),
        ({"train_data": (np.zeros((4, 2)),)}, ValueError, r"pair \(X, y\)"),
        ({"metrics": ["f1"]}, ValueError, "unknown metric 'f1'"),
        ({"callbacks": [EarlyStopping()]}, ValueError, "monitor='dev_loss' needs dev_data"),
        ({"resume": True}, ValueError, "resume=True needs checkpoint_dir"),
    ],
)
def test_bad_arguments(kw, exc, msg):
    with pytest.raises(exc, match=msg):
        _bad(**kw)


def test_regression_target_shape_must_match_outputs():
    X, _ = _blobs()
    model = _mlp(out=1)
    with pytest.raises(ValueError, match=r"y has shape \(120, 3\) but the model outputs"):
        fit(model, "mse", "sgd", (X, np.zeros((120, 3))), epochs=1, progress=False)


def test_l2_argument_is_half_lambda_squared_norm_like_weight_decay():
    # (λ/2)‖W‖² has gradient λW: fit(l2=λ) with plain SGD equals SGD(weight_decay=λ) on
    # the weights (the biases are not penalised, so give them no gradient difference: both
    # runs share everything else)
    X, y = _blobs()
    a = nn.Sequential(nn.Linear(2, 3, bias=False, seed=0, dtype=np.float64))
    b = nn.Sequential(nn.Linear(2, 3, bias=False, seed=0, dtype=np.float64))
    fit(a, "cross_entropy", optim.SGD(a.parameters(), lr=0.1), (X, y % 3), epochs=2,
        batch_size=40, seed=0, l2=0.5, progress=False)
    fit(b, "cross_entropy", optim.SGD(b.parameters(), lr=0.1, weight_decay=0.5), (X, y % 3),
        epochs=2, batch_size=40, seed=0, progress=False)
    np.testing.assert_allclose(a[0].weight.data, b[0].weight.data, rtol=1e-12)


def test_clip_grad_norm_caps_every_step():
    X, y = _blobs()
    model = _mlp(dtype=np.float64)
    before = np.concatenate([p.data.ravel() for p in model.parameters()])
    fit(model, "cross_entropy", optim.SGD(model.parameters(), lr=1.0), (X, y), epochs=1,
        batch_size=30, seed=0, clip_grad_norm=1e-3, progress=False)  # 4 steps
    after = np.concatenate([p.data.ravel() for p in model.parameters()])
    moved = np.linalg.norm(after - before)
    assert 1e-3 < moved <= 4 * 1e-3  # each step is at most lr · max_norm long
    with pytest.raises(ValueError, match="clip_grad_norm must be > 0"):
        _bad(clip_grad_norm=0)


def test_loss_must_be_a_scalar():
    with pytest.raises(ValueError, match=r"the loss must return a scalar .* got shape \(32,\)"):
        _bad(loss=nn.CrossEntropyLoss(reduction="none"))


def test_target_checks_for_other_losses():
    X, y = _blobs()
    with pytest.raises(ValueError, match=r"y has shape \(120,\) but the model outputs \(n, 2\); "
                                         "class indices must be an integer array"):
        _bad(train_data=(X, y.astype(np.float64)))
    with pytest.raises(ValueError, match=r"y contains 2\.0; binary_cross_entropy_with_logits "
                                         r"needs targets in \[0, 1\]"):
        fit(_mlp(out=1), "bce_with_logits", "sgd", (X, 2.0 * y), epochs=1, progress=False)

    def hinge(out, target):  # a loss of the user's own, with labels ±1
        return (1 - out[:, 1] * target).relu().mean()

    h = fit(_mlp(), hinge, "sgd", (X, 2 * y - 1), epochs=2, progress=False)
    assert len(h) == 2 and "train_accuracy" not in h.records[0]  # no default metric
