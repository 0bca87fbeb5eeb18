"""The playground's run without the web: data, config, training, chain rule, snippet."""

import contextlib
import io

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule.playground.core import DATASETS, Config, Run, make_split, parse_csv


def test_defaults_are_tensorflow_playgrounds():
    c = Config()
    assert (c.dataset, c.noise, c.train_ratio, c.batch_size, c.lr, c.activation,
            c.regularization, c.features, c.hidden, c.loss) == (
        "circle", 0.0, 50.0, 10, 0.03, "tanh", "none", ["x1", "x2"], [4, 2], "mse")
    assert Config.from_hash(c.to_hash()) == c
    shown = Config.from_hash("show_test=1&discretize=true&hidden=3")
    assert shown.show_test and shown.discretize and shown.hidden == [3]
    assert Config.from_hash(shown.to_hash()) == shown
    assert shown.same_run(Config(hidden=[3])) and not shown.same_run(c)


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_data_sets_sizes_labels_and_split(name):
    task, n, k = DATASETS[name]
    c = Config(dataset=name, problem=task, train_ratio=30,
               loss="cross_entropy" if k == 3 else "mse")
    d = make_split(c)
    assert len(d["P_train"]) == round(0.3 * n) and len(d["P_test"]) == n - round(0.3 * n)
    y = np.concatenate([d["y_train"], d["y_test"]])
    if task == "classification":
        assert sorted(np.unique(y)) == list(range(k))
    else:
        assert y.min() >= -1 and y.max() <= 1
    again = make_split(c)
    assert np.array_equal(again["X_train"], d["X_train"])             # seeded
    other = make_split(Config(**{**c.to_dict(), "data_seed": 1}))
    assert not np.array_equal(other["P_train"], d["P_train"])          # regenerate


def test_circle_labels_follow_the_radius():
    d = make_split(Config())
    r = np.hypot(*d["P_train"].T)
    # noise 0: inner disc r < 2.5 is class 1, the ring 3.5 ≤ r ≤ 5 class 0
    assert np.all((r < 2.5) == (d["y_train"] == 1)) and r.max() <= 5.0 + 1e-9
    assert np.array_equal(d["T_train"][:, 0], 2.0 * d["y_train"] - 1)  # ±1 targets


def test_features_are_the_formulas():
    c = Config(features=["x1", "x2", "x1sq", "x2sq", "x1x2", "sinx1", "sinx2"])
    d = make_split(c)
    a, b = d["P_train"].T
    want = np.stack([a, b, a * a, b * b, a * b, np.sin(a), np.sin(b)], 1)
    np.testing.assert_allclose(d["X_train"], want.astype(np.float32))


@pytest.mark.parametrize("bad", [
    {"hidden": [4] * 9}, {"hidden": [33]}, {"lr": 0}, {"noise": 60}, {"features": []},
    {"features": ["x3"]}, {"dataset": "plane"}, {"optimizer": "lbfgs"}, {"batch_size": 1.5},
    {"nope": 1}, {"dropout": 0.95}, {"show_test": "maybe"}])
def test_bad_settings_raise_value_error_naming_them(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        Config.from_dict(bad)


def test_training_runs_through_the_one_step_and_learns():
    run = Run(Config(hidden=[8], lr=0.1))
    first = run.losses()
    run.train(10 * run.steps_per_epoch())
    train, test = run.losses()
    assert run.steps == 250 and run.epoch == 10
    assert train < 0.5 * first[0] and test < 0.5 * first[1]
    f = run.frame()
    assert f["steps"] == 250 and len(f["neurons"]) == 1 and len(f["neurons"][0]) == 8
    assert len(f["weights"]) == 2 and np.array(f["weights"][0]["W"]).shape == (8, 2)


def test_chain_rule_paths_sum_to_torchs_gradient():
    run = Run(Config(hidden=[3, 2], activation="tanh"))
    run.train(30)
    e = run.explain(0, 2, 1)          # W⁽⁰⁾[2, 1]: 2 paths (via h2_0 and h2_1) to ŷ
    assert e["n_paths"] == 2 and len(e["terms"]) == 2
    # torch, float64, same weights, same loss (mean squared error on the training set)
    Ws = [torch.tensor(m.weight.numpy(), dtype=torch.float64, requires_grad=True)
          for m in run.linears]
    bs = [torch.tensor(m.bias.numpy(), dtype=torch.float64) for m in run.linears]
    h = torch.tensor(run.data["X_train"], dtype=torch.float64)
    for i, (W, b) in enumerate(zip(Ws, bs)):
        h = h @ W.T + b
        if i < len(Ws) - 1:
            h = torch.tanh(h)
    loss = ((h - torch.tensor(run.data["T_train"], dtype=torch.float64)) ** 2).mean()
    loss.backward()
    want = Ws[0].grad[2, 1].item()
    assert e["path_sum"] == pytest.approx(want, rel=1e-10)
    assert e["gradient"] == pytest.approx(want, rel=1e-10)
    assert e["finite_difference"] == pytest.approx(want, rel=1e-5)


def test_chain_rule_multiclass_and_grouped_paths():
    run = Run(Config(dataset="spiral3", loss="cross_entropy", hidden=[4, 3]))
    e = run.explain(0, 1, 0)          # 3 next neurons × 3 outputs = 9 paths
    assert e["n_paths"] == 9 and e["path_sum"] == pytest.approx(e["gradient"], rel=1e-9)
    big = Run(Config(hidden=[32] * 8, activation="relu"))
    e = big.explain(1, 0, 0)          # 32⁶ paths: grouped by the next neuron
    assert e["grouped"] and e["path_sum"] == pytest.approx(e["gradient"], rel=1e-9, abs=1e-15)
    with pytest.raises(ValueError, match="outside"):
        big.explain(0, 40, 0)


def test_python_snippet_and_saved_model_reproduce_the_run(tmp_path):
    run = Run(Config(dataset="gauss", optimizer="momentum", regularization="l2", reg_rate=0.01,
                     dropout=0.1, batch_size=7))
    run.train(53)                      # stops mid-epoch
    _, test = run.losses()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(run.python_snippet(), "snippet.py", "exec"), {"__name__": "snippet"})
    assert float(out.getvalue().split("test loss")[1]) == pytest.approx(test, abs=2e-6)
    run.save(tmp_path / "m.safetensors")
    model = cr.load(tmp_path / "m.safetensors")
    model.eval()
    run.model.eval()
    X = cr.tensor(run.data["X_test"])
    np.testing.assert_array_equal(model(X).numpy(), run.model(X).numpy())


def test_parse_csv_validates_and_scales():
    rows = "\n".join(f"{i},{2 * i},{i % 3}" for i in range(20))
    P, y = parse_csv("a,b,c\n" + rows, "classification")
    assert P.min() == -5 and P.max() == 5 and sorted(set(y.tolist())) == [0, 1, 2]
    for text, msg in [("1,2\n" * 12, "expected 3 columns"), ("1,x,0\n" * 12, "not a finite"),
                      ("1,2,0\n" * 3, "at least 10"), ("1,2,0.5\n" * 12, "integers"),
                      ("1,2,0\n" * 12, "two classes"), (b"\xff" * 20, "UTF-8"),
                      ("1,2,0\n" * 200_000, "too large")]:
        with pytest.raises(ValueError, match=msg):
            parse_csv(text, "classification")
