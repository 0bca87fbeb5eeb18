"""One way for every test file to run the docstring examples of a module.

``tests/`` is on ``sys.path`` (through ``tests/conftest.py``), so a test imports it as
``from doctest_helper import check_doctests``.
"""

from __future__ import annotations

import doctest
import importlib
from types import ModuleType


def check_doctests(module: str | ModuleType, optionflags: int = 0, more_than: int = 0) -> None:
    """Run the examples of ``module`` (a module or its dotted name): none may fail, and more
    than ``more_than`` must have run."""
    if isinstance(module, str):
        module = importlib.import_module(module)
    name = module.__name__
    result = doctest.testmod(module, optionflags=optionflags, verbose=False)
    assert result.failed == 0, f"{result.failed} failing example(s) in {name}"
    assert result.attempted > more_than, (
        f"{name} has {result.attempted} example(s), expected more than {more_than}"
    )
