"""chainrule.data: datasets, preprocessing, splits, mini-batch loading and augmentation.

NumPy only at import time (scikit-learn is imported when a bundled dataset is loaded).

>>> from chainrule import data
>>> ds = data.load_dataset("moons", n=300, noise=0.2, seed=0)
>>> (Xtr, ytr), (Xd, yd), (Xte, yte) = data.train_dev_test_split(ds.X, ds.y, stratify=True)
>>> scaler = data.Standardizer().fit(Xtr)
>>> loader = data.DataLoader(scaler.transform(Xtr), ytr, batch_size=64, seed=0)
>>> len(loader)
3
"""

from .augment import Augmentation, Compose, GaussianNoise, Mixup, RandomShift
from .datasets import (
    DATASETS,
    IMAGE_SHAPES,
    MNIST1D_SPLIT,
    Dataset,
    DatasetInfo,
    as_images,
    breast_cancer,
    circles,
    diabetes,
    digits,
    higham,
    house_prices,
    iris,
    list_datasets,
    load_csv,
    load_dataset,
    load_npz,
    mnist1d,
    mnist1d_shuffled,
    moons,
    spirals,
    universal,
    wine,
    xor,
)
from .loader import DataLoader
from .preprocessing import (
    MinMaxScaler,
    NotFittedError,
    Standardizer,
    check_finite,
    check_labels,
    check_lengths,
    check_seed,
    one_hot,
)
from .splits import (
    KFold,
    Part,
    Split,
    StratifiedKFold,
    default_fractions,
    train_dev_test_split,
)

__all__ = [
    "DATASETS",
    "IMAGE_SHAPES",
    "MNIST1D_SPLIT",
    "Augmentation",
    "Compose",
    "DataLoader",
    "Dataset",
    "DatasetInfo",
    "GaussianNoise",
    "KFold",
    "MinMaxScaler",
    "Mixup",
    "NotFittedError",
    "Part",
    "RandomShift",
    "Split",
    "Standardizer",
    "StratifiedKFold",
    "as_images",
    "breast_cancer",
    "check_finite",
    "check_labels",
    "check_lengths",
    "check_seed",
    "circles",
    "default_fractions",
    "diabetes",
    "digits",
    "higham",
    "house_prices",
    "iris",
    "list_datasets",
    "load_csv",
    "load_dataset",
    "load_npz",
    "mnist1d",
    "mnist1d_shuffled",
    "moons",
    "one_hot",
    "spirals",
    "train_dev_test_split",
    "universal",
    "wine",
    "xor",
]
