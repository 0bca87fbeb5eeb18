"""The fine-tuning demo: pre-train on a source task, train only the head on a small related
task, compare with training from scratch (quick schedule: 2 seeds, n = 10 and 40)."""

from __future__ import annotations

import numpy as np

from chainrule import demos
from chainrule.demos import finetune as ft

MIN_BYTES = 5_000


def test_finetune_demo_head_beats_scratch(tmp_path):
    r = demos.run_demo("finetune", tmp_path, quick=True)
    m = r.metrics
    assert m["ns"] == [10, 40] and m["seeds"] == [0, 1]
    # the head of 10-64-16-4 is 16·4 + 4 = 68 numbers; the frozen rest 704 + 1,040 = 1,744
    assert (m["n_frozen"], m["n_total"]) == (1744, 1812)
    scratch, head = np.array(m["mse/scratch"]), np.array(m["mse/head only"])
    assert scratch.shape == head.shape == (2, 2)  # seeds × n
    # measured (quick): n = 10 scratch 1.87 / 2.06, head only 0.17 / 0.26 (target variance
    # ≈ 3); n = 40 scratch 0.18 / 0.21, head only 0.13 / 0.16
    assert np.all(head[:, 0] < scratch[:, 0] / 4)   # every seed, by a wide margin
    assert np.all(head[:, 1] < scratch[:, 1])
    assert np.all(scratch[:, 0] > scratch[:, 1])     # more labels help training from scratch
    lines = r.summary.splitlines()
    row10 = next(line for line in lines if line.split()[:1] == ["10"])
    assert f"{np.median(scratch[:, 0]):.4f}" in row10 and f"{np.median(head[:, 0]):.4f}" in row10
    assert "68 of 1,812 parameters (1,744 frozen)" in r.summary
    for suffix in (".png", ".svg"):
        assert (tmp_path / f"finetune{suffix}").stat().st_size > MIN_BYTES


def test_same_seed_same_numbers_and_the_tasks_are_related():
    a = ft.run_finetune([3], [10], 2, 5)
    b = ft.run_finetune([3], [10], 2, 5)
    assert a == b
    # source and target share the teacher's features: the target read-out B_t applied to
    # tanh(A x) reproduces the noiseless target samples exactly
    family = ft.make_family(3)
    x, y = ft.sample(family, "target", 5, np.random.default_rng(0), noise=0.0)
    np.testing.assert_allclose(y, np.tanh(x @ family["A"].T) @ family["B_t"], rtol=1e-15)
    assert family["A"].shape == (4, 10) and family["B_s"].shape == family["B_t"].shape == (4, 4)
