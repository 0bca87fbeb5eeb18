"""``chainrule playground``: TensorFlow Playground's lessons on chainrule's own engine.

A local web page (served by :mod:`chainrule.playground.server`, assets shipped in
``static/``) where you pick a data set, features, hidden layers, activation, optimiser and
regularisation and watch the decision surface form while the network trains in Python
through :class:`chainrule.train.TrainingStep`. :mod:`chainrule.playground.core` is the run
itself, usable without the web (``Config``, ``Run``, ``make_split``, ``batches``).
"""

from __future__ import annotations

from .command import playground_command

__all__ = ["playground_command"]
