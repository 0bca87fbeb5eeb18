"""Figures: training curves, decision regions, gradient norms and the textbook pictures.

Every function takes plain NumPy arrays (or Python sequences / callables on arrays), draws
one figure with matplotlib's non-interactive ``Agg`` backend, saves it as PNG *and* SVG and
returns the two paths as a :class:`FigurePaths`. ``path`` names the file without or with a
suffix (``runs/a/loss`` or ``runs/a/loss.png`` both give ``loss.png`` and ``loss.svg``);
missing folders are created.

The pictures of functions (:func:`activations`, :func:`tangent_line`) take their
derivatives from chainrule's own reverse-mode autodiff, so the figure is also a check of it.

>>> import numpy as np, tempfile, os
>>> from chainrule import plots
>>> out = plots.training_curves([1, 2, 3], [1.0, 0.5, 0.3], [1.1, 0.7, 0.6],
...                             path=os.path.join(tempfile.mkdtemp(), "loss"))
>>> out.png.name, out.svg.name
('loss.png', 'loss.svg')
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap, LogNorm
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullLocator

from .train.metrics import confusion_matrix as _confusion

__all__ = [
    "ACTIVATIONS",
    "FigurePaths",
    "activations",
    "confusion_matrix",
    "cost_curve",
    "custom_figure",
    "decision_regions",
    "error_curves",
    "figure_formats",
    "function_fits",
    "gradient_norms",
    "histograms",
    "layer_gradient_norms",
    "learning_rate_schedule",
    "line_plot",
    "lr_finder",
    "matrices",
    "optimizer_trajectories",
    "predicted_vs_actual",
    "sigmoid_family",
    "tangent_line",
    "training_curves",
]

PathLike = str | os.PathLike

#: Colours of the classes in decision-region plots (colour-blind safe, Okabe–Ito).
CLASS_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00",
                 "#F0E442", "#000000", "#999999", "#882255")
#: Marker of the i-th curve in figures with several (distinct in black and white too).
MARKERS = ("o", "^", "s", "D", "v", "P", "X", "*", "<", ">")
#: Line style of the i-th curve in figures with several.
LINESTYLES = ("-", "--", "-.", ":", (0, (5, 1)), (0, (3, 1, 1, 1)))

_STYLE = {
    "figure.dpi": 100,
    "savefig.dpi": 130,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "legend.fontsize": 9,
    "legend.framealpha": 0.85,
}


def _styled(fn: Callable[..., FigurePaths]) -> Callable[..., FigurePaths]:
    """Run a figure function inside chainrule's matplotlib style (no global rc changes)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> FigurePaths:
        with plt.rc_context(_STYLE):
            return fn(*args, **kwargs)

    return wrapper


class FigurePaths(NamedTuple):
    """Where a figure was written: its PNG and its SVG (None for a format not written,
    see :func:`figure_formats`)."""

    png: Path | None
    svg: Path | None


FORMATS = ("png", "svg")
_FORMATS: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar(
    "chainrule_figure_formats", default=FORMATS)


@contextlib.contextmanager
def figure_formats(formats: str | Sequence[str]) -> Iterator[tuple[str, ...]]:
    """Within the block, figures are written in these formats only (default: PNG and SVG).

    Args:
        formats: ``"png"``, ``"svg"``, or several (``"png,svg"`` or ``["png", "svg"]``).

    Raises:
        ValueError: an unknown format, or none.

    >>> import tempfile, os
    >>> with figure_formats("png"):
    ...     out = training_curves([1, 2], [1.0, 0.5], path=os.path.join(tempfile.mkdtemp(), "a"))
    >>> out.png.name, out.svg
    ('a.png', None)
    """
    items = formats.split(",") if isinstance(formats, str) else list(formats)
    chosen = tuple(dict.fromkeys(f.strip().lower().lstrip(".") for f in items if f.strip()))
    bad = [f for f in chosen if f not in FORMATS]
    if bad or not chosen:
        raise ValueError(f"formats: expected png, svg or both (got {formats!r})")
    token = _FORMATS.set(chosen)
    try:
        yield chosen
    finally:
        _FORMATS.reset(token)


def _base(path: PathLike) -> Path:
    p = Path(path)
    if p.suffix.lower() in (".png", ".svg", ".pdf"):
        p = p.with_suffix("")
    return p


def _save(fig: Any, path: PathLike) -> FigurePaths:
    """Save ``fig`` as ``<path>.png`` and ``<path>.svg`` (the formats of
    :func:`figure_formats`), close it, return the paths."""
    base = _base(path)
    base.parent.mkdir(parents=True, exist_ok=True)
    paths = {}
    try:
        for fmt in _FORMATS.get():
            paths[fmt] = base.with_name(f"{base.name}.{fmt}")
            fig.savefig(paths[fmt], bbox_inches="tight")
    finally:
        plt.close(fig)
    return FigurePaths(paths.get("png"), paths.get("svg"))


def _figure(ncols: int = 1, nrows: int = 1, size: tuple[float, float] = (6.4, 4.4),
            **kw: Any) -> tuple[Any, Any]:
    fig, axes = plt.subplots(nrows, ncols, figsize=size, squeeze=False, **kw)
    for ax in axes.flat:
        _style_axes(ax)
    return fig, axes


def _style_axes(ax: Any) -> None:
    ax.grid(True, alpha=0.3)
    ax.spines["top"].set_visible(False)
    ax.spines["right"].set_visible(False)


def _boxed(ax: Any) -> None:
    """Image axes: no grid, all four spines."""
    ax.grid(False)
    for spine in ax.spines.values():
        spine.set_visible(True)


def _array(x: Any, name: str, ndim: int | None = None) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {arr.shape}")
    return arr


def _check_same_length(**arrays: Any) -> None:
    lengths = {k: len(v) for k, v in arrays.items() if v is not None}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"lengths differ: {lengths}")


def _log_ticks(ax: Any, axis: str = "y") -> None:
    """Plain numbers (0.2, 0.5, 1, 2) instead of 2×10⁻¹ on a log axis spanning < 3 decades."""
    lo, hi = ax.get_ylim() if axis == "y" else ax.get_xlim()
    if lo <= 0 or hi / lo >= 1e3:
        return
    target = ax.yaxis if axis == "y" else ax.xaxis
    fmt = FuncFormatter(lambda v, _: f"{v:g}")
    target.set_major_formatter(fmt)
    if hi / lo > 15:
        target.set_minor_locator(LogLocator(base=10, subs=(2.0, 5.0)))
    target.set_minor_formatter(fmt)


def _thousands(v: float, _pos: Any = None) -> str:
    """Tick label with thousands separators (``200,000``) or ``k``/``M`` suffixes."""
    if abs(v) >= 1e6:
        return f"{v / 1e6:g}M"
    if abs(v) >= 1e4:
        return f"{v / 1e3:g}k"
    return f"{v:g}"


def _positive_range(values: np.ndarray) -> bool:
    """Whether values are all > 0 and span more than a factor 30 (so a log axis helps)."""
    v = values[np.isfinite(values)]
    return v.size > 0 and bool(np.all(v > 0)) and v.max() / v.min() > 30


@_styled
def custom_figure(
    draw: Callable[[Any, Any], Any],
    *,
    path: PathLike,
    ncols: int = 1,
    nrows: int = 1,
    size: tuple[float, float] = (6.4, 4.4),
) -> FigurePaths:
    """A figure of your own, drawn in the style of the others and saved as they are.

    ``draw(fig, axes)`` draws on an ``nrows × ncols`` grid of axes (``axes[i, j]``, always
    2-D); the figure is then written in the formats of :func:`figure_formats` and closed.

    Args:
        draw: called once with the matplotlib figure and its axes.
        path: output file name.
        ncols, nrows: the grid of axes (default one).
        size: figure size in inches (width, height).

    >>> import tempfile, os
    >>> out = custom_figure(lambda fig, axes: axes[0, 0].plot([0, 1], [1, 0]),
    ...                     path=os.path.join(tempfile.mkdtemp(), "line"))
    >>> out.png.name
    'line.png'
    """
    fig, axes = _figure(ncols, nrows, size)
    try:
        draw(fig, axes)
    except BaseException:
        plt.close(fig)
        raise
    return _save(fig, path)


# ------------------------------------------------------------------------ training records


@_styled
def training_curves(
    epochs: Sequence[float],
    train_loss: Sequence[float],
    dev_loss: Sequence[float] | None = None,
    *,
    train_metric: Sequence[float] | None = None,
    dev_metric: Sequence[float] | None = None,
    metric_name: str = "accuracy",
    loss_name: str = "loss",
    best_epoch: float | None = None,
    title: str | None = None,
    path: PathLike,
) -> FigurePaths:
    """Train and dev loss against epoch, with the metric in a second panel when given.

    Args:
        epochs: epoch numbers, shape (E,).
        train_loss, dev_loss: the loss on the training and dev sets per epoch, shape (E,);
            ``NaN`` entries (epochs without a dev evaluation) are skipped.
        train_metric, dev_metric: a metric per epoch (e.g. accuracy), shape (E,).
        metric_name: its name, for the axis label.
        loss_name: the loss's name, for the axis label (e.g. ``"cross-entropy"``).
        best_epoch: draw a dotted vertical line there (e.g. early stopping's best epoch).
        title: figure title.
        path: output file name (``.png`` and ``.svg`` are written).

    Returns:
        The PNG and SVG paths.
    """
    e = _array(epochs, "epochs", 1)
    tl = _array(train_loss, "train_loss", 1)
    dl = None if dev_loss is None else _array(dev_loss, "dev_loss", 1)
    tm = None if train_metric is None else _array(train_metric, "train_metric", 1)
    dm = None if dev_metric is None else _array(dev_metric, "dev_metric", 1)
    _check_same_length(epochs=e, train_loss=tl, dev_loss=dl, train_metric=tm, dev_metric=dm)
    has_metric = (tm is not None and np.isfinite(tm).any()) or (
        dm is not None and np.isfinite(dm).any())
    fig, axes = _figure(2 if has_metric else 1, size=(11.0, 4.2) if has_metric else (6.4, 4.4))
    ax = axes[0, 0]
    marker = "o" if len(e) <= 30 else None
    ax.plot(e, tl, marker=marker, ms=3, label="train", color="#0072B2")
    if dl is not None and np.isfinite(dl).any():
        ok = np.isfinite(dl)
        ax.plot(e[ok], dl[ok], marker=marker, ms=3, label="dev", color="#D55E00")
    if _positive_range(np.concatenate([tl, dl if dl is not None else []])):
        ax.set_yscale("log")
        _log_ticks(ax)
    ax.set_xlabel("epoch")
    ax.set_ylabel(loss_name)
    ax.set_title("Loss")
    if has_metric:
        ax2 = axes[0, 1]
        if tm is not None and np.isfinite(tm).any():
            ok = np.isfinite(tm)
            ax2.plot(e[ok], tm[ok], marker=marker, ms=3, label="train", color="#0072B2")
        if dm is not None and np.isfinite(dm).any():
            ok = np.isfinite(dm)
            ax2.plot(e[ok], dm[ok], marker=marker, ms=3, label="dev", color="#D55E00")
        ax2.set_xlabel("epoch")
        ax2.set_ylabel(metric_name)
        ax2.set_title(metric_name[:1].upper() + metric_name[1:])
    for a in axes.flat:
        if best_epoch is not None:
            a.axvline(best_epoch, color="0.4", ls=":", lw=1.2, label=f"best epoch ({best_epoch:g})")
        a.xaxis.set_major_locator(MaxNLocator(integer=True))
        a.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)


@_styled
def gradient_norms(
    norms: Mapping[str, Sequence[float]],
    *,
    epochs: Sequence[float] | None = None,
    xlabel: str = "epoch",
    title: str = "Gradient norm per layer",
    path: PathLike,
) -> FigurePaths:
    """Per-layer gradient norms ``‖∂L/∂W_l‖₂`` over epochs, on a logarithmic y axis.

    Args:
        norms: layer (parameter) name → its gradient norm per epoch, each of shape (E,).
        epochs: the x values (default ``1 … E``).
        xlabel: label of the x axis.
        title: figure title.
        path: output file name.
    """
    if not norms:
        raise ValueError("gradient_norms: norms is empty")
    fig, axes = _figure(size=(7.2, 4.6))
    ax = axes[0, 0]
    cmap = plt.get_cmap("viridis")
    n = len(norms)
    for i, (name, values) in enumerate(norms.items()):
        v = _array(values, f"norms[{name!r}]", 1)
        x = np.arange(1, len(v) + 1) if epochs is None else _array(epochs, "epochs", 1)
        _check_same_length(epochs=x, values=v)
        ok = np.isfinite(v) & (v > 0)
        ax.plot(x[ok], v[ok], label=name, color=cmap(i / max(n - 1, 1) * 0.9),
                marker="o" if len(v) <= 30 else None, ms=3)
    ax.set_yscale("log")
    _log_ticks(ax)
    if epochs is None:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(r"$\|\partial L/\partial \theta\|_2$ (log scale)")
    ax.set_title(title)
    ax.legend(ncol=2 if n > 6 else 1, fontsize=8)
    fig.tight_layout()
    return _save(fig, path)


@_styled
def learning_rate_schedule(
    lrs: Sequence[float],
    *,
    steps: Sequence[float] | None = None,
    xlabel: str = "epoch",
    title: str = "Learning-rate schedule",
    label: str | None = None,
    path: PathLike,
) -> FigurePaths:
    """The learning rate ``η_t`` against epoch (or step); log y when it spans > 30×.

    Args:
        lrs: learning rate per epoch/step, shape (T,).
        steps: x values (default ``1 … T``).
        xlabel: x-axis label.
        title: figure title.
        label: legend entry (for example the schedule's name).
        path: output file name.
    """
    y = _array(lrs, "lrs", 1)
    x = np.arange(1, len(y) + 1) if steps is None else _array(steps, "steps", 1)
    _check_same_length(steps=x, lrs=y)
    fig, axes = _figure()
    ax = axes[0, 0]
    ax.step(x, y, where="post", color="#009E73", lw=2, label=label)
    if _positive_range(y):
        ax.set_yscale("log")
        _log_ticks(ax)
    if steps is None:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(r"learning rate $\eta$")
    ax.set_title(title)
    if label:
        ax.legend()
    fig.tight_layout()
    return _save(fig, path)


# ---------------------------------------------------------------------- classification


def _grid(X: np.ndarray, resolution: int, limits: Any, pad: float) -> tuple[Any, ...]:
    if limits is None:
        lo, hi = X.min(axis=0), X.max(axis=0)
        span = np.where(hi - lo > 0, hi - lo, 1.0)
        lo, hi = lo - pad * span, hi + pad * span
        limits = ((lo[0], hi[0]), (lo[1], hi[1]))
    (x0, x1), (y0, y1) = limits
    gx = np.linspace(x0, x1, resolution)
    gy = np.linspace(y0, y1, resolution)
    xx, yy = np.meshgrid(gx, gy)
    return xx, yy, limits


def _labels_of(out: Any, size: int) -> np.ndarray:
    out = np.asarray(out)
    if out.ndim == 2 and out.shape[1] == 1:
        labels = (out[:, 0] > 0.5).astype(np.int64)
    elif out.ndim == 2:
        labels = out.argmax(axis=1)
    else:
        labels = out.astype(np.int64).reshape(-1)
    if labels.size != size:
        raise ValueError(f"predict returned {labels.size} labels for {size} grid points")
    return labels


@_styled
def decision_regions(
    predict: Callable[[np.ndarray], np.ndarray] | Mapping[str, Callable[[np.ndarray], Any]],
    X: Any,
    y: Any,
    *,
    resolution: int = 501,
    limits: tuple[tuple[float, float], tuple[float, float]] | None = None,
    class_names: Sequence[str] | None = None,
    feature_names: Sequence[str] = ("$x_1$", "$x_2$"),
    title: str = "Decision regions",
    split: Sequence[str] | None = None,
    mark_errors: bool = True,
    path: PathLike,
) -> FigurePaths:
    """The class a 2-D classifier predicts at every point of a grid, with the data on top.

    Args:
        predict: maps points of shape (m, 2) to class indices (m,), or to class scores /
            probabilities (m, K) of which the arg-max is taken; a single score column
            (m, 1) is read as ``P(class 1)`` and thresholded at ½. A mapping
            ``panel title → predict`` draws several classifiers side by side.
        X: the data points, shape (n, 2).
        y: their integer classes, shape (n,).
        resolution: grid points per axis (the grid is ``resolution × resolution``).
        limits: ``((x_min, x_max), (y_min, y_max))``; default: the data's range plus 10 %.
        class_names: legend names per class (default ``class 0``, ``class 1``, …).
        feature_names: axis labels.
        title: figure title.
        split: the split of each point (``"train"``, ``"dev"`` or ``"test"``), shape (n,):
            train points are drawn filled, dev points half-size, test points hollow.
        mark_errors: circle in red each point its panel's classifier gets wrong.
        path: output file name.
    """
    X = _array(X, "X", 2)
    if X.shape[1] != 2:
        raise ValueError(f"decision_regions needs 2-D points, got X of shape {X.shape}")
    y = np.asarray(y).astype(np.int64).reshape(-1)
    _check_same_length(X=X, y=y)
    parts = np.full(len(y), "train") if split is None else np.asarray(split, dtype=str)
    _check_same_length(X=X, split=parts)
    bad_parts = sorted(set(parts) - {"train", "dev", "test"})
    if bad_parts:
        raise ValueError(f"split entries must be train, dev or test, got {bad_parts}")
    if resolution < 2:
        raise ValueError(f"resolution must be >= 2, got {resolution}")
    panels = dict(predict) if isinstance(predict, Mapping) else {title: predict}
    if not panels:
        raise ValueError("decision_regions: no classifier given")
    xx, yy, limits = _grid(X, resolution, limits, 0.1)
    grid = np.column_stack([xx.ravel(), yy.ravel()])
    all_labels = {name: _labels_of(fn(grid), xx.size) for name, fn in panels.items()}
    wrong = {name: _labels_of(fn(X), len(X)) != y for name, fn in panels.items()}
    k = int(max(max(lab.max(initial=0) for lab in all_labels.values()), y.max(initial=0)) + 1)
    names = list(class_names) if class_names is not None else [f"class {i}" for i in range(k)]
    if len(names) < k:
        names += [f"class {i}" for i in range(len(names), k)]
    colours = [CLASS_COLOURS[i % len(CLASS_COLOURS)] for i in range(k)]
    n = len(panels)
    fig, axes = _figure(n, size=(6.0, 5.4) if n == 1 else (4.6 * n, 4.9))
    for ax, (name, labels) in zip(axes.flat, all_labels.items()):
        _boxed(ax)
        ax.imshow(labels.reshape(xx.shape), origin="lower", cmap=ListedColormap(colours),
                  vmin=-0.5, vmax=k - 0.5, alpha=0.28, interpolation="nearest", aspect="auto",
                  extent=(limits[0][0], limits[0][1], limits[1][0], limits[1][1]))
        if k <= 10:
            ax.contour(xx, yy, labels.reshape(xx.shape), levels=np.arange(k - 1) + 0.5,
                       colors="0.25", linewidths=0.8)
        size = 70 if len(X) <= 50 else 16
        for c in range(k):
            for part in ("train", "dev", "test"):
                m = (y == c) & (parts == part)
                if not m.any():
                    continue
                filled = part != "test"
                ax.scatter(X[m, 0], X[m, 1], s=size if part == "train" else size * 0.6,
                           marker=MARKERS[c % len(MARKERS)],
                           facecolor=colours[c] if filled else "none",
                           edgecolor="black" if filled else colours[c],
                           linewidth=0.7 if filled else 1.4, zorder=3,
                           label=names[c] if part == "train" or split is None else None)
        if mark_errors and wrong[name].any():
            m = wrong[name]
            ax.scatter(X[m, 0], X[m, 1], s=size * 3.2, facecolor="none", edgecolor="#D00000",
                       linewidth=1.3, zorder=4,
                       label=f"misclassified ({int(m.sum())} of {len(m)})" if n == 1
                       else "misclassified")
        ax.set_xlim(*limits[0])
        ax.set_ylim(*limits[1])
        ax.set_xlabel(feature_names[0])
        ax.set_title(name, fontsize=12 if n == 1 else 10)
    axes[0, 0].set_ylabel(feature_names[1])
    if n > 1:
        fig.suptitle(title)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    if split is not None:
        from matplotlib.lines import Line2D

        present = [p for p in ("train", "dev", "test") if (parts == p).any()]
        style = {"train": dict(markerfacecolor="0.5", markeredgecolor="black", ms=8),
                 "dev": dict(markerfacecolor="0.5", markeredgecolor="black", ms=6),
                 "test": dict(markerfacecolor="none", markeredgecolor="0.3", ms=8, mew=1.4)}
        for p in present:
            handles.append(Line2D([], [], ls="none", marker="o", **style[p]))
            labels.append(f"{p} ({int((parts == p).sum())})")
    fig.legend(handles, labels, loc="lower center",
               ncol=min(len(labels), 4), title="data points (shading: predicted class)",
               title_fontsize=8, frameon=False, bbox_to_anchor=(0.5, 0.0))
    fig.tight_layout(rect=(0, 0.1 if n > 1 else 0.09, 1, 1))
    return _save(fig, path)


@_styled
def confusion_matrix(
    y_true: Any,
    y_pred: Any,
    *,
    class_names: Sequence[str] | None = None,
    normalize: bool = False,
    title: str = "Confusion matrix",
    path: PathLike,
) -> FigurePaths:
    """Counts ``C[i, j]`` of samples of true class ``i`` predicted as class ``j``.

    Args:
        y_true, y_pred: integer classes, shape (n,).
        class_names: tick labels (default ``0 … K−1``).
        normalize: show each row as fractions of its true class (recall on the diagonal).
        title: figure title (accuracy is appended).
        path: output file name.
    """
    t = np.asarray(y_true).astype(np.int64).reshape(-1)
    p = np.asarray(y_pred).astype(np.int64).reshape(-1)
    _check_same_length(y_true=t, y_pred=p)
    if t.size == 0:
        raise ValueError("confusion_matrix: no samples")
    k = int(max(t.max(), p.max()) + 1)
    if class_names is not None:
        k = max(k, len(class_names))
    C = _confusion(t, p, k)
    shown = C / np.maximum(C.sum(axis=1, keepdims=True), 1) if normalize else C
    names = [str(c) for c in class_names] if class_names is not None else [str(i) for i in
                                                                            range(k)]
    side = min(2.5 + 0.55 * k, 11.0)
    fig, axes = _figure(size=(side + 1.2, side))
    ax = axes[0, 0]
    _boxed(ax)
    im = ax.imshow(shown, cmap="Blues", vmin=0)
    bar = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04,
                       label="fraction of true class" if normalize else "count")
    if not normalize:
        bar.locator = MaxNLocator(integer=True)
        bar.update_ticks()
    if k <= 20:
        threshold = shown.max() / 2
        for i in range(k):
            for j in range(k):
                txt = f"{shown[i, j]:.2f}" if normalize else str(C[i, j])
                ax.text(j, i, txt, ha="center", va="center", fontsize=8 if k > 10 else 10,
                        color="white" if shown[i, j] > threshold else "black")
    long_names = max(map(len, names)) * k > 40
    ax.set_xticks(range(k), names, rotation=45 if long_names else 0,
                  ha="right" if long_names else "center")
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    accuracy = np.trace(C) / C.sum()
    ax.set_title(f"{title} (accuracy {accuracy:.1%}, n = {C.sum()})")
    fig.tight_layout()
    return _save(fig, path)


@_styled
def lr_finder(
    lrs: Sequence[float],
    losses: Sequence[float],
    smoothed: Sequence[float],
    suggestion: float,
    *,
    lr_min: float | None = None,
    rule: str = "",
    title: str = "Learning-rate range test",
    path: PathLike,
) -> FigurePaths:
    """Loss against learning rate (log x) of a range test, with the suggested rate marked.

    Args:
        lrs: the rate of each step, shape (n,).
        losses: the raw loss of each step, shape (n,) (drawn faintly).
        smoothed: the smoothed loss, shape (n,).
        suggestion: the suggested rate (a vertical line and a dot on the smoothed curve).
        lr_min: the rate at the smoothed loss's minimum (a dotted line), if given.
        rule: how the suggestion was chosen, shown under the title.
        title: figure title.
        path: output file name.
    """
    x = _array(lrs, "lrs", 1)
    raw = _array(losses, "losses", 1)
    sm = _array(smoothed, "smoothed", 1)
    _check_same_length(lrs=x, losses=raw, smoothed=sm)
    fig, axes = _figure(size=(7.0, 4.6))
    ax = axes[0, 0]
    ax.plot(x, raw, color="#0072B2", alpha=0.3, lw=1, label="loss per step")
    ax.plot(x, sm, color="#0072B2", lw=2, label="smoothed loss")
    ax.set_xscale("log")
    k = int(np.argmin(np.abs(np.log(x) - np.log(suggestion))))
    ax.axvline(suggestion, color="#D55E00", ls="--", lw=1.3,
               label=f"suggested η = {suggestion:.2g}")
    ax.plot([x[k]], [sm[k]], "o", color="#D55E00", ms=7)
    if lr_min is not None:
        ax.axvline(lr_min, color="0.4", ls=":", lw=1.2, label=f"minimum at η = {lr_min:.2g}")
    lo = float(min(np.nanmin(sm), np.nanmin(raw)))
    hi = float(np.nanmax(sm[: max(k + 1, 1)]))
    top = max(hi, float(sm[0])) + 0.25 * (max(hi, float(sm[0])) - lo or 1.0)
    ax.set_ylim(lo - 0.1 * (top - lo), top)
    ax.set_xlabel(r"learning rate $\eta$ (log scale)")
    ax.set_ylabel("training loss")
    ax.set_title(title + (f"\n{rule}" if rule else ""), fontsize=10 if rule else None)
    ax.legend(loc="lower left")
    fig.tight_layout()
    return _save(fig, path)


@_styled
def predicted_vs_actual(
    y_true: Any,
    y_pred: Any,
    *,
    target_name: str = "target",
    title: str = "Predicted against actual",
    path: PathLike,
) -> FigurePaths:
    """Each sample's prediction ``ŷᵢ`` against its actual value ``yᵢ``, with the line ``ŷ = y``.

    Points on the diagonal are exact; the vertical distance to it is the error. The title
    gives ``RMSE = √((1/n) Σ (ŷᵢ − yᵢ)²)`` and ``R² = 1 − Σ (y − ŷ)² / Σ (y − ȳ)²``.

    Args:
        y_true, y_pred: actual and predicted values, shape (n,), in the target's units.
        target_name: the target's name (and units) for the axis labels.
        title: figure title.
        path: output file name.
    """
    t = _array(y_true, "y_true").reshape(-1)
    p = _array(y_pred, "y_pred").reshape(-1)
    _check_same_length(y_true=t, y_pred=p)
    if t.size == 0:
        raise ValueError("predicted_vs_actual: no samples")
    fig, axes = _figure(size=(5.6, 5.2))
    ax = axes[0, 0]
    lo, hi = float(min(t.min(), p.min())), float(max(t.max(), p.max()))
    pad = 0.04 * (hi - lo or 1.0)
    ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="0.35", ls="--", lw=1.2,
            label="ŷ = y (exact)")
    ax.scatter(t, p, s=18, alpha=0.7, color="#0072B2", edgecolor="white", lw=0.4,
               label=f"samples (n = {t.size})")
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_ylim(lo - pad, hi + pad)
    ax.set_aspect("equal")
    ax.set_xlabel(f"actual {target_name}")
    ax.set_ylabel(f"predicted {target_name}")
    rmse = float(np.sqrt(np.mean((p - t) ** 2)))
    ss = float(np.sum((t - t.mean()) ** 2))
    r2 = 1 - float(np.sum((t - p) ** 2)) / ss if ss > 0 else float("nan")
    ax.set_title(f"{title}\nRMSE {rmse:.4g}, R² {r2:.3f}")
    ax.legend(loc="upper left")
    fig.tight_layout()
    return _save(fig, path)


# -------------------------------------------------------------------- functions and calculus


def _leaky_relu(x: Any, slope: float = 0.01) -> Any:
    from .tensor import where

    return where((x > 0).numpy(), x, slope * x)


def _elu(x: Any) -> Any:
    from .tensor import where

    # exp only of min(x, 0), so large positive inputs cannot overflow; clip passes gradient 1
    # at 0, so the autodiff derivative at 0 is 1, the limit from both sides
    return where((x > 0).numpy(), x, x.clip(max=0.0).exp() - 1.0)


def _softplus(x: Any) -> Any:
    # log(1 + eˣ) = −log σ(−x): differentiable everywhere (a max/abs split would give the
    # subgradient 0 at x = 0 instead of σ(0) = ½)
    return -((-x).sigmoid().log())


def _gelu(x: Any) -> Any:
    return 0.5 * x * (1.0 + (x * (2.0 ** -0.5)).erf())


def _swish(x: Any) -> Any:
    return x * x.sigmoid()


#: Activation name → (function of a Tensor, equation shown in the legend).
ACTIVATIONS: dict[str, tuple[Callable[[Any], Any], str]] = {
    "sigmoid": (lambda x: x.sigmoid(), r"$\sigma(z)=1/(1+e^{-z})$"),
    "tanh": (lambda x: x.tanh(), r"$\tanh z$"),
    "relu": (lambda x: x.relu(), r"$\max(z, 0)$"),
    "leaky_relu": (_leaky_relu, r"$\max(z, 0.01z)$"),
    "elu": (_elu, r"$z$ if $z>0$ else $e^z-1$"),
    "softplus": (_softplus, r"$\log(1+e^z)$"),
    "gelu": (_gelu, r"$z\,\Phi(z)$"),
    "swish": (_swish, r"$z\,\sigma(z)$"),
}


def _activation_fn(name: str) -> Callable[[Any], Any]:
    """The library's activation ``name`` (from ``chainrule.nn.functional`` when present)."""
    try:
        from .nn import functional as F

        fn = getattr(F, name, None)
        if callable(fn):
            return fn
    except ImportError:
        pass
    return ACTIVATIONS[name][0]


def _autodiff_derivative(f: Callable[[Any], Any], x: np.ndarray) -> tuple[np.ndarray, ...]:
    """``f(x)`` and ``f'(x)`` for an elementwise ``f``, by back-propagating ``Σ f(x)``."""
    from .tensor import Tensor

    t = Tensor(np.asarray(x, dtype=np.float64), requires_grad=True)
    out = f(t)
    out.sum().backward()
    grad = t.grad.numpy() if t.grad is not None else np.zeros_like(x)
    return np.asarray(out.numpy(), dtype=np.float64), np.asarray(grad, dtype=np.float64)


@_styled
def activations(
    names: Sequence[str] = ("sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus", "gelu",
                            "swish"),
    *,
    x_range: tuple[float, float] = (-5.0, 5.0),
    points: int = 801,
    path: PathLike,
) -> FigurePaths:
    """Activation functions ``g(z)`` and their derivatives ``g′(z)``, one panel each.

    The derivatives are not written by hand: each comes from chainrule's autodiff,
    ``g′(z) = ∂(Σ g(z))/∂z`` for the elementwise ``g``. Jumps of ``g′`` (ReLU at 0) are drawn
    as gaps, not as vertical lines.

    Args:
        names: keys of :data:`ACTIVATIONS`.
        x_range: the interval of ``z``.
        points: number of sample points.
        path: output file name.
    """
    unknown = [n for n in names if n not in ACTIVATIONS]
    if unknown:
        raise ValueError(f"unknown activation(s) {unknown}; valid: {', '.join(ACTIVATIONS)}")
    if not names:
        raise ValueError("activations: no names given")
    z = np.linspace(*x_range, points)
    ncols = min(4, len(names))
    nrows = -(-len(names) // ncols)
    fig, axes = _figure(ncols, nrows, size=(3.3 * ncols, 3.0 * nrows + 0.6), sharex=True)
    for ax, name in zip(axes.flat, names):
        g, dg = _autodiff_derivative(_activation_fn(name), z)
        jump = np.abs(np.diff(dg)) > 0.25
        dg_drawn = dg.copy()
        dg_drawn[1:][jump] = np.nan
        ax.plot(z, g, color="#0072B2", lw=2, label="$g(z)$")
        ax.plot(z, dg_drawn, color="#D55E00", lw=2, ls="--", label="$g'(z)$ (autodiff)")
        ax.axhline(0, color="0.5", lw=0.6)
        ax.axvline(0, color="0.5", lw=0.6)
        ax.set_title(f"{name}: {ACTIVATIONS[name][1]}", fontsize=10)
        hi = min(float(np.nanmax(g)), 3.0)
        ax.set_ylim(min(-1.2, float(np.nanmin(g)) - 0.1), max(1.3, hi + 0.2))
    for ax in axes[-1]:
        ax.set_xlabel("$z$")
    for ax in axes.flat[len(names):]:
        ax.set_visible(False)
    axes[0, 0].legend(loc="upper left", fontsize=8)
    fig.suptitle("Activation functions and their derivatives (derivatives by chainrule autodiff)")
    fig.tight_layout()
    return _save(fig, path)


def _sigma(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # = 1/(1+e^{-x}), without overflow


@_styled
def sigmoid_family(
    a_values: Sequence[float] = (0.5, 1.0, 2.0, 5.0, 20.0),
    b_values: Sequence[float] = (-4.0, -2.0, 0.0, 2.0, 4.0),
    *,
    x_range: tuple[float, float] = (-6.0, 6.0),
    path: PathLike,
) -> FigurePaths:
    """``σ(ax + b)`` for several slopes ``a`` (with ``b = 0``) and shifts ``b`` (with ``a = 1``).

    A larger ``a`` sharpens the step; ``b`` moves it to ``x = −b/a`` — the building block
    of Higham & Higham's Figure 2 and of the universal approximation argument.

    Args:
        a_values: slopes for the left panel.
        b_values: shifts for the right panel.
        x_range: interval of ``x``.
        path: output file name.
    """
    x = np.linspace(*x_range, 601)
    fig, axes = _figure(2, size=(11.5, 4.4))
    cmap = plt.get_cmap("viridis")
    for i, a in enumerate(a_values):
        axes[0, 0].plot(x, _sigma(a * x), lw=2, color=cmap(i / max(len(a_values) - 1, 1) * 0.9),
                        label=f"$a = {a:g}$")
    for i, b in enumerate(b_values):
        axes[0, 1].plot(x, _sigma(x + b), lw=2, color=cmap(i / max(len(b_values) - 1, 1) * 0.9),
                        label=f"$b = {b:g}$ (step at $x = {-b + 0.0:g}$)")
    axes[0, 0].set_title(r"$\sigma(ax)$: the slope $a$ sharpens the step")
    axes[0, 1].set_title(r"$\sigma(x + b)$: the shift $b$ moves the step to $x=-b$")
    for ax in axes.flat:
        ax.set_xlabel("$x$")
        ax.set_ylabel(r"$\sigma(ax+b)$")
        ax.set_ylim(-0.05, 1.05)
        ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    return _save(fig, path)


@_styled
def tangent_line(
    f: Callable[[Any], Any],
    x0: float,
    *,
    x_range: tuple[float, float] | None = None,
    label: str = "$f(x)$",
    path: PathLike,
) -> FigurePaths:
    """A function with its tangent ``t(x) = f(x₀) + f′(x₀)(x − x₀)`` at ``x₀``.

    Args:
        f: a function of a Tensor built from chainrule operations (for example
            ``lambda x: x.sin() * x``); ``f′(x₀)`` comes from chainrule's autodiff.
        x0: the point of tangency.
        x_range: the interval drawn (default ``x₀ ± 3``).
        label: legend name of ``f``.
        path: output file name.
    """
    lo, hi = x_range if x_range is not None else (x0 - 3.0, x0 + 3.0)
    if not lo < x0 < hi:
        raise ValueError(f"x0 = {x0} must lie inside x_range ({lo}, {hi})")
    x = np.linspace(lo, hi, 601)
    fx, _ = _autodiff_derivative(f, x)
    f0, d0 = _autodiff_derivative(f, np.array([float(x0)]))
    f0, d0 = float(f0[0]), float(d0[0])
    fig, axes = _figure()
    ax = axes[0, 0]
    ax.plot(x, fx, lw=2, color="#0072B2", label=label)
    ax.plot(x, f0 + d0 * (x - x0), lw=1.6, ls="--", color="#D55E00",
            label=rf"tangent: $f(x_0) + f'(x_0)(x - x_0)$, slope $f'(x_0) = {d0:.3g}$")
    ax.plot([x0], [f0], "o", color="black", zorder=3, label=f"$x_0 = {x0:g}$")
    span = np.nanmax(fx) - np.nanmin(fx)
    ax.set_ylim(np.nanmin(fx) - 0.15 * span, np.nanmax(fx) + 0.15 * span)
    ax.set_xlabel("$x$")
    ax.set_ylabel("$f(x)$")
    ax.set_title(f"A function and its tangent line at $x_0 = {x0:g}$")
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    return _save(fig, path)


@_styled
def finite_difference_error(
    f: Callable[[float], float],
    df: Callable[[float], float],
    x: float,
    *,
    hs: Sequence[float] | None = None,
    label: str = "$f$",
    path: PathLike,
) -> FigurePaths:
    """The error of finite differences against the step ``h``, on log-log axes: the V.

    ``err(h) = |D_h f(x) − f′(x)|`` for the forward difference
    ``D_h f = (f(x + h) − f(x))/h`` and the central difference
    ``D_h f = (f(x + h) − f(x − h))/(2h)``. Right of the bottom of the V the truncation
    error dominates (slope 1 forward, 2 central: ``O(h)``, ``O(h²)``); left of it the
    round-off error ``≈ ε|f(x)|/h`` (slope −1), ``ε`` the float64 machine epsilon.

    Args:
        f: a function of a float (e.g. ``math.exp``).
        df: its exact derivative.
        x: the point.
        hs: the steps (default ``10⁻¹⁶ … 10⁻¹``, 61 of them).
        label: the name of ``f`` in the title.
        path: output file name.
    """
    from .mathkit.calculus import finite_difference_errors

    steps = np.logspace(-16, -1, 61) if hs is None else _array(hs, "hs", 1)
    eps = np.finfo(np.float64).eps
    tiny = eps * 1e-3  # an exact 0 error cannot be drawn on a log axis
    fig, axes = _figure(size=(7.2, 4.8))
    ax = axes[0, 0]
    scale = abs(float(df(x))) or 1.0
    lowest = np.inf
    for scheme, color, order in (("forward", "#0072B2", 1), ("central", "#D55E00", 2)):
        err = np.maximum(finite_difference_errors(f, df, x, steps, scheme=scheme), tiny)
        best = int(np.argmin(err))
        lowest = min(lowest, float(err[best]))
        ax.loglog(steps, err, lw=1.8, color=color, marker="o", ms=3,
                  label=f"{scheme} difference (best h ≈ {steps[best]:.0e})")
        ax.loglog(steps, scale * steps**order, lw=1, ls="--", color=color, alpha=0.7,
                  label=f"truncation ∝ $h^{order}$")
    ax.loglog(steps, eps * abs(float(f(x))) / steps, lw=1, ls=":", color="0.3",
              label=r"round-off ≈ $\varepsilon\,|f(x)|/h$")
    ax.set_ylim(max(tiny, lowest / 100), 10.0)
    ax.set_xlabel("step $h$")
    ax.set_ylabel(r"absolute error $|D_h f(x) - f'(x)|$")
    ax.set_title(f"Finite differences of {label} at $x = {x:g}$: truncation vs round-off")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8)
    fig.set_size_inches(9.6, 4.8)
    fig.tight_layout()
    return _save(fig, path)


# -------------------------------------------------------------------- general and for demos


@_styled
def line_plot(
    curves: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    *,
    xlabel: str,
    ylabel: str,
    title: str,
    logx: bool = False,
    logy: bool = False,
    ylim: tuple[float, float] | None = None,
    hlines: Mapping[str, float] | None = None,
    path: PathLike,
) -> FigurePaths:
    """Several labelled curves ``label → (x, y)`` on one pair of axes.

    Curves of at most 30 points get markers; integer x values get integer ticks.

    Args:
        curves: legend label → (x values, y values) of equal length.
        xlabel, ylabel, title: texts of the axes and the figure.
        logx, logy: logarithmic axes.
        ylim: y-axis limits.
        hlines: legend label → y value of a dotted horizontal reference line.
        path: output file name.
    """
    if not curves:
        raise ValueError("line_plot: no curves")
    fig, axes = _figure()
    ax = axes[0, 0]
    all_int = True
    xs_seen: set[float] = set()
    for i, (name, (xs, ys)) in enumerate(curves.items()):
        xa, ya = _array(xs, "x", 1), _array(ys, "y", 1)
        _check_same_length(x=xa, y=ya)
        all_int = all_int and bool(np.all(xa == np.round(xa)))
        xs_seen.update(xa.tolist())
        ax.plot(xa, ya, lw=1.8, label=name, color=plt.get_cmap("tab10")(i % 10),
                ls=LINESTYLES[i % len(LINESTYLES)], marker="o" if len(xa) <= 30 else None,
                ms=4)
    for j, (name, value) in enumerate((hlines or {}).items()):
        ax.axhline(value, color="0.35", ls=(0, (1, 2 + j)), lw=1.2, label=name)
    if logx:
        ax.set_xscale("log")
        if all_int and len(xs_seen) <= 16:  # label the values used, not powers of ten
            ticks = sorted(xs_seen)
            ax.set_xticks(ticks, [f"{v:g}" for v in ticks])
            ax.xaxis.set_minor_locator(NullLocator())
    elif all_int:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if logy:
        ax.set_yscale("log")
        _log_ticks(ax)
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if len(curves) + len(hlines or {}) > 3:
        fig.set_size_inches(8.6, 4.4)
        ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8)
    else:
        ax.legend()
    fig.tight_layout()
    return _save(fig, path)


@_styled
def cost_curve(
    costs: Sequence[float],
    *,
    steps: Sequence[float] | None = None,
    xlabel: str = "iteration",
    ylabel: str = "cost",
    title: str = "Cost during training",
    path: PathLike,
) -> FigurePaths:
    """A cost against iteration on a logarithmic y axis (Higham & Higham's Figure 5).

    Args:
        costs: cost values, shape (T,), all > 0.
        steps: the iteration of each value (default ``1 … T``).
        xlabel, ylabel, title: texts.
        path: output file name.
    """
    c = _array(costs, "costs", 1)
    x = np.arange(1, len(c) + 1) if steps is None else _array(steps, "steps", 1)
    _check_same_length(steps=x, costs=c)
    fig, axes = _figure()
    ax = axes[0, 0]
    ok = np.isfinite(c) & (c > 0)
    ax.semilogy(x[ok], c[ok], color="#0072B2", lw=1.5)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel + " (log scale)")
    ax.set_title(title)
    ax.xaxis.set_major_formatter(FuncFormatter(_thousands))
    fig.tight_layout()
    return _save(fig, path)


@_styled
def optimizer_trajectories(
    f: Callable[[np.ndarray, np.ndarray], np.ndarray],
    trajectories: Mapping[str, Any],
    *,
    limits: tuple[tuple[float, float], tuple[float, float]],
    minimum: tuple[float, float] | None = None,
    log_levels: bool = True,
    mark_every: int | None = None,
    panels: bool = False,
    title: str = "Optimiser trajectories",
    path: PathLike,
) -> FigurePaths:
    """Optimiser paths ``θ₀, θ₁, …`` over the contours of a 2-D function.

    Args:
        f: vectorised ``f(x, y)`` on arrays (for the contours).
        trajectories: legend name → iterates, shape (T, 2).
        limits: ``((x_min, x_max), (y_min, y_max))`` of the view.
        minimum: the minimiser, marked with a star.
        log_levels: contour levels spaced logarithmically (for functions like Rosenbrock).
        mark_every: put a dot on every this many iterates, so the spacing shows the speed
            (default: about 30 dots on the longest path).
        panels: one panel per optimiser (the other paths in faint grey), so paths that
            share a valley stay distinguishable; default: all on one panel.
        title: figure title.
        path: output file name.
    """
    (x0, x1), (y0, y1) = limits
    xx, yy = np.meshgrid(np.linspace(x0, x1, 400), np.linspace(y0, y1, 400))
    zz = np.asarray(f(xx, yy), dtype=np.float64)
    names = list(trajectories)
    paths = {name: _array(trajectories[name], f"trajectories[{name!r}]", 2) for name in names}
    n = len(names) if panels else 1
    ncols = min(n, 3)
    nrows = -(-n // ncols)
    fig, axes = _figure(ncols, nrows, size=(7.4, 6.8) if n == 1 else (4.3 * ncols,
                                                                      4.0 * nrows + 0.6))
    cmap = plt.get_cmap("tab10")
    longest = max(len(p) for p in paths.values())
    every = mark_every if mark_every is not None else max(1, (longest - 1) // 30)
    styles = ("-", "--", "-.", ":", "-")
    cs = None
    for k, ax in enumerate(axes.flat):
        if k >= n:
            ax.set_visible(False)
            continue
        ax.grid(False)
        if log_levels:
            lo = max(zz.min(), zz.max() * 1e-7, 1e-12)
            shift = zz - zz.min() + lo
            levels = np.geomspace(lo, shift.max(), 25)
            cs = ax.contourf(xx, yy, shift, levels=levels, norm=LogNorm(), cmap="YlGnBu",
                             alpha=0.35)
            ax.contour(xx, yy, shift, levels=levels, colors="0.55", linewidths=0.4)
        else:
            cs = ax.contourf(xx, yy, zz, levels=25, cmap="YlGnBu", alpha=0.35)
            ax.contour(xx, yy, zz, levels=25, colors="0.55", linewidths=0.4)
        shown = names if not panels else [names[k]]
        if panels:  # the others, faintly, for comparison
            for other in names:
                if other != names[k]:
                    ax.plot(paths[other][:, 0], paths[other][:, 1], color="0.6", lw=0.8,
                            alpha=0.6)
        for name in shown:
            i = names.index(name)
            p = paths[name]
            colour = cmap(i % 10)
            label = name if len(p) == longest else f"{name} (stopped after {len(p) - 1} steps)"
            ax.plot(p[:, 0], p[:, 1], styles[i % len(styles)], color=colour, lw=1.7,
                    label=label, marker="o", ms=3, markevery=every)
            ax.plot(p[-1, 0], p[-1, 1], "o", color=colour, mec="black", ms=6, zorder=3)
        ax.plot(*paths[names[0]][0], "s", color="black", ms=7, label="start")
        if minimum is not None:
            ax.plot(*minimum, "*", color="gold", mec="black", ms=16, label="minimum", zorder=4)
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
        ax.set_xlabel(r"$\theta_1$")
        ax.set_ylabel(r"$\theta_2$")
        if panels:
            ax.set_title(names[k], fontsize=10, color=cmap(k % 10))
    note = f"paths (small dots every {every} steps, large dot: last iterate)"
    if n == 1:
        ax0 = axes[0, 0]
        fig.colorbar(cs, ax=ax0, ticks=LogLocator(base=10) if log_levels else None,
                     label=r"$f(\theta) - \min f$ on the grid (log scale)" if log_levels
                     else r"$f(\theta)$")
        ax0.set_title(title)
        ax0.legend(loc="upper center", bbox_to_anchor=(0.5, -0.11), ncol=2, fontsize=8,
                   frameon=False, title=note, title_fontsize=8)
        fig.tight_layout()
    else:
        fig.suptitle(f"{title}\n(each panel: one optimiser; grey: the others; {note[7:-1]})",
                     fontsize=11)
        fig.tight_layout()
    return _save(fig, path)


@_styled
def layer_gradient_norms(
    norms: Mapping[str, Sequence[float]],
    *,
    reference: Mapping[str, Sequence[float]] | None = None,
    ylabel: str = r"$\|\partial L/\partial W_l\|_F$ (log scale)",
    title: str = "Gradient norm per layer",
    path: PathLike,
) -> FigurePaths:
    """Gradient norm ``‖∂L/∂W_l‖`` against layer ``l = 1 … L`` (log y), one line per network.

    Args:
        norms: network name → its per-layer gradient norms, shape (L,), layer 1 first.
        reference: curves drawn as wide translucent bands under the measured points (for
            example the theory ``w^(L−l)``), coloured like the matching ``norms`` entry.
        ylabel: y-axis label.
        title: figure title.
        path: output file name.
    """
    fig, axes = _figure(size=(7.2, 4.8))
    ax = axes[0, 0]
    cmap = plt.get_cmap("tab10")
    for i, (name, values) in enumerate(norms.items()):
        v = _array(values, f"norms[{name!r}]", 1)
        layers = np.arange(1, len(v) + 1)
        ok = np.isfinite(v) & (v > 0)
        ax.plot(layers[ok], v[ok], "o-", ms=4, lw=1.2, color=cmap(i % 10), label=name,
                zorder=3)
    for j, (name, values) in enumerate((reference or {}).items()):
        v = _array(values, f"reference[{name!r}]", 1)
        # wide translucent bands under the measured points, so both stay visible
        ax.plot(np.arange(1, len(v) + 1), v, "-", lw=7, alpha=0.25, solid_capstyle="round",
                color=cmap(j % 10) if len(reference or {}) == len(norms) else "0.3",
                label=name, zorder=1)
    ax.set_yscale("log")
    _log_ticks(ax)
    ax.set_xlabel("layer $l$ (1 = next to the input)")
    ax.set_ylabel(ylabel)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, path)


@_styled
def error_curves(
    x: Sequence[float],
    train_error: Sequence[float],
    dev_error: Sequence[float] | None = None,
    *,
    xlabel: str,
    ylabel: str = "error",
    logx: bool = False,
    logy: bool = False,
    best: bool = True,
    hline: tuple[float, str] | None = None,
    xticklabels: Sequence[str] | None = None,
    title: str,
    path: PathLike,
) -> FigurePaths:
    """Train and dev error against a capacity knob (width, L2 strength, …).

    With errors of several runs (shape (S, P): one row per seed) the curves are the means
    over the runs and a band spans their smallest to largest value.

    Args:
        x: the knob's values, shape (P,).
        train_error, dev_error: the errors, shape (P,) or (S, P).
        xlabel, ylabel, title: texts.
        logx, logy: logarithmic axes.
        best: mark the knob value with the smallest (mean) dev error.
        hline: ``(y, label)`` of a dotted reference level (e.g. the irreducible error).
        xticklabels: one tick label per ``x`` (default on a log axis with integer ``x``:
            the integers themselves, instead of powers of ten).
        path: output file name.
    """
    xa = _array(x, "x", 1)
    runs_tr = np.atleast_2d(_array(train_error, "train_error"))
    runs_dv = None if dev_error is None else np.atleast_2d(_array(dev_error, "dev_error"))
    tr = runs_tr.mean(axis=0)
    dv = None if runs_dv is None else runs_dv.mean(axis=0)
    _check_same_length(x=xa, train_error=tr, dev_error=dv)
    fig, axes = _figure()
    ax = axes[0, 0]
    several = len(runs_tr) > 1
    suffix = f" (mean of {len(runs_tr)} seeds; band: min–max)" if several else ""
    ax.plot(xa, tr, "o-", color="#0072B2", lw=1.8, label="train" + suffix)
    if several:
        ax.fill_between(xa, runs_tr.min(axis=0), runs_tr.max(axis=0), color="#0072B2",
                        alpha=0.15, lw=0)
    if dv is not None:
        ax.plot(xa, dv, "s-", color="#D55E00", lw=1.8, label="dev" + suffix)
        if several:
            ax.fill_between(xa, runs_dv.min(axis=0), runs_dv.max(axis=0), color="#D55E00",
                            alpha=0.15, lw=0)
        if best:
            i = int(np.nanargmin(dv))
            shown = xticklabels[i] if xticklabels is not None else f"{xa[i]:g}"
            ax.axvline(xa[i], color="0.4", ls=":", lw=1.2, label=f"lowest dev error ({shown})")
    if hline is not None:
        ax.axhline(hline[0], color="#009E73", ls="--", lw=1.2, label=hline[1])
    if logx:
        ax.set_xscale("log")
        if xticklabels is None and np.all(xa == np.round(xa)) and len(xa) <= 16:
            xticklabels = [f"{v:g}" for v in xa]
    if xticklabels is not None:
        if len(xticklabels) != len(xa):
            raise ValueError(f"xticklabels has {len(xticklabels)} labels for {len(xa)} points")
        ax.set_xticks(xa, list(xticklabels))
        ax.xaxis.set_minor_locator(NullLocator())
    if logy:
        ax.set_yscale("log")
        _log_ticks(ax)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    return _save(fig, path)


@_styled
def function_fits(
    x: Sequence[float],
    target: Sequence[float],
    fits: Mapping[str, Sequence[float]],
    *,
    x_train: Sequence[float] | None = None,
    y_train: Sequence[float] | None = None,
    title: str = "Function fits",
    path: PathLike,
) -> FigurePaths:
    """A target function ``f(x)`` with the approximations of several models.

    Args:
        x: evaluation points, shape (m,).
        target: ``f(x)``, shape (m,).
        fits: legend name → model output at ``x``, shape (m,).
        x_train, y_train: training samples to scatter.
        title: figure title.
        path: output file name.
    """
    xa, ta = _array(x, "x", 1), _array(target, "target", 1)
    fig, axes = _figure(size=(7.2, 4.6))
    ax = axes[0, 0]
    if x_train is not None and y_train is not None:
        xt, yt = _array(x_train, "x_train", 1), _array(y_train, "y_train", 1).reshape(-1)
        ax.scatter(xt, yt, s=6, color="#D55E00", lw=0, alpha=0.8,
                   label=f"training samples ({len(xt)})", zorder=4)
    ax.plot(xa, ta, color="black", lw=2.4, label="target $f(x)$", zorder=2)
    cmap = plt.get_cmap("viridis")
    for i, (name, values) in enumerate(fits.items()):
        v = _array(values, f"fits[{name!r}]", 1)
        ax.plot(xa, v, lw=1.5, color=cmap(i / max(len(fits) - 1, 1) * 0.9), label=name,
                zorder=3)
    ax.set_xlabel("$x$")
    ax.set_ylabel("$y$")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, path)


@_styled
def histograms(
    groups: Mapping[str, Sequence[Any]],
    *,
    xlabel: str,
    title: str,
    bins: int = 50,
    range_: tuple[float, float] | None = None,
    path: PathLike,
) -> FigurePaths:
    """One panel per group (three per row), one histogram per layer, stacked as ridges.

    Each layer's histogram is drawn on its own baseline (a ridgeline plot: layer 1 at the
    bottom), scaled to its own peak, so the layers do not overplot and a saturated layer's
    spikes at the ends of the range stand out; the x axes are shared.

    Args:
        groups: panel title → list of arrays (one per layer, drawn in order).
        xlabel: x-axis label.
        title: figure title.
        bins: histogram bins.
        range_: common x range of the histograms (default: the range of all values).
        path: output file name.
    """
    n = len(groups)
    if n == 0:
        raise ValueError("histograms: no groups")
    if range_ is None:
        every = np.concatenate([np.asarray(v, dtype=np.float64).ravel()
                                for layers in groups.values() for v in layers])
        range_ = (float(every.min()), float(every.max()) or 1.0)
    ncols = min(3, n)
    nrows = -(-n // ncols)
    depth = max(len(layers) for layers in groups.values())
    fig, axes = _figure(ncols, nrows, size=(4.2 * ncols, (0.55 * depth + 1.4) * nrows + 0.5),
                        sharex=True)
    cmap = plt.get_cmap("viridis")
    edges = np.linspace(range_[0], range_[1], bins + 1)
    centres = np.repeat(edges, 2)[1:-1]
    for ax, (name, layers) in zip(axes.flat, groups.items()):
        ax.grid(False)
        for j, values in enumerate(layers):
            v = np.asarray(values, dtype=np.float64).ravel()
            d, _ = np.histogram(v, bins=edges, density=True)
            h = np.repeat(d / d.max() if d.max() > 0 else d, 2) * 0.92
            colour = cmap(j / max(len(layers) - 1, 1) * 0.9)
            ax.fill_between(centres, j, j + h, color=colour, alpha=0.55, lw=0)
            ax.plot(centres, j + h, color=colour, lw=1.0)
            ax.axhline(j, color="0.7", lw=0.5)
        ax.set_yticks(range(len(layers)), [f"layer {j + 1}" for j in range(len(layers))],
                      fontsize=8)
        ax.set_ylim(-0.1, depth)
        ax.set_title(name, fontsize=10)
        ax.xaxis.set_major_locator(MaxNLocator(5))
    for ax in axes[-1]:
        ax.set_xlabel(xlabel)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    fig.suptitle(f"{title}\n(each layer's histogram on its own baseline, scaled to its peak)",
                 fontsize=11)
    fig.tight_layout()
    return _save(fig, path)


@_styled
def matrices(
    mats: Mapping[str, Any],
    *,
    xlabel: str = "input $j$",
    ylabel: str = "hidden unit $i$",
    title: str,
    path: PathLike,
) -> FigurePaths:
    """Heat maps of several matrices side by side (for example first-layer weights ``W``).

    Identical rows — hidden units that compute the same thing — show as horizontal bands.

    Args:
        mats: panel title → 2-D array.
        xlabel, ylabel: axis labels.
        title: figure title.
        path: output file name.
    """
    n = len(mats)
    if n == 0:
        raise ValueError("matrices: nothing to draw")
    fig, axes = _figure(n, size=(3.6 * n + 0.8, 3.9))
    for ax, (name, m) in zip(axes.flat, mats.items()):
        a = _array(m, f"mats[{name!r}]", 2)
        _boxed(ax)
        lim = float(np.abs(a).max())
        lim = lim if lim > 1e-12 else 1.0  # an all-zero matrix: a readable colour bar
        im = ax.imshow(a, cmap="RdBu_r", vmin=-lim, vmax=lim, aspect="auto",
                       interpolation="nearest")
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
        ax.set_title(name, fontsize=10)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
    fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)
