"""Module, Parameter, Sequential, ModuleList: discovery, naming, state dicts, modes, dtype."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn, optim


class Block(nn.Module):
    """Parameters in a plain attribute, a list and a dict, a sub-module and a buffer."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(np.ones(3))
        self.layers = [nn.Linear(3, 3, seed=0), nn.Linear(3, 3, seed=1)]
        self.extra = {"gate": nn.Parameter(np.zeros(3)), "proj": nn.Linear(3, 2, seed=2)}
        self.register_buffer("steps", cr.tensor(np.array(0, dtype=np.int64)))
        self.not_a_param = cr.tensor([1.0, 2.0])  # a plain tensor: neither param nor buffer

    def forward(self, x):
        for layer in self.layers:
            x = layer(x * self.scale).tanh()
        return self.extra["proj"](x + self.extra["gate"])


def test_parameter_is_a_tensor_that_requires_grad():
    w = nn.Parameter(np.zeros((2, 3)))
    assert isinstance(w, cr.Tensor) and isinstance(w, nn.Parameter)
    assert w.requires_grad and w.dtype == np.float64 and w.is_leaf
    assert not isinstance(cr.tensor([1.0]), nn.Parameter)
    assert nn.Parameter([1.0, 2.0]).dtype == np.float32
    assert "Parameter containing" in repr(w)
    with pytest.raises(TypeError, match="floating"):
        nn.Parameter(np.array([1, 2]))
    with pytest.raises(TypeError, match="floating point"):
        nn.Parameter(np.array([1, 2]), requires_grad=False)


def test_parameter_receives_gradients():
    w = nn.Parameter(np.array([1.0, 2.0]))
    (w * w).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [2.0, 4.0])


def test_discovery_walks_attributes_lists_and_dicts_in_order():
    m = Block()
    names = [n for n, _ in m.named_parameters()]
    # own parameters first (attribute order, lists and dicts included), then children
    assert names == ["scale", "extra.gate", "layers.0.weight", "layers.0.bias",
                     "layers.1.weight", "layers.1.bias", "extra.proj.weight",
                     "extra.proj.bias"]
    assert list(m.state_dict()) == names[:2] + ["steps"] + names[2:]
    assert [id(p) for p in m.parameters()] == [id(p) for _, p in m.named_parameters()]
    assert [n for n, _ in m.named_buffers()] == ["steps"]
    assert m.num_parameters() == 3 + 3 + 12 + 12 + 8


def test_names_and_order_match_pytorch():
    cr_model = nn.Sequential(nn.Linear(4, 5, seed=0), nn.BatchNorm1d(5), nn.ReLU(),
                             nn.Sequential(nn.Linear(5, 3, seed=1), nn.Tanh()),
                             nn.LayerNorm(3), nn.Linear(3, 2, seed=2))
    t_model = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.BatchNorm1d(5),
                                  torch.nn.ReLU(),
                                  torch.nn.Sequential(torch.nn.Linear(5, 3), torch.nn.Tanh()),
                                  torch.nn.LayerNorm(3), torch.nn.Linear(3, 2))
    assert list(cr_model.state_dict()) == list(t_model.state_dict())
    assert [n for n, _ in cr_model.named_parameters()] == \
        [n for n, _ in t_model.named_parameters()]
    for (k, v), (_tk, tv) in zip(cr_model.state_dict().items(), t_model.state_dict().items()):
        assert v.shape == tuple(tv.shape), k


def test_shared_parameters_are_yielded_once():
    lin = nn.Linear(2, 2, seed=0)
    model = nn.Sequential(lin, nn.ReLU(), lin)
    assert len(list(model.parameters())) == 2
    assert list(model.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_training_step_updates_every_parameter():
    m = Block()
    x = cr.tensor(np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32))
    before = {n: p.numpy().copy() for n, p in m.named_parameters()}
    m(x).sum().backward()
    grads = {n: p.grad.numpy().copy() for n, p in m.named_parameters()}
    assert all(grads[n].shape == p.shape for n, p in m.named_parameters())
    lr = 0.1
    optim.SGD(m.parameters(), lr=lr).step()
    for n, p in m.named_parameters():  # θ ← θ − η·∂L/∂θ, and every θ moved
        np.testing.assert_allclose(p.numpy(), before[n] - lr * grads[n], rtol=1e-6)
        assert np.abs(grads[n]).max() > 0 and not np.array_equal(p.numpy(), before[n]), n
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())


def test_train_eval_propagate_and_return_self():
    model = nn.Sequential(nn.Linear(2, 2, seed=0), nn.Dropout(0.5), Block())
    assert model.eval() is model
    assert all(not m.training for m in model.modules())
    assert model.train() is model
    assert all(m.training for m in model.modules())
    with pytest.raises(TypeError, match="mode must be a bool"):
        model.train("no")


def test_state_dict_is_a_copy_of_ndarrays():
    lin = nn.Linear(3, 2, seed=0)
    sd = lin.state_dict()
    assert all(type(v) is np.ndarray for v in sd.values())
    sd["weight"][...] = 0
    assert np.any(lin.weight.numpy() != 0)


def test_load_state_dict_roundtrip_casts_and_keeps_parameter_objects():
    a, b = nn.Linear(3, 2, seed=0), nn.Linear(3, 2, seed=1)
    w_obj = b.weight
    sd = {k: cr.tensor(v.astype(np.float64)) for k, v in a.state_dict().items()}
    assert b.load_state_dict(sd) == nn.IncompatibleKeys([], [])
    assert b.weight is w_obj and b.weight.dtype == np.float32
    np.testing.assert_array_equal(b.weight.numpy(), a.weight.numpy())


def test_load_state_dict_names_missing_unexpected_and_misshaped_keys():
    model = nn.Sequential(nn.Linear(3, 2, seed=0), nn.Linear(2, 1, seed=1))
    before = model.state_dict()
    bad = dict(before)
    del bad["1.bias"]
    bad["2.weight"] = np.zeros((1, 1))
    bad["0.weight"] = np.zeros((3, 2))
    bad["0.bias"] = np.full(2, 7.0)       # valid, but must not be applied
    with pytest.raises(ValueError) as err:
        model.load_state_dict(bad)
    msg = str(err.value)
    assert "missing key(s): '1.bias'" in msg
    assert "unexpected key(s): '2.weight'" in msg
    assert "'0.weight'" in msg and "(2, 3)" in msg and "(3, 2)" in msg
    for k, v in model.state_dict().items():   # validated before changing anything
        np.testing.assert_array_equal(v, before[k])


def test_load_state_dict_non_strict_reports_keys():
    model = nn.Sequential(nn.Linear(3, 2, seed=0))
    sd = model.state_dict()
    del sd["0.bias"]
    sd["extra"] = np.zeros(1)
    result = model.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["0.bias"] and result.unexpected_keys == ["extra"]
    with pytest.raises(ValueError, match=r"shape mismatch for '0\.weight'"):
        model.load_state_dict({"0.weight": np.zeros((1, 1))}, strict=False)
    with pytest.raises(TypeError, match="ndarray or a Tensor"):
        model.load_state_dict({"0.weight": [[1.0] * 3] * 2, "0.bias": np.zeros(2)})


def test_to_dtype_converts_in_place_and_returns_self():
    model = nn.Sequential(nn.Linear(3, 2, seed=0), nn.BatchNorm1d(2))
    params = list(model.parameters())
    assert model.to(np.float64) is model
    assert all(p.dtype == np.float64 for p in model.parameters())
    assert [id(p) for p in model.parameters()] == [id(p) for p in params]
    assert model[1].running_mean.dtype == np.float64
    assert model[1].num_batches_tracked.dtype == np.int64
    y = model(cr.tensor(np.ones((4, 3))))
    assert y.dtype == np.float64
    assert model.float()[0].weight.dtype == np.float32
    with pytest.raises(ValueError, match="floating-point"):
        model.to(np.int32)


def test_sequential_indexing_and_len():
    layers = [nn.Linear(2, 3, seed=0), nn.ReLU(), nn.Linear(3, 1, seed=1)]
    model = nn.Sequential(*layers)
    assert len(model) == 3 and model[0] is layers[0] and model[-1] is layers[2]
    sub = model[:2]
    assert isinstance(sub, nn.Sequential) and len(sub) == 2
    assert list(iter(model)) == layers
    x = cr.tensor([[1.0, -1.0]])
    expected = layers[2](layers[1](layers[0](x)))
    np.testing.assert_array_equal(model(x).numpy(), expected.numpy())
    assert nn.Sequential(layers).state_dict().keys() == model.state_dict().keys()
    with pytest.raises(TypeError, match="expected a Module"):
        nn.Sequential(nn.ReLU(), "relu")


def test_module_list_registers_items():
    blocks = nn.ModuleList([nn.Linear(2, 2, seed=0)])
    blocks.append(nn.Linear(2, 2, seed=1))
    assert len(blocks) == 2
    assert list(blocks.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias"]

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = blocks

    assert next(iter(Net().state_dict())) == "blocks.0.weight"


def test_repr_shows_structure_and_parameter_counts():
    model = nn.Sequential(nn.Linear(4, 3, seed=0), nn.ReLU(), nn.Linear(3, 1, seed=1))
    text = repr(model)
    assert "(0): Linear(in_features=4, out_features=3, bias=True)  # 15 parameters" in text
    assert "(1): ReLU()" in text
    assert text.endswith("# 19 parameters in total")


def test_deepcopy_and_pickle_keep_parameters():
    model = nn.Sequential(nn.Linear(3, 2, seed=0), nn.BatchNorm1d(2))
    for clone in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        assert all(isinstance(p, nn.Parameter) for p in clone.parameters())
        assert len(list(clone.parameters())) == 4
        for (k, v), w in zip(clone.state_dict().items(), model.state_dict().values()):
            np.testing.assert_array_equal(v, w, err_msg=k)
        assert all(p is not q for p, q in zip(clone.parameters(), model.parameters()))


def test_requires_grad_freezes():
    lin = nn.Linear(2, 1, seed=0).requires_grad_(False)
    assert not any(p.requires_grad for p in lin.parameters())


def test_forward_not_defined_and_missing_super_init():
    with pytest.raises(NotImplementedError, match="does not define forward"):
        nn.Module()(1)

    class Bad(nn.Module):
        def __init__(self):
            self.register_buffer("x", np.zeros(1))

    with pytest.raises(RuntimeError, match="super"):
        Bad()


def test_apply_visits_children_before_parents():
    model = nn.Sequential(nn.Linear(2, 2, seed=0), nn.Sequential(nn.ReLU()))
    seen = []
    assert model.apply(lambda m: seen.append(type(m).__name__)) is model
    assert sorted(seen) == ["Linear", "ReLU", "Sequential", "Sequential"]
    assert seen[-1] == "Sequential" and seen.index("ReLU") < len(seen) - 1


def test_containers_may_hold_arrays_and_tensors_that_are_not_parameters():
    class Holder(nn.Module):
        def __init__(self):
            super().__init__()
            self.arrays = [np.ones(3), cr.tensor([1.0, 2.0])]
            self.table = {"w": np.zeros((2, 2)), "p": nn.Parameter(np.ones(2))}
            self.weight = np.ones(4)

    assert [n for n, _ in Holder().named_parameters()] == ["table.p"]
