"""Random number generation: one seeded global generator, and seeds or Generators everywhere.

Every random function of chainrule takes ``seed`` (an int, a ``numpy.random.Generator`` or
``None``). ``None`` draws from the library's global generator, which
:func:`manual_seed` resets; the same seed always gives the same numbers, bit for bit.
"""

from __future__ import annotations

from typing import Any

import numpy as np

_global = np.random.default_rng(0)


def manual_seed(seed: int) -> np.random.Generator:
    """Seed the global generator used wherever no ``seed``/``Generator`` is passed.

    Example:
        >>> import chainrule as cr
        >>> _ = cr.manual_seed(0); a = cr.rng.get_rng().random()
        >>> _ = cr.manual_seed(0); a == cr.rng.get_rng().random()
        True
    """
    global _global
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"manual_seed: seed must be a non-negative int, got {seed!r}")
    _global = np.random.default_rng(int(seed))
    return _global


def get_rng(seed: Any = None) -> np.random.Generator:
    """A Generator for ``seed``: the global one for None, a new one for an int, or itself.

    Raises:
        TypeError: ``seed`` is neither None, a non-negative int nor a Generator.
    """
    if seed is None:
        return _global
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        if seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {seed}")
        return np.random.default_rng(int(seed))
    raise TypeError(
        f"seed must be None, a non-negative int or a numpy.random.Generator, "
        f"got {type(seed).__name__}"
    )
