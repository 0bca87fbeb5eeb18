"""The docstring examples of the CLI, config, plots and demos modules run as claimed."""

from __future__ import annotations

import doctest

import pytest

from doctest_helper import check_doctests

MODULES = ["chainrule.cli", "chainrule.config", "chainrule.plots", "chainrule.demos"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    check_doctests(name, doctest.ELLIPSIS)
