"""Convolution and pooling against PyTorch in float64: values, gradients and Hessian-vector
products over random configurations (1-D and 2-D; stride, padding incl. 'same', dilation,
groups, odd sizes, batch 1), gradcheck, worked examples, and the bad-input errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch.nn.functional as TF

import chainrule as cr
from chainrule.nn import functional as F
from chainrule.nn._conv_ops import ConvInputGrad, ConvWeightGrad, Geometry
from oracle import check_against_torch

RTOL, ATOL = 1e-9, 1e-10


def _conv_config(seed: int, nd: int) -> dict:
    """A random valid convolution: sizes, stride, padding, dilation, groups."""
    rng = np.random.default_rng(seed)
    groups = int(rng.choice([1, 1, 2, 3]))
    cin = groups * int(rng.integers(1, 4))
    cout = groups * int(rng.integers(1, 4))
    kernel = tuple(int(k) for k in rng.integers(1, 5, nd))
    dilation = tuple(int(d) for d in rng.integers(1, 3, nd))
    same = rng.random() < 0.25
    stride = (1,) * nd if same else tuple(int(s) for s in rng.integers(1, 4, nd))
    padding = "same" if same else tuple(int(p) for p in rng.integers(0, 3, nd))
    pads = (0,) * nd if same else padding
    size = tuple(
        int(d * (k - 1) + 1 - 2 * p + rng.integers(0, 6))
        for k, d, p in zip(kernel, dilation, pads)
    )
    size = tuple(max(s, 1) for s in size)
    batch = int(rng.choice([1, 2, 3]))
    return dict(x=rng.standard_normal((batch, cin) + size),
                w=rng.standard_normal((cout, cin // groups) + kernel),
                b=rng.standard_normal(cout), stride=stride, padding=padding,
                dilation=dilation, groups=groups)


@pytest.mark.parametrize("nd", [1, 2])
@pytest.mark.parametrize("seed", range(12))
def test_conv_matches_torch_with_hessian_vector_products(nd, seed):
    c = _conv_config(seed + 100 * nd, nd)
    kw = {k: c[k] for k in ("stride", "padding", "dilation", "groups")}
    cr_f = F.conv1d if nd == 1 else F.conv2d
    t_f = TF.conv1d if nd == 1 else TF.conv2d
    check_against_torch(
        lambda x, w, b: cr_f(x, w, b, **kw) ** 2,  # squared: a nonzero second derivative
        lambda x, w, b: t_f(x, w, b, **kw) ** 2,
        c["x"], c["w"], c["b"], rtol=RTOL, atol=ATOL, seed=seed, second_order=True,
    )


@pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")
@pytest.mark.parametrize("nd", [1, 2])
def test_conv_without_bias_and_same_padding_with_even_kernel(nd):
    # 'same' with an even kernel pads d(k−1) = 3 in total: 1 before, 2 after (as PyTorch)
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 2) + (7,) * nd)
    w = rng.standard_normal((3, 2) + (4,) * nd)
    cr_f, t_f = (F.conv1d, TF.conv1d) if nd == 1 else (F.conv2d, TF.conv2d)
    check_against_torch(lambda x, w: cr_f(x, w, padding="same"),
                        lambda x, w: t_f(x, w, padding="same"), x, w, second_order=True)
    assert cr_f(cr.tensor(x), cr.tensor(w), padding="same").shape == (2, 3) + (7,) * nd


def _pool_config(seed: int, nd: int) -> dict:
    rng = np.random.default_rng(seed)
    kernel = tuple(int(k) for k in rng.integers(1, 4, nd))
    stride = tuple(int(s) for s in rng.integers(1, 4, nd))
    padding = tuple(int(rng.integers(0, k // 2 + 1)) for k in kernel)
    dilation = tuple(int(d) for d in rng.integers(1, 3, nd))
    size = tuple(int(d * (k - 1) + 1 + rng.integers(0, 5)) for k, d in zip(kernel, dilation))
    return dict(x=rng.standard_normal((int(rng.integers(1, 3)), 2) + size), kernel=kernel,
                stride=stride, padding=padding, dilation=dilation)


@pytest.mark.parametrize("nd", [1, 2])
@pytest.mark.parametrize("seed", range(8))
def test_max_pool_matches_torch(nd, seed):
    c = _pool_config(seed + 10 * nd, nd)
    kw = dict(kernel_size=c["kernel"], stride=c["stride"], padding=c["padding"],
              dilation=c["dilation"])
    cr_f, t_f = (F.max_pool1d, TF.max_pool1d) if nd == 1 else (F.max_pool2d, TF.max_pool2d)
    check_against_torch(lambda x: cr_f(x, **kw) ** 2, lambda x: t_f(x, **kw) ** 2, c["x"],
                        rtol=RTOL, atol=ATOL, seed=seed, second_order=True)


@pytest.mark.parametrize("nd", [1, 2])
@pytest.mark.parametrize("seed", range(8))
def test_avg_pool_matches_torch(nd, seed):
    c = _pool_config(seed + 20 * nd, nd)
    cip = bool(seed % 2)
    kw = dict(kernel_size=c["kernel"], stride=c["stride"], padding=c["padding"],
              count_include_pad=cip)
    cr_f, t_f = (F.avg_pool1d, TF.avg_pool1d) if nd == 1 else (F.avg_pool2d, TF.avg_pool2d)
    check_against_torch(lambda x: cr_f(x, **kw) ** 2, lambda x: t_f(x, **kw) ** 2, c["x"],
                        rtol=RTOL, atol=ATOL, seed=seed, second_order=True)


@pytest.mark.parametrize(("nd", "size", "out"), [(1, 7, 3), (1, 6, 6), (1, 5, 8),
                                                 (2, (7, 5), (3, 2)), (2, (4, 6), 1)])
def test_adaptive_avg_pool_matches_torch(nd, size, out):
    rng = np.random.default_rng(3)
    shape = (2, 3) + ((size,) if nd == 1 else size)
    cr_f = F.adaptive_avg_pool1d if nd == 1 else F.adaptive_avg_pool2d
    t_f = TF.adaptive_avg_pool1d if nd == 1 else TF.adaptive_avg_pool2d
    check_against_torch(lambda x: cr_f(x, out) ** 2, lambda x: t_f(x, out) ** 2,
                        rng.standard_normal(shape), second_order=True)


def test_conv_gradcheck_of_gradient_and_value():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 2, 6, 5))
    w = rng.standard_normal((4, 1, 3, 2))
    b = rng.standard_normal(4)
    report = cr.gradcheck(
        lambda x, w, b: F.conv2d(x, w, b, stride=(2, 1), padding=1, dilation=(1, 2), groups=2)
        .tanh(), x, w, b)
    assert report, report
    # the two primitives of the backward pass (differentiated again by second derivatives)
    geom = Geometry(stride=(2,), padding=((1, 2),), dilation=(2,), groups=1)
    g = rng.standard_normal((2, 3, 4))  # conv1d of (2, 2, 9) by (3, 2, 3): length 4
    ws = rng.standard_normal((3, 2, 3))
    xs = rng.standard_normal((2, 2, 9))
    assert cr.gradcheck(
        lambda g, w: ConvInputGrad.apply(g, w, geom=geom, x_shape=(2, 2, 9)).sin(), g, ws)
    assert cr.gradcheck(
        lambda x, g: ConvWeightGrad.apply(x, g, geom=geom, w_shape=(3, 2, 3)).sin(), xs, g)


def test_pool_gradcheck():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 7, 6))
    assert cr.gradcheck(lambda x: F.max_pool2d(x, 3, stride=2, padding=1).sin(), x)
    assert cr.gradcheck(lambda x: F.avg_pool2d(x, 2, padding=1, count_include_pad=False)
                        .sin(), x)


def test_conv1d_worked_example():
    # x = [1, 2, 3, 4], W = [1, 0, −1], padding 1, stride 2 → x_pad = [0, 1, 2, 3, 4, 0]
    # y[0] = 0·1 + 1·0 + 2·(−1) = −2,  y[1] = 2·1 + 3·0 + 4·(−1) = −2;  + b = 0.5
    x = cr.tensor([[[1.0, 2.0, 3.0, 4.0]]], requires_grad=True)
    w = cr.tensor([[[1.0, 0.0, -1.0]]], requires_grad=True)
    y = F.conv1d(x, w, cr.tensor([0.5]), stride=2, padding=1)
    np.testing.assert_allclose(y.numpy(), [[[-1.5, -1.5]]])
    y.sum().backward()
    # ∂(y0 + y1)/∂x_pad[i] sums the weights that tap i: y0 taps x_pad[0, 1, 2], y1 taps
    # x_pad[2, 3, 4] → [1, 0, −1 + 1, 0, −1, 0]; x = x_pad[1:5] gets [0, 0, 0, −1]
    np.testing.assert_allclose(x.grad.numpy(), [[[0.0, 0.0, 0.0, -1.0]]])
    # ∂/∂W[k] = Σ_l x_pad[2l + k] = [0 + 2, 1 + 3, 2 + 4]
    np.testing.assert_allclose(w.grad.numpy(), [[[2.0, 4.0, 6.0]]])


def test_float32_stays_float32():
    x = cr.ones(2, 3, 10)
    w = cr.tensor(np.ones((4, 3, 3), np.float32), requires_grad=True)
    y = F.max_pool1d(F.conv1d(x, w, padding=1), 2)
    y = F.avg_pool1d(y, 2) + F.adaptive_avg_pool1d(y, 2)
    y.sum().backward()
    assert y.dtype == np.float32 and w.grad.dtype == np.float32


@pytest.mark.parametrize(("call", "message"), [
    (lambda: F.conv1d(cr.ones(3, 8), cr.ones(4, 3, 3)), r"expected input of shape \(N, C, L\)"),
    (lambda: F.conv2d(cr.ones(1, 2, 5, 5), cr.ones(4, 3, 3, 3)),
     r"input of shape \(1, 2, 5, 5\) has 2 channels but weight of shape \(4, 3, 3, 3\)"),
    (lambda: F.conv1d(cr.ones(1, 4, 5), cr.ones(6, 2, 3), groups=3),
     r"groups=3 must divide the input channels \(4"),
    (lambda: F.conv1d(cr.ones(1, 1, 4), cr.ones(1, 1, 7), padding=1),
     r"kernel of extent 7 .* padded input .* 4 \+ 1 \+ 1 = 6"),
    (lambda: F.conv2d(cr.ones(1, 1, 9, 9), cr.ones(1, 1, 3, 3), stride=2, padding="same"),
     "padding='same' needs stride 1"),
    (lambda: F.conv1d(cr.ones(1, 1, 9), cr.ones(1, 1, 3), stride=0), "stride must be >= 1"),
    (lambda: F.conv1d(cr.ones(1, 2, 9), cr.ones(3, 2, 3), cr.ones(2)),
     r"bias must have shape \(3,\)"),
    (lambda: F.max_pool2d(cr.ones(1, 1, 3, 3), 2, padding=2), "at most half the kernel"),
    (lambda: F.max_pool1d(cr.ones(1, 1, 3), 5), "kernel of extent 5"),
    (lambda: F.avg_pool2d(cr.ones(2, 5, 5), 2), r"\(N, C, H, W\)"),
])
def test_bad_input_names_the_shapes(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_bad_argument_types():
    with pytest.raises(TypeError, match="stride must be an int or a tuple of 2 ints"):
        F.conv2d(cr.ones(1, 1, 5, 5), cr.ones(1, 1, 3, 3), stride=(1, 2, 3))
    with pytest.raises(TypeError, match="floating point"):
        F.conv1d(cr.tensor(np.ones((1, 1, 5), np.int64)), cr.ones(1, 1, 3))

