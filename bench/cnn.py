"""The MNIST-1D paper's CNN training step: chainrule vs PyTorch vs a hand-written NumPy floor.

Workloads:

- ``cnn``: one training step of the paper's CNN (Conv1d 1→25 k5 s2 p1, Conv1d 25→25 k3 s2
  p1 twice, ReLU after each, Linear 125→10; softmax cross-entropy; Adam lr 1e-2), batch
  100 of length-40 signals, float32, batches taken in order through 4,000 signals;
- ``conv2d``: forward and backward (input and weight gradients) of one Conv2d 32→32,
  3×3, padding 1, on a batch of 16 images of 32 channels, 28×28, float32.

Contenders: ``chainrule`` (the compiled step of ``chainrule.trace.compile_step``; for
``conv2d``, ``F.conv2d`` and ``backward``), ``torch`` (eager, ``torch.set_num_threads``
equal to the BLAS threads) and ``numpy floor`` (the step written by hand in NumPy:
im2col, one GEMM per layer, col2im, in-place Adam). Each contender runs ALONE in its own
subprocess with the same thread count; a time is the best of ``--repeats`` blocks of
``--steps`` steps after a warm-up. Ratios < 1 mean chainrule is faster.

Run: ``python bench/cnn.py`` (``--threads 1 --repeats 5 --steps 200``; ``--quick`` for a
short run).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

N_TRAIN, BATCH, LENGTH, CLASSES, LR = 4000, 100, 40, 10, 1e-2


def _best(step: Callable[[int], None], steps: int, repeats: int, warmup: int = 20) -> float:
    """Best time per step (seconds) over ``repeats`` blocks of ``steps`` steps."""
    for t in range(warmup):
        step(t)
    best = float("inf")
    for r in range(repeats):
        start = time.perf_counter()
        for t in range(steps):
            step(r * steps + t)
        best = min(best, (time.perf_counter() - start) / steps)
    return best


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((N_TRAIN, 1, LENGTH)).astype(np.float32)
    y = rng.integers(0, CLASSES, N_TRAIN)
    return X, y


def _batch(t: int) -> slice:
    b = (t * BATCH) % N_TRAIN
    return slice(b, b + BATCH)


# ------------------------------------------------------------------------------- workers


def cnn_chainrule(steps: int, repeats: int) -> float:
    from chainrule import optim
    from chainrule.demos.spatial_prior import mnist1d_cnn
    from chainrule.nn import functional as F
    from chainrule.trace import compile_step

    X, y = _data()
    model = mnist1d_cnn(seed=0)
    step = compile_step(model, F.cross_entropy, optim.Adam(model.parameters(), lr=LR))

    def one(t: int) -> None:
        s = _batch(t)
        step(X[s], y[s])

    return _best(one, steps, repeats)


def cnn_torch(steps: int, repeats: int) -> float:
    import torch

    nn = torch.nn
    X, y = (torch.from_numpy(a) for a in _data())
    model = nn.Sequential(nn.Conv1d(1, 25, 5, stride=2, padding=1), nn.ReLU(),
                          nn.Conv1d(25, 25, 3, stride=2, padding=1), nn.ReLU(),
                          nn.Conv1d(25, 25, 3, stride=2, padding=1), nn.ReLU(),
                          nn.Flatten(), nn.Linear(125, 10))
    opt = torch.optim.Adam(model.parameters(), lr=LR)

    def one(t: int) -> None:
        s = _batch(t)
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(X[s]), y[s])
        loss.backward()
        opt.step()

    return _best(one, steps, repeats)


class _FloorConv1d:
    """Conv1d by hand: im2col (strided view, one copy), one GEMM, col2im by kernel offset."""

    def __init__(self, cin: int, cout: int, k: int, s: int, p: int, rng: Any) -> None:
        bound = 1 / np.sqrt(cin * k)
        self.W = rng.uniform(-bound, bound, (cout, cin * k)).astype(np.float32)
        self.b = rng.uniform(-bound, bound, cout).astype(np.float32)
        self.k, self.s, self.p, self.cin = k, s, p, cin

    def forward(self, x: np.ndarray) -> np.ndarray:
        N, C, L = x.shape
        k, s, p = self.k, self.s, self.p
        xp = np.zeros((N, C, L + 2 * p), np.float32)
        xp[:, :, p:p + L] = x
        self.Lo = Lo = (L + 2 * p - k) // s + 1
        win = np.lib.stride_tricks.sliding_window_view(xp, k, axis=2)[:, :, ::s][:, :, :Lo]
        self.cols = win.transpose(0, 2, 1, 3).reshape(N * Lo, C * k)
        self.shape = x.shape
        out = self.cols @ self.W.T
        out += self.b
        return out.reshape(N, Lo, -1).transpose(0, 2, 1)

    def backward(self, g: np.ndarray, need_x: bool) -> np.ndarray | None:
        N, C, L = self.shape
        k, s, p, Lo = self.k, self.s, self.p, self.Lo
        rows = g.transpose(0, 2, 1).reshape(N * Lo, -1)
        self.gW = rows.T @ self.cols
        self.gb = rows.sum(0)
        if not need_x:
            return None
        gc = (rows @ self.W).reshape(N, Lo, C, k)
        gxp = np.zeros((N, C, L + 2 * p), np.float32)
        for j in range(k):
            gxp[:, :, j:j + s * (Lo - 1) + 1:s] += gc[:, :, :, j].transpose(0, 2, 1)
        return gxp[:, :, p:p + L]


def cnn_floor(steps: int, repeats: int) -> float:
    X, y = _data()
    rng = np.random.default_rng(0)
    convs = [_FloorConv1d(1, 25, 5, 2, 1, rng), _FloorConv1d(25, 25, 3, 2, 1, rng),
             _FloorConv1d(25, 25, 3, 2, 1, rng)]
    bound = 1 / np.sqrt(125)
    Wl = rng.uniform(-bound, bound, (10, 125)).astype(np.float32)
    bl = rng.uniform(-bound, bound, 10).astype(np.float32)
    params = [a for c in convs for a in (c.W, c.b)] + [Wl, bl]
    m = [np.zeros_like(a) for a in params]
    v = [np.zeros_like(a) for a in params]
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    state = {"t": 0}

    def one(t: int) -> None:
        s = _batch(t)
        xb, yb = X[s], y[s]
        h = xb
        acts = []
        for c in convs:
            h = np.maximum(c.forward(h), 0)
            acts.append(h)
        flat = h.reshape(BATCH, -1)
        z = flat @ Wl.T + bl
        z -= z.max(1, keepdims=True)
        e = np.exp(z)
        e /= e.sum(1, keepdims=True)
        e[np.arange(BATCH), yb] -= 1
        e /= BATCH
        gWl, gbl = e.T @ flat, e.sum(0)
        g = (e @ Wl).reshape(h.shape)
        for i in (2, 1, 0):
            g = g * (acts[i] > 0)
            g = convs[i].backward(g, need_x=i > 0)
        grads = [a for c in convs for a in (c.gW, c.gb)] + [gWl, gbl]
        state["t"] += 1
        bc1, bc2 = 1 - beta1 ** state["t"], 1 - beta2 ** state["t"]
        for p, gp, mp, vp in zip(params, grads, m, v):
            mp *= beta1
            mp += (1 - beta1) * gp
            vp *= beta2
            vp += (1 - beta2) * gp * gp
            p -= (LR / bc1) * mp / (np.sqrt(vp / bc2) + eps)

    return _best(one, steps, repeats)


def _conv2d_data() -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 32, 28, 28)).astype(np.float32)
    W = (rng.standard_normal((32, 32, 3, 3)) * 0.05).astype(np.float32)
    g = rng.standard_normal((16, 32, 28, 28)).astype(np.float32)
    return x, W, g


def conv2d_chainrule(steps: int, repeats: int) -> float:
    import chainrule as cr
    from chainrule.nn import functional as F

    x0, W0, g0 = _conv2d_data()
    x = cr.tensor(x0, requires_grad=True)
    W = cr.tensor(W0, requires_grad=True)
    g = cr.tensor(g0)

    def one(t: int) -> None:
        x.grad = W.grad = None
        y = F.conv2d(x, W, padding=1)
        y.backward(g)

    return _best(one, max(steps // 10, 3), repeats, warmup=2)


def conv2d_torch(steps: int, repeats: int) -> float:
    import torch

    x0, W0, g0 = _conv2d_data()
    x = torch.from_numpy(x0).requires_grad_(True)
    W = torch.from_numpy(W0).requires_grad_(True)
    g = torch.from_numpy(g0)

    def one(t: int) -> None:
        x.grad = W.grad = None
        y = torch.nn.functional.conv2d(x, W, padding=1)
        y.backward(g)

    return _best(one, max(steps // 10, 3), repeats, warmup=2)


WORKERS: dict[str, dict[str, Callable[[int, int], float]]] = {
    "cnn": {"chainrule": cnn_chainrule, "torch": cnn_torch, "numpy floor": cnn_floor},
    "conv2d": {"chainrule": conv2d_chainrule, "torch": conv2d_torch},
}


# ---------------------------------------------------------------------------------- main


def _worker(workload: str, contender: str, threads: int, steps: int, repeats: int) -> None:
    if contender == "torch":
        import torch

        torch.set_num_threads(threads)
    seconds = WORKERS[workload][contender](steps, repeats)
    print(json.dumps({"seconds": seconds}))


def _run_alone(workload: str, contender: str, threads: int, steps: int, repeats: int) -> float:
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    out = subprocess.run(
        [sys.executable, __file__, "--worker", workload, contender, "--threads", str(threads),
         "--steps", str(steps), "--repeats", str(repeats)],
        env=env, check=True, capture_output=True, text=True,
    )
    return float(json.loads(out.stdout.strip().splitlines()[-1])["seconds"])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workloads", nargs="*", default=list(WORKERS),
                    help=f"some of {', '.join(WORKERS)} (default: all)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="50 steps, 3 repeats")
    ap.add_argument("--worker", nargs=2, metavar=("WORKLOAD", "CONTENDER"),
                    help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.quick:
        args.steps, args.repeats = 50, 3
    if args.worker:
        _worker(*args.worker, args.threads, args.steps, args.repeats)
        return
    unknown = [w for w in args.workloads if w not in WORKERS]
    if unknown:
        ap.error(f"unknown workload(s) {unknown}; valid: {', '.join(WORKERS)}")
    print(f"threads={args.threads}, best of {args.repeats} blocks of {args.steps} steps "
          "(conv2d: a tenth of the steps), each contender alone in its own process")
    for workload in args.workloads:
        times = {c: _run_alone(workload, c, args.threads, args.steps, args.repeats)
                 for c in WORKERS[workload]}
        print(f"\n{workload}")
        for c, s in times.items():
            ratio = times["chainrule"] / s
            note = "" if c == "chainrule" else f"   chainrule / {c} = {ratio:.2f}"
            print(f"  {c:<12} {s * 1e3:9.3f} ms/step{note}")


if __name__ == "__main__":
    main()
