"""Activations: functional and module forms against PyTorch (values, gradients, Hessian-vector
products), finite differences, float32 preservation, overflow traps, registry."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from torch_oracle import check_fn

import chainrule as cr
from chainrule import nn
from chainrule.nn import functional as F

SHAPES = [(7,), (4, 5), (2, 3, 4)]

# name -> (chainrule function, torch function, chainrule module, torch module)
CASES = {
    "sigmoid": (F.sigmoid, torch.sigmoid, nn.Sigmoid(), torch.nn.Sigmoid()),
    "tanh": (F.tanh, torch.tanh, nn.Tanh(), torch.nn.Tanh()),
    "relu": (F.relu, TF.relu, nn.ReLU(), torch.nn.ReLU()),
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.2), lambda x: TF.leaky_relu(x, 0.2),
                   nn.LeakyReLU(0.2), torch.nn.LeakyReLU(0.2)),
    "leaky_relu_default": (F.leaky_relu, TF.leaky_relu, nn.LeakyReLU(), torch.nn.LeakyReLU()),
    "elu": (lambda x: F.elu(x, 0.7), lambda x: TF.elu(x, 0.7), nn.ELU(0.7),
            torch.nn.ELU(0.7)),
    "selu": (F.selu, TF.selu, nn.SELU(), torch.nn.SELU()),
    "softplus": (F.softplus, TF.softplus, nn.Softplus(), torch.nn.Softplus()),
    "softplus_beta": (lambda x: F.softplus(x, 2.0, 3.0), lambda x: TF.softplus(x, 2.0, 3.0),
                      nn.Softplus(2.0, 3.0), torch.nn.Softplus(2.0, 3.0)),
    "gelu": (F.gelu, TF.gelu, nn.GELU(), torch.nn.GELU()),
    "gelu_tanh": (lambda x: F.gelu(x, "tanh"), lambda x: TF.gelu(x, approximate="tanh"),
                  nn.GELU("tanh"), torch.nn.GELU(approximate="tanh")),
    "silu": (F.silu, TF.silu, nn.SiLU(), torch.nn.SiLU()),
    "swish_beta": (lambda x: F.swish(x, 1.5), lambda x: x * torch.sigmoid(1.5 * x),
                   nn.Swish(1.5), None),
    "softmax": (lambda x: F.softmax(x, axis=-1), lambda x: torch.softmax(x, dim=-1),
                nn.Softmax(), torch.nn.Softmax(dim=-1)),
    "softmax_axis0": (lambda x: F.softmax(x, dim=0), lambda x: torch.softmax(x, dim=0),
                      nn.Softmax(dim=0), torch.nn.Softmax(dim=0)),
    "log_softmax": (lambda x: F.log_softmax(x), lambda x: torch.log_softmax(x, dim=-1),
                    nn.LogSoftmax(), torch.nn.LogSoftmax(dim=-1)),
    "identity": (F.identity, lambda x: x * 1.0, nn.Identity(), torch.nn.Identity()),
}


def _x(shape, seed=0, scale=3.0):
    return np.random.default_rng(seed).standard_normal(shape) * scale


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", sorted(CASES))
def test_functional_matches_torch(name, shape):
    cr_f, t_f, _, _ = CASES[name]
    check_fn(cr_f, t_f, _x(shape), gradcheck=len(shape) < 3)


@pytest.mark.parametrize("name", sorted(CASES))
def test_module_matches_torch(name):
    _, t_f, cr_m, t_m = CASES[name]
    check_fn(cr_m, t_m if t_m is not None else t_f, _x((3, 4), seed=1), gradcheck=False)


@pytest.mark.parametrize("name", ["softplus", "softplus_beta", "elu", "selu", "leaky_relu",
                                  "gelu", "silu", "relu"])
def test_special_points_match_torch(name):
    # kinks and switch points: 0, either side of the softplus threshold (20, 3/2), large |x|
    cr_f, t_f, _, _ = CASES[name]
    # (first order only: at the kink x = 0 the second derivative is a convention — torch
    # returns 0 for ELU's, the left limit is alpha)
    x = np.array([0.0, -0.0, 1.4, 1.6, 19.5, 20.5, -30.0, 30.0, 1e-8, -1e-8])
    check_fn(cr_f, t_f, x, gradcheck=False, second_order=False)


@pytest.mark.parametrize("name", sorted(CASES))
def test_float32_stays_float32(name):
    cr_f = CASES[name][0]
    x = cr.tensor(_x((3, 4)).astype(np.float32), requires_grad=True)
    y = cr_f(x)
    assert y.dtype == np.float32, f"{name}: output dtype {y.dtype}"
    (y * y).sum().backward()
    assert x.grad.dtype == np.float32, f"{name}: gradient dtype {x.grad.dtype}"


@pytest.mark.parametrize("name", ["elu", "selu", "softplus", "gelu", "silu", "sigmoid"])
def test_no_nan_gradients_for_huge_inputs(name):
    # where(x > 0, x, exp(x) − 1) would give 0·inf = NaN at x = 1000 without the min(x, 0)
    cr_f = CASES[name][0]
    x = cr.tensor(np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0]), requires_grad=True)
    cr_f(x).sum().backward()
    assert np.all(np.isfinite(x.grad.numpy())), x.grad


def test_elu_negative_branch_values():
    # f(−1) = α(e^{−1} − 1) with α = 0.7: −0.7·0.6321 = −0.44248
    y = F.elu(cr.tensor(np.array([-1.0, 2.0])), 0.7).numpy()
    np.testing.assert_allclose(y, [0.7 * (np.exp(-1.0) - 1.0), 2.0], rtol=1e-12)


def test_gelu_exact_and_tanh_differ_slightly():
    x = np.linspace(-4, 4, 101)
    exact = F.gelu(cr.tensor(x)).numpy()
    approx = F.gelu(cr.tensor(x), "tanh").numpy()
    diff = np.abs(exact - approx).max()
    assert 0 < diff < 1e-3, diff


def test_softmax_rows_sum_to_one_and_are_stable():
    x = cr.tensor(np.array([[1000.0, 1000.0, 0.0], [-1000.0, 0.0, 1.0]]))
    p = F.softmax(x).numpy()
    np.testing.assert_allclose(p.sum(axis=-1), [1.0, 1.0], rtol=1e-12)
    assert np.all(np.isfinite(F.log_softmax(x).numpy()))


def test_argument_validation():
    with pytest.raises(ValueError, match="approximate must be 'none' or 'tanh', got 'fast'"):
        nn.GELU("fast")
    with pytest.raises(ValueError, match="beta must be > 0, got -1"):
        F.softplus(cr.tensor([1.0]), beta=-1.0)
    with pytest.raises(TypeError, match="negative_slope must be a number"):
        nn.LeakyReLU("0.1")
    with pytest.raises(ValueError, match="not both"):
        F.softmax(cr.tensor([[1.0]]), axis=0, dim=1)


def test_registry():
    assert isinstance(nn.get_activation("ReLU"), nn.ReLU)
    assert nn.get_activation("leaky_relu", negative_slope=0.3).negative_slope == 0.3
    assert isinstance(nn.get_activation("logistic"), nn.Sigmoid)
    m = nn.Tanh()
    assert nn.get_activation(m) is m
    for name, cls in nn.ACTIVATIONS.items():
        assert isinstance(nn.get_activation(name), cls)
    with pytest.raises(ValueError, match=r"unknown activation 'relu6'; valid names: .*gelu.*"):
        nn.get_activation("relu6")


def test_root_functional_reexports_nn_functional():
    from chainrule import functional as root_F

    assert root_F.cross_entropy is F.cross_entropy
    assert root_F.gelu is F.gelu
