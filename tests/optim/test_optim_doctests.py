"""The docstring examples of chainrule.optim run and print what they claim."""

from __future__ import annotations

import doctest

import pytest

from doctest_helper import check_doctests

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
    check_doctests(name, doctest.ELLIPSIS)
