"""MkDocs hooks: the pages of the site that are generated from the code at build time.

- ``index.md`` — the guide: the project's README, its links into ``docs/`` made relative;
- ``cli/`` — one page per ``chainrule`` command, from the typer app's own help;
- ``api/`` — one page per public module, rendered from its docstrings by mkdocstrings;
- ``figures.md`` — figures drawn by :mod:`chainrule.plots` while the site is built;

and the navigation over these and the hand-written pages (the tour, the scikit-learn page).
Nothing generated is written into ``docs/``: the files exist only in the build.
"""

from __future__ import annotations

import html
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "chainrule"
TOUR = ROOT / "docs" / "tour"

_figures_dir: tempfile.TemporaryDirectory | None = None


# ------------------------------------------------------------------------------- modules


def public_modules() -> list[str]:
    """Dotted names of the public modules and packages of chainrule, in file order."""
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if any(p.startswith("_") for p in parts):
            continue
        names.append(".".join(parts))
    return names


def _api_page(module: str) -> str:
    is_package = (PACKAGE.parent / module.replace(".", "/") / "__init__.py").is_file()
    # a package's members are re-exports documented on their own modules' pages
    options = "\n    options:\n      members: false" if is_package else ""
    return f"# `{module}`\n\n::: {module}{options}\n"


def _api_index(modules: list[str]) -> str:
    lines = ["# API reference", "",
             "Generated from the docstrings: each page documents one module, its equations, "
             "parameters and examples.", ""]
    lines += [f"- [`{m}`]({m}.md)" for m in modules]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------- CLI


def _cell(text: str, code: bool = False) -> str:
    """One line of a table cell (in a code span, ``<`` needs no escaping)."""
    text = " ".join(text.split())
    return (text if code else html.escape(text, quote=False)).replace("|", "\\|")


def _cli_group() -> tuple[Any, Any]:
    import typer

    from chainrule.cli import app

    group = typer.main.get_command(app)
    return group, group.make_context("chainrule", [], resilient_parsing=True)


def cli_pages() -> dict[str, str]:
    """``{command name: Markdown}`` for every visible command, plus ``"index"``."""
    group, ctx = _cli_group()
    index = ["# Command line", "", _cell(group.help or ""), "",
             "Every command prints its own help with `chainrule COMMAND --help`; the pages "
             "below are generated from that help.", "", "| command | what it does |",
             "|---|---|"]
    pages = {}
    for name, command in group.commands.items():
        if command.hidden:
            continue
        sub = command.make_context(name, [], parent=ctx, resilient_parsing=True)
        summary = (command.help or "").strip().split("\n\n")[0]
        index.append(f"| [`{name}`]({name}.md) | {_cell(summary)} |")
        lines = [f"# `chainrule {name}`", "", "```text", command.get_usage(sub), "```", ""]
        lines += [html.escape(block.strip(), quote=False) + "\n"
                  for block in (command.help or "").strip().split("\n\n") if block.strip()]
        records = [p.get_help_record(sub) for p in command.params]
        records = [r for r in records if r is not None]
        if records:
            lines += ["| argument or option | meaning |", "|---|---|"]
            lines += [f"| `{_cell(opts, code=True)}` | {_cell(text)} |"
                      for opts, text in records]
        pages[name] = "\n".join(lines) + "\n"
    pages["index"] = "\n".join(index) + "\n"
    return pages


# ------------------------------------------------------------------------------ figures

FIGURES = {
    "sigmoid_family": "σ(ax + b): the slope a sharpens the step, b moves it — the building "
                      "block of the universal approximation theorem "
                      "(`plots.sigmoid_family`).",
    "degree": "Noise + bias² + variance of least-squares polynomials against the degree, "
              "estimated by `train.bias_variance_decomposition` on 100 training sets of 20 "
              "points (the polynomial half of `chainrule demo bias-variance-decomposition`). "
              "The total is lowest at degree 3; at the highest degrees a few wild fits "
              "dominate, and the estimate of bias², which carries variance/R with it, "
              "rises with them.",
}


def _draw_figures(folder: Path) -> None:
    os.environ.setdefault("MPLBACKEND", "Agg")
    import numpy as np

    from chainrule import plots
    from chainrule.demos import decomposition
    from chainrule.train import polynomial_fitter

    plots.sigmoid_family(path=folder / "sigmoid_family")
    grid = np.linspace(-1.0, 1.0, 101)[:, None]
    results = decomposition._sweep({d: polynomial_fitter(d) for d in range(10)}, grid, 100,
                                   0, lambda _msg: None, "degree")
    decomposition._terms_plot(results, xlabel="polynomial degree",
                              title="Bias² and variance against the degree", logx=False,
                              path=folder / "degree")


def _figures_page() -> str:
    lines = ["# Figures", "",
             "Drawn by the code while this site was built, so they show what the library "
             "computes today. The demos (`chainrule demo NAME`) draw many more.", ""]
    for stem, caption in FIGURES.items():
        lines += [f"![{stem}](figures/{stem}.png)", "", caption, ""]
    return "\n".join(lines)


# -------------------------------------------------------------------------------- guide


def guide_page() -> str:
    """The README as the site's home page, its links into docs/ made site-relative."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.sub(r"\]\(docs/", "](", text)


# -------------------------------------------------------------------------------- hooks


def on_config(config: Any) -> Any:
    tour = sorted(p.name for p in TOUR.glob("*.md") if p.name != "README.md")
    commands = [name for name in cli_pages() if name != "index"]
    config["nav"] = [
        {"Guide": "index.md"},
        {"Tour": ["tour/README.md"] + [f"tour/{name}" for name in tour]},
        {"scikit-learn": "sklearn.md"},
        {"Playground": "playground.md"},
        {"Command line": ["cli/index.md"] + [f"cli/{name}.md" for name in commands]},
        {"API reference": ["api/index.md"] + [f"api/{m}.md" for m in public_modules()]},
        {"Figures": "figures.md"},
    ]
    return config


def on_files(files: Files, config: Any) -> Files:
    global _figures_dir

    def add(uri: str, content: str) -> None:
        files.append(File.generated(config, uri, content=content))

    add("index.md", guide_page())
    for name, text in cli_pages().items():
        add(f"cli/{name}.md", text)
    modules = public_modules()
    add("api/index.md", _api_index(modules))
    for module in modules:
        add(f"api/{module}.md", _api_page(module))
    _figures_dir = tempfile.TemporaryDirectory(prefix="chainrule-docs-")
    folder = Path(_figures_dir.name)
    _draw_figures(folder)
    for stem in FIGURES:
        files.append(File.generated(config, f"figures/{stem}.png",
                                    abs_src_path=str(folder / f"{stem}.png")))
    add("figures.md", _figures_page())
    return files


def on_post_build(config: Any) -> None:
    global _figures_dir
    if _figures_dir is not None:
        _figures_dir.cleanup()
        _figures_dir = None
