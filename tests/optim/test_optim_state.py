"""Optimiser state dicts: a resumed run continues bit for bit, through JSON + arrays."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from optim_testkit import (
    batches,
    cr_params,
    groups_of,
    initial_weights,
    json_array_round_trip,
    train_cr,
)

import chainrule as cr
from chainrule import optim

SETTINGS: list[tuple[str, dict[str, Any]]] = [
    ("sgd", {"lr": 0.1}),
    ("sgd", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 1e-3}),
    ("momentum", {"lr": 0.05, "dampening": 0.5}),
    ("rmsprop", {"lr": 0.003, "momentum": 0.5, "centered": True}),
    ("adagrad", {"lr": 0.1, "lr_decay": 0.01, "initial_accumulator_value": 0.1}),
    ("adam", {"lr": 0.01, "amsgrad": True, "weight_decay": 0.01}),
    ("adamw", {"lr": 0.01, "betas": (0.8, 0.99)}),
]
GROUPS = [{"lr": 0.02}, {}]


@pytest.mark.parametrize(("name", "kwargs"), SETTINGS, ids=[s[0] for s in SETTINGS])
def test_resume_from_state_dict_is_bit_identical(name: str, kwargs: dict[str, Any]) -> None:
    weights = initial_weights(seed=11)
    data = batches(50, seed=12)
    # uninterrupted run: 50 steps
    ref = cr_params(weights)
    train_cr(optim.get_optimizer(name, groups_of(ref, GROUPS), **kwargs), ref, data)
    # interrupted run: 30 steps, save, rebuild everything, load, 20 more steps
    first = cr_params(weights)
    opt = optim.get_optimizer(name, groups_of(first, GROUPS), **kwargs)
    train_cr(opt, first, data[:30])
    saved_params = [p.data.copy() for p in first]
    saved_state = json_array_round_trip(opt.state_dict())
    second = [cr.tensor(a, requires_grad=True) for a in saved_params]
    fresh = optim.get_optimizer(name, groups_of(second, GROUPS), **kwargs)
    fresh.load_state_dict(saved_state)
    train_cr(fresh, second, data[30:])
    for i, (p, q) in enumerate(zip(ref, second)):
        assert np.array_equal(p.data, q.data), (
            f"{name}: parameter {i} differs after resuming "
            f"(max diff {np.abs(p.data - q.data).max():.3e})"
        )


def test_state_dict_layout_and_plain_values() -> None:
    w = cr.tensor(np.ones((2, 3)), requires_grad=True)
    b = cr.tensor(np.zeros(3), requires_grad=True)
    opt = optim.Adam([{"params": [w]}, {"params": [b], "lr": 0.5}], lr=0.1, amsgrad=True)
    (w.sum() * 2 + (b * b).sum()).backward()
    opt.step()
    sd = opt.state_dict()
    assert set(sd) == {"state", "param_groups"}
    assert sd["param_groups"][0]["params"] == [0] and sd["param_groups"][1]["params"] == [1]
    assert sd["param_groups"][0]["lr"] == 0.1 and sd["param_groups"][1]["lr"] == 0.5
    assert sd["param_groups"][1]["betas"] == (0.9, 0.999)
    assert set(sd["state"][0]) == {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}
    assert sd["state"][0]["step"] == 1 and isinstance(sd["state"][0]["step"], int)
    # m after one step is (1 − beta1)·g = 0.1·2
    np.testing.assert_allclose(sd["state"][0]["exp_avg"], np.full((2, 3), 0.2))
    # only ndarrays and JSON values: json.dumps succeeds once arrays are taken out
    def strip(o: Any) -> Any:
        if isinstance(o, np.ndarray):
            return None
        if isinstance(o, dict):
            return {str(k): strip(v) for k, v in o.items()}
        if isinstance(o, (list, tuple)):
            return [strip(v) for v in o]
        return o
    json.dumps(strip(sd))


def test_state_dict_is_a_snapshot_not_a_view() -> None:
    w = cr.tensor(np.array([1.0, 2.0]), requires_grad=True)
    opt = optim.SGD([w], lr=0.1, momentum=0.9)
    for _ in range(2):
        opt.zero_grad()
        (w * w).sum().backward()
        opt.step()
    sd = opt.state_dict()
    buf = sd["state"][0]["momentum_buffer"].copy()
    opt.zero_grad()
    (w * w).sum().backward()
    opt.step()
    np.testing.assert_array_equal(sd["state"][0]["momentum_buffer"], buf)
    # and loading copies too: stepping the loaded optimiser leaves the dict alone
    w2 = cr.tensor(np.array([1.0, 2.0]), requires_grad=True)
    opt2 = optim.SGD([w2], lr=0.1, momentum=0.9)
    opt2.load_state_dict(sd)
    (w2 * w2).sum().backward()
    opt2.step()
    np.testing.assert_array_equal(sd["state"][0]["momentum_buffer"], buf)


def test_load_casts_to_the_parameter_dtype() -> None:
    w = cr.tensor(np.ones(3), requires_grad=True)
    opt = optim.Adam([w], lr=0.1)
    (w * w).sum().backward()
    opt.step()
    sd = opt.state_dict()
    w32 = cr.tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    opt32 = optim.Adam([w32], lr=0.1)
    opt32.load_state_dict(sd)
    assert opt32.state[w32]["exp_avg"].dtype == np.float32
    (w32 * w32).sum().backward()
    opt32.step()
    assert w32.data.dtype == np.float32


def test_load_state_dict_restores_hyperparameters_and_tuples() -> None:
    w = cr.tensor(np.ones(2), requires_grad=True)
    opt = optim.Adam([w], lr=0.1, betas=(0.5, 0.9))
    sd = json.loads(json.dumps(opt.state_dict()))     # betas become a list, keys strings
    w2 = cr.tensor(np.ones(2), requires_grad=True)
    opt2 = optim.Adam([w2], lr=0.3)
    opt2.load_state_dict(sd)
    assert opt2.param_groups[0]["lr"] == 0.1
    assert opt2.param_groups[0]["betas"] == (0.5, 0.9)
    assert opt2.param_groups[0]["params"][0] is w2


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda sd: sd["param_groups"].append({"params": []}), "2 parameter groups"),
        (lambda sd: sd["param_groups"][0]["params"].append(5), "has 3 parameters"),
        (lambda sd: sd["state"].update({7: {"step": 1}}), "state for parameter 7"),
        (lambda sd: sd["state"][0].update({"exp_avg": np.zeros(5)}), "shape"),
        (lambda sd: sd["param_groups"][0].update({"lr": -1.0}),
         "lr must be a finite number > 0, got -1.0"),
        (lambda sd: sd.pop("state"), "keys 'state' and 'param_groups'"),
    ],
)
def test_load_state_dict_rejects_mismatches(mutate: Any, message: str) -> None:
    w = cr.tensor(np.ones(2), requires_grad=True)
    v = cr.tensor(np.ones(2), requires_grad=True)
    opt = optim.Adam([w, v], lr=0.1)
    (w * v).sum().backward()
    opt.step()
    sd = opt.state_dict()
    mutate(sd)
    fresh = optim.Adam(
        [cr.tensor(np.ones(2), requires_grad=True), cr.tensor(np.ones(2), requires_grad=True)]
    )
    with pytest.raises(ValueError, match=message):
        fresh.load_state_dict(sd)
