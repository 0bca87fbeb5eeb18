"""The README's usage example runs as written (so the front page cannot drift)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_starts_with_the_two_commands():
    lines = [ln for ln in README.read_text(encoding="utf-8").splitlines() if ln.strip()]
    assert lines[1] == "```sh"
    assert lines[2].startswith("make demo") and lines[3].startswith("make test")
    assert lines[4] == "```"


def test_readme_usage_example_runs(tmp_path, monkeypatch):
    text = README.read_text(encoding="utf-8")
    usage = text.split("## Use", 1)[1]
    block = re.search(r"```python\n(.*?)```", usage, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(block, str(README), "exec"), namespace)
    # f = (x + y)·z at (−2, 5, −4), as the comment in the example says
    assert namespace["f"].item() == -12.0
    assert (namespace["x"].grad.item(), namespace["z"].grad.item()) == (-4.0, 3.0)
    assert (tmp_path / "model.safetensors").is_file()
    assert np.isfinite(namespace["loss"].item())
