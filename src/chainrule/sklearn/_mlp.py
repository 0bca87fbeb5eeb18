"""MLPClassifier and MLPRegressor: scikit-learn estimators that train chainrule networks.

The network is ``Linear → [BatchNorm1d] → activation → [Dropout]`` for every hidden layer,
then an output ``Linear``; the output activation and the loss follow the task, as in
``sklearn.neural_network``:

=====================  ==================  ==============================================
task                   output              loss per sample (``z`` the output layer)
=====================  ==================  ==============================================
multiclass             softmax             ``−log softmax(z)_y``
binary, multilabel     logistic            ``Σ_k BCE(σ(z_k), y_k)``
regression             identity            ``½·mean_k (z_k − y_k)²`` (``squared_error``)
=====================  ==================  ==============================================

Training minimises, over each mini-batch ``B`` with sample weights ``w`` (ones by default,
times ``class_weight``)::

    J = Σ_{i∈B} w_i·ℓ_i / Σ_{i∈B} w_i  +  alpha/(2·Σ_{i∈B} w_i)·‖W‖²  +  l1/Σ_{i∈B} w_i·‖W‖₁

where ``W`` are the weight matrices (not the biases) — scikit-learn's scaling of ``alpha``.
``solver="lbfgs"`` minimises the same ``J`` with the batch ``B`` being the whole training
set, by ``scipy.optimize.minimize(method="L-BFGS-B")``.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import warnings
from numbers import Integral
from types import SimpleNamespace
from typing import Any

import numpy as np
from scipy.sparse import issparse
from scipy.special import expit, log_softmax, xlogy
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import (
    check_classification_targets,
    type_of_target,
    unique_labels,
)
from sklearn.utils.validation import (
    check_is_fitted,
    column_or_1d,
    validate_data,
)
from threadpoolctl import threadpool_limits

from .. import nn, optim
from .._checks import (
    check_bool,
    check_choice,
    check_int,
    check_nonneg,
    check_real,
    check_sample_weight,
)
from ..autodiff import no_grad
from ..nn import functional as F
from ..tensor import tensor
from ..train.step import TrainingStep, step_schedule
from ..train.stopping import Patience

__all__ = ["MLPClassifier", "MLPRegressor", "load"]

_DTYPES = {"float32": np.float32, "float64": np.float64}
_SCHEDULES = ("constant", "invscaling", "adaptive")
_LBFGS_SPARSE_CHUNK = 1024  # sparse rows densified at a time in the L-BFGS objective
_PREDICT_CHUNK = 4096  # rows per forward pass in predict (sparse rows densified per chunk)
_BLAS_THREADING_FLOPS = 2**25  # multiply-adds per layer and batch above which BLAS may thread


def _as_dtype(value: Any, data: Any = None) -> np.dtype:
    """The float dtype named by the ``dtype`` parameter: float32 or float64; ``"auto"``
    is the dtype of ``data`` (the training ``X``, as scikit-learn), float64 when unknown."""
    if isinstance(value, str) and value == "auto":
        kind = getattr(data, "dtype", None)
        return np.dtype(np.float32) if kind == np.float32 else np.dtype(np.float64)
    try:
        dt = np.dtype(_DTYPES.get(value, value) if isinstance(value, str) else value)
    except TypeError:
        dt = None
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"dtype must be 'auto', 'float32' or 'float64', got {value!r}")
    return dt


def _check_name(value: Any, name: str, registry: Any, allowed: Any = None) -> None:
    """``value`` must be a name of ``registry`` (whose entry passes ``allowed``)."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__} {value!r}")
    entry = registry.find(value)
    if entry is None or (allowed is not None and not allowed(entry)):
        valid = sorted(n for n in registry if allowed is None or allowed(registry.entry(n)))
        raise ValueError(f"{name} must be one of {', '.join(valid)}; got {value!r}")


def _optional_dict(value: Any, name: str) -> None:
    if value is not None and not isinstance(value, dict):
        raise TypeError(f"{name} must be a dict or None, got {type(value).__name__}")


def _seed_generator(random_state: Any) -> np.random.Generator:
    """A NumPy Generator for scikit-learn's ``random_state`` (None, int or RandomState)."""
    if random_state is None:
        return np.random.default_rng()
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(np.iinfo(np.int32).max))
    return np.random.default_rng(int(random_state))


def _blas_limit(model: Any, batch: int) -> Any:
    """One BLAS thread while training small networks (a context manager).

    For products of a few hundred rows and columns, waking other BLAS threads costs more
    than it saves — several times more on a busy machine — so small networks train on one
    thread; large ones keep the BLAS default.
    """
    flops = max(
        (batch * m.in_features * m.out_features for m in model if isinstance(m, nn.Linear)),
        default=0,
    )
    if flops > _BLAS_THREADING_FLOPS:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _sklearn_init(
    sizes: list[int], activation: str, random_state: Any
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """scikit-learn's initialisation (``init="auto"``): for each layer ``fan_in → fan_out``
    the weights ``(fan_in, fan_out)`` then the biases ``~ U(−a, a)``,
    ``a = √(f / (fan_in + fan_out))`` with ``f = 2`` for the logistic activation and ``f = 6``
    otherwise (Glorot & Bengio, 2010), drawn in scikit-learn's order from a
    ``numpy.random.RandomState`` — so an int ``random_state`` starts from scikit-learn's own
    initial weights."""
    rs = (random_state if isinstance(random_state, np.random.RandomState)
          else np.random.RandomState(random_state))
    factor = 2.0 if nn.ACTIVATIONS.find(activation) is nn.ACTIVATIONS.find("logistic") else 6.0
    coefs, intercepts = [], []
    for fan_in, fan_out in itertools.pairwise(sizes):
        a = np.sqrt(factor / (fan_in + fan_out))
        coefs.append(rs.uniform(-a, a, (fan_in, fan_out)))
        intercepts.append(rs.uniform(-a, a, fan_out))
    return coefs, intercepts


def _stochastic_solver(est: Any) -> bool:
    """``partial_fit`` exists for the stochastic solvers only (not ``"lbfgs"``)."""
    if est.solver == "lbfgs":
        raise AttributeError(
            "partial_fit is only available for stochastic optimizers. lbfgs is not stochastic."
        )
    return True


class _BaseMLP(BaseEstimator):
    """The training machinery shared by :class:`MLPClassifier` and :class:`MLPRegressor`."""

    def __init__(
        self,
        hidden_layer_sizes: Any = (100,),
        activation: str = "relu",
        *,
        solver: str = "adam",
        alpha: float = 1e-4,
        batch_size: int | str = "auto",
        learning_rate: str = "constant",
        learning_rate_init: float = 1e-3,
        power_t: float = 0.5,
        max_iter: int = 200,
        shuffle: bool = True,
        random_state: Any = None,
        tol: float = 1e-4,
        verbose: bool = False,
        warm_start: bool = False,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        n_iter_no_change: int = 10,
        max_fun: int = 15000,
        init: Any = "auto",
        dropout: float = 0.0,
        batch_norm: bool = False,
        l1: float = 0.0,
        optimizer_params: dict | None = None,
        schedule: str | None = None,
        schedule_params: dict | None = None,
        restore_best_weights: bool = True,
        dtype: Any = "auto",
        freeze: Any = None,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.init = init
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.l1 = l1
        self.optimizer_params = optimizer_params
        self.schedule = schedule
        self.schedule_params = schedule_params
        self.restore_best_weights = restore_best_weights
        self.dtype = dtype
        self.freeze = freeze

    # ------------------------------------------------------------------- checks of params
    def _check_params(self) -> None:
        """Check every parameter before anything is fitted (``TypeError`` / ``ValueError``
        naming the parameter, its valid range and the value)."""
        self._hidden_sizes()
        _check_name(self.activation, "activation", nn.ACTIVATIONS,
                    lambda e: e.get("hidden", True))
        if self.solver != "lbfgs":
            _check_name(self.solver, "solver", optim.OPTIMIZERS)
        elif self.dropout:
            raise ValueError(
                f"solver='lbfgs' minimises one deterministic objective; dropout={self.dropout} "
                "makes it random — use a stochastic solver (e.g. 'adam') with dropout"
            )
        check_int(self.max_fun, "max_fun", 1)
        check_nonneg(self.alpha, "alpha")
        if not (isinstance(self.batch_size, str) and self.batch_size == "auto"):
            check_int(self.batch_size, "batch_size", 1)
        check_choice(self.learning_rate, "learning_rate", _SCHEDULES)
        check_real(self.learning_rate_init, "learning_rate_init", 0.0, low_open=True)
        check_nonneg(self.power_t, "power_t")
        check_int(self.max_iter, "max_iter", 1)
        for flag in ("shuffle", "warm_start", "nesterovs_momentum", "early_stopping",
                     "batch_norm", "restore_best_weights"):
            check_bool(getattr(self, flag), flag)
        rs = self.random_state
        if not (rs is None or isinstance(rs, np.random.RandomState)):
            check_int(rs, "random_state", 0)
        if not isinstance(self.verbose, (bool, np.bool_)):
            check_int(self.verbose, "verbose", 0)
        check_nonneg(self.tol, "tol")
        check_real(self.momentum, "momentum", 0.0, 1.0, high_open=False)
        check_real(self.validation_fraction, "validation_fraction", 0.0, 1.0)
        check_real(self.beta_1, "beta_1", 0.0, 1.0)
        check_real(self.beta_2, "beta_2", 0.0, 1.0)
        check_real(self.epsilon, "epsilon", 0.0, low_open=True)
        if not (isinstance(self.n_iter_no_change, float) and self.n_iter_no_change == np.inf):
            check_int(self.n_iter_no_change, "n_iter_no_change", 1)
        if not (callable(self.init) or self.init == "auto"):
            _check_name(self.init, "init", nn.INITIALIZERS)
        check_real(self.dropout, "dropout", 0.0, 1.0)
        check_nonneg(self.l1, "l1")
        _optional_dict(self.optimizer_params, "optimizer_params")
        if self.schedule is not None:
            _check_name(self.schedule, "schedule", optim.SCHEDULERS)
        _optional_dict(self.schedule_params, "schedule_params")
        _as_dtype(self.dtype)
        self._frozen_layers()

    def _hidden_sizes(self) -> list[int]:
        sizes = self.hidden_layer_sizes
        if not hasattr(sizes, "__iter__"):
            sizes = [sizes]
        sizes = list(sizes)
        for s in sizes:
            if isinstance(s, bool) or not isinstance(s, Integral) or s <= 0:
                raise ValueError(
                    f"hidden_layer_sizes must hold positive ints, got {self.hidden_layer_sizes!r}"
                )
        return [int(s) for s in sizes]

    def _frozen_layers(self) -> set[int]:
        """The layer indices (of ``coefs_``) that ``freeze`` names, checked."""
        n = len(self._hidden_sizes()) + 1
        f = self.freeze
        if f is None:
            return set()
        if isinstance(f, str):
            if f != "hidden":
                raise ValueError(f"freeze must be None, 'hidden' or layer indices 0…{n - 1} "
                                 f"(of coefs_), got {f!r}")
            if n < 2:
                raise ValueError("freeze='hidden' needs a hidden layer; hidden_layer_sizes is "
                                 f"{self.hidden_layer_sizes!r}")
            return set(range(n - 1))
        items = [f] if isinstance(f, Integral) else f
        if not hasattr(items, "__iter__"):
            raise TypeError(f"freeze must be None, 'hidden' or layer indices, got "
                            f"{type(f).__name__}")
        chosen = set()
        for i in items:
            if isinstance(i, bool) or not isinstance(i, Integral) or not 0 <= i < n:
                raise ValueError(f"freeze: layer indices must be ints in 0…{n - 1} (one per "
                                 f"coefs_ entry), got {i!r}")
            chosen.add(int(i))
        if len(chosen) == n:
            raise ValueError(f"freeze={f!r} freezes every layer; leave at least one to train")
        return chosen

    def _apply_freeze(self, announce: bool = True) -> None:
        """Set ``requires_grad`` of every parameter from ``freeze``: layer ``i`` is the
        ``i``-th Linear (``coefs_[i]``, ``intercepts_[i]``) and the batch norm after it;
        with ``verbose`` (and ``announce``) print what is frozen."""
        frozen = self._frozen_layers()
        layer = -1
        for m in self.model_:
            if isinstance(m, nn.Linear):
                layer += 1
            m.requires_grad_(layer not in frozen)
        self.n_frozen_parameters_ = int(sum(p.data.size for p in self.model_.parameters()
                                            if not p.requires_grad))
        if self.verbose and announce and frozen:
            total = sum(p.data.size for p in self.model_.parameters())
            print(f"Frozen layers {sorted(frozen)}: {self.n_frozen_parameters_} of {total} "
                  "parameters kept fixed")

    def _architecture(self) -> dict[str, Any]:
        """What fixes the network's shape: a warm start must keep it."""
        return {
            "hidden_layer_sizes": self._hidden_sizes(),
            "activation": self.activation,
            "batch_norm": bool(self.batch_norm),
            "dropout": float(self.dropout),
            "dtype": self.dtype if self.dtype == "auto" else str(_as_dtype(self.dtype)),
        }

    def _optimizer_kwargs(self) -> dict[str, Any]:
        """The optimiser's hyperparameters: the learning rate, the scikit-learn settings that
        its ``optim.OPTIMIZERS`` entry takes (``sklearn_params``), then
        ``optimizer_params``."""
        takes = optim.OPTIMIZERS.entry(self.solver).get("sklearn_params", ())
        kwargs: dict[str, Any] = {"lr": float(self.learning_rate_init)}
        if "betas" in takes:
            kwargs["betas"] = (float(self.beta_1), float(self.beta_2))
        if "eps" in takes:
            kwargs["eps"] = float(self.epsilon)
        if "momentum" in takes:
            kwargs["momentum"] = float(self.momentum)
        if "nesterov" in takes:
            kwargs["nesterov"] = bool(self.nesterovs_momentum) and self.momentum > 0
        kwargs.update(self.optimizer_params or {})
        return kwargs

    def _schedule_config(self) -> tuple[Any, ...]:
        return (self.learning_rate, self.schedule, copy.deepcopy(self.schedule_params))

    # -------------------------------------------------------------------------- building
    def _build_model(self, n_features: int, n_outputs: int, gen: np.random.Generator) -> Any:
        """``Linear → [BatchNorm1d] → activation → [Dropout]`` per hidden layer, then Linear
        (``nn.mlp``, its weights and dropout generator drawn from ``gen``)."""
        model = nn.mlp(
            [n_features, *self._hidden_sizes(), n_outputs], self.activation,
            init="zeros" if self.init == "auto" else self.init, batch_norm=bool(self.batch_norm),
            dropout=float(self.dropout), seed=gen, dtype=self._param_dtype(),
        )
        drops = [m for m in model if isinstance(m, nn.Dropout)]
        self._dropout_rng = drops[0]._gen if drops else None
        return model

    def _param_dtype(self) -> np.dtype:
        """The parameters' dtype: ``dtype``, or with ``"auto"`` that of the first fit's X."""
        if isinstance(self.dtype, str) and self.dtype == "auto":
            return np.dtype(getattr(self, "_fit_dtype", "float64"))
        return _as_dtype(self.dtype)

    def _make_optimizer(self) -> Any:
        if self.solver == "lbfgs":  # scipy's L-BFGS-B keeps its own state, per fit
            self._optimizer_config = ("lbfgs", {})
            return None
        kwargs = self._optimizer_kwargs()
        try:
            opt = optim.get_optimizer(self.solver, list(self.model_.parameters()), **kwargs)
        except TypeError as err:
            raise ValueError(
                f"optimizer_params={self.optimizer_params!r} do not fit solver "
                f"{self.solver!r}: {err}"
            ) from None
        self._optimizer_config = (self.solver.lower(), copy.deepcopy(kwargs))
        return opt

    def _make_scheduler(self) -> Any:
        self._scheduler_config = self._schedule_config()
        if self.schedule is None or self.optimizer_ is None:
            return None
        if self.learning_rate != "constant":
            raise ValueError(
                f"give either schedule={self.schedule!r} or learning_rate="
                f"{self.learning_rate!r}, not both (learning_rate must be 'constant' "
                "when a schedule is set)"
            )
        try:
            return optim.get_scheduler(
                self.schedule, self.optimizer_, **(self.schedule_params or {})
            )
        except TypeError as err:
            raise ValueError(
                f"schedule_params={self.schedule_params!r} do not fit schedule "
                f"{self.schedule!r}: {err}"
            ) from None

    def _initialize(self, n_features: int, n_outputs: int, X: Any) -> None:
        """Fresh network, optimiser, schedule and training records (first fit)."""
        sizes = [n_features, *self._hidden_sizes(), n_outputs]
        if self.init == "auto":
            start = _sklearn_init(sizes, self.activation, self.random_state)
        self._rng = _seed_generator(self.random_state)
        self.n_outputs_ = int(n_outputs)
        self.n_layers_ = len(sizes)
        self._fit_dtype = _as_dtype(self.dtype, X).name
        self.model_ = self._build_model(n_features, n_outputs, self._rng)
        if self.init == "auto":
            self._set_layers("weight", start[0])
            self._set_layers("bias", start[1])
        self._arch = self._architecture()
        self.optimizer_ = self._make_optimizer()
        self._scheduler = self._make_scheduler()
        self.n_iter_ = 0
        self.t_ = 0
        self.loss_curve_: list[float] = []
        # scikit-learn's convention: best_loss_ is None while the validation score decides
        self.best_loss_ = None if self.early_stopping else np.inf
        self._no_improvement_count = 0
        self.validation_loss_curve_: list[float] | None = [] if self.early_stopping else None
        self.validation_scores_: list[float] | None = [] if self.early_stopping else None
        self.best_validation_score_: float | None = -np.inf if self.early_stopping else None

    def _continue(self, n_outputs: int) -> None:
        """Checks and updates before a warm start or a later ``partial_fit``."""
        if self._architecture() != self._arch:
            raise ValueError(
                f"the network's architecture changed since the last fit ({self._arch} → "
                f"{self._architecture()}); a warm start or partial_fit needs the same "
                "architecture — set warm_start=False to train a new network"
            )
        if n_outputs != self.n_outputs_:
            raise ValueError(
                f"y gives {n_outputs} outputs but the network was fitted with "
                f"{self.n_outputs_}"
            )
        kwargs = {} if self.solver == "lbfgs" else self._optimizer_kwargs()
        if self.solver.lower() != self._optimizer_config[0]:
            self.optimizer_ = self._make_optimizer()  # another algorithm: no state to keep
            self._scheduler = self._make_scheduler()
        elif kwargs != self._optimizer_config[1]:
            for group in self.optimizer_.param_groups:  # new settings, same moments
                group.update(copy.deepcopy(kwargs))
            self._optimizer_config = (self._optimizer_config[0], copy.deepcopy(kwargs))
        if self._schedule_config() != self._scheduler_config:
            self._scheduler = self._make_scheduler()
        if self.early_stopping and self.validation_scores_ is None:
            self.validation_loss_curve_, self.validation_scores_ = [], []
        if self.early_stopping:
            self.best_validation_score_ = -np.inf
        elif self.best_loss_ is None:  # early stopping was on in the previous fit
            self.best_loss_ = np.inf

    # -------------------------------------------------------------------------- fitting
    def _fit(
        self,
        X: Any,
        y: Any,
        sample_weight: Any = None,
        incremental: bool = False,
        classes: Any = None,
    ) -> _BaseMLP:
        if incremental and self.early_stopping:
            raise ValueError(
                "partial_fit does not support early_stopping=True (there is no validation "
                "set to watch); set early_stopping=False"
            )
        self._check_params()
        first_pass = not hasattr(self, "model_") or (not self.warm_start and not incremental)
        X, Y, y_raw = self._validate_training_data(X, y, first_pass, incremental, classes)
        sw = self._sample_weights(sample_weight, X, y_raw, incremental)
        pending = self.__dict__.pop("_pending_layers", None)
        if first_pass:
            self._initialize(X.shape[1], Y.shape[1], X)
            if pending is not None and (incremental or self.warm_start):
                # coefs_ / intercepts_ given before the first partial_fit or warm start
                for kind, arrays in pending.items():
                    self._set_layers(kind, arrays)
        else:
            self._continue(Y.shape[1])
        self._apply_freeze()
        dt = self._param_dtype()
        X = X.tocsr().astype(dt) if issparse(X) else np.ascontiguousarray(X, dtype=dt)
        Y = np.ascontiguousarray(Y, dtype=dt)
        if self.solver == "lbfgs":
            with _blas_limit(self.model_, X.shape[0]):
                self._train_lbfgs(X, Y, sw)
            return self
        batch = min(200 if self.batch_size == "auto" else int(self.batch_size), X.shape[0])
        with _blas_limit(self.model_, batch):
            self._train(X, Y, y_raw, sw, incremental)
        return self

    def _sample_weights(
        self, sample_weight: Any, X: np.ndarray, y: np.ndarray, incremental: bool
    ) -> np.ndarray:
        return check_sample_weight(sample_weight, X.shape[0])

    def _batch_size(self, n: int) -> int:
        if self.batch_size == "auto":
            return min(200, n)
        if self.batch_size > n:
            warnings.warn(
                f"batch_size={self.batch_size} is larger than the {n} training samples; "
                f"using batches of {n}",
                UserWarning,
                stacklevel=5,  # _batch_size ← _train ← _fit ← fit ← caller
            )
        return int(min(self.batch_size, n))

    def _batches(self, n: int, batch_size: int) -> list[tuple[int, int]]:
        bounds = [(s, min(s + batch_size, n)) for s in range(0, n, batch_size)]
        if self.batch_norm and len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] == 1:
            # batch statistics need two samples: merge a lone last sample into its neighbour
            bounds[-2:] = [(bounds[-2][0], n)]
        if self.batch_norm and n < 2:
            raise ValueError(
                f"batch_norm=True needs at least 2 training samples per batch, got n={n}"
            )
        return bounds

    def _split_validation(
        self, X: np.ndarray, Y: np.ndarray, y_raw: np.ndarray, sw: np.ndarray
    ) -> tuple[Any, ...]:
        if not self.validation_fraction > 0:
            raise ValueError(
                "early_stopping=True needs a validation set: validation_fraction must be > 0, "
                f"got {self.validation_fraction}"
            )
        stratify = self._stratify_labels(Y, y_raw)
        idx_train, idx_val = train_test_split(
            np.arange(X.shape[0]),
            test_size=self.validation_fraction,
            random_state=int(self._rng.integers(np.iinfo(np.int32).max)),
            stratify=stratify,
        )
        if idx_val.shape[0] < 2:
            raise ValueError(
                f"The validation set is too small ({idx_val.shape[0]} sample(s) from "
                f"validation_fraction={self.validation_fraction} of {X.shape[0]}). Increase "
                "'validation_fraction' or the size of your dataset."
            )
        return (
            X[idx_train], Y[idx_train], sw[idx_train],
            X[idx_val], Y[idx_val], y_raw[idx_val], sw[idx_val],
        )

    def _stratify_labels(self, Y: np.ndarray, y_raw: np.ndarray) -> np.ndarray | None:
        """The labels the validation split is stratified on (None: not stratified)."""
        return None

    def _weighted_loss(self, z: Any, Y: Any, w: Any = None) -> Any:
        """The data loss ``Σᵢ wᵢ·ℓᵢ / Σᵢ wᵢ`` of a batch (the mean when ``w`` is None)."""
        if w is None:
            return self._data_loss(z, Y, 1.0 / z.shape[0])
        return self._data_loss(z, Y, (w / w.sum()).reshape(-1, 1))

    def _training_step(self) -> TrainingStep:
        """The training step (cached while the network and optimiser stay the same):
        ``J = Σwᵢℓᵢ/Σw + (alpha/(2Σw))·‖W‖² + (l1/Σw)·‖W‖₁`` for each batch."""
        key = (float(self.alpha), float(self.l1), getattr(self, "loss", None),
               self.out_activation_, id(self.model_), id(self.optimizer_),
               tuple(p.requires_grad for p in self.model_.parameters()))
        cached = getattr(self, "_step_cache", None)
        if cached is not None and cached[0] == key:
            return cached[1]
        step = TrainingStep(self.model_, self._weighted_loss, self.optimizer_,
                            l1=float(self.l1), l2=float(self.alpha), penalty_per_weight=True)
        self._step_cache = (key, step)
        return step

    def _epoch(self, X: np.ndarray, Y: np.ndarray, sw: np.ndarray, batch_size: int) -> float:
        """One pass over the training data; returns the mean loss (scikit-learn's loss_)."""
        self.model_.train()
        n = X.shape[0]
        if self.shuffle:
            order = self._rng.permutation(n)
            X, Y, sw = X[order], Y[order], sw[order]  # one gather; the batches are views
        dt = X.dtype
        unit = bool(np.all(sw == 1.0))
        sw_dt = None if unit else sw.astype(dt)
        step = self._training_step()
        accumulated = 0.0
        sparse = issparse(X)
        for start, stop in self._batches(n, batch_size):
            xb, yb = X[start:stop], Y[start:stop]
            if sparse:
                xb = xb.toarray()  # one batch densified at a time
            if unit:
                value = step(xb, yb).objective + self._loss_offset(yb, None)
            else:
                wb = sw[start:stop]
                sw_sum = float(wb.sum())
                if sw_sum <= 0:  # nothing to learn from this batch
                    continue
                value = step(xb, yb, sw_dt[start:stop]).objective
                value += self._loss_offset(yb, (wb / sw_sum)[:, None])
            accumulated += value * (stop - start)
        return accumulated / n

    def _loss_offset(self, Y: np.ndarray, wn: np.ndarray | None) -> float:
        """A constant part of the data loss left out of the graph (reported only)."""
        return 0.0

    def _train(
        self, X: np.ndarray, Y: np.ndarray, y_raw: np.ndarray, sw: np.ndarray, incremental: bool
    ) -> None:
        early = bool(self.early_stopping) and not incremental
        if early:
            X, Y, sw, X_val, Y_val, y_val, sw_val = self._split_validation(X, Y, y_raw, sw)
        # scikit-learn's rule: an epoch improves when it beats the best by tol (inclusive),
        # the best moves on any better value, and more than n_iter_no_change epochs without
        # improvement stop
        rule = Patience("max" if early else "min", self.tol, self.n_iter_no_change + 1,
                        inclusive=True, track_any=True,
                        best=self.best_validation_score_ if early else self.best_loss_)
        rule.wait = self._no_improvement_count
        batch_size = self._batch_size(X.shape[0])
        self.n_iter_ = 0
        stopped = False
        for _ in range(self.max_iter):
            loss = self._epoch(X, Y, sw, batch_size)
            self.n_iter_ += 1
            self.t_ += X.shape[0]
            self.loss_ = loss
            self.loss_curve_.append(loss)
            if self.verbose:
                print(f"Iteration {self.n_iter_}, loss = {loss:.8f}")
            if early:
                val_loss = self._evaluate_loss(X_val, Y_val, sw_val)
                score = self._validation_score(X_val, y_val, sw_val)
                self.validation_loss_curve_.append(val_loss)
                self.validation_scores_.append(score)
                if self.verbose:
                    print(f"Validation score: {score:.6f}, validation loss = {val_loss:.8f}")
                exhausted = rule.update(score, self.n_iter_, self.model_)
                self.best_validation_score_ = rule.best
            else:
                exhausted = rule.update(loss, self.n_iter_)
            self._no_improvement_count = rule.wait
            if not early:
                self.best_loss_ = min(self.best_loss_, loss)
            self._end_of_epoch_schedule(val_loss if early else loss)
            if exhausted:
                what = "Validation score" if early else "Training loss"
                msg = (
                    f"{what} did not improve more than tol={self.tol} for "
                    f"{self.n_iter_no_change} consecutive epochs."
                )
                lr = self.optimizer_.param_groups[0]["lr"]
                if self.learning_rate == "adaptive" and lr > 1e-6:
                    for group in self.optimizer_.param_groups:
                        group["lr"] = group["lr"] / 5.0
                    self._no_improvement_count = rule.wait = 0
                    if self.verbose:
                        print(f"{msg} Setting learning rate to {lr / 5.0:f}")
                else:
                    if self.verbose:
                        print(f"{msg} Stopping.")
                    stopped = True
                    break
            if incremental:
                break
        if not stopped and not incremental and self.n_iter_ == self.max_iter:
            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the "
                "optimization hasn't converged yet.",
                ConvergenceWarning,
                stacklevel=4,  # _train ← _fit ← fit ← caller
            )
        if early and not np.all(np.isfinite(self.validation_scores_[-self.n_iter_:])):
            # scikit-learn issue 29504: a diverging run ends with a warning, not an error
            warnings.warn(
                f"the training diverged (validation score NaN) with learning_rate_init="
                f"{self.learning_rate_init}; "
                + ("the best epoch's weights were restored" if self.restore_best_weights
                   else "the weights are not finite")
                + " — lower learning_rate_init or scale the data",
                ConvergenceWarning,
                stacklevel=4,  # _train ← _fit ← fit ← caller
            )
        if early and self.restore_best_weights and rule.best_state is not None:
            self.model_.load_state_dict(rule.best_state)
        self._check_finite()

    def _check_finite(self) -> None:
        """scikit-learn's error when training ends on non-finite weights."""
        self.model_.eval()
        for p in self.model_.parameters():
            if not np.all(np.isfinite(p.data)):
                raise ValueError(
                    "Solver produced non-finite parameter weights. The input data may "
                    "contain large values and need to be preprocessed (or lower "
                    f"learning_rate_init={self.learning_rate_init})."
                )

    # ------------------------------------------------------------------------- L-BFGS
    def _flat_parameters(self) -> list[tuple[Any, bool]]:
        """The parameters in the order of θ — scikit-learn's packing: every weight matrix
        (as ``coefs_``, ``(fan_in, fan_out)``), every bias, then any other parameter
        (batch norm's) — each with whether it is stored transposed. Frozen parameters
        (``freeze``) are left out: L-BFGS does not move them."""
        linears = self._linears()
        ordered = [(m.weight, True) for m in linears] + [(m.bias, False) for m in linears]
        seen = {id(p) for p, _ in ordered}
        ordered += [(p, False) for p in self.model_.parameters() if id(p) not in seen]
        return [(p, t) for p, t in ordered if p.requires_grad]

    def _flat(self) -> np.ndarray:
        """θ: the parameters as one float64 vector (see :meth:`_flat_parameters`)."""
        return np.concatenate([(p.data.T if t else p.data).ravel()
                               for p, t in self._flat_parameters()]).astype(np.float64)

    def _set_flat(self, theta: np.ndarray) -> None:
        """Write θ into the parameters, in place and in their dtype."""
        pos = 0
        for p, t in self._flat_parameters():
            shape = p.data.shape[::-1] if t else p.data.shape
            block = theta[pos:pos + p.data.size].reshape(shape)
            p.data[...] = block.T if t else block
            pos += p.data.size

    def _loss_grad_lbfgs(
        self, packed: np.ndarray, X: Any, y: Any, sample_weight: Any = None, *buffers: Any
    ) -> tuple[float, np.ndarray]:
        """``J(θ)`` and ``∂J/∂θ`` (float64) over the whole training set, for L-BFGS-B::

            J(θ) = Σᵢ wᵢ·ℓᵢ / Σᵢ wᵢ + alpha/(2·Σᵢ wᵢ)·‖W‖² + l1/Σᵢ wᵢ·‖W‖₁

        the objective of the stochastic solvers with the batch being every sample. θ is
        packed as scikit-learn packs it (:meth:`_flat_parameters`), and the signature is
        scikit-learn's: the trailing arguments (its preallocated buffers) are accepted and
        not used. Sparse ``X`` is densified a chunk of rows at a time; the gradient is
        chainrule's reverse sweep, accumulated over the chunks.
        """
        del buffers
        dt = self._param_dtype()
        self._set_flat(np.asarray(packed, dtype=np.float64))
        n = X.shape[0]
        Y = np.asarray(y, dtype=dt).reshape(n, -1)
        if sample_weight is None:
            wn, total = None, float(n)
        else:
            sw = np.asarray(sample_weight, dtype=np.float64)
            total = float(sw.sum())
            wn = (sw / total).astype(dt)[:, None]
        model = self.model_
        model.train()
        model.zero_grad()
        chunk = _LBFGS_SPARSE_CHUNK if issparse(X) else max(n, 1)
        value = self._loss_offset(Y, wn)
        for start in range(0, n, chunk):
            xb = X[start:start + chunk]
            xb = np.asarray(xb.toarray() if issparse(xb) else xb, dtype=dt)
            w = 1.0 / n if wn is None else tensor(wn[start:start + chunk])
            data = self._data_loss(model(tensor(xb)), tensor(Y[start:start + chunk]), w)
            data.backward()
            value += float(data.item())
        weights = nn.weight_parameters(model)
        penalty = None
        if self.alpha:
            penalty = nn.l2_penalty(weights, float(self.alpha))
        if self.l1:
            l1 = nn.l1_penalty(weights, float(self.l1))
            penalty = l1 if penalty is None else penalty + l1
        if penalty is not None:
            penalty = penalty / total
            penalty.backward()
            value += float(penalty.item())
        grads = []
        for p, t in self._flat_parameters():
            g = np.zeros(p.data.shape) if p.grad is None else p.grad.data
            grads.append((g.T if t else g).ravel())
        return value, np.concatenate(grads).astype(np.float64)

    def _train_lbfgs(self, X: Any, Y: np.ndarray, sw: np.ndarray) -> None:
        """Minimise :meth:`_loss_grad_lbfgs` with ``scipy.optimize.minimize(method=
        "L-BFGS-B")``: at most ``max_iter`` iterations and ``max_fun`` evaluations, stopping
        when the largest gradient component is at most ``tol`` (scikit-learn's settings)."""
        from scipy.optimize import minimize

        losses: list[float] = []

        def record(intermediate_result: Any) -> None:
            losses.append(float(intermediate_result.fun))
            if self.verbose:
                print(f"Iteration {len(losses)}, loss = {losses[-1]:.8f}")

        result = minimize(
            self._loss_grad_lbfgs, self._flat(), method="L-BFGS-B", jac=True,
            args=(X, Y, None if np.all(sw == 1.0) else sw), callback=record,
            options={"maxfun": int(self.max_fun), "maxiter": int(self.max_iter),
                     "gtol": float(self.tol)},
        )
        self._set_flat(result.x)
        self.n_iter_ = min(int(result.nit), int(self.max_iter))
        self.loss_ = float(result.fun)
        self.loss_curve_.extend(losses)
        self.best_loss_ = min(losses or [self.loss_], default=self.loss_)
        if result.status != 0:
            warnings.warn(
                f"lbfgs failed to converge after {result.nit} iteration(s) (status="
                f"{result.status}): {result.message}. Increase the number of iterations "
                f"(max_iter={self.max_iter}) or of loss evaluations (max_fun={self.max_fun}), "
                "or scale the data.",
                ConvergenceWarning,
                stacklevel=4,  # _train_lbfgs ← _fit ← fit ← caller
            )
        self._check_finite()

    def _end_of_epoch_schedule(self, monitored: float) -> None:
        if self.learning_rate == "invscaling":
            lr = float(self.learning_rate_init) / (self.t_ + 1) ** float(self.power_t)
            for group in self.optimizer_.param_groups:
                group["lr"] = lr
        if self._scheduler is not None:
            step_schedule(self._scheduler, monitored)

    def _evaluate_loss(self, X: np.ndarray, Y: np.ndarray, sw: np.ndarray) -> float:
        """The weighted data loss (no penalty) in evaluation mode."""
        self.model_.eval()
        wn = (sw / sw.sum()).astype(Y.dtype)[:, None]
        z = tensor(self._forward(X).astype(Y.dtype))
        with no_grad():
            value = float(self._data_loss(z, Y, wn).item())
        return value + self._loss_offset(Y, wn)

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state.pop("_step_cache", None)  # compiled code and buffers: rebuilt when training on
        state.pop("_loss_module", None)
        return state

    # ------------------------------------------------------------------------ predicting
    def _forward(self, X: np.ndarray) -> np.ndarray:
        """The output layer ``z`` in float64 (evaluation mode, no graph).

        The parameters are used in their own dtype but the arithmetic is float64, so the
        result for a row does not depend on the other rows of the batch.
        """
        model = self.model_
        model.eval()
        outs = []
        with no_grad():
            for start in range(0, X.shape[0], _PREDICT_CHUNK):
                xb = X[start:start + _PREDICT_CHUNK]
                xb = xb.toarray() if issparse(xb) else xb  # sparse: densified per chunk
                outs.append(model(tensor(np.asarray(xb, dtype=np.float64))).numpy())
        if not outs:
            return np.zeros((0, self.n_outputs_))
        return np.asarray(np.concatenate(outs), dtype=np.float64)

    def _check_X(self, X: Any) -> Any:
        check_is_fitted(self)
        return validate_data(self, X, reset=False, accept_sparse=["csr", "csc"],
                             dtype=(np.float64, np.float32))

    def _linears(self) -> list[Any]:
        return [m for m in self.model_ if isinstance(m, nn.Linear)]

    def _layers(self, kind: str) -> list[np.ndarray]:
        """Copies of the weights (scikit-learn's ``(fan_in, fan_out)``) or biases; before
        the first fit, the list that was assigned (see :meth:`_set_layers`)."""
        if "model_" not in self.__dict__:
            pending = self.__dict__.get("_pending_layers", {})
            if kind in pending:
                return pending[kind]
            check_is_fitted(self, "model_")
        if kind == "weight":
            return [np.array(m.weight.data.T) for m in self._linears()]
        return [np.array(m.bias.data) for m in self._linears()]

    def _set_layers(self, kind: str, arrays: Any) -> None:
        """Write weights (``kind="weight"``, each ``(fan_in, fan_out)``) or biases into the
        network's Linear layers, in place and in the parameters' dtype. Before the first fit
        the list is kept as it is (scikit-learn's code fills it item by item) and becomes
        the starting point of the next ``partial_fit`` or warm-started ``fit``."""
        if "model_" not in self.__dict__:
            self.__dict__.setdefault("_pending_layers", {})[kind] = arrays
            return
        linears = self._linears()
        arrays = list(arrays)
        if len(arrays) != len(linears):
            raise ValueError(f"expected {len(linears)} arrays (one per layer), got "
                             f"{len(arrays)}")
        for i, (m, a) in enumerate(zip(linears, arrays, strict=True)):
            param = m.weight if kind == "weight" else m.bias
            a = np.asarray(a)
            want = param.data.shape[::-1] if kind == "weight" else param.data.shape
            if a.shape != want:
                name = "coefs_" if kind == "weight" else "intercepts_"
                raise ValueError(f"{name}[{i}] must have shape {want}, got {a.shape}")
            param.data[...] = a.T if kind == "weight" else a

    @property
    def coefs_(self) -> list[np.ndarray]:
        """The weight matrices in scikit-learn's layout ``(fan_in, fan_out)`` (copies, in the
        parameters' dtype). Assigning a list writes it into the network."""
        return self._layers("weight")

    @coefs_.setter
    def coefs_(self, value: Any) -> None:
        self._set_layers("weight", value)

    @property
    def intercepts_(self) -> list[np.ndarray]:
        """The bias vectors of the Linear layers (copies). Assigning a list writes it into
        the network."""
        return self._layers("bias")

    @intercepts_.setter
    def intercepts_(self, value: Any) -> None:
        self._set_layers("bias", value)

    @property
    def _optimizer(self) -> Any:
        """What scikit-learn's code reads of its private optimiser: ``learning_rate``, the
        current learning rate of ``optimizer_`` (a read-only snapshot)."""
        opt = self.__dict__.get("optimizer_")
        if opt is None:
            raise AttributeError("_optimizer: no stochastic optimiser (not fitted, or lbfgs)")
        return SimpleNamespace(learning_rate=opt.param_groups[0]["lr"])

    # ---------------------------------------------------------------------- persistence
    def save(self, path: Any) -> None:
        """Write the fitted estimator to a safetensors file (no pickle, no code).

        The weights (and the optimiser's moments, so training can resume) are stored as
        tensors; the hyperparameters, ``classes_``, ``n_features_in_``, the loss curves and
        the rest of the fitted state go into the file's JSON metadata.

        Parameters
        ----------
        path : str or PathLike
            Destination, conventionally ``*.safetensors``.

        Raises
        ------
        ValueError
            The estimator is not fitted, or a parameter cannot be written (a callable
            ``init``).
        """
        from ._persist import save_estimator

        save_estimator(self, path)

    @classmethod
    def load(cls, path: Any) -> Any:
        """Read an estimator written by :meth:`save`.

        Parameters
        ----------
        path : str or PathLike

        Returns
        -------
        estimator : an instance of this class, fitted.

        Raises
        ------
        ValueError
            The file is not a chainrule estimator file, or holds another estimator type.
        """
        from ._persist import load_estimator

        return load_estimator(path, expected=cls)

    # ------------------------------------------------------------------------- abstract
    def _validate_training_data(
        self, X: Any, y: Any, first_pass: bool, incremental: bool, classes: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        raise NotImplementedError

    def _data_loss(self, z: Any, Y: Any, w: Any) -> Any:
        """The weighted data loss ``Σᵢ wᵢ·ℓᵢ`` (``w``: a column of weights or a number)."""
        raise NotImplementedError

    def _validation_score(self, X: np.ndarray, y: np.ndarray, sw: np.ndarray) -> float:
        raise NotImplementedError


_SHARED_DOC = """\
    hidden_layer_sizes : array-like of int, default=(100,)
        Width of each hidden layer; ``()`` gives no hidden layer.
    activation : str, default="relu"
        Hidden activation, a name of ``chainrule.nn.ACTIVATIONS`` (scikit-learn's
        ``"identity"``, ``"logistic"``, ``"tanh"``, ``"relu"`` and e.g. ``"gelu"``,
        ``"leaky_relu"``, ``"elu"``, ``"selu"``, ``"silu"``).
    solver : str, default="adam"
        The optimiser, a name of ``chainrule.optim.OPTIMIZERS``: ``"adam"``, ``"sgd"``
        (scikit-learn's) and ``"adamw"``, ``"rmsprop"``, ``"adagrad"``, ``"momentum"``; or
        ``"lbfgs"``: ``scipy.optimize.minimize(method="L-BFGS-B")`` on the whole training
        set's objective, its gradient from chainrule's reverse sweep (no ``partial_fit``,
        no ``dropout``).
    alpha : float, default=1e-4
        L2 penalty ``alpha/(2·Σw)·‖W‖²`` per batch (scikit-learn's scaling).
    batch_size : int or "auto", default="auto"
        Mini-batch size; ``"auto"`` is ``min(200, n_samples)``.
    learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
        scikit-learn's schedules, here for every solver: ``invscaling`` sets
        ``lr = learning_rate_init / (t + 1)^power_t`` after each epoch (``t`` samples seen);
        ``adaptive`` divides ``lr`` by 5 instead of stopping when the stopping criterion
        fires, until ``lr ≤ 1e-6``.
    learning_rate_init : float, default=1e-3
        Initial learning rate.
    power_t : float, default=0.5
        Exponent of ``invscaling``.
    max_iter : int, default=200
        Epochs per call to ``fit`` (with ``"lbfgs"``: L-BFGS iterations).
    shuffle : bool, default=True
        Shuffle the samples every epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, shuffling, dropout masks and the validation split.
    tol : float, default=1e-4
        Minimum improvement of the training loss (or of the validation score with
        ``early_stopping``) that resets the patience counter.
    verbose : bool, default=False
        Print the loss (and validation score) after every epoch.
    warm_start : bool, default=False
        Continue from the fitted network *and optimiser state* (Adam's moments, momentum
        buffers, step counts, schedule) instead of starting afresh.
    momentum : float, default=0.9
        Momentum of ``solver="sgd"`` / ``"momentum"``.
    nesterovs_momentum : bool, default=True
        Nesterov momentum for ``solver="sgd"``.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data (stratified for classifiers), stop when
        its score has not improved by ``tol`` for ``n_iter_no_change`` epochs.
    validation_fraction : float, default=0.1
        Fraction held out with ``early_stopping``.
    beta_1, beta_2 : float, default=0.9, 0.999
        Adam's moment decay rates.
    epsilon : float, default=1e-8
        Adam's (and RMSprop's, Adagrad's) denominator term.
    n_iter_no_change : int, default=10
        Patience: epochs without improvement before stopping.
    max_fun : int, default=15000
        ``"lbfgs"`` only: at most this many evaluations of the loss and its gradient.
    init : str or callable, default="auto"
        Weight initialiser, a name of ``chainrule.nn.INITIALIZERS`` (``"he"``,
        ``"xavier"``, ``"lecun"``, …) or a callable ``f(shape, seed=, dtype=)``; ``"auto"``
        is scikit-learn's: weights and biases ``~ U(±√(6/(fan_in + fan_out)))`` (2 instead
        of 6 for ``"logistic"``), drawn as scikit-learn draws them.
    dropout : float, default=0.0
        Dropout probability after every hidden activation.
    batch_norm : bool, default=False
        Batch normalisation after every hidden Linear layer.
    l1 : float, default=0.0
        L1 penalty ``l1/Σw·‖W‖₁`` per batch.
    optimizer_params : dict or None, default=None
        Further optimiser settings (``{"weight_decay": 0.01}``, ``{"amsgrad": True}``); they
        override the ones derived from the parameters above.
    schedule : str or None, default=None
        A learning-rate schedule of ``chainrule.optim.SCHEDULERS`` (``"step"``,
        ``"cosine"``, ``"exponential"``, ``"plateau"``, …), stepped once per epoch
        (``"plateau"`` watches the validation loss, or the training loss).
    schedule_params : dict or None, default=None
        Its settings, e.g. ``{"T_max": 50}`` for ``"cosine"``.
    restore_best_weights : bool, default=True
        With ``early_stopping``, end with the weights of the best validation score.
    freeze : None, "hidden" or list of int, default=None
        Layers to keep fixed while fitting (fine-tuning): ``"hidden"`` — every layer but
        the output layer — or indices of ``coefs_`` (layer ``i``: ``coefs_[i]``,
        ``intercepts_[i]`` and the batch norm after it). With ``warm_start=True``, a
        network pre-trained by an earlier ``fit`` is fine-tuned on new data::

            reg = MLPRegressor(hidden_layer_sizes=(64, 16), warm_start=True)
            reg.fit(X_big, Y_big)                                    # pre-train
            reg.set_params(freeze="hidden").fit(X_small, Y_small)   # only the head

        Frozen parameters stay bit for bit (no update, no penalty); every solver.
    dtype : {"auto", "float32", "float64"}, default="auto"
        Dtype of the parameters and of training; ``"auto"`` is that of the first ``X``
        (float32 stays float32, anything else float64), as in scikit-learn. Predictions
        are computed in float64 (the regressor returns the parameters' dtype).
"""

_SHARED_ATTRIBUTES = """\
    loss_ : float
        Training loss of the last epoch (including the penalties).
    loss_curve_ : list of float
        Training loss of every epoch (over all warm starts and partial fits).
    validation_loss_curve_ : list of float or None
        With ``early_stopping``: the data loss on the validation set, every epoch.
    validation_scores_ : list of float or None
        With ``early_stopping``: the validation score (``score``) every epoch.
    best_validation_score_ : float or None
        The best validation score.
    best_loss_ : float or None
        The lowest training loss (None with ``early_stopping``, where the validation score
        decides).
    n_iter_ : int
        Epochs run by the last call to ``fit`` / ``partial_fit`` (``"lbfgs"``: iterations).
    t_ : int
        Training samples seen (over all calls).
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of str
        Column names, when ``X`` had string column names (a DataFrame).
    n_outputs_ : int
        Number of output units.
    n_layers_ : int
        Number of layers, input and output included (``len(hidden_layer_sizes) + 2``).
    out_activation_ : str
        ``"softmax"``, ``"logistic"``, ``"identity"`` or ``"exp"``.
    model_ : chainrule.nn.Sequential
        The network (a chainrule Module, in evaluation mode).
    optimizer_ : chainrule.optim.Optimizer
        The optimiser and its state.
    n_frozen_parameters_ : int
        How many numbers of the network the last fit kept fixed (``freeze``; 0 without).
    coefs_, intercepts_ : list of ndarray
        Weights in scikit-learn's ``(fan_in, fan_out)`` layout, and biases (copies);
        assigning a list writes it into the network (before the first fit: the starting
        weights of ``partial_fit`` or a warm start).
"""


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multi-layer perceptron classifier trained by chainrule (scikit-learn API).

    Multiclass targets use a softmax output and the cross-entropy; binary and multilabel
    targets (an indicator matrix) use logistic outputs and the binary cross-entropy, as
    ``sklearn.neural_network.MLPClassifier`` does.
    """

    def __init__(
        self,
        hidden_layer_sizes: Any = (100,),
        activation: str = "relu",
        *,
        solver: str = "adam",
        alpha: float = 1e-4,
        batch_size: int | str = "auto",
        learning_rate: str = "constant",
        learning_rate_init: float = 1e-3,
        power_t: float = 0.5,
        max_iter: int = 200,
        shuffle: bool = True,
        random_state: Any = None,
        tol: float = 1e-4,
        verbose: bool = False,
        warm_start: bool = False,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        n_iter_no_change: int = 10,
        max_fun: int = 15000,
        init: Any = "auto",
        dropout: float = 0.0,
        batch_norm: bool = False,
        l1: float = 0.0,
        optimizer_params: dict | None = None,
        schedule: str | None = None,
        schedule_params: dict | None = None,
        restore_best_weights: bool = True,
        class_weight: Any = None,
        dtype: Any = "auto",
        freeze: Any = None,
    ) -> None:
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
            solver=solver,
            alpha=alpha,
            batch_size=batch_size,
            learning_rate=learning_rate,
            learning_rate_init=learning_rate_init,
            power_t=power_t,
            max_iter=max_iter,
            shuffle=shuffle,
            random_state=random_state,
            tol=tol,
            verbose=verbose,
            warm_start=warm_start,
            momentum=momentum,
            nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            n_iter_no_change=n_iter_no_change,
            max_fun=max_fun,
            init=init,
            dropout=dropout,
            batch_norm=batch_norm,
            l1=l1,
            optimizer_params=optimizer_params,
            schedule=schedule,
            schedule_params=schedule_params,
            restore_best_weights=restore_best_weights,
            dtype=dtype,
            freeze=freeze,
        )
        self.class_weight = class_weight

    def _check_params(self) -> None:
        super()._check_params()
        cw = self.class_weight
        if not (cw is None or cw == "balanced" or isinstance(cw, (dict, list))):
            raise ValueError(f"class_weight must be a dict, a list of dicts, 'balanced' or "
                             f"None, got {cw!r}")

    # ------------------------------------------------------------------------ fitting
    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> MLPClassifier:
        """Train the network on ``X`` and the class labels ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels, or a 0/1 indicator matrix for multilabel classification.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; each batch's loss is ``Σ wᵢℓᵢ / Σ wᵢ``.

        Returns
        -------
        self : MLPClassifier
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=False)

    @available_if(_stochastic_solver)
    def partial_fit(
        self, X: Any, y: Any, sample_weight: Any = None, classes: Any = None
    ) -> MLPClassifier:
        """One epoch over ``X, y``, continuing the network and optimiser state.

        ``n`` calls equal ``fit`` with ``max_iter=n`` on the same data (same seed).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
        sample_weight : array-like of shape (n_samples,), default=None
        classes : array-like, default=None
            All the classes; required on the first call (ignored for multilabel ``y``).

        Returns
        -------
        self : MLPClassifier
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=True, classes=classes)

    def _validate_training_data(
        self, X: Any, y: Any, first_pass: bool, incremental: bool, classes: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        X, y = validate_data(
            self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
            dtype=(np.float64, np.float32), reset=first_pass,
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        target_type = type_of_target(y)
        if target_type not in ("binary", "multiclass", "multilabel-indicator"):
            raise ValueError(
                f"MLPClassifier supports binary, multiclass and multilabel-indicator targets, "
                f"got {target_type!r} targets"
            )
        if first_pass:
            if target_type == "multilabel-indicator":
                self.classes_ = np.arange(y.shape[1])
            elif incremental:
                if classes is None:
                    raise ValueError("classes must be passed on the first call to partial_fit.")
                self.classes_ = unique_labels(classes)
            else:
                self.classes_ = unique_labels(y)
            self._target_type = target_type
            if target_type != "multilabel-indicator" and len(self.classes_) < 2:
                raise ValueError(
                    "MLPClassifier needs samples of at least 2 classes in the data, but the "
                    f"data contains only one class: {self.classes_[0]!r}"
                )
        else:
            multilabel = target_type == "multilabel-indicator"
            if multilabel != (self._target_type == "multilabel-indicator"):
                raise ValueError(
                    f"y is {target_type!r} but the network was fitted on "
                    f"{self._target_type!r} targets"
                )
            if incremental and classes is not None and not multilabel and not np.array_equal(
                unique_labels(classes), self.classes_
            ):
                raise ValueError(
                    f"`classes={list(classes)!r}` is not the same as on the last call to "
                    f"partial_fit, was: {self.classes_!r}"
                )
            if not multilabel and not incremental and self.warm_start:
                got = unique_labels(y)
                if set(got) != set(self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same classes as in "
                        f"the previous call to fit. Previously got {self.classes_}, `y` has "
                        f"{got}"
                    )
        if target_type != "multilabel-indicator":
            unknown = np.setdiff1d(unique_labels(y), self.classes_)
            if unknown.size:
                raise ValueError(
                    f"y has classes not in classes_ {self.classes_.tolist()}: "
                    f"{unknown.tolist()}"
                )
        if self._target_type == "multilabel-indicator":
            if y.ndim != 2 or y.shape[1] != len(self.classes_):
                raise ValueError(
                    f"multilabel y must have {len(self.classes_)} columns, got shape {y.shape}"
                )
            Y = np.asarray(y, dtype=np.float64)
            self.out_activation_ = "logistic"
        else:
            idx = np.searchsorted(self.classes_, y)
            if len(self.classes_) == 2:
                Y = idx.reshape(-1, 1).astype(np.float64)
                self.out_activation_ = "logistic"
            else:
                Y = np.zeros((len(y), len(self.classes_)))
                Y[np.arange(len(y)), idx] = 1.0
                self.out_activation_ = "softmax"
        return X, Y, y

    def _sample_weights(
        self, sample_weight: Any, X: np.ndarray, y: np.ndarray, incremental: bool
    ) -> np.ndarray:
        sw = super()._sample_weights(sample_weight, X, y, incremental)
        if self.class_weight is not None:
            if incremental and isinstance(self.class_weight, str):
                raise ValueError(
                    "class_weight='balanced' is not supported for partial_fit (the class "
                    "frequencies of one batch are not those of the data); pass a dict of "
                    "class weights"
                )
            sw = sw * compute_sample_weight(self.class_weight, y)
        return sw

    def _stratify_labels(self, Y: np.ndarray, y_raw: np.ndarray) -> np.ndarray | None:
        if self._target_type == "multilabel-indicator":
            return None
        if Y.shape[1] == 1:  # binary: scikit-learn's boolean column (its error names 'True')
            return Y.astype(bool)
        return y_raw

    def _data_loss(self, z: Any, Y: Any, w: Any) -> Any:
        if self.out_activation_ == "softmax":
            # Σᵢ wᵢ·(−log softmax(zᵢ)_yᵢ): F.cross_entropy(z, Y·w, reduction="sum") with
            # probability targets, written out to skip its per-call checks
            return -(F.log_softmax(z, axis=1) * (Y * w)).sum()
        return F.binary_cross_entropy_with_logits(z, Y, weight=w, reduction="sum")

    def _validation_score(self, X: np.ndarray, y: np.ndarray, sw: np.ndarray) -> float:
        return float(accuracy_score(y, self._predict(X), sample_weight=sw))

    # ---------------------------------------------------------------------- predicting
    def _predict(self, X: np.ndarray) -> np.ndarray:
        z = self._forward(X)
        if self._target_type == "multilabel-indicator":
            return (z > 0).astype(np.int64)
        if z.shape[1] == 1:
            return self.classes_[(z[:, 0] > 0).astype(np.intp)]
        return self.classes_[np.argmax(z, axis=1)]

    def predict(self, X: Any) -> np.ndarray:
        """Predicted class labels (a 0/1 indicator matrix for multilabel targets).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_labels)
        """
        return self._predict(self._check_X(X))

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Softmax probabilities (multiclass), ``[1 − p, p]`` (binary) or one independent
            probability per label (multilabel).
        """
        z = self._forward(self._check_X(X))
        if self._target_type == "multilabel-indicator":
            return expit(z)
        if z.shape[1] == 1:
            p = expit(z[:, 0])
            return np.column_stack([1.0 - p, p])
        return np.exp(log_softmax(z, axis=1))

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """Logarithm of :meth:`predict_proba` (computed stably).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        z = self._forward(self._check_X(X))
        if self._target_type == "multilabel-indicator":
            # scikit-learn's log(predict_proba): labels whose probability rounds to 1 tie at
            # 0, as they tie in predict_proba (the stable −log(1 + e⁻ᶻ) where it rounds to 0)
            p = expit(z)
            with np.errstate(divide="ignore"):
                return np.where(p > 0, np.log(p), -np.logaddexp(0.0, -z))
        if z.shape[1] == 1:
            z0 = z[:, 0]
            return np.column_stack([-np.logaddexp(0.0, z0), -np.logaddexp(0.0, -z0)])
        return log_softmax(z, axis=1)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        tags.target_tags.multi_output = True
        tags.input_tags.sparse = True  # CSR/CSC, densified a batch at a time
        return tags


class MLPRegressor(RegressorMixin, _BaseMLP):
    """Multi-layer perceptron regressor trained by chainrule (scikit-learn API).

    The output layer is linear (``loss="poisson"``: ``exp``); ``y`` may have several
    columns (multi-output regression).
    """

    def __init__(
        self,
        loss: str = "squared_error",
        hidden_layer_sizes: Any = (100,),
        activation: str = "relu",
        *,
        solver: str = "adam",
        alpha: float = 1e-4,
        batch_size: int | str = "auto",
        learning_rate: str = "constant",
        learning_rate_init: float = 1e-3,
        power_t: float = 0.5,
        max_iter: int = 200,
        shuffle: bool = True,
        random_state: Any = None,
        tol: float = 1e-4,
        verbose: bool = False,
        warm_start: bool = False,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        n_iter_no_change: int = 10,
        max_fun: int = 15000,
        init: Any = "auto",
        dropout: float = 0.0,
        batch_norm: bool = False,
        l1: float = 0.0,
        optimizer_params: dict | None = None,
        schedule: str | None = None,
        schedule_params: dict | None = None,
        restore_best_weights: bool = True,
        dtype: Any = "auto",
        freeze: Any = None,
    ) -> None:
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
            solver=solver,
            alpha=alpha,
            batch_size=batch_size,
            learning_rate=learning_rate,
            learning_rate_init=learning_rate_init,
            power_t=power_t,
            max_iter=max_iter,
            shuffle=shuffle,
            random_state=random_state,
            tol=tol,
            verbose=verbose,
            warm_start=warm_start,
            momentum=momentum,
            nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            n_iter_no_change=n_iter_no_change,
            max_fun=max_fun,
            init=init,
            dropout=dropout,
            batch_norm=batch_norm,
            l1=l1,
            optimizer_params=optimizer_params,
            schedule=schedule,
            schedule_params=schedule_params,
            restore_best_weights=restore_best_weights,
            dtype=dtype,
            freeze=freeze,
        )
        self.loss = loss

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> MLPRegressor:
        """Train the network on ``X`` and the targets ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; each batch's loss is ``Σ wᵢℓᵢ / Σ wᵢ``.

        Returns
        -------
        self : MLPRegressor
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=False)

    @available_if(_stochastic_solver)
    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> MLPRegressor:
        """One epoch over ``X, y``, continuing the network and optimiser state.

        ``n`` calls equal ``fit`` with ``max_iter=n`` on the same data (same seed).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : MLPRegressor
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def _validate_training_data(
        self, X: Any, y: Any, first_pass: bool, incremental: bool, classes: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=["csr", "csc"],
            multi_output=True,
            y_numeric=True,
            dtype=(np.float64, np.float32),
            reset=first_pass,
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if self.loss == "poisson" and np.any(y < 0):
            raise ValueError(
                f"loss='poisson' needs non-negative targets, got a minimum of {np.min(y)}"
            )
        self.out_activation_ = "exp" if self.loss == "poisson" else "identity"
        Y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
        return X, Y, y

    def _check_params(self) -> None:
        super()._check_params()
        if self.loss != "poisson":
            _check_name(self.loss, "loss", nn.LOSSES, lambda e: e.task == "regression")

    def _per_sample_loss(self) -> Any:
        """The registered regression loss ``self.loss`` per element (``reduction="none"``),
        in scikit-learn's form (its entry's ``sklearn_kwargs``), built once per name."""
        cached = getattr(self, "_loss_module", None)
        if cached is None or cached[0] != self.loss:
            entry = nn.LOSSES.entry(self.loss)
            fn = entry.obj(reduction="none", **entry.get("sklearn_kwargs", {}))
            cached = self._loss_module = (self.loss, fn)
        return cached[1]

    def _data_loss(self, z: Any, Y: Any, w: Any) -> Any:
        k = Y.shape[1]
        if self.loss == "poisson":
            # μ = exp(z): ℓ = Σ_k (μ − y·z), plus Σ_k (y·log y − y) (see _loss_offset)
            return ((z.exp() - z * Y) * w).sum()
        per = self._per_sample_loss()(z, Y)
        return (per * (w / k)).sum()

    def _loss_offset(self, Y: np.ndarray, wn: np.ndarray | None) -> float:
        if self.loss != "poisson":
            return 0.0
        # the half Poisson deviance's term without μ, which keeps ℓ ≥ 0 (zero at μ = y)
        const = (xlogy(Y, Y) - Y).sum(axis=1)
        return float(const.mean() if wn is None else const @ wn[:, 0])

    def _predict(self, X: np.ndarray) -> np.ndarray:
        z = self._forward(X)
        if self.loss == "poisson":
            z = np.exp(z)
        z = z.astype(self._param_dtype())  # float32 data, float32 predictions (scikit-learn)
        if z.shape[1] == 1:
            return z.ravel()
        return z

    def _validation_score(self, X: np.ndarray, y: np.ndarray, sw: np.ndarray) -> float:
        pred = self._predict(X)
        if not np.all(np.isfinite(pred)):  # a diverging run: scored NaN, as scikit-learn
            return float("nan")
        return float(r2_score(y, pred, sample_weight=sw))

    def predict(self, X: Any) -> np.ndarray:
        """Predicted targets.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        """
        return self._predict(self._check_X(X))

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.input_tags.sparse = True  # CSR/CSC, densified a batch at a time
        return tags


_CLASSIFIER_DOC = """
    Parameters
    ----------
{params}    class_weight : dict, list of dict, "balanced" or None, default=None
        Weights of the classes, multiplied into ``sample_weight``
        (``sklearn.utils.class_weight.compute_sample_weight``); ``"balanced"`` uses
        ``n_samples / (n_classes · count(class))``. Not ``"balanced"`` in ``partial_fit``.

    Attributes
    ----------
    classes_ : ndarray
        The class labels (for multilabel ``y``: the label indices).
{attributes}
    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.model_selection import train_test_split
    >>> from chainrule.sklearn import MLPClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> X_tr, X_te, y_tr, y_te = train_test_split(X / 16, y, random_state=0)
    >>> clf = MLPClassifier(hidden_layer_sizes=(64,), max_iter=30, random_state=0)
    >>> clf.fit(X_tr, y_tr).score(X_te, y_te) > 0.9
    True
    >>> clf.predict_proba(X_te[:1]).shape
    (1, 10)
"""

_REGRESSOR_DOC = """
    Parameters
    ----------
    loss : str, default="squared_error"
        ``"squared_error"`` ``½·mean_k (z_k − y_k)²`` (scikit-learn's),
        ``"absolute_error"`` ``mean_k |z_k − y_k|``, ``"huber"`` (``delta = 1``) averaged
        over the outputs, ``"poisson"`` the half Poisson deviance
        ``Σ_k (y_k·log(y_k/μ_k) − y_k + μ_k)`` with ``μ = exp(z)`` (needs ``y ≥ 0``), or the
        name of any regression loss of ``chainrule.nn.LOSSES`` (one registered with
        ``task="regression"``, averaged over the outputs).
{params}
    Attributes
    ----------
{attributes}
    Examples
    --------
    >>> import numpy as np
    >>> from chainrule.sklearn import MLPRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(-1, 1, size=(300, 2))
    >>> y = np.column_stack([X[:, 0] * X[:, 1], np.sin(3 * X[:, 0])])   # two outputs
    >>> reg = MLPRegressor(hidden_layer_sizes=(32, 32), learning_rate_init=0.01,
    ...                    max_iter=150, random_state=0).fit(X, y)
    >>> reg.predict(X).shape, reg.score(X, y) > 0.9
    ((300, 2), True)
"""

MLPClassifier.__doc__ += _CLASSIFIER_DOC.format(
    params=_SHARED_DOC, attributes=_SHARED_ATTRIBUTES
)
MLPRegressor.__doc__ += _REGRESSOR_DOC.format(
    params=_SHARED_DOC, attributes=_SHARED_ATTRIBUTES
)


def load(path: Any) -> Any:
    """Read an :class:`MLPClassifier` or :class:`MLPRegressor` written by ``save``.

    Parameters
    ----------
    path : str or PathLike

    Returns
    -------
    estimator : MLPClassifier or MLPRegressor, fitted.
    """
    from ._persist import load_estimator

    return load_estimator(path, expected=None)
