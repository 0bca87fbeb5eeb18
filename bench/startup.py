"""Start-up cost of the ``chainrule`` command: wall time of three everyday invocations.

    python bench/startup.py [--repeat 5]

Times, each in a fresh process (the best of ``--repeat`` runs, so a busy machine's
hiccups do not count; the median is shown too):

- ``chainrule --help``                                   target ≤ 0.5 s
- ``chainrule datasets``                                 target ≤ 1 s
- ``chainrule train --epochs 1 --no-figures`` on digits  target ≤ 2 s

The command runs as ``python -m chainrule`` with this checkout's ``src`` first on the path
and one BLAS thread. Not a test: it prints, it does not assert.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

CASES = (
    ("chainrule --help", ["--help"], 0.5),
    ("chainrule datasets", ["datasets"], 1.0),
    ("chainrule train --epochs 1 --no-figures (digits)",
     ["train", "--epochs", "1", "--no-figures", "--no-progress", "--data", "digits"], 2.0),
)


def _time(args: list[str], workdir: str) -> float:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(SRC), *filter(None, [os.environ.get("PYTHONPATH")])]),
        OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "chainrule", *args], cwd=workdir, env=env,
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    """Print the best and median wall time of each case against its target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per case (best is kept)")
    args = parser.parse_args()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"start-up of the chainrule command ({args.repeat} runs each; load average "
          f"{load:.2f} on {os.cpu_count()} cores)")
    print(f"{'command':52s} {'best':>7s} {'median':>7s} {'target':>7s}")
    with tempfile.TemporaryDirectory() as workdir:
        for label, argv, target in CASES:
            times = [_time(argv, workdir) for _ in range(args.repeat)]
            best = min(times)
            flag = "ok" if best <= target else "over"
            print(f"{label:52s} {best:6.2f}s {statistics.median(times):6.2f}s "
                  f"{target:6.1f}s  {flag}")


if __name__ == "__main__":
    main()
