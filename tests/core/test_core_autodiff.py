"""The graph walk, higher-order derivatives, the transforms, gradcheck and the errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.autograd.functional import hessian as t_hessian
from torch.autograd.functional import jacobian as t_jacobian

import chainrule as cr
from chainrule import ops


def test_computational_graph_worked_example():
    # f(x, y, z) = (x + y)·z at (−2, 5, −4):
    #   q = x + y = 3,  f = q·z = 3·(−4) = −12
    #   ∂f/∂z = q = 3;  ∂f/∂q = z = −4;  ∂f/∂x = ∂f/∂q·∂q/∂x = −4·1 = −4;  ∂f/∂y = −4
    x = cr.tensor(-2.0, requires_grad=True)
    y = cr.tensor(5.0, requires_grad=True)
    z = cr.tensor(-4.0, requires_grad=True)
    f = (x + y) * z
    f.backward()
    assert f.item() == -12.0
    assert (x.grad.item(), y.grad.item(), z.grad.item()) == (-4.0, -4.0, 3.0)


def test_gradient_accumulates_over_uses_and_calls():
    # f = x·x + x → ∂f/∂x = 2x + 1 = 7 at x = 3; a second backward adds another 7
    x = cr.tensor(3.0, requires_grad=True)
    f = x * x + x
    f.backward()
    assert x.grad.item() == 7.0
    (x * x + x).backward()
    assert x.grad.item() == 14.0


def test_graph_100000_deep_backpropagates():
    # y = x·1.0001^N written as N chained multiplications: no recursion limit is hit
    x = cr.tensor(1.0, dtype=np.float64, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0001
    y.backward()
    assert x.grad.item() == pytest.approx(1.0001**100_000, rel=1e-9)
    del y


def test_backward_walk_is_deterministic():
    def run():
        x = cr.tensor(np.linspace(-1, 1, 7), requires_grad=True)
        h = x.tanh()
        f = (h * x).sum() + (h.exp() * h).sum() + x.max()
        f.backward()
        return x.grad.numpy().copy()

    np.testing.assert_array_equal(run(), run())


def test_backward_on_non_scalar_needs_grad():
    x = cr.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = x * 2
    with pytest.raises(ValueError, match=r"scalar output, got shape \(2, 2\)"):
        y.backward()
    y.backward(grad=np.ones((2, 2)))
    np.testing.assert_array_equal(x.grad.numpy(), np.full((2, 2), 2.0))
    with pytest.raises(ValueError, match=r"grad has shape \(3,\)"):
        (x * 2).backward(grad=np.ones(3))


def test_no_grad_builds_no_graph():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    with cr.no_grad():
        y = (x * 3).exp()
        assert not cr.is_grad_enabled()
    assert cr.is_grad_enabled()
    assert not y.requires_grad and y._ctx is None
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.sum().backward()


def test_backward_builds_no_graph_unless_asked():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    assert not x.grad.requires_grad
    x.grad = None
    (x * x).sum().backward(create_graph=True)
    assert x.grad.requires_grad  # 2x, still differentiable


def test_detach_and_leaves():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    assert x.is_leaf and not y.is_leaf
    d = y.detach()
    assert not d.requires_grad and d.numpy() is y.numpy()
    h = x * 3
    h.retain_grad()
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad.numpy(), 2 * h.numpy())


def test_dtypes_follow_torch_rules():
    assert cr.tensor([1.0, 2.0]).dtype == np.float32
    assert cr.tensor(np.zeros(3)).dtype == np.float64
    assert cr.tensor([1, 2]).dtype == np.int64
    assert cr.tensor(np.zeros(3, np.float32)).dtype == np.float32
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    # Python scalars never promote float32 to float64, forward or backward
    y = (x * 2.5 + 1.0) / 3.0 - 0.5
    y = (y**2).exp().sigmoid().tanh().log_softmax()
    y.sum().backward()
    assert y.dtype == np.float32 and x.grad.dtype == np.float32
    assert cr.tensor(np.ones(2), dtype=np.float32).dtype == np.float32


def test_integer_tensors_cannot_require_grad():
    with pytest.raises(TypeError, match="only floating-point tensors can require gradients, got"):
        cr.tensor([1, 2], requires_grad=True)
    with pytest.raises(TypeError, match="int64"):
        cr.tensor([1, 2]).requires_grad_()


def test_shape_errors_name_both_shapes_and_the_operation():
    a = cr.tensor(np.zeros((32, 64)))
    b = cr.tensor(np.zeros((32, 10)))
    with pytest.raises(ValueError) as err:
        a @ b
    assert str(err.value) == "matmul: (32, 64) @ (32, 10): inner dimensions 64 and 32 differ"
    with pytest.raises(ValueError, match=r"add: shapes \(3, 4\) and \(5,\) cannot be broadcast"):
        cr.tensor(np.zeros((3, 4))) + cr.tensor(np.zeros(5))
    with pytest.raises(ValueError, match=r"reshape: cannot reshape a tensor of shape \(3, 4\)"):
        cr.tensor(np.zeros((3, 4))).reshape(5, 2)
    with pytest.raises(ValueError, match="axis 2 is out of range"):
        cr.tensor(np.zeros((3, 4))).sum(axis=2)
    with pytest.raises(ValueError, match="concatenate: shapes"):
        cr.concatenate([cr.tensor(np.zeros((2, 3))), cr.tensor(np.zeros((2, 4)))], axis=0)
    with pytest.raises(ValueError, match="stack: all tensors need the same shape"):
        cr.stack([cr.tensor(np.zeros(2)), cr.tensor(np.zeros(3))])
    with pytest.raises(TypeError, match="cannot make a tensor"):
        cr.tensor("abc")


def test_python_semantics():
    x = cr.tensor(np.array([-1.0, 2.0]), requires_grad=True)
    np.testing.assert_array_equal(abs(x).numpy(), [1.0, 2.0])
    np.testing.assert_array_equal((1 - x).numpy(), [2.0, -1.0])
    np.testing.assert_array_equal((2 * x).numpy(), [-2.0, 4.0])
    np.testing.assert_array_equal((2**x).numpy(), [0.5, 4.0])
    np.testing.assert_array_equal((np.array([1.0, 1.0]) + x).numpy(), [0.0, 3.0])
    assert isinstance(np.array([1.0, 1.0]) * x, cr.Tensor)
    assert x[1].item() == 2.0 and len(x) == 2 and x.ndim == 1 and x.shape == (2,)
    assert float(x.sum()) == 1.0
    assert "requires_grad=True" in repr(x)


# ------------------------------------------------------------- higher-order derivatives

A = np.array([[2.0, 1.0, 0.5], [0.0, 3.0, -1.0], [1.5, 0.5, 1.0]])
W = np.array([[0.5, -0.3, 0.8], [0.2, 0.1, -0.6]])
X0 = np.array([0.3, -0.7, 1.1])

SCALAR_FUNCTIONS = [
    # name, chainrule f, torch f, closed-form Hessian (or None)
    ("quadratic_form", lambda x: 0.5 * (x @ (cr.tensor(A) @ x)),
     lambda x: 0.5 * (x @ (torch.tensor(A) @ x)), lambda x: (A + A.T) / 2),
    ("sum_cubes", lambda x: (x**3).sum(), lambda x: (x**3).sum(), lambda x: np.diag(6 * x)),
    ("exp_sum", lambda x: x.exp().sum(), lambda x: x.exp().sum(), lambda x: np.diag(np.exp(x))),
    ("log_sum_exp", lambda x: x.logsumexp(axis=0), lambda x: x.logsumexp(0),
     lambda x: np.diag(np.exp(x) / np.exp(x).sum())
     - np.outer(np.exp(x), np.exp(x)) / np.exp(x).sum() ** 2),
    ("norm_squared", lambda x: (x * x).sum(), lambda x: (x * x).sum(), lambda x: 2 * np.eye(3)),
    ("product", lambda x: x[0] * x[1] * x[2], lambda x: x[0] * x[1] * x[2],
     lambda x: np.array([[0, x[2], x[1]], [x[2], 0, x[0]], [x[1], x[0], 0]])),
    ("tanh_Wx_sum", lambda x: (cr.tensor(W) @ x).tanh().sum(),
     lambda x: (torch.tensor(W) @ x).tanh().sum(), None),
    ("sigmoid_sq", lambda x: (x.sigmoid() ** 2).sum(), lambda x: (torch.sigmoid(x) ** 2).sum(),
     None),
    ("sin_times_cos", lambda x: (x.sin() * x.cos()).sum(), lambda x: (x.sin() * x.cos()).sum(),
     lambda x: np.diag(-2 * np.sin(2 * x))),
    ("rosenbrock", lambda x: (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum(),
     lambda x: (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum(), None),
    ("softmax_entropy", lambda x: -(x.softmax(axis=0) * x.log_softmax(axis=0)).sum(),
     lambda x: -(x.softmax(0) * x.log_softmax(0)).sum(), None),
    ("sqrt_norm", lambda x: ((x * x).sum() + 1.0).sqrt(), lambda x: ((x * x).sum() + 1.0).sqrt(),
     lambda x: np.eye(3) / np.sqrt(x @ x + 1) - np.outer(x, x) / (x @ x + 1) ** 1.5),
]


@pytest.mark.parametrize("case", SCALAR_FUNCTIONS, ids=[c[0] for c in SCALAR_FUNCTIONS])
def test_hessian_matches_torch_and_closed_form(case):
    _, f, tf, closed = case
    H = cr.hessian(f)(X0)
    H_torch = t_hessian(tf, torch.tensor(X0)).numpy()
    np.testing.assert_allclose(H, H_torch, rtol=1e-10, atol=1e-12)
    if closed is not None:
        np.testing.assert_allclose(H, closed(X0), rtol=1e-10, atol=1e-12)
    # the Hessian of a smooth function is symmetric (Schwarz)
    np.testing.assert_allclose(H, H.T, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("case", SCALAR_FUNCTIONS, ids=[c[0] for c in SCALAR_FUNCTIONS])
def test_grad_matches_torch(case):
    _, f, tf, _ = case
    x = torch.tensor(X0, requires_grad=True)
    (g_torch,) = torch.autograd.grad(tf(x), x)
    np.testing.assert_allclose(cr.grad(f)(X0), g_torch.numpy(), rtol=1e-10, atol=1e-12)


VECTOR_FUNCTIONS = [
    ("linear_map", lambda x: cr.tensor(A) @ x, lambda x: torch.tensor(A) @ x, lambda x: A),
    ("tanh_Wx", lambda x: (cr.tensor(W) @ x).tanh(), lambda x: (torch.tensor(W) @ x).tanh(),
     lambda x: (1 - np.tanh(W @ x) ** 2)[:, None] * W),
    ("softmax", lambda x: x.softmax(axis=0), lambda x: x.softmax(0),
     lambda x: np.diag(np.exp(x) / np.exp(x).sum())
     - np.outer(np.exp(x), np.exp(x)) / np.exp(x).sum() ** 2),
    ("elementwise_square", lambda x: x * x, lambda x: x * x, lambda x: np.diag(2 * x)),
    ("polar", lambda x: cr.stack([x[0] * x[1].cos(), x[0] * x[1].sin()]),
     lambda x: torch.stack([x[0] * x[1].cos(), x[0] * x[1].sin()]),
     lambda x: np.array([[np.cos(x[1]), -x[0] * np.sin(x[1]), 0],
                         [np.sin(x[1]), x[0] * np.cos(x[1]), 0]])),
    ("outer", lambda x: x.reshape(3, 1) * x.reshape(1, 3),
     lambda x: x.reshape(3, 1) * x.reshape(1, 3), None),
]


@pytest.mark.parametrize("case", VECTOR_FUNCTIONS, ids=[c[0] for c in VECTOR_FUNCTIONS])
def test_jacobian_matches_torch_and_closed_form(case):
    _, f, tf, closed = case
    J = cr.jacobian(f)(X0)
    J_torch = t_jacobian(tf, torch.tensor(X0)).numpy()
    np.testing.assert_allclose(J, J_torch, rtol=1e-10, atol=1e-12)
    if closed is not None:
        np.testing.assert_allclose(J, closed(X0), rtol=1e-10, atol=1e-12)


def test_grad_of_grad_is_the_second_derivative():
    # f(x) = x³ sin x:  f' = 3x² sin x + x³ cos x,  f'' = 6x sin x + 6x² cos x − x³ sin x
    def f(x):
        return (x**3 * x.sin()).sum()

    x0 = np.array([0.7, -1.3])
    d2 = cr.grad(lambda x: cr.grad(f)(x).sum())(x0)
    expected = 6 * x0 * np.sin(x0) + 6 * x0**2 * np.cos(x0) - x0**3 * np.sin(x0)
    np.testing.assert_allclose(d2, expected, rtol=1e-12)
    # third derivative of tanh: f''' = −2 + 8 tanh² − 6 tanh⁴ … compare with torch
    xt = torch.tensor(x0, requires_grad=True)
    (g1,) = torch.autograd.grad(xt.tanh().sum(), xt, create_graph=True)
    (g2,) = torch.autograd.grad(g1.sum(), xt, create_graph=True)
    (g3,) = torch.autograd.grad(g2.sum(), xt)
    d3 = cr.grad(lambda x: cr.grad(lambda y: cr.grad(lambda z: z.tanh().sum())(y).sum())(x)
                 .sum())(x0)
    np.testing.assert_allclose(d3, g3.numpy(), rtol=1e-12)


def test_grad_argnums_and_errors():
    def f(a, b):
        return (a * b * b).sum()

    ga, gb = cr.grad(f, argnums=(0, 1))(np.array([1.0, 2.0]), np.array([3.0, 4.0]))
    np.testing.assert_array_equal(ga, [9.0, 16.0])      # ∂/∂a = b²
    np.testing.assert_array_equal(gb, [6.0, 16.0])      # ∂/∂b = 2ab
    with pytest.raises(ValueError, match="must return a scalar"):
        cr.grad(lambda x: x * 2)(np.ones(2))
    with pytest.raises(ValueError, match="argnums 3 is out of range"):
        cr.grad(f, argnums=3)(np.ones(2), np.ones(2))


def test_hessian_of_quadratic_form_is_symmetric_part():
    # ½xᵀAx with a non-symmetric A has Hessian (A + Aᵀ)/2
    rng = np.random.default_rng(5)
    B = rng.standard_normal((4, 4))
    H = cr.hessian(lambda x: 0.5 * (x @ (cr.tensor(B) @ x)))(rng.standard_normal(4))
    np.testing.assert_allclose(H, (B + B.T) / 2, rtol=1e-12, atol=1e-14)


# --------------------------------------------------------------------------- gradcheck

rng = np.random.default_rng(7)
GRADCHECK_CASES = {
    "add": (lambda a, b: a + b, [rng.standard_normal((3, 4)), rng.standard_normal(4)]),
    "sub": (lambda a, b: a - b, [rng.standard_normal((3, 4)), rng.standard_normal((3, 1))]),
    "mul": (lambda a, b: a * b, [rng.standard_normal((3, 4)), rng.standard_normal(())]),
    "div": (lambda a, b: a / b, [rng.standard_normal((3, 4)), rng.uniform(1, 2, 4)]),
    "neg": (lambda a: -a, [rng.standard_normal(5)]),
    "pow": (lambda a, b: a**b, [rng.uniform(0.5, 2, 4), rng.standard_normal(4)]),
    "matmul": (lambda a, b: a @ b, [rng.standard_normal((3, 4)), rng.standard_normal((4, 2))]),
    "exp": (lambda a: a.exp(), [rng.standard_normal(5)]),
    "log": (lambda a: a.log(), [rng.uniform(0.5, 2, 5)]),
    "log1p": (lambda a: a.log1p(), [rng.uniform(0.5, 2, 5)]),
    "sqrt": (lambda a: a.sqrt(), [rng.uniform(0.5, 2, 5)]),
    "sin": (lambda a: a.sin(), [rng.standard_normal(5)]),
    "cos": (lambda a: a.cos(), [rng.standard_normal(5)]),
    "tanh": (lambda a: a.tanh(), [rng.standard_normal(5)]),
    "sigmoid": (lambda a: a.sigmoid(), [rng.standard_normal(5)]),
    "erf": (lambda a: a.erf(), [rng.standard_normal(5)]),
    "relu": (lambda a: a.relu(), [rng.uniform(0.2, 1, 5) * rng.choice([-1, 1], 5)]),
    "abs": (lambda a: abs(a), [rng.uniform(0.2, 1, 5) * rng.choice([-1, 1], 5)]),
    "clip": (lambda a: a.clip(-0.5, 0.5), [np.array([-0.9, -0.3, 0.1, 0.45, 0.8])]),
    "where": (lambda a, b: cr.where(a.numpy() > 0, a, b),
              [rng.standard_normal(5), rng.standard_normal(5)]),
    "sum": (lambda a: a.sum(axis=1), [rng.standard_normal((3, 4))]),
    "broadcastto": (lambda a: a.broadcast_to((3, 4)), [rng.standard_normal(4)]),
    "max": (lambda a: a.max(axis=0), [rng.standard_normal((3, 4))]),
    "min": (lambda a: a.min(axis=1), [rng.standard_normal((3, 4))]),
    "logsumexp": (lambda a: a.logsumexp(axis=-1), [rng.standard_normal((3, 4))]),
    "logsoftmax": (lambda a: a.log_softmax(axis=-1), [rng.standard_normal((3, 4))]),
    "reshape": (lambda a: a.reshape(2, 6), [rng.standard_normal((3, 4))]),
    "transpose": (lambda a: a.T, [rng.standard_normal((3, 4))]),
    "getitem": (lambda a: a[[0, 2, 2], 1:], [rng.standard_normal((3, 4))]),
    "concatenate": (lambda a, b: cr.concatenate([a, b], axis=1),
                    [rng.standard_normal((3, 4)), rng.standard_normal((3, 2))]),
    "cast": (lambda a: a.astype(np.float32).astype(np.float64) * 1.0,
             [rng.standard_normal(3)]),
    "squarederror": (lambda x, y: ops.SquaredError.apply(x, y, scale=0.25),
                     [rng.standard_normal((3, 4)), rng.standard_normal((3, 4))]),
    "linear": (lambda x, w, b: ops.Linear.apply(x, w, b),
               [rng.standard_normal((5, 3)), rng.standard_normal((2, 3)), rng.standard_normal(2)]),
    "softmaxcrossentropy": (lambda x: ops.SoftmaxCrossEntropy.apply(x, np.array([0, 2, 1, 2])),
                            [rng.standard_normal((4, 3))]),
    "linearactivation": (
        lambda x, w, b: ops.LinearActivation.apply(x, w, b, activation=ops.Tanh),
        [rng.standard_normal((5, 3)), rng.standard_normal((2, 3)), rng.standard_normal(2)]),
}


@pytest.mark.parametrize("name", sorted(GRADCHECK_CASES))
def test_gradcheck_passes_on_every_primitive(name):
    f, inputs = GRADCHECK_CASES[name]
    # the float32 round trip of "cast" limits precision: a wider step, a looser tolerance
    eps, tol = (1e-2, 1e-3) if name == "cast" else (1e-6, 1e-7)
    report = cr.gradcheck(f, *inputs, eps=eps, tol=tol)
    assert report, str(report)


def test_gradcheck_covers_every_primitive():
    primitives = {
        c.__name__.lower() for c in vars(ops).values()
        if isinstance(c, type) and issubclass(c, ops.Function) and c is not ops.Function
    }
    # ScatterAdd is getitem's backward; Uniform draws random numbers and has no inputs
    covered = set(GRADCHECK_CASES) | {"scatteradd", "uniform"}
    assert primitives <= covered, f"primitives without gradcheck: {primitives - covered}"


class WrongSquare(ops.Function):
    """z = x²  with a deliberately wrong backward (3x instead of 2x)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3.0 * x


def test_gradcheck_flags_a_wrong_backward_and_names_the_input():
    x = np.array([0.5, -1.0, 2.0])
    y = np.array([1.0, 2.0])
    report = cr.gradcheck(lambda a, b: WrongSquare.apply(a).sum() * b.sum(), x, y)
    assert not report
    assert report.worst_input == 0
    # ‖g_num − g‖/(‖g_num‖ + ‖g‖) with g = 1.5·g_num: 0.5/2.5 = 0.2
    assert report.max_rel_diff == pytest.approx(0.2, rel=1e-6)
    assert "FAILED" in str(report) and "worst input 0" in str(report)


def test_gradcheck_validates_arguments():
    with pytest.raises(ValueError, match="eps must be > 0"):
        cr.gradcheck(lambda a: a, np.ones(2), eps=0)
    with pytest.raises(ValueError, match="no floating-point input"):
        cr.gradcheck(lambda a: a * 1.0, np.array([1, 2]))


def test_manual_seed_and_get_rng():
    cr.manual_seed(3)
    a = cr.rng.get_rng().standard_normal(3)
    cr.manual_seed(3)
    np.testing.assert_array_equal(a, cr.rng.get_rng().standard_normal(3))
    g = np.random.default_rng(1)
    assert cr.rng.get_rng(g) is g
    with pytest.raises(TypeError, match="seed must be None"):
        cr.rng.get_rng("x")
    with pytest.raises(ValueError, match="non-negative"):
        cr.manual_seed(-1)
