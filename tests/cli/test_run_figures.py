"""The figures of `chainrule train` show the run's own numbers: the curves are history.csv,
the confusion matrix is scikit-learn's on the saved model's test predictions, and the
decision regions are the saved model's predictions on the drawn grid."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix as sk_confusion_matrix
from typer.testing import CliRunner

import chainrule as cr
from chainrule import plots
from chainrule.cli import app, load_run, prepare_data

runner = CliRunner()


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A 6-epoch moons run; the figures it drew, by file stem, kept open for reading."""
    out = tmp_path_factory.mktemp("runs")
    figures = {}
    save = plots._save

    def capture(fig, path):
        figures[Path(path).name] = fig
        return save(fig, path)

    mp = pytest.MonkeyPatch()
    mp.setattr(plots, "_save", capture)
    try:
        result = runner.invoke(app, ["train", "--no-progress", "--data", "moons", "--epochs",
                                     "6", "--name", "m", "--out", str(out)])
    finally:
        mp.undo()
    assert result.exit_code == 0, result.output
    folder = out / "m"
    with (folder / "history.csv").open() as fh:
        history = {k: np.array([float(r[k]) for r in rows]) for rows in [list(csv.DictReader(fh))]
                   for k in rows[0]}
    return folder, figures, history


def _lines(ax):
    return {ln.get_label(): np.asarray(ln.get_ydata(), float) for ln in ax.get_lines()}


def _predict(folder, X):
    model = cr.load(folder / "model.safetensors")
    model.eval()
    return model(cr.tensor(np.asarray(X, np.float32))).numpy().argmax(axis=1)


def test_curves_are_the_history(run):
    _, figures, h = run
    loss_ax, metric_ax = figures["curves"].axes[:2]
    lines = _lines(loss_ax)
    np.testing.assert_allclose(lines["train"], h["train_loss"], rtol=1e-12)
    np.testing.assert_allclose(lines["dev"], h["dev_loss"], rtol=1e-12)
    lines = _lines(metric_ax)
    np.testing.assert_allclose(lines["train"], h["train_accuracy"], rtol=1e-12)
    np.testing.assert_allclose(lines["dev"], h["dev_accuracy"], rtol=1e-12)
    norms = sorted(tuple(v) for v in _lines(figures["gradient_norms"].axes[0]).values())
    expected = sorted(tuple(h[k]) for k in h if k.startswith("grad_norm:"))
    np.testing.assert_allclose(norms, expected, rtol=1e-12)


def test_confusion_matrix_is_the_saved_models_on_the_test_split(run):
    # (which axis is which is checked on an asymmetric matrix in test_plot_data.py)
    folder, figures, _ = run
    X, y = prepare_data(load_run(folder).config).test
    C = sk_confusion_matrix(y, _predict(folder, X), labels=[0, 1])
    np.testing.assert_array_equal(figures["confusion_matrix"].axes[0].images[0].get_array(), C)


def test_decision_regions_are_the_saved_models_predictions(run):
    folder, figures, _ = run
    image = figures["decision_regions"].axes[0].images[0]
    labels = np.asarray(image.get_array())
    x0, x1, y0, y1 = image.get_extent()
    gx, gy = np.linspace(x0, x1, labels.shape[1]), np.linspace(y0, y1, labels.shape[0])
    xx, yy = np.meshgrid(gx, gy)
    expected = _predict(folder, np.column_stack([xx.ravel(), yy.ravel()]))
    assert len(np.unique(expected)) == 2  # both classes appear on the grid
    np.testing.assert_array_equal(labels, expected.reshape(xx.shape))
