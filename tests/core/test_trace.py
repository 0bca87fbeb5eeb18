"""chainrule.trace.compile_step: the replayed step is the eager step, number for number."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, ops, optim
from chainrule.nn import functional as F
from chainrule.trace import compile_step

TOL = 1e-12  # float64; in practice the replay is bit-for-bit the eager step


def xent(out, y):
    return ops.SoftmaxCrossEntropy.apply(out, y.data if isinstance(y, cr.Tensor) else y)


def half_sse(out, y):
    return F.mse_loss(out, y, reduction="sum", half=True)


def higham(dtype=np.float64, seed=0):
    return nn.Sequential(
        nn.Linear(2, 2, seed=seed, dtype=dtype), nn.Sigmoid(),
        nn.Linear(2, 3, seed=seed + 1, dtype=dtype), nn.Sigmoid(),
        nn.Linear(3, 2, seed=seed + 2, dtype=dtype), nn.Sigmoid(),
    )


def relu_mlp(dtype=np.float64, seed=0, sizes=(5, 7, 6, 3), act=nn.ReLU):
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1], seed=seed + i, dtype=dtype))
        if i < len(sizes) - 2:
            layers.append(act())
    return nn.Sequential(*layers)


def batches(n, shape_x, n_classes=None, dtype=np.float64, seed=0, y_shape=None):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        x = rng.standard_normal(shape_x).astype(dtype)
        if n_classes is None:
            y = rng.random(y_shape).astype(dtype)
        else:
            y = rng.integers(0, n_classes, shape_x[0])
        out.append((x, y))
    return out


def run_both(make_model, make_opt, loss_fn, data, *, between=None):
    """Train two copies, one eagerly and one with compile_step; compare every loss, every
    gradient and the final parameters."""
    m_e, m_c = make_model(), make_model()
    o_e, o_c = make_opt(m_e), make_opt(m_c)
    step = compile_step(m_c, loss_fn, o_c)
    for i, (x, y) in enumerate(data):
        if between is not None:
            between(i, m_e, o_e)
            between(i, m_c, o_c)
        o_e.zero_grad()
        loss_e = loss_fn(m_e(cr.tensor(x)), cr.tensor(y))
        loss_e.backward()
        o_e.step()
        loss_c = step(x, y)
        assert not loss_c.requires_grad
        np.testing.assert_allclose(loss_c.item(), loss_e.item(), rtol=0, atol=TOL)
        for p_e, p_c in zip(m_e.parameters(), m_c.parameters()):
            if p_e.grad is None:
                assert p_c.grad is None
                continue
            np.testing.assert_allclose(p_c.grad.numpy(), p_e.grad.numpy(), rtol=0, atol=TOL)
    for p_e, p_c in zip(m_e.parameters(), m_c.parameters()):
        np.testing.assert_allclose(p_c.numpy(), p_e.numpy(), rtol=0, atol=TOL)
    return step


def test_higham_sgd_replay_equals_eager():
    data = batches(40, (1, 2), y_shape=(1, 2))
    step = run_both(higham, lambda m: optim.SGD(m.parameters(), lr=0.05), half_sse, data)
    assert step.stats == {"eager": 2, "replayed": 38, "compiled": 1}, step.untraceable


@pytest.mark.parametrize("make_opt", [
    lambda m: optim.Adam(m.parameters(), lr=1e-2),
    lambda m: optim.Adam(m.parameters(), lr=1e-2, weight_decay=0.1, amsgrad=True),
    lambda m: optim.AdamW(m.parameters(), lr=1e-2),
    lambda m: optim.SGD(m.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
    lambda m: optim.SGD(m.parameters(), lr=0.1, momentum=0.9, dampening=0.5),
    lambda m: optim.RMSprop(m.parameters(), lr=1e-2),
], ids=["adam", "adam-l2-amsgrad", "adamw", "sgd-nesterov-wd", "sgd-dampening", "rmsprop"])
def test_relu_mlp_cross_entropy_replay_equals_eager(make_opt):
    data = batches(25, (8, 5), n_classes=3)
    step = run_both(relu_mlp, make_opt, xent, data)
    assert step.stats["replayed"] == 23, step.untraceable


def test_float32_and_tanh_and_mean_reduction():
    data = batches(12, (6, 5), dtype=np.float32, y_shape=(6, 3))
    step = run_both(lambda: relu_mlp(np.float32, act=nn.Tanh),
                    lambda m: optim.SGD(m.parameters(), lr=0.1), F.mse_loss, data)
    assert step.stats["replayed"] == 10, step.untraceable


def test_composite_model_with_matmul_broadcasting_and_division():
    class Odd(nn.Module):
        def __init__(self):
            super().__init__()
            self.W = nn.Parameter(np.random.default_rng(0).standard_normal((5, 4)))
            self.s = nn.Parameter(np.ones(4))

        def forward(self, x):
            h = (x * 2.0 - 1.0) @ self.W          # MatMul, broadcasting scalars
            h = h / (self.s * self.s + 1.0)       # Div with a broadcast parameter
            h = (h.exp() + (-h).exp()).log()      # Exp, Neg, Log
            return h.T.reshape(-1, 4)[:, :3] * 1.5  # views and a slice

    data = batches(10, (6, 5), n_classes=3)
    step = run_both(Odd, lambda m: optim.SGD(m.parameters(), lr=0.01), xent, data)
    assert step.stats["replayed"] == 8, step.untraceable


def test_a_new_batch_size_is_compiled_separately():
    data = batches(6, (8, 5), n_classes=3) + batches(4, (3, 5), n_classes=3, seed=1)
    data = data[:3] + data[6:] + data[3:6]
    step = run_both(relu_mlp, lambda m: optim.Adam(m.parameters(), lr=1e-2), xent, data)
    assert step.stats["compiled"] == 2
    assert step.stats["replayed"] == 10 - 4


def test_eval_mode_is_another_signature():
    def between(i, model, opt):
        model.train(i % 4 < 2)

    data = batches(16, (8, 5), n_classes=3)
    step = run_both(relu_mlp, lambda m: optim.SGD(m.parameters(), lr=0.1), xent, data,
                    between=between)
    assert step.stats["compiled"] == 2


def test_learning_rate_changes_are_seen():
    def between(i, model, opt):
        for g in opt.param_groups:
            g["lr"] = 0.1 / (1 + i)

    data = batches(10, (8, 5), n_classes=3)
    step = run_both(relu_mlp, lambda m: optim.SGD(m.parameters(), lr=0.1, momentum=0.5), xent,
                    data, between=between)
    assert step.stats["replayed"] == 8


def test_dropout_in_training_mode_stays_eager_and_equal():
    def make():
        return nn.Sequential(nn.Linear(5, 7, seed=0, dtype=np.float64), nn.Dropout(0.5, seed=3),
                             nn.Linear(7, 3, seed=1, dtype=np.float64))

    data = batches(8, (8, 5), n_classes=3)
    step = run_both(make, lambda m: optim.SGD(m.parameters(), lr=0.1), xent, data)
    assert step.stats["replayed"] == 0
    assert any("constant" in r for r in step.untraceable.values())


def test_batchnorm_training_stays_eager_and_equal():
    def make():
        return nn.Sequential(nn.Linear(5, 7, seed=0, dtype=np.float64), nn.BatchNorm1d(7),
                             nn.ReLU(), nn.Linear(7, 3, seed=1, dtype=np.float64))

    data = batches(8, (8, 5), n_classes=3)
    step = run_both(make, lambda m: optim.SGD(m.parameters(), lr=0.1), xent, data)
    assert step.stats["replayed"] == 0
    assert any("buffers" in r for r in step.untraceable.values())


def test_replaced_parameters_are_noticed():
    def between(i, model, opt):
        if i == 5:  # new arrays, same Parameter objects
            for p in model.parameters():
                p.data = p.data * 0.5

    data = batches(10, (8, 5), n_classes=3)
    step = run_both(relu_mlp, lambda m: optim.SGD(m.parameters(), lr=0.1), xent, data,
                    between=between)
    assert step.stats["compiled"] == 2


def test_bad_labels_raise_as_in_eager_mode():
    model = relu_mlp()
    step = compile_step(model, F.cross_entropy, optim.SGD(model.parameters(), lr=0.1))
    for x, y in batches(5, (8, 5), n_classes=3):
        step(x, y)
    x, y = batches(1, (8, 5), n_classes=3)[0]
    y[2] = 3
    with pytest.raises((ValueError, IndexError)):
        step(x, y)


def test_returned_losses_are_independent():
    model = higham()
    step = compile_step(model, half_sse, optim.SGD(model.parameters(), lr=0.05))
    losses = [step(x, y) for x, y in batches(6, (1, 2), y_shape=(1, 2))]
    values = [float(v) for v in losses]
    assert len(set(values)) == len(values)


def test_same_data_twice_waits_for_different_data():
    model = relu_mlp()
    step = compile_step(model, xent, optim.SGD(model.parameters(), lr=0.1))
    (x, y), (x2, y2) = batches(2, (8, 5), n_classes=3)
    step(x, y)
    step(x, y)
    assert step.stats["compiled"] == 0
    step(x2, y2)
    assert step.stats["compiled"] == 1


def test_parameters_are_packed_and_stay_packed_across_signatures():
    model = relu_mlp()
    opt = optim.Adam(model.parameters(), lr=1e-2)
    step = compile_step(model, xent, opt)
    for x, y in batches(4, (8, 5), n_classes=3) + batches(4, (3, 5), n_classes=3, seed=1):
        step(x, y)
    assert step.stats["compiled"] == 2
    bases = {p.data.base is not None and id(p.data.base) for p in model.parameters()}
    assert len(bases) == 1 and False not in bases  # one flat array holds them all
    state_bases = {id(opt.state[p]["exp_avg"].base) for p in model.parameters()}
    assert len(state_bases) == 1
    for x, y in batches(3, (8, 5), n_classes=3, seed=2) + batches(3, (3, 5), n_classes=3):
        step(x, y)
    assert step.stats["compiled"] == 2 and step.stats["replayed"] == 10
    # state_dict round trips still work on the packed parameters
    sd = model.state_dict()
    model.load_state_dict(sd)


def test_docstring_examples():
    import doctest

    import chainrule.trace as T

    result = doctest.testmod(T)
    assert result.failed == 0 and result.attempted > 0


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_functional_cross_entropy_float32_is_fully_lowered(reduction):
    from chainrule import trace

    def loss_fn(out, y):
        return F.cross_entropy(out, y, reduction=reduction)

    data = batches(8, (16, 5), n_classes=3, dtype=np.float32)
    step = run_both(lambda: relu_mlp(np.float32), lambda m: optim.Adam(m.parameters()),
                    loss_fn, data)
    assert step.stats["replayed"] == 6
    (prog,) = step._programs.values()
    generic = {trace._run_fwd, trace._run_bwd}
    assert not [fn for fn, _ in prog.prog if fn in generic]


def test_large_packed_group_is_updated_in_pieces_exactly():
    from chainrule import trace

    sizes = (300, 256, 10)
    assert 300 * 256 > 2 * trace._CHUNK
    data = batches(5, (32, 300), n_classes=10, dtype=np.float32)
    step = run_both(lambda: relu_mlp(np.float32, sizes=sizes),
                    lambda m: optim.SGD(m.parameters(), lr=0.1), F.cross_entropy, data)
    assert step.stats["replayed"] == 3


@pytest.mark.parametrize("with_model", [True, False])
def test_optimizer_and_model_state_dicts_loaded_mid_training(with_model):
    saved = {}

    def between(i, model, opt):
        key = id(model)
        if i == 4:
            saved[key] = (model.state_dict(), opt.state_dict())
        if i == 7:  # back to step 4: new arrays for the parameters and the Adam state
            sd, osd = saved[key]
            if with_model:
                model.load_state_dict(sd)
            opt.load_state_dict(osd)
            for g in opt.param_groups:
                g["lr"] = 0.05

    data = batches(14, (8, 5), n_classes=3)
    step = run_both(relu_mlp, lambda m: optim.Adam(m.parameters(), lr=1e-2), xent, data,
                    between=between)
    assert step.stats["compiled"] == 2


def test_a_parameter_group_added_later_is_trained_by_the_replay():
    def make():
        return relu_mlp()

    def make_opt(m):
        params = list(m.parameters())
        return optim.SGD(params[:2], lr=0.1)

    def between(i, model, opt):
        if i == 5:
            opt.add_param_group({"params": list(model.parameters())[2:], "lr": 0.05})

    data = batches(12, (8, 5), n_classes=3)
    step = run_both(make, make_opt, xent, data, between=between)
    assert step.stats["compiled"] == 1 and step.stats["replayed"] >= 4, step.untraceable


def test_gradients_passed_straight_from_the_seed():
    class Scalars(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(np.array(0.5))
            self.b = nn.Parameter(np.array(-0.25))

        def forward(self, x):  # ∂L/∂w = ∂L/∂b = 1: the seed itself reaches them
            return self.w + self.b

    data = batches(8, (3, 5), y_shape=())
    step = run_both(Scalars, lambda m: optim.SGD(m.parameters(), lr=0.01),
                    lambda out, y: out, data)
    assert step.stats["replayed"] == 6, step.untraceable
