"""Train / dev / test splits and k-fold cross-validation.

- **train**: fit the parameters (and the scalers);
- **dev** (validation): choose hyperparameters, diagnose bias and variance, stop early;
- **test**: an unbiased estimate of the final model's error, looked at once.

The default proportions follow the textbook rule by dataset size (Andrew Ng, *Improving
Deep Neural Networks*): 60/20/20 for small data, 98/1/1 for a million examples and more,
because a dev set only has to be large enough to tell models apart.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np

from .._checks import check_int
from .preprocessing import Seed, check_lengths, check_samples, check_seed

__all__ = [
    "KFold",
    "Part",
    "Split",
    "StratifiedKFold",
    "default_fractions",
    "train_dev_test_split",
]

_SMALL_N, _LARGE_N = 10_000, 1_000_000
_SMALL = (0.6, 0.2, 0.2)
_LARGE = (0.98, 0.01, 0.01)


class Part(NamedTuple):
    """One part of a split: features and targets (unpacks as ``X, y``)."""

    X: np.ndarray
    y: np.ndarray


class Split(NamedTuple):
    """The three parts of :func:`train_dev_test_split` (unpacks as ``train, dev, test``)."""

    train: Part
    dev: Part
    test: Part


def default_fractions(n: int) -> tuple[float, float, float]:
    """The textbook train/dev/test fractions for ``n`` samples.

    ::

        n ≤ 10⁴:          (0.60, 0.20, 0.20)
        n ≥ 10⁶:          (0.98, 0.01, 0.01)
        in between:       f_dev = f_test = 0.2 · (n / 10⁴)^(log(0.05) / log(100)),
                          f_train = 1 − 2·f_dev

    In between, ``log f_dev`` is linear in ``log n`` (a power law joining the two rules), so
    the fractions change continuously and the dev set *size* ``n·f_dev = 2000·5^t`` with
    ``t = log₁₀(n/10⁴)/2`` grows steadily from 2 000 to 10 000 examples; it never shrinks
    when data is added.

    Parameters
    ----------
    n : int >= 1
        Number of samples.

    >>> default_fractions(1000)
    (0.6, 0.2, 0.2)
    >>> default_fractions(10**6)
    (0.98, 0.01, 0.01)
    >>> [round(f, 4) for f in default_fractions(10**5)]
    [0.9106, 0.0447, 0.0447]
    """
    n = check_int(n, "n", 1)
    if n <= _SMALL_N:
        return _SMALL
    if n >= _LARGE_N:
        return _LARGE
    t = math.log10(n / _SMALL_N) / math.log10(_LARGE_N / _SMALL_N)  # t ∈ (0, 1)
    f_dev = _SMALL[1] * (_LARGE[1] / _SMALL[1]) ** t
    return (1.0 - 2.0 * f_dev, f_dev, f_dev)


def _check_fractions(fractions: Any) -> tuple[float, float, float]:
    try:
        values = tuple(float(f) for f in fractions)
    except (TypeError, ValueError):
        raise TypeError(
            f"fractions must be three numbers (train, dev, test), got {fractions!r}"
        ) from None
    if len(values) != 3:
        raise ValueError(
            f"fractions must be three numbers (train, dev, test), got {len(values)}: {values}"
        )
    for label, f in zip(("train", "dev", "test"), values):
        if not 0.0 < f < 1.0:
            raise ValueError(f"the {label} fraction must be in (0, 1), got {f}")
    if not math.isclose(sum(values), 1.0, abs_tol=1e-9):
        raise ValueError(f"fractions must sum to 1, got {values} (sum {sum(values)})")
    return values  # type: ignore[return-value]


def _part_sizes(n: int, fractions: tuple[float, float, float]) -> tuple[int, int, int]:
    """Round dev and test to the nearest int (at least 1); train takes the rest."""
    n_dev = max(1, round(fractions[1] * n))
    n_test = max(1, round(fractions[2] * n))
    n_train = n - n_dev - n_test
    if n_train < 1:
        raise ValueError(
            f"n={n} samples are too few to split into train/dev/test with fractions "
            f"{fractions}; need at least 3"
        )
    return n_train, n_dev, n_test


def _class_labels(y: np.ndarray, what: str) -> np.ndarray:
    """Encode 1-D class labels as ints ``0 … K−1`` (for stratification)."""
    if y.ndim != 1:
        raise ValueError(f"{what} needs 1-D class labels, got shape {y.shape}")
    if np.issubdtype(y.dtype, np.floating) and not np.all(y == np.round(y)):
        raise ValueError(
            f"{what} needs class labels, but y has non-integer values (regression targets?)"
        )
    return np.unique(y, return_inverse=True)[1].reshape(-1)


def _stratified_assignment(
    labels: np.ndarray, sizes: Sequence[int], rng: np.random.Generator
) -> np.ndarray:
    """Assign each sample a part so that every class is spread in the parts' proportions.

    The samples are grouped by class (classes in random order, samples in random order
    within a class) and laid along a sequence in which each part's slots are spread evenly:
    slot ``j`` of part ``k`` sits at position key ``(j + ½) / n_k``. Every part gets exactly
    its size, and every class gets ``n_c·n_k/n`` of part ``k`` to within about one sample.
    """
    n = labels.shape[0]
    keys = np.concatenate([(np.arange(m) + 0.5) / m for m in sizes])
    parts = np.concatenate([np.full(m, k) for k, m in enumerate(sizes)])
    sequence = parts[np.argsort(keys, kind="stable")]
    class_rank = rng.permutation(int(labels.max()) + 1)[labels]
    order = np.lexsort((rng.random(n), class_rank))  # grouped by class, random within
    assignment = np.empty(n, dtype=np.int64)
    assignment[order] = sequence
    return assignment


def train_dev_test_split(
    X: Any,
    y: Any,
    fractions: Sequence[float] | None = None,
    stratify: bool | Any | None = None,
    seed: Seed = 0,
) -> Split:
    """Split ``(X, y)`` into shuffled train, dev and test parts.

    Part sizes: ``n_dev = round(f_dev·n)``, ``n_test = round(f_test·n)`` (each at least 1) and
    ``n_train = n − n_dev − n_test``.

    Parameters
    ----------
    X : array_like, shape (n, …)
    y : array_like, shape (n,) or (n, k)
    fractions : (f_train, f_dev, f_test), optional
        Each in (0, 1), summing to 1. Default :func:`default_fractions` ``(n)``.
    stratify : None, bool or array_like of shape (n,), default None
        ``True`` keeps every class of ``y`` in the same proportion in all three parts (to
        within one sample); an array stratifies by its labels instead; ``None``/``False``
        splits at random.
    seed : int, Generator or None, default 0

    Returns
    -------
    Split
        ``((X_train, y_train), (X_dev, y_dev), (X_test, y_test))`` as named tuples
        (``split.train.X`` …); rows are copies in random order.

    >>> (Xtr, ytr), (Xd, yd), (Xte, yte) = train_dev_test_split(np.zeros((1000, 2)),
    ...                                                           np.zeros(1000))
    >>> len(Xtr), len(Xd), len(Xte)
    (600, 200, 200)
    """
    X, y = check_samples(X, y)
    n = X.shape[0]
    if n < 3:
        raise ValueError(f"need at least 3 samples to split into train/dev/test, got {n}")
    fr = default_fractions(n) if fractions is None else _check_fractions(fractions)
    sizes = _part_sizes(n, fr)
    rng = check_seed(seed)
    if stratify is None or stratify is False:
        perm = rng.permutation(n)
        bounds = np.cumsum(sizes)[:-1]
        indices = np.split(perm, bounds)
    else:
        if stratify is True:
            labels = _class_labels(y, "stratify=True")
        else:
            strat = np.asarray(stratify)
            check_lengths(X, strat, ("X", "stratify"))
            labels = _class_labels(strat, "stratify")
        assignment = _stratified_assignment(labels, sizes, rng)
        indices = [rng.permutation(np.flatnonzero(assignment == k)) for k in range(3)]
    return Split(*(Part(X[idx], y[idx]) for idx in indices))


# ---------------------------------------------------------------------------------------------
# k-fold cross-validation
# ---------------------------------------------------------------------------------------------


class KFold:
    """K-fold cross-validation indices (scikit-learn's ``KFold`` semantics).

    The ``n`` samples (shuffled first if ``shuffle``) are cut into ``K`` consecutive folds;
    the first ``n mod K`` folds have ``⌊n/K⌋ + 1`` samples, the others ``⌊n/K⌋``. Fold ``i``
    is the validation set of round ``i`` and the other ``K − 1`` folds are its training set;
    the validation score is the mean over the ``K`` rounds.

    Parameters
    ----------
    n_splits : int >= 2, default 5
        ``K``.
    shuffle : bool, default False
    seed : int, Generator or None, default None
        Only with ``shuffle=True``. An int gives the same folds on every ``split`` call; a
        Generator, or ``None`` (the global generator, see ``chainrule.manual_seed``), new
        folds on each call.

    >>> [val.tolist() for _, val in KFold(3).split(np.zeros(5))]
    [[0, 1], [2, 3], [4]]
    """

    def __init__(self, n_splits: int = 5, shuffle: bool = False, seed: Seed = None) -> None:
        self.n_splits = check_int(n_splits, "n_splits", 2)
        if not isinstance(shuffle, bool):
            raise TypeError(f"shuffle must be a bool, got {type(shuffle).__name__}")
        if not shuffle and seed is not None:
            raise ValueError(
                "seed has no effect when shuffle=False; pass shuffle=True or leave seed=None"
            )
        if seed is not None:
            check_seed(seed)  # validate now, draw later
        self.shuffle = shuffle
        self.seed = seed

    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:
        """``K``, the number of rounds."""
        return self.n_splits

    def _n(self, X: Any, y: Any) -> int:
        n = int(np.shape(X)[0]) if np.ndim(X) else 0
        if y is not None:
            check_lengths(X, y)
        if self.n_splits > n:
            raise ValueError(
                f"n_splits={self.n_splits} cannot be greater than the number of samples n={n}"
            )
        return n

    def _test_folds(self, X: Any, y: Any) -> Iterator[np.ndarray]:
        n = self._n(X, y)
        indices = np.arange(n)
        if self.shuffle:
            indices = check_seed(self.seed).permutation(n)
        sizes = np.full(self.n_splits, n // self.n_splits)
        sizes[: n % self.n_splits] += 1
        start = 0
        for size in sizes:
            yield indices[start : start + size]
            start += size

    def split(
        self, X: Any, y: Any = None, groups: Any = None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(train_idx, val_idx)`` for each of the ``K`` rounds.

        Parameters
        ----------
        X : array_like, shape (n, …)
        y : array_like, shape (n,), optional (ignored by ``KFold``; length-checked)
        groups : ignored (scikit-learn signature)
        """
        n = int(np.shape(X)[0]) if np.ndim(X) else 0
        for val in self._test_folds(X, y):
            mask = np.ones(n, dtype=bool)
            mask[val] = False
            yield np.flatnonzero(mask), np.sort(val)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(n_splits={self.n_splits}, shuffle={self.shuffle}, "
            f"seed={self.seed!r})"
        )


class StratifiedKFold(KFold):
    """K-fold indices with every class in (nearly) the same proportion in each fold.

    scikit-learn's ``StratifiedKFold`` algorithm: classes are numbered by first appearance,
    the samples sorted by class are dealt round-robin to the folds to fix how many of each
    class every fold receives, and each class's fold assignments are shuffled when
    ``shuffle``; fold sizes differ by at most one per class. Without shuffling the result is
    identical to scikit-learn's.

    Parameters
    ----------
    n_splits : int >= 2, default 5
    shuffle : bool, default False
    seed : int, Generator or None, default None

    Raises
    ------
    ValueError
        If ``n_splits`` exceeds the size of every class (a warning if it exceeds the
        smallest).

    >>> y = np.array([0, 0, 0, 0, 1, 1])
    >>> [y[val].tolist() for _, val in StratifiedKFold(2).split(np.zeros(6), y)]
    [[0, 0, 1], [0, 0, 1]]
    """

    def _test_folds(self, X: Any, y: Any) -> Iterator[np.ndarray]:
        if y is None:
            raise ValueError("StratifiedKFold.split needs the class labels y")
        y = np.asarray(y)
        n = self._n(X, y)
        y_enc = _class_labels(y, "StratifiedKFold")
        # number the classes by order of first appearance (as scikit-learn does)
        _, first = np.unique(y_enc, return_index=True)
        y_enc = np.argsort(np.argsort(first))[y_enc]
        n_classes = int(y_enc.max()) + 1 if n else 0
        counts = np.bincount(y_enc, minlength=n_classes)
        if np.all(self.n_splits > counts):
            raise ValueError(
                f"n_splits={self.n_splits} cannot be greater than the number of members in "
                f"each class (largest class has {counts.max()})"
            )
        if self.n_splits > counts.min():
            warnings.warn(
                f"the least populated class in y has only {counts.min()} members, which is "
                f"less than n_splits={self.n_splits}",
                UserWarning,
                stacklevel=3,
            )
        y_order = np.sort(y_enc)
        allocation = np.asarray(
            [np.bincount(y_order[i :: self.n_splits], minlength=n_classes)
             for i in range(self.n_splits)]
        )
        rng = check_seed(self.seed) if self.shuffle else None
        test_folds = np.empty(n, dtype=np.int64)
        for k in range(n_classes):
            folds_for_class = np.arange(self.n_splits).repeat(allocation[:, k])
            if rng is not None:
                rng.shuffle(folds_for_class)
            test_folds[y_enc == k] = folds_for_class
        for i in range(self.n_splits):
            yield np.flatnonzero(test_folds == i)
