"""Hyperparameter search for the scikit-learn estimators, on this machine or a Dask cluster.

``chainrule search CONFIG.toml`` (and :func:`run_search`) runs scikit-learn's
``GridSearchCV`` or ``RandomizedSearchCV`` over :class:`chainrule.sklearn.MLPClassifier` or
:class:`~chainrule.sklearn.MLPRegressor` on a dataset named in a TOML file. The fits run
in parallel through joblib: on all local cores by default, or on a Dask cluster when a
scheduler address is given (``--scheduler tcp://host:8786``), with
``joblib.parallel_backend("dask")``. The results are the same either way.

The configuration (every key but ``param_grid`` is optional)::

    estimator = "classifier"       # "classifier", "regressor" or "auto" (from the dataset)
    dataset = "digits"             # a name of chainrule.data.DATASETS, or a .csv/.npz path
    target = "label"               # the target column of a CSV file
    search = "grid"                # "grid" (every combination) or "random"
    n_iter = 10                    # random search: number of sampled settings
    cv = 5                         # number of folds (stratified for classifiers)
    cv_shuffle = false             # shuffle before splitting (seeded by random_state)
    scoring = "accuracy"           # a scikit-learn scorer name; default the estimator's score
    standardize = true             # StandardScaler fitted inside each fold
    n_jobs = -1                    # local joblib workers (-1: all cores)
    random_state = 0               # seeds the folds' shuffle and the random search
    error_score = "nan"            # a setting whose fit fails scores NaN ("raise": stop)

    [estimator_params]             # fixed estimator parameters
    max_iter = 50
    random_state = 0

    [param_grid]                   # the values to try
    hidden_layer_sizes = [[32], [64, 32]]
    alpha = [1e-4, 1e-3]
    learning_rate_init = { distribution = "loguniform", low = 1e-4, high = 1e-1 }  # random

Outputs in ``out_dir``: ``cv_results.csv`` (``cv_results_``, one row per setting, the
``mlp__`` prefix of the pipeline removed), ``best_model.safetensors`` (the best setting
refitted on all the data; ``MLPClassifier.load``), ``search.json`` (best parameters and
score, failed settings, timing) and, with ``standardize``, ``preprocessing.json`` (the
scaler's ``mean`` and ``scale``, to apply as ``(X − mean) / scale`` before ``predict``).
Every file is written atomically.

A setting whose fit fails (a learning rate that diverges) scores ``error_score`` (NaN by
default) instead of ending the search; one warning names the failed settings, and
``search.json`` lists them. ``scores.jsonl`` gets one line per fitted fold *as it finishes*
(``{"params": …, "score": …, "n_test": …}``), so a search that is killed keeps what it had
computed (on a Dask cluster the workers append to it, so they must share the output folder's
file system, as a ``LocalCluster`` does).

Register the command on the CLI's typer app with one line::

    app.command("search")(search_command)
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import time
import tomllib
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

__all__ = ["SearchResult", "load_search_config", "run_search", "search_command"]

_PREFIX = "mlp__"
_KEYS = {
    "estimator": "auto",
    "dataset": "digits",
    "target": None,
    "dataset_params": {},
    "search": "grid",
    "n_iter": 10,
    "cv": 5,
    "cv_shuffle": False,
    "scoring": None,
    "standardize": True,
    "n_jobs": -1,
    "random_state": 0,
    "error_score": "nan",
    "estimator_params": {},
    "param_grid": None,
}
_DISTRIBUTIONS = ("uniform", "loguniform", "randint")


@dataclass
class SearchResult:
    """What :func:`run_search` did.

    Attributes:
        best_params: the best setting (parameter names without the pipeline prefix).
        best_score: its mean cross-validated score.
        scoring: the scorer's name (``"score"``: the estimator's own ``score``).
        n_candidates: number of settings tried.
        backend: ``"dask (ADDRESS)"`` or ``"joblib (n_jobs=…)"``.
        seconds: wall time of the search (with the final refit).
        out_dir: where the files were written.
        files: the written files by role (``results``, ``model``, ``summary``,
            ``preprocessing``, ``scores``).
        mean_test_scores: ``cv_results_["mean_test_score"]`` in the order of the CSV rows.
    """

    best_params: dict[str, Any]
    best_score: float
    scoring: str
    n_candidates: int
    backend: str
    seconds: float
    out_dir: Path
    files: dict[str, Path] = field(default_factory=dict)
    mean_test_scores: np.ndarray | None = None


# ------------------------------------------------------------------------------ config


def load_search_config(config_path: str | os.PathLike) -> dict[str, Any]:
    """Read and check a search configuration (TOML); fill in the defaults.

    Raises:
        FileNotFoundError: no such file.
        ValueError: invalid TOML, an unknown key, or a value of the wrong kind (the message
            names the key and the value).
    """
    path = Path(config_path)
    if not path.is_file():
        raise FileNotFoundError(f"no such configuration file: {path}")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"{path}: invalid TOML: {err}") from None
    unknown = sorted(set(raw) - set(_KEYS))
    if unknown:
        raise ValueError(
            f"{path}: unknown key(s) {', '.join(map(repr, unknown))}; valid keys: "
            f"{', '.join(_KEYS)}"
        )
    cfg = {**_KEYS, **raw}
    if not isinstance(cfg["param_grid"], dict) or not cfg["param_grid"]:
        raise ValueError(f"{path}: a [param_grid] table with at least one parameter is needed")
    for key in ("estimator_params", "dataset_params"):
        if not isinstance(cfg[key], dict):
            raise ValueError(f"{path}: {key} must be a table, got {cfg[key]!r}")
    if cfg["search"] not in ("grid", "random"):
        raise ValueError(f"{path}: search must be 'grid' or 'random', got {cfg['search']!r}")
    for key, minimum in (("cv", 2), ("n_iter", 1)):
        value = cfg[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ValueError(f"{path}: {key} must be an int >= {minimum}, got {value!r}")
    if isinstance(cfg["n_jobs"], bool) or not isinstance(cfg["n_jobs"], int) or cfg["n_jobs"] == 0:
        raise ValueError(f"{path}: n_jobs must be a non-zero int, got {cfg['n_jobs']!r}")
    for key in ("standardize", "cv_shuffle"):
        if not isinstance(cfg[key], bool):
            raise ValueError(f"{path}: {key} must be true or false, got {cfg[key]!r}")
    if cfg["scoring"] is not None and not isinstance(cfg["scoring"], str):
        raise ValueError(f"{path}: scoring must be a scorer name, got {cfg['scoring']!r}")
    error_score = cfg["error_score"]
    if error_score == "nan":
        cfg["error_score"] = math.nan
    elif error_score != "raise" and (isinstance(error_score, bool)
                                     or not isinstance(error_score, (int, float))):
        raise ValueError(f"{path}: error_score must be \"nan\", \"raise\" or a number, got "
                         f"{error_score!r}")
    cfg["_dir"] = path.parent
    cfg["_name"] = path.stem
    return cfg


def _tuples(value: Any) -> Any:
    """TOML arrays inside a parameter value as tuples (``[64, 32]`` → ``(64, 32)``)."""
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    return value


def _distribution(name: str, spec: dict[str, Any]) -> Any:
    from scipy import stats

    kind = spec.get("distribution")
    if kind not in _DISTRIBUTIONS or set(spec) != {"distribution", "low", "high"}:
        raise ValueError(
            f"param_grid.{name}: a distribution is a table "
            f"{{ distribution = one of {list(_DISTRIBUTIONS)}, low = …, high = … }}, "
            f"got {spec!r}"
        )
    low, high = spec["low"], spec["high"]
    if not low < high:
        raise ValueError(f"param_grid.{name}: need low < high, got low={low}, high={high}")
    if kind == "uniform":
        return stats.uniform(low, high - low)
    if kind == "loguniform":
        return stats.loguniform(low, high)
    return stats.randint(int(low), int(high) + 1)


def _param_space(cfg: dict[str, Any], valid: set[str]) -> dict[str, Any]:
    space: dict[str, Any] = {}
    for name, values in cfg["param_grid"].items():
        if name not in valid:
            raise ValueError(
                f"param_grid: {name!r} is not a parameter of the estimator; valid names: "
                f"{', '.join(sorted(valid))}"
            )
        if isinstance(values, dict):
            if cfg["search"] != "random":
                raise ValueError(
                    f"param_grid.{name}: distributions need search = \"random\"; a grid "
                    "search takes a list of values"
                )
            space[_PREFIX + name] = _distribution(name, values)
        elif isinstance(values, list) and values:
            space[_PREFIX + name] = [_tuples(v) for v in values]
        else:
            raise ValueError(f"param_grid.{name}: expected a non-empty list of values, "
                             f"got {values!r}")
    return space


def _dataset(cfg: dict[str, Any]) -> Any:
    from .data import load_dataset

    name = cfg["dataset"]
    if not isinstance(name, str):
        raise ValueError(f"dataset must be a name or a file path, got {name!r}")
    kwargs = dict(cfg["dataset_params"])
    if name.lower().endswith((".csv", ".npz")):
        path = Path(name)
        if not path.is_absolute() and not path.exists() and (cfg["_dir"] / path).exists():
            path = cfg["_dir"] / path  # relative to the configuration file
        name = str(path)
        if name.lower().endswith(".csv"):
            if cfg["target"] is None:
                raise ValueError(f"dataset {name!r} is a CSV file: set target = \"column\"")
            kwargs["target"] = cfg["target"]
    return load_dataset(name, **kwargs)


def _estimator(cfg: dict[str, Any], task: str) -> Any:
    from .sklearn import MLPClassifier, MLPRegressor

    kind = str(cfg["estimator"]).lower()
    aliases = {"classifier": "classification", "mlpclassifier": "classification",
               "regressor": "regression", "mlpregressor": "regression", "auto": task}
    if kind not in aliases:
        raise ValueError(
            f"estimator must be 'classifier', 'regressor' or 'auto', got {cfg['estimator']!r}"
        )
    kind = aliases[kind]
    if kind != task:
        raise ValueError(
            f"estimator {cfg['estimator']!r} does not fit dataset {cfg['dataset']!r}, whose "
            f"task is {task}"
        )
    cls = MLPClassifier if kind == "classification" else MLPRegressor
    valid = set(cls().get_params())
    params = {k: _tuples(v) for k, v in cfg["estimator_params"].items()}
    bad = sorted(set(params) - valid)
    if bad:
        raise ValueError(
            f"estimator_params: {', '.join(map(repr, bad))} not parameter(s) of "
            f"{cls.__name__}; valid names: {', '.join(sorted(valid))}"
        )
    return cls(**params), valid


# ------------------------------------------------------------------------------ output


def _cell(value: Any) -> Any:
    if isinstance(value, np.ma.core.MaskedConstant):
        return ""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(_plain(value))
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {_strip(str(k)): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _strip(name: str) -> str:
    return name.replace("param_" + _PREFIX, "param_").removeprefix(_PREFIX)


def write_cv_results(cv_results: dict[str, Any], path: Path) -> None:
    """Write ``cv_results_`` as CSV: one row per setting, one column per key."""
    from .train.checkpoint import atomic_write_text

    keys = list(cv_results)
    n = len(cv_results["params"])
    fh = io.StringIO(newline="")
    writer = csv.writer(fh)
    writer.writerow([_strip(k) for k in keys])
    for i in range(n):
        writer.writerow([_cell(cv_results[k][i]) for k in keys])
    atomic_write_text(path, fh.getvalue())


# ------------------------------------------------------------------------------ search


class _RecordingScorer:
    """A scorer that appends each score to a JSON-lines file as soon as it is computed
    (``O_APPEND`` writes of one line: lines of concurrent workers never interleave)."""

    def __init__(self, scorer: Any, path: str, names: list[str]) -> None:
        self.scorer = scorer
        self.path = path
        self.names = names

    def __call__(self, estimator: Any, X: Any, y: Any) -> float:
        score = self.scorer(estimator, X, y)
        params = estimator.get_params()
        mlp = estimator[-1] if hasattr(estimator, "steps") else estimator
        n_iter, max_iter = getattr(mlp, "n_iter_", None), getattr(mlp, "max_iter", None)
        line = json.dumps({"params": _plain({n: params[_PREFIX + n] for n in self.names}),
                           "score": _cell(float(score)), "n_test": len(y),
                           "n_iter": n_iter,
                           "reached_max_iter": bool(n_iter is not None and max_iter is not None
                                                    and n_iter >= max_iter)})
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (line + "\n").encode("utf-8"))
        finally:
            os.close(fd)
        return score


def _n_candidates(search: Any, space: Any) -> int:
    """Settings a Grid/RandomizedSearchCV will fit (before it runs)."""
    from sklearn.model_selection import ParameterGrid

    n_iter = getattr(search, "n_iter", None)
    try:
        size = len(ParameterGrid(space))
    except TypeError:  # distributions: n_iter draws
        return int(n_iter)
    return size if n_iter is None else min(int(n_iter), size)


def _scored_lines(path: Path) -> list[dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    out = []
    for line in text.splitlines():
        with contextlib.suppress(json.JSONDecodeError):
            out.append(json.loads(line))
    return out


def _fits_at_max_iter(path: Path) -> tuple[int, int]:
    """``(fits that reached max_iter, fits)`` from a search's ``scores.jsonl``."""
    lines = _scored_lines(path)
    return sum(bool(r.get("reached_max_iter")) for r in lines), len(lines)


class _FitWatcher:
    """Polls ``scores.jsonl`` in a thread and reports ``(done, total)`` fits."""

    def __init__(self, path: Path, total: int, report: Callable[[int, int], None],
                 every: float = 0.5) -> None:
        import threading

        self.path, self.total, self.report, self.every = path, total, report, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _count(self) -> int:
        try:
            with self.path.open("rb") as fh:
                return sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(65536), b""))
        except FileNotFoundError:
            return 0

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.report(min(self._count(), self.total), self.total)

    def __enter__(self) -> _FitWatcher:
        self.report(0, self.total)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        self.report(min(self._count(), self.total), self.total)


def _failed_settings(cv_results: dict[str, Any]) -> list[dict[str, Any]]:
    scores = np.asarray(cv_results["mean_test_score"], dtype=float)
    return [_plain(p) for p, s in zip(cv_results["params"], scores) if math.isnan(s)]


def run_search(
    config_path: str | os.PathLike,
    scheduler: str | None = None,
    out_dir: str | os.PathLike | None = None,
    n_jobs: int | None = None,
    progress: Callable[[str], None] | None = None,
    on_fits: Callable[[int, int], None] | None = None,
) -> SearchResult:
    """Run the search described by a TOML file and write its results.

    Args:
        config_path: the configuration (see the module docstring).
        scheduler: address of a Dask scheduler (``tcp://host:8786``); None runs locally
            with joblib on ``n_jobs`` workers.
        out_dir: output folder (created); default ``runs/search-<config name>``.
        n_jobs: overrides the configuration's ``n_jobs`` (local runs).
        progress: called with one-line progress messages.
        on_fits: called as ``on_fits(done, total)`` while the search runs (about twice a
            second, from a thread): the fits scored so far (read from ``scores.jsonl``)
            and the candidates × folds to fit.

    Scikit-learn's ConvergenceWarning of each fit that reaches ``max_iter`` is not shown;
    one message through ``progress`` counts those fits instead.

    Returns:
        A :class:`SearchResult`.

    Raises:
        FileNotFoundError: missing configuration or data file.
        ValueError: an invalid configuration (the message names the key and value).

    Example:
        >>> import pathlib, tempfile
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (folder / "s.toml").write_text(
        ...     'dataset = "iris"\\ncv = 3\\nn_jobs = 1\\n'
        ...     '[estimator_params]\\nmax_iter = 30\\nlearning_rate_init = 0.01\\n'
        ...     'random_state = 0\\n[param_grid]\\nhidden_layer_sizes = [[4], [16]]\\n')
        >>> result = run_search(folder / "s.toml", out_dir=folder / "out")
        >>> result.n_candidates, sorted(p.name for p in result.files.values())
        ... # doctest: +NORMALIZE_WHITESPACE
        (2, ['best_model.safetensors', 'cv_results.csv', 'preprocessing.json',
             'scores.jsonl', 'search.json'])
    """
    import joblib
    from sklearn.exceptions import ConvergenceWarning, FitFailedWarning
    from sklearn.model_selection import (
        GridSearchCV,
        KFold,
        RandomizedSearchCV,
        StratifiedKFold,
    )
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from .train.checkpoint import atomic_write_json

    say = progress or (lambda message: None)
    cfg = load_search_config(config_path)
    ds = _dataset(cfg)
    estimator, valid = _estimator(cfg, ds.task)
    space = _param_space(cfg, valid)
    X = ds.X
    y = ds.y
    if ds.task == "classification":
        y = np.asarray(ds.target_names, dtype=object)[ds.y]  # predict returns the names
    steps = [("scale", StandardScaler())] if cfg["standardize"] else []
    pipeline = Pipeline([*steps, ("mlp", estimator)])
    splitter = StratifiedKFold if ds.task == "classification" else KFold
    cv = splitter(
        n_splits=cfg["cv"],
        shuffle=cfg["cv_shuffle"],
        random_state=cfg["random_state"] if cfg["cv_shuffle"] else None,
    )
    from sklearn.metrics import check_scoring

    out = Path(out_dir) if out_dir is not None else Path("runs") / f"search-{cfg['_name']}"
    out.mkdir(parents=True, exist_ok=True)
    scores_file = out / "scores.jsonl"
    with contextlib.suppress(FileNotFoundError):
        scores_file.unlink()  # this search's scores only
    scorer = _RecordingScorer(check_scoring(pipeline, scoring=cfg["scoring"]),
                              os.fspath(scores_file.resolve()),
                              [k.removeprefix(_PREFIX) for k in space])
    jobs = cfg["n_jobs"] if n_jobs is None else n_jobs
    common = {"scoring": scorer, "cv": cv, "n_jobs": jobs, "refit": True,
              "error_score": cfg["error_score"]}
    if cfg["search"] == "grid":
        search = GridSearchCV(pipeline, space, **common)
    else:
        search = RandomizedSearchCV(
            pipeline, space, n_iter=cfg["n_iter"], random_state=cfg["random_state"], **common
        )

    say(f"{type(search).__name__} of {type(estimator).__name__} on {ds.name} "
        f"({ds.n_samples} samples), {cfg['cv']}-fold CV")
    start = time.perf_counter()
    total = _n_candidates(search, space) * cfg["cv"]
    watcher = _FitWatcher(scores_file, total, on_fits) if on_fits is not None else None
    with warnings.catch_warnings(), (watcher or contextlib.nullcontext()):
        # sklearn's own warnings about failed fits are replaced by one naming the settings,
        # and the fits' ConvergenceWarnings (the filters reach the workers) by one count
        warnings.filterwarnings("ignore", category=FitFailedWarning)
        warnings.filterwarnings("ignore", message=".*test scores are non-finite")
        warnings.filterwarnings("ignore", category=ConvergenceWarning)
        if scheduler:
            from dask.distributed import Client

            backend = f"dask ({scheduler})"
            say(f"connecting to the Dask scheduler at {scheduler}")
            with Client(scheduler, timeout="30s", set_as_default=False) as client:
                with joblib.parallel_backend("dask", client=client):
                    search.fit(X, y)
        else:
            backend = f"joblib (n_jobs={jobs})"
            search.fit(X, y)
    seconds = time.perf_counter() - start
    capped = _fits_at_max_iter(scores_file)
    if capped[0]:
        say(f"warning: {capped[0]} of {capped[1]} fits reached max_iter before converging "
            "(scikit-learn's ConvergenceWarning, counted once); raise max_iter or loosen tol")
    failed = _failed_settings(search.cv_results_)
    if failed:
        message = (f"{len(failed)} of {len(search.cv_results_['params'])} settings failed to "
                   f"fit in at least one fold and score {cfg['error_score']}: "
                   f"{json.dumps(failed)}")
        warnings.warn(message, FitFailedWarning, stacklevel=2)
        say(message)

    files = {"results": out / "cv_results.csv", "model": out / "best_model.safetensors",
             "summary": out / "search.json", "scores": scores_file}
    write_cv_results(search.cv_results_, files["results"])
    best = search.best_estimator_
    best.named_steps["mlp"].save(files["model"])
    if cfg["standardize"]:
        scaler = best.named_steps["scale"]
        files["preprocessing"] = out / "preprocessing.json"
        atomic_write_json(files["preprocessing"], {
            "standardize": True,
            "mean": scaler.mean_.tolist(),
            "scale": scaler.scale_.tolist(),
            "feature_names": list(ds.feature_names),
        })
    scoring = cfg["scoring"] or "score"
    best_params = _plain(search.best_params_)
    atomic_write_json(files["summary"], {
        "estimator": type(estimator).__name__,
        "dataset": ds.name,
        "search": cfg["search"],
        "cv": cfg["cv"],
        "scoring": scoring,
        "best_score": float(search.best_score_),
        "best_params": best_params,
        "n_candidates": len(search.cv_results_["params"]),
        "failed_settings": failed,
        "backend": backend,
        "seconds": round(seconds, 3),
    })
    return SearchResult(
        best_params=best_params,
        best_score=float(search.best_score_),
        scoring=scoring,
        n_candidates=len(search.cv_results_["params"]),
        backend=backend,
        seconds=seconds,
        out_dir=out,
        files=files,
        mean_test_scores=np.asarray(search.cv_results_["mean_test_score"]),
    )


# ----------------------------------------------------------------------------- command


def _stderr_tty() -> bool:
    import sys

    return sys.stderr.isatty()


def search_command(
    config: Annotated[Path, typer.Argument(
        metavar="CONFIG",
        help="TOML file: estimator, dataset (name or CSV), param_grid, cv, scoring…",
        show_default=False)],
    scheduler: Annotated[str | None, typer.Option(
        "--scheduler", help="Address of a Dask scheduler (tcp://host:8786); default: run "
        "locally with joblib on all cores.", show_default=False)] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Output folder. [default: runs/search-<config name>]",
        show_default=False)] = None,
    n_jobs: Annotated[int | None, typer.Option(
        "--n-jobs", help="Local joblib workers (overrides the configuration; -1: all "
        "cores).", show_default=False)] = None,
) -> None:
    """Cross-validated hyperparameter search for MLPClassifier/MLPRegressor.

    Writes cv_results.csv, best_model.safetensors and search.json (and
    preprocessing.json when standardising) to the output folder.
    """
    from .train.progress import format_duration

    started = time.perf_counter()
    last = [-1]

    def say(message: str) -> None:
        typer.echo(message, err=True)

    def fits(done: int, total: int) -> None:
        if done == last[0]:
            return
        last[0] = done
        elapsed = time.perf_counter() - started
        eta = f", eta {format_duration(elapsed / done * (total - done))}" if done else ""
        width = 30
        bar = "#" * (width * done // max(total, 1))
        end = "\n" if done >= total or not _stderr_tty() else "\r"
        if done < total and not _stderr_tty() and done % max(1, total // 10):
            return  # off a terminal: about ten lines
        typer.echo(f"fits [{bar:<{width}}] {done}/{total}{eta}", err=True, nl=False)
        typer.echo(end, err=True, nl=False)

    try:
        result = run_search(config, scheduler=scheduler, out_dir=out, n_jobs=n_jobs,
                            progress=say, on_fits=fits)
    except (ValueError, TypeError, KeyError, FileNotFoundError, OSError) as err:
        message = " ".join(str(err).split())
        typer.echo(f"error: {message}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"best {result.scoring}: {result.best_score:.6g}")
    typer.echo(f"best parameters: {json.dumps(result.best_params)}")
    typer.echo(f"{result.n_candidates} settings via {result.backend} in "
               f"{result.seconds:.1f} s; results in {result.out_dir}: "
               f"{', '.join(sorted(p.name for p in result.files.values()))}")
