"""Safe estimator files: the network and optimiser arrays as safetensors, the rest as JSON.

Layout of a file written by ``MLPClassifier.save`` / ``MLPRegressor.save`` (through
:func:`chainrule.io.save_state_dict`):

- tensors ``model.<name>`` — ``model_.state_dict()`` (weights, biases, BatchNorm buffers);
- tensors ``optimizer.<i>.<buffer>`` — the optimiser's per-parameter buffers (Adam's
  ``exp_avg``/``exp_avg_sq``, momentum buffers…), so a loaded estimator can warm-start;
- metadata (JSON): ``format``, ``estimator`` (class name), ``params`` (``get_params()``)
  and ``fitted`` (``classes_``, ``n_features_in_``, ``feature_names_in_``, ``n_outputs_``,
  the loss curves, counters, the optimiser's hyperparameters and step counts, the schedule's
  state and the random generators' states).

Loading runs no code from the file: the class is chosen among the two estimators by name.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np

from .. import io

FORMAT = "chainrule.sklearn"
FORMAT_VERSION = 1
_FITTED_FLOATS = ("loss_", "best_loss_", "best_validation_score_")
_FITTED_LISTS = ("loss_curve_", "validation_loss_curve_", "validation_scores_")


def _encode(value: Any, where: str) -> Any:
    """A JSON-able copy of ``value``: tuples as lists, NumPy scalars as Python numbers,
    non-finite floats as ``{"float": "inf"}``."""
    if isinstance(value, dict):
        return {str(k): _encode(v, f"{where}[{k!r}]") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, np.ndarray):
        return _encode(value.tolist(), where)
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return {"float": repr(value)}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise ValueError(
        f"cannot save {where}={value!r}: only numbers, strings, lists and dicts can be "
        "written to the file's metadata"
    )


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"float"}:
            return float(value["float"])
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def _params(est: Any) -> dict[str, Any]:
    params = est.get_params(deep=False)
    if callable(params.get("init")):
        raise ValueError(
            f"cannot save an estimator whose init is a callable ({params['init']!r}); "
            "use a name of chainrule.nn.INITIALIZERS"
        )
    dtype = params.get("dtype")
    if not isinstance(dtype, str):
        params["dtype"] = np.dtype(dtype).name
    if isinstance(params.get("random_state"), np.random.RandomState):
        params["random_state"] = None  # its state is not a parameter; the rng state is saved
    return _encode(params, "params")


def save_estimator(est: Any, path: Any) -> None:
    """Write a fitted MLPClassifier/MLPRegressor to ``path`` (see the module docstring)."""
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(est)
    arrays: dict[str, np.ndarray] = {
        f"model.{name}": value for name, value in est.model_.state_dict().items()
    }
    opt_state = ({"param_groups": [], "state": {}} if est.optimizer_ is None  # lbfgs
                 else est.optimizer_.state_dict())
    opt_json: dict[str, Any] = {"param_groups": opt_state["param_groups"], "state": {}}
    for index, buffers in opt_state["state"].items():
        entry = {}
        for key, value in buffers.items():
            if isinstance(value, np.ndarray):
                arrays[f"optimizer.{index}.{key}"] = value
                entry[key] = {"array": f"optimizer.{index}.{key}"}
            else:
                entry[key] = value
        opt_json["state"][str(index)] = entry
    fitted: dict[str, Any] = {
        "n_features_in_": est.n_features_in_,
        "n_outputs_": est.n_outputs_,
        "out_activation_": est.out_activation_,
        "n_iter_": est.n_iter_,
        "t_": est.t_,
        "dtype": est._param_dtype().name,
        "no_improvement_count": est._no_improvement_count,
        "optimizer": opt_json,
        "scheduler": None if est._scheduler is None else est._scheduler.state_dict(),
        "rng": est._rng.bit_generator.state,
        "dropout_rng": (
            None if est._dropout_rng is None else est._dropout_rng.bit_generator.state
        ),
    }
    for name in _FITTED_FLOATS + _FITTED_LISTS:
        fitted[name] = getattr(est, name, None)
    if hasattr(est, "feature_names_in_"):
        fitted["feature_names_in_"] = [str(f) for f in est.feature_names_in_]
    if hasattr(est, "classes_"):
        classes = est.classes_
        fitted["classes_"] = {"values": classes.tolist(), "dtype": classes.dtype.str}
        fitted["target_type"] = est._target_type
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "estimator": type(est).__name__,
        "params": _params(est),
        "fitted": _encode(fitted, "fitted"),
    }
    io.save_state_dict(arrays, path, metadata)


def _classes(spec: dict[str, Any]) -> np.ndarray:
    dtype = np.dtype(spec["dtype"])
    if dtype.kind == "O":
        out = np.empty(len(spec["values"]), dtype=object)
        out[:] = spec["values"]
        return out
    return np.asarray(spec["values"], dtype=dtype)


def _check_declared_sizes(path: Any, params: dict[str, Any], fitted: dict[str, Any],
                          arrays: dict[str, np.ndarray]) -> None:
    """Refuse, before building the network, sizes that the tensors present cannot hold:
    the weight matrices of ``[n_features_in_, *hidden_layer_sizes, n_outputs_]`` must be
    among the file's ``model.*`` tensors."""
    hidden = params.get("hidden_layer_sizes", ())
    hidden = [hidden] if isinstance(hidden, int) else hidden
    sizes = [fitted.get("n_features_in_"), *(hidden or ()), fitted.get("n_outputs_")]
    if not all(type(n) is int and n >= 1 for n in sizes):
        raise ValueError(f"{path}: corrupted estimator file (layer sizes {sizes!r:.200} are not "
                         "positive ints)")
    declared = sum(a * b for a, b in itertools.pairwise(sizes))
    present = sum(int(v.size) for k, v in arrays.items() if k.startswith("model."))
    if declared > present:
        raise ValueError(
            f"{path}: corrupted estimator file: its layer sizes {sizes} need {declared:,} "
            f"weights but the file holds only {present:,} network values; refusing to build it")


def load_estimator(path: Any, expected: type | None = None) -> Any:
    """Read an estimator written by :func:`save_estimator`; check its class if ``expected``."""
    from ._mlp import MLPClassifier, MLPRegressor

    arrays, meta = io.load_state_dict_file(path)
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(
            f"{path}: not a chainrule.sklearn estimator file (write one with "
            "MLPClassifier.save or MLPRegressor.save; for a bare network use chainrule.load)"
        )
    if meta.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"{path}: estimator file format version {meta.get('format_version')!r}; this "
            f"chainrule reads version {FORMAT_VERSION}"
        )
    classes = {"MLPClassifier": MLPClassifier, "MLPRegressor": MLPRegressor}
    name = meta.get("estimator")
    if name not in classes:
        raise ValueError(f"{path}: unknown estimator {name!r}; expected one of {list(classes)}")
    cls = classes[name]
    if expected is not None and cls is not expected:
        raise ValueError(f"{path} holds a {name}, not a {expected.__name__}")
    if not isinstance(meta.get("params"), dict) or not isinstance(meta.get("fitted"), dict):
        raise ValueError(f"{path}: corrupted estimator file (no 'params' or 'fitted' table)")
    params = _decode(meta["params"])
    if isinstance(params.get("hidden_layer_sizes"), list):
        params["hidden_layer_sizes"] = tuple(params["hidden_layer_sizes"])
    fitted = _decode(meta["fitted"])
    _check_declared_sizes(path, params, fitted, arrays)
    try:
        est = cls(**params)
    except TypeError as err:
        raise ValueError(f"{path}: corrupted estimator parameters ({err})") from None
    est.n_features_in_ = int(fitted["n_features_in_"])
    if "feature_names_in_" in fitted:
        names = np.empty(len(fitted["feature_names_in_"]), dtype=object)
        names[:] = fitted["feature_names_in_"]
        est.feature_names_in_ = names
    if "classes_" in fitted:
        est.classes_ = _classes(fitted["classes_"])
        est._target_type = fitted["target_type"]
    est.n_outputs_ = int(fitted["n_outputs_"])
    est.out_activation_ = fitted["out_activation_"]
    est.n_iter_ = int(fitted["n_iter_"])
    est.t_ = int(fitted["t_"])
    est._no_improvement_count = int(fitted["no_improvement_count"])
    for attr in _FITTED_FLOATS + _FITTED_LISTS:
        setattr(est, attr, fitted.get(attr))
    if est.loss_curve_ is None:
        est.loss_curve_ = []

    est._fit_dtype = fitted.get("dtype", "float32")
    est.n_layers_ = len(est._hidden_sizes()) + 2
    est._rng = np.random.default_rng()
    est._rng.bit_generator.state = fitted["rng"]
    est.model_ = est._build_model(est.n_features_in_, est.n_outputs_, np.random.default_rng(0))
    if fitted["dropout_rng"] is not None and est._dropout_rng is not None:
        est._dropout_rng.bit_generator.state = fitted["dropout_rng"]
    model_state = {k[len("model."):]: v for k, v in arrays.items() if k.startswith("model.")}
    try:
        est.model_.load_state_dict(model_state)
    except ValueError as err:
        raise ValueError(f"{path}: the weights do not fit the saved parameters: {err}") from None
    est.model_.eval()
    est._apply_freeze(announce=False)
    est._arch = est._architecture()
    est.optimizer_ = est._make_optimizer()
    est._scheduler = est._make_scheduler()
    opt = fitted["optimizer"]
    state = {}
    for index, entry in opt["state"].items():
        state[index] = {
            key: arrays[value["array"]] if isinstance(value, dict) and "array" in value else value
            for key, value in entry.items()
        }
    if est.optimizer_ is not None:
        est.optimizer_.load_state_dict({"state": state, "param_groups": opt["param_groups"]})
    if est._scheduler is not None and fitted["scheduler"] is not None:
        est._scheduler.load_state_dict(fitted["scheduler"])
    return est
