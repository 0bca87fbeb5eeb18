"""The bias-variance-decomposition demo: its figures, and the U of the total error."""

from __future__ import annotations

from chainrule import demos

MIN_BYTES = 5_000


def test_bias_variance_decomposition_demo(tmp_path):
    r = demos.run_demo("bias-variance-decomposition", tmp_path, quick=True)
    for stem in ("degree", "width", "fits"):
        for suffix in (".png", ".svg"):
            assert (tmp_path / f"{stem}{suffix}").stat().st_size > MIN_BYTES
    assert r.summary_path.read_text().strip() == r.summary.strip()
    m = r.metrics
    assert m["degrees"] == [0, 1, 3, 6] and m["noise"] == 0.3**2
    bias2, variance, total = m["degree_bias2"], m["degree_variance"], m["degree_total"]
    # the U: bias² falls from degree 0 to 3, variance is highest at degree 6
    assert bias2[0] > bias2[1] > bias2[2]
    assert variance[3] == max(variance)
    assert m["best_degree"] == 3 and total[2] < min(total[1], total[3])
    # every total is the sum of its terms, and near the error measured on fresh targets
    for t, b, v, e in zip(total, bias2, variance, m["degree_test_error"]):
        assert abs(t - (m["noise"] + b + v)) < 1e-12
        assert abs(e - t) < 0.1 * t
    # one tanh unit underfits sin(πx) where sixteen do not
    assert m["width_bias2"][0] > 2 * m["width_bias2"][1]
    assert "lowest expected error: degree 3" in r.summary
