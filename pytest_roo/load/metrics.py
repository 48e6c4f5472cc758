"""The result model's old home: :mod:`pytest_roo.results.metrics` holds LoadResult now."""

from __future__ import annotations

from pytest_roo.results.metrics import *  # noqa: F403
from pytest_roo.results.metrics import __all__  # noqa: F401
