"""Diagnosis: is the model suffering from high bias, high variance, both, or neither?

Andrew Ng's recipe (*Improving Deep Neural Networks*, "Bias/Variance" and "Basic recipe
for machine learning") compares three errors:

- the **target** error (Bayes error, or human-level error as its proxy),
- the **training** error, and
- the **dev** (validation) error.

Two differences measure the two problems::

    avoidable bias = train_error − target_error      (how far training falls short)
    variance       = dev_error − train_error         (how badly the model generalises)

=================  ===========  =========  =================================
train / dev error  avoidable    variance   verdict
=================  ===========  =========  =================================
 1 % / 11 %         1 %         10 %       high variance (overfitting)
15 % / 16 %        15 %          1 %       high bias (underfitting)
15 % / 30 %        15 %         15 %       high bias and high variance
0.5 % / 1 %        0.5 %        0.5 %      fine
=================  ===========  =========  =================================

(target error ≈ 0 %). A quantity counts as *high* when it exceeds its threshold
(``bias_threshold``, ``variance_threshold``; default 0.02, i.e. two percentage points of
error — set them for your problem). The remedies follow the textbook (Ng's basic recipe,
and the overfitting strategies of the accompanying course notes: data augmentation,
validation set, k-fold cross-validation, early stopping, regularisation, dropout):

- **high bias** — bigger network (more hidden units or layers), train longer, a better
  optimiser (Adam, momentum, tuned learning rate), a different architecture, less
  regularisation;
- **high variance** — more training data, regularisation (L2 weight decay, dropout),
  data augmentation, early stopping, a different (smaller or better-suited) architecture.

:func:`cross_validate` estimates the dev error more reliably on small data: k rounds,
each training on k − 1 folds and scoring the held-out fold; the mean is the estimate and
the standard deviation its spread over folds.
"""

from __future__ import annotations

import inspect
import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._checks import check_int, check_nonneg
from .history import History

__all__ = [
    "HIGH_BIAS_REMEDIES",
    "HIGH_VARIANCE_REMEDIES",
    "CVResult",
    "Diagnosis",
    "cross_validate",
    "diagnose",
]

HIGH_BIAS_REMEDIES: tuple[str, ...] = (
    "bigger network (more hidden units or more layers)",
    "train longer",
    "better optimiser (Adam, momentum, a tuned learning rate)",
    "different architecture (search for one better suited to the problem)",
    "less regularisation (smaller L2 penalty, lower dropout rate)",
)
"""What to try when the training error is far above the target error (underfitting)."""

HIGH_VARIANCE_REMEDIES: tuple[str, ...] = (
    "more training data",
    "regularisation (L2 weight decay, dropout)",
    "data augmentation",
    "early stopping",
    "different architecture (smaller, or better suited to the problem)",
)
"""What to try when the dev error is far above the training error (overfitting)."""

VERDICTS = ("high bias", "high variance", "high bias and high variance", "fine")


@dataclass(frozen=True)
class Diagnosis:
    """The bias/variance verdict on a model and what to do about it.

    Attributes:
        verdict: ``"high bias"``, ``"high variance"``, ``"high bias and high variance"`` or
            ``"fine"``.
        train_error: error on the training set.
        dev_error: error on the dev set.
        target_error: the error aimed at (Bayes or human-level; 0 if unknown).
        avoidable_bias: ``train_error − target_error``.
        variance: ``dev_error − train_error``.
        remedies: textbook remedies for the verdict, most common first.
        bias_threshold, variance_threshold: the thresholds used.
        error_name: what the errors are (``"error rate"``, ``"loss"``, …).
        notes: caveats, e.g. a dev set too small to call the variance high.
        already_used: remedies the run already applied (listed apart, not as advice).

    Example:
        >>> d = diagnose(train_error=0.01, dev_error=0.11)
        >>> d.verdict, round(d.variance, 2)
        ('high variance', 0.1)
    """

    verdict: str
    train_error: float
    dev_error: float
    target_error: float
    avoidable_bias: float
    variance: float
    remedies: tuple[str, ...]
    bias_threshold: float
    variance_threshold: float
    error_name: str = "error"
    notes: tuple[str, ...] = ()
    already_used: tuple[str, ...] = ()

    @property
    def high_bias(self) -> bool:
        """Whether the avoidable bias exceeds its threshold."""
        return self.avoidable_bias > self.bias_threshold

    @property
    def high_variance(self) -> bool:
        """Whether the variance exceeds its threshold."""
        return self.variance > self.variance_threshold

    def __str__(self) -> str:
        lines = [
            f"Diagnosis: {self.verdict}",
            f"  target {self.error_name}: {self.target_error:.4g}",
            f"  train {self.error_name}:  {self.train_error:.4g}   "
            f"avoidable bias = train − target = {self.avoidable_bias:.4g} "
            f"({'>' if self.high_bias else '<='} {self.bias_threshold:g})",
            f"  dev {self.error_name}:    {self.dev_error:.4g}   "
            f"variance = dev − train = {self.variance:.4g} "
            f"({'>' if self.high_variance else '<='} {self.variance_threshold:g})",
        ]
        lines += [f"  note: {n}" for n in self.notes]
        if self.remedies:
            lines.append("  try:")
            lines += [f"    - {r}" for r in self.remedies]
        elif not self.already_used:
            lines.append("  nothing to fix: errors are close to the target and to each other")
        if self.already_used:
            lines.append("  already used by this run (strengthen it rather than add it):")
            lines += [f"    - {r}" for r in self.already_used]
        return "\n".join(lines)


def _errors_from_history(history: History, at: str) -> tuple[float, float, str]:
    """Train and dev error at the best (by dev loss) or last epoch of a history."""
    if not isinstance(history, History):
        raise TypeError(f"history must be a History, got {type(history).__name__}")
    if len(history) == 0:
        raise ValueError("history is empty: train for at least one epoch first")
    keys = history.keys()
    if "dev_loss" not in keys:
        raise ValueError(
            "history has no dev_loss: train with dev_data to diagnose variance, or pass "
            "train_error and dev_error"
        )
    if at == "best":
        epoch = history.best_epoch("dev_loss", "min")
        rec = next(r for r in history.records if r["epoch"] == epoch)
    elif at == "last":
        rec = history.records[-1]
    else:
        raise ValueError(f"at must be 'best' or 'last', got {at!r}")
    if "train_accuracy" in rec and "dev_accuracy" in rec:
        return 1.0 - rec["train_accuracy"], 1.0 - rec["dev_accuracy"], "error rate"
    for name in ("error", "rmse", "mae"):
        if f"train_{name}" in rec and f"dev_{name}" in rec:
            return rec[f"train_{name}"], rec[f"dev_{name}"], name
    return rec["train_loss"], rec["dev_loss"], "loss"


def diagnose(
    history: History | None = None,
    train_error: float | None = None,
    dev_error: float | None = None,
    target_error: float | None = None,
    *,
    bias_threshold: float = 0.02,
    variance_threshold: float = 0.02,
    at: str = "best",
    n_dev: int | None = None,
    used: dict[str, str] | None = None,
) -> Diagnosis:
    """Tell high bias from high variance by comparing target, train and dev errors.

    .. math::

        \\text{avoidable bias} = E_{train} - E_{target}, \\qquad
        \\text{variance} = E_{dev} - E_{train}

    High bias when the avoidable bias exceeds ``bias_threshold``; high variance when the
    variance exceeds ``variance_threshold``; both, or ``"fine"`` when neither.

    Args:
        history: a :class:`History` with dev results; the errors are read at the best epoch
            by dev loss (``at="best"``) or the last one (``at="last"``): ``1 − accuracy``
            when accuracy was recorded, else error/rmse/mae, else the loss. Mind that the
            training loss of :func:`fit` is measured during the epoch (with dropout active).
        train_error, dev_error: the errors directly (they override the history's).
        target_error: Bayes or human-level error; 0 when unknown (then all of the training
            error counts as avoidable bias).
        bias_threshold: avoidable bias above this is "high" (default 0.02, two points).
        variance_threshold: variance above this is "high" (default 0.02).
        at: ``"best"`` or ``"last"`` epoch of the history.
        n_dev: the number of dev samples. For an error rate, the dev error's standard
            error is ``s = √(E_dev(1 − E_dev)/n_dev)``; the variance only counts as high
            when it also exceeds ``2s`` (a note says so when that decides the verdict).
            Fewer than 30 dev samples add a note in any case.
        used: what the run already used, ``{keyword: setting}`` such as
            ``{"early stopping": "patience 20", "dropout": "p = 0.2"}``; a remedy that
            names a keyword moves to ``already_used`` with the setting.

    Returns:
        a :class:`Diagnosis` (print it for a report with remedies).

    Example:
        >>> print(diagnose(train_error=0.15, dev_error=0.16).verdict)
        high bias
        >>> diagnose(train_error=0.15, dev_error=0.30).verdict
        'high bias and high variance'
        >>> diagnose(train_error=0.15, dev_error=0.16, target_error=0.14).verdict
        'fine'
    """
    error_name = "error"
    if history is not None:
        h_train, h_dev, error_name = _errors_from_history(history, at)
        train_error = h_train if train_error is None else train_error
        dev_error = h_dev if dev_error is None else dev_error
    if train_error is None or dev_error is None:
        raise ValueError("diagnose needs a history or both train_error and dev_error")
    train_error = check_nonneg(train_error, "train_error")
    dev_error = check_nonneg(dev_error, "dev_error")
    target = 0.0 if target_error is None else check_nonneg(target_error, "target_error")
    bias_threshold = check_nonneg(bias_threshold, "bias_threshold")
    variance_threshold = check_nonneg(variance_threshold, "variance_threshold")

    avoidable_bias = train_error - target
    variance = dev_error - train_error
    high_bias = avoidable_bias > bias_threshold
    high_variance = variance > variance_threshold
    notes: list[str] = []
    if n_dev is not None:
        n_dev = int(n_dev)
        if n_dev < 1:
            raise ValueError(f"n_dev must be >= 1, got {n_dev}")
        if error_name == "error rate" or (history is None and dev_error <= 1):  # a rate
            se = math.sqrt(dev_error * (1 - dev_error) / n_dev) if dev_error < 1 else 0.0
            if high_variance and variance <= 2 * se:
                high_variance = False
                notes.append(
                    f"with {n_dev} dev samples one error moves the dev error by "
                    f"{1 / n_dev:.3g} and its standard error is {se:.3g}; the variance "
                    f"{variance:.3g} is within two standard errors, so it is not called "
                    "high — use cross_validate or a bigger dev set to tell")
        if n_dev < 30 and not notes:
            notes.append(f"only {n_dev} dev samples: the dev error is a rough estimate")
    if high_bias and high_variance:
        verdict, remedies = VERDICTS[2], HIGH_BIAS_REMEDIES + HIGH_VARIANCE_REMEDIES
        # fix the larger problem first (Ng): order the remedies by it
        if variance > avoidable_bias:
            remedies = HIGH_VARIANCE_REMEDIES + HIGH_BIAS_REMEDIES
        # "less regularisation" contradicts the variance remedies: drop it
        remedies = tuple(r for r in remedies if not r.startswith("less regularisation"))
    elif high_bias:
        verdict, remedies = VERDICTS[0], HIGH_BIAS_REMEDIES
    elif high_variance:
        verdict, remedies = VERDICTS[1], HIGH_VARIANCE_REMEDIES
    else:
        verdict, remedies = VERDICTS[3], ()
    already: list[str] = []
    if used:
        fresh = []
        for r in remedies:
            hits = [f"{k}: {v}" for k, v in used.items()
                    if k.lower() in r.lower() and not r.startswith("less")]
            if hits:
                already.append(f"{r} — {'; '.join(hits)}")
            else:
                fresh.append(r)
        remedies = tuple(fresh)
    return Diagnosis(
        verdict=verdict,
        train_error=train_error,
        dev_error=dev_error,
        target_error=target,
        avoidable_bias=avoidable_bias,
        variance=variance,
        remedies=tuple(remedies),
        bias_threshold=bias_threshold,
        variance_threshold=variance_threshold,
        error_name=error_name,
        notes=tuple(notes),
        already_used=tuple(already),
    )


# ---------------------------------------------------------------------------------------------
# cross-validation
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CVResult:
    """Scores of :func:`cross_validate`: one per fold, their mean and spread.

    Attributes:
        metric: the metric's name.
        scores: per-fold scores on the held-out fold, shape ``(k,)``.
        histories: the training history of each fold.
        mean: ``(1/k) Σ scores``.
        std: ``√((1/k) Σ (score − mean)²)`` (population standard deviation, as
            ``numpy.std``).

    Example:
        >>> r = CVResult("accuracy", np.array([0.9, 1.0]), ())
        >>> round(r.mean, 3), round(r.std, 3), str(r)
        (0.95, 0.05, 'accuracy: 0.9500 ± 0.0500 over 2 folds [0.9000, 1.0000]')
    """

    metric: str
    scores: np.ndarray
    histories: tuple[History, ...]

    @property
    def mean(self) -> float:
        """The mean score over folds."""
        return float(np.mean(self.scores))

    @property
    def std(self) -> float:
        """The standard deviation of the fold scores."""
        return float(np.std(self.scores))

    def __str__(self) -> str:
        folds = ", ".join(f"{s:.4f}" for s in self.scores)
        return (
            f"{self.metric}: {self.mean:.4f} ± {self.std:.4f} over {len(self.scores)} folds "
            f"[{folds}]"
        )


def _call_builder(build_model: Callable[..., Any], seed: int) -> Any:
    """``build_model(seed)`` if it takes an argument, else ``build_model()``."""
    try:
        params = inspect.signature(build_model).parameters.values()
    except (TypeError, ValueError):  # builtins without a signature
        return build_model()
    required = [
        p for p in params
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
    ]
    return build_model(seed) if required else build_model()


def cross_validate(
    build_model: Callable[..., Any],
    data: Any,
    k: int = 5,
    loss: Any = "cross_entropy",
    optimizer: Any = "adam",
    epochs: int = 100,
    batch_size: int | None = 32,
    seed: int = 0,
    stratified: bool = True,
    metric: Any = None,
    *,
    optimizer_kwargs: dict[str, Any] | None = None,
    standardize: bool = True,
    fit_kwargs: dict[str, Any] | None = None,
) -> CVResult:
    """K-fold cross-validation: train a fresh model on k − 1 folds, score the held-out one.

    .. math::

        \\text{CV} = \\frac{1}{k} \\sum_{i=1}^{k} s\\big(f_{θ^{(-i)}}, D_i\\big)

    where ``θ^(−i)`` is trained on every fold but ``D_i``. With ``standardize`` each round
    fits a :class:`~chainrule.data.Standardizer` on its training folds only (no leak from
    the held-out fold).

    Args:
        build_model: returns a new, untrained model; called as ``build_model(seed)`` if it
            takes an argument (a different seed per fold), else ``build_model()``.
        data: ``(X, y)`` or a Dataset.
        k: number of folds (int ≥ 2).
        loss: loss name, Module or function (as :func:`~chainrule.train.fit`).
        optimizer: a name (``"adam"``, ``"sgd"``, …; hyperparameters from
            ``optimizer_kwargs``) or a function ``params -> Optimizer``.
        epochs, batch_size: as :func:`~chainrule.train.fit`.
        seed: seeds the folds, the models (via ``build_model(seed)``) and the shuffling.
        stratified: keep class proportions in every fold (classification only).
        metric: the score (name or function); default ``"accuracy"`` for classification,
            ``"rmse"`` for regression.
        optimizer_kwargs: e.g. ``{"lr": 0.01}``.
        standardize: z-score the inputs with training-fold statistics (default True).
        fit_kwargs: further arguments to :func:`~chainrule.train.fit` (``l2``, …).

    Returns:
        a :class:`CVResult` (``scores``, ``mean``, ``std``, ``histories``).

    Example:
        >>> from chainrule import nn, data
        >>> build = lambda s: nn.Sequential(nn.Linear(4, 8, seed=s), nn.Tanh(),
        ...                                 nn.Linear(8, 3, seed=s + 1))
        >>> r = cross_validate(build, data.iris(), k=3, epochs=30, seed=0,
        ...                    optimizer_kwargs={"lr": 0.05})
        >>> len(r.scores), r.mean > 0.85
        (3, True)
    """
    from ..data import KFold, Standardizer, StratifiedKFold
    from ..optim import get_optimizer
    from .loop import _is_classification, evaluate, fit, get_loss

    if not callable(build_model):
        raise TypeError(f"build_model must be callable, got {type(build_model).__name__}")
    check_int(k, "k", 2)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    if not isinstance(stratified, bool):
        raise TypeError(f"stratified must be a bool, got {type(stratified).__name__}")
    if isinstance(optimizer, str):
        opt_kwargs = dict(optimizer_kwargs or {})

        def make_optimizer(params: Any) -> Any:
            return get_optimizer(optimizer, params, **opt_kwargs)
    elif callable(optimizer):
        if optimizer_kwargs:
            raise ValueError("optimizer_kwargs only applies when optimizer is a name")
        make_optimizer = optimizer
    else:
        raise TypeError(
            f"optimizer must be a name or a function params -> Optimizer, got "
            f"{type(optimizer).__name__}"
        )
    if hasattr(data, "X") and hasattr(data, "y"):
        X, y = data.X, data.y
    elif isinstance(data, (tuple, list)) and len(data) == 2:
        X, y = data
    else:
        raise TypeError(f"data must be a pair (X, y) or a Dataset, got {type(data).__name__}")
    X = np.asarray(X)
    y = np.asarray(y)
    _, loss_name = get_loss(loss)
    classification = _is_classification(loss_name, y)
    if metric is None:
        metric = "accuracy" if classification else "rmse"
    from .metrics import get_metric

    m = get_metric(metric)
    splitter_cls = StratifiedKFold if (stratified and classification) else KFold
    splitter = splitter_cls(k, shuffle=True, seed=seed)
    fold_seeds = np.random.SeedSequence(seed).generate_state(k, dtype=np.uint32)
    extra = dict(fit_kwargs or {})
    for reserved in ("epochs", "batch_size", "seed", "progress"):
        if reserved in extra:
            raise ValueError(f"fit_kwargs must not set {reserved!r}; it is an argument here")
    extra.setdefault("progress", False)
    scores, histories = [], []
    for i, (train_idx, val_idx) in enumerate(splitter.split(X, y)):
        fold_seed = int(fold_seeds[i])
        Xtr, Xval = X[train_idx], X[val_idx]
        if standardize:
            scaler = Standardizer().fit(Xtr)
            Xtr, Xval = scaler.transform(Xtr), scaler.transform(Xval)
        model = _call_builder(build_model, fold_seed)
        opt = make_optimizer(model.parameters())
        history = fit(model, loss, opt, (Xtr, y[train_idx]), epochs=epochs,
                      batch_size=batch_size, seed=fold_seed, **extra)
        result = evaluate(model, loss, (Xval, y[val_idx]), metrics=[m])
        scores.append(result[m.name])
        histories.append(history)
    return CVResult(m.name, np.array(scores, dtype=np.float64), tuple(histories))
