"""Hooks pytest-roo adds; implement them in a ``conftest.py`` or a plugin.

Example, a conftest that starts the system under test for every suite (see
:func:`pytest_roo.launch.start_process`: own process group, dies with pytest, log tail on a
failed start)::

    from pytest_roo.launch import start_process

    def pytest_roo_start_target(config, settings, output_dir):
        return start_process(["node", "server.js"], health="http://127.0.0.1:8080/health",
                             env={"PORT": "8080"}, log_path=output_dir / "server.log")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pathlib import Path

    from pytest_roo.results.metrics import LoadResult
    from pytest_roo.results.verdict import Verdict
    from pytest_roo.settings import Settings


@pytest.hookspec(firstresult=True)
def pytest_roo_start_target(config: pytest.Config, settings: Settings, output_dir: Path) -> Any:
    """Start the system under test when no ``--roo-target`` URL is given.

    Return a :class:`pytest_roo.target.Target` (its base URL, the process ids it started and how
    to stop it), or ``None`` to leave it to another implementation. The first non-None result
    wins. Called once per session (per xdist worker).

    Example::

        def pytest_roo_start_target(config, settings, output_dir):
            return start_process(["./my-app"], health="http://127.0.0.1:8080/health",
                                 log_path=output_dir / "app.log")
    """


def pytest_roo_result_recorded(item: pytest.Item, result: LoadResult, verdicts: list[Verdict]) -> None:
    """Called after a test recorded a :class:`LoadResult` (and any verdicts checked on it).

    Example, to push every result to a dashboard::

        def pytest_roo_result_recorded(item, result, verdicts):
            push(item.nodeid, result.to_dict())
    """


def pytest_roo_iteration_failed(item: pytest.Item, iteration: int, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
    """Called when one iteration of a test run with ``@pytest.mark.slo(..., iterations=N)`` failed.

    Evidence collectors (screenshots, traces) use it to keep what each failing iteration saw.

    Example::

        def pytest_roo_iteration_failed(item, iteration, excinfo):
            print(f"{item.nodeid} iteration {iteration}: {excinfo.value}")
    """
