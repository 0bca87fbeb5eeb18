"""chainrule against PyTorch, scikit-learn and a hand-written NumPy floor, on one CPU.

Workloads (each contender trains the same network from the same initial weights on the
same batches):

- ``tiny``: Higham & Higham's 2-2-3-2 sigmoid network, quadratic cost, one-sample SGD
  (lr 0.05), float64;
- ``mid``: 40-100-100-10 ReLU MLP, softmax cross-entropy, batch 100, Adam, float32;
- ``large``: 784-1024-1024-10 ReLU MLP, softmax cross-entropy, batch 256, SGD, float32
  (also as GFLOP/s against the machine's float32 matmul rate);
- ``digits``: 64-64-10 ReLU MLP on scikit-learn's digits, Adam, batch 32, 50 epochs,
  against ``sklearn.neural_network.MLPClassifier`` with the same settings (time and test
  accuracy);
- ``memory``: peak RSS of the large workload (each contender in a fresh subprocess) and
  RSS after 10⁵ tiny steps against after 10³ (no growth).

Contenders: ``numpy floor`` (the training step written by hand in NumPy, no framework),
``chainrule`` (``chainrule.trace.compile_step``: the eager step recorded once and replayed),
``chainrule eager`` (``zero_grad(); loss.backward(); step()`` as written in a tutorial),
``torch`` (eager, ``torch.set_num_threads`` equal to NumPy's BLAS threads) and
``sklearn`` where it applies. Times are the best of several interleaved repeats.

Run: ``python bench/run.py`` (all), ``python bench/run.py tiny mid --quick``,
``python bench/run.py --json results.json``.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import os
import platform
import resource
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

WORKLOADS = ("tiny", "mid", "large", "digits", "memory")

# ------------------------------------------------------------------------------ machine


def numpy_blas_info() -> dict[str, Any]:
    """NumPy's BLAS (library, version, core type, threads) as threadpoolctl reports it."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:  # pragma: no cover
        return {"num_threads": os.cpu_count() or 1}
    blas = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    mine = [i for i in blas if "numpy" in str(i.get("filepath", ""))] or blas
    if not mine:
        return {"num_threads": os.cpu_count() or 1}
    info = mine[0]
    return {
        "library": info.get("internal_api"),
        "version": info.get("version"),
        "architecture": info.get("architecture"),
        "num_threads": int(info.get("num_threads") or 1),
    }


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def matmul_rate(quick: bool) -> float:
    """GFLOP/s of a big float32 matmul (2048³; best of several)."""
    n = 1024 if quick else 2048
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    c = np.empty((n, n), dtype=np.float32)
    np.matmul(a, b, out=c)
    best = float("inf")
    for _ in range(3 if quick else 9):
        t0 = time.perf_counter()
        np.matmul(a, b, out=c)
        best = min(best, time.perf_counter() - t0)
    return 2.0 * n**3 / best / 1e9


# ------------------------------------------------------------------------------- timing


def bench_interleaved(
    steps: dict[str, Callable[[int], Any]], n: int, repeats: int, warmup: int
) -> dict[str, float]:
    """Best seconds per step of each contender: rounds of ``n`` steps, contenders interleaved
    (the order rotates every round) so that a noisy moment does not favour one of them."""
    names = list(steps)
    for name in names:
        for i in range(warmup):
            steps[name](i)
    best = {name: float("inf") for name in names}
    counters = {name: warmup for name in names}
    for r in range(repeats):
        order = names[r % len(names):] + names[: r % len(names)]
        for name in order:
            step = steps[name]
            i0 = counters[name]
            t0 = time.perf_counter()
            for i in range(i0, i0 + n):
                step(i)
            dt = time.perf_counter() - t0
            counters[name] = i0 + n
            best[name] = min(best[name], dt / n)
    return best


# ------------------------------------------------------------------------------ helpers


def _torch(threads: int):
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(threads)
    return torch


def _chainrule():
    import chainrule as cr
    from chainrule import nn, optim
    from chainrule.nn import functional as F

    try:
        from chainrule.trace import compile_step
    except ImportError:  # before the traced step existed
        compile_step = None
    return cr, nn, optim, F, compile_step


def _cr_mlp(nn, sizes: list[int], act: str, weights: list[tuple[np.ndarray, np.ndarray]]):
    layers: list[Any] = []
    for i, (w, b) in enumerate(weights):
        lin = nn.Linear(sizes[i], sizes[i + 1], dtype=w.dtype)
        lin.weight.data[...] = w
        lin.bias.data[...] = b
        layers.append(lin)
        if i < len(weights) - 1 or act == "sigmoid":
            layers.append(nn.Sigmoid() if act == "sigmoid" else nn.ReLU())
    return nn.Sequential(*layers)


def _torch_mlp(torch, sizes: list[int], act: str, weights):
    layers: list[Any] = []
    dtype = torch.float64 if weights[0][0].dtype == np.float64 else torch.float32
    for i, (w, b) in enumerate(weights):
        lin = torch.nn.Linear(sizes[i], sizes[i + 1], dtype=dtype)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(w))
            lin.bias.copy_(torch.from_numpy(b))
        layers.append(lin)
        if i < len(weights) - 1 or act == "sigmoid":
            layers.append(torch.nn.Sigmoid() if act == "sigmoid" else torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def _init_weights(sizes: list[int], dtype: Any, seed: int, scale: float | None = None):
    """PyTorch's default Linear init, U(−1/√in, 1/√in) (or N(0, scale²) if given)."""
    rng = np.random.default_rng(seed)
    out = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        if scale is None:
            bound = 1.0 / np.sqrt(fan_in)
            w = rng.uniform(-bound, bound, (fan_out, fan_in))
            b = rng.uniform(-bound, bound, fan_out)
        else:
            w = scale * rng.standard_normal((fan_out, fan_in))
            b = scale * rng.standard_normal(fan_out)
        out.append((w.astype(dtype), b.astype(dtype)))
    return out


def _floor_softmax_xent(z: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean softmax cross-entropy of logits ``z`` and its gradient ``∂L/∂z``."""
    n = z.shape[0]
    m = z.max(axis=1, keepdims=True)
    e = np.exp(z - m)
    s = e.sum(axis=1, keepdims=True)
    rows = np.arange(n)
    loss = float(np.mean(np.log(s[:, 0]) + m[:, 0] - z[rows, y]))
    d = e / s
    d[rows, y] -= 1.0
    d /= n
    return loss, d


class FloorMLP:
    """The training step by hand in NumPy: ReLU MLP, softmax cross-entropy, SGD or Adam."""

    def __init__(self, weights, lr: float, adam: bool):
        self.params = [a.copy() for wb in weights for a in wb]
        self.lr = lr
        self.adam = adam
        self.t = 0
        if adam:
            self.m = [np.zeros_like(p) for p in self.params]
            self.v = [np.zeros_like(p) for p in self.params]

    def step(self, x: np.ndarray, y: np.ndarray) -> float:
        ps = self.params
        n_layers = len(ps) // 2
        acts = [x]
        h = x
        for i in range(n_layers):
            z = h @ ps[2 * i].T
            z += ps[2 * i + 1]
            if i < n_layers - 1:
                h = np.maximum(z, 0)
                acts.append(h)
            else:
                h = z
        loss, d = _floor_softmax_xent(h, y)
        grads: list[Any] = [None] * len(ps)
        for i in reversed(range(n_layers)):
            a = acts[i]
            grads[2 * i] = d.T @ a
            grads[2 * i + 1] = d.sum(axis=0)
            if i > 0:
                d = d @ ps[2 * i]
                d *= a > 0
        if self.adam:
            self._adam(grads)
        else:
            for p, g in zip(ps, grads):
                p -= self.lr * g
        return loss

    def _adam(self, grads, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8):
        self.t += 1
        c1 = 1 - beta1**self.t
        c2 = 1 - beta2**self.t
        for p, g, m, v in zip(self.params, grads, self.m, self.v):
            m *= beta1
            m += (1 - beta1) * g
            v *= beta2
            v += (1 - beta2) * (g * g)
            p -= self.lr * (m / c1) / (np.sqrt(v / c2) + eps)


# -------------------------------------------------------------------------------- tiny

HIGHAM_X = np.array(
    [[0.1, 0.1], [0.3, 0.4], [0.1, 0.5], [0.6, 0.9], [0.4, 0.2],
     [0.6, 0.3], [0.5, 0.6], [0.9, 0.2], [0.4, 0.4], [0.7, 0.6]]
)
HIGHAM_Y = np.repeat(np.array([[1.0, 0.0], [0.0, 1.0]]), 5, axis=0)


class FloorHigham:
    """Higham & Higham's own step (column vectors, ``δ⁴ = a⁴(1 − a⁴)(a⁴ − y)``, …)."""

    def __init__(self, weights, lr: float):
        (self.W2, b2), (self.W3, b3), (self.W4, b4) = [(w.copy(), b.copy()) for w, b in weights]
        self.b2, self.b3, self.b4 = b2[:, None], b3[:, None], b4[:, None]
        self.eta = lr

    def step(self, x: np.ndarray, y: np.ndarray) -> None:
        a2 = 1.0 / (1.0 + np.exp(-(self.W2 @ x + self.b2)))
        a3 = 1.0 / (1.0 + np.exp(-(self.W3 @ a2 + self.b3)))
        a4 = 1.0 / (1.0 + np.exp(-(self.W4 @ a3 + self.b4)))
        delta4 = a4 * (1 - a4) * (a4 - y)
        delta3 = a3 * (1 - a3) * (self.W4.T @ delta4)
        delta2 = a2 * (1 - a2) * (self.W3.T @ delta3)
        eta = self.eta
        self.W2 -= eta * delta2 @ x.T
        self.W3 -= eta * delta3 @ a2.T
        self.W4 -= eta * delta4 @ a3.T
        self.b2 -= eta * delta2
        self.b3 -= eta * delta3
        self.b4 -= eta * delta4


def run_tiny(args, threads: int) -> dict[str, Any]:
    sizes = [2, 2, 3, 2]
    weights = _init_weights(sizes, np.float64, seed=0, scale=0.5)
    lr = 0.05
    order = np.random.default_rng(1).integers(0, 10, 4096)
    xs_row = [HIGHAM_X[k : k + 1].copy() for k in order]
    ys_row = [HIGHAM_Y[k : k + 1].copy() for k in order]
    xs_col = [x.T.copy() for x in xs_row]
    ys_col = [y.T.copy() for y in ys_row]
    L = len(order)
    steps: dict[str, Callable[[int], Any]] = {}

    floor = FloorHigham(weights, lr)
    steps["numpy floor"] = lambda i: floor.step(xs_col[i % L], ys_col[i % L])

    cr, nn, optim, F, compile_step = _chainrule()

    def cr_setup():
        model = _cr_mlp(nn, sizes, "sigmoid", weights)
        opt = optim.SGD(model.parameters(), lr=lr)

        def loss_fn(out, y):
            return F.mse_loss(out, y, reduction="sum", half=True)

        return model, opt, loss_fn

    if compile_step is not None:
        model, opt, loss_fn = cr_setup()
        cstep = compile_step(model, loss_fn, opt)
        steps["chainrule"] = lambda i: cstep(xs_row[i % L], ys_row[i % L])
    model_e, opt_e, loss_e = cr_setup()
    xs_t = [cr.tensor(x) for x in xs_row]
    ys_t = [cr.tensor(y) for y in ys_row]

    def eager(i):
        opt_e.zero_grad()
        loss = loss_e(model_e(xs_t[i % L]), ys_t[i % L])
        loss.backward()
        opt_e.step()

    steps["chainrule eager"] = eager

    torch = _torch(threads)
    if torch is not None:
        tmodel = _torch_mlp(torch, sizes, "sigmoid", weights)
        topt = torch.optim.SGD(tmodel.parameters(), lr=lr)
        txs = [torch.from_numpy(x) for x in xs_row]
        tys = [torch.from_numpy(y) for y in ys_row]

        def tstep(i):
            topt.zero_grad()
            out = tmodel(txs[i % L])
            loss = 0.5 * ((out - tys[i % L]) ** 2).sum()
            loss.backward()
            topt.step()

        steps["torch"] = tstep
    n = 300 if args.quick else 2000
    times = bench_interleaved(steps, n, repeats=args.repeats, warmup=50)
    return {"unit": "µs/step", "times": times}


# --------------------------------------------------------------------------------- MLPs


def _blobs(n: int, d: int, classes: int, dtype: Any, seed: int):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((classes, d)) * 1.5
    y = rng.integers(0, classes, n)
    x = centres[y] + rng.standard_normal((n, d))
    return x.astype(dtype), y.astype(np.int64)


def _mlp_workload(args, threads, *, sizes, batch, n_batches, optimizer, lr, n_steps):
    dtype = np.float32
    weights = _init_weights(sizes, dtype, seed=0)
    X, Y = _blobs(batch * n_batches, sizes[0], sizes[-1], dtype, seed=2)
    xs = [X[i * batch : (i + 1) * batch] for i in range(n_batches)]
    ys = [Y[i * batch : (i + 1) * batch] for i in range(n_batches)]
    B = n_batches
    steps: dict[str, Callable[[int], Any]] = {}
    floor = FloorMLP(weights, lr, adam=optimizer == "adam")
    steps["numpy floor"] = lambda i: floor.step(xs[i % B], ys[i % B])

    cr, nn, optim, F, compile_step = _chainrule()

    def cr_setup():
        model = _cr_mlp(nn, sizes, "relu", weights)
        opt = (optim.Adam if optimizer == "adam" else optim.SGD)(model.parameters(), lr=lr)
        return model, opt

    if compile_step is not None:
        model, opt = cr_setup()
        cstep = compile_step(model, F.cross_entropy, opt)
        steps["chainrule"] = lambda i: cstep(xs[i % B], ys[i % B])
    model_e, opt_e = cr_setup()
    xs_t = [cr.tensor(x) for x in xs]

    def eager(i):
        opt_e.zero_grad()
        loss = F.cross_entropy(model_e(xs_t[i % B]), ys[i % B])
        loss.backward()
        opt_e.step()

    steps["chainrule eager"] = eager
    torch = _torch(threads)
    if torch is not None:
        tmodel = _torch_mlp(torch, sizes, "relu", weights)
        topt = (torch.optim.Adam if optimizer == "adam" else torch.optim.SGD)(
            tmodel.parameters(), lr=lr
        )
        txs = [torch.from_numpy(x) for x in xs]
        tys = [torch.from_numpy(y) for y in ys]

        def tstep(i):
            topt.zero_grad()
            loss = torch.nn.functional.cross_entropy(tmodel(txs[i % B]), tys[i % B])
            loss.backward()
            topt.step()

        steps["torch"] = tstep
    warmup = 3 if args.quick else 10
    times = bench_interleaved(steps, n_steps, repeats=args.repeats, warmup=warmup)
    sk = _sklearn_per_step(X, Y, sizes, batch, optimizer, lr, args, n_batches)
    if sk is not None:
        times["sklearn"] = sk
    return times


def _sklearn_per_step(X, Y, sizes, batch, optimizer, lr, args, n_batches) -> float | None:
    """Seconds per step of MLPClassifier.fit (whole epochs over the same data, no shuffling)."""
    try:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPClassifier
    except ImportError:
        return None
    epochs = 2 if args.quick else 5
    settings = dict(
        hidden_layer_sizes=tuple(sizes[1:-1]), activation="relu", alpha=0.0,
        batch_size=batch, learning_rate_init=lr, max_iter=epochs, shuffle=False,
        tol=0.0, n_iter_no_change=10**6, random_state=0,
    )
    if optimizer == "adam":
        settings.update(solver="adam")
    else:
        settings.update(solver="sgd", momentum=0.0, nesterovs_momentum=False,
                        learning_rate="constant")
    best = float("inf")
    for _ in range(max(1, args.repeats // 2)):
        clf = MLPClassifier(**settings)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            t0 = time.perf_counter()
            clf.fit(X, Y)
            best = min(best, time.perf_counter() - t0)
    return best / (epochs * n_batches)


def run_mid(args, threads: int) -> dict[str, Any]:
    times = _mlp_workload(
        args, threads, sizes=[40, 100, 100, 10], batch=100, n_batches=20,
        optimizer="adam", lr=1e-3, n_steps=40 if args.quick else 200,
    )
    return {"unit": "µs/step", "times": times}


def large_flops(sizes: list[int], batch: int) -> float:
    """Floating-point operations of one training step of the MLP (matmuls only):
    forward ``2·B·in·out`` per layer, backward ``2·B·in·out`` for ∂W and again for ∂x
    (not needed at the first layer)."""
    per_layer = [2.0 * batch * a * b for a, b in itertools.pairwise(sizes)]
    return sum(per_layer) * 3 - per_layer[0]


def run_large(args, threads: int, peak: float) -> dict[str, Any]:
    sizes = [784, 1024, 1024, 10]
    times = _mlp_workload(
        args, threads, sizes=sizes, batch=256, n_batches=8,
        optimizer="sgd", lr=0.01, n_steps=4 if args.quick else 6,
    )
    flops = large_flops(sizes, 256)
    gflops = {k: flops / t / 1e9 for k, t in times.items()}
    return {"unit": "ms/step", "times": times, "gflops": gflops, "peak": peak,
            "flops_per_step": flops}


# ------------------------------------------------------------------------------- digits


def digits_data():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    return train_test_split(X, y.astype(np.int64), test_size=0.25, stratify=y, random_state=0)


def sklearn_init_and_order(sizes: list[int], n: int, epochs: int, seed: int = 0):
    """The initial weights and the sample order of ``MLPClassifier(random_state=seed)``
    (ReLU, shuffle=True), so that every contender starts from scikit-learn's weights and
    sees the batches in its order: Glorot-uniform ``U(−√(6/(in+out)), √(6/(in+out)))``
    for ``W`` then ``b`` layer by layer, then one ``RandomState.shuffle`` per epoch of the
    running sample order."""
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


def run_digits(args, threads: int) -> dict[str, Any]:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    Xtr, Xte, ytr, yte = digits_data()
    epochs, batch, lr, hidden = 50, 32, 1e-3, 64
    sizes = [64, hidden, 10]
    n = len(Xtr)
    weights, perms = sklearn_init_and_order(sizes, n, epochs)

    def batches():  # each epoch: one shuffled copy of the data, then contiguous slices
        for perm in perms:
            xs, ys = Xtr[perm], ytr[perm]
            for s in range(0, n, batch):
                yield xs[s : s + batch], ys[s : s + batch]

    def fit_floor():
        f = FloorMLP(weights, lr, adam=True)
        for xb, yb in batches():
            f.step(xb, yb)
        h = Xte
        for i in range(0, len(f.params), 2):
            h = h @ f.params[i].T + f.params[i + 1]
            h = np.maximum(h, 0) if i + 2 < len(f.params) else h
        return float(np.mean(h.argmax(1) == yte))

    cr, nn, optim, F, compile_step = _chainrule()

    def fit_chainrule(compiled: bool):
        def run():
            model = _cr_mlp(nn, sizes, "relu", weights)
            opt = optim.Adam(model.parameters(), lr=lr)
            if compiled:
                step = compile_step(model, F.cross_entropy, opt)
                for xb, yb in batches():
                    step(xb, yb)
            else:
                for xb, yb in batches():
                    opt.zero_grad()
                    F.cross_entropy(model(cr.tensor(xb)), yb).backward()
                    opt.step()
            with cr.no_grad():
                pred = model(cr.tensor(Xte)).numpy().argmax(1)
            return float(np.mean(pred == yte))
        return run

    sk_settings = dict(
        hidden_layer_sizes=(hidden,), activation="relu", solver="adam", alpha=0.0,
        batch_size=batch, learning_rate_init=lr, max_iter=epochs, shuffle=True,
        tol=0.0, n_iter_no_change=10**6, random_state=0,
    )

    def fit_sklearn():
        clf = MLPClassifier(**sk_settings)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(Xtr, ytr)
        return float(clf.score(Xte, yte))

    fits: dict[str, Callable[[], float]] = {"numpy floor": fit_floor}
    if compile_step is not None:
        fits["chainrule"] = fit_chainrule(True)
    fits["chainrule eager"] = fit_chainrule(False)
    try:
        from chainrule.sklearn import MLPClassifier as CrMLP

        def fit_cr_estimator():
            clf = CrMLP(hidden_layer_sizes=(hidden,), activation="relu", alpha=0.0,
                        batch_size=batch, learning_rate_init=lr, max_iter=epochs,
                        tol=0.0, n_iter_no_change=10**6, random_state=0)
            clf.fit(Xtr, ytr)
            return float(clf.score(Xte, yte))

        fits["chainrule.sklearn"] = fit_cr_estimator
    except ImportError:
        pass
    torch = _torch(threads)
    if torch is not None:
        def fit_torch():
            tmodel = _torch_mlp(torch, sizes, "relu", weights)
            topt = torch.optim.Adam(tmodel.parameters(), lr=lr)
            for xb, yb in batches():
                topt.zero_grad()
                torch.nn.functional.cross_entropy(
                    tmodel(torch.from_numpy(xb)), torch.from_numpy(yb)
                ).backward()
                topt.step()
            with torch.no_grad():
                pred = tmodel(torch.from_numpy(Xte)).numpy().argmax(1)
            return float(np.mean(pred == yte))
        fits["torch"] = fit_torch
    fits["sklearn"] = fit_sklearn
    times = {k: float("inf") for k in fits}
    acc: dict[str, float] = {}
    repeats = 1 if args.quick else max(1, min(3, args.repeats))
    names = list(fits)
    spent = {k: 0.0 for k in fits}
    for r in range(repeats):
        for name in names[r % len(names):] + names[: r % len(names)]:
            if r and spent[name] > 60:  # one fit of a very slow contender is enough
                continue
            t0 = time.perf_counter()
            try:
                acc[name] = fits[name]()
            except Exception as err:  # a contender that cannot run is reported, not fatal
                acc[name] = float("nan")
                print(f"digits: {name} failed: {type(err).__name__}: {err}", file=sys.stderr)
                continue
            dt = time.perf_counter() - t0
            spent[name] += dt
            times[name] = min(times[name], dt)
    times = {k: v for k, v in times.items() if np.isfinite(v)}
    return {"unit": "s/fit", "times": times, "accuracy": acc, "epochs": epochs,
            "train_size": n, "test_size": len(Xte)}


# ------------------------------------------------------------------------------- memory


def _peak_rss() -> int:
    """Peak resident set size of this process, in bytes.

    ``VmHWM`` of /proc/self/status where available: on Linux ``ru_maxrss`` also counts the
    parent's size at fork time (it survives ``execve``), which would hide the child's own
    peak behind the benchmark driver's."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def _rss_now() -> int:
    import psutil

    return psutil.Process().memory_info().rss


def _child_large(contender: str, steps: int) -> dict[str, Any]:
    """Peak RSS of training the large workload in this (fresh) process."""
    sizes = [784, 1024, 1024, 10]
    weights = _init_weights(sizes, np.float32, seed=0)
    X, Y = _blobs(256 * 4, 784, 10, np.float32, seed=2)
    xs = [X[i * 256 : (i + 1) * 256] for i in range(4)]
    ys = [Y[i * 256 : (i + 1) * 256] for i in range(4)]
    if contender == "numpy floor":
        floor = FloorMLP(weights, 0.01, adam=False)
        del weights

        def step(i):
            floor.step(xs[i % 4], ys[i % 4])
    elif contender.startswith("chainrule"):
        cr, nn, optim, F, compile_step = _chainrule()
        model = _cr_mlp(nn, sizes, "relu", weights)
        opt = optim.SGD(model.parameters(), lr=0.01)
        del weights
        if contender == "chainrule":
            cstep = compile_step(model, F.cross_entropy, opt)

            def step(i):
                cstep(xs[i % 4], ys[i % 4])
        else:
            def step(i):
                opt.zero_grad()
                F.cross_entropy(model(cr.tensor(xs[i % 4])), ys[i % 4]).backward()
                opt.step()
    elif contender == "torch":
        import torch

        torch.set_num_threads(numpy_blas_info()["num_threads"])
        tmodel = _torch_mlp(torch, sizes, "relu", weights)
        topt = torch.optim.SGD(tmodel.parameters(), lr=0.01)
        del weights

        def step(i):
            topt.zero_grad()
            torch.nn.functional.cross_entropy(
                tmodel(torch.from_numpy(xs[i % 4])), torch.from_numpy(ys[i % 4])
            ).backward()
            topt.step()
    else:
        raise ValueError(contender)
    gc.collect()
    before = _rss_now()
    for i in range(steps):
        step(i)
    return {"peak_rss": _peak_rss(), "rss_before_training": before}


def _child_growth(contender: str, n1: int, n2: int) -> dict[str, Any]:
    """RSS after ``n1`` and after ``n2`` tiny steps (chainrule, compiled or eager)."""
    cr, nn, optim, F, compile_step = _chainrule()
    weights = _init_weights([2, 2, 3, 2], np.float64, seed=0, scale=0.5)
    model = _cr_mlp(nn, [2, 2, 3, 2], "sigmoid", weights)
    opt = optim.SGD(model.parameters(), lr=0.05)
    order = np.random.default_rng(1).integers(0, 10, 4096)
    xs = [HIGHAM_X[k : k + 1].copy() for k in order]
    ys = [HIGHAM_Y[k : k + 1].copy() for k in order]

    def loss_fn(out, y):
        return F.mse_loss(out, y, reduction="sum", half=True)

    if contender == "chainrule":
        cstep = compile_step(model, loss_fn, opt)

        def step(i):
            cstep(xs[i % 4096], ys[i % 4096])
    else:
        xs_t = [cr.tensor(x) for x in xs]
        ys_t = [cr.tensor(y) for y in ys]

        def step(i):
            opt.zero_grad()
            loss_fn(model(xs_t[i % 4096]), ys_t[i % 4096]).backward()
            opt.step()
    for i in range(n1):
        step(i)
    gc.collect()
    rss1 = _rss_now()
    for i in range(n1, n2):
        step(i)
    gc.collect()
    rss2 = _rss_now()
    return {"rss_1": rss1, "rss_2": rss2, "n1": n1, "n2": n2}


def _run_child(kind: str, contender: str, *extra: str) -> dict[str, Any]:
    cmd = [sys.executable, os.path.abspath(__file__), "--child", kind, "--contender",
           contender, *extra]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr else "failed"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_memory(args) -> dict[str, Any]:
    contenders = ["numpy floor", "chainrule", "chainrule eager", "torch"]
    if _chainrule()[4] is None:
        contenders.remove("chainrule")
    steps = "4" if args.quick else "10"
    peak = {c: _run_child("large", c, "--steps", steps) for c in contenders}
    growth_contenders = ["chainrule eager"] + (["chainrule"] if "chainrule" in contenders else [])
    growth = {c: _run_child("growth", c) for c in growth_contenders}
    return {"peak": peak, "growth": growth}


# ------------------------------------------------------------------------------ report

ORDER = ["numpy floor", "chainrule", "chainrule eager", "chainrule.sklearn", "torch", "sklearn"]


def _fmt_time(t: float, unit: str) -> str:
    scale = {"µs/step": 1e6, "ms/step": 1e3, "s/fit": 1.0}[unit]
    v = t * scale
    return f"{v:,.1f}" if v >= 10 else f"{v:.2f}"


def print_report(results: dict[str, Any], meta: dict[str, Any]) -> None:
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:  # pragma: no cover
        Console = None  # type: ignore[assignment]
    console = Console(width=110) if Console else None

    def emit(title, columns, rows):
        if console is None:
            print(title)
            print("  ".join(columns))
            for r in rows:
                print("  ".join(str(c) for c in r))
            print()
            return
        table = Table(title=title, title_justify="left")
        for i, c in enumerate(columns):
            table.add_column(c, justify="left" if i == 0 else "right")
        for r in rows:
            table.add_row(*[str(c) for c in r])
        console.print(table)

    lines = [
        f"machine: {meta['cpu']}, {meta['cores']} cores; Python {meta['python']}, "
        f"NumPy {meta['numpy']}, torch {meta.get('torch', '-')}, "
        f"scikit-learn {meta.get('sklearn', '-')}",
        f"BLAS: {meta['blas'].get('library')} {meta['blas'].get('version')} "
        f"({meta['blas'].get('architecture')}), {meta['blas']['num_threads']} threads; "
        f"torch threads {meta['blas']['num_threads']}; "
        + ", ".join(f"{k}={v}" for k, v in meta["env"].items()),
        f"float32 matmul rate (2048³, best of the runs at the start and before 'large'): "
        f"{meta['matmul_gflops']:.1f} GFLOP/s",
    ]
    for line in lines:
        print(line)
    print()
    descr = {
        "tiny": "tiny: Higham 2-2-3-2 sigmoid net, one-sample SGD, float64",
        "mid": "mid: 40-100-100-10 ReLU MLP, batch 100, Adam, float32",
        "large": "large: 784-1024-1024-10 ReLU MLP, batch 256, SGD, float32",
        "digits": "digits: 64-64-10 MLP, Adam, batch 32, 50 epochs (fit + test accuracy)",
    }
    for w in ("tiny", "mid", "large", "digits"):
        if w not in results:
            continue
        r = results[w]
        unit = r["unit"]
        times = r["times"]
        floor = times.get("numpy floor")
        cols = ["contender", unit, "× floor"]
        if "torch" in times:
            cols.append("torch ×")
        if w == "large":
            cols += ["GFLOP/s", "% of matmul"]
        if w == "digits":
            cols.append("test acc")
        rows = []
        for name in ORDER:
            if name not in times:
                continue
            t = times[name]
            row = [name, _fmt_time(t, unit), f"{t / floor:.2f}" if floor else "-"]
            if "torch" in times:
                row.append(f"{times['torch'] / t:.2f}")
            if w == "large":
                g = r["gflops"][name]
                row += [f"{g:.1f}", f"{100 * g / r['peak']:.0f}%"]
            if w == "digits":
                row.append(f"{r['accuracy'].get(name, float('nan')):.4f}")
            rows.append(row)
        emit(descr[w], cols, rows)
    if "memory" in results:
        m = results["memory"]
        floor_peak = m["peak"].get("numpy floor", {}).get("peak_rss")
        rows = []
        for name, v in m["peak"].items():
            if "error" in v:
                rows.append([name, "error", v["error"][:40], ""])
                continue
            rows.append([name, f"{v['peak_rss'] / 2**20:.0f}",
                         f"{v['peak_rss'] / floor_peak:.2f}" if floor_peak else "-",
                         f"{v['rss_before_training'] / 2**20:.0f}"])
        emit("memory: peak RSS, large workload (fresh process each)",
             ["contender", "peak MiB", "× floor", "MiB before training"], rows)
        rows = []
        for name, v in m["growth"].items():
            if "error" in v:
                rows.append([name, "error", v["error"][:40], ""])
                continue
            rows.append([name, f"{v['rss_1'] / 2**20:.1f}", f"{v['rss_2'] / 2**20:.1f}",
                         f"{(v['rss_2'] - v['rss_1']) / 1024:+.0f}"])
        emit("memory: RSS after 10³ and 10⁵ tiny steps",
             ["contender", "MiB after 10³", "MiB after 10⁵", "growth KiB"], rows)
    checks = acceptance(results)
    if checks:
        emit("acceptance (issue 7)", ["target", "measured", "met"], checks)


def _ours(times: dict[str, float]) -> str | None:
    """The chainrule contender the targets are checked on: the traced step, or the eager
    one where there is no traced step (a version of chainrule before it existed)."""
    return next((k for k in ("chainrule", "chainrule eager") if k in times), None)


def acceptance(results: dict[str, Any]) -> list[list[str]]:
    rows = []
    limits = {"tiny": 2.0, "mid": 1.3, "large": 1.15}
    for w, lim in limits.items():
        if w not in results:
            continue
        t = results[w]["times"]
        ours = _ours(t)
        if ours is None or "numpy floor" not in t:
            continue
        ratio = t[ours] / t["numpy floor"]
        rows.append([f"{w}: {ours} / floor ≤ {lim}", f"{ratio:.2f}",
                     "yes" if ratio <= lim else "NO"])
        if "torch" in t:
            sp = t["torch"] / t[ours]
            rows.append([f"{w}: {ours} faster than torch", f"{sp:.2f}× faster",
                         "yes" if sp > 1 else "NO"])
    if "digits" in results and _ours(results["digits"]["times"]):
        r = results["digits"]
        t, a = r["times"], r["accuracy"]
        ours = _ours(t)
        if "sklearn" in t:
            frac = t[ours] / t["sklearn"]
            ok = frac <= 0.5 and a[ours] >= a["sklearn"]
            rows.append([f"digits: {ours} ≤ ½ sklearn's time, accuracy ≥ sklearn's",
                         f"{frac:.2f}× time, acc {a[ours]:.4f} vs {a['sklearn']:.4f}",
                         "yes" if ok else "NO"])
    if "memory" in results:
        m = results["memory"]
        p = m["peak"]
        for name in ("chainrule", "chainrule eager"):
            if "peak_rss" in p.get(name, {}) and "peak_rss" in p.get("numpy floor", {}):
                ratio = p[name]["peak_rss"] / p["numpy floor"]["peak_rss"]
                rows.append([f"large: {name} peak RSS ≤ 1.5 × floor", f"{ratio:.2f}",
                             "yes" if ratio <= 1.5 else "NO"])
        for name, v in m["growth"].items():
            if "rss_1" in v:
                grow = (v["rss_2"] - v["rss_1"]) / 1024
                rows.append([f"{name}: no RSS growth 10³ → 10⁵ steps", f"{grow:+.0f} KiB",
                             "yes" if grow < 1024 else "NO"])
    return rows


# -------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("workloads", nargs="*", metavar="WORKLOAD",
                   help=f"subset to run, from {', '.join(WORKLOADS)} (default: all)")
    p.add_argument("--quick", action="store_true", help="fewer steps and repeats")
    p.add_argument("--repeats", type=int, default=None,
                   help="timing rounds (default 9; 3 with --quick)")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--contender", help=argparse.SUPPRESS)
    p.add_argument("--steps", type=int, default=10, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child == "large":
        print(json.dumps(_child_large(args.contender, args.steps)))
        return 0
    if args.child == "growth":
        print(json.dumps(_child_growth(args.contender, 1000, 100_000)))
        return 0
    if args.repeats is None:
        args.repeats = 3 if args.quick else 9
    chosen = args.workloads or list(WORKLOADS)
    unknown = [w for w in chosen if w not in WORKLOADS]
    if unknown:
        p.error(f"unknown workload(s) {', '.join(unknown)}; choose from {', '.join(WORKLOADS)}")
    blas = numpy_blas_info()
    threads = blas["num_threads"]
    meta: dict[str, Any] = {
        "cpu": cpu_name(), "cores": os.cpu_count(), "python": platform.python_version(),
        "numpy": np.__version__, "blas": blas,
        "env": {k: os.environ.get(k, "unset")
                for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OMP_NUM_THREADS")},
    }
    try:
        import torch

        meta["torch"] = torch.__version__
    except ImportError:
        pass
    try:
        import sklearn

        meta["sklearn"] = sklearn.__version__
    except ImportError:
        pass
    meta["matmul_gflops"] = matmul_rate(args.quick)
    results: dict[str, Any] = {}
    for w in chosen:
        t0 = time.perf_counter()
        if w == "tiny":
            results[w] = run_tiny(args, threads)
        elif w == "mid":
            results[w] = run_mid(args, threads)
        elif w == "large":
            # measured again next to the workload that is compared with it; the best counts
            meta["matmul_gflops"] = max(meta["matmul_gflops"], matmul_rate(args.quick))
            results[w] = run_large(args, threads, meta["matmul_gflops"])
        elif w == "digits":
            results[w] = run_digits(args, threads)
        elif w == "memory":
            results[w] = run_memory(args)
        print(f"[{w}: {time.perf_counter() - t0:.0f} s]", file=sys.stderr)
    print_report(results, meta)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"meta": meta, "results": results}, fh, indent=2, default=float)
    return 0


if __name__ == "__main__":
    sys.exit(main())
