"""The one training step (train.TrainingStep), the schedule stepper and the MLP builder."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.nn import functional as F
from chainrule.train import TrainingStep, fit, step_schedule


def _linear_problem(seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(6, 3))
    Y = rng.normal(size=(6, 2))
    model = nn.Linear(3, 2, seed=seed, dtype=np.float64)
    return X, Y, model


def test_one_sgd_step_is_the_closed_form_with_both_penalties():
    X, Y, model = _linear_problem()
    W0, b0 = model.weight.data.copy(), model.bias.data.copy()
    lr, l1, l2 = 0.1, 0.01, 0.2
    step = TrainingStep(model, F.mse_loss, optim.SGD(model.parameters(), lr=lr), l1=l1, l2=l2)
    r = step(X, Y)
    # ŷ = X Wᵀ + b;  L = mean((ŷ − Y)²) over the n·k = 12 entries
    E = X @ W0.T + b0 - Y
    L = np.mean(E**2)
    omega = l1 * np.abs(W0).sum() + l2 / 2 * (W0**2).sum()  # biases are not penalised
    assert r.loss == pytest.approx(L, rel=1e-12)
    assert r.objective == pytest.approx(L + omega, rel=1e-12)
    assert r.output is None
    # ∂L/∂W = (2/12)·Eᵀ X,  ∂Ω/∂W = λ₁ sign(W) + λ₂ W;  ∂L/∂b = (2/12)·Σ_rows E
    gW = 2 / 12 * E.T @ X + l1 * np.sign(W0) + l2 * W0
    gb = 2 / 12 * E.sum(axis=0)
    np.testing.assert_allclose(model.weight.data, W0 - lr * gW, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(model.bias.data, b0 - lr * gb, rtol=1e-12, atol=1e-15)


def test_sample_weights_reach_the_loss_and_scale_the_penalty():
    X, Y, model = _linear_problem(1)
    W0, b0 = model.weight.data.copy(), model.bias.data.copy()
    w = np.array([1.0, 2.0, 0.5, 0.0, 3.0, 1.5])  # Σw = 8

    def weighted_mse(out, target, sw=None):
        per = ((out - target) ** 2).mean(axis=1)
        return (per * sw).sum() / sw.sum()

    step = TrainingStep(model, weighted_mse, optim.SGD(model.parameters(), lr=0.1),
                        l2=0.4, penalty_per_weight=True)
    r = step(X, Y, w)
    per = ((X @ W0.T + b0 - Y) ** 2).mean(axis=1)
    L = per @ w / 8.0
    assert r.loss == pytest.approx(L, rel=1e-12)
    # Ω/Σw = (0.4/2)·‖W‖² / 8
    assert r.objective == pytest.approx(L + 0.2 * (W0**2).sum() / 8.0, rel=1e-12)
    # weights of one: Σw = n = 6 (what the step divides by when given no weights)
    W1 = model.weight.data.copy()
    r = step(X, Y, np.ones(6))
    assert r.objective - r.loss == pytest.approx(0.2 * (W1**2).sum() / 6.0, rel=1e-12)


def test_weighted_loss_without_weights_argument():
    X, Y, model = _linear_problem(2)
    step = TrainingStep(model, F.mse_loss, optim.SGD(model.parameters(), lr=0.1))
    with pytest.raises(TypeError):
        step(X, Y, np.ones(6))  # F.mse_loss takes no third argument: the user's loss must


def test_monitor_sees_the_gradient_before_clipping():
    X, Y, model = _linear_problem(3)
    W0 = model.weight.data.copy()
    b0 = model.bias.data.copy()
    seen = []

    def monitor():
        seen.append(np.sqrt(sum((p.grad.data**2).sum() for p in model.parameters())))

    step = TrainingStep(model, F.mse_loss, optim.SGD(model.parameters(), lr=1.0),
                        clip_grad_norm=0.05, monitor=monitor)
    step(X, Y)
    E = X @ W0.T + b0 - Y
    g_norm = np.sqrt(((2 / 12 * E.T @ X) ** 2).sum() + ((2 / 12 * E.sum(axis=0)) ** 2).sum())
    assert seen == [pytest.approx(g_norm, rel=1e-12)] and g_norm > 0.05
    # with lr = 1 the update is the clipped gradient: its norm is max_norm (up to the 1e-6
    # of clip_grad_norm_'s denominator)
    delta = np.sqrt(((model.weight.data - W0) ** 2).sum() + ((model.bias.data - b0) ** 2).sum())
    assert delta == pytest.approx(0.05 * g_norm / (g_norm + 1e-6), rel=1e-9)


def test_keep_output_returns_the_training_mode_output():
    X, Y, model = _linear_problem(4)
    W0, b0 = model.weight.data.copy(), model.bias.data.copy()
    step = TrainingStep(model, "mse", optim.SGD(model.parameters(), lr=0.1), keep_output=True)
    r = step(X, Y)
    np.testing.assert_allclose(r.output, X @ W0.T + b0, rtol=1e-12)


def test_compile_modes_and_bad_arguments():
    X, Y, model = _linear_problem(5)
    opt = optim.SGD(model.parameters(), lr=0.1)
    step = TrainingStep(model, F.mse_loss, opt, compile=False)
    step(X, Y)
    assert step.compiled is False and "compile=False" in step.reason
    with pytest.raises(ValueError, match="compile must be 'auto', True or False, got 'yes'"):
        TrainingStep(model, F.mse_loss, opt, compile="yes")
    with pytest.raises(ValueError, match="clip_grad_norm must be > 0"):
        TrainingStep(model, F.mse_loss, opt, clip_grad_norm=0)
    with pytest.raises(ValueError, match="l2"):
        TrainingStep(model, F.mse_loss, opt, l2=-1.0)
    with pytest.raises(TypeError, match="optimizer must have step"):
        TrainingStep(model, F.mse_loss, object())
    with pytest.raises(TypeError, match="loss must be"):
        TrainingStep(model, 3, opt)
    with pytest.raises(ValueError, match="the loss must return a scalar"):
        TrainingStep(model, lambda o, t: (o - t) ** 2, opt)(X, Y)


def test_fit_reports_how_the_step_ran():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    y = (X[:, 0] > 0).astype(int)
    model = nn.mlp([3, 8, 2], seed=0, dtype=np.float64)
    h = fit(model, "cross_entropy", optim.SGD(model.parameters(), lr=0.1), (X, y), epochs=2,
            batch_size=8, seed=0, progress=False, compile=False)
    assert h.compiled is False and "compile=False" in h.compile_reason
    with pytest.raises(ValueError, match="compile must be 'auto', True or False"):
        fit(model, "cross_entropy", "sgd", (X, y), compile="always")


@pytest.mark.parametrize("clip", [None, 1.0])
def test_a_finished_fit_is_freed_by_reference_counting(clip):
    # no reference cycle among the step, its compiled engine and its programs: when the
    # caller lets go of the model and optimiser, their arrays (and the replay's buffers) are
    # freed at once, not whenever the garbage collector next runs, so the next run reuses
    # that memory instead of taking fresh pages from the system
    import gc
    import weakref

    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 3))
    y = (X[:, 0] > 0).astype(int)
    model = nn.mlp([3, 8, 2], seed=0, dtype=np.float64)
    opt = optim.SGD(model.parameters(), lr=0.1)
    h = fit(model, "cross_entropy", opt, (X, y), epochs=2, batch_size=8, seed=0,
            progress=False, clip_grad_norm=clip)
    assert h.compiled
    refs = [weakref.ref(o) for o in (model, opt, *model.parameters())]
    gc.disable()
    try:
        del model, opt, h
        assert [r() for r in refs] == [None] * len(refs)
    finally:
        gc.enable()


def test_step_schedule_passes_the_monitored_value_to_plateau_only():
    p = cr.tensor([1.0], requires_grad=True)
    opt = optim.SGD([p], lr=1.0)
    plateau = optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=0)
    step_schedule(plateau, 1.0)  # best = 1
    step_schedule(plateau, 1.5)  # no improvement, patience 0: η = 1·0.5
    assert opt.param_groups[0]["lr"] == 0.5
    with pytest.raises(ValueError, match="monitored value"):
        step_schedule(plateau)
    opt2 = optim.SGD([p], lr=1.0)
    steps = optim.lr_scheduler.StepLR(opt2, step_size=1, gamma=0.1)
    step_schedule(steps, 123.0)  # ignored: StepLR steps on its own count, η = 1·0.1
    assert opt2.param_groups[0]["lr"] == pytest.approx(0.1)


# ------------------------------------------------------------------------------ nn.mlp
def test_mlp_with_an_int_seed_seeds_each_layer_by_position():
    model = nn.mlp([4, 6, 6, 3], "tanh", init="xavier", dropout=0.25, residual=True, seed=2)
    # hidden 1 (4→6) is plain, hidden 2 (6→6) is a residual block; output 6→3
    assert [type(m).__name__ for m in model] == ["Linear", "Tanh", "Dropout", "Residual",
                                                 "Linear"]
    np.testing.assert_array_equal(model[0].weight.data,
                                  nn.Linear(4, 6, init="xavier", seed=2000).weight.data)
    inner = model[3].module  # Linear(seed 2001) → Tanh → Dropout(seed 2501)
    np.testing.assert_array_equal(inner[0].weight.data,
                                  nn.Linear(6, 6, init="xavier", seed=2001).weight.data)
    np.testing.assert_array_equal(model[4].weight.data,
                                  nn.Linear(6, 3, init="xavier", seed=2002).weight.data)
    x = cr.ones(1, 6)
    np.testing.assert_array_equal(inner[2](x).data, nn.Dropout(0.25, seed=2501)(x).data)


def test_mlp_with_a_generator_draws_dropout_first_then_the_layers():
    model = nn.mlp([3, 5, 2], dropout=0.5, batch_norm=True, seed=np.random.default_rng(7),
                   dtype=np.float64)
    assert [type(m).__name__ for m in model] == ["Linear", "BatchNorm1d", "ReLU", "Dropout",
                                                 "Linear"]
    g = np.random.default_rng(7)
    drop = np.random.default_rng(g.integers(2**63))
    first = nn.Linear(3, 5, seed=g, dtype=np.float64)
    last = nn.Linear(5, 2, seed=g, dtype=np.float64)
    np.testing.assert_array_equal(model[0].weight.data, first.weight.data)
    np.testing.assert_array_equal(model[4].weight.data, last.weight.data)
    assert model[3]._gen.bit_generator.state == drop.bit_generator.state
    assert model[0].weight.dtype == np.float64 and model[1].weight.dtype == np.float64


def test_mlp_rejects_bad_arguments():
    with pytest.raises(ValueError, match="positive ints"):
        nn.mlp([3, 0, 2])
    with pytest.raises(ValueError, match="input and output widths"):
        nn.mlp([3])
    with pytest.raises(ValueError, match=r"dropout must be in \[0, 1\), got 1.0"):
        nn.mlp([3, 2], dropout=1.0)
    with pytest.raises(ValueError, match="unknown activation"):
        nn.mlp([3, 4, 2], "nope")
    with pytest.raises(TypeError, match="seed"):
        nn.mlp([3, 2], seed="0")


# ---------------------------------------------------------------------------- Patience
def test_patience_keras_rule_and_scikit_learn_rule():
    from chainrule.train import Patience

    values = [1.0, 0.95, 0.949, 0.9, 0.9, 0.9]
    # EarlyStopping's rule, min_delta 0.01: improves iff v < v* − 0.01
    # 1.0 (first) ✓, 0.95 < 0.99 ✓, 0.949 < 0.94 ✗ (v* stays 0.95), 0.9 < 0.94 ✓, 0.9 ✗, 0.9 ✗
    keras = Patience("min", 0.01, patience=2)
    stops = [keras.update(v, epoch=e) for e, v in enumerate(values, start=1)]
    assert stops == [False, False, False, False, False, True]
    assert (keras.best, keras.best_epoch, keras.wait) == (0.9, 4, 2)
    # scikit-learn's rule, tol 0.01: improves iff v ≤ v* − 0.01, and v* follows every
    # strictly smaller value: 0.949 does not improve but becomes v*; then 0.9 ≤ 0.939 ✓;
    # the repeated 0.9 neither improves nor moves v* (its epoch stays 4)
    sk = Patience("min", 0.01, patience=3, inclusive=True, track_any=True)
    stops = [sk.update(v, epoch=e) for e, v in enumerate(values, start=1)]
    assert stops == [False] * 6 and (sk.best, sk.best_epoch, sk.wait) == (0.9, 4, 2)
    # inclusive: exactly v* + tol counts (0.75 = 0.5 + 0.25, exact in binary)
    edge = Patience("max", 0.25, patience=1, inclusive=True, best=0.5)
    assert edge.improved(0.75) and not Patience("max", 0.25, 1, best=0.5).improved(0.75)
    assert not edge.improved(float("nan"))


# ------------------------------------------------------------------- compiled by default
def _fit_digits_like(compile, seed=0):
    from chainrule.train import GradientMonitor

    rng = np.random.default_rng(seed)
    X = rng.normal(size=(120, 6))
    y = (X[:, 0] - X[:, 2] > 0).astype(int)
    model = nn.mlp([6, 16, 16, 2], dropout=0.2, batch_norm=True, residual=True, seed=seed,
                   dtype=np.float64)
    h = fit(model, "cross_entropy", optim.Adam(model.parameters(), lr=1e-2, weight_decay=1e-4),
            (X[:90], y[:90]), (X[90:], y[90:]), epochs=4, batch_size=16, seed=seed, l1=1e-4,
            l2=1e-3, clip_grad_norm=0.5, callbacks=[GradientMonitor(warn=False)],
            progress=False, compile=compile)
    return h, model


def test_fit_compiles_by_default_and_equals_the_eager_fit():
    # dropout (masks from the layer's generator), BatchNorm1d running statistics, a residual
    # block, both penalties, clipping, gradient monitoring and Adam's weight decay
    h_c, m_c = _fit_digits_like("auto")
    h_e, m_e = _fit_digits_like(False)
    assert h_c.compiled is True and h_c.compile_reason is None
    assert h_e.compiled is False and h_e.compile_reason == "compile=False"
    for rc, re_ in zip(h_c.records, h_e.records):
        for k in ("train_loss", "dev_loss", "train_accuracy", "dev_accuracy"):
            assert rc[k] == pytest.approx(re_[k], rel=1e-12, abs=1e-12), k
    for gc, ge in zip(h_c.grad_norms, h_e.grad_norms):
        assert gc == pytest.approx(ge, rel=1e-12)
    for (k, a), b in zip(m_c.state_dict().items(), m_e.state_dict().values()):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12, err_msg=k)


class _PlainSGD:
    """An optimiser outside the update protocol: step() and zero_grad() only."""

    def __init__(self, params, lr):
        self.params, self.lr = list(params), lr
        self.param_groups = [{"params": self.params, "lr": lr}]

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    def step(self):
        for p in self.params:
            p.data -= self.lr * p.grad.data

    def state_dict(self):
        return {}

    def load_state_dict(self, state):
        pass


def test_compile_true_raises_with_the_reason_and_auto_says_why():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    y = X @ np.array([1.0, -1.0, 0.5])
    model = nn.Linear(3, 1, seed=0, dtype=np.float64)
    with pytest.raises(ValueError, match=r"compile=True: .*optimizer"):
        fit(model, "mse", _PlainSGD(model.parameters(), 0.1), (X, y), epochs=1,
            batch_size=8, seed=0, progress=False, compile=True)
    h = fit(model, "mse", _PlainSGD(model.parameters(), 0.1), (X, y), epochs=3,
            batch_size=8, seed=0, progress=False)
    assert h.compiled is False and "optimizer" in h.compile_reason
    assert h.last["train_loss"] < h.records[0]["train_loss"]  # and it trained eagerly


def test_the_estimators_train_through_the_compiled_step():
    from chainrule.sklearn import MLPClassifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(150, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    w = rng.uniform(0.5, 2.0, size=150)
    for sw in (None, w):  # weights are an input of the compiled step, not a constant
        clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=5, batch_size=32,
                            random_state=0, dtype="float64")
        with pytest.warns(Warning):  # ConvergenceWarning after 5 epochs
            clf.fit(X, y, sample_weight=sw)
        step = clf._step_cache[1]
        assert step.compiled is True, step.reason
