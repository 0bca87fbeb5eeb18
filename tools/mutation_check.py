"""Plant known bugs one at a time and check that the test suite catches each of them.

Every mutant below is a realistic mistake in one source file and the tests that should
catch it. A mutant is planted in one of two ways:

* ``replace``: a textual replacement of ``old`` by ``new``; ``old`` must occur exactly
  once in the file;
* ``append``: ``new`` (code that wraps a function of the module) is appended to the file;
  ``old`` is the anchor that must occur exactly once (e.g. the class being wrapped). The
  appended code calls ``_mutant_fired()`` when the bug takes effect, so a bug that never
  ran (the code it wraps is no longer reached) is reported instead of passing as missed.

For each mutant the script copies ``src/`` to a temporary folder, plants the bug there
(the working tree is never touched), runs the named tests against the copy and reports
``caught`` (a test failed), ``MISSED`` (all passed) or ``error`` (pytest itself failed to
run, or an appended bug never ran).

Before running anything, every chosen mutant's anchor is checked against the current
source: when one is stale (the code was rewritten), the script names it and stops with
exit status 2 — re-plant the bug in the new code rather than dropping it.

Usage (from the repository root)::

    python tools/mutation_check.py                   # every mutant
    python tools/mutation_check.py --module sklearn  # mutants of files matching "sklearn"
    python tools/mutation_check.py --list            # the catalogue, nothing run
    python tools/mutation_check.py --check           # only check the anchors (fast)
    python tools/mutation_check.py mse-not-halved    # mutants by name
    python tools/mutation_check.py --module plots --tests tests/cli/test_plots.py
                                                     # would these tests catch them?

The exit status is 1 when a mutant was missed (or errored), 2 when an anchor is stale. Add
a mutant for every bug you fix (the bug itself, planted back) and report the result for
the modules an issue touches.
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
    old: str  # replace: the text replaced; append: the anchor (kept); once in the file
    new: str
    tests: tuple[str, ...]
    mode: str = "replace"  # or "append"


# Appended before an ``append`` mutant's code: marks, for the script, that the bug ran.
FIRED_PROBE = """

def _mutant_fired():  # planted by tools/mutation_check.py
    import os
    marker = os.environ.get("CHAINRULE_MUTANT_FIRED")
    if marker:
        open(marker, "a").close()
"""

# The compiled step's flat update loses Adam's step count. Planted in the shared update
# (Adam.update, the optimiser protocol) so it survives rewrites of the compiled step: the
# bug acts only when update is called from outside chainrule.optim, i.e. by the compiled
# step's packed update, never by Optimizer.step. t = 10⁹ makes 1 − βᵗ = 1.
FLAT_ADAM_NO_BIAS_CORRECTION = """

def _planted_flat_update(update):
    import sys

    def planted(theta, g, state, hp, scratch):
        caller = sys._getframe(1).f_globals.get("__name__", "")
        if not caller.startswith("chainrule.optim"):
            state["step"] = 10**9
            _mutant_fired()
        return update(theta, g, state, hp, scratch)

    return staticmethod(planted)


Adam.update = _planted_flat_update(Adam.update)
"""


MUTANTS = [
    # the core: ten bugs a reviewer planted once, kept so a rewrite cannot lose the tests
    Mutant("sub-backward-sign", "a flipped sign in a backward: ∂(x − y)/∂y = +1",
           "ops.py", "unbroadcast(-g, _shape(y))", "unbroadcast(g, _shape(y))",
           ("tests/core/test_core_oracle.py",)),
    Mutant("kfold-extra-in-last-folds", "KFold gives the n mod k extra samples to the last "
           "folds (scikit-learn: the first)",
           "data/splits.py", "sizes[: n % self.n_splits] += 1",
           "sizes[self.n_splits - n % self.n_splits:] += 1",
           ("tests/data/test_data_splits.py",)),
    Mutant("split-size-law-linear", "the train/dev/test fractions between 10⁴ and 10⁶ samples "
           "interpolated linearly (not the power law)",
           "data/splits.py", "f_dev = _SMALL[1] * (_LARGE[1] / _SMALL[1]) ** t",
           "f_dev = _SMALL[1] + (_LARGE[1] - _SMALL[1]) * t",
           ("tests/data/test_data_splits.py",)),
    Mutant("l2-denominator-m", "the L2 penalty λ/m·‖θ‖² (the ½ lost)",
           "nn/regularization.py", "(lam / (2.0 * (1 if m is None else int(m))))",
           "(lam / (1 if m is None else int(m)))",
           ("tests/nn/test_nn_regularization.py",)),
    Mutant("dropout-scaled-by-p", "inverted dropout divides by p instead of 1 − p",
           "nn/functional.py", "np.asarray(1.0 / (1.0 - p), dtype=x.dtype)",
           "np.asarray(1.0 / p, dtype=x.dtype)",
           ("tests/nn/test_nn_layers.py",)),
    Mutant("xavier-variance-1-over-n", "xavier_normal with the course notes' variance 1/fan_in",
           "nn/init.py", "std = gain * math.sqrt(2.0 / (fan_in + fan_out))",
           "std = gain * math.sqrt(1.0 / fan_in)",
           ("tests/nn/test_nn_init.py",)),
    Mutant("early-stopping-keeps-last", "early stopping ends with the last weights, not the "
           "best",
           "train/callbacks.py", "if self.restore_best and self.best_state is not None:",
           "if False:",
           ("tests/train/test_train_callbacks.py",)),
    Mutant("clip-by-value", "clip_grad_norm_ clamps each entry to ±max_norm (clipping by "
           "value)",
           "optim/clip.py", 'np.multiply(g.data, clip_coef, out=g.data, casting="same_kind")',
           "np.clip(g.data, -max_norm, max_norm, out=g.data)",
           ("tests/optim/test_optim_clip.py",)),
    # the edges (issue: a green suite that proves what it claims)
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
    Mutant("sigmoid-shift-sign", "sigmoid_family draws σ(x − b) under the label σ(x + b)",
           "plots.py", "_sigma(x + b)", "_sigma(x - b)",
           ("tests/cli/test_plot_data.py",)),
    Mutant("fd-central-as-forward", "finite_difference_error draws the forward difference "
           "twice (the scheme not passed on)",
           "plots.py", "finite_difference_errors(f, df, x, steps, scheme=scheme)",
           "finite_difference_errors(f, df, x, steps)",
           ("tests/cli/test_plot_data.py",)),
    Mutant("trajectory-axes-swapped", "optimizer_trajectories draws (θ₂, θ₁) over f(θ₁, θ₂)",
           "plots.py", "ax.plot(p[:, 0], p[:, 1], styles", "ax.plot(p[:, 1], p[:, 0], styles",
           ("tests/cli/test_plot_data.py",)),
    Mutant("contours-transposed", "optimizer_trajectories draws the contours of f(θ₂, θ₁)",
           "plots.py", "zz = np.asarray(f(xx, yy), dtype=np.float64)",
           "zz = np.asarray(f(yy, xx), dtype=np.float64)",
           ("tests/cli/test_plot_data.py",)),
    Mutant("ridges-unscaled", "histograms draws each layer's density, not scaled to its peak",
           "plots.py", "h = np.repeat(d / d.max() if d.max() > 0 else d, 2) * 0.92",
           "h = np.repeat(d, 2) * 0.92",
           ("tests/cli/test_plot_data.py",)),
    Mutant("fits-mean-is-first-fit", "the decomposition demo's 'mean fit' is one fit",
           "demos/decomposition.py", "ax.plot(grid, r.mean_prediction,",
           "ax.plot(grid, r.predictions[0],",
           ("tests/cli/test_plot_data.py::test_demo_figures_of_their_own_show_their_results",)),
    Mutant("prior-error-bars-flipped", "the spatial-prior bars' error bars upside down",
           "demos/spatial_prior.py", "err = np.array([[m - a.min() for m, a in zip(means, accs)],",
           "err = np.array([[a.max() - m for m, a in zip(means, accs)],",
           ("tests/cli/test_plot_data.py::test_demo_figures_of_their_own_show_their_results",)),
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
           "optim/adam.py", "class Adam(Optimizer):", FLAT_ADAM_NO_BIAS_CORRECTION,
           ("tests/core/test_trace_torch.py",), mode="append"),
    Mutant("packed-params-never-stale", "the compiled step keeps updating its flat array "
           "after load_state_dict gave the parameters new arrays",
           "trace.py", "all(map(operator.is_, map(_DATA, tensors), self.arrays))",
           "True",
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
    Mutant("predict-target-mean-dropped", "chainrule predict unscales a regression target "
           "by σ only (y'·σ, the mean μ forgotten)",
           "cli.py", "raw2 = raw2 * std + mean", "raw2 = raw2 * std",
           ("tests/cli/test_cli_commands.py::"
            "test_regression_predict_and_evaluate_are_the_librarys_numbers",)),
    Mutant("rmse-in-standardised-units", "evaluate reports a regression RMSE in the "
           "standardised target's units",
           "cli.py", "out[k] = out[k] * float(y_scale[1])", "out[k] = out[k]",
           ("tests/cli/test_cli_commands.py::"
            "test_regression_predict_and_evaluate_are_the_librarys_numbers",)),
    Mutant("diagnose-swapped-errors", "diagnose compares dev with target (train ignored)",
           "train/diagnosis.py", "avoidable_bias = train_error - target",
           "avoidable_bias = dev_error - target",
           ("tests/cli/test_cli_commands.py",)),
]


def planted(m: Mutant, text: str) -> str:
    """The source ``text`` of ``m.file`` with the bug planted; ValueError if the anchor
    (``m.old``) does not occur exactly once — the catalogue is stale."""
    if m.mode not in ("replace", "append"):
        raise ValueError(f"mutant {m.name}: mode must be 'replace' or 'append', got {m.mode!r}")
    count = text.count(m.old)
    if count != 1:
        raise ValueError(f"mutant {m.name}: its anchor occurs {count} times in {m.file} "
                         f"(expected once): {m.old.strip()[:70]!r}")
    if m.mode == "append":
        return text.rstrip("\n") + "\n" + FIRED_PROBE + m.new
    return text.replace(m.old, m.new)


def stale(mutants: list[Mutant], src: Path = ROOT / "src") -> list[str]:
    """Why each mutant whose bug cannot be planted in ``src`` (missing file, anchor text
    not found once) cannot; empty when all can."""
    problems = []
    for m in mutants:
        target = src / "chainrule" / m.file
        if not target.is_file():
            problems.append(f"mutant {m.name}: no file {m.file}")
            continue
        try:
            planted(m, target.read_text(encoding="utf-8"))
        except ValueError as e:
            problems.append(str(e))
    return problems


def _run(m: Mutant, keep_going: bool, tests: list[str] | None = None) -> tuple[str, str]:
    with tempfile.TemporaryDirectory(prefix="mutant-") as tmp:
        src = Path(tmp) / "src"
        shutil.copytree(ROOT / "src", src, ignore=shutil.ignore_patterns("__pycache__"))
        target = src / "chainrule" / m.file
        target.write_text(planted(m, target.read_text(encoding="utf-8")), encoding="utf-8")
        fired = Path(tmp) / "fired"
        env = {**os.environ, "PYTHONPATH": str(src), "OMP_NUM_THREADS": "1",
               "OPENBLAS_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1",
               "CHAINRULE_MUTANT_FIRED": str(fired)}
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
               "-p", "no:randomly", "-n", "0", *(tests or m.tests)]
        if not keep_going:
            cmd.insert(3, "-x")
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        last = (proc.stdout.strip().splitlines() or [""])[-1]
        if m.mode == "append" and not fired.exists():
            if tests:  # other tests than the mutant's own: they just do not reach it
                return "MISSED", f"the planted bug never ran in these tests: {last}"
            return "error", (f"the planted bug never ran (the code it wraps is no longer "
                             f"reached; re-plant it): pytest exit {proc.returncode}: {last}")
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
    ap.add_argument("--check", action="store_true",
                    help="only check that every chosen mutant can still be planted")
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
    if not chosen:
        print("no mutant matches", file=sys.stderr)
        return 2
    problems = stale(chosen)
    if problems:
        print("STALE MUTANTS: the code they plant a bug in was rewritten; re-plant each bug "
              "in the new code (tools/mutation_check.py), do not drop it:", file=sys.stderr)
        for line in problems:
            print(f"  {line}", file=sys.stderr)
        return 2
    if args.check:
        print(f"{len(chosen)} mutants can be planted")
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
