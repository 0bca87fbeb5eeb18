"""Every primitive and Tensor method against PyTorch in float64 (forward and gradient),
over shapes that broadcast against rows, columns and scalars, with hypothesis driving
random shapes and values; plus second-order (Hessian-vector) products via create_graph."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import chainrule as cr
from oracle import check_against_torch

RNG = np.random.default_rng(1234)  # replaced before every test by `_fresh_generator`


@pytest.fixture(autouse=True)
def _fresh_generator(rng):
    """The helpers below draw from RNG: one generator per test, seeded from its name."""
    global RNG
    RNG = rng


def randn(*shape):
    return RNG.standard_normal(shape)


def positive(*shape):
    return RNG.uniform(0.5, 2.0, size=shape)


def away_from_zero(*shape):
    x = RNG.uniform(0.2, 2.0, size=shape)
    return x * RNG.choice([-1.0, 1.0], size=shape)


# (x shape, y shape): same, row vector, column vector, scalar, both broadcast, leading axis
BROADCAST_PAIRS = [
    ((3, 4), (3, 4)),
    ((3, 4), (4,)),
    ((3, 4), (3, 1)),
    ((3, 4), ()),
    ((), (3, 4)),
    ((1, 4), (3, 1)),
    ((2, 3, 4), (3, 4)),
    ((4,), (2, 3, 4)),
]

BINARY = {
    "add": (lambda a, b: a + b, lambda a, b: a + b, randn, randn),
    "sub": (lambda a, b: a - b, lambda a, b: a - b, randn, randn),
    "mul": (lambda a, b: a * b, lambda a, b: a * b, randn, randn),
    "div": (lambda a, b: a / b, lambda a, b: a / b, randn, away_from_zero),
    "pow_tensor": (lambda a, b: a**b, lambda a, b: a**b, positive, randn),
}


@pytest.mark.parametrize("name", list(BINARY))
@pytest.mark.parametrize("shapes", BROADCAST_PAIRS, ids=str)
def test_binary_ops_broadcast(name, shapes):
    cr_fn, t_fn, gen_x, gen_y = BINARY[name]
    check_against_torch(cr_fn, t_fn, gen_x(*shapes[0]), gen_y(*shapes[1]), second_order=True)


@pytest.mark.parametrize("name", ["add", "sub", "mul", "div"])
def test_binary_ops_with_python_scalars(name):
    cr_fn, t_fn, gen_x, _ = BINARY[name]
    x = gen_x(3, 2)
    check_against_torch(lambda a: cr_fn(a, 2.5), lambda a: t_fn(a, 2.5), x)
    check_against_torch(lambda a: cr_fn(1.5, a), lambda a: t_fn(1.5, a), away_from_zero(3, 2))


UNARY = {
    "neg": (lambda a: -a, lambda a: -a, randn),
    "abs": (lambda a: abs(a), lambda a: abs(a), away_from_zero),
    "exp": (lambda a: a.exp(), torch.exp, randn),
    "log": (lambda a: a.log(), torch.log, positive),
    "log1p": (lambda a: a.log1p(), torch.log1p, positive),
    "sqrt": (lambda a: a.sqrt(), torch.sqrt, positive),
    "sin": (lambda a: a.sin(), torch.sin, randn),
    "cos": (lambda a: a.cos(), torch.cos, randn),
    "tanh": (lambda a: a.tanh(), torch.tanh, randn),
    "sigmoid": (lambda a: a.sigmoid(), torch.sigmoid, randn),
    "relu": (lambda a: a.relu(), torch.relu, away_from_zero),
    "erf": (lambda a: a.erf(), torch.erf, randn),
    "pow_scalar": (lambda a: a**3, lambda a: a**3, randn),
    "pow_half": (lambda a: a**0.5, lambda a: a**0.5, positive),
    "rpow": (lambda a: 2.0**a, lambda a: 2.0**a, randn),
    "clip": (lambda a: a.clip(-0.5, 0.7), lambda a: a.clamp(-0.5, 0.7), randn),
    "clip_min": (lambda a: a.clip(min=0.1), lambda a: a.clamp(min=0.1), randn),
    "square_mean": (lambda a: (a * a).mean(), lambda a: (a * a).mean(), randn),
}


@pytest.mark.parametrize("name", list(UNARY))
@pytest.mark.parametrize("shape", [(), (5,), (3, 4), (2, 3, 4)], ids=str)
def test_unary_ops(name, shape):
    cr_fn, t_fn, gen = UNARY[name]
    check_against_torch(cr_fn, t_fn, gen(*shape), second_order=name not in {"erf"})


def test_sigmoid_is_stable_at_extremes():
    x = np.array([-800.0, -40.0, 0.0, 40.0, 800.0])
    check_against_torch(lambda a: a.sigmoid(), torch.sigmoid, x, rtol=1e-12, atol=0)
    check_against_torch(lambda a: a.sigmoid().log(), lambda a: torch.sigmoid(a).log(),
                        x[1:-1])


REDUCTIONS = [
    ("sum_all", lambda a: a.sum(), lambda a: a.sum()),
    ("sum_0", lambda a: a.sum(axis=0), lambda a: a.sum(dim=0)),
    ("sum_-1_keep", lambda a: a.sum(axis=-1, keepdims=True), lambda a: a.sum(-1, keepdim=True)),
    ("sum_dim_alias", lambda a: a.sum(dim=1), lambda a: a.sum(dim=1)),
    ("sum_multi", lambda a: a.sum(axis=(0, 2)), lambda a: a.sum(dim=(0, 2))),
    ("mean_all", lambda a: a.mean(), lambda a: a.mean()),
    ("mean_1", lambda a: a.mean(axis=1), lambda a: a.mean(dim=1)),
    ("var_0", lambda a: a.var(axis=0), lambda a: a.var(dim=0, correction=0)),
    ("var_ddof1", lambda a: a.var(axis=-1, ddof=1), lambda a: a.var(dim=-1, correction=1)),
    ("std_all", lambda a: a.std(), lambda a: a.std(correction=0)),
    ("max_all", lambda a: a.max(), lambda a: a.amax()),
    ("max_1", lambda a: a.max(axis=1), lambda a: a.amax(dim=1)),
    ("min_0_keep", lambda a: a.min(axis=0, keepdims=True), lambda a: a.amin(0, keepdim=True)),
    ("logsumexp_-1", lambda a: a.logsumexp(axis=-1), lambda a: a.logsumexp(dim=-1)),
    ("logsumexp_0k", lambda a: a.logsumexp(axis=0, keepdims=True),
     lambda a: a.logsumexp(dim=0, keepdim=True)),
    ("log_softmax_-1", lambda a: a.log_softmax(axis=-1), lambda a: a.log_softmax(dim=-1)),
    ("log_softmax_0", lambda a: a.log_softmax(axis=0), lambda a: a.log_softmax(dim=0)),
    ("softmax_-1", lambda a: a.softmax(axis=-1), lambda a: a.softmax(dim=-1)),
]


@pytest.mark.parametrize("case", REDUCTIONS, ids=[c[0] for c in REDUCTIONS])
def test_reductions(case):
    _, cr_fn, t_fn = case
    check_against_torch(cr_fn, t_fn, randn(3, 4, 5), second_order=True)


def test_max_ties_share_gradient_equally():
    # two maxima in the row: each receives half of the incoming gradient (torch.amax agrees)
    x = np.array([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, 2.0, 2.0]])
    check_against_torch(lambda a: a.max(axis=1), lambda a: a.amax(dim=1), x)
    t = cr.tensor(x, requires_grad=True)
    t.max(axis=1).sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), [[0, 0.5, 0.5, 0], [0.25] * 4])


def test_log_softmax_large_logits_stable():
    x = np.array([[1000.0, 0.0, -1000.0], [5.0, 5.0, 5.0]])
    check_against_torch(lambda a: a.log_softmax(axis=-1), lambda a: a.log_softmax(-1), x)


SHAPES = [
    ("reshape", lambda a: a.reshape(4, 6), lambda a: a.reshape(4, 6)),
    ("reshape_-1", lambda a: a.reshape(-1), lambda a: a.reshape(-1)),
    ("transpose", lambda a: a.transpose(), lambda a: a.permute(2, 1, 0)),
    ("transpose_axes", lambda a: a.transpose(1, 0, 2), lambda a: a.permute(1, 0, 2)),
    ("T_of_2d", lambda a: a.reshape(6, 4).T, lambda a: a.reshape(6, 4).T),
    ("swapaxes", lambda a: a.swapaxes(0, 2), lambda a: a.transpose(0, 2)),
    ("flatten", lambda a: a.flatten(1), lambda a: a.flatten(1)),
    ("unsqueeze", lambda a: a.unsqueeze(1), lambda a: a.unsqueeze(1)),
    ("broadcast_to", lambda a: a[:, :1].broadcast_to((2, 5, 4)),
     lambda a: a[:, :1].expand(2, 5, 4)),
    ("index_int", lambda a: a[1], lambda a: a[1]),
    ("index_slice", lambda a: a[:, 1:3, ::2], lambda a: a[:, 1:3, ::2]),
    ("index_neg", lambda a: a[-1, :, -2], lambda a: a[-1, :, -2]),
    ("index_array_repeats", lambda a: a[:, [0, 2, 0, 0]], lambda a: a[:, [0, 2, 0, 0]]),
    ("index_two_arrays", lambda a: a[[0, 1, 1], [2, 0, 2]], lambda a: a[[0, 1, 1], [2, 0, 2]]),
    ("index_none", lambda a: a[None, 0], lambda a: a[None, 0]),
]


@pytest.mark.parametrize("case", SHAPES, ids=[c[0] for c in SHAPES])
def test_shape_ops_and_indexing(case):
    _, cr_fn, t_fn = case
    check_against_torch(cr_fn, t_fn, randn(2, 3, 4), second_order=True)


def test_index_with_integer_tensor_and_mask():
    x = randn(5, 3)
    idx = np.array([4, 0, 4, 4, 1])
    check_against_torch(lambda a, i: a[i], lambda a, i: a[i], x, idx)
    mask = x[:, 0] > 0
    check_against_torch(lambda a, m: a[m], lambda a, m: a[m], x, mask)


def test_repeated_index_gradient_accumulates():
    # x[[0, 0, 0]] uses x₀ three times: ∂Σ/∂x₀ = 3
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    x[[0, 0, 0]].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 0.0])


MATMUL_SHAPES = [
    ((3, 4), (4, 5)),
    ((4,), (4, 5)),
    ((3, 4), (4,)),
    ((4,), (4,)),
    ((2, 3, 4), (4, 5)),
    ((2, 3, 4), (2, 4, 5)),
    ((1, 3, 4), (2, 4, 5)),
    ((4,), (2, 4, 5)),
    ((2, 3, 4), (4,)),
]


@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=str)
def test_matmul(shapes):
    check_against_torch(
        lambda a, b: a @ b, torch.matmul, randn(*shapes[0]), randn(*shapes[1]), second_order=True
    )


def test_matmul_with_ndarray_operand():
    w = randn(4, 2)
    check_against_torch(lambda a: a @ w, lambda a: a @ torch.tensor(w), randn(3, 4))
    check_against_torch(lambda a: w.T @ a, lambda a: torch.tensor(w.T) @ a, randn(4, 3))


def test_where_concatenate_stack():
    x, y = randn(3, 4), randn(3, 4)
    cond = x > 0
    check_against_torch(
        lambda a, b, c: cr.where(c, a, b), lambda a, b, c: torch.where(c, a, b), x, y, cond,
        second_order=True,
    )
    check_against_torch(
        lambda a, c: cr.where(c, a, 0.0), lambda a, c: torch.where(c, a, 0.0), x, cond
    )
    check_against_torch(
        lambda a, b: cr.where(a > 0, a, b[0]), lambda a, b: torch.where(a > 0, a, b[0]), x, y
    )
    check_against_torch(
        lambda a, b: cr.concatenate([a, b, a], axis=1), lambda a, b: torch.cat([a, b, a], 1),
        x, randn(3, 2), second_order=True,
    )
    check_against_torch(
        lambda a, b: cr.stack([a, b], axis=1), lambda a, b: torch.stack([a, b], 1), x, y
    )
    check_against_torch(
        lambda a, b: cr.cat([a, b], dim=0), lambda a, b: torch.cat([a, b], 0), x, y
    )


def test_comparisons_have_no_gradient():
    x = cr.tensor([1.0, -2.0, 3.0], requires_grad=True)
    for r in (x > 0, x >= 1, x < 0, x <= 1, x == 3.0, x != 3.0):
        assert not r.requires_grad and r.dtype == bool
    np.testing.assert_array_equal((x > 0).numpy(), [True, False, True])


def test_composite_mlp_step_matches_torch():
    # a two-layer network a = σ(W₂ tanh(W₁x + b₁) + b₂) with a cross-entropy head
    X, W1, b1, W2, b2 = randn(8, 5), randn(4, 5), randn(4), randn(3, 4), randn(3)
    onehot = np.eye(3)[RNG.integers(0, 3, 8)]

    def net(x, w1, c1, w2, c2, y, lib):
        h = (x @ w1.T + c1).tanh()
        z = h @ w2.T + c2
        ls = z.log_softmax(axis=-1) if lib == "cr" else z.log_softmax(dim=-1)
        return -(ls * y).sum() / x.shape[0]

    check_against_torch(
        lambda *a: net(*a, lib="cr"), lambda *a: net(*a, lib="t"), X, W1, b1, W2, b2, onehot,
        second_order=True,
    )


# --------------------------------------------------------------------- hypothesis-driven

floats = st.floats(-3, 3, allow_nan=False, width=64)


@settings(max_examples=40, deadline=None)
@given(
    shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=4),
    op=st.sampled_from(["add", "sub", "mul", "div"]),
    data=st.data(),
)
def test_hypothesis_binary_broadcasting(shapes, op, data):
    sx, sy = shapes.input_shapes
    x = data.draw(hnp.arrays(np.float64, sx, elements=floats))
    y = data.draw(hnp.arrays(np.float64, sy, elements=floats))
    if op == "div":
        y = np.where(np.abs(y) < 0.1, 1.0, y)
    cr_fn, t_fn, _, _ = BINARY[op]
    check_against_torch(cr_fn, t_fn, np.asarray(x), np.asarray(y), rtol=1e-8, atol=1e-10)


@settings(max_examples=40, deadline=None)
@given(
    x=hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=5), elements=floats),
    op=st.sampled_from(["exp", "tanh", "sigmoid", "sin", "square_mean", "sum", "softmax", "lse"]),
)
def test_hypothesis_unary_and_reductions(x, op):
    table = {
        "sum": (lambda a: a.sum(axis=0), lambda a: a.sum(0)),
        "softmax": (lambda a: a.softmax(axis=-1), lambda a: a.softmax(-1)),
        "lse": (lambda a: a.logsumexp(axis=-1), lambda a: a.logsumexp(-1)),
    }
    cr_fn, t_fn = table[op] if op in table else UNARY[op][:2]
    check_against_torch(cr_fn, t_fn, x, rtol=1e-8, atol=1e-10)


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(1, 4), k=st.integers(1, 4), m=st.integers(1, 4), data=st.data()
)
def test_hypothesis_matmul(n, k, m, data):
    a = data.draw(hnp.arrays(np.float64, (n, k), elements=floats))
    b = data.draw(hnp.arrays(np.float64, (k, m), elements=floats))
    check_against_torch(lambda p, q: p @ q, torch.matmul, a, b, rtol=1e-8, atol=1e-10)
