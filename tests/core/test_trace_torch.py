"""The compiled (recorded and replayed) training step against torch.optim, step by step.

`test_trace.py` checks the replay against chainrule's eager step; both run chainrule's own
optimiser updates, so a mistake shared by the two (Adam without bias correction, say)
would pass there. Here the oracle is PyTorch in float64: the same network and batches,
``torch.optim`` doing the updates, the parameters compared after every step — the first
two steps run eagerly (recording), every later one is a replay of the packed flat update.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from chainrule import nn, optim
from chainrule.nn import functional as F
from chainrule.trace import compile_step

STEPS = 12
SIZES = (4, 6, 5, 2)


def _models(seed: int):
    layers, t_layers = [], []
    for i in range(len(SIZES) - 1):
        lin = nn.Linear(SIZES[i], SIZES[i + 1], seed=seed + i, dtype=np.float64)
        t_lin = torch.nn.Linear(SIZES[i], SIZES[i + 1], dtype=torch.float64)
        with torch.no_grad():
            t_lin.weight.copy_(torch.from_numpy(lin.weight.numpy()))
            t_lin.bias.copy_(torch.from_numpy(lin.bias.numpy()))
        layers.append(lin)
        t_layers.append(t_lin)
        if i < len(SIZES) - 2:
            layers.append(nn.Tanh())
            t_layers.append(torch.nn.Tanh())
    return nn.Sequential(*layers), torch.nn.Sequential(*t_layers)


def _batches(seed: int):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(STEPS):
        x = rng.normal(size=(8, SIZES[0]))
        y = np.column_stack([np.sin(x[:, 0] + x[:, 1]), x[:, 2] * x[:, 3]])
        out.append((x, y))
    return out


CASES = {
    "sgd-momentum": (lambda p: optim.SGD(p, lr=0.1, momentum=0.9),
                     lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9)),
    "sgd-nesterov-wd": (
        lambda p: optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-2),
        lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-2)),
    "sgd-dampening": (lambda p: optim.SGD(p, lr=0.1, momentum=0.8, dampening=0.3),
                      lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.8, dampening=0.3)),
    # a large β₂ and few steps: bias correction 1 − β₂ᵗ ≈ 0.012 at t = 12, so an update
    # without it is off by a factor ~9 (and the first steps, 1/(1 − 0.9) = 10 for m)
    "adam": (lambda p: optim.Adam(p, lr=1e-2, betas=(0.9, 0.999)),
             lambda p: torch.optim.Adam(p, lr=1e-2, betas=(0.9, 0.999))),
    "adam-l2-amsgrad": (
        lambda p: optim.Adam(p, lr=1e-2, weight_decay=0.1, amsgrad=True),
        lambda p: torch.optim.Adam(p, lr=1e-2, weight_decay=0.1, amsgrad=True)),
    "adamw": (lambda p: optim.AdamW(p, lr=1e-2, weight_decay=0.05),
              lambda p: torch.optim.AdamW(p, lr=1e-2, weight_decay=0.05)),
    "rmsprop": (lambda p: optim.RMSprop(p, lr=1e-2, eps=1e-3),
                lambda p: torch.optim.RMSprop(p, lr=1e-2, eps=1e-3)),
    "rmsprop-centered-momentum": (
        lambda p: optim.RMSprop(p, lr=1e-2, alpha=0.9, momentum=0.5, centered=True, eps=1e-3),
        lambda p: torch.optim.RMSprop(p, lr=1e-2, alpha=0.9, momentum=0.5, centered=True,
                                      eps=1e-3)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_compiled_step_follows_torch_optim(name):
    make, make_torch = CASES[name]
    model, t_model = _models(seed=3)
    opt, t_opt = make(list(model.parameters())), make_torch(t_model.parameters())
    step = compile_step(model, lambda out, y: F.mse_loss(out, y), opt)
    for i, (x, y) in enumerate(_batches(seed=5)):
        loss = step(x, y)
        t_opt.zero_grad()
        t_loss = torch.nn.functional.mse_loss(t_model(torch.from_numpy(x)),
                                              torch.from_numpy(y))
        t_loss.backward()
        t_opt.step()
        assert loss.item() == pytest.approx(t_loss.item(), rel=1e-10), i
        for p, tp in zip(model.parameters(), t_model.parameters()):
            np.testing.assert_allclose(p.numpy(), tp.detach().numpy(), rtol=1e-9, atol=1e-12,
                                       err_msg=f"{name}, step {i + 1}")
    # the check covers the replay: all but the two recorded steps were replayed
    assert step.stats == {"eager": 2, "replayed": STEPS - 2, "compiled": 1}, step.untraceable
