"""Demos: classic pictures of deep learning, reproduced with chainrule (``chainrule demo NAME``).

Each demo writes its figures (PNG and SVG) and a short ``summary.txt`` into a folder
(``runs/demo-<name>/`` by default) and returns a :class:`DemoResult`. ``quick=True`` runs a
smaller version (fewer steps or models) for tests; the conclusions printed in the summary
still hold, only with less margin.

>>> from chainrule import demos
>>> sorted(demos.DEMOS)[:3]
['bias-variance', 'bias-variance-decomposition', 'finetune']
"""

from __future__ import annotations

import importlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

__all__ = ["DEMOS", "DemoResult", "DemoSpec", "demo_names", "run_demo"]


@dataclass
class DemoResult:
    """What a demo produced.

    Attributes:
        name: the demo's name.
        out_dir: the folder holding its files.
        figures: the PNG and SVG files written.
        summary: the text written to ``summary.txt``.
        metrics: the numbers the summary reports (for tests and scripts).
        seconds: wall-clock time of the demo.
    """

    name: str
    out_dir: Path
    figures: list[Path] = field(default_factory=list)
    summary: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def summary_path(self) -> Path:
        """``out_dir / "summary.txt"``."""
        return self.out_dir / "summary.txt"


class DemoSpec(NamedTuple):
    """A registered demo: its module (under ``chainrule.demos``) and a one-line description."""

    module: str
    description: str


#: Demo name → where it lives and what it shows.
DEMOS: dict[str, DemoSpec] = {
    "higham": DemoSpec(
        "higham",
        "The 2-2-3-2 sigmoid network of Higham & Higham (2019) trained by SGD on their 10 "
        "points: cost curve and decision regions.",
    ),
    "optimizers": DemoSpec(
        "optimizers",
        "GD, momentum, Nesterov, RMSprop and Adam paths over an ill-conditioned quadratic "
        "and the Rosenbrock function.",
    ),
    "vanishing": DemoSpec(
        "vanishing",
        "Per-layer gradient norms: deep sigmoid vs ReLU vs residual+batch-norm networks, and "
        "the linear case w^(L-1) decay/explosion.",
    ),
    "bias-variance": DemoSpec(
        "bias_variance",
        "Train and dev error against model width and L2 strength: underfitting and "
        "overfitting.",
    ),
    "universal": DemoSpec(
        "universal",
        "A one-hidden-layer network fitting a 1-D function: the error falls with the width.",
    ),
    "init": DemoSpec(
        "init",
        "Zero vs small random vs Xavier vs He initialisation: symmetry and saturation.",
    ),
    "bias-variance-decomposition": DemoSpec(
        "decomposition",
        "Noise + bias² + variance of polynomials and MLPs, estimated by refitting on many "
        "training sets, against the degree and the width: the U of the total.",
    ),
    "spatial-prior": DemoSpec(
        "spatial_prior",
        "The MNIST-1D paper's MLP and CNN on MNIST-1D and on its shuffled-positions version "
        "(3 seeds): the CNN's advantage is its spatial prior.",
    ),
    "finetune": DemoSpec(
        "finetune",
        "Pre-train on a large task, fine-tune only the head on a small related one: test "
        "error against labelled samples, vs training from scratch (3 seeds).",
    ),
}


def demo_names() -> list[str]:
    """The registered demo names, in the order of :data:`DEMOS`."""
    return list(DEMOS)


def run_demo(
    name: str,
    out: str | os.PathLike | None = None,
    *,
    quick: bool = False,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> DemoResult:
    """Run demo ``name`` and write its figures and ``summary.txt``.

    Args:
        name: a key of :data:`DEMOS` (``_`` accepted for ``-``).
        out: output folder (default ``runs/demo-<name>``).
        quick: a smaller, faster version (for tests).
        seed: seed of everything random in the demo.
        progress: called with short status messages while the demo runs.

    Raises:
        ValueError: unknown name (the message lists the valid ones).
    """
    key = name.strip().lower().replace("_", "-")
    if key not in DEMOS:
        raise ValueError(f"unknown demo {name!r}; valid names: {', '.join(DEMOS)}")
    out_dir = Path(out) if out is not None else Path("runs") / f"demo-{key}"
    out_dir.mkdir(parents=True, exist_ok=True)
    module = importlib.import_module(f"{__name__}.{DEMOS[key].module}")
    start = time.perf_counter()
    result: DemoResult = module.run(out_dir, quick=quick, seed=seed,
                                    progress=progress or (lambda _msg: None))
    result.seconds = time.perf_counter() - start
    result.summary_path.write_text(result.summary.rstrip() + "\n", encoding="utf-8")
    return result
