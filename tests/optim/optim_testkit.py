"""Shared pieces of the optimiser tests: a small tanh MLP written twice (chainrule, torch).

The network is explicit weight tensors ``W1, b1, W2, b2`` (no ``chainrule.nn``):
``ŷ = tanh(x W1ᵀ + b1) W2ᵀ + b2`` with the mean squared error, trained on fixed batches.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

import chainrule as cr

N_IN, N_HIDDEN, N_OUT, BATCH = 4, 6, 2, 8
NAMES = ("W1", "b1", "W2", "b2")


def initial_weights(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "W1": rng.normal(0, 0.7, (N_HIDDEN, N_IN)),
        "b1": rng.normal(0, 0.1, N_HIDDEN),
        "W2": rng.normal(0, 0.7, (N_OUT, N_HIDDEN)),
        "b2": rng.normal(0, 0.1, N_OUT),
    }


def batches(steps: int, seed: int = 1) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(steps):
        x = rng.normal(size=(BATCH, N_IN))
        y = np.stack([np.sin(x[:, 0] + x[:, 1]), x[:, 2] * x[:, 3]], axis=1)
        out.append((x, y + 0.05 * rng.normal(size=y.shape)))
    return out


def cr_params(weights: dict[str, np.ndarray], dtype: Any = np.float64) -> list[cr.Tensor]:
    return [cr.tensor(weights[n].astype(dtype), requires_grad=True) for n in NAMES]


def torch_params(weights: dict[str, np.ndarray]) -> list[torch.Tensor]:
    return [torch.tensor(weights[n], dtype=torch.float64, requires_grad=True) for n in NAMES]


def cr_loss(params: list[cr.Tensor], x: np.ndarray, y: np.ndarray) -> cr.Tensor:
    W1, b1, W2, b2 = params
    xt = cr.tensor(x.astype(W1.data.dtype))
    h = (xt @ W1.T + b1).tanh()
    diff = h @ W2.T + b2 - cr.tensor(y.astype(W1.data.dtype))
    return (diff * diff).mean()


def torch_loss(params: list[torch.Tensor], x: np.ndarray, y: np.ndarray) -> torch.Tensor:
    W1, b1, W2, b2 = params
    h = torch.tanh(torch.from_numpy(x) @ W1.T + b1)
    diff = h @ W2.T + b2 - torch.from_numpy(y)
    return (diff * diff).mean()


def groups_of(params: list[Any], group_kwargs: list[dict[str, Any]] | None) -> Any:
    """``params`` as one list, or split in two groups (first layer, second layer)."""
    if group_kwargs is None:
        return params
    first, second = group_kwargs
    return [{"params": params[:2], **first}, {"params": params[2:], **second}]


def _train(
    loss_fn: Callable[[list[Any], np.ndarray, np.ndarray], Any],
    opt: Any, params: list[Any], data: list[tuple[np.ndarray, np.ndarray]],
    on_step: Callable[[float], None] | None,
) -> list[float]:
    """One optimiser step per batch with the same loop for both libraries; the losses."""
    losses = []
    for x, y in data:
        opt.zero_grad()
        loss = loss_fn(params, x, y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if on_step is not None:
            on_step(losses[-1])
    return losses


def train_cr(
    opt: Any, params: list[cr.Tensor], data: list[tuple[np.ndarray, np.ndarray]],
    on_step: Callable[[float], None] | None = None,
) -> list[float]:
    return _train(cr_loss, opt, params, data, on_step)


def train_torch(
    opt: Any, params: list[torch.Tensor], data: list[tuple[np.ndarray, np.ndarray]],
    on_step: Callable[[float], None] | None = None,
) -> list[float]:
    return _train(torch_loss, opt, params, data, on_step)


def json_array_round_trip(state: Any) -> Any:
    """``state`` written as safetensors-like arrays plus JSON, then read back.

    Every ndarray is moved to a flat ``{key: ndarray}`` store and replaced by a reference
    string; the rest must be JSON-serialisable (``json.dumps`` fails on anything else).
    """
    arrays: dict[str, np.ndarray] = {}

    def pack(obj: Any) -> Any:
        if isinstance(obj, np.ndarray):
            key = f"a{len(arrays)}"
            arrays[key] = obj.copy()
            return {"__array__": key}
        if isinstance(obj, dict):
            return {str(k): pack(v) for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return [pack(v) for v in obj]
        return obj

    text = json.dumps(pack(state))

    def unpack(obj: Any) -> Any:
        if isinstance(obj, dict):
            if set(obj) == {"__array__"}:
                return arrays[obj["__array__"]]
            return {k: unpack(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [unpack(v) for v in obj]
        return obj

    return unpack(json.loads(text))
