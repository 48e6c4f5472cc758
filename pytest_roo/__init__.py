"""pytest-roo: prove that a web system meets its service levels, from pytest.

    from pytest_roo import slo, LoadResult
    slo.check(result, "p95 < 50ms", "error_rate < 1%")

Names are resolved lazily so that importing the plugin stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"
__all__ = ["LatencyMetric", "Load", "LoadResult", "__version__", "slo"]

_LAZY = {
    "Load": ("pytest_roo.load.options", "Load"),
    "LoadResult": ("pytest_roo.results.metrics", "LoadResult"),
    "LatencyMetric": ("pytest_roo.results.metrics", "LatencyMetric"),
}


def __getattr__(name: str) -> Any:
    if name == "slo":
        return importlib.import_module("pytest_roo.slo")
    if name in _LAZY:
        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'pytest_roo' has no attribute {name!r}")
