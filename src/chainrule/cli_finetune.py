"""``chainrule train --init-from RUN --freeze LAYERS``: fine-tune a saved model.

::

    chainrule train --data big.csv --hidden 64,16 --name pre         # 1. pre-train
    chainrule train --data small.csv --init-from runs/pre --freeze hidden --name tuned

``--init-from RUN`` starts from the model of a finished run folder (its
``model.safetensors``) instead of a new network: the architecture is the saved model's
(``hidden``, ``activation``, ``dropout``, … are taken from ``RUN/config.toml`` and written
into the new run's configuration; giving a different value is an error). The new data must
have as many features as the saved model takes and, since the head is kept, as many
classes (or regression targets) as it outputs; the error says which count differs. The
inputs are standardised with the new training split's statistics, as in every run.

``--freeze LAYERS`` freezes layers of the model (``requires_grad = False``): ``hidden`` —
every layer with parameters but the last, i.e. train only the head — or comma-separated
layer names, the ``layer`` column of the summary that ``chainrule train`` prints (the
prefixes of the ``state_dict`` names: ``0`` for ``0.weight`` and ``0.bias``). A name that is
not a layer with parameters is an error listing the valid ones. Only the other parameters
are trained (and penalised); the summary's ``frozen`` column, the final report and
``metrics.json`` (``n_frozen_parameters``) say how many are frozen.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from .config import RunConfig

__all__ = ["ARCHITECTURE", "finetune_config", "initial_model"]

#: The settings that fix a network's architecture: with ``init_from`` they come from there.
ARCHITECTURE = ("model", "hidden", "conv", "pool", "input_shape", "activation", "dropout",
                "batch_norm", "residual", "init")


def _init_run(init_from: str) -> tuple[Path, Path]:
    """``(model_file, folder)`` of the run named by ``init_from``."""
    from .cli import CLIError, _find_run_files

    try:
        return _find_run_files(init_from)
    except CLIError as e:
        raise CLIError(f"init_from: {e}") from None


def finetune_config(cfg: RunConfig) -> RunConfig:
    """``cfg`` with the architecture settings of its ``init_from`` run (unchanged without
    one).

    Raises:
        CLIError: ``init_from`` is not a finished run folder, or a setting of
            :data:`ARCHITECTURE` given explicitly differs from the saved run's.
    """
    from .cli import CONFIG_FILE, CLIError
    from .config import ConfigError, load_config

    if cfg.init_from is None:
        return cfg
    _, folder = _init_run(cfg.init_from)
    path = folder / CONFIG_FILE
    if not path.is_file():
        raise CLIError(f"init_from: {os.fspath(folder)} has no {CONFIG_FILE}; its "
                       "architecture is unknown (give a run folder written by chainrule "
                       "train)")
    try:
        saved = load_config(path)
    except ConfigError as e:
        raise CLIError(f"init_from: {os.fspath(path)}: {e}") from None
    update = {}
    for key in ARCHITECTURE:
        mine, theirs = getattr(cfg, key), getattr(saved, key)
        if key in cfg.model_fields_set and mine != theirs:
            raise CLIError(f"{key}: the architecture comes from --init-from "
                           f"{cfg.init_from} ({key} = {theirs!r}); leave {key} out "
                           f"(got {mine!r})")
        update[key] = theirs
    return cfg.model_copy(update=update)


def _names(names: list[Any], limit: int = 5) -> str:
    shown = ", ".join(str(n) for n in names[:limit])
    return shown + (", …" if len(names) > limit else "")


def initial_model(cfg: RunConfig, n_in: int, n_out: int, task: str | None = None) -> Any:
    """The model a run starts from: the ``init_from`` run's saved model (checked against
    the data) or a new one (``build_model``), with the ``freeze`` layers frozen.

    Args:
        cfg: the run's configuration.
        n_in, n_out: the data's feature count and output count (classes, or targets).
        task: the data's task (``"classification"``/``"regression"``), checked against the
            saved model's when given.

    Raises:
        CLIError: the saved model's features, outputs or task differ from the data's.
        ValueError: a ``freeze`` name that is not a layer with parameters (listing them).
    """
    from .cli import (
        PREPROCESSING_FILE,
        CLIError,
        _embedded_preprocessing,
        _load_model,
        _read_json_object,
        build_model,
    )
    from .train import freeze
    from .train.loop import sample_output_shape

    if cfg.init_from is None:
        model = build_model(cfg.model_copy(update={"freeze": []}), n_in, n_out)
    else:
        model_file, folder = _init_run(cfg.init_from)
        pre_path = folder / PREPROCESSING_FILE
        pre = _read_json_object(pre_path) if pre_path.is_file() else \
            _embedded_preprocessing(model_file)
        where = f"init_from: the model of {cfg.init_from}"
        features = list(pre.get("feature_names", []))
        if len(features) != n_in:
            raise CLIError(f"{where} takes {len(features)} features ({_names(features)}), "
                           f"the data has {n_in}; fine-tune on data with the same columns")
        saved_task = pre.get("task")
        if task is not None and saved_task is not None and saved_task != task:
            raise CLIError(f"{where} was trained for {saved_task}, the data is a {task} "
                           "set; fine-tune on data of the same task")
        outputs = list(pre.get("target_names", []))
        model = _load_model(model_file)
        n_saved = int(np.prod(sample_output_shape(model, np.zeros((1, n_in), np.float32))))
        if n_saved != n_out:
            what = "classes" if saved_task == "classification" else "outputs"
            raise CLIError(f"{where} has {n_saved} {what} ({_names(outputs)}), the data has "
                           f"{n_out}; its head is kept, so the data needs as many {what}")
    if cfg.freeze:
        freeze(model, cfg.freeze)
    return model
