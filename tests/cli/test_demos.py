"""Tests of the demos: the Higham & Higham reproduction and every demo's outputs."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import demos
from chainrule.data import load_dataset
from chainrule.demos import higham

MIN_BYTES = 5_000


def test_higham_step_matches_autodiff_gradient():
    """One step of the hand-written SGD loop is θ − η ∇C_x(θ) with ∇ from chainrule."""
    ds = load_dataset("higham")
    X, Y = ds.X, higham.targets(ds.y)
    params = higham.init_params(seed=3)
    for k in (0, 7):
        eta = 0.05
        new, _, _ = higham.sgd(params, X, Y, order=[k], eta=eta, record_every=1)
        tensors = {n: cr.tensor(v, requires_grad=True) for n, v in params.items()}
        higham.autodiff_cost(tensors, X[k:k + 1], Y[k:k + 1]).backward()
        for n in higham.SHAPES:
            # the paper's single-point cost is ½‖y − a‖² (a mean over one point)
            expected = params[n] - eta * tensors[n].grad.numpy()
            np.testing.assert_allclose(new[n], expected, rtol=1e-12, atol=1e-15)
            assert not np.allclose(new[n], params[n])  # the step moved every parameter


def test_higham_cost_and_forward_agree_with_autodiff_cost():
    ds = load_dataset("higham")
    X, Y = ds.X, higham.targets(ds.y)
    params = higham.init_params(seed=1)
    tensors = {n: cr.tensor(v) for n, v in params.items()}
    assert higham.cost(params, X, Y) == pytest.approx(
        float(higham.autodiff_cost(tensors, X, Y).item()), rel=1e-12)


def test_higham_demo_reproduces_the_paper(tmp_path):
    """All 10 points classified, cost down by three orders of magnitude (10⁶ steps)."""
    result = demos.run_demo("higham", tmp_path / "h")
    m = result.metrics
    assert m["steps"] == 1_000_000
    assert m["correct"] == 10 and m["n_points"] == 10
    assert m["final_cost"] <= 1e-3 * m["initial_cost"]
    assert result.seconds < 60
    text = (tmp_path / "h" / "summary.txt").read_text()
    assert "10/10" in text
    for stem in ("cost", "regions"):
        for suffix in (".png", ".svg"):
            f = tmp_path / "h" / f"{stem}{suffix}"
            assert f.stat().st_size > MIN_BYTES


def test_unknown_demo_lists_the_names(tmp_path):
    with pytest.raises(ValueError, match="valid names: higham, optimizers"):
        demos.run_demo("nope", tmp_path)
