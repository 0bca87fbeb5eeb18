"""ONNX export: every supported layer, random stacks of them, the estimators and a run
folder give the outputs of chainrule in onnxruntime and in onnx's reference evaluator.

Tolerances (the issue's acceptance): 1e-5 in float32 (onnxruntime and the reference
evaluator), 1e-10 in float64 (the reference evaluator; onnxruntime has no float64 Erf).
Each model is exported from an example batch of 3 with a dynamic batch axis and run on
batches of 1 and 37.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="the ONNX export tests need the 'onnx' extra "
                           "(pip install 'chainrule[onnx]')")
ort = pytest.importorskip("onnxruntime", reason="the ONNX export tests need onnxruntime "
                          "(pip install 'chainrule[onnx]')")

from onnx.reference import ReferenceEvaluator  # noqa: E402
from onnx.reference.ops._op import OpRunUnaryNum  # noqa: E402
from scipy.special import erf as _erf  # noqa: E402

import chainrule as cr  # noqa: E402
import chainrule.onnx as cx  # noqa: E402
from chainrule import nn  # noqa: E402
from doctest_helper import check_doctests  # noqa: E402

TOL32, TOL64 = 1e-5, 1e-10
BATCHES = (1, 37)


class Erf(OpRunUnaryNum):
    """erf in the input's precision: onnx's reference Erf rounds through float32
    (``np.vectorize(math.erf, otypes=["f"])``), which alone is off by ~1e-8 in float64."""

    op_domain = ""

    def _run(self, x):
        return (_erf(x).astype(x.dtype),)


def _reference(proto):
    return ReferenceEvaluator(proto, new_ops=[Erf])


def _chainrule(model, x):
    with cr.no_grad():
        return model(cr.tensor(x)).numpy()


def _max_diff(a, b) -> float:
    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64))))


def check_export(model, in_shape, seed, *, float64=True, runtime=True, scale=2.0):
    """Export ``model`` (eval mode) from a batch of 3 and compare on batches of 1 and 37.
    Returns the largest differences seen ``{(dtype, runner): diff}``."""
    rng = np.random.default_rng(seed)
    seen = {}
    dtypes = [np.float32] + ([np.float64] if float64 else [])
    for dtype in dtypes:
        model.to(dtype)
        proto = cx.to_model_proto(model, np.zeros((3, *in_shape), dtype))
        runners = {"reference": lambda x, p=proto: _reference(p).run(None, {"input": x})[0]}
        if runtime and dtype == np.float32:
            sess = ort.InferenceSession(proto.SerializeToString(),
                                        providers=["CPUExecutionProvider"])
            runners["onnxruntime"] = lambda x, s=sess: s.run(None, {"input": x})[0]
        tol = TOL32 if dtype == np.float32 else TOL64
        for n in BATCHES:
            x = (rng.normal(size=(n, *in_shape)) * scale).astype(dtype)
            expected = _chainrule(model, x)
            for name, run in runners.items():
                got = run(x)
                assert got.dtype == dtype
                d = _max_diff(got, expected)
                key = (np.dtype(dtype).name, name)
                seen[key] = max(seen.get(key, 0.0), d)
                assert d <= tol, f"{name} {np.dtype(dtype).name} batch {n}: max diff {d:.3g}"
    return seen


def _bn(C, seed, **kw):
    rng = np.random.default_rng(seed)
    bn = nn.BatchNorm1d(C, **kw)
    if bn.weight is not None:
        bn.weight.data = rng.normal(1.0, 0.3, C).astype(np.float32)
        bn.bias.data = rng.normal(0.0, 0.3, C).astype(np.float32)
    bn.running_mean.data = rng.normal(0.0, 1.0, C).astype(np.float32)
    bn.running_var.data = rng.uniform(0.05, 3.0, C).astype(np.float32)
    return bn


def _ln(shape, seed, **kw):
    rng = np.random.default_rng(seed)
    ln = nn.LayerNorm(shape, **kw)
    if ln.weight is not None:
        ln.weight.data = rng.normal(1.0, 0.3, ln.weight.shape).astype(np.float32)
    if ln.bias is not None:
        ln.bias.data = rng.normal(0.0, 0.3, ln.bias.shape).astype(np.float32)
    return ln


# (id, factory, input shape without the batch axis)
LAYERS = [
    ("Linear", lambda: nn.Linear(5, 4, seed=0), (5,)),
    ("Linear-no-bias", lambda: nn.Linear(5, 4, bias=False, seed=0), (5,)),
    ("Linear-3d", lambda: nn.Linear(5, 4, seed=0), (3, 5)),
    ("Linear-3d-no-bias", lambda: nn.Linear(5, 4, bias=False, seed=0), (3, 5)),
    ("Identity", lambda: nn.Identity(), (5,)),
    ("Sigmoid", lambda: nn.Sigmoid(), (5,)),
    ("Tanh", lambda: nn.Tanh(), (5,)),
    ("ReLU", lambda: nn.ReLU(), (5,)),
    ("LeakyReLU", lambda: nn.LeakyReLU(), (5,)),
    ("LeakyReLU-0.2", lambda: nn.LeakyReLU(0.2), (5,)),
    ("LeakyReLU-0.5", lambda: nn.LeakyReLU(0.5), (5,)),  # exact in float32: the ONNX op
    ("ELU", lambda: nn.ELU(), (5,)),
    ("ELU-0.3", lambda: nn.ELU(0.3), (5,)),
    ("SELU", lambda: nn.SELU(), (5,)),
    ("Softplus", lambda: nn.Softplus(), (5,)),
    ("Softplus-beta2-threshold1", lambda: nn.Softplus(beta=2.0, threshold=1.0), (5,)),
    ("GELU", lambda: nn.GELU(), (5,)),
    ("GELU-tanh", lambda: nn.GELU("tanh"), (5,)),
    ("SiLU", lambda: nn.SiLU(), (5,)),
    ("Swish", lambda: nn.Swish(1.7), (5,)),
    ("Softmax", lambda: nn.Softmax(), (5,)),
    ("Softmax-axis1-3d", lambda: nn.Softmax(axis=1), (3, 4)),
    ("LogSoftmax", lambda: nn.LogSoftmax(), (5,)),
    ("LogSoftmax-dim1-3d", lambda: nn.LogSoftmax(dim=1), (3, 4)),
    ("Dropout", lambda: nn.Dropout(0.4, seed=0), (5,)),
    ("BatchNorm1d", lambda: _bn(5, 0), (5,)),
    ("BatchNorm1d-3d", lambda: _bn(4, 1), (4, 6)),
    ("BatchNorm1d-no-affine-eps", lambda: _bn(5, 2, affine=False, eps=1e-3), (5,)),
    ("LayerNorm", lambda: _ln(5, 0), (5,)),
    ("LayerNorm-2d-shape", lambda: _ln((3, 4), 1), (3, 4)),
    ("LayerNorm-no-affine", lambda: _ln(5, 2, elementwise_affine=False), (5,)),
    ("LayerNorm-no-bias", lambda: _ln(5, 3, bias=False), (5,)),
    ("Flatten", lambda: nn.Flatten(), (3, 4)),
    ("Flatten-middle", lambda: nn.Flatten(1, 2), (2, 3, 4)),
    ("Flatten-all", lambda: nn.Flatten(0), (3, 4)),
    ("Conv1d", lambda: nn.Conv1d(3, 4, 3, seed=0), (3, 9)),
    ("Conv1d-stride-pad-dilation", lambda: nn.Conv1d(2, 3, 3, stride=2, padding=2, dilation=2,
                                                     bias=False, seed=1), (2, 11)),
    ("Conv1d-same-groups", lambda: nn.Conv1d(4, 6, 4, padding="same", groups=2, seed=2),
     (4, 8)),
    ("Conv2d", lambda: nn.Conv2d(2, 3, 3, seed=0), (2, 6, 7)),
    ("Conv2d-stride-pad-dilation", lambda: nn.Conv2d(2, 4, (3, 2), stride=(2, 1),
                                                     padding=(1, 2), dilation=(1, 2), seed=1),
     (2, 7, 6)),
    ("Conv2d-same-groups", lambda: nn.Conv2d(4, 4, 2, padding="same", groups=4, seed=2),
     (4, 5, 5)),
    ("Conv2d-valid", lambda: nn.Conv2d(1, 2, 3, padding="valid", seed=3), (1, 5, 5)),
    ("MaxPool1d", lambda: nn.MaxPool1d(2), (3, 9)),
    ("MaxPool1d-pad-dilation", lambda: nn.MaxPool1d(3, stride=2, padding=1, dilation=2),
     (2, 10)),
    ("MaxPool2d", lambda: nn.MaxPool2d(2), (2, 6, 7)),
    ("MaxPool2d-stride-pad", lambda: nn.MaxPool2d((3, 2), stride=(2, 1), padding=(1, 1)),
     (2, 6, 5)),
    ("AvgPool1d", lambda: nn.AvgPool1d(3), (3, 10)),
    ("AvgPool1d-pad-exclude", lambda: nn.AvgPool1d(3, stride=2, padding=1,
                                                   count_include_pad=False), (2, 9)),
    ("AvgPool2d", lambda: nn.AvgPool2d(2), (2, 6, 6)),
    ("AvgPool2d-pad-include", lambda: nn.AvgPool2d(3, stride=2, padding=1), (2, 7, 6)),
    ("AdaptiveAvgPool1d-uneven", lambda: nn.AdaptiveAvgPool1d(3), (2, 7)),
    ("AdaptiveAvgPool1d-1", lambda: nn.AdaptiveAvgPool1d(1), (2, 7)),
    ("AdaptiveAvgPool2d-uneven", lambda: nn.AdaptiveAvgPool2d((2, 4)), (2, 5, 6)),
    ("AdaptiveAvgPool2d-1", lambda: nn.AdaptiveAvgPool2d(1), (3, 4, 4)),
    ("Unflatten", lambda: nn.Unflatten(1, (2, 3)), (6,)),
    ("Unflatten-middle", lambda: nn.Unflatten(2, (2, 2)), (3, 4, 5)),
    ("CNN", lambda: nn.Sequential(
        nn.Unflatten(1, (1, 8, 8)), nn.Conv2d(1, 4, 3, padding=1, seed=0), nn.ReLU(),
        nn.MaxPool2d(2), nn.Conv2d(4, 6, 3, seed=1), nn.Flatten(2), _bn(6, 0), nn.GELU(),
        nn.Unflatten(2, (2, 2)), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(6, 3, seed=2), nn.Softmax()),
     (64,)),
    ("Residual", lambda: nn.Residual(nn.Sequential(nn.Linear(5, 5, seed=0), nn.Tanh())), (5,)),
    ("Sequential", lambda: nn.Sequential(nn.Linear(5, 3, seed=0), nn.ReLU()), (5,)),
    ("Sequential-empty", lambda: nn.Sequential(), (5,)),
]


@pytest.mark.parametrize("factory,in_shape", [p[1:] for p in LAYERS],
                         ids=[p[0] for p in LAYERS])
def test_every_layer_matches_chainrule(factory, in_shape):
    model = factory().eval()
    check_export(model, in_shape, seed=len(in_shape))


def test_every_activation_class_has_an_exporter():
    classes = set(nn.ACTIVATIONS.values())
    tested = {type(f()) for _, f, _ in LAYERS}
    assert classes <= tested
    assert classes <= set(cx.EXPORTERS)
    for cls in (nn.Linear, nn.Dropout, nn.BatchNorm1d, nn.LayerNorm, nn.Residual, nn.Flatten,
                nn.Sequential, nn.Conv1d, nn.Conv2d, nn.MaxPool1d, nn.MaxPool2d, nn.AvgPool1d,
                nn.AvgPool2d, nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.Unflatten):
        assert cls in cx.EXPORTERS and cls in tested


def test_large_inputs_take_the_stable_branches():
    # softplus beyond its threshold is x itself; ELU/SELU at −40 are −alpha(·scale);
    # softmax of ±80 does not overflow
    model = nn.Sequential(nn.Softplus(), nn.ELU(), nn.SELU()).eval()
    check_export(model, (5,), seed=0, scale=40.0)
    check_export(nn.Softmax().eval(), (5,), seed=1, scale=80.0)


def _random_stack(rng, width_in):
    """A random chain of the supported layers with matching widths."""
    layers, width = [], width_in
    simple = [nn.ReLU, nn.Tanh, nn.Sigmoid, nn.SELU, nn.SiLU, nn.Identity,
              lambda: nn.GELU(rng.choice(["none", "tanh"])),
              lambda: nn.LeakyReLU(float(rng.uniform(0.01, 0.3))),
              lambda: nn.ELU(float(rng.uniform(0.5, 1.5))),
              lambda: nn.Softplus(beta=float(rng.uniform(0.5, 2.0))),
              lambda: nn.Swish(float(rng.uniform(0.5, 2.0))),
              lambda: nn.Dropout(0.3)]
    for _ in range(int(rng.integers(2, 7))):
        kind = rng.integers(0, 5)
        if kind == 0:
            out = int(rng.integers(2, 9))
            layers.append(nn.Linear(width, out, bias=bool(rng.integers(0, 2)),
                                    seed=int(rng.integers(1 << 30))))
            width = out
        elif kind == 1:
            layers.append(_bn(width, int(rng.integers(1 << 30))))
        elif kind == 2:
            layers.append(_ln(width, int(rng.integers(1 << 30))))
        elif kind == 3:
            inner = [nn.Linear(width, width, seed=int(rng.integers(1 << 30))),
                     simple[int(rng.integers(len(simple)))]()]
            layers.append(nn.Residual(nn.Sequential(*inner)))
        else:
            layers.append(simple[int(rng.integers(len(simple)))]())
    last = rng.integers(0, 3)
    if last == 1:
        layers.append(nn.Softmax())
    elif last == 2:
        layers.append(nn.LogSoftmax())
    return nn.Sequential(*layers)


@pytest.mark.parametrize("seed", range(12))
def test_random_stacks_match_chainrule(seed):
    rng = np.random.default_rng(seed)
    width = int(rng.integers(1, 7))
    model = _random_stack(rng, width).eval()
    check_export(model, (width,), seed=seed)


def test_static_batch_fixes_the_input_shape():
    model = nn.Sequential(nn.Linear(4, 2, seed=0), nn.Tanh()).eval()
    proto = cx.to_model_proto(model, np.zeros((3, 4), np.float32), dynamic_batch=False)
    dims = [d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim]
    assert dims == [3, 4]
    out_dims = [d.dim_value for d in proto.graph.output[0].type.tensor_type.shape.dim]
    assert out_dims == [3, 2]
    x = np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32)
    sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    assert _max_diff(sess.run(None, {"input": x})[0], _chainrule(model, x)) <= TOL32
    with pytest.raises(Exception, match=r"(?i)dimension|shape"):
        sess.run(None, {"input": np.zeros((5, 4), np.float32)})


def test_dynamic_batch_names_the_batch_axis():
    proto = cx.to_model_proto(nn.Linear(4, 2, seed=0), np.zeros((3, 4), np.float32))
    for value in (proto.graph.input[0], proto.graph.output[0]):
        dims = value.type.tensor_type.shape.dim
        assert dims[0].dim_param == "N" and dims[1].dim_value in (2, 4)
    assert cx.describe_io(proto) == "input (N, 4) float32 → output (N, 2) float32"


def test_export_writes_a_checked_file_with_state_dict_names(tmp_path):
    model = nn.Sequential(nn.Linear(4, 3, seed=0), _bn(3, 0), nn.ReLU(),
                          nn.Residual(nn.Sequential(nn.Linear(3, 3, seed=1))),
                          nn.Linear(3, 2, seed=2)).eval()
    path = cx.export(model, tmp_path / "m.onnx", np.zeros((1, 4), np.float32))
    proto = onnx.load(path)
    onnx.checker.check_model(proto, full_check=True)
    names = {i.name for i in proto.graph.initializer}
    assert set(model.state_dict()) - {"1.num_batches_tracked"} <= names
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in proto.graph.initializer}
    np.testing.assert_array_equal(inits["3.module.0.weight"], model[3].module[0].weight.data)
    assert proto.opset_import[0].version == 17 and proto.producer_name == "chainrule"


@pytest.mark.parametrize("opset", [18, 21])
def test_later_opsets(opset):
    model = nn.Sequential(nn.Linear(4, 3, seed=0), _ln(3, 0), nn.GELU(), _bn(3, 1),
                          nn.Linear(3, 2, seed=1), nn.Softmax()).eval()
    proto = cx.to_model_proto(model, np.zeros((1, 4), np.float32), opset=opset)
    assert proto.opset_import[0].version == opset
    x = np.random.default_rng(opset).normal(size=(37, 4)).astype(np.float32)
    sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    assert _max_diff(sess.run(None, {"input": x})[0], _chainrule(model, x)) <= TOL32


def test_export_leaves_the_model_unchanged():
    model = nn.Sequential(nn.Linear(4, 3, seed=0), _bn(3, 0), nn.Dropout(0.5)).eval()
    before = model.state_dict()
    cx.to_model_proto(model, np.zeros((2, 4), np.float32))
    after = model.state_dict()
    assert all(np.array_equal(before[k], after[k]) for k in before)
    assert not any(m.training for m in model.modules())


def test_outputs_independent_of_training_mode_are_accepted_in_training_mode():
    # Dropout(p=0) and layers without a mode: the output is the same in both modes
    model = nn.Sequential(nn.Linear(4, 3, seed=0), nn.Dropout(0.0), nn.ReLU(), _ln(3, 0))
    assert model.training
    check_export(model, (4,), seed=3, float64=False)


# ---------------------------------------------------------------------------- refusals


class Custom(nn.Module):
    def forward(self, x):
        return x * 2.0


def test_unsupported_layer_is_named_with_its_place():
    model = nn.Sequential(nn.Linear(4, 4, seed=0),
                          nn.Residual(nn.Sequential(nn.ReLU(), Custom()))).eval()
    with pytest.raises(cx.ExportError, match=r"cannot export Custom at '1\.module\.1': no "
                       r"ONNX exporter.*supported: .*Linear"):
        cx.to_model_proto(model, np.zeros((1, 4), np.float32))
    with pytest.raises(cx.ExportError, match=r"cannot export ModuleList"):
        cx.to_model_proto(nn.ModuleList([nn.ReLU()]), np.zeros((1, 4), np.float32))


def test_a_subclass_is_not_taken_for_its_base():
    class MyLinear(nn.Linear):
        def forward(self, x):
            return super().forward(x) * 3.0

    with pytest.raises(cx.ExportError, match="cannot export MyLinear"):
        cx.to_model_proto(MyLinear(2, 2, seed=0).eval(), np.zeros((1, 2), np.float32))


@pytest.mark.parametrize("layer,name,why", [
    (nn.Dropout(0.3), "Dropout", "drops units"),
    (nn.BatchNorm1d(4), "BatchNorm1d", "batch's statistics"),
])
def test_training_mode_dependent_output_is_refused(layer, name, why):
    model = nn.Sequential(nn.Linear(4, 4, seed=0), nn.Residual(nn.Sequential(layer)))
    with pytest.raises(cx.ExportError, match=rf"{name} at '1\.module\.0' in training mode: "
                       rf"it .*{why}.*call model\.eval\(\)"):
        cx.to_model_proto(model, np.zeros((2, 4), np.float32))
    cx.to_model_proto(model.eval(), np.zeros((2, 4), np.float32))  # fine once in eval


def test_batch_norm_without_running_statistics_is_refused():
    model = nn.Sequential(nn.BatchNorm1d(3, track_running_stats=False)).eval()
    with pytest.raises(cx.ExportError, match=r"BatchNorm1d at '0'.*track_running_stats"):
        cx.to_model_proto(model, np.zeros((2, 3), np.float32))


def test_an_example_that_does_not_fit_names_the_layer():
    model = nn.Sequential(nn.Linear(4, 3, seed=0),
                          nn.Residual(nn.Sequential(nn.Linear(4, 4, seed=1)))).eval()
    with pytest.raises(cx.ExportError, match=r"cannot export Linear at '1\.module\.0': the "
                       r"example input does not fit it: linear: input of shape \(2, 3\)"):
        cx.to_model_proto(model, np.zeros((2, 4), np.float32))


def test_bad_arguments():
    model = nn.Linear(3, 2, seed=0).eval()
    with pytest.raises(TypeError, match=r"float32 or float64.*int64"):
        cx.to_model_proto(model, np.zeros((1, 3), np.int64))
    with pytest.raises(ValueError, match=r"batch axis first.*\(3,\)"):
        cx.to_model_proto(model, np.zeros(3, np.float32))
    with pytest.raises(ValueError, match="opset must be an int in"):
        cx.to_model_proto(model, np.zeros((1, 3), np.float32), opset=16)
    with pytest.raises(ValueError, match="example_input is required"):
        cx.to_model_proto(model)
    with pytest.raises(TypeError, match=r"expected a chainrule\.nn\.Module"):
        cx.to_model_proto(object(), np.zeros((1, 3), np.float32))
    with pytest.raises(TypeError, match="expected a class"):
        cx.register_exporter("Linear")


# ---------------------------------------------------------------------------- estimators


def _estimator_data(seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(80, 3))
    return rng, X


@pytest.mark.parametrize("kind", ["multiclass", "binary", "multilabel"])
def test_classifier_exports_its_probabilities(kind):
    from chainrule.sklearn import MLPClassifier

    rng, X = _estimator_data(0)
    y = {"multiclass": rng.choice(["a", "b", "c"], 80), "binary": rng.integers(0, 2, 80),
         "multilabel": rng.integers(0, 2, (80, 3))}[kind]
    for dtype, tol in (("float32", TOL32), ("float64", TOL64)):
        clf = MLPClassifier((8, 6), max_iter=3, random_state=0, batch_norm=True, dropout=0.2,
                            learning_rate_init=0.05, dtype=dtype)
        with pytest.warns(Warning):  # ConvergenceWarning after 3 epochs
            clf.fit(X, y)
        proto = cx.to_model_proto(clf, X[:3].astype(dtype))
        assert proto.graph.output[0].name == "probabilities"
        meta = {p.key: p.value for p in proto.metadata_props}
        assert json.loads(meta["classes"]) == np.asarray(clf.classes_).tolist()
        for n in BATCHES:
            Xn = rng.normal(size=(n, 3)).astype(dtype)
            expected = clf.predict_proba(Xn)
            got = _reference(proto).run(None, {"input": Xn})[0]
            assert _max_diff(got, expected) <= tol
            if dtype == "float32":
                sess = ort.InferenceSession(proto.SerializeToString(),
                                            providers=["CPUExecutionProvider"])
                assert _max_diff(sess.run(None, {"input": Xn})[0], expected) <= tol


@pytest.mark.parametrize("loss,outputs", [("squared_error", 1), ("squared_error", 2),
                                          ("poisson", 1), ("huber", 2)])
def test_regressor_exports_its_predictions(loss, outputs):
    from chainrule.sklearn import MLPRegressor

    rng, X = _estimator_data(1)
    y = np.abs(X[:, :outputs] * 2.0 + 1.0) * 3.0
    y = y[:, 0] if outputs == 1 else y
    for dtype, tol in (("float32", TOL32), ("float64", TOL64)):
        reg = MLPRegressor(loss, (8,), max_iter=3, random_state=0, dtype=dtype,
                           activation="tanh")
        with pytest.warns(Warning):
            reg.fit(X, y)
        proto = cx.to_model_proto(reg)  # default example: zeros in the network's dtype
        assert proto.graph.output[0].name == "prediction"
        for n in BATCHES:
            Xn = rng.normal(size=(n, 3)).astype(dtype)
            expected = reg.predict(Xn)
            got = _reference(proto).run(None, {"input": Xn})[0]
            assert got.shape == expected.shape
            assert _max_diff(got, expected) <= tol
            if dtype == "float32":
                sess = ort.InferenceSession(proto.SerializeToString(),
                                            providers=["CPUExecutionProvider"])
                assert _max_diff(sess.run(None, {"input": Xn})[0], expected) <= tol


def test_estimator_errors():
    from sklearn.exceptions import NotFittedError

    from chainrule.sklearn import MLPClassifier

    with pytest.raises(NotFittedError):
        cx.to_model_proto(MLPClassifier())
    rng, X = _estimator_data(2)
    clf = MLPClassifier((4,), max_iter=2, random_state=0)
    with pytest.warns(Warning):
        clf.fit(X, rng.integers(0, 3, 80))
    with pytest.raises(ValueError, match=r"shape \(N, 3\)"):
        cx.to_model_proto(clf, np.zeros((1, 5), np.float32))


# ---------------------------------------------------------------------------- run folders


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    from typer.testing import CliRunner

    from chainrule.cli import app

    out = tmp_path_factory.mktemp("runs")
    runner = CliRunner()
    common = ["train", "--no-progress", "--epochs", "4", "--out", str(out), "--threads", "1"]
    for name, args in (("iris", ["--data", "iris", "--hidden", "8", "--batch-norm",
                                 "--dropout", "0.2"]),
                       ("reg", ["--data", str(_regression_csv(out)), "--hidden", "8,8",
                                "--residual"]),
                       ("cnn", ["--config", str(_cnn_config(out)), "--epochs", "1"])):
        result = runner.invoke(app, [*common, *args, "--name", name])
        assert result.exit_code == 0, result.output
    return out, runner, app


def _cnn_config(folder):
    """A digits CNN (8×8 images as rows of 64): same-padded conv, pool, conv, pool."""
    path = folder / "cnn.toml"
    path.write_text('data = "digits"\nmodel = "cnn"\nconv = [[4, 3, 1, "same"], [6, 3]]\n'
                    'pool = 2\ndropout = 0.0\n')
    return path


def _regression_csv(folder):
    rng = np.random.default_rng(7)
    X = rng.normal(size=(120, 3)) * [1.0, 10.0, 0.1] + [0.0, 50.0, -2.0]
    y = 100.0 + 20.0 * np.sin(X[:, 0]) + X[:, 1]
    path = folder / "reg.csv"
    rows = ["a,b,c,y"] + [",".join(f"{v:.6f}" for v in (*r, t)) for r, t in zip(X, y)]
    path.write_text("\n".join(rows) + "\n")
    return path


def _chainrule_run_output(run_dir, X):
    """What `chainrule predict` computes: standardise, forward, softmax or rescale."""
    from chainrule.cli import load_run
    from chainrule.train import predict

    art = load_run(run_dir, need_config=False)
    pre = art.preprocessing
    scaler = art.scaler()
    raw = predict(art.model, scaler.transform(X) if scaler is not None else X)
    raw = raw.astype(np.float64)
    if pre["task"] == "classification":
        z = np.exp(raw - raw.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)
    mean, std = pre["target_scale"]
    return raw * std + mean


@pytest.mark.parametrize("name,output", [("iris", "probabilities"), ("reg", "prediction"),
                                         ("cnn", "probabilities")])
def test_cli_export_of_a_run_folder(runs, name, output):
    out, runner, app = runs
    result = runner.invoke(app, ["export", str(out / name), "--format", "onnx"])
    assert result.exit_code == 0, result.output
    assert f"{output} (N, " in result.output
    path = out / name / "model.onnx"
    proto = onnx.load(path)
    onnx.checker.check_model(proto, full_check=True)
    assert proto.graph.output[0].name == output
    rng = np.random.default_rng(3)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    # inputs around each training set: iris, the regression CSV, digits pixels in [0, 16]
    mean, scale = {"iris": ([5.8, 3.0, 3.8, 1.2], [0.8, 0.4, 1.8, 0.8]),
                   "reg": ([0.0, 50.0, -2.0], [1.0, 10.0, 0.1]),
                   "cnn": ([8.0] * 64, [4.0] * 64)}[name]
    for n in BATCHES:
        X = rng.normal(size=(n, len(mean))) * scale + mean
        expected = _chainrule_run_output(out / name, X)
        got = sess.run(None, {"input": X.astype(np.float32)})[0]
        # the regression target is ~200, where one float32 step is 1.5e-5: the float32
        # tolerance is relative there (measured: 2.2e-5 absolute, 1.1e-7 relative)
        assert _max_diff(got, expected) <= TOL32 * max(1.0, np.abs(expected).max())
        proto64 = cx.run_model_proto(out / name, dtype="float64")
        got64 = _reference(proto64).run(None, {"input": X})[0]
        expected64 = _chainrule_run_output_float64(out / name, X)
        assert _max_diff(got64, expected64) <= TOL64


def _chainrule_run_output_float64(run_dir, X):
    """The same pipeline with the network in float64 (what the float64 export computes)."""
    from chainrule.cli import load_run

    art = load_run(run_dir, need_config=False)
    pre = art.preprocessing
    model = art.model.eval().to(np.float64)
    scaler = art.scaler()
    raw = _chainrule(model, scaler.transform(X))
    if pre["task"] == "classification":
        z = np.exp(raw - raw.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)
    mean, std = pre["target_scale"]
    return raw * std + mean


def test_cli_export_options_and_errors(runs, tmp_path):
    out, runner, app = runs
    dest = tmp_path / "iris64.onnx"
    result = runner.invoke(app, ["export", str(out / "iris"), "-o", str(dest),
                                 "--dtype", "float64", "--opset", "18"])
    assert result.exit_code == 0, result.output
    proto = onnx.load(dest)
    assert proto.opset_import[0].version == 18
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.DOUBLE
    meta = {p.key: p.value for p in proto.metadata_props}
    assert json.loads(meta["target_names"]) == ["setosa", "versicolor", "virginica"]
    for args, message in (
        (["--format", "tflite"], "format: must be one of onnx (got 'tflite')"),
        (["--dtype", "float16"], "dtype: must be float32 or float64"),
        (["--opset", "12"], "opset must be an int in [17,"),
    ):
        result = runner.invoke(app, ["export", str(out / "iris"), *args])
        assert result.exit_code == 2 and message in result.output, result.output
    result = runner.invoke(app, ["export", str(tmp_path)])
    assert result.exit_code == 2 and "error:" in result.output


def test_docstring_examples_run():
    import doctest

    check_doctests("chainrule.onnx", doctest.ELLIPSIS, more_than=3)
    check_doctests("chainrule.interop", doctest.ELLIPSIS)
