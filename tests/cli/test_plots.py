"""Tests of chainrule.plots: every figure is written as PNG and SVG, and bad input is refused."""

from __future__ import annotations

import math

import numpy as np
import pytest

from chainrule import plots

MIN_BYTES = 5_000


def _check(out: plots.FigurePaths) -> None:
    assert out.png.suffix == ".png" and out.svg.suffix == ".svg"
    assert out.png.stat().st_size > MIN_BYTES, out.png
    assert out.svg.stat().st_size > MIN_BYTES, out.svg
    assert out.png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in out.svg.read_bytes()[:2000]


def test_training_curves_with_metric_and_suffix_stripped(tmp_path):
    e = np.arange(1, 11)
    out = plots.training_curves(e, 1 / e, 1.2 / e, train_metric=1 - 0.5 / e,
                                dev_metric=np.where(e % 2 == 0, 1 - 0.6 / e, np.nan),
                                best_epoch=8, path=tmp_path / "sub" / "curves.png")
    _check(out)
    assert out.png == tmp_path / "sub" / "curves.png"
    assert out.svg == tmp_path / "sub" / "curves.svg"


def test_training_curves_rejects_mismatched_lengths(tmp_path):
    with pytest.raises(ValueError, match="lengths differ"):
        plots.training_curves([1, 2, 3], [1.0, 0.5], path=tmp_path / "x")


def test_decision_regions_labels_probabilities_and_single_column(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 2))
    y = (X[:, 0] > 0).astype(int)
    _check(plots.decision_regions(lambda P: (P[:, 0] > 0).astype(int), X, y, resolution=101,
                                  path=tmp_path / "labels"))
    _check(plots.decision_regions(lambda P: np.column_stack([P[:, 0] < 0, P[:, 0] >= 0]), X, y,
                                  resolution=101, class_names=["A", "B"], path=tmp_path / "prob"))
    _check(plots.decision_regions(lambda P: (P[:, :1] > 0) * 1.0, X, y, resolution=51,
                                  path=tmp_path / "single"))


def test_decision_regions_refuses_bad_input(tmp_path):
    X = np.zeros((5, 3))
    with pytest.raises(ValueError, match="2-D points"):
        plots.decision_regions(lambda P: P[:, 0], X, np.zeros(5), path=tmp_path / "a")
    with pytest.raises(ValueError, match="labels for"):
        plots.decision_regions(lambda P: np.zeros(3), np.zeros((5, 2)), np.zeros(5),
                               resolution=11, path=tmp_path / "b")


def test_confusion_matrix(tmp_path):
    y = np.array([0, 1, 2, 2, 1, 0, 2])
    _check(plots.confusion_matrix(y, np.array([0, 1, 2, 1, 1, 0, 0]),
                                  class_names=["a", "b", "c"], path=tmp_path / "cm"))
    _check(plots.confusion_matrix(y, y, normalize=True, path=tmp_path / "cmn"))


def test_gradient_norms_and_schedule(tmp_path):
    e = np.arange(1, 16)
    _check(plots.gradient_norms({"0.weight": np.exp(-e / 3), "2.weight": np.exp(-e / 5)},
                                path=tmp_path / "g"))
    _check(plots.learning_rate_schedule(0.1 * 0.5 ** (e // 4), label="step", path=tmp_path / "l"))
    with pytest.raises(ValueError, match="empty"):
        plots.gradient_norms({}, path=tmp_path / "e")


def test_activation_derivatives_come_from_autodiff():
    z = np.linspace(-4, 4, 9)
    g, dg = plots._autodiff_derivative(plots.ACTIVATIONS["sigmoid"][0], z)
    s = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(g, s, rtol=1e-12)
    np.testing.assert_allclose(dg, s * (1 - s), rtol=1e-10)
    g, dg = plots._autodiff_derivative(plots.ACTIVATIONS["softplus"][0], z)
    np.testing.assert_allclose(g, np.log1p(np.exp(z)), rtol=1e-10)
    np.testing.assert_allclose(dg, s, rtol=1e-10)
    _, dg = plots._autodiff_derivative(plots.ACTIVATIONS["elu"][0], z)
    np.testing.assert_allclose(dg, np.where(z > 0, 1.0, np.exp(z)), rtol=1e-10)
    _, dg = plots._autodiff_derivative(plots.ACTIVATIONS["leaky_relu"][0], z)
    np.testing.assert_allclose(dg, np.where(z > 0, 1.0, 0.01), rtol=1e-6)


def test_function_pictures(tmp_path):
    _check(plots.activations(path=tmp_path / "act"))
    _check(plots.sigmoid_family(path=tmp_path / "sig"))
    _check(plots.tangent_line(lambda x: x.sin() * x, 1.0, path=tmp_path / "tan"))
    _check(plots.finite_difference_error(math.exp, math.exp, 1.0, path=tmp_path / "fd"))
    with pytest.raises(ValueError, match="unknown activation"):
        plots.activations(["nope"], path=tmp_path / "bad")
    with pytest.raises(ValueError, match="inside x_range"):
        plots.tangent_line(lambda x: x, 5.0, x_range=(0.0, 1.0), path=tmp_path / "bad")


def test_demo_figures(tmp_path):
    t = np.arange(1, 200)
    _check(plots.cost_curve(1 / t, path=tmp_path / "cost"))
    path = np.array([[-1.5, 1.5], [-1.0, 1.0], [0.0, 0.5], [1.0, 1.0]])
    _check(plots.optimizer_trajectories(lambda x, y: (1 - x) ** 2 + 100 * (y - x**2) ** 2,
                                        {"GD": path, "Adam": path[::-1]},
                                        limits=((-2, 2), (-1, 3)), minimum=(1, 1),
                                        path=tmp_path / "traj"))
    _check(plots.layer_gradient_norms({"sigmoid": 0.25 ** np.arange(8.0)[::-1]},
                                      reference={"theory": 0.25 ** np.arange(8.0)[::-1]},
                                      path=tmp_path / "layers"))
    _check(plots.error_curves([1, 2, 4, 8], [0.5, 0.3, 0.1, 0.01], [0.5, 0.35, 0.3, 0.4],
                              xlabel="width", logx=True, title="t", path=tmp_path / "err"))
    x = np.linspace(0, 1, 50)
    _check(plots.function_fits(x, np.sin(6 * x), {"w=2": 0 * x, "w=8": np.sin(6 * x) + 0.1},
                               x_train=x, y_train=np.sin(6 * x), path=tmp_path / "fits"))
    rng = np.random.default_rng(0)
    _check(plots.histograms({"a": [rng.normal(size=500), rng.normal(size=500)],
                             "b": [rng.random(500)]}, xlabel="value", title="h",
                            path=tmp_path / "hist"))
    _check(plots.matrices({"W": rng.normal(size=(8, 4)), "zero": np.zeros((8, 4))},
                          title="m", path=tmp_path / "mat"))
    _check(plots.line_plot({"a": (x, x + 0.1), "b": (x, x**2 + 0.1)}, xlabel="x", ylabel="y",
                           title="lines", logy=True, path=tmp_path / "lines"))
