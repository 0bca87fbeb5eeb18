"""Plant known bugs one at a time and check that the test suite catches each of them.

Every mutant below is a realistic mistake in one source file (a textual replacement that
must match exactly once) and the tests that should catch it. For each mutant the script
copies ``src/`` to a temporary folder, plants the bug there (the working tree is never
touched), runs the named tests against the copy and reports ``caught`` (a test failed),
``MISSED`` (all passed) or ``error`` (the bug could not be planted, or pytest itself
failed to run).

Usage (from the repository root)::

    python tools/mutation_check.py                   # every mutant
    python tools/mutation_check.py --module sklearn  # mutants of files matching "sklearn"
    python tools/mutation_check.py --list            # the catalogue, nothing run
    python tools/mutation_check.py mse-not-halved    # mutants by name
    python tools/mutation_check.py --module plots --tests tests/cli/test_plots.py
                                                     # would these tests catch them?

The exit status is 1 when a mutant was missed. Add a mutant for every bug you fix (the bug
itself, planted back) and report the result for the modules an issue touches.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Mutant:
    name: str
    what: str
    file: str  # relative to src/chainrule
    old: str
    new: str
    tests: tuple[str, ...]


MUTANTS = [
    Mutant("mse-not-halved", "MLPRegressor's squared error not halved (twice sklearn's loss_)",
           "nn/losses.py", 'sklearn_kwargs={"half": True})', 'sklearn_kwargs={"half": False})',
           ("tests/sklearn/test_sklearn_objective.py",)),
    Mutant("poisson-offset-sign", "the half Poisson deviance's constant y·log y − y negated",
           "sklearn/_mlp.py", "const = (xlogy(Y, Y) - Y).sum(axis=1)",
           "const = (Y - xlogy(Y, Y)).sum(axis=1)",
           ("tests/sklearn/test_sklearn_objective.py",)),
    Mutant("l2-not-per-weight", "the penalty α/2·‖W‖² not divided by the batch's Σw",
           "sklearn/_mlp.py", "penalty_per_weight=True)", "penalty_per_weight=False)",
           ("tests/sklearn/test_sklearn_objective.py",)),
    Mutant("class-weight-dict-ignored", "a class_weight dict treated as 'balanced'",
           "sklearn/_mlp.py", "sw = sw * compute_sample_weight(self.class_weight, y)",
           'sw = sw * compute_sample_weight("balanced", y)',
           ("tests/sklearn/test_sklearn_mlp.py::test_class_weight_is_a_sample_weight",)),
    Mutant("confusion-axes-swapped", "plots.confusion_matrix with true and predicted swapped",
           "plots.py", "C = _confusion(t, p, k)",
           "C = _confusion(p, t, k)",
           ("tests/cli/test_plot_data.py",)),
    Mutant("regions-transposed", "decision_regions draws the grid's labels transposed",
           "plots.py", 'ax.imshow(labels.reshape(xx.shape), origin="lower"',
           'ax.imshow(labels.reshape(xx.shape).T, origin="lower"',
           ("tests/cli/test_plot_data.py",)),
    Mutant("dev-curve-shifted", "training_curves draws the dev losses at the first epochs",
           "plots.py", "ax.plot(e[ok], dl[ok]", "ax.plot(e[: int(ok.sum())], dl[ok]",
           ("tests/cli/test_plot_data.py",)),
    Mutant("atomic-write-in-place", "atomic_write_bytes writes the file in place (no rename)",
           "train/checkpoint.py", "        os.replace(tmp, path)\n",
           "        with open(path, 'wb') as out:\n            out.write(data)\n"
           "        os.unlink(tmp)\n",
           ("tests/train/test_atomic_write.py",)),
    Mutant("adam-no-bias-correction", "Adam's update without bias correction",
           "optim/adam.py", "bias_correction1 = 1 - beta1**t", "bias_correction1 = 1",
           ("tests/core/test_trace_torch.py",)),
    Mutant("flat-adam-no-bias-correction",
           "the compiled step's packed (flat) update loses Adam's step count: no bias "
           "correction in replays only",
           "trace.py", "opt.update(self.theta, self.grad, state, hp, self.scratch)",
           "state.update(step=10**9) if 'step' in state else None; "
           "opt.update(self.theta, self.grad, state, hp, self.scratch)",
           ("tests/core/test_trace_torch.py",)),
    Mutant("packed-params-never-stale", "the compiled step keeps updating its flat array "
           "after load_state_dict gave the parameters new arrays",
           "trace.py", "if t.data is not arr or t.requires_grad is not rg:",
           "if t.requires_grad is not rg:",
           ("tests/core/test_trace.py::"
            "test_parameters_are_packed_and_stay_packed_across_signatures",)),
    Mutant("nesterov-as-momentum", "SGD's Nesterov look-ahead dropped",
           "optim/sgd.py", "if nesterov:", "if False:",
           ("tests/core/test_trace_torch.py",)),
    Mutant("rmsprop-eps-inside-sqrt", "RMSprop's ε inside the square root",
           "optim/rmsprop.py", "    np.sqrt(v, out=s)\n        s += eps",
           "    np.sqrt(v + eps, out=s)\n        s += 0.0",
           ("tests/core/test_trace_torch.py",)),
    Mutant("probability-tolerance-loose", "probabilities accepted 100× off summing to 1",
           "mathkit/probability.py", "PROB_ATOL = 1e-6", "PROB_ATOL = 1e-4",
           ("tests/mathkit/test_mathkit_probability.py::test_probs_tolerance",)),
    Mutant("predict-unscaled", "chainrule predict skips the saved standardisation",
           "cli.py", "    Xs = scaler.transform(X) if scaler is not None else X\n"
           "    raw = _predict(art.model, Xs)", "    raw = _predict(art.model, X)",
           ("tests/cli/test_cli_commands.py",)),
    Mutant("diagnose-swapped-errors", "diagnose compares dev with target (train ignored)",
           "train/diagnosis.py", "avoidable_bias = train_error - target",
           "avoidable_bias = dev_error - target",
           ("tests/cli/test_cli_commands.py",)),
]


def _run(m: Mutant, keep_going: bool, tests: list[str] | None = None) -> tuple[str, str]:
    with tempfile.TemporaryDirectory(prefix="mutant-") as tmp:
        src = Path(tmp) / "src"
        shutil.copytree(ROOT / "src", src, ignore=shutil.ignore_patterns("__pycache__"))
        target = src / "chainrule" / m.file
        if not target.is_file():
            return "error", f"no file {m.file}"
        text = target.read_text(encoding="utf-8")
        if text.count(m.old) != 1:
            return "error", f"the text to replace occurs {text.count(m.old)} times in {m.file}"
        target.write_text(text.replace(m.old, m.new), encoding="utf-8")
        env = {**os.environ, "PYTHONPATH": str(src), "OMP_NUM_THREADS": "1",
               "OPENBLAS_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1"}
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
               "-p", "no:randomly", "-n", "0", *(tests or m.tests)]
        if not keep_going:
            cmd.insert(3, "-x")
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        last = (proc.stdout.strip().splitlines() or [""])[-1]
        if proc.returncode == 0:
            return "MISSED", last
        if proc.returncode == 1:
            failed = [ln.split(" - ")[0][7:] for ln in proc.stdout.splitlines()
                      if ln.startswith("FAILED ")]
            return "caught", ", ".join(failed[:3]) or last
        return "error", f"pytest exit {proc.returncode}: {last}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*", help="mutants to run (default: all)")
    ap.add_argument("--module", help="only mutants of source files whose path contains this")
    ap.add_argument("--list", action="store_true", help="print the catalogue and stop")
    ap.add_argument("--tests", nargs="+", metavar="PATH",
                    help="run these tests instead of each mutant's own (e.g. a whole folder)")
    ap.add_argument("--all-failures", action="store_true",
                    help="run every listed test of a mutant (default: stop at the first)")
    args = ap.parse_args(argv)
    chosen = [m for m in MUTANTS
              if (not args.names or m.name in args.names)
              and (args.module is None or args.module in m.file)]
    unknown = set(args.names) - {m.name for m in MUTANTS}
    if unknown:
        ap.error(f"unknown mutant(s) {sorted(unknown)}; --list shows the names")
    if args.list:
        for m in chosen:
            print(f"{m.name:30} {m.file:22} {m.what}")
        return 0
    missed = 0
    for m in chosen:
        start = time.perf_counter()
        verdict, detail = _run(m, args.all_failures, args.tests)
        missed += verdict != "caught"
        print(f"{verdict:7} {m.name:30} {m.file:22} {time.perf_counter() - start:5.1f}s  "
              f"{detail}", flush=True)
    print(f"{len(chosen) - missed}/{len(chosen)} planted bugs caught")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
