"""Convolution and pooling layers: against torch.nn modules (float64, with second order),
PyTorch's default initialisation, init= names, save/load, and the paper's CNN shapes."""

from __future__ import annotations

import doctest
import inspect
import math

import numpy as np
import pytest
import torch
from torch_oracle import check_module

import chainrule as cr
from chainrule import nn
from doctest_helper import check_doctests


@pytest.mark.parametrize(("make_cr", "make_torch", "shape"), [
    (lambda: nn.Conv1d(2, 4, 3, stride=2, padding=1, seed=0),
     lambda: torch.nn.Conv1d(2, 4, 3, stride=2, padding=1), (2, 2, 9)),
    (lambda: nn.Conv1d(4, 6, 2, padding="same", dilation=2, groups=2, bias=False, seed=1),
     lambda: torch.nn.Conv1d(4, 6, 2, padding="same", dilation=2, groups=2, bias=False),
     (1, 4, 7)),
    (lambda: nn.Conv2d(3, 2, (3, 2), stride=(1, 2), padding=(1, 0), seed=2),
     lambda: torch.nn.Conv2d(3, 2, (3, 2), stride=(1, 2), padding=(1, 0)), (2, 3, 5, 6)),
    (lambda: nn.Sequential(nn.Conv2d(1, 2, 3, seed=3), nn.ReLU(), nn.MaxPool2d(2),
                           nn.Flatten(), nn.Linear(8, 3, seed=4)),
     lambda: torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.ReLU(),
                                 torch.nn.MaxPool2d(2), torch.nn.Flatten(),
                                 torch.nn.Linear(8, 3)), (2, 1, 6, 6)),
    (lambda: nn.Sequential(nn.Conv1d(1, 3, 3, seed=5), nn.Tanh(), nn.AvgPool1d(2),
                           nn.AdaptiveAvgPool1d(2)),
     lambda: torch.nn.Sequential(torch.nn.Conv1d(1, 3, 3), torch.nn.Tanh(),
                                 torch.nn.AvgPool1d(2), torch.nn.AdaptiveAvgPool1d(2)),
     (3, 1, 11)),
    (lambda: nn.Sequential(nn.AvgPool2d(2, padding=1, count_include_pad=False),
                           nn.AdaptiveAvgPool2d((2, 1))),
     lambda: torch.nn.Sequential(torch.nn.AvgPool2d(2, padding=1, count_include_pad=False),
                                 torch.nn.AdaptiveAvgPool2d((2, 1))), (1, 2, 5, 4)),
])
def test_layers_match_torch_modules(make_cr, make_torch, shape):
    x = np.random.default_rng(0).standard_normal(shape)
    check_module(make_cr(), make_torch(), x)


def test_default_init_is_pytorchs_uniform_with_conv_fan_in():
    # fan_in = in_channels/groups · ∏kernel = 4/2 · 3·5 = 30 → W, b ~ U(±1/√30)
    layer = nn.Conv2d(4, 8, (3, 5), groups=2, seed=0)
    bound = 1 / math.sqrt(30)
    assert layer.weight.shape == (8, 2, 3, 5) and layer.bias.shape == (8,)
    for p in (layer.weight.numpy(), layer.bias.numpy()):
        assert np.abs(p).max() <= bound
    # 240 uniform draws on ±bound: the largest is within a few percent of the bound
    assert np.abs(layer.weight.numpy()).max() > 0.95 * bound
    # variance of U(−a, a) is a²/3
    assert abs(layer.weight.numpy().var() - bound**2 / 3) < 0.2 * bound**2 / 3


def test_init_names_and_seed():
    a = nn.Conv1d(8, 16, 5, init="he", seed=3)
    b = nn.Conv1d(8, 16, 5, init="he", seed=3)
    np.testing.assert_array_equal(a.weight.numpy(), b.weight.numpy())
    assert np.all(a.bias.numpy() == 0)
    # He normal: Var(W) = 2 / fan_in, fan_in = 8·5 = 40 → std 0.2236
    assert abs(a.weight.numpy().std() - math.sqrt(2 / 40)) < 0.02
    with pytest.raises(ValueError, match="unknown initialiser 'nope'"):
        nn.Conv1d(1, 1, 3, init="nope")


def test_layer_argument_errors():
    with pytest.raises(ValueError, match="groups=3 must divide in_channels=4"):
        nn.Conv1d(4, 6, 3, groups=3)
    with pytest.raises(ValueError, match="padding='same' needs stride 1"):
        nn.Conv2d(1, 1, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match=r"^Conv2d: in_channels must be an int >= 1, got 0$"):
        nn.Conv2d(0, 1, 3)
    with pytest.raises(ValueError, match=r"expects 3 .*|has 2 channels"):
        nn.Conv1d(3, 4, 3)(cr.ones(1, 2, 9))
    with pytest.raises(ValueError, match=r"axis 1 of input shape \(2, 30\) has length 30, not 40"):
        nn.Unflatten(1, (1, 40))(cr.ones(2, 30))


def paper_cnn(seed: int = 0) -> nn.Sequential:
    """MNIST-1D paper's CNN: three Conv1d (1→25 k5 s2 p1, 25→25 k3 s2 p1 twice) with ReLU,
    then Linear 125→10 (lengths 40 → 19 → 10 → 5)."""
    return nn.Sequential(
        nn.Conv1d(1, 25, 5, stride=2, padding=1, seed=seed), nn.ReLU(),
        nn.Conv1d(25, 25, 3, stride=2, padding=1, seed=seed + 1), nn.ReLU(),
        nn.Conv1d(25, 25, 3, stride=2, padding=1, seed=seed + 2), nn.ReLU(),
        nn.Flatten(), nn.Linear(125, 10, seed=seed + 3))


def test_paper_cnn_shapes_and_parameter_count():
    model = paper_cnn()
    assert model(cr.ones(100, 1, 40)).shape == (100, 10)
    # 25·1·5+25 + 2·(25·25·3+25) + 125·10+10 = 150 + 3800 + 1260 = 5210
    assert model.num_parameters() == 5210


def test_save_load_round_trip(tmp_path):
    model = nn.Sequential(nn.Unflatten(1, (1, 8, 8)), nn.Conv2d(1, 4, 3, padding="same", seed=0),
                          nn.ReLU(), nn.MaxPool2d(2), nn.AvgPool2d(2, count_include_pad=False),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3, seed=1))
    x = np.random.default_rng(0).standard_normal((5, 64)).astype(np.float32)
    cr.save(model, tmp_path / "cnn.safetensors")
    loaded = cr.load(tmp_path / "cnn.safetensors")
    np.testing.assert_array_equal(loaded(x).numpy(), model(x).numpy())
    assert repr(loaded) == repr(model)


def test_compiled_step_matches_eager_on_the_cnn():
    from chainrule.nn import functional as F
    from chainrule.trace import compile_step
    rng = np.random.default_rng(0)
    xs = rng.standard_normal((4, 20, 1, 40)).astype(np.float32)
    ys = rng.integers(0, 10, (4, 20))
    losses = {}
    for mode in ("eager", "compiled"):
        model = paper_cnn(seed=0)
        opt = cr.optim.Adam(model.parameters(), lr=1e-2)
        if mode == "compiled":
            step = compile_step(model, F.cross_entropy, opt)
            out = [float(step(x, y).item()) for x, y in zip(xs, ys)]
            assert step.stats["replayed"] >= 1  # the last steps ran the compiled program
        else:
            out = []
            for x, y in zip(xs, ys):
                opt.zero_grad()
                loss = F.cross_entropy(model(x), y)
                loss.backward()
                opt.step()
                out.append(float(loss.item()))
        losses[mode] = out
    np.testing.assert_allclose(losses["compiled"], losses["eager"], rtol=1e-5)


@pytest.mark.parametrize("name", ["chainrule.nn.conv", "chainrule.nn._conv_functional",
                                  "chainrule.demos.spatial_prior"])
def test_docstring_examples_run(name):
    check_doctests(name, doctest.ELLIPSIS)


def test_every_conv_layer_and_function_is_documented():
    # the house rule: an equation, every parameter under Args:, an example
    from chainrule.nn import _conv_functional, conv
    for mod in (conv, _conv_functional):
        for name in mod.__all__:
            obj = getattr(mod, name)
            doc = inspect.getdoc(obj) or ""
            assert ">>>" in doc, name
            assert any(sign in doc.split(">>>")[0] for sign in "=→~"), f"{name}: no equation"
            target = obj.__init__ if inspect.isclass(obj) else obj
            params = [p.name for p in inspect.signature(target).parameters.values()
                      if p.name not in ("self", "input", "x", "dtype", "seed")]
            assert not params or "Args:" in doc, f"{name}: no Args section"
            for p in params:
                assert p in doc, f"{name}: parameter {p!r} undocumented"


def test_cnn_builder_stacks_and_seeds():
    model = nn.cnn((1, 8, 8), 10, [(4, 3, 1, "same"), (6, 3)], pool=2, seed=2)
    kinds = [type(m).__name__ for m in model]
    assert kinds == ["Unflatten", "Conv2d", "ReLU", "MaxPool2d", "Conv2d", "ReLU", "MaxPool2d",
                     "Flatten", "Linear"]
    # 8×8 → 'same' 8×8 → pool 4×4 → 3×3 kernel 2×2 → pool 1×1: 6 features
    assert model[-1].weight.shape == (10, 6)
    # layer i is seeded 1000·s + i
    np.testing.assert_array_equal(model[1].weight.numpy(),
                                  nn.Conv2d(1, 4, 3, padding="same", seed=2000).weight.numpy())
    with pytest.raises(ValueError, match="does not fit input_shape"):
        nn.cnn((1, 5), 2, [(3, 7)])
    with pytest.raises(ValueError, match="conv row 0 must be"):
        nn.cnn((1, 40), 2, [(3,)])


def test_gradient_monitor_reads_each_conv_layer_as_torch_computes_it():
    # one epoch of one full batch: the monitor's norm per layer is ‖(∂J/∂W, ∂J/∂b)‖₂ at the
    # initial weights (recorded after backward, before the step), here against torch.autograd
    from chainrule.train import GradientMonitor, fit
    rng = np.random.default_rng(7)
    X = rng.standard_normal((12, 2, 9))
    y = rng.integers(0, 3, 12)
    model = nn.Sequential(nn.Conv1d(2, 4, 3, stride=2, padding=1, seed=0, dtype=np.float64),
                          nn.ReLU(), nn.Flatten(), nn.Linear(20, 3, seed=1, dtype=np.float64))
    ref = torch.nn.Sequential(torch.nn.Conv1d(2, 4, 3, stride=2, padding=1), torch.nn.ReLU(),
                              torch.nn.Flatten(), torch.nn.Linear(20, 3)).double()
    with torch.no_grad():
        for p, (_, v) in zip(ref.parameters(), model.state_dict().items()):
            p.copy_(torch.from_numpy(v))
    torch.nn.functional.cross_entropy(ref(torch.from_numpy(X)), torch.from_numpy(y)).backward()
    expected = {layer: math.sqrt(sum(float((p.grad ** 2).sum()) for p in params))
                for layer, params in (("0", list(ref[0].parameters())),
                                      ("3", list(ref[3].parameters())))}
    h = fit(model, "cross_entropy", cr.optim.SGD(model.parameters(), lr=0.1), (X, y),
            epochs=1, batch_size=12, callbacks=[GradientMonitor(warn=False)], seed=0,
            metrics=(), progress=False)
    assert set(h.grad_norms[0]) == {"0", "3"}
    for layer, value in expected.items():
        assert h.grad_norms[0][layer] == pytest.approx(value, rel=1e-10)
        assert value > 1e-3  # a gradient worth comparing
