"""Losses against PyTorch (values, gradients w.r.t. input and target, Hessian-vector
products), finite differences, reductions, PyTorch's weighting rules, validation, registry."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, settings
from hypothesis import strategies as st
from torch_oracle import check_fn

import chainrule as cr
from chainrule import nn
from chainrule.nn import functional as F

REDUCTIONS = ["mean", "sum", "none"]
SHAPES = [(6,), (4, 3), (2, 3, 2)]


def _rng(seed=0):
    return np.random.default_rng(seed)


# ------------------------------------------------------------------------- regression


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_mse_l1_huber_match_torch(shape, reduction):
    r = _rng()
    x, y = r.standard_normal(shape) * 2, r.standard_normal(shape) * 2
    check_fn(lambda a, b: F.mse_loss(a, b, reduction),
             lambda a, b: TF.mse_loss(a, b, reduction=reduction), x, y)
    check_fn(lambda a, b: F.l1_loss(a, b, reduction),
             lambda a, b: TF.l1_loss(a, b, reduction=reduction), x, y)
    for delta in (1.0, 0.5, 3.0):
        check_fn(lambda a, b, d=delta: F.huber_loss(a, b, reduction, d),
                 lambda a, b, d=delta: TF.huber_loss(a, b, reduction=reduction, delta=d), x, y)


def test_mse_half_convention():
    # ½(x − y)²: the gradient is x − y exactly
    x = cr.tensor(np.array([3.0, -1.0]), requires_grad=True)
    y = np.array([1.0, 1.0])
    F.mse_loss(x, y, reduction="sum", half=True).backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, -2.0])
    check_fn(lambda a, b: F.mse_loss(a, b, half=True),
             lambda a, b: 0.5 * TF.mse_loss(a, b), _rng(1).standard_normal((3, 2)),
             _rng(2).standard_normal((3, 2)))


def test_huber_switch_point_values():
    # delta = 1: d = 0.5 → ½·0.25 = 0.125 ; d = 3 → 1·(3 − 0.5) = 2.5 ; d = 1 → 0.5 (both forms)
    loss = F.huber_loss(cr.tensor([0.5, 3.0, 1.0]), cr.tensor([0.0, 0.0, 0.0]), "none")
    np.testing.assert_allclose(loss.numpy(), [0.125, 2.5, 0.5])


# ------------------------------------------------------------------------------ binary


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_bce_matches_torch(shape, reduction):
    r = _rng(3)
    p = r.uniform(0.02, 0.98, shape)
    y = r.uniform(0, 1, shape)
    w = r.uniform(0.5, 2.0, shape[-1:])
    check_fn(lambda a, b: F.binary_cross_entropy(a, b, reduction=reduction),
             lambda a, b: TF.binary_cross_entropy(a, b, reduction=reduction), p, y)
    # (torch does not differentiate BCE with respect to the weight: it is a constant here)
    check_fn(lambda a, b: F.binary_cross_entropy(a, b, w, reduction),
             lambda a, b: TF.binary_cross_entropy(a, b, torch.tensor(w), reduction=reduction),
             p, y)


def test_bce_clamps_log_at_minus_100_like_torch():
    p = np.array([0.0, 1.0, 0.0, 1.0, 1e-50])
    y = np.array([1.0, 0.0, 0.0, 1.0, 1.0])
    got = F.binary_cross_entropy(cr.tensor(p), cr.tensor(y), reduction="none").numpy()
    want = TF.binary_cross_entropy(torch.tensor(p), torch.tensor(y), reduction="none").numpy()
    np.testing.assert_allclose(got, want)
    np.testing.assert_allclose(got, [100.0, 100.0, 0.0, 0.0, 100.0])
    x = cr.tensor(p, requires_grad=True)
    F.binary_cross_entropy(x, y).backward()
    assert np.all(np.isfinite(x.grad.numpy()))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_bce_with_logits_matches_torch(shape, reduction):
    r = _rng(4)
    x = r.standard_normal(shape) * 4
    y = r.uniform(0, 1, shape)
    w = r.uniform(0.5, 2.0, shape)
    pw = r.uniform(0.5, 3.0, shape[-1:])
    check_fn(lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction=reduction),
             lambda a, b: TF.binary_cross_entropy_with_logits(a, b, reduction=reduction), x, y)
    # weight and pos_weight are constants for torch
    check_fn(
        lambda a, b: F.binary_cross_entropy_with_logits(a, b, w, reduction, pw),
        lambda a, b: TF.binary_cross_entropy_with_logits(
            a, b, torch.tensor(w), reduction=reduction, pos_weight=torch.tensor(pw)),
        x, y)


def test_bce_with_logits_is_stable_and_exact_at_zero():
    x = np.array([0.0, -800.0, 800.0, 0.0])
    y = np.array([1.0, 1.0, 0.0, 0.0])
    check_fn(lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction="sum"),
             lambda a, b: TF.binary_cross_entropy_with_logits(a, b, reduction="sum"),
             x, y, gradcheck=False)
    # gradient σ(x) − y: at x = 0 it is ½ − y (a composed max/|x| form would give −y)
    t = cr.tensor(np.array([0.0, 0.0]), requires_grad=True)
    F.binary_cross_entropy_with_logits(t, np.array([1.0, 0.0]), reduction="sum").backward()
    np.testing.assert_allclose(t.grad.numpy(), [-0.5, 0.5])


# ---------------------------------------------------------------------- categorical


def _logits_targets(shape, C, seed=5):
    r = _rng(seed)
    x = r.standard_normal((shape[0], C) + shape[1:]) * 2
    t = r.integers(0, C, size=shape)
    return x, t


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(5,), (3, 4)], ids=str)
def test_cross_entropy_class_indices_match_torch(shape, reduction, weighted, smoothing):
    C = 4
    x, t = _logits_targets(shape, C)
    w = _rng(6).uniform(0.2, 3.0, C) if weighted else None
    tw = None if w is None else torch.tensor(w)
    check_fn(
        lambda a, b: F.cross_entropy(a, b, w, reduction=reduction, label_smoothing=smoothing),
        lambda a, b: TF.cross_entropy(a, b, tw, reduction=reduction,
                                      label_smoothing=smoothing),
        x, t, gradcheck=len(shape) == 1)


@pytest.mark.parametrize("smoothing", [0.0, 0.3])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_probability_targets_match_torch(reduction, weighted, smoothing):
    r = _rng(7)
    x = r.standard_normal((5, 3)) * 2
    q = r.dirichlet(np.ones(3), size=5)
    w = r.uniform(0.2, 3.0, 3) if weighted else None
    tw = None if w is None else torch.tensor(w)
    # gradients w.r.t. the logits and the target probabilities
    check_fn(
        lambda a, b: F.cross_entropy(a, b, w, reduction=reduction, label_smoothing=smoothing),
        lambda a, b: TF.cross_entropy(a, b, tw, reduction=reduction,
                                      label_smoothing=smoothing),
        x, q)


def test_cross_entropy_ignore_index_and_weighted_mean_formula():
    x, t = _logits_targets((6,), 3, seed=8)
    t[[1, 4]] = -100
    w = np.array([0.5, 2.0, 1.0])
    check_fn(lambda a, b: F.cross_entropy(a, b, w), lambda a, b: TF.cross_entropy(
        a, b, torch.tensor(w)), x, t)
    check_fn(lambda a, b: F.cross_entropy(a, b, ignore_index=2),
             lambda a, b: TF.cross_entropy(a, b, ignore_index=2), x, np.where(t < 0, 2, t))
    # weighted mean = Σ w_{y_n} ℓ_n / Σ w_{y_n} over the kept positions
    log_p = x - np.log(np.exp(x).sum(axis=1, keepdims=True))
    keep = t >= 0
    w_n = w[t[keep]]
    nll = -log_p[keep, t[keep]]
    expected = (w_n * nll).sum() / w_n.sum()
    np.testing.assert_allclose(F.cross_entropy(cr.tensor(x), t, w).item(), expected,
                               rtol=1e-12)


def test_cross_entropy_unbatched_and_spatial_inputs():
    r = _rng(9)
    x1 = r.standard_normal(4)
    check_fn(lambda a, b: F.cross_entropy(a, b, label_smoothing=0.1),
             lambda a, b: TF.cross_entropy(a, b, label_smoothing=0.1), x1, np.array(2))
    x3, t3 = _logits_targets((2, 3), 4, seed=10)    # (N, C, d) with targets (N, d)
    check_fn(lambda a, b: F.cross_entropy(a, b, reduction="none"),
             lambda a, b: TF.cross_entropy(a, b, reduction="none"), x3, t3, gradcheck=False)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss_matches_torch_and_composes_to_cross_entropy(reduction):
    x, t = _logits_targets((5,), 4, seed=11)
    w = _rng(12).uniform(0.5, 2.0, 4)
    check_fn(lambda a, b: F.nll_loss(F.log_softmax(a, axis=1), b, w, reduction=reduction),
             lambda a, b: TF.nll_loss(TF.log_softmax(a, dim=1), b, torch.tensor(w),
                                      reduction=reduction), x, t)
    ce = F.cross_entropy(cr.tensor(x), t, w, reduction=reduction).numpy()
    nll = F.nll_loss(F.log_softmax(cr.tensor(x), axis=1), t, w, reduction=reduction).numpy()
    np.testing.assert_allclose(ce, nll, rtol=1e-12)


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides:UserWarning")
@pytest.mark.parametrize("log_target", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none", "batchmean"])
def test_kl_div_matches_torch(reduction, log_target):
    r = _rng(13)
    log_p = np.log(r.dirichlet(np.ones(4), size=3))
    q = r.dirichlet(np.ones(4), size=3)
    target = np.log(q) if log_target else q
    check_fn(lambda a, b: F.kl_div(a, b, reduction, log_target),
             lambda a, b: TF.kl_div(a, b, reduction=reduction, log_target=log_target),
             log_p, target)


def test_kl_div_zero_target_contributes_zero():
    log_p = np.log(np.array([[0.5, 0.5]]))
    got = F.kl_div(cr.tensor(log_p), cr.tensor(np.array([[1.0, 0.0]])), "sum").item()
    np.testing.assert_allclose(got, np.log(2.0))      # 1·(log 1 − log ½) + 0


# ------------------------------------------------------------------------- modules


MODULE_CASES = [
    (nn.MSELoss(), torch.nn.MSELoss(), "reg"),
    (nn.MSELoss(reduction="sum"), torch.nn.MSELoss(reduction="sum"), "reg"),
    (nn.L1Loss(), torch.nn.L1Loss(), "reg"),
    (nn.HuberLoss(delta=0.7), torch.nn.HuberLoss(delta=0.7), "reg"),
    (nn.BCELoss(), torch.nn.BCELoss(), "prob"),
    (nn.BCEWithLogitsLoss(pos_weight=np.array([2.0, 1.0, 0.5])),
     torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor([2.0, 1.0, 0.5]).double()), "reg"),
    (nn.CrossEntropyLoss(weight=np.array([1.0, 2.0, 0.5]), label_smoothing=0.1),
     torch.nn.CrossEntropyLoss(weight=torch.tensor([1.0, 2.0, 0.5]).double(),
                               label_smoothing=0.1), "cls"),
    (nn.NLLLoss(), torch.nn.NLLLoss(), "cls"),
    (nn.KLDivLoss(reduction="batchmean"), torch.nn.KLDivLoss(reduction="batchmean"), "kl"),
]


@pytest.mark.parametrize("case", range(len(MODULE_CASES)))
def test_loss_modules_match_torch(case):
    cr_m, t_m, kind = MODULE_CASES[case]
    r = _rng(case)
    if kind == "reg":
        a, b = r.standard_normal((4, 3)), r.uniform(0, 1, (4, 3))
    elif kind == "prob":
        a, b = r.uniform(0.05, 0.95, (4, 3)), r.uniform(0, 1, (4, 3))
    elif kind == "cls":
        a, b = r.standard_normal((4, 3)), r.integers(0, 3, 4)
    else:
        a, b = np.log(r.dirichlet(np.ones(3), 4)), r.dirichlet(np.ones(3), 4)
    check_fn(cr_m, t_m, a, b, gradcheck=False)


# ----------------------------------------------------------------------- dtype, errors


@pytest.mark.parametrize("name", ["mse", "mae", "huber", "bce", "bce_with_logits",
                                  "cross_entropy", "kl_div"])
def test_float32_stays_float32(name):
    r = _rng(14)
    x = cr.tensor(r.uniform(0.1, 0.9, (4, 3)).astype(np.float32), requires_grad=True)
    if name == "cross_entropy":
        target = r.integers(0, 3, 4)
    else:
        target = r.uniform(0.1, 0.9, (4, 3))      # float64 ndarray: must not upcast
    inp = x.log() if name == "kl_div" else x
    loss = nn.get_loss(name)(inp, target)
    assert loss.dtype == np.float32, loss.dtype
    loss.backward()
    assert x.grad.dtype == np.float32


def test_validation_errors():
    x = cr.tensor(np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"reduction must be one of \('mean', 'sum', 'none'\)"):
        F.mse_loss(x, x, reduction="avg")
    with pytest.raises(ValueError, match=r"input \(3, 2\) and target \(3,\)"):
        F.mse_loss(x, np.zeros(3))
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\]"):
        F.binary_cross_entropy(cr.tensor([1.5]), cr.tensor([1.0]))
    with pytest.raises(ValueError, match=r"class indices must be in \[0, 2\).*got 5"):
        F.cross_entropy(x, np.array([0, 5, 1]))
    with pytest.raises(ValueError, match=r"target must have shape \(3,\).*got \(2,\)"):
        F.cross_entropy(x, np.array([0, 1]))
    with pytest.raises(ValueError, match=r"weight must have shape \(2,\)"):
        F.cross_entropy(x, np.array([0, 1, 1]), weight=np.ones(3))
    with pytest.raises(ValueError, match=r"label_smoothing must be in \[0, 1\], got 1.5"):
        F.cross_entropy(x, np.array([0, 1, 1]), label_smoothing=1.5)
    with pytest.raises(ValueError, match=r"looks like class indices: pass them as integers"):
        F.cross_entropy(x, np.array([0.0, 1.0, 1.0]))
    with pytest.raises(TypeError, match="integer class indices"):
        F.nll_loss(x, np.zeros((3, 2)))
    with pytest.raises(ValueError, match="delta must be > 0, got -1"):
        F.huber_loss(x, x, delta=-1.0)
    with pytest.raises(ValueError, match="batchmean"):
        F.kl_div(x, x, reduction="avg")


def test_registry():
    assert isinstance(nn.get_loss("MSE"), nn.MSELoss)
    assert nn.get_loss("cross_entropy", label_smoothing=0.1).label_smoothing == 0.1
    for name, cls in nn.LOSSES.items():
        assert isinstance(nn.get_loss(name), cls)
    with pytest.raises(ValueError, match=r"unknown loss 'hinge'; valid names: .*mse"):
        nn.get_loss("hinge")


@settings(max_examples=25, deadline=None)
@given(N=st.integers(1, 6), C=st.integers(2, 5), eps=st.sampled_from([0.0, 0.1, 0.5]),
       reduction=st.sampled_from(REDUCTIONS), seed=st.integers(0, 10_000))
def test_cross_entropy_property_against_torch(N, C, eps, reduction, seed):
    r = _rng(seed)
    x = r.standard_normal((N, C)) * 3
    t = r.integers(0, C, N)
    w = r.uniform(0.1, 2.0, C)
    got = F.cross_entropy(cr.tensor(x), t, w, reduction=reduction, label_smoothing=eps)
    want = TF.cross_entropy(torch.tensor(x), torch.tensor(t), torch.tensor(w),
                            reduction=reduction, label_smoothing=eps)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-10, atol=1e-12)
    # and it is nll_loss of log_softmax when there is no smoothing
    if eps == 0.0:
        nll = F.nll_loss(F.log_softmax(cr.tensor(x), axis=1), t, w, reduction=reduction)
        np.testing.assert_allclose(got.numpy(), nll.numpy(), rtol=1e-12)
