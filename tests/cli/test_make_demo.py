"""`make demo` end to end: the two commands of the README's first line, in this checkout.

It runs where `make test` has built the project's .venv (as CI does) and is skipped
elsewhere; outputs go to a temporary folder through the Makefile's RUNS variable.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.skipif(
    shutil.which("make") is None or not (ROOT / ".venv" / ".installed").is_file(),
    reason="needs make and the project's .venv built by make",
)
def test_make_demo_end_to_end(tmp_path):
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        ["make", "--no-print-directory", "demo", f"RUNS={tmp_path}"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    out = proc.stdout
    # it says where its outputs are
    assert f"run folder: {tmp_path}" in out and f"outputs in {tmp_path}/demo-higham" in out
    (run,) = [p for p in tmp_path.iterdir() if p.name.startswith("digits-")]
    for name in ("config.toml", "history.csv", "metrics.json", "model.safetensors"):
        assert (run / name).is_file(), name
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["test"]["accuracy"] >= 0.97, metrics
    assert "points classified correctly: 10/10" in out
    assert (tmp_path / "demo-higham" / "regions.png").stat().st_size > 10_000
