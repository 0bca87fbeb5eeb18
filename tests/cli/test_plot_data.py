"""Figure content, read back from the drawn artists and compared with the data behind it.

`test_plots.py` checks that files are written; here every figure function's drawing is
captured before it is closed (the ``drawn`` fixture wraps ``plots._save``) and its
images, lines, points and texts are compared with values computed independently:
scikit-learn's confusion matrix, the classifier's predictions on the grid, the curves
given, RMSE and R² from ``sklearn.metrics``.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix as sk_confusion_matrix
from sklearn.metrics import mean_squared_error, r2_score

from chainrule import plots


@pytest.fixture
def drawn(monkeypatch):
    """The list of figures saved during the test (each still readable after closing)."""
    figures = []
    save = plots._save

    def capture(fig, path):
        figures.append(fig)
        return save(fig, path)

    monkeypatch.setattr(plots, "_save", capture)
    with plots.figure_formats("png"):
        yield figures


def _lines(ax):
    """(label, x, y) of the axes' data lines (axvline/axhline excluded: 2-point transforms)."""
    return {ln.get_label(): (np.asarray(ln.get_xdata(), float), np.asarray(ln.get_ydata(), float))
            for ln in ax.get_lines()}


def test_confusion_matrix_is_sklearns(drawn, tmp_path, rng):
    y_true = rng.integers(0, 4, 60)
    y_pred = np.where(rng.random(60) < 0.6, y_true, rng.integers(0, 4, 60))
    y_pred[:3] = 3  # an asymmetric matrix: swapped axes would show
    plots.confusion_matrix(y_true, y_pred, class_names=list("abcd"), path=tmp_path / "cm")
    C = sk_confusion_matrix(y_true, y_pred, labels=range(4))  # rows true, columns predicted
    assert not np.array_equal(C, C.T)
    (fig,) = drawn
    ax = fig.axes[0]
    np.testing.assert_array_equal(ax.images[0].get_array(), C)
    texts = {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_text()
             for t in ax.texts}  # (row, column) → the count printed there
    assert texts == {(i, j): str(C[i, j]) for i in range(4) for j in range(4)}
    assert ax.get_xlabel() == "predicted class" and ax.get_ylabel() == "true class"
    assert f"accuracy {np.trace(C) / C.sum():.1%}, n = 60" in ax.get_title()

    plots.confusion_matrix(y_true, y_pred, normalize=True, path=tmp_path / "cmn")
    shown = drawn[1].axes[0].images[0].get_array()
    np.testing.assert_allclose(shown, C / C.sum(axis=1, keepdims=True), rtol=1e-12)


def test_decision_regions_show_the_predictions_on_the_grid(drawn, tmp_path, rng):
    X = rng.uniform(-1, 1, size=(40, 2))
    W = np.array([[2.0, -1.0], [-0.5, 1.5], [0.3, 0.2]])  # not symmetric in x₁, x₂

    def predict(P):
        return (P @ W.T).argmax(axis=1)

    y = predict(X)
    y[:4] = (y[:4] + 1) % 3  # four points the classifier gets wrong
    limits = ((-1.5, 1.0), (-1.0, 2.0))
    res = 31
    plots.decision_regions(predict, X, y, resolution=res, limits=limits, path=tmp_path / "dr")
    (fig,) = drawn
    ax = fig.axes[0]
    image = ax.images[0]
    gx, gy = np.linspace(*limits[0], res), np.linspace(*limits[1], res)
    expected = np.array([[predict(np.array([[a, b]]))[0] for a in gx] for b in gy])
    np.testing.assert_array_equal(image.get_array(), expected)  # row = x₂, column = x₁
    assert image.origin == "lower" and tuple(image.get_extent()) == (-1.5, 1.0, -1.0, 2.0)
    circled = [c for c in ax.collections if c.get_label().startswith("misclassified")]
    assert circled[0].get_label() == "misclassified (4 of 40)"
    np.testing.assert_array_equal(circled[0].get_offsets(), X[:4])
    points = np.concatenate([c.get_offsets() for c in ax.collections
                             if c.get_label().startswith("class")])
    assert sorted(map(tuple, points)) == sorted(map(tuple, X))  # every point, once


def test_training_curves_are_the_history(drawn, tmp_path):
    epochs = np.arange(1, 7)
    train = [1.2, 0.8, 0.6, 0.5, 0.45, 0.4]
    dev = [1.3, np.nan, 0.7, 0.65, np.nan, 0.66]
    acc_tr, acc_dv = [0.5, 0.6, 0.7, 0.8, 0.85, 0.9], [0.4, 0.5, 0.6, 0.7, 0.72, 0.71]
    plots.training_curves(epochs, train, dev, train_metric=acc_tr, dev_metric=acc_dv,
                          best_epoch=4, path=tmp_path / "tc")
    (fig,) = drawn
    loss, metric = fig.axes[:2]
    lines = _lines(loss)
    np.testing.assert_array_equal(lines["train"][0], epochs)
    np.testing.assert_array_equal(lines["train"][1], train)
    np.testing.assert_array_equal(lines["dev"][0], [1, 3, 4, 6])  # NaN epochs skipped
    np.testing.assert_array_equal(lines["dev"][1], [1.3, 0.7, 0.65, 0.66])
    assert lines["best epoch (4)"][0][0] == 4
    m = _lines(metric)
    np.testing.assert_array_equal(m["train"][1], acc_tr)
    np.testing.assert_array_equal(m["dev"][1], acc_dv)


def test_schedule_norms_and_cost_curves(drawn, tmp_path):
    lrs = [0.1, 0.1, 0.05, 0.025, 0.0125]
    plots.learning_rate_schedule(lrs, label="step", path=tmp_path / "lr")
    (x, y), = _lines(drawn[0].axes[0]).values()
    np.testing.assert_array_equal(x, np.arange(1, 6))
    np.testing.assert_array_equal(y, lrs)

    norms = {"0.weight": [1.0, 0.5, 0.25], "2.weight": [2.0, 0.0, 1.0]}
    plots.gradient_norms(norms, path=tmp_path / "gn")
    lines = _lines(drawn[1].axes[0])
    np.testing.assert_array_equal(lines["0.weight"][1], norms["0.weight"])
    np.testing.assert_array_equal(lines["2.weight"][0], [1, 3])  # 0 cannot be drawn on log y
    np.testing.assert_array_equal(lines["2.weight"][1], [2.0, 1.0])

    plots.cost_curve([4.0, 2.0, 1.0, 0.5], path=tmp_path / "cost")
    (x, y), = _lines(drawn[2].axes[0]).values()
    np.testing.assert_array_equal(y, [4.0, 2.0, 1.0, 0.5])

    plots.error_curves([1, 2, 4, 8], [0.4, 0.2, 0.1, 0.05], [0.5, 0.3, 0.35, 0.4],
                       xlabel="width", title="t", path=tmp_path / "err")
    lines = _lines(drawn[3].axes[0])
    np.testing.assert_array_equal(lines["train"][1], [0.4, 0.2, 0.1, 0.05])
    np.testing.assert_array_equal(lines["dev"][1], [0.5, 0.3, 0.35, 0.4])
    assert lines["lowest dev error (2)"][0][0] == 2  # argmin of the dev error

    plots.layer_gradient_norms({"deep": [1e-3, 1e-2, 1e-1]}, path=tmp_path / "lgn")
    x, y = _lines(drawn[4].axes[0])["deep"]
    np.testing.assert_array_equal(x, [1, 2, 3])
    np.testing.assert_array_equal(y, [1e-3, 1e-2, 1e-1])


def test_lr_finder_marks_the_suggestion(drawn, tmp_path):
    lrs = np.logspace(-5, 0, 11)
    raw = np.array([2.3, 2.3, 2.2, 2.0, 1.6, 1.1, 0.8, 0.7, 0.9, 1.8, 4.0])
    smoothed = raw * 0.9 + 0.1
    plots.lr_finder(lrs, raw, smoothed, suggestion=1.1e-3, lr_min=lrs[7],
                    path=tmp_path / "lrf")
    lines = _lines(drawn[0].axes[0])
    np.testing.assert_array_equal(lines["loss per step"][1], raw)
    np.testing.assert_array_equal(lines["smoothed loss"][1], smoothed)
    assert lines["suggested η = 0.0011"][0][0] == 1.1e-3
    # the dot sits on the smoothed curve at the grid rate nearest the suggestion (1e-3)
    dots = [v for k, v in lines.items() if k.startswith("_")]
    assert any(d[0][0] == lrs[4] and d[1][0] == smoothed[4] for d in dots)


def test_predicted_vs_actual_points_and_title(drawn, tmp_path, rng):
    t = rng.normal(10, 3, 50)
    p = t + rng.normal(0, 1, 50)
    plots.predicted_vs_actual(t, p, target_name="price", path=tmp_path / "pva")
    ax = drawn[0].axes[0]
    (pts,) = ax.collections
    np.testing.assert_array_equal(pts.get_offsets(), np.column_stack([t, p]))
    rmse = np.sqrt(mean_squared_error(t, p))
    assert f"RMSE {rmse:.4g}, R² {r2_score(t, p):.3f}" in ax.get_title()
    assert ax.get_xlabel() == "actual price" and ax.get_ylabel() == "predicted price"


def test_activation_curves_are_the_functions_and_their_derivatives(drawn, tmp_path):
    plots.activations(("sigmoid", "tanh", "relu"), points=41, path=tmp_path / "act")
    axes = drawn[0].axes
    z = np.linspace(-5, 5, 41)
    s = 1 / (1 + np.exp(-z))
    closed = {  # g and g′ by hand: σ′ = σ(1 − σ), tanh′ = 1 − tanh², relu′ = [z > 0]
        "sigmoid": (s, s * (1 - s)),
        "tanh": (np.tanh(z), 1 - np.tanh(z) ** 2),
        "relu": (np.maximum(z, 0), (z > 0).astype(float)),
    }
    for ax, (name, (g, dg)) in zip(axes, closed.items()):
        assert ax.get_title().startswith(name)
        lines = _lines(ax)
        np.testing.assert_allclose(lines["$g(z)$"][1], g, rtol=1e-12, atol=1e-15)
        drawn_dg = lines["$g'(z)$ (autodiff)"][1]
        ok = np.isfinite(drawn_dg)  # the jump of relu′ at 0 is a gap
        assert ok.sum() >= 40
        np.testing.assert_allclose(drawn_dg[ok], dg[ok], rtol=1e-12, atol=1e-15)


def test_tangent_line_and_line_plot(drawn, tmp_path):
    plots.tangent_line(lambda x: x.sin() * x, 1.0, path=tmp_path / "tan")
    lines = list(drawn[0].axes[0].get_lines())
    x = np.linspace(-2.0, 4.0, 601)
    np.testing.assert_allclose(lines[0].get_ydata(), np.sin(x) * x, rtol=1e-12, atol=1e-15)
    slope = np.sin(1.0) + np.cos(1.0)  # (x sin x)′ = sin x + x cos x at x = 1
    np.testing.assert_allclose(lines[1].get_ydata(), np.sin(1.0) + slope * (x - 1.0),
                               rtol=1e-12, atol=1e-12)
    assert f"{slope:.3g}" in lines[1].get_label()

    curves = {"a": ([1, 2, 3], [3.0, 2.0, 1.5]), "b": ([1, 2], [0.5, 0.25])}
    plots.line_plot(curves, xlabel="x", ylabel="y", title="t", hlines={"floor": 0.1},
                    path=tmp_path / "lines")
    lines = _lines(drawn[1].axes[0])
    for name, (xs, ys) in curves.items():
        np.testing.assert_array_equal(lines[name][0], xs)
        np.testing.assert_array_equal(lines[name][1], ys)
    assert lines["floor"][1][0] == 0.1


def test_sigmoid_family_is_the_closed_form(drawn, tmp_path):
    plots.sigmoid_family((0.5, 2.0, 20.0), (-3.0, 0.0, 1.5), x_range=(-4.0, 4.0),
                         path=tmp_path / "sig")
    slopes, shifts = drawn[0].axes[:2]
    x = np.linspace(-4.0, 4.0, 601)

    def sigma(z):  # atol below: the figure's ½(1 + tanh(z/2)) rounds tails < 1e-16 to 0
        return 1.0 / (1.0 + np.exp(-z))  # exp(80) at most here: no overflow

    for a in (0.5, 2.0, 20.0):
        xs, ys = _lines(slopes)[f"$a = {a:g}$"]
        np.testing.assert_array_equal(xs, x)
        np.testing.assert_allclose(ys, sigma(a * x), rtol=1e-12, atol=1e-15)
    for b, step in ((-3.0, 3), (0.0, 0), (1.5, -1.5)):
        xs, ys = _lines(shifts)[f"$b = {b:g}$ (step at $x = {step:g}$)"]
        np.testing.assert_allclose(ys, sigma(x + b), rtol=1e-12, atol=1e-15)
        # σ crosses ½ at x = −b: the step sits where its label says
        crossing = np.interp(0.5, ys, xs)
        assert abs(crossing - step) < 1e-3


def test_finite_difference_error_is_the_v_in_closed_form(drawn, tmp_path):
    # f(x) = x³ at x = 1 with h = 2⁻ᵏ, k ≤ 17: every difference is exact in float64 —
    # forward ((1 + h)³ − 1)/h = 3 + 3h + h², error 3h + h²;
    # central ((1 + h)³ − (1 − h)³)/(2h) = 3 + h², error h²
    hs = 2.0 ** -np.arange(1, 18)
    plots.finite_difference_error(lambda x: x**3, lambda x: 3 * x**2, 1.0, hs=hs,
                                  label="$x^3$", path=tmp_path / "fd")
    ax = drawn[0].axes[0]
    lines = _lines(ax)
    forward = lines[f"forward difference (best h ≈ {hs[-1]:.0e})"]
    central = lines[f"central difference (best h ≈ {hs[-1]:.0e})"]
    for xs, _ in (forward, central):
        np.testing.assert_array_equal(xs, hs)
    np.testing.assert_array_equal(forward[1], 3 * hs + hs**2)
    np.testing.assert_array_equal(central[1], hs**2)
    # references: truncation |f′(x)|·hᵖ (p = 1, 2) and round-off ε|f(x)|/h
    np.testing.assert_allclose(lines["truncation ∝ $h^1$"][1], 3 * hs, rtol=1e-15)
    np.testing.assert_allclose(lines["truncation ∝ $h^2$"][1], 3 * hs**2, rtol=1e-15)
    eps = np.finfo(np.float64).eps
    np.testing.assert_allclose(lines[r"round-off ≈ $\varepsilon\,|f(x)|/h$"][1], eps / hs,
                               rtol=1e-15)
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert "$x^3$ at $x = 1$" in ax.get_title()

    # f(x) = x² at 3: the central difference is exact (error 0), drawn at ε·10⁻³, the
    # forward one errs by h ((3 + h)² − 9)/h = 6 + h, smallest at the smallest step
    plots.finite_difference_error(lambda x: x * x, lambda x: 2 * x, 3.0, hs=hs[:12],
                                  path=tmp_path / "fd2")
    lines = _lines(drawn[1].axes[0])
    np.testing.assert_array_equal(lines[f"forward difference (best h ≈ {hs[11]:.0e})"][1],
                                  hs[:12])
    central = [v for k, v in lines.items() if k.startswith("central")]
    np.testing.assert_array_equal(central[0][1], np.full(12, eps * 1e-3))


def test_optimizer_trajectories_are_the_iterates_over_f(drawn, tmp_path):
    def f(x, y):
        return (x - 0.5) ** 2 + 4.0 * (y + 0.25) ** 2  # not symmetric in x and y

    gd = np.array([[-1.5, 1.5], [-1.0, 0.9], [-0.4, 0.3], [0.1, -0.1], [0.4, -0.2]])
    adam = np.array([[-1.5, 1.5], [-0.5, 0.5], [0.5, -0.25]])  # two steps: stopped early
    plots.optimizer_trajectories(f, {"GD": gd, "Adam": adam}, limits=((-2, 2), (-1, 2)),
                                 minimum=(0.5, -0.25), log_levels=False, mark_every=2,
                                 path=tmp_path / "traj")
    ax = drawn[0].axes[0]
    lines = _lines(ax)
    for label, p in (("GD", gd), ("Adam (stopped after 2 steps)", adam)):
        np.testing.assert_array_equal(lines[label][0], p[:, 0])  # x = θ₁, y = θ₂
        np.testing.assert_array_equal(lines[label][1], p[:, 1])
    last = {(x[0], y[0]) for k, (x, y) in lines.items() if k.startswith("_") and len(x) == 1}
    assert {tuple(gd[-1]), tuple(adam[-1])} <= last  # the large dots: last iterates
    np.testing.assert_array_equal(np.ravel(lines["start"]), [-1.5, 1.5])
    np.testing.assert_array_equal(np.ravel(lines["minimum"]), [0.5, -0.25])
    assert ax.get_xlim() == (-2, 2) and ax.get_ylim() == (-1, 2)
    assert ax.get_legend().get_title().get_text().startswith("paths (small dots every 2 ")
    # the contour lines are level sets of f: each vertex v of the level-c line has
    # f(v) ≈ c (linear interpolation on a 400 × 400 grid: error ≲ (4/400)²·8/8 ≈ 1e-4)
    (lines_cs,) = [c for c in ax.collections if hasattr(c, "levels") and not c.filled]
    checked = 0
    for level, path in zip(lines_cs.levels, lines_cs.get_paths()):
        v = path.vertices
        if len(v):
            np.testing.assert_allclose(f(v[:, 0], v[:, 1]), level, atol=5e-4)
            checked += 1
    assert checked >= 10

    # panels: one per optimiser, its own path in colour, the others in grey
    plots.optimizer_trajectories(f, {"GD": gd, "Adam": adam}, limits=((-2, 2), (-1, 2)),
                                 panels=True, path=tmp_path / "panels")
    shown = [ax for ax in drawn[1].axes if ax.get_visible() and ax.get_title()]
    assert [ax.get_title() for ax in shown] == ["GD", "Adam"]
    for ax, mine, other in zip(shown, (gd, adam), (adam, gd)):
        by_data = {ln.get_label(): np.column_stack([ln.get_xdata(), ln.get_ydata()])
                   for ln in ax.get_lines()}
        own = [k for k in by_data if k.startswith(ax.get_title())]
        np.testing.assert_array_equal(by_data[own[0]], mine)
        greys = [np.column_stack([ln.get_xdata(), ln.get_ydata()]) for ln in ax.get_lines()
                 if ln.get_color() == "0.6"]
        assert len(greys) == 1 and np.array_equal(greys[0], other)


def test_function_fits_histograms_and_matrices_show_their_data(drawn, tmp_path, rng):
    x = np.linspace(0, 1, 30)
    fits = {"w=2": 0.5 * x, "w=8": np.sin(6 * x) + 0.1}
    xt = rng.random(12)
    plots.function_fits(x, np.sin(6 * x), fits, x_train=xt, y_train=np.sin(6 * xt),
                        path=tmp_path / "fits")
    ax = drawn[0].axes[0]
    lines = _lines(ax)
    np.testing.assert_array_equal(lines["target $f(x)$"][1], np.sin(6 * x))
    for name, values in fits.items():
        np.testing.assert_array_equal(lines[name][0], x)
        np.testing.assert_array_equal(lines[name][1], values)
    (pts,) = ax.collections
    np.testing.assert_array_equal(pts.get_offsets(), np.column_stack([xt, np.sin(6 * xt)]))

    layers = [rng.normal(size=400), rng.uniform(-1, 1, 400)]
    plots.histograms({"He": layers}, xlabel="a", title="t", bins=10, range_=(-3, 3),
                     path=tmp_path / "hist")
    ax = drawn[1].axes[0]
    edges = np.linspace(-3, 3, 11)
    ridges = [ln for ln in ax.get_lines() if len(ln.get_xdata()) > 2]
    for j, (values, line) in enumerate(zip(layers, ridges)):
        counts, _ = np.histogram(values, bins=edges)  # each bar scaled to the peak, × 0.92
        np.testing.assert_allclose(line.get_ydata(), j + 0.92 * np.repeat(counts, 2)
                                   / counts.max(), rtol=1e-12)
        np.testing.assert_array_equal(line.get_xdata(), np.repeat(edges, 2)[1:-1])

    W = rng.normal(size=(5, 3))
    plots.matrices({"W": W, "zero": np.zeros((2, 2))}, title="m", path=tmp_path / "mat")
    shown = [ax for ax in drawn[2].axes if ax.images]
    np.testing.assert_array_equal(shown[0].images[0].get_array(), W)  # row i = unit i
    assert shown[0].images[0].get_clim() == (-np.abs(W).max(), np.abs(W).max())
    assert shown[1].images[0].get_clim() == (-1.0, 1.0)  # all zero: a readable bar


def test_demo_figures_of_their_own_show_their_results(drawn, tmp_path, rng):
    """The two demo figures drawn outside plots' functions: the decomposition's fits and
    the spatial prior's bars."""
    from types import SimpleNamespace

    from chainrule.demos import decomposition, spatial_prior

    grid = np.linspace(-1, 1, 9)
    results = {}
    for degree in (1, 3):
        predictions = rng.normal(size=(5, 9))
        results[degree] = SimpleNamespace(
            predictions=predictions, target=np.sin(np.pi * grid),
            mean_prediction=predictions.mean(axis=0), bias2=0.1 * degree, variance=0.02)
    decomposition._fits_figure(results, grid, 3, tmp_path / "fits")
    for ax, (degree, r) in zip(drawn[0].axes, results.items()):
        assert ax.get_title() == f"degree {degree}: bias² {r.bias2:.3f}, variance 0.020"
        lines = [ln for ln in ax.get_lines() if len(ln.get_xdata())]
        curves = [ln.get_ydata() for ln in lines if ln.get_color() == "#56B4E9"]
        np.testing.assert_array_equal(curves, r.predictions[:3])  # the first `shown` fits
        by_label = {ln.get_label(): ln for ln in lines}
        np.testing.assert_array_equal(by_label["mean fit $\\bar h(x)$"].get_ydata(),
                                      r.mean_prediction)
        np.testing.assert_array_equal(by_label["$f(x) = \\sin \\pi x$"].get_ydata(), r.target)

    accs = {("mlp", "mnist1d"): [0.60, 0.66, 0.62], ("mlp", "mnist1d_shuffled"): [0.61, 0.64],
            ("cnn", "mnist1d"): [0.90, 0.94, 0.91], ("cnn", "mnist1d_shuffled"): [0.5, 0.58]}
    # (means off the middle of [min, max] where there are three runs: bars not symmetric)
    spatial_prior._figure(accs, tmp_path / "prior")
    ax = drawn[1].axes[0]
    bars = {c.get_label(): c for c in ax.containers if hasattr(c, "patches")}
    assert set(bars) == {"MLP", "CNN"}
    for kind, container in bars.items():
        values = [np.array(accs[(kind.lower(), ds)]) for ds in ("mnist1d", "mnist1d_shuffled")]
        heights = [p.get_height() for p in container.patches]
        np.testing.assert_allclose(heights, [v.mean() for v in values], rtol=1e-12)
        # the error bar of a bar spans the runs' [min, max]
        (segments,) = [c.get_segments() for c in container.errorbar.lines[2]]
        np.testing.assert_allclose([(s[0][1], s[1][1]) for s in segments],
                                   [(v.min(), v.max()) for v in values], rtol=1e-12)
        for p, v in zip(container.patches, values):  # the mean printed above the bar
            x = p.get_x() + p.get_width() / 2
            assert any(t.get_text() == f"{v.mean():.2f}" and
                       abs(t.get_position()[0] - x) < 1e-12 for t in ax.texts)
