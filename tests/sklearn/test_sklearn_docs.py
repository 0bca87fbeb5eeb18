"""docs/sklearn.md is executable: its ```python blocks run here, in order, in one namespace."""

from __future__ import annotations

import doctest
import re
import warnings
from pathlib import Path

import pytest

from doctest_helper import check_doctests

DOC = Path(__file__).resolve().parents[2] / "docs" / "sklearn.md"
_BLOCK = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


def test_the_page_names_the_required_tools():
    text = DOC.read_text(encoding="utf-8")
    for name in ("GridSearchCV", "RandomizedSearchCV", "cross_validate",
                 'joblib.parallel_backend("dask")', "chainrule search", "--scheduler"):
        assert name in text, name


def test_the_code_on_the_page_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = DOC.read_text(encoding="utf-8")
    blocks = [(text.count("\n", 0, m.start(1)), m.group(1)) for m in _BLOCK.finditer(text)]
    assert len(blocks) >= 6
    namespace: dict = {"__name__": "docs_sklearn"}
    try:
        for line, source in blocks:
            # padded so that a traceback names the line of the Markdown file
            exec(compile("\n" * line + source, str(DOC), "exec"), namespace)
    finally:
        for name in ("client", "cluster"):  # never leave Dask processes behind
            obj = namespace.get(name)
            if obj is not None:
                obj.close()
    assert namespace["cluster"].status.name == "closed"
    search = namespace["on_dask"]
    assert search.backend.startswith("dask (tcp://127.0.0.1:")
    if "BENCH_" in text:
        pytest.fail("docs/sklearn.md still has benchmark placeholders")


@pytest.mark.parametrize("module", ["chainrule.sklearn", "chainrule.sklearn._mlp",
                                    "chainrule.search"])
def test_docstring_examples(module, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning of the short examples
        check_doctests(module, doctest.ELLIPSIS)
