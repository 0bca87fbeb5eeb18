"""Per-op overhead of the autodiff core against PyTorch eager and raw NumPy, in one run.

For a small elementwise op (``a * b`` on 2×2 float64 arrays) and a 2×2 matmul, it times:

- numpy: the bare ufunc / matmul on ndarrays (the floor);
- chainrule: the same op on Tensors that require grad (the graph node is recorded);
- torch: the same op on tensors with ``requires_grad=True`` (eager, same threads).

It prints microseconds per op and the ratios to NumPy. Run: ``python bench/overhead.py``.
"""

from __future__ import annotations

import timeit

import numpy as np

import chainrule as cr


def best_per_call(stmts: dict, number: int = 20000, rounds: int = 15) -> dict:
    """Best time per call in microseconds of each statement, measured in interleaved rounds
    (every contender once per round) so that a change of machine speed hits them alike."""
    best = dict.fromkeys(stmts, float("inf"))
    for _ in range(rounds):
        for name, stmt in stmts.items():
            best[name] = min(best[name], timeit.timeit(stmt, number=number) / number * 1e6)
    return best


def main() -> None:
    rng = np.random.default_rng(0)
    a_np, b_np = rng.standard_normal((2, 2)), rng.standard_normal((2, 2))
    a_cr = cr.tensor(a_np, requires_grad=True)
    b_cr = cr.tensor(b_np, requires_grad=True)
    cases = {
        "mul 2×2": {"numpy": lambda: a_np * b_np, "chainrule": lambda: a_cr * b_cr},
        "matmul 2×2": {"numpy": lambda: a_np @ b_np, "chainrule": lambda: a_cr @ b_cr},
        "mul+sum+backward 2×2": {
            # the floor: the forward and the two gradients of Σ(a⊙b), written by hand
            "numpy": lambda: ((a_np * b_np).sum(), b_np * 1.0, a_np * 1.0),
            "chainrule": lambda: (a_cr * b_cr).sum().backward(),
        },
    }
    try:
        import torch

        torch.set_num_threads(1)
        a_t = torch.tensor(a_np, requires_grad=True)
        b_t = torch.tensor(b_np, requires_grad=True)
        cases["mul 2×2"]["torch"] = lambda: a_t * b_t
        cases["matmul 2×2"]["torch"] = lambda: a_t @ b_t
        cases["mul+sum+backward 2×2"]["torch"] = lambda: (a_t * b_t).sum().backward()
    except ImportError:  # pragma: no cover
        pass
    results = {
        name: best_per_call(stmts, number=5000 if "backward" in name else 20000)
        for name, stmts in cases.items()
    }
    print(f"{'op (float64, with grad tracking)':34s} {'numpy µs':>9s} {'chainrule µs':>13s} "
          f"{'torch µs':>9s} {'cr/np':>6s} {'torch/np':>8s}")
    for name, r in results.items():
        t = r.get("torch", float("nan"))
        print(f"{name:34s} {r['numpy']:9.2f} {r['chainrule']:13.2f} {t:9.2f} "
              f"{r['chainrule'] / r['numpy']:6.2f} {t / r['numpy']:8.2f}")


if __name__ == "__main__":
    main()
