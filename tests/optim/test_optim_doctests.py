"""The docstring examples of chainrule.optim run and print what they claim."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "chainrule.optim",
    "chainrule.optim.optimizer",
    "chainrule.optim.sgd",
    "chainrule.optim.rmsprop",
    "chainrule.optim.adagrad",
    "chainrule.optim.adam",
    "chainrule.optim.lr_scheduler",
    "chainrule.optim.clip",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0, f"{result.failed} failing example(s) in {name}"
