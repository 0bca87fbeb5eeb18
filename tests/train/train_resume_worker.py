"""A training run for the kill-and-resume test, executed as a subprocess.

    python train_resume_worker.py CKPT_DIR OUT.npz [--pause-at K] [--pause-in-replace N]
                                  [--signal FILE]

Trains a small classifier whose every piece of state matters for the final weights: two
Dropout layers (one with its own Generator, one on the library's global generator), a
BatchNorm1d layer (running statistics), Adam (moment estimates), a StepLR schedule, and
early stopping with ``restore_best`` (best weights and counters), checkpointing every epoch
into CKPT_DIR with ``resume=True``. At the end it writes the final ``state_dict`` and the
history (without wall times) to OUT.npz.

``--pause-at K`` makes the run write FILE and sleep after its K-th batch (counted from the
start of this process), so the parent can ``kill -9`` it at exactly that point;
``--pause-in-replace N`` does the same inside the N-th checkpoint write, after the temporary
file is complete and before it replaces the old checkpoint.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

import chainrule as cr
from chainrule import nn, optim
from chainrule.train import Callback, EarlyStopping, fit

EPOCHS = 6
BATCH = 20


def make_data():
    """200 training and 60 dev samples of a 3-class problem in 4 dimensions."""
    rng = np.random.default_rng(42)
    X = rng.normal(size=(260, 4)).astype(np.float32)
    y = (np.argmax(X[:, :3] + 0.3 * X[:, 3:], axis=1)).astype(np.int64)
    return (X[:200], y[:200]), (X[200:], y[200:])


def build():
    """Model, optimiser, schedule and callbacks, exactly as in every run."""
    cr.manual_seed(7)  # the second Dropout draws from the global generator
    model = nn.Sequential(
        nn.Linear(4, 32, init="he", seed=1),
        nn.BatchNorm1d(32),
        nn.ReLU(),
        nn.Dropout(0.3, seed=np.random.default_rng(2)),
        nn.Linear(32, 16, seed=3),
        nn.Tanh(),
        nn.Dropout(0.2),
        nn.Linear(16, 3, seed=4),
    )
    opt = optim.Adam(model.parameters(), lr=0.01)
    sched = optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    return model, opt, sched


class Pause(Callback):
    """Signal the parent and sleep (to be killed) after the K-th batch of this process
    (never for K = 0)."""

    def __init__(self, at: int, signal: str) -> None:
        self.at = at
        self.signal = signal
        self.count = 0

    def on_batch_end(self, trainer, batch, loss):
        self.count += 1
        if self.count == self.at:
            _signal_and_sleep(self.signal, f"batch {trainer.epoch}:{batch}")


def _signal_and_sleep(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)
    time.sleep(120)  # the parent kills us now
    raise SystemExit("not killed")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("ckpt_dir")
    parser.add_argument("out")
    parser.add_argument("--pause-at", type=int, default=0)
    parser.add_argument("--pause-in-replace", type=int, default=0)
    parser.add_argument("--signal", default="")
    args = parser.parse_args()

    if args.pause_in_replace:
        real_replace = os.replace
        calls = {"n": 0}

        def slow_replace(src, dst):
            calls["n"] += 1
            if calls["n"] == args.pause_in_replace:
                _signal_and_sleep(args.signal, f"replace {calls['n']}")
            real_replace(src, dst)

        os.replace = slow_replace

    train, dev = make_data()
    model, opt, sched = build()
    # every run has the same callbacks (a checkpoint only fits the same list); Pause(0) never
    # pauses
    callbacks = [EarlyStopping(patience=10, restore_best=True), Pause(args.pause_at, args.signal)]
    history = fit(model, "cross_entropy", opt, train, dev, epochs=EPOCHS, batch_size=BATCH,
                  seed=123, scheduler=sched, callbacks=callbacks, checkpoint_dir=args.ckpt_dir,
                  resume=True, progress=False)
    records = [{k: v for k, v in r.items() if k != "time"} for r in history.records]
    np.savez(args.out, history=json.dumps(records), **model.state_dict())


if __name__ == "__main__":
    main()
