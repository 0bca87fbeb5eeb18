"""The playground page's lesson links set up valid runs, and the tour points to them."""

import re
from pathlib import Path

from chainrule.playground.core import Config, Run

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_every_lesson_link_builds_a_run():
    text = (DOCS / "playground.md").read_text(encoding="utf-8")
    hashes = re.findall(r"\(http://127\.0\.0\.1:8765/#([^)]*)\)", text)
    assert len(hashes) >= 12
    for h in hashes:
        run = Run(Config.from_hash(h))
        run.train(1)
        assert run.steps == 1
    assert "playground.md#lessons" in (DOCS / "tour" / "README.md").read_text(encoding="utf-8")
    assert (DOCS / "img" / "playground.png").is_file()
