"""Resource monitoring of the system under test, leak trends and overhead A/B verdicts.

- :class:`ResourceMonitor` (``sampler``): a background thread sampling a process tree (RSS, USS,
  CPU, threads, fds, sockets) and a Prometheus ``/metrics`` endpoint into a :class:`Timeline`.
- ``trend``: judge functions on series: ``judge_max``, ``judge_quantile``, ``judge_trend``
  ("memory stable": Theil-Sen slope of window minima with Sen's interval) and
  ``judge_return_to_baseline``.
- ``overhead`` / ``ab``: ``judge_overhead`` (paired non-inferiority) and :class:`OverheadAB`
  (runs a workload with a feature off and on in ABBA rounds).

Every judge returns a :class:`StatVerdict` with status pass / fail / inconclusive. No pytest
import here; names are resolved lazily so that importing the package costs nothing.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "ABResult",
    "OverheadAB",
    "ResourceMonitor",
    "Series",
    "StatVerdict",
    "Timeline",
    "judge_max",
    "judge_overhead",
    "judge_quantile",
    "judge_return_to_baseline",
    "judge_trend",
    "run_overhead_ab",
    "summarize",
]

_LAZY = {
    "ABResult": "ab",
    "OverheadAB": "ab",
    "run_overhead_ab": "ab",
    "ResourceMonitor": "sampler",
    "Series": "timeline",
    "Timeline": "timeline",
    "StatVerdict": "verdict",
    "judge_overhead": "overhead",
    "judge_max": "trend",
    "judge_quantile": "trend",
    "judge_return_to_baseline": "trend",
    "judge_trend": "trend",
    "summarize": "trend",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module = importlib.import_module(f"pytest_roo.monitor.{_LAZY[name]}")
        return getattr(module, name)
    raise AttributeError(f"module 'pytest_roo.monitor' has no attribute {name!r}")
