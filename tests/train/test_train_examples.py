"""Known datasets learned past stated accuracies: Digits and Higham & Higham's 10 points."""

import numpy as np

from chainrule import data, nn, optim
from chainrule.train import EarlyStopping, diagnose, evaluate, fit, predict


def test_digits_mlp_reaches_97_percent_test_accuracy():
    ds = data.load_dataset("digits")  # 1797 8×8 images, 10 classes
    (Xtr, ytr), (Xd, yd), (Xte, yte) = data.train_dev_test_split(ds.X, ds.y, stratify=True,
                                                                  seed=0)  # 60/20/20
    scaler = data.Standardizer().fit(Xtr)  # statistics of the training set only
    Xtr, Xd, Xte = scaler.transform(Xtr), scaler.transform(Xd), scaler.transform(Xte)
    model = nn.Sequential(nn.Linear(64, 32, init="he", seed=0), nn.ReLU(),
                          nn.Linear(32, 10, seed=100))
    es = EarlyStopping(patience=10)
    h = fit(model, "cross_entropy", optim.Adam(model.parameters(), lr=5e-3), (Xtr, ytr),
            (Xd, yd), epochs=100, batch_size=64, seed=0, l2=1e-3, callbacks=[es],
            progress=False)
    test = evaluate(model, "cross_entropy", (Xte, yte))
    assert test["accuracy"] >= 0.97, (test, len(h))
    assert np.mean(predict(model, Xte).argmax(axis=1) == yte) == test["accuracy"]
    assert evaluate(model, "cross_entropy", (Xd, yd))["loss"] == h.column("dev_loss").min()
    d = diagnose(h)
    assert d.dev_error <= 0.05 and d.train_error <= 0.02


def test_higham_points_are_all_classified_by_a_2_2_3_2_sigmoid_network():
    """Higham & Higham (2019), §2–3: ``a = σ(W₄σ(W₃σ(W₂x + b₂) + b₃) + b₄)`` with 2, 3 and 2
    sigmoid neurons, cost ``(1/10) Σᵢ ½‖yᵢ − a(xᵢ)‖²`` (``F.mse_loss`` over the 2 outputs
    is exactly this), targets ``(1, 0)`` for class A and ``(0, 1)`` for class B, weights and
    biases drawn from ``0.5·N(0, 1)``.

    The paper trains by stochastic gradient, one random point per step with η = 0.05, for
    10⁶ steps. To keep the test fast we use full-batch gradient descent (batch of all 10
    points) with η = 10 for 1500 steps instead — the same cost and network, a different
    step rule — and require all ten points classified correctly (argmax of the output).
    """
    ds = data.load_dataset("higham")
    Y = np.eye(2)[ds.y]  # one-hot targets
    rng = np.random.default_rng(1)
    layers = []
    for n_in, n_out in [(2, 2), (2, 3), (3, 2)]:
        layer = nn.Linear(n_in, n_out, dtype=np.float64)
        layer.weight.data[:] = 0.5 * rng.standard_normal((n_out, n_in))
        layer.bias.data[:] = 0.5 * rng.standard_normal(n_out)
        layers += [layer, nn.Sigmoid()]
    model = nn.Sequential(*layers)
    h = fit(model, "mse", optim.SGD(model.parameters(), lr=10.0), (ds.X, Y), epochs=1500,
            batch_size=None, seed=0, metrics=["accuracy"], progress=False)
    predicted = predict(model, ds.X).argmax(axis=1)
    assert predicted.tolist() == ds.y.tolist()  # 10/10
    assert h.records[0]["train_accuracy"] < 1.0  # it had to learn it
    assert h.records[-1]["train_loss"] < 0.01 < h.records[0]["train_loss"]
