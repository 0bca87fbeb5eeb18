"""The suite's own rules, checked on its source: no timed assert, no module-level random
generator drawn from inside a test, hypothesis derandomised, no `tests.` package imports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from hypothesis import settings

TESTS = Path(__file__).parent
SOURCES = sorted(p for p in TESTS.rglob("*.py") if p.name != Path(__file__).name)
TIME_CALLS = {"perf_counter", "monotonic", "time", "process_time", "perf_counter_ns"}
TIME_NAMES = {"elapsed", "seconds", "duration", "wall_time"}
RNG_MAKERS = {"default_rng", "RandomState", "Generator", "manual_seed"}


def _names(node: ast.AST) -> set[str]:
    out = set()
    for n in ast.walk(node):
        if isinstance(n, ast.Name):
            out.add(n.id)
        elif isinstance(n, ast.Attribute):
            out.add(n.attr)
    return out


def _timed_asserts(tree: ast.AST) -> list[int]:
    """Line numbers of asserts comparing a clock reading or an elapsed-time name (a
    watchdog ``time.monotonic() < deadline``, which only stops a hung wait, is allowed)."""
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assert):
            cmps = [c for c in ast.walk(node.test) if isinstance(c, ast.Compare)
                    and "deadline" not in _names(c)]
            if any(_names(c) & (TIME_CALLS | TIME_NAMES) and
                   any(isinstance(op, (ast.Lt, ast.LtE, ast.Gt, ast.GtE)) for op in c.ops)
                   for c in cmps):
                bad.append(node.lineno)
    return bad


def _shared_generators(tree: ast.Module) -> list[str]:
    """Module-level generators read inside a function, unless a fixture rebinds them."""
    gens = set()
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            if _names(node.value.func) & RNG_MAKERS:
                gens |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    rebound = {name for node in ast.walk(tree) if isinstance(node, ast.Global)
               for name in node.names}
    used = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.Lambda)):
            local = {a.arg for a in node.args.args} | {
                n.id for n in ast.walk(node)
                if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
            read = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
            used |= (read & gens) - local
    return sorted(used - rebound)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(TESTS)))
def test_source_follows_the_rules(path):
    text = path.read_text()
    tree = ast.parse(text)
    assert _timed_asserts(tree) == [], "timed asserts (speed belongs in bench/)"
    assert _shared_generators(tree) == [], "module-level generators used in functions"
    assert "from tests." not in text and "import tests." not in text  # breaks plain pytest


def test_the_checks_catch_what_they_forbid():
    timed = ast.parse("t0 = time.perf_counter()\nassert time.perf_counter() - t0 < 60\n"
                      "assert result.seconds < 60\nassert x < 60\n"
                      "assert p.poll() is None and time.monotonic() < deadline\n")
    assert _timed_asserts(timed) == [2, 3]
    shared = ast.parse("rng = np.random.default_rng(0)\nA = rng.normal(size=3)\n"
                       "def test_a():\n    return rng.normal()\n"
                       "def test_b():\n    rng = np.random.default_rng(1)\n")
    assert _shared_generators(shared) == ["rng"]
    rebound = ast.parse("RNG = np.random.default_rng(0)\n"
                        "def fixture(rng):\n    global RNG\n    RNG = rng\n"
                        "def test_a():\n    return RNG.normal()\n")
    assert _shared_generators(rebound) == []


def test_hypothesis_is_derandomised():
    assert settings().derandomize  # a failure found once is found again
