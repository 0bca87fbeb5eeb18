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


def _program(step):
    (prog,) = step._programs.values()
    return prog


def test_the_replayed_program_is_simplified_and_bit_identical():
    # Higham's net under ½‖a − y‖²: the recording copies every gradient into the packed
    # array, seeds the backward pass with 1 and multiplies by it, and computes a − y twice
    # (forward and backward); the program computes into the packed gradients, keeps the
    # constant seed, drops the multiplication by 1 and computes a − y once
    data = batches(12, (1, 2), y_shape=(1, 2))
    m_e, m_c = higham(), higham()
    o_e, o_c = optim.SGD(m_e.parameters(), lr=0.5), optim.SGD(m_c.parameters(), lr=0.5)
    step = compile_step(m_c, half_sse, o_c)
    for x, y in data:
        o_e.zero_grad()
        loss_e = half_sse(m_e(cr.tensor(x)), cr.tensor(y))
        loss_e.backward()
        o_e.step()
        assert step(x, y).item() == loss_e.item()  # bit for bit
    for p_e, p_c in zip(m_e.parameters(), m_c.parameters()):
        np.testing.assert_array_equal(p_c.numpy(), p_e.numpy())
    prog = _program(step)
    assert step.stats["replayed"] == 10
    assert not [fn for fn, _ in prog.calls if fn is np.copyto]
    differences = [args for fn, args in prog.calls
                   if fn is np.subtract and args[0].shape == args[1].shape == (1, 2)]
    assert len(differences) == 1, "a − y is computed more than once"
    assert len(prog.calls) < prog.recorded


@pytest.mark.parametrize("n", [1, 8])
def test_float32_replay_is_the_eager_step_bit_for_bit(n):
    # float32 and a batch of 1: Python numbers passed as float32 0-d arrays, biases
    # broadcast at the output's rank, sums over an axis of length 1 done as 0 + x
    data = batches(10, (n, 5), n_classes=3, dtype=np.float32)
    m_e, m_c = relu_mlp(np.float32), relu_mlp(np.float32)
    o_e, o_c = optim.Adam(m_e.parameters(), lr=1e-2), optim.Adam(m_c.parameters(), lr=1e-2)
    step = compile_step(m_c, F.cross_entropy, o_c)
    for x, y in data:
        o_e.zero_grad()
        loss_e = F.cross_entropy(m_e(cr.tensor(x)), cr.tensor(y))
        loss_e.backward()
        o_e.step()
        assert step(x, y).item() == loss_e.item()
    assert step.stats["replayed"] == 8
    for p_e, p_c in zip(m_e.parameters(), m_c.parameters()):
        np.testing.assert_array_equal(p_c.numpy(), p_e.numpy())
    # z = x Wᵀ + b and relu(z) are written over the product x Wᵀ, as z += b would be
    prog = _program(step)
    relus = [(fn.keywords["out"], args[0]) for fn, args in prog.calls
             if getattr(fn, "func", None) is np.maximum]
    assert len(relus) == 2
    for out, z in relus:
        assert out.ctypes.data == z.ctypes.data
        bias = [a for fn, a in prog.calls if fn is np.add and a[0].ctypes.data == z.ctypes.data]
        assert len(bias) == 1 and bias[0][-1].ctypes.data == z.ctypes.data


def test_calls_whose_results_are_unused_are_dropped():
    class WithUnused(nn.Module):
        def __init__(self, unused):
            super().__init__()
            self.lin = nn.Linear(4, 3, seed=0, dtype=np.float64)
            self.unused = unused

        def forward(self, x):
            if self.unused:
                (x * 2.0).exp().sum()  # computed and thrown away
            return self.lin(x).tanh()

    data = batches(5, (6, 4), y_shape=(6, 3))
    steps = [run_both(lambda u=u: WithUnused(u), lambda m: optim.SGD(m.parameters(), lr=0.1),
                      F.mse_loss, data) for u in (False, True)]
    plain, unused = (_program(s) for s in steps)
    assert unused.recorded == plain.recorded + 3
    assert len(unused.calls) == len(plain.calls)


def test_arrays_from_outside_the_step_are_read_live():
    # a module keeps a plain ndarray of ones (not a buffer) and the step multiplies by it:
    # the program must not treat it as the constant 1 — it is changed between steps
    class Scaled(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(3, 2, seed=0, dtype=np.float64)
            self.c = np.ones(2)

        def forward(self, x):
            return self.lin(x) * cr.Tensor._wrap(self.c)

    def between(i, model, opt):
        if i == 5:
            model.c[...] = 3.0

    step = run_both(Scaled, lambda m: optim.SGD(m.parameters(), lr=0.1), F.mse_loss,
                    batches(8, (4, 3), y_shape=(4, 2)), between=between)
    assert step.stats["replayed"] == 6


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


def test_dropout_in_training_mode_is_replayed_and_equal():
    def make():
        return nn.Sequential(nn.Linear(5, 7, seed=0, dtype=np.float64), nn.Dropout(0.5, seed=3),
                             nn.Linear(7, 3, seed=1, dtype=np.float64))

    data = batches(8, (8, 5), n_classes=3)
    step = run_both(make, lambda m: optim.SGD(m.parameters(), lr=0.1), xent, data)
    # the masks are drawn by the replay from the same generator, in the same order
    assert step.stats["replayed"] == 6 and not step.untraceable


def test_batchnorm_training_is_replayed_and_equal():
    def make():
        return nn.Sequential(nn.Linear(5, 7, seed=0, dtype=np.float64), nn.BatchNorm1d(7),
                             nn.ReLU(), nn.Linear(7, 3, seed=1, dtype=np.float64))

    data = batches(8, (8, 5), n_classes=3)
    step = run_both(make, lambda m: optim.SGD(m.parameters(), lr=0.1), xent, data)
    # the running statistics are updated in place by the replay, as by the eager step
    assert step.stats["replayed"] == 6 and not step.untraceable
    bn = step.model[1]
    assert int(bn.num_batches_tracked.data) == 8


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


def test_one_batch_repeated_is_compiled_pinned_to_its_values():
    # full-batch training: the same batch every step is compiled on its second step, the
    # program replays while the batch is equal, and a different batch of the same shape
    # is not replayed through it (it records anew), all equal to eager
    (x, y), (x2, y2) = batches(2, (8, 5), n_classes=3)
    data = [(x, y)] * 5 + [(x2, y2)] * 2 + [(x, y)] * 3
    step = run_both(relu_mlp, lambda m: optim.SGD(m.parameters(), lr=0.1), xent, data)
    # x, x (recorded, compiled), x, x, x (replayed); x2 (differs: dropped, recorded),
    # x2 (recorded again, compiled); x (differs: dropped, recorded), x, x (compiled, replayed)
    assert step.stats == {"eager": 6, "replayed": 4, "compiled": 3}, step.untraceable


def test_full_batch_fit_is_compiled():
    from chainrule import train

    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 3))
    y = (X @ np.ones(3))[:, None]
    models = [relu_mlp(sizes=(3, 8, 1)) for _ in range(2)]
    hists = [train.fit(m, "mse", "sgd", (X, y), epochs=6, batch_size=None, progress=False,
                       compile=c) for m, c in zip(models, ("auto", False))]
    assert hists[0].compiled and not hists[1].compiled
    for p_c, p_e in zip(*(m.parameters() for m in models)):
        np.testing.assert_allclose(p_c.numpy(), p_e.numpy(), rtol=0, atol=TOL)


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
    # state_dict round trips still work on the packed parameters: new values are loaded,
    # read back, and the next replayed step starts from them (as an eager step would)
    sd = {k: v + 0.5 for k, v in model.state_dict().items()}
    model.load_state_dict(sd)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, sd[k])
    eager = relu_mlp()
    eager.load_state_dict(sd)
    e_opt = optim.Adam(eager.parameters(), lr=1e-2)
    e_opt.load_state_dict(opt.state_dict())
    x, y = batches(1, (8, 5), n_classes=3, seed=3)[0]
    step(x, y)
    e_opt.zero_grad()
    xent(eager(cr.tensor(x)), cr.tensor(y)).backward()
    e_opt.step()
    for p_e, p_c in zip(eager.parameters(), model.parameters()):
        np.testing.assert_allclose(p_c.numpy(), p_e.numpy(), rtol=0, atol=TOL)


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
    # every call computes into its recorded array: nothing is computed and then copied
    generic = {trace._into, trace._into_many}
    assert not [fn for fn, _ in prog.calls if fn in generic]


def test_large_group_is_not_packed_and_is_updated_in_pieces_exactly():
    from chainrule.optim.flat import FLAT_MAX

    sizes = (300, 256, 10)
    assert 300 * 256 > 2 * optim.optimizer.Scratch.CHUNK
    assert 300 * 256 > FLAT_MAX  # a group larger than FLAT_MAX is updated per parameter
    data = batches(5, (32, 300), n_classes=10, dtype=np.float32)
    step = run_both(lambda: relu_mlp(np.float32, sizes=sizes),
                    lambda m: optim.SGD(m.parameters(), lr=0.1), F.cross_entropy, data)
    assert step.stats["replayed"] == 3
    assert not step._packs
    (prog,) = step._programs.values()
    assert prog.packed == [None]
    # the parameters keep arrays of their own (no flat copy of the model), and each
    # gradient is an array of the replay's own, not a view of a packed one
    params = list(step.model.parameters())
    assert all(p.data.base is None for p in params)
    grads = [p.grad.data for p in params]
    assert len({id(g if g.base is None else g.base) for g in grads}) == len(grads)


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


# --------------------------------------------------------------- every built-in combination

LAYERS = {
    "relu": lambda: [nn.ReLU()],
    "sigmoid": lambda: [nn.Sigmoid()],
    "tanh-gelu": lambda: [nn.Tanh(), nn.GELU()],
    "elu-selu-softplus": lambda: [nn.ELU(), nn.SELU(), nn.Softplus()],
    "leaky-silu": lambda: [nn.LeakyReLU(0.1), nn.SiLU()],
    "dropout": lambda: [nn.ReLU(), nn.Dropout(0.3, seed=5)],
    "batchnorm": lambda: [nn.BatchNorm1d(7, dtype=np.float64), nn.ReLU()],
    "layernorm": lambda: [nn.LayerNorm(7, dtype=np.float64), nn.Tanh()],
    "residual": lambda: [nn.Residual(nn.Sequential(nn.Linear(7, 7, seed=9, dtype=np.float64),
                                                   nn.Tanh()))],
}

LOSSES = {
    "cross_entropy": (lambda out, y: F.cross_entropy(out, y), 3),
    "mse": (lambda out, y: F.mse_loss(out, y), None),
    "bce_logits": (lambda out, y: F.binary_cross_entropy_with_logits(out, y), None),
    "huber-l1": (lambda out, y: F.huber_loss(out, y) + F.l1_loss(out, y), None),
}

OPTIMIZERS = {
    "sgd-nesterov-wd": lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True,
                                            weight_decay=1e-3),
    "adam-amsgrad-l2": lambda ps: optim.Adam(ps, lr=1e-2, amsgrad=True, weight_decay=0.1),
    "adamw": lambda ps: optim.AdamW(ps, lr=1e-2),
    "rmsprop-centred": lambda ps: optim.RMSprop(ps, lr=1e-2, centered=True, momentum=0.5),
    "adagrad": lambda ps: optim.Adagrad(ps, lr=0.1, lr_decay=0.01),
}


def _combination_model(layer):
    return nn.Sequential(nn.Linear(5, 7, seed=0, dtype=np.float64), *LAYERS[layer](),
                         nn.Linear(7, 3, seed=1, dtype=np.float64))


@pytest.mark.parametrize("opt_name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("loss_name", sorted(LOSSES))
@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_every_layer_loss_optimizer_is_compiled_and_equals_eager(layer, loss_name, opt_name):
    loss_fn, n_classes = LOSSES[loss_name]
    data = batches(6, (8, 5), n_classes=n_classes, y_shape=(8, 3))
    if loss_name == "bce_logits":
        data = [(x, (y > 0.5).astype(np.float64)) for x, y in data]
    step = run_both(lambda: _combination_model(layer),
                    lambda m: OPTIMIZERS[opt_name](m.parameters()), loss_fn, data)
    assert step.stats["replayed"] == 4 and step.compiled, step.untraceable


# ------------------------------------------------------------- what a user defines is compiled


class _Cube(ops.Function):
    """A primitive defined by a user: z = x³ ; ∂L/∂x = ∂L/∂z ⊙ 3x²."""

    @staticmethod
    def forward(ctx, x):
        ctx.save(x)
        return x ** 3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3.0 * x * x


class _CubeLayer(nn.Module):
    def forward(self, x):
        return _Cube.apply(x)


class _SignSGD(optim.Optimizer):
    """An optimiser defined by a user through the update protocol: θ ← θ − lr·sign(g)."""

    class Hyperparameters(__import__("typing").NamedTuple):
        lr: float

    def __init__(self, params, lr=0.01):
        super().__init__(params, {"lr": lr})

    @staticmethod
    def update(theta, g, state, hp, scratch):
        theta -= hp.lr * np.sign(g)


class _StepOverride(optim.SGD):
    def step(self, closure=None):
        return super().step(closure)


def test_user_function_and_protocol_optimizer_are_compiled():
    def make():
        return nn.Sequential(nn.Linear(5, 7, seed=0, dtype=np.float64), _CubeLayer(),
                             nn.Linear(7, 3, seed=1, dtype=np.float64))

    data = batches(7, (8, 5), n_classes=3)
    step = run_both(make, lambda m: _SignSGD(m.parameters(), lr=0.01), xent, data)
    assert step.stats == {"eager": 2, "replayed": 5, "compiled": 1}, step.untraceable
    assert step.compiled and step.reason is None


def test_protocol_optimizer_trajectory_is_its_formula():
    # θ₀ = 1.0, g = 2θ (loss θ²) > 0 throughout: θ_k = 1 − 0.1·k exactly in float64 steps
    w = nn.Parameter(np.array([[1.0]]))

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = w

        def forward(self, x):
            return x * self.w

    model = Model()
    step = compile_step(model, lambda out, y: (out * out).sum(), _SignSGD([w], lr=0.1))
    for k in range(1, 6):
        step(np.array([[1.0 + k]]), np.zeros((1, 1)))  # different data: recordings agree
        np.testing.assert_allclose(w.data, [[1.0 - 0.1 * k]], rtol=0, atol=1e-12)
    assert step.stats["replayed"] == 3


def test_optimizer_without_protocol_runs_eagerly_and_says_why():
    data = batches(5, (8, 5), n_classes=3)
    step = run_both(relu_mlp, lambda m: _StepOverride(m.parameters(), lr=0.1), xent, data)
    assert step.stats["replayed"] == 0 and not step.compiled
    assert "_StepOverride overrides step()" in step.reason
    model = relu_mlp()
    strict = compile_step(model, xent, _StepOverride(model.parameters(), lr=0.1), compile=True)
    before = [p.data.copy() for p in model.parameters()]
    with pytest.raises(ValueError, match=r"compile=True.*_StepOverride overrides step"):
        strict(*data[0])
    for p, b in zip(model.parameters(), before):  # refused before anything changed
        np.testing.assert_array_equal(p.data, b)


def test_compile_false_never_records_and_compile_is_checked():
    model = relu_mlp()
    step = compile_step(model, xent, optim.SGD(model.parameters(), lr=0.1), compile=False)
    for x, y in batches(5, (8, 5), n_classes=3):
        step(x, y)
    assert step.stats == {"eager": 5, "replayed": 0, "compiled": 0}
    assert step.reason == "compile=False"
    with pytest.raises(ValueError, match="compile must be 'auto', True or False"):
        compile_step(model, xent, optim.SGD(model.parameters(), lr=0.1), compile="yes")


def test_before_update_clipping_and_sample_weights_and_tuple_results():
    from chainrule.optim import clip_grad_norm_

    def make_run(compiled):
        model = relu_mlp()
        opt = optim.SGD(model.parameters(), lr=0.5, momentum=0.9)

        def loss_fn(out, y, w):
            per = F.cross_entropy(out, y, reduction="none")
            data_loss = (per * w).sum() / w.sum()
            penalty = 0.01 * sum((p * p).sum() for p in model.parameters())
            return data_loss + penalty, data_loss

        clip = lambda: clip_grad_norm_(model.parameters(), 0.1)  # noqa: E731
        step = compile_step(model, loss_fn, opt, compile=compiled, before_update=clip)
        rng = np.random.default_rng(3)
        out = []
        for x, y in batches(6, (8, 5), n_classes=3):
            w = rng.random(8)
            total, data_loss = step(x, y, w)
            out.append((total.item(), data_loss.item()))
        return out, [p.data.copy() for p in model.parameters()], step

    eager, p_e, _ = make_run(False)
    replay, p_c, step = make_run("auto")
    assert step.stats["replayed"] == 4
    np.testing.assert_allclose(replay, eager, rtol=0, atol=TOL)
    for a, b in zip(p_c, p_e):
        np.testing.assert_allclose(a, b, rtol=0, atol=TOL)
    assert all(t > d for t, d in eager)  # the penalty is part of the first value


def test_a_changing_python_value_falls_back_to_eager():
    # the loss reads a data-dependent value into Python: the guard catches the change
    def loss_fn(out, y):
        scale = y.abs().max().item()
        return ((out - y) ** 2).mean() * scale

    data = batches(8, (8, 5), y_shape=(8, 3))
    step = run_both(relu_mlp, lambda m: optim.SGD(m.parameters(), lr=0.01), loss_fn, data)
    assert step.stats["replayed"] == 0


def test_global_generator_dropout_follows_manual_seed():
    # Dropout without a seed draws from the global generator, looked up at every draw:
    # reseeding it mid-training changes the compiled step's masks as the eager step's
    def run(compiled):
        cr.manual_seed(0)
        model = nn.Sequential(nn.Linear(5, 7, seed=0, dtype=np.float64), nn.Dropout(0.5),
                              nn.Linear(7, 3, seed=1, dtype=np.float64))
        step = compile_step(model, xent, optim.SGD(model.parameters(), lr=0.1),
                            compile=compiled)
        losses = []
        for i, (x, y) in enumerate(batches(8, (8, 5), n_classes=3)):
            if i == 5:
                cr.manual_seed(7)
            losses.append(step(x, y).item())
        return losses, step

    eager, _ = run(False)
    replayed, step = run("auto")
    assert step.stats["replayed"] == 6
    np.testing.assert_allclose(replayed, eager, rtol=0, atol=TOL)


def test_recording_keeps_no_intermediates_of_the_first_step():
    # the first recorded step is kept only to be compared with the second: its activations
    # and gradients are freed, so recording the second step peaks no higher than the first
    # (kept, the first step's ~34 MB of arrays would add to the second's: 1.7× the peak)
    import tracemalloc

    model = relu_mlp(sizes=(50, 1000, 1000, 1))
    step = compile_step(model, half_sse, optim.SGD(model.parameters(), lr=1e-3))
    data = batches(2, (500, 50), y_shape=(500, 1))
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        step(*data[0])
        peak1 = tracemalloc.get_traced_memory()[1] - base
        tracemalloc.reset_peak()
        step(*data[1])
        peak2 = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert step.stats["compiled"] == 1
    assert peak2 < 1.2 * peak1, (peak1, peak2)


def test_recorded_gradients_are_the_arrays_the_backward_pass_computed():
    # the recorder hands out each new array a recorded call returns as a view of it; that
    # view stands for the new array, so autodiff keeps it as the parameter's .grad as it
    # keeps the eager one, with no copy (a copy would be a "new" home, made by the step)
    from chainrule.trace import _root

    model = relu_mlp()
    step = compile_step(model, xent, optim.SGD(model.parameters(), lr=0.1))
    x, y = batches(1, (4, 5), n_classes=3)[0]
    _, rec = step._record_step([x, y])
    homes = [rec.homes[id(_root(g))][0] for g in rec.grads.values()]
    assert homes == ["op"] * 6
    # eager: a gradient that is a view (here of ∂L/∂z through a reshape) is still copied
    w = cr.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    w.reshape(6).sum().backward()
    assert w.grad.data.base is None and w.grad.data.flags.writeable
    np.testing.assert_array_equal(w.grad.numpy(), np.ones((2, 3)))


def test_recordings_compare_homes_exactly_and_constants_by_value():
    # where an array lives is compared field by field, a constant by dtype, shape and
    # values (NaN equal to NaN), anything else by equality
    from chainrule.trace import _same

    home = ("home", ("op", 3), 0, (2, 3), (24, 8), "<f8")
    assert _same(home, ("home", ("op", 3), 0, (2, 3), (24, 8), "<f8"))
    assert not _same(home, ("home", ("op", 3), 8, (2, 3), (24, 8), "<f8"))
    assert not _same(home, ("home", ("op", 4), 0, (2, 3), (24, 8), "<f8"))
    assert not _same(home, ("const", np.zeros((2, 3))))
    nan = np.array([1.0, np.nan])
    assert _same(("const", nan), ("const", nan.copy()))
    assert not _same(("const", nan), ("const", nan.astype(np.float32)))
    assert not _same(("const", nan), ("const", np.array([1.0, 2.0])))
    assert _same(("obj", float("nan")), ("obj", float("nan")))
    assert not _same(("obj", 1.0), ("obj", 2.0))
