"""chainrule against PyTorch, scikit-learn and a hand-written NumPy floor, on one CPU.

Every contender × workload is measured in its own fresh Python process, one after the
other: no other library's thread pool exists, let alone spins, while a contender runs.
Each process gets the same thread count (``--threads``, default: the CPUs this process may
use) through ``OMP_NUM_THREADS``/``OPENBLAS_NUM_THREADS``/``MKL_NUM_THREADS``,
``threadpoolctl`` and ``torch.set_num_threads``; it runs one warm-up round (imports, first
allocations, the BLAS threads started) and reports the best of several timed rounds, the
loss it reached (every contender of a workload runs the same steps on the same batches
from the same initial weights, so the losses agree) and the BLAS libraries loaded with
their thread counts. ``--cycles N`` runs every contender's process N times in turn and
keeps each one's best.

Workloads (the data: ``WORKLOADS``):

- ``tiny``: Higham & Higham's 2-2-3-2 sigmoid network, quadratic cost ``½‖a − y‖²``,
  one-sample SGD (η 0.05) on their 10 points, float64;
- ``mid``: 40-100-100-10 ReLU MLP, softmax cross-entropy, batch 100, Adam, float32;
- ``large``: 784-1024-1024-10 ReLU MLP, softmax cross-entropy, batch 256, SGD, float32
  (also as GFLOP/s against the machine's float32 matmul rate);
- ``digits``: 64-64-10 ReLU MLP on scikit-learn's digits, Adam, batch 32, 50 epochs, end to
  end (time and test accuracy); every contender starts from scikit-learn's initial weights
  and follows its batch order;
- ``defaults``: ``chainrule.sklearn.MLPClassifier`` against scikit-learn's with
  scikit-learn's defaults (100 units, batch 200, early-stopping rule) on standardised
  digits splits: only the import differs;
- ``lbfgs``: ``MLPClassifier(solver="lbfgs", hidden_layer_sizes=(100,))`` of
  ``chainrule.sklearn`` against scikit-learn's on the standardised breast-cancer data (one
  stratified 75/25 split): one fit each, its time, test accuracy and L-BFGS iterations;
- ``cli``: the default ``chainrule train`` run (its own training seconds and test accuracy);
- ``memory``: peak RSS of ``large`` (a fresh process per contender) and the RSS after 10³
  and after 10⁵ ``tiny`` steps;
- ``overhead``: microseconds per op on 2×2 float64 arrays with gradient tracking;
- ``cnn``: the MNIST-1D paper's CNN (Conv1d 1→25 k5 s2 p1, Conv1d 25→25 k3 s2 p1 twice,
  ReLU after each, Linear 125→10), softmax cross-entropy, batch 100, Adam lr 1e-2, float32,
  on 4,000 noisy length-40 signals; its floor keeps the activations as ``(C, N, L)`` so
  each convolution is one im2col copy and one GEMM (the losses agree to five digits for
  the first 250 steps; then float32 rounding differences grow under Adam at lr 1e-2);
- ``conv2d`` (run with ``cnn``; reported, no target): ``Conv2d`` 32→32 3×3 padding 1,
  forward and backward on a 16×32×28×28 float32 batch, chainrule against PyTorch.

``defaults``, ``lbfgs`` and ``overhead`` run only when named.

Contenders: ``numpy floor`` (the step written by hand in NumPy), ``chainrule``
(``chainrule.trace.compile_step``), ``chainrule eager`` (the tutorial loop
``opt.zero_grad(); loss_fn(model(x), y).backward(); opt.step()``), ``chainrule fit``
(``chainrule.train.fit``, per epoch, against ``numpy floor fit``: the floor doing the same
epochs with fit's shuffling and slicing), ``torch`` (eager), ``sklearn``,
``chainrule.sklearn`` and ``chainrule train``.

Run: ``python bench/run.py`` (all), ``python bench/run.py tiny mid --quick``,
``--json results.json``, ``--markdown`` (the README table), ``--report results.json``
(print a saved run again).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import inspect
import itertools
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

SEED = 0  # the shuffling seed of fit and of the floor that follows it
RoundFn = Callable[[], dict[str, Any]]  # one timed round; returns {"units": n, ...}


# ------------------------------------------------------------------------------ the specs


@dataclass(frozen=True)
class Net:
    """A network and its training: ``sizes`` of the layers, the hidden ``activation``
    (``"sigmoid"`` also on the output under the quadratic cost), the ``loss``
    (``"quadratic"``: ``½ Σ (a − y)²`` summed over the batch; ``"cross_entropy"``: mean
    softmax cross-entropy), the ``optimizer`` (``"sgd"`` or ``"adam"``) and its ``lr``."""

    sizes: tuple[int, ...]
    activation: str
    loss: str
    dtype: type
    optimizer: str
    lr: float
    batch: int


@dataclass(frozen=True)
class Workload:
    """One row of the benchmark: what is trained (``net``, ``data``, ``init``), by whom
    (``contenders``; their builders are ``BUILDERS[(kind, contender)]``), how long
    (``(full, --quick)`` pairs: ``steps`` per timed round — steps, or splits for
    ``defaults``, calls for ``overhead``, the epochs of a ``--quick`` ``cli`` run —
    and ``epochs`` per fit; ``warmup`` untimed rounds; at most ``max_rounds`` timed ones)
    and how it is shown (``unit``: ``"µs"``, ``"ms"`` or ``"s"``; ``baseline``: the
    contender the ratios divide by)."""

    name: str
    title: str
    kind: str
    contenders: tuple[str, ...]
    unit: str
    baseline: str = "numpy floor"
    net: Net | None = None
    data: Callable[[], tuple[np.ndarray, np.ndarray]] | None = None
    init: Callable[[Net], list[tuple[np.ndarray, np.ndarray]]] | None = None
    steps: tuple[int, int] = (1, 1)
    epochs: tuple[int, int] = (1, 1)
    warmup: int = 1
    max_rounds: int | None = None


HIGHAM_X = np.array(
    [[0.1, 0.1], [0.3, 0.4], [0.1, 0.5], [0.6, 0.9], [0.4, 0.2],
     [0.6, 0.3], [0.5, 0.6], [0.9, 0.2], [0.4, 0.4], [0.7, 0.6]]
)
HIGHAM_Y = np.repeat(np.array([[1.0, 0.0], [0.0, 1.0]]), 5, axis=0)


def higham_data() -> tuple[np.ndarray, np.ndarray]:
    """Higham & Higham's 10 points in the plane, two classes as one-hot columns."""
    return HIGHAM_X.copy(), HIGHAM_Y.copy()


def blobs(n: int, d: int, classes: int, dtype: Any, seed: int = 2):
    """``n`` points around ``classes`` Gaussian centres in ``d`` dimensions."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((classes, d)) * 1.5
    y = rng.integers(0, classes, n)
    x = centres[y] + rng.standard_normal((n, d))
    return x.astype(dtype), y.astype(np.int64)


def init_weights(net: Net, seed: int = 0, scale: float | None = None):
    """PyTorch's default Linear and Conv init, ``U(−1/√fan_in, 1/√fan_in)``, or
    ``N(0, scale²)`` if given; ``(W, b)`` per layer with ``W`` of shape ``(out, in)``
    (``(out, in, kernel)`` for a convolution of a :class:`ConvNet`)."""
    rng = np.random.default_rng(seed)
    out = []
    for shape in weight_shapes(net):
        if scale is None:
            bound = 1.0 / np.sqrt(np.prod(shape[1:]))
            w = rng.uniform(-bound, bound, shape)
            b = rng.uniform(-bound, bound, shape[0])
        else:
            w = scale * rng.standard_normal(shape)
            b = scale * rng.standard_normal(shape[0])
        out.append((w.astype(net.dtype), b.astype(net.dtype)))
    return out


@dataclass(frozen=True)
class ConvNet(Net):
    """A :class:`Net` after 1-D convolutions: ``convs`` rows ``(in_channels, out_channels,
    kernel, stride, padding)``, a ReLU after each, then the flattened ``(C, L)`` rows go
    through the Linear layers of ``sizes``."""

    convs: tuple[tuple[int, int, int, int, int], ...] = ()


def weight_shapes(net: Net) -> list[tuple[int, ...]]:
    """``W``'s shape per layer: ``(out, in, kernel)`` per convolution, ``(out, in)`` per
    Linear layer."""
    convs = [(o, i, k) for i, o, k, _, _ in getattr(net, "convs", ())]
    return convs + [(o, i) for i, o in itertools.pairwise(net.sizes)]


def signals(n: int = 4000, length: int = 40, classes: int = 10, noise: float = 3.0):
    """MNIST-1D's shapes: ``n`` one-channel signals ``(n, 1, length)`` (float32: the points
    of :func:`blobs` plus Gaussian noise of std ``noise``, so the loss stays well above 0
    for hundreds of steps) and their labels."""
    X, y = blobs(n, length, classes, np.float32)
    X += noise * np.random.default_rng(3).standard_normal(X.shape, dtype=np.float32)
    return X[:, None, :], y


STEP_CONTENDERS = ("numpy floor", "chainrule", "chainrule eager", "torch",
                   "numpy floor fit", "chainrule fit")
TINY = Net((2, 2, 3, 2), "sigmoid", "quadratic", np.float64, "sgd", 0.05, 1)
MID = Net((40, 100, 100, 10), "relu", "cross_entropy", np.float32, "adam", 1e-3, 100)
LARGE = Net((784, 1024, 1024, 10), "relu", "cross_entropy", np.float32, "sgd", 0.01, 256)
DIGITS = Net((64, 64, 10), "relu", "cross_entropy", np.float32, "adam", 1e-3, 32)
# the MNIST-1D paper's CNN: lengths 40 → 19 → 10 → 5, 25 channels, Linear 125 → 10
CNN = ConvNet((125, 10), "relu", "cross_entropy", np.float32, "adam", 1e-2, 100,
              convs=((1, 25, 5, 2, 1), (25, 25, 3, 2, 1), (25, 25, 3, 2, 1)))
CONV2D = (16, 32, 28, 28)  # the batch of the Conv2d report: N, C, H, W (3×3, padding 1)
OVERHEAD_CASES = ("mul 2×2", "matmul 2×2", "mul+sum+backward 2×2")

WORKLOADS: dict[str, Workload] = {w.name: w for w in (
    Workload("tiny", "Higham 2-2-3-2 sigmoid net, quadratic cost, one-sample SGD, float64; "
             "fit: 10 points × 1,000 epochs", "step", STEP_CONTENDERS, "µs", net=TINY,
             data=higham_data, init=lambda net: init_weights(net, scale=0.5),
             steps=(2000, 300), epochs=(1000, 200)),
    Workload("mid", "40-100-100-10 ReLU MLP, batch 100, Adam, float32; fit: 2,000 samples",
             "step", (*STEP_CONTENDERS, "sklearn"), "µs", net=MID,
             data=lambda: blobs(2000, 40, 10, np.float32), init=init_weights,
             steps=(200, 40), epochs=(20, 4)),
    Workload("large", "784-1024-1024-10 ReLU MLP, batch 256, SGD, float32; "
             "fit: 2,048 samples", "step", (*STEP_CONTENDERS, "sklearn"), "ms", net=LARGE,
             data=lambda: blobs(2048, 784, 10, np.float32), init=init_weights,
             steps=(8, 4), epochs=(3, 1)),
    Workload("digits", "64-64-10 ReLU MLP on scikit-learn's digits, Adam, batch 32, "
             "50 epochs, end to end (+ test accuracy)", "digits",
             ("numpy floor", "chainrule", "chainrule eager", "chainrule.sklearn", "torch",
              "sklearn"), "s", net=DIGITS, epochs=(50, 10), max_rounds=3),
    Workload("defaults", "digits with scikit-learn's defaults (100 units, batch 200, its "
             "stopping rule), per fit over standardised splits", "defaults",
             ("sklearn", "chainrule.sklearn"), "s", baseline="sklearn",
             steps=(5, 1), max_rounds=1),
    Workload("lbfgs", "breast cancer, 1 hidden layer of 100, solver='lbfgs', one fit "
             "(standardised 75/25 split)", "lbfgs", ("sklearn", "chainrule.sklearn"), "s",
             baseline="sklearn", warmup=0, max_rounds=1),
    Workload("cli", "`chainrule train`, the default digits run (its own training seconds)",
             "cli", ("chainrule train",), "s", baseline="", steps=(200, 5), warmup=0,
             max_rounds=1),
    Workload("overhead", "one op on 2×2 float64 arrays with gradient tracking", "overhead",
             ("numpy floor", "chainrule eager", "torch"), "µs", steps=(20000, 2000)),
    Workload("cnn", "the MNIST-1D paper's CNN (Conv1d 1→25 k5 s2 p1, 25→25 k3 s2 p1 ×2, "
             "ReLU, Linear 125→10), batch 100, Adam, float32", "step",
             ("numpy floor", "chainrule", "chainrule eager", "torch"), "ms", net=CNN,
             data=signals, init=init_weights, steps=(200, 40)),
    Workload("conv2d", "Conv2d 32→32 3×3 padding 1, forward + backward (∂x, ∂W, ∂b) on "
             "a 16×32×28×28 float32 batch", "conv2d", ("chainrule", "torch"), "ms",
             baseline="torch", steps=(5, 2)),
)}
ALL = (*WORKLOADS, "memory")
DEFAULT = ("tiny", "mid", "large", "digits", "cnn", "cli", "memory")
WITH = {"cnn": ("conv2d",)}  # naming a workload also runs these
# the fit contenders are compared per epoch with the floor doing the same epochs; the
# others per step (or fit, op) with the workload's baseline
FIT_BASELINE = {"chainrule fit": "numpy floor fit", "numpy floor fit": "numpy floor fit"}

# ------------------------------------------------------------------------- the floor


class HighamFloor:
    """Higham & Higham's own step for their sigmoid network under the quadratic cost, one
    sample at a time, written out in column vectors as in their paper::

        a² = σ(W² x + b²),  a³ = σ(W³ a² + b³),  a⁴ = σ(W⁴ a³ + b⁴),  C = ½‖a⁴ − y‖²
        δ⁴ = a⁴ ⊙ (1 − a⁴) ⊙ (a⁴ − y),  δ³ = a³ ⊙ (1 − a³) ⊙ (W⁴ᵀ δ⁴),  δ² = …
        Wˡ ← Wˡ − η δˡ (aˡ⁻¹)ᵀ,  bˡ ← bˡ − η δˡ

    ``step`` takes the sample as rows ``(1, 2)`` like the other contenders."""

    def __init__(self, net: Net, weights):
        if net.batch != 1 or len(weights) != 3:
            raise ValueError(f"Higham's step is for one sample and 3 layers, got {net}")
        (self.W2, b2), (self.W3, b3), (self.W4, b4) = [(w.copy(), b.copy()) for w, b in weights]
        self.b2, self.b3, self.b4 = b2[:, None], b3[:, None], b4[:, None]
        self.eta = net.lr

    def step(self, x: np.ndarray, y: np.ndarray) -> float:
        x, y = x.T, y.T
        a2 = 1.0 / (1.0 + np.exp(-(self.W2 @ x + self.b2)))
        a3 = 1.0 / (1.0 + np.exp(-(self.W3 @ a2 + self.b3)))
        a4 = 1.0 / (1.0 + np.exp(-(self.W4 @ a3 + self.b4)))
        e = a4 - y
        loss = 0.5 * float(np.vdot(e, e))
        delta4 = a4 * (1 - a4) * e
        delta3 = a3 * (1 - a3) * (self.W4.T @ delta4)
        delta2 = a2 * (1 - a2) * (self.W3.T @ delta3)
        eta = self.eta
        self.W2 -= eta * delta2 @ x.T
        self.W3 -= eta * delta3 @ a2.T
        self.W4 -= eta * delta4 @ a3.T
        self.b2 -= eta * delta2
        self.b3 -= eta * delta3
        self.b4 -= eta * delta4
        return loss


def softmax_cross_entropy(z: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """The mean softmax cross-entropy of the logits ``z`` ``(n, classes)`` for the labels
    ``y``, and its gradient ``δ = (softmax(z) − onehot(y))/n`` at the logits."""
    n = z.shape[0]
    m = z.max(axis=1, keepdims=True)
    d = np.exp(z - m)
    s = d.sum(axis=1, keepdims=True)
    rows = np.arange(n)
    loss = float(np.mean(np.log(s[:, 0]) + m[:, 0] - z[rows, y]))
    d /= s
    d[rows, y] -= 1.0
    d /= n
    return loss, d


class Floor:
    """The training step of a ReLU MLP under the mean softmax cross-entropy, by hand in
    NumPy: forward ``a⁽ˡ⁾ = relu(a⁽ˡ⁻¹⁾ Wᵀ + b)`` in place, ``δ = (softmax(z) − onehot(y))/n``
    at the logits ``z``, ``∂W = δᵀ a``, ``∂b = Σ δ``, ``δ ← (δ W) ⊙ [a > 0]``, then SGD or
    Adam (PyTorch's update)."""

    def __init__(self, net: Net, weights):
        self.net = net
        self.params = [a.copy() for wb in weights for a in wb]
        self.layers = len(weights)
        self.t = 0
        if net.optimizer == "adam":
            self.m = [np.zeros_like(p) for p in self.params]
            self.v = [np.zeros_like(p) for p in self.params]

    def step(self, x: np.ndarray, y: np.ndarray) -> float:
        ps, L = self.params, self.layers
        acts = [x]
        h = x
        for i in range(L):
            z = h @ ps[2 * i].T
            z += ps[2 * i + 1]
            h = np.maximum(z, 0, out=z) if i < L - 1 else z
            acts.append(h)
        loss, d = softmax_cross_entropy(h, y)
        grads: list[Any] = [None] * len(ps)
        for i in reversed(range(L)):
            grads[2 * i] = d.T @ acts[i]
            grads[2 * i + 1] = d.sum(axis=0)
            if i > 0:
                d = d @ ps[2 * i]
                d *= acts[i] > 0
        if self.net.optimizer == "adam":
            self._adam(grads)
        else:
            lr = self.net.lr
            for p, g in zip(ps, grads):
                p -= lr * g
        return loss

    def _adam(self, grads, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8):
        self.t += 1
        c1 = 1 - beta1**self.t
        c2 = 1 - beta2**self.t
        lr = self.net.lr
        for p, g, m, v in zip(self.params, grads, self.m, self.v):
            m *= beta1
            m += (1 - beta1) * g
            v *= beta2
            v += (1 - beta2) * (g * g)
            p -= lr * (m / c1) / (np.sqrt(v / c2) + eps)

    def predict(self, X: np.ndarray) -> np.ndarray:
        h = X
        for i in range(self.layers):
            h = h @ self.params[2 * i].T + self.params[2 * i + 1]
            if i < self.layers - 1:
                h = np.maximum(h, 0)
        return h


def floor_for(net: Net, weights) -> HighamFloor | Floor:
    """The hand-written step for ``net``: Higham's for the quadratic cost."""
    if isinstance(net, ConvNet):
        return ConvFloor(net, weights)
    return (HighamFloor if net.loss == "quadratic" else Floor)(net, weights)


# ------------------------------------------------------------------- the other models


def cr_model(net: Net, weights):
    """The chainrule Sequential of ``net`` holding ``weights``, and its optimiser."""
    from chainrule import nn, optim

    if isinstance(net, ConvNet):
        return conv_model(nn, net, weights, optim.Adam)
    layers: list[Any] = []
    for i, (w, b) in enumerate(weights):
        # init="zeros": no random draws that the copy below would throw away
        lin = nn.Linear(net.sizes[i], net.sizes[i + 1], dtype=w.dtype, init="zeros")
        lin.weight.data[...] = w
        lin.bias.data[...] = b
        layers.append(lin)
        if i < len(weights) - 1 or net.loss == "quadratic":
            layers.append(nn.Sigmoid() if net.activation == "sigmoid" else nn.ReLU())
    model = nn.Sequential(*layers)
    opt = (optim.Adam if net.optimizer == "adam" else optim.SGD)(model.parameters(), lr=net.lr)
    return model, opt


def quadratic_cost(out, y):
    """Higham's cost ``½ Σ (a − y)²`` (a chainrule loss function)."""
    from chainrule.nn import functional as F

    return F.mse_loss(out, y, reduction="sum", half=True)


def cr_loss(net: Net):
    from chainrule.nn import functional as F

    return quadratic_cost if net.loss == "quadratic" else F.cross_entropy


def torch_model(net: Net, weights):
    """The PyTorch Sequential of ``net`` holding ``weights``, its optimiser and loss."""
    import torch

    if isinstance(net, ConvNet):
        model, opt = conv_model(torch.nn, net, weights, torch.optim.Adam)
        return model, opt, torch.nn.functional.cross_entropy
    dtype = torch.float64 if net.dtype == np.float64 else torch.float32
    layers: list[Any] = []
    for i, (w, b) in enumerate(weights):
        lin = torch.nn.Linear(net.sizes[i], net.sizes[i + 1], dtype=dtype)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(w))
            lin.bias.copy_(torch.from_numpy(b))
        layers.append(lin)
        if i < len(weights) - 1 or net.loss == "quadratic":
            layers.append(torch.nn.Sigmoid() if net.activation == "sigmoid"
                          else torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    opt = (torch.optim.Adam if net.optimizer == "adam" else torch.optim.SGD)(
        model.parameters(), lr=net.lr)
    if net.loss == "quadratic":
        def loss_fn(out, y):
            return 0.5 * ((out - y) ** 2).sum()
    else:
        loss_fn = torch.nn.functional.cross_entropy
    return model, opt, loss_fn


def sklearn_settings(net: Net, epochs: int, shuffle: bool) -> dict[str, Any]:
    """``MLPClassifier`` arguments for ``net`` trained ``epochs`` epochs, nothing else
    (no penalty, no stopping rule)."""
    s: dict[str, Any] = dict(
        hidden_layer_sizes=net.sizes[1:-1], activation=net.activation, alpha=0.0,
        batch_size=net.batch, learning_rate_init=net.lr, max_iter=epochs, shuffle=shuffle,
        tol=0.0, n_iter_no_change=10**6, random_state=0,
    )
    if net.optimizer == "adam":
        s.update(solver="adam")
    else:
        s.update(solver="sgd", momentum=0.0, nesterovs_momentum=False,
                 learning_rate="constant")
    return s


def sklearn_fit(cls: Any, X, y, **settings):
    from sklearn.exceptions import ConvergenceWarning

    clf = cls(**settings)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    return clf


def _scalar(v: Any) -> float:
    return float(v.item() if hasattr(v, "item") else v)


def fit_kwargs(fit: Callable) -> dict[str, Any]:
    """``compile="auto"`` where ``fit`` accepts it (chainrule versions differ)."""
    return {"compile": "auto"} if "compile" in inspect.signature(fit).parameters else {}


# ------------------------------------------------------- the CNN and Conv2d (issue 16)


class ConvFloor(Floor):
    """The training step of a :class:`ConvNet` by hand in NumPy. The activations are kept
    as ``(C, N, L)`` (channels first, then the batch), so that each convolution is an
    im2col copy and one GEMM with no transpose of its output::

        cols[(c, k), (n, l)] = x_pad[c, n, s·l + k]       (C·K, N·L_out)
        y = W @ cols + b                                  (O, N·L_out) = (O, N, L_out)
        ∂W = g @ colsᵀ,  ∂b = Σ g,  ∂cols = Wᵀ @ g,  ∂x_pad[c, n, s·l + k] += ∂cols

    (the last line one strided add per kernel offset ``k``); then the Linear head and Adam
    of :class:`Floor`."""

    def __init__(self, net: ConvNet, weights):
        super().__init__(net, weights)
        self.convs = net.convs

    def step(self, x: np.ndarray, y: np.ndarray) -> float:
        ps, n = self.params, len(x)
        h = x.transpose(1, 0, 2)  # (C, N, L)
        saved = []
        for i, (_, cout, k, s, p) in enumerate(self.convs):
            C, _, L = h.shape
            xp = np.zeros((C, n, L + 2 * p), dtype=x.dtype)
            xp[:, :, p:p + L] = h
            Lo = (L + 2 * p - k) // s + 1
            win = np.lib.stride_tricks.sliding_window_view(xp, k, axis=2)[:, :, ::s][:, :, :Lo]
            cols = win.transpose(0, 3, 1, 2).reshape(C * k, n * Lo)
            z = ps[2 * i].reshape(cout, -1) @ cols
            z += ps[2 * i + 1][:, None]
            h = np.maximum(z, 0, out=z).reshape(cout, n, Lo)
            saved.append((cols, h, xp.shape))
        flat = h.transpose(1, 0, 2).reshape(n, -1)  # PyTorch's flatten: (N, C·L)
        j = 2 * len(self.convs)
        logits = flat @ ps[j].T
        logits += ps[j + 1]
        loss, d = softmax_cross_entropy(logits, y)
        grads: list[Any] = [None] * len(ps)
        grads[j], grads[j + 1] = d.T @ flat, d.sum(axis=0)
        g = (d @ ps[j]).reshape(n, *h.shape[::2]).transpose(1, 0, 2)
        for i in reversed(range(len(self.convs))):
            cols, h, padded = saved[i]
            _, cout, k, s, p = self.convs[i]
            g = g * (h > 0)
            g2 = g.reshape(cout, -1)
            grads[2 * i] = (g2 @ cols.T).reshape(ps[2 * i].shape)
            grads[2 * i + 1] = g2.sum(axis=1)
            if i == 0:
                break
            gcols = (ps[2 * i].reshape(cout, -1).T @ g2).reshape(-1, k, n, h.shape[2])
            gxp = np.zeros(padded, dtype=x.dtype)
            Lo = h.shape[2]
            for o in range(k):
                gxp[:, :, o:o + s * (Lo - 1) + 1:s] += gcols[:, o]
            g = gxp[:, :, p:padded[2] - p]
        self._adam(grads)
        return loss


def conv_model(nn: Any, net: ConvNet, weights, adam: Any):
    """``net`` as a Sequential of ``nn`` (``chainrule.nn`` or ``torch.nn``: the same names)
    holding ``weights``, and ``adam`` over its parameters."""
    layers: list[Any] = []
    for cin, cout, k, s, p in net.convs:
        layers += [nn.Conv1d(cin, cout, k, stride=s, padding=p), nn.ReLU()]
    layers.append(nn.Flatten())
    for i, o in itertools.pairwise(net.sizes):
        layers += [nn.Linear(i, o), nn.ReLU()]
    model = nn.Sequential(*layers[:-1])
    params = list(model.parameters())
    arrays = [a for wb in weights for a in wb]
    if nn.__name__.startswith("torch"):
        import torch

        with torch.no_grad():
            for p, a in zip(params, arrays):
                p.copy_(torch.from_numpy(a))
    else:
        for p, a in zip(params, arrays):
            p.data[...] = a
    return model, adam(params, lr=net.lr)


def build_conv2d(lib: str):
    """Rounds of ``Conv2d`` forward and backward (``∂x``, ``∂W``, ``∂b`` of ``⟨g, y⟩``) on
    the ``CONV2D`` batch, by ``lib`` (``"chainrule"``: ``F.conv2d`` and ``backward``,
    ``"torch"``: the same in PyTorch)."""

    def build(w: Workload, quick: bool):
        rng = np.random.default_rng(0)
        N, C, H, W = CONV2D
        x0 = rng.standard_normal(CONV2D, dtype=np.float32)
        w0 = (rng.standard_normal((C, C, 3, 3), dtype=np.float32) * 0.05)
        b0 = rng.standard_normal(C, dtype=np.float32)
        g0 = rng.standard_normal((N, C, H, W), dtype=np.float32)
        if lib == "torch":
            import torch as mod
            from torch.nn import functional as F

            wrap = mod.from_numpy
        else:
            import chainrule as mod
            from chainrule.nn import functional as F

            wrap = mod.tensor
        x, wt, b = (wrap(a).requires_grad_(True) for a in (x0, w0, b0))
        g = wrap(g0)
        n = w.steps[quick]

        def run():
            for _ in range(n):
                x.grad = wt.grad = b.grad = None
                F.conv2d(x, wt, b, padding=1).backward(g)
            return {"units": n}

        return run

    return build


# -------------------------------------------------------------------- the builders
# A builder makes, in the child process, the timed rounds of one contender on one workload:
# ``build(workload, quick) -> {case: round}``; a round returns ``{"units": n, ...}``
# (``"seconds"`` overrides the wall time: a contender that reports its own).


def stepper(step: Callable, batches: list[tuple[Any, Any]], n: int) -> RoundFn:
    """Rounds of ``n`` steps cycling over ``batches`` (each contender runs the same steps)."""
    B = len(batches)
    done = [0]

    def run() -> dict[str, Any]:
        i0 = done[0]
        out = None
        for i in range(i0, i0 + n):
            out = step(*batches[i % B])
        done[0] = i0 + n
        return {"units": n, "loss": _scalar(out)}

    return run


def _setup(w: Workload):
    X, Y = w.data()
    bs = w.net.batch
    batches = [(X[s : s + bs], Y[s : s + bs]) for s in range(0, len(X), bs)]
    return X, Y, batches, w.init(w.net)


def tutorial_step(model: Any, opt: Any, loss_fn: Callable) -> Callable:
    """``opt.zero_grad(); loss = loss_fn(model(x), y); loss.backward(); opt.step()`` as
    written in a tutorial (chainrule and PyTorch alike)."""

    def step(x, y):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return step


def _floor_maker(net: Net, weights):
    floor = floor_for(net, weights)
    return floor.step, getattr(floor, "predict", None)


def _cr_predict(model: Any) -> Callable[[np.ndarray], np.ndarray]:
    import chainrule as cr

    def predict(X):
        with cr.no_grad():
            return model(cr.tensor(X)).numpy()

    return predict


def _compiled_maker(net: Net, weights):
    from chainrule.trace import compile_step

    model, opt = cr_model(net, weights)
    return compile_step(model, cr_loss(net), opt), _cr_predict(model)


def _eager_maker(net: Net, weights):
    model, opt = cr_model(net, weights)
    return tutorial_step(model, opt, cr_loss(net)), _cr_predict(model)


def _torch_maker(net: Net, weights):
    import torch

    model, opt, loss_fn = torch_model(net, weights)

    def predict(X):
        with torch.no_grad():
            return model(torch.from_numpy(X)).numpy()

    return tutorial_step(model, opt, loss_fn), predict


def _as_cr(a: np.ndarray) -> Any:
    import chainrule as cr

    return cr.tensor(a)


def _as_torch(a: np.ndarray) -> Any:
    import torch

    return torch.from_numpy(a)


# contender -> (make(net, weights) -> (step(x, y), predict(X)), what its step takes)
STEPPERS: dict[str, tuple[Callable, Callable[[np.ndarray], Any]]] = {
    "numpy floor": (_floor_maker, np.asarray),
    "chainrule": (_compiled_maker, np.asarray),
    "chainrule eager": (_eager_maker, _as_cr),
    "torch": (_torch_maker, _as_torch),
}


def per_step(contender: str):
    """The builder timing rounds of one contender's training steps on a step workload."""
    make, wrap = STEPPERS[contender]

    def build(w: Workload, quick: bool):
        _, _, batches, weights = _setup(w)
        step, _ = make(w.net, weights)
        return stepper(step, [(wrap(x), wrap(y)) for x, y in batches], w.steps[quick])

    return build


def build_sklearn_steps(w: Workload, quick: bool):
    """Seconds per step of ``MLPClassifier.fit``: whole epochs over the same batches, in
    order (it cannot be stepped from outside)."""
    from sklearn.neural_network import MLPClassifier

    X, Y, batches, _ = _setup(w)
    epochs = 2 if quick else 5
    settings = sklearn_settings(w.net, epochs, shuffle=False)

    def run():
        clf = sklearn_fit(MLPClassifier, X, Y, **settings)
        return {"units": epochs * len(batches), "loss": float(clf.loss_)}

    return run


def build_floor_fit(w: Workload, quick: bool):
    """The floor doing what ``fit`` does per epoch: draw a permutation from
    ``default_rng(seed)``, slice the batches, step, average the loss."""
    X, Y, _, weights = _setup(w)
    epochs = w.epochs[quick]
    n, bs = len(X), w.net.batch

    def run():
        floor = floor_for(w.net, weights)
        rng = np.random.default_rng(SEED)
        total = 0.0
        for _ in range(epochs):
            order = rng.permutation(n)
            total = 0.0
            for s in range(0, n, bs):
                idx = order[s : s + bs]
                total += floor.step(X[idx], Y[idx]) * len(idx)
        return {"units": epochs, "loss": total / n}

    return run


def build_fit(w: Workload, quick: bool):
    from chainrule.train import fit

    X, Y, _, weights = _setup(w)
    epochs = w.epochs[quick]
    loss = "cross_entropy" if w.net.loss == "cross_entropy" else quadratic_cost
    extra = fit_kwargs(fit)

    def run():
        model, opt = cr_model(w.net, weights)
        h = fit(model, loss, opt, (X, Y), epochs=epochs, batch_size=w.net.batch, seed=SEED,
                metrics=(), progress=False, **extra)
        ran = getattr(h, "compiled", None)  # fit says whether its step ran compiled
        how = {True: "compiled", False: f"eager: {getattr(h, 'compile_reason', '?')}",
               None: "not reported"}[ran]
        return {"units": epochs, "loss": float(h.records[-1]["train_loss"]),
                "compile": f"{extra['compile']} ({how})" if extra
                else "(fit has no compile argument)"}

    return run


# digits, end to end: scikit-learn's initial weights and batch order for everyone


def digits_data():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    return train_test_split(X, y.astype(np.int64), test_size=0.25, stratify=y, random_state=0)


def sklearn_init_and_order(sizes, n: int, epochs: int, seed: int = 0):
    """The initial weights and the sample order of ``MLPClassifier(random_state=seed)``
    (ReLU, shuffle=True): Glorot-uniform ``U(−√(6/(in+out)), √(6/(in+out)))`` for ``W``
    then ``b`` layer by layer, then one ``RandomState.shuffle`` per epoch of the running
    sample order."""
    rs = np.random.RandomState(seed)
    weights = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        bound = np.sqrt(6.0 / (fan_in + fan_out))
        coef = rs.uniform(-bound, bound, (fan_in, fan_out)).astype(np.float32)
        intercept = rs.uniform(-bound, bound, fan_out).astype(np.float32)
        weights.append((np.ascontiguousarray(coef.T), intercept))
    order = np.arange(n)
    perms = []
    for _ in range(epochs):
        shuffled = np.arange(n)
        rs.shuffle(shuffled)
        order = order[shuffled]
        perms.append(order)
    return weights, perms


@dataclass
class DigitsJob:
    """What a digits contender trains: ``net`` from ``weights`` for ``epochs`` epochs over
    ``batches()`` (scikit-learn's order), or on ``(X, y)`` for the estimators."""

    net: Net
    weights: list[tuple[np.ndarray, np.ndarray]]
    batches: Callable[[], Any]
    X: np.ndarray
    y: np.ndarray
    epochs: int


def digits_fit(train: Callable[[DigitsJob], Callable[[np.ndarray], np.ndarray]]):
    """A builder from ``train(job) -> predict``: each round trains from scikit-learn's
    initial weights in its batch order and scores the test split."""

    def build(w: Workload, quick: bool):
        Xtr, Xte, ytr, yte = digits_data()
        epochs = w.epochs[quick]
        weights, perms = sklearn_init_and_order(w.net.sizes, len(Xtr), epochs)
        bs = w.net.batch

        def batches():  # each epoch: one shuffled copy of the data, then contiguous slices
            for perm in perms:
                xs, ys = Xtr[perm], ytr[perm]
                for s in range(0, len(xs), bs):
                    yield xs[s : s + bs], ys[s : s + bs]

        job = DigitsJob(w.net, weights, batches, Xtr, ytr, epochs)

        def run():
            predict = train(job)
            return {"units": 1, "accuracy": float(np.mean(predict(Xte).argmax(1) == yte))}

        return run

    return build


def _train_steps(contender: str) -> Callable[[DigitsJob], Callable]:
    """Train with one contender's step over the job's batches (converted as they come)."""
    make, wrap = STEPPERS[contender]

    def train(job: DigitsJob):
        step, predict = make(job.net, job.weights)
        for xb, yb in job.batches():
            step(wrap(xb), wrap(yb))
        return predict

    return train


def _train_estimator(module: str):
    def train(job: DigitsJob):
        import importlib

        cls = importlib.import_module(module).MLPClassifier
        return sklearn_fit(cls, job.X, job.y,
                           **sklearn_settings(job.net, job.epochs, shuffle=True)).predict_proba

    return train


# defaults: scikit-learn's defaults, only the import differs (several splits per round)


def defaults_fit(module: str):
    def build(w: Workload, quick: bool):
        import importlib

        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
        from sklearn.preprocessing import StandardScaler

        cls = importlib.import_module(module).MLPClassifier
        X, y = load_digits(return_X_y=True)
        seeds = range(w.steps[quick])

        def run():
            acc, epochs = [], []
            for seed in seeds:
                Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, stratify=y,
                                                      random_state=seed)
                scaler = StandardScaler().fit(Xtr)
                clf = sklearn_fit(cls, scaler.transform(Xtr), ytr, hidden_layer_sizes=(100,),
                                  random_state=seed)
                acc.append(clf.score(scaler.transform(Xte), yte))
                epochs.append(int(clf.n_iter_))
            return {"units": len(acc), "accuracy": float(np.mean(acc)), "epochs": epochs}

        return run

    return build


# lbfgs: one L-BFGS fit each, only the import differs


def lbfgs_fit(module: str):
    def build(w: Workload, quick: bool):
        import importlib

        from sklearn.datasets import load_breast_cancer
        from sklearn.model_selection import train_test_split
        from sklearn.preprocessing import StandardScaler

        cls = importlib.import_module(module).MLPClassifier
        X, y = load_breast_cancer(return_X_y=True)
        Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, stratify=y,
                                              random_state=0)
        scaler = StandardScaler().fit(Xtr)
        Xtr, Xte = scaler.transform(Xtr), scaler.transform(Xte)

        def run():
            clf = sklearn_fit(cls, Xtr, ytr, solver="lbfgs", hidden_layer_sizes=(100,),
                              random_state=0)
            return {"units": 1, "accuracy": float(clf.score(Xte, yte)),
                    "epochs": [int(clf.n_iter_)]}

        return run

    return build


def build_cli(w: Workload, quick: bool):
    """``chainrule train`` as typed, in a scratch folder (``--quick``: a few epochs only);
    the time is the run's own ``train_seconds`` (no data loading, figures or saving)."""
    from chainrule.cli import main

    def run():
        with tempfile.TemporaryDirectory() as tmp:
            argv = ["chainrule", "train", "--out", tmp, "--name", "bench", "--no-progress"]
            if quick:
                argv += ["--epochs", str(w.steps[quick])]
            old = sys.argv
            sys.argv = argv
            try:
                with contextlib.redirect_stdout(sys.stderr), contextlib.suppress(SystemExit):
                    main()
            finally:
                sys.argv = old
            with open(os.path.join(tmp, "bench", "metrics.json")) as fh:
                m = json.load(fh)
        return {"units": 1, "seconds": float(m["train_seconds"]),
                "accuracy": float(m["test"]["accuracy"]), "epochs": m["epochs_run"],
                "full run": not quick}

    return run


# overhead: per op, the floor is the bare ufunc on ndarrays


def overhead_ops(lib: str) -> dict[str, Callable[[], Any]]:
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 2)), rng.standard_normal((2, 2))
    if lib == "numpy floor":  # the forward and the two gradients of Σ(a⊙b), by hand
        return {"mul 2×2": lambda: a * b, "matmul 2×2": lambda: a @ b,
                "mul+sum+backward 2×2": lambda: ((a * b).sum(), b * 1.0, a * 1.0)}
    if lib == "torch":
        import torch as mod
    else:
        import chainrule as mod
    ta = mod.tensor(a, requires_grad=True)
    tb = mod.tensor(b, requires_grad=True)
    return {"mul 2×2": lambda: ta * tb, "matmul 2×2": lambda: ta @ tb,
            "mul+sum+backward 2×2": lambda: (ta * tb).sum().backward()}


def build_overhead(w: Workload, quick: bool, lib: str):
    n = w.steps[quick]

    def rounds(op, k):
        def run():
            for _ in range(k):
                op()
            return {"units": k}
        return run

    return {case: rounds(op, n // 4 if "backward" in case else n)
            for case, op in overhead_ops(lib).items()}


BUILDERS: dict[tuple[str, str], Callable[[Workload, bool], Any]] = {
    **{("step", c): per_step(c) for c in STEPPERS},
    ("step", "sklearn"): build_sklearn_steps,
    ("step", "numpy floor fit"): build_floor_fit,
    ("step", "chainrule fit"): build_fit,
    **{("digits", c): digits_fit(_train_steps(c)) for c in STEPPERS},
    ("digits", "sklearn"): digits_fit(_train_estimator("sklearn.neural_network")),
    ("digits", "chainrule.sklearn"): digits_fit(_train_estimator("chainrule.sklearn")),
    ("defaults", "sklearn"): defaults_fit("sklearn.neural_network"),
    ("defaults", "chainrule.sklearn"): defaults_fit("chainrule.sklearn"),
    ("lbfgs", "sklearn"): lbfgs_fit("sklearn.neural_network"),
    ("lbfgs", "chainrule.sklearn"): lbfgs_fit("chainrule.sklearn"),
    ("cli", "chainrule train"): build_cli,
    **{("conv2d", c): build_conv2d(c) for c in WORKLOADS["conv2d"].contenders},
    **{("overhead", c): (lambda w, q, c=c: build_overhead(w, q, c))
       for c in WORKLOADS["overhead"].contenders},
}

# ----------------------------------------------------------------- inside the child


def limit_threads(n: int) -> None:
    """``n`` threads for every pool in this process (the environment variables were set
    before it started; threadpoolctl and torch for pools that ignore them)."""
    with contextlib.suppress(ImportError):
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=n)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(n)


def _lib_dir(path: str) -> str:
    """``numpy.libs/libscipy_openblas64_….so``: which package brought the library."""
    parts = os.path.normpath(path).split(os.sep)
    keep = 3 if len(parts) > 2 and parts[-2] == "lib" else 2  # torch/lib/libgomp.so.1
    return "/".join(parts[-keep:])


def blas_report() -> dict[str, Any]:
    """The thread pools loaded in this process (threadpoolctl) and, with torch, the GEMM
    library it was built with (``BLAS_INFO`` of ``torch.__config__.show()``)."""
    pools = []
    with contextlib.suppress(ImportError):
        from threadpoolctl import threadpool_info

        for i in threadpool_info():
            pools.append({k: i.get(k) for k in ("user_api", "internal_api", "version",
                                               "architecture", "num_threads")}
                         | {"file": _lib_dir(str(i.get("filepath", "")))})
    out: dict[str, Any] = {"pools": pools}
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        config = torch.__config__.show()
        info = next((p.split("=", 1)[1] for p in config.replace(",", " ").split()
                     if p.startswith("BLAS_INFO=")), "?")
        mkl = next((line.strip(" -") for line in config.splitlines() if "Math Kernel" in line),
                   "")
        out["torch"] = {"blas": info, "mkl_available": bool(torch.backends.mkl.is_available()),
                        "mkl": mkl, "threads": torch.get_num_threads()}
    return out


def _peak_rss() -> int:
    """Peak resident set size of this process in bytes (``VmHWM``: on Linux ``ru_maxrss``
    may count the parent's size at fork time)."""
    with contextlib.suppress(OSError), open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (
        1 if sys.platform == "darwin" else 1024)


def _rss_now() -> int:
    import psutil

    return psutil.Process().memory_info().rss


def child(args) -> dict[str, Any]:
    """Build one contender on one workload in this fresh process and measure it."""
    w = WORKLOADS[args.child]
    built = BUILDERS[(w.kind, args.contender)](w, args.quick)
    cases = built if isinstance(built, dict) else {w.name: built}
    limit_threads(args.threads)
    if args.mode == "memory":  # one round, no warm-up: the peak of training from scratch
        (run,) = cases.values()
        gc.collect()
        before = _rss_now()
        run()
        return {"peak_rss": _peak_rss(), "rss_before_training": before}
    if args.mode == "growth":  # RSS after the first round and after args.growth rounds
        (run,) = cases.values()
        run()
        gc.collect()
        rss1 = _rss_now()
        for _ in range(args.growth - 1):
            run()
        gc.collect()
        return {"rss_1": rss1, "rss_2": _rss_now()}
    rounds = min(args.repeats, w.max_rounds or args.repeats)
    out: dict[str, Any] = {}
    for case, run in cases.items():
        for _ in range(w.warmup):
            run()
            limit_threads(args.threads)  # torch may have been imported by the first round
        best, info = float("inf"), {}
        for _ in range(rounds):
            t0 = time.perf_counter()
            info = run()
            dt = info.pop("seconds", time.perf_counter() - t0)
            best = min(best, dt / info.pop("units"))
        out[case] = {"seconds": best, "rounds": rounds, **info}
    return {"cases": out, "blas": blas_report(), "peak_rss": _peak_rss()}


# ----------------------------------------------------------------- in the driver


def spawn(workload: str, contender: str, args, mode: str = "time", **extra: Any):
    """Run one contender on one workload in a fresh process with ``args.threads`` threads;
    its JSON result, or ``{"error": ...}``."""
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(args.threads)
    cmd = [sys.executable, os.path.abspath(__file__), "--child", workload, "--contender",
           contender, "--mode", mode, "--threads", str(args.threads),
           "--repeats", str(args.repeats)]
    cmd += ["--quick"] if args.quick else []
    for k, v in extra.items():
        cmd += [f"--{k}", str(v)]
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    print(f"  {workload} / {contender} ({mode}): {time.perf_counter() - t0:.1f} s",
          file=sys.stderr)
    if out.returncode != 0:
        lines = out.stderr.strip().splitlines()
        return {"error": lines[-1] if lines else f"exit code {out.returncode}"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def available(contender: str) -> str | None:
    """Why a contender cannot run here (a missing library or API), or None."""
    needs = {"torch": "torch", "sklearn": "sklearn", "chainrule.sklearn": "sklearn",
             "chainrule train": "typer"}
    import importlib.util

    mod = needs.get(contender)
    if mod and importlib.util.find_spec(mod) is None:
        return f"{mod} is not installed"
    if contender == "chainrule":
        try:
            from chainrule.trace import compile_step  # noqa: F401
        except ImportError:
            return "chainrule.trace.compile_step does not exist in this version"
    return None


def best_of(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Two measurements of one contender merged: per case, the faster one."""
    if "cases" not in a or "cases" not in b:
        return b if "cases" in b else a
    for name, r in b["cases"].items():
        if r["seconds"] < a["cases"][name]["seconds"]:
            a["cases"][name] = r
    return a


def run_workload(w: Workload, args) -> dict[str, Any]:
    """Each contender in its own process, one after the other; ``--cycles`` times over,
    keeping each contender's best (a busy moment then hits no contender alone)."""
    res: dict[str, Any] = {}
    for _ in range(args.cycles):
        for c in w.contenders:
            why = available(c)
            got = {"error": why} if why else spawn(w.name, c, args)
            res[c] = best_of(res[c], got) if c in res else got
    return res


def run_memory(args) -> dict[str, Any]:
    peak = {c: spawn("large", c, args, "memory")
            for c in ("numpy floor", "chainrule", "chainrule eager", "torch")
            if available(c) is None}
    rounds = 10 if args.quick else 100  # rounds of 10³ tiny steps
    growth = {c: spawn("tiny", c, args, "growth", growth=rounds, steps=1000)
              for c in ("chainrule", "chainrule eager") if available(c) is None}
    return {"peak": peak, "growth": growth, "growth_steps": [1000, 1000 * rounds]}


def matmul_rate(quick: bool, threads: int) -> float:
    """GFLOP/s of a float32 matmul (2048³, best of several) with ``threads`` BLAS threads."""
    from threadpoolctl import threadpool_limits

    n = 1024 if quick else 2048
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    c = np.empty((n, n), dtype=np.float32)
    best = float("inf")
    with threadpool_limits(limits=threads, user_api="blas"):
        np.matmul(a, b, out=c)
        for _ in range(3 if quick else 9):
            t0 = time.perf_counter()
            np.matmul(a, b, out=c)
            best = min(best, time.perf_counter() - t0)
    return 2.0 * n**3 / best / 1e9


def large_flops(sizes, batch: int) -> float:
    """Floating-point operations of one training step of the MLP (matmuls only): forward
    ``2·B·in·out`` per layer, backward ``2·B·in·out`` for ∂W and again for ∂x (not needed
    at the first layer)."""
    per_layer = [2.0 * batch * a * b for a, b in itertools.pairwise(sizes)]
    return sum(per_layer) * 3 - per_layer[0]


def machine(args) -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as fh:
        cpu = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")),
                   cpu)
    meta: dict[str, Any] = {
        "cpu": cpu, "cores": os.cpu_count(), "threads": args.threads,
        "python": platform.python_version(), "numpy": np.__version__, "quick": args.quick,
        "load_average": list(os.getloadavg()),
        "env": {k: os.environ.get(k, "unset") for k in ("OPENBLAS_CORETYPE",
                                                       "OPENBLAS_L2_SIZE")},
    }
    import importlib.metadata as md

    for dist in ("torch", "scikit-learn", "chainrule"):
        with contextlib.suppress(md.PackageNotFoundError):
            meta[dist] = md.version(dist)
    return meta


# ------------------------------------------------------------------------ the report


@dataclass(frozen=True)
class Target:
    """An acceptance target: ``value(results) op limit`` (``op`` ``"≤"`` or ``"≥"``;
    ``limit`` None: reported only). ``value`` may return ``(v, condition, note)``, a side
    condition the target also needs (an accuracy it must keep), or None: not measured."""

    issue: int
    label: str
    value: Callable[[dict[str, Any]], Any]
    op: str
    limit: float | None

    def check(self, results: dict[str, Any]) -> list[str]:
        try:
            got = self.value(results)
        except (KeyError, TypeError, ZeroDivisionError):
            got = None
        if got is None:
            return [self.label, "-", "not measured"]
        v, cond, note = got if isinstance(got, tuple) else (got, True, "")
        shown = f"{v:.2f}" + (f" ({note})" if note else "")
        if self.limit is None:
            return [self.label, shown, "(report)"]
        ok = cond and (v <= self.limit if self.op == "≤" else v >= self.limit)
        return [f"{self.label} {self.op} {self.limit:g}", shown, "PASS" if ok else "FAIL"]


def case(results, w: str, c: str) -> dict[str, Any]:
    return results[w][c]["cases"][w]


def ratio(w: str, num: str, den: str) -> Callable[[dict[str, Any]], float]:
    return lambda r: case(r, w, num)["seconds"] / case(r, w, den)["seconds"]


def _cli_seconds(r: dict[str, Any]):
    c = case(r, "cli", "chainrule train")
    if not c.get("full run"):
        return None  # --quick trains a few epochs only
    return c["seconds"], c["accuracy"] >= 0.97, f"test accuracy {c['accuracy']:.4f}"


def _digits_vs_sklearn(r: dict[str, Any]):
    ours, theirs = (case(r, "digits", c)["accuracy"] for c in ("chainrule.sklearn", "sklearn"))
    return (ratio("digits", "chainrule.sklearn", "sklearn")(r), ours >= theirs,
            f"test accuracy {ours:.4f} vs {theirs:.4f}")


def _peak(name: str) -> Callable[[dict[str, Any]], float]:
    def v(r):
        p = r["memory"]["peak"]
        return p[name]["peak_rss"] / p["numpy floor"]["peak_rss"]
    return v


def _growth(name: str) -> Callable[[dict[str, Any]], float]:
    def v(r):
        g = r["memory"]["growth"][name]
        return (g["rss_2"] - g["rss_1"]) / 2**20
    return v


TARGETS = (
    *(Target(12, f"{w}: chainrule fit / floor, same epochs", ratio(w, "chainrule fit",
                                                                    "numpy floor fit"), "≤", lim)
      for w, lim in (("tiny", 1.3), ("mid", 1.1), ("large", 1.05))),
    *(Target(12, f"{w}: eager tutorial loop / floor", ratio(w, "chainrule eager",
                                                            "numpy floor"), "≤", lim)
      for w, lim in (("tiny", 2.5), ("mid", 1.2))),
    *(Target(12, f"{w}: torch alone / compiled step (× faster)", ratio(w, "torch", "chainrule"),
             "≥", lim) for w, lim in (("tiny", 8.0), ("mid", 3.0), ("large", None))),
    Target(12, "cli: `chainrule train` training seconds, test accuracy ≥ 0.97 (½ × 4.8 s)",
           _cli_seconds, "≤", 2.4),
    Target(7, "digits: chainrule.sklearn / sklearn time, accuracy ≥ sklearn's",
           _digits_vs_sklearn, "≤", 0.5),
    *(Target(7, f"memory: {c} peak RSS / floor", _peak(c), "≤", 1.5)
      for c in ("chainrule", "chainrule eager")),
    *(Target(7, f"memory: {c} RSS growth, MiB", _growth(c), "≤", 1.0)
      for c in ("chainrule", "chainrule eager")),
    Target(16, "cnn: compiled step / floor", ratio("cnn", "chainrule", "numpy floor"), "≤", 1.2),
    Target(16, "cnn: torch alone / compiled step (× faster)", ratio("cnn", "torch", "chainrule"),
           "≥", 1.0),
    Target(16, "conv2d: chainrule / torch", ratio("conv2d", "chainrule", "torch"), "≤", None),
)

ORDER = ("numpy floor", "chainrule", "chainrule eager", "numpy floor fit", "chainrule fit",
         "chainrule.sklearn", "chainrule train", "torch", "sklearn")
PER = {"step": "step", "digits": "fit", "defaults": "fit", "lbfgs": "fit", "cli": "run",
       "overhead": "op", "conv2d": "step"}


def fmt_time(t: float, unit: str) -> str:
    v = t * {"µs": 1e6, "ms": 1e3, "s": 1.0}[unit]
    return f"{v:,.1f}" if v >= 10 else f"{v:.2f}" if v >= 0.1 else f"{v:.3f}"


def unit_of(w: Workload, contender: str) -> str:
    if contender in FIT_BASELINE or contender in FIT_BASELINE.values():
        return "ms/epoch"
    return f"{w.unit}/{PER[w.kind]}"


def blas_summary(entry: dict[str, Any]) -> str:
    """The library doing the contender's matrix products (torch: its MKL; the others:
    NumPy's OpenBLAS) and every other thread pool loaded in its process, with threads."""
    b = entry.get("blas", {})
    pools = [f"{p['internal_api']}{' ' + p['version'] if p['version'] else ''} "
             f"×{p['num_threads']} ({p['file'].rsplit('/', 1)[0]})" for p in b.get("pools", ())]
    t = b.get("torch")
    if t:
        version = t["mkl"].split("Version ")[-1].split("-")[0] if t["mkl"] else "?"
        gemm = f"MKL {version} (torch BLAS_INFO={t['blas']}) ×{t['threads']}"
    else:
        gemm = next((x for x in pools if "numpy" in x), "NumPy's BLAS (not reported)")
    others = [x for x in pools if x != gemm]
    return f"GEMM: {gemm}; also loaded: {', '.join(others) or 'nothing else'}"


def table_rows(w: Workload, res: dict[str, Any], extra: dict[str, Any]):
    """The rows of one workload's table: per case, per contender, the time, the ratio to
    the baseline, torch's time over this one, the loss or accuracy reached."""
    rows = []
    for case in (OVERHEAD_CASES if w.kind == "overhead" else (w.name,)):
        times = {c: v["cases"][case]["seconds"] for c, v in res.items() if "cases" in v}
        for c in sorted(res, key=ORDER.index):
            v = res[c]
            label = c if w.kind != "overhead" else f"{case}: {c}"
            if "error" in v:
                rows.append([label, "-", "-", "-", f"not run: {v['error'][:60]}"])
                continue
            r = v["cases"][case]
            t = r["seconds"]
            base = times.get(FIT_BASELINE.get(c, w.baseline))
            unit = unit_of(w, c)
            shown = fmt_time(t, unit.split("/")[0])
            note = []
            if "loss" in r:
                note.append(f"loss {r['loss']:.6g}")
            if "accuracy" in r:
                note.append(f"test acc {r['accuracy']:.4f}")
            if "epochs" in r:
                note.append(f"epochs {r['epochs']}")
            if "compile" in r:
                note.append(f"compile={r['compile']}")
            if w.name == "large" and unit.endswith("step"):
                g = extra["flops"] / t / 1e9
                note.append(f"{g:.0f} GFLOP/s ({100 * g / extra['matmul']:.0f}% of matmul)")
            torch_t = times.get("torch")
            rows.append([label, f"{shown} {unit}", f"{t / base:.2f}" if base else "-",
                         f"{torch_t / t:.2f}" if torch_t and unit.endswith(
                             ("step", "fit", "op")) else "-", ", ".join(note)])
    return rows


def emit(title: str, columns: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(x)) for x in col) for col in zip(columns, *rows)]
    print(title)
    for r in [columns, *rows]:
        print("  " + "  ".join(str(x).ljust(n) if i in (0, len(r) - 1) else str(x).rjust(n)
                               for i, (x, n) in enumerate(zip(r, widths))).rstrip())
    print()


def print_report(data: dict[str, Any]) -> None:
    meta, results = data["meta"], data["results"]
    print(f"machine: {meta['cpu']}, {meta['cores']} CPUs, load average "
          f"{', '.join(f'{x:.1f}' for x in meta['load_average'])} at the start; Python "
          f"{meta['python']}, NumPy {meta['numpy']}, torch {meta.get('torch', '-')}, "
          f"scikit-learn {meta.get('scikit-learn', '-')}")
    load = meta["load_average"][0]
    if load > 0.5 * (meta["cores"] or 1):
        print(f"WARNING: the machine was busy (load average {load:.1f} on {meta['cores']} "
              "CPUs): the times and ratios below do not show what an idle machine gives")
    rate = meta.get("matmul_gflops")
    print(f"every contender × workload in its own process, {meta['threads']} thread(s) each"
          + (f"; float32 matmul {rate:.0f} GFLOP/s" if rate else "")
          + (" (--quick: fewer steps and rounds)" if meta["quick"] else ""))
    print()
    extra = {"flops": large_flops(LARGE.sizes, LARGE.batch),
             "matmul": meta.get("matmul_gflops", float("nan"))}
    blas: dict[str, str] = {}
    for name, res in results.items():
        if name == "memory":
            continue
        w = WORKLOADS[name]
        emit(f"{name}: {w.title}",
             ["contender", "time", "× floor" if w.baseline == "numpy floor" else
              f"× {w.baseline or '-'}", "torch ÷ this", "notes"],
             table_rows(w, res, extra))
        for c, v in res.items():
            if "blas" in v:
                blas.setdefault(c, blas_summary(v))
    if "memory" in results:
        m = results["memory"]
        floor = m["peak"].get("numpy floor", {}).get("peak_rss")
        emit("memory: peak RSS training 'large' from a fresh process",
             ["contender", "peak MiB", "× floor", "MiB before training"],
             [[c, f"{v['peak_rss'] / 2**20:.0f}", f"{v['peak_rss'] / floor:.2f}" if floor
               else "-", f"{v['rss_before_training'] / 2**20:.0f}"] if "peak_rss" in v
              else [c, "error", v.get("error", "")[:60], ""] for c, v in m["peak"].items()])
        n1, n2 = m["growth_steps"]
        emit(f"memory: RSS after {n1:,} and {n2:,} tiny steps",
             ["contender", f"MiB after {n1:,}", f"MiB after {n2:,}", "growth KiB"],
             [[c, f"{v['rss_1'] / 2**20:.1f}", f"{v['rss_2'] / 2**20:.1f}",
               f"{(v['rss_2'] - v['rss_1']) / 1024:+.0f}"] if "rss_1" in v
              else [c, "error", v.get("error", "")[:60], ""] for c, v in m["growth"].items()])
    if blas:
        emit("BLAS and thread pools loaded in each contender's process",
             ["contender", "libraries (threads)"], [[c, s] for c, s in blas.items()])
    checks = [t.check(results) for t in TARGETS]
    emit("acceptance targets (issue 12; issues 7 and 16 checked too)",
         ["target", "measured", "result"], checks)


def markdown(data: dict[str, Any]) -> str:
    """The README table: one row per workload, one column per contender, each cell the time
    and the ratio to the row's baseline (and the test accuracy for digits)."""
    results = data["results"]
    cols = [c for c in ORDER if any(c in r for n, r in results.items() if n in WORKLOADS)]
    lines = ["| workload | " + " | ".join(cols) + " |", "|---|" + "---:|" * len(cols)]
    for name, res in results.items():
        if name not in WORKLOADS or WORKLOADS[name].kind == "overhead":
            continue
        w = WORKLOADS[name]
        cells = []
        for c in cols:
            v = res.get(c, {})
            if "cases" not in v:
                cells.append("–")
                continue
            r = v["cases"][name]
            unit = unit_of(w, c)
            base = res.get(FIT_BASELINE.get(c, w.baseline), {}).get("cases", {}).get(name)
            text = f"{fmt_time(r['seconds'], unit.split('/')[0])} {unit}"
            if base:
                text += f" ({r['seconds'] / base['seconds']:.2f}×)"
            if "accuracy" in r:
                text += f", {r['accuracy']:.3f}"
            cells.append(text)
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    if "memory" in results:
        p = results["memory"]["peak"]
        floor = p.get("numpy floor", {}).get("peak_rss")
        cells = [f"{p[c]['peak_rss'] / 2**20:.0f} MiB ({p[c]['peak_rss'] / floor:.2f}×)"
                 if "peak_rss" in p.get(c, {}) and floor else "–" for c in cols]
        lines.append("| peak RSS, large | " + " | ".join(cells) + " |")
    meta = data["meta"]
    gemm = sorted({blas_summary(v).split(";")[0].removeprefix("GEMM: ")
                   for r in results.values() if isinstance(r, dict)
                   for v in r.values() if isinstance(v, dict) and "blas" in v})
    lines += ["", f"Machine: {meta['cpu']}, {meta['cores']} CPUs (load average "
              f"{meta['load_average'][0]:.1f} at the start); {meta['threads']} thread(s) for "
              f"every contender, each in its own process; Python {meta['python']}, NumPy "
              f"{meta['numpy']}, PyTorch {meta.get('torch', '-')}, scikit-learn "
              f"{meta.get('scikit-learn', '-')}; products by: {'; '.join(gemm)}."]
    return "\n".join(lines)


# -------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("workloads", nargs="*", metavar="WORKLOAD",
                   help=f"subset to run, from {', '.join(ALL)} (default: "
                        f"{', '.join(DEFAULT)})")
    p.add_argument("--quick", action="store_true", help="fewer steps and rounds")
    p.add_argument("--repeats", type=int, default=None,
                   help="timed rounds per contender, the best counts (default 9; 3 with --quick)")
    p.add_argument("--threads", type=int, default=None,
                   help="threads for every contender (default: the CPUs this process may use)")
    p.add_argument("--cycles", type=int, default=1,
                   help="run every contender's process this many times, in turn, and keep "
                        "each one's best (default 1)")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    p.add_argument("--markdown", action="store_true", help="also print the README table")
    p.add_argument("--report", metavar="PATH", help="print a saved --json run; measure nothing")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--contender", help=argparse.SUPPRESS)
    p.add_argument("--mode", default="time", help=argparse.SUPPRESS)
    p.add_argument("--growth", type=int, default=1, help=argparse.SUPPRESS)
    p.add_argument("--steps", type=int, default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.repeats is None:
        args.repeats = 3 if args.quick else 9
    if args.threads is None:
        args.threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
            os.cpu_count() or 1)
    if args.child:
        if args.steps:  # memory modes: rounds of a given number of steps
            WORKLOADS[args.child] = replace(WORKLOADS[args.child], steps=(args.steps,) * 2)
        print(json.dumps(child(args)))
        return 0
    if args.report:
        with open(args.report) as fh:
            data = json.load(fh)
    else:
        chosen = list(dict.fromkeys(x for name in args.workloads or DEFAULT
                                    for x in (name, *WITH.get(name, ()))))
        unknown = [w for w in chosen if w not in ALL]
        if unknown:
            p.error(f"unknown workload(s) {', '.join(unknown)}; choose from {', '.join(ALL)}")
        meta = machine(args)
        if "large" in chosen:
            meta["matmul_gflops"] = matmul_rate(args.quick, args.threads)
        results: dict[str, Any] = {}
        for name in chosen:
            t0 = time.perf_counter()
            results[name] = run_memory(args) if name == "memory" else run_workload(
                WORKLOADS[name], args)
            print(f"[{name}: {time.perf_counter() - t0:.0f} s]", file=sys.stderr)
        data = {"meta": meta, "results": results}
        if args.json:
            with open(args.json, "w") as fh:
                json.dump(data, fh, indent=2, default=float)
    print_report(data)
    if args.markdown:
        print(markdown(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
