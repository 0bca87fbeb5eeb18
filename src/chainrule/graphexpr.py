"""Arithmetic expressions in named variables, parsed safely into a computational graph.

``parse_expression("(x + y) * z", {"x": -2, "y": 5, "z": -4})`` builds the graph of
``f(x, y, z) = (x + y)·z`` from Python's :mod:`ast` with a whitelist — numbers, the
variables given, ``+ - * / **``, unary ``±`` and calls of the allowed functions
(:data:`FUNCTIONS`) — and never ``eval``. The ``chainrule graph`` command uses it to draw
the graph and print the chain rule step by step.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from .tensor import Tensor

__all__ = ["FUNCTIONS", "graph_command", "parse_assignments", "parse_expression"]

#: The functions an expression may call (one argument each), by name.
FUNCTIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "exp": Tensor.exp,
    "log": Tensor.log,
    "log1p": Tensor.log1p,
    "sqrt": Tensor.sqrt,
    "sin": Tensor.sin,
    "cos": Tensor.cos,
    "tanh": Tensor.tanh,
    "sigmoid": Tensor.sigmoid,
    "relu": Tensor.relu,
    "abs": Tensor.abs,
    "erf": Tensor.erf,
}

_FUNCTION_NAMES = ", ".join(FUNCTIONS)

_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.Pow: lambda a, b: a ** b,
}


def _where(node: ast.AST) -> str:
    return f"at column {getattr(node, 'col_offset', 0) + 1}"


def parse_expression(
    expr: str, at: Mapping[str, float]
) -> tuple[Tensor, dict[str, Tensor]]:
    """Build the graph of ``expr`` with each variable a float64 leaf requiring grad.

    Args:
        expr: e.g. ``"(x + y) * z"`` or ``"sigmoid(w0*x0 + w1*x1 + b)"``; numbers, the
            names of ``at``, ``+ - * / **``, unary ``+``/``-``, and calls ``f(arg)`` of
            :data:`FUNCTIONS`.
        at: the value of every variable.

    Returns:
        ``(output, variables)``: the output Tensor and ``name → leaf Tensor`` for the
        variables the expression uses.

    Raises:
        ValueError: a syntax error, an unknown name, an attribute access, a call that is
            not an allowed function, any other construct, or no variable used.
        TypeError: ``expr`` is not a string.

    Example:
        >>> f, v = parse_expression("(x + y) * z", {"x": -2, "y": 5, "z": -4})
        >>> f.item()
        -12.0
    """
    if not isinstance(expr, str):
        raise TypeError(f"expression: expected a string, got {type(expr).__name__}")
    try:
        tree = ast.parse(expr.strip(), mode="eval")
    except SyntaxError as err:
        raise ValueError(
            f"expression {expr!r}: syntax error at column {err.offset or 0} ({err.msg})"
        ) from None
    variables: dict[str, Tensor] = {}

    def build(node: ast.AST) -> Any:
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                raise ValueError(f"expression: only numbers are allowed as constants, got "
                                 f"{node.value!r} {_where(node)}")
            return float(node.value)
        if isinstance(node, ast.Name):
            if node.id not in at:
                hint = " (a function must be called: name(x))" if node.id in FUNCTIONS else ""
                raise ValueError(
                    f"expression: unknown name {node.id!r} {_where(node)}{hint}; variables "
                    f"given by --at: {', '.join(sorted(at)) or 'none'}"
                )
            if node.id not in variables:
                variables[node.id] = Tensor(np.float64(at[node.id]), requires_grad=True)
            return variables[node.id]
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            return _BINARY[type(node.op)](build(node.left), build(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            operand = build(node.operand)
            return -operand if isinstance(node.op, ast.USub) else operand
        if isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else None
            if name not in FUNCTIONS:
                shown = ast.unparse(node.func)
                raise ValueError(
                    f"expression: {shown!r} is not an allowed function {_where(node)}; "
                    f"allowed: {', '.join(FUNCTIONS)}"
                )
            if len(node.args) != 1 or node.keywords:
                raise ValueError(f"expression: {name}() takes exactly one argument "
                                 f"{_where(node)}")
            arg = build(node.args[0])
            if not isinstance(arg, Tensor):
                arg = Tensor(np.float64(arg))
            return FUNCTIONS[name](arg)
        if isinstance(node, ast.Attribute):
            raise ValueError(f"expression: attribute access {ast.unparse(node)!r} is not "
                             f"allowed {_where(node)}")
        raise ValueError(
            f"expression: {type(node).__name__} ({ast.unparse(node)!r}) is not allowed "
            f"{_where(node)}; use numbers, variables, + - * / **, and "
            f"{', '.join(FUNCTIONS)}"
        )

    out = build(tree.body)
    if not isinstance(out, Tensor) or out._ctx is None:
        raise ValueError(f"expression {expr!r}: it uses no variable (or only one, unchanged), "
                         "so there is no graph to draw")
    return out, variables


def parse_assignments(text: str) -> dict[str, float]:
    """``"x=-2,y=5,z=-4"`` → ``{"x": -2.0, "y": 5.0, "z": -4.0}``.

    Raises:
        ValueError: an item without ``=``, a name that is not an identifier, a repeated
            name, or a value that is not a finite number.
    """
    values: dict[str, float] = {}
    for item in filter(None, (s.strip() for s in text.split(","))):
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            raise ValueError(f"--at: expected name=value items separated by commas, got "
                             f"{item!r}")
        if name in values:
            raise ValueError(f"--at: {name!r} is given twice")
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f"--at: the value of {name!r} must be a number, got "
                             f"{value.strip()!r}") from None
        if not math.isfinite(number):
            raise ValueError(f"--at: the value of {name!r} must be finite, got {number}")
        values[name] = number
    return values


def graph_command(
    expression: Annotated[str, typer.Argument(
        metavar="EXPR", help="Arithmetic in named variables, e.g. \"(x + y) * z\"; "
        f"functions: {_FUNCTION_NAMES}.", show_default=False)],
    at: Annotated[str, typer.Option(
        "--at", help="The variables' values: x=-2,y=5,z=-4.", show_default=False)] = "",
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Write the drawing: .svg, .png (or .dot for Graphviz DOT text).",
        show_default=False)] = None,
    backward: Annotated[bool, typer.Option(
        "--backward", help="Draw the graph of the backward pass instead.")] = False,
) -> None:
    """Draw the computational graph of an expression and print the chain rule in numbers.

    Example: chainrule graph "(x + y) * z" --at x=-2,y=5,z=-4 --out graph.svg
    prints q = x + y = 3, f = q · z = -12 and every gradient as upstream × local
    derivative (∂f/∂x = ∂f/∂t1 · ∂t1/∂x = -4 · 1 = -4). The expression is parsed with a
    whitelist (never evaluated as Python).
    """
    from .graphdraw import draw, explain_backward, to_dot

    try:
        f, variables = parse_expression(expression, parse_assignments(at))
        names = {**variables, "f": f}
        explain_backward(f, names=names)
        if out is not None:
            what = "backward" if backward else "forward"
            if out.suffix.lower() == ".dot":
                out.write_text(to_dot(f, names=names, what=what) + "\n", encoding="utf-8")
            else:
                draw(f, out, names=names, what=what, title=f"f = {expression.strip()}")
            typer.echo(f"graph written to {out}", err=True)
    except (ValueError, TypeError, OSError) as err:
        typer.echo(f"error: {' '.join(str(err).split())}", err=True)
        raise typer.Exit(2) from None
