"""Metrics: how good a model's outputs are, as one number per dataset.

A metric maps the targets ``y`` and the model's outputs ``ŷ`` (logits, probabilities or
values, as ndarrays or Tensors) to a float. Each is registered under a name, with the
direction in which it improves (``mode``), so :func:`~chainrule.train.fit`, callbacks and
the CLI select them by string:

=============  =====================================================  ======
name           definition                                             mode
=============  =====================================================  ======
``accuracy``   ``(1/n) Σᵢ [argmax ŷᵢ = yᵢ]``                         max
``error``      ``1 − accuracy``  (the misclassification rate)         min
``mse``        ``(1/n) Σᵢ ‖yᵢ − ŷᵢ‖² / k``                            min
``rmse``       ``√mse``                                               min
``mae``        ``(1/(nk)) Σᵢⱼ |yᵢⱼ − ŷᵢⱼ|``                          min
``r2``         ``1 − Σ (y − ŷ)² / Σ (y − ȳ)²``  (per column, averaged)  max
=============  =====================================================  ======
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "METRICS",
    "Metric",
    "accuracy",
    "bootstrap_interval",
    "confusion_matrix",
    "error_rate",
    "get_metric",
    "mae",
    "metric_mode",
    "mse",
    "precision_recall_f1",
    "r2_score",
    "rmse",
    "wilson_interval",
]


def _array(x: Any) -> np.ndarray:
    data = getattr(x, "data", x)
    return data if isinstance(data, np.ndarray) else np.asarray(data)


def _labels(y_pred: np.ndarray) -> np.ndarray:
    """Predicted class indices: argmax over columns, or ``ŷ > 0.5`` for a single column."""
    if y_pred.ndim == 2 and y_pred.shape[1] > 1:
        return y_pred.argmax(axis=1)
    return (y_pred.reshape(-1) > 0.5).astype(np.int64)


def accuracy(y_true: Any, y_pred: Any) -> float:
    """Fraction of samples whose predicted class is the true class.

    .. math:: \\text{acc} = \\frac{1}{n} \\sum_i [\\hat c_i = c_i]

    ``ŷ`` of shape ``(n, K)`` (logits or probabilities) predicts ``argmax ŷᵢ``; a single
    column of probabilities predicts class 1 when ``ŷᵢ > 0.5``. ``y`` is class indices
    ``(n,)`` or one-hot / probability rows ``(n, K)`` (then ``argmax yᵢ`` is the class).

    Args:
        y_true: targets, shape ``(n,)`` or ``(n, K)``.
        y_pred: outputs, shape ``(n, K)``, ``(n, 1)`` or ``(n,)``.

    Example:
        >>> accuracy([0, 1, 1], [[2.0, 1.0], [0.0, 3.0], [1.0, 0.0]])
        0.6666666666666666
    """
    t = _array(y_true)
    p = _array(y_pred)
    if t.ndim == 2 and t.shape[1] > 1:
        t = t.argmax(axis=1)
    t = t.reshape(-1)
    c = _labels(p)
    if c.shape[0] != t.shape[0]:
        raise ValueError(f"accuracy: y_true has {t.shape[0]} samples but y_pred has {c.shape[0]}")
    if t.shape[0] == 0:
        raise ValueError("accuracy: no samples")
    return float(np.count_nonzero(c == t) / t.shape[0])


def error_rate(y_true: Any, y_pred: Any) -> float:
    """Misclassification rate ``1 − accuracy`` (the "error" of the bias/variance table).

    Example:
        >>> error_rate([0, 1], [[1.0, 0.0], [1.0, 0.0]])
        0.5
    """
    return 1.0 - accuracy(y_true, y_pred)


def _pair(y_true: Any, y_pred: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    t = _array(y_true).astype(np.float64, copy=False)
    p = _array(y_pred).astype(np.float64, copy=False)
    if t.ndim == 1:
        t = t.reshape(-1, 1)
    if p.ndim == 1:
        p = p.reshape(-1, 1)
    if t.shape != p.shape:
        raise ValueError(f"{name}: y_true has shape {t.shape} but y_pred has shape {p.shape}")
    if t.shape[0] == 0:
        raise ValueError(f"{name}: no samples")
    return t, p


def mse(y_true: Any, y_pred: Any) -> float:
    """Mean squared error over all entries.

    .. math:: \\text{mse} = \\frac{1}{nk} \\sum_{i,j} (y_{ij} - \\hat y_{ij})^2

    Example:
        >>> mse([1.0, 2.0], [1.0, 4.0])
        2.0
    """
    t, p = _pair(y_true, y_pred, "mse")
    return float(np.mean((t - p) ** 2))


def rmse(y_true: Any, y_pred: Any) -> float:
    """Root mean squared error ``√mse``, in the units of ``y``.

    Example:
        >>> rmse([0.0, 0.0], [3.0, 4.0])  # √((9 + 16) / 2)
        3.5355339059327378
    """
    return float(np.sqrt(mse(y_true, y_pred)))


def mae(y_true: Any, y_pred: Any) -> float:
    """Mean absolute error ``(1/(nk)) Σ |y − ŷ|``.

    Example:
        >>> mae([1.0, 2.0], [2.0, 0.0])
        1.5
    """
    t, p = _pair(y_true, y_pred, "mae")
    return float(np.mean(np.abs(t - p)))


def r2_score(y_true: Any, y_pred: Any) -> float:
    """Coefficient of determination, averaged over target columns (scikit-learn's default).

    .. math:: R^2 = 1 - \\frac{\\sum_i (y_i - \\hat y_i)^2}{\\sum_i (y_i - \\bar y)^2}

    1 is a perfect fit, 0 is as good as predicting the mean ``ȳ``; a constant target gives
    1 for a perfect prediction and 0 otherwise (as scikit-learn).

    Example:
        >>> r2_score([1.0, 2.0, 3.0], [1.0, 2.0, 4.0])  # 1 − 1/2
        0.5
    """
    t, p = _pair(y_true, y_pred, "r2")
    ss_res = np.sum((t - p) ** 2, axis=0)
    ss_tot = np.sum((t - t.mean(axis=0)) ** 2, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        score = np.where(ss_tot > 0, 1.0 - ss_res / np.where(ss_tot > 0, ss_tot, 1.0),
                         np.where(ss_res == 0, 1.0, 0.0))
    return float(np.mean(score))


def confusion_matrix(y_true: Any, y_pred: Any, n_classes: int | None = None) -> np.ndarray:
    """Counts ``C[i, j]`` of samples of true class ``i`` predicted as class ``j``.

    ``y_pred`` is class indices, or outputs of shape ``(n, K)`` (argmax is taken).

    >>> confusion_matrix([0, 0, 1, 1], [0, 1, 1, 1]).tolist()
    [[1, 1], [0, 2]]
    """
    t = _array(y_true).reshape(-1).astype(np.int64)
    p = _array(y_pred)
    p = _labels(p) if p.ndim == 2 else p.reshape(-1).astype(np.int64)
    if t.shape != p.shape:
        raise ValueError(f"y_true and y_pred differ in length: {t.shape[0]} vs {p.shape[0]}")
    k = int(max(t.max(initial=-1), p.max(initial=-1)) + 1) if n_classes is None else n_classes
    if t.size and (min(t.min(), p.min()) < 0 or max(t.max(), p.max()) >= k):
        raise ValueError(f"class indices must be in [0, {k}), got {t.min()}..{t.max()} "
                         f"(true) and {p.min()}..{p.max()} (predicted)")
    return np.bincount(t * k + p, minlength=k * k).reshape(k, k)


def precision_recall_f1(y_true: Any, y_pred: Any,
                        n_classes: int | None = None) -> dict[str, np.ndarray]:
    r"""Per-class precision, recall, F1 and support, from the confusion matrix ``C``.

    .. math::

        P_k = C_{kk} / Σ_i C_{ik}, \quad R_k = C_{kk} / Σ_j C_{kj}, \quad
        F1_k = 2 P_k R_k / (P_k + R_k)

    A class never predicted has ``P_k = 0`` (scikit-learn's ``zero_division=0``), one never
    present ``R_k = 0``; ``support`` is the number of true samples of each class.

    >>> r = precision_recall_f1([0, 0, 1, 1], [0, 1, 1, 1])
    >>> r["precision"].tolist(), r["recall"].tolist(), r["f1"].round(4).tolist()
    ([1.0, 0.6666666666666666], [0.5, 1.0], [0.6667, 0.8])
    """
    C = confusion_matrix(y_true, y_pred, n_classes).astype(np.float64)
    tp = np.diag(C)
    predicted, actual = C.sum(axis=0), C.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, actual, out=np.zeros_like(tp), where=actual > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    return {"precision": precision, "recall": recall, "f1": f1,
            "support": actual.astype(np.int64)}


def wilson_interval(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    r"""Wilson score interval of a proportion ``p̂ = successes / n`` (95 % for ``z = 1.96``).

    .. math::

        \frac{p̂ + z²/2n ± z \sqrt{p̂(1-p̂)/n + z²/4n²}}{1 + z²/n}

    Unlike ``p̂ ± z·√(p̂(1−p̂)/n)`` it stays inside [0, 1] and is not empty at ``p̂ = 1``:
    an accuracy of 2/2 gives (0.34, 1.0).

    >>> [round(v, 3) for v in wilson_interval(2, 2)]
    [0.342, 1.0]
    """
    if n <= 0:
        return (float("nan"), float("nan"))
    p = successes / n
    centre = p + z * z / (2 * n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    scale = 1 + z * z / n
    return (max(0.0, float((centre - half) / scale)), min(1.0, float((centre + half) / scale)))


def bootstrap_interval(y_true: Any, y_pred: Any, metric: Callable[[Any, Any], float],
                       level: float = 0.95, n_resamples: int = 1000,
                       seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of ``metric(y_true, y_pred)`` over the samples.

    Draws ``n_resamples`` sets of ``n`` row indices with replacement (seeded) and returns the
    ``(1 − level)/2`` and ``(1 + level)/2`` quantiles of the metric on them.

    >>> lo, hi = bootstrap_interval([0.0, 1, 2, 3], [0.0, 1, 2, 5], rmse)
    >>> 0 <= lo < rmse([0.0, 1, 2, 3], [0.0, 1, 2, 5]) <= hi
    True
    """
    t, p = _array(y_true), _array(y_pred)
    n = len(t)
    rng = np.random.default_rng(seed)
    values = np.array([metric(t[i], p[i]) for i in rng.integers(0, n, size=(n_resamples, n))])
    a = (1 - level) / 2
    return (float(np.quantile(values, a)), float(np.quantile(values, 1 - a)))


@dataclass(frozen=True)
class Metric:
    """A registered metric: its name, function ``fn(y_true, y_pred) -> float`` and direction.

    Attributes:
        name: registry name (the history columns are ``train_<name>`` and ``dev_<name>``).
        fn: the function.
        mode: ``"max"`` if larger is better (accuracy, r2), ``"min"`` otherwise.

    Example:
        >>> m = get_metric("accuracy"); m.mode, m([1, 0], [[0.0, 1.0], [1.0, 0.0]])
        ('max', 1.0)
    """

    name: str
    fn: Callable[[Any, Any], float]
    mode: str

    def __call__(self, y_true: Any, y_pred: Any) -> float:
        """Evaluate the metric."""
        return self.fn(y_true, y_pred)


METRICS: dict[str, Metric] = {
    "accuracy": Metric("accuracy", accuracy, "max"),
    "error": Metric("error", error_rate, "min"),
    "mse": Metric("mse", mse, "min"),
    "rmse": Metric("rmse", rmse, "min"),
    "mae": Metric("mae", mae, "min"),
    "r2": Metric("r2", r2_score, "max"),
}
"""Registry of metrics: name → :class:`Metric`."""

_ALIASES = {"acc": "accuracy", "error_rate": "error", "r2_score": "r2"}


def get_metric(metric: str | Metric | Callable[[Any, Any], float]) -> Metric:
    """The :class:`Metric` for a registry name, a Metric, or a plain function.

    A plain function ``fn(y_true, y_pred)`` becomes a metric named after it, with mode
    ``"max"`` (give a :class:`Metric` to say otherwise).

    Raises:
        ValueError: unknown name (the message lists the valid names).

    Example:
        >>> get_metric("rmse").mode
        'min'
    """
    if isinstance(metric, Metric):
        return metric
    if isinstance(metric, str):
        key = _ALIASES.get(metric.lower(), metric.lower())
        if key not in METRICS:
            raise ValueError(
                f"unknown metric {metric!r}; valid names: {', '.join(METRICS)}"
            )
        return METRICS[key]
    if callable(metric):
        return Metric(getattr(metric, "__name__", "metric"), metric, "max")
    raise TypeError(
        f"metric must be a name, a Metric or a function, got {type(metric).__name__}"
    )


def metric_mode(name: str) -> str:
    """``"min"`` or ``"max"``: the direction in which a history column improves.

    Losses and errors improve downwards; registered metrics say for themselves
    (``dev_accuracy`` → ``"max"``).

    Example:
        >>> metric_mode("dev_loss"), metric_mode("dev_accuracy"), metric_mode("train_rmse")
        ('min', 'max', 'min')
    """
    base = name
    for prefix in ("train_", "dev_", "val_", "test_"):
        if base.startswith(prefix):
            base = base[len(prefix):]
            break
    key = _ALIASES.get(base, base)
    if key in METRICS:
        return METRICS[key].mode
    return "min"


def _check_mode(mode: str, monitor: str) -> str:
    """``mode`` checked (``"min"``, ``"max"`` or ``"auto"``), with ``"auto"`` resolved for
    the column ``monitor`` by :func:`metric_mode` (used by History and the callbacks)."""
    if mode not in ("min", "max", "auto"):
        raise ValueError(f"mode must be 'min', 'max' or 'auto', got {mode!r}")
    return metric_mode(monitor) if mode == "auto" else mode
