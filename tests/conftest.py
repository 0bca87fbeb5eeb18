"""Suite-wide settings: the test folder is importable so tests share `oracle`."""

import os

os.environ.setdefault("MPLBACKEND", "Agg")
