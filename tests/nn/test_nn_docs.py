"""Documentation: every docstring example runs, and every layer, activation, loss and
initialiser documents its equation, its parameters and an example."""

from __future__ import annotations

import doctest
import inspect
import re

import pytest

from chainrule import nn
from chainrule.nn import functional as F
from chainrule.nn import init
from doctest_helper import check_doctests

MODULES = ["chainrule.nn", "chainrule.nn.module", "chainrule.nn.layers",
           "chainrule.nn.activations", "chainrule.nn.functional", "chainrule.nn.init",
           "chainrule.nn.losses", "chainrule.nn.regularization", "chainrule.io"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    check_doctests(name, doctest.ELLIPSIS)


def _documented_objects():
    objs = {}
    for cls in list(nn.ACTIVATIONS.values()) + list(nn.LOSSES.values()):
        objs[cls.__name__] = cls
    for cls in (nn.Linear, nn.Dropout, nn.BatchNorm1d, nn.LayerNorm, nn.Residual, nn.Flatten,
                nn.Sequential, nn.ModuleList, nn.Parameter):
        objs[cls.__name__] = cls
    for name in F.__all__:
        if name != "REDUCTIONS":
            objs[f"F.{name}"] = getattr(F, name)
    for name in init.__all__:
        if name not in ("INITIALIZERS", "FOR_ACTIVATION", "get_initializer"):
            objs[f"init.{name}"] = getattr(init, name)
    objs["l1_penalty"], objs["l2_penalty"] = nn.l1_penalty, nn.l2_penalty
    return objs


DOCUMENTED = _documented_objects()
NO_EQUATION = {"Sequential", "ModuleList", "Parameter", "Flatten", "F.linear_"}
TABLE_OF_VALUES = {"init.calculate_gain"}  # its "equation" is a table: nonlinearity → gain
KEYWORD = re.compile(r"\w+=\S*")  # default=0.5, reduction="mean": not equations
TABLE_RULE = re.compile(r"={2,}")  # reStructuredText table borders


def has_equation(text: str) -> bool:
    """An equation sign once keyword arguments and table borders are set aside:
    ``" = "``, ``→``, ``" ~ "`` or ``≈``."""
    rest = TABLE_RULE.sub("", KEYWORD.sub("", text))
    return any(sign in rest for sign in (" = ", "→", " ~ ", "≈"))


def test_has_equation_rejects_keyword_defaults():
    assert not has_equation("A layer.\n\nArgs:\n    p: probability (default=0.5).")
    assert not has_equation("Calls f(x, reduction='mean') with eps=1e-5.")
    assert has_equation("y = x Wᵀ + b")
    assert has_equation("x → max(0, x)")


@pytest.mark.parametrize("name", sorted(DOCUMENTED))
def test_docstring_has_equation_parameters_and_example(name):
    obj = DOCUMENTED[name]
    doc = inspect.getdoc(obj) or ""
    assert ">>>" in doc, f"{name}: no example"
    text = doc.split(">>>")[0]
    if name not in NO_EQUATION | TABLE_OF_VALUES:
        assert has_equation(text), f"{name}: no equation"
    target = obj.__init__ if inspect.isclass(obj) else obj
    params = [p for p in inspect.signature(target).parameters.values()
              if p.name not in ("self", "input", "target", "x", "args", "kwargs", "dtype",
                                "seed", "tensor", "dim")]
    if params:
        assert "Args:" in doc, f"{name}: parameters {[p.name for p in params]} undocumented"
        for p in params:
            assert p.name in doc, f"{name}: parameter {p.name!r} undocumented"
