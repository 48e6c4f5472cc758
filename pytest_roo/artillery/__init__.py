"""Artillery (npm) scenario files run from Python or a test, read into a LoadResult.

    from pytest_roo.artillery import Artillery
    result = Artillery().run("fixtures/artillery/refapp_http.yml", target="http://127.0.0.1:8080")
    result.info["source"]        # "artillery summary": latencies are Artillery's summaries

No pytest import here; the ``artillery`` fixture (pytest_roo.fixtures.artillery) records the
result into the test's report. Artillery itself is installed with npm (docs/artillery.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = [
    "Artillery",
    "ArtilleryFailed",
    "ArtilleryTimeout",
    "ArtilleryUnavailable",
    "ScenarioError",
    "find_artillery",
    "load_scenario",
    "result_from_report",
]

if TYPE_CHECKING:
    from pytest_roo.artillery.report import result_from_report
    from pytest_roo.artillery.runner import (
        Artillery,
        ArtilleryFailed,
        ArtilleryTimeout,
        ArtilleryUnavailable,
        find_artillery,
    )
    from pytest_roo.artillery.scenario import ScenarioError, load_scenario

_WHERE = {
    "Artillery": "pytest_roo.artillery.runner",
    "ArtilleryFailed": "pytest_roo.artillery.runner",
    "ArtilleryTimeout": "pytest_roo.artillery.runner",
    "ArtilleryUnavailable": "pytest_roo.artillery.runner",
    "find_artillery": "pytest_roo.artillery.runner",
    "ScenarioError": "pytest_roo.artillery.scenario",
    "load_scenario": "pytest_roo.artillery.scenario",
    "result_from_report": "pytest_roo.artillery.report",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'pytest_roo.artillery' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
