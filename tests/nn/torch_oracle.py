"""The nn tests' oracle: every layer, activation and loss against PyTorch, in float64.

Built on the suite-wide helper ``oracle.check_against_torch`` (forward values, gradients via
``torch.autograd.grad`` for the same random cotangent, optionally Hessian-vector products),
plus chainrule's finite-difference ``cr.gradcheck``:

- ``check_fn(cr_fn, torch_fn, *arrays)`` for functions of arrays;
- ``check_module(cr_module, torch_module, x)`` for modules: the chainrule module's state is
  copied into the torch module by name (so PyTorch-style naming is checked too), and both
  are called as functions of ``(x, *parameters)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

import chainrule as cr
from chainrule import nn
from oracle import check_against_torch


def check_fn(
    cr_fn: Callable[..., Any],
    torch_fn: Callable[..., Any],
    *arrays: Any,
    second_order: bool = True,
    gradcheck: bool = True,
    rtol: float = 1e-9,
    atol: float = 1e-11,
) -> None:
    """Values and gradients (and Hessian-vector products) vs torch, then a gradcheck."""
    check_against_torch(cr_fn, torch_fn, *arrays, second_order=second_order, rtol=rtol,
                        atol=atol)
    if gradcheck and any(isinstance(a, np.ndarray) and a.dtype.kind == "f" for a in arrays):
        report = cr.gradcheck(cr_fn, *arrays)
        assert report, str(report)


def _owner(module: nn.Module, name: str) -> tuple[Any, str]:
    obj: Any = module
    *path, attr = name.split(".")
    for part in path:
        obj = obj[int(part)] if isinstance(obj, (nn.ModuleList, list, tuple)) else \
            getattr(obj, part)
    return obj, attr


def call_with(module: nn.Module, names: list[str], tensors: tuple[Any, ...], x: Any) -> Any:
    """``module(x)`` with the parameters ``names`` temporarily replaced by ``tensors``."""
    saved = []
    for name, t in zip(names, tensors):
        owner, attr = _owner(module, name)
        saved.append((owner, attr, getattr(owner, attr)))
        setattr(owner, attr, t)
    try:
        return module(x)
    finally:
        for owner, attr, old in saved:
            setattr(owner, attr, old)


def sync_to_torch(cr_module: nn.Module, torch_module: torch.nn.Module) -> None:
    """Copy chainrule's state dict into the torch module (names must agree)."""
    sd = {k: torch.from_numpy(np.array(v)) for k, v in cr_module.state_dict().items()}
    torch_module.load_state_dict(sd, strict=True)


def check_module(
    cr_module: nn.Module,
    torch_module: torch.nn.Module,
    x: np.ndarray,
    *,
    second_order: bool = True,
    gradcheck: bool = True,
    rtol: float = 1e-9,
    atol: float = 1e-11,
) -> None:
    """Forward and gradients with respect to the input and every parameter vs torch."""
    cr_module.to(np.float64)
    torch_module.double()
    sync_to_torch(cr_module, torch_module)
    torch_module.train(cr_module.training)
    names = [n for n, _ in cr_module.named_parameters()]
    assert names == [n for n, _ in torch_module.named_parameters()]
    params = [cr_module.state_dict()[n] for n in names]
    x = np.asarray(x, dtype=np.float64)

    def cr_fn(xt: Any, *ps: Any) -> Any:
        return call_with(cr_module, names, ps, xt)

    def torch_fn(xt: Any, *ps: Any) -> Any:
        return torch.func.functional_call(torch_module, dict(zip(names, ps)), (xt,))

    check_fn(cr_fn, torch_fn, x, *params, second_order=second_order, gradcheck=False,
             rtol=rtol, atol=atol)
    if gradcheck:
        report = cr.gradcheck(cr_fn, x, *params)
        assert report, str(report)
