"""The ``chainrule`` command: train, evaluate, predict, inspect and demonstrate.

::

    chainrule train                          # the embedded default: an MLP on digits
    chainrule train --data moons --hidden 32,32 --optimizer sgd --lr 0.1 --momentum 0.9
    chainrule train --config run.toml --name exp1
    chainrule train --resume runs/exp1       # continue an interrupted run
    chainrule evaluate runs/exp1             # its test split (or --data another set)
    chainrule predict runs/exp1 input.csv -o predictions.csv
    chainrule datasets | gradcheck RUN | diagnose RUN | demo NAME

Every training run writes a *run folder* ``<out>/<name>/``::

    config.toml          the resolved configuration (rerun with --config)
    history.csv          one row per epoch: losses, metrics, learning rate, time
    metrics.json         train/dev/test loss and metrics of the final model, timings
    model.safetensors    the trained model (``cr.load``)
    preprocessing.json   feature and class names, the task, the standardiser's μ and σ
    checkpoints/         the full training state after the last epoch (for --resume)
    *.png, *.svg         loss/metric curves, confusion matrix, gradient norms, schedule,
                         decision regions (2-D inputs)

Bad input (an invalid configuration value, an unknown dataset, a CSV without the target
column, a file that is not a model) ends the command with a one-line ``error: …`` message
on stderr and exit code 2; a run that fails while training (for example a diverging loss)
exits with 1.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import json
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
import typer

from .cli_export import export_command
from .cli_tools import lr_find_command
from .graphexpr import graph_command
from .nn import ACTIVATIONS, INITIALIZERS, LOSSES
from .optim import OPTIMIZERS, SCHEDULERS
from .playground import playground_command
from .search import search_command

if TYPE_CHECKING:  # pragma: no cover - rich and pydantic are imported where they are used
    from rich.console import Console

    from .config import RunConfig

__all__ = [
    "CLIError",
    "PreparedData",
    "RunArtifacts",
    "TrainResult",
    "app",
    "build_model",
    "load_run",
    "main",
    "prepare_data",
    "read_run_config",
    "run_training",
]

MODEL_FILE = "model.safetensors"
CONFIG_FILE = "config.toml"
PREPROCESSING_FILE = "preprocessing.json"
METRICS_FILE = "metrics.json"
HISTORY_FILE = "history.csv"
TRAIN_LOG = "train.log"
CHECKPOINT_DIR = "checkpoints"

app = typer.Typer(
    name="chainrule",
    help="chainrule: train, evaluate and inspect neural networks; reproduce classic demos.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


class CLIError(Exception):
    """A problem to report on one line (``error: message``) and exit with ``code``."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def _one_line(message: Any) -> str:
    text = str(message.args[0]) if isinstance(message, KeyError) and message.args else str(
        message)
    return " ".join(text.split())


def _err_console() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


def _out_console() -> Console:
    from rich.console import Console

    # piped or captured output: wide enough that tables are not folded to 80 columns
    probe = Console()
    return Console(highlight=False, width=None if probe.is_terminal else 140)


def _blas_threads(n: int | None) -> Any:
    """Limit NumPy's BLAS to ``n`` threads while a command runs (None: leave it alone).

    The matrices of an MLP are small; a multi-threaded BLAS spends more time waking and
    synchronising its threads than multiplying (five times slower for the default run on a
    busy 2-core machine), so the commands default to one thread, as ``chainrule.sklearn``.
    """
    import contextlib

    if n is None:
        return contextlib.nullcontext()
    if n < 1:
        raise CLIError(f"threads: must be >= 1 (got {n})")
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        return contextlib.nullcontext()
    return threadpool_limits(limits=n, user_api="blas")


ThreadsOpt = Annotated[int | None, typer.Option(
    metavar="N", help="BLAS threads while the command runs (small matrices run fastest on "
    "one). [default: 1]", show_default=False)]


def _guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn expected failures into ``error: <one line>`` on stderr and an exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from .train import TrainingError

        try:
            return fn(*args, **kwargs)
        except typer.Exit:
            raise
        except CLIError as e:
            code = e.code
            message = str(e)
        except TrainingError as e:
            code, message = 1, str(e)
        except FloatingPointError as e:
            code, message = 1, str(e)
        except (ValueError, TypeError, KeyError, FileNotFoundError, IsADirectoryError,
                PermissionError, UnicodeDecodeError) as e:
            code, message = 2, _one_line(e)
        except KeyboardInterrupt:
            code, message = 130, "interrupted"
        typer.echo(f"error: {_one_line(message)}", err=True)
        raise typer.Exit(code)

    return wrapper


# ================================================================================= data


@dataclass
class PreparedData:
    """A dataset split into train/dev/test and standardised with the training statistics.

    Attributes:
        name: the dataset's name.
        task: ``"classification"`` or ``"regression"``.
        feature_names: one name per input column.
        target_names: class names (classification) or the target's name (regression).
        train, dev, test: ``(X, y)`` pairs, ``X`` standardised when ``standardize`` is on.
        scaler: the fitted :class:`~chainrule.data.Standardizer`, or None.
        target: the CSV target column, if the data came from a CSV file.
        y_scale: ``(mean, std)`` of a regression target standardised with the training
            split's statistics (``y' = (y − mean)/std``), or None. Losses are then measured
            on ``y'``; RMSE and MAE are reported in the target's own units.
    """

    name: str
    task: str
    feature_names: tuple[str, ...]
    target_names: tuple[str, ...]
    train: tuple[np.ndarray, np.ndarray]
    dev: tuple[np.ndarray, np.ndarray]
    test: tuple[np.ndarray, np.ndarray]
    scaler: Any = None
    target: str | None = None
    y_scale: tuple[float, float] | None = None

    @property
    def n_features(self) -> int:
        """Number of input columns."""
        return int(self.train[0].shape[1])

    @property
    def n_outputs(self) -> int:
        """Output units: the number of classes, or the number of regression targets."""
        if self.task == "classification":
            return len(self.target_names)
        y = self.train[1]
        return 1 if y.ndim == 1 else int(y.shape[1])


def _csv_header(path: str | os.PathLike) -> list[str]:
    with open(path, newline="", encoding="utf-8-sig") as fh:
        for row in csv.reader(fh):
            if any(cell.strip() for cell in row):
                return [c.strip() for c in row]
    raise CLIError(f"{os.fspath(path)} is empty; expected a header row")


def load_data(data: str, target: str | None = None, task: str = "auto") -> Any:
    """The :class:`~chainrule.data.Dataset` named ``data`` (a registry name or a CSV/NPZ file).

    For a CSV file the target column is ``target``, or its last column when None.
    """
    from .data import load_dataset

    if data.lower().endswith(".csv"):
        if not Path(data).is_file():
            raise CLIError(f"data: file not found (got {data!r})")
        if target is None:
            target = _csv_header(data)[-1]
        ds = load_dataset(data, target=target,
                          task="auto" if task == "auto" else task)
    else:
        if target is not None:
            raise CLIError(f"target: only used with a CSV file, not with the dataset {data!r}")
        ds = load_dataset(data)
    if task != "auto" and ds.task != task:
        raise CLIError(f"task: the dataset {ds.name!r} is a {ds.task} set (got {task!r})")
    return ds


def prepare_data(cfg: RunConfig) -> PreparedData:
    """Load, split (stratified for classification) and standardise the data of ``cfg``.

    The split and the standardiser depend only on ``cfg.data``, ``cfg.target``,
    ``cfg.seed`` and ``cfg.standardize``, so a run folder's data can be rebuilt exactly
    (``evaluate``, ``gradcheck``, ``--resume``).
    """
    from .data import Standardizer, train_dev_test_split

    ds = load_data(cfg.data, cfg.target, cfg.task)
    task = ds.task
    split = train_dev_test_split(ds.X, ds.y, stratify=task == "classification",
                                 seed=cfg.seed)
    parts = [(np.asarray(p[0], dtype=np.float64), np.asarray(p[1])) for p in split]
    scaler = None
    y_scale = None
    if cfg.standardize:
        scaler = Standardizer().fit(parts[0][0])
        parts = [(scaler.transform(X), y) for X, y in parts]
        if task == "regression":
            y_tr = parts[0][1].astype(np.float64)
            mean, std = float(y_tr.mean()), float(y_tr.std())
            std = std if std > 0 else 1.0
            y_scale = (mean, std)
            parts = [(X, (y.astype(np.float64) - mean) / std) for X, y in parts]
    target = cfg.target
    if cfg.data.lower().endswith(".csv") and target is None:
        target = _csv_header(cfg.data)[-1]
    return PreparedData(
        name=ds.name, task=task, feature_names=tuple(ds.feature_names),
        target_names=tuple(ds.target_names), train=parts[0], dev=parts[1], test=parts[2],
        scaler=scaler, target=target, y_scale=y_scale,
    )


# ================================================================================ model


def build_model(cfg: RunConfig, n_in: int, n_out: int, task: str | None = None) -> Any:
    """The MLP described by ``cfg``: for each hidden width ``h``::

        Linear(h, init) → [BatchNorm1d] → activation → [Dropout]

    (wrapped in ``Residual`` when ``cfg.residual`` and the width is unchanged), then a
    final ``Linear(n_out)``. Seeds derive from ``cfg.seed``, so the same config gives the
    same initial weights (``nn.mlp`` with ``seed=cfg.seed``). With ``cfg.init_from`` the
    saved model of that run instead (checked against ``n_in``, ``n_out`` and ``task``),
    with ``cfg.freeze`` some layers frozen (:func:`chainrule.cli_finetune.initial_model`).

    Example:
        >>> from chainrule.config import RunConfig
        >>> model = build_model(RunConfig(hidden=[8], dropout=0.0), n_in=4, n_out=3)
        >>> [type(m).__name__ for m in model], model[-1].weight.shape
        (['Linear', 'ReLU', 'Linear'], (3, 8))
    """
    from . import nn

    if cfg.init_from is not None or cfg.freeze:
        from .cli_finetune import initial_model

        return initial_model(cfg, n_in, n_out, task)
    if cfg.model == "cnn":
        return _build_cnn(cfg, n_in, n_out)
    return nn.mlp([n_in, *cfg.hidden, n_out], cfg.activation, init=cfg.init,
                  batch_norm=cfg.batch_norm, dropout=cfg.dropout, residual=cfg.residual,
                  seed=cfg.seed)


def _build_cnn(cfg: RunConfig, n_in: int, n_out: int) -> Any:
    """``nn.cnn`` on samples of ``cfg.input_shape`` (default: the dataset's image shape)."""
    from . import nn
    from .data import IMAGE_SHAPES

    shape = cfg.input_shape or IMAGE_SHAPES.get(cfg.data.strip().lower().replace("-", "_"))
    if shape is None:
        raise CLIError(f"model cnn: no sample shape known for {cfg.data!r}; set input_shape "
                       "(e.g. input_shape = [1, 40]) in the config file")
    if int(np.prod(shape)) != n_in:
        raise CLIError(f"model cnn: input_shape {list(shape)} holds {int(np.prod(shape))} "
                       f"values but the data has {n_in} features")
    try:
        return nn.cnn(shape, n_out, cfg.conv, pool=cfg.pool, activation=cfg.activation,
                      init=cfg.init, seed=cfg.seed)
    except ValueError as err:
        raise CLIError(f"model cnn: {err}") from None


def _loss_name(cfg: RunConfig, task: str) -> str:
    if cfg.loss is not None:
        return cfg.loss
    return "cross_entropy" if task == "classification" else "mse"


def _make_optimizer(cfg: RunConfig, model: Any) -> Any:
    from .optim import get_optimizer

    kwargs = cfg.optimizer_kwargs()
    try:
        return get_optimizer(cfg.optimizer, [p for p in model.parameters() if p.requires_grad],
                             **kwargs)
    except TypeError as e:
        raise CLIError(f"optimizer: {cfg.optimizer} does not take these settings ({e})") from None


_SCHEDULE_DEFAULTS: dict[str, Callable[[RunConfig], dict[str, Any]]] = {
    "step": lambda c: {"step_size": max(1, min(c.epochs, 100) // 4), "gamma": 0.5},
    "exponential": lambda c: {"gamma": 0.95},
    "cosine": lambda c: {"T_max": c.epochs},
}


def resolved_schedule_args(cfg: RunConfig) -> dict[str, Any]:
    """Every argument of ``cfg``'s schedule: the user's, else the CLI's or the class's default.

    This is what ``config.toml`` records, so a run folder states the schedule it used.
    """
    from .config import REQUIRED, schedule_parameters

    if cfg.schedule is None:
        return {}
    kwargs = {k: v for k, v in schedule_parameters(cfg.schedule).items() if v is not REQUIRED}
    kwargs.update(_SCHEDULE_DEFAULTS.get(cfg.schedule, lambda c: {})(cfg))
    kwargs.update(cfg.schedule_args)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in kwargs.items()}


def _make_scheduler(cfg: RunConfig, optimizer: Any) -> Any:
    if cfg.schedule is None:
        return None
    from .config import REQUIRED, describe_parameters, schedule_parameters
    from .optim import get_scheduler

    if cfg.schedule == "lambda":
        raise CLIError("schedule: 'lambda' needs a Python function; choose another schedule "
                       "(got 'lambda')")
    kwargs = resolved_schedule_args(cfg)
    params = schedule_parameters(cfg.schedule)
    missing = [k for k, v in params.items() if v is REQUIRED and k not in kwargs]
    if missing:
        raise CLIError(f"schedule_args: the {cfg.schedule!r} schedule needs "
                       f"{', '.join(missing)} (e.g. --schedule-arg {missing[0]}=…); its "
                       f"arguments: {describe_parameters(params)}")
    try:
        return get_scheduler(cfg.schedule, optimizer, **kwargs)
    except (TypeError, ValueError) as e:
        raise CLIError(f"schedule_args: wrong arguments for {cfg.schedule!r} ({_one_line(e)}); "
                       f"its arguments: {describe_parameters(params)}") from None


# ============================================================================ run folders


@dataclass
class RunArtifacts:
    """What :func:`load_run` reads back from a run folder."""

    run_dir: Path
    config: RunConfig
    model: Any
    preprocessing: dict[str, Any]
    metrics: dict[str, Any] = field(default_factory=dict)

    def scaler(self) -> Any:
        """The run's fitted feature :class:`~chainrule.data.Standardizer`, or None when the
        run did not standardise its features."""
        from .data import Standardizer

        state = self.preprocessing.get("standardizer")
        if not state:
            return None
        return Standardizer().load_state_dict({k: np.asarray(v) for k, v in state.items()})


@dataclass
class TrainResult:
    """The outcome of :func:`run_training`.

    Attributes:
        run_dir: the run folder.
        config: the resolved configuration.
        history: the training :class:`~chainrule.train.History`.
        metrics: what was written to ``metrics.json``.
        figures: the figure files written.
        model: the trained model.
    """

    run_dir: Path
    config: RunConfig
    history: Any
    metrics: dict[str, Any]
    figures: list[Path]
    model: Any


def _default_name(cfg: RunConfig) -> str:
    base = Path(cfg.data).stem if cfg.data.lower().endswith((".csv", ".npz")) else cfg.data
    stamp = time.strftime("%Y%m%d-%H%M%S")
    name = f"{base}-{stamp}"
    out = Path(cfg.out)
    k = 2
    candidate = name
    while (out / candidate).exists():
        candidate = f"{name}-{k}"
        k += 1
    return candidate


def _preprocessing(data: PreparedData, cfg: RunConfig) -> dict[str, Any]:
    info: dict[str, Any] = {
        "dataset": data.name,
        "task": data.task,
        "feature_names": list(data.feature_names),
        "target_names": list(data.target_names),
        "target": data.target,
        "loss": _loss_name(cfg, data.task),
        "standardizer": None,
    }
    if data.scaler is not None:
        info["standardizer"] = {k: v.tolist() for k, v in data.scaler.state_dict().items()}
    info["target_scale"] = None if data.y_scale is None else list(data.y_scale)
    return info


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _write_json(path: Path, data: Any) -> None:
    from .train.checkpoint import atomic_write_json

    atomic_write_json(path, data, default=_json_default)


def _read_json_object(path: Path) -> dict[str, Any]:
    """A run folder's JSON file, which must hold an object; errors name the file."""
    text = path.read_text(encoding="utf-8")
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as e:
        what = "is empty" if not text.strip() else f"is not valid JSON ({e})"
        raise CLIError(f"{os.fspath(path)} {what}") from None
    if not isinstance(value, dict):
        raise CLIError(f"{os.fspath(path)} must hold a JSON object, got a "
                       f"{type(value).__name__}")
    return value


def read_run_config(folder: Path, **overrides: Any) -> RunConfig:
    """The configuration saved in a run folder (``config.toml``), with ``overrides``.

    Raises:
        CLIError: the file is missing, empty or invalid (the message names it).
    """
    from .config import ConfigError, load_config, read_config_file

    path = folder / CONFIG_FILE
    if not path.is_file():
        raise CLIError(f"resume: {os.fspath(folder)} is not a run folder (no {CONFIG_FILE})")
    try:
        settings = read_config_file(path)
    except ConfigError as e:
        raise CLIError(f"{os.fspath(path)}: {e}") from None
    if not settings:
        raise CLIError(f"{os.fspath(path)} is empty: the run's configuration is lost; the "
                       "folder was left as it is (restore the file, or start a new run)")
    settings.update(overrides)
    try:
        return load_config(None, **settings)
    except ConfigError as e:
        raise CLIError(f"{os.fspath(path)}: {e}") from None


def _check_model_size(cfg: RunConfig, n_in: int, n_out: int) -> None:
    """Refuse, before allocating it, an MLP whose parameters, gradients and optimiser state
    (four float32 copies, an estimate) exceed the machine's memory."""
    from itertools import pairwise

    if cfg.model != "mlp":
        return  # a convolutional stack's size follows from nn.cnn, not from the widths
    n = sum(a * b + b for a, b in pairwise([n_in, *cfg.hidden, n_out]))
    need = 4 * 4 * n
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # pragma: no cover - not POSIX
        return
    if need > memory:
        raise CLIError(f"hidden: the model would have {n:,} parameters (about "
                       f"{need / 2**30:,.0f} GiB with gradients and optimiser state), more "
                       f"than this machine's {memory / 2**30:,.0f} GiB of memory "
                       f"(got {','.join(map(str, cfg.hidden))})")


def _lock_run_folder(run_dir: Path) -> Any:
    """Take the run folder's lock (one writer per folder); a clear error if it is held."""
    from .train.checkpoint import FolderLockedError, lock_folder

    try:
        return lock_folder(run_dir)
    except FolderLockedError as e:
        raise CLIError(f"run folder {e}", code=1) from None


def _clean(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _history_curves(history: Any, task: str, y_scale: Any = None,
                     target_name: str = "target") -> dict[str, Any]:
    """The curves of the training figure; a regression metric in the target's own units."""
    cols = history.keys()
    metric = "accuracy" if task == "classification" else ("rmse" if "train_rmse" in cols
                                                          else None)
    scale = 1.0 if (metric != "rmse" or y_scale is None) else float(y_scale[1])

    def col(name: str) -> Any:
        return history.column(name) * (scale if name.endswith("_rmse") else 1.0) \
            if name in cols else None

    label = metric or "metric"
    if metric == "rmse":
        label = f"RMSE ({target_name} units)"
    return {
        "epochs": history.column("epoch"),
        "train_loss": history.column("train_loss"),
        "dev_loss": col("dev_loss"),
        "train_metric": col(f"train_{metric}") if metric else None,
        "dev_metric": col(f"dev_{metric}") if metric else None,
        "metric_name": label,
    }


def _layer_label(model: Any, layer: str) -> str:
    """``"0"`` → ``"layer 0: Linear 64→256"`` (the module's kind and shape when known)."""
    module = model
    try:
        for part in layer.split("."):
            module = module[int(part)] if part.isdigit() else getattr(module, part)
    except (AttributeError, IndexError, KeyError, TypeError, ValueError):
        return f"layer {layer}"
    kind = type(module).__name__
    shape = ""
    if hasattr(module, "in_features") and hasattr(module, "out_features"):
        shape = f" {module.in_features}→{module.out_features}"
    return f"layer {layer}: {kind}{shape}"


def _literal(text: Any) -> str:
    """``text`` as matplotlib shows it literally (no mathtext between ``$`` signs)."""
    return str(text).replace("$", r"\$")


def _class_labels(data: Any) -> list[str]:
    return [f"class {n}" if str(n).isdigit() else _literal(n) for n in data]


def _target_label(data: PreparedData) -> str:
    return _literal(data.target_names[0]) if data.target_names else "target"


def _run_figures(run_dir: Path, history: Any, model: Any, data: PreparedData, loss: str,
                 best_epoch: int | None, schedule: str | None = None) -> list[Path]:
    from . import plots
    from .train import predict

    figures: list[Any] = []
    classes = _class_labels(data.target_names)
    dataset = _literal(data.name)  # names from the data are drawn literally
    curves = _history_curves(history, data.task, data.y_scale, _target_label(data))
    loss_label = f"{loss.replace('_', '-')} loss"
    if data.y_scale is not None:
        loss_label += " (standardised target)"
    figures += plots.training_curves(
        curves["epochs"], curves["train_loss"], curves["dev_loss"],
        train_metric=curves["train_metric"], dev_metric=curves["dev_metric"],
        metric_name=curves["metric_name"], loss_name=loss_label,
        best_epoch=best_epoch, title=f"Training on {dataset}",
        path=run_dir / "curves")
    if history.grad_norms:
        layers = list(dict.fromkeys(k for g in history.grad_norms for k in g))
        figures += plots.gradient_norms(
            {_layer_label(model, k): history.grad_norm(k) for k in layers},
            epochs=curves["epochs"][: len(history.grad_norms)],
            title="Gradient norm per layer (mean over each epoch's batches)",
            path=run_dir / "gradient_norms")
    lrs = history.column("lr")
    finite = lrs[np.isfinite(lrs)]
    if finite.size and finite.max() > finite.min():  # a constant rate says nothing
        figures += plots.learning_rate_schedule(
            lrs, steps=curves["epochs"], label=f"schedule: {schedule or 'constant'}",
            title=f"Learning rate per epoch, {dataset}", path=run_dir / "lr_schedule")
    X, y = data.test
    if data.task == "classification":
        pred = predict(model, X).argmax(axis=1)
        figures += plots.confusion_matrix(
            y, pred, class_names=classes,
            title=f"Test set, {dataset}", path=run_dir / "confusion_matrix")
        if data.n_features == 2:
            def classify(P: np.ndarray) -> np.ndarray:
                return predict(model, P).argmax(axis=1)

            Xall = np.concatenate([data.train[0], data.dev[0], data.test[0]])
            yall = np.concatenate([data.train[1], data.dev[1], data.test[1]])
            split = np.repeat(["train", "dev", "test"],
                              [len(data.train[1]), len(data.dev[1]), len(data.test[1])])
            names = [f"{_literal(n)} (standardised)" if data.scaler is not None
                     else _literal(n) for n in data.feature_names]
            figures += plots.decision_regions(
                classify, Xall, yall, resolution=301, class_names=classes,
                feature_names=names, title=f"Decision regions, {dataset}", split=split,
                path=run_dir / "decision_regions")
    elif np.asarray(y).ndim == 1 or np.asarray(y).shape[1] == 1:
        t, p = _unscaled(y, data.y_scale), _unscaled(predict(model, X), data.y_scale)
        figures += plots.predicted_vs_actual(
            t, p, target_name=_target_label(data), title=f"Test set, {dataset}",
            path=run_dir / "predicted_vs_actual")
    return [f for f in figures if f is not None]


def _unscaled(values: Any, y_scale: Any) -> np.ndarray:
    """A standardised regression target back in its own units: ``y = y'·std + mean``."""
    v = np.asarray(values, dtype=np.float64).reshape(len(values), -1)
    v = v[:, 0] if v.shape[1] == 1 else v
    if y_scale is None:
        return v
    mean, std = y_scale
    return v * float(std) + float(mean)


def _in_target_units(res: dict[str, float], y_scale: Any) -> dict[str, float]:
    """RMSE and MAE measured on a standardised target, converted back to its units."""
    if y_scale is None:
        return res
    out = dict(res)
    for k in ("rmse", "mae"):
        if k in out:
            out[k] = out[k] * float(y_scale[1])
    return out


def _evaluate_parts(model: Any, loss: str, data: PreparedData) -> dict[str, dict[str, float]]:
    from .train import evaluate

    out = {}
    for part in ("train", "dev", "test"):
        res = _in_target_units(evaluate(model, loss, getattr(data, part)), data.y_scale)
        out[part] = {k: _clean(v) for k, v in res.items()}
    return out


#: A split with fewer samples than this gives metrics too noisy to compare models by.
SMALL_SPLIT = 30


def _split_quality(model: Any, task: str, parts: dict[str, tuple[np.ndarray, np.ndarray]],
                   y_scale: Any, class_names: Sequence[str]) -> dict[str, Any]:
    """95 % intervals of each split's metric, per-class precision/recall/F1, warnings.

    Accuracy: the Wilson interval of ``k`` correct of ``n``. RMSE: a seeded percentile
    bootstrap over the samples, in the target's units.
    """
    from .train import predict
    from .train.metrics import bootstrap_interval, precision_recall_f1, rmse, wilson_interval

    intervals: dict[str, Any] = {}
    per_class: dict[str, Any] = {}
    warnings: list[str] = []
    for part, (X, y) in parts.items():
        n = len(y)
        if n == 0:
            continue
        out = predict(model, X)
        if task == "classification":
            pred = out.argmax(axis=1)
            correct = int(np.sum(pred == np.asarray(y)))
            lo, hi = wilson_interval(correct, n)
            intervals[part] = {"accuracy": [lo, hi]}
            prf = precision_recall_f1(y, pred, len(class_names))
            per_class[part] = {
                str(c): {k: (int(v[i]) if k == "support" else float(v[i]))
                         for k, v in prf.items()}
                for i, c in enumerate(class_names)}
            what = f"accuracy {correct}/{n}, 95 % interval {lo:.2f}–{hi:.2f}"
        else:
            t, p = _unscaled(y, y_scale), _unscaled(out, y_scale)
            lo, hi = bootstrap_interval(t, p, rmse) if n > 1 else (math.nan, math.nan)
            intervals[part] = {"rmse": [_clean(lo), _clean(hi)]}
            what = f"RMSE 95 % interval {lo:.4g}–{hi:.4g}"
        if n < SMALL_SPLIT:
            warnings.append(f"the {part} split has only {n} samples ({what}): too few to "
                            f"judge or compare models by; use more data or cross-validation")
    return {"intervals": intervals, "per_class": per_class, "warnings": warnings}


class _AppendLog:
    """A text log that opens, appends and closes on every write (nothing held open, so
    an error or an interruption anywhere cannot lose lines or leak the file)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, text: str) -> int:
        with self.path.open("a", encoding="utf-8") as fh:
            return fh.write(text)

    def flush(self) -> None:
        """Nothing to flush: every write is closed."""

    def close(self) -> None:
        """Nothing to close."""


def _checkpoint_epoch(run_dir: Path) -> int | None:
    """The epoch stored in a run folder's last checkpoint, or None if there is none."""
    ckpt = run_dir / CHECKPOINT_DIR / "last.safetensors"
    if not ckpt.is_file():
        return None
    from .train import load_checkpoint

    try:
        return int(load_checkpoint(ckpt).get("epoch", 0))
    except (ValueError, OSError, KeyError, TypeError):
        return None


def _interrupted(run_dir: Path, epoch: int, epochs: int, log: Any) -> CLIError:
    """The message of a run stopped by Ctrl-C: where it stopped and how to continue."""
    saved = _checkpoint_epoch(run_dir)
    lines = [f"interrupted during epoch {epoch + 1} of {epochs}"]
    if saved:
        lines.append(f"checkpoint: {run_dir / CHECKPOINT_DIR / 'last.safetensors'} "
                     f"(after epoch {saved})")
        lines.append(f"continue with: chainrule train --resume {run_dir}")
        message = f"interrupted at epoch {epoch + 1}; continue with: chainrule train " \
                  f"--resume {run_dir}"
    else:
        lines.append("no epoch was completed, so there is no checkpoint to resume from")
        message = "interrupted before the first epoch ended; nothing to resume"
    for line in lines:
        _err_console().print(line, markup=False, highlight=False)
    if log is not None:
        log.write("\n".join(lines) + "\n")
        log.close()
    return CLIError(message, code=130)


def run_training(
    cfg: RunConfig,
    *,
    resume_dir: str | os.PathLike | None = None,
    show_progress: bool | None = None,
    console: Console | None = None,
    figures: bool = True,
    formats: str | Sequence[str] = ("png", "svg"),
    tensorboard: str | os.PathLike | None = None,
) -> TrainResult:
    """Train the model described by ``cfg`` and fill its run folder.

    Args:
        cfg: the validated configuration.
        resume_dir: continue the run in this folder from its last checkpoint (``cfg`` must
            be the configuration stored there, possibly with more epochs).
        show_progress: show progress: a live bar on a terminal, one line per epoch
            elsewhere (default: on); False shows nothing. ``train.log`` is always written.
        console: where progress and messages go (default: stderr).
        figures: draw the figures.
        formats: their file formats (``"png"``, ``"svg"`` or both).
        tensorboard: also write TensorBoard event files to this folder.

    Returns:
        A :class:`TrainResult`.

    Raises:
        CLIError: bad settings (code 2), or the run was interrupted (code 130; the
            message names the ``--resume`` command).

    The run folder is locked while the run writes it: a second ``chainrule train`` on the
    same folder is refused with an error naming the first one's process id (a lock left by
    a process that died is taken over). Every file is written atomically, so a kill at any
    moment leaves each file whole; ``--resume`` then continues from the last checkpoint, or
    from the beginning with the saved configuration when none was written yet.
    """
    from .cli_finetune import finetune_config

    cfg = finetune_config(cfg)
    if resume_dir is not None:
        run_dir = Path(resume_dir)
    else:
        if cfg.name is None:
            cfg = cfg.model_copy(update={"name": _default_name(cfg)})
        run_dir = Path(cfg.out) / str(cfg.name)
    # the folders this run creates (the run folder and any missing parent, e.g. runs/)
    created = [d for d in (run_dir, *run_dir.parents) if not d.exists()]
    lock = _lock_run_folder(run_dir)  # one writer per run folder (the checks below hold)
    try:
        return _train_in_folder(cfg, run_dir, resume_dir is not None, show_progress, console,
                                figures, formats, tensorboard)
    finally:
        lock.release()
        # a new run that failed before writing anything leaves no folder behind
        with contextlib.suppress(OSError):
            for d in created:  # innermost first; stops at the first one not empty
                d.rmdir()


def _train_in_folder(cfg: RunConfig, run_dir: Path, resuming: bool,
                     show_progress: bool | None, console: Console | None, figures: bool,
                     formats: str | Sequence[str],
                     tensorboard: str | os.PathLike | None) -> TrainResult:
    """:func:`run_training` once the run folder is locked."""
    import chainrule as cr

    from .train import EarlyStopping, GradientMonitor, fit
    from .train.checkpoint import remove_stale_temporaries
    from .train.progress import ProgressCallback
    from .train.summary import format_summary, model_summary

    console = console or _err_console()
    resume_dir = run_dir if resuming else None
    if not resuming and any((run_dir / f).exists()
                            for f in (MODEL_FILE, CHECKPOINT_DIR, CONFIG_FILE)):
        raise CLIError(f"name: the run folder {os.fspath(run_dir)} already holds a run; "
                       f"choose another --name or continue it with --resume "
                       f"(got {cfg.name!r})")
    remove_stale_temporaries(run_dir, [CONFIG_FILE, PREPROCESSING_FILE, MODEL_FILE,
                                       METRICS_FILE, HISTORY_FILE])
    pre_path = run_dir / PREPROCESSING_FILE
    saved_pre = _read_json_object(pre_path) if resuming and pre_path.is_file() else None
    if figures:
        from .plots import figure_formats

        with figure_formats(formats):  # checks the formats before any work
            pass
    board = None
    if tensorboard is not None:
        from .train import TensorBoardLogger

        try:
            board = TensorBoardLogger(tensorboard)
        except ImportError as e:
            raise CLIError(f"tensorboard: {e}") from None
    data = prepare_data(cfg)
    loss = _loss_name(cfg, data.task)
    _check_model_size(cfg, data.n_features, data.n_outputs)
    model = build_model(cfg, data.n_features, data.n_outputs, data.task)
    optimizer = _make_optimizer(cfg, model)
    scheduler = _make_scheduler(cfg, optimizer)
    if cfg.schedule is not None:  # record every argument the schedule ran with
        cfg = cfg.model_copy(update={"schedule_args": resolved_schedule_args(cfg)})
    start_epoch = 0
    ckpt = run_dir / CHECKPOINT_DIR / "last.safetensors"
    if resume_dir is not None and not ckpt.is_file():
        console.print(f"resume: no checkpoint in {os.fspath(run_dir / CHECKPOINT_DIR)} yet; "
                      "starting the run from the beginning with its saved configuration",
                      markup=False, highlight=False)
    elif resume_dir is not None:
        from .train import load_checkpoint

        saved = int(load_checkpoint(ckpt)["epoch"])  # a damaged file: an error naming it
        if cfg.epochs < saved:
            raise CLIError(f"resume: {os.fspath(run_dir)} has already trained {saved} epochs; "
                           f"--epochs must be at least that (got {cfg.epochs})")
        start_epoch = saved
    from .config import write_config

    # a resume keeps the run's own files: it writes the preprocessing only when an early
    # kill left none, and the configuration only once --epochs changed it and training
    # under it succeeded (a failed resume leaves them as they were); all writes are atomic
    if not resuming:
        write_config(cfg, run_dir / CONFIG_FILE)
    if saved_pre is None:
        _write_json(pre_path, _preprocessing(data, cfg))

    summary = format_summary(model_summary(model, data.train[0].shape[1:]))
    callbacks: list[Any] = [GradientMonitor(warn=False)]
    if board is not None:
        callbacks.append(board)
    early = None
    if cfg.patience > 0:
        early = EarlyStopping(monitor="dev_loss", patience=cfg.patience, restore_best=True)
        callbacks.append(early)
    log = _AppendLog(run_dir / TRAIN_LOG)
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    if resume_dir is not None:
        head = f"resumed from epoch {start_epoch} of {cfg.epochs}"
        console.print(f"{head} ({run_dir})", markup=False, highlight=False)
    else:
        head = f"training {data.name} ({len(data.train[1])} train, {len(data.dev[1])} dev, " \
               f"{len(data.test[1])} test samples) for up to {cfg.epochs} epochs"
    log.write(f"[{stamp}] {head}\n{summary}\n")
    if show_progress is not False:
        console.print(summary, markup=False, highlight=False)
    progress = ProgressCallback(console, file=log, echo=show_progress is not False)
    callbacks.append(progress)
    try:
        history = fit(
            model, loss, optimizer, data.train, data.dev, epochs=cfg.epochs,
            batch_size=cfg.batch_size, callbacks=callbacks, seed=cfg.seed,
            scheduler=scheduler, l1=cfg.l1, l2=cfg.l2,
            checkpoint_dir=run_dir / CHECKPOINT_DIR, resume=resume_dir is not None,
            progress=False,
        )
    except KeyboardInterrupt:
        progress.close()
        raise _interrupted(run_dir, progress.epoch, cfg.epochs, log) from None
    except BaseException as e:
        progress.close()
        log.write(f"failed: {_one_line(e)}\n")
        log.close()
        raise
    # the epochs' own times from the history, so every segment of a resumed run counts
    seconds = float(sum(history.column("time")))
    best_epoch = early.best_epoch if early is not None else None
    results = _evaluate_parts(model, loss, data)
    quality = _split_quality(model, data.task,
                             {"train": data.train, "dev": data.dev, "test": data.test},
                             data.y_scale, data.target_names)
    metrics: dict[str, Any] = {
        "run": cfg.name,
        "dataset": data.name,
        "task": data.task,
        "loss": loss,
        **results,
        "epochs_run": len(history),
        "best_epoch": best_epoch,
        "stopped_epoch": getattr(early, "stopped_epoch", None),
        "train_seconds": round(seconds, 3),
        "n_train": len(data.train[1]),
        "n_dev": len(data.dev[1]),
        "n_test": len(data.test[1]),
        "n_parameters": int(sum(p.data.size for p in model.parameters())),
        "n_frozen_parameters": history.n_frozen,
        "target_scale": None if data.y_scale is None else list(data.y_scale),
        "intervals": quality["intervals"],
        "warnings": quality["warnings"],
    }
    if quality["per_class"]:
        metrics["per_class"] = quality["per_class"]
    if resuming and read_run_config(run_dir) != cfg:
        write_config(cfg, run_dir / CONFIG_FILE)
    # the preprocessing travels inside the model file too, so the file predicts on its own
    cr.save(model, run_dir / MODEL_FILE, metadata={"preprocessing": _preprocessing(data, cfg)})
    history.to_csv(run_dir / HISTORY_FILE)
    _write_json(run_dir / METRICS_FILE, metrics)
    for warning in quality["warnings"]:
        console.print(f"warning: {warning}", markup=False, highlight=False)
    log.write(f"[{time.strftime('%Y-%m-%d %H:%M:%S')}] finished: {len(history)} epochs in "
              f"{seconds:.1f} s; test {_test_line(metrics)}\n")
    log.close()
    drawn: list[Path] = []
    if figures:
        from .plots import figure_formats

        with figure_formats(formats):
            drawn = _run_figures(run_dir, history, model, data, loss, best_epoch, cfg.schedule)
    return TrainResult(run_dir=run_dir, config=cfg, history=history, metrics=metrics,
                       figures=drawn, model=model)


def _test_line(m: dict[str, Any]) -> str:
    test = m["test"]
    if m["task"] == "classification":
        lo, hi = m.get("intervals", {}).get("test", {}).get("accuracy", (math.nan, math.nan))
        return (f"accuracy: {test['accuracy']:.4f}  (95 % interval {lo:.3f}–{hi:.3f}; "
                f"test loss {test['loss']:.4f}, {m['n_test']} samples)")
    parts = []
    for k, v in test.items():
        if k == "loss":
            continue
        parts.append(f"test {k} {v:.4g}")
        interval = m.get("intervals", {}).get("test", {}).get(k)
        if interval and None not in interval:
            parts[-1] += f" (95 % interval {interval[0]:.4g}–{interval[1]:.4g})"
    scaled = " (on the standardised target)" if m.get("target_scale") else ""
    return f"loss{scaled}: {test['loss']:.4g}, {', '.join(parts)}  ({m['n_test']} samples)"


def _find_run_files(path: str | os.PathLike) -> tuple[Path, Path]:
    """``(model_file, folder)`` for a run folder or a model file inside one."""
    p = Path(path)
    if p.is_dir():
        model_file = p / MODEL_FILE
        if not model_file.is_file():
            saved = _checkpoint_epoch(p)
            if saved is not None:
                raise CLIError(f"{os.fspath(p)} is an interrupted run (checkpoint after epoch "
                               f"{saved}, no {MODEL_FILE} yet); finish it with: chainrule "
                               f"train --resume {os.fspath(p)}")
            raise CLIError(f"{os.fspath(p)} is not a run folder: it has no {MODEL_FILE}")
        return model_file, p
    if p.is_file():
        return p, p.parent
    raise CLIError(f"no run folder or model file at {os.fspath(p)}")


def _load_model(model_file: Path) -> Any:
    import chainrule as cr

    where = os.fspath(model_file)

    def reason(e: BaseException) -> str:
        text = _one_line(e)
        return text[len(where) + 2:] if text.startswith(where + ": ") else text

    try:
        return cr.load(model_file)
    except (ValueError, TypeError, KeyError, OSError) as e:
        raise CLIError(f"{where} is not a chainrule model file ({reason(e)})") from None
    except Exception as e:  # a parser's own error type: still not a model file
        raise CLIError(f"{where} is not a chainrule model file ({type(e).__name__}: "
                       f"{reason(e)})") from None


def _embedded_preprocessing(model_file: Path) -> dict[str, Any]:
    """The preprocessing stored in a model file's metadata by ``chainrule train``."""
    from .io import load_state_dict_file

    _, meta = load_state_dict_file(model_file)
    pre = meta.get("preprocessing") if isinstance(meta, dict) else None
    if not isinstance(pre, dict) or "feature_names" not in pre:
        raise CLIError(f"{os.fspath(model_file)} was not written by `chainrule train` and has no "
                       f"{PREPROCESSING_FILE} beside it: its feature names and standardisation "
                       "are unknown")
    return pre


def load_run(path: str | os.PathLike, *, need_config: bool = True) -> RunArtifacts:
    """Read a run folder, or a model file (its preprocessing from ``preprocessing.json``
    beside it or from the file's own metadata).

    Raises:
        CLIError: the folder is not a run folder, or the model file is not a model.
    """
    from .config import RunConfig, load_config

    model_file, folder = _find_run_files(path)
    model = _load_model(model_file)
    pre_path = folder / PREPROCESSING_FILE
    if pre_path.is_file():
        preprocessing = _read_json_object(pre_path)
    else:
        preprocessing = _embedded_preprocessing(model_file)
    cfg = RunConfig()
    cfg_path = folder / CONFIG_FILE
    if cfg_path.is_file():
        cfg = load_config(cfg_path)
    elif need_config:
        raise CLIError(f"{os.fspath(folder)} has no {CONFIG_FILE}")
    metrics = {}
    if (folder / METRICS_FILE).is_file():
        metrics = _read_json_object(folder / METRICS_FILE)
    return RunArtifacts(run_dir=folder, config=cfg, model=model, preprocessing=preprocessing,
                        metrics=metrics)


# ============================================================================== commands


def _names(registry: Any, hidden_only: bool = False) -> str:
    """The canonical names of a registry, for ``--help`` (hidden activations only)."""
    return ", ".join(e.name for e in registry.entries()
                     if not hidden_only or e.get("hidden", True))


def _parse_schedule_args(items: Sequence[str] | None) -> dict[str, Any] | None:
    """``["milestones=30,60", "gamma=0.5"]`` → ``{"milestones": [30, 60], "gamma": 0.5}``."""
    from .config import ConfigError, parse_setting_value

    if not items:
        return None
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"schedule_args: expected key=value (got {item!r})")
        key, _, raw = item.partition("=")
        out[key.strip()] = parse_setting_value(raw)
    return out


ConfigOpt = Annotated[Path | None, typer.Option(
    "--config", "-c", metavar="FILE.toml",
    help="TOML file of settings (keys as the options below, e.g. lr = 0.01, "
    "hidden = [64, 32]); options given on the command line win.",
    show_default=False)]


@app.command()
@_guarded
def train(
    config: ConfigOpt = None,
    data: Annotated[str | None, typer.Option(
        metavar="NAME|FILE.csv",
        help="Dataset name (see `chainrule datasets`) or a CSV file. [default: digits]",
        show_default=False)] = None,
    target: Annotated[str | None, typer.Option(
        metavar="COLUMN", help="Target column of a CSV file. [default: its last column]",
        show_default=False)] = None,
    task: Annotated[str | None, typer.Option(
        help="auto, classification or regression (checked against the data). [default: auto]",
        show_default=False)] = None,
    standardize: Annotated[bool | None, typer.Option(
        "--standardize/--no-standardize",
        help="Standardise inputs with the training split's mean and std. [default: on]",
        show_default=False)] = None,
    hidden: Annotated[str | None, typer.Option(
        metavar="SIZES",
        help="Hidden layer sizes, comma-separated, e.g. 64,32; '' for a linear model. "
        "[default: 256]", show_default=False)] = None,
    model: Annotated[str | None, typer.Option(
        help="mlp, or cnn (convolutions on the dataset's signals or images; the stack is "
        "set by conv/pool in a --config file). [default: mlp]", show_default=False)] = None,
    activation: Annotated[str | None, typer.Option(
        help=f"Hidden activation: {_names(ACTIVATIONS, hidden_only=True)}. [default: relu]",
        show_default=False)] = None,
    dropout: Annotated[float | None, typer.Option(
        help="Dropout probability after each hidden activation, in [0, 1). [default: 0.2]",
        show_default=False)] = None,
    batch_norm: Annotated[bool | None, typer.Option(
        "--batch-norm/--no-batch-norm", help="BatchNorm1d after each hidden linear layer.",
        show_default=False)] = None,
    residual: Annotated[bool | None, typer.Option(
        "--residual/--no-residual", help="Residual connections around equal-width layers.",
        show_default=False)] = None,
    init: Annotated[str | None, typer.Option(
        help=f"Weight initialiser: {_names(INITIALIZERS)}. [default: he]",
        show_default=False)] = None,
    loss: Annotated[str | None, typer.Option(
        help=f"Loss: {_names(LOSSES)}. [default: cross_entropy for classification, mse "
        "for regression]", show_default=False)] = None,
    optimizer: Annotated[str | None, typer.Option(
        help=f"Optimiser: {_names(OPTIMIZERS)}. [default: adam]",
        show_default=False)] = None,
    lr: Annotated[float | None, typer.Option(
        help="Learning rate η > 0. [default: 0.001]", show_default=False)] = None,
    momentum: Annotated[float | None, typer.Option(
        help="Momentum β in [0, 1) (sgd, rmsprop).", show_default=False)] = None,
    nesterov: Annotated[bool | None, typer.Option(
        "--nesterov/--no-nesterov", help="Nesterov momentum (sgd; needs --momentum).",
        show_default=False)] = None,
    beta1: Annotated[float | None, typer.Option(
        help="Adam's β₁ in [0, 1). [default: 0.9]", show_default=False)] = None,
    beta2: Annotated[float | None, typer.Option(
        help="Adam's β₂ in [0, 1). [default: 0.999]", show_default=False)] = None,
    schedule: Annotated[str | None, typer.Option(
        help=f"Learning-rate schedule: {_names(SCHEDULERS)}. [default: none]",
        show_default=False)] = None,
    schedule_arg: Annotated[list[str] | None, typer.Option(
        "--schedule-arg", metavar="KEY=VALUE",
        help="Schedule argument key=value (repeatable), e.g. --schedule-arg step_size=10 "
        "--schedule-arg gamma=0.5.", show_default=False)] = None,
    epochs: Annotated[int | None, typer.Option(
        help="Maximum number of epochs. [default: 200]", show_default=False)] = None,
    batch_size: Annotated[int | None, typer.Option(
        help="Mini-batch size. [default: 32]", show_default=False)] = None,
    l1: Annotated[float | None, typer.Option(
        help="L1 penalty λ₁ ≥ 0 on the weights. [default: 0]", show_default=False)] = None,
    l2: Annotated[float | None, typer.Option(
        help="L2 penalty λ₂ ≥ 0 on the weights, (λ₂/2)‖W‖². [default: 0.001]",
        show_default=False)] = None,
    patience: Annotated[int | None, typer.Option(
        help="Early stopping: epochs without dev-loss improvement; 0 disables. "
        "[default: 20]", show_default=False)] = None,
    seed: Annotated[int | None, typer.Option(
        help="Seed of the split, initialisation, dropout and batch order. [default: 0]",
        show_default=False)] = None,
    name: Annotated[str | None, typer.Option(
        metavar="NAME", help="Run name: the folder OUT/NAME. [default: <data>-<date>-<time>]",
        show_default=False)] = None,
    out: Annotated[str | None, typer.Option(
        metavar="DIR", help="Parent folder of run folders. [default: runs]",
        show_default=False)] = None,
    resume: Annotated[Path | None, typer.Option(
        metavar="RUN_DIR",
        help="Continue the interrupted run in this run folder (only --epochs may change).",
        show_default=False)] = None,
    init_from: Annotated[str | None, typer.Option(
        "--init-from", metavar="RUN",
        help="Fine-tune: start from the model of this finished run folder (its architecture; "
        "the data must have as many features and classes).", show_default=False)] = None,
    freeze: Annotated[str | None, typer.Option(
        metavar="LAYERS",
        help="Keep these layers fixed: 'hidden' (all but the last: train only the head) or "
        "comma-separated layer names of the model summary, e.g. 0,3.",
        show_default=False)] = None,
    progress: Annotated[bool | None, typer.Option(
        "--progress/--no-progress",
        help="Show progress: a live bar with ETA on a terminal, one line per epoch "
        "otherwise (train.log is always written). [default: on]",
        show_default=False)] = None,
    figures: Annotated[bool, typer.Option(
        "--figures/--no-figures", help="Draw the run's figures. [default: on]",
        show_default=False)] = True,
    formats: Annotated[str, typer.Option(
        metavar="FORMATS", help="Figure formats, comma-separated: png, svg. "
        "[default: png,svg]", show_default=False)] = "png,svg",
    tensorboard: Annotated[Path | None, typer.Option(
        metavar="DIR", help="Also write TensorBoard event files (losses, metrics, rate, "
        "gradient norms per epoch) to DIR; needs tensorboardX.", show_default=False)] = None,
    threads: ThreadsOpt = None,
) -> None:
    """Train a model and write its run folder.

    Without options: the embedded default, a standardised MLP (256 ReLU units, dropout 0.2,
    L2 10⁻³, Adam) on the digits set with early stopping; prints the test accuracy.
    """
    from .config import load_config

    overrides = dict(
        data=data, target=target, task=task, standardize=standardize, hidden=hidden,
        model=model, activation=activation, dropout=dropout, batch_norm=batch_norm,
        residual=residual,
        init=init, loss=loss, optimizer=optimizer, lr=lr, momentum=momentum,
        nesterov=nesterov, beta1=beta1, beta2=beta2, schedule=schedule,
        schedule_args=_parse_schedule_args(schedule_arg), epochs=epochs,
        batch_size=batch_size, l1=l1, l2=l2, patience=patience, seed=seed, name=name, out=out,
        init_from=init_from, freeze=freeze,
    )
    given = {k: v for k, v in overrides.items() if v is not None}
    if hidden == "":
        given["hidden"] = []
    console = _err_console()
    if resume is not None:
        if config is not None or set(given) - {"epochs"}:
            extra = sorted(set(given) - {"epochs"}) or ["config"]
            raise CLIError(f"resume: the settings come from the run folder; only --epochs may "
                           f"change (got {', '.join('--' + k.replace('_', '-') for k in extra)})")
        _check_finished(resume, read_run_config(resume).epochs, epochs)
        cfg = read_run_config(resume, **given)
    else:
        cfg = load_config(config, **given)
    with _blas_threads(1 if threads is None else threads):
        result = run_training(cfg, resume_dir=resume, show_progress=progress,
                              console=console, figures=figures, formats=formats,
                              tensorboard=tensorboard)
    _report_run(result)


def _check_finished(run: Path, planned: int, epochs: int | None) -> None:
    """Refuse to "resume" a finished run unless ``--epochs`` asks for more than it ran."""
    metrics_path = run / METRICS_FILE
    if not metrics_path.is_file():
        return  # interrupted: there is something to continue
    m = _read_json_object(metrics_path)
    done = int(m.get("epochs_run", planned))
    if m.get("stopped_epoch"):
        raise CLIError(f"resume: {os.fspath(run)} is finished: early stopping ended it at "
                       f"epoch {done} (best epoch {m.get('best_epoch')}); more epochs would "
                       "not change it — start a new run to train differently")
    if epochs is None or epochs <= done:
        more = "" if epochs is None else f" (got --epochs {epochs})"
        raise CLIError(f"resume: {os.fspath(run)} is finished ({done} of {planned} epochs); "
                       f"to train further pass --epochs larger than {done}{more}")


def _report_run(result: TrainResult) -> None:
    out = _out_console()
    m = result.metrics
    best = f", best epoch {m['best_epoch']}" if m.get("best_epoch") else ""
    frozen = m.get("n_frozen_parameters")
    which = (f"{m['n_parameters'] - frozen:,} of {m['n_parameters']:,} parameters "
             f"({frozen:,} frozen)") if frozen else f"{m['n_parameters']:,} parameters"
    out.print(f"trained {which} on {m['dataset']} for "
              f"{m['epochs_run']} epochs{best} in {m['train_seconds']:.1f} s")
    out.print(f"test {_test_line(m)}")
    out.print(f"run folder: {result.run_dir}")
    if result.figures:
        stems = sorted({p.stem for p in result.figures})
        suffixes = sorted({p.suffix[1:] for p in result.figures})
        out.print(f"figures: {', '.join(stems)} ({', '.join(suffixes)})")


@app.command()
@_guarded
def evaluate(
    run: Annotated[Path, typer.Argument(help="A run folder (or its model.safetensors).",
                                        metavar="RUN", show_default=False)],
    data: Annotated[str | None, typer.Option(
        help="Evaluate on this dataset or CSV file (all its rows) instead of the run's "
        "test split.", show_default=False)] = None,
    target: Annotated[str | None, typer.Option(
        help="Target column of the CSV file. [default: the run's target column, else the "
        "last column]", show_default=False)] = None,
    split: Annotated[str, typer.Option(
        help="Which split of the run's own data: train, dev or test.")] = "test",
    figure: Annotated[Path | None, typer.Option(
        metavar="FILE.png", help="Regression models: where to draw predicted against actual. "
        "[default: RUN/predicted_vs_actual_<split or data>.png]", show_default=False)] = None,
) -> None:
    """Loss and metrics of a trained model on its test split or on other data.

    Classifiers: accuracy with its 95 % (Wilson) interval, then per class precision
    P = TP/(TP+FP), recall R = TP/(TP+FN), F1 = 2PR/(P+R) and the confusion matrix.
    Regression models: RMSE with a bootstrap interval, in the target's units, and a
    predicted-against-actual figure.
    """
    from .train import evaluate as _evaluate

    art = load_run(run)
    pre = art.preprocessing
    loss = pre.get("loss") or _loss_name(art.config, pre["task"])
    if data is None:
        if split not in ("train", "dev", "test"):
            raise CLIError(f"split: must be train, dev or test (got {split!r})")
        prepared = prepare_data(art.config)
        X, y = getattr(prepared, split)
        where = f"{prepared.name}, {split} split"
        tag = split
    else:
        csv_target = target if target is not None else pre.get("target")
        if data.lower().endswith(".csv") and csv_target is not None:
            if csv_target not in _csv_header(data):
                csv_target = None if target is None else csv_target
        ds = load_data(data, csv_target if data.lower().endswith(".csv") else target)
        X = _select_features(ds.X, list(ds.feature_names), pre, data)
        scaler = art.scaler()
        if scaler is not None:
            X = scaler.transform(X)
        y = ds.y
        if pre["task"] == "classification":
            if ds.task != "classification":
                raise CLIError(f"data: the model is a classifier but {data!r} is a "
                               f"{ds.task} set")
            y = _map_labels(ds, pre)
        elif pre.get("target_scale"):
            mean, std = pre["target_scale"]
            y = (np.asarray(y, dtype=np.float64) - mean) / std
        where = f"{ds.name}, all {len(y)} rows"
        tag = Path(data).stem
    res = _in_target_units(_evaluate(art.model, loss, (X, y)), pre.get("target_scale"))
    from rich.table import Table

    y_scale = pre.get("target_scale")
    classes = [str(c) for c in pre["target_names"]]
    quality = _split_quality(art.model, pre["task"], {"data": (X, y)}, y_scale, classes)
    interval = quality["intervals"].get("data", {})
    title = f"Evaluation of {art.run_dir.name} on {where}"
    table = Table(title=title, min_width=len(title) + 4)
    table.add_column("quantity")
    table.add_column("value", justify="right")
    table.add_column("95 % interval", justify="right")
    for k, v in res.items():
        label = "loss (standardised target)" if k == "loss" and y_scale else k
        lo_hi = interval.get(k)
        shown = f"{lo_hi[0]:.4g} – {lo_hi[1]:.4g}" if lo_hi and None not in lo_hi else ""
        table.add_row(label, f"{v:.6g}", shown)
    table.add_row("samples", str(len(y)), "")
    out = _out_console()
    out.print(table)
    for warning in quality["warnings"]:
        _err_console().print(f"warning: {warning.replace('the data split', 'the data')}",
                             markup=False, highlight=False)
    if pre["task"] == "classification":
        from .train import predict
        from .train.metrics import confusion_matrix

        per_class = quality["per_class"]["data"]
        pc = Table(title="Per class", min_width=40)
        for col in ("class", "precision", "recall", "F1", "support"):
            pc.add_column(col, justify="left" if col == "class" else "right")
        for c, r in per_class.items():
            pc.add_row(c, f"{r['precision']:.3f}", f"{r['recall']:.3f}", f"{r['f1']:.3f}",
                       str(r["support"]))
        out.print(pc)
        C = confusion_matrix(y, predict(art.model, X).argmax(axis=1), len(classes))
        cm_title = "Confusion matrix (rows: true class, columns: predicted)"
        cm = Table(title=cm_title, min_width=len(cm_title) + 4)
        cm.add_column("true \\ predicted")
        for c in classes:
            cm.add_column(c, justify="right")
        for c, row in zip(classes, C):
            cm.add_row(c, *[str(v) if v else "·" for v in row])
        out.print(cm)
    elif np.asarray(y).ndim == 1:
        from . import plots
        from .train import predict

        path = figure or art.run_dir / f"predicted_vs_actual_{tag}.png"
        target = str(pre["target_names"][0]) if pre.get("target_names") else "target"
        with plots.figure_formats(Path(path).suffix[1:] or "png"):
            plots.predicted_vs_actual(_unscaled(y, y_scale),
                                      _unscaled(predict(art.model, X), y_scale),
                                      target_name=target, title=title, path=path)
        out.print(f"figure: {Path(path).with_suffix(Path(path).suffix or '.png')}")


def _map_labels(ds: Any, pre: dict[str, Any]) -> np.ndarray:
    """The dataset's labels re-indexed to the model's classes (by class name)."""
    model_classes = [str(c) for c in pre["target_names"]]
    data_classes = [str(c) for c in ds.target_names]
    if data_classes == model_classes:
        return ds.y
    unknown = [c for c in data_classes if c not in model_classes]
    if unknown:
        raise CLIError(f"data: classes {unknown} are unknown to the model (its classes: "
                       f"{', '.join(model_classes)})")
    index = np.array([model_classes.index(c) for c in data_classes])
    return index[ds.y]


def _select_features(X: np.ndarray, names: list[str], pre: dict[str, Any],
                     source: str) -> np.ndarray:
    """Columns of ``X`` in the model's feature order, checked by name (or by count)."""
    expected = [str(n) for n in pre["feature_names"]]
    if names == expected:
        return X
    missing = [n for n in expected if n not in names]
    if not missing:
        return X[:, [names.index(n) for n in expected]]
    if X.shape[1] != len(expected):
        raise CLIError(f"{source} has {X.shape[1]} feature columns but the model expects "
                       f"{len(expected)} ({_name_list(expected)})")
    raise CLIError(f"{source} lacks the model's columns {_name_list(missing)} "
                   f"(its columns: {_name_list(names)})")


def _name_list(names: Sequence[str], limit: int = 8) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", … ({len(names)} in all)" if len(names) > limit else "")


def _read_input_csv(path: Path, pre: dict[str, Any]) -> tuple[np.ndarray, list[list[str]],
                                                                list[str] | None]:
    """Feature matrix (model order), raw rows and header of an input CSV file."""
    if not path.is_file():
        raise CLIError(f"input: file not found (got {os.fspath(path)!r})")
    with path.open(newline="", encoding="utf-8-sig") as fh:
        rows = [r for r in csv.reader(fh) if any(c.strip() for c in r)]
    if not rows:
        raise CLIError(f"{path.name} is empty")
    expected = [str(n) for n in pre["feature_names"]]

    def numeric(cell: str) -> bool:
        try:
            float(cell)
        except ValueError:
            return False
        return True

    has_header = not all(numeric(c) for c in rows[0])
    header = [c.strip() for c in rows[0]] if has_header else None
    body = rows[1:] if has_header else rows
    if not body:
        raise CLIError(f"{path.name} has a header but no data rows")
    if header is not None:
        missing = [n for n in expected if n not in header]
        if missing:
            if len(header) == len(expected) and not any(n in header for n in expected):
                raise CLIError(f"{path.name}: column names {_name_list(header)} do not match "
                               f"the model's features {_name_list(expected)}")
            raise CLIError(f"{path.name} lacks the model's columns {_name_list(missing)} "
                           f"(its columns: {_name_list(header)})")
        cols = [header.index(n) for n in expected]
    else:
        if len(rows[0]) != len(expected):
            raise CLIError(f"{path.name} has {len(rows[0])} columns but the model expects "
                           f"{len(expected)} ({_name_list(expected)})")
        cols = list(range(len(expected)))
    X = np.empty((len(body), len(cols)), dtype=np.float64)
    for i, row in enumerate(body, start=1):
        if len(row) != len(header or rows[0]):
            raise CLIError(f"{path.name}: row {i} has {len(row)} fields, expected "
                           f"{len(header or rows[0])}")
        for j, c in enumerate(cols):
            try:
                X[i - 1, j] = float(row[c])
            except ValueError:
                col = expected[j]
                raise CLIError(f"{path.name}: non-numeric value {row[c]!r} at row {i}, "
                               f"column {col!r}") from None
    return X, body, header


@app.command()
@_guarded
def predict(
    model: Annotated[Path, typer.Argument(
        metavar="MODEL",
        help="A run folder, or a model.safetensors inside one.", show_default=False)],
    input: Annotated[Path, typer.Argument(
        metavar="INPUT.csv",
        help="CSV file of inputs: a header naming the model's features (other columns are "
        "ignored), or exactly as many unnamed columns.", show_default=False)],
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Write predictions to this CSV file. [default: stdout]",
        show_default=False)] = None,
) -> None:
    """Predict with a trained model on the rows of a CSV file."""
    from .train import predict as _predict

    art = load_run(model, need_config=False)
    pre = art.preprocessing
    X, _, _ = _read_input_csv(input, pre)
    scaler = art.scaler()
    Xs = scaler.transform(X) if scaler is not None else X
    raw = _predict(art.model, Xs)
    if pre["task"] == "classification":
        z = raw - raw.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        names = [str(c) for c in pre["target_names"]]
        header = ["prediction"] + [f"p_{n}" for n in names]
        rows = [[names[int(k)]] + [f"{v:.6g}" for v in pr] for k, pr in zip(p.argmax(1), p)]
    else:
        target_names = [str(n) for n in pre["target_names"]]
        raw2 = raw.reshape(len(raw), -1).astype(np.float64)
        if pre.get("target_scale"):
            mean, std = pre["target_scale"]
            raw2 = raw2 * std + mean  # back to the target's own units
        header = (["prediction"] if raw2.shape[1] == 1
                  else [f"prediction_{n}" for n in target_names[: raw2.shape[1]]])
        rows = [[f"{v:.8g}" for v in r] for r in raw2]
    if output is None:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    typer.echo(f"wrote {len(rows)} predictions to {output}")


@app.command()
@_guarded
def datasets(
    action: Annotated[str | None, typer.Argument(
        metavar="export", help="Write a built-in dataset as CSV instead of listing them.",
        show_default=False)] = None,
    name: Annotated[str | None, typer.Argument(
        metavar="NAME", help="The dataset to export.", show_default=False)] = None,
    out: Annotated[Path | None, typer.Argument(
        metavar="OUT.csv", help="The CSV file to write.", show_default=False)] = None,
) -> None:
    """List the built-in datasets (name, task, size, description), or export one as CSV.

    `chainrule datasets export iris iris.csv` writes a header (the feature names, then
    the target column) and one row per sample, classes by name, so that
    `chainrule predict RUN iris.csv` and `chainrule evaluate RUN --data iris.csv` work.
    """
    from rich.table import Table

    from .data import list_datasets

    if action is not None:
        _export_dataset(action, name, out)
        return

    table = Table(title="chainrule datasets (use with --data NAME; or --data file.csv)")
    for col, kw in (("name", {"style": "bold", "no_wrap": True}), ("task", {"no_wrap": True}),
                    ("samples", {"justify": "right"}),
                    ("features", {"justify": "right"}), ("classes", {"justify": "right"}),
                    ("description", {})):
        table.add_column(col, **kw)
    for info in list_datasets():
        table.add_row(info.name, info.task, str(info.n_samples), str(info.n_features),
                      "-" if info.n_classes is None else str(info.n_classes), info.description)
    _out_console().print(table)


def _export_dataset(action: str, name: str | None, out: Path | None) -> None:
    from .data import load_dataset

    if action != "export" or name is None or out is None:
        raise CLIError(f"datasets: expected `chainrule datasets` or `chainrule datasets export "
                       f"NAME OUT.csv` (got {' '.join(str(a) for a in (action, name, out) if a)})")
    ds = load_dataset(name)
    target = "target" if ds.task == "classification" else str(ds.target_names[0])
    if target in ds.feature_names:
        target = f"{target}_"
    y = np.asarray(ds.y)
    if ds.task == "classification":
        labels = [str(ds.target_names[int(k)]) for k in y]
    else:
        labels = [repr(float(v)) for v in y.reshape(len(y), -1)[:, 0]]
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow([*ds.feature_names, target])
        for row, label in zip(np.asarray(ds.X), labels):
            writer.writerow([*(repr(float(v)) for v in row), label])
    _out_console().print(f"wrote {ds.name}: {len(labels)} rows, {ds.n_features} features and "
                         f"the target column {target!r} to {out}", markup=False)


def _layer_gradcheck(model: Any, loss: str, X: np.ndarray, y: np.ndarray, max_entries: int,
                     eps: float, seed: int) -> list[dict[str, Any]]:
    """Back-propagated vs central-difference gradients of the loss, per parameter (float64).

    For each parameter ``θ`` (or a random subset of ``max_entries`` of its entries)::

        g_num[i] = (L(θ + ε e_i) − L(θ − ε e_i)) / (2ε)
        rel_diff = ‖g_num − g‖ / (‖g_num‖ + ‖g‖)
    """
    from .tensor import Tensor
    from .train import get_loss

    loss_fn, _ = get_loss(loss)
    model.to(np.float64)
    model.eval()
    Xt = Tensor(np.asarray(X, dtype=np.float64))
    yt = Tensor(np.asarray(y) if np.asarray(y).dtype.kind in "iu"
                else np.asarray(y, dtype=np.float64).reshape(len(y), -1))

    def L() -> Any:
        return loss_fn(model(Xt), yt)

    params = list(model.named_parameters())
    for _, p in params:
        p.grad = None
    L().backward()
    rng = np.random.default_rng(seed)
    rows = []
    for name, p in params:
        g = p.grad.data.reshape(-1) if p.grad is not None else np.zeros(p.data.size)
        flat = p.data.reshape(-1)
        n = flat.size
        idx = np.arange(n) if n <= max_entries else np.sort(rng.choice(n, max_entries, False))
        num = np.empty(len(idx))
        for k, i in enumerate(idx):
            orig = flat[i]
            flat[i] = orig + eps
            lp = float(L().data)
            flat[i] = orig - eps
            lm = float(L().data)
            flat[i] = orig
            num[k] = (lp - lm) / (2 * eps)
        ana = g[idx]
        denom = np.linalg.norm(num) + np.linalg.norm(ana)
        rel = 0.0 if denom == 0 else float(np.linalg.norm(num - ana) / denom)
        rows.append({"parameter": name, "shape": tuple(p.data.shape), "checked": len(idx),
                     "size": n, "grad_norm": float(np.linalg.norm(ana)), "rel_diff": rel})
    return rows


@app.command()
@_guarded
def gradcheck(
    run: Annotated[Path, typer.Argument(help="A run folder.", metavar="RUN",
                                        show_default=False)],
    batch: Annotated[int, typer.Option(help="Training samples in the checked batch.")] = 16,
    max_entries: Annotated[int, typer.Option(
        help="Entries checked per parameter (a random subset of larger ones).")] = 64,
    eps: Annotated[float, typer.Option(help="Finite-difference step ε.")] = 1e-5,
    tol: Annotated[float, typer.Option(help="Largest relative difference that passes.")] = 1e-6,
    seed: Annotated[int, typer.Option(help="Seed of the batch and entry choice.")] = 0,
) -> None:
    """Check the trained model's back-propagated gradients against finite differences.

    On a batch of training samples, in float64 and eval mode, each parameter's gradient
    ``g`` is compared with central differences ``g_num``; the table shows the relative
    difference ``‖g_num − g‖ / (‖g_num‖ + ‖g‖)``. Exits with 1 if any exceeds --tol.
    """
    if batch < 1 or max_entries < 1 or not eps > 0 or not tol > 0:
        raise CLIError("gradcheck: --batch and --max-entries must be >= 1, --eps and --tol > 0")
    art = load_run(run)
    prepared = prepare_data(art.config)
    X, y = prepared.train
    rows_idx = np.random.default_rng(seed).choice(len(X), min(batch, len(X)), replace=False)
    loss = art.preprocessing.get("loss") or _loss_name(art.config, prepared.task)
    rows = _layer_gradcheck(art.model, loss, X[rows_idx], y[rows_idx], max_entries, eps, seed)
    from rich.table import Table

    table = Table(title=f"Gradient check of {art.run_dir.name}: {len(rows_idx)} samples, "
                        f"float64, ε = {eps:g}")
    for col in ("parameter", "shape", "entries checked", "‖g‖", "relative difference",
                "result"):
        table.add_column(col, justify="left" if col in ("parameter", "shape") else "right")
    failed = 0
    for r in rows:
        ok = r["rel_diff"] <= tol
        failed += not ok
        table.add_row(r["parameter"], "×".join(map(str, r["shape"])),
                      f"{r['checked']}/{r['size']}", f"{r['grad_norm']:.3e}",
                      f"{r['rel_diff']:.2e}", "pass" if ok else "FAIL")
    out = _out_console()
    out.print(table)
    worst = max(rows, key=lambda r: r["rel_diff"])
    out.print(f"worst: {worst['parameter']} with relative difference {worst['rel_diff']:.2e} "
              f"(tol {tol:g}): {'all passed' if not failed else f'{failed} FAILED'}")
    if failed:
        raise typer.Exit(1)


@app.command()
@_guarded
def diagnose(
    run: Annotated[Path, typer.Argument(help="A run folder.", metavar="RUN",
                                        show_default=False)],
    target_error: Annotated[float | None, typer.Option(
        help="Bayes or human-level error, in the same units (0 if unknown).",
        show_default=False)] = None,
    threshold: Annotated[float, typer.Option(
        help="Avoidable bias or variance above this counts as high.")] = 0.02,
) -> None:
    """Bias/variance verdict of a trained model and what to try next.

    Compares the final model's errors (measured in eval mode: 1 − accuracy for
    classification, RMSE for regression) on the train and dev splits.
    """
    from .train import diagnose as _diagnose

    folder = Path(run)
    metrics_path = folder / METRICS_FILE
    if not metrics_path.is_file():
        raise CLIError(f"{os.fspath(folder)} is not a finished run folder (no {METRICS_FILE})")
    m = _read_json_object(metrics_path)
    if m.get("task") == "classification":
        tr, dv = 1 - m["train"]["accuracy"], 1 - m["dev"]["accuracy"]
        what = "error rate (1 − accuracy)"
    elif "rmse" in m.get("train", {}):
        tr, dv = m["train"]["rmse"], m["dev"]["rmse"]
        what = "RMSE"
    else:
        tr, dv = m["train"]["loss"], m["dev"]["loss"]
        what = "loss"
    from .config import load_config

    used: dict[str, str] = {}
    if (folder / CONFIG_FILE).is_file():
        cfg = load_config(folder / CONFIG_FILE)
        if cfg.patience > 0:
            used["early stopping"] = f"on (patience {cfg.patience})"
        if cfg.l2 > 0:
            used["L2"] = f"λ₂ = {cfg.l2:g}"
        if cfg.dropout > 0:
            used["dropout"] = f"p = {cfg.dropout:g}"
    n_dev = m.get("n_dev")
    d = _diagnose(train_error=tr, dev_error=dv, target_error=target_error,
                  bias_threshold=threshold, variance_threshold=threshold,
                  n_dev=n_dev if m.get("task") == "classification" else None, used=used)
    out = _out_console()
    out.print(f"[bold]{folder.name}[/bold] ({m.get('dataset', '?')}), errors as {what}:")
    out.print(str(d), soft_wrap=True, markup=False)


_DEMO_HELP_NAMES = "higham, optimizers, vanishing, bias-variance, universal, init"


@app.command()
@_guarded
def demo(
    name: Annotated[str, typer.Argument(
        metavar="NAME", help=f"The demo: {_DEMO_HELP_NAMES}.", show_default=False)],
    out: Annotated[Path | None, typer.Option(
        help="Output folder. [default: runs/demo-NAME]", show_default=False)] = None,
    quick: Annotated[bool, typer.Option(
        "--quick", help="A smaller, faster version (fewer steps/models).")] = False,
    seed: Annotated[int, typer.Option(help="Seed of everything random in the demo.")] = 0,
    threads: ThreadsOpt = None,
) -> None:
    """Run a demo and write its figures and summary.txt.

    Demos: higham (Higham & Higham's 2-2-3-2 network on 10 points), optimizers (GD,
    momentum, Nesterov, RMSprop, Adam paths), vanishing (per-layer gradient norms),
    bias-variance (error vs width and L2), universal (1-hidden-layer fits vs width),
    init (zero/small/Xavier/He initialisation), spatial-prior (MLP vs CNN on MNIST-1D and
    on its shuffled-positions version).
    """
    from .demos import DEMOS, run_demo

    key = name.strip().lower().replace("_", "-")
    if key not in DEMOS:
        raise CLIError(f"unknown demo {name!r}; valid names: {', '.join(DEMOS)}")
    console = _err_console()
    with _blas_threads(1 if threads is None else threads):
        result = run_demo(key, out, quick=quick, seed=seed,
                          progress=lambda msg: console.print(f"[dim]{key}: {msg}[/dim]"))
    stdout = _out_console()
    stdout.print(result.summary)
    pngs = sorted(p.name for p in result.figures if p.suffix == ".png")
    stdout.print(f"outputs in {result.out_dir}: summary.txt, {', '.join(pngs)} (+ .svg)")
    stdout.print(f"({result.seconds:.1f} s)")


app.command("search")(search_command)
app.command("lr-find")(lr_find_command)


def _version(value: bool) -> None:
    if value:
        from . import __version__

        typer.echo(f"chainrule {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True,
        help="Print chainrule's version and exit.")] = False,
) -> None:
    """chainrule: train, evaluate and inspect neural networks; reproduce classic demos."""
app.command("export")(_guarded(export_command))
app.command("graph")(graph_command)
app.command("playground")(playground_command)


def main() -> None:
    """Entry point of the ``chainrule`` console script (and of ``python -m chainrule``)."""
    app(prog_name="chainrule")


if __name__ == "__main__":  # pragma: no cover
    main()
