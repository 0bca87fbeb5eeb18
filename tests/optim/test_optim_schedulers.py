"""Learning-rate schedules against torch.optim.lr_scheduler and their closed forms."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from optim_testkit import (
    batches,
    cr_loss,
    cr_params,
    initial_weights,
    json_array_round_trip,
    train_cr,
)

import chainrule as cr
from chainrule import optim
from chainrule.optim import lr_scheduler as S

EPOCHS = 50
LRS = (0.1, 0.05)


def _cr_opt(lrs: tuple[float, ...] = LRS) -> optim.SGD:
    groups = [{"params": [cr.tensor(np.zeros(2), requires_grad=True)], "lr": lr} for lr in lrs]
    return optim.SGD(groups, lr=1.0, momentum=0.9)


def _torch_opt(lrs: tuple[float, ...] = LRS) -> torch.optim.SGD:
    groups = [{"params": [torch.zeros(2, requires_grad=True)], "lr": lr} for lr in lrs]
    return torch.optim.SGD(groups, lr=1.0, momentum=0.9)


def _cr_trace(opt: Any, scheds: list[Any], epochs: int = EPOCHS) -> list[list[float]]:
    trace = []
    for _ in range(epochs):
        trace.append([g["lr"] for g in opt.param_groups])
        assert trace[-1] == scheds[-1].get_last_lr()
        opt.step()
        for s in scheds:
            s.step()
    return trace


def _torch_trace(opt: Any, scheds: list[Any], epochs: int = EPOCHS) -> list[list[float]]:
    trace = []
    for _ in range(epochs):
        trace.append([float(g["lr"]) for g in opt.param_groups])
        opt.step()
        for s in scheds:
            s.step()
    return trace


TORCH_CASES: list[tuple[str, list[tuple[Any, Any, dict[str, Any]]]]] = [
    ("step", [(S.StepLR, torch.optim.lr_scheduler.StepLR, {"step_size": 7, "gamma": 0.5})]),
    ("multistep", [(S.MultiStepLR, torch.optim.lr_scheduler.MultiStepLR,
                    {"milestones": [30, 5, 12, 12], "gamma": 0.3})]),
    ("exponential", [(S.ExponentialLR, torch.optim.lr_scheduler.ExponentialLR,
                      {"gamma": 0.95})]),
    ("cosine", [(S.CosineAnnealingLR, torch.optim.lr_scheduler.CosineAnnealingLR,
                 {"T_max": 20})]),
    ("cosine-eta-min-past-T", [(S.CosineAnnealingLR, torch.optim.lr_scheduler.CosineAnnealingLR,
                                {"T_max": 9, "eta_min": 0.01})]),
    ("linear-warmup", [(S.LinearLR, torch.optim.lr_scheduler.LinearLR,
                        {"start_factor": 0.1, "total_iters": 10})]),
    ("linear-decay", [(S.LinearLR, torch.optim.lr_scheduler.LinearLR,
                       {"start_factor": 1.0, "end_factor": 0.2, "total_iters": 30})]),
    ("lambda", [(S.LambdaLR, torch.optim.lr_scheduler.LambdaLR,
                 {"lr_lambda": lambda e: 1 / (1 + 0.3 * e) ** 2})]),
    # chained: warm-up then decay, both stepped every epoch
    ("linear+exponential", [
        (S.LinearLR, torch.optim.lr_scheduler.LinearLR, {"start_factor": 0.25, "total_iters": 8}),
        (S.ExponentialLR, torch.optim.lr_scheduler.ExponentialLR, {"gamma": 0.9}),
    ]),
    ("linear+cosine+multistep", [
        (S.LinearLR, torch.optim.lr_scheduler.LinearLR, {"start_factor": 0.5, "total_iters": 4}),
        (S.CosineAnnealingLR, torch.optim.lr_scheduler.CosineAnnealingLR,
         {"T_max": 15, "eta_min": 0.001}),
        (S.MultiStepLR, torch.optim.lr_scheduler.MultiStepLR, {"milestones": [20, 40]}),
    ]),
]


@pytest.mark.parametrize("specs", [c[1] for c in TORCH_CASES], ids=[c[0] for c in TORCH_CASES])
def test_schedules_match_torch(specs: list[tuple[Any, Any, dict[str, Any]]]) -> None:
    opt, t_opt = _cr_opt(), _torch_opt()
    scheds = [cls(opt, **kw) for cls, _, kw in specs]
    t_scheds = [tcls(t_opt, **kw) for _, tcls, kw in specs]
    ours, theirs = _cr_trace(opt, scheds), _torch_trace(t_opt, t_scheds)
    assert len({round(lr[0], 15) for lr in ours}) >= 3, "the schedule never changed the rate"
    np.testing.assert_allclose(ours, theirs, rtol=1e-14, atol=0)


def test_cosine_resumed_with_last_epoch_matches_torch() -> None:
    opt, t_opt = _cr_opt(), _torch_opt()
    for g, tg in zip(opt.param_groups, t_opt.param_groups):
        g["initial_lr"] = tg["initial_lr"] = g["lr"]
    sched = S.CosineAnnealingLR(opt, T_max=12, eta_min=0.002, last_epoch=4)
    t_sched = torch.optim.lr_scheduler.CosineAnnealingLR(t_opt, T_max=12, eta_min=0.002,
                                                         last_epoch=4)
    np.testing.assert_allclose(_cr_trace(opt, [sched], 30), _torch_trace(t_opt, [t_sched], 30),
                               rtol=1e-14)


def test_cosine_matches_its_closed_form() -> None:
    opt = _cr_opt()
    trace = _cr_trace(opt, [S.CosineAnnealingLR(opt, T_max=25, eta_min=0.01)])
    for epoch, lrs in enumerate(trace):
        for lr, a0 in zip(lrs, LRS):
            expected = 0.01 + (a0 - 0.01) * (1 + math.cos(math.pi * epoch / 25)) / 2
            assert lr == pytest.approx(expected, rel=1e-12), f"epoch {epoch}"


def test_linear_matches_its_closed_form() -> None:
    opt = _cr_opt()
    trace = _cr_trace(opt, [S.LinearLR(opt, start_factor=0.1, end_factor=0.9, total_iters=20)])
    for epoch, lrs in enumerate(trace):
        f = 0.1 + (0.9 - 0.1) * min(epoch, 20) / 20
        np.testing.assert_allclose(lrs, [a0 * f for a0 in LRS], rtol=1e-12)


CLOSED_FORMS: list[tuple[str, Callable[[Any], Any], Callable[[int], float]]] = [
    ("inverse_time", lambda o: S.InverseTimeDecay(o, decay_rate=0.5),
     lambda e: 1 / (1 + 0.5 * e)),
    ("exponential_decay", lambda o: S.ExponentialDecay(o), lambda e: 0.95**e),
    ("exponential_decay_gamma", lambda o: S.ExponentialDecay(o, gamma=0.8), lambda e: 0.8**e),
    ("sqrt", lambda o: S.SqrtDecay(o, k=0.7), lambda e: 0.7 / math.sqrt(e + 1)),
    ("staircase", lambda o: S.StaircaseDecay(o, step_size=10), lambda e: 0.5 ** (e // 10)),
    ("staircase_factor", lambda o: S.StaircaseDecay(o, step_size=3, factor=0.9),
     lambda e: 0.9 ** (e // 3)),
]


@pytest.mark.parametrize(("make", "factor"), [c[1:] for c in CLOSED_FORMS],
                         ids=[c[0] for c in CLOSED_FORMS])
def test_textbook_decays_match_their_formulas(make: Any, factor: Callable[[int], float]) -> None:
    opt = _cr_opt()
    trace = _cr_trace(opt, [make(opt)])
    expected = [[a0 * factor(e) for a0 in LRS] for e in range(EPOCHS)]
    np.testing.assert_allclose(trace, expected, rtol=1e-14, atol=0)
    if factor(0) == 1:
        assert trace[0] == list(LRS), "epoch 0 must train at the optimiser's lr (α₀)"


def test_textbook_decays_equal_their_pytorch_twins() -> None:
    """ExponentialDecay ≡ ExponentialLR(0.95) and StaircaseDecay ≡ StepLR (closed forms)."""
    a, b = _cr_opt(), _cr_opt()
    np.testing.assert_allclose(_cr_trace(a, [S.ExponentialDecay(a)]),
                               _cr_trace(b, [S.ExponentialLR(b, gamma=0.95)]), rtol=1e-13)
    a, b = _cr_opt(), _cr_opt()
    np.testing.assert_allclose(_cr_trace(a, [S.StaircaseDecay(a, step_size=4, factor=0.3)]),
                               _cr_trace(b, [S.StepLR(b, step_size=4, gamma=0.3)]), rtol=1e-13)


# --------------------------------------------------------------------- ReduceLROnPlateau
def _scripted_losses() -> list[float]:
    """Falls, plateaus (with tiny sub-threshold gains), falls again, then rises."""
    rng = np.random.default_rng(5)
    losses = []
    for epoch in range(60):
        level = 1.0 / (1 + epoch // 12)
        losses.append(level * (1 + 0.002 * rng.standard_normal()) - 0.0005 * (epoch % 12))
    losses[45:] = [x + 0.01 * k for k, x in enumerate(losses[45:])]
    return losses


PLATEAU_CASES: list[tuple[str, dict[str, Any]]] = [
    ("min-rel-cooldown", {"mode": "min", "factor": 0.5, "patience": 2, "threshold": 0.01,
                          "threshold_mode": "rel", "cooldown": 2}),
    ("min-abs", {"mode": "min", "factor": 0.3, "patience": 1, "threshold": 0.004,
                 "threshold_mode": "abs", "cooldown": 0, "min_lr": 0.002}),
    ("min-defaults-patience3", {"patience": 3}),
    ("max-rel-cooldown", {"mode": "max", "factor": 0.5, "patience": 2, "threshold": 0.002,
                          "threshold_mode": "rel", "cooldown": 3, "min_lr": [0.01, 0.0]}),
    ("max-abs-eps", {"mode": "max", "factor": 0.7, "patience": 0, "threshold": 0.003,
                     "threshold_mode": "abs", "cooldown": 1, "eps": 0.004}),
]


@pytest.mark.parametrize("kwargs", [c[1] for c in PLATEAU_CASES],
                         ids=[c[0] for c in PLATEAU_CASES])
def test_reduce_on_plateau_matches_torch(kwargs: dict[str, Any]) -> None:
    metrics = _scripted_losses()
    if kwargs.get("mode") == "max":
        metrics = [1 - m for m in metrics]   # a score to maximise
    opt, t_opt = _cr_opt(), _torch_opt()
    sched = S.ReduceLROnPlateau(opt, **kwargs)
    t_sched = torch.optim.lr_scheduler.ReduceLROnPlateau(t_opt, **kwargs)
    ours, theirs = [], []
    for m in metrics:
        sched.step(m)
        t_sched.step(m)
        ours.append(sched.get_last_lr())
        theirs.append([float(x) for x in t_sched.get_last_lr()])
        assert (sched.num_bad_epochs, sched.cooldown_counter) == (
            t_sched.num_bad_epochs, t_sched.cooldown_counter)
        assert sched.best == t_sched.best
    assert len({lr[0] for lr in ours}) >= 3, f"too few reductions to test: {ours[-1]}"
    assert ours == theirs


def test_reduce_on_plateau_hand_trace() -> None:
    """patience 1, cooldown 1, factor 0.5, abs threshold 0.1 (trace in the comments)."""
    opt = _cr_opt((1.0,))
    sched = S.ReduceLROnPlateau(opt, factor=0.5, patience=1, cooldown=1, threshold=0.1,
                                threshold_mode="abs")
    lrs = []
    for loss in [1.0, 0.95, 0.92, 0.5, 0.45, 0.44, 0.43, 0.42]:
        sched.step(loss)
        lrs.append(sched.get_last_lr()[0])
    # 1.0 best; 0.95 bad 1; 0.92 bad 2 > 1 → 0.5, cooldown 1; 0.5 best (< 0.9), cooldown → 0;
    # 0.45 bad 1; 0.44 bad 2 → 0.25, cooldown 1; 0.43 bad but in cooldown → 0; 0.42 bad 1
    assert lrs == [1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25]


# ------------------------------------------------------------------------- API & validation
def test_registry_and_unknown_names() -> None:
    opt = _cr_opt()
    assert type(optim.get_scheduler("StepLR", opt, step_size=3)) is S.StepLR
    assert type(optim.get_scheduler("inverse-time", _cr_opt())) is S.InverseTimeDecay
    assert type(optim.get_scheduler("plateau", _cr_opt(), patience=2)) is S.ReduceLROnPlateau
    assert set(optim.SCHEDULERS) >= {"step", "multistep", "exponential", "cosine", "linear",
                                     "plateau", "inverse_time", "sqrt", "staircase"}
    with pytest.raises(ValueError, match=r"unknown scheduler 'cyclic'; valid names: cosine, "):
        optim.get_scheduler("cyclic", opt)


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda o: S.StepLR(o, step_size=0), ValueError, r"step_size must be an int >= 1, got 0"),
        (lambda o: S.StepLR(o, step_size=2.5), TypeError, r"step_size must be an int"),
        (lambda o: S.ExponentialLR(o, gamma=-0.5), ValueError,
         r"gamma must be a finite number > 0, got -0.5"),
        (lambda o: S.CosineAnnealingLR(o, T_max=0), ValueError, r"T_max must be an int >= 1"),
        (lambda o: S.LinearLR(o, start_factor=0.0), ValueError,
         r"start_factor must be in \(0, 1\], got 0\.0"),
        (lambda o: S.LinearLR(o, end_factor=1.5), ValueError, r"end_factor must be in \[0, 1\]"),
        (lambda o: S.MultiStepLR(o, milestones=[3, -1]), ValueError,
         r"milestone must be an int >= 0"),
        (lambda o: S.SqrtDecay(o, k=0), ValueError, r"k must be a finite number > 0, got 0"),
        (lambda o: S.InverseTimeDecay(o, decay_rate=-1), ValueError,
         r"decay_rate must be a finite number >= 0"),
        (lambda o: S.ReduceLROnPlateau(o, factor=1.0), ValueError, r"factor must be in \[0, 1\)"),
        (lambda o: S.ReduceLROnPlateau(o, mode="up"), ValueError,
         r"mode must be one of 'max', 'min', got 'up'"),
        (lambda o: S.ReduceLROnPlateau(o, min_lr=[0.1]), ValueError, r"expected 2 min_lrs"),
        (lambda o: S.LambdaLR(o, [lambda e: 1.0]), ValueError, r"expected 2 lr_lambdas"),
        (lambda o: S.StepLR(object(), step_size=1), TypeError, r"needs a chainrule.optim"),
    ],
)
def test_scheduler_validation(make: Any, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        make(_cr_opt())


def test_resuming_a_schedule_needs_initial_lr() -> None:
    with pytest.raises(ValueError, match="no 'initial_lr'"):
        S.StepLR(_cr_opt(), step_size=2, last_epoch=3)


# ------------------------------------------------------------ save / restore mid-run
RESUME_CASES: list[tuple[str, Callable[[Any], list[Any]]]] = [
    ("cosine", lambda o: [S.CosineAnnealingLR(o, T_max=17, eta_min=1e-3)]),
    ("warmup+step", lambda o: [S.LinearLR(o, start_factor=0.2, total_iters=10),
                               S.StepLR(o, step_size=6, gamma=0.7)]),
    ("multistep", lambda o: [S.MultiStepLR(o, milestones=[25, 35], gamma=0.5)]),
    ("sqrt", lambda o: [S.SqrtDecay(o, k=2.0)]),
    ("plateau", lambda o: [S.ReduceLROnPlateau(o, factor=0.5, patience=1, cooldown=1,
                                                threshold=0.05)]),
]


def _run(opt: Any, scheds: list[Any], params: list[Any], data: list[Any]) -> None:
    def on_step(loss: float) -> None:
        for s in scheds:
            s.step(loss) if isinstance(s, S.ReduceLROnPlateau) else s.step()

    train_cr(opt, params, data, on_step)


@pytest.mark.parametrize("make", [c[1] for c in RESUME_CASES], ids=[c[0] for c in RESUME_CASES])
def test_resume_optimizer_and_scheduler_bit_identical(make: Callable[[Any], list[Any]]) -> None:
    weights = initial_weights(seed=21)
    data = batches(50, seed=22)

    def build(params: list[Any]) -> tuple[Any, list[Any]]:
        opt = optim.Adam([{"params": params[:2], "lr": 0.02}, {"params": params[2:]}], lr=0.01)
        return opt, make(opt)

    ref = cr_params(weights)
    opt, scheds = build(ref)
    _run(opt, scheds, ref, data)
    ref_lrs = scheds[-1].get_last_lr()

    first = cr_params(weights)
    opt, scheds = build(first)
    _run(opt, scheds, first, data[:30])
    saved = json_array_round_trip({
        "params": [p.data for p in first],
        "optimizer": opt.state_dict(),
        "schedulers": [s.state_dict() for s in scheds],
    })
    second = [cr.tensor(a, requires_grad=True) for a in saved["params"]]
    opt2, scheds2 = build(second)           # schedulers first (they set lr) ...
    opt2.load_state_dict(saved["optimizer"])  # ... then the optimiser, then the schedulers
    for s, sd in zip(scheds2, saved["schedulers"]):
        s.load_state_dict(sd)
    _run(opt2, scheds2, second, data[30:])
    assert scheds2[-1].get_last_lr() == ref_lrs
    for i, (p, q) in enumerate(zip(ref, second)):
        assert np.array_equal(p.data, q.data), f"parameter {i} differs after resuming"
    assert ref_lrs != [0.02, 0.01], "the schedule never changed the rate"


def test_scheduler_state_dict_is_plain_and_rejects_unknown_keys() -> None:
    opt = _cr_opt()
    sched = S.MultiStepLR(opt, milestones=[3, 1])
    sd = sched.state_dict()
    assert sd["milestones"] == [1, 3] and sd["last_epoch"] == 0 and "optimizer" not in sd
    lam = S.LambdaLR(_cr_opt(), lambda e: 0.5)
    assert "lr_lambdas" not in lam.state_dict()
    with pytest.raises(ValueError, match="unknown keys"):
        sched.load_state_dict({**sd, "bogus": 1})


def test_loss_tensor_accepted_by_plateau() -> None:
    opt = _cr_opt()
    sched = S.ReduceLROnPlateau(opt, patience=0, factor=0.5)
    x = cr.tensor(np.ones(2), requires_grad=True)
    loss = cr_loss(cr_params(initial_weights()), np.ones((2, 4)), np.ones((2, 2)))
    sched.step(loss)
    sched.step((x * 10).sum())
    assert sched.get_last_lr() == [0.05, 0.025]
