"""Data augmentation for training batches: Gaussian noise, random shifts, mixup.

Augmentation enlarges and diversifies the training data and so reduces overfitting
(variance). It belongs to **training only**: the dev and test sets must be evaluated on the
real inputs. Every augmentation here is a callable object with a ``training`` flag, like a
``Module``: ``aug.train()`` (the default) turns it on, ``aug.eval()`` makes it the identity.
Give it to the training :class:`~chainrule.data.DataLoader` (``transform=``) and not to the
evaluation loader.

Each draws from its own ``numpy.random.Generator`` (``seed``; ``None`` seeds it from the
global generator of ``chainrule.manual_seed``); ``state_dict()`` /
``load_state_dict()`` save and restore that generator so a resumed run repeats the same
augmentations.
"""

from __future__ import annotations

import copy
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._checks import check_int, check_nonneg, check_positive
from .preprocessing import Seed, check_lengths, check_seed, one_hot

__all__ = ["Augmentation", "Compose", "GaussianNoise", "Mixup", "RandomShift"]


def _float(x: Any) -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype in (np.float16, np.float32, np.float64):
        return arr
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise TypeError(f"x must be numeric, got dtype {arr.dtype}")
    return arr.astype(np.float64)


def _check_batch(x: np.ndarray, min_ndim: int = 2) -> None:
    if x.ndim < min_ndim:
        raise ValueError(
            f"x must be a batch of shape (n, d) or (n, ...), got shape {x.shape}"
        )


class Augmentation:
    """Base class: a random transform of a batch that is active only in training mode.

    Subclasses implement ``forward(x)`` (or override ``__call__`` when they also change the
    targets, and set ``transforms_targets = True``).

    Attributes
    ----------
    training : bool
        ``True`` after ``train()`` (the default), ``False`` after ``eval()``.
    rng : numpy.random.Generator
    transforms_targets : bool
        Whether the object is called as ``aug(x, y) -> (x, y)`` (mixup) rather than
        ``aug(x) -> x``; the ``DataLoader`` reads it.
    """

    transforms_targets = False

    def __init__(self, seed: Seed = None) -> None:
        self.rng = check_seed(seed, own=True)
        self.training = True

    def train(self, mode: bool = True) -> Augmentation:
        """Switch the augmentation on (``mode=True``) or off; returns ``self``."""
        if not isinstance(mode, bool):
            raise TypeError(f"mode must be a bool, got {type(mode).__name__}")
        self.training = mode
        return self

    def eval(self) -> Augmentation:
        """Switch the augmentation off: ``aug(x)`` returns ``x`` unchanged."""
        return self.train(False)

    def forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def __call__(self, x: Any) -> np.ndarray:
        """Apply the augmentation to batch ``x`` in training mode; identity in eval mode."""
        if not self.training:
            return x
        arr = _float(x)
        _check_batch(arr)
        return self.forward(arr)

    def state_dict(self) -> dict[str, Any]:
        """``{"bit_generator": rng.bit_generator.state, "training": bool}``."""
        return {"bit_generator": copy.deepcopy(self.rng.bit_generator.state),
                "training": self.training}

    def load_state_dict(self, state: dict[str, Any]) -> Augmentation:
        """Restore the generator state (and the mode) saved by ``state_dict()``."""
        if not isinstance(state, dict) or "bit_generator" not in state:
            raise ValueError("state must be a dict with key 'bit_generator' from state_dict()")
        self.rng.bit_generator.state = copy.deepcopy(state["bit_generator"])
        if "training" in state:
            self.training = bool(state["training"])
        return self


class GaussianNoise(Augmentation):
    """Additive Gaussian noise: ``x̃ = x + ε``, ``ε ~ N(0, std²)`` drawn per entry.

    Parameters
    ----------
    std : float >= 0, default 0.1
        Standard deviation of ``ε`` (in the units of the standardised inputs).
    seed : int, Generator or None, default None

    >>> aug = GaussianNoise(0.1, seed=0)
    >>> x = np.zeros((2, 3))
    >>> aug(x).shape, aug.eval()(x) is x
    ((2, 3), True)
    """

    def __init__(self, std: float = 0.1, seed: Seed = None) -> None:
        std = check_nonneg(std, "std")
        super().__init__(seed)
        self.std = std

    def forward(self, x: np.ndarray) -> np.ndarray:
        eps = self.std * self.rng.standard_normal(x.shape)
        return (x + eps).astype(x.dtype, copy=False)

    def __repr__(self) -> str:
        return f"GaussianNoise(std={self.std})"


def _shift_indices(
    length: int, s: np.ndarray, circular: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Source index ``j − s`` for each output position ``j``, and whether it is in range."""
    src = np.arange(length)[None, :] - s[:, None]
    if circular:
        return src % length, np.ones(src.shape, dtype=bool)
    valid = (src >= 0) & (src < length)
    return np.clip(src, 0, length - 1), valid


class RandomShift(Augmentation):
    """Shift each sample by a random whole number of positions (translation invariance).

    For a 1-D signal ``x`` of length ``d`` and a shift ``s ~ U{−max_shift, …, max_shift}``
    drawn per sample::

        x̃[j] = x[(j − s) mod d]                          (mode="circular")
        x̃[j] = x[j − s] if 0 ≤ j − s < d else 0           (mode="zero")

    For small images (``image_shape=(H, W)`` with rows of length ``H·W``, or batches of
    shape ``(n, H, W)``) the row and column shifts are drawn independently and applied the
    same way along each axis. A positive ``s`` moves the content right (down).

    Parameters
    ----------
    max_shift : int >= 0, default 1
    seed : int, Generator or None, default None
    image_shape : (int, int), optional
        ``(H, W)`` to read each flat row as an image, e.g. ``(8, 8)`` for ``digits``.
    mode : {"zero", "circular"}, default "zero"

    >>> aug = RandomShift(1, seed=0, mode="circular")
    >>> sorted(aug(np.arange(4.0)[None, :]).ravel().tolist())
    [0.0, 1.0, 2.0, 3.0]
    """

    def __init__(
        self,
        max_shift: int = 1,
        seed: Seed = None,
        image_shape: Sequence[int] | None = None,
        mode: str = "zero",
    ) -> None:
        check_int(max_shift, "max_shift", 0)
        if mode not in ("zero", "circular"):
            raise ValueError(f"mode must be 'zero' or 'circular', got {mode!r}")
        if image_shape is not None:
            shape = tuple(image_shape)
            if len(shape) != 2 or not all(
                isinstance(v, numbers.Integral) and not isinstance(v, bool) and v > 0
                for v in shape
            ):
                raise ValueError(
                    f"image_shape must be two positive ints (H, W), got {image_shape!r}"
                )
            image_shape = (int(shape[0]), int(shape[1]))
        super().__init__(seed)
        self.max_shift = int(max_shift)
        self.image_shape = image_shape
        self.mode = mode

    def forward(self, x: np.ndarray) -> np.ndarray:
        n = x.shape[0]
        circular = self.mode == "circular"
        rows = np.arange(n)
        if self.image_shape is None and x.ndim == 2:
            s = self.rng.integers(-self.max_shift, self.max_shift + 1, size=n)
            src, valid = _shift_indices(x.shape[1], s, circular)
            out = x[rows[:, None], src]
            if not circular:
                out[~valid] = 0
            return out
        if self.image_shape is not None:
            H, W = self.image_shape
            if int(np.prod(x.shape[1:])) != H * W:
                raise ValueError(
                    f"image_shape {self.image_shape} needs {H * W} values per sample, "
                    f"got x of shape {x.shape}"
                )
        elif x.ndim == 3:
            H, W = x.shape[1:]
        else:
            raise ValueError(
                f"x must be (n, d) signals or (n, H, W) images, got shape {x.shape}; "
                "pass image_shape to read flat rows as images"
            )
        images = x.reshape(n, H, W)
        s = self.rng.integers(-self.max_shift, self.max_shift + 1, size=(n, 2))
        src_r, valid_r = _shift_indices(H, s[:, 0], circular)
        src_c, valid_c = _shift_indices(W, s[:, 1], circular)
        out = images[rows[:, None, None], src_r[:, :, None], src_c[:, None, :]]
        if not circular:
            out[~(valid_r[:, :, None] & valid_c[:, None, :])] = 0
        return out.reshape(x.shape)

    def __repr__(self) -> str:
        return (
            f"RandomShift(max_shift={self.max_shift}, image_shape={self.image_shape}, "
            f"mode={self.mode!r})"
        )


class Mixup(Augmentation):
    """Mixup (Zhang et al., 2018): train on convex combinations of pairs of samples.

    One ``λ`` per batch and a random pairing ``j = π(i)`` (a permutation of the batch)::

        λ ~ Beta(α, α)
        x̃ᵢ = λ·xᵢ + (1 − λ)·xⱼ
        ỹᵢ = λ·yᵢ + (1 − λ)·yⱼ        (y one-hot, or float targets)

    Integer labels are one-hot encoded first (``num_classes`` needed), so the mixed targets
    are class probabilities, as ``cross_entropy`` with probability targets expects. Called
    as ``mixup(x, y) -> (x̃, ỹ)``; in eval mode it returns ``(x, y)`` unchanged.

    Parameters
    ----------
    alpha : float > 0, default 0.2
        ``α``; small values keep ``λ`` near 0 or 1 (mild mixing).
    seed : int, Generator or None, default None
    num_classes : int, optional
        ``K``, to one-hot integer labels.

    Attributes
    ----------
    lam_ : float
        The ``λ`` of the last batch.

    Reference: H. Zhang, M. Cisse, Y. N. Dauphin, D. Lopez-Paz, "mixup: Beyond Empirical
    Risk Minimization", ICLR 2018.

    >>> mix = Mixup(alpha=0.4, seed=0, num_classes=2)
    >>> x_mix, y_mix = mix(np.eye(2), np.array([0, 1]))
    >>> bool(np.allclose(y_mix.sum(axis=1), 1.0))
    True
    """

    transforms_targets = True

    def __init__(self, alpha: float = 0.2, seed: Seed = None, num_classes: int | None = None):
        check_positive(alpha, "alpha")
        if num_classes is not None and (
            isinstance(num_classes, bool)
            or not isinstance(num_classes, numbers.Integral)
            or num_classes < 1
        ):
            raise ValueError(f"num_classes must be a positive int or None, got {num_classes!r}")
        super().__init__(seed)
        self.alpha = float(alpha)
        self.num_classes = None if num_classes is None else int(num_classes)
        self.lam_: float | None = None

    def __call__(self, x: Any, y: Any = None) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[override]
        """Return the mixed batch ``(x̃, ỹ)``; ``(x, y)`` unchanged in eval mode."""
        if y is None:
            raise TypeError("Mixup mixes targets too: call it as mixup(x, y)")
        if not self.training:
            return x, y
        x_arr = _float(x)
        _check_batch(x_arr, 1)
        y_arr = np.asarray(y)
        check_lengths(x_arr, y_arr, ("x", "y"))
        if np.issubdtype(y_arr.dtype, np.integer) or y_arr.dtype == np.bool_:
            if y_arr.ndim != 1:
                raise ValueError(f"integer labels y must be 1-D, got shape {y_arr.shape}")
            if self.num_classes is None:
                raise ValueError(
                    "Mixup got integer labels but num_classes=None; pass num_classes to "
                    "one-hot them (or give one-hot float targets)"
                )
            Y = one_hot(y_arr, self.num_classes, dtype=x_arr.dtype)
        elif np.issubdtype(y_arr.dtype, np.floating):
            Y = y_arr
        else:
            raise TypeError(f"y must be integer labels or float targets, got dtype {y_arr.dtype}")
        lam = float(self.rng.beta(self.alpha, self.alpha))
        j = self.rng.permutation(x_arr.shape[0])
        self.lam_ = lam
        x_mix = lam * x_arr + (1.0 - lam) * x_arr[j]
        y_mix = lam * Y + (1.0 - lam) * Y[j]
        return x_mix.astype(x_arr.dtype, copy=False), y_mix.astype(Y.dtype, copy=False)

    def __repr__(self) -> str:
        return f"Mixup(alpha={self.alpha}, num_classes={self.num_classes})"


class Compose(Augmentation):
    """Apply several augmentations in turn: ``x̃ = tₖ(… t₂(t₁(x)))``.

    ``train()`` / ``eval()`` and ``state_dict()`` reach every member. If any member
    transforms targets (``Mixup``), the composition is called as ``aug(x, y)``.

    Parameters
    ----------
    transforms : sequence of Augmentation (or plain callables ``x -> x``)

    >>> aug = Compose([RandomShift(1, seed=0), GaussianNoise(0.01, seed=1)])
    >>> aug(np.zeros((2, 5))).shape
    (2, 5)
    """

    def __init__(self, transforms: Sequence[Any]) -> None:
        transforms = list(transforms)
        for t in transforms:
            if not callable(t):
                raise TypeError(f"every transform must be callable, got {t!r}")
        super().__init__(0)
        self.transforms = transforms
        self.transforms_targets = any(
            getattr(t, "transforms_targets", False) for t in transforms
        )

    def train(self, mode: bool = True) -> Compose:
        super().train(mode)
        for t in self.transforms:
            if hasattr(t, "train"):
                t.train(mode)
        return self

    def __call__(self, x: Any, y: Any = None) -> Any:  # type: ignore[override]
        """Apply every member in order; returns ``x̃`` or ``(x̃, ỹ)`` (if ``y`` given)."""
        if self.transforms_targets and y is None:
            raise TypeError("this Compose contains Mixup: call it as aug(x, y)")
        if not self.training:
            return x if y is None else (x, y)
        for t in self.transforms:
            if getattr(t, "transforms_targets", False):
                x, y = t(x, y)
            else:
                x = t(x)
        return x if y is None else (x, y)

    def state_dict(self) -> dict[str, Any]:
        """``{"transforms": [member state, …], "training": bool}``."""
        return {
            "transforms": [t.state_dict() if hasattr(t, "state_dict") else None
                           for t in self.transforms],
            "training": self.training,
        }

    def load_state_dict(self, state: dict[str, Any]) -> Compose:
        """Restore every member from ``state_dict()``."""
        if not isinstance(state, dict) or "transforms" not in state:
            raise ValueError("state must be a dict with key 'transforms' from state_dict()")
        if len(state["transforms"]) != len(self.transforms):
            raise ValueError(
                f"state has {len(state['transforms'])} transforms, this Compose has "
                f"{len(self.transforms)}"
            )
        for t, s in zip(self.transforms, state["transforms"]):
            if s is not None and hasattr(t, "load_state_dict"):
                t.load_state_dict(s)
        if "training" in state:
            self.training = bool(state["training"])
        return self

    def __repr__(self) -> str:
        return f"Compose({self.transforms!r})"
