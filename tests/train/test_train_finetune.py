"""Pre-training and fine-tuning: frozen parameters stay bit for bit, the rest trains as if
the frozen layers were a fixed feature map, and the count of frozen parameters is reported."""

import numpy as np
import pytest

from chainrule import nn, optim
from chainrule.train import (
    TrainingStep,
    fit,
    freeze,
    frozen_parameters,
    layer_names,
)
from chainrule.train.summary import format_summary, model_summary
from doctest_helper import check_doctests


def _data(rng, n=48, d=3):
    X = rng.standard_normal((n, d))
    return X, (X[:, 0] - X[:, 1] > 0).astype(np.int64)


def _model(dtype=np.float64):
    # layers 0 and 2 are Linear: 3·8 + 8 = 32 and 8·2 + 2 = 18 parameters
    return nn.Sequential(nn.Linear(3, 8, seed=0, dtype=dtype), nn.Tanh(),
                         nn.Linear(8, 2, seed=1, dtype=dtype))


OPTIMIZERS = {
    "sgd-momentum-decay": lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.1),
    "adam-decay": lambda ps: optim.Adam(ps, lr=0.01, weight_decay=0.1),
    "adamw": lambda ps: optim.AdamW(ps, lr=0.01, weight_decay=0.1),
    "rmsprop": lambda ps: optim.RMSprop(ps, lr=0.01, momentum=0.5, weight_decay=0.1),
}


@pytest.mark.parametrize("compile", [False, True])
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_frozen_parameters_stay_bit_identical(rng, compile, name):
    X, y = _data(rng)
    model = _model(np.float32)
    model[0].requires_grad_(False)
    before = {k: v.copy() for k, v in model.state_dict().items()}
    # the optimiser holds every parameter, frozen ones included; L1 and L2 penalties too
    h = fit(model, "cross_entropy", OPTIMIZERS[name](model.parameters()), (X, y),
            epochs=4, batch_size=16, seed=0, progress=False, l1=0.01, l2=0.1,
            compile=compile)
    after = model.state_dict()
    assert h.compiled is compile  # the compiled run really replayed its steps
    assert np.array_equal(after["0.weight"], before["0.weight"])
    assert np.array_equal(after["0.bias"], before["0.bias"])
    assert not np.array_equal(after["2.weight"], before["2.weight"])
    assert not np.array_equal(after["2.bias"], before["2.bias"])
    assert h.frozen == ("0.weight", "0.bias") and h.n_frozen == 3 * 8 + 8


def test_head_fine_tuning_equals_training_the_head_on_fixed_features(rng):
    """Freezing the body is training the head on the body's outputs: the same SGD steps on
    ``ŷ = W₂ tanh(W₁x + b₁) + b₂`` with (W₁, b₁) frozen and on ``ŷ = W₂ h + b₂`` with the
    features ``h = tanh(W₁x + b₁)`` computed once give the same head (float64)."""
    X, y = _data(rng)
    model = _model()
    freeze(model, "hidden")
    head = nn.Linear(8, 2, seed=1, dtype=np.float64)  # the same initial head
    H = np.tanh(X @ model[0].weight.data.T + model[0].bias.data)
    for m, inputs in ((model, X), (head, H)):
        fit(m, "cross_entropy", optim.SGD(m.parameters(), lr=0.5, weight_decay=0.01),
            (inputs, y), epochs=30, batch_size=None, seed=0, progress=False, compile=False)
    np.testing.assert_allclose(model[2].weight.data, head.weight.data, rtol=0, atol=1e-12)
    np.testing.assert_allclose(model[2].bias.data, head.bias.data, rtol=0, atol=1e-12)


def test_compiled_and_eager_fine_tuning_agree(rng):
    X, y = _data(rng)
    results = []
    for compile in (False, True):
        model = _model()
        freeze(model, [0])
        h = fit(model, "cross_entropy", "adam", (X, y), epochs=5, batch_size=16, seed=3,
                progress=False, l2=0.05, compile=compile)
        assert h.compiled is compile
        results.append(model.state_dict())
    for k in results[0]:
        np.testing.assert_allclose(results[1][k], results[0][k], rtol=1e-12, atol=1e-13)


def test_unfreezing_between_fits_trains_the_layer_again(rng):
    X, y = _data(rng)
    model = _model()
    freeze(model, "hidden")
    opt = optim.SGD(model.parameters(), lr=0.1)
    w0 = model[0].weight.data.copy()
    fit(model, "cross_entropy", opt, (X, y), epochs=3, batch_size=16, seed=0,
        progress=False, compile=True)
    assert np.array_equal(model[0].weight.data, w0)
    model.requires_grad_(True)
    h = fit(model, "cross_entropy", opt, (X, y), epochs=3, batch_size=16, seed=0,
            progress=False, compile=True)
    assert h.n_frozen == 0 and h.frozen == ()
    assert not np.array_equal(model[0].weight.data, w0)


def test_optimizer_by_name_holds_only_trainable_parameters(rng):
    from chainrule.train import Trainer

    X, y = _data(rng)
    model = _model()
    freeze(model, "0")
    trainer = Trainer(model, "cross_entropy", "sgd", (X, y), progress=False)
    held = [p for g in trainer.optimizer.param_groups for p in g["params"]]
    assert [id(p) for p in held] == [id(model[2].weight), id(model[2].bias)]


def test_penalty_leaves_frozen_weights_out():
    """Ω = (λ/2)·Σ w² over the trained weight matrices only: W₂ (2×8, every entry 0.5)
    gives (0.1/2)·16·0.25 = 0.2; the frozen W₁ adds nothing."""
    model = _model()
    model[0].weight.data[...] = 3.0
    model[2].weight.data[...] = 0.5
    freeze(model, [0])
    step = TrainingStep(model, "cross_entropy", optim.SGD(model.parameters(), lr=0.1),
                        l2=0.1)
    assert step.penalty().item() == pytest.approx(0.2, rel=1e-12)
    assert [tuple(w.shape) for w in nn.weight_parameters(model)] == [(2, 8)]


def test_every_parameter_frozen_is_refused_before_training(rng):
    X, y = _data(rng)
    model = _model()
    model.requires_grad_(False)
    before = model.state_dict()
    with pytest.raises(ValueError, match="every parameter of the model is frozen"):
        fit(model, "cross_entropy", "adam", (X, y), epochs=1, progress=False)
    assert all(np.array_equal(v, model.state_dict()[k]) for k, v in before.items())
    with pytest.raises(ValueError, match="would freeze every parameter"):
        freeze(_model(), "0,2")


def test_frozen_parameters_counts_and_names():
    model = nn.mlp([4, 8, 8, 2], "relu", seed=0)  # Linear layers 0, 2, 4
    assert layer_names(model) == ["0", "2", "4"]
    info = freeze(model, "hidden")
    # 4·8 + 8 = 40 and 8·8 + 8 = 72 frozen; the head has 8·2 + 2 = 18
    assert info.names == ("0.weight", "0.bias", "2.weight", "2.bias")
    assert (info.n_frozen, info.n_total, info.n_trainable) == (112, 130, 18)
    assert info.describe().startswith("112 of 130 parameters frozen (0.weight")
    assert frozen_parameters(model) == info
    # freeze() sets the whole model: layers not named become trainable again
    assert freeze(model, 4).names == ("4.weight", "4.bias")
    assert "frozen" in format_summary(model_summary(model, (4,))).splitlines()[0]


@pytest.mark.parametrize("layers, message", [
    ("7", "'7' is not a layer of the model; layers with parameters: 0 (Linear), "
          "2 (Linear), 4 (Linear)"),
    ("1", "'1' has no parameters"),
    ("", "no layer given"),
    ([0, "x"], "'x' is not a layer"),
])
def test_freeze_bad_layer_names_list_the_valid_ones(layers, message):
    model = nn.mlp([4, 8, 8, 2], "relu", seed=0)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        freeze(model, layers)
    assert frozen_parameters(model).n_frozen == 0  # nothing changed


def test_freeze_bad_types_and_single_layer():
    with pytest.raises(TypeError, match="got float"):
        freeze(_model(), 1.5)
    with pytest.raises(TypeError, match="got NoneType"):
        freeze(_model(), [None])
    with pytest.raises(ValueError, match="'hidden' freezes every layer but the last"):
        freeze(nn.Sequential(nn.Linear(2, 1)), "hidden")


@pytest.mark.parametrize("name", ["chainrule.train.finetune", "chainrule.train.summary"])
def test_docstring_examples(name):
    check_doctests(name, more_than=2)
