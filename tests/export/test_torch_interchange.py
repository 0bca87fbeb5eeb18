"""Weights exchanged with PyTorch by name: a chainrule state_dict loads into the equivalent
torch.nn model, and a torch model's safetensors file loads into the chainrule model
(``cr.load_weights`` or ``load_state_dict``); both give the same outputs (within 1e-6 in
float32, 1e-12 in float64)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

import chainrule as cr
from chainrule import nn

TOL32, TOL64 = 1e-6, 1e-12


class TorchResidual(torch.nn.Module):
    """x + f(x), with f stored as ``module`` like chainrule's Residual."""

    def __init__(self, module):
        super().__init__()
        self.module = module

    def forward(self, x):
        return x + self.module(x)


def pair(seed=0):
    """The same architecture in chainrule and in torch.nn (parameters and buffers named
    alike), with random BatchNorm statistics and affine parameters."""
    cr_model = nn.Sequential(
        nn.Linear(6, 8, seed=seed), nn.BatchNorm1d(8), nn.GELU(), nn.Dropout(0.3),
        nn.Residual(nn.Sequential(nn.Linear(8, 8, seed=seed + 1), nn.Tanh(),
                                  nn.LayerNorm(8))),
        nn.LeakyReLU(0.2), nn.Linear(8, 8, bias=False, seed=seed + 2), nn.ELU(0.7),
        nn.SiLU(), nn.Softplus(beta=2.0), nn.Linear(8, 3, seed=seed + 3), nn.LogSoftmax(),
    )
    t = torch.nn
    torch_model = t.Sequential(
        t.Linear(6, 8), t.BatchNorm1d(8), t.GELU(), t.Dropout(0.3),
        TorchResidual(t.Sequential(t.Linear(8, 8), t.Tanh(), t.LayerNorm(8))),
        t.LeakyReLU(0.2), t.Linear(8, 8, bias=False), t.ELU(0.7), t.SiLU(),
        t.Softplus(beta=2.0), t.Linear(8, 3), t.LogSoftmax(dim=-1),
    )
    rng = np.random.default_rng(seed)
    bn = cr_model[1]
    bn.weight.data = rng.normal(1, 0.3, 8).astype(np.float32)
    bn.bias.data = rng.normal(0, 0.3, 8).astype(np.float32)
    bn.running_mean.data = rng.normal(0, 1, 8).astype(np.float32)
    bn.running_var.data = rng.uniform(0.1, 2, 8).astype(np.float32)
    bn.num_batches_tracked.data = np.array(17, dtype=np.int64)
    return cr_model.eval(), torch_model.eval()


def outputs(cr_model, torch_model, x):
    with cr.no_grad():
        a = cr_model(cr.tensor(x)).numpy()
    with torch.no_grad():
        b = torch_model(torch.from_numpy(x)).numpy()
    return a, b


@pytest.mark.parametrize("dtype,tol", [(np.float32, TOL32), (np.float64, TOL64)])
def test_chainrule_state_dict_loads_into_torch(dtype, tol):
    cr_model, torch_model = pair(0)
    cr_model.to(dtype)
    torch_model.to(torch.float64 if dtype == np.float64 else torch.float32)
    sd = cr_model.state_dict()
    assert list(sd) == list(torch_model.state_dict())  # the same names, in the same order
    result = torch_model.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()},
                                         strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    assert int(torch_model[1].num_batches_tracked) == 17
    for n in (1, 37):
        x = np.random.default_rng(n).normal(size=(n, 6)).astype(dtype)
        a, b = outputs(cr_model, torch_model, x)
        assert np.max(np.abs(a - b)) <= tol


@pytest.mark.parametrize("dtype,tol", [(np.float32, TOL32), (np.float64, TOL64)])
def test_torch_safetensors_file_loads_into_chainrule(tmp_path, dtype, tol):
    torch.manual_seed(3)
    cr_model, torch_model = pair(5)
    with torch.no_grad():  # a "trained" torch model: non-trivial BN statistics
        torch_model[1].running_mean.normal_()
        torch_model[1].running_var.uniform_(0.2, 3.0)
        torch_model[1].weight.normal_(1.0, 0.3)
        torch_model[4].module[2].bias.normal_()
    if dtype == np.float64:
        torch_model.double()
    path = tmp_path / "torch.safetensors"
    save_file(torch_model.state_dict(), str(path))
    cr_model.to(dtype)
    assert cr.load_weights(cr_model, path) == ([], [])
    for n in (1, 37):
        x = np.random.default_rng(n).normal(size=(n, 6)).astype(dtype)
        a, b = outputs(cr_model, torch_model, x)
        assert np.max(np.abs(a - b)) <= tol
    assert int(cr_model[1].num_batches_tracked.data) == 0


def test_torch_state_dict_loads_with_load_state_dict():
    cr_model, torch_model = pair(2)
    cr_model.load_state_dict(torch_model.state_dict())  # torch.Tensors accepted as arrays
    x = np.random.default_rng(0).normal(size=(37, 6)).astype(np.float32)
    a, b = outputs(cr_model, torch_model, x)
    assert np.max(np.abs(a - b)) <= TOL32
    # float32 torch weights into a float64 model: cast to the parameter's dtype
    cr_model.to(np.float64)
    cr_model.load_state_dict(torch_model.state_dict())
    assert cr_model[0].weight.dtype == np.float64
    np.testing.assert_array_equal(cr_model[0].weight.data,
                                  torch_model[0].weight.detach().double().numpy())


def test_torch_tensor_needing_grad_is_a_clear_type_error():
    layer = nn.Linear(2, 1, seed=0)
    w = torch.zeros(1, 2, requires_grad=True)
    with pytest.raises(TypeError, match=r"value for 'weight' \(Tensor\) cannot be converted"):
        layer.load_state_dict({"weight": w, "bias": torch.zeros(1)})


def test_mismatched_names_and_shapes_are_named(tmp_path):
    cr_model, _ = pair(0)
    other = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    path = tmp_path / "other.safetensors"
    save_file(other.state_dict(), str(path))
    before = cr_model.state_dict()
    with pytest.raises(ValueError) as info:
        cr.load_weights(cr_model, path)
    message = str(info.value)
    assert str(path) in message and "do not fit this Sequential" in message
    assert "missing key(s): '1.weight'" in message
    assert "unexpected key(s): '2.bias', '2.weight'" in message  # (a file's order: sorted)
    assert all(np.array_equal(before[k], v) for k, v in cr_model.state_dict().items())
    # shapes: the model has (8, 6) where the file has (8, 5)
    save_file({"weight": torch.zeros(8, 5), "bias": torch.zeros(8)}, str(path))
    with pytest.raises(ValueError, match=r"shape mismatch for 'weight': the model has shape "
                       r"\(8, 6\), the state dict has shape \(8, 5\)"):
        cr.load_weights(nn.Linear(6, 8, seed=0), path)
    # strict=False loads what both have and reports the rest
    save_file({"weight": torch.ones(8, 6), "extra": torch.zeros(1)}, str(path))
    layer = nn.Linear(6, 8, seed=0)
    result = cr.load_weights(layer, path, strict=False)
    assert result.missing_keys == ["bias"] and result.unexpected_keys == ["extra"]
    assert (layer.weight.data == 1).all()


def test_prefix_of_a_wrapped_model(tmp_path):
    cr_model, torch_model = pair(1)
    path = tmp_path / "wrapped.safetensors"
    save_file({f"module.{k}": v for k, v in torch_model.state_dict().items()}, str(path))
    with pytest.raises(ValueError, match=r"carry the prefix 'module\.'.*pass "
                       r"prefix='module\.'"):
        cr.load_weights(cr_model, path)
    cr.load_weights(cr_model, path, prefix="module.")
    x = np.random.default_rng(0).normal(size=(5, 6)).astype(np.float32)
    a, b = outputs(cr_model, torch_model, x)
    assert np.max(np.abs(a - b)) <= TOL32
    with pytest.raises(ValueError, match=r"no tensor name starts with prefix 'encoder\.'"):
        cr.load_weights(cr_model, path, prefix="encoder.")


def test_load_weights_bad_arguments(tmp_path):
    with pytest.raises(TypeError, match=r"expected a chainrule\.nn\.Module"):
        cr.load_weights(object(), tmp_path / "x.safetensors")
    with pytest.raises(FileNotFoundError, match="no such file"):
        cr.load_weights(nn.Linear(2, 2), tmp_path / "missing.safetensors")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a safetensors file at all")
    with pytest.raises(ValueError, match="not a safetensors file"):
        cr.load_weights(nn.Linear(2, 2), bad)
