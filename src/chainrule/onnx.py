"""ONNX export: serve a chainrule model wherever ONNX models are served.

chainrule knows the graph of each built-in layer, so it writes that graph with the ``onnx``
package's helper API (``pip install 'chainrule[onnx]'``) instead of tracing it::

    import chainrule.onnx
    model.eval()
    chainrule.onnx.export(model, "model.onnx", X[:1])        # a Module
    chainrule.onnx.export(clf, "clf.onnx")                   # a fitted MLPClassifier
    chainrule.onnx.export_run("runs/exp1")                   # a run folder → model.onnx

    import onnxruntime as ort
    sess = ort.InferenceSession("model.onnx")
    y = sess.run(None, {"input": X.astype("float32")})[0]   # == model(X), any batch size

What the exported graph computes (``x`` the input ``(N, …)``, ``N`` dynamic by default):

- a Module: its evaluation-mode output ``f(x)``, layer by layer (``Linear`` is ``Gemm``,
  ``BatchNorm1d`` uses its running statistics, ``Dropout`` is ``Identity``, ``Residual``
  is ``Add(x, f(x))``, …); initializers carry the ``state_dict`` names (``0.weight``);
- an :class:`~chainrule.sklearn.MLPClassifier`: ``probabilities``, the columns of
  ``predict_proba`` (softmax, ``[1 − σ(z), σ(z)]`` for two classes, ``σ(z)`` per label);
- an :class:`~chainrule.sklearn.MLPRegressor`: ``prediction``, what ``predict`` returns
  (``z``, or ``exp(z)`` with ``loss="poisson"``; shape ``(N,)`` for one output);
- a run folder: the raw features go in, the saved standardiser ``(x − μ)/σ`` is applied in
  the graph, and out come the class ``probabilities`` (softmax of the logits) or the
  ``prediction`` in the target's own units (``z·σ_y + μ_y``).

Every element type is the dtype of the example input (float32 or float64); parameters are
cast to it. The exporters form a registry keyed by layer class (:data:`EXPORTERS`): a new
layer is supported by registering one function (:func:`register_exporter`). A layer without
an exporter, or one whose output depends on training mode while the model is in training
mode (``Dropout``, ``BatchNorm1d``), is refused with an :class:`ExportError` naming it.
Every written model passes ``onnx.checker.check_model(full_check=True)``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .autodiff import no_grad
from .nn import activations as _act
from .nn import conv as _conv
from .nn import functional as F
from .nn import layers as _layers
from .nn import module as _module
from .nn.module import Module
from .tensor import Tensor

__all__ = [
    "DEFAULT_OPSET",
    "EXPORTERS",
    "ExportError",
    "GraphBuilder",
    "describe_io",
    "export",
    "export_run",
    "register_exporter",
    "to_model_proto",
]

DEFAULT_OPSET = 17
MIN_OPSET = 17  # LayerNormalization and Softmax(axis) with today's semantics
INPUT_NAME = "input"
BATCH_DIM = "N"


class ExportError(ValueError):
    """A model that cannot be exported: an unsupported layer (the message names it and its
    place in the model) or a layer whose output depends on training mode."""


def _onnx() -> Any:
    try:
        import onnx
    except ImportError as err:  # pragma: no cover - onnx is the 'onnx' extra
        raise ImportError(
            "chainrule.onnx needs the 'onnx' package: pip install 'chainrule[onnx]'"
        ) from err
    return onnx


# ================================================================================ registry


@dataclass(frozen=True)
class _Exporter:
    fn: Callable[[GraphBuilder, Any, str, str], str]
    training_dependent: Callable[[Any], str | None] | None


EXPORTERS: dict[type, _Exporter] = {}
"""ONNX exporter by layer class (exact class: a subclass may compute something else)."""


def register_exporter(
    cls: type, *, training_dependent: Callable[[Any], str | None] | None = None
) -> Callable[[Callable[..., str]], Callable[..., str]]:
    """Decorator: ``fn(g, layer, x, prefix) -> y`` writes ``layer``'s ONNX nodes.

    ``g`` is the :class:`GraphBuilder`, ``x`` the name of the layer's input value,
    ``prefix`` the layer's place in the model (``"0."``, ``"2.module.1."``; initializer
    names are ``prefix + state_dict name``); ``fn`` returns the name of the output value.
    ``training_dependent(layer)`` returns why the layer's output depends on training mode
    (e.g. ``"drops units"``), or None; such a layer is refused while ``layer.training``.

    Example (a layer of your own, ``z = 2·x``):
        >>> from chainrule import nn
        >>> class Double(nn.Module):
        ...     def forward(self, x):
        ...         return x * 2.0
        >>> @register_exporter(Double)
        ... def _double(g, layer, x, prefix):
        ...     return g.node("Mul", [x, g.scalar(2.0)], prefix + "Mul")
        >>> proto = to_model_proto(nn.Sequential(Double()), np.ones((1, 3), np.float32))
        >>> [n.op_type for n in proto.graph.node]
        ['Mul']
    """
    if not isinstance(cls, type):
        raise TypeError(f"register_exporter: expected a class, got {cls!r}")

    def decorator(fn: Callable[..., str]) -> Callable[..., str]:
        EXPORTERS[cls] = _Exporter(fn, training_dependent)
        return fn

    return decorator


# ============================================================================ graph builder


class GraphBuilder:
    """Collects the nodes and initializers of one ONNX graph of element type ``dtype``.

    The values are named; :meth:`example` holds each value's array on the example input
    (so an exporter can read shapes). Exporters call :meth:`node`, :meth:`initializer`,
    :meth:`scalar` and :meth:`module`.

    Args:
        dtype: float32 or float64, the element type of every float value.
        opset: the ONNX operator set version.
    """

    def __init__(self, dtype: Any, opset: int) -> None:
        self.dtype = np.dtype(dtype)
        self.opset = int(opset)
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._examples: dict[str, np.ndarray] = {}
        self._used: set[str] = set()
        self._scalars: dict[tuple[str, float], str] = {}

    # ------------------------------------------------------------------------- naming
    def fresh(self, hint: str) -> str:
        """A value or node name not used yet (``hint``, then ``hint_1``, …)."""
        name, k = hint, 0
        while name in self._used:
            k += 1
            name = f"{hint}_{k}"
        self._used.add(name)
        return name

    # ------------------------------------------------------------------------ values
    def example(self, name: str) -> np.ndarray:
        """The value ``name`` takes on the example input."""
        return self._examples[name]

    def initializer(self, value: Any, name: str, dtype: Any = None) -> str:
        """A constant tensor (a parameter, a buffer, a shape); float data is cast to the
        graph's dtype unless ``dtype`` is given."""
        arr = np.asarray(value.data if isinstance(value, Tensor) else value)
        if dtype is not None:
            arr = arr.astype(dtype)
        elif arr.dtype.kind == "f":
            arr = arr.astype(self.dtype)
        name = self.fresh(name)
        self.initializers.append(_onnx().numpy_helper.from_array(np.ascontiguousarray(arr),
                                                                 name))
        self._examples[name] = arr
        return name

    def scalar(self, value: float) -> str:
        """A 0-d constant of the graph's dtype (shared by every use of the same value)."""
        key = (self.dtype.str, float(value))
        if key not in self._scalars:
            self._scalars[key] = self.initializer(np.array(value, dtype=self.dtype),
                                                  f"const_{float(value):.6g}")
        return self._scalars[key]

    def exact_attribute(self, *values: float) -> bool:
        """Whether float attributes (stored as float32 by ONNX) hold ``values`` exactly in
        this graph's dtype; if not, an exporter writes the operation with constants."""
        return self.dtype == np.float32 or all(
            float(np.float32(v)) == float(v) for v in values)

    def reduce_mean(self, x: str, k: int, prefix: str) -> str:
        """The mean over the last ``k`` axes of ``x``, axes kept (``ReduceMean``; its
        ``axes`` are an attribute before opset 18 and an input from 18 on)."""
        axes = list(range(-k, 0))
        if self.opset < 18:
            return self.node("ReduceMean", [x], prefix + "ReduceMean", axes=axes, keepdims=1)
        const = self.initializer(np.array(axes, dtype=np.int64), prefix + "axes")
        return self.node("ReduceMean", [x, const], prefix + "ReduceMean", keepdims=1)

    def node(self, op: str, inputs: list[str], hint: str, **attrs: Any) -> str:
        """Append the node ``op(inputs, **attrs)`` with one output; returns the output's
        name (also used as the node's name)."""
        out = self.fresh(hint)
        self.nodes.append(_onnx().helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    def record(self, name: str, value: np.ndarray) -> None:
        """Store the example value of ``name`` (done by :meth:`module` for each layer)."""
        self._examples[name] = value

    # ------------------------------------------------------------------------ layers
    def module(self, layer: Any, x: str, prefix: str = "") -> str:
        """Write ``layer`` applied to the value ``x``; returns the output value's name.

        Raises:
            ExportError: no exporter is registered for the layer's class.
        """
        entry = EXPORTERS.get(type(layer))
        where = f" at {prefix[:-1]!r}" if prefix else ""
        if entry is None:
            supported = ", ".join(sorted(c.__name__ for c in EXPORTERS))
            raise ExportError(
                f"cannot export {type(layer).__name__}{where}: no ONNX exporter is "
                f"registered for this layer (supported: {supported}); add one with "
                "chainrule.onnx.register_exporter"
            )
        y = entry.fn(self, layer, x, prefix)  # a container checks its children first
        with no_grad():
            try:
                out = layer(Tensor(self._examples[x]))
            except (TypeError, ValueError) as err:
                raise ExportError(f"cannot export {type(layer).__name__}{where}: the example "
                                  f"input does not fit it: {err}") from None
        self._examples[y] = np.asarray(out.data)
        return y


# ============================================================================ the layers


def _dropout_in_training(layer: Any) -> str | None:
    return f"drops units at random (p={layer.p})" if layer.p > 0 else None


def _batch_norm_in_training(layer: Any) -> str | None:
    if layer.track_running_stats:
        return "normalises with the batch's statistics and updates its running statistics"
    return None


@register_exporter(_layers.Linear)
def _linear(g: GraphBuilder, layer: Any, x: str, prefix: str) -> str:
    """``z = x @ Wᵀ + b``: ``Gemm(transB=1)`` on a matrix, ``MatMul`` + ``Add`` otherwise."""
    W = g.initializer(layer.weight, prefix + "weight")
    b = [g.initializer(layer.bias, prefix + "bias")] if layer.bias is not None else []
    if g.example(x).ndim == 2:
        return g.node("Gemm", [x, W, *b], prefix + "Gemm", transB=1)
    Wt = g.node("Transpose", [W], prefix + "Transpose", perm=[1, 0])
    z = g.node("MatMul", [x, Wt], prefix + "MatMul")
    return g.node("Add", [z, b[0]], prefix + "Add") if b else z


@register_exporter(_layers.Dropout, training_dependent=_dropout_in_training)
@register_exporter(_act.Identity)
def _identity(g: GraphBuilder, layer: Any, x: str, prefix: str) -> str:
    """The identity (Dropout in evaluation mode)."""
    return g.node("Identity", [x], prefix + "Identity")


def _unary(op: str) -> Callable[..., str]:
    def fn(g: GraphBuilder, layer: Any, x: str, prefix: str) -> str:
        return g.node(op, [x], prefix + op)

    fn.__doc__ = f"The ONNX operator {op}."
    return fn


for _cls, _op in ((_act.ReLU, "Relu"), (_act.Sigmoid, "Sigmoid"), (_act.Tanh, "Tanh")):
    register_exporter(_cls)(_unary(_op))


def _where_positive(g: GraphBuilder, x: str, negative: str, prefix: str) -> str:
    """``x if x > 0 else negative`` (chainrule's branch rule: the value at 0 is
    ``negative``'s, which is 0 for every use here)."""
    positive = g.node("Greater", [x, g.scalar(0.0)], prefix + "Greater")
    return g.node("Where", [positive, x, negative], prefix + "Where")


@register_exporter(_act.LeakyReLU)
def _leaky_relu(g: GraphBuilder, layer: Any, x: str, prefix: str) -> str:
    """``x if x > 0 else negative_slope·x``."""
    slope = layer.negative_slope
    if g.exact_attribute(slope):
        return g.node("LeakyRelu", [x], prefix + "LeakyRelu", alpha=float(slope))
    neg = g.node("Mul", [x, g.scalar(slope)], prefix + "Mul")
    return _where_positive(g, x, neg, prefix)


def _elu(g: GraphBuilder, x: str, alpha: float, prefix: str) -> str:
    """``x if x > 0 else alpha·(e^min(x, 0) − 1)``."""
    if g.exact_attribute(alpha):
        return g.node("Elu", [x], prefix + "Elu", alpha=float(alpha))
    x_neg = g.node("Min", [x, g.scalar(0.0)], prefix + "Min")
    em1 = g.node("Sub", [g.node("Exp", [x_neg], prefix + "Exp"), g.scalar(1.0)],
                 prefix + "Sub")
    neg = g.node("Mul", [em1, g.scalar(alpha)], prefix + "Mul")
    return _where_positive(g, x, neg, prefix)


@register_exporter(_act.ELU)
def _elu_layer(g: GraphBuilder, layer: Any, x: str, prefix: str) -> str:
    return _elu(g, x, layer.alpha, prefix)


@register_exporter(_act.SELU)
def _selu(g: GraphBuilder, layer: Any, x: str, prefix: str) -> str:
    """``scale·elu(x, alpha)``."""
    alpha, scale = F.SELU_ALPHA, F.SELU_SCALE
    if g.exact_attribute(alpha, scale):
        return g.node("Selu", [x], prefix + "Selu", alpha=alpha, gamma=scale)
    return g.node("Mul", [_elu(g, x, alpha, prefix), g.scalar(scale)], prefix + "Mul")


@register_exporter(_act.Softplus)
def _softplus(g: GraphBuilder, layer: Any, x: str, prefix: str) -> str:
    """``x if beta·x > threshold else log(1 + e^(beta·x))/beta``."""
    beta = layer.beta
    bx = x if beta == 1.0 else g.node("Mul", [x, g.scalar(beta)], prefix + "Mul")
    smooth = g.node("Softplus", [bx], prefix + "Softplus")
    if beta != 1.0:
        smooth = g.node("Div", [smooth, g.scalar(beta)], prefix + "Div")
    linear = g.node("Greater", [bx, g.scalar(layer.threshold)], prefix + "Greater")
    return g.node("Where", [linear, x, smooth], prefix + "Where")


@register_exporter(_act.GELU)
def _gelu(g: GraphBuilder, layer: Any, x: str, prefix: str) -> str:
    """``½x·(1 + erf(x/√2))``, or ``½x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))``."""
    if layer.approximate == "none":
        inner = g.node("Erf", [g.node("Mul", [x, g.scalar(1.0 / math.sqrt(2.0))], prefix + "Mul")],
                       prefix + "Erf")
    else:
        x3 = g.node("Mul", [g.node("Mul", [x, x], prefix + "Mul"), x], prefix + "Mul")
        cubic = g.node("Add", [x, g.node("Mul", [x3, g.scalar(0.044715)], prefix + "Mul")],
                       prefix + "Add")
        inner = g.node("Tanh", [g.node("Mul", [cubic, g.scalar(math.sqrt(2.0 / math.pi))],
                                       prefix + "Mul")], prefix + "Tanh")
    half_x = g.node("Mul", [x, g.scalar(0.5)], prefix + "Mul")
    return g.node("Mul", [half_x, g.node("Add", [inner, g.scalar(1.0)], prefix + "Add")],
                  prefix + "Mul")


@register_exporter(_act.SiLU)
@register_exporter(_act.Swish)
def _swish(g: GraphBuilder, layer: Any, x: str, prefix: str) -> str:
    """``x·σ(beta·x)`` (SiLU: beta = 1)."""
    beta = getattr(layer, "beta", 1.0)
    bx = x if beta == 1.0 else g.node("Mul", [x, g.scalar(beta)], prefix + "Mul")
    return g.node("Mul", [x, g.node("Sigmoid", [bx], prefix + "Sigmoid")], prefix + "Mul")


@register_exporter(_act.Softmax)
@register_exporter(_act.LogSoftmax)
def _softmax(g: GraphBuilder, layer: Any, x: str, prefix: str) -> str:
    """``Softmax`` / ``LogSoftmax`` along ``axis``."""
    op = type(layer).__name__
    return g.node(op, [x], prefix + op, axis=int(layer.axis))


def _ones_or(g: GraphBuilder, param: Any, shape: tuple[int, ...], fill: float,
             name: str) -> str:
    value = param if param is not None else np.full(shape, fill, dtype=g.dtype)
    return g.initializer(value, name)


@register_exporter(_layers.BatchNorm1d, training_dependent=_batch_norm_in_training)
def _batch_norm(g: GraphBuilder, layer: Any, x: str, prefix: str) -> str:
    """``γ·(x − running_mean)/√(running_var + eps) + β`` (``BatchNormalization``)."""
    if not layer.track_running_stats:
        raise ExportError(
            f"cannot export BatchNorm1d at {prefix[:-1] or 'the root'!r}: it has no running "
            "statistics (track_running_stats=False), so each sample's output depends on the "
            "rest of its batch; train it with track_running_stats=True to serve it"
        )
    C = (layer.num_features,)
    scale = _ones_or(g, layer.weight, C, 1.0, prefix + "weight")
    bias = _ones_or(g, layer.bias, C, 0.0, prefix + "bias")
    mean = g.initializer(layer.running_mean, prefix + "running_mean")
    eps = layer.eps
    if g.exact_attribute(eps):
        var = g.initializer(layer.running_var, prefix + "running_var")
    else:  # a float32 attribute would round eps: add it to the variance here instead
        var_eps = layer.running_var.data.astype(g.dtype) + eps
        var, eps = g.initializer(var_eps, prefix + "running_var_plus_eps"), 0.0
    return g.node("BatchNormalization", [x, scale, bias, mean, var],
                  prefix + "BatchNormalization", epsilon=eps)


@register_exporter(_layers.LayerNorm)
def _layer_norm(g: GraphBuilder, layer: Any, x: str, prefix: str) -> str:
    """``γ·(x − μ)/√(σ² + eps) + β`` over the trailing axes: ``LayerNormalization``, or
    where its float32 ``epsilon`` attribute would round ``eps``, the same equation in
    ``ReduceMean``, ``Sub``, ``Mul``, ``Sqrt`` and ``Div``."""
    shape = layer.normalized_shape
    if g.exact_attribute(layer.eps):
        scale = _ones_or(g, layer.weight, shape, 1.0, prefix + "weight")
        bias = _ones_or(g, layer.bias, shape, 0.0, prefix + "bias")
        return g.node("LayerNormalization", [x, scale, bias], prefix + "LayerNormalization",
                      axis=-len(shape), epsilon=layer.eps)
    mu = g.reduce_mean(x, len(shape), prefix)
    centred = g.node("Sub", [x, mu], prefix + "Sub")
    var = g.reduce_mean(g.node("Mul", [centred, centred], prefix + "Mul"), len(shape), prefix)
    std = g.node("Sqrt", [g.node("Add", [var, g.scalar(layer.eps)], prefix + "Add")],
                 prefix + "Sqrt")
    z = g.node("Div", [centred, std], prefix + "Div")
    if layer.weight is not None:
        z = g.node("Mul", [z, g.initializer(layer.weight, prefix + "weight")], prefix + "Mul")
    if layer.bias is not None:
        z = g.node("Add", [z, g.initializer(layer.bias, prefix + "bias")], prefix + "Add")
    return z


@register_exporter(_layers.Flatten)
def _flatten(g: GraphBuilder, layer: Any, x: str, prefix: str) -> str:
    """``Reshape`` to ``(d₀ … d_{s−1}, −1, d_{e+1} …)``: the axes before ``start_dim``
    copied (0), the trailing ones fixed from the example."""
    shape = g.example(x).shape
    nd = len(shape)
    s, e = layer.start_dim % nd, layer.end_dim % nd
    target = [0] * s + [-1] + list(shape[e + 1:])
    const = g.initializer(np.array(target, dtype=np.int64), prefix + "shape")
    return g.node("Reshape", [x, const], prefix + "Reshape")


# ------------------------------------------------------------- convolutions and pooling


def _pads(padding: tuple[tuple[int, int], ...]) -> list[int]:
    """ONNX ``pads``: every axis's start, then every axis's end."""
    return [lo for lo, _ in padding] + [hi for _, hi in padding]


@register_exporter(_conv.Conv1d)
@register_exporter(_conv.Conv2d)
def _convolution(g: GraphBuilder, layer: Any, x: str, prefix: str) -> str:
    """``y = b + Σ W ⋆ x_pad`` (cross-correlation, as PyTorch): ``Conv``."""
    padding = layer.padding_pairs()
    W = g.initializer(layer.weight, prefix + "weight")
    b = [g.initializer(layer.bias, prefix + "bias")] if layer.bias is not None else []
    return g.node("Conv", [x, W, *b], prefix + "Conv", kernel_shape=list(layer.kernel_size),
                  strides=list(layer.stride), dilations=list(layer.dilation),
                  group=layer.groups, pads=_pads(padding))


@register_exporter(_conv.MaxPool1d)
@register_exporter(_conv.MaxPool2d)
@register_exporter(_conv.AvgPool1d)
@register_exporter(_conv.AvgPool2d)
def _pool(g: GraphBuilder, layer: Any, x: str, prefix: str) -> str:
    """``MaxPool`` (padding never wins the max) or ``AveragePool`` (``count_include_pad``
    as the layer)."""
    attrs: dict[str, Any] = {"kernel_shape": list(layer.kernel_size),
                             "strides": list(layer.stride),
                             "pads": _pads(tuple((p, p) for p in layer.padding))}
    if layer._max:
        return g.node("MaxPool", [x], prefix + "MaxPool", dilations=list(layer.dilation),
                      **attrs)
    return g.node("AveragePool", [x], prefix + "AveragePool",
                  count_include_pad=int(layer.count_include_pad), **attrs)


@register_exporter(_conv.AdaptiveAvgPool1d)
@register_exporter(_conv.AdaptiveAvgPool2d)
def _adaptive_avg_pool(g: GraphBuilder, layer: Any, x: str, prefix: str) -> str:
    """A product with each spatial axis's ``(m, n)`` averaging matrix ``P`` (row ``i``
    averages ``x[⌊i·n/m⌋ : ⌈(i+1)·n/m⌉]``): ``z @ Pᵀ`` on the last axis, ``P @ z`` on the
    one before."""
    shape = g.example(x).shape
    nd = len(layer.output_size)
    z = x
    for axis in reversed(range(nd)):
        P = layer.averaging_matrix(shape[2 + axis], axis, g.dtype)
        if axis == nd - 1:
            z = g.node("MatMul", [z, g.initializer(P.T, prefix + "bins_T")], prefix + "MatMul")
        else:
            z = g.node("MatMul", [g.initializer(P, prefix + "bins"), z], prefix + "MatMul")
    return z


@register_exporter(_conv.Unflatten)
def _unflatten(g: GraphBuilder, layer: Any, x: str, prefix: str) -> str:
    """``Reshape`` splitting axis ``dim``: the axes before it copied (0), the new and the
    trailing ones fixed from the example."""
    shape = g.example(x).shape
    d = layer.dim % len(shape)
    target = [0] * d + list(layer.unflattened_size) + list(shape[d + 1:])
    const = g.initializer(np.array(target, dtype=np.int64), prefix + "shape")
    return g.node("Reshape", [x, const], prefix + "Reshape")


@register_exporter(_module.Sequential)
def _sequential(g: GraphBuilder, layer: Any, x: str, prefix: str) -> str:
    """The children in order."""
    children = list(layer.named_children())
    if not children:
        return g.node("Identity", [x], prefix + "Identity")
    for name, child in children:
        x = g.module(child, x, f"{prefix}{name}.")
    return x


@register_exporter(_layers.Residual)
def _residual(g: GraphBuilder, layer: Any, x: str, prefix: str) -> str:
    """``x + f(x)``."""
    fx = g.module(layer.module, x, prefix + "module.")
    return g.node("Add", [x, fx], prefix + "Add")


# ============================================================================ the model


def _check_modes(model: Module) -> None:
    """Refuse a model whose output depends on training mode (before anything is built)."""
    for name, m in model.named_modules():
        entry = EXPORTERS.get(type(m))
        if entry is None or entry.training_dependent is None or not m.training:
            continue
        why = entry.training_dependent(m)
        if why:
            where = f" at {name!r}" if name else ""
            raise ExportError(
                f"cannot export {type(m).__name__}{where} in training mode: it {why}, so the "
                "output depends on training mode; call model.eval() before exporting"
            )


def _example_array(example_input: Any, dynamic_batch: bool) -> np.ndarray:
    x = np.asarray(example_input.data if isinstance(example_input, Tensor) else example_input)
    if x.dtype not in (np.float32, np.float64):
        raise TypeError(
            f"example_input must be a float32 or float64 array (it fixes the graph's element "
            f"type), got dtype {x.dtype}"
        )
    if x.ndim < (2 if dynamic_batch else 1):
        raise ValueError(
            f"example_input must have a batch axis first, shape (N, …), got shape {x.shape}"
        )
    return x


def _check_opset(opset: Any) -> int:
    onnx = _onnx()
    top = onnx.defs.onnx_opset_version()
    if isinstance(opset, bool) or not isinstance(opset, (int, np.integer)) \
            or not MIN_OPSET <= opset <= top:
        raise ValueError(f"opset must be an int in [{MIN_OPSET}, {top}], got {opset!r}")
    return int(opset)


def _value_info(name: str, value: np.ndarray, batch: str | None) -> Any:
    """The type of ``value``, its first axis named ``batch`` (None: a static shape)."""
    onnx = _onnx()
    dims: list[Any] = list(value.shape)
    if batch is not None:
        dims[0] = batch
    elem = onnx.helper.np_dtype_to_tensor_dtype(value.dtype)
    return onnx.helper.make_tensor_value_info(name, elem, dims)


def _proto(
    build: Callable[[GraphBuilder, str], str],
    x: np.ndarray,
    *,
    opset: int,
    dynamic_batch: bool,
    output_name: str,
    graph_name: str,
    doc: str,
    metadata: dict[str, str] | None = None,
) -> Any:
    """Run ``build(g, input) -> output`` and wrap it into a checked ModelProto."""
    from . import __version__

    onnx = _onnx()
    opset = _check_opset(opset)
    g = GraphBuilder(x.dtype, opset)
    g._used.add(INPUT_NAME)
    g.record(INPUT_NAME, x)
    y = build(g, INPUT_NAME)
    g._used.add(output_name)
    producer = next((n for n in g.nodes if y in n.output), None)
    if producer is not None and not any(y in n.input for n in g.nodes):
        producer.output[list(producer.output).index(y)] = output_name  # name the output
    else:
        g.nodes.append(onnx.helper.make_node("Identity", [y], [output_name],
                                             name=output_name))
    batch = BATCH_DIM if dynamic_batch else None
    elem = onnx.helper.np_dtype_to_tensor_dtype(g.dtype)
    graph = onnx.helper.make_graph(
        g.nodes, graph_name,
        [_value_info(INPUT_NAME, x, batch)],
        [onnx.helper.make_tensor_value_info(output_name, elem, None)],
        initializer=g.initializers,
        doc_string=doc,
    )
    opsets = [onnx.helper.make_opsetid("", opset)]
    model = onnx.helper.make_model(graph, opset_imports=opsets, producer_name="chainrule",
                                   producer_version=__version__, doc_string=doc)
    model.ir_version = onnx.helper.find_min_ir_version_for(opsets)
    if metadata:
        onnx.helper.set_model_props(model, metadata)
    # the output's shape is ONNX's own inference (symbolic batch axis included)
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    known = {v.name: v for v in inferred.graph.value_info}
    known.update({v.name: v for v in inferred.graph.output})
    if output_name in known:
        model.graph.output[0].type.CopyFrom(known[output_name].type)
    onnx.checker.check_model(model, full_check=True)
    return model


def to_model_proto(
    model: Any,
    example_input: Any = None,
    *,
    opset: int = DEFAULT_OPSET,
    dynamic_batch: bool = True,
) -> Any:
    """The checked ``onnx.ModelProto`` that :func:`export` writes (nothing is written).

    Args: as :func:`export`.

    Example:
        >>> import numpy as np
        >>> from chainrule import nn
        >>> model = nn.Sequential(nn.Linear(4, 8, seed=0), nn.ReLU(), nn.Linear(8, 2, seed=1))
        >>> proto = to_model_proto(model, np.zeros((1, 4), np.float32))
        >>> [n.op_type for n in proto.graph.node], [i.name for i in proto.graph.initializer]
        (['Gemm', 'Relu', 'Gemm'], ['0.weight', '0.bias', '2.weight', '2.bias'])
    """
    if not isinstance(model, Module):
        from .sklearn import MLPClassifier, MLPRegressor

        if isinstance(model, (MLPClassifier, MLPRegressor)):
            return _estimator_proto(model, example_input, opset=opset,
                                    dynamic_batch=dynamic_batch)
        raise TypeError(
            "export: expected a chainrule.nn.Module or a fitted chainrule.sklearn "
            f"estimator, got {type(model).__name__}"
        )
    if example_input is None:
        raise ValueError("export: example_input is required for a Module (an array of "
                         "shape (N, …) fixing the input's shape and dtype)")
    x = _example_array(example_input, dynamic_batch)
    _check_modes(model)
    return _proto(lambda g, inp: g.module(model, inp), x, opset=opset,
                  dynamic_batch=dynamic_batch, output_name="output",
                  graph_name=type(model).__name__, doc=f"chainrule {type(model).__name__}")


def _write(proto: Any, path: Any) -> str:
    from .train.checkpoint import atomic_write_bytes

    path = os.fspath(path)
    atomic_write_bytes(path, proto.SerializeToString())
    return path


def export(
    model: Any,
    path: str | os.PathLike[str],
    example_input: Any = None,
    *,
    opset: int = DEFAULT_OPSET,
    dynamic_batch: bool = True,
) -> str:
    """Write ``model`` as an ONNX file whose output equals chainrule's in evaluation mode.

    For a Module, the graph computes ``output = model(input)``; for a fitted
    ``MLPClassifier`` its ``probabilities`` (``predict_proba``), for a fitted
    ``MLPRegressor`` its ``prediction`` (``predict``). The graph's element type is
    ``example_input``'s dtype; the parameters are cast to it.

    Args:
        model: a ``chainrule.nn.Module`` (every layer with an exporter in
            :data:`EXPORTERS`) or a fitted ``chainrule.sklearn`` estimator.
        path: destination ``.onnx`` file (written atomically).
        example_input: float32 or float64 array of shape ``(N, …)`` fixing the input's
            shape and dtype (required for a Module; for an estimator default
            ``zeros((1, n_features_in_))`` in the network's dtype).
        opset: ONNX operator set version (default 17, at least 17).
        dynamic_batch: leave the first axis symbolic (``"N"``), so any batch size runs
            (default True); False fixes the example's shape.

    Returns:
        The path written.

    Raises:
        ExportError: a layer has no exporter, or depends on training mode while the model
            is in training mode (the message names the layer and where it is).
        TypeError, ValueError: a bad model, example input or opset.

    Example:
        >>> import os, tempfile
        >>> import numpy as np
        >>> from chainrule import nn
        >>> model = nn.Sequential(nn.Linear(3, 2, seed=0), nn.Softmax()).eval()
        >>> path = export(model, os.path.join(tempfile.mkdtemp(), "m.onnx"),
        ...               np.zeros((1, 3), np.float32))
        >>> from onnx.reference import ReferenceEvaluator
        >>> x = np.ones((5, 3), np.float32)
        >>> y = ReferenceEvaluator(path).run(None, {"input": x})[0]
        >>> y.shape, bool(np.allclose(y, model(x).numpy(), atol=1e-6))
        ((5, 2), True)
    """
    proto = to_model_proto(model, example_input, opset=opset, dynamic_batch=dynamic_batch)
    return _write(proto, path)


# =============================================================================== pipelines


def _standardize(g: GraphBuilder, x: str, mean: Any, scale: Any) -> str:
    """``(x − μ)/σ``."""
    mu = g.initializer(np.asarray(mean), "standardizer.mean")
    sigma = g.initializer(np.asarray(scale), "standardizer.scale")
    centred = g.node("Sub", [x, mu], "standardize.Sub")
    z = g.node("Div", [centred, sigma], "standardize.Div")
    g.record(z, (g.example(x) - g.example(mu)) / g.example(sigma))
    return z


def _output_head(g: GraphBuilder, z: str, head: str) -> str:
    """The estimator's or run's output transform of the network output ``z``."""
    if head == "softmax":
        return g.node("Softmax", [z], "head.Softmax", axis=-1)
    if head == "logistic":
        return g.node("Sigmoid", [z], "head.Sigmoid")
    if head == "binary":  # [1 − σ(z), σ(z)]
        p = g.node("Sigmoid", [z], "head.Sigmoid")
        q = g.node("Sub", [g.scalar(1.0), p], "head.Sub")
        return g.node("Concat", [q, p], "head.Concat", axis=1)
    if head == "exp":
        return g.node("Exp", [z], "head.Exp")
    return z


def _estimator_proto(est: Any, example_input: Any, *, opset: int,
                     dynamic_batch: bool) -> Any:
    """The graph of a fitted MLPClassifier (probabilities) or MLPRegressor (prediction)."""
    from sklearn.base import is_classifier
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(est)
    net = est.model_
    if example_input is None:
        dtype = next(iter(net.parameters())).dtype
        example_input = np.zeros((1, est.n_features_in_), dtype=dtype)
    x = _example_array(example_input, dynamic_batch)
    if x.ndim != 2 or x.shape[1] != est.n_features_in_:
        raise ValueError(f"example_input must have shape (N, {est.n_features_in_}), got "
                         f"{x.shape}")
    net.eval()  # as predict does
    if is_classifier(est):
        multilabel = est._target_type == "multilabel-indicator"
        head = ("logistic" if multilabel else "binary" if est.n_outputs_ == 1
                else "softmax")
        output, meta = "probabilities", {"classes": json.dumps(np.asarray(est.classes_)
                                                             .tolist())}
    else:
        head = "exp" if est.out_activation_ == "exp" else "identity"
        output, meta = "prediction", {}

    def build(g: GraphBuilder, inp: str) -> str:
        y = _output_head(g, g.module(net, inp), head)
        if output == "prediction" and est.n_outputs_ == 1:  # predict returns shape (N,)
            y = g.node("Reshape", [y, g.initializer(np.array([-1], np.int64), "flat")],
                       "head.Reshape")
        return y

    name = type(est).__name__
    return _proto(build, x, opset=opset, dynamic_batch=dynamic_batch, output_name=output,
                  graph_name=name, doc=f"chainrule.sklearn.{name}: {output}", metadata=meta)


def run_model_proto(
    run: str | os.PathLike[str], *, opset: int = DEFAULT_OPSET, dtype: Any = None
) -> Any:
    """The checked ``onnx.ModelProto`` of a run folder (see :func:`export_run`)."""
    from .cli import load_run

    return _run_proto(load_run(run, need_config=False), opset, dtype)


def _run_proto(art: Any, opset: int, dtype: Any) -> Any:
    """The ModelProto of the run :func:`~chainrule.cli.load_run` read as ``art``."""
    pre = art.preprocessing
    net = art.model.eval()
    dt = np.dtype(dtype) if dtype is not None else next(iter(net.parameters())).dtype
    n_features = len(pre["feature_names"])
    x = _example_array(np.zeros((1, n_features), dtype=dt), True)
    scaler = art.scaler()
    classification = pre["task"] == "classification"
    target_scale = pre.get("target_scale")

    def build(g: GraphBuilder, inp: str) -> str:
        h = inp if scaler is None else _standardize(g, inp, scaler.mean_, scaler.scale_)
        z = g.module(net, h)
        if classification:
            return _output_head(g, z, "softmax")
        if target_scale:  # back to the target's own units: z·σ_y + μ_y
            mean, std = target_scale
            z = g.node("Add", [g.node("Mul", [z, g.scalar(std)], "target.Mul"),
                               g.scalar(mean)], "target.Add")
        return z

    meta = {"task": pre["task"], "feature_names": json.dumps(pre["feature_names"]),
            "target_names": json.dumps(pre["target_names"])}
    output = "probabilities" if classification else "prediction"
    return _proto(build, x, opset=opset, dynamic_batch=True, output_name=output,
                  graph_name=str(pre.get("dataset", "run")),
                  doc=f"chainrule run {art.run_dir.name}: raw features → {output}",
                  metadata=meta)


def export_run(
    run: str | os.PathLike[str],
    path: str | os.PathLike[str] | None = None,
    *,
    opset: int = DEFAULT_OPSET,
    dtype: Any = None,
) -> str:
    """Write the ONNX model of a run folder (``chainrule train``'s output).

    The graph takes the raw features (``input``, shape ``(N, d)``, columns in the order of
    ``preprocessing.json``'s ``feature_names``), applies the saved standardiser
    ``(x − μ)/σ``, the network in evaluation mode, and returns what ``chainrule predict``
    prints: ``probabilities`` (softmax of the logits, columns in the order of
    ``target_names``) or ``prediction`` in the target's units (``z·σ_y + μ_y`` when the
    target was standardised).

    Args:
        run: the run folder (or its ``model.safetensors``).
        path: destination (default ``<run>/model.onnx``).
        opset: ONNX operator set version (default 17).
        dtype: element type (default the model's dtype).

    Returns:
        The path written.
    """
    from .cli import load_run

    art = load_run(run, need_config=False)
    proto = _run_proto(art, opset, dtype)
    return _write(proto, art.run_dir / "model.onnx" if path is None else path)


def describe_io(proto: Any) -> str:
    """``"input (N, 4) float32 → probabilities (N, 3) float32"`` for a ModelProto.

    Example:
        >>> import numpy as np
        >>> from chainrule import nn
        >>> describe_io(to_model_proto(nn.Linear(4, 3, seed=0), np.zeros((1, 4), np.float32)))
        'input (N, 4) float32 → output (N, 3) float32'
    """
    onnx = _onnx()

    def one(v: Any) -> str:
        t = v.type.tensor_type
        dims = ", ".join(d.dim_param or (str(d.dim_value) if d.HasField("dim_value") else "?")
                         for d in t.shape.dim)
        dtype = onnx.helper.tensor_dtype_to_np_dtype(t.elem_type)
        return f"{v.name} ({dims}{',' if len(t.shape.dim) == 1 else ''}) {dtype}"

    ins = ", ".join(one(v) for v in proto.graph.input)
    outs = ", ".join(one(v) for v in proto.graph.output)
    return f"{ins} → {outs}"
