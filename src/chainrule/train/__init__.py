"""chainrule.train: the fit loop, callbacks, history, checkpoints and diagnosis.

>>> import numpy as np
>>> from chainrule import nn, optim, train
>>> X = np.random.default_rng(0).normal(size=(100, 2)); y = (X.sum(axis=1) > 0).astype(int)
>>> model = nn.Sequential(nn.Linear(2, 8, seed=0), nn.Tanh(), nn.Linear(8, 2, seed=1))
>>> history = train.fit(model, "cross_entropy", optim.Adam(model.parameters(), lr=0.05),
...                     (X[:80], y[:80]), (X[80:], y[80:]), epochs=30, seed=0, progress=False)
>>> history.best_epoch("dev_loss") > 1, train.diagnose(history).verdict in train.VERDICTS
(True, True)
"""

from .bias_variance import (
    BiasVariance,
    bias_variance_decomposition,
    mlp_fitter,
    polynomial_fitter,
)
from .callbacks import (
    Callback,
    EarlyStopping,
    GradientMonitor,
    LRSchedulerCallback,
    ModelCheckpoint,
)
from .checkpoint import atomic_write_bytes, load_checkpoint, save_checkpoint
from .diagnosis import (
    HIGH_BIAS_REMEDIES,
    HIGH_VARIANCE_REMEDIES,
    VERDICTS,
    CVResult,
    Diagnosis,
    cross_validate,
    diagnose,
)
from .finetune import FrozenParameters, freeze, frozen_parameters, layer_names
from .history import History
from .loggers import CSVLogger, TensorBoardLogger
from .loop import (
    NonFiniteLossError,
    Trainer,
    TrainingError,
    evaluate,
    fit,
    get_loss,
    predict,
)
from .lr_find import lr_find
from .metrics import METRICS, Metric, get_metric
from .step import StepResult, TrainingStep, step_schedule
from .stopping import Patience

__all__ = [
    "HIGH_BIAS_REMEDIES",
    "HIGH_VARIANCE_REMEDIES",
    "METRICS",
    "VERDICTS",
    "BiasVariance",
    "CSVLogger",
    "CVResult",
    "Callback",
    "Diagnosis",
    "EarlyStopping",
    "FrozenParameters",
    "GradientMonitor",
    "History",
    "LRSchedulerCallback",
    "Metric",
    "ModelCheckpoint",
    "NonFiniteLossError",
    "Patience",
    "StepResult",
    "TensorBoardLogger",
    "Trainer",
    "TrainingError",
    "TrainingStep",
    "atomic_write_bytes",
    "bias_variance_decomposition",
    "cross_validate",
    "diagnose",
    "evaluate",
    "fit",
    "freeze",
    "frozen_parameters",
    "get_loss",
    "get_metric",
    "layer_names",
    "load_checkpoint",
    "lr_find",
    "mlp_fitter",
    "polynomial_fitter",
    "predict",
    "save_checkpoint",
    "step_schedule",
]
