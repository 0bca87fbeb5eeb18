"""chainrule.nn: modules, layers, activations, losses, initialisers and penalties.

>>> import chainrule as cr
>>> from chainrule import nn
>>> model = nn.Sequential(nn.Linear(4, 8, init="he", seed=0), nn.ReLU(), nn.Linear(8, 3, seed=1))
>>> model(cr.ones(2, 4)).shape
(2, 3)
"""

from . import functional, init
from .activations import (
    ACTIVATIONS,
    ELU,
    GELU,
    SELU,
    Identity,
    LeakyReLU,
    LogSoftmax,
    ReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Softplus,
    Swish,
    Tanh,
    get_activation,
)
from .builders import mlp
from .conv import (
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AvgPool1d,
    AvgPool2d,
    Conv1d,
    Conv2d,
    MaxPool1d,
    MaxPool2d,
    Unflatten,
    cnn,
)
from .init import INITIALIZERS, calculate_gain, get_initializer
from .layers import BatchNorm1d, Dropout, Flatten, LayerNorm, Linear, Residual
from .losses import (
    LOSSES,
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
    get_loss,
)
from .module import (
    MODULES,
    IncompatibleKeys,
    Module,
    ModuleList,
    Parameter,
    Sequential,
    register_module,
)
from .regularization import l1_penalty, l2_penalty, weight_parameters

__all__ = [
    "ACTIVATIONS",
    "ELU",
    "GELU",
    "INITIALIZERS",
    "LOSSES",
    "MODULES",
    "SELU",
    "AdaptiveAvgPool1d",
    "AdaptiveAvgPool2d",
    "AvgPool1d",
    "AvgPool2d",
    "BCELoss",
    "BCEWithLogitsLoss",
    "BatchNorm1d",
    "Conv1d",
    "Conv2d",
    "CrossEntropyLoss",
    "Dropout",
    "Flatten",
    "HuberLoss",
    "Identity",
    "IncompatibleKeys",
    "KLDivLoss",
    "L1Loss",
    "LayerNorm",
    "LeakyReLU",
    "Linear",
    "LogSoftmax",
    "MSELoss",
    "MaxPool1d",
    "MaxPool2d",
    "Module",
    "ModuleList",
    "NLLLoss",
    "Parameter",
    "ReLU",
    "Residual",
    "Sequential",
    "SiLU",
    "Sigmoid",
    "Softmax",
    "Softplus",
    "Swish",
    "Tanh",
    "Unflatten",
    "calculate_gain",
    "cnn",
    "functional",
    "get_activation",
    "get_initializer",
    "get_loss",
    "init",
    "l1_penalty",
    "l2_penalty",
    "mlp",
    "register_module",
    "weight_parameters",
]
