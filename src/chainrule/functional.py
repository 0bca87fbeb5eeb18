"""``chainrule.functional``: the composite functions (activations, losses, softmax, …).

The implementation lives in :mod:`chainrule.nn.functional`; this module re-exports it so
``from chainrule import functional as F`` and ``from chainrule.nn import functional as F``
are the same thing.
"""

from .nn.functional import *  # noqa: F403
from .nn.functional import __all__  # noqa: F401
