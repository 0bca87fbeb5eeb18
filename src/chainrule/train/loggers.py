"""Logger callbacks: each epoch's record to a CSV file or to TensorBoard.

:class:`CSVLogger` appends one row per epoch to a CSV file as training goes (Keras's
``CSVLogger``), so a long run can be followed with ``tail -f`` or a spreadsheet and the rows
of an interrupted run are kept. :class:`TensorBoardLogger` writes the same numbers as
TensorBoard scalars (``tensorboard --logdir DIR``) through ``tensorboardX`` (the optional
extra ``chainrule[tensorboard]``), with the per-layer gradient norms when a
:class:`~chainrule.train.GradientMonitor` records them.

>>> import numpy as np, os, tempfile
>>> from chainrule import nn, optim
>>> from chainrule.train import fit
>>> X = np.random.default_rng(0).normal(size=(32, 2)); y = (X[:, 0] > 0).astype(int)
>>> model = nn.Sequential(nn.Linear(2, 2, seed=0))
>>> path = os.path.join(tempfile.mkdtemp(), "log.csv")
>>> _ = fit(model, "cross_entropy", optim.SGD(model.parameters(), lr=0.1), (X, y), epochs=2,
...         seed=0, progress=False, callbacks=[CSVLogger(path)])
>>> open(path).read().splitlines()[0]
'epoch,train_loss,train_accuracy,lr,time'
"""

from __future__ import annotations

import csv
import math
import os
from typing import TYPE_CHECKING, Any

from .callbacks import Callback

if TYPE_CHECKING:  # pragma: no cover
    from .loop import Trainer

__all__ = ["CSVLogger", "TensorBoardLogger"]


class CSVLogger(Callback):
    """Append each epoch's record (``epoch, train_loss, …, lr, time``) to a CSV file.

    Args:
        path: the CSV file (its folder is created).
        append: keep an existing file's rows and add to them (for a resumed run);
            otherwise the file is started afresh.

    The columns are those of the first record; a later record's new keys are ignored and
    its missing ones left empty. Floats are written with ``repr`` (read back exactly).
    """

    def __init__(self, path: str | os.PathLike, append: bool = False) -> None:
        self.path = os.fspath(path)
        self.append = bool(append)
        self.columns: list[str] | None = None

    def on_train_begin(self, trainer: Trainer) -> None:
        folder = os.path.dirname(self.path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        self.columns = None
        if self.append and os.path.isfile(self.path):
            with open(self.path, newline="", encoding="utf-8") as fh:
                self.columns = next(csv.reader(fh), None)
        elif os.path.exists(self.path):
            os.remove(self.path)

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, Any]) -> None:
        new = self.columns is None
        if new:
            self.columns = list(logs)
        with open(self.path, "a", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            if new:
                writer.writerow(self.columns)
            writer.writerow(["" if logs.get(k) is None else
                             (repr(float(logs[k])) if isinstance(logs[k], float) else logs[k])
                             for k in self.columns])

    def __repr__(self) -> str:
        return f"CSVLogger({self.path!r}, append={self.append})"


class TensorBoardLogger(Callback):
    """Write each epoch's numbers as TensorBoard scalars (view: ``tensorboard --logdir``).

    Tags: ``loss/train``, ``loss/dev``, ``<metric>/train``, ``<metric>/dev``, ``lr``,
    ``time``, and ``grad_norm/<layer>`` when the history holds gradient norms; the step is
    the epoch. Event files are written by ``tensorboardX.SummaryWriter``.

    Args:
        log_dir: the folder of the event files (created).
        comment: added to the writer's file name by tensorboardX.

    Raises:
        ImportError: tensorboardX is not installed (``pip install chainrule[tensorboard]``).
    """

    def __init__(self, log_dir: str | os.PathLike, comment: str = "") -> None:
        try:
            import tensorboardX  # noqa: F401
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError("TensorBoardLogger needs tensorboardX: pip install "
                              "'chainrule[tensorboard]' (or tensorboardX)") from e
        self.log_dir = os.fspath(log_dir)
        self.comment = comment
        self.writer: Any = None

    @staticmethod
    def tag(key: str) -> str:
        """``"dev_accuracy"`` → ``"accuracy/dev"``; ``"lr"`` stays ``"lr"``."""
        for split in ("train", "dev"):
            if key.startswith(split + "_"):
                return f"{key[len(split) + 1:]}/{split}"
        return key

    def on_train_begin(self, trainer: Trainer) -> None:
        from tensorboardX import SummaryWriter

        self.writer = SummaryWriter(self.log_dir, comment=self.comment)

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, Any]) -> None:
        if self.writer is None:
            return
        for key, value in logs.items():
            if key != "epoch" and isinstance(value, (int, float)) and math.isfinite(value):
                self.writer.add_scalar(self.tag(key), float(value), epoch)
        norms = trainer.history.grad_norms
        if len(norms) == len(trainer.history) and norms:
            for layer, value in norms[-1].items():
                self.writer.add_scalar(f"grad_norm/{layer}", float(value), epoch)
        self.writer.flush()

    def on_train_end(self, trainer: Trainer) -> None:
        self.close()

    def close(self) -> None:
        """Flush and close the event file."""
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def __repr__(self) -> str:
        return f"TensorBoardLogger({self.log_dir!r})"
