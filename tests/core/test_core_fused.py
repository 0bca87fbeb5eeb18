"""The fused primitives (Linear, SoftmaxCrossEntropy, Sigmoid) against PyTorch in float64."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn, ops
from chainrule.nn import functional as F
from oracle import check_against_torch


@pytest.mark.parametrize(
    "x_shape", [(5, 3), (3,), (2, 4, 3), (1, 3)], ids=str
)
@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_torch(x_shape, bias, rng):
    x = rng.standard_normal(x_shape)
    w = rng.standard_normal((2, 3))
    if bias:
        b = rng.standard_normal(2)
        check_against_torch(
            lambda x, w, b: ops.Linear.apply(x, w, b),
            lambda x, w, b: torch.nn.functional.linear(x, w, b),
            x, w, b, second_order=True,
        )
    else:
        check_against_torch(
            lambda x, w: ops.Linear.apply(x, w, None),
            lambda x, w: torch.nn.functional.linear(x, w),
            x, w, second_order=True,
        )


ACTIVATIONS = {"sigmoid": (ops.Sigmoid, torch.sigmoid), "tanh": (ops.Tanh, torch.tanh),
               "relu": (ops.Relu, torch.relu)}


@pytest.mark.parametrize("x_shape", [(5, 3), (3,), (2, 4, 3)], ids=str)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
def test_linear_activation_matches_torch_to_second_order(x_shape, bias, act, rng):
    phi, torch_phi = ACTIVATIONS[act]
    x = rng.standard_normal(x_shape)
    w = rng.standard_normal((2, 3))
    if bias:
        check_against_torch(
            lambda x, w, b: ops.LinearActivation.apply(x, w, b, activation=phi),
            lambda x, w, b: torch_phi(torch.nn.functional.linear(x, w, b)),
            x, w, rng.standard_normal(2), second_order=True,
        )
    else:
        check_against_torch(
            lambda x, w: ops.LinearActivation.apply(x, w, None, activation=phi),
            lambda x, w: torch_phi(torch.nn.functional.linear(x, w)),
            x, w, second_order=True,
        )


def test_linear_activation_does_not_write_into_its_inputs(rng):
    x0, w0, b0 = rng.standard_normal((4, 3)), rng.standard_normal((2, 3)), rng.standard_normal(2)
    x, w, b = (cr.tensor(a.copy(), requires_grad=True) for a in (x0, w0, b0))
    a = ops.LinearActivation.apply(x, w, b, activation=ops.Relu)
    a.sum().backward()
    for t, t0 in ((x, x0), (w, w0), (b, b0)):
        np.testing.assert_array_equal(t.numpy(), t0)
    # relu(z) with z = x Wᵀ + b, and ∂Σa/∂b_j = #{rows with z_j > 0}
    z = x0 @ w0.T + b0
    np.testing.assert_array_equal(a.numpy(), np.maximum(z, 0))
    np.testing.assert_array_equal(b.grad.numpy(), (z > 0).sum(axis=0))


def mlp(activation: type[nn.Module]) -> nn.Sequential:
    return nn.Sequential(nn.Linear(3, 5, seed=0, dtype=np.float64), activation(),
                         nn.Linear(5, 4, seed=1, dtype=np.float64), activation(),
                         nn.Linear(4, 2, seed=2, dtype=np.float64))


def layer_by_layer(model: nn.Sequential, x: cr.Tensor) -> cr.Tensor:
    for m in model:
        x = m(x)
    return x


@pytest.mark.parametrize("activation", [nn.Sigmoid, nn.Tanh, nn.ReLU])
def test_sequential_fuses_linear_and_activation_with_the_same_numbers(activation, rng):
    model = mlp(activation)
    x = cr.tensor(rng.standard_normal((6, 3)))
    y = rng.standard_normal((6, 2))
    fused = F.mse_loss(model(x), y)
    # the graph: SquaredError ← Linear ← LinearActivation ← LinearActivation
    node, nodes = fused._ctx.parents[0]._ctx, []
    while node is not None:
        nodes.append(node)
        node = node.parents[0]._ctx
    assert [type(n).__name__ for n in nodes] == ["Linear", "LinearActivation",
                                                 "LinearActivation"]
    assert type(nodes[1].act) is activation.primitive
    fused.backward()
    g_fused = [p.grad.numpy().copy() for p in model.parameters()]
    for p in model.parameters():
        p.grad = None
    plain = F.mse_loss(layer_by_layer(model, x), y)
    plain.backward()
    assert plain.item() == fused.item()
    for g, p in zip(g_fused, model.parameters()):
        np.testing.assert_array_equal(g, p.grad.numpy())


def test_sequential_hessian_through_fused_layers_matches_torch(rng):
    model = mlp(nn.Tanh)
    tmodel = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 4),
                                 torch.nn.Tanh(), torch.nn.Linear(4, 2)).double()
    with torch.no_grad():
        for p, tp in zip(model.parameters(), tmodel.parameters()):
            tp.copy_(torch.from_numpy(p.numpy()))
    x0 = rng.standard_normal(3)
    h = cr.hessian(lambda x: (model(x) ** 2).sum())(x0)
    h_torch = torch.autograd.functional.hessian(lambda x: (tmodel(x) ** 2).sum(),
                                                torch.from_numpy(x0))
    np.testing.assert_allclose(h, h_torch.numpy(), rtol=1e-10, atol=1e-12)


def test_sequential_does_not_fuse_an_overridden_forward_and_replans_after_edits(rng):
    class Doubled(nn.ReLU):
        def forward(self, x):
            return super().forward(x) * 2.0

    model = mlp(nn.ReLU)
    model[1] = Doubled()
    x = cr.tensor(rng.standard_normal((2, 3)))
    out = model(x)
    np.testing.assert_array_equal(out.numpy(), layer_by_layer(model, x).numpy())
    assert [activation for _, activation in model._fusion] == [None, None, ops.Relu, None]
    model.append(nn.Sigmoid())
    assert [activation for _, activation in model._fusion or []] == []  # forgotten
    model(x)
    assert [activation for _, activation in model._fusion] == [None, None, ops.Relu,
                                                               ops.Sigmoid]


def test_linear_gradients_are_fresh_contiguous_arrays(rng):
    x = cr.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    w = cr.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    b = cr.tensor(rng.standard_normal(2), requires_grad=True)
    ops.Linear.apply(x, w, b).sum().backward()
    for t in (x, w, b):
        g = t.grad.numpy()
        assert g.flags.c_contiguous and g.flags.writeable and g.base is None
        assert g.shape == t.shape


def test_linear_keeps_float32(rng):
    x = cr.tensor(rng.standard_normal((4, 3)).astype(np.float32), requires_grad=True)
    w = cr.tensor(rng.standard_normal((2, 3)).astype(np.float32), requires_grad=True)
    b = cr.tensor(np.zeros(2, np.float32), requires_grad=True)
    z = ops.Linear.apply(x, w, b)
    (z * 2.0).sum().backward()
    assert z.dtype == np.float32
    assert x.grad.dtype == w.grad.dtype == b.grad.dtype == np.float32


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("n, c", [(1, 2), (5, 3), (8, 10)])
def test_softmax_cross_entropy_matches_torch(reduction, n, c, rng):
    x = rng.standard_normal((n, c)) * 3
    y = rng.integers(0, c, n)
    check_against_torch(
        lambda x: ops.SoftmaxCrossEntropy.apply(x, y, reduction=reduction),
        lambda x: torch.nn.functional.cross_entropy(x, torch.from_numpy(y),
                                                    reduction=reduction),
        x, second_order=True,
    )


def test_softmax_cross_entropy_is_stable_for_large_logits():
    x = np.array([[1000.0, 0.0, -1000.0], [-500.0, 500.0, 0.0]])
    y = np.array([2, 1])
    check_against_torch(
        lambda x: ops.SoftmaxCrossEntropy.apply(x, y),
        lambda x: torch.nn.functional.cross_entropy(x, torch.from_numpy(y)),
        x,
    )


def test_softmax_cross_entropy_keeps_float32(rng):
    x = cr.tensor(rng.standard_normal((4, 3)).astype(np.float32), requires_grad=True)
    loss = ops.SoftmaxCrossEntropy.apply(x, np.array([0, 1, 2, 0]))
    loss.backward()
    assert loss.dtype == np.float32 and x.grad.dtype == np.float32


LABEL_CASES = [([0, 2, 1], True), ([2], True), ([0, 3, 1], False), ([7], False),
               ([0, -1, 1], False), ([-128, 0], False), ([255], False)]


@pytest.mark.parametrize("dtype, labels, expected", [
    (dt, labels, expected)
    for dt in ("i1", "<i4", "<i8", ">i8", "u1", "<u8") for labels, expected in LABEL_CASES
    if np.iinfo(dt).min <= min(labels) and max(labels) <= np.iinfo(dt).max
])
def test_softmax_cross_entropy_label_range_check(dtype, labels, expected):
    # one reduction over the labels read as unsigned: −1 becomes the largest value of its
    # width (255 for int8), so a negative label fails the same test as a label ≥ C = 3
    y = np.array(labels, dtype)
    assert ops.SoftmaxCrossEntropy.labels_in_range(y, 3) is expected


def test_softmax_cross_entropy_rejects_bad_labels_before_computing():
    x = cr.tensor(np.zeros((3, 3)), requires_grad=True)
    with pytest.raises(ValueError, match=r"label 3 is not in \[0, 3\)"):
        ops.SoftmaxCrossEntropy.apply(x, np.array([0, 3, 1]))
    with pytest.raises(ValueError, match=r"label -1 is not in \[0, 3\)"):
        ops.SoftmaxCrossEntropy.apply(x, np.array([0, -1, 1]))
    with pytest.raises(ValueError, match=r"y must have shape \(3,\), got \(2,\)"):
        ops.SoftmaxCrossEntropy.apply(x, np.array([0, 1]))
    with pytest.raises(TypeError, match="integer class indices, got float64"):
        ops.SoftmaxCrossEntropy.apply(x, np.array([0.0, 1.0, 2.0]))


@pytest.mark.parametrize("dtype", [np.int8, np.uint64, np.int64])
def test_softmax_cross_entropy_any_layout_and_label_dtype(dtype, rng):
    # a Fortran-ordered (transposed) batch and narrow or unsigned labels give the numbers
    # of C-ordered logits and int64 labels, bit for bit (the flat indices n·C + y are of
    # the C order)
    a = rng.standard_normal((4, 6)) * 3
    y = np.array([5, 0, 3, 3])
    xc = cr.tensor(a, requires_grad=True)
    xf = cr.tensor(np.asfortranarray(a), requires_grad=True)
    lc = ops.SoftmaxCrossEntropy.apply(xc, y)
    lf = ops.SoftmaxCrossEntropy.apply(xf, y.astype(dtype))
    lc.backward()
    lf.backward()
    assert lf.item() == lc.item()
    np.testing.assert_array_equal(xf.grad.numpy(), xc.grad.numpy())
    # ℓ = mean_n (logsumexp(a_n) − a_{n,y_n}), from its definition
    lse = np.log(np.exp(a).sum(axis=1))
    np.testing.assert_allclose(lc.item(), np.mean(lse - a[np.arange(4), y]), rtol=1e-14)


def test_sigmoid_numpy_fallback_agrees_with_expit(rng):
    x = np.concatenate([rng.standard_normal(1000) * 30, [-800.0, 800.0, 0.0]])
    np.testing.assert_allclose(ops._expit_numpy(x), ops._expit(x), rtol=1e-15, atol=0)
    out = np.empty_like(x)
    assert ops._expit(x, out=out) is out
    np.testing.assert_array_equal(out, ops._expit(x))


FLOAT32_CASES = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - 2.0 * b, "mul": lambda a, b: a * b,
    "div": lambda a, b: a / (b * b + 1.0), "pow": lambda a, b: (a * a + 1.0) ** 1.5,
    "matmul": lambda a, b: a @ b.T, "exp": lambda a, b: a.exp(),
    "log": lambda a, b: (a * a + 1).log(),
    "log1p": lambda a, b: (a * a).log1p(), "sqrt": lambda a, b: (a * a + 1.0).sqrt(),
    "sin": lambda a, b: a.sin(), "cos": lambda a, b: a.cos(), "tanh": lambda a, b: a.tanh(),
    "sigmoid": lambda a, b: a.sigmoid(), "erf": lambda a, b: a.erf(), "relu": lambda a, b: a.relu(),
    "abs": lambda a, b: abs(a), "clip": lambda a, b: a.clip(-0.5, 0.5),
    "where": lambda a, b: cr.where(a.numpy() > 0, a, b), "mean": lambda a, b: a.mean(axis=0),
    "var": lambda a, b: a.var(axis=1), "max": lambda a, b: a.max(axis=1),
    "logsumexp": lambda a, b: a.logsumexp(axis=1), "softmax": lambda a, b: a.softmax(axis=1),
    "reshape": lambda a, b: a.reshape(-1), "transpose": lambda a, b: a.T,
    "getitem": lambda a, b: a[[0, 1], 1:], "cat": lambda a, b: cr.cat([a, b], axis=1),
    "broadcast": lambda a, b: a[:1].broadcast_to((3, 4)),
    "linear": lambda a, b: ops.Linear.apply(a, b, b[:, 0]),
    "linear_sigmoid": lambda a, b: ops.LinearActivation.apply(a, b, b[:, 0],
                                                               activation=ops.Sigmoid),
    "xent": lambda a, b: ops.SoftmaxCrossEntropy.apply(a, np.array([0, 3, 1])),
    "squared_error": lambda a, b: ops.SquaredError.apply(a, b, scale=0.5),
}


@pytest.mark.parametrize("name", sorted(FLOAT32_CASES))
def test_float32_stays_float32_forward_and_backward(name, rng):
    a = cr.tensor(rng.standard_normal((3, 4)).astype(np.float32), requires_grad=True)
    b = cr.tensor(rng.standard_normal((3, 4)).astype(np.float32), requires_grad=True)
    out = FLOAT32_CASES[name](a, b)
    assert out.dtype == np.float32
    (out * 0.5).sum().backward()
    for t in (a, b):
        assert t.grad is None or t.grad.dtype == np.float32, name


@pytest.mark.parametrize("half", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_fused_squared_error_matches_torch_to_second_order(reduction, half):
    torch = pytest.importorskip("torch")
    gen = np.random.default_rng(11)
    x0, y0 = gen.standard_normal((5, 3)), gen.standard_normal((5, 3))
    x = cr.tensor(x0, requires_grad=True)
    y = cr.tensor(y0, requires_grad=True)
    loss = F.mse_loss(x, y, reduction=reduction, half=half)
    assert type(loss._ctx) is ops.SquaredError  # one node
    (gx, gy) = cr.autograd_grad(loss, [x, y], create_graph=True)
    (hxx,) = cr.autograd_grad(gx.sum(), [x])
    xt = torch.tensor(x0, requires_grad=True)
    yt = torch.tensor(y0, requires_grad=True)
    lt = torch.nn.functional.mse_loss(xt, yt, reduction=reduction) * (0.5 if half else 1.0)
    gxt, gyt = torch.autograd.grad(lt, [xt, yt], create_graph=True)
    (hxxt,) = torch.autograd.grad(gxt.sum(), [xt])
    np.testing.assert_allclose(loss.item(), lt.item(), rtol=1e-13)
    np.testing.assert_allclose(gx.numpy(), gxt.detach().numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(gy.numpy(), gyt.detach().numpy(), rtol=1e-12, atol=1e-15)
    # the Hessian row sums: 2c for every entry (c = ½·(1/n if mean))
    np.testing.assert_allclose(hxx.numpy(), hxxt.numpy(), rtol=1e-12)
