"""The docstring examples of the CLI, config, plots and demos modules run as claimed."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["chainrule.cli", "chainrule.config", "chainrule.plots", "chainrule.demos"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0, f"{result.failed} failing example(s) in {name}"
