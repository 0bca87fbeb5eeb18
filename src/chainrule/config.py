"""The run configuration of ``chainrule train``: one validated object, read from TOML or flags.

:class:`RunConfig` holds everything a training run needs — data, architecture, loss,
optimiser and schedule, epochs, regularisation, early stopping, seed and where to write.
Values come from a TOML file (``--config run.toml``, flat ``key = value`` pairs; ``-`` and
``_`` are interchangeable in keys) and/or command-line flags (the flags win), and are
validated by pydantic *before* any work starts. A bad value becomes a :class:`ConfigError`
whose message is one line of the form ``field: problem (got value)``.

Names (activation, initialiser, loss, optimiser, schedule) are checked against the
library's registries, so the message lists the valid choices.

>>> cfg = RunConfig(hidden="64,32", lr=0.01)
>>> cfg.hidden, cfg.optimizer, cfg.lr
([64, 32], 'adam', 0.01)
>>> try:
...     RunConfig(lr=-1)
... except Exception as e:
...     print(format_validation_error(e))
lr: must be > 0 (got -1)
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

__all__ = [
    "REQUIRED",
    "ConfigError",
    "RunConfig",
    "describe_parameters",
    "format_validation_error",
    "load_config",
    "parse_setting_value",
    "read_config_file",
    "schedule_parameters",
    "write_config",
]


class ConfigError(ValueError):
    """A configuration problem, with a one-line ``field: problem (got value)`` message."""


def _registry_names(module: str, attr: str) -> list[str] | None:
    """Names of a registry of the library, or None when that part is not installed."""
    import importlib

    try:
        registry = getattr(importlib.import_module(f"chainrule.{module}"), attr)
    except (ImportError, AttributeError):
        return None
    return sorted(registry)


def _check_name(value: str, module: str, attr: str, what: str) -> str:
    key = value.strip().lower().replace("-", "_")
    names = _registry_names(module, attr)
    if names is not None and key not in names:
        raise ValueError(f"unknown {what}; valid: {', '.join(names)}")
    return key


class RunConfig(BaseModel):
    """Everything a ``chainrule train`` run needs; every field has a safe default.

    The default run is the embedded example: a standardised MLP (one hidden layer of 256
    ReLU units, He initialisation, dropout 0.2, L2 penalty λ₂ = 10⁻³) on the digits set,
    trained with Adam (η = 10⁻³, batches of 32) and early stopping on the dev loss
    (patience 20); it reaches about 98 % test accuracy in seconds.

    Attributes:
        data: a dataset name (``chainrule datasets`` lists them) or a ``.csv`` file.
        target: the target column of a CSV file (default: its last column).
        task: ``"auto"`` (from the dataset), ``"classification"`` or ``"regression"``.
        standardize: fit a Standardizer on the training split and apply it everywhere.
        hidden: sizes of the hidden layers (``"64,32"`` is accepted); empty = linear model.
        model: ``"mlp"`` (``hidden``…) or ``"cnn"``: ``chainrule.nn.cnn`` with the rows of
            ``conv`` (``[out_channels, kernel, stride, padding]`` each; default the MNIST-1D
            paper's stack), max pooling ``pool`` after each activation (0: none), on
            samples of ``input_shape`` (default ``chainrule.data.IMAGE_SHAPES[data]``).
        activation: hidden activation (a name of ``chainrule.nn.ACTIVATIONS``).
        dropout: drop probability after each hidden activation, in [0, 1).
        batch_norm: BatchNorm1d after each hidden linear layer.
        residual: wrap equal-width hidden layers in residual blocks.
        init: weight initialiser (a name of ``chainrule.nn.init.INITIALIZERS``).
        loss: a name of ``chainrule.nn.LOSSES``; default cross-entropy for classification,
            MSE for regression.
        optimizer: a name of ``chainrule.optim.OPTIMIZERS``.
        lr: learning rate ``η`` > 0.
        momentum: momentum ``β`` in [0, 1) (SGD, RMSprop).
        nesterov: Nesterov momentum (SGD).
        beta1, beta2: Adam's decay rates, in [0, 1).
        schedule: learning-rate schedule name (``chainrule.optim.lr_scheduler``), or None.
        schedule_args: keyword arguments of the schedule (``{"step_size": 10}``,
            ``{"milestones": [30, 60]}``); checked against the schedule's signature, and
            only allowed with a ``schedule``.
        epochs: maximum number of epochs ≥ 1.
        batch_size: mini-batch size ≥ 1.
        l1, l2: penalty strengths ``λ₁, λ₂`` ≥ 0 on the weights.
        patience: early stopping after this many epochs without dev improvement; 0 disables.
        seed: seed of the split, the initialisation, dropout and the batch order.
        name: run name (the folder ``out/name``); default ``<data>-<timestamp>``.
        out: parent folder of run folders.
        init_from: a finished run folder whose model this run starts from (fine-tuning;
            its architecture settings are used, see :mod:`chainrule.cli_finetune`).
        freeze: layers to keep fixed: ``["hidden"]`` (all but the last) or layer names of
            the model summary (``"0,2"`` is accepted); empty = train every layer.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    data: str = "digits"
    target: str | None = None
    task: str = "auto"
    standardize: bool = True
    hidden: list[int] = [256]
    model: str = "mlp"
    conv: list[list[int | str]] | None = None
    pool: int = 0
    input_shape: list[int] | None = None
    activation: str = "relu"
    dropout: float = 0.2
    batch_norm: bool = False
    residual: bool = False
    init: str = "he"
    loss: str | None = None
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float | None = None
    nesterov: bool = False
    beta1: float | None = None
    beta2: float | None = None
    schedule: str | None = None
    schedule_args: dict[str, bool | int | float | str | list[int | float]] = {}
    epochs: int = 200
    batch_size: int = 32
    l1: float = 0.0
    l2: float = 1e-3
    patience: int = 20
    seed: int = 0
    name: str | None = None
    out: str = "runs"
    init_from: str | None = None
    freeze: list[str] = []

    # ------------------------------------------------------------------ validators
    @field_validator("data")
    @classmethod
    def _data(cls, v: str) -> str:
        v = v.strip()
        if not v:
            raise ValueError("must name a dataset or a .csv file")
        if v.lower().endswith((".csv", ".npz")):
            if not Path(v).is_file():
                raise ValueError("file not found")
            return v
        return _check_name(v, "data", "DATASETS", "dataset")

    @field_validator("task")
    @classmethod
    def _task(cls, v: str) -> str:
        if v not in ("auto", "classification", "regression"):
            raise ValueError("must be auto, classification or regression")
        return v

    @field_validator("hidden", mode="before")
    @classmethod
    def _hidden_text(cls, v: Any) -> Any:
        if isinstance(v, str):
            parts = [p.strip() for p in v.replace(" ", ",").split(",") if p.strip()]
            try:
                return [int(p) for p in parts]
            except ValueError:
                raise ValueError("must be comma-separated layer sizes such as 64,32") from None
        if isinstance(v, int) and not isinstance(v, bool):
            return [v]
        return v

    @field_validator("hidden")
    @classmethod
    def _hidden(cls, v: list[int]) -> list[int]:
        if any(n < 1 for n in v):
            raise ValueError("every layer size must be >= 1")
        return v

    @field_validator("model")
    @classmethod
    def _model(cls, v: str) -> str:
        if v not in ("mlp", "cnn"):
            raise ValueError("must be mlp or cnn")
        return v

    @field_validator("pool")
    @classmethod
    def _pool(cls, v: int) -> int:
        if v < 0:
            raise ValueError("must be >= 0 (0: no pooling)")
        return v

    @field_validator("activation")
    @classmethod
    def _activation(cls, v: str) -> str:
        return _check_name(v, "nn", "ACTIVATIONS", "activation")

    @field_validator("init")
    @classmethod
    def _init(cls, v: str) -> str:
        key = v.strip().lower().replace("-", "_")
        names = None
        try:
            from .nn import init as _init_mod

            names = sorted(_init_mod.INITIALIZERS)
        except ImportError:
            pass
        if names is not None and key not in names:
            raise ValueError(f"unknown initialiser; valid: {', '.join(names)}")
        return key

    @field_validator("loss")
    @classmethod
    def _loss(cls, v: str | None) -> str | None:
        return None if v is None else _check_name(v, "nn", "LOSSES", "loss")

    @field_validator("optimizer")
    @classmethod
    def _optimizer(cls, v: str) -> str:
        return _check_name(v, "optim", "OPTIMIZERS", "optimizer")

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, v: str | None) -> str | None:
        if v is None or v.strip().lower() in ("", "none", "constant"):
            return None
        return _check_name(v, "optim.lr_scheduler", "SCHEDULERS", "schedule")

    @field_validator("dropout")
    @classmethod
    def _dropout(cls, v: float) -> float:
        if not 0 <= v < 1:
            raise ValueError("must be in [0, 1)")
        return v

    @field_validator("lr")
    @classmethod
    def _lr(cls, v: float) -> float:
        if not v > 0 or v != v or v == float("inf"):
            raise ValueError("must be > 0")
        return v

    @field_validator("momentum", "beta1", "beta2")
    @classmethod
    def _unit(cls, v: float | None) -> float | None:
        if v is not None and not 0 <= v < 1:
            raise ValueError("must be in [0, 1)")
        return v

    @field_validator("l1", "l2")
    @classmethod
    def _penalty(cls, v: float) -> float:
        if not v >= 0 or v == float("inf"):
            raise ValueError("must be >= 0")
        return v

    @field_validator("epochs", "batch_size")
    @classmethod
    def _positive(cls, v: int) -> int:
        if v < 1:
            raise ValueError("must be >= 1")
        return v

    @field_validator("patience", "seed")
    @classmethod
    def _non_negative(cls, v: int) -> int:
        if v < 0:
            raise ValueError("must be >= 0")
        return v

    @field_validator("init_from")
    @classmethod
    def _init_from(cls, v: str | None) -> str | None:
        if v is None:
            return None
        if not v.strip() or not Path(v.strip()).exists():
            raise ValueError("no run folder there")
        return v.strip()

    @field_validator("freeze", mode="before")
    @classmethod
    def _freeze(cls, v: Any) -> Any:
        if isinstance(v, str):
            return [p.strip() for p in v.split(",") if p.strip()]
        if isinstance(v, int) and not isinstance(v, bool):
            return [str(v)]
        if isinstance(v, (list, tuple)):
            return [str(p).strip() if isinstance(p, int) and not isinstance(p, bool) else p
                    for p in v]
        return v

    @field_validator("name")
    @classmethod
    def _name(cls, v: str | None) -> str | None:
        if v is None:
            return None
        if not v.strip() or any(c in v for c in "/\\") or v in (".", ".."):
            raise ValueError("must be a plain folder name (no slashes)")
        return v.strip()

    @model_validator(mode="after")
    def _consistent(self) -> RunConfig:
        if self.nesterov and not self.momentum:
            raise ValueError("nesterov: needs momentum > 0 (got momentum = "
                             f"{self.momentum})")
        if self.schedule_args and self.schedule is None:
            raise ValueError("schedule_args: given without a schedule; add --schedule NAME "
                             f"(got {', '.join(sorted(self.schedule_args))})")
        if self.schedule_args:
            params = schedule_parameters(self.schedule)
            unknown = sorted(set(self.schedule_args) - set(params))
            if unknown:
                raise ValueError(f"schedule_args: {', '.join(map(repr, unknown))} is not an "
                                 f"argument of the {self.schedule!r} schedule; valid: "
                                 f"{describe_parameters(params)}")
        return self

    # ------------------------------------------------------------------ helpers
    def optimizer_kwargs(self) -> dict[str, Any]:
        """The hyperparameters to pass to ``optim.get_optimizer`` (only those that are set)."""
        kw: dict[str, Any] = {"lr": self.lr}
        if self.momentum is not None:
            kw["momentum"] = self.momentum
        if self.nesterov:
            kw["nesterov"] = True
        if self.beta1 is not None or self.beta2 is not None:
            kw["betas"] = (0.9 if self.beta1 is None else self.beta1,
                           0.999 if self.beta2 is None else self.beta2)
        return kw

    def to_dict(self) -> dict[str, Any]:
        """The settings as plain values, ``None`` ones left out (TOML has no null)."""
        out = {k: v for k, v in self.model_dump().items() if v is not None}
        if not out.get("schedule_args"):
            out.pop("schedule_args", None)  # an empty TOML table says nothing
        return out


REQUIRED = object()
"""The default :func:`schedule_parameters` gives an argument that has none (it is required)."""


def schedule_parameters(name: str) -> dict[str, Any]:
    """The arguments of the schedule registered as ``name`` and their defaults.

    Read from the scheduler's signature (``optimizer`` and ``last_epoch`` left out); a
    required argument maps to ``config.REQUIRED``.

    >>> schedule_parameters("multistep")["gamma"]
    0.1
    """
    import inspect

    from .optim.lr_scheduler import SCHEDULERS

    cls = SCHEDULERS[name]
    out: dict[str, Any] = {}
    for p in list(inspect.signature(cls.__init__).parameters.values())[1:]:
        if p.name in ("optimizer", "last_epoch") or p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
            continue
        out[p.name] = REQUIRED if p.default is p.empty else p.default
    return out


def describe_parameters(params: dict[str, Any]) -> str:
    """``"milestones (required), gamma=0.1"``: arguments with their defaults, for messages."""
    return ", ".join(f"{k} (required)" if v is REQUIRED else f"{k}={v!r}"
                     for k, v in params.items()) or "none"


def parse_setting_value(raw: str) -> Any:
    """A command-line value as JSON when it parses (``0.5``, ``true``, ``[1, 2]``), a
    comma-separated list of such values (``30,60`` → ``[30, 60]``), else the text itself.

    >>> parse_setting_value("30,60"), parse_setting_value("[1,2]"), parse_setting_value("min")
    ([30, 60], [1, 2], 'min')
    """
    text = raw.strip()
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    if "," in text:
        return [parse_setting_value(part) for part in text.split(",") if part.strip()]
    return text


def _scalar_repr(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def format_validation_error(error: ValidationError | ConfigError | Exception) -> str:
    """One line ``field: problem (got value)`` for the first problem of ``error``."""
    if not isinstance(error, ValidationError):
        return str(error)
    first = error.errors()[0]
    loc = ".".join(str(p) for p in first.get("loc", ())) or "config"
    msg = str(first.get("msg", "invalid value"))
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix):]
    if first.get("type") == "extra_forbidden":
        msg = f"unknown setting; valid: {', '.join(RunConfig.model_fields)}"
    if msg.split(":")[0] in RunConfig.model_fields and loc == "config":
        return f"{msg}"
    msg = msg[0].lower() + msg[1:] if msg else msg
    got = first.get("input")
    if isinstance(got, dict) and loc == "config":
        return msg
    return f"{loc}: {msg} (got {_scalar_repr(got)})"


def read_config_file(path: str | os.PathLike) -> dict[str, Any]:
    """The settings of a TOML (or JSON) run file, keys normalised (``-`` → ``_``).

    A ``[run]`` or ``[train]`` table is also accepted in place of top-level keys.

    Raises:
        ConfigError: the file is missing or cannot be parsed.
    """
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config: file not found (got {os.fspath(path)!r})")
    try:
        if p.suffix.lower() == ".json":
            raw = json.loads(p.read_text(encoding="utf-8"))
        else:
            with p.open("rb") as fh:
                raw = tomllib.load(fh)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"config: cannot parse {p.name}: {e}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"config: expected a table of settings in {p.name}")
    for table in ("run", "train"):
        if isinstance(raw.get(table), dict) and len(raw) == 1:
            raw = raw[table]
    return {str(k).replace("-", "_"): v for k, v in raw.items()}


def load_config(path: str | os.PathLike | None = None, **overrides: Any) -> RunConfig:
    """A validated :class:`RunConfig` from a file and/or overrides (``None`` ones ignored).

    Raises:
        ConfigError: a value is invalid; the message is ``field: problem (got value)``.
    """
    settings: dict[str, Any] = read_config_file(path) if path is not None else {}
    settings.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return RunConfig(**settings)
    except ValidationError as e:
        raise ConfigError(format_validation_error(e)) from None


def write_config(config: RunConfig, path: str | os.PathLike) -> Path:
    """Write the resolved configuration as TOML (JSON when ``path`` ends in ``.json``),
    atomically (a kill leaves the old file or the new one, never a torn one)."""
    from .train.checkpoint import atomic_write_text

    p = Path(path)
    data = config.to_dict()
    if p.suffix.lower() == ".json":
        atomic_write_text(p, json.dumps(data, indent=2) + "\n")
        return p
    try:
        import tomli_w
    except ImportError:  # pragma: no cover - tomli-w is part of chainrule[all]
        p = p.with_suffix(".json")
        atomic_write_text(p, json.dumps(data, indent=2) + "\n")
        return p
    header = "# chainrule run configuration (resolved); rerun with: chainrule train --config\n"
    atomic_write_text(p, header + tomli_w.dumps(data))
    return p
