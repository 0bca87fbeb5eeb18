"""The one shared PyTorch oracle: forward and gradients of chainrule vs torch, in float64.

`check_against_torch(cr_fn, torch_fn, *arrays)` runs both functions on the same float64
inputs, compares the outputs, then back-propagates the same random cotangent `ḡ` through
both (`cr.autograd_grad` vs `torch.autograd.grad`) and compares every input gradient.
Non-float inputs (indices, masks) are passed through unchanged and get no gradient.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

import chainrule as cr

RTOL = 1e-9
ATOL = 1e-11


def _is_float(a: Any) -> bool:
    return isinstance(a, np.ndarray) and a.dtype.kind == "f"


def to_torch(a: Any) -> Any:
    if _is_float(a):
        return torch.tensor(a, dtype=torch.float64, requires_grad=True)
    if isinstance(a, np.ndarray):
        return torch.from_numpy(a)
    return a


def to_cr(a: Any) -> Any:
    if _is_float(a):
        return cr.tensor(a.astype(np.float64), requires_grad=True)
    if isinstance(a, np.ndarray):
        return cr.tensor(a)
    return a


def check_against_torch(
    cr_fn: Callable[..., Any],
    torch_fn: Callable[..., Any],
    *arrays: Any,
    rtol: float = RTOL,
    atol: float = ATOL,
    seed: int = 0,
    second_order: bool = False,
) -> None:
    """Assert that chainrule matches torch on values and gradients (and, optionally, on
    the gradient of ⟨∇, v⟩ — a Hessian-vector product — via create_graph)."""
    arrays = tuple(np.array(a, dtype=np.float64) if isinstance(a, float) else a for a in arrays)
    c_in = [to_cr(a) for a in arrays]
    t_in = [to_torch(a) for a in arrays]
    c_out = cr_fn(*c_in)
    t_out = torch_fn(*t_in)
    np.testing.assert_allclose(
        c_out.numpy(), t_out.detach().numpy(), rtol=rtol, atol=atol, err_msg="forward differs"
    )
    assert c_out.dtype == np.float64, f"float64 inputs gave {c_out.dtype}"
    rng = np.random.default_rng(seed)
    gbar = rng.standard_normal(c_out.shape)
    c_req = [c for c in c_in if isinstance(c, cr.Tensor) and c.requires_grad]
    t_req = [t for t in t_in if isinstance(t, torch.Tensor) and t.requires_grad]
    if not c_req:
        return
    c_grads = cr.autograd_grad(
        c_out, c_req, grad_outputs=cr.tensor(gbar), create_graph=second_order
    )
    t_grads = torch.autograd.grad(
        t_out, t_req, grad_outputs=torch.tensor(gbar), allow_unused=True,
        create_graph=second_order,
    )
    for k, (cg, tg) in enumerate(zip(c_grads, t_grads)):
        expected = np.zeros(c_req[k].shape) if tg is None else tg.detach().numpy()
        np.testing.assert_allclose(
            cg.numpy(), expected, rtol=rtol, atol=atol, err_msg=f"gradient of input {k} differs"
        )
    if second_order:
        v = [rng.standard_normal(c.shape) for c in c_req]
        c_s = sum((cg * cr.tensor(vk)).sum() for cg, vk in zip(c_grads, v))
        t_s = sum(
            (tg * torch.tensor(vk)).sum() for tg, vk in zip(t_grads, v) if tg is not None
        )
        if not (isinstance(t_s, torch.Tensor) and t_s.requires_grad):
            return
        c_h = cr.autograd_grad(c_s, c_req) if c_s.requires_grad else [None] * len(c_req)
        t_h = torch.autograd.grad(t_s, t_req, allow_unused=True)
        for k, (ch, th) in enumerate(zip(c_h, t_h)):
            expected = np.zeros(c_req[k].shape) if th is None else th.numpy(force=True)
            got = np.zeros(c_req[k].shape) if ch is None else ch.numpy()
            np.testing.assert_allclose(
                got, expected, rtol=rtol, atol=atol,
                err_msg=f"second-order (Hessian-vector) product for input {k} differs",
            )
