"""The playground's model of a run: data, features, network and training, without the web.

A :class:`Config` holds every control of the page (it is also the URL's state); a
:class:`Run` builds from it the data (:func:`make_split`), the network
(``chainrule.nn.mlp``), the optimiser and the one training step
(:class:`chainrule.train.TrainingStep`), then trains mini-batch by mini-batch
(:func:`batches`), draws the heat maps (:meth:`Run.frame`) and explains one weight's
gradient as the chain rule over its paths (:meth:`Run.explain`).

The data sets follow TensorFlow Playground's generators on the square ``[−6, 6]²``: labels
``±1`` there are class ``1`` (``+1``) and class ``0`` (``−1``) here; regression targets lie
in ``[−1, 1]``. ``spiral3`` (three arms, three classes) is new.

Example:
    >>> run = Run(Config())
    >>> run.train(25)
    >>> run.steps, run.epoch
    (25, 1)
"""

from __future__ import annotations

import base64
import csv
import io
import math
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np

__all__ = [
    "DATASETS",
    "FEATURES",
    "Config",
    "Run",
    "batches",
    "make_split",
    "parse_csv",
]

#: name → (task, number of points, number of classes or None)
DATASETS: dict[str, tuple[str, int, int | None]] = {
    "circle": ("classification", 500, 2),
    "xor": ("classification", 500, 2),
    "gauss": ("classification", 500, 2),
    "spiral": ("classification", 500, 2),
    "spiral3": ("classification", 600, 3),
    "plane": ("regression", 1200, None),
    "multigauss": ("regression", 1200, None),
}

#: feature name → function of the coordinates (x₁, x₂)
FEATURES: dict[str, Any] = {
    "x1": lambda a, b: a,
    "x2": lambda a, b: b,
    "x1sq": lambda a, b: a * a,
    "x2sq": lambda a, b: b * b,
    "x1x2": lambda a, b: a * b,
    "sinx1": lambda a, b: np.sin(a),
    "sinx2": lambda a, b: np.sin(b),
}

ACTIVATIONS = ("tanh", "relu", "sigmoid", "identity")
OPTIMIZERS = ("sgd", "momentum", "rmsprop", "adam")
INITS = ("xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal", "lecun_normal",
         "torch")
LOSSES = ("mse", "cross_entropy")
REGULARIZATIONS = ("none", "l1", "l2")
DISPLAY = ("show_test", "discretize")   # settings that change the drawing, not the run
MAX_LAYERS, MAX_WIDTH = 8, 32
DOMAIN = 6.0            # the input plane is [−DOMAIN, DOMAIN]²
GRID = 100              # output heat map: GRID × GRID
NEURON_GRID = 20        # per-neuron heat maps: NEURON_GRID × NEURON_GRID
MAX_PATHS = 4096        # enumerate the chain rule's paths up to this many
CSV_MAX_BYTES = 1_000_000
CSV_MAX_ROWS = 10_000


# ----------------------------------------------------------------------------- config
@dataclass
class Config:
    """Every control of the page; ``Config.from_dict`` validates a (URL or JSON) mapping.

    Defaults are TensorFlow Playground's (circle, noise 0, 50 % training data, batch 10,
    learning rate 0.03, tanh, no regularisation, features x₁ x₂, hidden layers 4-2,
    squared error), with plain SGD; the extras (optimiser, initialiser, dropout, loss) default
    to the plain choice.

    Attributes:
        dataset: a name of :data:`DATASETS` or ``"upload"`` (a CSV sent by the page).
        problem: ``"classification"`` or ``"regression"`` (must match the data set).
        noise: 0–50 (percent of the data set's scale).
        train_ratio: 10–90 (percent of the points used for training).
        batch_size: 1–100.
        lr: learning rate in [1e-5, 10].
        activation: hidden activation, one of ``tanh relu sigmoid identity``.
        regularization: ``none``, ``l1`` or ``l2``; reg_rate: its λ in [0, 10].
        features: names of :data:`FEATURES` (at least one).
        hidden: hidden widths, 0–8 layers of 1–32 neurons.
        optimizer: ``sgd momentum rmsprop adam``; init: a weight initialiser name.
        dropout: drop probability after every hidden activation, in [0, 0.9].
        loss: ``mse`` (Playground's squared error; targets ±1 for two classes) or
            ``cross_entropy`` (softmax; any number of classes).
        seed: network, dropout and batch order; data_seed: the data set (``regenerate``).
        show_test, discretize: the output map's "show test data" and "discretise output"
            (display only: changing them does not restart the run).
    """

    dataset: str = "circle"
    problem: str = "classification"
    noise: float = 0.0
    train_ratio: float = 50.0
    batch_size: int = 10
    lr: float = 0.03
    activation: str = "tanh"
    regularization: str = "none"
    reg_rate: float = 0.0
    features: list[str] = field(default_factory=lambda: ["x1", "x2"])
    hidden: list[int] = field(default_factory=lambda: [4, 2])
    optimizer: str = "sgd"
    init: str = "xavier_uniform"
    dropout: float = 0.0
    loss: str = "mse"
    seed: int = 0
    data_seed: int = 0
    show_test: bool = False
    discretize: bool = False

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Config:
        """A validated ``Config`` from a mapping (strings are parsed, as in a URL).

        Raises:
            TypeError: ``d`` is not a mapping. ValueError: an unknown key or a value out of
            range (the message names it and the valid range).
        """
        if not isinstance(d, Mapping):
            raise TypeError(f"config must be a JSON object, got {type(d).__name__}")
        names = {f.name: f for f in fields(cls)}
        unknown = sorted(set(d) - set(names))
        if unknown:
            raise ValueError(f"unknown setting(s) {unknown}; valid: {sorted(names)}")
        c = cls()
        for k, v in d.items():
            setattr(c, k, _parse(k, v, type(getattr(c, k))))
        c._check()
        return c

    def to_dict(self) -> dict[str, Any]:
        """The settings as a JSON-able dict."""
        return asdict(self)

    def same_run(self, other: Config) -> bool:
        """Whether ``other`` differs from these settings in display fields only."""
        a, b = self.to_dict(), other.to_dict()
        return all(a[k] == b[k] for k in a if k not in DISPLAY)

    def to_hash(self) -> str:
        """The URL fragment (without ``#``) that reproduces these settings."""
        parts = []
        for k, v in self.to_dict().items():
            v = ",".join(map(str, v)) if isinstance(v, list) else (
                int(v) if isinstance(v, bool) else v)
            parts.append(f"{k}={v}")
        return "&".join(parts)

    @classmethod
    def from_hash(cls, text: str) -> Config:
        """Parse a URL fragment written by :meth:`to_hash` (a leading ``#`` is ignored)."""
        text = text.lstrip("#")
        d = {}
        for part in filter(None, text.split("&")):
            k, sep, v = part.partition("=")
            if not sep:
                raise ValueError(f"URL state: expected key=value, got {part!r}")
            d[k] = v
        return cls.from_dict(d)

    def _check(self) -> None:
        def choice(name: str, valid: Any) -> None:
            if getattr(self, name) not in valid:
                raise ValueError(f"{name} must be one of {list(valid)}, got "
                                 f"{getattr(self, name)!r}")

        def within(name: str, lo: float, hi: float) -> None:
            v = getattr(self, name)
            if not (lo <= v <= hi) or (isinstance(v, float) and math.isnan(v)):
                raise ValueError(f"{name} must be in [{lo}, {hi}], got {v}")

        choice("dataset", [*DATASETS, "upload"])
        choice("problem", ("classification", "regression"))
        choice("activation", ACTIVATIONS)
        choice("regularization", REGULARIZATIONS)
        choice("optimizer", OPTIMIZERS)
        choice("init", INITS)
        choice("loss", LOSSES)
        within("noise", 0, 50)
        within("train_ratio", 10, 90)
        within("batch_size", 1, 100)
        within("lr", 1e-5, 10)
        within("reg_rate", 0, 10)
        within("dropout", 0, 0.9)
        within("seed", 0, 2**31 - 1)
        within("data_seed", 0, 2**31 - 1)
        if not self.features or any(f not in FEATURES for f in self.features):
            raise ValueError(f"features must be a non-empty list of {list(FEATURES)}, got "
                             f"{self.features}")
        if len(set(self.features)) != len(self.features):
            raise ValueError(f"features must not repeat, got {self.features}")
        if len(self.hidden) > MAX_LAYERS or any(not 1 <= h <= MAX_WIDTH for h in self.hidden):
            raise ValueError(f"hidden must be 0–{MAX_LAYERS} layers of 1–{MAX_WIDTH} neurons, "
                             f"got {self.hidden}")
        if self.dataset != "upload" and DATASETS[self.dataset][0] != self.problem:
            raise ValueError(f"dataset {self.dataset!r} is a {DATASETS[self.dataset][0]} data "
                             f"set, but problem is {self.problem!r}")
        if self.problem == "regression" and self.loss != "mse":
            raise ValueError("regression trains with loss 'mse'")


def _parse(key: str, v: Any, kind: type) -> Any:
    """One setting from JSON or URL text into the field's type."""
    try:
        if kind is list:
            if isinstance(v, str):
                v = [s for s in v.split(",") if s.strip()]
            if not isinstance(v, list):
                raise TypeError
            return [int(s) for s in v] if key == "hidden" else [str(s) for s in v]
        if kind is bool:
            if isinstance(v, str) and v.strip().lower() in ("0", "1", "true", "false"):
                return v.strip().lower() in ("1", "true")
            if isinstance(v, (bool, int)) and v in (0, 1):
                return bool(v)
            raise TypeError
        if kind is int:
            if isinstance(v, bool) or (isinstance(v, float) and not v.is_integer()):
                raise TypeError
            return int(v)
        if kind is float:
            if isinstance(v, bool):
                raise TypeError
            return float(v)
        if not isinstance(v, str):
            raise TypeError
        return v.strip().lower()
    except (TypeError, ValueError):
        raise ValueError(f"{key}: expected {kind.__name__}, got {v!r}") from None


# ------------------------------------------------------------------------------ data
def _u(rng: np.random.Generator, lo: float, hi: float, n: int) -> np.ndarray:
    return rng.uniform(lo, hi, n)


def _generate(name: str, n: int, noise: float, rng: np.random.Generator) -> tuple[Any, Any]:
    """Playground's generators; ``noise`` is a fraction (0–0.5). Returns ``(X, y)``."""
    if name == "circle":
        R, h = 5.0, n // 2
        r = np.concatenate([_u(rng, 0, R * 0.5, h), _u(rng, R * 0.7, R, n - h)])
        ang = _u(rng, 0, 2 * np.pi, n)
        X = np.stack([r * np.sin(ang), r * np.cos(ang)], 1)
        X = X + rng.uniform(-R, R, (n, 2)) * noise
        y = (np.hypot(X[:, 0], X[:, 1]) < R * 0.5).astype(np.int64)
    elif name == "xor":
        X = rng.uniform(-5, 5, (n, 2))
        X = X + np.where(X > 0, 0.3, -0.3)
        X = X + rng.uniform(-5, 5, (n, 2)) * noise
        y = (X[:, 0] * X[:, 1] >= 0).astype(np.int64)
    elif name == "gauss":
        sd = math.sqrt(0.5 + 3.5 * noise / 0.5)
        h = n // 2
        X = np.concatenate([rng.normal(2, sd, (h, 2)), rng.normal(-2, sd, (n - h, 2))])
        y = np.concatenate([np.ones(h, np.int64), np.zeros(n - h, np.int64)])
    elif name in ("spiral", "spiral3"):
        k = 2 if name == "spiral" else 3
        per = n // k
        i = np.tile(np.arange(per), k)
        cls = np.repeat(np.arange(k), per)
        r = i / per * 5
        t = 1.75 * i / per * 2 * np.pi + cls * (2 * np.pi / k)
        X = np.stack([r * np.sin(t), r * np.cos(t)], 1) + rng.uniform(-1, 1, (k * per, 2)) * noise
        # Playground: the arm at Δt = 0 is +1 (class 1), the one at Δt = π is −1 (class 0)
        y = ((cls == 0).astype(np.int64) if k == 2 else cls.astype(np.int64))
    elif name == "plane":
        X = rng.uniform(-6, 6, (n, 2))
        Xn = X + rng.uniform(-6, 6, (n, 2)) * noise
        y = np.clip((Xn[:, 0] + Xn[:, 1]) / 10, -1, 1)
    elif name == "multigauss":
        X = rng.uniform(-6, 6, (n, 2))
        Xn = X + rng.uniform(-6, 6, (n, 2)) * noise
        centres = [(-4, 2.5, 1), (0, 2.5, -1), (4, 2.5, 1), (-4, -2.5, -1), (0, -2.5, 1),
                   (4, -2.5, -1)]
        y = np.zeros(n)
        for cx, cy, s in centres:
            new = s * np.clip(1 - np.hypot(Xn[:, 0] - cx, Xn[:, 1] - cy) / 2, 0, 1)
            y = np.where(np.abs(new) > np.abs(y), new, y)
    else:
        raise ValueError(f"unknown data set {name!r}; valid: {list(DATASETS)}")
    return X, y


def featurize(X: np.ndarray, features: list[str]) -> np.ndarray:
    """The input columns ``[f(x₁, x₂) for f in features]`` as float32, shape (n, d)."""
    return np.stack([FEATURES[f](X[:, 0], X[:, 1]) for f in features], 1).astype(np.float32)


def _targets(y: np.ndarray, problem: str, loss: str) -> np.ndarray:
    """Training targets: class indices (cross-entropy), ±1 column (mse on two classes) or
    the value column (regression)."""
    if problem == "regression":
        return y.astype(np.float32).reshape(-1, 1)
    if loss == "cross_entropy":
        return y.astype(np.int64)
    if y.max() > 1:
        raise ValueError("loss 'mse' needs two classes; use 'cross_entropy' for more")
    return (2.0 * y - 1.0).astype(np.float32).reshape(-1, 1)


def make_split(cfg: Config, uploaded: tuple[np.ndarray, np.ndarray] | None = None) -> dict:
    """The data of a run: points, labels, train/test split, features and targets.

    The split shuffles with ``default_rng(data_seed)`` after generating the points with the
    same generator, then takes the first ``train_ratio`` percent for training.

    Returns:
        a dict with ``P_train, P_test`` (points, (n, 2)), ``y_train, y_test`` (labels),
        ``X_train, X_test`` (features, float32), ``T_train, T_test`` (targets) and
        ``n_classes`` (None for regression).
    """
    rng = np.random.default_rng(cfg.data_seed)
    if cfg.dataset == "upload":
        if uploaded is None:
            raise ValueError("dataset 'upload' needs an uploaded CSV")
        P, y = uploaded
    else:
        _, n, _ = DATASETS[cfg.dataset]
        P, y = _generate(cfg.dataset, n, cfg.noise / 100, rng)
    perm = rng.permutation(len(P))
    P, y = P[perm], y[perm]
    k = max(1, min(len(P) - 1, round(len(P) * cfg.train_ratio / 100)))
    out: dict[str, Any] = {"n_classes": None}
    if cfg.problem == "classification":
        out["n_classes"] = max(2, int(y.max()) + 1)
    for part, sl in (("train", slice(0, k)), ("test", slice(k, None))):
        out[f"P_{part}"] = P[sl]
        out[f"y_{part}"] = y[sl]
        out[f"X_{part}"] = featurize(P[sl], cfg.features)
        out[f"T_{part}"] = _targets(y[sl], cfg.problem, cfg.loss)
    return out


def batches(n: int, batch_size: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """One epoch's mini-batches: a permutation of ``range(n)`` drawn from ``rng`` at the start,
    cut into consecutive slices of ``batch_size`` (the last may be shorter)."""
    perm = rng.permutation(n)
    for i in range(0, n, batch_size):
        yield perm[i:i + batch_size]


def parse_csv(text: str | bytes, problem: str) -> tuple[np.ndarray, np.ndarray]:
    """Validate an uploaded CSV: rows ``x1, x2, label`` (an optional header row).

    The two features are scaled linearly (each column on its own) into ``[−5, 5]``.
    Classification labels must be integers ``0 … K−1`` (``K ≤ 10``, at least two classes)
    or ``−1/+1``; regression labels are scaled into ``[−1, 1]``.

    Raises:
        ValueError: too large (> 1 MB or > 10,000 rows), too few rows (< 10), a row without
            three columns, a cell that is not a finite number, or bad labels; the message
            names the row.
    """
    if isinstance(text, bytes):
        if len(text) > CSV_MAX_BYTES:
            raise ValueError(f"CSV too large: {len(text)} bytes (at most {CSV_MAX_BYTES})")
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ValueError("CSV must be UTF-8 text") from None
    if len(text) > CSV_MAX_BYTES:
        raise ValueError(f"CSV too large: {len(text)} characters (at most {CSV_MAX_BYTES})")
    rows = [r for r in csv.reader(io.StringIO(text)) if any(c.strip() for c in r)]
    if rows and not _is_number(rows[0][0]):
        rows = rows[1:]  # a header row
    if len(rows) > CSV_MAX_ROWS:
        raise ValueError(f"CSV has {len(rows)} rows (at most {CSV_MAX_ROWS})")
    if len(rows) < 10:
        raise ValueError(f"CSV needs at least 10 data rows of x1,x2,label; got {len(rows)}")
    data = np.empty((len(rows), 3))
    for i, r in enumerate(rows, 1):
        if len(r) != 3:
            raise ValueError(f"CSV row {i}: expected 3 columns (x1,x2,label), got {len(r)}")
        for j, c in enumerate(r):
            if not _is_number(c) or not math.isfinite(float(c)):
                raise ValueError(f"CSV row {i}, column {j + 1}: {c.strip()!r} is not a "
                                 f"finite number")
            data[i - 1, j] = float(c)
    P, lab = data[:, :2], data[:, 2]
    lo, hi = P.min(0), P.max(0)
    span = np.where(hi > lo, hi - lo, 1.0)
    P = (P - lo) / span * 10 - 5
    if problem == "regression":
        m = np.abs(lab).max()
        return P, lab / m if m > 0 else lab
    if not np.all(lab == np.round(lab)):
        raise ValueError("classification labels must be integers (0…K−1 or −1/+1)")
    values = set(np.unique(lab).tolist())
    if values <= {-1.0, 1.0}:
        lab = (lab > 0).astype(float)
    elif min(values) < 0 or max(values) > 9:
        raise ValueError(f"classification labels must be 0…9 or −1/+1, got {sorted(values)}")
    if len(np.unique(lab)) < 2:
        raise ValueError("classification needs at least two classes in the labels")
    return P, lab.astype(np.int64)


def _is_number(c: str) -> bool:
    try:
        float(c)
    except ValueError:
        return False
    return True


def _b64(a: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(a, np.uint8).tobytes()).decode("ascii")


def _quantise(v: np.ndarray) -> np.ndarray:
    """Values in [−1, 1] (clipped) → bytes 0–255."""
    return np.round((np.clip(np.nan_to_num(v), -1, 1) + 1) * 127.5).astype(np.uint8)


def _unit(v: np.ndarray) -> np.ndarray:
    """``v / max|v|`` (for drawing a feature's map on the [−1, 1] colour scale)."""
    m = np.abs(v).max()
    return v / m if m > 0 else v


def _grid(n: int) -> np.ndarray:
    """Cell centres of an ``n × n`` grid over ``[−6, 6]²``, row-major from the top
    (x₂ = +6) to the bottom, left (x₁ = −6) to right: shape (n², 2)."""
    c = (np.arange(n) + 0.5) / n * 2 * DOMAIN - DOMAIN
    x1, x2 = np.meshgrid(c, c[::-1])
    return np.stack([x1.ravel(), x2.ravel()], 1)


# ------------------------------------------------------------------------------- run
class Run:
    """One training run of the playground: data, network, optimiser and the one step.

    Args:
        cfg: the settings.
        uploaded: ``(points, labels)`` of an uploaded CSV (:func:`parse_csv`) when
            ``cfg.dataset == "upload"``.

    Attributes:
        steps: mini-batch updates done; epoch: passes over the training data started.
        history: list of ``(steps, train_loss, test_loss)``.
    """

    def __init__(self, cfg: Config, uploaded: tuple[np.ndarray, np.ndarray] | None = None):
        from .. import nn, optim
        from ..train.step import TrainingStep

        self.cfg = cfg
        self.data = make_split(cfg, uploaded)
        k = self.data["n_classes"]
        if k is not None and k > 2 and cfg.loss == "mse":
            raise ValueError(f"the data have {k} classes: choose loss 'cross_entropy'")
        self.n_out = k if cfg.loss == "cross_entropy" else 1
        self.sizes = [len(cfg.features), *cfg.hidden, self.n_out]
        self.model = nn.mlp(self.sizes, cfg.activation, init=cfg.init, dropout=cfg.dropout,
                            seed=cfg.seed)
        self.optimizer = optim.get_optimizer(cfg.optimizer, self.model.parameters(), lr=cfg.lr)
        self.loss_fn = nn.get_loss(cfg.loss)
        self.step_fn = TrainingStep(self.model, self.loss_fn, self.optimizer,
                                    l1=cfg.reg_rate if cfg.regularization == "l1" else 0.0,
                                    l2=cfg.reg_rate if cfg.regularization == "l2" else 0.0)
        self.rng = np.random.default_rng(cfg.seed)
        self._epoch_iter: Iterator[np.ndarray] = iter(())
        self.steps = 0
        self.epoch = 0
        self.history: list[tuple[int, float, float]] = []
        self._grid = _grid(GRID)
        self._grid_X = featurize(self._grid, cfg.features)
        small = _grid(NEURON_GRID)
        self._inputs_maps = {f: _b64(_quantise(_unit(featurize(small, [f])[:, 0])))
                             for f in FEATURES}
        idx = (np.arange(NEURON_GRID) * (GRID // NEURON_GRID) + GRID // NEURON_GRID // 2)
        self._sub = (idx[:, None] * GRID + idx[None, :]).ravel()

    # ------------------------------------------------------------------- training
    @property
    def linears(self) -> list[Any]:
        """The network's Linear layers, input side first."""
        from ..nn import Linear

        return [m for m in self.model if isinstance(m, Linear)]

    def train(self, n: int) -> None:
        """``n`` mini-batch steps through the one training step (new epochs as needed)."""
        self.model.train()
        X, T = self.data["X_train"], self.data["T_train"]
        with np.errstate(all="ignore"):  # a diverging run shows NaN in the page, not warnings
            self._train(X, T, n)

    def _train(self, X: np.ndarray, T: np.ndarray, n: int) -> None:
        for _ in range(n):
            idx = next(self._epoch_iter, None)
            if idx is None:
                self._epoch_iter = batches(len(X), self.cfg.batch_size, self.rng)
                self.epoch += 1
                idx = next(self._epoch_iter)
            self.step_fn(X[idx], T[idx])
            self.steps += 1

    def steps_per_epoch(self) -> int:
        """Mini-batches in one pass over the training data."""
        return -(-len(self.data["X_train"]) // self.cfg.batch_size)

    def losses(self) -> tuple[float, float]:
        """``(train, test)`` data losses on the whole sets (evaluation mode, no penalty)."""
        import chainrule as cr

        self.model.eval()
        with cr.no_grad():
            out = []
            for part in ("train", "test"):
                X, T = self.data[f"X_{part}"], self.data[f"T_{part}"]
                out.append(float(self.loss_fn(self.model(cr.tensor(X)), cr.tensor(T)).item())
                           if len(X) else float("nan"))
        return out[0], out[1]

    # ------------------------------------------------------------------- drawing
    def _forward_all(self, X: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        """Output and every hidden layer's activations on ``X`` (evaluation mode)."""
        import chainrule as cr

        from ..nn import Dropout, Linear

        self.model.eval()
        acts = []
        with cr.no_grad():
            h = cr.tensor(X)
            for m in self.model:
                h = m(h)
                if not isinstance(m, (Linear, Dropout)):
                    acts.append(h.numpy())
        return h.numpy(), acts

    def display_values(self, out: np.ndarray) -> np.ndarray:
        """Network outputs → what the heat map shows: a value in [−1, 1] per point
        (regression, squared error, or 2·p₁ − 1 for two-class softmax) or, for K > 2
        classes, the class probabilities (n, K)."""
        if self.cfg.loss != "cross_entropy":
            return out[:, 0]
        e = np.exp(out - out.max(1, keepdims=True))
        p = e / e.sum(1, keepdims=True)
        return 2 * p[:, 1] - 1 if p.shape[1] == 2 else p

    def frame(self) -> dict[str, Any]:
        """One update for the page: losses, heat maps (base64 bytes) and the weights."""
        with np.errstate(all="ignore"):
            return self._frame()

    def _frame(self) -> dict[str, Any]:
        train_loss, test_loss = self.losses()
        if not self.history or self.history[-1][0] != self.steps:
            self.history.append((self.steps, train_loss, test_loss))
        out, acts = self._forward_all(self._grid_X)
        shown = self.display_values(out)
        if shown.ndim == 1:
            output = {"kind": "value", "data": _b64(_quantise(shown))}
        else:
            output = {"kind": "classes", "k": int(shown.shape[1]),
                      "cls": _b64(shown.argmax(1).astype(np.uint8)),
                      "conf": _b64(np.round(shown.max(1) * 255).astype(np.uint8))}
        neurons = [[_b64(_quantise(a[self._sub, j])) for j in range(a.shape[1])] for a in acts]
        weights = [{"W": _finite_list(m.weight.numpy()), "b": _finite_list(m.bias.numpy())}
                   for m in self.linears]
        finite = bool(np.isfinite(train_loss)) and all(
            np.isfinite(m.weight.numpy()).all() for m in self.linears)
        return {"steps": self.steps, "epoch": self.epoch, "train_loss": _num(train_loss),
                "test_loss": _num(test_loss), "output": output, "inputs": self._inputs_maps,
                "neurons": neurons, "weights": weights, "finite": finite,
                "compiled": bool(self.step_fn.compiled)}

    def points(self) -> dict[str, Any]:
        """The data points for the page: coordinates rounded, labels (class or value)."""
        d = self.data
        lab = (lambda y: y.tolist()) if self.cfg.problem == "classification" else (
            lambda y: np.round(y, 4).tolist())
        return {"train": np.round(d["P_train"], 3).tolist(), "train_y": lab(d["y_train"]),
                "test": np.round(d["P_test"], 3).tolist(), "test_y": lab(d["y_test"]),
                "n_classes": d["n_classes"], "sizes": self.sizes}

    # --------------------------------------------------------------- chain rule
    def _float64(self) -> Any:
        """A float64 copy of the network in evaluation mode (same weights)."""
        from .. import nn

        m = nn.mlp(self.sizes, self.cfg.activation, dropout=self.cfg.dropout, seed=0,
                   dtype=np.float64)
        m.load_state_dict(self.model.state_dict())
        m.eval()
        return m

    def _check_weight(self, layer: Any, row: Any, col: Any) -> tuple[int, int, int]:
        try:
            layer, row, col = int(layer), int(row), int(col)
        except (TypeError, ValueError):
            raise ValueError(f"layer, row, col must be integers, got {layer!r}, {row!r}, "
                             f"{col!r}") from None
        lin = self.linears
        if not 0 <= layer < len(lin):
            raise ValueError(f"layer must be in [0, {len(lin) - 1}], got {layer}")
        out_f, in_f = lin[layer].weight.shape
        if not (0 <= row < out_f and 0 <= col < in_f):
            raise ValueError(f"weight index ({row}, {col}) outside the layer's "
                             f"{out_f}×{in_f} matrix")
        return layer, row, col

    def _train_loss64(self, m: Any) -> Any:
        import chainrule as cr

        X = cr.tensor(self.data["X_train"].astype(np.float64))
        T = self.data["T_train"]
        T = cr.tensor(T.astype(np.float64) if T.dtype != np.int64 else T)
        return self.loss_fn(m(X), T)

    def gradient(self, layer: Any, row: Any, col: Any) -> float:
        """``∂L/∂W⁽ˡ⁾[row, col]`` by the engine's backward, in float64, for the data loss
        on the whole training set in evaluation mode (the number the panel explains)."""
        from ..nn import Linear

        layer, row, col = self._check_weight(layer, row, col)
        m = self._float64()
        self._train_loss64(m).backward()
        W = [x for x in m if isinstance(x, Linear)][layer].weight
        return float(W.grad.numpy()[row, col])

    def explain(self, layer: Any, row: Any, col: Any) -> dict[str, Any]:
        """The chain rule for one weight ``w = W⁽ˡ⁾[row, col]``, with the numbers.

        With ``a`` the activation feeding ``w``, ``z⁽ᵏ⁾`` the pre-activations, ``σ'`` the
        activation's derivative (from the engine's backward) and ``g = ∂L/∂ŷ``::

            ∂L/∂w = Σ_n Σ_paths a_n · σ'(z_r) · W⁽ˡ⁺¹⁾[k₁, r] · σ'(z_k₁) ⋯ W⁽ᴸ⁾[o, k] · g_{n,o}

        one term per path from the weight's neuron to an output ``o``. Beside it: the engine's
        backward (:meth:`gradient`) and a central finite difference
        ``(L(w + ε) − L(w − ε)) / 2ε`` with ``ε = 1e-6``, all in float64.

        Returns:
            a dict with ``terms`` (at most 12 paths by size, each ``{"path", "value"}``),
            ``n_paths``, ``path_sum``, ``gradient``, ``finite_difference``, ``weight``.
        """
        import chainrule as cr

        from ..nn import Dropout, Linear
        layer, row, col = self._check_weight(layer, row, col)
        m = self._float64()
        lin = [x for x in m if isinstance(x, Linear)]
        X = self.data["X_train"].astype(np.float64)
        acts = [x for x in m if not isinstance(x, (Linear, Dropout))]
        # forward through the engine's modules, keeping z, σ(z) and σ'(z) per layer; σ'(z)
        # is the engine's own backward of Σσ(z)
        a_in, zs, dsig = [X], [], []
        for k, mod in enumerate(lin):
            with cr.no_grad():
                zs.append(mod(cr.tensor(a_in[-1])).numpy())
            if k < len(acts):
                zt = cr.tensor(zs[-1], requires_grad=True)
                s = acts[k](zt)
                s.sum().backward()
                dsig.append(zt.grad.numpy())
                a_in.append(s.detach().numpy())
        yhat = cr.tensor(zs[-1], requires_grad=True)
        T = self.data["T_train"]
        Tt = cr.tensor(T.astype(np.float64) if T.dtype != np.int64 else T)
        self.loss_fn(yhat, Tt).backward()
        g = yhat.grad.numpy()                                    # ∂L/∂ŷ, (N, n_out)
        W = [x.weight.numpy() for x in lin]
        a = a_in[layer][:, col]
        names = _neuron_names(self.sizes, self.cfg.features)
        w_name = f"w[{names[layer][col]}→{names[layer + 1][row]}]"
        terms: list[tuple[str, float]] = []
        L = len(lin) - 1
        if layer == L:
            terms.append((f"{w_name} → {names[L + 1][row]}", float((a * g[:, row]).sum())))
            n_paths = 1
        else:
            n_paths = int(np.prod([W[k].shape[0] for k in range(layer + 1, L + 1)]))
            if n_paths <= MAX_PATHS:
                stack = [([row], a * dsig[layer][:, row])]
                while stack:
                    path, v = stack.pop()
                    k = len(path) + layer          # the Linear layer taking the path further
                    last = path[-1]
                    for nxt in range(W[k].shape[0]):
                        v2 = v * W[k][nxt, last]
                        if k == L:
                            label = " → ".join(names[layer + 1 + i][p]
                                               for i, p in enumerate([*path, nxt]))
                            terms.append((f"{w_name} → {label}", float((v2 * g[:, nxt]).sum())))
                        else:
                            stack.append(([*path, nxt], v2 * dsig[k][:, nxt]))
            else:  # too many paths: group them by the first neuron after the weight's one
                delta = g
                for k in range(L, layer + 1, -1):     # δ⁽ᵏ⁻¹⁾ = (δ⁽ᵏ⁾ W⁽ᵏ⁾) ⊙ σ'(z⁽ᵏ⁻¹⁾)
                    delta = (delta @ W[k]) * dsig[k - 1]
                base = a * dsig[layer][:, row]
                for nxt in range(W[layer + 1].shape[0]):
                    terms.append((f"{w_name} → {names[layer + 1][row]} → "
                                  f"{names[layer + 2][nxt]} → … (all paths)",
                                  float((base * W[layer + 1][nxt, row] * delta[:, nxt]).sum())))
        path_sum = math.fsum(v for _, v in terms)
        gradient = self.gradient(layer, row, col)
        # central finite difference on the same loss
        Wt = lin[layer].weight
        w0, eps = float(Wt.data[row, col]), 1e-6
        with cr.no_grad():
            Wt.data[row, col] = w0 + eps
            lp = float(self._train_loss64(m).item())
            Wt.data[row, col] = w0 - eps
            lm = float(self._train_loss64(m).item())
            Wt.data[row, col] = w0
        terms.sort(key=lambda t: -abs(t[1]))
        return {"weight_name": w_name, "weight": w0, "layer": layer, "row": row, "col": col,
                "n_paths": n_paths, "grouped": n_paths > MAX_PATHS,
                "terms": [{"path": p, "value": v} for p, v in terms[:12]],
                "rest": math.fsum(v for _, v in terms[12:]), "n_terms": len(terms),
                "path_sum": path_sum, "gradient": gradient,
                "finite_difference": (lp - lm) / (2 * eps), "n_samples": len(X)}

    # ------------------------------------------------------------------ export
    def save(self, path: Any) -> None:
        """Write the trained network with ``cr.save`` (``cr.load`` reads it back)."""
        import chainrule as cr

        cr.save(self.model, path, metadata={"playground": self.cfg.to_dict(),
                                            "steps": self.steps})

    def python_snippet(self) -> str:
        """Python that reproduces this run (same data, network, steps and losses)."""
        c = self.cfg
        data = ("uploaded = parse_csv(open('data.csv', 'rb').read(), cfg.problem)  "
                "# the CSV you uploaded\n" if c.dataset == "upload" else "uploaded = None\n")
        l1 = c.reg_rate if c.regularization == "l1" else 0.0
        l2 = c.reg_rate if c.regularization == "l2" else 0.0
        return f"""# chainrule playground run: reproduces the page's {self.steps} steps
import numpy as np
import chainrule as cr
from chainrule import nn, optim
from chainrule.playground.core import Config, batches, make_split, parse_csv
from chainrule.train import TrainingStep

cfg = Config.from_hash({c.to_hash()!r})
{data}d = make_split(cfg, uploaded)           # points, train/test split, features, targets
model = nn.mlp({self.sizes}, {c.activation!r}, init={c.init!r}, dropout={c.dropout},
               seed={c.seed})
opt = optim.get_optimizer({c.optimizer!r}, model.parameters(), lr={c.lr})
step = TrainingStep(model, {c.loss!r}, opt, l1={l1}, l2={l2})
rng = np.random.default_rng({c.seed})     # the order of the mini-batches
model.train()
done = 0
while done < {self.steps}:
    for idx in batches(len(d["X_train"]), {c.batch_size}, rng):
        if done == {self.steps}:
            break
        step(d["X_train"][idx], d["T_train"][idx])
        done += 1
model.eval()
with cr.no_grad():
    loss = nn.get_loss({c.loss!r})
    train = loss(model(cr.tensor(d["X_train"])), cr.tensor(d["T_train"])).item()
    test = loss(model(cr.tensor(d["X_test"])), cr.tensor(d["T_test"])).item()
print(f"train loss {{train:.6f}}  test loss {{test:.6f}}")
"""

    def cli_command(self) -> str:
        """The ``chainrule playground --replay`` command that trains this run headless."""
        extra = " --csv data.csv" if self.cfg.dataset == "upload" else ""
        return (f"chainrule playground --replay '{self.cfg.to_hash()}' --steps {self.steps}"
                f"{extra}")


def _finite_list(a: np.ndarray) -> list:
    """Rounded values for JSON (NaN → 0, ±inf → ±1e9: the page shows a warning instead)."""
    return np.round(np.nan_to_num(a.astype(float), nan=0.0, posinf=1e9, neginf=-1e9),
                    5).tolist()


def _num(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None


def _neuron_names(sizes: list[int], features: list[str]) -> list[list[str]]:
    """Names of the neurons per layer: the features (``x1``, ``sinx2``, …), hidden
    ``h1_0…`` (layer 1, neuron 0), outputs ``ŷ`` or ``ŷ0…``."""
    out = [list(features)]
    for layer, n in enumerate(sizes[1:-1], 1):
        out.append([f"h{layer}_{i}" for i in range(n)])
    out.append(["ŷ"] if sizes[-1] == 1 else [f"ŷ{i}" for i in range(sizes[-1])])
    return out
