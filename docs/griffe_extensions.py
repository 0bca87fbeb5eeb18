"""A Griffe extension for the API reference: every doctest is rendered as code.

The docstrings stay as they are (the doctests run in the suite); only what the site's
parser reads is adjusted:

- a Google ``Example:`` heading (singular, an admonition of prose for the parser) is read
  as ``Examples:``, whose ``>>>`` lines become code blocks;
- a doctest in a description is fenced as a ``pycon`` code block, so that its output is
  not read as Markdown (``[1, 2][0]`` would be a link);
- a doctest at the end of another NumPy-style section (after ``Parameters``) gets the
  ``Examples`` heading it stands for;
- the reStructuredText left in some docstrings reads as Markdown: a role such as
  ``:func:`fit``` becomes the code span ```fit```, and a paragraph ending in ``::`` (which
  announces a literal block) ends in ``:``.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_GOOGLE_HEADING = re.compile(r"^\s*([A-Z][A-Za-z ]*):\s*$")
_UNDERLINE = re.compile(r"^\s*-{3,}\s*$")
_EXAMPLES = ("Example", "Examples")
_ROLE = re.compile(r":(?:func|class|meth|mod|data|attr|obj|exc|math):`~?([^`]+)`")
_LITERAL = re.compile(r"(\S)::[ \t]*$", re.MULTILINE)


def rewrite(doc: str) -> str:
    """The docstring text with its doctests where the parser renders them as code."""
    doc = _LITERAL.sub(r"\1:", _ROLE.sub(r"`\1`", doc))
    lines = doc.split("\n")
    numpy_style = any(_UNDERLINE.match(line) for line in lines)
    out: list[str] = []
    section: str | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        if numpy_style and i + 1 < len(lines) and line.strip() and _UNDERLINE.match(lines[i + 1]):
            section = line.strip()
        elif not numpy_style and _GOOGLE_HEADING.match(line):
            section = _GOOGLE_HEADING.match(line).group(1)
            if section == "Example":
                line = line.replace("Example:", "Examples:")
        if line.lstrip().startswith(">>>") and section not in _EXAMPLES:
            indent = line[: len(line) - len(line.lstrip())]
            block = []
            while i < len(lines) and lines[i].strip():
                block.append(lines[i])
                i += 1
            if section is None:
                out += [f"{indent}```pycon", *block, f"{indent}```"]
            else:  # a NumPy section (or a Google one) that the doctest closes
                out += ([f"{indent}Examples", f"{indent}--------"] if numpy_style
                        else [f"{indent}Examples:"]) + block
                section = "Examples"
            continue
        out.append(line)
        i += 1
    return "\n".join(out)


class DoctestExamples(griffe.Extension):
    """Apply :func:`rewrite` to every docstring as it is loaded."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = rewrite(obj.docstring.value)
