"""Every optimiser against torch.optim: 100 steps on a small tanh MLP in float64.

Both sides start from the same weights and see the same batches; after 100 steps every
parameter must agree within 1e-10 (absolute).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from optim_testkit import (
    batches,
    cr_params,
    groups_of,
    initial_weights,
    torch_params,
    train_cr,
    train_torch,
)

from chainrule import optim

STEPS = 100
TOL = 1e-10

# (id, chainrule class, torch class, kwargs shared by both)
CASES: list[tuple[str, Any, Any, dict[str, Any]]] = [
    ("sgd-plain", optim.SGD, torch.optim.SGD, {"lr": 0.1}),
    ("sgd-wd", optim.SGD, torch.optim.SGD, {"lr": 0.1, "weight_decay": 0.01}),
    ("sgd-momentum", optim.SGD, torch.optim.SGD, {"lr": 0.05, "momentum": 0.9}),
    ("sgd-ewa-ng", optim.SGD, torch.optim.SGD, {"lr": 0.3, "momentum": 0.9, "dampening": 0.9}),
    ("sgd-momentum-damp-wd", optim.SGD, torch.optim.SGD,
     {"lr": 0.05, "momentum": 0.8, "dampening": 0.3, "weight_decay": 1e-3}),
    ("sgd-nesterov", optim.SGD, torch.optim.SGD, {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    ("sgd-nesterov-wd", optim.SGD, torch.optim.SGD,
     {"lr": 0.05, "momentum": 0.5, "nesterov": True, "weight_decay": 0.02}),
    ("rmsprop", optim.RMSprop, torch.optim.RMSprop, {"lr": 0.01}),
    ("rmsprop-alpha-eps-wd", optim.RMSprop, torch.optim.RMSprop,
     {"lr": 0.005, "alpha": 0.9, "eps": 1e-6, "weight_decay": 0.01}),
    ("rmsprop-centered", optim.RMSprop, torch.optim.RMSprop, {"lr": 0.005, "centered": True}),
    ("rmsprop-momentum", optim.RMSprop, torch.optim.RMSprop, {"lr": 0.002, "momentum": 0.8}),
    ("rmsprop-centered-momentum-wd", optim.RMSprop, torch.optim.RMSprop,
     {"lr": 0.002, "momentum": 0.7, "centered": True, "weight_decay": 0.01, "alpha": 0.95}),
    ("adagrad", optim.Adagrad, torch.optim.Adagrad, {"lr": 0.1}),
    ("adagrad-lr-decay", optim.Adagrad, torch.optim.Adagrad, {"lr": 0.2, "lr_decay": 0.05}),
    ("adagrad-wd-init-eps", optim.Adagrad, torch.optim.Adagrad,
     {"lr": 0.1, "weight_decay": 0.01, "initial_accumulator_value": 0.1, "eps": 1e-6}),
    ("adam", optim.Adam, torch.optim.Adam, {"lr": 0.01}),
    ("adam-betas-eps", optim.Adam, torch.optim.Adam,
     {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6}),
    ("adam-small-beta1", optim.Adam, torch.optim.Adam, {"lr": 0.01, "betas": (0.3, 0.9)}),
    ("adam-l2", optim.Adam, torch.optim.Adam, {"lr": 0.01, "weight_decay": 0.05}),
    ("adam-amsgrad", optim.Adam, torch.optim.Adam, {"lr": 0.02, "amsgrad": True}),
    ("adam-amsgrad-l2", optim.Adam, torch.optim.Adam,
     {"lr": 0.02, "amsgrad": True, "weight_decay": 0.01}),
    ("adamw", optim.AdamW, torch.optim.AdamW, {"lr": 0.01}),
    ("adamw-amsgrad", optim.AdamW, torch.optim.AdamW,
     {"lr": 0.02, "weight_decay": 0.1, "amsgrad": True}),
    ("adam-decoupled-flag", optim.Adam, torch.optim.AdamW,
     {"lr": 0.01, "weight_decay": 0.1}),
]

# per-group settings: two groups with different learning rates (and more)
GROUP_CASES: list[tuple[str, Any, Any, dict[str, Any], list[dict[str, Any]]]] = [
    ("sgd", optim.SGD, torch.optim.SGD, {"lr": 0.05, "momentum": 0.9},
     [{"lr": 0.1}, {"lr": 0.02, "momentum": 0.5, "nesterov": True}]),
    ("rmsprop", optim.RMSprop, torch.optim.RMSprop, {"lr": 0.01},
     [{"lr": 0.003, "centered": True}, {"lr": 0.01, "momentum": 0.5}]),
    ("adagrad", optim.Adagrad, torch.optim.Adagrad, {"lr": 0.1},
     [{"lr": 0.3, "lr_decay": 0.01}, {}]),
    ("adam", optim.Adam, torch.optim.Adam, {"lr": 0.01},
     [{"lr": 0.03, "amsgrad": True}, {"lr": 0.003, "betas": (0.5, 0.9), "weight_decay": 0.1}]),
    ("adamw", optim.AdamW, torch.optim.AdamW, {"lr": 0.01},
     [{"lr": 0.02}, {"lr": 0.005, "weight_decay": 0.3}]),
]


def _torch_kwargs(torch_cls: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    kwargs = dict(kwargs)
    if torch_cls is torch.optim.AdamW:
        kwargs.pop("decoupled_weight_decay", None)
    return {**kwargs, "foreach": False}


def _compare(cr_cls: Any, torch_cls: Any, kwargs: dict[str, Any],
             group_kwargs: list[dict[str, Any]] | None = None) -> None:
    weights = initial_weights(seed=3)
    data = batches(STEPS, seed=4)
    cr_p = cr_params(weights)
    cr_kwargs = dict(kwargs)
    if cr_cls is optim.Adam and torch_cls is torch.optim.AdamW:
        cr_kwargs["decoupled_weight_decay"] = True
    cr_opt = cr_cls(groups_of(cr_p, group_kwargs), **cr_kwargs)
    t_p = torch_params(weights)
    t_opt = torch_cls(groups_of(t_p, group_kwargs), **_torch_kwargs(torch_cls, kwargs))
    cr_losses = train_cr(cr_opt, cr_p, data)
    t_losses = train_torch(t_opt, t_p, data)
    moved = max(np.abs(p.data - weights[n]).max() for p, n in zip(cr_p, weights))
    assert moved > 1e-2, f"the parameters barely moved ({moved:.2e}): the test would be vacuous"
    assert cr_losses[-1] < cr_losses[0], "training did not reduce the loss"
    np.testing.assert_allclose(cr_losses, t_losses, rtol=0, atol=TOL)
    for name, p, tp in zip(weights, cr_p, t_p):
        assert p.data.dtype == np.float64
        err = np.abs(p.data - tp.detach().numpy()).max()
        assert err <= TOL, f"{name}: max |chainrule − torch| = {err:.3e} after {STEPS} steps"


@pytest.mark.parametrize(
    ("cr_cls", "torch_cls", "kwargs"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_matches_torch_optim(cr_cls: Any, torch_cls: Any, kwargs: dict[str, Any]) -> None:
    _compare(cr_cls, torch_cls, kwargs)


@pytest.mark.parametrize(
    ("cr_cls", "torch_cls", "kwargs", "group_kwargs"),
    [case[1:] for case in GROUP_CASES],
    ids=[case[0] for case in GROUP_CASES],
)
def test_param_groups_match_torch(
    cr_cls: Any, torch_cls: Any, kwargs: dict[str, Any], group_kwargs: list[dict[str, Any]]
) -> None:
    _compare(cr_cls, torch_cls, kwargs, group_kwargs)


def test_momentum_preset_is_sgd_with_momentum_0_9() -> None:
    weights = initial_weights(seed=5)
    data = batches(30, seed=6)
    cr_p = cr_params(weights)
    t_p = torch_params(weights)
    train_cr(optim.Momentum(cr_p, lr=0.05), cr_p, data)
    train_torch(torch.optim.SGD(t_p, lr=0.05, momentum=0.9, foreach=False), t_p, data)
    for p, tp in zip(cr_p, t_p):
        np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=0, atol=TOL)


def test_params_without_grad_are_skipped_like_torch() -> None:
    """A parameter whose grad is None is neither moved nor given state (torch's rule)."""
    weights = initial_weights(seed=7)
    data = batches(10, seed=8)
    cr_p = cr_params(weights)
    opt = optim.Adam(cr_p, lr=0.1)
    for x, y in data:
        opt.zero_grad()
        from optim_testkit import cr_loss

        cr_loss(cr_p, x, y).backward()
        cr_p[3].grad = None
        opt.step()
    np.testing.assert_array_equal(cr_p[3].data, weights["b2"])
    assert cr_p[3] not in opt.state
    assert opt.state[cr_p[0]]["step"] == 10


@pytest.mark.parametrize(
    ("cr_cls", "torch_cls", "kwargs"),
    [
        (optim.SGD, torch.optim.SGD, {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
        (optim.RMSprop, torch.optim.RMSprop, {"lr": 0.003, "centered": True, "momentum": 0.5}),
        (optim.Adagrad, torch.optim.Adagrad, {"lr": 0.1, "lr_decay": 0.01}),
        (optim.Adam, torch.optim.Adam, {"lr": 0.01, "amsgrad": True, "weight_decay": 0.01}),
        (optim.AdamW, torch.optim.AdamW, {"lr": 0.01}),
    ],
    ids=["sgd", "rmsprop", "adagrad", "adam", "adamw"],
)
def test_float32_follows_torch_float32(cr_cls: Any, torch_cls: Any, kwargs: dict[str, Any]) -> None:
    """In float32 the parameters stay float32 and track torch's float32 run."""
    weights = {k: v.astype(np.float32) for k, v in initial_weights(seed=9).items()}
    data = [(x.astype(np.float32), y.astype(np.float32)) for x, y in batches(30, seed=10)]
    cr_p = cr_params(weights, dtype=np.float32)
    t_p = [torch.tensor(weights[n], requires_grad=True) for n in weights]
    train_cr(cr_cls(cr_p, **kwargs), cr_p, data)
    train_torch(torch_cls(t_p, **_torch_kwargs(torch_cls, kwargs)), t_p, data)
    for p, tp in zip(cr_p, t_p):
        assert p.data.dtype == np.float32 and tp.dtype == torch.float32
        np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=0, atol=2e-5)
