"""Training progress: a live bar on a terminal, one plain line per epoch elsewhere.

:class:`ProgressBar` is what :func:`~chainrule.train.fit` shows with ``progress=True`` and
what ``chainrule train`` shows; :class:`ProgressCallback` drives it from the callback hooks.
On a terminal it draws one bar over the epochs with the time elapsed and the estimated
time remaining (ETA), and — when an epoch runs for more than a second — a second bar over
that epoch's batches; the last state stays on screen. On anything else (a pipe, a log
file) it writes one line per epoch, as :func:`format_epoch` formats it::

    epoch 3/20  train_loss 0.2113  dev_loss 0.2381  dev_accuracy 0.9306  lr 0.001  0.41 s  eta 7 s

The ETA is ``(E − e) · t̄``: the epochs left times the mean time of the epochs run so far
in this session.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any, TextIO

from .callbacks import Callback

if TYPE_CHECKING:  # pragma: no cover
    from .loop import Trainer

__all__ = ["ProgressBar", "ProgressCallback", "format_duration", "format_epoch"]

#: An epoch longer than this (seconds) gets a bar over its batches.
BATCH_BAR_AFTER = 1.0


def format_duration(seconds: float) -> str:
    """``42 s``, ``3 min 05 s``, ``1 h 02 min``.

    >>> format_duration(4.2), format_duration(185), format_duration(3720)
    ('4 s', '3 min 05 s', '1 h 02 min')
    """
    if not math.isfinite(seconds):
        return "?"
    s = round(max(seconds, 0.0))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def format_epoch(logs: dict[str, Any], epochs: int, eta: float | None = None) -> str:
    """One line for an epoch's record: every logged quantity, the rate, the time, the ETA.

    >>> format_epoch({"epoch": 2, "train_loss": 0.5, "lr": 0.01, "time": 0.25}, 10, eta=2.0)
    'epoch 2/10  train_loss 0.5  lr 0.01  0.25 s  eta 2 s'
    """
    parts = [f"epoch {logs['epoch']}/{epochs}"]
    for k, v in logs.items():
        if k in ("epoch", "time", "lr"):
            continue
        parts.append(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}")
    if "lr" in logs:
        parts.append(f"lr {logs['lr']:.3g}")
    if "time" in logs:
        parts.append(f"{logs['time']:.2f} s")
    if eta is not None:
        parts.append(f"eta {format_duration(eta)}")
    return "  ".join(parts)


class ProgressBar:
    """Progress of one training run (see the module docstring).

    Args:
        trainer: the :class:`~chainrule.train.Trainer` (its ``epochs`` and ``epoch``).
        console: a ``rich`` Console to draw on (default: stderr).
        live: draw live bars (default: when the console is a terminal); ``False`` writes
            one plain line per epoch.
        summary: a callable ``logs -> str`` for the text beside the epoch bar (default:
            the train loss and the dev results).
        echo: show anything at all (False: only keep the times, for :meth:`eta`).
    """

    def __init__(self, trainer: Trainer, console: Any = None, live: bool | None = None,
                 summary: Any = None, echo: bool = True) -> None:
        from rich.console import Console

        self.console = console if console is not None else Console(stderr=True)
        self.echo = bool(echo)
        self.live = echo and (self.console.is_terminal if live is None else bool(live))
        self.epochs = int(trainer.epochs)
        self.summary = summary or _default_summary
        self.times: list[float] = []
        self.progress: Any = None
        self.epoch_task: Any = None
        self.batch_task: Any = None
        self._epoch_start = 0.0
        self._done = int(getattr(trainer, "epoch", 0))
        self._sum = 0.0
        self._n = 0
        self._last = ""
        if self.live:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self.progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[text]}"),
                TimeElapsedColumn(),
                TextColumn("eta"),
                TimeRemainingColumn(),
                console=self.console,
                transient=False,
            )
            self.progress.start()

    def eta(self) -> float | None:
        """Seconds left: epochs left × mean epoch time so far (None before one epoch)."""
        if not self.times:
            return None
        return (self.epochs - self._done) * sum(self.times) / len(self.times)

    def start_epoch(self, epoch: int, batches: int) -> None:
        """Called before the first batch of ``epoch`` (1-based) of ``batches`` batches."""
        self._done = epoch - 1
        self._epoch_start = time.perf_counter()
        self._sum, self._n = 0.0, 0
        if not self.live:
            return
        if self.epoch_task is None:
            self.epoch_task = self.progress.add_task("epoch", total=self.epochs,
                                                     completed=epoch - 1, text="")
        if self.batch_task is not None:
            self.progress.remove_task(self.batch_task)
        long_epochs = bool(self.times) and self.times[-1] > BATCH_BAR_AFTER
        self.batch_task = self.progress.add_task(
            f"  batch (epoch {epoch})", total=batches, text="", visible=long_epochs)

    def advance(self, loss: float) -> None:
        """Called after each batch with its loss."""
        self._sum += loss
        self._n += 1
        if not self.live or self.batch_task is None:
            return
        visible = time.perf_counter() - self._epoch_start > BATCH_BAR_AFTER
        self.progress.update(self.batch_task, advance=1, visible=visible or None,
                             text=f"loss {self._sum / self._n:.4g}")

    def end_epoch(self, logs: dict[str, Any]) -> None:
        """Called with the epoch's record once it is complete."""
        self.times.append(float(logs.get("time", time.perf_counter() - self._epoch_start)))
        self._done = int(logs["epoch"])
        if not self.live:
            if self.echo:
                self.console.print(format_epoch(logs, self.epochs, self.eta()),
                                   highlight=False, markup=False, soft_wrap=True)
            return
        self._last = self.summary(logs)
        if self.batch_task is not None:
            self.progress.update(self.batch_task, visible=False)
        self.progress.update(self.epoch_task, completed=logs["epoch"], text=self._last)

    def finish(self, note: str) -> None:
        """Add ``note`` (e.g. ``"early stop"``) to the bar's final text."""
        if self.live and self.epoch_task is not None:
            self.progress.update(self.epoch_task, text=f"{self._last}  ({note})")
        elif self.echo:
            self.console.print(note, highlight=False, markup=False)

    def close(self) -> None:
        """Stop drawing; the final state of the epoch bar stays on screen."""
        if self.progress is not None:
            if self.batch_task is not None:
                self.progress.remove_task(self.batch_task)
                self.batch_task = None
            self.progress.stop()
            self.progress = None


def _default_summary(logs: dict[str, Any]) -> str:
    parts = [f"loss {logs.get('train_loss', math.nan):.4f}"]
    for k, v in logs.items():
        if k.startswith("dev_") and isinstance(v, float):
            parts.append(f"{k.replace('_', ' ')} {v:.4f}")
    return "  ".join(parts)


class ProgressCallback(Callback):
    """Show a :class:`ProgressBar` for a run, driven by the callback hooks.

    Args:
        console: a ``rich`` Console (default: stderr).
        live: live bars (default: when the console is a terminal) or one line per epoch.
        file: also write one plain line per epoch to this open text file (a run's log).
        echo: show progress on the console (False: only write ``file``).

    Attributes:
        epoch: the last epoch completed (0 before the first; kept after an interruption).

    Example:
        >>> import io, numpy as np
        >>> from chainrule import nn, optim
        >>> from chainrule.train import fit
        >>> from rich.console import Console
        >>> X = np.random.default_rng(0).normal(size=(32, 2)); y = (X[:, 0] > 0).astype(int)
        >>> model = nn.Sequential(nn.Linear(2, 2, seed=0))
        >>> out = io.StringIO()
        >>> _ = fit(model, "cross_entropy", optim.SGD(model.parameters(), lr=0.1), (X, y),
        ...         epochs=2, seed=0, progress=False,
        ...         callbacks=[ProgressCallback(Console(file=out), live=False)])
        >>> [line.split()[:2] for line in out.getvalue().splitlines()]
        [['epoch', '1/2'], ['epoch', '2/2']]
    """

    def __init__(self, console: Any = None, live: bool | None = None,
                 file: TextIO | None = None, echo: bool = True) -> None:
        self.console = console
        self.live = live
        self.file = file
        self.echo = echo
        self.epoch = 0
        self.bar: ProgressBar | None = None

    def on_train_begin(self, trainer: Trainer) -> None:
        self.bar = ProgressBar(trainer, self.console, self.live, echo=self.echo)

    def on_epoch_begin(self, trainer: Trainer, epoch: int) -> None:
        self.epoch = epoch - 1
        if self.bar is not None:
            self.bar.start_epoch(epoch, len(trainer.loader))

    def on_batch_end(self, trainer: Trainer, batch: int, loss: float) -> None:
        if self.bar is not None:
            self.bar.advance(loss)

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, Any]) -> None:
        self.epoch = epoch
        if self.bar is not None:
            self.bar.end_epoch(logs)
            if self.file is not None:
                self.file.write(format_epoch(logs, self.bar.epochs, self.bar.eta()) + "\n")
                self.file.flush()

    def on_train_end(self, trainer: Trainer) -> None:
        if self.bar is not None and trainer.epoch < trainer.epochs:
            self.bar.finish(f"stopped at epoch {trainer.epoch} of {trainer.epochs}")
        self.close()

    def close(self) -> None:
        """Stop the bar (also after an interruption)."""
        if self.bar is not None:
            self.bar.close()
