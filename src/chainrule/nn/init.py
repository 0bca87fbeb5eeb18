"""Weight initialisers: where gradient descent starts.

Every initialiser takes either a Tensor/Parameter, which it fills in place (keeping its
dtype) and returns, or a shape, for which it returns a new ndarray of ``dtype`` (float32 by
default). Every random one takes ``seed`` (an int, a ``numpy.random.Generator`` or None for
the global generator): the same seed gives the same weights, bit for bit.

For a weight ``W`` of shape ``(out, in)`` (PyTorch's and the textbook's layout),
``fan_in = in`` and ``fan_out = out``; for more axes both are multiplied by the size of the
trailing "receptive field" axes, as in PyTorch.

The variance-preserving schemes keep the variance of activations (forward) or gradients
(backward) roughly constant from layer to layer:

=====================  ==============================  ======================================
initialiser            distribution                    variance
=====================  ==============================  ======================================
xavier/glorot normal   N(0, std²)                      gain²·2/(fan_in + fan_out)
xavier/glorot uniform  U(−a, a), a = √3·std            gain²·2/(fan_in + fan_out)
he/kaiming normal      N(0, std²)                      gain²/fan (gain √2 for ReLU)
he/kaiming uniform     U(−a, a), a = √3·std            gain²/fan
lecun normal           N(0, std²)                      1/fan_in
=====================  ==============================  ======================================

A note on names: many course notes call "Xavier" the scheme with variance ``1/n``, ``n``
the number of inputs of the layer. That is LeCun's initialisation (``lecun_normal``,
``lecun_uniform``: variance ``1/fan_in``). chainrule's ``xavier``/``glorot`` is the scheme of
Glorot & Bengio (2010) as PyTorch implements it (``torch.nn.init.xavier_*_``): variance
``2/(fan_in + fan_out)``, the compromise between keeping the forward variance (``1/fan_in``)
and the backward variance (``1/fan_out``). The two agree only when ``fan_in = fan_out``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import rng as _rng
from ..registry import Registry
from ..tensor import Tensor

__all__ = [
    "FOR_ACTIVATION",
    "INITIALIZERS",
    "calculate_gain",
    "constant",
    "get_initializer",
    "kaiming_normal",
    "kaiming_uniform",
    "layer_parameters",
    "lecun_normal",
    "lecun_uniform",
    "normal",
    "ones",
    "torch_default_bias",
    "torch_default_weight",
    "uniform",
    "xavier_normal",
    "xavier_uniform",
    "zeros",
]


# ------------------------------------------------------------------------------ helpers


def _shape_dtype(target: Any, dtype: Any) -> tuple[tuple[int, ...], np.dtype]:
    if isinstance(target, Tensor):
        if dtype is not None and np.dtype(dtype) != target.dtype:
            raise ValueError(
                f"dtype={np.dtype(dtype)} conflicts with the tensor's dtype {target.dtype}"
            )
        return target.shape, target.dtype
    if isinstance(target, (int, np.integer)):
        target = (int(target),)
    try:
        shape = tuple(int(s) for s in target)
    except TypeError:
        raise TypeError(
            f"initialisers take a Tensor or a shape, got {type(target).__name__}"
        ) from None
    if any(s < 0 for s in shape):
        raise ValueError(f"shape must be non-negative, got {shape}")
    dt = np.dtype(np.float32 if dtype is None else dtype)
    if dt.kind != "f":
        raise ValueError(f"dtype must be floating point, got {dt}")
    return shape, dt


def _finish(target: Any, values: np.ndarray, dtype: np.dtype) -> Any:
    values = np.asarray(values).astype(dtype, copy=False)
    if isinstance(target, Tensor):
        target.data = values
        return target
    return values


def _fans(shape: tuple[int, ...], name: str) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight of ``shape`` (``(out, in, *receptive_field)``)."""
    if len(shape) < 2:
        raise ValueError(
            f"{name}: fan_in and fan_out need a weight with at least 2 dimensions "
            f"(out, in), got shape {shape}"
        )
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def _fan(shape: tuple[int, ...], mode: str, name: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"{name}: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _fans(shape, name)
    fan = fan_in if mode == "fan_in" else fan_out
    if fan == 0:
        raise ValueError(f"{name}: cannot initialise a weight of shape {shape} ({mode} is 0)")
    return fan


# ----------------------------------------------------------------------------------- gain


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity (as ``torch.nn.init.calculate_gain``).

    ==============================  =======================================
    nonlinearity                    gain
    ==============================  =======================================
    linear, conv*, sigmoid          1
    tanh                            5/3
    relu                            √2
    leaky_relu (slope ``param``)    √(2 / (1 + param²)), param default 0.01
    selu                            3/4
    ==============================  =======================================

    Args:
        nonlinearity: the name above.
        param: the negative slope for ``leaky_relu``.

    Example:
        >>> from chainrule.nn import init
        >>> round(init.calculate_gain("relu"), 4), init.calculate_gain("tanh")
        (1.4142, 1.6666666666666667)
    """
    linear = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
              "conv_transpose2d", "conv_transpose3d", "sigmoid")
    if nonlinearity in linear:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, bool) or not isinstance(param, (int, float)):
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a valid number")
        else:
            slope = float(param)
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    valid = list(linear) + ["tanh", "relu", "leaky_relu", "selu"]
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}; "
                     f"valid: {', '.join(valid)}")


# ----------------------------------------------------------------------------- constants


def zeros(tensor: Any, *, dtype: Any = None, seed: Any = None) -> Any:
    """``W = 0``.

    Documented trap: it breaks symmetry nowhere. All hidden units of a layer compute the
    same function and receive the same gradient, so they stay identical for ever (the tests
    train such a network and show it). Use it for biases, not weights.

    Args:
        tensor: a Tensor to fill in place, or a shape.
        dtype: dtype of a new array (default float32).
        seed: ignored (accepted so every initialiser has the same signature).

    Example:
        >>> from chainrule.nn import init
        >>> init.zeros((2, 2))
        array([[0., 0.],
               [0., 0.]], dtype=float32)
    """
    shape, dt = _shape_dtype(tensor, dtype)
    return _finish(tensor, np.zeros(shape, dtype=dt), dt)


def ones(tensor: Any, *, dtype: Any = None, seed: Any = None) -> Any:
    """``W = 1``.

    Args:
        tensor: a Tensor to fill in place, or a shape.
        dtype: dtype of a new array (default float32).
        seed: ignored.

    Example:
        >>> from chainrule.nn import init
        >>> init.ones(3)
        array([1., 1., 1.], dtype=float32)
    """
    shape, dt = _shape_dtype(tensor, dtype)
    return _finish(tensor, np.ones(shape, dtype=dt), dt)


def constant(tensor: Any, val: float, *, dtype: Any = None, seed: Any = None) -> Any:
    """``W = val`` everywhere.

    Args:
        tensor: a Tensor to fill in place, or a shape.
        val: the value.
        dtype: dtype of a new array (default float32).
        seed: ignored.

    Example:
        >>> from chainrule.nn import init
        >>> init.constant(2, 0.5)
        array([0.5, 0.5], dtype=float32)
    """
    shape, dt = _shape_dtype(tensor, dtype)
    return _finish(tensor, np.full(shape, val, dtype=dt), dt)


# --------------------------------------------------------------------------------- random


def normal(
    tensor: Any, mean: float = 0.0, std: float = 1.0, *, seed: Any = None, dtype: Any = None
) -> Any:
    """``W_ij ~ N(mean, std²)``.

    Args:
        tensor: a Tensor to fill in place, or a shape.
        mean: mean (default 0).
        std: standard deviation, ≥ 0 (default 1).
        seed: int, Generator or None (global generator).
        dtype: dtype of a new array (default float32).

    Example:
        >>> from chainrule.nn import init
        >>> init.normal((2, 3), std=0.01, seed=0).shape
        (2, 3)
    """
    if std < 0:
        raise ValueError(f"normal: std must be >= 0, got {std}")
    shape, dt = _shape_dtype(tensor, dtype)
    g = _rng.get_rng(seed)
    return _finish(tensor, g.normal(mean, std, size=shape), dt)


def uniform(
    tensor: Any, a: float = 0.0, b: float = 1.0, *, seed: Any = None, dtype: Any = None
) -> Any:
    """``W_ij ~ U(a, b)``: mean ``(a + b)/2``, variance ``(b − a)²/12``.

    Args:
        tensor: a Tensor to fill in place, or a shape.
        a: lower bound (default 0).
        b: upper bound, ≥ a (default 1).
        seed: int, Generator or None (global generator).
        dtype: dtype of a new array (default float32).

    Example:
        >>> from chainrule.nn import init
        >>> w = init.uniform((100,), -1.0, 1.0, seed=0)
        >>> bool(w.min() >= -1.0 and w.max() < 1.0)
        True
    """
    if b < a:
        raise ValueError(f"uniform: need a <= b, got a={a}, b={b}")
    shape, dt = _shape_dtype(tensor, dtype)
    g = _rng.get_rng(seed)
    return _finish(tensor, g.uniform(a, b, size=shape), dt)


def xavier_uniform(
    tensor: Any, gain: float = 1.0, *, seed: Any = None, dtype: Any = None
) -> Any:
    """Xavier/Glorot uniform: ``W_ij ~ U(−a, a)`` with
    ``a = gain·√(6 / (fan_in + fan_out))`` (variance ``gain²·2/(fan_in + fan_out)``).

    This is PyTorch's ``xavier_uniform_``. The "Xavier" of variance ``1/n`` found in some
    course notes is :func:`lecun_uniform` (variance ``1/fan_in``).

    Args:
        tensor: a Tensor of shape ``(out, in, …)`` to fill in place, or such a shape.
        gain: scale factor (see :func:`calculate_gain`; default 1).
        seed: int, Generator or None (global generator).
        dtype: dtype of a new array (default float32).

    Reference: Glorot & Bengio, "Understanding the difficulty of training deep feedforward
    neural networks", AISTATS 2010.

    Example:
        >>> from chainrule.nn import init
        >>> w = init.xavier_uniform((30, 20), seed=0)      # a = √(6/50) ≈ 0.3464
        >>> bool(abs(w).max() <= (6 / 50) ** 0.5)
        True
    """
    shape, dt = _shape_dtype(tensor, dtype)
    fan_in, fan_out = _fans(shape, "xavier_uniform")
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    g = _rng.get_rng(seed)
    return _finish(tensor, g.uniform(-a, a, size=shape), dt)


def xavier_normal(
    tensor: Any, gain: float = 1.0, *, seed: Any = None, dtype: Any = None
) -> Any:
    """Xavier/Glorot normal: ``W_ij ~ N(0, std²)`` with
    ``std = gain·√(2 / (fan_in + fan_out))``.

    This is PyTorch's ``xavier_normal_``. The "Xavier" of variance ``1/n`` found in some
    course notes is :func:`lecun_normal` (variance ``1/fan_in``).

    Args:
        tensor: a Tensor of shape ``(out, in, …)`` to fill in place, or such a shape.
        gain: scale factor (default 1).
        seed: int, Generator or None (global generator).
        dtype: dtype of a new array (default float32).

    Reference: Glorot & Bengio, AISTATS 2010.

    Example:
        >>> from chainrule.nn import init
        >>> init.xavier_normal((30, 20), seed=0).shape
        (30, 20)
    """
    shape, dt = _shape_dtype(tensor, dtype)
    fan_in, fan_out = _fans(shape, "xavier_normal")
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    g = _rng.get_rng(seed)
    return _finish(tensor, g.normal(0.0, std, size=shape), dt)


def kaiming_uniform(
    tensor: Any,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    *,
    seed: Any = None,
    dtype: Any = None,
) -> Any:
    """He/Kaiming uniform: ``W_ij ~ U(−bound, bound)`` with ``std = gain/√fan`` and
    ``bound = √3·std``; ``gain = calculate_gain(nonlinearity, a)``.

    With the defaults (``leaky_relu`` with slope ``a = 0``, i.e. ReLU) ``gain = √2`` and the
    variance is ``2/fan_in``.

    Args:
        tensor: a Tensor of shape ``(out, in, …)`` to fill in place, or such a shape.
        a: negative slope of the leaky ReLU that follows (default 0).
        mode: ``'fan_in'`` (default; preserves forward variance) or ``'fan_out'``.
        nonlinearity: ``'relu'`` or ``'leaky_relu'`` (default) — any name of
            :func:`calculate_gain`.
        seed: int, Generator or None (global generator).
        dtype: dtype of a new array (default float32).

    Reference: He et al., "Delving Deep into Rectifiers: Surpassing Human-Level Performance
    on ImageNet Classification", ICCV 2015.

    Example:
        >>> from chainrule.nn import init
        >>> w = init.kaiming_uniform((64, 32), seed=0)    # bound = √3·√2/√32 ≈ 0.433
        >>> bool(abs(w).max() <= (6 / 32) ** 0.5)
        True
    """
    shape, dt = _shape_dtype(tensor, dtype)
    fan = _fan(shape, mode, "kaiming_uniform")
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    bound = math.sqrt(3.0) * std
    g = _rng.get_rng(seed)
    return _finish(tensor, g.uniform(-bound, bound, size=shape), dt)


def kaiming_normal(
    tensor: Any,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    *,
    seed: Any = None,
    dtype: Any = None,
) -> Any:
    """He/Kaiming normal: ``W_ij ~ N(0, std²)`` with ``std = gain/√fan``,
    ``gain = calculate_gain(nonlinearity, a)`` (√2 for ReLU, the default).

    Args:
        tensor: a Tensor of shape ``(out, in, …)`` to fill in place, or such a shape.
        a: negative slope of the leaky ReLU that follows (default 0).
        mode: ``'fan_in'`` (default) or ``'fan_out'``.
        nonlinearity: ``'relu'`` or ``'leaky_relu'`` (default).
        seed: int, Generator or None (global generator).
        dtype: dtype of a new array (default float32).

    Reference: He et al., ICCV 2015.

    Example:
        >>> from chainrule.nn import init
        >>> w = init.kaiming_normal((256, 512), seed=0)    # variance 2/512
        >>> round(float(w.var()) * 512, 1)
        2.0
    """
    shape, dt = _shape_dtype(tensor, dtype)
    fan = _fan(shape, mode, "kaiming_normal")
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    g = _rng.get_rng(seed)
    return _finish(tensor, g.normal(0.0, std, size=shape), dt)


def lecun_normal(tensor: Any, *, seed: Any = None, dtype: Any = None) -> Any:
    """LeCun normal: ``W_ij ~ N(0, 1/fan_in)`` (the initialiser for SELU networks).

    Args:
        tensor: a Tensor of shape ``(out, in, …)`` to fill in place, or such a shape.
        seed: int, Generator or None (global generator).
        dtype: dtype of a new array (default float32).

    Reference: LeCun et al., "Efficient BackProp", 1998; Klambauer et al., NeurIPS 2017.

    Example:
        >>> from chainrule.nn import init
        >>> w = init.lecun_normal((256, 400), seed=0)      # variance 1/400
        >>> round(float(w.var()) * 400, 1)
        1.0
    """
    shape, dt = _shape_dtype(tensor, dtype)
    fan_in = _fan(shape, "fan_in", "lecun_normal")
    g = _rng.get_rng(seed)
    return _finish(tensor, g.normal(0.0, 1.0 / math.sqrt(fan_in), size=shape), dt)


def lecun_uniform(tensor: Any, *, seed: Any = None, dtype: Any = None) -> Any:
    """LeCun uniform: ``W_ij ~ U(−a, a)`` with ``a = √(3/fan_in)`` (variance ``1/fan_in``).

    Args:
        tensor: a Tensor of shape ``(out, in, …)`` to fill in place, or such a shape.
        seed: int, Generator or None (global generator).
        dtype: dtype of a new array (default float32).

    Reference: LeCun et al., "Efficient BackProp", 1998.

    Example:
        >>> from chainrule.nn import init
        >>> bool(abs(init.lecun_uniform((10, 3), seed=0)).max() <= 1.0)
        True
    """
    shape, dt = _shape_dtype(tensor, dtype)
    fan_in = _fan(shape, "fan_in", "lecun_uniform")
    a = math.sqrt(3.0 / fan_in)
    g = _rng.get_rng(seed)
    return _finish(tensor, g.uniform(-a, a, size=shape), dt)


def torch_default_weight(tensor: Any, *, seed: Any = None, dtype: Any = None) -> Any:
    """PyTorch's default for ``nn.Linear.weight``: ``kaiming_uniform(a=√5)``, which is
    ``W_ij ~ U(−1/√fan_in, 1/√fan_in)`` (variance ``1/(3·fan_in)``).

    Args:
        tensor: a Tensor of shape ``(out, in)`` to fill in place, or such a shape.
        seed: int, Generator or None (global generator).
        dtype: dtype of a new array (default float32).

    Example:
        >>> from chainrule.nn import init
        >>> bool(abs(init.torch_default_weight((5, 4), seed=0)).max() <= 0.5)
        True
    """
    return kaiming_uniform(tensor, a=math.sqrt(5.0), seed=seed, dtype=dtype)


def torch_default_bias(
    tensor: Any, fan_in: int, *, seed: Any = None, dtype: Any = None
) -> Any:
    """PyTorch's default for ``nn.Linear.bias``: ``b_i ~ U(−1/√fan_in, 1/√fan_in)``.

    Args:
        tensor: a Tensor of shape ``(out,)`` to fill in place, or such a shape.
        fan_in: the layer's ``in_features``.
        seed: int, Generator or None (global generator).
        dtype: dtype of a new array (default float32).

    Example:
        >>> from chainrule.nn import init
        >>> bool(abs(init.torch_default_bias(5, fan_in=4, seed=0)).max() <= 0.5)
        True
    """
    bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
    return uniform(tensor, -bound, bound, seed=seed, dtype=dtype)


def layer_parameters(shape: tuple[int, ...], init: Any = None, *, bias: bool = True,
                     seed: Any = None, dtype: Any = np.float32, layer: str = "layer"
                     ) -> tuple[np.ndarray, np.ndarray | None, str | None]:
    """A layer's initial weight ``W`` of ``shape`` (``(out, in, *kernel)``) and bias ``b``
    of shape ``(out,)``, as ``Linear`` and ``Conv1d/2d`` draw them.

    ``init`` None or ``"auto"``: PyTorch's default, ``W, b ~ U(−1/√fan_in, 1/√fan_in)``
    with ``fan_in = ∏ shape[1:]`` (``W`` first, then ``b``, from the same generator);
    otherwise ``W`` from :func:`get_initializer` ``(init)`` and ``b = 0``.

    Args:
        shape: the weight's shape.
        init: None, ``"auto"``, a name of :func:`get_initializer` or a callable
            ``f(shape, seed=, dtype=)``.
        bias: draw ``b`` too (else it is None).
        seed: int, Generator or None (global generator).
        dtype: the parameters' dtype (default float32).
        layer: the layer's name, for the error message.

    Returns:
        ``(W, b, name)``: ``name`` is ``init`` if a string or None, else the callable's
        ``__name__`` (``"custom"`` without one).

    Raises:
        ValueError: the initialiser returned another shape, or ``init`` is an unknown name.

    Example:
        >>> from chainrule.nn import init
        >>> W, b, name = init.layer_parameters((25, 1, 5), seed=0)
        >>> W.shape, b.shape, bool(abs(W).max() <= 1 / 5 ** 0.5), name
        ((25, 1, 5), (25,), True, None)
    """
    gen = _rng.get_rng(seed)
    fan_in = math.prod(shape[1:])
    if init is None or init == "auto":
        # PyTorch's reset_parameters: kaiming_uniform(a=√5) = U(±1/√fan_in), same bias
        w = torch_default_weight(shape, seed=gen, dtype=dtype)
        b = torch_default_bias((shape[0],), fan_in, seed=gen, dtype=dtype) if bias else None
    else:
        w = np.asarray(get_initializer(init)(shape, seed=gen, dtype=dtype), dtype=dtype)
        if w.shape != tuple(shape):
            raise ValueError(f"{layer}: init returned shape {w.shape}, expected {shape}")
        b = np.zeros(shape[0], dtype=dtype) if bias else None
    name = init if isinstance(init, str) or init is None else getattr(
        init, "__name__", "custom")
    return w, b, name


# ------------------------------------------------------------------------------ registry


def _he_normal(tensor: Any, *, seed: Any = None, dtype: Any = None) -> Any:
    return kaiming_normal(tensor, nonlinearity="relu", seed=seed, dtype=dtype)


def _he_uniform(tensor: Any, *, seed: Any = None, dtype: Any = None) -> Any:
    return kaiming_uniform(tensor, nonlinearity="relu", seed=seed, dtype=dtype)


_he_normal.__doc__ = "He normal for ReLU: ``kaiming_normal(nonlinearity='relu')``, N(0, 2/fan_in)."
_he_uniform.__doc__ = "He uniform for ReLU: ``kaiming_uniform(nonlinearity='relu')``."

INITIALIZERS = Registry("initialiser")
INITIALIZERS.register("zeros", zeros, aliases=("zero",))
INITIALIZERS.register("ones", ones)
INITIALIZERS.register("normal", normal)
INITIALIZERS.register("uniform", uniform)
INITIALIZERS.register("xavier_uniform", xavier_uniform,
                      aliases=("glorot_uniform", "xavier", "glorot"))
INITIALIZERS.register("xavier_normal", xavier_normal, aliases=("glorot_normal",))
INITIALIZERS.register("kaiming_normal", _he_normal, aliases=("he_normal", "he", "kaiming"))
INITIALIZERS.register("kaiming_uniform", _he_uniform, aliases=("he_uniform",))
INITIALIZERS.register("lecun_normal", lecun_normal, aliases=("lecun",))
INITIALIZERS.register("lecun_uniform", lecun_uniform)
INITIALIZERS.register("torch", torch_default_weight, aliases=("pytorch",))
"""Initialiser by name, for configuration files and the CLI. Each entry is called as
``f(shape_or_tensor, seed=..., dtype=...)``. Aliases: ``he``/``kaiming`` → He normal (ReLU
gain), ``xavier``/``glorot`` → Xavier uniform, ``lecun`` → LeCun normal, ``torch`` →
PyTorch's Linear default. ``constant`` needs a value, so it is not listed: pass
``functools.partial(init.constant, val=...)`` where a callable is accepted."""


def _for_gain(nonlinearity: str) -> Callable[..., Any]:
    def init_for(tensor: Any, *, seed: Any = None, dtype: Any = None) -> Any:
        return xavier_normal(tensor, gain=calculate_gain(nonlinearity), seed=seed, dtype=dtype)

    init_for.__doc__ = (
        f"Xavier normal with the {nonlinearity} gain: "
        f"``xavier_normal(gain=calculate_gain({nonlinearity!r}))``."
    )
    return init_for


FOR_ACTIVATION: dict[str, Callable[..., Any]] = {
    "relu": _he_normal,
    "leaky_relu": _he_normal,
    "elu": _he_normal,
    "gelu": _he_normal,
    "silu": _he_normal,
    "swish": _he_normal,
    "softplus": _he_normal,
    "tanh": _for_gain("tanh"),
    "sigmoid": _for_gain("sigmoid"),
    "identity": _for_gain("linear"),
    "linear": _for_gain("linear"),
    "selu": lecun_normal,
}
"""The textbook initialiser for the activation that follows a layer, so that the variance
of the activations stays about constant from layer to layer:

- the ReLU family (relu, leaky_relu, elu, gelu, silu/swish, softplus): He normal,
  ``Var(W) = 2/fan_in`` (half the units are off, so twice the variance);
- tanh, sigmoid, identity: Xavier normal with the gain ``g`` of :func:`calculate_gain`,
  ``Var(W) = g²·2/(fan_in + fan_out)`` (``g = 5/3`` for tanh, 1 for sigmoid and identity);
- selu: LeCun normal, ``Var(W) = 1/fan_in`` (self-normalising networks).

``get_initializer`` accepts these names too, so ``nn.Linear(64, 32, init="relu")`` reads as
"initialised for the ReLU that follows"."""


def get_initializer(name: Any) -> Callable[..., Any]:
    """The initialiser called ``name`` (case-insensitive), or ``name`` itself if callable.

    Raises:
        ValueError: unknown name (the message lists the valid names).

    Example:
        >>> from chainrule.nn import init
        >>> init.get_initializer("glorot") is init.xavier_uniform
        True
    """
    if callable(name):
        return name
    if not isinstance(name, str):
        raise TypeError(f"initialiser must be a name or a callable, got {type(name).__name__}")
    key = name.lower()
    if key in INITIALIZERS:
        return INITIALIZERS[key]
    if key in FOR_ACTIVATION:
        return FOR_ACTIVATION[key]
    raise ValueError(
        f"unknown initialiser {name!r}; valid names: {', '.join(sorted(INITIALIZERS))}, "
        f"or the activation that follows the layer: {', '.join(sorted(FOR_ACTIVATION))}"
    )


# PyTorch spellings (in-place, trailing underscore) so code ports unchanged.
zeros_ = zeros
ones_ = ones
constant_ = constant
normal_ = normal
uniform_ = uniform
xavier_uniform_ = xavier_uniform
xavier_normal_ = xavier_normal
kaiming_uniform_ = kaiming_uniform
kaiming_normal_ = kaiming_normal
