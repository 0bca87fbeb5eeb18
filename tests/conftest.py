"""Suite-wide settings: the test folder is importable so tests share `oracle`.

* ``rng``: one NumPy generator per test, seeded from the test's own name (parameters
  included), so a test's inputs never depend on which tests ran before it on the worker.
* Hypothesis runs derandomised (profile ``"repro"``, the default and what CI uses), so a
  failure found once is found again; ``HYPOTHESIS_PROFILE=explore`` searches at random.
"""

import os
import zlib

import numpy as np
import pytest
from hypothesis import settings

os.environ.setdefault("MPLBACKEND", "Agg")

settings.register_profile("repro", derandomize=True, print_blob=True)
settings.register_profile("explore", derandomize=False, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repro"))


def seed_for(name: str) -> int:
    """A stable 32-bit seed from a test's name (crc32; ``hash`` is salted per process)."""
    return zlib.crc32(name.encode())


@pytest.fixture
def rng(request) -> np.random.Generator:
    """A generator seeded from the requesting test's name: same inputs alone or in a batch."""
    return np.random.default_rng(seed_for(request.node.name))
