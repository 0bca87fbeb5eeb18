"""chainrule: the mathematics of deep learning, executable and fast.

>>> import chainrule as cr
>>> x = cr.tensor(-2.0, requires_grad=True); y = cr.tensor(5.0, requires_grad=True)
>>> z = cr.tensor(-4.0, requires_grad=True)
>>> f = (x + y) * z; f.backward()
>>> f.item(), x.grad.item(), y.grad.item(), z.grad.item()
(-12.0, -4.0, -4.0, 3.0)
"""

from . import rng
from .autodiff import (
    GradcheckReport,
    autograd_grad,
    enable_grad,
    grad,
    gradcheck,
    hessian,
    is_grad_enabled,
    jacobian,
    no_grad,
)
from .rng import manual_seed
from .tensor import Tensor, cat, concatenate, ones, stack, tensor, where, zeros

__version__ = "0.1.0"

_SUBMODULES = {
    "nn", "optim", "data", "train", "mathkit", "plots", "sklearn", "io", "functional", "trace",
    "onnx", "interop", "graphdraw",
}


def __getattr__(name: str):
    """Import submodules (``cr.nn``, ``cr.optim``, …), ``cr.save``/``cr.load`` and the graph
    drawing (``cr.draw``, ``cr.to_dot``, ``cr.explain_backward``, ``cr.record_modules``) on
    first use."""
    import importlib

    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in ("save", "load"):
        return getattr(importlib.import_module(f"{__name__}.io"), name)
    if name == "load_weights":
        return importlib.import_module(f"{__name__}.interop").load_weights
    if name in ("draw", "to_dot", "explain_backward", "record_modules"):
        return getattr(importlib.import_module(f"{__name__}.graphdraw"), name)
    raise AttributeError(f"module 'chainrule' has no attribute {name!r}")


__all__ = [
    "GradcheckReport",
    "Tensor",
    "__version__",
    "autograd_grad",
    "cat",
    "concatenate",
    "draw",
    "enable_grad",
    "explain_backward",
    "grad",
    "gradcheck",
    "hessian",
    "is_grad_enabled",
    "jacobian",
    "load",
    "load_weights",
    "manual_seed",
    "no_grad",
    "ones",
    "record_modules",
    "rng",
    "save",
    "stack",
    "tensor",
    "to_dot",
    "where",
    "zeros",
]
