"""The package's own import rule, checked on its source: no package reaches into another's
private names.

A *unit* is a subpackage (``nn``, ``optim``, ``train``, …) or a module at the package root
(``io``, ``onnx``, ``config``, …), except two groups of root modules that are one unit laid
out flat: the engine (``tensor``, ``ops``, ``autodiff``, ``trace``; DESIGN's "The engine")
and the command line (``cli`` and ``cli_*``). Inside a unit, private names are shared
freely. Across units, a module may import only public names, from public modules or from
the package root's internal shared modules (``_checks``, …: a root module whose name starts
with an underscore, made to be imported by the others). Forbidden across units:

- ``from .other import _name`` (also in functions and multi-line imports);
- ``from .nn import _conv_functional``, ``from .nn._conv_functional import name``,
  ``import chainrule.sklearn._mlp``: another unit's private module;
- ``other._name`` on a name bound to another unit's module (``F._CONSTANT``).

A helper that two units need is either made public where it lives (documented), or moved to
an internal shared module at the root.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import chainrule

ROOT = Path(chainrule.__file__).parent
ENGINE = {"tensor", "ops", "autodiff", "trace"}


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _unit(parts: list[str], root: Path) -> str:
    """The unit of module ``parts`` (``["chainrule", "nn", "conv"]``) under ``root``."""
    if len(parts) == 1:
        return parts[0]                                   # the package's __init__
    name = parts[1]
    if len(parts) > 2 or (root / name).is_dir():
        return name                                       # a subpackage
    if name in ENGINE:
        return "<engine>"
    if name == "cli" or name.startswith("cli_"):
        return "cli"
    return name


def _shared(parts: list[str], root: Path) -> bool:
    """A root-level internal module made to be imported by every unit (``_checks``)."""
    return len(parts) == 2 and _private(parts[1]) and not (root / parts[1]).is_dir()


def _is_module(parts: list[str], root: Path) -> bool:
    p = root.parent.joinpath(*parts)
    return p.is_dir() or p.with_suffix(".py").is_file()


def _module_of(path: Path, root: Path) -> tuple[list[str], list[str]]:
    """``(module, package)`` of a source file: dotted parts from the package's name."""
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        return parts[:-1], parts[:-1]
    return parts, parts[:-1]


def _reaches_in(target: list[str], me: str, root: Path) -> str | None:
    """The first private component of module path ``target`` owned by another unit."""
    for i in range(1, len(target)):
        if _private(target[i]):
            if i == 1 and _shared(target[:2], root):
                continue
            if _unit(target[: i + 1] if _is_module(target[: i + 1], root) else target[:i],
                     root) != me:
                return ".".join(target[: i + 1])
            return None
    return None


def violations(path: Path, root: Path = ROOT) -> list[str]:
    """``line: what`` for every cross-unit use of a private name in the file ``path``."""
    module, package = _module_of(path, root)
    me = _unit(module, root)
    top = root.name
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: list[str] = []
    aliases: dict[str, list[str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = base + (node.module.split(".") if node.module else [])
            else:
                target = node.module.split(".") if node.module else []
            if target[:1] != [top]:
                continue
            where = _reaches_in(target, me, root)
            if where:
                out.append(f"{node.lineno}: imports from {where}")
                continue
            for alias in node.names:
                full = target + [alias.name]
                if _is_module(full, root):
                    aliases[alias.asname or alias.name] = full
                    where = _reaches_in(full, me, root)
                    if where:
                        out.append(f"{node.lineno}: imports {where}")
                elif _private(alias.name) and not (
                        _unit(target, root) == me and not _shared(target, root)):
                    out.append(f"{node.lineno}: imports {'.'.join(full)}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                full = alias.name.split(".")
                if full[:1] != [top]:
                    continue
                where = _reaches_in(full, me, root)
                if where:
                    out.append(f"{node.lineno}: imports {where}")
                elif alias.asname:
                    aliases[alias.asname] = full
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in aliases and _private(node.attr)):
            owner = aliases[node.value.id]
            if _unit(owner, root) != me or _shared(owner, root):
                out.append(f"{node.lineno}: uses {'.'.join(owner)}.{node.attr}")
    return sorted(set(out), key=lambda s: int(s.split(":")[0]))


SOURCES = sorted(ROOT.rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_unit_reaches_into_another_units_private_names(path: Path) -> None:
    assert violations(path) == [], (
        "make the helper public where it lives (documented) or move it to a shared "
        "internal module at the package root (like _checks)")


def test_the_check_catches_what_it_forbids(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    for folder in (pkg, pkg / "nn", pkg / "train"):
        folder.mkdir()
        (folder / "__init__.py").write_text("")
    (pkg / "nn" / "_impl.py").write_text("def helper(): ...\ndef _inner(): ...\n")
    (pkg / "nn" / "layers.py").write_text("from ._impl import _inner\n")  # same unit: fine
    (pkg / "io.py").write_text("def _read(): ...\ndef read(): ...\n")
    (pkg / "_shared.py").write_text("def check(): ...\ndef _hidden(): ...\n")
    for name in ("tensor.py", "ops.py", "cli.py", "cli_tools.py"):
        (pkg / name).write_text("")
    (pkg / "train" / "loop.py").write_text(
        "from ..io import read\n"                       # public: fine
        "from .._shared import check\n"                 # shared internal module: fine
        "from .. import _shared\n"                      # fine
        "from ..io import (\n    read,\n    _read,\n)\n"  # line 4: private name
        "def f():\n    from ..nn import _impl\n"           # line 9: private module
        "from ..nn._impl import helper\n"               # line 10: inside a private module
        "import pkg.nn._impl\n"                         # line 11
        "from .. import io as files\n"
        "x = files._read\n"                             # line 13: attribute
        "from .._shared import _hidden\n"               # line 14: private of shared
    )
    (pkg / "ops.py").write_text("from .tensor import _make\n")      # the engine: one unit
    (pkg / "cli_tools.py").write_text("from . import cli\ncli._guarded\n")  # one unit
    assert violations(pkg / "train" / "loop.py", pkg) == [
        "4: imports pkg.io._read",
        "9: imports pkg.nn._impl",
        "10: imports from pkg.nn._impl",
        "11: imports pkg.nn._impl",
        "13: uses pkg.io._read",
        "14: imports pkg._shared._hidden",
    ]
    assert violations(pkg / "nn" / "layers.py", pkg) == []
    assert violations(pkg / "ops.py", pkg) == []
    assert violations(pkg / "cli_tools.py", pkg) == []


def _backward_formulas(source: str) -> list[str]:
    """What in a module's source would be a second copy of the core's differentiation: a
    ``backward`` (or ``vjp``/``jvp``) function or method, a class deriving from a
    primitive base (``Function``), or a use of ``unbroadcast`` (the gradient's reduction to
    an input's shape)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in (
                "backward", "vjp", "jvp"):
            found.append(f"{node.lineno}: def {node.name}")
        elif isinstance(node, ast.ClassDef) and any(
                (isinstance(b, ast.Name) and b.id == "Function")
                or (isinstance(b, ast.Attribute) and b.attr == "Function") for b in node.bases):
            found.append(f"{node.lineno}: class {node.name}(Function)")
        elif (isinstance(node, ast.Name) and node.id == "unbroadcast") or (
                isinstance(node, ast.Attribute) and node.attr == "unbroadcast"):
            found.append(f"{node.lineno}: unbroadcast")
    return found


def test_the_compiled_step_holds_no_backward_formula():
    # the compiled step replays what the primitives' own backward computed (issue 12):
    # trace.py defines no backward, no primitive, and never reduces a gradient itself
    assert _backward_formulas((ROOT / "trace.py").read_text()) == []
    # the check finds each kind (so the empty list above means something)
    planted = ("class Exp2(ops.Function):\n    @staticmethod\n    def backward(ctx, g):\n"
               "        return unbroadcast(g, ctx.shape)\n")
    assert _backward_formulas(planted) == ["1: class Exp2(Function)", "3: def backward",
                                           "4: unbroadcast"]
