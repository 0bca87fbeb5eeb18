"""Suite-wide settings: the test folder is importable so tests share `oracle`.

* ``rng``: one NumPy generator per test, seeded from the test's own name (parameters
  included), so a test's inputs never depend on which tests ran before it on the worker.
* The generators used where no seed is passed (chainrule's global one, NumPy's legacy
  one that scikit-learn uses for ``random_state=None``) are seeded the same way before
  every test, so an unseeded draw reproduces alone too.
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


@pytest.fixture(autouse=True)
def _seeded_global_generators(request) -> None:
    """Seed the global generators from the test's name (a different stream from ``rng``'s:
    unseeded weights must not repeat the test's inputs)."""
    import chainrule

    seed = seed_for(request.node.name) ^ 0x5EED
    chainrule.manual_seed(seed)
    np.random.seed(seed)


@pytest.fixture
def rng(request) -> np.random.Generator:
    """A generator seeded from the requesting test's name: same inputs alone or in a batch."""
    return np.random.default_rng(seed_for(request.node.name))
