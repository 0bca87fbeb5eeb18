"""The guided tour in docs/tour/ is executable: every ```python block runs here.

Each page is one test. Its code blocks run in order in one shared namespace (like the cells
of a notebook), in a temporary working directory, with matplotlib on the Agg backend, so
a page whose code no longer matches the library fails the suite. The index must link
every page, in order, and every page must end by pointing to a ``chainrule demo``.

A block that prints is followed by a ```text block showing what it prints; the test
compares the two (numbers to within one unit of their last shown digit, so that a BLAS
that rounds differently does not fail the page). After changing a page, refresh its
output blocks with ``python tests/docs/test_docs_tour.py [PAGE ...]``.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import sys
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


# A ```text block right after a ```python block (blank lines apart) shows its output.
_OUTPUT = re.compile(r"[ \t]*\n?(?:[ \t]*\n)*```text[ \t]*\n(.*?)^```[ \t]*$",
                     re.MULTILINE | re.DOTALL)
_NUMBER = re.compile(r"[-+−]?(?:\d+(?:[.,]\d+)*(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?")


def shown_outputs(text: str) -> list[tuple[int, int, str | None]]:
    """For each ```python block: (end of the block, end of its output block, shown output).

    Without an output block the second number equals the first and the output is None.
    """
    shown = []
    for match in _BLOCK.finditer(text):
        out = _OUTPUT.match(text, match.end())
        if out is None:
            shown.append((match.end(), match.end(), None))
        else:
            shown.append((match.end(), out.end(), out.group(1)))
    return shown


def run_page(page: Path) -> tuple[dict, list[str]]:
    """Execute the page's blocks in order in one namespace.

    Returns the namespace and what each block printed.
    """
    text = page.read_text(encoding="utf-8")
    blocks = python_blocks(text)
    assert blocks, f"{page.name} has no ```python code block"
    namespace: dict = {"__name__": f"tour_{page.stem.replace('-', '_')}"}
    printed = []
    for line, source in blocks:
        # pad so that a traceback names the line of the Markdown file
        code = compile("\n" * (line - 1) + source, str(page), "exec")
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            exec(code, namespace)
        printed.append(buffer.getvalue())
    return namespace, printed


def _number(token: str) -> tuple[float, float]:
    """A printed number and one unit of its last digit."""
    token = token.replace("−", "-").replace(",", "")
    mantissa, _, exponent = token.lower().partition("e")
    decimals = len(mantissa.partition(".")[2])
    scale = 10.0 ** (int(exponent) if exponent else 0)
    return float(token), 10.0 ** -decimals * scale


def same_output(printed: str, shown: str) -> bool:
    """The same text, numbers equal to within one unit of the last digit shown."""
    if _NUMBER.sub("#", printed).split() != _NUMBER.sub("#", shown).split():
        return False
    for a, b in zip(_NUMBER.findall(printed), _NUMBER.findall(shown)):
        (x, ux), (y, uy) = _number(a), _number(b)
        if abs(x - y) > 1.01 * max(ux, uy) + 1e-12 * abs(y):
            return False
    return True


def check_outputs(page: Path, printed: list[str]) -> None:
    """Every block that prints shows its output, and the output shown is the one printed."""
    text = page.read_text(encoding="utf-8")
    for (line, _), (_, _, shown), out in zip(python_blocks(text), shown_outputs(text), printed):
        where = f"{page.name}, block at line {line}"
        if not out:
            assert shown is None, f"{where} prints nothing but shows an output block"
            continue
        assert shown is not None, f"{where} prints but shows no ```text output block"
        assert same_output(out, shown), (
            f"{where} shows an output that differs from what it prints:\n--- shown\n"
            f"{shown}--- printed\n{out}"
        )


def write_outputs(page: Path) -> None:
    """Run the page and write (or refresh) the output block after each block that prints."""
    import chainrule as cr

    cr.manual_seed(0)
    _, printed = run_page(page)
    text = page.read_text(encoding="utf-8")
    pieces, start = [], 0
    for (end, out_end, _), out in zip(shown_outputs(text), printed):
        pieces.append(text[start:end])
        if out:
            pieces.append("\n\n```text\n" + out + ("" if out.endswith("\n") else "\n") + "```")
        start = out_end
    pieces.append(text[start:])
    page.write_text("".join(pieces), encoding="utf-8")


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


def test_output_blocks_are_found_and_compared(tmp_path):
    text = "```python\nprint(1.25)\n```\n\n```text\n1.25\n```\n```python\nx = 1\n```\n"
    shown = shown_outputs(text)
    assert [s[2] for s in shown] == ["1.25\n", None]
    page = tmp_path / "00-out.md"
    page.write_text(text, encoding="utf-8")
    _, printed = run_page(page)
    assert printed == ["1.25\n", ""]
    check_outputs(page, printed)
    # one unit of the last digit is tolerated, two are not; words must match exactly
    assert same_output("loss 0.1235, 3 epochs\n", "loss 0.1234, 3 epochs\n")
    assert not same_output("loss 0.1236\n", "loss 0.1234\n")
    assert not same_output("loss 0.1234\n", "cost 0.1234\n")
    assert same_output("−1.5e-03 and 1,000\n", "-1.6e-03 and 1,000\n")
    page.write_text(text.replace("1.25\n```\n```python", "1.5\n```\n```python"))
    with pytest.raises(AssertionError, match="differs from what it prints"):
        check_outputs(page, printed)
    page.write_text("```python\nprint('hello')\n```\n", encoding="utf-8")
    with pytest.raises(AssertionError, match="prints but shows no"):
        check_outputs(page, run_page(page)[1])
    write_outputs(page)
    assert page.read_text(encoding="utf-8") == (
        "```python\nprint('hello')\n```\n\n```text\nhello\n```\n"
    )
    write_outputs(page)  # refreshing is idempotent
    assert page.read_text(encoding="utf-8").count("```text") == 1


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_page_runs(page, tmp_path, monkeypatch):
    import chainrule as cr

    monkeypatch.chdir(tmp_path)  # anything a page writes lands in a temporary folder
    cr.manual_seed(0)
    _, printed = run_page(page)
    check_outputs(page, printed)


if __name__ == "__main__":  # refresh the output blocks of the pages named (default: all)
    import tempfile

    os.chdir(tempfile.mkdtemp())
    for name in sys.argv[1:] or [p.name for p in PAGES]:
        write_outputs(TOUR / Path(name).name)
