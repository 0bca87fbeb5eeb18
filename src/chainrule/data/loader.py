"""Mini-batches over in-memory arrays, reshuffled every epoch, with a resumable RNG."""

from __future__ import annotations

import copy
import math
import numbers
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from .preprocessing import Seed, check_samples, check_seed

__all__ = ["DataLoader"]


class DataLoader:
    """Iterate over ``(X, y)`` in mini-batches ``(X_b, y_b)`` of ``batch_size`` rows.

    Mini-batch gradient descent splits the training set of ``n`` samples into
    ``B = ⌈n / batch_size⌉`` batches (``⌊n / batch_size⌋`` with ``drop_last``) and takes one
    step per batch; one pass over all batches is an epoch. With ``shuffle`` each epoch uses
    a fresh permutation ``π`` drawn from a ``numpy.random.Generator``, so batch ``b`` holds
    the samples ``π[b·batch_size : (b+1)·batch_size]`` and every sample appears exactly once
    per epoch.

    Choosing the batch size: the textbook advice (Ng) is a power of two between 64 and
    512 — e.g. 64, 128, 256, 512 — because arrays whose sizes are powers of two align with
    memory pages, cache lines and SIMD widths, and the batch should fit comfortably in
    (CPU or GPU) memory. A training set of about 2000 samples or fewer can simply be one
    batch (plain gradient descent); ``batch_size=1`` is stochastic gradient descent.

    Resuming: ``state_dict()`` holds the generator's ``bit_generator.state``, the number of
    epochs started and, if the ``transform`` has one, its state; ``load_state_dict()`` on a
    new loader then produces exactly the batches the original would have produced next
    (from the start of the next epoch).

    Parameters
    ----------
    X : ndarray, shape (n, …)
        Inputs (not copied; batches are copies when shuffling, views otherwise).
    y : ndarray, shape (n,) or (n, k)
        Targets.
    batch_size : int >= 1, default 32
    shuffle : bool, default True
        Reshuffle at the start of every epoch (turn off for evaluation).
    seed : int, Generator or None, default None
        The generator for shuffling. ``None`` seeds the loader's own generator from the
        global one (``chainrule.manual_seed``).
    drop_last : bool, default False
        Drop the last, smaller batch (it would give a noisier gradient step).
    transform : callable, optional
        Applied to every input batch, for augmentation: ``X_b = transform(X_b)``, or
        ``X_b, y_b = transform(X_b, y_b)`` when ``transform.transforms_targets`` is true
        (``Mixup``). Use it on the training loader only; augmentations from
        :mod:`chainrule.data.augment` are also switched off by their ``eval()``.

    >>> X, y = np.arange(10.0).reshape(5, 2), np.arange(5)
    >>> loader = DataLoader(X, y, batch_size=2, shuffle=False)
    >>> len(loader), [yb.tolist() for _, yb in loader]
    (3, [[0, 1], [2, 3], [4]])
    """

    def __init__(
        self,
        X: Any,
        y: Any,
        batch_size: int = 32,
        shuffle: bool = True,
        seed: Seed = None,
        drop_last: bool = False,
        transform: Callable[..., Any] | None = None,
    ) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral):
            raise TypeError(
                f"batch_size must be a positive int, got {type(batch_size).__name__} "
                f"{batch_size!r}"
            )
        if batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size}")
        for flag, value in (("shuffle", shuffle), ("drop_last", drop_last)):
            if not isinstance(value, bool):
                raise TypeError(f"{flag} must be a bool, got {type(value).__name__} {value!r}")
        if transform is not None and not callable(transform):
            raise TypeError(f"transform must be callable or None, got {transform!r}")
        X, y = check_samples(X, y)
        n = X.shape[0]
        if n == 0:
            raise ValueError("X has no samples")
        if drop_last and batch_size > n:
            raise ValueError(
                f"drop_last=True with batch_size={batch_size} > n_samples={n} would give no "
                "batches"
            )
        self.X = X
        self.y = y
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.transform = transform
        self.rng = check_seed(seed, own=True)
        self.epoch = 0

    @property
    def n_samples(self) -> int:
        """``n``, the number of rows of ``X``."""
        return int(self.X.shape[0])

    def __len__(self) -> int:
        """The number of batches per epoch."""
        if self.drop_last:
            return self.n_samples // self.batch_size
        return math.ceil(self.n_samples / self.batch_size)

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Start an epoch: draw the permutation now, then yield the batches."""
        self.epoch += 1
        order = self.rng.permutation(self.n_samples) if self.shuffle else None
        return self._batches(order)

    def _batches(self, order: np.ndarray | None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        bs = self.batch_size
        for b in range(len(self)):
            if order is None:
                xb, yb = self.X[b * bs : (b + 1) * bs], self.y[b * bs : (b + 1) * bs]
            else:
                idx = order[b * bs : (b + 1) * bs]
                xb, yb = self.X[idx], self.y[idx]
            if self.transform is not None:
                if getattr(self.transform, "transforms_targets", False):
                    xb, yb = self.transform(xb, yb)
                else:
                    xb = self.transform(xb)
            yield xb, yb

    def state_dict(self) -> dict[str, Any]:
        """``{"epoch": int, "bit_generator": dict, "transform": dict | None}``.

        ``bit_generator`` is ``rng.bit_generator.state`` (plain ints and strings, JSON-able);
        save it between epochs to resume with the identical batch order.
        """
        state_fn = getattr(self.transform, "state_dict", None)
        return {
            "epoch": self.epoch,
            "bit_generator": copy.deepcopy(self.rng.bit_generator.state),
            "transform": state_fn() if callable(state_fn) else None,
        }

    def load_state_dict(self, state: dict[str, Any]) -> DataLoader:
        """Restore ``state_dict()``: the next epoch repeats the saved run's next epoch."""
        if not isinstance(state, dict):
            raise TypeError(f"state must be a dict, got {type(state).__name__}")
        missing = [k for k in ("epoch", "bit_generator") if k not in state]
        if missing:
            raise ValueError(f"state is missing keys {missing}; expected a DataLoader state_dict")
        epoch = state["epoch"]
        if isinstance(epoch, bool) or not isinstance(epoch, numbers.Integral) or epoch < 0:
            raise ValueError(f"state['epoch'] must be an int >= 0, got {epoch!r}")
        try:
            self.rng.bit_generator.state = copy.deepcopy(state["bit_generator"])
        except (TypeError, ValueError, KeyError) as e:
            raise ValueError(f"state['bit_generator'] does not fit this generator: {e}") from None
        if state.get("transform") is not None:
            if not hasattr(self.transform, "load_state_dict"):
                raise ValueError("state has a transform state but this loader's transform "
                                 "cannot load one")
            self.transform.load_state_dict(state["transform"])
        self.epoch = int(epoch)
        return self

    def __repr__(self) -> str:
        return (
            f"DataLoader(n_samples={self.n_samples}, batch_size={self.batch_size}, "
            f"shuffle={self.shuffle}, drop_last={self.drop_last}, batches={len(self)})"
        )
