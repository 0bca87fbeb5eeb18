"""The guided tour in docs/tour/ is executable: every ```python block runs here.

Each page is one test. Its code blocks run in order in one shared namespace (like the cells
of a notebook), in a temporary working directory, with matplotlib on the Agg backend, so
a page whose code no longer matches the library fails the suite. The index must link
every page, in order, and every page must end by pointing to a ``chainrule demo``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

TOUR = Path(__file__).resolve().parents[2] / "docs" / "tour"
INDEX = TOUR / "README.md"
PAGES = sorted(p for p in TOUR.glob("*.md") if p.name != "README.md")

# A fenced block opened by exactly ```python (```pycon or ```text are not run).
_BLOCK = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
_LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
_DEMO = re.compile(r"chainrule demo ([a-z][a-z-]*)")


def python_blocks(text: str) -> list[tuple[int, str]]:
    """The ```python blocks of a Markdown text, as (first code line number, source)."""
    blocks = []
    for match in _BLOCK.finditer(text):
        line = text.count("\n", 0, match.start(1)) + 1
        blocks.append((line, match.group(1)))
    return blocks


def run_page(page: Path) -> dict:
    """Execute the page's blocks in order in one namespace; return the namespace."""
    text = page.read_text(encoding="utf-8")
    blocks = python_blocks(text)
    assert blocks, f"{page.name} has no ```python code block"
    namespace: dict = {"__name__": f"tour_{page.stem.replace('-', '_')}"}
    for line, source in blocks:
        # pad so that a traceback names the line of the Markdown file
        code = compile("\n" * (line - 1) + source, str(page), "exec")
        exec(code, namespace)
    return namespace


def test_the_tour_has_its_nine_pages():
    assert TOUR.is_dir(), "docs/tour/ is missing"
    assert len(PAGES) == 9, [p.name for p in PAGES]
    numbers = [p.name.split("-", 1)[0] for p in PAGES]
    assert numbers == [f"{i:02d}" for i in range(1, 10)], numbers


def test_the_block_extractor():
    text = "a\n```python\nx = 1\n```\n```text\nnot run\n```\n```python\ny = x + 1\n```\n"
    assert python_blocks(text) == [(3, "x = 1\n"), (9, "y = x + 1\n")]
    assert python_blocks("no code here\n") == []


def test_a_page_without_code_fails(tmp_path):
    page = tmp_path / "00-empty.md"
    page.write_text("# Nothing to run\n\n```text\nprose only\n```\n", encoding="utf-8")
    with pytest.raises(AssertionError, match="no ```python code block"):
        run_page(page)


def test_a_failing_block_names_its_markdown_line(tmp_path):
    page = tmp_path / "00-broken.md"
    page.write_text("# Broken\n\n```python\nx = 1\nassert x == 2\n```\n", encoding="utf-8")
    with pytest.raises(AssertionError) as info:
        run_page(page)
    assert info.traceback[-1].lineno + 1 == 5  # pytest's line numbers are 0-based


def test_the_index_links_every_page_in_order():
    assert INDEX.is_file(), "docs/tour/README.md (the index) is missing"
    links = _LINK.findall(INDEX.read_text(encoding="utf-8"))
    local = [link for link in links if not re.match(r"[a-z]+:", link)]
    for link in local:
        assert (TOUR / link).exists(), f"the index links {link}, which does not exist"
    pages_linked = [link for link in local if link in {p.name for p in PAGES}]
    missing = [p.name for p in PAGES if p.name not in pages_linked]
    assert not missing, f"the index does not link {missing}"
    first_seen = list(dict.fromkeys(pages_linked))
    assert first_seen == [p.name for p in PAGES], "the index lists the pages out of order"


def test_the_top_readme_links_the_tour():
    readme = (TOUR.parents[1] / "README.md").read_text(encoding="utf-8")
    assert "## Learn" in readme
    assert "(docs/tour/README.md)" in readme


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_page_closes_with_a_demo(page):
    from chainrule.demos import DEMOS

    text = page.read_text(encoding="utf-8").rstrip()
    last = text.splitlines()[-1]
    names = _DEMO.findall(last)
    assert names, f"{page.name} does not end with a line naming `chainrule demo NAME`"
    for name in names:
        assert name in DEMOS, f"{page.name} names unknown demo {name!r}"


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_page_runs(page, tmp_path, monkeypatch):
    import chainrule as cr

    monkeypatch.chdir(tmp_path)  # anything a page writes lands in a temporary folder
    cr.manual_seed(0)
    run_page(page)
