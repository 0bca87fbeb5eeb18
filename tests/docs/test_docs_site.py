"""The documentation site builds with ``mkdocs build --strict``: a warning fails the suite.

A broken link, a page missing from the navigation, a docstring the API reference cannot
parse or an unresolved cross-reference is a warning, and strict mode turns it into an
error. The build runs in a subprocess into a temporary folder (nothing lands in ``site/``).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NEEDED = ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python", "pymdownx")


def _missing() -> list[str]:
    missing = []
    for name in NEEDED:
        try:
            if importlib.util.find_spec(name) is None:
                missing.append(name)
        except ModuleNotFoundError:
            missing.append(name)
    return missing


def _hooks():
    spec = importlib.util.spec_from_file_location("docs_hooks", ROOT / "docs" / "hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_docs_extension_fences_doctests():
    pytest.importorskip("griffe", reason="griffe (from the docs extra) is not installed")
    spec = importlib.util.spec_from_file_location(
        "griffe_extensions", ROOT / "docs" / "griffe_extensions.py")
    ext = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ext)
    # a doctest in a description is fenced; a Google "Example:" becomes "Examples:"
    assert ext.rewrite("Text.\n\n>>> f()[0]\n[1, 2]\n\nMore.") == (
        "Text.\n\n```pycon\n>>> f()[0]\n[1, 2]\n```\n\nMore.")
    assert ext.rewrite("Sum.\n\nExample:\n    >>> 1\n    1") == (
        "Sum.\n\nExamples:\n    >>> 1\n    1")
    # a NumPy doctest closing the Parameters section gets its Examples heading
    doc = "Sum.\n\nParameters\n----------\nx : int\n\n>>> 1\n1"
    assert ext.rewrite(doc) == (
        "Sum.\n\nParameters\n----------\nx : int\n\nExamples\n--------\n>>> 1\n1")
    # reStructuredText roles and literal-block markers read as Markdown
    assert ext.rewrite("See :func:`fit` and :class:`~nn.Linear`::") == (
        "See `fit` and `nn.Linear`:")


@pytest.mark.skipif(bool(_missing()), reason="the docs extra is not installed (pip install "
                    "-e '.[docs]'): no mkdocs, mkdocs-material or mkdocstrings")
def test_generated_pages_cover_the_commands_and_modules():
    hooks = _hooks()
    pages = hooks.cli_pages()
    assert {"index", "train", "demo"} <= set(pages)
    assert "| `--lr <float>` |" in pages["train"]
    modules = hooks.public_modules()
    assert {"chainrule", "chainrule.train.bias_variance", "chainrule.mathkit.linalg"} <= set(
        modules)
    assert not [m for m in modules if any(p.startswith("_") for p in m.split("."))]
    guide = hooks.guide_page()
    assert "](tour/README.md)" in guide and "](docs/" not in guide


@pytest.mark.skipif(bool(_missing()), reason="the docs extra is not installed (pip install "
                    "-e '.[docs]'): no mkdocs, mkdocs-material or mkdocstrings")
def test_mkdocs_build_strict(tmp_path):
    site = tmp_path / "site"
    env = dict(os.environ, MPLBACKEND="Agg", NO_MKDOCS_2_WARNING="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"),
                                                      env.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet",
         "--config-file", str(ROOT / "mkdocs.yml"), "--site-dir", str(site)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    for page in ("index.html", "tour/index.html", "sklearn/index.html",
                 "cli/train/index.html", "api/chainrule.train.bias_variance/index.html",
                 "figures/index.html"):
        assert (site / page).is_file(), page
    api = (site / "api/chainrule.train.bias_variance/index.html").read_text(encoding="utf-8")
    assert "bias_variance_decomposition" in api and "polynomial_fitter" in api
    assert (site / "figures" / "degree.png").stat().st_size > 5_000
    tour = (site / "tour/08-regularisation-bias-variance/index.html").read_text(encoding="utf-8")
    assert "measured test error" in tour  # the output blocks are on the page
