"""History: what happened in each epoch of training, as a table.

:func:`~chainrule.train.fit` appends one record per epoch, a dict with the keys

- ``epoch`` (1 for the first epoch),
- ``train_loss`` (mean data loss over the epoch's mini-batches, without the L1/L2 penalty)
  and ``dev_loss`` (on the dev set, in eval mode, after the epoch),
- ``train_<metric>`` and ``dev_<metric>`` for every metric (``train_accuracy``, …),
- ``lr`` (the learning rate used during the epoch) and ``time`` (wall seconds of the epoch).

Columns come out as arrays (``history.column("dev_loss")``), the table goes to and from
CSV, and :meth:`History.best_epoch` finds the best epoch by any column.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from .checkpoint import atomic_write_text
from .metrics import _check_mode

__all__ = ["History"]

_GRAD_PREFIX = "grad_norm:"


class History:
    """Per-epoch records of a training run.

    Attributes:
        records: one dict per epoch (keys ``epoch``, ``train_loss``, ``dev_loss``,
            ``train_<metric>``, ``dev_<metric>``, ``lr``, ``time``).
        grad_norms: one dict ``{layer: ‖∂L/∂θ_layer‖₂}`` per epoch, filled by
            :class:`~chainrule.train.GradientMonitor` (empty otherwise).
        stopped_epoch: the epoch after which early stopping ended the run (``None`` if it
            ran to the end).
        compiled, compile_reason: whether the last training step of :func:`fit` ran
            compiled, and if not, why (``None`` before training; not saved).
        frozen, n_frozen: the names of the parameters :func:`fit` left frozen
            (``requires_grad=False``) and how many numbers they hold (``()`` and 0 when
            every parameter was trained; not saved).

    Example:
        >>> h = History([{"epoch": 1, "dev_loss": 0.9}, {"epoch": 2, "dev_loss": 0.7}])
        >>> h.column("dev_loss"), h.best_epoch("dev_loss")
        (array([0.9, 0.7]), 2)
    """

    def __init__(
        self,
        records: Sequence[dict[str, Any]] = (),
        grad_norms: Sequence[dict[str, float]] = (),
    ) -> None:
        self.records: list[dict[str, Any]] = [dict(r) for r in records]
        self.grad_norms: list[dict[str, float]] = [dict(g) for g in grad_norms]
        self.stopped_epoch: int | None = None
        self.compiled: bool | None = None
        self.compile_reason: str | None = None
        self.frozen: tuple[str, ...] = ()
        self.n_frozen = 0

    # ------------------------------------------------------------------------- access
    def append(self, record: dict[str, Any]) -> None:
        """Add the record of one epoch (it must have an ``epoch`` key)."""
        if "epoch" not in record:
            raise ValueError(f"a history record needs an 'epoch' key, got keys {list(record)}")
        self.records.append(dict(record))

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return self.records[i]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.records)

    @property
    def last(self) -> dict[str, Any]:
        """The record of the last epoch."""
        if not self.records:
            raise ValueError("the history is empty")
        return self.records[-1]

    def keys(self) -> list[str]:
        """Column names, in order of first appearance."""
        names: dict[str, None] = {}
        for r in self.records:
            for k in r:
                names.setdefault(k, None)
        return list(names)

    def column(self, name: str) -> np.ndarray:
        """One column as a float array (NaN where an epoch has no value).

        Raises:
            KeyError: no record has ``name``; the message lists the columns.

        Example:
            >>> History([{"epoch": 1, "lr": 0.1}, {"epoch": 2, "lr": 0.05}]).column("lr")
            array([0.1 , 0.05])
        """
        if name.startswith(_GRAD_PREFIX):
            layer = name[len(_GRAD_PREFIX):]
            return np.array([g.get(layer, np.nan) for g in self.grad_norms], dtype=np.float64)
        if not any(name in r for r in self.records):
            raise KeyError(f"history has no column {name!r}; columns: {self.keys()}")
        values = [r.get(name) for r in self.records]
        return np.array([np.nan if v is None else v for v in values], dtype=np.float64)

    def grad_norm(self, layer: str) -> np.ndarray:
        """The gradient norm of ``layer`` in each epoch (needs a GradientMonitor)."""
        layers = {k for g in self.grad_norms for k in g}
        if layer not in layers:
            raise KeyError(f"no gradient norms for layer {layer!r}; layers: {sorted(layers)}")
        return self.column(_GRAD_PREFIX + layer)

    def best_epoch(self, monitor: str = "dev_loss", mode: str = "auto") -> int:
        """The epoch (as recorded, 1-based) at which ``monitor`` was best.

        Args:
            monitor: a column name.
            mode: ``"min"``, ``"max"`` or ``"auto"`` (``"max"`` for accuracy and r2,
                ``"min"`` for losses and errors). Ties go to the earliest epoch; NaN values
                are skipped.

        Example:
            >>> History([{"epoch": 1, "dev_accuracy": 0.8},
            ...          {"epoch": 2, "dev_accuracy": 0.9}]).best_epoch("dev_accuracy")
            2
        """
        mode = _check_mode(mode, monitor)
        values = self.column(monitor)
        if np.all(np.isnan(values)):
            raise ValueError(f"column {monitor!r} has no values")
        i = int(np.nanargmin(values) if mode == "min" else np.nanargmax(values))
        return int(self.records[i]["epoch"])

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (used by checkpoints)."""
        return {
            "records": [{k: _jsonable(v) for k, v in r.items()} for r in self.records],
            "grad_norms": [{k: float(v) for k, v in g.items()} for g in self.grad_norms],
            "stopped_epoch": self.stopped_epoch,
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> History:
        """Inverse of :meth:`to_dict`."""
        h = cls(state.get("records", ()), state.get("grad_norms", ()))
        h.stopped_epoch = state.get("stopped_epoch")
        return h

    def to_csv(self, path: str | os.PathLike) -> None:
        """Write one row per epoch; gradient norms become columns ``grad_norm:<layer>``.

        Floats are written with ``repr`` so :meth:`from_csv` reads back the same values.

        Example:
            >>> import tempfile, os
            >>> h = History([{"epoch": 1, "train_loss": 0.1}])
            >>> p = os.path.join(tempfile.mkdtemp(), "h.csv"); h.to_csv(p)
            >>> History.from_csv(p).records
            [{'epoch': 1, 'train_loss': 0.1}]
        """
        columns = self.keys()
        layers: dict[str, None] = {}
        for g in self.grad_norms:
            for k in g:
                layers.setdefault(k, None)
        header = columns + [_GRAD_PREFIX + k for k in layers]
        f = io.StringIO(newline="")
        w = csv.writer(f)
        w.writerow(header)
        for i, r in enumerate(self.records):
            g = self.grad_norms[i] if i < len(self.grad_norms) else {}
            row = [_cell(r.get(k)) for k in columns] + [_cell(g.get(k)) for k in layers]
            w.writerow(row)
        atomic_write_text(path, f.getvalue())  # a kill leaves the old table or the new one

    @classmethod
    def from_csv(cls, path: str | os.PathLike) -> History:
        """Read a table written by :meth:`to_csv`."""
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
        if not rows:
            raise ValueError(f"{os.fspath(path)!r} is empty; expected a header row")
        header, body = rows[0], rows[1:]
        if "epoch" not in header:
            raise ValueError(f"{os.fspath(path)!r} has no 'epoch' column; header {header}")
        records, norms = [], []
        for n, row in enumerate(body, start=2):
            if len(row) != len(header):
                raise ValueError(
                    f"{os.fspath(path)!r} line {n} has {len(row)} cells, header has "
                    f"{len(header)}"
                )
            rec: dict[str, Any] = {}
            g: dict[str, float] = {}
            for k, cell in zip(header, row):
                if cell == "":
                    continue
                value = _parse(cell, os.fspath(path), n, k)
                if k.startswith(_GRAD_PREFIX):
                    g[k[len(_GRAD_PREFIX):]] = float(value)
                else:
                    rec[k] = value
            records.append(rec)
            norms.append(g)
        return cls(records, norms if any(norms) else ())

    def __repr__(self) -> str:
        if not self.records:
            return "History(epochs=0)"
        last = ", ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
            for k, v in self.records[-1].items()
            if k != "epoch"
        )
        return f"History(epochs={len(self.records)}, last: {last})"


def _jsonable(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    return v


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return repr(v)
    return str(v)


def _parse(cell: str, path: str, line: int, column: str) -> Any:
    try:
        return int(cell)
    except ValueError:
        pass
    try:
        value = float(cell)
    except ValueError:
        raise ValueError(
            f"{path!r} line {line}, column {column!r}: {cell!r} is not a number"
        ) from None
    return value if not math.isnan(value) else math.nan
