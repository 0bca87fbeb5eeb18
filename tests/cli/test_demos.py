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
    text = (tmp_path / "h" / "summary.txt").read_text()
    assert "10/10" in text
    for stem in ("cost", "regions"):
        for suffix in (".png", ".svg"):
            f = tmp_path / "h" / f"{stem}{suffix}"
            assert f.stat().st_size > MIN_BYTES


def test_unknown_demo_lists_the_names(tmp_path):
    with pytest.raises(ValueError, match="valid names: higham, optimizers"):
        demos.run_demo("nope", tmp_path)


def _check_outputs(result, stems):
    assert result.summary_path.is_file()
    assert result.summary_path.read_text().strip() == result.summary.strip()
    names = {p.name for p in result.figures}
    for stem in stems:
        for suffix in (".png", ".svg"):
            assert f"{stem}{suffix}" in names, (stem, names)
            assert (result.out_dir / f"{stem}{suffix}").stat().st_size > MIN_BYTES


def test_optimizers_demo(tmp_path):
    r = demos.run_demo("optimizers", tmp_path, quick=True)
    _check_outputs(r, ("quadratic_paths", "rosenbrock_paths", "quadratic_loss",
                       "rosenbrock_loss", "tangent"))
    m = r.metrics
    gd = next(v for k, v in m.items() if k.startswith("rosenbrock/GD"))
    adam = next(v for k, v in m.items() if k.startswith("rosenbrock/Adam"))
    assert adam["final_f"] < gd["final_f"]           # the valley defeats plain GD
    for k, v in m.items():
        if k.startswith("quadratic/"):
            assert v["final_f"] < 0.05, k   # from f = 42: every method nears the minimum


def test_vanishing_demo(tmp_path):
    r = demos.run_demo("vanishing", tmp_path, quick=True)
    _check_outputs(r, ("linear_chain", "deep_networks", "deep_training"))
    m = r.metrics
    L = m["depth"]
    assert m["linear_max_rel_error"] < 1e-10
    assert m["linear_first_over_last"]["0.5"] == pytest.approx(0.5 ** (L - 1), rel=1e-10)
    assert m["linear_first_over_last"]["1.5"] == pytest.approx(1.5 ** (L - 1), rel=1e-10)
    ratios = m["first_over_last"]
    sig = ratios["sigmoid (Xavier)"]
    assert sig < 1e-3                                     # vanishes through the sigmoids
    assert ratios["ReLU (He)"] > 100 * sig
    assert ratios["residual + batch norm (He)"] > 100 * sig


def test_bias_variance_demo(tmp_path):
    r = demos.run_demo("bias-variance", tmp_path, quick=True)
    _check_outputs(r, ("width", "l2", "regions"))
    m = r.metrics
    assert m["train_width"][0] > m["train_width"][-1]     # capacity removes bias
    assert m["train_width"][-1] == 0.0                    # the widest fits every point
    assert m["dev_width"][-1] > m["train_width"][-1] + 0.05   # ... and overfits
    assert m["train_l2"][-1] > m["train_l2"][0]           # a strong penalty underfits


def test_universal_demo(tmp_path):
    r = demos.run_demo("universal", tmp_path, quick=True)
    _check_outputs(r, ("fits", "error", "sigmoid_steps"))
    err = r.metrics["max_error"]
    assert err[-1] < 0.1 < err[0]
    assert err[-1] < err[1] < err[0]


def test_init_demo(tmp_path):
    r = demos.run_demo("init", tmp_path, quick=True)
    _check_outputs(r, ("activations", "training", "symmetry", "activation_functions"))
    m = r.metrics
    assert m["zeros"]["distinct_units"] == 1 and m["constant 0.05"]["distinct_units"] == 1
    assert m["Xavier"]["distinct_units"] == 64
    assert m["zeros"]["dev_accuracy"] < 0.2                 # symmetry: nothing learnt
    assert m["Xavier"]["dev_accuracy"] > 0.85
    assert m["large N(0, 1)"]["saturated"] > 0.5            # most tanh units at ±1
    assert m["small N(0, 0.01²)"]["last_layer_std"] < 1e-3  # the signal dies out


def test_demo_command(tmp_path):
    from typer.testing import CliRunner

    from chainrule.cli import app

    result = CliRunner().invoke(app, ["demo", "higham", "--quick", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "points classified correctly: 10/10" in result.stdout
    assert f"outputs in {tmp_path}" in result.stdout
    assert "cost.png" in result.stdout and "regions.png" in result.stdout
    assert (tmp_path / "summary.txt").is_file()
