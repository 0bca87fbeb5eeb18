"""Layers against PyTorch: Linear, BatchNorm1d (both modes, running statistics), LayerNorm,
Residual, Flatten; Dropout's mask statistics and evaluation identity."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch_oracle import check_fn, check_module, sync_to_torch

import chainrule as cr
from chainrule import nn
from chainrule.nn import functional as F


def _x(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


# ----------------------------------------------------------------------------- Linear


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("x_shape", [(5, 3), (3,), (2, 4, 3)], ids=str)
def test_linear_matches_torch(x_shape, bias):
    check_module(nn.Linear(3, 4, bias=bias, seed=0), torch.nn.Linear(3, 4, bias=bias),
                 _x(x_shape), gradcheck=len(x_shape) < 3)


def test_linear_is_the_textbook_neuron():
    # z = Wx + b for one input column x; on a batch of rows, x @ Wᵀ + b
    layer = nn.Linear(2, 1, seed=0)
    layer.load_state_dict({"weight": np.array([[2.0, -1.0]]), "bias": np.array([0.5])})
    z = layer(cr.tensor([[3.0, 4.0]]))
    assert z.item() == 2.0 * 3.0 - 1.0 * 4.0 + 0.5


def test_linear_default_init_is_pytorchs_and_seeded():
    a = nn.Linear(200, 300, seed=7)
    b = nn.Linear(200, 300, seed=7)
    np.testing.assert_array_equal(a.weight.numpy(), b.weight.numpy())
    np.testing.assert_array_equal(a.bias.numpy(), b.bias.numpy())
    assert not np.array_equal(a.weight.numpy(), nn.Linear(200, 300, seed=8).weight.numpy())
    bound = 1 / math.sqrt(200)
    w = a.weight.numpy()
    assert np.abs(w).max() <= bound and np.abs(a.bias.numpy()).max() <= bound
    # U(−1/√in, 1/√in) has variance 1/(3·in)
    assert abs(w.var() - 1 / 600) < 5 * (1 / 600) * math.sqrt(0.8 / w.size), \
        "Var[U(-1/sqrt(in), 1/sqrt(in))] = 1/(3 in)"


def test_linear_named_init_zero_bias_and_dtype():
    layer = nn.Linear(64, 32, init="he", seed=0, dtype=np.float64)
    assert layer.weight.dtype == np.float64 and layer.bias.dtype == np.float64
    np.testing.assert_array_equal(layer.bias.numpy(), np.zeros(32))
    np.testing.assert_array_equal(layer.weight.numpy(),
                                  nn.init.kaiming_normal((32, 64), nonlinearity="relu",
                                                         seed=np.random.default_rng(0),
                                                         dtype=np.float64))
    custom = nn.Linear(2, 2, init=lambda shape, seed, dtype: np.full(shape, 0.25, dtype))
    np.testing.assert_array_equal(custom.weight.numpy(), np.full((2, 2), 0.25, np.float32))


def test_linear_validation():
    with pytest.raises(ValueError, match=r"^Linear: in_features must be an int >= 1, got 0$"):
        nn.Linear(0, 2)
    with pytest.raises(TypeError, match=r"^Linear: out_features must be an int, got float 2\.0$"):
        nn.Linear(3, 2.0)
    with pytest.raises(ValueError, match=r"unknown initialiser 'hee'; valid names: .*he"):
        nn.Linear(2, 2, init="hee")
    with pytest.raises(ValueError, match=r"input of shape \(4, 5\) does not fit weight of "
                                         r"shape \(2, 3\)"):
        nn.Linear(3, 2, seed=0)(cr.ones(4, 5))


def test_linear_float32_forward_and_grads():
    layer = nn.Linear(3, 2, seed=0)
    x = cr.tensor(_x((4, 3)).astype(np.float32))
    y = layer(x)
    assert y.dtype == np.float32
    y.sum().backward()
    assert layer.weight.grad.dtype == np.float32 and layer.bias.grad.dtype == np.float32


# -------------------------------------------------------------------------- BatchNorm


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("x_shape", [(6, 3), (4, 3, 5)], ids=str)
def test_batchnorm_training_mode_matches_torch(x_shape, affine):
    bn = nn.BatchNorm1d(3, affine=affine)
    if affine:
        bn.load_state_dict({**bn.state_dict(), "weight": _x(3, 1), "bias": _x(3, 2)})
    # (the input is not seeded like gradcheck's projection r: with r an affine function of
    # x per channel, Σ r·x̂ is at its maximum and the gradient is 0)
    check_module(bn, torch.nn.BatchNorm1d(3, affine=affine), _x(x_shape, 5) * 2 + 1,
                 gradcheck=x_shape == (6, 3))


@pytest.mark.parametrize("x_shape", [(6, 3), (4, 3, 5)], ids=str)
def test_batchnorm_eval_mode_matches_torch(x_shape):
    bn = nn.BatchNorm1d(3)
    sd = bn.state_dict()
    sd.update(weight=_x(3, 1), bias=_x(3, 2), running_mean=_x(3, 3),
              running_var=np.abs(_x(3, 4)) + 0.5)
    bn.load_state_dict(sd)
    bn.eval()
    check_module(bn, torch.nn.BatchNorm1d(3), _x(x_shape))


@pytest.mark.parametrize("momentum", [0.1, 0.5, None])
@pytest.mark.parametrize("x_shape", [(8, 4), (5, 4, 3)], ids=str)
def test_batchnorm_running_averages_match_torch_after_several_steps(x_shape, momentum):
    bn = nn.BatchNorm1d(4, momentum=momentum, dtype=np.float64)
    tbn = torch.nn.BatchNorm1d(4, momentum=momentum).double()
    for step in range(5):
        x = _x(x_shape, seed=step) * (step + 1) + step   # different mean/scale each batch
        y = bn(cr.tensor(x)).numpy()
        ty = tbn(torch.tensor(x)).detach().numpy()
        np.testing.assert_allclose(y, ty, rtol=1e-10, atol=1e-12)
    for name, value in tbn.state_dict().items():
        np.testing.assert_allclose(bn.state_dict()[name], value.numpy(), rtol=1e-12,
                                   err_msg=name)
    assert int(bn.num_batches_tracked.item()) == 5
    bn.eval()
    tbn.eval()
    x = _x(x_shape, seed=99)
    np.testing.assert_allclose(bn(cr.tensor(x)).numpy(), tbn(torch.tensor(x)).detach().numpy(),
                               rtol=1e-10, atol=1e-12)


def test_batchnorm_unbiased_running_variance_by_hand():
    # batch [1, 3]: mean 2, biased var 1 (used to normalise), unbiased var 2 (running)
    bn = nn.BatchNorm1d(1, momentum=0.5)
    y = bn(cr.tensor([[1.0], [3.0]])).numpy().ravel()
    np.testing.assert_allclose(y, [-1 / math.sqrt(1 + 1e-5), 1 / math.sqrt(1 + 1e-5)],
                               rtol=1e-6)
    np.testing.assert_allclose(bn.running_mean.numpy(), [0.5 * 0 + 0.5 * 2])
    np.testing.assert_allclose(bn.running_var.numpy(), [0.5 * 1 + 0.5 * 2])


def test_batchnorm_without_running_stats_uses_batch_statistics_in_eval():
    bn = nn.BatchNorm1d(2, track_running_stats=False).eval()
    assert list(bn.state_dict()) == ["weight", "bias"]
    tbn = torch.nn.BatchNorm1d(2, track_running_stats=False).double().eval()
    x = _x((5, 2))
    np.testing.assert_allclose(bn.to(np.float64)(cr.tensor(x)).numpy(),
                               tbn(torch.tensor(x)).detach().numpy(), rtol=1e-10)


def test_batchnorm_validation():
    bn = nn.BatchNorm1d(3)
    with pytest.raises(ValueError, match=r"expected input of shape \(N, 3\).*got \(4, 2\)"):
        bn(cr.ones(4, 2))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        bn(cr.ones(1, 3))
    with pytest.raises(ValueError, match="momentum must be in"):
        nn.BatchNorm1d(3, momentum=1.5)


# -------------------------------------------------------------------- LayerNorm etc.


@pytest.mark.parametrize("shape,normalized", [((4, 5), 5), ((2, 3, 4), (3, 4)),
                                              ((3, 6), (6,))], ids=str)
def test_layernorm_matches_torch(shape, normalized):
    ln = nn.LayerNorm(normalized)
    ln.load_state_dict({"weight": _x(ln.weight.shape, 1), "bias": _x(ln.bias.shape, 2)})
    check_module(ln, torch.nn.LayerNorm(normalized), _x(shape, 5) * 3 + 1,
                 gradcheck=len(shape) == 2)


def test_layernorm_without_affine_and_validation():
    ln = nn.LayerNorm(4, elementwise_affine=False)
    assert list(ln.parameters()) == []
    check_module(ln, torch.nn.LayerNorm(4, elementwise_affine=False), _x((3, 4), 5))
    with pytest.raises(ValueError, match=r"does not end with normalized_shape \(4,\)"):
        ln(cr.ones(4, 3))


class _TorchResidual(torch.nn.Module):
    """``x + module(x)``: the torch counterpart of ``nn.Residual``."""

    def __init__(self, module):
        super().__init__()
        self.module = module

    def forward(self, x):
        return x + self.module(x)


def test_residual_matches_torch_composition():
    cr_block = nn.Residual(nn.Sequential(nn.Linear(4, 4, seed=0), nn.Tanh()))
    t_block = _TorchResidual(torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Tanh()))
    check_module(cr_block, t_block, _x((3, 4)))
    with pytest.raises(ValueError, match=r"f\(x\) has shape \(3, 2\) but x has shape \(3, 4\)"):
        nn.Residual(nn.Linear(4, 2, seed=0))(cr.ones(3, 4))


@pytest.mark.parametrize("start,end", [(1, -1), (0, -1), (1, 2), (2, 3)])
def test_flatten_matches_torch(start, end):
    check_module(nn.Flatten(start, end), torch.nn.Flatten(start, end), _x((2, 3, 2, 2)))


def test_mlp_matches_torch_end_to_end():
    cr_model = nn.Sequential(nn.Linear(5, 8, seed=0), nn.BatchNorm1d(8), nn.GELU(),
                             nn.Residual(nn.Sequential(nn.Linear(8, 8, seed=1), nn.SiLU())),
                             nn.LayerNorm(8), nn.Linear(8, 3, seed=2))
    t_model = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.BatchNorm1d(8),
                                  torch.nn.GELU(),
                                  _TorchResidual(torch.nn.Sequential(torch.nn.Linear(8, 8),
                                                                     torch.nn.SiLU())),
                                  torch.nn.LayerNorm(8), torch.nn.Linear(8, 3))
    check_module(cr_model, t_model, _x((6, 5)), gradcheck=False)


# ----------------------------------------------------------------------------- Dropout


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_mask_statistics(p):
    n = 40_000
    drop = nn.Dropout(p, seed=0)
    y = drop(cr.ones(n)).numpy()
    zeroed = np.mean(y == 0)
    sigma = math.sqrt(p * (1 - p) / n)
    assert abs(zeroed - p) < 5 * sigma, f"fraction zeroed {zeroed} vs p={p} (±5σ={5 * sigma})"
    kept = y[y != 0]
    np.testing.assert_allclose(kept, 1 / (1 - p), rtol=1e-6,
                               err_msg="kept values are scaled by 1/(1 − p)")
    assert abs(y.mean() - 1.0) < 5 * math.sqrt(p / (1 - p) / n)   # E[z] = x


def test_dropout_is_identity_in_eval_and_for_p_zero():
    x = cr.tensor(_x((5, 4)).astype(np.float32))
    drop = nn.Dropout(0.5, seed=0).eval()
    np.testing.assert_array_equal(drop(x).numpy(), x.numpy())
    np.testing.assert_array_equal(nn.Dropout(0.0)(x).numpy(), x.numpy())
    np.testing.assert_array_equal(F.dropout(x, 0.9, training=False).numpy(), x.numpy())


def test_dropout_gradient_matches_the_mask_in_torch_form():
    # with the mask drawn from the same seed, z = x ⊙ m/(1 − p): value and gradient vs torch
    p, shape = 0.3, (4, 5)
    keep = np.random.default_rng(3).random(shape) >= p
    check_fn(lambda x: F.dropout(x, p, seed=3),
             lambda x: x * torch.tensor(keep, dtype=torch.float64) / (1 - p), _x(shape))


def test_dropout_seeding_and_fresh_masks():
    a = nn.Dropout(0.5, seed=1)(cr.ones(100)).numpy()
    b = nn.Dropout(0.5, seed=1)(cr.ones(100)).numpy()
    np.testing.assert_array_equal(a, b)
    drop = nn.Dropout(0.5, seed=1)
    assert not np.array_equal(drop(cr.ones(100)).numpy(), drop(cr.ones(100)).numpy())
    cr.manual_seed(5)
    c = nn.Dropout(0.5)(cr.ones(100)).numpy()
    cr.manual_seed(5)
    np.testing.assert_array_equal(c, nn.Dropout(0.5)(cr.ones(100)).numpy())
    x = cr.ones(10, dtype=np.float32)
    assert nn.Dropout(0.5, seed=0)(x).dtype == np.float32


def test_dropout_validation():
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\), got 1.5"):
        nn.Dropout(1.5)
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\), got -0.1"):
        F.dropout(cr.ones(2), -0.1)


def test_sync_helper_checks_names():
    # the oracle copies state by name: a renamed parameter would be caught
    with pytest.raises(RuntimeError):
        sync_to_torch(nn.Linear(2, 2, seed=0), torch.nn.Bilinear(2, 2, 2))


@pytest.mark.parametrize("make", [
    lambda: nn.Linear(4, 3, seed=0), lambda: nn.BatchNorm1d(4), lambda: nn.BatchNorm1d(4).eval(),
    lambda: nn.LayerNorm(4), lambda: nn.Residual(nn.Linear(4, 4, seed=0)),
    lambda: nn.Dropout(0.3, seed=0), lambda: nn.Flatten(),
], ids=["linear", "bn_train", "bn_eval", "layernorm", "residual", "dropout", "flatten"])
def test_float32_layers_stay_float32(make):
    layer = make()
    x = cr.tensor(_x((5, 4)).astype(np.float32), requires_grad=True)
    y = layer(x)
    assert y.dtype == np.float32
    (y * y).sum().backward()
    assert x.grad.dtype == np.float32
    assert all(p.grad.dtype == np.float32 for p in layer.parameters())
    assert all(b.dtype in (np.float32, np.int64) for b in layer.buffers())
