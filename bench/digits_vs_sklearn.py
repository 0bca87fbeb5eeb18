"""chainrule.sklearn.MLPClassifier against sklearn.neural_network.MLPClassifier on digits.

Both estimators get the same architecture and settings — scikit-learn's defaults: one
hidden layer of 100 ReLU units, Adam with ``learning_rate_init=1e-3``, batches of 200,
``alpha=1e-4``, ``max_iter=200``, stopping when the training loss has not improved by
``tol=1e-4`` for 10 epochs — on the same standardised 75/25 stratified split of the 1797
digits, for several seeds. Only the import differs. chainrule trains in float32 (its
default), scikit-learn in float64 (its behaviour for float64 input).

It prints, per seed and in total, the fit time and test accuracy of each and the time
ratio (scikit-learn's time / chainrule's: above 1 means chainrule is faster), under two
conditions:

- ``default threads``: each library as installed (NumPy's BLAS may use every core;
  chainrule trains small networks on one BLAS thread by itself);
- ``1 BLAS thread``: both limited to one BLAS thread with threadpoolctl, which removes the
  threading difference and compares the training code alone.

The fits of the two libraries alternate, so a busy machine slows both alike.

Run: ``python bench/digits_vs_sklearn.py`` (5 seeds) or ``--seeds 3``.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier as SklearnMLP
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from chainrule.sklearn import MLPClassifier as ChainruleMLP

SETTINGS = {"hidden_layer_sizes": (100,)}  # everything else: the shared defaults


def split(seed: int) -> tuple[np.ndarray, ...]:
    X, y = load_digits(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, stratify=y,
                                              random_state=seed)
    scaler = StandardScaler().fit(X_tr)
    return scaler.transform(X_tr), scaler.transform(X_te), y_tr, y_te


def run(cls: type, seed: int, data: tuple[np.ndarray, ...]) -> dict[str, float]:
    X_tr, X_te, y_tr, y_te = data
    model = cls(random_state=seed, **SETTINGS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        model.fit(X_tr, y_tr)
        seconds = time.perf_counter() - start
    return {"seconds": seconds, "accuracy": model.score(X_te, y_te), "epochs": model.n_iter_}


def compare(seeds: list[int], one_thread: bool) -> dict[str, list[dict[str, float]]]:
    results: dict[str, list[dict[str, float]]] = {"sklearn": [], "chainrule": []}
    limit = threadpool_limits(limits=1, user_api="blas") if one_thread else (
        contextlib.nullcontext())
    with limit:
        run(ChainruleMLP, 0, split(0))  # warm-up: imports, first allocations
        for seed in seeds:
            data = split(seed)
            results["sklearn"].append(run(SklearnMLP, seed, data))
            results["chainrule"].append(run(ChainruleMLP, seed, data))
    return results


def report(title: str, seeds: list[int], results: dict[str, list[dict[str, float]]]) -> None:
    print(f"\n{title}")
    print(f"{'seed':>4}  {'sklearn s':>9} {'acc':>6} {'ep':>4}   "
          f"{'chainrule s':>11} {'acc':>6} {'ep':>4}   {'speed-up':>8}")
    for i, seed in enumerate(seeds):
        s, c = results["sklearn"][i], results["chainrule"][i]
        print(f"{seed:>4}  {s['seconds']:>9.2f} {s['accuracy']:>6.3f} {s['epochs']:>4}   "
              f"{c['seconds']:>11.2f} {c['accuracy']:>6.3f} {c['epochs']:>4}   "
              f"{s['seconds'] / c['seconds']:>7.2f}x")
    total = {k: sum(r["seconds"] for r in v) for k, v in results.items()}
    acc = {k: statistics.mean(r["accuracy"] for r in v) for k, v in results.items()}
    print(f"total {total['sklearn']:>8.2f} s {acc['sklearn']:>6.3f}        "
          f"{total['chainrule']:>9.2f} s {acc['chainrule']:>6.3f}        "
          f"{total['sklearn'] / total['chainrule']:>7.2f}x")
    print(f"mean test accuracy: sklearn {acc['sklearn']:.4f}, chainrule {acc['chainrule']:.4f}; "
          f"time ratio sklearn/chainrule {total['sklearn'] / total['chainrule']:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seeds", type=int, default=5, help="number of seeds (splits)")
    args = parser.parse_args()
    seeds = list(range(args.seeds))
    print("digits, 1347 train / 450 test, MLP 64-100-10 ReLU, Adam lr 1e-3, batch 200, "
          "alpha 1e-4, max_iter 200, tol 1e-4, n_iter_no_change 10")
    report("default threads", seeds, compare(seeds, one_thread=False))
    report("1 BLAS thread (both)", seeds, compare(seeds, one_thread=True))


if __name__ == "__main__":
    main()
