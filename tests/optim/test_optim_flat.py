"""The flat update of a group of small parameters (chainrule.optim.flat): the same numbers,
bit for bit, as the update parameter by parameter, through every turn a training run takes
(a parameter without a gradient for a step, a state dict saved and loaded, a copy of the
optimiser, a compiled step interleaved with eager ones)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from optim_testkit import NAMES, batches, cr_loss, cr_params, initial_weights

import chainrule as cr
from chainrule import nn, optim
from chainrule.optim import flat as flat_mod
from chainrule.trace import compile_step

CASES = [
    (optim.SGD, {"lr": 0.1}),
    (optim.SGD, {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    (optim.SGD, {"lr": 0.05, "momentum": 0.8, "dampening": 0.3}),
    (optim.Adam, {"lr": 0.01}),
    (optim.Adam, {"lr": 0.01, "amsgrad": True, "weight_decay": 0.1}),
    (optim.AdamW, {"lr": 0.01, "weight_decay": 0.1}),
    (optim.RMSprop, {"lr": 0.01, "momentum": 0.5, "centered": True}),
    (optim.Adagrad, {"lr": 0.1}),
]
IDS = [f"{cls.__name__}-{i}" for i, (cls, _) in enumerate(CASES)]
FLAT_MAX = flat_mod.FLAT_MAX


def _run(cls, kwargs, steps, *, flat: bool, monkeypatch, skip=None, dtype=np.float64):
    """Train the testkit's MLP; ``skip[i]``: the parameter left without a gradient at
    step i. Returns (params, optimiser)."""
    monkeypatch.setattr(flat_mod, "FLAT_MAX", FLAT_MAX if flat else 0)
    params = cr_params(initial_weights(), dtype)
    opt = cls(params, **kwargs)
    for i, (x, y) in enumerate(batches(steps)):
        opt.zero_grad()
        cr_loss(params, x, y).backward()
        if skip and i in skip:
            params[skip[i]].grad = None
        opt.step()
    return params, opt


def _flats(opt):
    return list(opt.__dict__.get("_flat_groups", {}).values())


def _same_state(a, b):
    sa, sb = a.state_dict()["state"], b.state_dict()["state"]
    assert sa.keys() == sb.keys()
    for k in sa:
        assert sa[k].keys() == sb[k].keys()
        for name in sa[k]:
            np.testing.assert_array_equal(sa[k][name], sb[k][name], err_msg=f"{k} {name}")


@pytest.mark.parametrize(("cls", "kwargs"), CASES, ids=IDS)
def test_flat_step_equals_per_parameter_step_bit_for_bit(cls, kwargs, monkeypatch):
    ref, ref_opt = _run(cls, kwargs, 6, flat=False, monkeypatch=monkeypatch)
    got, opt = _run(cls, kwargs, 6, flat=True, monkeypatch=monkeypatch)
    # the flat path was taken (one flat group, all four parameters) and the other was not;
    # a stateless update (plain SGD) stays per parameter
    stateless = cls is optim.SGD and not kwargs.get("momentum")
    assert [len(f.params) for f in _flats(opt)] == ([] if stateless else [4])
    assert not _flats(ref_opt)
    for name, p, q in zip(NAMES, got, ref):
        np.testing.assert_array_equal(p.data, q.data, err_msg=name)
    _same_state(opt, ref_opt)


@pytest.mark.parametrize(("cls", "kwargs"), CASES[1::3], ids=IDS[1::3])
def test_a_parameter_without_gradient_for_a_step(cls, kwargs, monkeypatch):
    # b1 has no gradient at step 2 (its counters fall behind: Adam's `step`), W2 none at 4
    skip = {2: 1, 4: 2}
    ref, ref_opt = _run(cls, kwargs, 7, flat=False, monkeypatch=monkeypatch, skip=skip)
    got, opt = _run(cls, kwargs, 7, flat=True, monkeypatch=monkeypatch, skip=skip)
    for name, p, q in zip(NAMES, got, ref):
        np.testing.assert_array_equal(p.data, q.data, err_msg=name)
    _same_state(opt, ref_opt)


def test_state_dict_load_and_copy_keep_the_numbers(monkeypatch):
    kwargs = {"lr": 0.01, "weight_decay": 0.05}
    ref, ref_opt = _run(optim.Adam, kwargs, 8, flat=False, monkeypatch=monkeypatch)
    monkeypatch.setattr(flat_mod, "FLAT_MAX", FLAT_MAX)
    params = cr_params(initial_weights())
    opt = optim.Adam(params, **kwargs)
    data = batches(8)

    def train(ps, o, part):
        for x, y in part:
            o.zero_grad()
            cr_loss(ps, x, y).backward()
            o.step()

    train(params, opt, data[:3])
    saved = opt.state_dict()
    at3 = [p.data.copy() for p in params]
    state_views = [opt.state[p]["exp_avg"] for p in params]
    # the state dict is a copy: later steps leave it as it was
    train(params, opt, data[3:5])
    assert saved["state"][0]["step"] == 3
    assert all(opt.state[p]["exp_avg"] is v for p, v in zip(params, state_views))
    # a deep copy steps on its own, with the same numbers, and leaves the original alone
    twin_params, twin = copy.deepcopy((params, opt))
    before = [p.data.copy() for p in params]
    train(twin_params, twin, data[5:])
    for p, b in zip(params, before):
        np.testing.assert_array_equal(p.data, b)
    for name, p, q in zip(NAMES, twin_params, ref):
        np.testing.assert_array_equal(p.data, q.data, err_msg=name)
    _same_state(twin, ref_opt)  # the copy's state dicts are its live state
    # loading the saved state back into the original replaces its flat state: the run
    # from step 3 again gives the reference numbers
    opt.load_state_dict(saved)
    for p, a in zip(params, at3):
        p.data[...] = a
    train(params, opt, data[3:])
    for name, p, q in zip(NAMES, params, ref):
        np.testing.assert_array_equal(p.data, q.data, err_msg=name)


def test_large_groups_stay_per_parameter():
    w = cr.tensor(np.zeros(flat_mod.FLAT_MAX), requires_grad=True)
    b = cr.tensor(np.zeros(1), requires_grad=True)
    opt = optim.SGD([w, b], lr=0.1, momentum=0.5)
    (w.sum() + b.sum()).backward()
    opt.step()
    opt.step()
    assert not _flats(opt)
    # g = 1: b₁ = 1, θ₁ = −0.1; b₂ = 0.5·1 + 1 = 1.5, θ₂ = −0.1 − 0.15 = −0.25
    np.testing.assert_allclose(w.data, -0.25, rtol=1e-15)
    # one element fewer and the group is updated flat
    w2 = cr.tensor(np.zeros(flat_mod.FLAT_MAX - 1), requires_grad=True)
    opt2 = optim.SGD([w2, b], lr=0.1, momentum=0.5)
    (w2.sum() + b.sum()).backward()
    opt2.step()
    opt2.step()
    assert [len(f.params) for f in _flats(opt2)] == [2]
    np.testing.assert_allclose(w2.data, -0.25, rtol=1e-15)


def test_compiled_steps_between_eager_steps_give_the_eager_numbers(monkeypatch):
    """Replays (the compiled step's own flat state) and eager steps (a batch of another
    size: recorded, so eager, then compiled too) take the state from each other."""

    def model_and_opt():
        model = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2))
        init = np.random.default_rng(3)
        for p in model.parameters():
            p.data = init.normal(0, 0.5, p.data.shape)
        return model, optim.Adam(model.parameters(), lr=0.02, weight_decay=0.01)

    data = np.random.default_rng(4)
    sizes = [4, 4, 4, 3, 4, 3, 4, 4, 3, 3, 4, 4]
    xs = [data.normal(size=(n, 3)) for n in sizes]
    ys = [data.normal(size=(n, 2)) for n in sizes]
    loss = nn.MSELoss()

    model, opt = model_and_opt()
    for x, y in zip(xs, ys):
        opt.zero_grad()
        loss(model(cr.tensor(x)), cr.tensor(y)).backward()
        opt.step()
    ref = [p.data.copy() for p in model.parameters()]

    model, opt = model_and_opt()
    step = compile_step(model, loss, opt)
    for x, y in zip(xs, ys):
        step(x, y)
    assert step.stats["replayed"] >= 4
    for p, r in zip(model.parameters(), ref):
        np.testing.assert_allclose(p.data, r, rtol=0, atol=1e-12)


def test_a_frozen_first_parameter_leaves_the_rest_flat(monkeypatch):
    # W1 frozen (no gradient ever, no state): b1, W2, b2 are still updated as one flat group,
    # with the numbers of the per-parameter update
    runs = []
    for flat in (False, True):
        monkeypatch.setattr(flat_mod, "FLAT_MAX", FLAT_MAX if flat else 0)
        params = cr_params(initial_weights())
        params[0].requires_grad = False
        opt = optim.Adam(params, lr=0.01)
        for x, y in batches(4):
            opt.zero_grad()
            cr_loss(params, x, y).backward()
            opt.step()
        runs.append((params, opt))
    (ref, ref_opt), (got, opt) = runs
    assert [len(f.params) for f in _flats(opt)] == [3]
    for name, p, q in zip(NAMES, got, ref):
        np.testing.assert_array_equal(p.data, q.data, err_msg=name)
    _same_state(opt, ref_opt)


def test_held_flat_is_one_float_dtype_within_flat_max():
    # the one rule behind both the eager gathering and the compiled step's packing
    def ps(*specs):
        return [cr.tensor(np.zeros(n, dtype)) for n, dtype in specs]

    assert flat_mod.held_flat(ps((FLAT_MAX - 1, np.float32), (1, np.float32)))
    assert not flat_mod.held_flat(ps((FLAT_MAX, np.float32), (1, np.float32)))  # too large
    assert not flat_mod.held_flat(ps((3, np.float32), (3, np.float64)))  # two dtypes
    assert not flat_mod.held_flat(ps((3, np.int64)))  # not floating
